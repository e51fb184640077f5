/*
 * Fuzz target: virtio-balloon (src/virtio/balloon.c) as a hostile guest drives it, over page-aligned guest
 * RAM whose upper half may be mapped MAP_PRIVATE from a scratch memory file (as after a snapshot restore):
 * page frame number lists on the inflate and deflate queues, statistics buffers, free page hints and
 * reports, with the host's requests (target, polling interval, hinting runs, polls) in between.
 *
 * Input: a configuration byte (features offered; file-backed upper half), then operations until the input
 * ends (see the switch). Checked: pages given back read as zeros (the file's contents never come back),
 * pages not named keep their contents, the file-page bitmap only loses bits, the interrupt line follows the
 * ISR; ASan/UBSan/LeakSanitizer catch the rest.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#include "virtio/balloon.h"

#define G_BASE 0x80000000ull
#define G_SIZE (256ull << 10)
#define G_PAGES (G_SIZE / 4096)
#define G_DESC(q) (G_BASE + 0x2000ull * (q))
#define G_AVAIL(q) (G_DESC(q) + 0x800)
#define G_USED(q) (G_DESC(q) + 0x1000)
#define G_LIST (G_BASE + 0xc000ull) /* PFN lists, statistics, command ids */
#define FIRST_DATA 16		    /* pages 16.. are balloon fodder */
#define MARK 0xa5 /* anonymous data pages start with this */
#define FILE_BYTE 0x5f /* the memory file's contents */
#define MAX_OPS 96

static struct rv_bus bus;
static _Atomic uint64_t dirty[(G_PAGES + 63) / 64];
static uint64_t *file_pages;
static int mem_fd = -1;
static bool irq_level;

static void irq_set(void *ctl, unsigned irq, bool level)
{
	(void)ctl;
	(void)irq;
	irq_level = level;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bus.ram = mmap(NULL, G_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bus.ram == MAP_FAILED)
		abort();
	bus.ram_base = G_BASE;
	bus.ram_size = G_SIZE;
	bus.watch_page = ~0ull;
	bus.dirty = dirty;
	char path[] = "/tmp/wisp-fuzz-balloon-XXXXXX";
	mem_fd = mkstemp(path);
	if (mem_fd < 0)
		abort();
	unlink(path);
	uint8_t page[4096];
	memset(page, FILE_BYTE, sizeof(page));
	for (uint64_t off = 0; off < G_SIZE; off += sizeof(page))
		if (pwrite(mem_fd, page, sizeof(page), (off_t)off) != (ssize_t)sizeof(page))
			abort();
	return 0;
}

/* Fresh RAM: anonymous, every data page MARK; the upper half from the file if asked. */
FUZZ_NO_COVERAGE static void fresh_ram(bool file_backed)
{
	if (mmap(bus.ram, G_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		abort();
	memset(bus.ram + FIRST_DATA * 4096ull, MARK, G_SIZE - FIRST_DATA * 4096ull);
	memset(dirty, 0, sizeof(dirty));
	free(file_pages);
	file_pages = NULL;
	if (!file_backed)
		return;
	uint8_t *half = bus.ram + G_SIZE / 2;
	if (mmap(half, G_SIZE / 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, mem_fd, (off_t)(G_SIZE / 2)) != half)
		abort();
	file_pages = calloc((G_PAGES + 63) / 64, 8);
	for (uint64_t p = G_PAGES / 2; p < G_PAGES; p++)
		file_pages[p / 64] |= 1ull << (p % 64);
}

static void wr(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio__ops.write(d, off, 4, v);
}

static void put_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct virtq_desc dsc = { addr, len, flags, 0 };
	memcpy(bus.ram + (G_DESC(q) - G_BASE) + 16u * (i % 32), &dsc, sizeof(dsc));
}

static void offer(struct virtio_dev *d, unsigned q, uint16_t head)
{
	uint16_t *avail = (uint16_t *)(bus.ram + (G_AVAIL(q) - G_BASE));
	uint16_t num = d->vq[q].num ? d->vq[q].num : 1;
	uint16_t idx = avail[1];
	avail[2 + idx % num] = head;
	avail[1] = (uint16_t)(idx + 1);
	wr(d, 0x050, q);
	virtio_dev__process(d);
}

static void driver_init(struct virtio_dev *d, struct fz *f)
{
	uint64_t features = fz__u64(f);
	wr(d, 0x070, 0);
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE);
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(d, 0x024, 0);
	wr(d, 0x020, (uint32_t)features);
	wr(d, 0x024, 1);
	wr(d, 0x020, (uint32_t)(features >> 32));
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		wr(d, 0x030, q);
		wr(d, 0x038, 32);
		wr(d, 0x080, (uint32_t)G_DESC(q));
		wr(d, 0x084, 0);
		wr(d, 0x090, (uint32_t)G_AVAIL(q));
		wr(d, 0x094, 0);
		wr(d, 0x0a0, (uint32_t)G_USED(q));
		wr(d, 0x0a4, 0);
		wr(d, 0x044, 1);
	}
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
}

