/*
 * Snapshots of virtio-mmio devices: the transport (status, features, selectors, interrupt status, config
 * generation and space) and every queue (set-up registers, device indices, EVENT_IDX state), for any device
 * type. Device types keep nothing else that must survive: virtio-blk completes each request before the
 * next; virtio-net drops a frame waiting for a receive buffer (TCP retransmits); virtio-console and
 * virtio-rng hold no guest-visible state; device types that do (the balloon's statistics buffer, vsock's
 * reset on restore) save and load it through their ops (virtio_dev_ops.save/load). Backends (files, TAPs,
 * ptys, Unix sockets) come back by configuration: the restore recreates each device in its slot before
 * `load` runs.
 *
 * Payload, version 2 (little-endian, snap_w__*); version 1 is the same without the last field:
 *   u32 device_id | u64 host_features | u64 driver_features | u32 status
 *   u32 device_features_sel | u32 driver_features_sel | u32 queue_sel | u32 shm_sel
 *   u32 interrupt_status | u32 config_generation | u32 config_size | config_size bytes
 *   u32 nqueues, then per queue:
 *     u8 ready | u16 num | u64 desc | u64 driver (avail) | u64 device (used)
 *     u8 event_idx | u8 indirect | u16 last_avail | u16 used_idx | u16 signalled_used
 *     u8 signalled_valid | u8 broken
 *   u32 device_len | device_len bytes: the device type's own state (virtio_dev_ops.save)
 *
 * A state file is input like any other: load checks every field before it changes the device, maps the
 * rings of ready queues through the same checks as QueueReady (size, alignment, inside RAM), and leaves
 * descriptors to be checked when they are used, as always.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "snapshot/state.h"
#include "virtio/virtio.h"

#define SNAP_VERSION 2
#define DEVICE_STATE_MAX 4096 /* the device type's own part */
#define CONFIG_MAX (VIRTIO_MMIO_SIZE - 0x100) /* the config window */
#define STATUS_BITS                                                                                          \
	(VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_DRIVER_OK | VIRTIO_S_FEATURES_OK |                 \
	 VIRTIO_S_NEEDS_RESET | VIRTIO_S_FAILED)
#define ISR_BITS (VIRTIO_INT_USED | VIRTIO_INT_CONFIG)

static int save(void *dev, struct snap_writer *w, char *err, size_t n)
{
	struct virtio_dev *d = dev;
	if (d->config_size > CONFIG_MAX || d->nqueues > VIRTIO_MAX_QUEUES) {
		snprintf(err, n, "device state out of range");
		return -1;
	}
	/* The I/O thread is stopped; the locks keep a stray register access of a parked vCPU out anyway. */
	pthread_mutex_lock(&d->lock);
	if (d->ops->quiesce)
		d->ops->quiesce(d);
	pthread_mutex_lock(&d->irq_lock);
	snap_w__u32(w, d->device_id);
	snap_w__u64(w, d->host_features);
	snap_w__u64(w, d->driver_features);
	snap_w__u32(w, d->status);
	snap_w__u32(w, d->dev_feat_sel);
	snap_w__u32(w, d->drv_feat_sel);
	snap_w__u32(w, d->queue_sel);
	snap_w__u32(w, d->shm_sel);
	snap_w__u32(w, d->isr);
	snap_w__u32(w, atomic_load(&d->config_gen));
	snap_w__u32(w, d->config_size);
	snap_w__bytes(w, d->config, d->config_size);
	snap_w__u32(w, d->nqueues);
	for (unsigned q = 0; q < d->nqueues; q++) {
		const struct virtq *vq = &d->vq[q];
		snap_w__u8(w, vq->ready);
		snap_w__u16(w, vq->num);
		snap_w__u64(w, vq->desc_gpa);
		snap_w__u64(w, vq->avail_gpa);
		snap_w__u64(w, vq->used_gpa);
		snap_w__u8(w, vq->event_idx);
		snap_w__u8(w, vq->indirect);
		snap_w__u16(w, vq->last_avail);
		snap_w__u16(w, vq->used_idx);
		snap_w__u16(w, vq->signalled_used);
		snap_w__u8(w, vq->signalled_valid);
		snap_w__u8(w, vq->broken);
	}
	pthread_mutex_unlock(&d->irq_lock);
	struct snap_writer own;
	snap_w__init(&own);
	if (d->ops->save)
		d->ops->save(d, &own);
	pthread_mutex_unlock(&d->lock);
	int rc = 0;
	if (own.oom || own.len > DEVICE_STATE_MAX) {
		snprintf(err, n, "%s state out of range", d->name ? d->name : "device");
		rc = -1;
	} else {
		snap_w__u32(w, (uint32_t)own.len);
		snap_w__bytes(w, own.buf, own.len);
	}
	snap_w__free(&own);
	return rc;
}

struct saved_queue {
	uint8_t ready, event_idx, indirect, signalled_valid, broken;
	uint16_t num, last_avail, used_idx, signalled_used;
	uint64_t desc, avail, used;
};

