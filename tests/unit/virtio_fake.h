/*
 * Fake guest memory and a minimal virtio driver for the virtio unit tests: RAM at 0x80000000, rings and buffers
 * at fixed guest addresses, register accesses through the device's mmio_ops, and an interrupt line that counts.
 */
#ifndef WISP_TESTS_VIRTIO_FAKE_H
#define WISP_TESTS_VIRTIO_FAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio.h"

#define G_BASE 0x80000000ull
#define G_SIZE (1ull << 20)
#define G_PAGES (G_SIZE >> PAGE_SHIFT)
/* Queue q: descriptors, driver ring, device ring. */
#define G_DESC(q) (G_BASE + 0x10000ull * (q))
#define G_AVAIL(q) (G_DESC(q) + 0x4000)
#define G_USED(q) (G_DESC(q) + 0x8000)
#define G_BUF (G_BASE + 0x80000ull) /* data buffers from here on */

#define R_STATUS 0x070
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_ISR 0x060
#define R_ACK 0x064

struct fake_guest {
	struct rv_bus bus;
	_Atomic uint64_t dirty[(G_PAGES + 63) / 64];
	bool irq_level;
	unsigned irq_raises;
	uint16_t avail_idx[VIRTIO_MAX_QUEUES];
	uint16_t num;
};

static inline void fake_irq_set(void *ctl, unsigned irq, bool level)
{
	struct fake_guest *g = ctl;
	(void)irq;
	if (level && !g->irq_level)
		g->irq_raises++;
	g->irq_level = level;
}

static inline struct fake_guest *fake_guest__new(void)
{
	struct fake_guest *g = calloc(1, sizeof(*g));
	g->bus.ram = calloc(1, G_SIZE);
	g->bus.ram_base = G_BASE;
	g->bus.ram_size = G_SIZE;
	g->bus.dirty = g->dirty;
	g->num = 8;
	return g;
}

static inline void fake_guest__free(struct fake_guest *g)
{
	free(g->bus.ram);
	free(g);
}

static inline struct irq_line fake_guest__irq(struct fake_guest *g)
{
	return (struct irq_line){ fake_irq_set, g, 1 };
}

static inline void *gptr(struct fake_guest *g, uint64_t gpa)
{
	return g->bus.ram + (gpa - G_BASE);
}

static inline bool page_dirty(struct fake_guest *g, uint64_t gpa)
{
	uint64_t p = (gpa - G_BASE) >> PAGE_SHIFT;
	return (g->dirty[p / 64] >> (p % 64)) & 1;
}

/* ---- Rings, as a driver writes them ---- */

static inline void put_desc(struct fake_guest *g, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
			    uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };
	memcpy(gptr(g, table + 16ull * i), &d, sizeof(d));
}

static inline uint16_t *avail_ring(struct fake_guest *g, unsigned q)
{
	return gptr(g, G_AVAIL(q));
}

/* Offer descriptor `head` on queue q. */
static inline void offer(struct fake_guest *g, unsigned q, uint16_t head)
{
	uint16_t *a = avail_ring(g, q);
	a[2 + g->avail_idx[q] % g->num] = head;
	a[1] = ++g->avail_idx[q];
}

static inline uint16_t used_idx(struct fake_guest *g, unsigned q)
{
	return ((uint16_t *)gptr(g, G_USED(q)))[1];
}

/* Used element i of queue q: id and len. */
static inline void used_elem(struct fake_guest *g, unsigned q, unsigned i, uint32_t *id, uint32_t *len)
{
	uint32_t e[2];
	memcpy(e, (uint8_t *)gptr(g, G_USED(q)) + 4 + 8 * (i % g->num), sizeof(e));
	*id = e[0];
	*len = e[1];
}

/* ---- Registers ---- */

static inline uint32_t rd(struct virtio_dev *d, uint64_t off)
{
	return (uint32_t)virtio_mmio__ops.read(d, off, 4);
}

static inline void wr(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio__ops.write(d, off, 4, v);
}

static inline void setup_queue(struct fake_guest *g, struct virtio_dev *d, unsigned q)
{
	wr(d, R_QUEUE_SEL, q);
	wr(d, R_QUEUE_NUM, g->num);
	wr(d, 0x080, (uint32_t)G_DESC(q));
	wr(d, 0x084, (uint32_t)(G_DESC(q) >> 32));
	wr(d, 0x090, (uint32_t)G_AVAIL(q));
	wr(d, 0x094, (uint32_t)(G_AVAIL(q) >> 32));
	wr(d, 0x0a0, (uint32_t)G_USED(q));
	wr(d, 0x0a4, (uint32_t)(G_USED(q) >> 32));
	wr(d, R_QUEUE_READY, 1);
}

/* Driver initialisation (3.1.1) accepting `features`; returns the status read back at the end. */
static inline uint32_t drv_init(struct fake_guest *g, struct virtio_dev *d, uint64_t features)
{
	wr(d, R_STATUS, 0);
	memset(g->avail_idx, 0, sizeof(g->avail_idx));
	for (unsigned q = 0; q < d->nqueues; q++) {
		memset(gptr(g, G_AVAIL(q)), 0, 0x1000);
		memset(gptr(g, G_USED(q)), 0, 0x1000);
	}
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE);
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(d, 0x024, 0);
	wr(d, 0x020, (uint32_t)features);
	wr(d, 0x024, 1);
	wr(d, 0x020, (uint32_t)(features >> 32));
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	if (!(rd(d, R_STATUS) & VIRTIO_S_FEATURES_OK))
		return rd(d, R_STATUS);
	for (unsigned q = 0; q < d->nqueues; q++)
		setup_queue(g, d, q);
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
	return rd(d, R_STATUS);
}

/* QueueNotify, then run the I/O thread's work synchronously. */
static inline void kick(struct virtio_dev *d, unsigned q)
{
	wr(d, R_QUEUE_NOTIFY, q);
	virtio_dev__process(d);
}

#endif
