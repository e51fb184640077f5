/* Sv39/Sv48 translation on page tables built in the fake RAM, through mmu__translate(). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_hart.h"

#define PTE_G (1ull << 5)
#define RWX (PTE_R | PTE_W | PTE_X)
#define LEAF (PTE_V | PTE_A | PTE_D)

#define SATP_SV39 (8ull << 60)
#define SATP_SV48 (9ull << 60)

#define PT_POOL (FAKE_RAM_BASE + 0x100000) /* page-table pages come from here */
#define PAGES (FAKE_RAM_BASE + 0x200000)   /* data pages */

struct mmu_fix {
	struct fake_hart *h;
	struct rv_cpu *cpu;
	uint64_t next; /* next free page-table page */
	uint64_t root;
	int levels;
};

static uint64_t pt_alloc(struct mmu_fix *f)
{
	uint64_t pa = f->next;
	f->next += PAGE_SIZE;
	memset(fake_hart__ram(f->h, pa), 0, PAGE_SIZE);
	return pa;
}

static void use_mode(struct mmu_fix *f, int levels)
{
	f->levels = levels;
	f->root = pt_alloc(f);
	f->cpu->satp = (levels == 4 ? SATP_SV48 : SATP_SV39) | (f->root >> PAGE_SHIFT);
	mmu__flush(&f->cpu->mmu);
}

static int setup(void **state)
{
	struct mmu_fix *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->h = fake_hart__new();
	if (!f->h) {
		free(f);
		return -1;
	}
	f->cpu = f->h->cpu;
	f->next = PT_POOL;
	f->cpu->priv = PRV_S;
	use_mode(f, 3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct mmu_fix *f = *state;
	fake_hart__free(f->h);
	free(f);
	return 0;
}

static uint64_t *pte_ptr(struct mmu_fix *f, uint64_t table, uint64_t idx)
{
	return (uint64_t *)fake_hart__ram(f->h, table + 8 * idx);
}

/*
 * Map va -> pa with a leaf at `level` (0 = 4K, 1 = 2M, 2 = 1G, 3 = 512G), creating pointer PTEs
 * as needed. flags are the leaf's low bits, used as given. Returns the leaf PTE.
 */
static uint64_t *map(struct mmu_fix *f, uint64_t va, uint64_t pa, int level, uint64_t flags)
{
	uint64_t table = f->root;
	for (int lvl = f->levels - 1; lvl > level; lvl--) {
		uint64_t *p = pte_ptr(f, table, (va >> (12 + 9 * lvl)) & 0x1ff);
		if (!(*p & PTE_V))
			*p = (pt_alloc(f) >> PAGE_SHIFT) << 10 | PTE_V;
		table = ((*p >> 10) & ((1ull << 44) - 1)) << PAGE_SHIFT;
	}
	uint64_t *leaf = pte_ptr(f, table, (va >> (12 + 9 * level)) & 0x1ff);
	*leaf = (pa >> PAGE_SHIFT) << 10 | flags;
	return leaf;
}

static uint64_t expect_ok(struct mmu_fix *f, uint64_t va, enum rv_access acc)
{
	uint64_t pa = 0, cause = 0xbad;
	cpu__update_mmu(f->cpu); /* the tests set priv, mstatus and satp directly */
	if (!mmu__translate(&f->cpu->mmu, va, acc, &pa, &cause))
		fail_msg("va 0x%llx acc %d: unexpected fault, cause %llu", (unsigned long long)va, acc,
			 (unsigned long long)cause);
	return pa;
}

static void expect_fault(struct mmu_fix *f, uint64_t va, enum rv_access acc, uint64_t want)
{
	uint64_t pa = 0xbad, cause = 0xbad;
	cpu__update_mmu(f->cpu);
	if (mmu__translate(&f->cpu->mmu, va, acc, &pa, &cause))
		fail_msg("va 0x%llx acc %d: translated to 0x%llx, expected cause %llu", (unsigned long long)va, acc,
			 (unsigned long long)pa, (unsigned long long)want);
	assert_int_equal(cause, want);
}

static void expect_page_faults(struct mmu_fix *f, uint64_t va)
{
	expect_fault(f, va, ACC_READ, EXC_LOAD_PAGE);
	expect_fault(f, va, ACC_WRITE, EXC_STORE_PAGE);
	expect_fault(f, va, ACC_EXEC, EXC_INSN_PAGE);
}

static void test_sv39_4k(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0x40001000, PAGES, 0, LEAF | RWX);
	assert_int_equal(expect_ok(f, 0x40001234, ACC_READ), PAGES + 0x234);
	assert_int_equal(expect_ok(f, 0x40001ff8, ACC_WRITE), PAGES + 0xff8);
	assert_int_equal(expect_ok(f, 0x40001000, ACC_EXEC), PAGES);
	/* The neighbours share the tables but have no leaf. */
	expect_page_faults(f, 0x40002000);
	expect_page_faults(f, 0x40000fff);
}