struct saved {
	uint32_t device_id, status, dev_feat_sel, drv_feat_sel, queue_sel, shm_sel, isr, config_gen, config_size;
	uint64_t host_features, driver_features;
	uint8_t config[CONFIG_MAX];
	uint32_t nqueues;
	struct saved_queue q[VIRTIO_MAX_QUEUES];
	uint32_t own_len; /* the device type's own state: own_len bytes at own */
	const uint8_t *own;
};

/* Read the payload; -1 if it is not exactly one well-formed record for a device of this shape. */
static int read_saved(struct snap_reader *r, uint32_t version, const struct virtio_dev *d, struct saved *s,
		      char *err, size_t n)
{
	s->device_id = snap_r__u32(r);
	s->host_features = snap_r__u64(r);
	s->driver_features = snap_r__u64(r);
	s->status = snap_r__u32(r);
	s->dev_feat_sel = snap_r__u32(r);
	s->drv_feat_sel = snap_r__u32(r);
	s->queue_sel = snap_r__u32(r);
	s->shm_sel = snap_r__u32(r);
	s->isr = snap_r__u32(r);
	s->config_gen = snap_r__u32(r);
	s->config_size = snap_r__u32(r);
	if (r->bad) {
		snprintf(err, n, "truncated virtio state");
		return -1;
	}
	if (s->device_id != d->device_id) {
		snprintf(err, n, "the snapshot has virtio device type %" PRIu32 " in this slot, not %s", s->device_id,
			 d->name ? d->name : "this device");
		return -1;
	}
	if (s->config_size != d->config_size) {
		snprintf(err, n, "config space of %" PRIu32 " bytes in the snapshot, %" PRIu32 " here", s->config_size,
			 d->config_size);
		return -1;
	}
	snap_r__bytes(r, s->config, s->config_size);
	s->nqueues = snap_r__u32(r);
	if (r->bad || s->nqueues != d->nqueues) {
		snprintf(err, n, "%s", r->bad ? "truncated virtio state" : "the snapshot's device has another number of queues");
		return -1;
	}
	for (unsigned i = 0; i < s->nqueues; i++) {
		struct saved_queue *q = &s->q[i];
		q->ready = snap_r__u8(r);
		q->num = snap_r__u16(r);
		q->desc = snap_r__u64(r);
		q->avail = snap_r__u64(r);
		q->used = snap_r__u64(r);
		q->event_idx = snap_r__u8(r);
		q->indirect = snap_r__u8(r);
		q->last_avail = snap_r__u16(r);
		q->used_idx = snap_r__u16(r);
		q->signalled_used = snap_r__u16(r);
		q->signalled_valid = snap_r__u8(r);
		q->broken = snap_r__u8(r);
	}
	if (version >= 2) {
		s->own_len = snap_r__u32(r);
		if (!r->bad && s->own_len <= DEVICE_STATE_MAX && s->own_len <= r->len - r->off) {
			s->own = r->p + r->off;
			r->off += s->own_len;
		} else if (!r->bad) {
			snprintf(err, n, "corrupt virtio state: device state of %" PRIu32 " bytes", s->own_len);
			return -1;
		}
	}
	if (!snap_r__done(r)) {
		snprintf(err, n, "%s virtio state", r->bad ? "truncated" : "oversized");
		return -1;
	}
	return 0;
}

static bool has(uint64_t features, unsigned bit)
{
	return (features >> bit) & 1;
}

/* The transport's invariants, as the register interface maintains them. */
static int check_transport(const struct virtio_dev *d, const struct saved *s, char *err, size_t n)
{
	if (s->host_features != d->host_features) {
		snprintf(err, n,
			 "the device offers features %#" PRIx64 ", the snapshot's offered %#" PRIx64
			 " (a read-only drive in place of a writable one, or the other way round?)",
			 d->host_features, s->host_features);
		return -1;
	}
	const char *why = NULL;
	if (s->status & ~STATUS_BITS)
		why = "unknown device status bits";
	else if ((s->status & VIRTIO_S_DRIVER_OK) && !(s->status & VIRTIO_S_FEATURES_OK))
		why = "DRIVER_OK without FEATURES_OK";
	else if ((s->status & VIRTIO_S_FEATURES_OK) &&
		 (!(s->status & VIRTIO_S_DRIVER) || (s->driver_features & ~s->host_features) ||
		  !has(s->driver_features, VIRTIO_F_VERSION_1)))
		why = "FEATURES_OK with features the device did not accept";
	else if (s->isr & ~ISR_BITS)
		why = "unknown interrupt status bits";
	if (why) {
		snprintf(err, n, "corrupt virtio state: %s", why);
		return -1;
	}
	return 0;
}

/*
 * Rebuild queue i into *out (a copy of the device's, so that nothing changes before every check passed).
 * A ready queue goes through virtq__enable: size, alignment and placement of its rings in RAM.
 */
