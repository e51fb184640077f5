/*
 * Unit tests for src/cpu/fpu.c: corner cases of RV64F/RV64D arithmetic, conversions, NaN
 * handling, rounding modes (RMM included), flags and illegal encodings.
 * Links fpu.c alone; cpu__raise() is stubbed here and longjmps back into the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"

/* ---- Stub of the rest of the CPU ---- */

static jmp_buf raise_jmp;
static int raise_armed;
static uint64_t raised_cause, raised_tval;

_Noreturn void cpu__raise(struct rv_cpu *cpu, uint64_t cause, uint64_t tval)
{
	(void)cpu;
	if (!raise_armed) {
		print_error("unexpected exception %llu, tval 0x%llx\n", (unsigned long long)cause,
			    (unsigned long long)tval);
		fail();
		abort();
	}
	raise_armed = 0;
	raised_cause = cause;
	raised_tval = tval;
	longjmp(raise_jmp, 1);
}

/* ---- Encoding ---- */

enum { S = 0, D = 1 };
enum { RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4, DYN = 7 };
enum { W = 0, WU = 1, L = 2, LU = 3 };

/* funct7 of OP-FP without the fmt bits. */
enum {
	F_ADD = 0x00,
	F_SUB = 0x04,
	F_MUL = 0x08,
	F_DIV = 0x0c,
	F_SGNJ = 0x10,
	F_MINMAX = 0x14,
	F_CVT_FF = 0x20,
	F_SQRT = 0x2c,
	F_CMP = 0x50,
	F_CVT_TO_INT = 0x60,
	F_CVT_FROM_INT = 0x68,
	F_MV_X = 0x70,
	F_MV_F = 0x78,
};

enum { MADD = 0x43, MSUB = 0x47, NMSUB = 0x4b, NMADD = 0x4f };

#define NV 0x10u
#define DZ 0x08u
#define OF 0x04u
#define UF 0x02u
#define NX 0x01u

static uint32_t fp(unsigned f7, unsigned fmt, unsigned rd, unsigned rs1, unsigned rs2,
		   unsigned f3)
{
	return (f7 | fmt) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x53;
}

static uint32_t r4(unsigned opc, unsigned fmt, unsigned rd, unsigned rs1, unsigned rs2,
		   unsigned rs3, unsigned rm)
{
	return rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opc;
}

/* ---- Values ---- */

