/*
 * Snapshots of virtio devices (src/virtio/snap.c): the transport and queue state saved from a device in one
 * fake guest and loaded into a new device over a copy of its memory, as a restore does; the restored device
 * goes on where the first stopped (buffers the driver offered before the snapshot included); hostile state
 * is refused without touching the device, and never crashes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "snapshot/state.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio_fake.h"

#define F_V1 (1ull << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ull << VIRTIO_F_EVENT_IDX)
#define F_INDIRECT (1ull << VIRTIO_F_INDIRECT_DESC)
#define ALIVE (VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK)

/* Payload offsets of a device without config space (virtio-rng), queue 0. */
enum {
	O_DEVICE_ID = 0,
	O_HOST_FEATURES = 4,
	O_DRIVER_FEATURES = 12,
	O_STATUS = 20,
	O_QUEUE_SEL = 32,
	O_ISR = 40,
	O_CONFIG_GEN = 44,
	O_CONFIG_SIZE = 48,
	O_NQUEUES = 52,
	O_Q_READY = 56,
	O_Q_NUM = 57,
	O_Q_DESC = 59,
	O_Q_AVAIL = 67,
	O_Q_USED = 75,
	O_Q_EVENT_IDX = 83,
	O_Q_LAST_AVAIL = 85,
	O_Q_BROKEN = 92,
	O_OWN_LEN = 93, /* the device type's own state: none for virtio-rng */
	RNG_PAYLOAD = 97,
	RNG_PAYLOAD_V1 = 93,
};
#define V 2 /* the payload version virtio_snap__ops writes */

static void save(struct virtio_dev *d, struct snap_writer *w)
{
	char err[256] = "";
	snap_w__init(w);
	assert_int_equal(virtio_snap__ops.save(d, w, err, sizeof(err)), 0);
	assert_false(w->oom);
}

static int load(struct virtio_dev *d, const void *buf, size_t len, uint32_t version, char *err, size_t n)
{
	struct snap_reader r;
	snap_r__init(&r, buf, len);
	err[0] = 0;
	return virtio_snap__ops.load(d, version, &r, err, n);
}

/* The restore's memory file: the new guest's RAM starts as a copy of the old one's. */
static struct fake_guest *clone_guest(const struct fake_guest *g)
{
	struct fake_guest *c = fake_guest__new();
	memcpy(c->bus.ram, g->bus.ram, G_SIZE);
	memcpy(c->avail_idx, g->avail_idx, sizeof(c->avail_idx));
	c->num = g->num;
	return c;
}

/* A buffer of `len` device-writable bytes at descriptor `i`, offered on queue 0. */
static void offer_rng(struct fake_guest *g, uint16_t i, uint32_t len)
{
	put_desc(g, G_DESC(0), i, G_BUF + 0x1000ull * i, len, VIRTQ_DESC_F_WRITE, 0);
	offer(g, 0, i);
}

static void test_register(void **state)
{
	(void)state;
	assert_int_equal(virtio_snap__register(), 0);
	assert_int_equal(virtio_snap__register(), 0); /* idempotent */
	assert_string_equal(virtio_snap__ops.kind, "virtio-mmio");
	assert_ptr_equal(virtio_snap__ops.mmio, &virtio_mmio__ops);
}

