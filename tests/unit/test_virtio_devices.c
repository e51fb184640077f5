/*
 * The virtio-mmio transport and each device (blk, rng, net, console) driven through their registers and a fake
 * guest memory, with well-formed and hostile requests. The I/O thread's work runs synchronously (kick()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio_fake.h"

#define F_V1 (1ull << VIRTIO_F_VERSION_1)
#define ALIVE (VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK)
#define DISK_BYTES (64 * 1024)

/* ---- Transport, on a virtio-rng ---- */

struct rng_fix {
	struct fake_guest *g;
	struct virtio_rng rng;
};

static int rng_setup(void **state)
{
	struct rng_fix *f = calloc(1, sizeof(*f));
	f->g = fake_guest__new();
	if (virtio_rng__init(&f->rng, &f->g->bus, fake_guest__irq(f->g)) < 0)
		return -1;
	*state = f;
	return 0;
}

static int rng_teardown(void **state)
{
	struct rng_fix *f = *state;
	virtio_rng__exit(&f->rng);
	fake_guest__free(f->g);
	free(f);
	return 0;
}

static void test_identity(void **state)
{
	struct rng_fix *f = *state;
	struct virtio_dev *d = &f->rng.vdev;
	assert_int_equal(rd(d, 0x000), 0x74726976);
	assert_int_equal(rd(d, 0x004), 2);
	assert_int_equal(rd(d, 0x008), VIRTIO_ID_RNG);
	wr(d, 0x014, 1);
	assert_true(rd(d, 0x010) & 1); /* VERSION_1 in the high word */
	wr(d, 0x014, 0);
	assert_true(rd(d, 0x010) & (1u << VIRTIO_F_EVENT_IDX));
	assert_int_equal(rd(d, 0x0b0), 0xffffffff); /* no shared memory */
	assert_int_equal((uint32_t)virtio_mmio__ops.read(d, 0x070, 2), 0); /* narrow accesses read 0 */
}

static void test_features_need_version_1(void **state)
{
	struct rng_fix *f = *state;
	struct virtio_dev *d = &f->rng.vdev;
	assert_false(drv_init(f->g, d, 0) & VIRTIO_S_FEATURES_OK); /* legacy driver refused */
	assert_false(drv_init(f->g, d, F_V1 | (1ull << 40)) & VIRTIO_S_FEATURES_OK); /* not offered */
	assert_int_equal(drv_init(f->g, d, F_V1), ALIVE);
}

static void test_driver_ok_needs_features_ok(void **state)
{
	struct rng_fix *f = *state;
	struct virtio_dev *d = &f->rng.vdev;
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_DRIVER_OK);
	assert_false(rd(d, R_STATUS) & VIRTIO_S_DRIVER_OK);
}

/* Offer one writable buffer of len bytes at G_BUF on queue 0 with head `head`. */
static void offer_in(struct fake_guest *g, uint16_t head, uint32_t len)
{
	put_desc(g, G_DESC(0), head, G_BUF, len, VIRTQ_DESC_F_WRITE, 0);
	offer(g, 0, head);
}

static void test_rng_fills(void **state)
{
	struct rng_fix *f = *state;
	struct virtio_dev *d = &f->rng.vdev;
	assert_int_equal(drv_init(f->g, d, F_V1), ALIVE);
	offer_in(f->g, 0, 100);
	kick(d, 0);
	uint32_t id, len;
	assert_int_equal(used_idx(f->g, 0), 1);
	used_elem(f->g, 0, 0, &id, &len);
	assert_int_equal(len, 100);
	uint8_t zero[100] = { 0 };
	assert_memory_not_equal(gptr(f->g, G_BUF), zero, 100);
	assert_true(f->g->irq_level);
	assert_int_equal(rd(d, R_ISR), VIRTIO_INT_USED);
	wr(d, R_ACK, VIRTIO_INT_USED);
	assert_false(f->g->irq_level);
	assert_int_equal(virtio_rng__stats(&f->rng).bytes, 100);
}

static void test_rng_huge_request_capped(void **state)
{
	struct rng_fix *f = *state;
	struct virtio_dev *d = &f->rng.vdev;
	assert_int_equal(drv_init(f->g, d, F_V1), ALIVE);
	offer_in(f->g, 0, 256 * 1024);
	kick(d, 0);
	uint32_t id, len;
	used_elem(f->g, 0, 0, &id, &len);
	assert_int_equal(len, 65536);
}

