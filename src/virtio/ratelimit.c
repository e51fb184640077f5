/* Token buckets and the rate limiter that parks a queue on a timerfd. */
#include "virtio/ratelimit.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000ull

uint64_t ratelimit__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tbucket__init(struct tbucket *b, const struct tbucket_cfg *c, uint64_t now_ns)
{
	memset(b, 0, sizeof(*b));
	if (c && c->size && c->refill_time_ms)
		b->cfg = *c;
	b->budget = b->cfg.size;
	b->burst = b->cfg.size ? b->cfg.one_time_burst : 0;
	b->last_ns = now_ns;
}

bool tbucket__enabled(const struct tbucket *b)
{
	return b->cfg.size != 0;
}

static unsigned __int128 refill_ns(const struct tbucket *b)
{
	return (unsigned __int128)b->cfg.refill_time_ms * NS_PER_MS;
}

/* Add the tokens earned since last_ns: the debt is paid first, then the budget fills up to size. */
static void refill(struct tbucket *b, uint64_t now_ns)
{
	if (now_ns <= b->last_ns)
		return;
	uint64_t elapsed = now_ns - b->last_ns;
	b->last_ns = now_ns;
	if (b->budget == b->cfg.size && !b->debt)
		return;
	b->carry += (unsigned __int128)elapsed * b->cfg.size;
	unsigned __int128 add = b->carry / refill_ns(b);
	b->carry %= refill_ns(b);
	if (add >= b->debt) {
		add -= b->debt;
		b->debt = 0;
	} else {
		b->debt -= (uint64_t)add;
		return;
	}
	if (add >= b->cfg.size - b->budget) {
		b->budget = b->cfg.size;
		b->carry = 0; /* a full bucket saves nothing for later */
	} else {
		b->budget += (uint64_t)add;
	}
}

/* Tokens the bucket must earn before n can be granted (after the burst took its part). */
static uint64_t missing(const struct tbucket *b, uint64_t n)
{
	if (n > b->burst)
		n -= b->burst;
	else
		return 0;
	uint64_t need = n < b->cfg.size ? n : b->cfg.size; /* a larger request waits for a full bucket */
	return b->debt + (need > b->budget ? need - b->budget : 0);
}

bool tbucket__take(struct tbucket *b, uint64_t n, uint64_t now_ns)
{
	if (!tbucket__enabled(b))
		return true;
	refill(b, now_ns);
	if (missing(b, n))
		return false;
	uint64_t from_burst = n < b->burst ? n : b->burst;
	b->burst -= from_burst;
	n -= from_burst;
	if (n <= b->budget) {
		b->budget -= n;
	} else {
		b->debt = n - b->budget;
		b->budget = 0;
	}
	return true;
}

void tbucket__refund(struct tbucket *b, uint64_t n)
{
	if (!tbucket__enabled(b))
		return;
	uint64_t pay = n < b->debt ? n : b->debt;
	b->debt -= pay;
	n -= pay;
	b->budget = n > b->cfg.size - b->budget ? b->cfg.size : b->budget + n;
}

uint64_t tbucket__wait_ns(struct tbucket *b, uint64_t n, uint64_t now_ns)
{
	if (!tbucket__enabled(b))
		return 0;
	refill(b, now_ns);
	uint64_t m = missing(b, n);
	if (!m)
		return 0;
	unsigned __int128 need = (unsigned __int128)m * refill_ns(b);
	need = need > b->carry ? need - b->carry : 0;
	unsigned __int128 ns = (need + b->cfg.size - 1) / b->cfg.size;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

int ratelimit__init(struct ratelimit *l, const struct ratelimit_cfg *cfg)
{
	memset(l, 0, sizeof(*l));
	uint64_t now = ratelimit__now_ns();
	tbucket__init(&l->bandwidth, cfg ? &cfg->bandwidth : NULL, now);
	tbucket__init(&l->ops, cfg ? &cfg->ops : NULL, now);
	l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	return l->timer_fd < 0 ? -1 : 0;
}

void ratelimit__exit(struct ratelimit *l)
{
	if (l->timer_fd >= 0)
		close(l->timer_fd);
	l->timer_fd = -1;
}

bool ratelimit__enabled(const struct ratelimit *l)
{
	return tbucket__enabled(&l->bandwidth) || tbucket__enabled(&l->ops);
}

static void arm(struct ratelimit *l, uint64_t ns)
{
	if (ns < 1000)
		ns = 1000; /* a zero it_value would disarm the timer */
	struct itimerspec its = { .it_value = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) } };
	if (timerfd_settime(l->timer_fd, 0, &its, NULL) == 0)
		l->blocked = true;
}

bool ratelimit__consume(struct ratelimit *l, uint64_t bytes)
{
	if (l->blocked)
		return false;
	if (!ratelimit__enabled(l) || l->timer_fd < 0)
		return true;
	uint64_t now = ratelimit__now_ns();
	if (tbucket__take(&l->bandwidth, bytes, now)) {
		if (tbucket__take(&l->ops, 1, now))
			return true;
		tbucket__refund(&l->bandwidth, bytes);
	}
	uint64_t a = tbucket__wait_ns(&l->bandwidth, bytes, now), b = tbucket__wait_ns(&l->ops, 1, now);
	arm(l, a > b ? a : b);
	l->stats.throttled++;
	return !l->blocked; /* the timer could not be armed: let it pass rather than stall the queue forever */
}

bool ratelimit__timer_fired(struct ratelimit *l)
{
	uint64_t v;
	while (read(l->timer_fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	bool was = l->blocked;
	l->blocked = false;
	return was;
}

static void update_bucket(struct tbucket *b, enum tbucket_update op, const struct tbucket_cfg *c, uint64_t now)
{
	if (op == TBUCKET_SET)
		tbucket__init(b, c, now);
	else if (op == TBUCKET_OFF)
		tbucket__init(b, NULL, now);
}

bool ratelimit__update(struct ratelimit *l, const struct ratelimit_update *u)
{
	uint64_t now = ratelimit__now_ns();
	update_bucket(&l->bandwidth, u->bandwidth_op, &u->cfg.bandwidth, now);
	update_bucket(&l->ops, u->ops_op, &u->cfg.ops, now);
	if (u->bandwidth_op == TBUCKET_KEEP && u->ops_op == TBUCKET_KEEP)
		return false;
	/*
	 * New buckets start full: whatever waited may go now (or wait again at the new rate). The old timer may
	 * still fire; that only kicks the queue once more (and a new wait re-arms it anyway).
	 */
	bool was = l->blocked;
	l->blocked = false;
	return was;
}
