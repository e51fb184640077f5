/* virtio-blk (virtio 1.2, 5.2) over a host file: read, write, flush, get-id; read-only drives. */
#ifndef WISP_VIRTIO_BLK_H
#define WISP_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio.h"

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_CONFIG_SIZE 36

struct virtio_blk_stats {
	uint64_t reads, writes, flushes, get_ids, read_bytes, write_bytes, errors, unsupported;
};

struct virtio_blk {
	struct virtio_dev vdev; /* first: the transport's handle */
	int fd;
	bool read_only;
	uint64_t sectors;
	char id[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
	struct virtq_chain chain;
	struct virtio_blk_stats stats;
};

/*
 * Open `path` (read-only if asked; locked against a second writer) as a disk of size/512 sectors.
 * `id` (may be NULL) is what GET_ID returns, at most 20 bytes. Prints a message and returns -1 on error.
 */
int virtio_blk__init(struct virtio_blk *b, const struct rv_bus *bus, struct irq_line irq, const char *path,
		     bool read_only, const char *id);
void virtio_blk__exit(struct virtio_blk *b);
struct virtio_blk_stats virtio_blk__stats(struct virtio_blk *b);

#endif