static void test_sv39_megapage(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0x40200000, 0x80400000, 1, LEAF | RWX);
	assert_int_equal(expect_ok(f, 0x40200000, ACC_READ), 0x80400000);
	assert_int_equal(expect_ok(f, 0x40212345, ACC_WRITE), 0x80412345);
	assert_int_equal(expect_ok(f, 0x403ffffe, ACC_EXEC), 0x805ffffe);
	expect_page_faults(f, 0x40400000);
}

static void test_sv39_gigapage(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0xc0000000, 0x80000000, 2, LEAF | RWX);
	assert_int_equal(expect_ok(f, 0xc1234567, ACC_READ), 0x81234567);
	assert_int_equal(expect_ok(f, 0xfffffff8, ACC_WRITE), 0xbffffff8);
	/* Top of the address space: index 511 at level 2. */
	map(f, 0xffffffffc0000000ull, 0x40000000, 2, LEAF | PTE_R);
	assert_int_equal(expect_ok(f, 0xffffffffc0000123ull, ACC_READ), 0x40000123);
	expect_fault(f, 0xffffffffc0000123ull, ACC_WRITE, EXC_STORE_PAGE);
}

static void test_sv48(void **state)
{
	struct mmu_fix *f = *state;
	use_mode(f, 4);
	map(f, 0x00007f8000001000ull, PAGES, 0, LEAF | RWX);
	assert_int_equal(expect_ok(f, 0x00007f8000001abcull, ACC_READ), PAGES + 0xabc);
	map(f, 0xffff800000002000ull, PAGES + 0x1000, 0, LEAF | PTE_R);
	assert_int_equal(expect_ok(f, 0xffff800000002008ull, ACC_READ), PAGES + 0x1008);
	/* Canonical under Sv48 though not under Sv39. */
	map(f, 0x0000004000000000ull, PAGES + 0x2000, 0, LEAF | PTE_R);
	assert_int_equal(expect_ok(f, 0x0000004000000010ull, ACC_READ), PAGES + 0x2010);
	/* A 512 GiB leaf at the top level. */
	map(f, 0x0000008000000000ull, 0, 3, LEAF | PTE_R);
	assert_int_equal(expect_ok(f, 0x0000008012345678ull, ACC_READ), 0x12345678);
	/* 2M and 1G leaves in a 4-level walk. */
	map(f, 0x0000000040200000ull, 0x80400000, 1, LEAF | PTE_R);
	assert_int_equal(expect_ok(f, 0x0000000040234567ull, ACC_READ), 0x80434567);
	map(f, 0x0000000080000000ull, 0x80000000, 2, LEAF | PTE_R);
	assert_int_equal(expect_ok(f, 0x00000000bfffffffull, ACC_READ), 0xbfffffff);
}

/* Every root entry a leaf (1G under Sv39, 512G under Sv48) mapping its own range. */
static void fill_root(struct mmu_fix *f)
{
	int shift = 12 + 9 * (f->levels - 1);
	for (uint64_t i = 0; i < 512; i++)
		*pte_ptr(f, f->root, i) = ((i << shift) >> PAGE_SHIFT) << 10 | LEAF | RWX;
}

static void test_noncanonical(void **state)
{
	struct mmu_fix *f = *state;
	/* Fill the root with leaves so that only the sign-extension check can make these fail. */
	fill_root(f);
	expect_page_faults(f, 0x0000004000000000ull); /* bit 38 set, 63:39 clear */
	expect_page_faults(f, 0x8000000000000000ull);
	expect_page_faults(f, 0xffffff7fffffffffull);
	expect_page_faults(f, 0x0000010000000000ull);

	use_mode(f, 4);
	fill_root(f);
	expect_page_faults(f, 0x0000800000000000ull); /* bit 47 set, 63:48 clear */
	expect_page_faults(f, 0xffff7fffffffffffull);
	expect_page_faults(f, 0x0001000000000000ull);
	assert_int_equal(expect_ok(f, 0x0000000000001000ull, ACC_READ), 0x1000);
}

