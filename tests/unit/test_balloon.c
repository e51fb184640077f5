/*
 * virtio-balloon (src/virtio/balloon.c) through its registers and a fake guest memory (page-aligned, so the
 * host really gives pages back): inflate over anonymous RAM and over RAM mapped MAP_PRIVATE from a file
 * (zeros afterwards, not the file), hostile page frame numbers, deflate, statistics held and polled, the
 * optional queues' numbering, free page reporting and hinting, the config space, and snapshots.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "snapshot/state.h"
#include "virtio/balloon.h"
#include "virtio_fake.h"

#define F_V1 (1ull << VIRTIO_F_VERSION_1)
#define F_STATS (1ull << VIRTIO_BALLOON_F_STATS_VQ)
#define F_HINT (1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT)
#define F_REPORT (1ull << VIRTIO_BALLOON_F_REPORTING)
#define F_OOM (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
#define ALIVE (VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK)
#define PG 4096ull
#define PFN(page) ((uint32_t)((G_BASE >> 12) + (page))) /* guest page `page` of RAM */
#define GPA(page) (G_BASE + (page) * PG)
#define LIST (G_BUF)	       /* a driver buffer: PFN lists, statistics, command ids */
#define DATA_PAGE 160	       /* pages 160..255 are free for the tests */

struct bfix {
	struct fake_guest *g;
	uint8_t *calloc_ram;
	struct virtio_balloon b;
	uint64_t *file_pages;
	uint16_t desc;
};

