/* Guest physical address space as the hart sees it, and the soft TLB in front of it. */
#ifndef WISP_MMU_H
#define WISP_MMU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The physical bus: one RAM range that the hart reads and writes directly, and a dispatch for
 * everything else (device registers). The machine fills this in; the MMU never knows devices.
 */
struct rv_bus {
	uint8_t *ram;
	uint64_t ram_base, ram_size;
	void *opaque;
	bool (*mmio_read)(void *opaque, uint64_t paddr, unsigned size, uint64_t *val);
	bool (*mmio_write)(void *opaque, uint64_t paddr, unsigned size, uint64_t val);
	/* Writes to this physical page always take the slow path (HTIF tohost); ~0 when unused. */
	uint64_t watch_page;
	bool (*watch_write)(void *opaque, uint64_t paddr, unsigned size, uint64_t val);
	/* One bit per RAM page written since the bits were last cleared (diff snapshots); may be NULL. */
	_Atomic uint64_t *dirty;
	/*
	 * Guest code tracking, shared by the harts: one word per RAM page; bits 0..31 say which harts
	 * decoded or translated instructions from it, bits 32..63 which 128-byte chunks those are in. Pages
	 * with code never enter a write TLB, so stores to them reach the slow path, which drops the stale
	 * blocks (cpu__code_written). Allocated by the first hart (cpu__init) when NULL; the bus's owner
	 * frees it.
	 */
	_Atomic uint64_t *code;
	/* Per RAM page, nonzero when some hart's LR reservation has been on it (several harts only): stores
	 * to it take the slow path, which breaks other harts' reservations. Allocated like `code`. */
	_Atomic uint8_t *resv;
	/* A device wrote the RAM page at paddr, which holds tracked code: the machine tells the harts
	 * (cpu__post). NULL when no device writes guest memory. */
	void (*code_dma)(void *opaque, uint64_t paddr);
	/*
	 * Working-set sampling (src/mem/wss.c): one byte per RAM page, nonzero while the page is in the current
	 * sample and not yet touched. A TLB fill of such a page clears its byte and counts it in ws_touched (the
	 * sampler empties every hart's TLB when it picks a sample, so the first access after that fills). NULL when
	 * the board has none.
	 */
	_Atomic uint8_t *ws_sample;
	_Atomic uint64_t ws_touched;
};

/* A device (DMA) wrote [gpa, gpa + len) of RAM: harts drop what they decoded there. */
void bus__code_dma(const struct rv_bus *bus, uint64_t gpa, uint64_t len);

/* Host pointer for a RAM range, or NULL when [paddr, paddr+len) is not all RAM. */
static inline uint8_t *bus__ram_ptr(const struct rv_bus *bus, uint64_t paddr, uint64_t len)
{
	uint64_t off = paddr - bus->ram_base;
	if (paddr < bus->ram_base || off > bus->ram_size || len > bus->ram_size - off)
		return NULL;
	return bus->ram + off;
}

#define TLB_BITS 9
#define TLB_SIZE (1u << TLB_BITS)
#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

enum rv_access { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2 };

struct rv_tlb_entry {
	uint64_t tag;     /* virtual page address, or ~0 when empty */
	uintptr_t addend; /* host address = guest virtual address + addend */
};

/* The code map's chunks: 32 per page (bits 32..63 of its word). */
#define CODE_CHUNK_SHIFT 7

/* The code-map chunk bits (as in the word) of [off, off + len) within a page. */
static inline uint64_t code__chunks(unsigned off, unsigned len)
{
	unsigned first = off >> CODE_CHUNK_SHIFT, last = (off + (len ? len : 1) - 1) >> CODE_CHUNK_SHIFT;
	if (last > 31)
		last = 31;
	uint64_t mask = (last == 31 ? 0xffffffffull : (2ull << last) - 1) & ~((1ull << first) - 1);
	return mask << 32;
}

/* Does [paddr, paddr + len) (within one page) overlap chunks holding tracked code? */
static inline bool bus__code_hit(const struct rv_bus *bus, uint64_t paddr, unsigned len)
{
	uint64_t off = paddr - bus->ram_base;
	uint64_t word = atomic_load_explicit(&bus->code[off >> PAGE_SHIFT], memory_order_relaxed);
	return word && (word & code__chunks((unsigned)(off & (PAGE_SIZE - 1)), len));
}

/* Stores to this page must take the slow path (code on it, or an LR reservation has been there). */
static inline bool bus__write_watched(const struct rv_bus *bus, uint64_t paddr)
{
	uint64_t pg = (paddr - bus->ram_base) >> PAGE_SHIFT;
	return atomic_load_explicit(&bus->code[pg], memory_order_relaxed) ||
	       (bus->resv && atomic_load_explicit(&bus->resv[pg], memory_order_relaxed));
}

/*
 * Translation contexts: one TLB set per effective privilege (and for S-mode data, per value of
 * sstatus.SUM, which Linux toggles around every user-memory access), so neither traps nor SUM
 * changes need a flush.
 */