static uint32_t fb(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static uint64_t db(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static uint64_t box(uint32_t v)
{
	return 0xffffffff00000000ull | v;
}

#define F_QNAN 0x7fc00000u
#define F_SNAN 0x7f800001u
#define F_INF 0x7f800000u
#define F_MAX 0x7f7fffffu
#define D_QNAN 0x7ff8000000000000ull
#define D_SNAN 0x7ff0000000000001ull
#define D_INF 0x7ff0000000000000ull

/* ---- Harness ---- */

static struct rv_cpu *cpu;

static int setup(void **state)
{
	(void)state;
	cpu = calloc(1, sizeof(*cpu));
	if (!cpu)
		return -1;
	cpu->mstatus = 1ull << 13; /* FS = Initial */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(cpu);
	return 0;
}

/* The host must be back in round to nearest even after every instruction. */
static void assert_host_nearest(void)
{
	volatile float one = 1.0f, mone = -1.0f, three = 3.0f;
	float p = one / three, n = mone / three;

	assert_int_equal(fb(p), 0x3eaaaaab);
	assert_int_equal(fb(n), 0xbeaaaaab);
}

/* Execute one instruction with fflags cleared; returns the new fflags. */
static unsigned run(uint32_t insn)
{
	cpu->fflags = 0;
	fpu__exec(cpu, insn);
	assert_host_nearest();
	return cpu->fflags;
}

/* True if insn raised; cause and tval are checked. */
static int raises(uint32_t insn)
{
	raised_cause = raised_tval = ~0ull;
	raise_armed = 1;
	if (setjmp(raise_jmp)) {
		assert_int_equal(raised_cause, EXC_ILLEGAL);
		assert_int_equal(raised_tval, insn);
		return 1;
	}
	fpu__exec(cpu, insn);
	raise_armed = 0;
	return 0;
}

/* f3 = f1 op f2, single precision (FSQRT: rs2 = 0, f2 unused). */
static uint32_t bin_s(unsigned f7, uint32_t a, uint32_t b, unsigned rm, unsigned *fl)
{
	cpu->f[1] = box(a);
	cpu->f[2] = box(b);
	*fl = run(fp(f7, S, 3, 1, f7 == F_SQRT ? 0 : 2, rm));
	assert_int_equal(cpu->f[3] >> 32, 0xffffffffu);
	return (uint32_t)cpu->f[3];
}

static uint64_t bin_d(unsigned f7, uint64_t a, uint64_t b, unsigned rm, unsigned *fl)
{
	cpu->f[1] = a;
	cpu->f[2] = b;
	*fl = run(fp(f7, D, 3, 1, f7 == F_SQRT ? 0 : 2, rm));
	return cpu->f[3];
}

static uint32_t fma_s(unsigned opc, uint32_t a, uint32_t b, uint32_t c, unsigned rm, unsigned *fl)
{
	cpu->f[1] = box(a);
	cpu->f[2] = box(b);
	cpu->f[4] = box(c);
	*fl = run(r4(opc, S, 3, 1, 2, 4, rm));
	assert_int_equal(cpu->f[3] >> 32, 0xffffffffu);
	return (uint32_t)cpu->f[3];
}

static uint64_t fma_d(unsigned opc, uint64_t a, uint64_t b, uint64_t c, unsigned rm, unsigned *fl)
{
	cpu->f[1] = a;
	cpu->f[2] = b;
	cpu->f[4] = c;
	*fl = run(r4(opc, D, 3, 1, 2, 4, rm));
	return cpu->f[3];
}

/* x5 = FCVT.<kind>.<fmt> f1 (raw f1 contents). */
static uint64_t to_int(unsigned fmt, unsigned kind, uint64_t f1, unsigned rm, unsigned *fl)
{
	cpu->f[1] = f1;
	cpu->x[5] = 0xdeadbeef;
	*fl = run(fp(F_CVT_TO_INT, fmt, 5, 1, kind, rm));
	return cpu->x[5];
}

/* f3 = FCVT.<fmt>.<kind> x5 (raw f3 contents). */
static uint64_t from_int(unsigned fmt, unsigned kind, uint64_t x, unsigned rm, unsigned *fl)
{
	cpu->x[5] = x;
	*fl = run(fp(F_CVT_FROM_INT, fmt, 3, 5, kind, rm));
	return cpu->f[3];
}

#define CHECK(call, res, flags)                                         \
	do {                                                            \
		unsigned fl_;                                           \
		assert_int_equal(call, res);                            \
		assert_int_equal(fl_, flags);                           \
	} while (0)

#define BIN_S(f7, a, b, rm, res, flags) CHECK(bin_s(f7, a, b, rm, &fl_), res, flags)
#define BIN_D(f7, a, b, rm, res, flags) CHECK(bin_d(f7, a, b, rm, &fl_), res, flags)
#define FMA_S(opc, a, b, c, rm, res, flags) CHECK(fma_s(opc, a, b, c, rm, &fl_), res, flags)
#define FMA_D(opc, a, b, c, rm, res, flags) CHECK(fma_d(opc, a, b, c, rm, &fl_), res, flags)
#define TO_INT(fmt, kind, v, rm, res, flags) CHECK(to_int(fmt, kind, v, rm, &fl_), res, flags)
#define FROM_INT(fmt, kind, x, rm, res, flags) CHECK(from_int(fmt, kind, x, rm, &fl_), res, flags)

/* ---- Tests ---- */

static void test_nan_boxing(void **state)
{
	unsigned fl;

	(void)state;
	/* Upper half not all ones: the operand reads as the canonical NaN. */
	cpu->f[1] = 0x000000003f800000ull;
	cpu->f[2] = box(fb(1.0f));
	fl = run(fp(F_ADD, S, 3, 1, 2, RNE));
	assert_int_equal(cpu->f[3], box(F_QNAN));
	assert_int_equal(fl, 0);

	cpu->f[1] = 0xfffffffe3f800000ull;
	fl = run(fp(F_ADD, S, 3, 2, 1, RNE));
	assert_int_equal(cpu->f[3], box(F_QNAN));
	assert_int_equal(fl, 0);

	/* Sign injection sees the canonical NaN too. */
	cpu->f[1] = 0x00000000bf800000ull;
	run(fp(F_SGNJ, S, 3, 1, 2, 0));
	assert_int_equal(cpu->f[3], box(F_QNAN));
	run(fp(F_SGNJ, S, 3, 1, 2, 1));
	assert_int_equal(cpu->f[3], box(0xffc00000));

	/* FCLASS: quiet NaN. */
	run(fp(F_MV_X, S, 5, 1, 0, 1));
	assert_int_equal(cpu->x[5], 1u << 9);

	/* FMV.X.W moves the raw low bits, sign-extended. */
	cpu->f[1] = 0x000000003f800000ull;
	run(fp(F_MV_X, S, 5, 1, 0, 0));
	assert_int_equal(cpu->x[5], 0x3f800000);
	cpu->f[1] = 0x0000000080000001ull;
	run(fp(F_MV_X, S, 5, 1, 0, 0));
	assert_int_equal(cpu->x[5], 0xffffffff80000001ull);

	/* FCVT.D.S of a malformed single: canonical double NaN, no flags. */
	fl = run(fp(F_CVT_FF, D, 3, 1, 0, RNE));
	assert_int_equal(cpu->f[3], D_QNAN);
	assert_int_equal(fl, 0);

	/* Fused op with a malformed addend. */
	cpu->f[1] = box(fb(2.0f));
	cpu->f[2] = box(fb(3.0f));
	cpu->f[4] = 0x1234567840000000ull;
	fl = run(r4(MADD, S, 3, 1, 2, 4, RNE));
	assert_int_equal(cpu->f[3], box(F_QNAN));
	assert_int_equal(fl, 0);

	/* A boxed single read as a double is a (quiet) double NaN. */
	cpu->f[1] = box(fb(1.0f));
	cpu->f[2] = db(1.0);
	fl = run(fp(F_ADD, D, 3, 1, 2, RNE));
	assert_int_equal(cpu->f[3], D_QNAN);
	assert_int_equal(fl, 0);
}

static void test_canonical_nan(void **state)
{
	(void)state;
	BIN_S(F_ADD, 0x7fc12345, fb(1.0f), RNE, F_QNAN, 0);
	BIN_S(F_MUL, 0xffc00000, fb(2.0f), RNE, F_QNAN, 0);
	BIN_S(F_ADD, F_SNAN, fb(1.0f), RNE, F_QNAN, NV);
	BIN_S(F_SUB, F_INF, F_INF, RNE, F_QNAN, NV);
	BIN_S(F_MUL, 0, F_INF, RTZ, F_QNAN, NV);
	BIN_D(F_ADD, 0x7ff800000000beefull, db(1.0), RNE, D_QNAN, 0);
	BIN_D(F_DIV, D_SNAN, db(1.0), RNE, D_QNAN, NV);
	BIN_D(F_SUB, D_INF | (1ull << 63), D_INF | (1ull << 63), RUP, D_QNAN, NV);

	/* Conversions between formats. */
	cpu->f[1] = D_SNAN;
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RNE)), NV);
	assert_int_equal(cpu->f[3], box(F_QNAN));
	cpu->f[1] = 0xfff8000000001234ull;
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RNE)), 0);
	assert_int_equal(cpu->f[3], box(F_QNAN));
	cpu->f[1] = box(0xff800001);
	assert_int_equal(run(fp(F_CVT_FF, D, 3, 1, 0, RNE)), NV);
	assert_int_equal(cpu->f[3], D_QNAN);

	/* Sign injection is not arithmetic: payloads pass through untouched. */
	BIN_S(F_SGNJ, 0x7fc12345, 0x80000000, 0, 0xffc12345, 0);
	BIN_S(F_SGNJ, F_SNAN, 0, 1, 0x80000000 | F_SNAN, 0);
}

