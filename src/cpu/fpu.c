/*
 * RV64F and RV64D: the OP-FP major opcode and the four fused multiply-add opcodes.
 * (Loads and stores of f registers live with the other memory instructions.)
 *
 * The host FPU does the arithmetic. Each operation runs inside a small window: set the host
 * rounding mode, clear the host exception flags, run the operation through volatile temporaries
 * (so the compiler can neither fold it nor move it out of the window), read the host flags back
 * and OR them into fflags. x86-64 SSE and RISC-V agree on what matters here: IEEE 754
 * binary32/binary64, tininess detected after rounding, underflow raised only together with
 * inexact. The RISC-V specific parts are done on the bit patterns: NaN boxing, canonical NaNs,
 * minimumNumber/maximumNumber, comparisons, FCLASS, the saturating float-to-integer
 * conversions, and invalid for 0 * inf + qNaN.
 *
 * Round to nearest, ties to max magnitude (RMM) has no host mode. It differs from round to
 * nearest, ties to even only when the exact result lies exactly halfway between two
 * representable values. To find out whether it does, the operation is first redone in a wider
 * format (binary64 for single precision, long double for double precision) in which every such
 * halfway value is representable: if the wide result is exact and is a halfway point of the
 * narrow format, the real operation runs in the directed mode that rounds away from zero,
 * otherwise in round to nearest even. Either way the host then produces exactly the RMM result
 * and the RMM flags (overflow and tininess included). Integer sources do the halfway test on
 * the integer bits, and float-to-integer conversions (done in software) use round().
 * If long double is not wider than double on the host, RMM arithmetic on doubles rounds ties
 * to even instead (x86-64 and 128-bit long double hosts are exact).
 *
 * On x86-64 the window uses MXCSR directly (one ldmxcsr and two stmxcsr in round to nearest
 * even, no fesetround); elsewhere, or when built with -DWISP_FPU_FENV, it uses <fenv.h>.
 *
 * Build note: CMake must compile this file with -frounding-math -fsignaling-nans, otherwise
 * GCC may assume round to nearest and quiet NaNs when it optimises the arithmetic.
 */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/cpu.h"

#if defined(__x86_64__) && defined(__SSE2_MATH__) && !defined(WISP_FPU_FENV)
#define FPU_MXCSR 1
#include <xmmintrin.h>
#endif

/* GCC does not implement this pragma (it warns); -frounding-math does the job there. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#pragma STDC FENV_ACCESS ON
#pragma GCC diagnostic pop

enum {
	OPC_MADD = 0x43,
	OPC_MSUB = 0x47,
	OPC_NMSUB = 0x4b,
	OPC_NMADD = 0x4f,
	OPC_OP_FP = 0x53,
};

enum { RM_RNE, RM_RTZ, RM_RDN, RM_RUP, RM_RMM, RM_DYN = 7 };
enum { FMT_S, FMT_D };

/* The arithmetic operations; the first four match funct5 of OP-FP. */
enum fop { FOP_ADD, FOP_SUB, FOP_MUL, FOP_DIV, FOP_SQRT, FOP_FMA };

/* Integer side of a conversion, as encoded in rs2. */
enum { CVT_W, CVT_WU, CVT_L, CVT_LU };

#define FF_NV 0x10u
#define FF_DZ 0x08u
#define FF_OF 0x04u
#define FF_UF 0x02u
#define FF_NX 0x01u

#define F32_BOX 0xffffffff00000000ull

#define RD(i) (((i) >> 7) & 31)
#define FUNCT3(i) (((i) >> 12) & 7)
#define RS1(i) (((i) >> 15) & 31)
#define RS2(i) (((i) >> 20) & 31)
#define RS3(i) ((i) >> 27)
#define FMT(i) (((i) >> 25) & 3)

/* Bit layout of a format; single-precision values sit in the low 32 bits of a uint64_t. */
struct fmt {
	uint64_t sign, inf, quiet, canon;
};

static const struct fmt fmts[2] = {
	[FMT_S] = { 0x80000000ull, 0x7f800000ull, 0x00400000ull, 0x7fc00000ull },
	[FMT_D] = { 1ull << 63, 0x7ff0000000000000ull, 1ull << 51, 0x7ff8000000000000ull },
};

/* ---- Host floating-point environment ---- */

#ifdef FPU_MXCSR
#define MXCSR_FLAGS 0x003fu /* IE DE ZE OE UE PE */
#define MXCSR_RC 0x6000u
#define MXCSR_DAZ_FTZ 0x8040u

