/*
 * Snapshot state file and memory files: round trip of every hart register and the board's devices between
 * two machines, refusal of corrupt, truncated, wrong-version, unknown and incomplete files, device handler
 * registration, Full/Diff memory files with holes, layered restore and merging.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/format.h"
#include "snapshot/memfile.h"
#include "snapshot/state.h"

#define MEM_MIB 16

static void no_console(void *opaque, uint8_t c)
{
	(void)opaque;
	(void)c;
}

static struct machine *new_machine(void)
{
	struct machine *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	struct machine_config cfg = { .mem_mib = MEM_MIB, .cpus = 1, .restore = true };
	assert_int_equal(machine__init(m, &cfg, no_console, NULL, NULL, 0), 0);
	return m;
}

static void free_machine(struct machine *m)
{
	machine__exit(m);
	free(m);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Put distinctive, legal values everywhere the snapshot must carry. */
static void scribble(struct machine *m)
{
	struct rv_cpu *c = m->harts[0];
	for (int i = 1; i < 32; i++)
		c->x[i] = rnd();
	for (int i = 0; i < 32; i++)
		c->f[i] = rnd();
	c->pc = 0x80201234;
	c->priv = PRV_S;
	c->fflags = 0x15;
	c->frm = 3;
	c->mstatus = (2ull << 32) | (2ull << 34) | MSTATUS_SIE | MSTATUS_SUM | (1ull << 11) | MSTATUS_FS;
	c->medeleg = 0xb109;
	c->mideleg = 0x222;
	c->mie = 0xaaa;
	c->mtvec = 0x80000100;
	c->mscratch = rnd();
	c->mepc = rnd();
	c->mcause = 9;
	c->mtval = rnd();
	c->mcounteren = 7;
	c->scounteren = 5;
	c->menvcfg = 1;
	c->senvcfg = 0;
	c->mcountinhibit = 4;
	c->stvec = 0xffffffff80001000ull;
	c->sscratch = rnd();
	c->sepc = rnd();
	c->scause = 0x8000000000000005ull;
	c->stval = rnd();
	c->satp = (8ull << 60) | 0x81234;
	c->retired = 123456789;
	c->instret_offset = 42;
	for (int i = 0; i < 16; i++)
		c->pmpcfg[i] = rnd();
	for (int i = 0; i < 64; i++)
		c->pmpaddr[i] = rnd();
	c->mip_sw = MIP_STIP;
	cpu__inject_mip(c, MIP_SSIP);
	cpu__set_mip(c, MIP_MSIP, true);
	c->resv_valid = true;

	atomic_store(&m->clint.mtimecmp[0], 0x123456789ull);
	m->clint.offset = -77;
	m->sbi_timecmp[0] = 0xabcdef;

	struct plic *p = &m->plic;
	for (unsigned i = 1; i <= PLIC_NDEV; i++)
		p->priority[i] = i % 8;
	p->enable[0] = 0x400;
	p->enable[1] = 0x402;
	p->threshold[0] = 7;
	p->threshold[1] = 0;
	plic__set_irq(p, UART_IRQ, true); /* pending, raises SEIP on the S context */

	struct uart *u = &m->uart;
	u->ier = 0x05;
	u->lcr = 0x03;
	u->mcr = 0x0b;
	u->scr = 0x5a;
	u->fcr = 0xc1;
	u->dll = 1;
	u->dlm = 2;
	u->thre_pending = true;
	u->rx_head = UART_FIFO - 2; /* the FIFO wraps */
	uart__receive(u, (const uint8_t *)"hello", 5);
	u->tx_bytes = 1000;

	/* Guest time frozen at 12345 ticks. */
	m->paused_at_ns = m->clock_start_ns + 12345 * (1000000000ull / TIMEBASE_HZ);
}

static void build_file(struct machine *m, struct snap_writer *w)
{
	char err[256];
	snap_w__init(w);
	assert_int_equal(snap_w__start_file(w), 0);
	assert_int_equal(snap_state__save(m, w, err, sizeof(err)), 0);
	assert_int_equal(snap_w__finish_file(w), 0);
}

