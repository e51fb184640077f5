/* wisp-faas keep-alive policies, the simulator and trace files
 * (src/faas/policy.c, sim.c, trace.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "faas/policy.h"
#include "faas/sim.h"
#include "faas/trace.h"

static struct policy parse(const char *s)
{
	struct policy p;
	char err[256];
	assert_int_equal(policy__parse(s, &p, err, sizeof(err)), 0);
	return p;
}

static void test_parse(void **state)
{
	(void)state;
	struct policy p = parse("fixed:10");
	assert_int_equal(p.kind, POLICY_FIXED);
	assert_true(p.minutes == 10);
	p = parse("hybrid");
	assert_int_equal(p.kind, POLICY_HYBRID);
	assert_true(p.minutes == POLICY_FALLBACK_MIN);
	char err[256];
	static const char *const bad[] = {
		"fixed:", "fixed:0", "fixed:-3", "fixed:1x", "lru", "hybrid:", "fixed:99999"
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(policy__parse(bad[i], &p, err, sizeof(err)), -1);
		assert_true(strlen(err) > 0);
	}
	char name[32];
	p = parse("fixed:7.5");
	policy__name(&p, name, sizeof(name));
	assert_string_equal(name, "fixed:7.5");
}

static void test_fixed(void **state)
{
	(void)state;
	struct policy p = parse("fixed:10");
	struct policy_app a;
	policy__app_init(&a, &p);
	for (int i = 0; i < 20; i++) {
		struct policy_window w = policy__invoked(&a, i * 30.0, i * 30.0 + 0.1);
		assert_true(w.prewarm == 0 && w.keepalive == 10 && !w.fallback);
	}
}

/* A timer every 30 minutes: idle times of 30 (end to next start), all in bin 29
 * or 30. */
static void test_hybrid_periodic(void **state)
{
	(void)state;
	struct policy p = parse("hybrid");
	struct policy_app a;
	policy__app_init(&a, &p);
	struct policy_window w = { 0 };
	for (int i = 0; i < POLICY_MIN_SAMPLES; i++) {
		w = policy__invoked(&a, i * 30.0, i * 30.0);
		assert_true(w.fallback); /* i idle times so far, fewer than POLICY_MIN_SAMPLES */
		assert_true(w.prewarm == 0 && w.keepalive == POLICY_FALLBACK_MIN);
	}
	w = policy__invoked(&a, POLICY_MIN_SAMPLES * 30.0, POLICY_MIN_SAMPLES * 30.0);
	assert_false(w.fallback);
	/* head = 30 (bin 30's lower edge) - 10% = 27; tail = 31 (its upper edge) +
   * 10% = 34.1 -> 35 */
	assert_true(w.prewarm == 27);
	assert_true(w.keepalive == 35 - 27);
}

/* Idle times of 2 minutes mostly, some 60: head 2 -> pre-warm floor(1.8) = 1,
 * tail the 60s. */
static void test_hybrid_percentiles(void **state)
{
	(void)state;
	struct policy p = parse("hybrid");
	struct policy_app a;
	policy__app_init(&a, &p);
	double t = 0;
	policy__invoked(&a, t, t);
	for (int i = 0; i < 200; i++) {
		t += (i % 50 == 49) ? 60 : 2; /* 4 of 200 are 60 minutes: 2% > 1% */
		policy__invoked(&a, t, t);
	}
	struct policy_window w = a.w;
	assert_false(w.fallback);
	assert_true(w.prewarm == 1);		    /* floor(2 * 0.9) */
	assert_true(w.prewarm + w.keepalive == 68); /* ceil(61 * 1.1) */
	/* Only 2-minute gaps: tail 3 -> ceil(3.3) = 4. */
	policy__app_init(&a, &p);
	for (int i = 0; i <= 100; i++)
		policy__invoked(&a, 2.0 * i, 2.0 * i);
	assert_true(a.w.prewarm == 1 && a.w.prewarm + a.w.keepalive == 4);
	/* Sub-minute gaps land in bin 0: no pre-warm. */
	policy__app_init(&a, &p);
	for (int i = 0; i <= 100; i++)
		policy__invoked(&a, 0.5 * i, 0.5 * i + 0.1);
	assert_true(a.w.prewarm == 0 && a.w.keepalive == 2); /* ceil(1 * 1.1) */
}

