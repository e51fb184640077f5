/* PLIC (SiFive platform-level interrupt controller): sources 1..PLIC_NDEV, two contexts per hart. */
#ifndef WISP_MACHINE_PLIC_H
#define WISP_MACHINE_PLIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine/devices.h"

#define PLIC_BASE 0xc000000ull
#define PLIC_SIZE 0x600000ull
#define PLIC_NDEV 31
#define PLIC_MAX_CONTEXTS 64

struct rv_cpu;

struct plic {
	pthread_mutex_t lock;
	struct rv_cpu **harts;
	unsigned ncontexts; /* 2 per hart: M then S */
	uint32_t priority[PLIC_NDEV + 1];
	uint32_t level;     /* input line levels, bit per source */
	uint32_t pending;   /* gateway has forwarded a request not yet claimed */
	uint32_t claimed;   /* claimed, not yet completed */
	uint32_t enable[PLIC_MAX_CONTEXTS];
	uint32_t threshold[PLIC_MAX_CONTEXTS];
};

extern const struct mmio_ops plic__ops;

void plic__init(struct plic *p, struct rv_cpu **harts, unsigned nharts);
void plic__destroy(struct plic *p);
/* Drive source `irq` (level-triggered). Thread-safe. Matches irq_line.set. */
void plic__set_irq(void *plic, unsigned irq, bool level);
/* Drive the harts' MEIP/SEIP from the current state (after a snapshot restore). Thread-safe. */
void plic__sync(struct plic *p);

#endif
