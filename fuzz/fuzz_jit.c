/*
 * Differential fuzz target: the same input (cpu_harness.h) on two harts, one interpreting and one
 * translating, run for the same budgets with the same device lines. After every run both must agree on
 * everything architectural: the instruction count and why the run ended, x and f registers, pc,
 * privilege, the CSRs, the accrued FP flags, guest RAM, the device registers and the writes to the
 * watched page, the diff-snapshot bitmap.
 */
#include "cpu_harness.h"

static struct fuzz_hart *ref, *jit;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ref = fuzz_hart__new();
	jit = fuzz_hart__new();
	return 0;
}

#define SAME(field)                                                                                          \
	do {                                                                                                 \
		if (a->field != b->field) {                                                                  \
			fprintf(stderr, "fuzz_jit: run %u: " #field " differs: interp %#llx, jit %#llx\n", run, \
				(unsigned long long)a->field, (unsigned long long)b->field);                 \
			abort();                                                                             \
		}                                                                                            \
	} while (0)

static void compare(unsigned run, uint64_t done_a, uint64_t done_b, enum rv_exit why_a, enum rv_exit why_b)
{
	const struct rv_cpu *a = ref->h->cpu, *b = jit->h->cpu;
	if (done_a != done_b || why_a != why_b) {
		fprintf(stderr, "fuzz_jit: run %u: interp ran %llu (exit %d), jit %llu (exit %d); pc %#llx / %#llx\n",
			run, (unsigned long long)done_a, why_a, (unsigned long long)done_b, why_b,
			(unsigned long long)a->pc, (unsigned long long)b->pc);
		abort();
	}
	for (unsigned i = 0; i < 32; i++) {
		SAME(x[i]);
		SAME(f[i]);
	}
	SAME(pc);
	SAME(priv);
	SAME(fflags);
	SAME(frm);
	SAME(mstatus);
	SAME(medeleg);
	SAME(mideleg);
	SAME(mie);
	SAME(mtvec);
	SAME(mscratch);
	SAME(mepc);
	SAME(mcause);
	SAME(mtval);
	SAME(stvec);
	SAME(sscratch);
	SAME(sepc);
	SAME(scause);
	SAME(stval);
	SAME(satp);
	SAME(mcounteren);
	SAME(scounteren);
	SAME(mip_sw);
	SAME(retired);
	SAME(instret_offset);
	SAME(resv_valid);
	SAME(exit_reason);
	if (memcmp(ref->h->bus.ram, jit->h->bus.ram, RAM_SIZE) != 0) {
		for (unsigned i = 0; i < RAM_SIZE; i++)
			if (ref->h->bus.ram[i] != jit->h->bus.ram[i]) {
				fprintf(stderr, "fuzz_jit: run %u: RAM differs at %#llx: interp %02x, jit %02x\n", run,
					(unsigned long long)(FAKE_RAM_BASE + i), ref->h->bus.ram[i], jit->h->bus.ram[i]);
				break;
			}
		abort();
	}
	FUZZ_CHECK(memcmp(ref->mmio_reg, jit->mmio_reg, sizeof(ref->mmio_reg)) == 0);
	FUZZ_CHECK(ref->watch_writes == jit->watch_writes);
	for (unsigned i = 0; i < sizeof(ref->dirty) / sizeof(ref->dirty[0]); i++)
		FUZZ_CHECK(ref->dirty[i] == jit->dirty[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ref)
		LLVMFuzzerInitialize(NULL, NULL);
	fuzz_hart__setup(ref, data, size, RV_BACKEND_INTERP);
	fuzz_hart__setup(jit, data, size, RV_BACKEND_JIT);
	/* Debugging: FUZZ_JIT_TRACE=N prints the interpreter's instructions in run N (it steps through the
	 * run one instruction at a time, which takes interrupts at the same points). */
	const char *tr = getenv("FUZZ_JIT_TRACE");
	unsigned trace_run = tr ? (unsigned)atoi(tr) : ~0u;
	for (unsigned run = 0; run < RUNS; run++) {
		enum rv_exit why_a, why_b;
		if (run == trace_run) {
			struct rv_cpu *c = ref->h->cpu;
			uint64_t total = 0;
			for (unsigned s = 0; s < BUDGET; s++) {
				uint64_t pc = c->pc;
				int priv = c->priv;
				uint32_t bits = 0;
				if (pc >= FAKE_RAM_BASE && pc + 4 <= FAKE_RAM_BASE + RAM_SIZE)
					memcpy(&bits, ref->h->bus.ram + (pc - FAKE_RAM_BASE), 4);
				fprintf(stderr, "trace: insn %08x\n", bits);
				uint64_t d = cpu__run(c, 1, &why_a);
				fprintf(stderr, "trace: %3u priv %d pc %#llx -> %#llx (%llu)\n", s, priv,
					(unsigned long long)pc, (unsigned long long)c->pc, (unsigned long long)d);
				total += d;
				if (why_a != RV_EXIT_BUDGET || c->exit_req)
					break;
			}
			fuzz_hart__setup(ref, data, size, RV_BACKEND_INTERP);
			for (unsigned r = 0; r < run; r++)
				fuzz_hart__run(ref, r, &why_a);
			(void)total;
		}
		uint64_t done_a = fuzz_hart__run(ref, run, &why_a);
		uint64_t done_b = fuzz_hart__run(jit, run, &why_b);
		compare(run, done_a, done_b, why_a, why_b);
	}
	cpu__set_mip(ref->h->cpu, ~0ull, false);
	cpu__set_mip(jit->h->cpu, ~0ull, false);
	return 0;
}