/* Parse a copy of buf (the parser owns and frees its buffer). */
static int parse_copy(const uint8_t *buf, size_t len, struct snap_file *f, char *err, size_t n)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	return snap_file__parse(f, copy, len, err, n);
}

static int restore_into(struct machine *m, const uint8_t *buf, size_t len, char *err, size_t n)
{
	struct snap_file f;
	if (parse_copy(buf, len, &f, err, n) < 0)
		return -1;
	struct snap_state *s = calloc(1, sizeof(*s));
	int rc = snap_state__parse(s, &f, err, n);
	if (rc == 0)
		rc = snap_state__apply(s, &f, m, err, n);
	free(s);
	snap_file__free(&f);
	return rc;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct machine *a = new_machine(), *b = new_machine();
	scribble(a);
	struct snap_writer w;
	build_file(a, &w);
	char err[256] = "";
	assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), 0);

	struct rv_cpu *x = a->harts[0], *y = b->harts[0];
	assert_memory_equal(x->x, y->x, sizeof(x->x));
	assert_memory_equal(x->f, y->f, sizeof(x->f));
	assert_memory_equal(x->pmpcfg, y->pmpcfg, sizeof(x->pmpcfg));
	assert_memory_equal(x->pmpaddr, y->pmpaddr, sizeof(x->pmpaddr));
#define EQ(field) assert_true(x->field == y->field);
	EQ(pc) EQ(priv) EQ(fflags) EQ(frm) EQ(mstatus) EQ(misa) EQ(medeleg) EQ(mideleg) EQ(mie) EQ(mtvec)
	EQ(mscratch) EQ(mepc) EQ(mcause) EQ(mtval) EQ(mcounteren) EQ(scounteren) EQ(menvcfg) EQ(senvcfg)
	EQ(mcountinhibit) EQ(stvec) EQ(sscratch) EQ(sepc) EQ(scause) EQ(stval) EQ(satp) EQ(mhartid) EQ(retired)
	EQ(instret_offset)
#undef EQ
	/* Software bits with the pending IPI folded in; MSIP from the CLINT; SEIP recomputed from the PLIC. */
	assert_true(y->mip_sw == (MIP_STIP | MIP_SSIP));
	assert_true(cpu__mip(y) & MIP_MSIP);
	assert_true(cpu__mip(y) & MIP_SEIP);
	assert_false(cpu__mip(y) & MIP_MEIP); /* M context threshold 7 masks it */
	assert_false(y->resv_valid);

	assert_true(atomic_load(&b->clint.mtimecmp[0]) == 0x123456789ull);
	assert_true(b->clint.offset == -77);
	assert_true(b->sbi_timecmp[0] == 0xabcdef);
	assert_memory_equal(a->plic.priority, b->plic.priority, sizeof(a->plic.priority));
	assert_memory_equal(a->plic.enable, b->plic.enable, sizeof(a->plic.enable));
	assert_memory_equal(a->plic.threshold, b->plic.threshold, sizeof(a->plic.threshold));
	assert_int_equal(a->plic.level, b->plic.level);
	assert_int_equal(a->plic.pending, b->plic.pending);
	assert_int_equal(a->plic.claimed, b->plic.claimed);

	struct uart *u = &b->uart;
	assert_int_equal(u->rx_count, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(u->rx[(u->rx_head + i) % UART_FIFO], "hello"[i]);
	assert_int_equal(u->ier, 0x05);
	assert_int_equal(u->mcr, 0x0b);
	assert_int_equal(u->scr, 0x5a);
	assert_int_equal(u->fcr, 0xc1);
	assert_int_equal(u->dll, 1);
	assert_int_equal(u->dlm, 2);
	assert_true(u->thre_pending);
	assert_int_equal(u->tx_bytes, 1000);
	assert_int_equal(u->rx_bytes, 5);

	/* Guest time resumes from the snapshot's, frozen until resumed. */
	assert_int_equal(machine__ticks(b), 12345);
	machine__resume(b);
	uint64_t t = machine__ticks(b);
	assert_true(t >= 12345 && t < 12345 + TIMEBASE_HZ);

	/* The same file saved again from b is byte for byte the same (nothing lost, nothing invented). */
	b->paused_at_ns = b->clock_start_ns + 12345 * (1000000000ull / TIMEBASE_HZ);
	struct snap_writer w2;
	build_file(b, &w2);
	assert_int_equal(w2.len, w.len);
	assert_memory_equal(w2.buf, w.buf, w.len);
	snap_w__free(&w2);

	snap_w__free(&w);
	free_machine(a);
	free_machine(b);
}

