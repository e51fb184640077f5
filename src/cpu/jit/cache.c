/*
 * The code cache and the block table. Code lives in shared memory mapped twice: the translator writes
 * through a read-write view and the hart runs the read-execute view, so no page is ever writable and
 * executable at once. Blocks are found by (host address of the first instruction, virtual pc) in a
 * hash table, and listed per RAM page so that a store to a page can drop what was translated from it.
 * When the cache fills up everything is dropped and translation starts over.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu/jit/internal.h"

bool jit__available(void)
{
#if defined(__x86_64__)
	return true;
#else
	return false;
#endif
}

static unsigned hash_of(const struct rv_jit *j, uintptr_t hkey)
{
	return (unsigned)(((uint64_t)hkey * 0x9e3779b97f4a7c15ull) >> 48) & (j->hash_size - 1);
}

/*
 * Twice the buckets, the live blocks hashed again. The table starts small because every bucket page a block
 * lands on becomes resident: a fixed 64 Ki-bucket table cost each idle restored clone 512 KiB (issue 18). Out of
 * memory: chains just get longer.
 */
static void grow_hash(struct rv_jit *j)
{
	unsigned size = j->hash_size * 2;
	struct jit_block **h = calloc(size, sizeof(*h));
	if (!h)
		return;
	free(j->hash);
	j->hash = h;
	j->hash_size = size;
	for (unsigned i = 0; i < j->nblocks; i++) {
		struct jit_block *b = &j->blocks[i];
		if (b->dead)
			continue;
		unsigned k = hash_of(j, b->hkey);
		b->hnext = h[k];
		h[k] = b;
	}
}

struct jit_block *jit__lookup(struct rv_jit *j, uintptr_t hkey, uint64_t vpc, uint8_t flags)
{
	for (struct jit_block *b = j->hash[hash_of(j, hkey)]; b; b = b->hnext)
		if (b->hkey == hkey && b->vpc == vpc && b->flags == flags)
			return b;
	return NULL;
}

void jit__flush(struct rv_jit *j)
{
	memset(j->hash, 0, j->hash_size * sizeof(*j->hash));
	code_pages__clear(&j->pages);
	j->nblocks = 0;
	j->used = j->common_end;
	j->generation++;
	j->stats.flushes++;
	mmu__flush_jc(&j->cpu->mmu);
}

void jit__reserve(struct rv_jit *j)
{
	if (j->used + JIT_MAX_BLOCK_CODE > j->size || j->nblocks >= j->maxblocks)
		jit__flush(j);
}

struct jit_block *jit__add_block(struct rv_jit *j, uintptr_t hkey, uint64_t vpc, uint8_t flags, uint8_t *code_rw,
				 size_t size, unsigned ninsn, unsigned glen)
{
	if (j->nblocks >= 2 * j->hash_size && j->hash_size < JIT_HASH)
		grow_hash(j);
	struct jit_block *b = &j->blocks[j->nblocks++];
	*b = (struct jit_block){ .hkey = hkey, .vpc = vpc, .code = jit__rx_of(j, code_rw), .size = (uint32_t)size,
				 .ninsn = ninsn, .glen = glen, .flags = flags };
	unsigned h = hash_of(j, hkey);
	b->hnext = j->hash[h];
	j->hash[h] = b;
	size_t pg = (size_t)((hkey - (uintptr_t)j->cpu->mmu.bus->ram) >> PAGE_SHIFT);
	void *prev;
	if (!code_pages__push(&j->pages, pg, b, &prev)) {
		j->nblocks--;
		jit__flush(j); /* no memory to track it: nothing is kept instead */
		return NULL;
	}
	b->pnext = prev;
	j->used = (size_t)(code_rw + size - j->rw + 15) & ~(size_t)15;
	j->stats.translations++;
	return b;
}

