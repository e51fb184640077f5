/* vCPU threads, the run timeout and the life cycle of one microVM. */
#include "vmm/vmm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "log/log.h"

struct vcpu_arg {
	struct vmm *v;
	unsigned id;
};

static void *vcpu_thread(void *opaque)
{
	struct vmm *v = opaque;
	seccomp__enter(SECCOMP_VCPU);
	log__set_thread_name("vcpu0");
	machine__run_hart(&v->m, 0);
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
static int attach_devices(struct machine *m, void *opaque)
{
	struct vmm *v = opaque;
	return vmm_devices__create(&v->devices, m, v->devices_cfg);
}

int vmm__create(struct vmm *v, const struct machine_config *cfg, int console_in, int console_out)
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
	if (machine__init(&v->m, &mcfg, console__put, &v->con) < 0) {
		vmm_devices__exit(&v->devices);
		machine__exit(&v->m);
		return -1;
	}
	if (console__init(&v->con, &v->m, console_in, console_out) < 0) {
		fprintf(stderr, "wisp: cannot start the console\n");
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
	if (pthread_create(&v->vcpu[0], NULL, vcpu_thread, v) != 0) {
		fprintf(stderr, "wisp: cannot start the vCPU thread\n");
		return -1;
	}
	v->started = true;
	if (v->timeout > 0 && pthread_create(&v->timer, NULL, timeout_thread, v) == 0)
		v->have_timer = true;
	return 0;
}

int vmm__wait(struct vmm *v)
{
	if (v->started) {
		pthread_join(v->vcpu[0], NULL);
		v->started = false;
	}
	machine__halt(&v->m, v->m.exit_code, NULL); /* wakes the timeout thread */
	if (v->have_timer) {
		pthread_join(v->timer, NULL);
		v->have_timer = false;
	}
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
}
