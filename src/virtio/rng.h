/* virtio-rng (virtio 1.2, 5.4): the entropy device, fed from getrandom(2). */
#ifndef WISP_VIRTIO_RNG_H
#define WISP_VIRTIO_RNG_H

#include "virtio/ratelimit.h"
#include "virtio/virtio.h"

struct virtio_rng_stats {
	uint64_t requests, bytes, errors;
	uint64_t throttled; /* requests the rate limiter made wait */
};

struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq_chain chain;
	struct virtio_rng_stats stats;
	struct ratelimit limiter; /* unlimited until virtio_rng__update_limiter */
};

int virtio_rng__init(struct virtio_rng *r, const struct rv_bus *bus, struct irq_line irq);
void virtio_rng__exit(struct virtio_rng *r);
/* Serve the queue and the rate limiter's timer on the I/O thread. */
int virtio_rng__attach(struct virtio_rng *r, struct ioloop *l);
/* New rate limiter buckets (any thread). */
void virtio_rng__update_limiter(struct virtio_rng *r, const struct ratelimit_update *u);
struct virtio_rng_stats virtio_rng__stats(struct virtio_rng *r);

#endif
