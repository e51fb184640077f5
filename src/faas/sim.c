/* The keep-alive simulator (sim.h). */
#include "faas/sim.h"

#include <stdio.h>
#include <stdlib.h>

static double overlap(double a0, double a1, double b0, double b1)
{
	double lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
	return hi > lo ? hi - lo : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int sim__run(const struct trace *t, const struct policy *p, double mem_mib, struct sim_result *r)
{
	policy__name(p, r->policy, sizeof(r->policy));
	r->apps = t->n;
	r->invocations = r->cold_starts = 0;
	r->wasted_gb_s = 0;
	double *pct = calloc(t->n ? t->n : 1, sizeof(double));
	struct policy_app *pa = malloc(sizeof(*pa));
	if (!pct || !pa) {
		free(pct);
		free(pa);
		return -1;
	}
	double horizon = (double)t->days * TRACE_MINUTES;
	double wasted_min = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct trace_app *a = &t->apps[i];
		policy__app_init(pa, p);
		double load_from = 0, load_until = -1, prev = 0;
		uint64_t cold = 0;
		for (size_t k = 0; k < a->n; k++) {
			double now = a->minute[k];
			if (k)
				wasted_min += overlap(load_from, load_until, prev, now);
			if (!(now >= load_from && now <= load_until))
				cold++;
			/* Executions take well under a minute: the instance is busy during the minute. */
			struct policy_window w = policy__invoked(pa, now, now);
			if (w.prewarm > 0) {
				load_from = now + w.prewarm;
				load_until = load_from + w.keepalive;
			} else {
				load_from = now;
				load_until = now + w.keepalive;
			}
			prev = now;
		}
		if (a->n)
			wasted_min += overlap(load_from, load_until, prev, horizon);
		r->invocations += a->invocations;
		r->cold_starts += cold;
		pct[i] = a->invocations ? 100.0 * (double)cold / (double)a->invocations : 0;
	}
	qsort(pct, t->n, sizeof(double), cmp_double);
	static const double q[4] = { 0.50, 0.75, 0.90, 0.99 };
	for (int j = 0; j < 4; j++)
		r->cold_pct[j] = t->n ? pct[(size_t)(q[j] * (double)(t->n - 1) + 0.5)] : 0;
	r->wasted_gb_s = wasted_min * 60.0 * mem_mib / 1024.0;
	free(pct);
	free(pa);
	return 0;
}

void sim__print(const struct sim_result *r)
{
	printf("{\"policy\": \"%s\", \"apps\": %zu, \"invocations\": %llu, \"cold_starts\": %llu, "
	       "\"cold_start_pct\": {\"p50\": %.3f, \"p75\": %.3f, \"p90\": %.3f, \"p99\": %.3f}, "
	       "\"wasted_memory_gb_s\": %.1f}\n",
	       r->policy, r->apps, (unsigned long long)r->invocations, (unsigned long long)r->cold_starts,
	       r->cold_pct[0], r->cold_pct[1], r->cold_pct[2], r->cold_pct[3], r->wasted_gb_s);
	fflush(stdout);
}