/* Enter the window: rounding mode rm (not RMM), flags cleared, denormals honoured. */
static inline void host_begin(int rm)
{
	static const unsigned rc[4] = { 0x0000, 0x6000, 0x2000, 0x4000 };

	_mm_setcsr((_mm_getcsr() & ~(MXCSR_FLAGS | MXCSR_RC | MXCSR_DAZ_FTZ)) | rc[rm]);
}

/* Leave the window: back to round to nearest even; returns the raised flags as fflags bits. */
static inline unsigned host_end(int rm)
{
	unsigned csr = _mm_getcsr();

	if (rm != RM_RNE)
		_mm_setcsr(csr & ~MXCSR_RC);
	return (csr & 0x01 ? FF_NV : 0) | (csr & 0x04 ? FF_DZ : 0) | (csr & 0x08 ? FF_OF : 0) |
	       (csr & 0x10 ? FF_UF : 0) | (csr & 0x20 ? FF_NX : 0);
}
#else
static unsigned fe_to_fflags(int ex)
{
	return (ex & FE_INVALID ? FF_NV : 0) | (ex & FE_DIVBYZERO ? FF_DZ : 0) |
	       (ex & FE_OVERFLOW ? FF_OF : 0) | (ex & FE_UNDERFLOW ? FF_UF : 0) |
	       (ex & FE_INEXACT ? FF_NX : 0);
}

static inline void host_begin(int rm)
{
	static const int mode[4] = { FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD };

	if (rm != RM_RNE)
		fesetround(mode[rm]);
	feclearexcept(FE_ALL_EXCEPT);
}

static inline unsigned host_end(int rm)
{
	int ex = fetestexcept(FE_ALL_EXCEPT);

	if (rm != RM_RNE)
		fesetround(FE_TONEAREST);
	return fe_to_fflags(ex);
}
#endif

/* ---- Values, registers, flags ---- */

