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
	uint64_t bad_headers; /* frames from the guest with a virtio-net header it may not send (dropped) */
	uint64_t rx_throttled, tx_throttled; /* frames the rate limiters made wait */
};

/* Sees each frame the guest sends before the backend does (MMDS); device lock held, I/O thread. */
struct virtio_net_filter {
	/*
	 * The frame (its virtio-net header apart: hdr, already checked, zeros without offloads) in iov[0, n),
	 * len bytes: true if the filter took it (it does not go to the backend).
	 */
	bool (*tx)(void *opaque, const uint8_t *hdr, const struct iovec *iov, unsigned n, size_t len);
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
	struct virtq_chain chain, chain2; /* chain2: the further buffers of a mergeable frame */
	struct virtio_net_stats stats;
	bool offloads;		/* the backend takes and gives checksum/segmentation offloads (virtio_net__enable_offloads) */
	unsigned tap_offloads;	/* TAP_OFFLOAD_* bits set on the backend */
};

/*
 * Open (or create) TAP interface `name` with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, no offloads yet. *offloads:
 * whether it can do checksum and TCP segmentation offloads (TUNSETOFFLOAD). Prints and returns -1 on error.
 */
int tap__open(const char *name, bool *offloads);
#define TAP_OFFLOAD_CSUM 1u
#define TAP_OFFLOAD_TSO4 2u
#define TAP_OFFLOAD_TSO6 4u
#define TAP_OFFLOAD_ECN 8u
/* What the TAP may hand us (TAP_OFFLOAD_* bits). -1 on error. */
int tap__set_offloads(int fd, unsigned flags);
/*
 * May the guest send this virtio-net header (12 bytes) on a frame of frame_len bytes, given the features it
 * negotiated? Checksum requests inside the frame, segmentation only of the kinds offered, sizes that fit.
 */
bool virtio_net__tx_header_ok(uint64_t features, const uint8_t *hdr, size_t frame_len);

/* Take ownership of fd (non-blocking). mac may be NULL: a random locally administered address. */
int virtio_net__init(struct virtio_net *n, const struct rv_bus *bus, struct irq_line irq, int fd,
		     const uint8_t *mac);
void virtio_net__exit(struct virtio_net *n);
/* Have the I/O thread serve the queues and the backend. */
int virtio_net__attach(struct virtio_net *n, struct ioloop *l);
/* New rate limiter buckets for receive and/or transmit (either may be NULL; any thread). */
void virtio_net__update_limiters(struct virtio_net *n, const struct ratelimit_update *rx,
				 const struct ratelimit_update *tx);
/*
 * Offer checksum offload (both ways), TSO4/6 with ECN (both ways) and mergeable receive buffers: the backend
 * (a TAP that said yes in tap__open) handles them. Before the guest sees the device.
 */
void virtio_net__enable_offloads(struct virtio_net *n);
/* Put a filter in front of the backend (before the I/O thread runs). */
void virtio_net__set_filter(struct virtio_net *n, const struct virtio_net_filter *f);
/* A frame for the guest from the filter (lock held, I/O thread); false if too many wait already (dropped). */
bool virtio_net__inject(struct virtio_net *n, const void *frame, size_t len);
/* The backend is readable (I/O thread; exposed for tests). */
void virtio_net__rx_event(struct virtio_net *n);
struct virtio_net_stats virtio_net__stats(struct virtio_net *n);

#endif
