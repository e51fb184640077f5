/* The keep-alive simulator: a trace through a policy (policy.h) in virtual time, minute by minute. */
#ifndef WISP_FAAS_SIM_H
#define WISP_FAAS_SIM_H
#include "faas/policy.h"
#include "faas/trace.h"

struct sim_result {
	char policy[32];
	size_t apps;
	uint64_t invocations, cold_starts;
	double cold_pct[4]; /* per-app cold-start percentage across apps: p50, p75, p90, p99 */
	double wasted_gb_s;
};

/* Each invocation minute of an app: cold unless its instance is loaded then (at most one cold start per
 * minute; the minute's other invocations are warm). Wasted memory: loaded and idle, mem_mib per app. */
int sim__run(const struct trace *t, const struct policy *p, double mem_mib, struct sim_result *r);
void sim__print(const struct sim_result *r); /* one JSON line on stdout */

#endif
