/* The translator's parts: code cache and block table (cache.c), translation (translate*.c), run loop
 * and helpers the generated code calls (run.c). Not visible outside src/cpu/jit. */
#ifndef WISP_CPU_JIT_INTERNAL_H
#define WISP_CPU_JIT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cpu/codepages.h"
#include "cpu/cpu.h"
#include "cpu/jit/jit.h"
#include "cpu/jit/x86.h"

/* The hart pointer the generated code uses points this far into struct rv_cpu, at x[16], so that all
 * 32 integer registers are within a signed 8-bit displacement. */
#define JIT_BIAS ((int32_t)offsetof(struct rv_cpu, x[16]))
#define CPU_OFF(field) ((int32_t)offsetof(struct rv_cpu, field) - JIT_BIAS)
#define XREG(i) M(RBX, (int32_t)(8 * (i)) - 128)
#define FREG(i) M(RBX, CPU_OFF(f[i]))

/* Host registers with a fixed role in translated code. */
#define R_CPU RBX    /* struct rv_cpu + JIT_BIAS */
#define R_BUDGET R15 /* instructions left in this run (cpu->budget lives here while translated code runs) */

#define JIT_MAX_INSNS 64   /* guest instructions on one block's path */
#define JIT_HASH 65536     /* the block table's most buckets */
#define JIT_HASH_MIN 4096  /* and its first: it doubles when it holds twice as many blocks (sized to need) */
#define JIT_CODE_SIZE (64u << 20)
#define JIT_MAX_BLOCK_CODE (48u << 10) /* room one translation may take */

struct jit_disasm;

struct jit_block {
	uintptr_t hkey;          /* host address of the first instruction */
	uint64_t vpc;            /* virtual pc the block was translated at */
	struct jit_block *hnext; /* hash chain */
	struct jit_block *pnext; /* next block translated from the same RAM page */
	uint8_t *code;           /* entry point (executable view) */
	uint32_t size;           /* bytes of host code */
	uint32_t ninsn;          /* guest instructions on the longest path (charged at entry) */
	uint32_t glen;           /* guest bytes covered from hkey */
	uint8_t flags;           /* JIT_F_*: what the translation assumed about the hart */
	bool dead;               /* dropped (its page was written); no longer reachable */
};

/* A block's code depends on these (they are part of its key): */
#define JIT_F_BARE 1 /* data accesses untranslated (mmu.bare_data): loads go straight to RAM */

static inline uint8_t jit__flags(const struct rv_cpu *cpu)
{
	return cpu->mmu.bare_data ? JIT_F_BARE : 0;
}

struct rv_jit {
	struct rv_cpu *cpu;
	/* Code memory: the same pages mapped twice, writable for the emitter, executable for running. */
	uint8_t *rw, *rx;
	size_t size, used, common_end;
	/* Shared code at the start of the cache. */
	uint8_t *enter; /* void enter(struct rv_cpu *cpu, const void *code) */
	uint8_t *exit;  /* translated code jumps here to return from enter() */
	/* Blocks. */
	struct jit_block *blocks;
	unsigned nblocks, maxblocks;
	struct jit_block **hash;
	unsigned hash_size; /* buckets, a power of two from JIT_HASH_MIN to JIT_HASH */
	struct code_pages pages; /* per RAM page: the blocks translated from it */
	uint64_t generation; /* bumped at every flush: link requests from before are void */
	/* Jump cache (the MMU flushes it with the TLB), CTX_COUNT * JC_SIZE entries. */
	struct rv_jc_entry *jc;
	/* Host features. */
	bool fma;
	/* Debugging: /tmp/perf-PID.map, and disassembly of each block (--jit-dump / $WISP_JIT_DUMP). */
	FILE *perf_map;
	bool dump;
	struct jit_disasm *disasm; /* capstone, opened (dlopen) when dump is set and it is there */
	struct jit_stats stats;
};

/* Convert between the two views of the code cache. */
static inline uint8_t *jit__rx_of(const struct rv_jit *j, const uint8_t *rw)
{
	return j->rx + (rw - j->rw);
}

static inline uint8_t *jit__rw_of(const struct rv_jit *j, const uint8_t *rx)
{
	return j->rw + (rx - j->rx);
}

/* cache.c */
struct jit_block *jit__lookup(struct rv_jit *j, uintptr_t hkey, uint64_t vpc, uint8_t flags);
void jit__flush(struct rv_jit *j);
/* Room for one more block: flushes everything when the cache is full. */
void jit__reserve(struct rv_jit *j);
struct jit_block *jit__add_block(struct rv_jit *j, uintptr_t hkey, uint64_t vpc, uint8_t flags, uint8_t *code_rw,
				 size_t size, unsigned ninsn, unsigned glen);

/* translate.c: translate the block at vpc (host address h); NULL when the first instruction needs the
 * interpreter (it straddles a page). May flush the cache first. */
struct jit_block *jit__translate(struct rv_jit *j, uint64_t vpc, const uint8_t *h);

/* run.c: the entry/exit code at the start of the cache (after every flush). */
void jit__emit_common(struct rv_jit *j);
/* --jit-dump's disassembler: opened at init when dumping (NULL without capstone), closed with the cache. */
bool jit__dump_wanted(void); /* $WISP_JIT_DUMP */
struct jit_disasm *jit__disasm_open(void);
void jit__disasm_close(struct jit_disasm *d);
void jit__debug_block(struct rv_jit *j, const struct jit_block *b);

#endif