static void test_minmax(void **state)
{
	uint32_t pz = 0, nz = 0x80000000;
	uint64_t dpz = 0, dnz = 1ull << 63;

	(void)state;
	BIN_S(F_MINMAX, nz, pz, 0, nz, 0);
	BIN_S(F_MINMAX, pz, nz, 0, nz, 0);
	BIN_S(F_MINMAX, nz, pz, 1, pz, 0);
	BIN_S(F_MINMAX, pz, nz, 1, pz, 0);
	BIN_D(F_MINMAX, dnz, dpz, 0, dnz, 0);
	BIN_D(F_MINMAX, dpz, dnz, 0, dnz, 0);
	BIN_D(F_MINMAX, dnz, dpz, 1, dpz, 0);
	BIN_D(F_MINMAX, dpz, dnz, 1, dpz, 0);

	/* One NaN: the number wins; a signaling NaN still raises NV. */
	BIN_S(F_MINMAX, F_SNAN, fb(1.0f), 0, fb(1.0f), NV);
	BIN_S(F_MINMAX, fb(1.0f), F_SNAN, 1, fb(1.0f), NV);
	BIN_S(F_MINMAX, F_QNAN, fb(-3.0f), 0, fb(-3.0f), 0);
	BIN_S(F_MINMAX, fb(-3.0f), 0xffc00001, 1, fb(-3.0f), 0);
	BIN_D(F_MINMAX, D_SNAN, db(-2.0), 1, db(-2.0), NV);
	BIN_D(F_MINMAX, D_QNAN, db(-2.0), 0, db(-2.0), 0);

	/* Two NaNs: canonical NaN. */
	BIN_S(F_MINMAX, 0x7fc00001, 0xffc00002, 0, F_QNAN, 0);
	BIN_S(F_MINMAX, F_SNAN, F_QNAN, 1, F_QNAN, NV);
	BIN_D(F_MINMAX, D_SNAN, D_SNAN, 0, D_QNAN, NV);

	/* Ordinary values. */
	BIN_S(F_MINMAX, fb(-1.0f), fb(-2.0f), 0, fb(-2.0f), 0);
	BIN_S(F_MINMAX, fb(-1.0f), fb(-2.0f), 1, fb(-1.0f), 0);
	BIN_S(F_MINMAX, 0xff800000, F_INF, 1, F_INF, 0);
	BIN_D(F_MINMAX, db(1.0), db(2.0), 0, db(1.0), 0);
	BIN_D(F_MINMAX, db(1.0), db(-2.0), 1, db(1.0), 0);
}

static void test_cmp(void **state)
{
	unsigned fl;
	int i;
	static const struct {
		unsigned fmt, f3;
		uint64_t a, b, res;
		unsigned fl;
	} t[] = {
		{ S, 2, F_QNAN, 0x3f800000, 0, 0 },
		{ S, 2, F_SNAN, 0x3f800000, 0, NV },
		{ S, 2, F_QNAN, F_QNAN, 0, 0 },
		{ S, 1, F_QNAN, 0x3f800000, 0, NV },
		{ S, 0, 0x3f800000, F_QNAN, 0, NV },
		{ S, 2, 0x80000000, 0, 1, 0 },
		{ S, 1, 0x80000000, 0, 0, 0 },
		{ S, 0, 0x80000000, 0, 1, 0 },
		{ S, 1, 0xc0000000, 0xbf800000, 1, 0 }, /* -2 < -1 */
		{ S, 1, 0xbf800000, 0xc0000000, 0, 0 },
		{ S, 0, 0xbf800000, 0x3f800000, 1, 0 },
		{ S, 1, 0xff800000, 0xff7fffff, 1, 0 },
		{ D, 2, D_SNAN, D_SNAN, 0, NV },
		{ D, 0, D_QNAN, 0, 0, NV },
		{ D, 1, 0xbff0000000000000ull, 0x3ff0000000000000ull, 1, 0 },
		{ D, 0, 0x4000000000000000ull, 0x3ff0000000000000ull, 0, 0 },
		{ D, 2, 0x4000000000000000ull, 0x4000000000000000ull, 1, 0 },
		{ D, 2, 1ull << 63, 0, 1, 0 },
	};

	(void)state;
	for (i = 0; i < (int)(sizeof(t) / sizeof(t[0])); i++) {
		cpu->f[1] = t[i].fmt == S ? box((uint32_t)t[i].a) : t[i].a;
		cpu->f[2] = t[i].fmt == S ? box((uint32_t)t[i].b) : t[i].b;
		cpu->x[5] = 0x55;
		fl = run(fp(F_CMP, t[i].fmt, 5, 1, 2, t[i].f3));
		assert_int_equal(cpu->x[5], t[i].res);
		assert_int_equal(fl, t[i].fl);
	}
	/* rd = x0 is never written. */
	run(fp(F_CMP, D, 0, 1, 1, 2));
	assert_int_equal(cpu->x[0], 0);
}

static void test_cvt_w_s(void **state)
{
	(void)state;
	TO_INT(S, W, box(F_QNAN), RNE, 0x7fffffff, NV);
	TO_INT(S, W, box(F_SNAN), RNE, 0x7fffffff, NV);
	TO_INT(S, W, box(0xffc00000), RNE, 0x7fffffff, NV);
	TO_INT(S, W, 0x3f800000, RNE, 0x7fffffff, NV); /* not boxed */
	TO_INT(S, W, box(F_INF), RNE, 0x7fffffff, NV);
	TO_INT(S, W, box(0xff800000), RNE, 0xffffffff80000000ull, NV);
	TO_INT(S, W, box(fb(3e9f)), RNE, 0x7fffffff, NV);
	TO_INT(S, W, box(fb(-3e9f)), RTZ, 0xffffffff80000000ull, NV);
	TO_INT(S, W, box(fb(2147483648.0f)), RNE, 0x7fffffff, NV);
	TO_INT(S, W, box(fb(2147483520.0f)), RNE, 2147483520, 0);
	TO_INT(S, W, box(fb(-2147483648.0f)), RNE, 0xffffffff80000000ull, 0);
	TO_INT(S, W, box(fb(-7.0f)), RNE, (uint64_t)-7, 0);
	TO_INT(S, W, box(0x80000000), RNE, 0, 0);
	TO_INT(S, W, box(fb(1.5f)), RNE, 2, NX);
	TO_INT(S, W, box(1), RNE, 0, NX);

	/* Rounding decides whether a value near the edge is in range. */
	TO_INT(D, W, db(2147483647.5), RNE, 0x7fffffff, NV);
	TO_INT(D, W, db(2147483647.5), RTZ, 0x7fffffff, NX);
	TO_INT(D, W, db(2147483647.4), RNE, 0x7fffffff, NX);
	TO_INT(D, W, db(-2147483648.5), RNE, 0xffffffff80000000ull, NX);
	TO_INT(D, W, db(-2147483648.5), RMM, 0xffffffff80000000ull, NV);
	TO_INT(D, W, db(-2147483648.5), RUP, 0xffffffff80000000ull, NX);
	TO_INT(D, W, db(-2147483648.5), RDN, 0xffffffff80000000ull, NV);
	TO_INT(D, W, D_QNAN, RNE, 0x7fffffff, NV);

	/* x0 as destination. */
	cpu->f[1] = box(fb(3.0f));
	run(fp(F_CVT_TO_INT, S, 0, 1, W, RNE));
	assert_int_equal(cpu->x[0], 0);
}

