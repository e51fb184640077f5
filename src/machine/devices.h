/* The interfaces shared by the machine's devices: MMIO handlers and interrupt lines. */
#ifndef WISP_MACHINE_DEVICES_H
#define WISP_MACHINE_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

/* A device's register window. Offsets are relative to the window base; sizes are 1, 2, 4 or 8. */
struct mmio_ops {
	uint64_t (*read)(void *dev, uint64_t off, unsigned size);
	void (*write)(void *dev, uint64_t off, unsigned size, uint64_t val);
};

/* An interrupt line into the PLIC (or anything else that takes lines). */
struct irq_line {
	void (*set)(void *ctl, unsigned irq, bool level);
	void *ctl;
	unsigned irq;
};

static inline void irq_line__set(const struct irq_line *l, bool level)
{
	if (l->set)
		l->set(l->ctl, l->irq, level);
}

#endif