static void test_rng_round_trip(void **state)
{
	(void)state;
	struct fake_guest *g1 = fake_guest__new();
	struct virtio_rng *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_int_equal(virtio_rng__init(a, &g1->bus, fake_guest__irq(g1)), 0);
	struct virtio_dev *da = &a->vdev;
	assert_int_equal(drv_init(g1, da, F_V1 | F_EVENT_IDX | F_INDIRECT), ALIVE);
	for (uint16_t i = 0; i < 3; i++) {
		offer_rng(g1, i, 16);
		kick(da, 0);
	}
	assert_int_equal(used_idx(g1, 0), 3);
	assert_true(g1->irq_level);
	wr(da, 0x014, 1);  /* DeviceFeaturesSel */
	wr(da, 0x024, 1);  /* DriverFeaturesSel */
	wr(da, 0x0ac, 7);  /* SHMSel */
	atomic_store(&da->config_gen, 5);
	/* The driver offers a buffer and notifies, but the snapshot is taken before the device sees it. */
	offer_rng(g1, 3, 32);
	wr(da, R_QUEUE_NOTIFY, 0);
	struct snap_writer w;
	save(da, &w);
	assert_int_equal(w.len, RNG_PAYLOAD);

	/* Restore: new memory (a copy), new device in the same slot, then the saved state. */
	struct fake_guest *g2 = clone_guest(g1);
	assert_int_equal(virtio_rng__init(b, &g2->bus, fake_guest__irq(g2)), 0);
	struct virtio_dev *db = &b->vdev;
	char err[256];
	assert_int_equal(load(db, w.buf, w.len, V, err, sizeof(err)), 0);
	assert_int_equal(db->status, ALIVE);
	assert_int_equal(db->driver_features, da->driver_features);
	assert_int_equal(db->dev_feat_sel, 1);
	assert_int_equal(db->drv_feat_sel, 1);
	assert_int_equal(db->shm_sel, 7);
	assert_int_equal(db->queue_sel, da->queue_sel);
	assert_int_equal(db->isr, da->isr);
	assert_int_equal(atomic_load(&db->config_gen), 5);
	assert_true(g2->irq_level); /* interrupt status pending: the line is up again */
	const struct virtq *va = &da->vq[0], *vb = &db->vq[0];
	assert_true(vb->ready);
	assert_int_equal(vb->num, va->num);
	assert_int_equal(vb->desc_gpa, G_DESC(0));
	assert_int_equal(vb->avail_gpa, G_AVAIL(0));
	assert_int_equal(vb->used_gpa, G_USED(0));
	assert_ptr_equal(vb->desc, gptr(g2, G_DESC(0))); /* rings mapped in the new memory */
	assert_ptr_equal(vb->avail, gptr(g2, G_AVAIL(0)));
	assert_ptr_equal(vb->used, gptr(g2, G_USED(0)));
	assert_true(vb->event_idx);
	assert_true(vb->indirect);
	assert_int_equal(vb->last_avail, 3);
	assert_int_equal(vb->used_idx, 3);
	assert_int_equal(vb->signalled_used, va->signalled_used);
	assert_int_equal(vb->signalled_valid, va->signalled_valid);
	assert_false(vb->broken);
	/* Registers read back the same through the window. */
	wr(da, R_QUEUE_SEL, 0);
	wr(db, R_QUEUE_SEL, 0);
	for (uint64_t off = 0; off < 0x100; off += 4)
		if (off != R_ISR)
			assert_int_equal(rd(db, off), rd(da, off));

	/* The buffer offered before the snapshot is served once the I/O thread runs, without a new notify. */
	virtio_dev__process(db);
	assert_int_equal(used_idx(g2, 0), 4);
	assert_int_equal(used_idx(g1, 0), 3); /* the old guest is not touched */
	uint32_t id, len;
	used_elem(g2, 0, 3, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 32);
	/* And it goes on: ack the interrupt, offer and kick as usual. */
	wr(db, R_ACK, VIRTIO_INT_USED);
	assert_false(g2->irq_level);
	offer_rng(g2, 4, 8);
	kick(db, 0);
	assert_int_equal(used_idx(g2, 0), 5);
	assert_int_equal(db->vq[0].last_avail, 5);

	snap_w__free(&w);
	virtio_rng__exit(a);
	virtio_rng__exit(b);
	free(a);
	free(b);
	fake_guest__free(g1);
	fake_guest__free(g2);
}

