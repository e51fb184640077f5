/* virtio-mmio (virtio 1.2, 4.2), version 2 register layout only. */
#include <string.h>

#include "virtio/virtio.h"

enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_QUEUE_RESET = 0x0c0,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

#define MMIO_MAGIC 0x74726976 /* "virt" */
#define MMIO_VERSION 2

static void reset(struct virtio_dev *d)
{
	d->status = 0;
	d->driver_features = 0;
	d->dev_feat_sel = d->drv_feat_sel = d->queue_sel = d->shm_sel = 0;
	for (unsigned i = 0; i < d->nqueues; i++)
		virtq__reset(&d->vq[i]);
	atomic_store(&d->pending, 0);
	pthread_mutex_lock(&d->irq_lock);
	d->isr = 0;
	irq_line__set(&d->irq, false);
	pthread_mutex_unlock(&d->irq_lock);
	if (d->ops->reset)
		d->ops->reset(d);
	d->stats.resets++;
}

static struct virtq *selected(struct virtio_dev *d)
{
	return d->queue_sel < d->nqueues ? &d->vq[d->queue_sel] : NULL;
}

static bool features_ok(const struct virtio_dev *d)
{
	return !(d->driver_features & ~d->host_features) && virtio_dev__has(d, VIRTIO_F_VERSION_1);
}

static void write_status(struct virtio_dev *d, uint32_t v)
{
	uint32_t old = d->status;
	if (v == 0) {
		reset(d);
		return;
	}
	v &= VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK | VIRTIO_S_FAILED;
	if (old & ~v & ~VIRTIO_S_NEEDS_RESET)
		return; /* only a reset clears bits */
	uint32_t set = v & ~old;
	if ((set & VIRTIO_S_FEATURES_OK) && (!(v & VIRTIO_S_DRIVER) || !features_ok(d)))
		v &= ~VIRTIO_S_FEATURES_OK; /* refused: the driver reads it back */
	if ((set & VIRTIO_S_DRIVER_OK) && !(v & VIRTIO_S_FEATURES_OK))
		v &= ~VIRTIO_S_DRIVER_OK;
	d->status = v | (old & VIRTIO_S_NEEDS_RESET);
	if ((d->status & ~old & VIRTIO_S_DRIVER_OK) && d->ops->activate)
		d->ops->activate(d);
}

static void write_queue_ready(struct virtio_dev *d, struct virtq *vq, uint32_t v)
{
	if (!v) {
		virtq__reset(vq);
		return;
	}
	if (vq->ready || !(d->status & VIRTIO_S_FEATURES_OK))
		return;
	if (virtq__enable(vq, virtio_dev__has(d, VIRTIO_F_EVENT_IDX), virtio_dev__has(d, VIRTIO_F_INDIRECT_DESC)) < 0)
		virtio_dev__needs_reset(d);
}

static void set_half(uint64_t *reg, bool high, uint32_t v)
{
	*reg = high ? (*reg & 0xffffffffull) | (uint64_t)v << 32 : (*reg & ~0xffffffffull) | v;
}

/* Queue set-up registers: only while the selected queue is not live. */
static void write_queue_reg(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct virtq *vq = selected(d);
	if (!vq)
		return;
	if (off == REG_QUEUE_READY) {
		write_queue_ready(d, vq, v);
		return;
	}
	if (vq->ready)
		return;
	switch (off) {
	case REG_QUEUE_NUM: vq->num = (uint16_t)(v > 0xffff ? 0 : v); break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH: set_half(&vq->desc_gpa, off == REG_QUEUE_DESC_HIGH, v); break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH: set_half(&vq->avail_gpa, off == REG_QUEUE_DRIVER_HIGH, v); break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH: set_half(&vq->used_gpa, off == REG_QUEUE_DEVICE_HIGH, v); break;
	}
}

static void write_driver_features(struct virtio_dev *d, uint32_t v)
{
	if (!(d->status & VIRTIO_S_DRIVER) || (d->status & VIRTIO_S_FEATURES_OK) || d->drv_feat_sel > 1)
		return;
	set_half(&d->driver_features, d->drv_feat_sel == 1, v);
}

static void ack_irq(struct virtio_dev *d, uint32_t v)
{
	pthread_mutex_lock(&d->irq_lock);
	d->isr &= ~v;
	irq_line__set(&d->irq, d->isr != 0);
	pthread_mutex_unlock(&d->irq_lock);
}

