/* virtio-rng: fill each device-writable chain with bytes from getrandom. */
#include "virtio/rng.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#define QUEUE_SIZE 64
#define MAX_REQUEST 65536 /* a hostile guest asking for gigabytes gets this much per request */

static size_t fill(struct iovec *iov, unsigned n, size_t max)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < max; i++) {
		size_t want = iov[i].iov_len < max - done ? iov[i].iov_len : max - done;
		size_t got = 0;
		while (got < want) {
			ssize_t r = getrandom((uint8_t *)iov[i].iov_base + got, want - got, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return done + got;
			got += (size_t)r;
		}
		done += got;
	}
	return done;
}

static void rng_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_rng *r = (struct virtio_rng *)d;
	struct virtq_chain *c = &r->chain;
	bool any = false;
	while (!r->limiter.blocked && virtio_dev__pop(d, q, c) > 0) {
		if (!ratelimit__consume(&r->limiter, c->in_len < MAX_REQUEST ? c->in_len : MAX_REQUEST)) {
			virtq__unpop(&d->vq[q]); /* parked until the limiter's timer kicks the queue */
			break;
		}
		size_t n = fill(virtq_chain__in(c), c->nin, MAX_REQUEST);
		if (!c->in_len)
			r->stats.errors++;
		r->stats.requests++;
		r->stats.bytes += n;
		virtq__push(&d->vq[q], c, (uint32_t)n);
		any = true;
	}
	if (any)
		virtio_dev__signal(d, q);
}

static const struct virtio_dev_ops rng_ops = { .notify = rng_notify };

int virtio_rng__init(struct virtio_rng *r, const struct rv_bus *bus, struct irq_line irq)
{
	memset(r, 0, sizeof(*r));
	if (ratelimit__init(&r->limiter, NULL) < 0) {
		fprintf(stderr, "wisp: cannot create virtio-rng's rate limiter timer: %s\n", strerror(errno));
		return -1;
	}
	if (virtio_dev__init(&r->vdev, &rng_ops, "virtio-rng", VIRTIO_ID_RNG, 1, QUEUE_SIZE, VIRTIO_F_COMMON, NULL, 0,
			     bus, irq) < 0) {
		fprintf(stderr, "wisp: cannot create virtio-rng: %s\n", strerror(errno));
		ratelimit__exit(&r->limiter);
		return -1;
	}
	return 0;
}

void virtio_rng__exit(struct virtio_rng *r)
{
	virtio_dev__exit(&r->vdev);
	ratelimit__exit(&r->limiter);
}

static void on_limiter(void *opaque, uint32_t events)
{
	(void)events;
	struct virtio_rng *r = opaque;
	pthread_mutex_lock(&r->vdev.lock);
	bool was = ratelimit__timer_fired(&r->limiter);
	pthread_mutex_unlock(&r->vdev.lock);
	if (was)
		virtio_dev__kick(&r->vdev, 0);
}

int virtio_rng__attach(struct virtio_rng *r, struct ioloop *l)
{
	if (virtio_dev__attach(&r->vdev, l) < 0 || ioloop__add(l, r->limiter.timer_fd, EPOLLIN, on_limiter, r) < 0)
		return -1;
	return 0;
}

void virtio_rng__update_limiter(struct virtio_rng *r, const struct ratelimit_update *u)
{
	pthread_mutex_lock(&r->vdev.lock);
	bool kick = ratelimit__update(&r->limiter, u);
	pthread_mutex_unlock(&r->vdev.lock);
	if (kick)
		virtio_dev__kick(&r->vdev, 0);
}

struct virtio_rng_stats virtio_rng__stats(struct virtio_rng *r)
{
	pthread_mutex_lock(&r->vdev.lock);
	struct virtio_rng_stats s = r->stats;
	s.throttled = r->limiter.stats.throttled;
	pthread_mutex_unlock(&r->vdev.lock);
	return s;
}