/*
 * What each data page may hold: its last contents (`expect`: MARK, FILE_BYTE or what the guest wrote),
 * or zeros once the guest named it in a list or range (the device may give it back). Anything else (the
 * file's contents coming back under a page the guest had written, a page nobody named changing) is a bug.
 */
static uint8_t expect[G_PAGES];
static bool may_be_zero[G_PAGES];
/*
 * A name sticks: the descriptor and ring entry that named a page stay in guest memory, and a queue reset or
 * a rewritten avail index makes the device see them again, so a page the guest rewrote after naming it may
 * still be given back.
 */
static bool ever_named[G_PAGES];

FUZZ_NO_COVERAGE static void check_pages(void)
{
	for (uint64_t p = FIRST_DATA; p < G_PAGES; p++) {
		const uint8_t *b = bus.ram + p * 4096;
		for (unsigned i = 0; i < 4096; i += 256) {
			if (b[i] != expect[p] && !(may_be_zero[p] && b[i] == 0))
				fprintf(stderr, "page %u byte %u: %#x, expected %#x%s\n", (unsigned)p, i, b[i], expect[p],
					may_be_zero[p] ? " or 0" : "");
			FUZZ_CHECK(b[i] == expect[p] || (may_be_zero[p] && b[i] == 0));
		}
	}
}

static void named(uint64_t gpa, uint64_t len)
{
	for (uint64_t a = gpa & ~4095ull; a < gpa + len && a < G_BASE + G_SIZE; a += 4096)
		if (a >= G_BASE + FIRST_DATA * 4096ull)
			may_be_zero[(a - G_BASE) / 4096] = ever_named[(a - G_BASE) / 4096] = true;
}

/*
 * Whatever a buffer holds may be read as page frame numbers (a buffer on the inflate queue, a descriptor
 * pointing anywhere into the list page, even unaligned, even after the page was rewritten, if the queue
 * only becomes live later). The only page the harness fills with such values is G_LIST: after every write
 * to it, every u32 at every byte offset of it (and across its ends, where the neighbours hold zeros) counts
 * as named. Other memory cannot hold a PFN of RAM: data pages hold one repeated byte, rings and
 * descriptors small numbers and addresses.
 */
