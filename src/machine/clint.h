/* CLINT (SiFive core-local interruptor): msip, mtimecmp and mtime for up to CLINT_MAX_HARTS harts. */
#ifndef WISP_MACHINE_CLINT_H
#define WISP_MACHINE_CLINT_H

#include <stdint.h>

#include "machine/devices.h"

#define CLINT_BASE 0x2000000ull
#define CLINT_SIZE 0x10000ull
#define CLINT_MAX_HARTS 32

struct rv_cpu;

struct clint {
	struct rv_cpu **harts;
	unsigned nharts;
	_Atomic uint64_t mtimecmp[CLINT_MAX_HARTS];
	/* mtime = clock ticks + offset (writes to mtime move the offset). */
	int64_t offset;
	uint64_t (*clock)(void *opaque);
	void *clock_opaque;
};

extern const struct mmio_ops clint__ops;

void clint__init(struct clint *c, struct rv_cpu **harts, unsigned nharts, uint64_t (*clock)(void *), void *opaque);
uint64_t clint__mtime(const struct clint *c);
/* Raise or drop MTIP on each hart for the given time; returns the earliest future deadline. */
uint64_t clint__update(struct clint *c, uint64_t now);
/* The same for one hart (its own thread does it before each run). */
uint64_t clint__update_hart(struct clint *c, unsigned h, uint64_t now);

#endif