static int build_queue(const struct virtio_dev *d, const struct saved *s, unsigned i, struct virtq *out, char *err,
		       size_t n)
{
	const struct saved_queue *q = &s->q[i];
	*out = d->vq[i];
	virtq__reset(out);
	out->num = q->num; /* a queue not ready yet may hold any size: QueueReady checks it */
	out->desc_gpa = q->desc;
	out->avail_gpa = q->avail;
	out->used_gpa = q->used;
	if (q->ready > 1 || q->event_idx > 1 || q->indirect > 1 || q->signalled_valid > 1 || q->broken > 1) {
		snprintf(err, n, "corrupt virtio state: queue %u flags", i);
		return -1;
	}
	if (!q->ready)
		return 0;
	bool event_idx = has(s->driver_features, VIRTIO_F_EVENT_IDX);
	bool indirect = has(s->driver_features, VIRTIO_F_INDIRECT_DESC);
	if (!(s->status & VIRTIO_S_FEATURES_OK) || q->event_idx != event_idx || q->indirect != indirect) {
		snprintf(err, n, "corrupt virtio state: queue %u is ready without the features it was set up with", i);
		return -1;
	}
	if (virtq__enable(out, event_idx, indirect) < 0) {
		snprintf(err, n,
			 "queue %u: size %u (at most %u) or ring addresses %#" PRIx64 "/%#" PRIx64 "/%#" PRIx64
			 " are not valid in this machine's RAM",
			 i, q->num, out->num_max, q->desc, q->avail, q->used);
		return -1;
	}
	out->last_avail = q->last_avail;
	out->used_idx = q->used_idx;
	out->signalled_used = q->signalled_used;
	out->signalled_valid = q->signalled_valid;
	out->broken = q->broken;
	return 0;
}

static int load(void *dev, uint32_t version, struct snap_reader *r, char *err, size_t n)
{
	struct virtio_dev *d = dev;
	if (version < 1 || version > SNAP_VERSION) {
		snprintf(err, n, "virtio-mmio state version %" PRIu32 " is not supported (this wisp reads 1 to %d)",
			 version, SNAP_VERSION);
		return -1;
	}
	if (d->config_size > CONFIG_MAX || d->nqueues > VIRTIO_MAX_QUEUES) {
		snprintf(err, n, "device state out of range");
		return -1;
	}
	struct saved s;
	memset(&s, 0, sizeof(s));
	if (read_saved(r, version, d, &s, err, n) < 0 || check_transport(d, &s, err, n) < 0)
		return -1;
	if (s.own_len && !d->ops->load) {
		snprintf(err, n, "the snapshot has %" PRIu32 " bytes of %s state this wisp does not know", s.own_len,
			 d->name ? d->name : "device");
		return -1;
	}
	struct virtq vq[VIRTIO_MAX_QUEUES];
	for (unsigned i = 0; i < d->nqueues; i++)
		if (build_queue(d, &s, i, &vq[i], err, n) < 0)
			return -1;

	pthread_mutex_lock(&d->lock);
	if (d->ops->check_config && d->ops->check_config(d, s.config, err, n) < 0) {
		pthread_mutex_unlock(&d->lock);
		return -1;
	}
	/* Every check passed: the device becomes the snapshot's. */
	d->driver_features = s.driver_features;
	d->status = s.status;
	d->dev_feat_sel = s.dev_feat_sel;
	d->drv_feat_sel = s.drv_feat_sel;
	d->queue_sel = s.queue_sel;
	d->shm_sel = s.shm_sel;
	if (d->config_size)
		memcpy(d->config, s.config, d->config_size); /* what the guest read: the MAC, the disk's size... */
	atomic_store(&d->config_gen, s.config_gen);
	for (unsigned i = 0; i < d->nqueues; i++)
		d->vq[i] = vq[i];
	atomic_store(&d->pending, 0);
	bool live = virtio_dev__live(d);
	if (d->ops->load) {
		struct snap_reader own;
		snap_r__init(&own, s.own, s.own_len);
		if (d->ops->load(d, &own, err, n) < 0) {
			pthread_mutex_unlock(&d->lock);
			return -1;
		}
	}
	pthread_mutex_unlock(&d->lock);

	/* The interrupt line follows the interrupt status (the PLIC's saved state already agrees). */
	pthread_mutex_lock(&d->irq_lock);
	d->isr = s.isr;
	irq_line__set(&d->irq, d->isr != 0);
	pthread_mutex_unlock(&d->irq_lock);

	/*
	 * Buffers the driver made available that the device had not taken when the snapshot was written: the
	 * driver notified (or, with EVENT_IDX, was not asked to) and will not again. The I/O thread serves them
	 * as soon as it starts.
	 */
	if (live)
		for (unsigned i = 0; i < d->nqueues; i++)
			if (virtq__has_avail(&d->vq[i]))
				virtio_dev__kick(d, i);
	return 0;
}

const struct snapshot_device_ops virtio_snap__ops = {
	.kind = "virtio-mmio",
	.version = SNAP_VERSION,
	.mmio = &virtio_mmio__ops,
	.save = save,
	.load = load,
};

int virtio_snap__register(void)
{
	return snapshot__register_device(&virtio_snap__ops);
}
