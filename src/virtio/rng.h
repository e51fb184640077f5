/* virtio-rng (virtio 1.2, 5.4): the entropy device, fed from getrandom(2). */
#ifndef WISP_VIRTIO_RNG_H
#define WISP_VIRTIO_RNG_H

#include "virtio/virtio.h"

struct virtio_rng_stats {
	uint64_t requests, bytes, errors;
};

struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq_chain chain;
	struct virtio_rng_stats stats;
};

int virtio_rng__init(struct virtio_rng *r, const struct rv_bus *bus, struct irq_line irq);
void virtio_rng__exit(struct virtio_rng *r);
struct virtio_rng_stats virtio_rng__stats(struct virtio_rng *r);

#endif