static void test_invalid_pte(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0x40001000, PAGES, 0, (LEAF | RWX) & ~PTE_V);
	expect_page_faults(f, 0x40001000);
	/* Empty root: faults at the top level. */
	expect_page_faults(f, 0x3fc0000000ull);
}

static void test_w_without_r_reserved(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0x40001000, PAGES, 0, LEAF | PTE_W);
	expect_page_faults(f, 0x40001000);
	map(f, 0x40002000, PAGES, 0, LEAF | PTE_W | PTE_X);
	expect_page_faults(f, 0x40002000);
	/* The same at a superpage level. */
	map(f, 0x40200000, 0x80400000, 1, LEAF | PTE_W);
	expect_page_faults(f, 0x40200000);
}

static void test_misaligned_superpage(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0x40200000, 0x80401000, 1, LEAF | RWX); /* 2M leaf, PPN not 2M aligned */
	expect_page_faults(f, 0x40200000);
	expect_page_faults(f, 0x40300000);
	map(f, 0xc0000000, 0x80200000, 2, LEAF | RWX); /* 1G leaf, PPN not 1G aligned */
	expect_page_faults(f, 0xc0000000);
}

static void test_user_page_from_s(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0x40001000, PAGES, 0, LEAF | RWX | PTE_U);
	/* Without SUM: no access at all. */
	expect_page_faults(f, 0x40001000);
	/* With SUM: loads and stores, still no execution. */
	f->cpu->mstatus |= MSTATUS_SUM;
	assert_int_equal(expect_ok(f, 0x40001010, ACC_READ), PAGES + 0x10);
	assert_int_equal(expect_ok(f, 0x40001010, ACC_WRITE), PAGES + 0x10);
	expect_fault(f, 0x40001010, ACC_EXEC, EXC_INSN_PAGE);
	/* U-mode can use it fully. */
	f->cpu->priv = PRV_U;
	f->cpu->mstatus &= ~MSTATUS_SUM;
	assert_int_equal(expect_ok(f, 0x40001010, ACC_EXEC), PAGES + 0x10);
	assert_int_equal(expect_ok(f, 0x40001010, ACC_WRITE), PAGES + 0x10);
}

static void test_supervisor_page_from_u(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0x40001000, PAGES, 0, LEAF | RWX);
	f->cpu->priv = PRV_U;
	expect_page_faults(f, 0x40001000);
	f->cpu->mstatus |= MSTATUS_SUM; /* SUM is about S touching U pages, not the reverse */
	expect_page_faults(f, 0x40001000);
}

static void test_mxr(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0x40001000, PAGES, 0, LEAF | PTE_X);
	expect_fault(f, 0x40001000, ACC_READ, EXC_LOAD_PAGE);
	assert_int_equal(expect_ok(f, 0x40001000, ACC_EXEC), PAGES);
	f->cpu->mstatus |= MSTATUS_MXR;
	assert_int_equal(expect_ok(f, 0x40001008, ACC_READ), PAGES + 8);
	expect_fault(f, 0x40001008, ACC_WRITE, EXC_STORE_PAGE);
	/* MXR does not make non-executable pages readable. */
	map(f, 0x40002000, PAGES, 0, LEAF | PTE_R | PTE_W);
	f->cpu->mstatus &= ~MSTATUS_MXR;
	assert_int_equal(expect_ok(f, 0x40002000, ACC_READ), PAGES);
}

static void test_permission_causes(void **state)
{
	struct mmu_fix *f = *state;
	map(f, 0x40001000, PAGES, 0, LEAF | PTE_R);
	assert_int_equal(expect_ok(f, 0x40001000, ACC_READ), PAGES);
	expect_fault(f, 0x40001000, ACC_WRITE, EXC_STORE_PAGE);
	expect_fault(f, 0x40001000, ACC_EXEC, EXC_INSN_PAGE);

	map(f, 0x40002000, PAGES, 0, LEAF | PTE_R | PTE_W);
	assert_int_equal(expect_ok(f, 0x40002000, ACC_WRITE), PAGES);
	expect_fault(f, 0x40002000, ACC_EXEC, EXC_INSN_PAGE);

	map(f, 0x40003000, PAGES, 0, LEAF | PTE_X);
	expect_fault(f, 0x40003000, ACC_READ, EXC_LOAD_PAGE);
	expect_fault(f, 0x40003000, ACC_WRITE, EXC_STORE_PAGE);

	map(f, 0x40004000, PAGES, 0, LEAF | PTE_R | PTE_X);
	assert_int_equal(expect_ok(f, 0x40004000, ACC_EXEC), PAGES);
	expect_fault(f, 0x40004000, ACC_WRITE, EXC_STORE_PAGE);
}