static void test_cvt_wu(void **state)
{
	(void)state;
	TO_INT(S, WU, box(fb(-1.0f)), RNE, 0, NV);
	TO_INT(S, WU, box(fb(-0.3f)), RTZ, 0, NX);
	TO_INT(S, WU, box(fb(-0.3f)), RNE, 0, NX);
	TO_INT(S, WU, box(fb(-0.6f)), RNE, 0, NV);
	TO_INT(S, WU, box(fb(-0.6f)), RUP, 0, NX);
	TO_INT(S, WU, box(0x80000000), RNE, 0, 0);
	TO_INT(S, WU, box(fb(3e9f)), RNE, 0xffffffffb2d05e00ull, 0); /* sign-extended */
	TO_INT(S, WU, box(fb(5e9f)), RNE, ~0ull, NV);
	TO_INT(S, WU, box(F_QNAN), RNE, ~0ull, NV);
	TO_INT(S, WU, box(F_INF), RNE, ~0ull, NV);
	TO_INT(S, WU, box(0xff800000), RNE, 0, NV);
	TO_INT(S, WU, box(fb(7.0f)), RNE, 7, 0);
	TO_INT(D, WU, db(4294967295.0), RNE, ~0ull, 0);
	TO_INT(D, WU, db(4294967295.5), RNE, ~0ull, NV);
	TO_INT(D, WU, db(4294967295.5), RDN, ~0ull, NX);
	TO_INT(D, WU, db(2147483648.0), RNE, 0xffffffff80000000ull, 0);
}

static void test_cvt_l(void **state)
{
	(void)state;
	TO_INT(D, L, db(9223372036854775808.0), RNE, 0x7fffffffffffffffull, NV);
	TO_INT(D, L, db(-9223372036854775808.0), RNE, 1ull << 63, 0);
	TO_INT(D, L, db(-9223372036854777856.0), RNE, 1ull << 63, NV);
	TO_INT(D, L, 0xfff0000000000000ull, RNE, 1ull << 63, NV);
	TO_INT(D, L, D_INF, RNE, 0x7fffffffffffffffull, NV);
	TO_INT(D, L, D_SNAN, RNE, 0x7fffffffffffffffull, NV);
	TO_INT(D, L, db(9223372036854774784.0), RNE, 9223372036854774784ull, 0);
	TO_INT(S, L, box(fb(-1.5f)), RNE, (uint64_t)-2, NX);
	TO_INT(S, L, box(fb(1e19f)), RNE, 0x7fffffffffffffffull, NV);
	TO_INT(S, L, box(fb(-1.5f)), RTZ, (uint64_t)-1, NX);

	TO_INT(D, LU, db(18446744073709551616.0), RNE, ~0ull, NV);
	TO_INT(D, LU, db(18446744073709549568.0), RNE, 0xfffffffffffff800ull, 0);
	TO_INT(D, LU, db(-1.0), RNE, 0, NV);
	TO_INT(D, LU, db(-0.5), RUP, 0, NX);
	TO_INT(D, LU, db(-0.5), RMM, 0, NV);
	TO_INT(D, LU, D_QNAN, RNE, ~0ull, NV);
	TO_INT(D, LU, 0xfff0000000000000ull, RNE, 0, NV);
	TO_INT(S, LU, box(fb(1e20f)), RNE, ~0ull, NV);
	TO_INT(S, LU, box(fb(1e19f)), RNE, 9999999980506447872ull, 0);
}

/* FCVT.W.S of halfway and other values under every rounding mode, static and dynamic. */
static void test_cvt_rounding(void **state)
{
	static const float in[] = { 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, -1.5f, 2.25f, -2.75f };
	static const int64_t out[5][8] = {
		[RNE] = { 2, -2, 0, 0, 2, -2, 2, -3 },
		[RTZ] = { 2, -2, 0, 0, 1, -1, 2, -2 },
		[RDN] = { 2, -3, 0, -1, 1, -2, 2, -3 },
		[RUP] = { 3, -2, 1, 0, 2, -1, 3, -2 },
		[RMM] = { 3, -3, 1, -1, 2, -2, 2, -3 },
	};
	unsigned rm, i;

	(void)state;
	for (rm = 0; rm < 5; rm++) {
		for (i = 0; i < 8; i++) {
			TO_INT(S, W, box(fb(in[i])), rm, (uint64_t)out[rm][i], NX);
			TO_INT(D, L, db(in[i]), rm, (uint64_t)out[rm][i], NX);
			cpu->frm = rm;
			TO_INT(S, W, box(fb(in[i])), DYN, (uint64_t)out[rm][i], NX);
			cpu->frm = 0;
		}
	}
}