static uint32_t read_isr(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->irq_lock);
	uint32_t v = d->isr;
	pthread_mutex_unlock(&d->irq_lock);
	return v;
}

static uint64_t read_config(struct virtio_dev *d, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	if (off > d->config_size || size > d->config_size - off)
		return 0;
	memcpy(&v, d->config + off, size); /* little-endian host */
	return v;
}

static uint32_t read_reg(struct virtio_dev *d, uint64_t off)
{
	struct virtq *vq = selected(d);
	switch (off) {
	case REG_MAGIC: return MMIO_MAGIC;
	case REG_VERSION: return MMIO_VERSION;
	case REG_DEVICE_ID: return d->device_id;
	case REG_VENDOR_ID: return VIRTIO_VENDOR_ID;
	case REG_DEVICE_FEATURES: return d->dev_feat_sel > 1 ? 0 : (uint32_t)(d->host_features >> (32 * d->dev_feat_sel));
	case REG_QUEUE_NUM_MAX: return vq ? vq->num_max : 0;
	case REG_QUEUE_NUM: return vq ? vq->num : 0;
	case REG_QUEUE_READY: return vq ? vq->ready : 0;
	case REG_STATUS: return d->status;
	case REG_QUEUE_DESC_LOW: return vq ? (uint32_t)vq->desc_gpa : 0;
	case REG_QUEUE_DESC_HIGH: return vq ? (uint32_t)(vq->desc_gpa >> 32) : 0;
	case REG_QUEUE_DRIVER_LOW: return vq ? (uint32_t)vq->avail_gpa : 0;
	case REG_QUEUE_DRIVER_HIGH: return vq ? (uint32_t)(vq->avail_gpa >> 32) : 0;
	case REG_QUEUE_DEVICE_LOW: return vq ? (uint32_t)vq->used_gpa : 0;
	case REG_QUEUE_DEVICE_HIGH: return vq ? (uint32_t)(vq->used_gpa >> 32) : 0;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
	case REG_SHM_BASE_LOW:
	case REG_SHM_BASE_HIGH: return 0xffffffff; /* no shared memory regions */
	default: return 0;
	}
}

static uint64_t mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_dev *d = dev;
	if (off >= REG_CONFIG) {
		pthread_mutex_lock(&d->lock);
		uint64_t v = read_config(d, off - REG_CONFIG, size);
		pthread_mutex_unlock(&d->lock);
		return v;
	}
	if (size != 4)
		return 0;
	/* The hot registers never wait for the I/O thread. */
	if (off == REG_INTERRUPT_STATUS)
		return read_isr(d);
	if (off == REG_CONFIG_GENERATION)
		return atomic_load(&d->config_gen);
	pthread_mutex_lock(&d->lock);
	uint32_t v = read_reg(d, off);
	pthread_mutex_unlock(&d->lock);
	return v;
}

static void write_reg(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	switch (off) {
	case REG_DEVICE_FEATURES_SEL: d->dev_feat_sel = v; break;
	case REG_DRIVER_FEATURES_SEL: d->drv_feat_sel = v; break;
	case REG_DRIVER_FEATURES: write_driver_features(d, v); break;
	case REG_QUEUE_SEL: d->queue_sel = v; break;
	case REG_SHM_SEL: d->shm_sel = v; break;
	case REG_STATUS: write_status(d, v); break;
	case REG_QUEUE_NUM:
	case REG_QUEUE_READY:
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH: write_queue_reg(d, off, v); break;
	}
}

static void mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_dev *d = dev;
	if (off >= REG_CONFIG) {
		uint32_t coff = (uint32_t)(off - REG_CONFIG);
		pthread_mutex_lock(&d->lock);
		if (d->ops->config_write && coff <= d->config_size && size <= d->config_size - coff)
			d->ops->config_write(d, coff, &val, size);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (size != 4)
		return;
	uint32_t v = (uint32_t)val;
	if (off == REG_QUEUE_NOTIFY) {
		if (v < d->nqueues)
			virtio_dev__kick(d, v);
		return;
	}
	if (off == REG_INTERRUPT_ACK) {
		ack_irq(d, v);
		return;
	}
	pthread_mutex_lock(&d->lock);
	write_reg(d, off, v);
	pthread_mutex_unlock(&d->lock);
}

const struct mmio_ops virtio_mmio__ops = { mmio_read, mmio_write };