static void test_corrupt_byte(void **state)
{
	(void)state;
	struct machine *a = new_machine(), *b = new_machine();
	scribble(a);
	struct snap_writer w;
	build_file(a, &w);
	uint64_t pc = b->harts[0]->pc;
	for (size_t i = 0; i < w.len; i++) {
		char err[256] = "";
		w.buf[i] ^= 0x10;
		assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), -1);
		assert_true(strlen(err) > 0);
		w.buf[i] ^= 0x10;
	}
	/* Nothing was applied. */
	assert_true(b->harts[0]->pc == pc);
	char err[256];
	struct snap_file f;
	w.buf[w.len / 2] ^= 1;
	assert_int_equal(parse_copy(w.buf, w.len, &f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CRC"));
	snap_w__free(&w);
	free_machine(a);
	free_machine(b);
}

static void test_truncated(void **state)
{
	(void)state;
	struct machine *a = new_machine();
	scribble(a);
	struct snap_writer w;
	build_file(a, &w);
	for (size_t len = 0; len < w.len; len++) {
		char err[256] = "";
		struct snap_file f;
		assert_int_equal(parse_copy(w.buf, len, &f, err, sizeof(err)), -1);
		assert_true(strlen(err) > 0);
	}
	char err[256];
	struct snap_file f;
	assert_int_equal(parse_copy(w.buf, w.len - 8, &f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	snap_w__free(&w);
	free_machine(a);
}

static void refix_crc(uint8_t *buf, size_t len)
{
	memset(buf + 24, 0, 4);
	uint32_t c = snap__crc32(0, buf, len);
	for (int i = 0; i < 4; i++)
		buf[24 + i] = (uint8_t)(c >> (8 * i));
}

static void test_wrong_version(void **state)
{
	(void)state;
	struct machine *a = new_machine(), *b = new_machine();
	scribble(a);
	struct snap_writer w;
	build_file(a, &w);
	char err[256];

	w.buf[8] = SNAP_FORMAT_VERSION + 1; /* file format version */
	refix_crc(w.buf, w.len);
	assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version 2 is not supported"));
	w.buf[8] = SNAP_FORMAT_VERSION;

	/* A section's own version (the first section's header follows the file header). */
	w.buf[SNAP_HEADER_SIZE + 4] = 99;
	refix_crc(w.buf, w.len);
	assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version 99"));
	w.buf[SNAP_HEADER_SIZE + 4] = 1;

	/* An unknown section id. */
	w.buf[SNAP_HEADER_SIZE] = 200;
	refix_crc(w.buf, w.len);
	assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown section"));
	w.buf[SNAP_HEADER_SIZE] = SNAP_SEC_MACHINE;

	/* Not a snapshot at all. */
	memcpy(w.buf, "NOTASNAP", 8);
	assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a wisp snapshot"));
	memcpy(w.buf, SNAP_MAGIC, 8);

	refix_crc(w.buf, w.len);
	assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), 0);
	snap_w__free(&w);
	free_machine(a);
	free_machine(b);
}

/* Files with a section missing, duplicated, or with illegal values (valid CRC): refused by the parser. */
static void test_incomplete_and_illegal(void **state)
{
	(void)state;
	struct machine *a = new_machine(), *b = new_machine();
	scribble(a);
	char err[256];

	struct snap_writer w;
	snap_w__init(&w);
	snap_w__start_file(&w);
	snap_w__begin(&w, SNAP_SEC_TIME, 1);
	snap_w__u64(&w, 1);
	snap_w__u64(&w, TIMEBASE_HZ);
	snap_w__end(&w);
	snap_w__finish_file(&w);
	assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "machine"));
	snap_w__free(&w);

	/* Illegal privilege level in an otherwise valid file. */
	a->harts[0]->priv = 2;
	build_file(a, &w);
	assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "illegal"));
	snap_w__free(&w);
	a->harts[0]->priv = PRV_S;

	/* A machine of another size: refused before anything changes. */
	struct machine *big = calloc(1, sizeof(*big));
	struct machine_config cfg = { .mem_mib = 2 * MEM_MIB, .cpus = 1, .restore = true };
	assert_int_equal(machine__init(big, &cfg, no_console, NULL, NULL, 0), 0);
	build_file(a, &w);
	uint64_t pc = big->harts[0]->pc;
	assert_int_equal(restore_into(big, w.buf, w.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not match"));
	assert_true(big->harts[0]->pc == pc);
	snap_w__free(&w);
	free_machine(big);
	free_machine(a);
	free_machine(b);
}

/* ---- a device outside the board, through the registry ---- */

struct toy {
	uint32_t reg;
};

static uint64_t toy_read(void *dev, uint64_t off, unsigned size)
{
	(void)off;
	(void)size;
	return ((struct toy *)dev)->reg;
}

static void toy_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)off;
	(void)size;
	((struct toy *)dev)->reg = (uint32_t)val;
}