FUZZ_NO_COVERAGE static void scan_list(void)
{
	uint8_t b[4096 + 6] = { 0 };
	memcpy(b + 3, bus.ram + (G_LIST - G_BASE), 4096);
	for (unsigned off = 0; off + 4 <= sizeof(b); off++) {
		uint32_t pfn;
		memcpy(&pfn, b + off, 4);
		named((uint64_t)pfn << 12, 4096);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!bus.ram)
		LLVMFuzzerInitialize(NULL, NULL);
	struct fz f = { data, size };
	uint8_t conf = fz__u8(&f);
	fresh_ram(conf & 32);
	for (uint64_t p = 0; p < G_PAGES; p++) {
		expect[p] = (conf & 32) && p >= G_PAGES / 2 ? FILE_BYTE : MARK;
		may_be_zero[p] = ever_named[p] = false;
	}
	irq_level = false;
	struct virtio_balloon_config cfg = {
		.amount_mib = conf & 1,
		.deflate_on_oom = conf & 2,
		.stats_interval_s = conf & 4 ? 1 : 0,
		.free_page_hinting = conf & 8,
		.free_page_reporting = conf & 16,
	};
	static struct virtio_balloon b;
	struct irq_line irq = { irq_set, NULL, 1 };
	if (virtio_balloon__init(&b, &bus, irq, &cfg, &file_pages) < 0)
		abort();
	uint64_t bits_before[(G_PAGES + 63) / 64] = { 0 };
	if (file_pages)
		memcpy(bits_before, file_pages, sizeof(bits_before));
	unsigned slot = 0;
	for (unsigned n = 0; n < MAX_OPS && fz__left(&f); n++) {
		uint8_t op = fz__u8(&f);
		unsigned q = (op >> 4) % VIRTIO_MAX_QUEUES;
		switch ((op & 15) % 11) {
		case 0: { /* register access */
			uint64_t off = fz__u16(&f) % VIRTIO_MMIO_SIZE & ~3ull;
			if (op & 0x80)
				virtio_mmio__ops.write(&b.vdev, off, 4, fz__u32(&f));
			else
				virtio_mmio__ops.read(&b.vdev, off, 4);
			break;
		}
		case 1:
			driver_init(&b.vdev, &f);
			break;
		case 2: { /* a PFN list on queue q: mostly pages of RAM, some not */
			unsigned cnt = fz__u8(&f) % 64;
			for (unsigned i = 0; i < cnt; i++) {
				uint8_t k = fz__u8(&f);
				uint32_t pfn = k < 0xf0 ? (uint32_t)(G_BASE >> 12) + k % G_PAGES : fz__u32(&f);
				memcpy(bus.ram + (G_LIST - G_BASE) + 4 * i, &pfn, 4);
				uint64_t gpa = (uint64_t)pfn << 12;
				if (gpa >= G_BASE && gpa < G_BASE + G_SIZE)
					named(gpa, 4096);
			}
			scan_list();
			put_desc(q, slot, G_LIST, cnt * 4 + (op & 0x80 ? 1 : 0), 0);
			offer(&b.vdev, q, (uint16_t)(slot++ % 32));
			break;
		}
		case 3: { /* a range buffer (hints, reports): writable or not, anywhere near RAM */
			uint64_t gpa = G_BASE + fz__u32(&f) % (G_SIZE + 8192) - 4096;
			uint32_t len = fz__u32(&f) % (64 * 1024);
			named(gpa, len); /* a range may start below the data pages and reach into them */
			put_desc(q, slot, gpa, len, op & 0x80 ? VIRTQ_DESC_F_WRITE : 0);
			offer(&b.vdev, q, (uint16_t)(slot++ % 32));
			break;
		}
		case 4: { /* a statistics buffer or a hint command id, any length */
			uint8_t len = fz__u8(&f);
			fz__copy(&f, bus.ram + (G_LIST - G_BASE), len);
			scan_list();
			put_desc(q, slot, G_LIST, len, 0);
			offer(&b.vdev, q, (uint16_t)(slot++ % 32));
			break;
		}
		case 5: { /* the guest writes a whole data page (a private copy, for a file-backed one) */
			uint64_t p = FIRST_DATA + fz__u8(&f) % (G_PAGES - FIRST_DATA);
			uint8_t v = (uint8_t)(fz__u8(&f) | 1);
			memset(bus.ram + p * 4096, v, 4096);
			expect[p] = v;
			may_be_zero[p] = ever_named[p];
			break;
		}
		case 6:
			virtio_balloon__poll_stats(&b);
			break;
		case 7:
			virtio_balloon__set_target(&b, fz__u8(&f));
			break;
		case 8:
			if (op & 0x80)
				virtio_balloon__hint_stop(&b);
			else
				virtio_balloon__hint_start(&b, op & 0x40);
			break;
		case 9:
			if (cfg.stats_interval_s)
				virtio_balloon__set_stats_interval(&b, 1 + fz__u8(&f) % 100);
			(void)virtio_balloon__info(&b);
			break;
		case 10: /* interrupt acknowledge */
			wr(&b.vdev, 0x064, (uint32_t)virtio_mmio__ops.read(&b.vdev, 0x060, 4));
			break;
		}
		FUZZ_CHECK(irq_level == (b.vdev.isr != 0) && (b.vdev.isr & ~3u) == 0);
		FUZZ_CHECK(!(virtio_balloon__info(&b).guest.present >> VIRTIO_BALLOON_STAT_TAGS));
		check_pages();
		if (file_pages)
			for (unsigned w = 0; w < (G_PAGES + 63) / 64; w++)
				FUZZ_CHECK(!(file_pages[w] & ~bits_before[w]));
	}
	virtio_balloon__exit(&b);
	return 0;
}
