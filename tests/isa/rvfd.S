/*
 * rvfd.S - smoke test of F and D: FS gating (FS=Off makes FP instructions illegal) and
 * FS becoming Dirty, flw/fsw/fld/fsd, fadd/fsub/fmul/fdiv/fsqrt (.s and .d), fused
 * multiply-add, min/max, compares, sign injection, conversions between integers and
 * floats with static and dynamic rounding modes (W results sign extended, saturation),
 * fmv.x.w sign extension, NaN boxing (an unboxed single operand reads as the canonical
 * NaN), the fflags/frm/fcsr CSRs, a reserved dynamic rounding mode, and fclass.
 */
#include "common.h"

#define FLAG_NX 0x01
#define FLAG_UF 0x02
#define FLAG_OF 0x04
#define FLAG_DZ 0x08
#define FLAG_NV 0x10

.macro FLI_S f, bits
	li	t0, \bits
	fmv.w.x	\f, t0
.endm
.macro FLI_D f, bits
	li	t0, \bits
	fmv.d.x	\f, t0
.endm
/* check single result bits (low 32 bits, zero-extended compare) */
.macro CHECK_S f, bits, n
	fmv.x.w	a0, \f
	slli	a0, a0, 32
	srli	a0, a0, 32
	CHECK_IMM a0, \bits, \n
.endm
.macro CHECK_D f, bits, n
	fmv.x.d	a0, \f
	CHECK_IMM a0, \bits, \n
.endm
/* read and clear fflags, compare with flags */
.macro CHECK_FLAGS flags, n
	csrrw	a0, fflags, zero
	CHECK_IMM a0, \flags, \n
.endm

TEST_START

	/* ---------------- FS = Off: FP instructions and CSRs are illegal ---------------- */
	li	t0, MSTATUS_FS
	csrc	mstatus, t0
	INSTALL_M_RECORD
	TRAP_RESET
	fadd.s	ft0, ft1, ft2
	CHECK_TRAPS 1, 1
	CHECK_CAUSE CAUSE_ILLEGAL, 2
	TRAP_RESET
	csrr	a0, fflags
	CHECK_TRAPS 1, 3
	CHECK_CAUSE CAUSE_ILLEGAL, 4
	TRAP_RESET
	fmv.x.d	a0, ft0
	CHECK_TRAPS 1, 5
	INSTALL_M_DEFAULT

	/* ---------------- FS = Initial, then Dirty after a write ---------------- */
	FPU_ON
	csrr	a0, mstatus
	srli	a0, a0, 13
	andi	a0, a0, 3
	bnez	a0, 1f
	FAIL	6                                 /* FS must not read back as Off */
1:	fmv.w.x	ft0, zero
	csrr	a0, mstatus
	srli	a1, a0, 13
	andi	a1, a1, 3
	CHECK_IMM a1, 3, 7                        /* Dirty */
	bltz	a0, 2f                            /* SD (bit 63) set */
	FAIL	8