static const struct mmio_ops toy_ops = { toy_read, toy_write };
static const struct mmio_ops orphan_ops = { toy_read, toy_write };

static int toy_save(void *dev, struct snap_writer *w, char *err, size_t n)
{
	(void)err;
	(void)n;
	snap_w__u32(w, ((struct toy *)dev)->reg);
	return 0;
}

static int toy_load(void *dev, uint32_t version, struct snap_reader *r, char *err, size_t n)
{
	uint32_t v = snap_r__u32(r);
	if (version != 3 || !snap_r__done(r)) {
		snprintf(err, n, "bad toy state");
		return -1;
	}
	((struct toy *)dev)->reg = v;
	return 0;
}

static const struct snapshot_device_ops toy_snap = { "toy", 3, &toy_ops, toy_save, toy_load };

static void test_device_registry(void **state)
{
	(void)state;
	assert_int_equal(snapshot__register_device(&toy_snap), 0);
	struct machine *a = new_machine(), *b = new_machine();
	struct toy ta = { 0xfeedbeef }, tb = { 0 };
	assert_int_equal(machine__add_mmio(a, 0x10001000, 0x200, &toy_ops, &ta, "toy"), 0);
	assert_int_equal(machine__add_mmio(b, 0x10001000, 0x200, &toy_ops, &tb, "toy"), 0);
	struct snap_writer w;
	build_file(a, &w);
	char err[256];
	assert_int_equal(restore_into(b, w.buf, w.len, err, sizeof(err)), 0);
	assert_int_equal(tb.reg, 0xfeedbeef);

	/* The snapshot has the toy; a machine without it refuses (and vice versa below). */
	struct machine *c = new_machine();
	assert_int_equal(restore_into(c, w.buf, w.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "state for 1 devices"));
	snap_w__free(&w);

	/* A window nobody can snapshot: creation is refused, naming the device. */
	struct toy to = { 1 };
	assert_int_equal(machine__add_mmio(c, 0x10002000, 0x200, &orphan_ops, &to, "orphan"), 0);
	snap_w__init(&w);
	assert_int_equal(snap_state__save(c, &w, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "orphan"));
	snap_w__free(&w);
	free_machine(a);
	free_machine(b);
	free_machine(c);
}

/* ---- memory files ---- */

static char tmpdir[64];

static void path_in_tmp(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

static long data_pages(const char *path)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	off_t size = lseek(fd, 0, SEEK_END), off = 0;
	long pages = 0;
	while (off < size) {
		off_t d = lseek(fd, off, SEEK_DATA);
		if (d < 0)
			break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		pages += (h - d) / 4096;
		off = h;
	}
	close(fd);
	return pages;
}

