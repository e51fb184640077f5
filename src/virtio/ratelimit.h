/*
 * Rate limiters (Firecracker's model): a bandwidth bucket (bytes) and an operations bucket, each a token bucket
 * of `size` tokens that refills completely in `refill_time_ms`, with an optional `one_time_burst` spent first and
 * never refilled. A device asks before serving a request; when the answer is no, it parks the queue and the
 * limiter's timerfd (watched by the I/O thread) fires when enough tokens are back. No busy polling.
 *
 * The bucket arithmetic (tbucket__*) is pure: time is an argument, so it can be tested without sleeping.
 * A device holds its limiter under its own lock; the VMM swaps configurations in with ratelimit__update.
 */
#ifndef WISP_VIRTIO_RATELIMIT_H
#define WISP_VIRTIO_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* One bucket's configuration: size 0 or refill_time_ms 0 = no limit on this resource. */
struct tbucket_cfg {
	uint64_t size, one_time_burst, refill_time_ms;
};

struct tbucket {
	struct tbucket_cfg cfg;
	uint64_t budget;	  /* tokens available, <= size */
	uint64_t burst;		  /* one_time_burst left */
	uint64_t debt;		  /* tokens taken beyond the budget by a request larger than the bucket */
	unsigned __int128 carry;  /* refill: ns × size not yet worth a whole token */
	uint64_t last_ns;	  /* time of the last refill */
};

/* A bucket that starts full (budget = size, burst = one_time_burst) at time now_ns. */
void tbucket__init(struct tbucket *b, const struct tbucket_cfg *c, uint64_t now_ns);
bool tbucket__enabled(const struct tbucket *b);
/*
 * Take n tokens at now_ns: true if granted. A request larger than the whole bucket is granted when the bucket
 * is full and leaves a debt that the refill pays first (so the long-run rate holds for any request size).
 */
bool tbucket__take(struct tbucket *b, uint64_t n, uint64_t now_ns);
/* Give back n tokens (a request granted by one bucket and refused by the other). */
void tbucket__refund(struct tbucket *b, uint64_t n);
/* Nanoseconds from now_ns until n tokens could be granted (0: now). */
uint64_t tbucket__wait_ns(struct tbucket *b, uint64_t n, uint64_t now_ns);

struct ratelimit_cfg {
	struct tbucket_cfg bandwidth, ops;
};

/* What an update does to one bucket: leave it, replace it (a fresh, full bucket) or turn it off. */
enum tbucket_update { TBUCKET_KEEP, TBUCKET_SET, TBUCKET_OFF };

struct ratelimit_update {
	enum tbucket_update bandwidth_op, ops_op;
	struct ratelimit_cfg cfg;
};

struct ratelimit_stats {
	uint64_t throttled; /* requests that had to wait */
};

struct ratelimit {
	struct tbucket bandwidth, ops;
	int timer_fd; /* CLOCK_MONOTONIC timerfd; -1 if none could be made (then nothing is ever throttled) */
	bool blocked; /* the timer is armed: requests wait for it */
	struct ratelimit_stats stats;
};

/* A limiter (cfg NULL: unlimited) and its timerfd. -1 (errno set) if the timerfd cannot be created. */
int ratelimit__init(struct ratelimit *l, const struct ratelimit_cfg *cfg);
void ratelimit__exit(struct ratelimit *l);
bool ratelimit__enabled(const struct ratelimit *l);
/*
 * May a request of `bytes` bytes (one operation) go now? If not, the timer is armed for when it may, the
 * limiter is blocked (later calls say no until ratelimit__timer_fired), and the throttled counter counts it.
 */
bool ratelimit__consume(struct ratelimit *l, uint64_t bytes);
/* The timerfd fired (I/O thread): drain it and unblock. True if the limiter had been blocked. */
bool ratelimit__timer_fired(struct ratelimit *l);
/* New buckets; an unblocked or newly unlimited limiter lets waiting requests go (returns true: kick them). */
bool ratelimit__update(struct ratelimit *l, const struct ratelimit_update *u);
uint64_t ratelimit__now_ns(void);

#endif
