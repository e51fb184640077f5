/* virtio-blk (virtio 1.2, 5.2) over a host file: read, write, flush, get-id; read-only drives. */
#ifndef WISP_VIRTIO_BLK_H
#define WISP_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/ratelimit.h"
#include "virtio/virtio.h"

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_CONFIG_SIZE 36

struct virtio_blk_stats {
	uint64_t reads, writes, flushes, get_ids, read_bytes, write_bytes, errors, unsupported;
	uint64_t throttled; /* requests the rate limiter made wait */
};

struct blk_async; /* io_engine Async (blk.c) */

struct virtio_blk {
	struct virtio_dev vdev; /* first: the transport's handle */
	int fd;
	bool read_only;
	uint64_t sectors;
	char id[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
	struct virtq_chain chain;
	struct virtio_blk_stats stats;
	struct ratelimit limiter; /* unlimited until virtio_blk__update_limiter */
	struct blk_async *aio;	  /* NULL: Sync, each request done on the I/O thread before the next */
};

/*
 * Open `path` (read-only if asked; locked against a second writer) as a disk of size/512 sectors.
 * `id` (may be NULL) is what GET_ID returns, at most 20 bytes. Prints a message and returns -1 on error.
 */
int virtio_blk__init(struct virtio_blk *b, const struct rv_bus *bus, struct irq_line irq, const char *path,
		     bool read_only, const char *id);
void virtio_blk__exit(struct virtio_blk *b);
/* io_engine Async: requests go through io_uring, several in flight. Before the guest runs. -1 with a message. */
int virtio_blk__use_async(struct virtio_blk *b);
/* Async: wait for every request in flight and answer it (the I/O thread's completion handler does the same). */
void virtio_blk__async_wait(struct virtio_blk *b);
/* Serve the queue and the rate limiter's timer on the I/O thread. */
int virtio_blk__attach(struct virtio_blk *b, struct ioloop *l);
/* New rate limiter buckets (before or while the guest runs; any thread). */
void virtio_blk__update_limiter(struct virtio_blk *b, const struct ratelimit_update *u);
/*
 * Another backing file (same read-only mode): opened, locked and sized before anything changes; the guest is told
 * of the new capacity with a config interrupt. -1 with the reason in err, the old file still in use.
 */
int virtio_blk__set_backing(struct virtio_blk *b, const char *path, char *err, size_t n);
struct virtio_blk_stats virtio_blk__stats(struct virtio_blk *b);

#endif