static void test_memory_files(void **state)
{
	(void)state;
	char base[128], diff[128], err[256];
	path_in_tmp(base, sizeof(base), "base.mem");
	path_in_tmp(diff, sizeof(diff), "diff.mem");
	struct machine *a = new_machine();
	uint8_t *ram = a->bus.ram;
	/* A few pages with data; the rest of RAM untouched. */
	memset(ram + 0 * PAGE_SIZE, 0x11, PAGE_SIZE);
	memset(ram + 5 * PAGE_SIZE, 0x22, 3 * PAGE_SIZE);
	ram[100 * PAGE_SIZE + 7] = 0x33;
	memset(ram + 200 * PAGE_SIZE, 0, PAGE_SIZE); /* touched but zero: a hole */
	struct snap_mem_stats st;
	assert_int_equal(snap_mem__write(a, false, base, &st, err, sizeof(err)), 0);
	assert_int_equal(st.pages_written, 5);
	assert_int_equal(data_pages(base), 5);
	assert_int_equal(snap_mem__check(base, a->bus.ram_size, err, sizeof(err)), 0);
	assert_int_equal(snap_mem__check(base, a->bus.ram_size * 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));

	/* Track writes from here: a Diff holds exactly the written pages, zeroed ones included. */
	assert_int_equal(snap_mem__reset_dirty(a), 0);
	memset(ram + 5 * PAGE_SIZE, 0, PAGE_SIZE); /* data -> zero: must be in the diff */
	ram[300 * PAGE_SIZE] = 0x44;
	for (uint64_t pg = 5; pg <= 300; pg += 295)
		a->bus.dirty[pg / 64] |= 1ull << (pg % 64);
	assert_int_equal(snap_mem__write(a, true, diff, &st, err, sizeof(err)), 0);
	assert_int_equal(st.pages_written, 2);
	assert_int_equal(data_pages(diff), 2);

	/* Layered restore: base, then the diff's pages. */
	struct machine *b = new_machine();
	const char *layers[] = { base, diff };
	uint64_t last = 0;
	assert_int_equal(snap_mem__map(b, layers, 2, &last, err, sizeof(err)), 0);
	assert_int_equal(last, 2);
	assert_memory_equal(b->bus.ram, a->bus.ram, a->bus.ram_size);
	/* Private: writes to the clone's RAM do not reach the file or the other clone. */
	b->bus.ram[0] = 0x99;
	struct machine *c = new_machine();
	assert_int_equal(snap_mem__map(c, layers, 1, NULL, err, sizeof(err)), 0);
	assert_int_equal(c->bus.ram[0], 0x11);
	assert_int_equal(c->bus.ram[5 * PAGE_SIZE], 0x22); /* base only: the diff's zeroing is not there */

	/* A Full snapshot of the restored RAM: file-backed pages and private ones both found. */
	char full2[128];
	path_in_tmp(full2, sizeof(full2), "full2.mem");
	assert_int_equal(snap_mem__write(b, false, full2, &st, err, sizeof(err)), 0);
	assert_int_equal(st.pages_written, 5); /* pages 0, 6, 7, 100, 300 */

	/* Merging the diff into the base gives the same memory as layering it. */
	assert_int_equal(snap_mem__merge(base, diff, err, sizeof(err)), 0);
	struct machine *d = new_machine();
	assert_int_equal(snap_mem__map(d, layers, 1, NULL, err, sizeof(err)), 0);
	assert_memory_equal(d->bus.ram, a->bus.ram, a->bus.ram_size);

	/* Wrong sizes and missing files are refused before RAM is touched. */
	assert_int_equal(truncate(diff, 4096), 0);
	assert_int_equal(snap_mem__map(d, layers, 2, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "4096 bytes"));
	const char *missing[] = { "/nonexistent/mem" };
	assert_int_equal(snap_mem__map(d, missing, 1, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));

	unlink(base);
	unlink(diff);
	unlink(full2);
	free_machine(a);
	free_machine(b);
	free_machine(c);
	free_machine(d);
}

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wisp-test-snapshot-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_corrupt_byte),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_incomplete_and_illegal),
		cmocka_unit_test(test_device_registry),
		cmocka_unit_test(test_memory_files),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
