/* Sv39/Sv48 page walk, soft TLB fill and the slow paths of guest memory access. */
#include "mmu/mmu.h"

#include <stdatomic.h>
#include <string.h>

#include "isa/rv.h"


void bus__code_dma(const struct rv_bus *bus, uint64_t gpa, uint64_t len)
{
	if (!bus->code || !bus->code_dma || !len)
		return;
	uint64_t first = (gpa - bus->ram_base) >> PAGE_SHIFT;
	uint64_t last = (gpa + len - 1 - bus->ram_base) >> PAGE_SHIFT;
	for (uint64_t p = first; p <= last && p < (bus->ram_size >> PAGE_SHIFT); p++)
		if (atomic_load_explicit(&bus->code[p], memory_order_relaxed))
			bus->code_dma(bus->opaque, bus->ram_base + (p << PAGE_SHIFT));
}

void mmu__flush_jc(struct rv_mmu *mmu)
{
	if (mmu->jc)
		memset(mmu->jc, 0xff, sizeof(struct rv_jc_entry) * CTX_COUNT * JC_SIZE);
}

void mmu__flush(struct rv_mmu *mmu)
{
	memset(mmu->tlb, 0xff, sizeof(mmu->tlb));
	mmu__flush_jc(mmu);
}

void mmu__flush_page(struct rv_mmu *mmu, uint64_t va)
{
	unsigned idx = (unsigned)((va >> PAGE_SHIFT) & (TLB_SIZE - 1));
	for (int c = 0; c < CTX_COUNT; c++)
		for (int a = 0; a < 3; a++)
			if (mmu->tlb[c][a][idx].tag == (va & PAGE_MASK))
				mmu->tlb[c][a][idx].tag = ~0ull;
	if (mmu->jc)
		for (unsigned i = 0; i < CTX_COUNT * JC_SIZE; i++)
			if ((mmu->jc[i].vpc & PAGE_MASK) == (va & PAGE_MASK))
				mmu->jc[i].vpc = ~0ull;
}

void mmu__unmap_write(struct rv_mmu *mmu, const uint8_t *hpage)
{
	for (int c = 0; c < CTX_COUNT; c++) {
		struct rv_tlb_entry *set = mmu->tlb[c][ACC_WRITE];
		for (unsigned i = 0; i < TLB_SIZE; i++)
			if (set[i].tag != ~0ull && set[i].tag + set[i].addend == (uintptr_t)hpage)
				set[i].tag = ~0ull;
	}
}

void mmu__init(struct rv_mmu *mmu, struct rv_bus *bus, const struct rv_mmu_owner *owner)
{
	mmu->bus = bus;
	mmu->walks = 0;
	mmu->owner = owner->owner;
	mmu->raise = owner->raise;
	mmu->store_watched = owner->store_watched;
	mmu__flush(mmu);
	mmu__set_mode(mmu, PRV_M, PRV_M, false, false, 0);
}

/* A guest exception: the owner unwinds to its run loop. */
_Noreturn static void raise_exc(struct rv_mmu *m, uint64_t cause, uint64_t tval)
{
	m->raise(m->owner, cause, tval);
	__builtin_unreachable();
}

static int ctx_of(int priv, bool sum)
{
	return priv == PRV_M ? CTX_M : priv == PRV_S ? (sum ? CTX_S_SUM : CTX_S) : CTX_U;
}

void mmu__set_mode(struct rv_mmu *m, unsigned priv, unsigned data_priv, bool sum, bool mxr, uint64_t satp)
{
	m->priv = (uint8_t)priv;
	m->data_priv = (uint8_t)data_priv;
	m->sum = sum;
	m->mxr = mxr;
	m->satp = satp;
	int d = ctx_of((int)data_priv, sum);
	m->rtlb = m->tlb[d][ACC_READ];
	m->wtlb = m->tlb[d][ACC_WRITE];
	int x = ctx_of((int)priv, false);
	m->xtlb = m->tlb[x][ACC_EXEC];
	m->xjc = m->jc ? m->jc + (size_t)x * JC_SIZE : NULL;
	bool bare = d == CTX_M || (satp >> 60) == SATP_MODE_BARE;
	if (bare != m->bare_data)
		mmu__flush_jc(m); /* translations are specialised on it */
	m->bare_data = bare;
	m->ram_base = m->bus->ram_base;
	m->ram_limit = m->bus->ram_size >= 8 ? m->bus->ram_size - 8 : 0;
	m->ram = m->bus->ram;
}

/* Record a write to the RAM page holding paddr in the dirty bitmap (diff snapshots), when there is one. */
static inline void mark_dirty(const struct rv_bus *bus, uint64_t paddr)
{
	if (bus->dirty) {
		uint64_t pfn = (paddr - bus->ram_base) >> PAGE_SHIFT;
		atomic_fetch_or_explicit(&bus->dirty[pfn / 64], 1ull << (pfn % 64), memory_order_relaxed);
	}
}