static void test_accessed_dirty(void **state)
{
	struct mmu_fix *f = *state;
	uint64_t *pte = map(f, 0x40001000, PAGES, 0, PTE_V | PTE_R | PTE_W);
	assert_int_equal(expect_ok(f, 0x40001000, ACC_READ), PAGES);
	assert_true(*pte & PTE_A);
	assert_false(*pte & PTE_D);
	assert_int_equal(expect_ok(f, 0x40001000, ACC_WRITE), PAGES);
	assert_true(*pte & PTE_A);
	assert_true(*pte & PTE_D);
	/* The PPN and permissions survive the update. */
	assert_int_equal(*pte, (PAGES >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);

	/* A store straight away sets both. */
	pte = map(f, 0x40002000, PAGES, 0, PTE_V | PTE_R | PTE_W);
	expect_ok(f, 0x40002000, ACC_WRITE);
	assert_int_equal(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);

	/* Fetch sets A only. */
	pte = map(f, 0x40003000, PAGES, 0, PTE_V | PTE_X);
	expect_ok(f, 0x40003000, ACC_EXEC);
	assert_int_equal(*pte & (PTE_A | PTE_D), PTE_A);

	/* A faulting access updates nothing. */
	pte = map(f, 0x40004000, PAGES, 0, PTE_V | PTE_R);
	expect_fault(f, 0x40004000, ACC_WRITE, EXC_STORE_PAGE);
	assert_int_equal(*pte & (PTE_A | PTE_D), 0);

	/* Superpage leaves too. */
	pte = map(f, 0x40200000, 0x80400000, 1, PTE_V | PTE_R | PTE_W);
	expect_ok(f, 0x40234560, ACC_WRITE);
	assert_int_equal(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);
}

static void test_mprv(void **state)
{
	struct mmu_fix *f = *state;
	struct rv_cpu *cpu = f->cpu;
	map(f, 0x40001000, PAGES, 0, LEAF | PTE_R | PTE_W);
	cpu->priv = PRV_M;
	/* M-mode ignores satp. */
	assert_int_equal(expect_ok(f, 0x40001000, ACC_READ), 0x40001000);

	cpu->mstatus |= MSTATUS_MPRV | ((uint64_t)PRV_S << 11);
	assert_int_equal(expect_ok(f, 0x40001010, ACC_READ), PAGES + 0x10);
	assert_int_equal(expect_ok(f, 0x40001010, ACC_WRITE), PAGES + 0x10);
	/* Fetches are not affected by MPRV. */
	assert_int_equal(expect_ok(f, 0x40001010, ACC_EXEC), 0x40001010);
	expect_fault(f, 0x40002000, ACC_READ, EXC_LOAD_PAGE);

	/* MPP = U: the U-bit rules apply. */
	cpu->mstatus &= ~MSTATUS_MPP;
	expect_fault(f, 0x40001010, ACC_READ, EXC_LOAD_PAGE);

	/* MPP = M: no translation. */
	cpu->mstatus |= MSTATUS_MPP;
	assert_int_equal(expect_ok(f, 0x40001010, ACC_READ), 0x40001010);
}

static void test_bare(void **state)
{
	struct mmu_fix *f = *state;
	f->cpu->satp = 0;
	assert_int_equal(expect_ok(f, 0x1234567890ull, ACC_READ), 0x1234567890ull);
	assert_int_equal(expect_ok(f, 0xffffffffffffff00ull, ACC_EXEC), 0xffffffffffffff00ull);
	f->cpu->priv = PRV_U;
	assert_int_equal(expect_ok(f, 0x80000000, ACC_WRITE), 0x80000000);
}

static void test_pte_outside_ram(void **state)
{
	struct mmu_fix *f = *state;
	/* Root table outside RAM. */
	f->cpu->satp = SATP_SV39 | (0x1000 >> PAGE_SHIFT);
	expect_fault(f, 0x40001000, ACC_READ, EXC_LOAD_ACCESS);
	expect_fault(f, 0x40001000, ACC_WRITE, EXC_STORE_ACCESS);
	expect_fault(f, 0x40001000, ACC_EXEC, EXC_INSN_ACCESS);

	/* Next-level table outside RAM. */
	use_mode(f, 3);
	*pte_ptr(f, f->root, 1) = (0x2000ull >> PAGE_SHIFT) << 10 | PTE_V;
	expect_fault(f, 0x40001000, ACC_READ, EXC_LOAD_ACCESS);
	expect_fault(f, 0x40001000, ACC_WRITE, EXC_STORE_ACCESS);
	expect_fault(f, 0x40001000, ACC_EXEC, EXC_INSN_ACCESS);
}

static void test_reserved_pte_bits(void **state)
{
	struct mmu_fix *f = *state;
	/* PBMT (62:61) and bits 60:54 are reserved without Svpbmt/Svnapot. */
	map(f, 0x40001000, PAGES, 0, LEAF | RWX | (1ull << 61));
	expect_page_faults(f, 0x40001000);
	map(f, 0x40002000, PAGES, 0, LEAF | RWX | (1ull << 54));
	expect_page_faults(f, 0x40002000);
}

static void test_pointer_at_last_level(void **state)
{
	struct mmu_fix *f = *state;
	/* A level-0 PTE with R=W=X=0 is a pointer with nowhere to go. */
	map(f, 0x40001000, PAGES, 0, PTE_V);
	expect_page_faults(f, 0x40001000);
}

/* The whole path: S-mode code fetched and data loaded through Sv39, then a store page fault. */
static void test_exec_through_page_tables(void **state)
{
	struct mmu_fix *f = *state;
	struct fake_hart *h = f->h;
	struct rv_cpu *cpu = f->cpu;
	const uint64_t code_va = 0x10000, data_va = 0x20000;
	const uint64_t code_pa = PAGES + 0x10000, data_pa = PAGES + 0x20000;
	map(f, code_va, code_pa, 0, LEAF | PTE_R | PTE_X);
	map(f, data_va, data_pa, 0, LEAF | PTE_R);
	fake_hart__put64(h, data_pa + 0x10, 0x1122334455667788ull);
	const uint32_t prog[] = { LD(R_A0, R_T0, 0x10), SD(R_A0, R_T0, 0x18) };
	fake_hart__load(h, code_pa, prog, 2);

	cpu->mtvec = FAKE_RAM_BASE + 0x8000;
	cpu->x[R_T0] = data_va;
	uint64_t satp = cpu->satp;
	cpu->satp = 0;
	assert_true(csr__write(cpu, CSR_NUM_SATP, satp));
	cpu->priv = PRV_S;
	cpu->pc = code_va;
	cpu__update_mmu(cpu);
	cpu__run(cpu, 10, NULL);
	assert_int_equal(cpu->x[R_A0], 0x1122334455667788ull);
	assert_int_equal(cpu->priv, PRV_M);
	assert_int_equal(cpu->mcause, EXC_STORE_PAGE);
	assert_int_equal(cpu->mtval, data_va + 0x18);
	assert_int_equal(cpu->mepc, code_va + 4);
	assert_int_equal(fake_hart__get64(h, data_pa + 0x18), 0);

	/* Fetch from an unmapped page. */
	cpu->priv = PRV_S;
	cpu->pc = 0x30000;
	cpu__update_mmu(cpu);
	cpu__run(cpu, 10, NULL);
	assert_int_equal(cpu->mcause, EXC_INSN_PAGE);
	assert_int_equal(cpu->mtval, 0x30000);
	assert_int_equal(cpu->mepc, 0x30000);
}

/* A 32-bit instruction whose halves sit on two virtual pages backed by unrelated frames. */
static void test_fetch_across_pages(void **state)
{
	struct mmu_fix *f = *state;
	struct fake_hart *h = f->h;
	struct rv_cpu *cpu = f->cpu;
	const uint32_t insn = ADDI(R_A0, 0, 0x123);
	map(f, 0x10000, PAGES + 0x10000, 0, LEAF | PTE_R | PTE_X);
	map(f, 0x11000, PAGES + 0x30000, 0, LEAF | PTE_R | PTE_X);
	fake_hart__put16(h, PAGES + 0x10ffe, (uint16_t)insn);
	fake_hart__put16(h, PAGES + 0x30000, (uint16_t)(insn >> 16));
	fake_hart__put16(h, PAGES + 0x11000, 0xffff); /* what a physically contiguous read would see */
	cpu->mtvec = FAKE_RAM_BASE + 0x8000;
	cpu->pc = 0x10ffe;
	cpu__update_mmu(cpu);
	assert_int_equal(cpu__run(cpu, 1, NULL), 1);
	assert_int_equal(cpu->x[R_A0], 0x123);
	assert_int_equal(cpu->pc, 0x11002);

	/* Second page not executable: the fault names the second half, epc the instruction. */
	map(f, 0x13000, PAGES + 0x30000, 0, LEAF | PTE_R);
	map(f, 0x12000, PAGES + 0x10000, 0, LEAF | PTE_R | PTE_X);
	cpu->pc = 0x12ffe;
	cpu__run(cpu, 1, NULL);
	assert_int_equal(cpu->priv, PRV_M);
	assert_int_equal(cpu->mcause, EXC_INSN_PAGE);
	assert_int_equal(cpu->mepc, 0x12ffe);
	assert_int_equal(cpu->mtval, 0x13000);
}

/* Working-set sampling (src/mem/wss.c): a TLB fill of a marked page clears the mark and counts it, once;
 * TLB hits are not seen (the sampler empties the TLBs when it marks pages); unmarked pages count nothing. */
static void test_ws_sample(void **state)
{
	struct mmu_fix *f = *state;
	struct rv_bus *bus = f->cpu->mmu.bus;
	_Atomic uint8_t marks[FAKE_RAM_SIZE >> PAGE_SHIFT];
	memset((void *)marks, 0, sizeof(marks));
	bus->ws_sample = marks;
	atomic_store(&bus->ws_touched, 0);
	uint64_t pg = (PAGES - FAKE_RAM_BASE) >> PAGE_SHIFT;
	map(f, 0x40001000, PAGES, 0, LEAF | RWX);
	map(f, 0x40002000, PAGES + PAGE_SIZE, 0, LEAF | RWX);
	marks[pg] = 1;
	mmu__flush(&f->cpu->mmu);
	cpu__update_mmu(f->cpu);
	*(uint64_t *)fake_hart__ram(f->h, PAGES + 8) = 0x1122334455667788ull;
	assert_int_equal(mmu__load_slow(&f->cpu->mmu, 0x40001008, 8), 0x1122334455667788ull);
	assert_int_equal(marks[pg], 0);
	assert_int_equal(atomic_load(&bus->ws_touched), 1);
	/* Again (a TLB hit now, or a fill of a page no longer marked): no second count. */
	mmu__load_slow(&f->cpu->mmu, 0x40001010, 8);
	mmu__flush(&f->cpu->mmu);
	mmu__store_slow(&f->cpu->mmu, 0x40001010, 8, 5);
	assert_int_equal(atomic_load(&bus->ws_touched), 1);
	/* An unmarked neighbour counts nothing; marked again, a store's fill counts it. */
	mmu__load_slow(&f->cpu->mmu, 0x40002000, 8);
	assert_int_equal(atomic_load(&bus->ws_touched), 1);
	marks[pg + 1] = 1;
	mmu__flush(&f->cpu->mmu);
	mmu__store_slow(&f->cpu->mmu, 0x40002000, 4, 7);
	assert_int_equal(marks[pg + 1], 0);
	assert_int_equal(atomic_load(&bus->ws_touched), 2);
	bus->ws_sample = NULL;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sv39_4k),
		T(test_sv39_megapage),
		T(test_sv39_gigapage),
		T(test_sv48),
		T(test_noncanonical),
		T(test_invalid_pte),
		T(test_w_without_r_reserved),
		T(test_misaligned_superpage),
		T(test_user_page_from_s),
		T(test_supervisor_page_from_u),
		T(test_mxr),
		T(test_permission_causes),
		T(test_accessed_dirty),
		T(test_mprv),
		T(test_bare),
		T(test_pte_outside_ram),
		T(test_reserved_pte_bits),
		T(test_pointer_at_last_level),
		T(test_exec_through_page_tables),
		T(test_fetch_across_pages),
		T(test_ws_sample),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
