/* The wisp-faas daemon: functions, their instances, the keep-alive policy, the HTTP API (docs/faas.md). */
#ifndef WISP_FAAS_DAEMON_H
#define WISP_FAAS_DAEMON_H
#include "faas/policy.h"

#include <stddef.h>

struct faas_opts {
	const char *listen; /* HOST:PORT */
	const char *state_dir;
	const char *wisp, *kernel, *initrd;
	const char *python_image; /* the "python3" runtime's drive */
	const char *cpu_backend;  /* passed to the clones' wisp (--cpu-backend), NULL: wisp's default */
	unsigned memory_budget_mib;
	struct policy policy;
	double minute_ms;   /* the policy's minute in real milliseconds (60000; less to compress time) */
	unsigned queue_max; /* invocations waiting per function before 429 */
	size_t max_body;    /* invocation bodies (stdin) */
};

/* Run until SIGINT or SIGTERM. Returns the process exit status. */
int faas__serve(const struct faas_opts *o);

#endif
