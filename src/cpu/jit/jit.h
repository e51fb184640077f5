/*
 * The dynamic binary translator: RV64GC guest code to x86-64 host code, behind the same interface
 * as the interpreter (cpu__run picks one per hart). Blocks are keyed by the host address of their
 * first instruction (i.e. the guest physical address) and the virtual pc they were translated at.
 */
#ifndef WISP_CPU_JIT_JIT_H
#define WISP_CPU_JIT_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rv_cpu;
struct rv_jit;

/* True when this host can run translated code (x86-64). */
bool jit__available(void);

/* Load what $WISP_JIT_DUMP needs (capstone, opened with dlopen) now, before seccomp filters forbid mapping code;
 * it stays loaded. Nothing when the variable is unset. */
void jit__preload(void);

/* Translator state for one hart (its code cache, block table, jump cache); NULL + message on failure. */
struct rv_jit *jit__new(struct rv_cpu *cpu, char *err, size_t errlen);
void jit__free(struct rv_jit *j);
/* The hart was re-initialised (cpu__recycle): drop every translation, hook the jump cache up again. */
void jit__attach(struct rv_jit *j);

/* Run translated code until the budget is used up, an exit is requested or the hart is kicked.
 * Called by cpu__run inside its trap handler (guest exceptions longjmp out of it). */
void jit__run(struct rv_cpu *cpu);

/*
 * A store is about to write [host, host + len) (one RAM page): if that overlaps translated code, drop
 * the page's blocks and return true. *page_empty: no block of the page is left.
 */
bool jit__code_written(struct rv_jit *j, const uint8_t *host, unsigned len, bool *page_empty);

struct jit_stats {
	uint64_t blocks, translations, flushes, invalidations, code_bytes, code_capacity, links;
};
void jit__stats(const struct rv_jit *j, struct jit_stats *out);

#endif
