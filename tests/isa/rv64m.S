/*
 * rv64m.S - M extension: mul/mulh/mulhsu/mulhu/div/divu/rem/remu and the W forms,
 * including division by zero (quotient all ones, remainder = dividend) and signed overflow
 * (INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0). W results are sign extended from bit 31.
 */
#include "common.h"

.macro T_RR n, op, res, v1, v2
	li	a1, \v1
	li	a2, \v2
	\op	a0, a1, a2
	CHECK_IMM a0, \res, \n
.endm

#define INT64_MIN 0x8000000000000000

TEST_START

	/* mul: low 64 bits */
	T_RR 1,  mul, 21, 3, 7
	T_RR 2,  mul, -21, -3, 7
	T_RR 3,  mul, 21, -3, -7
	T_RR 4,  mul, 0xfffffffffffffffe, 0x7fffffffffffffff, 2
	T_RR 5,  mul, 0x22236d88fe5618cf, 0x0123456789abcdef, 0x0fedcba987654321
	T_RR 6,  mul, INT64_MIN, INT64_MIN, -1
	T_RR 7,  mul, 0, 0x100000000, 0x100000000

	/* mulh: signed x signed, high 64 bits */
	T_RR 8,  mulh, 0, -1, -1
	T_RR 9,  mulh, -1, -1, 1
	T_RR 10, mulh, 0x4000000000000000, INT64_MIN, INT64_MIN
	T_RR 11, mulh, 0x3fffffffffffffff, 0x7fffffffffffffff, 0x7fffffffffffffff
	T_RR 12, mulh, 0xc000000000000000, INT64_MIN, 0x7fffffffffffffff
	T_RR 13, mulh, 0x00121fa00ad77d74, 0x0123456789abcdef, 0x0fedcba987654321

	/* mulhsu: signed rs1 x unsigned rs2 */
	T_RR 14, mulhsu, -1, -1, -1                 /* -1 * (2^64-1) */
	T_RR 15, mulhsu, INT64_MIN, INT64_MIN, -1
	T_RR 16, mulhsu, 0, 1, -1
	T_RR 17, mulhsu, 1, 2, INT64_MIN
	T_RR 18, mulhsu, -1, -2, 3

	/* mulhu: unsigned x unsigned */
	T_RR 19, mulhu, 0xfffffffffffffffe, -1, -1
	T_RR 20, mulhu, 1, INT64_MIN, 2
	T_RR 21, mulhu, 0, 0xffffffff, 0xffffffff
	T_RR 22, mulhu, 0x00121fa00ad77d74, 0x0123456789abcdef, 0x0fedcba987654321

	/* mulw: low 32 bits, sign extended */
	T_RR 23, mulw, -2, 0x7fffffff, 2
	T_RR 24, mulw, 15, 0x100000003, 0x100000005   /* upper bits ignored */
	T_RR 25, mulw, 0xffffffff80000000, 0x10000, 0x8000
	T_RR 26, mulw, -21, -3, 7

	/* div: signed, truncating */
	T_RR 27, div, 3, 20, 6
	T_RR 28, div, -3, -20, 6
	T_RR 29, div, -3, 20, -6
	T_RR 30, div, 3, -20, -6
	T_RR 31, div, -1, 20, 0                     /* divide by zero */
	T_RR 32, div, -1, -20, 0
	T_RR 33, div, INT64_MIN, INT64_MIN, -1      /* overflow */
	T_RR 34, div, 0, 5, 7

	/* divu */
	T_RR 35, divu, 3, 20, 6
	T_RR 36, divu, 0x7fffffffffffffff, -1, 2
	T_RR 37, divu, -1, 20, 0                    /* 2^64-1 */
	T_RR 38, divu, 0, INT64_MIN, -1
	T_RR 39, divu, 1, -1, -1

	/* rem: sign follows the dividend */
	T_RR 40, rem, 2, 20, 6
	T_RR 41, rem, -2, -20, 6
	T_RR 42, rem, 2, 20, -6
	T_RR 43, rem, -2, -20, -6
	T_RR 44, rem, 20, 20, 0                     /* x % 0 = x */
	T_RR 45, rem, -20, -20, 0
	T_RR 46, rem, 0, INT64_MIN, -1              /* overflow */

	/* remu */
	T_RR 47, remu, 2, 20, 6
	T_RR 48, remu, 5, -1, 10
	T_RR 49, remu, -20, -20, 0
	T_RR 50, remu, INT64_MIN, INT64_MIN, -1

	/* divw / divuw / remw / remuw: 32-bit operands, sign-extended results */
	T_RR 51, divw, -3, -20, 6
	T_RR 52, divw, 3, 0x100000014, 6            /* upper bits ignored */
	T_RR 53, divw, 0xffffffff80000000, 0x80000000, -1   /* overflow */
	T_RR 54, divw, -1, 20, 0
	T_RR 55, divw, -1, 20, 0x100000000          /* divisor's low word is 0 */
	T_RR 56, divw, 0xfffffffffffffffd, 0xffffffec, 6   /* 0xffffffec is -20 */
	T_RR 57, divuw, 0x7fffffff, 0xffffffff, 2
	T_RR 58, divuw, 0xffffffff80000000, 0x80000000, 1
	T_RR 59, divuw, -1, 20, 0                    /* 0xffffffff sign extended */
	T_RR 60, divuw, 0x2aaaaaa7, 0xfffffffeffffffec, 6
	T_RR 61, remw, -2, -20, 6
	T_RR 62, remw, 0, 0x80000000, -1            /* overflow */
	T_RR 63, remw, 0xffffffff80000000, 0x180000000, 0   /* x % 0 = sext(x) */
	T_RR 64, remw, 2, 0xffffffff00000014, 6
	T_RR 65, remuw, 5, 0xffffffff, 10
	T_RR 66, remuw, 0xffffffff80000001, 0x80000001, 0
	T_RR 67, remuw, 0xffffffff80000001, 0x80000001, 0xffffffff00000000
	T_RR 68, remuw, 1, 0xfffffffffffffff7, 2

	/* rd aliasing a source */
	li	a0, 7
	li	a1, 6
	mul	a0, a0, a1
	CHECK_IMM a0, 42, 69
	li	a0, 100
	div	a0, a0, a0
	CHECK_IMM a0, 1, 70
	li	a0, 0
	rem	a0, a0, a0                       /* 0 % 0 = 0 */
	CHECK_IMM a0, 0, 71
	li	a0, -1
	divu	a0, a0, zero
	CHECK_IMM a0, -1, 72

	PASS