2:	csrw	fcsr, zero

	/* ---------------- loads / stores ---------------- */
	la	s0, fdata
	flw	ft0, 0(s0)                        /* 1.5f */
	CHECK_S	ft0, 0x3fc00000, 9
	fmv.x.d	a0, ft0
	CHECK_IMM a0, 0xffffffff3fc00000, 10      /* flw NaN-boxes */
	fsw	ft0, 32(s0)
	lwu	a0, 32(s0)
	CHECK_IMM a0, 0x3fc00000, 11
	fld	ft1, 8(s0)                        /* 1.5 */
	CHECK_D	ft1, 0x3ff8000000000000, 12
	fsd	ft1, 40(s0)
	ld	a0, 40(s0)
	CHECK_IMM a0, 0x3ff8000000000000, 13

	/* ---------------- arithmetic ---------------- */
	FLI_S	ft0, 0x3fc00000                   /* 1.5 */
	FLI_S	ft1, 0x40100000                   /* 2.25 */
	fadd.s	ft2, ft0, ft1
	CHECK_S	ft2, 0x40700000, 14               /* 3.75 */
	fsub.s	ft2, ft0, ft1
	CHECK_S	ft2, 0xbf400000, 15               /* -0.75 */
	FLI_S	ft1, 0x40000000                   /* 2.0 */
	fmul.s	ft2, ft0, ft1
	CHECK_S	ft2, 0x40400000, 16               /* 3.0 */
	FLI_D	fa0, 0x3ff8000000000000           /* 1.5 */
	FLI_D	fa1, 0x4002000000000000           /* 2.25 */
	fadd.d	fa2, fa0, fa1
	CHECK_D	fa2, 0x400e000000000000, 17
	fsub.d	fa2, fa0, fa1
	CHECK_D	fa2, 0xbfe8000000000000, 18
	fmul.d	fa2, fa0, fa1
	CHECK_D	fa2, 0x400b000000000000, 19       /* 3.375 */
	CHECK_FLAGS 0, 20                         /* all exact so far */

	FLI_S	ft0, 0x3f800000                   /* 1.0 */
	FLI_S	ft1, 0x40800000                   /* 4.0 */
	fdiv.s	ft2, ft0, ft1
	CHECK_S	ft2, 0x3e800000, 21
	CHECK_FLAGS 0, 22
	FLI_S	ft1, 0x40400000                   /* 3.0 */
	fdiv.s	ft2, ft0, ft1
	CHECK_S	ft2, 0x3eaaaaab, 23
	CHECK_FLAGS FLAG_NX, 24
	fmv.w.x	ft1, zero
	fdiv.s	ft2, ft0, ft1
	CHECK_S	ft2, 0x7f800000, 25               /* +inf */
	CHECK_FLAGS FLAG_DZ, 26
	FLI_D	fa0, 0x3ff0000000000000
	FLI_D	fa1, 0x4008000000000000
	fdiv.d	fa2, fa0, fa1
	CHECK_D	fa2, 0x3fd5555555555555, 27
	CHECK_FLAGS FLAG_NX, 28

	FLI_S	ft0, 0x40800000
	fsqrt.s	ft1, ft0
	CHECK_S	ft1, 0x40000000, 29
	FLI_D	fa0, 0x4000000000000000
	fsqrt.d	fa1, fa0
	CHECK_D	fa1, 0x3ff6a09e667f3bcd, 30
	CHECK_FLAGS FLAG_NX, 31
	FLI_S	ft0, 0xbf800000                   /* -1.0 */
	fsqrt.s	ft1, ft0
	CHECK_S	ft1, 0x7fc00000, 32               /* canonical NaN */
	CHECK_FLAGS FLAG_NV, 33

	/* fused multiply-add */
	FLI_D	fa0, 0x4000000000000000           /* 2 */
	FLI_D	fa1, 0x4008000000000000           /* 3 */
	FLI_D	fa2, 0x3ff0000000000000           /* 1 */
	fmadd.d	fa3, fa0, fa1, fa2
	CHECK_D	fa3, 0x401c000000000000, 34       /* 7 */
	FLI_S	ft0, 0x40000000
	FLI_S	ft1, 0x40400000
	FLI_S	ft2, 0x3f800000
	fmsub.s	ft3, ft0, ft1, ft2
	CHECK_S	ft3, 0x40a00000, 35               /* 5 */
	fnmadd.s ft3, ft0, ft1, ft2
	CHECK_S	ft3, 0xc0e00000, 36               /* -7 */
	fnmsub.s ft3, ft0, ft1, ft2
	CHECK_S	ft3, 0xc0a00000, 37               /* -5 */

	/* min / max */
	FLI_S	ft0, 0x80000000                   /* -0 */
	FLI_S	ft1, 0x00000000                   /* +0 */
	fmin.s	ft2, ft1, ft0
	CHECK_S	ft2, 0x80000000, 38
	fmax.s	ft2, ft0, ft1
	CHECK_S	ft2, 0x00000000, 39
	FLI_S	ft0, 0x7fc00000                   /* qNaN */
	FLI_S	ft1, 0x3f800000
	fmax.s	ft2, ft0, ft1
	CHECK_S	ft2, 0x3f800000, 40               /* number wins */
	CHECK_FLAGS 0, 41
	FLI_S	ft0, 0x7f800001                   /* sNaN */
	fmin.s	ft2, ft0, ft0
	CHECK_S	ft2, 0x7fc00000, 42               /* both NaN: canonical NaN */
	CHECK_FLAGS FLAG_NV, 43
	FLI_D	fa0, 0xc01c000000000000
	FLI_D	fa1, 0x401c000000000000
	fmin.d	fa2, fa0, fa1
	CHECK_D	fa2, 0xc01c000000000000, 44

	/* compares */
	FLI_S	ft0, 0x3f800000
	FLI_S	ft1, 0x40000000
	feq.s	a0, ft0, ft0
	CHECK_IMM a0, 1, 45
	flt.s	a0, ft0, ft1
	CHECK_IMM a0, 1, 46
	fle.s	a0, ft1, ft0
	CHECK_IMM a0, 0, 47
	FLI_S	ft2, 0x7fc00000
	feq.s	a0, ft2, ft2
	CHECK_IMM a0, 0, 48
	CHECK_FLAGS 0, 49                         /* quiet compare: no NV for qNaN */
	flt.s	a0, ft2, ft0
	CHECK_IMM a0, 0, 50
	CHECK_FLAGS FLAG_NV, 51                   /* signaling compare */
	FLI_D	fa0, 0x8000000000000000
	FLI_D	fa1, 0x0000000000000000
	feq.d	a0, fa0, fa1                      /* -0 == +0 */
	CHECK_IMM a0, 1, 52
	fle.d	a0, fa1, fa0
	CHECK_IMM a0, 1, 53

	/* sign injection */
	FLI_S	ft0, 0x3f800000
	fneg.s	ft1, ft0
	CHECK_S	ft1, 0xbf800000, 54
	fsgnjx.s ft2, ft1, ft1
	CHECK_S	ft2, 0x3f800000, 55
	FLI_D	fa0, 0xc01c000000000000
	fabs.d	fa1, fa0
	CHECK_D	fa1, 0x401c000000000000, 56
	fsgnj.d	fa2, fa1, fa0
	CHECK_D	fa2, 0xc01c000000000000, 57

	/* ---------------- conversions ---------------- */
	FLI_S	ft0, 0x406ccccd                   /* 3.7 */
	fcvt.w.s a0, ft0, rtz
	CHECK_IMM a0, 3, 58
	fcvt.w.s a0, ft0, rne
	CHECK_IMM a0, 4, 59
	FLI_S	ft0, 0xc0600000                   /* -3.5 */
	fcvt.w.s a0, ft0, rne
	CHECK_IMM a0, -4, 60
	fcvt.w.s a0, ft0, rmm
	CHECK_IMM a0, -4, 61
	fcvt.w.s a0, ft0, rup
	CHECK_IMM a0, -3, 62
	fcvt.w.s a0, ft0, rdn
	CHECK_IMM a0, -4, 63
	fcvt.l.s a0, ft0, rtz
	CHECK_IMM a0, -3, 64
	CHECK_FLAGS FLAG_NX, 65
	FLI_S	ft0, 0xbf800000                   /* -1.0 */
	fcvt.w.s a0, ft0, rtz
	CHECK_IMM a0, -1, 66                      /* sign extended to 64 bits */
	fcvt.wu.s a0, ft0, rtz
	CHECK_IMM a0, 0, 67                       /* saturates at 0 */
	CHECK_FLAGS FLAG_NV, 68
	FLI_S	ft0, 0x4f32d05e                   /* 3e9 */
	fcvt.wu.s a0, ft0, rtz
	CHECK_IMM a0, 0xffffffffb2d05e00, 69      /* 32-bit result, sign extended */
	fcvt.w.s a0, ft0, rtz
	CHECK_IMM a0, 0x7fffffff, 70              /* saturates */
	CHECK_FLAGS FLAG_NV, 71
	FLI_S	ft0, 0x7fc00000
	fcvt.w.s a0, ft0, rtz
	CHECK_IMM a0, 0x7fffffff, 72              /* NaN -> max */
	FLI_D	fa0, 0x4415af1d78b58c40           /* 1e20 */
	fcvt.l.d a0, fa0, rtz
	CHECK_IMM a0, 0x7fffffffffffffff, 73
	FLI_D	fa0, 0xc01c000000000000           /* -7.0 */
	fcvt.lu.d a0, fa0, rtz
	CHECK_IMM a0, 0, 74
	fcvt.l.d a0, fa0, rtz
	CHECK_IMM a0, -7, 75
	fcvt.w.d a0, fa0, rtz
	CHECK_IMM a0, -7, 76
	csrw	fflags, zero
	li	a1, -7
	fcvt.s.w ft0, a1
	CHECK_S	ft0, 0xc0e00000, 77
	li	a1, 0x12345678ffffffff            /* only the low word is converted */
	fcvt.s.wu ft0, a1
	CHECK_S	ft0, 0x4f800000, 78               /* 2^32 after rounding */
	CHECK_FLAGS FLAG_NX, 79
	fcvt.d.w fa0, a1                          /* low word = -1 */
	CHECK_D	fa0, 0xbff0000000000000, 80
	li	a1, -7
	fcvt.d.l fa0, a1
	CHECK_D	fa0, 0xc01c000000000000, 81
	li	a1, 0x8000000000000000
	fcvt.d.lu fa0, a1
	CHECK_D	fa0, 0x43e0000000000000, 82       /* 2^63 */
	fcvt.s.l ft0, a1
	CHECK_S	ft0, 0xdf000000, 83               /* -2^63 */
	FLI_S	ft0, 0x3fc00000
	fcvt.d.s fa0, ft0
	CHECK_D	fa0, 0x3ff8000000000000, 84
	FLI_D	fa0, 0x3fb999999999999a           /* 0.1 */
	fcvt.s.d ft0, fa0
	CHECK_S	ft0, 0x3dcccccd, 85
	fmv.x.d	a0, ft0
	CHECK_IMM a0, 0xffffffff3dcccccd, 86      /* narrowed result is NaN-boxed */

	/* ---------------- fmv sign extension and NaN boxing ---------------- */
	li	a1, 0x80000000
	fmv.w.x	ft0, a1
	fmv.x.w	a0, ft0
	CHECK_IMM a0, 0xffffffff80000000, 87      /* fmv.x.w sign extends */
	li	a1, 0x123456783f800000
	fmv.w.x	ft0, a1                           /* upper source bits ignored, result boxed */
	fmv.x.d	a0, ft0
	CHECK_IMM a0, 0xffffffff3f800000, 88
	li	a1, 0x000000003f800000            /* not NaN-boxed */
	fmv.d.x	ft0, a1
	fadd.s	ft1, ft0, ft0
	CHECK_S	ft1, 0x7fc00000, 89               /* operand is the canonical NaN */
	fmv.x.d	a0, ft1
	CHECK_IMM a0, 0xffffffff7fc00000, 90
	fmv.x.w	a0, ft0                           /* transfers ignore boxing */
	CHECK_IMM a0, 0x3f800000, 91
	fsw	ft0, 48(s0)
	lwu	a0, 48(s0)
	CHECK_IMM a0, 0x3f800000, 92
	fclass.s a0, ft0
	CHECK_IMM a0, 0x200, 93                   /* classified as quiet NaN */
	li	a1, 0xffffffff00000000            /* boxed zero */
	fmv.d.x	ft0, a1
	fadd.s	ft1, ft0, ft0
	CHECK_S	ft1, 0x00000000, 94
	csrw	fflags, zero

	/* ---------------- fflags / frm / fcsr ---------------- */
	csrw	fcsr, zero
	FLI_S	ft0, 0x3f800000
	FLI_S	ft1, 0x40400000
	fdiv.s	ft2, ft0, ft1
	csrr	a0, fflags
	CHECK_IMM a0, FLAG_NX, 95
	csrr	a0, fcsr
	CHECK_IMM a0, FLAG_NX, 96
	csrwi	frm, 2
	csrr	a0, fcsr
	CHECK_IMM a0, 0x41, 97
	csrr	a0, frm
	CHECK_IMM a0, 2, 98
	li	a1, 0xfff
	csrw	fcsr, a1
	csrr	a0, fcsr
	CHECK_IMM a0, 0xff, 99                    /* bits above 7 read as zero */
	csrr	a0, frm
	CHECK_IMM a0, 7, 100
	csrr	a0, fflags
	CHECK_IMM a0, 0x1f, 101
	csrrw	a0, fflags, zero
	CHECK_IMM a0, 0x1f, 102
	csrr	a0, fcsr
	CHECK_IMM a0, 0xe0, 103
	csrrci	a0, frm, 4
	CHECK_IMM a0, 7, 104
	csrr	a0, frm
	CHECK_IMM a0, 3, 105
	csrrsi	a0, fflags, 0x11
	csrr	a0, fcsr
	CHECK_IMM a0, 0x71, 106

	/* dynamic rounding follows frm */
	FLI_S	ft0, 0x406ccccd                   /* 3.7 */
	csrwi	frm, 1                            /* RTZ */
	fcvt.w.s a0, ft0
	CHECK_IMM a0, 3, 107
	csrwi	frm, 3                            /* RUP */
	fcvt.w.s a0, ft0
	CHECK_IMM a0, 4, 108
	FLI_S	ft0, 0xc0600000                   /* -3.5 */
	csrwi	frm, 2                            /* RDN */
	fcvt.w.s a0, ft0
	CHECK_IMM a0, -4, 109
	csrwi	frm, 1
	fcvt.w.s a0, ft0
	CHECK_IMM a0, -3, 110
	FLI_S	ft0, 0x3f800000
	FLI_S	ft1, 0x40400000
	fdiv.s	ft2, ft0, ft1                      /* 1/3 rounded toward zero */
	CHECK_S	ft2, 0x3eaaaaaa, 111
	csrwi	frm, 3
	fdiv.s	ft2, ft0, ft1
	CHECK_S	ft2, 0x3eaaaaab, 112

	/* reserved rounding mode in frm: dynamic-rm instructions are illegal */
	INSTALL_M_RECORD
	TRAP_RESET
	csrwi	frm, 5
	fadd.s	ft2, ft0, ft1
	CHECK_TRAPS 1, 113
	CHECK_CAUSE CAUSE_ILLEGAL, 114
	TRAP_RESET
	fadd.s	ft2, ft0, ft1, rne                /* static rm is still fine */
	CHECK_TRAPS 0, 115
	INSTALL_M_DEFAULT
	csrw	fcsr, zero

	/* ---------------- fclass ---------------- */
