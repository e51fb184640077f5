/*
 * virtio-net (virtio 1.2, 5.1) over a TAP device (or any fd that carries one frame per read/write behind a
 * 12-byte virtio_net_hdr). No offloads: every frame crosses with a zeroed header.
 */
#ifndef WISP_VIRTIO_NET_H
#define WISP_VIRTIO_NET_H

#include <stdint.h>

#include "virtio/ioloop.h"
#include "virtio/ratelimit.h"
#include "virtio/virtio.h"

#define VIRTIO_NET_HDR_SIZE 12
#define VIRTIO_NET_MAX_FRAME 65550
#define VIRTIO_NET_CONFIG_SIZE 8

struct virtio_net_stats {
	uint64_t rx_packets, rx_bytes, rx_dropped, tx_packets, tx_bytes, tx_dropped, errors;
	uint64_t tx_filtered; /* frames the filter took (MMDS) */
	uint64_t rx_throttled, tx_throttled; /* frames the rate limiters made wait */
};

/* Sees each frame the guest sends before the backend does (MMDS); device lock held, I/O thread. */
struct virtio_net_filter {
	/* The frame (no virtio header) in iov[0, n), len bytes: true if the filter took it (not for the backend). */
	bool (*tx)(void *opaque, const struct iovec *iov, unsigned n, size_t len);
	void *opaque;
};

#define VIRTIO_NET_INJECT_MAX 64 /* frames from the filter waiting for receive buffers */

struct virtio_net {
	struct virtio_dev vdev;
	int fd;
	uint8_t config[VIRTIO_NET_CONFIG_SIZE]; /* mac[6], status */
	/* A frame read from the backend, waiting for a receive buffer. */
	uint8_t rx_frame[VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME];
	size_t rx_len;
	bool rx_paid; /* the rx limiter granted the frame in rx_frame */
	struct ratelimit rx_limiter, tx_limiter; /* unlimited until virtio_net__update_limiters */
	struct virtio_net_filter filter;	 /* tx NULL: none */
	uint8_t *inject[VIRTIO_NET_INJECT_MAX];	 /* frames for the guest from the filter, a FIFO */
	size_t inject_len[VIRTIO_NET_INJECT_MAX];
	unsigned inject_head, inject_count;
	struct virtq_chain chain;
	struct virtio_net_stats stats;
};

/* Open (or create) TAP interface `name` with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR. Prints and returns -1 on error. */
int tap__open(const char *name);

/* Take ownership of fd (non-blocking). mac may be NULL: a random locally administered address. */
int virtio_net__init(struct virtio_net *n, const struct rv_bus *bus, struct irq_line irq, int fd,
		     const uint8_t *mac);
void virtio_net__exit(struct virtio_net *n);
/* Have the I/O thread serve the queues and the backend. */
int virtio_net__attach(struct virtio_net *n, struct ioloop *l);
/* New rate limiter buckets for receive and/or transmit (either may be NULL; any thread). */
void virtio_net__update_limiters(struct virtio_net *n, const struct ratelimit_update *rx,
				 const struct ratelimit_update *tx);
/* Put a filter in front of the backend (before the I/O thread runs). */
void virtio_net__set_filter(struct virtio_net *n, const struct virtio_net_filter *f);
/* A frame for the guest from the filter (lock held, I/O thread); false if too many wait already (dropped). */
bool virtio_net__inject(struct virtio_net *n, const void *frame, size_t len);
/* The backend is readable (I/O thread; exposed for tests). */
void virtio_net__rx_event(struct virtio_net *n);
struct virtio_net_stats virtio_net__stats(struct virtio_net *n);

#endif
