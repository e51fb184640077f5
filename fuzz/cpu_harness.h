/*
 * The hart the CPU fuzz targets run (fuzz_cpu.c: one backend with invariants; fuzz_jit.c: the
 * interpreter and the translator side by side): the unit tests' fake hart with a small RAM allocated
 * at its exact size, a fake MMIO window, an HTIF-like watched page and a diff-snapshot bitmap.
 *
 * Input: a header (read field by field below; short inputs read zeros), then where the RAM image starts
 * (in 256-byte units) and the bytes of the RAM image (code at RAM_BASE + entry, data after it). The
 * harness adds page tables that map the RAM with flags from the input, starts in M, S or U mode with
 * arbitrary (architecturally reachable) CSR state and paging off, Sv39 or Sv48, then runs the hart for
 * RUNS runs of BUDGET instructions, letting traps land on input-chosen handlers and device lines come and
 * go between runs.
 */
#ifndef WISP_FUZZ_CPU_HARNESS_H
#define WISP_FUZZ_CPU_HARNESS_H

#include "fuzz.h"

#include "../tests/unit/fake_hart.h"

#define RAM_PAGES 16
#define RAM_SIZE (RAM_PAGES * PAGE_SIZE)
#define PT_PAGE 12 /* pages 12..15: page tables built by the harness */
#define DATA_PAGES PT_PAGE
#define WATCH_PAGE 11
#define MMIO_BASE 0x10000000ull
#define MMIO_SIZE 0x1000ull
#define RUNS 64
#define BUDGET 256

struct fuzz_hart {
	struct fake_hart *h;
	uint64_t mmio_reg[MMIO_SIZE / 8];
	unsigned watch_writes;
	_Atomic uint64_t dirty[(RAM_PAGES + 63) / 64]; /* diff-snapshot bitmap: the MMU marks stores here */
	/* From the input: device lines and when they toggle between runs. */
	uint64_t hw_irqs, irq_toggle;
};

static bool fh_mmio_read(void *opaque, uint64_t pa, unsigned size, uint64_t *val)
{
	struct fuzz_hart *fh = opaque;
	if (pa < MMIO_BASE || pa - MMIO_BASE >= MMIO_SIZE || (pa & (size - 1)))
		return false;
	uint64_t v = fh->mmio_reg[(pa - MMIO_BASE) / 8] >> (8 * (pa & 7));
	*val = size == 8 ? v : v & ((1ull << (8 * size)) - 1);
	return true;
}

static bool fh_mmio_write(void *opaque, uint64_t pa, unsigned size, uint64_t val)
{
	struct fuzz_hart *fh = opaque;
	if (pa < MMIO_BASE || pa - MMIO_BASE >= MMIO_SIZE || (pa & (size - 1)))
		return false;
	uint64_t *r = &fh->mmio_reg[(pa - MMIO_BASE) / 8];
	unsigned sh = 8 * (unsigned)(pa & 7);
	uint64_t mask = size == 8 ? ~0ull : ((1ull << (8 * size)) - 1) << sh;
	*r = (*r & ~mask) | ((val << sh) & mask);
	return true;
}

static bool fh_watch_write(void *opaque, uint64_t pa, unsigned size, uint64_t val)
{
	struct fuzz_hart *fh = opaque;
	(void)val;
	FUZZ_CHECK(pa >= FAKE_RAM_BASE + WATCH_PAGE * PAGE_SIZE &&
		   pa + size <= FAKE_RAM_BASE + (WATCH_PAGE + 1) * PAGE_SIZE);
	fh->watch_writes++;
	return true;
}

static uint64_t fh_time(void *opaque)
{
	return ((struct fuzz_hart *)opaque)->h->now;
}

/* A stand-in for the VMM's SBI: S-mode ecalls with a7 odd are "handled" here, the rest trap. */
static bool fh_ecall(void *opaque, struct rv_cpu *cpu)
{
	(void)opaque;
	if (!(cpu->x[17] & 1))
		return false;
	cpu->x[10] = cpu->x[11] ^ cpu->x[12];
	if (cpu->x[17] & 2)
		mmu__flush(&cpu->mmu);
	cpu__request_exit(cpu);
	return true;
}