static inline float f32_val(uint64_t b)
{
	uint32_t u = (uint32_t)b;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static inline uint64_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static inline double f64_val(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static inline uint64_t f64_bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

static inline uint64_t sext32(uint64_t v)
{
	return ((v & 0xffffffffull) ^ 0x80000000ull) - 0x80000000ull;
}

static inline uint64_t fmag(const struct fmt *f, uint64_t v)
{
	return v & ~f->sign;
}

static inline bool is_nan(const struct fmt *f, uint64_t v)
{
	return fmag(f, v) > f->inf;
}

static inline bool is_snan(const struct fmt *f, uint64_t v)
{
	return is_nan(f, v) && !(v & f->quiet);
}

static inline bool is_inf(const struct fmt *f, uint64_t v)
{
	return fmag(f, v) == f->inf;
}

static inline bool is_zero(const struct fmt *f, uint64_t v)
{
	return fmag(f, v) == 0;
}

/* Read an operand; a single that is not NaN-boxed reads as the canonical NaN. */
static inline uint64_t freg(const struct rv_cpu *cpu, int fmt, unsigned r)
{
	uint64_t v = cpu->f[r];

	if (fmt == FMT_D)
		return v;
	return (v >> 32) == 0xffffffffu ? (uint32_t)v : fmts[FMT_S].canon;
}

static inline void set_freg(struct rv_cpu *cpu, int fmt, unsigned r, uint64_t v)
{
	cpu->f[r] = fmt == FMT_D ? v : F32_BOX | (uint32_t)v;
	fpu__dirty(cpu);
}

static inline void set_xreg(struct rv_cpu *cpu, unsigned rd, uint64_t v)
{
	if (rd)
		cpu->x[rd] = v;
}

static inline void accrue(struct rv_cpu *cpu, unsigned flags)
{
	if (flags) {
		cpu->fflags |= flags;
		fpu__dirty(cpu);
	}
}

static _Noreturn void illegal(struct rv_cpu *cpu, uint32_t insn)
{
	cpu__raise(cpu, EXC_ILLEGAL, insn);
}

/* The rounding mode an instruction uses; reserved encodings are illegal. */
static int insn_rm(struct rv_cpu *cpu, uint32_t insn)
{
	unsigned rm = FUNCT3(insn);

	if (rm == RM_DYN)
		rm = cpu->frm;
	if (rm > RM_RMM)
		illegal(cpu, insn);
	return (int)rm;
}

/* ---- Arithmetic ---- */

/*
 * One operation in type T. The operands go through volatile temporaries and so does the
 * result, which pins the computation between host_begin() and host_end().
 */
#define DEFINE_CALC(name, T, sqrt_fn, fma_fn)                   \
	static T name(enum fop op, T a, T b, T c)               \
	{                                                       \
		volatile T va = a, vb = b, vc = c, vr;          \
                                                                \
		switch (op) {                                   \
		case FOP_ADD:                                   \
			vr = va + vb;                           \
			break;                                  \
		case FOP_SUB:                                   \
			vr = va - vb;                           \
			break;                                  \
		case FOP_MUL:                                   \
			vr = va * vb;                           \
			break;                                  \
		case FOP_DIV:                                   \
			vr = va / vb;                           \
			break;                                  \
		case FOP_SQRT:                                  \
			vr = sqrt_fn(va);                       \
			break;                                  \
		default:                                        \
			vr = fma_fn(va, vb, vc);                \
			break;                                  \
		}                                               \
		return vr;                                      \
	}

DEFINE_CALC(calc_s, float, sqrtf, fmaf)
DEFINE_CALC(calc_d, double, sqrt, fma)

static inline int away_mode(bool negative)
{
	return negative ? RM_RDN : RM_RUP;
}

/* Is w (exact) halfway between two adjacent singles (subnormals included)? */
static bool tie_s(double w)
{
	float r, o;

	if (!isfinite(w) || w == 0)
		return false;
	r = (float)w;
	if ((double)r == w || isinf(r))
		return false;
	o = nextafterf(r, w > r ? INFINITY : -INFINITY);
	return ((double)r + (double)o) * 0.5 == w;
}

/* RMM for a single-precision operation: which host mode gives the same result. */
static int rmm_mode_s(enum fop op, float a, float b, float c)
{
	double w;
	unsigned fl;

	host_begin(RM_RNE);
	w = calc_d(op, a, b, c);
	fl = host_end(RM_RNE);
	if (!(fl & FF_NX) && tie_s(w))
		return away_mode(w < 0);
	return RM_RNE;
}

#if LDBL_MANT_DIG >= DBL_MANT_DIG + 2 && LDBL_MIN_EXP <= DBL_MIN_EXP - DBL_MANT_DIG
DEFINE_CALC(calc_w, long double, sqrtl, fmal)

/* Is w (exact) halfway between two adjacent doubles (subnormals included)? */
static bool tie_d(long double w)
{
	double r, o;

	if (!isfinite(w) || w == 0)
		return false;
	r = (double)w;
	if ((long double)r == w || isinf(r))
		return false;
	o = nextafter(r, w > r ? INFINITY : -INFINITY);
	return ((long double)r + (long double)o) * 0.5L == w;
}

/* RMM for a double-precision operation. long double may be x87, so use <fenv.h> here. */
static int rmm_mode_d(enum fop op, double a, double b, double c)
{
	long double w;
	int inexact;

	feclearexcept(FE_ALL_EXCEPT);
	w = calc_w(op, a, b, c);
	inexact = fetestexcept(FE_INEXACT);
	if (!inexact && tie_d(w))
		return away_mode(w < 0);
	return RM_RNE;
}
#else
/* No wider host format: RMM arithmetic on doubles rounds ties to even. */
static int rmm_mode_d(enum fop op, double a, double b, double c)
{
	(void)op;
	(void)a;
	(void)b;
	(void)c;
	return RM_RNE;
}
#endif

static uint64_t arith_s(int rm, enum fop op, uint64_t a, uint64_t b, uint64_t c, unsigned *fl)
{
	float fa = f32_val(a), fb = f32_val(b), fc = f32_val(c);
	uint64_t r;

	if (rm == RM_RMM)
		rm = rmm_mode_s(op, fa, fb, fc);
	host_begin(rm);
	r = f32_bits(calc_s(op, fa, fb, fc));
	*fl = host_end(rm);
	return r;
}

static uint64_t arith_d(int rm, enum fop op, uint64_t a, uint64_t b, uint64_t c, unsigned *fl)
{
	double da = f64_val(a), db = f64_val(b), dc = f64_val(c);
	uint64_t r;

	if (rm == RM_RMM)
		rm = rmm_mode_d(op, da, db, dc);
	host_begin(rm);
	r = f64_bits(calc_d(op, da, db, dc));
	*fl = host_end(rm);
	return r;
}

/* a op b (op c): rounded per rm, flags accrued, NaN results canonical. */
static uint64_t arith(struct rv_cpu *cpu, int fmt, int rm, enum fop op, uint64_t a, uint64_t b,
		      uint64_t c)
{
	const struct fmt *f = &fmts[fmt];
	unsigned fl;
	uint64_t r;

	if (fmt == FMT_S)
		r = arith_s(rm, op, a, b, c, &fl);
	else
		r = arith_d(rm, op, a, b, c, &fl);
	/* The host may let 0 * inf + qNaN pass quietly; RISC-V says invalid. */
	if (op == FOP_FMA && is_nan(f, c) &&
	    ((is_zero(f, a) && is_inf(f, b)) || (is_inf(f, a) && is_zero(f, b))))
		fl |= FF_NV;
	if (is_nan(f, r))
		r = f->canon;
	accrue(cpu, fl);
	return r;
}

static void do_arith(struct rv_cpu *cpu, uint32_t insn, int fmt, enum fop op)
{
	int rm = insn_rm(cpu, insn);
	uint64_t a = freg(cpu, fmt, RS1(insn)), b = freg(cpu, fmt, RS2(insn));

	set_freg(cpu, fmt, RD(insn), arith(cpu, fmt, rm, op, a, b, 0));
}

/* FMADD a*b+c, FMSUB a*b-c, FNMSUB -(a*b)+c, FNMADD -(a*b)-c, all with one rounding. */
static void do_fused(struct rv_cpu *cpu, uint32_t insn)
{
	unsigned opc = insn & 0x7f;
	int fmt = FMT(insn), rm;
	const struct fmt *f;
	uint64_t a, b, c;

	if (fmt > FMT_D)
		illegal(cpu, insn);
	rm = insn_rm(cpu, insn);
	f = &fmts[fmt];
	a = freg(cpu, fmt, RS1(insn));
	b = freg(cpu, fmt, RS2(insn));
	c = freg(cpu, fmt, RS3(insn));
	if (opc == OPC_MSUB || opc == OPC_NMADD)
		c ^= f->sign;
	if (opc == OPC_NMSUB || opc == OPC_NMADD)
		a ^= f->sign;
	set_freg(cpu, fmt, RD(insn), arith(cpu, fmt, rm, FOP_FMA, a, b, c));
}

/* ---- Sign injection, min/max, comparisons, classification ---- */

/* a < b on non-NaN values in the total order where -0 < +0. */
static bool lt_total(const struct fmt *f, uint64_t a, uint64_t b)
{
	bool sa = a & f->sign, sb = b & f->sign;

	if (sa != sb)
		return sa;
	return sa ? a > b : a < b;
}

static bool fp_lt(const struct fmt *f, uint64_t a, uint64_t b)
{
	return lt_total(f, a, b) && !(is_zero(f, a) && is_zero(f, b));
}

static bool fp_eq(const struct fmt *f, uint64_t a, uint64_t b)
{
	return a == b || (is_zero(f, a) && is_zero(f, b));
}

static void do_sgnj(struct rv_cpu *cpu, uint32_t insn, int fmt)
{
	const struct fmt *f = &fmts[fmt];
	unsigned funct3 = FUNCT3(insn);
	uint64_t a, s;

	if (funct3 > 2)
		illegal(cpu, insn);
	a = freg(cpu, fmt, RS1(insn));
	s = freg(cpu, fmt, RS2(insn)) & f->sign;
	if (funct3 == 1)
		s ^= f->sign;
	else if (funct3 == 2)
		s ^= a & f->sign;
	set_freg(cpu, fmt, RD(insn), fmag(f, a) | s);
}

/* IEEE 754-2019 minimumNumber / maximumNumber. */
static void do_minmax(struct rv_cpu *cpu, uint32_t insn, int fmt)
{
	const struct fmt *f = &fmts[fmt];
	unsigned funct3 = FUNCT3(insn);
	uint64_t a, b, r;

	if (funct3 > 1)
		illegal(cpu, insn);
	a = freg(cpu, fmt, RS1(insn));
	b = freg(cpu, fmt, RS2(insn));
	if (is_snan(f, a) || is_snan(f, b))
		accrue(cpu, FF_NV);
	if (is_nan(f, a) && is_nan(f, b))
		r = f->canon;
	else if (is_nan(f, a))
		r = b;
	else if (is_nan(f, b))
		r = a;
	else if (funct3 == 0)
		r = lt_total(f, a, b) ? a : b;
	else
		r = lt_total(f, a, b) ? b : a;
	set_freg(cpu, fmt, RD(insn), r);
}

/* FLE (0), FLT (1): signaling; FEQ (2): quiet. */
static void do_cmp(struct rv_cpu *cpu, uint32_t insn, int fmt)
{
	const struct fmt *f = &fmts[fmt];
	unsigned funct3 = FUNCT3(insn);
	uint64_t a, b;
	bool r;

	if (funct3 > 2)
		illegal(cpu, insn);
	a = freg(cpu, fmt, RS1(insn));
	b = freg(cpu, fmt, RS2(insn));
	if (is_nan(f, a) || is_nan(f, b)) {
		if (funct3 != 2 || is_snan(f, a) || is_snan(f, b))
			accrue(cpu, FF_NV);
		r = false;
	} else if (funct3 == 0) {
		r = fp_lt(f, a, b) || fp_eq(f, a, b);
	} else if (funct3 == 1) {
		r = fp_lt(f, a, b);
	} else {
		r = fp_eq(f, a, b);
	}
	set_xreg(cpu, RD(insn), r);
}

static unsigned fclass(const struct fmt *f, uint64_t v)
{
	bool neg = v & f->sign;
	uint64_t m = fmag(f, v);

	if (m == f->inf)
		return neg ? 1u << 0 : 1u << 7;
	if (m > f->inf)
		return v & f->quiet ? 1u << 9 : 1u << 8;
	if (m == 0)
		return neg ? 1u << 3 : 1u << 4;
	if (!(m & f->inf))
		return neg ? 1u << 2 : 1u << 5;
	return neg ? 1u << 1 : 1u << 6;
}

/* FMV.X.W / FMV.X.D (funct3 0) and FCLASS (funct3 1). */
static void do_mv_x_class(struct rv_cpu *cpu, uint32_t insn, int fmt)
{
	unsigned funct3 = FUNCT3(insn);
	uint64_t v;

	if (RS2(insn) != 0 || funct3 > 1)
		illegal(cpu, insn);
	if (funct3 == 1)
		v = fclass(&fmts[fmt], freg(cpu, fmt, RS1(insn)));
	else if (fmt == FMT_S)
		v = sext32(cpu->f[RS1(insn)]);
	else
		v = cpu->f[RS1(insn)];
	set_xreg(cpu, RD(insn), v);
}

/* FMV.W.X / FMV.D.X. */
static void do_mv_f(struct rv_cpu *cpu, uint32_t insn, int fmt)
{
	if (RS2(insn) != 0 || FUNCT3(insn) != 0)
		illegal(cpu, insn);
	set_freg(cpu, fmt, RD(insn), cpu->x[RS1(insn)]);
}

/* ---- Conversions ---- */

/* FCVT.S.D (fmt S, rs2 1) and FCVT.D.S (fmt D, rs2 0). */
static float narrow(double d)
{
	volatile double vd = d;
	volatile float r = (float)vd;

	return r;
}

static double widen(float f)
{
	volatile float vf = f;
	volatile double r = vf;

	return r;
}

static void do_cvt_ff(struct rv_cpu *cpu, uint32_t insn, int fmt)
{
	int rm;
	uint64_t a, r;
	unsigned fl;

	if (RS2(insn) != (fmt == FMT_S ? 1u : 0u))
		illegal(cpu, insn);
	rm = insn_rm(cpu, insn);
	if (fmt == FMT_S) {
		a = freg(cpu, FMT_D, RS1(insn));
		if (rm == RM_RMM)
			rm = tie_s(f64_val(a)) ? away_mode(a >> 63) : RM_RNE;
		host_begin(rm);
		r = f32_bits(narrow(f64_val(a)));
		fl = host_end(rm);
	} else {
		a = freg(cpu, FMT_S, RS1(insn));
		host_begin(RM_RNE);
		r = f64_bits(widen(f32_val(a)));
		fl = host_end(RM_RNE);
	}
	if (is_nan(&fmts[fmt], r))
		r = fmts[fmt].canon;
	accrue(cpu, fl);
	set_freg(cpu, fmt, RD(insn), r);
}

/* x rounded to an integral value (still a double); exact, independent of the host mode. */
static double round_int(double x, int rm)
{
	double r;

	switch (rm) {
	case RM_RTZ:
		return trunc(x);
	case RM_RDN:
		return floor(x);
	case RM_RUP:
		return ceil(x);
	case RM_RMM:
		return round(x);
	default:
		r = round(x);
		if (fabs(r - x) == 0.5)
			r = 2.0 * round(x * 0.5);
		return r;
	}
}

/* Valid range [lo, hi) of the rounded value, and the saturated results (already extended). */
struct cvt_range {
	double lo, hi;
	uint64_t min, max;
};

static const struct cvt_range cvt_ranges[4] = {
	[CVT_W] = { -2147483648.0, 2147483648.0, 0xffffffff80000000ull, 0x7fffffffull },
	[CVT_WU] = { 0.0, 4294967296.0, 0, ~0ull },
	[CVT_L] = { -9223372036854775808.0, 9223372036854775808.0, 1ull << 63, ~0ull >> 1 },
	[CVT_LU] = { 0.0, 18446744073709551616.0, 0, ~0ull },
};

/* Float to integer per the spec: NaN and too-large values saturate with NV, else NX if inexact. */
static uint64_t fp_to_int(double x, bool nan, int rm, int kind, unsigned *fl)
{
	const struct cvt_range *rg = &cvt_ranges[kind];
	double r;

	if (nan) {
		*fl = FF_NV;
		return rg->max;
	}
	r = round_int(x, rm);
	if (r < rg->lo) {
		*fl = FF_NV;
		return rg->min;
	}
	if (r >= rg->hi) {
		*fl = FF_NV;
		return rg->max;
	}
	*fl = r != x ? FF_NX : 0;
	switch (kind) {
	case CVT_W:
	case CVT_L:
		return (uint64_t)(int64_t)r;
	case CVT_WU:
		return sext32((uint64_t)r);
	default:
		return (uint64_t)r;
	}
}

/* FCVT.{W,WU,L,LU}.{S,D} */
static void do_cvt_to_int(struct rv_cpu *cpu, uint32_t insn, int fmt)
{
	int kind = RS2(insn), rm;
	uint64_t a, v;
	unsigned fl;
	double x;

	if (kind > CVT_LU)
		illegal(cpu, insn);
	rm = insn_rm(cpu, insn);
	a = freg(cpu, fmt, RS1(insn));
	if (is_nan(&fmts[fmt], a))
		x = 0;
	else
		x = fmt == FMT_S ? (double)f32_val(a) : f64_val(a);
	v = fp_to_int(x, is_nan(&fmts[fmt], a), rm, kind, &fl);
	accrue(cpu, fl);
	set_xreg(cpu, RD(insn), v);
}

/* RMM for an integer source converted to a float with prec significand bits. */
static int rmm_mode_int(uint64_t x, int kind, int prec)
{
	bool neg = false;
	uint64_t m = x, rem;
	int n, s;

	if (kind == CVT_W || kind == CVT_WU)
		m = kind == CVT_W ? sext32(x) : (uint32_t)x;
	if ((kind == CVT_W || kind == CVT_L) && (m >> 63)) {
		neg = true;
		m = -m;
	}
	if (!m)
		return RM_RNE;
	n = 64 - __builtin_clzll(m);
	if (n <= prec)
		return RM_RNE;
	s = n - prec;
	rem = m & ((1ull << s) - 1);
	return rem == 1ull << (s - 1) ? away_mode(neg) : RM_RNE;
}

#define DEFINE_FROM_INT(name, T)                                \
	static T name(int kind, uint64_t x)                     \
	{                                                       \
		volatile uint64_t vx = x;                       \
		volatile T r;                                   \
                                                                \
		switch (kind) {                                 \
		case CVT_W:                                     \
			r = (T)(int64_t)sext32(vx);             \
			break;                                  \
		case CVT_WU:                                    \
			r = (T)(uint32_t)vx;                    \
			break;                                  \
		case CVT_L:                                     \
			r = (T)(int64_t)vx;                     \
			break;                                  \
		default:                                        \
			r = (T)vx;                              \
			break;                                  \
		}                                               \
		return r;                                       \
	}

DEFINE_FROM_INT(int_to_s, float)
DEFINE_FROM_INT(int_to_d, double)

/* FCVT.{S,D}.{W,WU,L,LU} */
static void do_cvt_from_int(struct rv_cpu *cpu, uint32_t insn, int fmt)
{
	int kind = RS2(insn), rm;
	uint64_t x, r;
	unsigned fl;

	if (kind > CVT_LU)
		illegal(cpu, insn);
	rm = insn_rm(cpu, insn);
	x = cpu->x[RS1(insn)];
	if (rm == RM_RMM)
		rm = rmm_mode_int(x, kind, fmt == FMT_S ? FLT_MANT_DIG : DBL_MANT_DIG);
	host_begin(rm);
	if (fmt == FMT_S)
		r = f32_bits(int_to_s(kind, x));
	else
		r = f64_bits(int_to_d(kind, x));
	fl = host_end(rm);
	accrue(cpu, fl);
	set_freg(cpu, fmt, RD(insn), r);
}

/* ---- Decode ---- */

static void do_op_fp(struct rv_cpu *cpu, uint32_t insn)
{
	int fmt = FMT(insn);

	if (fmt > FMT_D)
		illegal(cpu, insn);
	switch (insn >> 27) {
	case 0x00: /* FADD */
	case 0x01: /* FSUB */
	case 0x02: /* FMUL */
	case 0x03: /* FDIV */
		do_arith(cpu, insn, fmt, (enum fop)(insn >> 27));
		break;
	case 0x0b: /* FSQRT */
		if (RS2(insn) != 0)
			illegal(cpu, insn);
		do_arith(cpu, insn, fmt, FOP_SQRT);
		break;
	case 0x04:
		do_sgnj(cpu, insn, fmt);
		break;
	case 0x05:
		do_minmax(cpu, insn, fmt);
		break;
	case 0x08:
		do_cvt_ff(cpu, insn, fmt);
		break;
	case 0x14:
		do_cmp(cpu, insn, fmt);
		break;
	case 0x18:
		do_cvt_to_int(cpu, insn, fmt);
		break;
	case 0x1a:
		do_cvt_from_int(cpu, insn, fmt);
		break;
	case 0x1c:
		do_mv_x_class(cpu, insn, fmt);
		break;
	case 0x1e:
		do_mv_f(cpu, insn, fmt);
		break;
	default:
		illegal(cpu, insn);
	}
}

/* ---- The host environment during a run, and the fast path ---- */

#ifdef FPU_MXCSR
#define MXCSR_DEFAULT 0x1f80u /* all exceptions masked, round to nearest, no DAZ/FTZ */

typedef unsigned host_env;

static inline host_env env_save(void)
{
	return _mm_getcsr();
}

static inline void env_restore(host_env csr)
{
	_mm_setcsr(csr);
}

static unsigned guest_csr(const struct rv_cpu *cpu)
{
	static const unsigned rc[4] = { 0x0000, 0x6000, 0x2000, 0x4000 };

	/* RMM and the reserved modes have no host mode: those operations take the slow path. */
	return MXCSR_DEFAULT | (cpu->frm <= RM_RUP ? rc[cpu->frm] : 0);
}

void fpu__enter(struct rv_cpu *cpu)
{
	_mm_setcsr(guest_csr(cpu));
	cpu->fpu_live = true;
}

void fpu__fold(struct rv_cpu *cpu)
{
	if (!cpu->fpu_live)
		return;
	unsigned csr = _mm_getcsr();
	unsigned fl = (csr & 0x01 ? FF_NV : 0) | (csr & 0x04 ? FF_DZ : 0) | (csr & 0x08 ? FF_OF : 0) |
		      (csr & 0x10 ? FF_UF : 0) | (csr & 0x20 ? FF_NX : 0);
	if (csr & MXCSR_FLAGS)
		_mm_setcsr(csr & ~MXCSR_FLAGS);
	accrue(cpu, fl);
}

void fpu__leave(struct rv_cpu *cpu)
{
	fpu__fold(cpu);
	cpu->fpu_live = false;
	_mm_setcsr(MXCSR_DEFAULT);
}

void fpu__set_rm(struct rv_cpu *cpu)
{
	if (cpu->fpu_live)
		_mm_setcsr((_mm_getcsr() & MXCSR_FLAGS) | guest_csr(cpu));
}
#else
struct fenv_saved {
	fexcept_t ex;
	int round;
};

typedef struct fenv_saved host_env;

static inline host_env env_save(void)
{
	struct fenv_saved s;

	fegetexceptflag(&s.ex, FE_ALL_EXCEPT);
	s.round = fegetround();
	return s;
}

static inline void env_restore(host_env s)
{
	fesetexceptflag(&s.ex, FE_ALL_EXCEPT);
	fesetround(s.round);
}

static void set_guest_round(const struct rv_cpu *cpu)
{
	static const int mode[4] = { FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD };

	fesetround(cpu->frm <= RM_RUP ? mode[cpu->frm] : FE_TONEAREST);
}

void fpu__enter(struct rv_cpu *cpu)
{
	set_guest_round(cpu);
	feclearexcept(FE_ALL_EXCEPT);
	cpu->fpu_live = true;
}

void fpu__fold(struct rv_cpu *cpu)
{
	if (!cpu->fpu_live)
		return;
	accrue(cpu, fe_to_fflags(fetestexcept(FE_ALL_EXCEPT)));
	feclearexcept(FE_ALL_EXCEPT);
}

void fpu__leave(struct rv_cpu *cpu)
{
	fpu__fold(cpu);
	cpu->fpu_live = false;
	fesetround(FE_TONEAREST);
}

void fpu__set_rm(struct rv_cpu *cpu)
{
	if (cpu->fpu_live)
		set_guest_round(cpu);
}
#endif

/*
 * The common case, done straight on the host FPU inside a run: add, sub, mul, div, sqrt and the fused
 * operations in the dynamic rounding mode when frm has a host equivalent. The host already runs in
 * frm and accrues the flags (fpu__enter), so nothing is set up per instruction. Anything unusual
 * (a single that is not NaN-boxed, a NaN result that must become canonical) returns false before
 * writing anything, and the full path redoes the operation: its flags are a superset of what the
 * attempt raised (only invalid, for the same operands).
 */
static bool fast_path(struct rv_cpu *cpu, uint32_t insn)
{
	unsigned opc = insn & 0x7f, f5 = insn >> 27;
	int fmt = FMT(insn);

	if (FUNCT3(insn) != RM_DYN || cpu->frm > RM_RUP || fmt > FMT_D)
		return false;
	if (opc == OPC_OP_FP && !(f5 <= 3 || (f5 == 0x0b && RS2(insn) == 0)))
		return false;
	if (opc == OPC_OP_FP && f5 == 0x0b)
		f5 = FOP_SQRT;
	else if (opc != OPC_OP_FP)
		f5 = FOP_FMA;
	uint64_t a = cpu->f[RS1(insn)], b = cpu->f[RS2(insn)], c = cpu->f[RS3(insn)];
	if (opc == OPC_MSUB || opc == OPC_NMADD)
		c ^= fmts[fmt].sign;
	if (opc == OPC_NMSUB || opc == OPC_NMADD)
		a ^= fmts[fmt].sign;
	uint64_t r;
	if (fmt == FMT_D) {
		double x = f64_val(a), y = f64_val(b), z = f64_val(c), v;
		switch (f5) {
		case FOP_ADD: v = x + y; break;
		case FOP_SUB: v = x - y; break;
		case FOP_MUL: v = x * y; break;
		case FOP_DIV: v = x / y; break;
		case FOP_SQRT: v = sqrt(x); break;
		default: v = fma(x, y, z); break;
		}
		if (isnan(v))
			return false;
		r = f64_bits(v);
	} else {
		if ((a >> 32) != 0xffffffffu || (b >> 32) != 0xffffffffu ||
		    (f5 == FOP_FMA && (c >> 32) != 0xffffffffu))
			return false;
		float x = f32_val(a), y = f32_val(b), z = f32_val(c), v;
		switch (f5) {
		case FOP_ADD: v = x + y; break;
		case FOP_SUB: v = x - y; break;
		case FOP_MUL: v = x * y; break;
		case FOP_DIV: v = x / y; break;
		case FOP_SQRT: v = sqrtf(x); break;
		default: v = fmaf(x, y, z); break;
		}
		if (isnan(v))
			return false;
		r = F32_BOX | f32_bits(v);
	}
	cpu->f[RD(insn)] = r;
	fpu__dirty(cpu);
	return true;
}

void fpu__exec(struct rv_cpu *cpu, uint32_t insn)
{
	if (cpu->fpu_live && fast_path(cpu, insn))
		return;
	/*
	 * The full path works in windows of its own (host_begin/host_end) and accrues exact flags into
	 * fflags itself; around it the run's host environment (guest rounding mode, accrued flags) is kept
	 * as it was. The checks that raise illegal come before any window.
	 */
	host_env saved = env_save();
	switch (insn & 0x7f) {
	case OPC_OP_FP:
		do_op_fp(cpu, insn);
		break;
	case OPC_MADD:
	case OPC_MSUB:
	case OPC_NMSUB:
	case OPC_NMADD:
		do_fused(cpu, insn);
		break;
	default:
		illegal(cpu, insn);
	}
	env_restore(saved);
}
