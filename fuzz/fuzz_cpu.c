/*
 * Fuzz target: the CPU (decoder, both backends, CSRs, traps, FPU, MMU slow paths) on arbitrary
 * instruction words over the harness in cpu_harness.h, with the backend cpu__init chooses
 * ($WISP_CPU_BACKEND, else the translator where it exists; CTest replays the corpus under each).
 *
 * Checked after every cpu__run: no more instructions than the budget, x0 == 0, priv is U/S/M, MPP is
 * never the reserved 2, pc is even, and every soft-TLB entry points into guest RAM (so no guest access
 * can touch host memory outside it); ASan/UBSan catch the rest.
 */
#include "cpu_harness.h"

static struct fuzz_hart *fh;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fh = fuzz_hart__new();
	return 0;
}

static void check_invariants(const struct rv_cpu *cpu)
{
	FUZZ_CHECK(cpu->x[0] == 0);
	FUZZ_CHECK(cpu->priv == PRV_U || cpu->priv == PRV_S || cpu->priv == PRV_M);
	FUZZ_CHECK(((cpu->mstatus & MSTATUS_MPP) >> 11) != 2);
	FUZZ_CHECK((cpu->pc & 1) == 0);
}

FUZZ_NO_COVERAGE static void check_tlb(const struct rv_cpu *cpu)
{
	uintptr_t lo = (uintptr_t)fh->h->bus.ram, hi = lo + RAM_SIZE;
	for (unsigned c = 0; c < CTX_COUNT; c++)
		for (unsigned a = 0; a < 3; a++)
			for (unsigned i = 0; i < TLB_SIZE; i++) {
				const struct rv_tlb_entry *e = &cpu->mmu.tlb[c][a][i];
				if (e->tag == ~0ull)
					continue;
				uintptr_t host = (uintptr_t)(e->tag + e->addend);
				FUZZ_CHECK(((e->tag >> PAGE_SHIFT) & (TLB_SIZE - 1)) == i);
				FUZZ_CHECK(host >= lo && host + PAGE_SIZE <= hi && (host - lo) % PAGE_SIZE == 0);
				/* The watched page never gets a write entry: its stores must take the slow path. */
				FUZZ_CHECK(a != ACC_WRITE || host - lo != WATCH_PAGE * PAGE_SIZE);
			}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fh)
		LLVMFuzzerInitialize(NULL, NULL);
	struct rv_cpu *cpu = fh->h->cpu;
	enum rv_backend backend = cpu->backend;
	const char *env = getenv("WISP_CPU_BACKEND");
	if (env)
		cpu__parse_backend(env, &backend);
	fuzz_hart__setup(fh, data, size, backend);
	for (unsigned run = 0; run < RUNS; run++) {
		enum rv_exit why;
		uint64_t done = fuzz_hart__run(fh, run, &why);
		FUZZ_CHECK(done <= BUDGET);
		check_invariants(cpu);
		if (run % 8 == 7)
			check_tlb(cpu);
	}
	cpu__set_mip(cpu, ~0ull, false);
	return 0;
}
