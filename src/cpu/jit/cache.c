/*
 * The code cache and the block table. Code lives in one memfd mapped twice: the translator writes
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

static unsigned hash_of(uintptr_t hkey)
{
	return (unsigned)(((uint64_t)hkey * 0x9e3779b97f4a7c15ull) >> 48) & (JIT_HASH - 1);
}

struct jit_block *jit__lookup(struct rv_jit *j, uintptr_t hkey, uint64_t vpc)
{
	for (struct jit_block *b = j->hash[hash_of(hkey)]; b; b = b->hnext)
		if (b->hkey == hkey && b->vpc == vpc)
			return b;
	return NULL;
}

void jit__flush(struct rv_jit *j)
{
	memset(j->hash, 0, JIT_HASH * sizeof(*j->hash));
	memset(j->page, 0, j->npages * sizeof(*j->page));
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

struct jit_block *jit__add_block(struct rv_jit *j, uintptr_t hkey, uint64_t vpc, uint8_t *code_rw, size_t size,
				 unsigned ninsn, unsigned glen)
{
	struct jit_block *b = &j->blocks[j->nblocks++];
	*b = (struct jit_block){ .hkey = hkey, .vpc = vpc, .code = jit__rx_of(j, code_rw), .size = (uint32_t)size,
				 .ninsn = ninsn, .glen = glen };
	unsigned h = hash_of(hkey);
	b->hnext = j->hash[h];
	j->hash[h] = b;
	size_t pg = (size_t)((hkey - (uintptr_t)j->cpu->mmu.bus->ram) >> PAGE_SHIFT);
	b->pnext = j->page[pg];
	j->page[pg] = b;
	j->used = (size_t)(code_rw + size - j->rw + 15) & ~(size_t)15;
	j->stats.translations++;
	return b;
}

void jit__invalidate_page(struct rv_jit *j, const uint8_t *hpage)
{
	size_t pg = (size_t)((uintptr_t)(hpage - j->cpu->mmu.bus->ram) >> PAGE_SHIFT);
	if (pg >= j->npages || !j->page[pg])
		return;
	for (struct jit_block *b = j->page[pg]; b; b = b->pnext) {
		b->dead = true;
		struct jit_block **pp = &j->hash[hash_of(b->hkey)];
		while (*pp && *pp != b)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = b->hnext;
	}
	j->page[pg] = NULL;
	j->stats.invalidations++;
	/* Chained jumps into these blocks come only from blocks of the same page (dead too); the jump
	 * cache may still point at them. */
	mmu__flush_jc(&j->cpu->mmu);
}

struct rv_jit *jit__new(struct rv_cpu *cpu, char *err, size_t errlen)
{
	struct rv_jit *j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	j->cpu = cpu;
	j->memfd = -1;
	j->size = JIT_CODE_SIZE;
	j->maxblocks = JIT_CODE_SIZE / 128;
	j->npages = (size_t)(cpu->mmu.bus->ram_size >> PAGE_SHIFT);
	j->blocks = calloc(j->maxblocks, sizeof(*j->blocks));
	j->hash = calloc(JIT_HASH, sizeof(*j->hash));
	j->page = calloc(j->npages ? j->npages : 1, sizeof(*j->page));
	j->jc = malloc(sizeof(struct rv_jc_entry) * CTX_COUNT * JC_SIZE);
	if (!j->blocks || !j->hash || !j->page || !j->jc) {
		snprintf(err, errlen, "out of memory for the translator's tables");
		goto fail;
	}
	j->memfd = memfd_create("wisp-jit", MFD_CLOEXEC);
	if (j->memfd < 0 || ftruncate(j->memfd, (off_t)j->size) < 0) {
		snprintf(err, errlen, "cannot create the translator's code cache: %s", strerror(errno));
		goto fail;
	}
	j->rw = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED, j->memfd, 0);
	j->rx = mmap(NULL, j->size, PROT_READ | PROT_EXEC, MAP_SHARED, j->memfd, 0);
	if (j->rw == MAP_FAILED || j->rx == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the translator's code cache: %s", strerror(errno));
		if (j->rw == MAP_FAILED)
			j->rw = NULL;
		if (j->rx == MAP_FAILED)
			j->rx = NULL;
		goto fail;
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	j->fma = __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx");
#endif
	const char *d = getenv("WISP_JIT_DUMP");
	j->dump = d && *d && strcmp(d, "0") != 0;
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
	if (j->memfd >= 0)
		close(j->memfd);
	if (j->perf_map)
		fclose(j->perf_map);
	free(j->blocks);
	free(j->hash);
	free(j->page);
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
