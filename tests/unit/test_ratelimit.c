/* Token buckets (pure arithmetic, time given) and the rate limiter's timer (src/virtio/ratelimit.c). */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "virtio/ratelimit.h"

#define MS 1000000ull

static void test_disabled_grants_everything(void **state)
{
	(void)state;
	struct tbucket b;
	tbucket__init(&b, &(struct tbucket_cfg){ 0, 0, 1000 }, 0);
	assert_false(tbucket__enabled(&b));
	assert_true(tbucket__take(&b, UINT64_MAX, 0));
	tbucket__init(&b, &(struct tbucket_cfg){ 1000, 0, 0 }, 0); /* no refill time: no limit either */
	assert_false(tbucket__enabled(&b));
	assert_int_equal(tbucket__wait_ns(&b, 5, 0), 0);
}

static void test_budget_and_refill(void **state)
{
	(void)state;
	struct tbucket b;
	tbucket__init(&b, &(struct tbucket_cfg){ 1000, 0, 1000 }, 0); /* 1000 tokens per second */
	assert_true(tbucket__take(&b, 600, 0));
	assert_true(tbucket__take(&b, 400, 0));
	assert_false(tbucket__take(&b, 1, 0));
	assert_int_equal(tbucket__wait_ns(&b, 1, 0), 1 * MS);
	assert_int_equal(tbucket__wait_ns(&b, 250, 0), 250 * MS);
	assert_false(tbucket__take(&b, 250, 249 * MS));
	assert_true(tbucket__take(&b, 250, 250 * MS));
	/* Fractions of a token are kept: 3 × 0.5 ms = 1.5 tokens → one, then the half adds to the next. */
	assert_false(tbucket__take(&b, 2, 250 * MS + MS / 2));
	assert_true(tbucket__take(&b, 1, 250 * MS + MS + MS / 2));
	assert_true(tbucket__take(&b, 1, 250 * MS + 2 * MS));
	/* A long idle time fills the bucket, never beyond its size. */
	assert_int_equal(tbucket__wait_ns(&b, 1000, 3600000 * MS), 0);
	assert_int_equal(b.budget, 1000);
	assert_true(tbucket__take(&b, 1000, 3600000 * MS));
	assert_false(tbucket__take(&b, 1, 3600000 * MS));
}

static void test_one_time_burst(void **state)
{
	(void)state;
	struct tbucket b;
	tbucket__init(&b, &(struct tbucket_cfg){ 100, 500, 1000 }, 0);
	assert_true(tbucket__take(&b, 550, 0)); /* the burst, then 50 from the budget */
	assert_true(tbucket__take(&b, 50, 0));
	assert_false(tbucket__take(&b, 1, 0));
	/* The burst never comes back: after refilling, only the size is there. */
	assert_true(tbucket__take(&b, 100, 10000 * MS));
	assert_false(tbucket__take(&b, 1, 10000 * MS));
}

static void test_request_larger_than_bucket(void **state)
{
	(void)state;
	struct tbucket b;
	tbucket__init(&b, &(struct tbucket_cfg){ 100, 0, 1000 }, 0);
	assert_true(tbucket__take(&b, 10, 0));
	assert_false(tbucket__take(&b, 250, 0)); /* waits for a full bucket */
	assert_int_equal(tbucket__wait_ns(&b, 250, 0), 100 * MS);
	assert_true(tbucket__take(&b, 250, 100 * MS)); /* granted, 150 in debt */
	assert_false(tbucket__take(&b, 1, 1100 * MS));	  /* 100 earned, 50 still owed */
	assert_int_equal(tbucket__wait_ns(&b, 1, 1100 * MS), 510 * MS);
	assert_true(tbucket__take(&b, 1, 1610 * MS));
}