static void test_hybrid_fallbacks(void **state)
{
	(void)state;
	struct policy p = parse("hybrid:20");
	struct policy_app a;
	/* Idle times beyond 4 hours: out of bounds. */
	policy__app_init(&a, &p);
	for (int i = 0; i < 30; i++)
		policy__invoked(&a, i * 300.0, i * 300.0);
	assert_true(a.w.fallback && a.w.prewarm == 0 && a.w.keepalive == 20);
	assert_int_equal(a.n_oob, 29);
	/* Idle times spread evenly over the range: bin counts with a low coefficient
   * of variation. */
	policy__app_init(&a, &p);
	double t = 0;
	for (int k = 0; k < 3; k++)
		for (int i = 1; i < POLICY_BINS; i++) {
			t += i;
			policy__invoked(&a, t, t);
		}
	assert_true(a.w.fallback && a.w.keepalive == 20);
	/* Overlapping executions count as zero idle time. */
	policy__app_init(&a, &p);
	policy__invoked(&a, 10, 20);
	policy__invoked(&a, 15, 16);
	assert_int_equal(a.bins[0], 1);
	assert_true(a.last_end == 20);
}

/* One app in memory: invocation minutes every `period` minutes over `days`. */
static void periodic_trace(struct trace *t, unsigned period, unsigned days)
{
	memset(t, 0, sizeof(*t));
	t->days = days;
	t->n = t->cap = 1;
	t->apps = calloc(1, sizeof(struct trace_app));
	struct trace_app *a = &t->apps[0];
	a->name = strdup("o/timer");
	size_t n = days * TRACE_MINUTES / period;
	a->minute = calloc(n, sizeof(uint32_t));
	a->count = calloc(n, sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		a->minute[i] = (uint32_t)(i * period + 3);
		a->count[i] = 1;
	}
	a->n = a->cap = n;
	a->invocations = n;
}

static void test_sim_periodic(void **state)
{
	(void)state;
	struct trace t;
	periodic_trace(&t, 30, 1); /* 48 invocations */
	struct sim_result fx, hy;
	struct policy pf = parse("fixed:10"), ph = parse("hybrid");
	assert_int_equal(sim__run(&t, &pf, 128, &fx), 0);
	assert_int_equal(sim__run(&t, &ph, 128, &hy), 0);
	assert_int_equal(fx.invocations, 48);
	assert_int_equal(fx.cold_starts, 48); /* 30 > 10: every one cold */
	/* hybrid: cold while learning (the first, then under the fallback's 10
   * minutes until POLICY_MIN_SAMPLES idle times are known), then pre-warmed at
   * 27 minutes: none after. */
	assert_int_equal(hy.cold_starts, POLICY_MIN_SAMPLES + 1);
	/* and it keeps less memory: 3 minutes before each invocation instead of 10
   * after */
	assert_true(hy.wasted_gb_s < fx.wasted_gb_s);
	/* fixed:10 wastes 10 minutes after each invocation except past the end: 47 *
   * 10 + min(10, tail) */
	double tail = TRACE_MINUTES - (47 * 30 + 3);
	double want = (47 * 10 + (tail < 10 ? tail : 10)) * 60.0 * 128 / 1024;
	assert_true(fx.wasted_gb_s > want - 0.01 && fx.wasted_gb_s < want + 0.01);
	trace__free(&t);
}

static char *write_file(const char *text)
{
	char *p = strdup("/tmp/test_faas_XXXXXX");
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return p;
}

static char *header(void)
{
	static char h[16384];
	int n = snprintf(h, sizeof(h), "HashOwner,HashApp,HashFunction,Trigger");
	for (int m = 1; m <= TRACE_MINUTES; m++)
		n += snprintf(h + n, sizeof(h) - (size_t)n, ",%d", m);
	snprintf(h + n, sizeof(h) - (size_t)n, "\n");
	return h;
}

static char *row(const char *owner, const char *app, int minute_with_call, const char *bad)
{
	static char r[16384];
	int n = snprintf(r, sizeof(r), "%s,%s,f,http", owner, app);
	for (int m = 1; m <= TRACE_MINUTES; m++)
		n += snprintf(r + n, sizeof(r) - (size_t)n, ",%s", m == minute_with_call ? (bad ? bad : "2") : "0");
	snprintf(r + n, sizeof(r) - (size_t)n, "\n");
	return r;
}