static void test_rng_readonly_buffer(void **state)
{
	struct rng_fix *f = *state;
	struct virtio_dev *d = &f->rng.vdev;
	assert_int_equal(drv_init(f->g, d, F_V1), ALIVE);
	put_desc(f->g, G_DESC(0), 0, G_BUF, 64, 0, 0); /* wrong direction: the device may not write it */
	memset(gptr(f->g, G_BUF), 0xaa, 64);
	offer(f->g, 0, 0);
	kick(d, 0);
	uint32_t id, len;
	used_elem(f->g, 0, 0, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(*(uint8_t *)gptr(f->g, G_BUF + 63), 0xaa);
	assert_int_equal(virtio_rng__stats(&f->rng).errors, 1);
}

static void test_malformed_queue_needs_reset(void **state)
{
	struct rng_fix *f = *state;
	struct virtio_dev *d = &f->rng.vdev;
	assert_int_equal(drv_init(f->g, d, F_V1), ALIVE);
	put_desc(f->g, G_DESC(0), 0, G_BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0); /* loops on itself */
	offer(f->g, 0, 0);
	kick(d, 0);
	assert_true(rd(d, R_STATUS) & VIRTIO_S_NEEDS_RESET);
	assert_true(rd(d, R_ISR) & VIRTIO_INT_CONFIG);
	assert_int_equal(used_idx(f->g, 0), 0);
	/* Further kicks do nothing until the driver resets. */
	offer_in(f->g, 1, 16);
	kick(d, 0);
	assert_int_equal(used_idx(f->g, 0), 0);
	assert_int_equal(virtio_dev__stats(d).queue_errors, 1);
	/* Reset: interrupt dropped, everything works again. */
	wr(d, R_STATUS, 0);
	assert_int_equal(rd(d, R_STATUS), 0);
	assert_int_equal(rd(d, R_ISR), 0);
	assert_false(f->g->irq_level);
	assert_int_equal(drv_init(f->g, d, F_V1), ALIVE);
	offer_in(f->g, 2, 16);
	kick(d, 0);
	assert_int_equal(used_idx(f->g, 0), 1);
}

static void test_bad_ring_address(void **state)
{
	struct rng_fix *f = *state;
	struct virtio_dev *d = &f->rng.vdev;
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(d, 0x024, 1);
	wr(d, 0x020, 1);
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	wr(d, R_QUEUE_SEL, 0);
	wr(d, R_QUEUE_NUM, 8);
	wr(d, 0x080, 0x1000); /* not RAM */
	wr(d, R_QUEUE_READY, 1);
	assert_int_equal(rd(d, R_QUEUE_READY), 0);
	assert_true(rd(d, R_STATUS) & VIRTIO_S_NEEDS_RESET);
	/* A queue that does not exist reads as absent and ignores writes. */
	wr(d, R_QUEUE_SEL, 3);
	assert_int_equal(rd(d, 0x034), 0);
	wr(d, R_QUEUE_READY, 1);
	assert_int_equal(rd(d, R_QUEUE_READY), 0);
	wr(d, R_QUEUE_NOTIFY, 77); /* ignored */
	virtio_dev__process(d);
}

static void test_no_processing_before_driver_ok(void **state)
{
	struct rng_fix *f = *state;
	struct virtio_dev *d = &f->rng.vdev;
	assert_int_equal(drv_init(f->g, d, F_V1), ALIVE);
	wr(d, R_STATUS, 0);
	offer_in(f->g, 0, 16);
	kick(d, 0);
	assert_int_equal(used_idx(f->g, 0), 0);
}

/* ---- virtio-blk ---- */

struct blk_fix {
	struct fake_guest *g;
	struct virtio_blk blk;
	char path[64];
};

static int blk_open(void **state, bool ro, bool async)
{
	struct blk_fix *f = calloc(1, sizeof(*f));
	f->g = fake_guest__new();
	snprintf(f->path, sizeof(f->path), "/tmp/wisp-test-blk-XXXXXX");
	int fd = mkstemp(f->path);
	uint8_t sector[512];
	for (unsigned s = 0; s < DISK_BYTES / 512; s++) {
		memset(sector, (int)s, sizeof(sector));
		if (write(fd, sector, sizeof(sector)) != sizeof(sector))
			return -1;
	}
	close(fd);
	if (virtio_blk__init(&f->blk, &f->g->bus, fake_guest__irq(f->g), f->path, ro, "test-disk-id") < 0)
		return -1;
	if (async && virtio_blk__use_async(&f->blk) < 0)
		return -1;
	if (drv_init(f->g, &f->blk.vdev, F_V1 | (1ull << VIRTIO_F_INDIRECT_DESC)) != ALIVE)
		return -1;
	*state = f;
	return 0;
}

static int blk_setup(void **state)
{
	return blk_open(state, false, false);
}

static int blk_setup_async(void **state)
{
	return blk_open(state, false, true);
}

static int blk_setup_ro(void **state)
{
	return blk_open(state, true, false);
}

static int blk_teardown(void **state)
{
	struct blk_fix *f = *state;
	virtio_blk__exit(&f->blk);
	unlink(f->path);
	fake_guest__free(f->g);
	free(f);
	return 0;
}

#define HDR (G_BUF)
#define DATA (G_BUF + 0x1000)
#define STATUS (G_BUF + 0x8000)

/* A request: header, `len` data bytes (device-writable for reads), status byte. Returns the status. */
static uint8_t blk_req(struct blk_fix *f, uint32_t type, uint64_t sector, uint32_t len, uint32_t *used_len)
{
	struct virtio_dev *d = &f->blk.vdev;
	uint32_t hdr[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };
	memcpy(gptr(f->g, HDR), hdr, sizeof(hdr));
	*(uint8_t *)gptr(f->g, STATUS) = 0xff;
	bool in = type != 1;
	put_desc(f->g, G_DESC(0), 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_DESC(0), 1, DATA, len, VIRTQ_DESC_F_NEXT | (in ? VIRTQ_DESC_F_WRITE : 0), 2);
	put_desc(f->g, G_DESC(0), 2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	uint16_t before = used_idx(f->g, 0);
	offer(f->g, 0, 0);
	kick(d, 0);
	if (f->blk.aio)
		virtio_blk__async_wait(&f->blk);
	assert_int_equal(used_idx(f->g, 0), (uint16_t)(before + 1));
	uint32_t id;
	used_elem(f->g, 0, before, &id, used_len);
	assert_int_equal(id, 0);
	return *(uint8_t *)gptr(f->g, STATUS);
}

static void test_blk_config(void **state)
{
	struct blk_fix *f = *state;
	uint64_t cap = virtio_mmio__ops.read(&f->blk.vdev, 0x100, 8);
	assert_int_equal(cap, DISK_BYTES / 512);
	assert_false(rd(&f->blk.vdev, 0x010) & (1u << 5)); /* not read-only */
	assert_int_equal(virtio_mmio__ops.read(&f->blk.vdev, 0x100 + 1000, 4), 0); /* past the config space */
}

static void test_blk_read(void **state)
{
	struct blk_fix *f = *state;
	uint32_t used;
	assert_int_equal(blk_req(f, 0, 3, 1024, &used), 0);
	assert_int_equal(used, 1025);
	assert_int_equal(*(uint8_t *)gptr(f->g, DATA), 3);
	assert_int_equal(*(uint8_t *)gptr(f->g, DATA + 1023), 4);
	assert_true(page_dirty(f->g, DATA));
	assert_int_equal(virtio_blk__stats(&f->blk).read_bytes, 1024);
}

static void test_blk_write_then_read(void **state)
{
	struct blk_fix *f = *state;
	uint32_t used;
	memset(gptr(f->g, DATA), 0x5a, 512);
	assert_int_equal(blk_req(f, 1, 7, 512, &used), 0);
	assert_int_equal(used, 1);
	assert_int_equal(blk_req(f, 4, 0, 0, &used), 0); /* flush */
	memset(gptr(f->g, DATA), 0, 512);
	assert_int_equal(blk_req(f, 0, 7, 512, &used), 0);
	assert_int_equal(*(uint8_t *)gptr(f->g, DATA + 100), 0x5a);
	int fd = open(f->path, O_RDONLY);
	uint8_t b = 0;
	assert_int_equal(pread(fd, &b, 1, 7 * 512 + 5), 1);
	close(fd);
	assert_int_equal(b, 0x5a);
}

static void test_blk_out_of_range(void **state)
{
	struct blk_fix *f = *state;
	uint32_t used;
	assert_int_equal(blk_req(f, 0, DISK_BYTES / 512 - 1, 1024, &used), 1); /* runs past the end */
	assert_int_equal(used, 1);
	assert_int_equal(blk_req(f, 0, ~0ull, 512, &used), 1); /* sector * 512 overflows */
	assert_int_equal(blk_req(f, 1, ~0ull / 512 + 1, 512, &used), 1);
	assert_int_equal(blk_req(f, 0, 0, 100, &used), 1); /* not a whole sector */
	assert_int_equal(virtio_blk__stats(&f->blk).errors, 4);
}

static void test_blk_get_id_and_unsupported(void **state)
{
	struct blk_fix *f = *state;
	uint32_t used;
	assert_int_equal(blk_req(f, 8, 0, 20, &used), 0);
	assert_int_equal(used, 21);
	assert_memory_equal(gptr(f->g, DATA), "test-disk-id", 12);
	assert_int_equal(blk_req(f, 8, 0, 4, &used), 0); /* short buffer: truncated id */
	assert_int_equal(used, 5);
	assert_int_equal(blk_req(f, 99, 0, 512, &used), 2);
}

static void test_blk_short_header(void **state)
{
	struct blk_fix *f = *state;
	struct virtio_dev *d = &f->blk.vdev;
	put_desc(f->g, G_DESC(0), 0, HDR, 8, VIRTQ_DESC_F_NEXT, 1); /* half a header */
	put_desc(f->g, G_DESC(0), 1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	*(uint8_t *)gptr(f->g, STATUS) = 0xff;
	offer(f->g, 0, 0);
	kick(d, 0);
	assert_int_equal(used_idx(f->g, 0), 1);
	assert_int_equal(*(uint8_t *)gptr(f->g, STATUS), 0xff); /* nothing sensible to say */
	assert_int_equal(virtio_blk__stats(&f->blk).errors, 1);
	assert_false(rd(d, R_STATUS) & VIRTIO_S_NEEDS_RESET); /* the request failed, not the queue */
}

static void test_blk_no_status_byte(void **state)
{
	struct blk_fix *f = *state;
	struct virtio_dev *d = &f->blk.vdev;
	put_desc(f->g, G_DESC(0), 0, HDR, 16, 0, 0); /* a read with nowhere to put anything */
	memset(gptr(f->g, HDR), 0, 16);
	offer(f->g, 0, 0);
	kick(d, 0);
	uint32_t id, len;
	used_elem(f->g, 0, 0, &id, &len);
	assert_int_equal(len, 0);
}

static void test_blk_indirect_scatter(void **state)
{
	struct blk_fix *f = *state;
	struct virtio_dev *d = &f->blk.vdev;
	uint64_t table = G_BUF + 0x20000;
	uint32_t hdr[4] = { 0, 0, 2, 0 };
	memcpy(gptr(f->g, HDR), hdr, sizeof(hdr));
	put_desc(f->g, table, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, table, 1, DATA, 300, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	put_desc(f->g, table, 2, DATA + 0x2000, 724, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	put_desc(f->g, table, 3, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	put_desc(f->g, G_DESC(0), 5, table, 4 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f->g, 0, 5);
	kick(d, 0);
	if (f->blk.aio)
		virtio_blk__async_wait(&f->blk);
	assert_int_equal(*(uint8_t *)gptr(f->g, STATUS), 0);
	assert_int_equal(*(uint8_t *)gptr(f->g, DATA + 299), 2);
	assert_int_equal(*(uint8_t *)gptr(f->g, DATA + 0x2000 + 211), 2); /* byte 511 of sector 2 */
	assert_int_equal(*(uint8_t *)gptr(f->g, DATA + 0x2000 + 212), 3);
}

static void test_blk_read_only(void **state)
{
	struct blk_fix *f = *state;
	uint32_t used;
	assert_true(rd(&f->blk.vdev, 0x010) & (1u << 5)); /* VIRTIO_BLK_F_RO */
	memset(gptr(f->g, DATA), 0x77, 512);
	assert_int_equal(blk_req(f, 1, 0, 512, &used), 1); /* VIRTIO_BLK_S_IOERR */
	assert_int_equal(blk_req(f, 0, 0, 512, &used), 0); /* reads still work */
	assert_int_equal(*(uint8_t *)gptr(f->g, DATA), 0);
	assert_int_equal(blk_req(f, 4, 0, 0, &used), 0);
}

/* An operations limit of one request an hour: the second request waits (no completion) until the limit is
 * lifted, and then completes without a new kick from the driver. */
static void test_blk_rate_limited(void **state)
{
	struct blk_fix *f = *state;
	struct virtio_dev *d = &f->blk.vdev;
	struct ratelimit_update u = { TBUCKET_KEEP, TBUCKET_SET, { .ops = { 1, 0, 3600000 } } };
	virtio_blk__update_limiter(&f->blk, &u);
	uint32_t used;
	assert_int_equal(blk_req(f, 0, 1, 512, &used), 0);
	uint32_t hdr[4] = { 0, 0, 2, 0 };
	memcpy(gptr(f->g, HDR), hdr, sizeof(hdr));
	put_desc(f->g, G_DESC(0), 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_DESC(0), 1, DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	put_desc(f->g, G_DESC(0), 2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f->g, 0, 0);
	kick(d, 0);
	assert_int_equal(used_idx(f->g, 0), 1); /* parked */
	kick(d, 0);
	assert_int_equal(used_idx(f->g, 0), 1);
	assert_int_equal(virtio_blk__stats(&f->blk).throttled, 1);
	assert_int_equal(virtio_blk__stats(&f->blk).reads, 1);
	u = (struct ratelimit_update){ TBUCKET_KEEP, TBUCKET_OFF, { { 0 }, { 0 } } };
	virtio_blk__update_limiter(&f->blk, &u);
	virtio_dev__process(d); /* the update kicked the queue */
	if (f->blk.aio)
		virtio_blk__async_wait(&f->blk);
	assert_int_equal(used_idx(f->g, 0), 2);
	assert_int_equal(*(uint8_t *)gptr(f->g, DATA), 2);
}

/* A new backing file: the capacity changes with a config interrupt; a file that cannot be opened changes nothing. */
static void test_blk_set_backing(void **state)
{
	struct blk_fix *f = *state;
	struct virtio_dev *d = &f->blk.vdev;
	char path[64] = "/tmp/wisp-test-blk2-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * DISK_BYTES), 0);
	assert_int_equal(pwrite(fd, "\x42", 1, 512), 1);
	close(fd);
	char err[256];
	uint32_t gen = virtio_mmio__ops.read(d, 0x0fc, 4);
	wr(d, R_ACK, rd(d, R_ISR));
	assert_int_equal(virtio_blk__set_backing(&f->blk, "/nonexistent/disk", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/disk"));
	assert_int_equal(virtio_mmio__ops.read(d, 0x100, 8), DISK_BYTES / 512);
	assert_int_equal(virtio_blk__set_backing(&f->blk, path, err, sizeof(err)), 0);
	assert_int_equal(virtio_mmio__ops.read(d, 0x100, 8), 4 * DISK_BYTES / 512);
	assert_true(rd(d, R_ISR) & VIRTIO_INT_CONFIG);
	assert_int_not_equal(virtio_mmio__ops.read(d, 0x0fc, 4), gen);
	uint32_t used;
	assert_int_equal(blk_req(f, 0, 1, 512, &used), 0); /* reads come from the new file */
	assert_int_equal(*(uint8_t *)gptr(f->g, DATA), 0x42);
	assert_int_equal(blk_req(f, 0, 4 * DISK_BYTES / 512 - 1, 512, &used), 0); /* the new end is in range */
	unlink(path);
}

/* Async: many requests in flight at once (each its own chain), all answered, each with its own data. */
static void test_blk_async_many(void **state)
{
	struct blk_fix *f = *state;
	struct virtio_dev *d = &f->blk.vdev;
	enum { N = 8 }; /* the whole queue, each an indirect table of three */
	for (unsigned i = 0; i < N; i++) {
		uint64_t hdr = HDR + 16 * i, data = DATA + 512 * i, st = STATUS + i, table = G_BUF + 0x20000 + 64 * i;
		uint32_t h[4] = { 0, 0, i * 3 % (DISK_BYTES / 512), 0 };
		memcpy(gptr(f->g, hdr), h, sizeof(h));
		*(uint8_t *)gptr(f->g, st) = 0xff;
		put_desc(f->g, table, 0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
		put_desc(f->g, table, 1, data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
		put_desc(f->g, table, 2, st, 1, VIRTQ_DESC_F_WRITE, 0);
		put_desc(f->g, G_DESC(0), i, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
		offer(f->g, 0, (uint16_t)i);
	}
	kick(d, 0);
	virtio_blk__async_wait(&f->blk);
	assert_int_equal(used_idx(f->g, 0), N);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(*(uint8_t *)gptr(f->g, STATUS + i), 0);
		assert_int_equal(*(uint8_t *)gptr(f->g, DATA + 512 * i + 100), i * 3 % (DISK_BYTES / 512));
	}
	assert_int_equal(virtio_blk__stats(&f->blk).reads, N);
}

/* Async: a write, a flush, then a kill -9 of nothing: the data is in the file, read back through the ring. */
static void test_blk_async_write_flush(void **state)
{
	struct blk_fix *f = *state;
	uint32_t used;
	memset(gptr(f->g, DATA), 0x6b, 1024);
	assert_int_equal(blk_req(f, 1, 9, 1024, &used), 0);
	assert_int_equal(used, 1);
	assert_int_equal(blk_req(f, 4, 0, 0, &used), 0);
	assert_int_equal(virtio_blk__stats(&f->blk).flushes, 1);
	int fd = open(f->path, O_RDONLY);
	uint8_t b = 0;
	assert_int_equal(pread(fd, &b, 1, 10 * 512 + 7), 1);
	close(fd);
	assert_int_equal(b, 0x6b);
	assert_int_equal(blk_req(f, 0, DISK_BYTES / 512 - 1, 1024, &used), 1); /* out of range: refused at once */
	assert_int_equal(blk_req(f, 8, 0, 20, &used), 0);			    /* GET_ID answered at once */
	assert_memory_equal(gptr(f->g, DATA), "test-disk-id", 12);
}

/* Async: a device reset with requests in flight: they complete into nothing, the queue starts afresh. */
static void test_blk_async_reset_in_flight(void **state)
{
	struct blk_fix *f = *state;
	struct virtio_dev *d = &f->blk.vdev;
	uint32_t h[4] = { 0, 0, 1, 0 };
	memcpy(gptr(f->g, HDR), h, sizeof(h));
	put_desc(f->g, G_DESC(0), 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_DESC(0), 1, DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	put_desc(f->g, G_DESC(0), 2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f->g, 0, 0);
	wr(d, R_QUEUE_NOTIFY, 0);
	virtio_dev__process(d);
	wr(d, R_STATUS, 0); /* reset before the completion is reaped */
	virtio_blk__async_wait(&f->blk);
	assert_int_equal(used_idx(f->g, 0), 0);
	assert_int_equal(virtio_blk__stats(&f->blk).reads, 0);
}

/* ---- virtio-net over a socketpair (one frame per message, like a TAP fd) ---- */

struct net_fix {
	struct fake_guest *g;
	struct virtio_net net;
	int peer;
};

#define NET_OFFLOADS ((1ull << 0) | (1ull << 1) | (1ull << 7) | (1ull << 11) | (1ull << 15))

static int net_open(void **state, bool offloads);

static int net_setup_offloads(void **state)
{
	return net_open(state, true);
}

static int net_setup(void **state)
{
	return net_open(state, false);
}

static int net_open(void **state, bool offloads)
{
	struct net_fix *f = calloc(1, sizeof(*f));
	int sv[2];
	f->g = fake_guest__new();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return -1;
	f->peer = sv[1];
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 1, 2, 3 };
	if (virtio_net__init(&f->net, &f->g->bus, fake_guest__irq(f->g), sv[0], mac) < 0)
		return -1;
	if (offloads)
		virtio_net__enable_offloads(&f->net);
	if (drv_init(f->g, &f->net.vdev, F_V1 | (1ull << 5) | (offloads ? NET_OFFLOADS : 0)) != ALIVE)
		return -1;
	*state = f;
	return 0;
}

static int net_teardown(void **state)
{
	struct net_fix *f = *state;
	virtio_net__exit(&f->net);
	close(f->peer);
	fake_guest__free(f->g);
	free(f);
	return 0;
}

static void test_net_config(void **state)
{
	struct net_fix *f = *state;
	uint8_t mac[6];
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)virtio_mmio__ops.read(&f->net.vdev, 0x100 + i, 1);
	assert_memory_equal(mac, ((uint8_t[]){ 0x52, 0x54, 0, 1, 2, 3 }), 6);
	assert_int_equal(virtio_mmio__ops.read(&f->net.vdev, 0x106, 2), 1); /* link up */
}

static void test_net_tx(void **state)
{
	struct net_fix *f = *state;
	uint8_t *hdr = gptr(f->g, G_BUF);
	memset(hdr, 0xee, 12); /* a guest header asking for offloads nobody offered: not passed on */
	memcpy(gptr(f->g, G_BUF + 0x100), "frame-payload-60-bytes......................................", 60);
	put_desc(f->g, G_DESC(1), 0, G_BUF, 12, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_DESC(1), 1, G_BUF + 0x100, 60, 0, 0);
	offer(f->g, 1, 0);
	kick(&f->net.vdev, 1);
	uint8_t buf[200];
	ssize_t n = recv(f->peer, buf, sizeof(buf), MSG_DONTWAIT);
	assert_int_equal(n, 72);
	assert_memory_equal(buf, ((uint8_t[12]){ 0 }), 12);
	assert_memory_equal(buf + 12, "frame-payload", 13);
	assert_int_equal(used_idx(f->g, 1), 1);
	assert_int_equal(virtio_net__stats(&f->net).tx_packets, 1);
}

static void test_net_tx_runt(void **state)
{
	struct net_fix *f = *state;
	put_desc(f->g, G_DESC(1), 0, G_BUF, 10, 0, 0); /* shorter than the header */
	offer(f->g, 1, 0);
	kick(&f->net.vdev, 1);
	uint8_t buf[64];
	assert_int_equal(recv(f->peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(used_idx(f->g, 1), 1);
	assert_int_equal(virtio_net__stats(&f->net).errors, 1);
}

static void send_frame(struct net_fix *f, size_t len)
{
	uint8_t frame[2048] = { 0 };
	for (size_t i = 12; i < len; i++)
		frame[i] = (uint8_t)i;
	assert_int_equal(send(f->peer, frame, len, 0), (ssize_t)len);
}

static void test_net_rx(void **state)
{
	struct net_fix *f = *state;
	send_frame(f, 12 + 100);
	virtio_net__rx_event(&f->net); /* no buffer yet: the frame waits */
	assert_int_equal(used_idx(f->g, 0), 0);
	put_desc(f->g, G_DESC(0), 0, G_BUF, 1526, VIRTQ_DESC_F_WRITE, 0);
	memset(gptr(f->g, G_BUF), 0xcc, 12);
	offer(f->g, 0, 0);
	kick(&f->net.vdev, 0);
	uint32_t id, len;
	assert_int_equal(used_idx(f->g, 0), 1);
	used_elem(f->g, 0, 0, &id, &len);
	assert_int_equal(len, 112);
	uint8_t *p = gptr(f->g, G_BUF);
	assert_int_equal(p[0], 0);  /* flags */
	assert_int_equal(p[10], 1); /* num_buffers */
	assert_int_equal(p[12], 12);
	assert_int_equal(p[111], 111);
	assert_true(f->g->irq_level);
}

/* The guest's virtio-net headers: what it negotiated, sizes inside the frame, known segmentation types only. */
static void test_net_tx_header_rules(void **state)
{
	(void)state;
	uint64_t all = NET_OFFLOADS | (1ull << 12) | (1ull << 13);
	uint8_t h[12] = { 0 };
	assert_true(virtio_net__tx_header_ok(0, h, 60)); /* nothing asked */
	h[0] = 1, h[6] = 34, h[8] = 16;			 /* NEEDS_CSUM at 34 + 16 */
	assert_true(virtio_net__tx_header_ok(all, h, 60));
	assert_false(virtio_net__tx_header_ok(0, h, 60)); /* CSUM not negotiated */
	assert_false(virtio_net__tx_header_ok(all, h, 51)); /* the checksum field past the end */
	h[8] = 0xff, h[9] = 0xff;			   /* an offset that overflows */
	assert_false(virtio_net__tx_header_ok(all, h, 60000));
	h[8] = 16, h[9] = 0;
	h[1] = 1, h[2] = 54, h[4] = 0xa8, h[5] = 0x05; /* TCPV4, hdr_len 54, gso_size 1448 */
	assert_true(virtio_net__tx_header_ok(all, h, 60000));
	assert_false(virtio_net__tx_header_ok(all & ~(1ull << 11), h, 60000)); /* HOST_TSO4 not negotiated */
	assert_false(virtio_net__tx_header_ok(all, h, 40));			/* hdr_len past the end */
	h[1] = 3;								/* UDP: not offered */
	assert_false(virtio_net__tx_header_ok(all, h, 60000));
	h[1] = 0x81; /* TCPV4 | ECN */
	assert_true(virtio_net__tx_header_ok(all, h, 60000));
	assert_false(virtio_net__tx_header_ok(all & ~(1ull << 13), h, 60000));
	h[1] = 4, h[0] = 0; /* TCPV6 without a checksum request */
	assert_false(virtio_net__tx_header_ok(all, h, 60000));
	h[0] = 1, h[4] = h[5] = 0; /* gso_size 0 */
	assert_false(virtio_net__tx_header_ok(all, h, 60000));
	h[0] = 0x80; /* unknown flags */
	assert_false(virtio_net__tx_header_ok(all, h, 60));
}

/* With offloads: a valid header goes to the backend as the guest wrote it, a hostile one is dropped. */
static void test_net_tx_offload_headers(void **state)
{
	struct net_fix *f = *state;
	uint8_t hdr[12] = { 1, 0, 0, 0, 0, 0, 34, 0, 16, 0, 7, 7 }; /* NEEDS_CSUM; num_buffers junk */
	memcpy(gptr(f->g, G_BUF), hdr, 12);
	put_desc(f->g, G_DESC(1), 0, G_BUF, 12, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_DESC(1), 1, G_BUF + 0x100, 60, 0, 0);
	offer(f->g, 1, 0);
	kick(&f->net.vdev, 1);
	uint8_t buf[200];
	assert_int_equal(recv(f->peer, buf, sizeof(buf), MSG_DONTWAIT), 72);
	assert_memory_equal(buf, ((uint8_t[12]){ 1, 0, 0, 0, 0, 0, 34, 0, 16, 0, 0, 0 }), 12);
	hdr[1] = 4; /* TCPV6 segmentation: HOST_TSO6 was not negotiated */
	memcpy(gptr(f->g, G_BUF + 0x200), hdr, 12);
	put_desc(f->g, G_DESC(1), 2, G_BUF + 0x200, 12, VIRTQ_DESC_F_NEXT, 1);
	offer(f->g, 1, 2);
	kick(&f->net.vdev, 1);
	assert_int_equal(recv(f->peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(used_idx(f->g, 1), 2); /* the chain is returned all the same */
	assert_int_equal(virtio_net__stats(&f->net).bad_headers, 1);
}

/* Mergeable receive buffers: a frame over three 1024-byte buffers, num_buffers 3, published at once; a
 * frame with too few buffers waits, then goes when more arrive. */
static void test_net_rx_mergeable(void **state)
{
	struct net_fix *f = *state;
	for (unsigned i = 0; i < 2; i++) {
		put_desc(f->g, G_DESC(0), (uint16_t)i, G_BUF + 0x400 * i, 1024, VIRTQ_DESC_F_WRITE, 0);
		offer(f->g, 0, (uint16_t)i);
	}
	uint8_t frame[3000] = { 0 };
	frame[0] = 2; /* DATA_VALID from the backend: kept, the driver took GUEST_CSUM */
	for (size_t i = 12; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	assert_int_equal(send(f->peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	virtio_net__rx_event(&f->net);
	assert_int_equal(used_idx(f->g, 0), 0); /* two buffers are not enough: it waits, nothing published */
	put_desc(f->g, G_DESC(0), 2, G_BUF + 0x800, 1024, VIRTQ_DESC_F_WRITE, 0);
	offer(f->g, 0, 2);
	kick(&f->net.vdev, 0);
	assert_int_equal(used_idx(f->g, 0), 3);
	uint32_t id, len, total = 0;
	for (uint16_t i = 0; i < 3; i++) {
		used_elem(f->g, 0, i, &id, &len);
		assert_int_equal(id, i);
		total += len;
	}
	assert_int_equal(total, sizeof(frame));
	uint8_t *p = gptr(f->g, G_BUF);
	assert_int_equal(p[0], 2);
	assert_int_equal(p[10], 3); /* num_buffers */
	assert_memory_equal(p + 12, frame + 12, 1024 - 12);
	assert_memory_equal(gptr(f->g, G_BUF + 0x800), frame + 2048, 3000 - 2048);
	assert_int_equal(virtio_net__stats(&f->net).rx_packets, 1);
}

static void test_net_rx_buffer_too_small(void **state)
{
	struct net_fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, G_BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(f->g, 0, 0);
	send_frame(f, 12 + 500); /* dropped: does not fit */
	send_frame(f, 12 + 40);  /* delivered into the same buffer */
	virtio_net__rx_event(&f->net);
	uint32_t id, len;
	assert_int_equal(used_idx(f->g, 0), 1);
	used_elem(f->g, 0, 0, &id, &len);
	assert_int_equal(len, 52);
	assert_int_equal(virtio_net__stats(&f->net).rx_dropped, 1);
}

/* ---- virtio-console over pipes ---- */

struct con_fix {
	struct fake_guest *g;
	struct virtio_console con;
	int to_guest, from_guest;
};

static int con_setup(void **state)
{
	struct con_fix *f = calloc(1, sizeof(*f));
	int in[2], out[2];
	f->g = fake_guest__new();
	if (pipe(in) < 0 || pipe(out) < 0)
		return -1;
	f->to_guest = in[1];
	f->from_guest = out[0];
	if (virtio_console__init(&f->con, &f->g->bus, fake_guest__irq(f->g), in[0], out[1]) < 0)
		return -1;
	if (drv_init(f->g, &f->con.vdev, F_V1) != ALIVE)
		return -1;
	*state = f;
	return 0;
}

static int con_teardown(void **state)
{
	struct con_fix *f = *state;
	virtio_console__exit(&f->con);
	close(f->to_guest);
	close(f->from_guest);
	fake_guest__free(f->g);
	free(f);
	return 0;
}

static void test_console_tx(void **state)
{
	struct con_fix *f = *state;
	memcpy(gptr(f->g, G_BUF), "hello ", 6);
	memcpy(gptr(f->g, G_BUF + 0x100), "hvc0\n", 5);
	put_desc(f->g, G_DESC(1), 0, G_BUF, 6, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_DESC(1), 1, G_BUF + 0x100, 5, 0, 0);
	offer(f->g, 1, 0);
	kick(&f->con.vdev, 1);
	char buf[32] = { 0 };
	assert_int_equal(read(f->from_guest, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "hello hvc0\n");
}

static void test_console_rx_split(void **state)
{
	struct con_fix *f = *state;
	assert_int_equal(write(f->to_guest, "abcdefgh", 8), 8);
	put_desc(f->g, G_DESC(0), 0, G_BUF, 5, VIRTQ_DESC_F_WRITE, 0);
	put_desc(f->g, G_DESC(0), 1, G_BUF + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f->g, 0, 0);
	offer(f->g, 0, 1);
	virtio_console__rx_event(&f->con);
	uint32_t id, len;
	assert_int_equal(used_idx(f->g, 0), 2);
	used_elem(f->g, 0, 0, &id, &len);
	assert_int_equal(len, 5);
	used_elem(f->g, 0, 1, &id, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(gptr(f->g, G_BUF), "abcde", 5);
	assert_memory_equal(gptr(f->g, G_BUF + 0x100), "fgh", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name, s, t) cmocka_unit_test_setup_teardown(name, s, t)
		T(test_identity, rng_setup, rng_teardown),
		T(test_features_need_version_1, rng_setup, rng_teardown),
		T(test_driver_ok_needs_features_ok, rng_setup, rng_teardown),
		T(test_rng_fills, rng_setup, rng_teardown),
		T(test_rng_huge_request_capped, rng_setup, rng_teardown),
		T(test_rng_readonly_buffer, rng_setup, rng_teardown),
		T(test_malformed_queue_needs_reset, rng_setup, rng_teardown),
		T(test_bad_ring_address, rng_setup, rng_teardown),
		T(test_no_processing_before_driver_ok, rng_setup, rng_teardown),
		T(test_blk_config, blk_setup, blk_teardown),
		T(test_blk_read, blk_setup, blk_teardown),
		T(test_blk_write_then_read, blk_setup, blk_teardown),
		T(test_blk_out_of_range, blk_setup, blk_teardown),
		T(test_blk_get_id_and_unsupported, blk_setup, blk_teardown),
		T(test_blk_short_header, blk_setup, blk_teardown),
		T(test_blk_no_status_byte, blk_setup, blk_teardown),
		T(test_blk_indirect_scatter, blk_setup, blk_teardown),
		T(test_blk_read_only, blk_setup_ro, blk_teardown),
		T(test_blk_rate_limited, blk_setup, blk_teardown),
		T(test_blk_set_backing, blk_setup, blk_teardown),
		T(test_blk_read, blk_setup_async, blk_teardown),
		T(test_blk_write_then_read, blk_setup_async, blk_teardown),
		T(test_blk_out_of_range, blk_setup_async, blk_teardown),
		T(test_blk_indirect_scatter, blk_setup_async, blk_teardown),
		T(test_blk_rate_limited, blk_setup_async, blk_teardown),
		T(test_blk_set_backing, blk_setup_async, blk_teardown),
		T(test_blk_async_many, blk_setup_async, blk_teardown),
		T(test_blk_async_write_flush, blk_setup_async, blk_teardown),
		T(test_blk_async_reset_in_flight, blk_setup_async, blk_teardown),
		T(test_net_config, net_setup, net_teardown),
		T(test_net_tx, net_setup, net_teardown),
		T(test_net_tx_runt, net_setup, net_teardown),
		T(test_net_rx, net_setup, net_teardown),
		T(test_net_rx_buffer_too_small, net_setup, net_teardown),
		cmocka_unit_test(test_net_tx_header_rules),
		T(test_net_tx_offload_headers, net_setup_offloads, net_teardown),
		T(test_net_rx_mergeable, net_setup_offloads, net_teardown),
		T(test_console_tx, con_setup, con_teardown),
		T(test_console_rx_split, con_setup, con_teardown),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