.macro T_CLASS_S n, bits, cls
	FLI_S	ft0, \bits
	fclass.s a0, ft0
	CHECK_IMM a0, \cls, \n
.endm
.macro T_CLASS_D n, bits, cls
	FLI_D	fa0, \bits
	fclass.d a0, fa0
	CHECK_IMM a0, \cls, \n
.endm
	T_CLASS_S 116, 0xff800000, 0x001          /* -inf */
	T_CLASS_S 117, 0xbf800000, 0x002          /* -normal */
	T_CLASS_S 118, 0x80000001, 0x004          /* -subnormal */
	T_CLASS_S 119, 0x80000000, 0x008          /* -0 */
	T_CLASS_S 120, 0x00000000, 0x010          /* +0 */
	T_CLASS_S 121, 0x00000001, 0x020          /* +subnormal */
	T_CLASS_S 122, 0x3f800000, 0x040          /* +normal */
	T_CLASS_S 123, 0x7f800000, 0x080          /* +inf */
	T_CLASS_S 124, 0x7f800001, 0x100          /* sNaN */
	T_CLASS_S 125, 0x7fc00000, 0x200          /* qNaN */
	T_CLASS_D 126, 0xfff0000000000000, 0x001
	T_CLASS_D 127, 0x8000000000000001, 0x004
	T_CLASS_D 128, 0x0000000000000000, 0x010
	T_CLASS_D 129, 0x4000000000000000, 0x040
	T_CLASS_D 130, 0x7ff0000000000001, 0x100
	T_CLASS_D 131, 0x7ff8000000000000, 0x200
	csrr	a0, fflags
	CHECK_ZERO a0, 132                        /* fclass raises no flags */

	PASS

	.data
	.balign 8
fdata:
	.word	0x3fc00000, 0
	.dword	0x3ff8000000000000
	.skip	64