static void test_trace_read(void **state)
{
	(void)state;
	char text[65536], err[512];
	snprintf(text, sizeof(text), "%s%s", header(), row("o", "a", 5, NULL));
	strcat(text, row("o", "a", 7, NULL)); /* a second function of the same app */
	strcat(text, row("o", "b", 1, NULL));
	char *p = write_file(text);
	struct trace t = { 0 };
	assert_int_equal(trace__read(&t, p, err, sizeof(err)), 0);
	assert_int_equal(trace__read(&t, p, err, sizeof(err)), 0); /* day 2 */
	assert_int_equal(t.days, 2);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.apps[0].name, "o/a");
	assert_int_equal(t.apps[0].n, 4);
	assert_int_equal(t.apps[0].minute[0], 4);
	assert_int_equal(t.apps[0].minute[1], 6);
	assert_int_equal(t.apps[0].minute[2], TRACE_MINUTES + 4);
	assert_int_equal(t.apps[0].invocations, 8);
	unlink(p);
	free(p);

	/* Malformed: each names its line, and the trace is unchanged. */
	struct {
		const char *what, *want;
	} cases[] = { { "badcount", ":3: minute 9:" }, { "short", ":2: 5 fields" }, { "header", ":1: the header" } };
	for (size_t i = 0; i < 3; i++) {
		if (i == 0) {
			snprintf(text, sizeof(text), "%s%s", header(), row("o", "a", 1, NULL));
			strcat(text, row("o", "c", 9, "x1")); /* row() returns one static buffer */
		} else if (i == 1)
			snprintf(text, sizeof(text), "%so,a,f,http,1\n", header());
		else
			snprintf(text, sizeof(text), "HashOwner,HashApp\n");
		p = write_file(text);
		assert_int_equal(trace__read(&t, p, err, sizeof(err)), -1);
		assert_non_null(strstr(err, cases[i].want));
		assert_int_equal(t.days, 2);
		assert_int_equal(t.n, 2);
		unlink(p);
		free(p);
	}
	trace__free(&t);
}

/* A generated trace: hybrid has fewer cold starts than fixed:10 and sits below
 * the fixed-window Pareto curve (less p75 cold-start % than the fixed windows
 * with comparable wasted memory). */
static void test_sim_generated(void **state)
{
	(void)state;
	char prefix[] = "/tmp/test_faas_gen_XXXXXX";
	int fd = mkstemp(prefix);
	close(fd);
	struct gen_opts o = { 300, 2, 7 };
	char err[512], path[64];
	assert_int_equal(trace__generate(&o, prefix, err, sizeof(err)), 0);
	struct trace t = { 0 };
	for (int d = 1; d <= 2; d++) {
		snprintf(path, sizeof(path), "%s.d%02d.csv", prefix, d);
		assert_int_equal(trace__read(&t, path, err, sizeof(err)), 0);
		unlink(path);
	}
	unlink(prefix);
	assert_int_equal(t.n, 300);
	struct sim_result f10, hy, f;
	struct policy p10 = parse("fixed:10"), ph = parse("hybrid");
	sim__run(&t, &p10, 128, &f10);
	sim__run(&t, &ph, 128, &hy);
	assert_true(hy.cold_starts < f10.cold_starts / 2);
	assert_true(hy.cold_pct[1] < f10.cold_pct[1]);
	/* Every fixed window that wastes no more memory than hybrid has more cold
   * starts (p75). */
	for (double m = 5; m <= 120; m += 5) {
		struct policy pf = { POLICY_FIXED, m };
		sim__run(&t, &pf, 128, &f);
		if (f.wasted_gb_s <= hy.wasted_gb_s)
			assert_true(f.cold_pct[1] > hy.cold_pct[1]);
		if (f.cold_pct[1] <= hy.cold_pct[1])
			assert_true(f.wasted_gb_s > hy.wasted_gb_s);
	}
	trace__free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_hybrid_periodic),
		cmocka_unit_test(test_hybrid_percentiles),
		cmocka_unit_test(test_hybrid_fallbacks),
		cmocka_unit_test(test_sim_periodic),
		cmocka_unit_test(test_trace_read),
		cmocka_unit_test(test_sim_generated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
