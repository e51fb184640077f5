/* syscon test finisher: the guest writes a magic value to power off or reboot. */
#ifndef WISP_MACHINE_SYSCON_H
#define WISP_MACHINE_SYSCON_H

#include <stdint.h>

#include "machine/devices.h"

#define SYSCON_BASE 0x100000ull
#define SYSCON_SIZE 0x1000ull
#define SYSCON_POWEROFF 0x5555
#define SYSCON_REBOOT 0x7777
#define SYSCON_FAIL 0x3333

enum syscon_event { SYSCON_EV_POWEROFF, SYSCON_EV_REBOOT, SYSCON_EV_FAIL };

struct syscon {
	void (*event)(void *opaque, enum syscon_event ev, unsigned code);
	void *opaque;
};

extern const struct mmio_ops syscon__ops;

#endif
