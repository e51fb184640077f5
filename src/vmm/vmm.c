/* vCPU threads, the run timeout and the life cycle of one microVM. */
#include "vmm/vmm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "log/log.h"

static void *vcpu_thread(void *opaque)
{
	struct vmm_vcpu_arg *a = opaque;
	seccomp__enter(SECCOMP_VCPU);
	char name[16];
	snprintf(name, sizeof(name), "vcpu%u", a->id);
	log__set_thread_name(name);
	machine__run_hart(&a->v->m, a->id);
	return NULL;
}

static void *timeout_thread(void *opaque)
{
	struct vmm *v = opaque;
	struct machine *m = &v->m;
	struct timespec deadline;
	seccomp__enter(SECCOMP_TIMEOUT);
	clock_gettime(CLOCK_REALTIME, &deadline);
	double whole = (double)(time_t)v->timeout;
	deadline.tv_sec += (time_t)v->timeout;
	deadline.tv_nsec += (long)((v->timeout - whole) * 1e9);
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&m->lock);
	while (!atomic_load(&m->halted))
		if (pthread_cond_timedwait(&m->wake, &m->lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&m->lock);
	if (!atomic_load(&m->halted)) {
		fprintf(stderr, "\nwisp: timeout after %g s\n", v->timeout);
		machine__halt(m, 124, "timeout");
	}
	return NULL;
}

/* machine__init's hook: the virtio devices take their slots before the device tree is built. */
static int attach_devices(struct machine *m, void *opaque, char *err, size_t errlen)
{
	struct vmm *v = opaque;
	return vmm_devices__create(&v->devices, m, v->devices_cfg, err, errlen);
}

int vmm__create(struct vmm *v, const struct machine_config *cfg, int console_in, int console_out, char *err,
		size_t errlen)
{
	double timeout = v->timeout;
	const struct vmm_devices_config *devices_cfg = v->devices_cfg;
	memset(v, 0, sizeof(*v));
	v->timeout = timeout;
	v->devices_cfg = devices_cfg;
	v->con.out_fd = console_out;
	struct machine_config mcfg = *cfg;
	mcfg.attach_devices = attach_devices;
	mcfg.attach_opaque = v;
	if (machine__init(&v->m, &mcfg, console__put, &v->con, err, errlen) < 0) {
		vmm_devices__exit(&v->devices);
		machine__exit(&v->m);
		return -1;
	}
	if (console__init(&v->con, &v->m, console_in, console_out) < 0) {
		snprintf(err, errlen, "cannot start the console");
		vmm_devices__exit(&v->devices);
		machine__exit(&v->m);
		return -1;
	}
	v->created = true;
	return 0;
}

int vmm__start(struct vmm *v)
{
	if (!v->created || v->started)
		return -1;
	if (vmm_devices__start(&v->devices) < 0)
		return -1;
	for (unsigned i = 0; i < v->m.nharts; i++) {
		v->vcpu_arg[i] = (struct vmm_vcpu_arg){ v, i };
		if (pthread_create(&v->vcpu[i], NULL, vcpu_thread, &v->vcpu_arg[i]) != 0) {
			fprintf(stderr, "wisp: cannot start the thread of vCPU %u\n", i);
			machine__halt(&v->m, 1, "no vCPU thread");
			for (unsigned k = 0; k < i; k++)
				pthread_join(v->vcpu[k], NULL);
			return -1;
		}
	}
	v->nvcpu_started = v->m.nharts;
	v->started = true;
	if (v->timeout > 0 && pthread_create(&v->timer, NULL, timeout_thread, v) == 0)
		v->have_timer = true;
	return 0;
}

int vmm__wait(struct vmm *v)
{
	if (v->started) {
		/* The first hart to see the machine halt ends; the others follow (machine__halt wakes all). */
		for (unsigned i = 0; i < v->nvcpu_started; i++)
			pthread_join(v->vcpu[i], NULL);
		v->started = false;
	}
	machine__halt(&v->m, v->m.exit_code, NULL); /* wakes the timeout thread */
	if (v->have_timer) {
		pthread_join(v->timer, NULL);
		v->have_timer = false;
	}
	/* The guest is gone: give the terminal back now, before anyone prints why (console__exit is idempotent). */
	if (v->created)
		console__exit(&v->con);
	return v->m.exit_code;
}

/* Paused means quiet: no vCPU runs and no device touches guest memory (snapshots rely on it). */
void vmm__pause(struct vmm *v)
{
	machine__pause(&v->m);
	vmm_devices__stop(&v->devices);
}

void vmm__resume(struct vmm *v)
{
	if (v->started)
		vmm_devices__start(&v->devices);
	machine__resume(&v->m);
}

void vmm__destroy(struct vmm *v)
{
	if (!v->created)
		return;
	if (v->started) {
		machine__halt(&v->m, 0, "shutdown");
		vmm__wait(v);
	}
	console__exit(&v->con);
	vmm_devices__exit(&v->devices);
	machine__exit(&v->m);
	v->created = false;
	free(v->devices_cfg_owned);
	v->devices_cfg_owned = NULL;
	v->devices_cfg = NULL;
}
