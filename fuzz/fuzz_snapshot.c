/*
 * Fuzz target: the snapshot state file reader (src/snapshot): the container (snap_file__parse), the board's
 * sections (snap_state__parse) and restoring them onto a live board (snap_state__apply), then running the
 * restored hart and letting it poke the HTIF words the file named. A state file is as hostile as a guest:
 * whatever it says must leave wisp in a state the CPU and devices can live with.
 *
 * Input: a mode byte, then
 *   template mode (bit 0): a valid state file saved from the board (snap_state__save) with up to 32 patches
 *     (u16 offset, u8 length 0..8, bytes) and an optional truncation, so most inputs get past the checks;
 *   raw mode: the rest of the input is the file.
 * bit 1: fix the header's length and CRC after patching; bit 2: apply when the file parses; bit 3: then run.
 * Checked: the board invariants of board.h after apply and after each run; ASan/UBSan catch the rest.
 */
#include "board.h"

#include "snapshot/format.h"
#include "snapshot/state.h"

static struct board board;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	board__create(&board);
	return 0;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Header fields at their documented offsets (format.h): length at 16, crc32 at 24. */
static void fix_header(uint8_t *buf, size_t len)
{
	if (len < SNAP_HEADER_SIZE)
		return;
	put_le(buf + 16, len, 8);
	put_le(buf + 24, 0, 4);
	put_le(buf + 24, snap__crc32(0, buf, len), 4);
}

/* Stores a guest could make to the HTIF words: the machine's own watched-page path (mmu.c store_one_page). */
static void poke_htif(struct machine *m, uint64_t val)
{
	uint64_t page = m->bus.watch_page;
	if (!m->bus.watch_write || !bus__ram_ptr(&m->bus, page, PAGE_SIZE) || (page & (PAGE_SIZE - 1)))
		return;
	uint64_t targets[2] = { m->tohost, m->tohost + 4 };
	for (unsigned i = 0; i < 2; i++) {
		uint64_t pa = targets[i];
		if ((pa & PAGE_MASK) != page || (pa & 3))
			continue;
		memcpy(bus__ram_ptr(&m->bus, pa, 4), &val, 4);
		m->bus.watch_write(m->bus.opaque, pa, 4, val);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!board.m)
		LLVMFuzzerInitialize(NULL, NULL);
	struct fz f = { data, size };
	struct machine *m = board.m;
	board__reset(&board);
	uint8_t mode = fz__u8(&f);

	uint8_t *buf;
	size_t len;
	if (mode & 1) {
		struct snap_writer w;
		char err[256];
		snap_w__init(&w);
		snap_w__start_file(&w);
		if (snap_state__save(m, &w, err, sizeof(err)) < 0 || snap_w__finish_file(&w) < 0)
			abort(); /* the board itself must always be savable */
		buf = w.buf;
		len = w.len;
		unsigned patches = fz__u8(&f) % 33;
		for (unsigned i = 0; i < patches && len; i++) {
			size_t off = fz__u16(&f) % len;
			size_t n = fz__u8(&f) % 9;
			if (n > len - off)
				n = len - off;
			fz__copy(&f, buf + off, n);
		}
		uint16_t cut = fz__u16(&f);
		if ((mode & 0x10) && cut < len)
			len = cut;
	} else {
		len = fz__left(&f);
		buf = malloc(len ? len : 1);
		if (!buf)
			return 0;
		fz__copy(&f, buf, len);
	}
	if (mode & 2)
		fix_header(buf, len);

	/* Exactly len bytes, so reads past the end are seen (the writer's buffer is larger). */
	uint8_t *file = malloc(len ? len : 1);
	if (!file) {
		free(buf);
		return 0;
	}
	memcpy(file, buf, len);
	free(buf);

	struct snap_file sf;
	char err[512];
	if (snap_file__parse(&sf, file, len, err, sizeof(err)) < 0) /* takes file, frees it on failure */
		return 0;
	FUZZ_CHECK(sf.nsec <= SNAP_MAX_SECTIONS);
	for (unsigned i = 0; i < sf.nsec; i++)
		FUZZ_CHECK(sf.sec[i].data >= sf.buf && sf.sec[i].len <= sf.len &&
			   (size_t)(sf.sec[i].data - sf.buf) <= sf.len - sf.sec[i].len);
	struct snap_state *st = malloc(sizeof(*st));
	if (st && snap_state__parse(st, &sf, err, sizeof(err)) == 0 && (mode & 4)) {
		if (snap_state__apply(st, &sf, m, err, sizeof(err)) == 0) {
			board__check(&board);
			struct rv_cpu *cpu = m->harts[0];
			if (mode & 8) {
				for (unsigned run = 0; run < 16 && !atomic_load(&m->halted); run++) {
					enum rv_exit why;
					cpu__run(cpu, 256, &why);
					board__check(&board);
				}
			}
			poke_htif(m, (uint32_t)(mode >> 4) | 1);
			poke_htif(m, 0);
			board__check(&board);
		}
	}
	free(st);
	snap_file__free(&sf);
	return 0;
}
