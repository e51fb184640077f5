/*
 * Fuzz target: the interpreter (decoder, executor, CSRs, traps, FPU, MMU slow paths) on arbitrary
 * instruction words, starting in M, S or U mode with arbitrary (architecturally reachable) CSR state and
 * paging off, Sv39 or Sv48, over the unit tests' fake hart with a small RAM allocated at its exact size.
 *
 * Input: a header (read field by field below; short inputs read zeros), then where the RAM image starts
 * (in 256-byte units) and the bytes of the RAM image (code at RAM_BASE + entry, data after it). The harness adds page tables that map the
 * RAM with flags from the input, a fake MMIO window and an HTIF-like watched page, then runs the hart for
 * a bounded number of instructions, letting traps land on input-chosen handlers.
 *
 * Checked after every cpu__run: x0 == 0, priv is U/S/M, MPP is never the reserved 2, pc is even, and every
 * soft-TLB entry points into guest RAM (so no guest access can touch host memory outside it); ASan/UBSan
 * catch the rest.
 */
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

static struct fake_hart *h;
static uint64_t mmio_reg[MMIO_SIZE / 8];
static _Atomic uint64_t dirty[(RAM_PAGES + 63) / 64]; /* diff-snapshot bitmap: the MMU marks stores here */

static bool mmio_read(void *opaque, uint64_t pa, unsigned size, uint64_t *val)
{
	(void)opaque;
	if (pa < MMIO_BASE || pa - MMIO_BASE >= MMIO_SIZE || (pa & (size - 1)))
		return false;
	uint64_t v = mmio_reg[(pa - MMIO_BASE) / 8] >> (8 * (pa & 7));
	*val = size == 8 ? v : v & ((1ull << (8 * size)) - 1);
	return true;
}

static bool mmio_write(void *opaque, uint64_t pa, unsigned size, uint64_t val)
{
	(void)opaque;
	if (pa < MMIO_BASE || pa - MMIO_BASE >= MMIO_SIZE || (pa & (size - 1)))
		return false;
	uint64_t *r = &mmio_reg[(pa - MMIO_BASE) / 8];
	unsigned sh = 8 * (unsigned)(pa & 7);
	uint64_t mask = size == 8 ? ~0ull : ((1ull << (8 * size)) - 1) << sh;
	*r = (*r & ~mask) | ((val << sh) & mask);
	return true;
}

static unsigned watch_writes;

static bool watch_write(void *opaque, uint64_t pa, unsigned size, uint64_t val)
{
	(void)opaque;
	(void)val;
	FUZZ_CHECK(pa >= FAKE_RAM_BASE + WATCH_PAGE * PAGE_SIZE && pa + size <= FAKE_RAM_BASE + (WATCH_PAGE + 1) * PAGE_SIZE);
	watch_writes++;
	return true;
}

/* A stand-in for the VMM's SBI: S-mode ecalls with a7 odd are "handled" here, the rest trap. */
static bool fake_ecall(void *opaque, struct rv_cpu *cpu)
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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	h = fake_hart__new();
	if (!h)
		abort();
	/* Guest RAM exactly as large as the bus says, so ASan sees any host access past it. */
	free(h->bus.ram);
	h->bus.ram = malloc(RAM_SIZE);
	if (!h->bus.ram)
		abort();
	h->bus.ram_size = RAM_SIZE;
	h->bus.mmio_read = mmio_read;
	h->bus.mmio_write = mmio_write;
	h->bus.watch_page = FAKE_RAM_BASE + WATCH_PAGE * PAGE_SIZE;
	h->bus.watch_write = watch_write;
	h->bus.dirty = dirty;
	return 0;
}

static uint64_t pt_addr(unsigned page)
{
	return FAKE_RAM_BASE + (uint64_t)page * PAGE_SIZE;
}

static void put_pte(uint64_t table_pa, unsigned idx, uint64_t pte)
{
	memcpy(h->bus.ram + (table_pa - FAKE_RAM_BASE) + 8 * (idx & 511), &pte, 8);
}

static uint64_t pte_to(uint64_t pa, uint64_t flags)
{
	return ((pa >> 12) << 10) | flags;
}

/*
 * Page tables: VA 0x80000000.. (and, with Sv48, the same in the upper half) maps the RAM pages one to one
 * through 4 KiB leaves whose flags come from the input; VA 0 is a 2 MiB superpage (misaligned if the input
 * says so); a few raw PTEs from the input land anywhere in the tables.
 */
static uint64_t build_page_tables(struct fz *f, bool sv48)
{
	uint64_t root = pt_addr(PT_PAGE), l1 = pt_addr(PT_PAGE + 1), l0 = pt_addr(PT_PAGE + 2);
	uint64_t top = pt_addr(PT_PAGE + 3);
	put_pte(root, 2, pte_to(l1, 1)); /* VA 2 GiB..3 GiB */
	put_pte(l1, 0, pte_to(l0, 1));
	for (unsigned i = 0; i < RAM_PAGES; i++) {
		uint8_t fl = fz__u8(f);
		/* Mostly valid leaves: V, then RWXUAD from the input. */
		uint64_t flags = (fl & 0x80) ? fl : (uint64_t)(fl | 1);
		put_pte(l0, i, pte_to(FAKE_RAM_BASE + i * PAGE_SIZE, flags));
	}
	uint8_t sp = fz__u8(f);
	put_pte(l1, 1, pte_to(FAKE_RAM_BASE + ((sp & 0x80) ? PAGE_SIZE : 0), 0xc0 | (sp & 0x1f) | 1));
	put_pte(root, 0, pte_to(l1, 1));
	unsigned raw = fz__u8(f) & 3;
	for (unsigned i = 0; i < raw; i++) {
		unsigned where = fz__u16(f);
		put_pte(pt_addr(PT_PAGE + (where >> 9) % 4), where & 511, fz__u64(f));
	}
	if (!sv48)
		return root;
	put_pte(top, 0, pte_to(root, 1));
	put_pte(top, 511, pte_to(root, 1));
	return top;
}