bool jit__code_written(struct rv_jit *j, const uint8_t *host, unsigned len, bool *page_empty)
{
	size_t pg = (size_t)((uintptr_t)(host - j->cpu->mmu.bus->ram) >> PAGE_SHIFT);
	struct jit_block *first = code_pages__get(&j->pages, pg), *b;
	*page_empty = !first;
	for (b = first; b; b = b->pnext)
		if ((uintptr_t)host < b->hkey + b->glen && b->hkey < (uintptr_t)host + len)
			break;
	if (!b)
		return false;
	/* Drop every block of the page: chained jumps between them are not undone one by one. */
	for (b = first; b; b = b->pnext) {
		b->dead = true;
		struct jit_block **pp = &j->hash[hash_of(j, b->hkey)];
		while (*pp && *pp != b)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = b->hnext;
	}
	code_pages__drop(&j->pages, pg);
	*page_empty = true;
	j->stats.invalidations++;
	/* Chained jumps into these blocks come only from blocks of the same page (dead too); the jump
	 * cache may still point at them. */
	mmu__flush_jc(&j->cpu->mmu);
	return true;
}

struct rv_jit *jit__new(struct rv_cpu *cpu, char *err, size_t errlen)
{
	struct rv_jit *j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	j->cpu = cpu;
	/* $WISP_JIT_CODE_KB: a smaller (or larger) code cache, for tests and tuning. */
	j->size = JIT_CODE_SIZE;
	const char *kb = getenv("WISP_JIT_CODE_KB");
	if (kb && atol(kb) >= 256 && atol(kb) <= (1l << 20))
		j->size = (size_t)atol(kb) << 10;
	j->maxblocks = (unsigned)(j->size / 128);
	j->blocks = calloc(j->maxblocks, sizeof(*j->blocks));
	j->hash_size = JIT_HASH_MIN;
	j->hash = calloc(j->hash_size, sizeof(*j->hash));
	j->jc = malloc(sizeof(struct rv_jc_entry) * CTX_COUNT * JC_SIZE);
	if (!j->blocks || !j->hash || !j->jc ||
	    code_pages__init(&j->pages, (size_t)(cpu->mmu.bus->ram_size >> PAGE_SHIFT)) < 0) {
		snprintf(err, errlen, "out of memory for the translator's tables");
		goto fail;
	}
	/* One shared anonymous mapping, and a second view of the same pages made by mremap (old size 0),
	 * turned read-execute. (Anonymous, so perf resolves its symbols through /tmp/perf-PID.map.) */
	j->rw = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (j->rw == MAP_FAILED) {
		j->rw = NULL;
		snprintf(err, errlen, "cannot map the translator's code cache: %s", strerror(errno));
		goto fail;
	}
	j->rx = mremap(j->rw, 0, j->size, MREMAP_MAYMOVE);
	if (j->rx == MAP_FAILED || mprotect(j->rx, j->size, PROT_READ | PROT_EXEC) < 0) {
		snprintf(err, errlen, "cannot map the translator's code cache for execution: %s", strerror(errno));
		if (j->rx == MAP_FAILED)
			j->rx = NULL;
		goto fail;
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	j->fma = __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx");
#endif
	j->dump = jit__dump_wanted();
	if (j->dump)
		j->disasm = jit__disasm_open();
	const char *pm = getenv("WISP_JIT_PERF_MAP");
	if (pm && *pm && strcmp(pm, "0") != 0) {
		char path[64];
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		j->perf_map = fopen(path, "a");
	}
	jit__emit_common(j);
	cpu->mmu.jc = j->jc;
	mmu__flush_jc(&cpu->mmu);
	return j;
fail:
	jit__free(j);
	return NULL;
}

void jit__free(struct rv_jit *j)
{
	if (!j)
		return;
	if (j->cpu->mmu.jc == j->jc) {
		j->cpu->mmu.jc = NULL;
		j->cpu->mmu.xjc = NULL;
	}
	if (j->rw)
		munmap(j->rw, j->size);
	if (j->rx)
		munmap(j->rx, j->size);
	if (j->perf_map)
		fclose(j->perf_map);
	jit__disasm_close(j->disasm);
	free(j->blocks);
	free(j->hash);
	code_pages__exit(&j->pages);
	free(j->jc);
	free(j);
}

void jit__attach(struct rv_jit *j)
{
	j->cpu->mmu.jc = j->jc;
	jit__flush(j);
}

void jit__stats(const struct rv_jit *j, struct jit_stats *out)
{
	*out = j->stats;
	out->blocks = j->nblocks;
	out->code_bytes = j->used;
	out->code_capacity = j->size;
}
