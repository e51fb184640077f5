/*
 * Running translated code: the entry and exit code at the start of the cache, the dispatcher that
 * finds (or translates) the block for pc and links direct jumps once both ends exist, and what the
 * translator falls back on (the interpreter, for one instruction or for the end of a run).
 *
 * Register contract while translated code runs: RBX = cpu + JIT_BIAS, R15 = the budget (written back
 * to cpu->budget at every exit and before every helper call that may look at it), the callee-saved
 * registers of the C caller are saved by enter(); guest registers live in cpu->x and, within a
 * block, in host registers the block's prologue loads and its exits write back.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/internal.h"
#include "cpu/jit/internal.h"

#ifdef WISP_HAVE_CAPSTONE
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <stdlib.h>

/* Capstone's functions, from the library opened when --jit-dump is on (never linked: see CMakeLists.txt). */
struct jit_disasm {
	void *lib;
	__typeof__(&cs_open) open;
	__typeof__(&cs_disasm) disasm;
	__typeof__(&cs_free) free;
	__typeof__(&cs_close) close;
};

bool jit__dump_wanted(void)
{
	const char *d = getenv("WISP_JIT_DUMP");
	return d && *d && strcmp(d, "0") != 0;
}

void jit__preload(void)
{
	if (jit__dump_wanted())
		(void)dlopen(WISP_CAPSTONE_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
}

struct jit_disasm *jit__disasm_open(void)
{
	struct jit_disasm *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->lib = dlopen(WISP_CAPSTONE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (d->lib) {
		*(void **)&d->open = dlsym(d->lib, "cs_open");
		*(void **)&d->disasm = dlsym(d->lib, "cs_disasm");
		*(void **)&d->free = dlsym(d->lib, "cs_free");
		*(void **)&d->close = dlsym(d->lib, "cs_close");
	}
	if (!d->lib || !d->open || !d->disasm || !d->free || !d->close) {
		fprintf(stderr, "wisp-jit: no disassembly: cannot load %s\n", WISP_CAPSTONE_SONAME);
		jit__disasm_close(d);
		return NULL;
	}
	return d;
}

void jit__disasm_close(struct jit_disasm *d)
{
	if (!d)
		return;
	if (d->lib)
		dlclose(d->lib);
	free(d);
}
#else
bool jit__dump_wanted(void)
{
	const char *d = getenv("WISP_JIT_DUMP");
	return d && *d && strcmp(d, "0") != 0;
}

void jit__preload(void)
{
}

struct jit_disasm *jit__disasm_open(void)
{
	return NULL;
}

void jit__disasm_close(struct jit_disasm *d)
{
	(void)d;
}
#endif

void jit__emit_common(struct rv_jit *j)
{
	struct x86_buf b = { j->rw, j->rw, j->rw + j->size, false };
	/* enter(cpu = rdi, code = rsi) */
	j->enter = jit__rx_of(j, b.p);
	x86_push(&b, RBP);
	x86_push(&b, RBX);
	x86_push(&b, R12);
	x86_push(&b, R13);
	x86_push(&b, R14);
	x86_push(&b, R15);
	x86_alu_ri(&b, ALU_SUB, true, RSP, 8); /* calls from translated code see a 16-byte aligned stack */
	x86_lea(&b, true, R_CPU, M(RDI, JIT_BIAS));
	x86_load(&b, true, R_BUDGET, M(R_CPU, CPU_OFF(budget)));
	x86_jmp_r(&b, RSI);
	/* exit: the block has stored pc and the budget */
	j->exit = jit__rx_of(j, b.p);
	x86_alu_ri(&b, ALU_ADD, true, RSP, 8);
	x86_pop(&b, R15);
	x86_pop(&b, R14);
	x86_pop(&b, R13);
	x86_pop(&b, R12);
	x86_pop(&b, RBX);
	x86_pop(&b, RBP);
	x86_ret(&b);
	j->common_end = j->used = (size_t)(b.p - j->rw + 63) & ~(size_t)63;
}

/* Patch the rel32 at `site` (executable view) to jump to b, if both still exist. */
static void link(struct rv_jit *j, uintptr_t site, const struct jit_block *b)
{
	uint8_t *at = (uint8_t *)site;
	if (at < j->rx + j->common_end || at + 4 > j->rx + j->used)
		return;
	/* The displacement is relative to where the jump executes (the executable view). */
	int32_t rel = (int32_t)(b->code - (at + 4));
	memcpy(jit__rw_of(j, at), &rel, 4);
	j->stats.links++;
}

typedef void (*enter_fn)(struct rv_cpu *cpu, const void *code);

void jit__run(struct rv_cpu *cpu)
{
	struct rv_jit *j = cpu->jit;
	enter_fn enter = (enter_fn)(void *)j->enter;
	uint64_t gen = j->generation;
	cpu->jit_link = 0;
	while (cpu->budget > 0 && !cpu->exit_req && !atomic_load_explicit(&cpu->kick, memory_order_relaxed)) {
		cpu->code_changed = false;
		if (atomic_load_explicit(&cpu->mail_pending, memory_order_acquire))
			cpu__take_mail(cpu);
		if (cpu->jit_flush) {
			cpu->jit_flush = false;
			jit__flush(j);
		}
		if (j->generation != gen) {
			gen = j->generation;
			cpu->jit_link = 0;
		}
		uint64_t pc = cpu->pc;
		cpu->budget--; /* as the interpreter: a fetch fault un-counts the instruction it did not run */
		const uint8_t *page = mmu__fetch_page(&cpu->mmu, pc);
		cpu->budget++;
		const uint8_t *h = page + (pc & (PAGE_SIZE - 1));
		struct jit_block *b = jit__lookup(j, (uintptr_t)h, pc, jit__flags(cpu));
		if (!b) {
			b = jit__translate(j, pc, h);
			if (j->generation != gen) {
				gen = j->generation;
				cpu->jit_link = 0;
			}
			if (!b) {
				cpu->jit_link = 0;
				interp__step(cpu);
				continue;
			}
		}
		if (cpu->budget < (int64_t)b->ninsn) {
			/* Less budget left than this block charges: the interpreter runs exactly what is left. */
			interp__run(cpu);
			break;
		}
		if (cpu->jit_link) {
			link(j, cpu->jit_link, b);
			cpu->jit_link = 0;
		}
		struct rv_jc_entry *e = &cpu->mmu.xjc[jc__index(pc)];
		e->vpc = pc;
		e->code = b->code;
		enter(cpu, b->code);
	}
	cpu->jit_link = 0;
}

void jit__debug_block(struct rv_jit *j, const struct jit_block *b)
{
	if (j->perf_map) {
		fprintf(j->perf_map, "%lx %x guest_%llx\n", (unsigned long)(uintptr_t)b->code, b->size,
			(unsigned long long)b->vpc);
		fflush(j->perf_map);
	}
	if (!j->dump)
		return;
	fprintf(stderr, "wisp-jit: block pc=%#llx host=%p %u insns, %u bytes at %p\n", (unsigned long long)b->vpc,
		(void *)b->hkey, b->ninsn, b->size, (void *)b->code);
#ifdef WISP_HAVE_CAPSTONE
	struct jit_disasm *d = j->disasm;
	csh cs;
	if (!d || d->open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return;
	cs_insn *insn;
	size_t n = d->disasm(cs, jit__rw_of(j, b->code), b->size, (uint64_t)(uintptr_t)b->code, 0, &insn);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  %12llx  %-8s %s\n", (unsigned long long)insn[i].address, insn[i].mnemonic,
			insn[i].op_str);
	if (n)
		d->free(insn, n);
	d->close(&cs);
#endif
}