static void test_arith_rounding(void **state)
{
	static const uint32_t third[5] = {
		0x3eaaaaab, 0x3eaaaaaa, 0x3eaaaaaa, 0x3eaaaaab, 0x3eaaaaab,
	};
	static const uint32_t mthird[5] = {
		0xbeaaaaab, 0xbeaaaaaa, 0xbeaaaaab, 0xbeaaaaaa, 0xbeaaaaab,
	};
	/* 1 + 2^-24 is halfway between 1 and 1 + 2^-23. */
	static const uint32_t tie[5] = {
		0x3f800000, 0x3f800000, 0x3f800000, 0x3f800001, 0x3f800001,
	};
	static const uint32_t mtie[5] = {
		0xbf800000, 0xbf800000, 0xbf800001, 0xbf800000, 0xbf800001,
	};
	unsigned rm;

	(void)state;
	for (rm = 0; rm < 5; rm++) {
		BIN_S(F_DIV, fb(1.0f), fb(3.0f), rm, third[rm], NX);
		BIN_S(F_DIV, fb(-1.0f), fb(3.0f), rm, mthird[rm], NX);
		BIN_S(F_ADD, fb(1.0f), 0x33800000, rm, tie[rm], NX);
		BIN_S(F_SUB, fb(-1.0f), 0x33800000, rm, mtie[rm], NX);
		cpu->frm = rm;
		BIN_S(F_ADD, fb(1.0f), 0x33800000, DYN, tie[rm], NX);
		cpu->frm = 0;
	}

	/* RMM: not halfway, so same as RNE; halfway with an odd lower neighbour. */
	BIN_S(F_ADD, fb(1.0f), fb(0x1p-24f + 0x1p-30f), RMM, 0x3f800001, NX);
	BIN_S(F_ADD, fb(1.0f), fb(0x1p-24f - 0x1p-30f), RMM, 0x3f800000, NX);
	BIN_S(F_ADD, 0x3f800001, 0x33800000, RMM, 0x3f800002, NX);
	BIN_S(F_ADD, 0x3f800001, 0x33800000, RNE, 0x3f800002, NX);
	/* (1 + 3u) * 1.5 = 1.5 + 4.5u */
	BIN_S(F_MUL, 0x3f800003, fb(1.5f), RNE, 0x3fc00004, NX);
	BIN_S(F_MUL, 0x3f800003, fb(1.5f), RMM, 0x3fc00005, NX);
	BIN_S(F_ADD, fb(1.0f), fb(2.0f), RMM, fb(3.0f), 0);
	BIN_S(F_SUB, fb(1.0f), fb(1.0f), RMM, 0, 0);
	BIN_S(F_SUB, fb(1.0f), fb(1.0f), RDN, 0x80000000, 0);
	BIN_S(F_SQRT, fb(2.0f), 0, RMM, 0x3fb504f3, NX);
	/* Halfway between subnormals: 2.5 * 2^-149. */
	BIN_S(F_DIV, 5, fb(2.0f), RNE, 2, UF | NX);
	BIN_S(F_DIV, 5, fb(2.0f), RMM, 3, UF | NX);
	BIN_S(F_DIV, 5, fb(2.0f), RTZ, 2, UF | NX);
	BIN_S(F_DIV, 5, fb(2.0f), RUP, 3, UF | NX);
	BIN_S(F_DIV, 0x80000005, fb(2.0f), RMM, 0x80000003, UF | NX);
	BIN_S(F_MUL, 0x00800001, fb(0.5f), RNE, 0x00400000, UF | NX);
	BIN_S(F_MUL, 0x00800001, fb(0.5f), RMM, 0x00400001, UF | NX);
	BIN_S(F_MUL, 0x00800000, fb(0.5f), RNE, 0x00400000, 0); /* tiny but exact */

	/* Double precision. */
	BIN_D(F_ADD, db(1.0), db(0x1p-53), RNE, 0x3ff0000000000000ull, NX);
	BIN_D(F_ADD, db(1.0), db(0x1p-53), RMM, 0x3ff0000000000001ull, NX);
	BIN_D(F_ADD, db(-1.0), db(-0x1p-53), RMM, 0xbff0000000000001ull, NX);
	BIN_D(F_ADD, db(-1.0), db(-0x1p-53), RUP, 0xbff0000000000000ull, NX);
	BIN_D(F_ADD, db(1.0), db(0x1p-53 + 0x1p-60), RNE, 0x3ff0000000000001ull, NX);
	BIN_D(F_ADD, db(1.0), db(0x1p-53 - 0x1p-60), RMM, 0x3ff0000000000000ull, NX);
	BIN_D(F_MUL, 0x3ff0000000000003ull, db(1.5), RNE, 0x3ff8000000000004ull, NX);
	BIN_D(F_MUL, 0x3ff0000000000003ull, db(1.5), RMM, 0x3ff8000000000005ull, NX);
	BIN_D(F_DIV, 5, db(2.0), RMM, 3, UF | NX);
	BIN_D(F_DIV, 5, db(2.0), RNE, 2, UF | NX);
	BIN_D(F_DIV, db(1.0), db(3.0), RTZ, 0x3fd5555555555555ull, NX);
	BIN_D(F_DIV, db(1.0), db(3.0), RUP, 0x3fd5555555555556ull, NX);
	BIN_D(F_DIV, db(1.0), db(3.0), RMM, 0x3fd5555555555555ull, NX);
	BIN_D(F_SQRT, db(4.0), 0, RMM, db(2.0), 0);
}

static void test_overflow_underflow(void **state)
{
	static const uint32_t big[5] = { F_INF, F_MAX, F_MAX, F_INF, F_INF };
	static const uint32_t mbig[5] = {
		0xff800000, 0xff7fffff, 0xff800000, 0xff7fffff, 0xff800000,
	};
	unsigned rm;

	(void)state;
	for (rm = 0; rm < 5; rm++) {
		BIN_S(F_MUL, F_MAX, fb(2.0f), rm, big[rm], OF | NX);
		BIN_S(F_MUL, F_MAX, fb(-2.0f), rm, mbig[rm], OF | NX);
	}
	/* FLT_MAX + half an ulp: halfway to 2^128, so RNE and RMM overflow, RTZ does not. */
	BIN_S(F_ADD, F_MAX, 0x73000000, RNE, F_INF, OF | NX);
	BIN_S(F_ADD, F_MAX, 0x73000000, RMM, F_INF, OF | NX);
	BIN_S(F_ADD, F_MAX, 0x73000000, RTZ, F_MAX, NX);
	BIN_S(F_ADD, F_MAX, 0x72800000, RMM, F_MAX, NX);
	BIN_D(F_MUL, 0x7fefffffffffffffull, db(2.0), RNE, D_INF, OF | NX);
	BIN_D(F_MUL, 0x7fefffffffffffffull, db(2.0), RTZ, 0x7fefffffffffffffull, OF | NX);
	BIN_D(F_MUL, 0x7fefffffffffffffull, db(2.0), RMM, D_INF, OF | NX);
	BIN_D(F_MUL, db(0x1p-1000), db(0x1p-100), RNE, 0, UF | NX);
	BIN_D(F_MUL, db(0x1p-1000), db(0x1p-100), RUP, 1, UF | NX);
	BIN_D(F_MUL, db(0x1p-1000), db(0x1p-75), RMM, 1, UF | NX); /* exactly 2^-1075 */
	BIN_D(F_MUL, db(0x1p-1000), db(0x1p-75), RNE, 0, UF | NX);
	BIN_S(F_MUL, fb(0x1p-100f), fb(0x1p-100f), RDN, 0, UF | NX);
}