/* A device the driver is still setting up: registers come back, nothing is mapped or served. */
static void test_rng_mid_setup(void **state)
{
	(void)state;
	struct fake_guest *g1 = fake_guest__new();
	struct virtio_rng a, b;
	assert_int_equal(virtio_rng__init(&a, &g1->bus, fake_guest__irq(g1)), 0);
	wr(&a.vdev, R_STATUS, VIRTIO_S_ACKNOWLEDGE);
	wr(&a.vdev, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(&a.vdev, 0x020, 0x12345678); /* driver features, not accepted yet */
	wr(&a.vdev, R_QUEUE_NUM, 16);
	wr(&a.vdev, 0x080, 0xdead0000); /* a descriptor address not checked until QueueReady */
	struct snap_writer w;
	save(&a.vdev, &w);
	struct fake_guest *g2 = clone_guest(g1);
	assert_int_equal(virtio_rng__init(&b, &g2->bus, fake_guest__irq(g2)), 0);
	char err[256];
	assert_int_equal(load(&b.vdev, w.buf, w.len, V, err, sizeof(err)), 0);
	assert_int_equal(b.vdev.status, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	assert_int_equal(b.vdev.driver_features, 0x12345678);
	assert_false(b.vdev.vq[0].ready);
	assert_int_equal(rd(&b.vdev, R_QUEUE_NUM), 16);
	assert_int_equal(rd(&b.vdev, 0x080), 0xdead0000);
	assert_false(g2->irq_level);
	/* The driver goes on: the features it wrote are still checked at FEATURES_OK, as always. */
	wr(&b.vdev, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	assert_false(rd(&b.vdev, R_STATUS) & VIRTIO_S_FEATURES_OK);
	snap_w__free(&w);
	virtio_rng__exit(&a);
	virtio_rng__exit(&b);
	fake_guest__free(g1);
	fake_guest__free(g2);
}

/* virtio-net: the MAC the guest read is the snapshot's, whatever the clone was given. */
static void test_net_config(void **state)
{
	(void)state;
	struct fake_guest *g1 = fake_guest__new();
	struct virtio_net *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	int sa[2], sb[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sa), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sb), 0);
	static const uint8_t mac_a[6] = { 0x52, 0x54, 0, 0xaa, 0xaa, 0xaa }, mac_b[6] = { 0x52, 0x54, 0, 0xbb, 0xbb, 0xbb };
	assert_int_equal(virtio_net__init(a, &g1->bus, fake_guest__irq(g1), sa[0], mac_a), 0);
	assert_int_equal(drv_init(g1, &a->vdev, F_V1 | (1ull << 5)), ALIVE);
	struct snap_writer w;
	save(&a->vdev, &w);
	struct fake_guest *g2 = clone_guest(g1);
	assert_int_equal(virtio_net__init(b, &g2->bus, fake_guest__irq(g2), sb[0], mac_b), 0);
	char err[256];
	assert_int_equal(load(&b->vdev, w.buf, w.len, V, err, sizeof(err)), 0);
	uint8_t mac[6];
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)virtio_mmio__ops.read(&b->vdev, 0x100 + i, 1);
	assert_memory_equal(mac, mac_a, 6);
	assert_true(b->vdev.vq[0].ready && b->vdev.vq[1].ready);
	/* Transmit works on the restored device, into the clone's own backend. */
	uint8_t *hdr = gptr(g2, G_BUF);
	memset(hdr, 0, 12);
	memcpy(hdr + 12, "frame-after-restore", 19);
	put_desc(g2, G_DESC(1), 0, G_BUF, 12 + 19, 0, 0);
	offer(g2, 1, 0);
	kick(&b->vdev, 1);
	uint8_t got[64];
	assert_int_equal(read(sb[1], got, sizeof(got)), 12 + 19);
	assert_memory_equal(got + 12, "frame-after-restore", 19);
	snap_w__free(&w);
	virtio_net__exit(a);
	virtio_net__exit(b);
	close(sa[1]);
	close(sb[1]);
	free(a);
	free(b);
	fake_guest__free(g1);
	fake_guest__free(g2);
}

