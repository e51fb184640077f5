/*
 * Fuzz target: the Sv39/Sv48 page walk (mmu__translate) on arbitrary page tables, virtual addresses,
 * access types and privilege state, checked against an independent reference walk written from the
 * privileged spec (4.3.2 / 4.4 / 4.5): same success, physical address, exception cause and A/D update.
 * Each successful or faulting translation is then repeated as a real access through the soft TLB
 * (mmu__load_slow / mmu__store_slow / mmu__fetch_page / mmu__amo_ptr), which must read or write the same
 * RAM bytes or raise the same exception.
 *
 * Input: satp mode and root page, then up to 255 (slot, word) writes into the otherwise zero RAM (16 pages;
 * a word with bit 63 set becomes a PTE pointing into RAM, so most walks stay in RAM), then queries (access
 * type, privilege, mstatus bits, virtual address, store value) until the input ends.
 */
#include <setjmp.h>

#include "fuzz.h"

#include "cpu/cpu.h"

#define RAM_BASE 0x80000000ull
#define RAM_PAGES 16
#define RAM_SIZE (RAM_PAGES * PAGE_SIZE)
#define MAX_QUERIES 64


static struct rv_bus bus;
static struct rv_cpu *cpu;

static bool no_mmio_read(void *o, uint64_t pa, unsigned size, uint64_t *val)
{
	(void)o, (void)pa, (void)size, (void)val;
	return false;
}

static bool no_mmio_write(void *o, uint64_t pa, unsigned size, uint64_t val)
{
	(void)o, (void)pa, (void)size, (void)val;
	return false;
}

static uint64_t zero_time(void *o)
{
	(void)o;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	cpu = calloc(1, sizeof(*cpu));
	if (!cpu)
		abort();
	bus = (struct rv_bus){ .ram_base = RAM_BASE, .ram_size = RAM_SIZE, .mmio_read = no_mmio_read,
			       .mmio_write = no_mmio_write, .watch_page = ~0ull };
	return 0;
}

/* ---- the reference walk ---- */

struct ref {
	bool ok;
	uint64_t pa, cause;
	uint64_t pte_addr, new_pte; /* A/D update to expect; pte_addr == 0: none */
};

static uint64_t ref_cause(enum rv_access acc, bool page)
{
	if (acc == ACC_READ)
		return page ? EXC_LOAD_PAGE : EXC_LOAD_ACCESS;
	if (acc == ACC_WRITE)
		return page ? EXC_STORE_PAGE : EXC_STORE_ACCESS;
	return page ? EXC_INSN_PAGE : EXC_INSN_ACCESS;
}

static struct ref ref_walk(const uint8_t *ram, uint64_t satp, int priv, uint64_t mstatus, uint64_t va,
			   enum rv_access acc)
{
	struct ref r = { 0 };
	/* The effective privilege: MPRV redirects M-mode loads and stores (never fetches) to MPP's. */
	int eff = priv;
	if (acc != ACC_EXEC && priv == PRV_M && (mstatus & MSTATUS_MPRV))
		eff = (int)((mstatus >> 11) & 3);
	unsigned mode = (unsigned)(satp >> 60);
	if (eff == PRV_M || mode == 0) {
		r.ok = true;
		r.pa = va;
		return r;
	}
	int levels = mode == 9 ? 4 : 3;
	unsigned vabits = 12 + 9 * (unsigned)levels;
	/* Bits 63..vabits must all equal bit vabits-1. */
	uint64_t top = va >> (vabits - 1);
	if (top != 0 && top != (~0ull >> (vabits - 1))) {
		r.cause = ref_cause(acc, true);
		return r;
	}
	uint64_t a = (satp & ((1ull << 44) - 1)) * PAGE_SIZE;
	for (int i = levels - 1;; i--) {
		uint64_t vpn_i = (va >> (12 + 9 * i)) & 511;
		uint64_t pte_addr = a + vpn_i * 8;
		if (pte_addr < RAM_BASE || pte_addr + 8 > RAM_BASE + RAM_SIZE) {
			r.cause = ref_cause(acc, false);
			return r;
		}
		uint64_t pte;
		memcpy(&pte, ram + (pte_addr - RAM_BASE), 8);
		bool v = pte & PTE_V, rr = pte & PTE_R, w = pte & PTE_W, x = pte & PTE_X;
		/* Bits 63..54 (N, PBMT, reserved): no Svnapot, no Svpbmt here, so all reserved. */
		if (!v || (!rr && w) || (pte >> 54)) {
			r.cause = ref_cause(acc, true);
			return r;
		}
		uint64_t ppn = (pte >> 10) & ((1ull << 44) - 1);
		if (!rr && !x) {
			/* Pointer to the next level: D, A and U are reserved in non-leaf PTEs. */
			if ((pte & (PTE_D | PTE_A | PTE_U)) || i == 0) {
				r.cause = ref_cause(acc, true);
				return r;
			}
			a = ppn * PAGE_SIZE;
			continue;
		}
		/* Leaf: privilege, then permission, then superpage alignment, then A/D. */
		bool u = pte & PTE_U;
		bool allowed;
		if (eff == PRV_U)
			allowed = u;
		else /* S: U pages only for loads and stores with SUM */
			allowed = !u || (acc != ACC_EXEC && (mstatus & MSTATUS_SUM));
		if (allowed) {
			if (acc == ACC_READ)
				allowed = rr || (x && (mstatus & MSTATUS_MXR));
			else if (acc == ACC_WRITE)
				allowed = w;
			else
				allowed = x;
		}
		if (!allowed || (i > 0 && (ppn & ((1ull << (9 * i)) - 1)))) {
			r.cause = ref_cause(acc, true);
			return r;
		}
		uint64_t want = PTE_A | (acc == ACC_WRITE ? PTE_D : 0);
		if ((pte & want) != want) {
			r.pte_addr = pte_addr;
			r.new_pte = pte | want;
		}
		uint64_t low = (1ull << (9 * i)) - 1;
		r.ok = true;
		r.pa = (((ppn & ~low) | ((va >> 12) & low)) << 12) | (va & (PAGE_SIZE - 1));
		return r;
	}
}