static void test_div_sqrt(void **state)
{
	(void)state;
	BIN_S(F_DIV, fb(1.0f), 0, RNE, F_INF, DZ);
	BIN_S(F_DIV, fb(-1.0f), 0, RNE, 0xff800000, DZ);
	BIN_S(F_DIV, fb(1.0f), 0x80000000, RTZ, 0xff800000, DZ);
	BIN_S(F_DIV, 0, 0, RNE, F_QNAN, NV);
	BIN_S(F_DIV, F_INF, 0, RNE, F_INF, 0);
	BIN_S(F_DIV, F_INF, F_INF, RNE, F_QNAN, NV);
	BIN_D(F_DIV, db(1.0), 0, RNE, D_INF, DZ);
	BIN_D(F_DIV, 0, 0, RMM, D_QNAN, NV);

	BIN_S(F_SQRT, fb(-1.0f), 0, RNE, F_QNAN, NV);
	BIN_S(F_SQRT, 0xff800000, 0, RNE, F_QNAN, NV);
	BIN_S(F_SQRT, 0x80000000, 0, RNE, 0x80000000, 0);
	BIN_S(F_SQRT, F_INF, 0, RNE, F_INF, 0);
	BIN_S(F_SQRT, fb(2.0f), 0, RNE, 0x3fb504f3, NX);
	BIN_S(F_SQRT, fb(2.0f), 0, RTZ, 0x3fb504f3, NX);
	BIN_S(F_SQRT, fb(2.0f), 0, RUP, 0x3fb504f4, NX);
	BIN_S(F_SQRT, F_SNAN, 0, RNE, F_QNAN, NV);
	BIN_D(F_SQRT, db(-1.0), 0, RNE, D_QNAN, NV);
	BIN_D(F_SQRT, db(4.0), 0, RNE, db(2.0), 0);
	BIN_D(F_SQRT, db(2.0), 0, RNE, 0x3ff6a09e667f3bcdull, NX);
	BIN_D(F_SQRT, db(2.0), 0, RDN, 0x3ff6a09e667f3bccull, NX);
}

static void test_fma(void **state)
{
	(void)state;
	FMA_S(MADD, fb(2.0f), fb(3.0f), fb(1.0f), RNE, fb(7.0f), 0);
	FMA_S(MSUB, fb(2.0f), fb(3.0f), fb(1.0f), RNE, fb(5.0f), 0);
	FMA_S(NMSUB, fb(2.0f), fb(3.0f), fb(1.0f), RNE, fb(-5.0f), 0);
	FMA_S(NMADD, fb(2.0f), fb(3.0f), fb(1.0f), RNE, fb(-7.0f), 0);
	FMA_D(MADD, db(2.0), db(3.0), db(1.0), RNE, db(7.0), 0);
	FMA_D(MSUB, db(2.0), db(3.0), db(1.0), RNE, db(5.0), 0);
	FMA_D(NMSUB, db(2.0), db(3.0), db(1.0), RNE, db(-5.0), 0);
	FMA_D(NMADD, db(2.0), db(3.0), db(1.0), RNE, db(-7.0), 0);

	/* One rounding: (1 + 2^-12)^2 - (1 + 2^-11) = 2^-24 exactly. */
	FMA_S(MADD, 0x3f800800, 0x3f800800, 0xbf801000, RNE, 0x33800000, 0);
	FMA_S(MSUB, 0x3f800800, 0x3f800800, 0x3f801000, RNE, 0x33800000, 0);
	FMA_D(MADD, 0x3ff0000002000000ull, 0x3ff0000002000000ull, 0xbff0000004000000ull, RNE,
	      0x3c90000000000000ull, 0);

	/* Invalid: 0 * inf, even when the addend is a quiet NaN. */
	FMA_S(MADD, 0, F_INF, F_QNAN, RNE, F_QNAN, NV);
	FMA_S(MADD, F_INF, 0x80000000, 0xffc00000, RNE, F_QNAN, NV);
	FMA_S(NMADD, 0, F_INF, fb(1.0f), RNE, F_QNAN, NV);
	FMA_S(MADD, fb(1.0f), F_QNAN, fb(1.0f), RNE, F_QNAN, 0);
	FMA_S(MADD, fb(1.0f), fb(1.0f), F_SNAN, RNE, F_QNAN, NV);
	FMA_S(MADD, F_INF, fb(1.0f), 0xff800000, RNE, F_QNAN, NV);
	FMA_D(MADD, D_INF, 0, D_QNAN, RNE, D_QNAN, NV);
	FMA_D(MADD, db(1.0), db(2.0), D_QNAN, RNE, D_QNAN, 0);

	/* Signed zeros. */
	FMA_S(NMADD, 0, fb(1.0f), 0, RNE, 0x80000000, 0);
	FMA_S(NMSUB, 0, fb(1.0f), 0, RNE, 0, 0);
	FMA_S(NMSUB, 0, fb(1.0f), 0, RDN, 0x80000000, 0);
	FMA_D(MSUB, 0, db(1.0), 0, RNE, 0, 0);

	/* Rounding modes, RMM included: 1 * 1 + 2^-24 is a tie. */
	FMA_S(MADD, fb(1.0f), fb(1.0f), 0x33800000, RNE, 0x3f800000, NX);
	FMA_S(MADD, fb(1.0f), fb(1.0f), 0x33800000, RMM, 0x3f800001, NX);
	FMA_S(NMADD, fb(1.0f), fb(1.0f), 0x33800000, RMM, 0xbf800001, NX);
	FMA_S(MADD, fb(1.0f), fb(3.0f), fb(0x1p-30f), RUP, 0x40400001, NX);
	FMA_D(MADD, db(1.0), db(1.0), db(0x1p-53), RMM, 0x3ff0000000000001ull, NX);
	FMA_D(MADD, db(1.0), db(1.0), db(0x1p-53), RNE, 0x3ff0000000000000ull, NX);
	/* (1 + 2^-52)^2 - 1 = 2^-51 + 2^-104: a tie. */
	FMA_D(MADD, 0x3ff0000000000001ull, 0x3ff0000000000001ull, db(-1.0), RMM,
	      0x3cc0000000000001ull, NX);
	FMA_D(MADD, 0x3ff0000000000001ull, 0x3ff0000000000001ull, db(-1.0), RNE,
	      0x3cc0000000000000ull, NX);
	/* (1 + 2^-52)^2 - 0.5 needs 104 bits: never a tie. */
	FMA_D(MADD, 0x3ff0000000000001ull, 0x3ff0000000000001ull, db(-0.5), RMM,
	      0x3fe0000000000004ull, NX);
}