/* The fake guest, with RAM page-aligned (madvise and mmap need that). */
static struct bfix *bfix_new(void)
{
	struct bfix *f = calloc(1, sizeof(*f));
	f->g = fake_guest__new();
	f->g->num = 16;
	f->calloc_ram = f->g->bus.ram;
	f->g->bus.ram = mmap(NULL, G_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(f->g->bus.ram != MAP_FAILED);
	return f;
}

static void bfix_start(struct bfix *f, const struct virtio_balloon_config *cfg, uint64_t features)
{
	assert_int_equal(virtio_balloon__init(&f->b, &f->g->bus, fake_guest__irq(f->g), cfg, &f->file_pages), 0);
	assert_int_equal(drv_init(f->g, &f->b.vdev, features), ALIVE);
}

static void bfix_free(struct bfix *f)
{
	virtio_balloon__exit(&f->b);
	munmap(f->g->bus.ram, G_SIZE);
	f->g->bus.ram = f->calloc_ram;
	fake_guest__free(f->g);
	free(f->file_pages);
	free(f);
}

static void fill(struct bfix *f, unsigned page, unsigned n, uint8_t v)
{
	memset(gptr(f->g, GPA(page)), v, n * PG);
}

static bool page_is(struct bfix *f, unsigned page, uint8_t v)
{
	const uint8_t *p = gptr(f->g, GPA(page));
	for (size_t i = 0; i < PG; i++)
		if (p[i] != v)
			return false;
	return true;
}

static bool resident(struct bfix *f, unsigned page)
{
	unsigned char vec;
	assert_int_equal(mincore(gptr(f->g, GPA(page)), PG, &vec), 0);
	return vec & 1;
}

/* One buffer on queue q: `len` bytes at gpa, device-readable or writable; then notify. */
static void post(struct bfix *f, unsigned q, uint64_t gpa, uint32_t len, bool writable)
{
	uint16_t d = f->desc++ % f->g->num;
	put_desc(f->g, G_DESC(q), d, gpa, len, writable ? VIRTQ_DESC_F_WRITE : 0, 0);
	offer(f->g, q, d);
	kick(&f->b.vdev, q);
}

static void post_pfns(struct bfix *f, unsigned q, const uint32_t *pfn, unsigned n)
{
	memcpy(gptr(f->g, LIST), pfn, n * 4ull);
	post(f, q, LIST, n * 4, false);
}

static uint32_t cfg32(struct bfix *f, unsigned off)
{
	return (uint32_t)virtio_mmio__ops.read(&f->b.vdev, 0x100 + off, 4);
}

/* ---- tests ---- */

static void test_inflate_anonymous(void **state)
{
	(void)state;
	struct bfix *f = bfix_new();
	struct virtio_balloon_config cfg = { .amount_mib = 0 };
	bfix_start(f, &cfg, F_V1);
	assert_int_equal(f->b.vdev.nqueues, 2);
	fill(f, DATA_PAGE, 20, 0xaa);
	assert_true(resident(f, DATA_PAGE));
	uint32_t pfn[] = { PFN(DATA_PAGE + 3), PFN(DATA_PAGE),	   PFN(DATA_PAGE + 1), PFN(DATA_PAGE + 2),
			   PFN(DATA_PAGE + 1), PFN(DATA_PAGE + 9), /* duplicate; another run */
			   0x10,	       PFN(G_SIZE / PG),   0xffffffff };  /* not RAM */
	unsigned before = f->g->irq_raises;
	post_pfns(f, 0, pfn, sizeof(pfn) / 4);
	assert_int_equal(used_idx(f->g, 0), 1);
	assert_true(f->g->irq_raises > before);
	assert_false(resident(f, DATA_PAGE + 1)); /* given back, not merely cleared (checked before reading it) */
	for (unsigned p = 0; p < 4; p++) {
		assert_true(page_is(f, DATA_PAGE + p, 0));
		assert_true(page_dirty(f->g, GPA(DATA_PAGE + p)));
	}
	assert_true(page_is(f, DATA_PAGE + 4, 0xaa));
	assert_false(page_dirty(f->g, GPA(DATA_PAGE + 4)));
	assert_true(page_is(f, DATA_PAGE + 9, 0));
	struct virtio_balloon_stats s = virtio_balloon__stats(&f->b);
	assert_int_equal(s.inflated_pages, 5);
	assert_int_equal(s.bad_pfns, 3);
	assert_int_equal(s.inflate_count, 1);
	/* A list with a ragged end, and a huge one: the whole pfns are taken, the chain is cut short. */
	post(f, 0, LIST, 6, false);
	assert_int_equal(used_idx(f->g, 0), 2);
	assert_int_equal(virtio_balloon__stats(&f->b).event_fails, 1);
	/* Deflate: nothing to do but count (the pages read as zeros already). */
	post_pfns(f, 1, pfn, 4);
	assert_int_equal(used_idx(f->g, 1), 1);
	assert_int_equal(virtio_balloon__stats(&f->b).deflated_pages, 4);
	bfix_free(f);
}

/* RAM mapped MAP_PRIVATE from a memory file, as after a snapshot restore. */
static void test_inflate_file_backed(void **state)
{
	(void)state;
	struct bfix *f = bfix_new();
	char path[] = "/tmp/wisp-test-balloon-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	uint8_t *page = malloc(PG);
	memset(page, 0x55, PG);
	for (uint64_t off = 0; off < G_SIZE; off += PG)
		assert_int_equal(pwrite(fd, page, PG, (off_t)off), (ssize_t)PG);
	free(page);
	uint8_t *at = gptr(f->g, GPA(DATA_PAGE));
	assert_true(mmap(at, 32 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, DATA_PAGE * PG) == at);
	close(fd);
	f->file_pages = calloc(G_PAGES / 64, 8);
	for (unsigned p = DATA_PAGE; p < DATA_PAGE + 32; p++)
		f->file_pages[p / 64] |= 1ull << (p % 64);
	struct virtio_balloon_config cfg = { 0 };
	bfix_start(f, &cfg, F_V1);
	fill(f, DATA_PAGE + 1, 1, 0x77); /* a private copy of one page */
	/* What MADV_DONTNEED alone would do here: the file's contents come back. */
	assert_int_equal(madvise(gptr(f->g, GPA(DATA_PAGE + 20)), PG, MADV_DONTNEED), 0);
	assert_true(page_is(f, DATA_PAGE + 20, 0x55));
	uint32_t pfn[] = { PFN(DATA_PAGE), PFN(DATA_PAGE + 1), PFN(DATA_PAGE + 2), PFN(DATA_PAGE + 3) };
	post_pfns(f, 0, pfn, 4);
	for (unsigned p = 0; p < 4; p++) {
		assert_true(page_is(f, DATA_PAGE + p, 0));
		assert_false(f->file_pages[(DATA_PAGE + p) / 64] >> ((DATA_PAGE + p) % 64) & 1);
	}
	assert_true(page_is(f, DATA_PAGE + 4, 0x55)); /* the neighbours keep the file */
	assert_true(f->file_pages[(DATA_PAGE + 4) / 64] >> ((DATA_PAGE + 4) % 64) & 1);
	/* Touched again, given back again: still zeros, never the file. */
	fill(f, DATA_PAGE, 1, 0x99);
	post_pfns(f, 0, pfn, 1);
	assert_true(page_is(f, DATA_PAGE, 0));
	bfix_free(f);
}

/* Statistics: the guest's buffer is held, its values kept, and handed back at each poll. */
static void put_stat(uint8_t *p, unsigned i, uint16_t tag, uint64_t val)
{
	memcpy(p + 10 * i, &tag, 2);
	memcpy(p + 10 * i + 2, &val, 8);
}

static void test_stats(void **state)
{
	(void)state;
	struct bfix *f = bfix_new();
	struct virtio_balloon_config cfg = { .stats_interval_s = 1, .deflate_on_oom = true };
	bfix_start(f, &cfg, F_V1 | F_STATS | F_OOM);
	assert_int_equal(f->b.vdev.nqueues, 3);
	uint8_t *p = gptr(f->g, LIST);
	put_stat(p, 0, VIRTIO_BALLOON_S_MEMFREE, 100);
	put_stat(p, 1, VIRTIO_BALLOON_S_MEMTOT, 200);
	put_stat(p, 2, 42, 7); /* a tag from the future: ignored */
	put_stat(p, 3, VIRTIO_BALLOON_S_OOM_KILL, 3);
	post(f, 2, LIST, 43, false); /* 4 stats and a ragged end */
	assert_int_equal(used_idx(f->g, 2), 0); /* held */
	struct virtio_balloon_info i = virtio_balloon__info(&f->b);
	assert_int_equal(i.guest.present, (1u << VIRTIO_BALLOON_S_MEMFREE) | (1u << VIRTIO_BALLOON_S_MEMTOT) |
						  (1u << VIRTIO_BALLOON_S_OOM_KILL));
	assert_int_equal(i.guest.val[VIRTIO_BALLOON_S_MEMFREE], 100);
	assert_int_equal(i.guest.val[VIRTIO_BALLOON_S_MEMTOT], 200);
	assert_int_equal(i.stats_interval_s, 1);
	unsigned before = f->g->irq_raises;
	wr(&f->b.vdev, R_ACK, 3);
	virtio_balloon__poll_stats(&f->b);
	assert_int_equal(used_idx(f->g, 2), 1);
	assert_true(f->g->irq_raises > before);
	virtio_balloon__poll_stats(&f->b); /* nothing held: nothing happens */
	assert_int_equal(used_idx(f->g, 2), 1);
	/* The refill updates what it carries and keeps the rest. */
	put_stat(p, 0, VIRTIO_BALLOON_S_MEMFREE, 99);
	post(f, 2, LIST, 10, false);
	i = virtio_balloon__info(&f->b);
	assert_int_equal(i.guest.val[VIRTIO_BALLOON_S_MEMFREE], 99);
	assert_int_equal(i.guest.val[VIRTIO_BALLOON_S_MEMTOT], 200);
	/* A second buffer before the poll: the first goes back. */
	post(f, 2, LIST, 10, false);
	assert_int_equal(used_idx(f->g, 2), 2);
	assert_true(virtio_balloon__stats(&f->b).stats_update_fails >= 2);
	virtio_balloon__set_stats_interval(&f->b, 5);
	assert_int_equal(virtio_balloon__info(&f->b).stats_interval_s, 5);
	bfix_free(f);
}

/* Linux offers its first statistics buffer before DRIVER_OK: the device must find it once it is live. */
static void test_stats_before_driver_ok(void **state)
{
	(void)state;
	struct bfix *f = bfix_new();
	struct virtio_balloon_config cfg = { .stats_interval_s = 1 };
	assert_int_equal(virtio_balloon__init(&f->b, &f->g->bus, fake_guest__irq(f->g), &cfg, &f->file_pages), 0);
	struct virtio_dev *d = &f->b.vdev;
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE);
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(d, 0x024, 0);
	wr(d, 0x020, (uint32_t)F_STATS);
	wr(d, 0x024, 1);
	wr(d, 0x020, 1); /* VERSION_1 */
	wr(d, R_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	for (unsigned q = 0; q < d->nqueues; q++)
		setup_queue(f->g, d, q);
	put_stat(gptr(f->g, LIST), 0, VIRTIO_BALLOON_S_MEMFREE, 5);
	post(f, 2, LIST, 10, false); /* notified, not served: the device is not live yet */
	assert_int_equal(virtio_balloon__info(&f->b).guest.present, 0);
	wr(d, R_STATUS, ALIVE);
	virtio_dev__process(d);
	assert_int_equal(virtio_balloon__info(&f->b).guest.val[VIRTIO_BALLOON_S_MEMFREE], 5);
	virtio_balloon__poll_stats(&f->b);
	assert_int_equal(used_idx(f->g, 2), 1); /* and held it, to hand back at the poll */
	bfix_free(f);
}

/* Optional queues take the next numbers among those negotiated; reporting gives whole pages back. */
static void test_reporting_and_queue_numbers(void **state)
{
	(void)state;
	struct virtio_balloon_config cfg = { .stats_interval_s = 1, .free_page_hinting = true,
					     .free_page_reporting = true };
	for (int variant = 0; variant < 2; variant++) {
		struct bfix *f = bfix_new();
		bfix_start(f, &cfg, variant ? F_V1 | F_STATS | F_REPORT : F_V1 | F_REPORT);
		assert_int_equal(f->b.vdev.nqueues, 5);
		unsigned q = variant ? 3 : 2;
		fill(f, DATA_PAGE, 8, 0xaa);
		post(f, q, GPA(DATA_PAGE), 4 * PG, true);
		assert_int_equal(used_idx(f->g, q), 1);
		for (unsigned p = 0; p < 4; p++)
			assert_true(page_is(f, DATA_PAGE + p, 0));
		/* An unaligned range: only the whole pages inside it. */
		post(f, q, GPA(DATA_PAGE + 4) + 100, 3 * PG, true);
		assert_true(page_is(f, DATA_PAGE + 4, 0xaa));
		assert_true(page_is(f, DATA_PAGE + 5, 0) && page_is(f, DATA_PAGE + 6, 0));
		assert_true(page_is(f, DATA_PAGE + 7, 0xaa));
		struct virtio_balloon_stats s = virtio_balloon__stats(&f->b);
		assert_int_equal(s.free_page_report_count, 2);
		assert_int_equal(s.free_page_report_freed, 6 * PG);
		/* A read-only buffer on the reporting queue reports nothing. */
		post(f, q, GPA(DATA_PAGE + 7), PG, false);
		assert_true(page_is(f, DATA_PAGE + 7, 0xaa));
		assert_int_equal(virtio_balloon__stats(&f->b).free_page_report_fails, 1);
		/* The queue past the negotiated ones does nothing. */
		post(f, 4, GPA(DATA_PAGE + 7), PG, true);
		assert_int_equal(used_idx(f->g, 4), 0);
		assert_true(page_is(f, DATA_PAGE + 7, 0xaa));
		bfix_free(f);
	}
}

static void test_hinting(void **state)
{
	(void)state;
	struct bfix *f = bfix_new();
	struct virtio_balloon_config cfg = { .free_page_hinting = true };
	bfix_start(f, &cfg, F_V1 | F_HINT);
	assert_int_equal(cfg32(f, 8), VIRTIO_BALLOON_CMD_STOP);
	virtio_balloon__hint_start(&f->b, true);
	assert_int_equal(cfg32(f, 8), 2);
	assert_true(f->b.vdev.isr & VIRTIO_INT_CONFIG);
	wr(&f->b.vdev, R_ACK, 3);
	uint32_t id = 2;
	memcpy(gptr(f->g, LIST), &id, 4);
	post(f, 2, LIST, 4, false); /* the guest starts reporting for run 2 */
	fill(f, DATA_PAGE, 4, 0xaa);
	post(f, 2, GPA(DATA_PAGE), 2 * PG, true);
	assert_true(page_is(f, DATA_PAGE, 0) && page_is(f, DATA_PAGE + 1, 0));
	struct virtio_balloon_info i = virtio_balloon__info(&f->b);
	assert_int_equal(i.host_cmd, 2);
	assert_true(i.guest_cmd_valid);
	assert_int_equal(i.guest_cmd, 2);
	id = VIRTIO_BALLOON_CMD_STOP; /* the guest is done: acknowledged with DONE */
	memcpy(gptr(f->g, LIST), &id, 4);
	post(f, 2, LIST, 4, false);
	assert_int_equal(cfg32(f, 8), VIRTIO_BALLOON_CMD_DONE);
	assert_true(f->b.vdev.isr & VIRTIO_INT_CONFIG);
	/* A new run; hints still labelled with the old one are left alone. */
	virtio_balloon__hint_start(&f->b, false);
	assert_int_equal(cfg32(f, 8), 3);
	id = 2;
	memcpy(gptr(f->g, LIST), &id, 4);
	post(f, 2, LIST, 4, false);
	post(f, 2, GPA(DATA_PAGE + 2), PG, true);
	assert_true(page_is(f, DATA_PAGE + 2, 0xaa));
	id = VIRTIO_BALLOON_CMD_STOP; /* no acknowledgement this time */
	memcpy(gptr(f->g, LIST), &id, 4);
	post(f, 2, LIST, 4, false);
	assert_int_equal(cfg32(f, 8), 3);
	virtio_balloon__hint_stop(&f->b);
	assert_int_equal(cfg32(f, 8), VIRTIO_BALLOON_CMD_DONE);
	struct virtio_balloon_stats s = virtio_balloon__stats(&f->b);
	assert_int_equal(s.free_page_hint_count, 1);
	assert_int_equal(s.free_page_hint_freed, 2 * PG);
	assert_int_equal(s.free_page_hint_fails, 1);
	post(f, 2, LIST, 2, false); /* too short for a command id */
	assert_int_equal(virtio_balloon__stats(&f->b).free_page_hint_fails, 2);
	bfix_free(f);
}

static void test_config_space(void **state)
{
	(void)state;
	struct bfix *f = bfix_new();
	struct virtio_balloon_config cfg = { .amount_mib = 3 };
	bfix_start(f, &cfg, F_V1);
	assert_int_equal(cfg32(f, 0), 3 * 256);
	virtio_mmio__ops.write(&f->b.vdev, 0x104, 4, 500); /* actual: the driver's to write */
	virtio_mmio__ops.write(&f->b.vdev, 0x100, 4, 1);   /* num_pages: not */
	virtio_mmio__ops.write(&f->b.vdev, 0x108, 4, 9);   /* the hint command id: not */
	struct virtio_balloon_info i = virtio_balloon__info(&f->b);
	assert_int_equal(i.actual_pages, 500);
	assert_int_equal(i.target_pages, 3 * 256);
	assert_int_equal(cfg32(f, 8), 0);
	wr(&f->b.vdev, R_ACK, 3);
	virtio_balloon__set_target(&f->b, 32);
	assert_int_equal(cfg32(f, 0), 32 * 256);
	assert_true(f->b.vdev.isr & VIRTIO_INT_CONFIG);
	/* Offered features follow the configuration. */
	assert_false(f->b.vdev.host_features & (F_STATS | F_HINT | F_REPORT | F_OOM));
	struct virtio_balloon too_big;
	struct virtio_balloon_config huge = { .amount_mib = UINT32_MAX };
	assert_int_equal(virtio_balloon__init(&too_big, &f->g->bus, fake_guest__irq(f->g), &huge, NULL), -1);
	bfix_free(f);
}

/* The balloon's own state in a snapshot: interval, the held statistics buffer, statistics, hinting. */
static void test_snapshot(void **state)
{
	(void)state;
	struct bfix *f = bfix_new();
	struct virtio_balloon_config cfg = { .amount_mib = 8, .stats_interval_s = 1, .free_page_hinting = true };
	bfix_start(f, &cfg, F_V1 | F_STATS | F_HINT);
	put_stat(gptr(f->g, LIST), 0, VIRTIO_BALLOON_S_AVAIL, 1234);
	post(f, 2, LIST, 10, false);
	virtio_balloon__set_stats_interval(&f->b, 7);
	virtio_balloon__hint_start(&f->b, true);
	virtio_mmio__ops.write(&f->b.vdev, 0x104, 4, 77);
	struct snap_writer w;
	char err[256] = "";
	snap_w__init(&w);
	assert_int_equal(virtio_snap__ops.save(&f->b.vdev, &w, err, sizeof(err)), 0);

	struct bfix *c = bfix_new();
	memcpy(c->g->bus.ram, f->g->bus.ram, G_SIZE);
	memcpy(c->g->avail_idx, f->g->avail_idx, sizeof(c->g->avail_idx));
	assert_int_equal(virtio_balloon__init(&c->b, &c->g->bus, fake_guest__irq(c->g), &cfg, &c->file_pages), 0);
	struct snap_reader r;
	snap_r__init(&r, w.buf, w.len);
	assert_int_equal(virtio_snap__ops.load(&c->b.vdev, virtio_snap__ops.version, &r, err, sizeof(err)), 0);
	struct virtio_balloon_info i = virtio_balloon__info(&c->b);
	assert_int_equal(i.stats_interval_s, 7);
	assert_int_equal(i.target_pages, 8 * 256);
	assert_int_equal(i.actual_pages, 77);
	assert_int_equal(i.guest.val[VIRTIO_BALLOON_S_AVAIL], 1234);
	assert_int_equal(i.host_cmd, 2);
	virtio_balloon__poll_stats(&c->b); /* the held buffer is handed back by the restored device */
	assert_int_equal(used_idx(c->g, 2), 1);
	uint32_t id, len;
	used_elem(c->g, 2, 0, &id, &len);
	assert_int_equal(id, (f->desc - 1) % f->g->num);
	virtio_balloon__exit(&c->b);

	/* Hostile device state: a held buffer beyond the queue, statistics turned off, short or long. */
	size_t own = w.len - 153;
	struct {
		size_t off;
		uint32_t val;
		unsigned bytes;
		const char *why;
	} bad[] = {
		{ own + 5, 5000, 2, "statistics buffer" },
		{ own, 0, 4, "statistics setting" },
		{ own + 4, 2, 1, "corrupt balloon state" },
		{ own + 149, 1, 4, "corrupt balloon state" }, /* next command id 1 */
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		uint8_t *p = malloc(w.len);
		memcpy(p, w.buf, w.len);
		memcpy(p + bad[k].off, &bad[k].val, bad[k].bytes);
		assert_int_equal(virtio_balloon__init(&c->b, &c->g->bus, fake_guest__irq(c->g), &cfg, NULL), 0);
		snap_r__init(&r, p, w.len);
		assert_int_equal(virtio_snap__ops.load(&c->b.vdev, virtio_snap__ops.version, &r, err, sizeof(err)), -1);
		if (!strstr(err, bad[k].why))
			fail_msg("case %zu: '%s' lacks '%s'", k, err, bad[k].why);
		virtio_balloon__exit(&c->b);
		free(p);
	}
	/* A snapshot of another balloon configuration (no statistics) is refused by the transport. */
	struct virtio_balloon_config other = { .amount_mib = 8, .free_page_hinting = true };
	assert_int_equal(virtio_balloon__init(&c->b, &c->g->bus, fake_guest__irq(c->g), &other, NULL), 0);
	snap_r__init(&r, w.buf, w.len);
	assert_int_equal(virtio_snap__ops.load(&c->b.vdev, virtio_snap__ops.version, &r, err, sizeof(err)), -1);
	virtio_balloon__exit(&c->b);
	/* bfix_free exits c->b again: give it a fresh device. */
	assert_int_equal(virtio_balloon__init(&c->b, &c->g->bus, fake_guest__irq(c->g), &cfg, NULL), 0);
	bfix_free(c);
	snap_w__free(&w);
	bfix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflate_anonymous),
		cmocka_unit_test(test_inflate_file_backed),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_stats_before_driver_ok),
		cmocka_unit_test(test_reporting_and_queue_numbers),
		cmocka_unit_test(test_hinting),
		cmocka_unit_test(test_config_space),
		cmocka_unit_test(test_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