static struct fuzz_hart *fuzz_hart__new(void)
{
	struct fuzz_hart *fh = calloc(1, sizeof(*fh));
	if (!fh)
		abort();
	struct fake_hart *h = fake_hart__new();
	if (!h)
		abort();
	fh->h = h;
	/* Guest RAM exactly as large as the bus says, so ASan sees any host access past it. */
	free(h->bus.ram);
	h->bus.ram = malloc(RAM_SIZE);
	if (!h->bus.ram)
		abort();
	h->bus.ram_size = RAM_SIZE;
	h->bus.opaque = fh;
	h->bus.mmio_read = fh_mmio_read;
	h->bus.mmio_write = fh_mmio_write;
	h->bus.watch_page = FAKE_RAM_BASE + WATCH_PAGE * PAGE_SIZE;
	h->bus.watch_write = fh_watch_write;
	h->bus.dirty = fh->dirty;
	return fh;
}

static uint64_t fh_pt_addr(unsigned page)
{
	return FAKE_RAM_BASE + (uint64_t)page * PAGE_SIZE;
}

static void fh_put_pte(struct fuzz_hart *fh, uint64_t table_pa, unsigned idx, uint64_t pte)
{
	memcpy(fh->h->bus.ram + (table_pa - FAKE_RAM_BASE) + 8 * (idx & 511), &pte, 8);
}

static uint64_t fh_pte_to(uint64_t pa, uint64_t flags)
{
	return ((pa >> 12) << 10) | flags;
}

/*
 * Page tables: VA 0x80000000.. (and, with Sv48, the same in the upper half) maps the RAM pages one to one
 * through 4 KiB leaves whose flags come from the input; VA 0 is a 2 MiB superpage (misaligned if the input
 * says so); a few raw PTEs from the input land anywhere in the tables.
 */
static uint64_t fh_page_tables(struct fuzz_hart *fh, struct fz *f, bool sv48)
{
	uint64_t root = fh_pt_addr(PT_PAGE), l1 = fh_pt_addr(PT_PAGE + 1), l0 = fh_pt_addr(PT_PAGE + 2);
	uint64_t top = fh_pt_addr(PT_PAGE + 3);
	fh_put_pte(fh, root, 2, fh_pte_to(l1, 1)); /* VA 2 GiB..3 GiB */
	fh_put_pte(fh, l1, 0, fh_pte_to(l0, 1));
	for (unsigned i = 0; i < RAM_PAGES; i++) {
		uint8_t fl = fz__u8(f);
		/* Mostly valid leaves: V, then RWXUAD from the input. */
		uint64_t flags = (fl & 0x80) ? fl : (uint64_t)(fl | 1);
		fh_put_pte(fh, l0, i, fh_pte_to(FAKE_RAM_BASE + i * PAGE_SIZE, flags));
	}
	uint8_t sp = fz__u8(f);
	fh_put_pte(fh, l1, 1, fh_pte_to(FAKE_RAM_BASE + ((sp & 0x80) ? PAGE_SIZE : 0), 0xc0 | (sp & 0x1f) | 1));
	fh_put_pte(fh, root, 0, fh_pte_to(l1, 1));
	unsigned raw = fz__u8(f) & 3;
	for (unsigned i = 0; i < raw; i++) {
		unsigned where = fz__u16(f);
		fh_put_pte(fh, fh_pt_addr(PT_PAGE + (where >> 9) % 4), where & 511, fz__u64(f));
	}
	if (!sv48)
		return root;
	fh_put_pte(fh, top, 0, fh_pte_to(root, 1));
	fh_put_pte(fh, top, 511, fh_pte_to(root, 1));
	return top;
}

static uint64_t fh_reg_value(struct fz *f)
{
	uint8_t b = fz__u8(f);
	if (b < 0x80)
		return FAKE_RAM_BASE + (uint64_t)b * (RAM_SIZE / 0x80); /* a RAM pointer */
	if (b < 0xc0)
		return fz__u64(f);
	if (b < 0xe0)
		return MMIO_BASE + (uint64_t)(b - 0xc0) * 8;
	return (uint64_t)(int64_t)(int8_t)(b << 3) >> 3; /* a small integer */
}