static void test_refund(void **state)
{
	(void)state;
	struct tbucket b;
	tbucket__init(&b, &(struct tbucket_cfg){ 100, 0, 1000 }, 0);
	assert_true(tbucket__take(&b, 100, 0));
	tbucket__refund(&b, 40);
	assert_true(tbucket__take(&b, 40, 0));
	assert_false(tbucket__take(&b, 1, 0));
	tbucket__refund(&b, 1000); /* never beyond the size */
	assert_int_equal(b.budget, 100);
	assert_true(tbucket__take(&b, 100, 0));
	assert_false(tbucket__take(&b, 1, 0));
}

static bool readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, -1) == 1 && (p.revents & POLLIN);
}

static void test_limiter_parks_on_timer(void **state)
{
	(void)state;
	struct ratelimit l;
	struct ratelimit_cfg c = { .ops = { 2, 0, 20 } }; /* 2 operations per 20 ms */
	assert_int_equal(ratelimit__init(&l, &c), 0);
	assert_true(ratelimit__enabled(&l));
	assert_true(ratelimit__consume(&l, 1 << 20)); /* no bandwidth bucket: bytes are free */
	assert_true(ratelimit__consume(&l, 0));
	assert_false(ratelimit__consume(&l, 0));
	assert_true(l.blocked);
	assert_int_equal(l.stats.throttled, 1);
	assert_false(ratelimit__consume(&l, 0)); /* blocked: no new timer, no new count */
	assert_int_equal(l.stats.throttled, 1);
	assert_true(readable(l.timer_fd)); /* the timer fires on its own */
	assert_true(ratelimit__timer_fired(&l));
	assert_false(l.blocked);
	assert_true(ratelimit__consume(&l, 0));
	ratelimit__exit(&l);
}

static void test_limiter_bandwidth_refused_refunds_nothing_lost(void **state)
{
	(void)state;
	struct ratelimit l;
	struct ratelimit_cfg c = { .bandwidth = { 1000, 0, 1000000 }, .ops = { 1, 0, 1000000 } };
	assert_int_equal(ratelimit__init(&l, &c), 0);
	assert_true(ratelimit__consume(&l, 500));
	assert_false(ratelimit__consume(&l, 100)); /* bandwidth fine, ops refused: the 100 bytes are given back */
	assert_int_equal(l.bandwidth.budget, 500);
	ratelimit__exit(&l);
}

static void test_limiter_update(void **state)
{
	(void)state;
	struct ratelimit l;
	assert_int_equal(ratelimit__init(&l, NULL), 0);
	assert_false(ratelimit__enabled(&l));
	assert_true(ratelimit__consume(&l, UINT64_MAX));
	struct ratelimit_update u = { TBUCKET_SET, TBUCKET_KEEP, { .bandwidth = { 100, 0, 3600000 } } };
	assert_false(ratelimit__update(&l, &u)); /* nothing waited */
	assert_true(ratelimit__consume(&l, 100));
	assert_false(ratelimit__consume(&l, 100));
	assert_true(l.blocked);
	u = (struct ratelimit_update){ TBUCKET_KEEP, TBUCKET_KEEP, { { 0 }, { 0 } } };
	assert_false(ratelimit__update(&l, &u)); /* KEEP changes nothing */
	assert_true(l.blocked);
	u = (struct ratelimit_update){ TBUCKET_OFF, TBUCKET_KEEP, { { 0 }, { 0 } } };
	assert_true(ratelimit__update(&l, &u)); /* the waiting queue must be kicked */
	assert_false(l.blocked);
	assert_false(ratelimit__enabled(&l));
	assert_true(ratelimit__consume(&l, 1000000));
	ratelimit__exit(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled_grants_everything),
		cmocka_unit_test(test_budget_and_refill),
		cmocka_unit_test(test_one_time_burst),
		cmocka_unit_test(test_request_larger_than_bucket),
		cmocka_unit_test(test_refund),
		cmocka_unit_test(test_limiter_parks_on_timer),
		cmocka_unit_test(test_limiter_bandwidth_refused_refunds_nothing_lost),
		cmocka_unit_test(test_limiter_update),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
