/*
 * Boot timer: a one-register pseudo device. The guest writes the byte BOOTTIMER_MAGIC to offset 0 when it has
 * booted (its init does `devmem 0x102000 8 123`) and wisp logs "Guest-boot-time = ..." at Info level, as
 * Firecracker's boot timer does: the time since the machine was built (InstanceStart), wall and CPU, plus
 * the time since the process started. Reads return 0. Only present with --boot-timer.
 */
#ifndef WISP_MACHINE_BOOTTIMER_H
#define WISP_MACHINE_BOOTTIMER_H

#include <stdatomic.h>
#include <stdint.h>

#include "machine/devices.h"

/* Free in QEMU's virt map too: between its RTC (0x101000) and the CLINT. */
#define BOOTTIMER_BASE 0x102000ull
#define BOOTTIMER_SIZE 0x1000ull
#define BOOTTIMER_MAGIC 123

struct logger;

struct boottimer {
	struct logger *log; /* where the boot time is told (NULL: nowhere) */
	uint64_t start_us, start_cpu_us;
	atomic_uint_fast64_t boot_us; /* last measured boot time, 0 until the guest signals */
};

extern const struct mmio_ops boottimer__ops;

/* Start the clock (now). */
void boottimer__init(struct boottimer *b, struct logger *log);

#endif
