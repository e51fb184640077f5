/*
 * Split virtqueues (virtio 1.2, 2.7): descriptor table, driver (avail) ring, device (used) ring, all in
 * guest memory. Every guest value is checked: a malformed queue marks itself broken and is not touched again
 * until the driver resets it.
 */
#ifndef WISP_VIRTIO_VIRTQ_H
#define WISP_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mmu/mmu.h"

#define VIRTQ_MAX_SIZE 256 /* largest queue we offer; also the longest chain we accept */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq {
	/* Set up by the driver through the transport while the queue is not ready. */
	uint16_t num, num_max;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;
	/* Negotiated features that change the ring format. */
	bool event_idx, indirect;
	/* Guest memory. */
	const struct rv_bus *bus;
	const uint8_t *desc;
	uint16_t *avail; /* flags, idx, ring[num], used_event */
	uint16_t *used;  /* flags, idx, then ring[num] of {u32 id, u32 len}, then avail_event */
	/* Device-side state. */
	uint16_t last_avail, used_idx, signalled_used;
	bool signalled_valid, broken;
};

/* One popped request: device-readable segments first (nout), then device-writable ones (nin). */
struct virtq_chain {
	uint16_t head;
	unsigned nout, nin;
	uint64_t out_len, in_len;
	struct iovec iov[VIRTQ_MAX_SIZE];
	uint64_t gpa[VIRTQ_MAX_SIZE];
};

static inline struct iovec *virtq_chain__in(struct virtq_chain *c)
{
	return c->iov + c->nout;
}

void virtq__init(struct virtq *vq, const struct rv_bus *bus, uint16_t num_max);
/* Forget the driver's set-up (device reset, or QueueReady written 0). */
void virtq__reset(struct virtq *vq);
/* Map the rings the driver configured. Returns -1 if size, alignment or placement is invalid. */
int virtq__enable(struct virtq *vq, bool event_idx, bool indirect);

/*
 * Take the next available chain. Returns 1 with *c filled, 0 if the ring is empty (with EVENT_IDX the
 * driver is asked to notify at the next buffer), -1 if the queue is malformed (it is then broken).
 */
int virtq__pop(struct virtq *vq, struct virtq_chain *c);
/* Give back the last popped chain unused (e.g. nothing to receive into it after all). */
void virtq__unpop(struct virtq *vq);
/* Return a chain to the driver with `written` bytes stored in its writable part. */
void virtq__push(struct virtq *vq, const struct virtq_chain *c, uint32_t written);
/* Mark the first `written` bytes of c's writable part dirty (virtq__push does it itself). */
void virtq__mark_written(struct virtq *vq, const struct virtq_chain *c, uint32_t written);
/* Return n chains (heads, bytes written, already marked) with one used index update (mergeable buffers). */
void virtq__push_many(struct virtq *vq, const uint16_t *heads, const uint32_t *lens, unsigned n);
/* After pushes: does the driver want an interrupt now (EVENT_IDX / NO_INTERRUPT)? */
bool virtq__should_signal(struct virtq *vq);
/* Has the driver made buffers available that the device has not taken (a live queue only)? */
bool virtq__has_avail(const struct virtq *vq);

/* Gather/scatter between a flat buffer and a run of segments, starting `off` bytes in. */
size_t iov__read(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len);
size_t iov__write(const struct iovec *iov, unsigned n, size_t off, const void *src, size_t len);
/* The segments covering [off, off+len) of iov, into out (at most max). Returns how many. */
unsigned iov__slice(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *out, unsigned max);

/* Mark guest pages dirty after the device wrote [gpa, gpa+len). */
/* A device wrote [gpa, gpa + len) of guest RAM: mark it dirty (diff snapshots) and drop decoded code there. */
void bus__mark_dirty(const struct rv_bus *bus, uint64_t gpa, uint64_t len);

#endif
