/* vCPU threads, the run timeout and the life cycle of one microVM. */
#include "vmm/vmm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct vcpu_arg {
	struct vmm *v;
	unsigned id;
};

static void *vcpu_thread(void *opaque)
{
	struct vmm *v = opaque;
	machine__run_hart(&v->m, 0);
	return NULL;
}

static void *timeout_thread(void *opaque)
{
	struct vmm *v = opaque;
	struct machine *m = &v->m;
	struct timespec deadline;
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

int vmm__create(struct vmm *v, const struct machine_config *cfg, int console_in, int console_out)
{
	double timeout = v->timeout;
	memset(v, 0, sizeof(*v));
	v->timeout = timeout;
	v->con.out_fd = console_out;
	if (machine__init(&v->m, cfg, console__put, &v->con) < 0) {
		machine__exit(&v->m);
		return -1;
	}
	if (console__init(&v->con, &v->m, console_in, console_out) < 0) {
		fprintf(stderr, "wisp: cannot start the console\n");
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

void vmm__pause(struct vmm *v)
{
	machine__pause(&v->m);
}

void vmm__resume(struct vmm *v)
{
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
	machine__exit(&v->m);
	v->created = false;
}