static uint64_t fault_cause(enum rv_access acc, bool page)
{
	switch (acc) {
	case ACC_READ:
		return page ? EXC_LOAD_PAGE : EXC_LOAD_ACCESS;
	case ACC_WRITE:
		return page ? EXC_STORE_PAGE : EXC_STORE_ACCESS;
	default:
		return page ? EXC_INSN_PAGE : EXC_INSN_ACCESS;
	}
}

bool mmu__translate(struct rv_mmu *m, uint64_t va, enum rv_access acc, uint64_t *pa, uint64_t *cause)
{
	int priv = acc == ACC_EXEC ? m->priv : m->data_priv;
	unsigned mode = (unsigned)(m->satp >> 60);
	if (priv == PRV_M || mode == SATP_MODE_BARE) {
		*pa = va;
		return true;
	}
	int levels = mode == SATP_MODE_SV48 ? 4 : 3;
	int vabits = 12 + 9 * levels;
	/* The upper bits must be a sign extension of the top VA bit. */
	int64_t sext = (int64_t)(va << (64 - vabits)) >> (64 - vabits);
	if ((uint64_t)sext != va) {
		*cause = fault_cause(acc, true);
		return false;
	}
	m->walks++;
	struct rv_bus *bus = m->bus;
	uint64_t table = (m->satp & ((1ull << 44) - 1)) << PAGE_SHIFT;
	for (int level = levels - 1; level >= 0; level--) {
		uint64_t idx = (va >> (12 + 9 * level)) & 0x1ff;
		_Atomic uint64_t *ptep = (_Atomic uint64_t *)bus__ram_ptr(bus, table + idx * 8, 8);
		if (!ptep) {
			*cause = fault_cause(acc, false);
			return false;
		}
		uint64_t pte = *ptep;
		if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte & PTE_RESERVED))
			break;
		uint64_t ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
		if (!(pte & (PTE_R | PTE_X))) {
			if (pte & (PTE_A | PTE_D | PTE_U))
				break; /* non-leaf PTEs keep these clear */
			table = ppn << PAGE_SHIFT;
			continue;
		}
		/* Leaf: superpages must be aligned. */
		uint64_t lowmask = (1ull << (9 * level)) - 1;
		if (ppn & lowmask)
			break;
		bool sum = m->sum, mxr = m->mxr;
		if (priv == PRV_U) {
			if (!(pte & PTE_U))
				break;
		} else if (pte & PTE_U) {
			if (!sum || acc == ACC_EXEC)
				break;
		}
		bool ok;
		switch (acc) {
		case ACC_READ:
			ok = (pte & PTE_R) || (mxr && (pte & PTE_X));
			break;
		case ACC_WRITE:
			ok = pte & PTE_W;
			break;
		default:
			ok = pte & PTE_X;
			break;
		}
		if (!ok)
			break;
		uint64_t want = PTE_A | (acc == ACC_WRITE ? PTE_D : 0);
		if ((pte & want) != want) {
			/* Hardware A/D update: atomic so a racing hart or guest write is not lost. */
			uint64_t expect = pte;
			if (!atomic_compare_exchange_strong(ptep, &expect, pte | want)) {
				level++; /* PTE changed under us: walk this level again */
				continue;
			}
			mark_dirty(bus, table + idx * 8); /* diff snapshots must see the new A/D bits */
		}
		uint64_t vpn_low = (va >> PAGE_SHIFT) & lowmask;
		*pa = ((ppn | vpn_low) << PAGE_SHIFT) | (va & (PAGE_SIZE - 1));
		return true;
	}
	*cause = fault_cause(acc, true);
	return false;
}

