/*
 * Keep-alive policies (docs/faas.md): when to unload an idle instance and when to pre-warm one. One interface
 * for the live daemon and the simulator; time is in minutes (a double), whatever clock the caller runs.
 *
 * After each execution the policy gives a window: with prewarm > 0 the instance is unloaded right away, loaded
 * again prewarm minutes after the execution ended and kept keepalive minutes; with prewarm == 0 it stays loaded
 * keepalive minutes after the execution.
 *
 * fixed:N    prewarm 0, keepalive N.
 * hybrid     "Serverless in the Wild" (Shahrad et al., ATC'20): per application, a histogram of idle times
 *            (end of one execution to the start of the next) in 1-minute bins over 4 hours. Pre-warm = the 5th
 *            percentile minus 10%, keep-alive end = the 99th percentile plus 10%. While the histogram is not
 *            representative (fewer than POLICY_MIN_SAMPLES idle times, more than POLICY_MAX_OOB of them beyond 4
 *            hours, or bin counts with a coefficient of variation below POLICY_MIN_CV) it falls back to a fixed
 *            keep-alive (hybrid:N, default POLICY_FALLBACK_MIN). No ARIMA forecast for out-of-range apps.
 */
#ifndef WISP_FAAS_POLICY_H
#define WISP_FAAS_POLICY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_BINS	    240 /* minutes: the 4-hour range */
#define POLICY_HEAD_PCT	    5.0
#define POLICY_TAIL_PCT	    99.0
#define POLICY_MARGIN	    0.10
#define POLICY_MIN_SAMPLES  5
#define POLICY_MAX_OOB	    0.5
#define POLICY_MIN_CV	    2.0
#define POLICY_FALLBACK_MIN 10.0

enum policy_kind { POLICY_FIXED, POLICY_HYBRID };

struct policy {
	enum policy_kind kind;
	double minutes; /* fixed: the keep-alive; hybrid: the fallback keep-alive */
};

struct policy_window {
	double prewarm, keepalive; /* minutes */
	bool fallback;		   /* hybrid: the histogram was not used */
};

struct policy_app {
	struct policy p;
	uint32_t bins[POLICY_BINS];
	uint32_t n_in, n_oob;
	double last_end;
	bool seen;
	struct policy_window w; /* the current window, updated by policy__invoked */
};

/* "fixed:MINUTES" (MINUTES > 0, up to a week), "hybrid" or "hybrid:FALLBACK_MINUTES". */
int policy__parse(const char *s, struct policy *p, char *err, size_t n);
void policy__name(const struct policy *p, char *out, size_t n);

void policy__app_init(struct policy_app *a, const struct policy *p);
/* An execution from start to end (minutes): records the idle time before it and recomputes the window. */
struct policy_window policy__invoked(struct policy_app *a, double start, double end);
/* The window from the samples so far (what policy__invoked stores in a->w). */
struct policy_window policy__window(const struct policy_app *a);

#endif
