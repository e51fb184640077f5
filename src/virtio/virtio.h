/*
 * A virtio device as the transport sees it: status, features, queues, config space, interrupt status.
 * Each device type (blk.c, net.c, console.c, rng.c, vsock.c, balloon.c) embeds one and hands the transport a
 * small ops table; the transport (mmio.c) never knows which device it carries.
 *
 * Threads: the vCPU thread only touches registers (mmio.c). Queue processing runs on the I/O thread
 * (ioloop.c) with `lock` held; the vCPU thread takes `lock` for status, queue set-up and config accesses,
 * so a reset waits for the request in flight. QueueNotify and the interrupt registers never wait for I/O.
 */
#ifndef WISP_VIRTIO_VIRTIO_H
#define WISP_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/devices.h"
#include "virtio/ioloop.h"
#include "virtio/virtq.h"

#define VIRTIO_MMIO_SIZE 0x200
#define VIRTIO_MAX_QUEUES 5 /* the balloon has the most: inflate, deflate, stats, hinting, reporting */
#define VIRTIO_VENDOR_ID 0x70736977 /* "wisp" */

/* Device types (5.x). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK 19

/* Device status (2.1). */
#define VIRTIO_S_ACKNOWLEDGE 1
#define VIRTIO_S_DRIVER 2
#define VIRTIO_S_DRIVER_OK 4
#define VIRTIO_S_FEATURES_OK 8
#define VIRTIO_S_NEEDS_RESET 64
#define VIRTIO_S_FAILED 128

/* Transport feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_COMMON ((1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_VERSION_1))

/* InterruptStatus bits. */
#define VIRTIO_INT_USED 1
#define VIRTIO_INT_CONFIG 2

struct virtio_dev;
struct snapshot_device_ops;
struct snap_reader;
struct snap_writer;

struct virtio_dev_ops {
	/* Queue q has new buffers (I/O thread, lock held, device live). */
	void (*notify)(struct virtio_dev *d, unsigned q);
	/* The driver set DRIVER_OK (vCPU thread, lock held). Optional. */
	void (*activate)(struct virtio_dev *d);
	/* Device reset: drop in-flight state (lock held). Optional. */
	void (*reset)(struct virtio_dev *d);
	/* The driver wrote config space bytes [off, off+len) (lock held). Optional: default read-only. */
	void (*config_write)(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len);
	/*
	 * Snapshot restore (snap.c, lock held): may the config space the guest saw (`saved`, config_size bytes)
	 * replace this device's? -1 with the reason to refuse (a clone's disk of another size). Optional: yes.
	 */
	int (*check_config)(struct virtio_dev *d, const uint8_t *saved, char *err, size_t n);
	/* Snapshots (snap.c, lock held): finish the requests in flight before the queues are saved. Optional. */
	void (*quiesce)(struct virtio_dev *d);
	/*
	 * Snapshots (snap.c, lock held): the device type's own state, after the transport's and its queues'.
	 * save appends it; load reads exactly what save wrote (an empty reader for a device saved without it),
	 * after the transport was restored, and checks every value (-1 with the reason abandons the restore).
	 * Both optional: a device type without them keeps nothing beyond its transport and config space.
	 */
	void (*save)(struct virtio_dev *d, struct snap_writer *w);
	int (*load)(struct virtio_dev *d, struct snap_reader *r, char *err, size_t n);
};

/* Transport-level counters; device types keep their own next to them. */
struct virtio_stats {
	uint64_t notifies, interrupts, queue_errors, resets;
};

struct virtio_dev {
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	const char *name;
	uint32_t device_id;
	uint64_t host_features, driver_features;
	uint32_t status;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel, shm_sel;
	unsigned nqueues;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint8_t *config;
	uint32_t config_size;
	_Atomic uint32_t config_gen;
	const struct rv_bus *bus;

	/* Interrupt status and the line it drives; irq_lock keeps the two consistent. */
	pthread_mutex_t irq_lock;
	uint32_t isr;
	struct irq_line irq;

	/* QueueNotify: queues with news, and the eventfd that wakes the I/O thread (-1: none). */
	_Atomic uint32_t pending;
	int notify_fd;

	struct virtio_stats stats;
};

/*
 * Set up the transport state. `config` is the device's config space (owned by the device, read under lock).
 * Returns -1 (errno set) if the notification eventfd cannot be created.
 */
int virtio_dev__init(struct virtio_dev *d, const struct virtio_dev_ops *ops, const char *name, uint32_t device_id,
		     unsigned nqueues, uint16_t queue_max, uint64_t features, void *config, uint32_t config_size,
		     const struct rv_bus *bus, struct irq_line irq);
void virtio_dev__exit(struct virtio_dev *d);

/* The register window (virtio-mmio version 2). `dev` is the struct virtio_dev. */
extern const struct mmio_ops virtio_mmio__ops;

/* Serve the device's queue notifications on the I/O thread. */
int virtio_dev__attach(struct virtio_dev *d, struct ioloop *l);
/* I/O thread: the notification eventfd fired; run the device's notify for each queue with news. */
void virtio_dev__process(struct virtio_dev *d);

/* For device code (lock held). */
bool virtio_dev__live(const struct virtio_dev *d);
bool virtio_dev__has(const struct virtio_dev *d, unsigned feature);
/* Pop from queue q; a malformed queue sets DEVICE_NEEDS_RESET and returns -1. */
int virtio_dev__pop(struct virtio_dev *d, unsigned q, struct virtq_chain *c);
/* Interrupt the driver if it wants to hear about the buffers pushed to q. */
void virtio_dev__signal(struct virtio_dev *d, unsigned q);
/* The config space changed: bump the generation and interrupt. */
void virtio_dev__config_changed(struct virtio_dev *d);
/* The device cannot go on (malformed queue): DEVICE_NEEDS_RESET + config interrupt. */
void virtio_dev__needs_reset(struct virtio_dev *d);
/* Ask the I/O thread to run notify(q) as if the driver had kicked (e.g. a backend has data). */
void virtio_dev__kick(struct virtio_dev *d, unsigned q);

/* Copy the transport counters (takes the lock). */
struct virtio_stats virtio_dev__stats(struct virtio_dev *d);

/*
 * Snapshots (snap.c): the handler that saves and restores every virtio-mmio window's transport and queue
 * state (src/snapshot/state.h). Register it before a snapshot is taken or loaded; registering again is a
 * no-op. -1 only if the snapshot layer's handler table is full.
 */
int virtio_snap__register(void);
extern const struct snapshot_device_ops virtio_snap__ops;

#endif