/* Translate and, for RAM, install the page in the current TLB set. Raises on failure. */
static uint64_t fill(struct rv_mmu *m, uint64_t va, enum rv_access acc, uint8_t **host)
{
	uint64_t pa, cause;
	if (!mmu__translate(m, va, acc, &pa, &cause))
		raise_exc(m, cause, va);
	struct rv_bus *bus = m->bus;
	uint8_t *h = bus__ram_ptr(bus, pa & PAGE_MASK, PAGE_SIZE);
	*host = h ? h + (pa & (PAGE_SIZE - 1)) : NULL;
	if (!h)
		return pa;
	if (bus->ws_sample) {
		_Atomic uint8_t *ws = &bus->ws_sample[(pa - bus->ram_base) >> PAGE_SHIFT];
		if (atomic_load_explicit(ws, memory_order_relaxed) && atomic_exchange_explicit(ws, 0, memory_order_relaxed))
			atomic_fetch_add_explicit(&bus->ws_touched, 1, memory_order_relaxed);
	}
	if (acc == ACC_WRITE && (pa & PAGE_MASK) == bus->watch_page) {
		*host = NULL;
		return pa;
	}
	if (acc == ACC_WRITE) {
		mark_dirty(bus, pa);
		if (bus__write_watched(bus, pa))
			return pa; /* stores must keep coming here: see store_one_page */
	}
	struct rv_tlb_entry *set = acc == ACC_READ ? m->rtlb : acc == ACC_WRITE ? m->wtlb : m->xtlb;
	struct rv_tlb_entry *e = &set[(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
	e->tag = va & PAGE_MASK;
	e->addend = (uintptr_t)h - (uintptr_t)(va & PAGE_MASK);
	return pa;
}

static uint64_t load_one_page(struct rv_mmu *m, uint64_t va, unsigned size)
{
	uint8_t *h = tlb__lookup(m->rtlb, va);
	uint64_t pa = 0;
	if (!h)
		pa = fill(m, va, ACC_READ, &h);
	if (h) {
		uint64_t v = 0;
		memcpy(&v, h, size);
		return v;
	}
	uint64_t v;
	if (!m->bus->mmio_read(m->bus->opaque, pa, size, &v))
		raise_exc(m, EXC_LOAD_ACCESS, va);
	return v;
}

uint64_t mmu__load_slow(struct rv_mmu *m, uint64_t va, unsigned size)
{
	unsigned in_page = (unsigned)(PAGE_SIZE - (va & (PAGE_SIZE - 1)));
	if (in_page >= size)
		return load_one_page(m, va, size);
	/* Misaligned access across a page boundary: byte by byte, low address first. */
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= load_one_page(m, va + i, 1) << (8 * i);
	return v;
}

static void store_one_page(struct rv_mmu *m, uint64_t va, unsigned size, uint64_t val)
{
	uint8_t *h = tlb__lookup(m->wtlb, va);
	uint64_t pa = 0;
	if (!h) {
		pa = fill(m, va, ACC_WRITE, &h);
		if (h)
			m->store_watched(m->owner, pa, size);
	}
	if (h) {
		memcpy(h, &val, size);
		return;
	}
	struct rv_bus *bus = m->bus;
	if ((pa & PAGE_MASK) == bus->watch_page) {
		uint8_t *r = bus__ram_ptr(bus, pa, size);
		memcpy(r, &val, size);
		mark_dirty(bus, pa);
		if (bus->watch_write)
			bus->watch_write(bus->opaque, pa, size, val);
		return;
	}
	if (!bus->mmio_write(bus->opaque, pa, size, val))
		raise_exc(m, EXC_STORE_ACCESS, va);
}

void mmu__store_slow(struct rv_mmu *m, uint64_t va, unsigned size, uint64_t val)
{
	unsigned in_page = (unsigned)(PAGE_SIZE - (va & (PAGE_SIZE - 1)));
	if (in_page >= size) {
		store_one_page(m, va, size, val);
		return;
	}
	/* Check both pages before writing anything, so a fault leaves memory untouched. */
	uint64_t pa, cause;
	if (!mmu__translate(m, va, ACC_WRITE, &pa, &cause))
		raise_exc(m, cause, va);
	if (!mmu__translate(m, va + in_page, ACC_WRITE, &pa, &cause))
		raise_exc(m, cause, va + in_page);
	for (unsigned i = 0; i < size; i++)
		store_one_page(m, va + i, 1, val >> (8 * i));
}

const uint8_t *mmu__fetch_page(struct rv_mmu *m, uint64_t va)
{
	uint8_t *h = tlb__lookup(m->xtlb, va);
	if (h)
		return h - (va & (PAGE_SIZE - 1));
	fill(m, va, ACC_EXEC, &h);
	if (!h)
		raise_exc(m, EXC_INSN_ACCESS, va);
	return h - (va & (PAGE_SIZE - 1));
}

void *mmu__amo_ptr_quiet(struct rv_mmu *m, uint64_t va, unsigned size, uint64_t *paddr)
{
	if (va & (size - 1))
		raise_exc(m, EXC_STORE_MISALIGNED, va);
	uint8_t *h = tlb__lookup(m->wtlb, va);
	if (!h)
		fill(m, va, ACC_WRITE, &h);
	if (!h)
		raise_exc(m, EXC_STORE_ACCESS, va);
	*paddr = m->bus->ram_base + (uint64_t)(h - m->bus->ram);
	return h;
}

void *mmu__amo_ptr(struct rv_mmu *m, uint64_t va, unsigned size, bool load_only)
{
	if (va & (size - 1))
		raise_exc(m, load_only ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED, va);
	if (load_only) {
		uint8_t *h = tlb__lookup(m->rtlb, va);
		if (!h)
			fill(m, va, ACC_READ, &h);
		if (!h)
			raise_exc(m, EXC_LOAD_ACCESS, va);
		return h;
	}
	uint8_t *h = tlb__lookup(m->wtlb, va);
	if (!h) {
		uint64_t pa = fill(m, va, ACC_WRITE, &h);
		if (!h)
			raise_exc(m, EXC_STORE_ACCESS, va);
		m->store_watched(m->owner, pa, size);
	}
	return h;
}
