/* The VMM: one machine, its console, its vCPU threads. What the CLI and the API drive. */
#ifndef WISP_VMM_H
#define WISP_VMM_H

#include <pthread.h>
#include <stdbool.h>

#include "machine/machine.h"
#include "vmm/console.h"
#include "vmm/devices.h"

struct vmm {
	struct machine m;
	struct console con;
	pthread_t vcpu[CLINT_MAX_HARTS];
	struct vmm_vcpu_arg {
		struct vmm *v;
		unsigned id;
	} vcpu_arg[CLINT_MAX_HARTS];
	unsigned nvcpu_started;
	pthread_t timer;
	bool created, started, have_timer;
	double timeout; /* seconds; 0 = none */
	/* Virtio devices to create (set before vmm__create; NULL = none), and the created ones. */
	const struct vmm_devices_config *devices_cfg;
	void *devices_cfg_owned; /* what devices_cfg lives in, when the vmm owns it (a restore): freed with it */
	struct vmm_devices devices;
};

/* Build the machine (load images, devices) without running it. Returns -1 with a message in err. */
int vmm__create(struct vmm *v, const struct machine_config *cfg, int console_in, int console_out, char *err,
		size_t errlen);
/* Start the vCPU threads. */
int vmm__start(struct vmm *v);
/* Wait for the guest to stop; returns wisp's exit status. */
int vmm__wait(struct vmm *v);
/* Pause/resume the guest (guest time stops while paused). */
void vmm__pause(struct vmm *v);
void vmm__resume(struct vmm *v);
void vmm__destroy(struct vmm *v);

#endif