/* Set the hart up from the input (see the top of this file), with the given CPU backend. */
static void fuzz_hart__setup(struct fuzz_hart *fh, const uint8_t *data, size_t size, enum rv_backend backend)
{
	struct fake_hart *h = fh->h;
	struct fz f = { data, size };
	uint8_t *ram = h->bus.ram;
	memset(ram, 0, RAM_SIZE);
	h->now = 0;
	memset(fh->mmio_reg, 0, sizeof(fh->mmio_reg));
	fh->watch_writes = 0;
	struct rv_platform plat = { .opaque = fh, .time = fh_time, .ecall = NULL };

	/* Header. */
	uint8_t mode = fz__u8(&f);
	if (mode & 0x80)
		plat.ecall = fh_ecall;
	struct rv_cpu *cpu = h->cpu;
	cpu__recycle(cpu, fz__u8(&f) & 7, &h->bus, &plat);
	char err[128];
	if (cpu__set_backend(cpu, backend, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	unsigned priv = mode & 3;
	unsigned paging = (mode >> 2) & 3; /* 0, 3: bare; 1: Sv39; 2: Sv48 */
	uint64_t entry = FAKE_RAM_BASE + (fz__u16(&f) & (2 * PAGE_SIZE - 2));
	/* CSR values in this order (read one by one: the input layout must not depend on the compiler). */
	static const struct {
		unsigned csr, bytes; /* bytes: 1, 2 or 8 from the input; 0x10: a trap vector; 0x20: reg_value() */
	} csr_fields[] = {
		{ CSR_NUM_MSTATUS, 8 },     { CSR_NUM_MEDELEG, 2 },     { CSR_NUM_MIDELEG, 2 },  { CSR_NUM_MIE, 2 },
		{ CSR_NUM_MIP, 2 },         { CSR_NUM_MTVEC, 0x10 },    { CSR_NUM_STVEC, 0x10 }, { CSR_NUM_MEPC, 0x10 },
		{ CSR_NUM_SEPC, 0x10 },     { CSR_NUM_MCOUNTEREN, 1 },  { CSR_NUM_SCOUNTEREN, 1 }, { CSR_NUM_FCSR, 1 },
		{ CSR_NUM_MSCRATCH, 0x20 }, { CSR_NUM_SSCRATCH, 0x20 },
	};
	enum { NCSR = sizeof(csr_fields) / sizeof(csr_fields[0]) };
	uint64_t csr_val[NCSR];
	for (unsigned i = 0; i < NCSR; i++) {
		unsigned b = csr_fields[i].bytes;
		if (b == 0x10)
			csr_val[i] = FAKE_RAM_BASE + (fz__u16(&f) & (2 * PAGE_SIZE - 1));
		else if (b == 0x20)
			csr_val[i] = fh_reg_value(&f);
		else
			csr_val[i] = fz__bytes(&f, b);
	}
	/* Every field set the way M-mode software would (WARL rules applied), FS on for the FCSR write. */
	csr__write(cpu, CSR_NUM_MSTATUS, MSTATUS_FS);
	for (unsigned i = NCSR; i-- > 0;) /* mstatus last: it may turn FS off */
		csr__write(cpu, csr_fields[i].csr, csr_val[i]);
	fh->hw_irqs = fz__u16(&f) & (MIP_MSIP | MIP_MTIP | MIP_MEIP | MIP_SEIP | MIP_STIP);
	fh->irq_toggle = fz__u16(&f);
	for (unsigned i = 1; i < 32; i++)
		cpu->x[i] = fh_reg_value(&f);
	for (unsigned i = 0; i < 32; i += 4)
		cpu->f[i] = fz__u64(&f);
	if (paging == 1 || paging == 2) {
		uint64_t root = fh_page_tables(fh, &f, paging == 2);
		csr__write(cpu, CSR_NUM_SATP, ((paging == 1 ? 8ull : 9ull) << 60) | (root >> 12));
	}
	/* The rest of the input: RAM contents from ram_off on (code at entry, data behind it). */
	size_t ram_off = (size_t)fz__u8(&f) * 256 % (DATA_PAGES * PAGE_SIZE);
	size_t room = DATA_PAGES * PAGE_SIZE - ram_off;
	fz__copy(&f, ram + ram_off, fz__left(&f) < room ? fz__left(&f) : room);

	cpu->pc = entry;
	cpu->priv = priv == 2 ? PRV_M : (int)priv;
	cpu__update_mmu(cpu);
	cpu__set_mip(cpu, fh->hw_irqs, true);
}

/* One run of the hart, then what happens between runs (time passes, device lines toggle). */
static uint64_t fuzz_hart__run(struct fuzz_hart *fh, unsigned run, enum rv_exit *why)
{
	struct rv_cpu *cpu = fh->h->cpu;
	uint64_t done = cpu__run(cpu, BUDGET, why);
	fh->h->now += 1000;
	if ((fh->irq_toggle >> (run % 16)) & 1)
		cpu__set_mip(cpu, fh->hw_irqs, run & 1);
	if (*why == RV_EXIT_WFI && !cpu__irq_pending(cpu, true))
		cpu__set_mip(cpu, MIP_MTIP | MIP_STIP, true); /* a sleeping hart would wake on a timer */
	return done;
}

#endif
