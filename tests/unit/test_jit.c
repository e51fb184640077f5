/*
 * The translator's own properties, beyond giving the interpreter's results (the differential fuzz
 * target and every other test under both backends check those): what it emits (inline TLB hits,
 * disassembled with capstone when it is there), that a kick ends a long chained loop, that the code
 * cache is never writable and executable at once, that a full cache is flushed and refilled without
 * changing results, and that a block is found again by physical address under another page mapping.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cpu/jit/internal.h"
#include "fake_hart.h"

#ifdef WISP_HAVE_CAPSTONE
#include <capstone/capstone.h>
#endif

#define CODE FAKE_RAM_BASE
#define DATA (FAKE_RAM_BASE + 0x10000)

static int setup(void **state)
{
	struct fake_hart *h = fake_hart__new();
	if (!h)
		return -1;
	char err[128];
	if (cpu__set_backend(h->cpu, RV_BACKEND_JIT, err, sizeof(err)) < 0) {
		fake_hart__free(h);
		return -1;
	}
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	fake_hart__free(*state);
	return 0;
}

static struct jit_block *block_at(struct fake_hart *h, uint64_t pc)
{
	return jit__lookup(h->cpu->jit, (uintptr_t)fake_hart__ram(h, pc), pc, jit__flags(h->cpu));
}

/* A load in S-mode with paging on would use the TLB; in M-mode (bare) loads go straight to RAM. Either
 * way the hit path has no call: the only calls are in the stubs after the block's last jump. */
static void test_load_hit_path_is_inline(void **state)
{
	struct fake_hart *h = *state;
	uint32_t prog[] = { LD(R_A0, R_A1, 8), ADDI(R_A0, R_A0, 1), SD(R_A0, R_A1, 16), JAL(0, 0) };
	fake_hart__load(h, CODE, prog, 4);
	fake_hart__put64(h, DATA + 8, 41);
	h->cpu->x[R_A1] = DATA;
	fake_hart__run(h, 4);
	assert_int_equal(fake_hart__get64(h, DATA + 16), 42);
	struct jit_block *b = block_at(h, CODE);
	assert_non_null(b);
	assert_int_equal(b->ninsn, 4);
#ifdef WISP_HAVE_CAPSTONE
	csh cs;
	assert_int_equal(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
	cs_insn *insn;
	size_t n = cs_disasm(cs, jit__rw_of(h->cpu->jit, b->code), b->size, (uint64_t)(uintptr_t)b->code, 0, &insn);
	assert_true(n > 10);
	/* Walk the main path up to the first unconditional jmp (the block's end): loads from [reg] and a
	 * store to [reg], no call. */
	bool call_before_end = false, loaded = false, stored = false;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(insn[i].mnemonic, "jmp"))
			break;
		if (!strcmp(insn[i].mnemonic, "call"))
			call_before_end = true;
		if (!strcmp(insn[i].mnemonic, "mov") && strstr(insn[i].op_str, ", qword ptr [r") &&
		    !strstr(insn[i].op_str, "rbx"))
			loaded = true;
		if (!strcmp(insn[i].mnemonic, "mov") && strstr(insn[i].op_str, "qword ptr [rax], "))
			stored = true;
	}
	cs_free(insn, n);
	cs_close(&cs);
	assert_false(call_before_end);
	assert_true(loaded);
	assert_true(stored);
#endif
}

/* No mapping of this process is writable and executable at once (the code cache has two views). */
static void test_no_wx_mapping(void **state)
{
	struct fake_hart *h = *state;
	uint32_t prog[] = { ADDI(R_A0, R_A0, 1), JAL(0, -4) };
	fake_hart__load(h, CODE, prog, 2);
	fake_hart__run(h, 1000);
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	char line[512];
	int rx = 0;
	while (fgets(line, sizeof(line), f)) {
		char perms[8] = "";
		sscanf(line, "%*s %7s", perms);
		assert_false(perms[1] == 'w' && perms[2] == 'x');
		uintptr_t lo = 0;
		sscanf(line, "%lx", &lo);
		if (lo == (uintptr_t)h->cpu->jit->rx) {
			assert_int_equal(perms[2], 'x');
			rx++;
		}
	}
	fclose(f);
	assert_int_equal(rx, 1);
}