enum { CTX_U = 0, CTX_S = 1, CTX_S_SUM = 2, CTX_M = 3, CTX_COUNT = 4 };

/*
 * The translator's jump cache: guest virtual pc -> translated code, one table per fetch context. It
 * caches what an instruction fetch through the exec TLB would find, so it is flushed with the TLB
 * (satp writes, sfence.vma, MXR changes) and when translations are dropped.
 */
struct rv_jc_entry {
	uint64_t vpc; /* ~0 when empty */
	const void *code;
};

#define JC_BITS 10
#define JC_SIZE (1u << JC_BITS)

static inline unsigned jc__index(uint64_t vpc)
{
	return (unsigned)(vpc >> 1) & (JC_SIZE - 1);
}

struct rv_mmu {
	struct rv_bus *bus;
	struct rv_tlb_entry tlb[CTX_COUNT][3][TLB_SIZE];
	/* Current sets for data reads, data writes and fetches. */
	struct rv_tlb_entry *rtlb, *wtlb, *xtlb;
	/* Jump cache: jc[CTX_COUNT][JC_SIZE] when the translator runs (else NULL), and the current table. */
	struct rv_jc_entry *jc, *xjc;
	/*
	 * Data accesses are not translated now (M-mode data, or satp Bare): loads may then go straight to
	 * RAM, [ram, ram + ram_size) at guest physical ram_base (ram_limit = ram_size - 8: the last bytes
	 * take the slow path). Kept up to date by mmu__update_ctx.
	 */
	bool bare_data;
	uint64_t ram_base, ram_limit;
	uint8_t *ram;
	/*
	 * The translation regime, given by the CPU (mmu__set_mode) whenever priv, mstatus or satp change:
	 * the privilege of fetches and of data accesses (MPRV applied), mstatus.SUM and MXR, satp.
	 */
	uint8_t priv, data_priv;
	bool sum, mxr;
	uint64_t satp;
	/*
	 * The owner (a hart): `raise` takes a guest exception and does not return (it unwinds to the
	 * owner's run loop); `store_watched` is told of stores to pages with tracked code or reservations.
	 */
	void *owner;
	void (*raise)(void *owner, uint64_t cause, uint64_t tval);
	void (*store_watched)(void *owner, uint64_t paddr, unsigned len);
	/* Statistics. */
	uint64_t walks;
};

static inline void *tlb__lookup(const struct rv_tlb_entry *t, uint64_t va)
{
	const struct rv_tlb_entry *e = &t[(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
	if (e->tag == (va & PAGE_MASK))
		return (void *)(uintptr_t)(va + e->addend);
	return NULL;
}

struct rv_mmu_owner {
	void *owner;
	void (*raise)(void *owner, uint64_t cause, uint64_t tval); /* never returns */
	void (*store_watched)(void *owner, uint64_t paddr, unsigned len);
};

void mmu__init(struct rv_mmu *mmu, struct rv_bus *bus, const struct rv_mmu_owner *owner);
void mmu__flush(struct rv_mmu *mmu);
/* Drop the translations of one virtual page (sfence.vma with an address). */
void mmu__flush_page(struct rv_mmu *mmu, uint64_t va);
/* Empty the jump cache (translations were dropped). */
void mmu__flush_jc(struct rv_mmu *mmu);
/* Drop write-TLB entries that map the RAM page at host address `hpage` (it now holds tracked code). */
void mmu__unmap_write(struct rv_mmu *mmu, const uint8_t *hpage);
/*
 * The translation regime changed: privilege of fetches and of data accesses (PRV_U/S/M), mstatus.SUM and
 * MXR, satp. Picks the current TLB sets.
 */
void mmu__set_mode(struct rv_mmu *mmu, unsigned priv, unsigned data_priv, bool sum, bool mxr, uint64_t satp);

/*
 * Translate va for an access; on success returns true and the physical address. On failure
 * returns false and the exception cause (page fault or access fault) in *cause.
 */
bool mmu__translate(struct rv_mmu *mmu, uint64_t va, enum rv_access acc, uint64_t *pa, uint64_t *cause);

/* Slow paths (raise guest exceptions on failure). */
uint64_t mmu__load_slow(struct rv_mmu *mmu, uint64_t va, unsigned size);
void mmu__store_slow(struct rv_mmu *mmu, uint64_t va, unsigned size, uint64_t val);
/* Host pointer to the page holding va for instruction fetch (raises on failure). */
const uint8_t *mmu__fetch_page(struct rv_mmu *mmu, uint64_t va);
/* Host pointer for an atomic access (aligned, RAM only; write permission unless load_only). SC passes
 * quiet: it tells a store's effects on watched pages itself (store_watched), and only if it wrote. */
void *mmu__amo_ptr(struct rv_mmu *mmu, uint64_t va, unsigned size, bool load_only);
void *mmu__amo_ptr_quiet(struct rv_mmu *mmu, uint64_t va, unsigned size, uint64_t *paddr);

#endif