/* ---- the harness ---- */

static uint64_t get64(const uint8_t *ram, uint64_t pa)
{
	uint64_t v;
	memcpy(&v, ram + (pa - RAM_BASE), 8);
	return v;
}

static bool in_ram(uint64_t pa, uint64_t len)
{
	return pa >= RAM_BASE && pa - RAM_BASE <= RAM_SIZE && len <= RAM_SIZE - (pa - RAM_BASE);
}

/* Run one access through the TLB paths; returns true if it raised, with the cause. */
static bool access_raises(enum rv_access acc, uint64_t va, unsigned size, bool amo, uint64_t val,
			  uint64_t *loaded, const uint8_t **fetched, uint64_t *cause)
{
	int priv = cpu->priv;
	uint64_t mstatus = cpu->mstatus;
	if (setjmp(cpu->trap_jmp)) {
		*cause = cpu->mcause;
		/* The trap moved the hart to M: put it back (mmu contexts included). */
		cpu->priv = priv;
		cpu->mstatus = mstatus;
		cpu__update_mmu(cpu);
		return true;
	}
	if (amo)
		*loaded = (uint64_t)(uintptr_t)mmu__amo_ptr(&cpu->mmu, va, size, acc == ACC_READ);
	else if (acc == ACC_READ)
		*loaded = mmu__load_slow(&cpu->mmu, va, size);
	else if (acc == ACC_WRITE)
		mmu__store_slow(&cpu->mmu, va, size, val);
	else
		*fetched = mmu__fetch_page(&cpu->mmu, va);
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!cpu)
		LLVMFuzzerInitialize(NULL, NULL);
	struct fz f = { data, size };
	uint8_t *ram = malloc(RAM_SIZE); /* exactly RAM_SIZE: ASan sees any access past it */
	if (!ram)
		return 0;
	bus.ram = ram;
	struct rv_platform plat = { .opaque = NULL, .time = zero_time, .ecall = NULL };
	static bool inited;
	if (inited)
		cpu__recycle(cpu, 0, &bus, &plat); /* keeps the backend's allocations */
	else
		cpu__init(cpu, 0, &bus, &plat);
	inited = true;

	uint8_t hdr = fz__u8(&f);
	static const uint64_t modes[4] = { 8, 9, 0, 8 };
	uint64_t satp_mode = modes[hdr & 3];
	uint64_t root = (RAM_BASE >> 12) + ((hdr >> 2) & 15);
	if (hdr & 0x40)
		root = fz__u64(&f); /* anywhere, usually outside RAM */
	/* RAM: zero but for up to 255 words from the input (PTEs, mostly); a word with bit 63 set is turned into
	 * a PTE pointing into RAM (bit 62: to a 2 MiB-aligned page, a superpage candidate), keeping its flags. */
	memset(ram, 0, RAM_SIZE);
	unsigned nwords = fz__u8(&f);
	for (unsigned i = 0; i < nwords; i++) {
		unsigned slot = fz__u16(&f) % (RAM_SIZE / 8);
		uint64_t pte = fz__u64(&f);
		if (pte >> 63) {
			uint64_t ppn = (RAM_BASE >> 12) + ((pte >> 10) & (RAM_PAGES - 1));
			if (pte & (1ull << 62))
				ppn &= ~0x1ffull;
			pte = (ppn << 10) | (pte & 0x3ff);
		}
		memcpy(ram + 8 * slot, &pte, 8);
	}
	csr__write(cpu, 0x180, (satp_mode << 60) | (root & ((1ull << 44) - 1)));

	for (unsigned q = 0; q < MAX_QUERIES && fz__left(&f); q++) {
		uint8_t op = fz__u8(&f);
		uint8_t st = fz__u8(&f);
		enum rv_access acc = (enum rv_access)((op & 3) == 3 ? ACC_EXEC : (op & 3));
		static const int privs[4] = { PRV_U, PRV_S, PRV_M, PRV_S };
		/* M-mode writable mstatus bits that matter here: SUM, MXR, MPRV, MPP. */
		uint64_t ms = (st & 1 ? MSTATUS_SUM : 0) | (st & 2 ? MSTATUS_MXR : 0) | (st & 4 ? MSTATUS_MPRV : 0) |
			      ((uint64_t)((st >> 3) & 3) << 11);
		cpu->priv = PRV_M;
		csr__write(cpu, 0x300, (cpu->mstatus & ~(MSTATUS_SUM | MSTATUS_MXR | MSTATUS_MPRV | MSTATUS_MPP)) | ms);
		cpu->priv = privs[(op >> 2) & 3];
		cpu__update_mmu(cpu);
		uint64_t va;
		if (op & 0x10) {
			va = fz__u64(&f);
		} else {
			unsigned vabits = satp_mode == 9 ? 48 : 39;
			uint64_t raw = fz__bytes(&f, 6);
			va = (uint64_t)((int64_t)(raw << (64 - vabits)) >> (64 - vabits));
		}
		static const unsigned sizes[4] = { 1, 2, 4, 8 };
		unsigned asize = sizes[(op >> 5) & 3];
		bool amo = (op & 0x80) && acc != ACC_EXEC;
		if (amo)
			asize = asize < 4 ? 4 : asize;

		struct ref want = ref_walk(ram, cpu->satp, cpu->priv, cpu->mstatus, va, acc);
		uint64_t pa = 0, cause = 0;
		uint64_t walks = cpu->mmu.walks;
		bool ok = mmu__translate(&cpu->mmu, va, acc, &pa, &cause);
		FUZZ_CHECK(ok == want.ok);
		if (ok)
			FUZZ_CHECK(pa == want.pa);
		else
			FUZZ_CHECK(cause == want.cause);
		if (want.pte_addr)
			FUZZ_CHECK(get64(ram, want.pte_addr) == want.new_pte);
		FUZZ_CHECK(cpu->mmu.walks >= walks);

		/* The same access for real, through the TLB (it may hit an entry filled by an earlier query). */
		uint64_t loaded = 0, got_cause = 0, val = fz__u64(&f);
		const uint8_t *fetched = NULL;
		/* Only aligned, single-page accesses have one translation to compare against. */
		va &= ~(uint64_t)(asize - 1);
		if (acc == ACC_EXEC)
			va &= PAGE_MASK;
		want = ref_walk(ram, cpu->satp, cpu->priv, cpu->mstatus, va, acc);
		bool raised = access_raises(acc, va, asize, amo, val, &loaded, &fetched, &got_cause);
		if (acc == ACC_WRITE && !amo)
			mmu__flush(&cpu->mmu); /* the store may have rewritten a PTE behind a cached translation */
		bool ram_ok = want.ok && in_ram(want.pa, asize);
		if (!want.ok) {
			FUZZ_CHECK(raised && got_cause == want.cause);
			continue;
		}
		if (!ram_ok) {
			/* Not RAM: the fake bus refuses it, so an access fault (fetch: access fault too). */
			FUZZ_CHECK(raised && got_cause == ref_cause(acc, false));
			continue;
		}
		FUZZ_CHECK(!raised);
		uint8_t *host = ram + (want.pa - RAM_BASE);
		if (amo) {
			FUZZ_CHECK(loaded == (uint64_t)(uintptr_t)host);
		} else if (acc == ACC_READ) {
			uint64_t v = 0;
			memcpy(&v, host, asize);
			FUZZ_CHECK(loaded == v);
		} else if (acc == ACC_WRITE) {
			uint64_t v = 0;
			memcpy(&v, host, asize);
			FUZZ_CHECK(v == (asize == 8 ? val : val & ((1ull << (8 * asize)) - 1)));
		} else {
			FUZZ_CHECK(fetched == host);
		}
	}
	bus.ram = NULL;
	free(ram);
	return 0;
}