struct kicker {
	struct rv_cpu *cpu;
};

static void *kick_later(void *opaque)
{
	struct kicker *k = opaque;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	cpu__set_mip(k->cpu, MIP_MTIP, true); /* a device line: kicks the hart */
	return NULL;
}

/* A loop of chained blocks with a budget that would take minutes: a kick ends the run within a block
 * or two, the interrupt is taken at the next run, and the count is exact. */
static void test_kick_ends_long_loop(void **state)
{
	struct fake_hart *h = *state;
	/* 0: addi a0, 1; 4: beq x0, x0, 8 (another block); 8: addi a1, 1; 12: jal -12 */
	uint32_t prog[] = { ADDI(R_A0, R_A0, 1), BEQ(0, 0, 4), ADDI(R_A1, R_A1, 1), JAL(0, -12) };
	fake_hart__load(h, CODE, prog, 4);
	h->cpu->mtvec = CODE + 0x100;
	h->cpu->mie = MIP_MTIP;
	h->cpu->mstatus |= MSTATUS_MIE;
	struct kicker k = { h->cpu };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, kick_later, &k), 0);
	uint64_t done = fake_hart__run(h, 1ull << 40);
	pthread_join(t, NULL);
	assert_true(done < (1ull << 40));
	/* Every instruction counted, wherever the run stopped (pc = the next one to run). */
	uint64_t a0 = h->cpu->x[R_A0], a1 = h->cpu->x[R_A1], pc = h->cpu->pc - CODE;
	uint64_t want = pc == 0 ? 4 * a0 : pc == 4 ? 4 * a1 + 1 : pc == 8 ? 4 * a1 + 2 : 4 * a0 - 1;
	assert_true(pc == 0 || pc == 4 || pc == 8 || pc == 12);
	assert_true(a0 == a1 || a0 == a1 + 1);
	assert_int_equal(done, want);
	fake_hart__run(h, 1);
	assert_int_equal(h->cpu->mcause, (1ull << 63) | IRQ_MTI);
}

/* A tiny code cache: a program with many distinct blocks fills it several times over; results and
 * instruction counts stay exact. */
static void test_full_cache_flushes(void **state)
{
	(void)state;
	setenv("WISP_JIT_CODE_KB", "256", 1);
	struct fake_hart *h = fake_hart__new();
	assert_non_null(h);
	char err[128];
	assert_int_equal(cpu__set_backend(h->cpu, RV_BACKEND_JIT, err, sizeof(err)), 0);
	unsetenv("WISP_JIT_CODE_KB");
	assert_int_equal(h->cpu->jit->size, 256u << 10);
	/* 4000 blocks: `addi a0, a0, i; jal 4`, then a loop back to the start, 3 rounds. */
	enum { N = 4000 };
	for (unsigned i = 0; i < N; i++) {
		fake_hart__put32(h, CODE + 8 * i, ADDI(R_A0, R_A0, (int32_t)(i & 0x3ff)));
		fake_hart__put32(h, CODE + 8 * i + 4, JAL(0, 4));
	}
	fake_hart__put32(h, CODE + 8 * N, JAL(0, -(int32_t)(8 * N)));
	uint64_t want = 0;
	for (unsigned i = 0; i < N; i++)
		want += i & 0x3ff;
	uint64_t done = 0;
	while (done < 3ull * (2 * N + 1))
		done += fake_hart__run(h, 3ull * (2 * N + 1) - done);
	assert_int_equal(h->cpu->x[R_A0], 3 * want);
	assert_int_equal(h->cpu->pc, CODE);
	struct jit_stats st;
	jit__stats(h->cpu->jit, &st);
	assert_true(st.flushes >= 3);
	fake_hart__free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_hit_path_is_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_wx_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_ends_long_loop, setup, teardown),
		cmocka_unit_test(test_full_cache_flushes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