static void test_fclass(void **state)
{
	static const uint32_t s[10] = {
		0xff800000, 0xbf800000, 0x80000001, 0x80000000, 0x00000000,
		0x007fffff, 0x3f800000, 0x7f800000, 0x7fbfffff, 0x7fc00000,
	};
	static const uint64_t d[10] = {
		0xfff0000000000000ull, 0xbff0000000000000ull, 0x800fffffffffffffull,
		0x8000000000000000ull, 0, 1, 0x0010000000000000ull, 0x7ff0000000000000ull,
		0xfff4000000000000ull, 0xfff8000000000001ull,
	};
	unsigned i, fl;

	(void)state;
	for (i = 0; i < 10; i++) {
		cpu->f[1] = box(s[i]);
		fl = run(fp(F_MV_X, S, 5, 1, 0, 1));
		assert_int_equal(cpu->x[5], 1u << i);
		assert_int_equal(fl, 0);
		cpu->f[1] = d[i];
		fl = run(fp(F_MV_X, D, 5, 1, 0, 1));
		assert_int_equal(cpu->x[5], 1u << i);
		assert_int_equal(fl, 0);
	}
}

static void test_sgnj(void **state)
{
	(void)state;
	BIN_S(F_SGNJ, fb(1.0f), fb(-2.0f), 0, fb(-1.0f), 0);
	BIN_S(F_SGNJ, fb(-1.0f), fb(-2.0f), 1, fb(1.0f), 0);
	BIN_S(F_SGNJ, fb(-1.0f), fb(-2.0f), 2, fb(1.0f), 0);
	BIN_S(F_SGNJ, fb(-1.0f), fb(2.0f), 2, fb(-1.0f), 0);
	BIN_D(F_SGNJ, db(3.0), db(-0.0), 0, db(-3.0), 0);
	BIN_D(F_SGNJ, db(3.0), db(3.0), 1, db(-3.0), 0);
	BIN_D(F_SGNJ, db(-3.0), db(-3.0), 2, db(3.0), 0);
	BIN_D(F_SGNJ, D_SNAN, D_SNAN, 1, D_SNAN | (1ull << 63), 0);
}

static void test_mv(void **state)
{
	(void)state;
	cpu->f[1] = box(0x80000000);
	run(fp(F_MV_X, S, 5, 1, 0, 0));
	assert_int_equal(cpu->x[5], 0xffffffff80000000ull);
	cpu->f[1] = box(0x7f800000);
	run(fp(F_MV_X, S, 5, 1, 0, 0));
	assert_int_equal(cpu->x[5], 0x7f800000);
	run(fp(F_MV_X, S, 0, 1, 0, 0));
	assert_int_equal(cpu->x[0], 0);

	cpu->x[6] = 0x123456789abcdef0ull;
	run(fp(F_MV_F, S, 7, 6, 0, 0));
	assert_int_equal(cpu->f[7], 0xffffffff9abcdef0ull);
	run(fp(F_MV_F, D, 8, 6, 0, 0));
	assert_int_equal(cpu->f[8], 0x123456789abcdef0ull);
	cpu->f[9] = D_SNAN;
	run(fp(F_MV_X, D, 10, 9, 0, 0));
	assert_int_equal(cpu->x[10], D_SNAN);
}

static void test_cvt_from_int(void **state)
{
	(void)state;
	FROM_INT(S, W, (uint64_t)-1, RNE, box(0xbf800000), 0);
	FROM_INT(S, W, 0x0000000100000005ull, RNE, box(fb(5.0f)), 0);
	FROM_INT(S, WU, ~0ull, RNE, box(0x4f800000), NX);
	FROM_INT(S, WU, ~0ull, RTZ, box(0x4f7fffff), NX);
	FROM_INT(S, W, 0x80000000, RNE, box(0xcf000000), 0);
	/* 2^24 + 1 is halfway between 2^24 and 2^24 + 2. */
	FROM_INT(S, W, 16777217, RNE, box(0x4b800000), NX);
	FROM_INT(S, W, 16777217, RMM, box(0x4b800001), NX);
	FROM_INT(S, W, 16777217, RUP, box(0x4b800001), NX);
	FROM_INT(S, W, 16777217, RTZ, box(0x4b800000), NX);
	FROM_INT(S, W, (uint64_t)-16777217, RMM, box(0xcb800001), NX);
	FROM_INT(S, W, (uint64_t)-16777217, RDN, box(0xcb800001), NX);
	FROM_INT(S, W, (uint64_t)-16777217, RUP, box(0xcb800000), NX);
	FROM_INT(S, W, 16777219, RNE, box(0x4b800002), NX);
	FROM_INT(S, W, 16777219, RMM, box(0x4b800002), NX);
	FROM_INT(S, W, 16777221, RMM, box(0x4b800003), NX);
	FROM_INT(S, W, 16777221, RNE, box(0x4b800002), NX);
	FROM_INT(S, L, 1ull << 63, RMM, box(0xdf000000), 0);
	FROM_INT(S, L, ~0ull >> 1, RMM, box(0x5f000000), NX);
	FROM_INT(S, LU, ~0ull, RNE, box(0x5f800000), NX);
	FROM_INT(S, LU, ~0ull, RTZ, box(0x5f7fffff), NX);
	FROM_INT(S, LU, (1ull << 63) | (1ull << 39), RMM, box(0x5f000001), NX);
	FROM_INT(S, LU, (1ull << 63) | (1ull << 39), RNE, box(0x5f000000), NX);

	FROM_INT(D, W, 0x80000000, RNE, db(-2147483648.0), 0);
	FROM_INT(D, WU, 0xffffffff, RNE, db(4294967295.0), 0);
	FROM_INT(D, WU, 0xffffffff, RMM, db(4294967295.0), 0);
	FROM_INT(D, L, (1ull << 53) + 1, RNE, 0x4340000000000000ull, NX);
	FROM_INT(D, L, (1ull << 53) + 1, RMM, 0x4340000000000001ull, NX);
	FROM_INT(D, L, -((1ull << 53) + 1), RMM, 0xc340000000000001ull, NX);
	FROM_INT(D, L, -((1ull << 53) + 1), RTZ, 0xc340000000000000ull, NX);
	FROM_INT(D, LU, ~0ull, RNE, 0x43f0000000000000ull, NX);
	FROM_INT(D, LU, ~0ull, RTZ, 0x43efffffffffffffull, NX);
	FROM_INT(D, LU, ~0ull, RMM, 0x43f0000000000000ull, NX);
	FROM_INT(D, LU, 0, RMM, 0, 0);
}

