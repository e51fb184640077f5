/* Keep-alive policies: fixed and the hybrid histogram (policy.h). Pure functions of the samples. */
#include "faas/policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int policy__parse(const char *s, struct policy *p, char *err, size_t n)
{
	const char *arg = NULL;
	if (!strncmp(s, "fixed:", 6)) {
		p->kind = POLICY_FIXED;
		arg = s + 6;
	} else if (!strcmp(s, "hybrid")) {
		p->kind = POLICY_HYBRID;
		p->minutes = POLICY_FALLBACK_MIN;
		return 0;
	} else if (!strncmp(s, "hybrid:", 7)) {
		p->kind = POLICY_HYBRID;
		arg = s + 7;
	} else {
		snprintf(err, n, "unknown policy \"%s\" (fixed:MINUTES or hybrid)", s);
		return -1;
	}
	char *end;
	double m = strtod(arg, &end);
	if (!*arg || *end || !(m > 0) || m > 7 * 1440) {
		snprintf(err, n, "policy \"%s\": minutes must be a number in (0, 10080]", s);
		return -1;
	}
	p->minutes = m;
	return 0;
}

void policy__name(const struct policy *p, char *out, size_t n)
{
	if (p->kind == POLICY_FIXED)
		snprintf(out, n, "fixed:%g", p->minutes);
	else if (p->minutes == POLICY_FALLBACK_MIN)
		snprintf(out, n, "hybrid");
	else
		snprintf(out, n, "hybrid:%g", p->minutes);
}

void policy__app_init(struct policy_app *a, const struct policy *p)
{
	memset(a, 0, sizeof(*a));
	a->p = *p;
	a->w = policy__window(a);
}

/* The bin where the cumulative count first reaches pct percent of the in-range samples. */
static unsigned percentile_bin(const struct policy_app *a, double pct)
{
	double want = pct / 100.0 * a->n_in;
	uint64_t cum = 0;
	for (unsigned i = 0; i < POLICY_BINS; i++) {
		cum += a->bins[i];
		if (cum > 0 && (double)cum >= want)
			return i;
	}
	return POLICY_BINS - 1;
}

struct policy_window policy__window(const struct policy_app *a)
{
	struct policy_window w = { 0, a->p.minutes, true };
	if (a->p.kind == POLICY_FIXED)
		return (struct policy_window){ 0, a->p.minutes, false };
	uint32_t total = a->n_in + a->n_oob;
	if (total < POLICY_MIN_SAMPLES || a->n_oob > POLICY_MAX_OOB * total || !a->n_in)
		return w;
	double mean = (double)a->n_in / POLICY_BINS, var = 0;
	for (unsigned i = 0; i < POLICY_BINS; i++)
		var += (a->bins[i] - mean) * (a->bins[i] - mean);
	double cv = sqrt(var / POLICY_BINS) / mean;
	if (cv < POLICY_MIN_CV)
		return w;
	double head = percentile_bin(a, POLICY_HEAD_PCT);	/* the bin's lower edge */
	double tail = percentile_bin(a, POLICY_TAIL_PCT) + 1.0; /* its upper edge */
	double prewarm = floor(head * (1.0 - POLICY_MARGIN));
	double end = ceil(tail * (1.0 + POLICY_MARGIN));
	return (struct policy_window){ prewarm, end - prewarm, false };
}

struct policy_window policy__invoked(struct policy_app *a, double start, double end)
{
	if (a->seen) {
		double it = start - a->last_end;
		if (it < 0)
			it = 0; /* overlapping executions of one app: no idle time */
		if (it < POLICY_BINS) {
			a->bins[(unsigned)it]++;
			a->n_in++;
		} else {
			a->n_oob++;
		}
	}
	if (!a->seen || end > a->last_end)
		a->last_end = end;
	a->seen = true;
	a->w = policy__window(a);
	return a->w;
}