static uint64_t reg_value(struct fz *f)
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

static void check_invariants(const struct rv_cpu *cpu)
{
	FUZZ_CHECK(cpu->x[0] == 0);
	FUZZ_CHECK(cpu->priv == PRV_U || cpu->priv == PRV_S || cpu->priv == PRV_M);
	FUZZ_CHECK(((cpu->mstatus & MSTATUS_MPP) >> 11) != 2);
	FUZZ_CHECK((cpu->pc & 1) == 0);
}

FUZZ_NO_COVERAGE static void check_tlb(const struct rv_cpu *cpu)
{
	uintptr_t lo = (uintptr_t)h->bus.ram, hi = lo + RAM_SIZE;
	for (unsigned c = 0; c < CTX_COUNT; c++)
		for (unsigned a = 0; a < 3; a++)
			for (unsigned i = 0; i < TLB_SIZE; i++) {
				const struct rv_tlb_entry *e = &cpu->mmu.tlb[c][a][i];
				if (e->tag == ~0ull)
					continue;
				uintptr_t host = (uintptr_t)(e->tag + e->addend);
				FUZZ_CHECK(((e->tag >> PAGE_SHIFT) & (TLB_SIZE - 1)) == i);
				FUZZ_CHECK(host >= lo && host + PAGE_SIZE <= hi && (host - lo) % PAGE_SIZE == 0);
				/* The watched page never gets a write entry: its stores must take the slow path. */
				FUZZ_CHECK(a != ACC_WRITE || host - lo != WATCH_PAGE * PAGE_SIZE);
			}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!h)
		LLVMFuzzerInitialize(NULL, NULL);
	struct fz f = { data, size };
	uint8_t *ram = h->bus.ram;
	memset(ram, 0, RAM_SIZE);
	h->now = 0;
	memset(mmio_reg, 0, sizeof(mmio_reg));
	struct rv_platform plat = { .opaque = h, .time = fake_time, .ecall = NULL };

	/* Header. */
	uint8_t mode = fz__u8(&f);
	if (mode & 0x80)
		plat.ecall = fake_ecall;
	struct rv_cpu *cpu = h->cpu;
	cpu__init(cpu, fz__u8(&f) & 7, &h->bus, &plat);
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
			csr_val[i] = reg_value(&f);
		else
			csr_val[i] = fz__bytes(&f, b);
	}
	/* Every field set the way M-mode software would (WARL rules applied), FS on for the FCSR write. */
	csr__write(cpu, CSR_NUM_MSTATUS, MSTATUS_FS);
	for (unsigned i = NCSR; i-- > 0;) /* mstatus last: it may turn FS off */
		csr__write(cpu, csr_fields[i].csr, csr_val[i]);
	uint64_t hw_irqs = fz__u16(&f) & (MIP_MSIP | MIP_MTIP | MIP_MEIP | MIP_SEIP | MIP_STIP);
	uint64_t irq_toggle = fz__u16(&f);
	for (unsigned i = 1; i < 32; i++)
		cpu->x[i] = reg_value(&f);
	for (unsigned i = 0; i < 32; i += 4)
		cpu->f[i] = fz__u64(&f);
	if (paging == 1 || paging == 2) {
		uint64_t root = build_page_tables(&f, paging == 2);
		csr__write(cpu, CSR_NUM_SATP, ((paging == 1 ? 8ull : 9ull) << 60) | (root >> 12));
	}
	/* The rest of the input: RAM contents from ram_off on (code at entry, data behind it). */
	size_t ram_off = (size_t)fz__u8(&f) * 256 % (DATA_PAGES * PAGE_SIZE);
	size_t room = DATA_PAGES * PAGE_SIZE - ram_off;
	fz__copy(&f, ram + ram_off, fz__left(&f) < room ? fz__left(&f) : room);

	cpu->pc = entry;
	cpu->priv = priv == 2 ? PRV_M : (int)priv;
	mmu__update_ctx(cpu);
	cpu__set_mip(cpu, hw_irqs, true);
	watch_writes = 0;

	for (unsigned run = 0; run < RUNS; run++) {
		enum rv_exit why;
		uint64_t done = cpu__run(cpu, BUDGET, &why);
		FUZZ_CHECK(done <= BUDGET);
		check_invariants(cpu);
		if (run % 8 == 7)
			check_tlb(cpu);
		h->now += 1000;
		/* Device lines come and go between runs, as the machine's timers and PLIC would drive them. */
		if ((irq_toggle >> (run % 16)) & 1)
			cpu__set_mip(cpu, hw_irqs, run & 1);
		if (why == RV_EXIT_WFI && !cpu__irq_pending(cpu, true))
			cpu__set_mip(cpu, MIP_MTIP | MIP_STIP, true); /* a sleeping hart would wake on a timer */
	}
	cpu__set_mip(cpu, ~0ull, false);
	return 0;
}