static void test_cvt_ff(void **state)
{
	unsigned fl;

	(void)state;
	cpu->f[1] = db(1.0 / 3.0);
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RNE)), NX);
	assert_int_equal(cpu->f[3], box(0x3eaaaaab));
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RTZ)), NX);
	assert_int_equal(cpu->f[3], box(0x3eaaaaaa));

	cpu->f[1] = db(1.0 + 0x1p-24);
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RNE)), NX);
	assert_int_equal(cpu->f[3], box(0x3f800000));
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RMM)), NX);
	assert_int_equal(cpu->f[3], box(0x3f800001));

	cpu->f[1] = db(1e300);
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RNE)), OF | NX);
	assert_int_equal(cpu->f[3], box(F_INF));
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RTZ)), OF | NX);
	assert_int_equal(cpu->f[3], box(F_MAX));

	/* (1 - 2^-25) * 2^-126 rounds up to 2^-126: tininess after rounding, so no UF. */
	cpu->f[1] = db(0x1p-126 - 0x1p-151);
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RNE)), NX);
	assert_int_equal(cpu->f[3], box(0x00800000));
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RMM)), NX);
	assert_int_equal(cpu->f[3], box(0x00800000));
	assert_int_equal(run(fp(F_CVT_FF, S, 3, 1, 1, RTZ)), UF | NX);
	assert_int_equal(cpu->f[3], box(0x007fffff));

	cpu->f[1] = box(fb(1.5f));
	fl = run(fp(F_CVT_FF, D, 3, 1, 0, RNE));
	assert_int_equal(cpu->f[3], db(1.5));
	assert_int_equal(fl, 0);
	cpu->f[1] = box(1);
	fl = run(fp(F_CVT_FF, D, 3, 1, 0, RUP));
	assert_int_equal(cpu->f[3], db(0x1p-149));
	assert_int_equal(fl, 0);
}

static void test_illegal(void **state)
{
	static const uint32_t bad[] = {
		0x00000053 | 2u << 25,	/* FADD.H */
		0x00000053 | 3u << 25,	/* FADD.Q */
		0x00000053 | 5u << 12,	/* FADD.S rm=5 */
		0x00000053 | 6u << 12,	/* FADD.S rm=6 */
		0x5a000053 | 1u << 20,	/* FSQRT.D rs2=1 */
		0x20000053 | 3u << 12,	/* FSGNJ funct3=3 */
		0x28000053 | 2u << 12,	/* FMIN funct3=2 */
		0xa0000053 | 3u << 12,	/* FEQ funct3=3 */
		0xc0000053 | 4u << 20,	/* FCVT.?.S rs2=4 */
		0xd2000053 | 5u << 20,	/* FCVT.D.? rs2=5 */
		0x40000053,		/* FCVT.S.S */
		0x40000053 | 2u << 20,	/* FCVT.S.H */
		0x42000053 | 1u << 20,	/* FCVT.D.D */
		0xe0000053 | 2u << 12,	/* FMV.X.W funct3=2 */
		0xe0000053 | 1u << 20,	/* FMV.X.W rs2=1 */
		0xe2000053 | 1u << 12 | 1u << 20, /* FCLASS.D rs2=1 */
		0xf0000053 | 1u << 12,	/* FMV.W.X funct3=1 */
		0xf2000053 | 1u << 20,	/* FMV.D.X rs2=1 */
		0xf8000053,		/* funct7 0x7c */
		0x60000053,		/* funct7 0x30 */
		0x48000053,		/* funct7 0x24 */
		0x30000053,		/* funct7 0x18 */
		0x00000043 | 2u << 25,	/* FMADD.H */
		0x00000047 | 3u << 25,	/* FMSUB.Q */
		0x0000004f | 5u << 12,	/* FNMADD.S rm=5 */
		0x42000053 | 5u << 12,	/* FCVT.D.S rm=5 */
		0xd2000053 | 6u << 12,	/* FCVT.D.W rm=6 */
		0xc0000053 | 5u << 12,	/* FCVT.W.S rm=5 */
		0x00000033,		/* not an FP opcode */
	};
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(cpu->f, 0x5a, sizeof(cpu->f));
		memset(cpu->x, 0x5a, sizeof(cpu->x));
		cpu->fflags = 0;
		assert_true(raises(bad[i] | 3u << 7 | 1u << 15));
		assert_int_equal(cpu->f[3], 0x5a5a5a5a5a5a5a5aull);
		assert_int_equal(cpu->x[3], 0x5a5a5a5a5a5a5a5aull);
		assert_int_equal(cpu->fflags, 0);
		assert_host_nearest();
	}

	/* Dynamic rounding with a reserved frm. */
	for (i = 5; i < 8; i++) {
		cpu->frm = i;
		assert_true(raises(fp(F_ADD, S, 3, 1, 2, DYN)));
		assert_true(raises(fp(F_CVT_TO_INT, D, 3, 1, L, DYN)));
		assert_true(raises(r4(MADD, D, 3, 1, 2, 4, DYN)));
		/* Instructions without a rounding mode do not care. */
		assert_false(raises(fp(F_SGNJ, S, 3, 1, 2, 0)));
		assert_false(raises(fp(F_MINMAX, D, 3, 1, 2, 1)));
		assert_false(raises(fp(F_CMP, D, 3, 1, 2, 2)));
	}
	cpu->frm = 0;
	/* Static modes 0..4 are fine whatever frm says. */
	cpu->frm = 6;
	assert_false(raises(fp(F_ADD, S, 3, 1, 2, RMM)));
	cpu->frm = 0;
}

static void test_dirty(void **state)
{
	(void)state;
	cpu->mstatus = 1ull << 13;
	cpu->f[1] = box(fb(1.0f));
	run(fp(F_CMP, S, 5, 1, 1, 2)); /* writes only x5, no flags */
	assert_int_equal(cpu->mstatus, 1ull << 13);
	run(fp(F_ADD, S, 3, 1, 1, RNE));
	assert_int_equal(cpu->mstatus, MSTATUS_FS | MSTATUS_SD);
	cpu->mstatus = 1ull << 13;
	cpu->f[1] = box(F_QNAN);
	run(fp(F_CMP, S, 5, 1, 1, 1)); /* FLT with NaN: NV */
	assert_int_equal(cpu->mstatus, MSTATUS_FS | MSTATUS_SD);
	assert_int_equal(cpu->fflags, NV);

	/* fflags accumulate. */
	cpu->fflags = DZ;
	cpu->f[1] = box(fb(1.0f));
	cpu->f[2] = box(fb(3.0f));
	fpu__exec(cpu, fp(F_DIV, S, 3, 1, 2, RNE));
	assert_int_equal(cpu->fflags, DZ | NX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nan_boxing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_canonical_nan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minmax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cvt_w_s, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cvt_wu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cvt_l, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cvt_rounding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arith_rounding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_underflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_div_sqrt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fma, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fclass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgnj, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cvt_from_int, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cvt_ff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_illegal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