static int make_disk(char *path, size_t size, unsigned bytes)
{
	snprintf(path, size, "/tmp/wisp-test-vsnap-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, bytes) < 0)
		return -1;
	close(fd);
	return 0;
}

/* virtio-blk: a clone's drive must have the size the guest knows. */
static void test_blk_size_checked(void **state)
{
	(void)state;
	char p1[64], p2[64], p3[64];
	assert_int_equal(make_disk(p1, sizeof(p1), 64 * 1024), 0);
	assert_int_equal(make_disk(p2, sizeof(p2), 32 * 1024), 0);
	assert_int_equal(make_disk(p3, sizeof(p3), 64 * 1024), 0);
	struct fake_guest *g1 = fake_guest__new();
	struct virtio_blk *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *c = calloc(1, sizeof(*c));
	assert_int_equal(virtio_blk__init(a, &g1->bus, fake_guest__irq(g1), p1, false, NULL), 0);
	assert_int_equal(drv_init(g1, &a->vdev, F_V1), ALIVE);
	struct snap_writer w;
	save(&a->vdev, &w);
	struct fake_guest *g2 = clone_guest(g1);
	char err[256];
	assert_int_equal(virtio_blk__init(b, &g2->bus, fake_guest__irq(g2), p2, false, NULL), 0);
	assert_int_equal(load(&b->vdev, w.buf, w.len, V, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the drive has 64 sectors of 512 bytes, the snapshot's drive had 128"));
	assert_int_equal(b->vdev.status, 0);
	assert_false(b->vdev.vq[0].ready);
	/* A read-only clone of a writable drive: other features, refused. */
	virtio_blk__exit(b);
	assert_int_equal(virtio_blk__init(b, &g2->bus, fake_guest__irq(g2), p3, true, NULL), 0);
	assert_int_equal(load(&b->vdev, w.buf, w.len, V, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "read-only"));
	virtio_blk__exit(b); /* releases its lock on p3 */
	/* The same size: fine, and requests work. */
	assert_int_equal(virtio_blk__init(c, &g2->bus, fake_guest__irq(g2), p3, false, NULL), 0);
	assert_int_equal(load(&c->vdev, w.buf, w.len, V, err, sizeof(err)), 0);
	uint32_t hdr[4] = { 1, 0, 5, 0 }; /* write sector 5 */
	memcpy(gptr(g2, G_BUF), hdr, sizeof(hdr));
	memset(gptr(g2, G_BUF + 0x1000), 0x77, 512);
	put_desc(g2, G_DESC(0), 0, G_BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(g2, G_DESC(0), 1, G_BUF + 0x1000, 512, VIRTQ_DESC_F_NEXT, 2);
	put_desc(g2, G_DESC(0), 2, G_BUF + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(g2, 0, 0);
	kick(&c->vdev, 0);
	assert_int_equal(*(uint8_t *)gptr(g2, G_BUF + 0x2000), 0);
	FILE *f = fopen(p3, "rb");
	uint8_t sector[512];
	assert_int_equal(fseek(f, 5 * 512, SEEK_SET), 0);
	assert_int_equal(fread(sector, 1, 512, f), 512);
	fclose(f);
	assert_int_equal(sector[0], 0x77);
	snap_w__free(&w);
	virtio_blk__exit(a);
	virtio_blk__exit(c);
	free(a);
	free(b);
	free(c);
	unlink(p1);
	unlink(p2);
	unlink(p3);
	fake_guest__free(g1);
	fake_guest__free(g2);
}

/* ---- hostile state ---- */

struct hostile {
	struct fake_guest *g1, *g2;
	struct virtio_rng a, b;
	struct snap_writer w;
};

static int hostile_setup(void **state)
{
	struct hostile *h = calloc(1, sizeof(*h));
	h->g1 = fake_guest__new();
	if (virtio_rng__init(&h->a, &h->g1->bus, fake_guest__irq(h->g1)) < 0 ||
	    drv_init(h->g1, &h->a.vdev, F_V1 | F_EVENT_IDX | F_INDIRECT) != ALIVE)
		return -1;
	offer_rng(h->g1, 0, 16);
	kick(&h->a.vdev, 0);
	offer_rng(h->g1, 1, 16);
	save(&h->a.vdev, &h->w);
	h->g2 = clone_guest(h->g1);
	if (virtio_rng__init(&h->b, &h->g2->bus, fake_guest__irq(h->g2)) < 0)
		return -1;
	*state = h;
	return 0;
}

static int hostile_teardown(void **state)
{
	struct hostile *h = *state;
	snap_w__free(&h->w);
	virtio_rng__exit(&h->a);
	virtio_rng__exit(&h->b);
	fake_guest__free(h->g1);
	fake_guest__free(h->g2);
	free(h);
	return 0;
}

static void put(uint8_t *p, size_t off, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

/* The payload with one field changed must be refused, with `why` in the message, and change nothing. */
static void refused(struct hostile *h, size_t off, uint64_t v, unsigned bytes, const char *why)
{
	uint8_t p[RNG_PAYLOAD];
	assert_int_equal(h->w.len, RNG_PAYLOAD);
	memcpy(p, h->w.buf, sizeof(p));
	put(p, off, v, bytes);
	char err[512];
	assert_int_equal(load(&h->b.vdev, p, sizeof(p), V, err, sizeof(err)), -1);
	if (!strstr(err, why))
		fail_msg("offset %zu = %#llx: '%s' lacks '%s'", off, (unsigned long long)v, err, why);
	assert_int_equal(h->b.vdev.status, 0);
	assert_int_equal(h->b.vdev.driver_features, 0);
	assert_false(h->b.vdev.vq[0].ready);
	assert_int_equal(h->b.vdev.vq[0].num, 64); /* virtio-rng's queue size, untouched */
	assert_false(h->g2->irq_level);
}

static void test_hostile_fields(void **state)
{
	struct hostile *h = *state;
	char err[512];
	/* The unchanged payload loads (into a scratch device: the refusals below need a fresh one). */
	struct virtio_rng *s = calloc(1, sizeof(*s));
	assert_int_equal(virtio_rng__init(s, &h->g2->bus, fake_guest__irq(h->g2)), 0);
	assert_int_equal(load(&s->vdev, h->w.buf, h->w.len, V, err, sizeof(err)), 0);
	assert_true(h->g2->irq_level);
	virtio_rng__exit(s);
	free(s);
	h->g2->irq_level = false;

	assert_int_equal(virtio_snap__ops.version, V);
	assert_int_equal(load(&h->b.vdev, h->w.buf, h->w.len, 3, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version 3 is not supported"));
	/* A version 1 payload (no device-type state) from an older wisp still loads. */
	struct virtio_rng *s1 = calloc(1, sizeof(*s1));
	assert_int_equal(virtio_rng__init(s1, &h->g2->bus, fake_guest__irq(h->g2)), 0);
	assert_int_equal(load(&s1->vdev, h->w.buf, RNG_PAYLOAD_V1, 1, err, sizeof(err)), 0);
	assert_int_equal(s1->vdev.status, ALIVE);
	virtio_rng__exit(s1);
	free(s1);
	h->g2->irq_level = false;
	/* Device-type state for a device type that keeps none is refused. */
	uint8_t own[RNG_PAYLOAD + 4];
	memcpy(own, h->w.buf, RNG_PAYLOAD);
	put(own, O_OWN_LEN, 4, 4);
	memset(own + RNG_PAYLOAD, 0, 4);
	assert_int_equal(load(&h->b.vdev, own, sizeof(own), V, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not know"));
	assert_int_equal(load(&h->b.vdev, h->w.buf, h->w.len - 1, V, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	for (size_t cut = 0; cut < h->w.len; cut++)
		assert_int_equal(load(&h->b.vdev, h->w.buf, cut, V, err, sizeof(err)), -1);
	uint8_t longer[RNG_PAYLOAD + 1];
	memcpy(longer, h->w.buf, RNG_PAYLOAD);
	longer[RNG_PAYLOAD] = 0;
	assert_int_equal(load(&h->b.vdev, longer, sizeof(longer), V, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "oversized"));

	refused(h, O_DEVICE_ID, VIRTIO_ID_BLOCK, 4, "device type 2");
	refused(h, O_HOST_FEATURES, F_V1, 8, "offers features");
	refused(h, O_STATUS, ALIVE | 0x10, 4, "unknown device status bits");
	refused(h, O_STATUS, VIRTIO_S_DRIVER_OK | VIRTIO_S_DRIVER, 4, "DRIVER_OK without FEATURES_OK");
	refused(h, O_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_FEATURES_OK, 4, "FEATURES_OK with features");
	refused(h, O_DRIVER_FEATURES, F_V1 | (1ull << 40), 8, "FEATURES_OK with features");
	refused(h, O_DRIVER_FEATURES, F_EVENT_IDX, 8, "FEATURES_OK with features"); /* no VERSION_1 */
	refused(h, O_ISR, 4, 4, "unknown interrupt status bits");
	refused(h, O_CONFIG_SIZE, 8, 4, "config space of 8 bytes");
	refused(h, O_NQUEUES, 2, 4, "number of queues");
	refused(h, O_Q_READY, 2, 1, "queue 0 flags");
	refused(h, O_Q_BROKEN, 7, 1, "queue 0 flags");
	refused(h, O_Q_EVENT_IDX, 0, 1, "without the features");
	refused(h, O_Q_NUM, 128, 2, "size 128 (at most 64)"); /* beyond the device's maximum */
	refused(h, O_Q_NUM, 6, 2, "size 6");                  /* not a power of two */
	refused(h, O_Q_NUM, 0, 2, "size 0");
	refused(h, O_Q_DESC, 0, 8, "not valid in this machine's RAM");                /* not RAM */
	refused(h, O_Q_DESC, G_BASE + G_SIZE - 64, 8, "not valid");                  /* runs past the end */
	refused(h, O_Q_DESC, G_DESC(0) + 8, 8, "not valid");                          /* misaligned */
	refused(h, O_Q_AVAIL, G_BASE + G_SIZE - 4, 8, "not valid");
	refused(h, O_Q_AVAIL, G_AVAIL(0) + 1, 8, "not valid");
	refused(h, O_Q_USED, G_USED(0) + 2, 8, "not valid");
	refused(h, O_Q_USED, ~0ull - 3, 8, "not valid");                              /* wraps */
	refused(h, O_OWN_LEN, 5, 4, "device state of 5 bytes");                     /* past the end */
	refused(h, O_OWN_LEN, 1u << 20, 4, "device state of 1048576 bytes");
}

/*
 * Every byte of the payload changed in a few ways: load either refuses or gives a device that survives the
 * guest's use (the queue is served, the guest's rings stay checked).
 */
static void test_hostile_bytes(void **state)
{
	struct hostile *h = *state;
	static const uint8_t flips[] = { 0x01, 0x02, 0x10, 0x80, 0xff };
	unsigned loaded = 0;
	for (size_t off = 0; off < h->w.len; off++)
		for (size_t k = 0; k < sizeof(flips); k++) {
			uint8_t p[RNG_PAYLOAD];
			memcpy(p, h->w.buf, sizeof(p));
			p[off] ^= flips[k];
			struct fake_guest *g = clone_guest(h->g1);
			struct virtio_rng *d = calloc(1, sizeof(*d));
			assert_int_equal(virtio_rng__init(d, &g->bus, fake_guest__irq(g)), 0);
			char err[512];
			if (load(&d->vdev, p, sizeof(p), V, err, sizeof(err)) == 0) {
				loaded++;
				virtio_dev__process(&d->vdev);
				offer_rng(g, 2, 64);
				kick(&d->vdev, 0);
				wr(&d->vdev, R_ACK, 3);
				for (uint64_t r = 0; r < 0x100; r += 4)
					rd(&d->vdev, r);
				wr(&d->vdev, R_STATUS, 0); /* reset */
			} else {
				assert_int_not_equal(err[0], 0);
			}
			virtio_rng__exit(d);
			free(d);
			fake_guest__free(g);
		}
	assert_true(loaded > 0); /* selectors, indices, config generation: any value is a state */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_rng_round_trip),
		cmocka_unit_test(test_rng_mid_setup),
		cmocka_unit_test(test_net_config),
		cmocka_unit_test(test_blk_size_checked),
		cmocka_unit_test_setup_teardown(test_hostile_fields, hostile_setup, hostile_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_bytes, hostile_setup, hostile_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
