/*
 * rv64a.S - A extension.
 *  - lr.w/sc.w and lr.d/sc.d: success (rd = 0, memory written), lr.w sign extension,
 *    sc without a reservation fails (rd != 0, memory untouched), a second sc after a
 *    successful one fails, sc to an address other than the lr's fails (implementations
 *    may reserve a larger set; we put it in another page), and a store by this hart to a
 *    different address between lr and sc does not break the reservation (permitted to
 *    succeed by the spec, and what QEMU/spike do: checked as expected behaviour).
 *  - every amo*.w / amo*.d: old value returned (sign extended for .w), memory updated,
 *    the other half of the doubleword untouched by .w, signed vs unsigned min/max,
 *    rd = x0 still updates memory, aq/rl variants.
 */
#include "common.h"

/* AMO test: mem (dword at s0) = init; op rd, src, (s0); check rd == old, mem == new */
.macro T_AMO n, op, init, src, old, new
	li	a1, \init
	sd	a1, 0(s0)
	li	a2, \src
	\op	a0, a2, (s0)
	CHECK_IMM a0, \old, \n
	ld	a3, 0(s0)
	CHECK_IMM a3, \new, (\n + 1)
.endm

TEST_START
	la	s0, amo_buf

	/* ---------------- LR/SC ---------------- */
	li	a1, 0x1234567880000000
	sd	a1, 0(s0)
	lr.w	a0, (s0)
	CHECK_IMM a0, 0xffffffff80000000, 1        /* lr.w sign extends */
	li	a2, 0x7fff0001
	sc.w	a3, a2, (s0)
	CHECK_ZERO a3, 2                           /* success writes 0 */
	ld	a0, 0(s0)
	CHECK_IMM a0, 0x123456787fff0001, 3        /* only the low word written */

	lr.d	a0, (s0)
	CHECK_IMM a0, 0x123456787fff0001, 4
	li	a2, 0xfedcba9876543210
	sc.d	a3, a2, (s0)
	CHECK_ZERO a3, 5
	ld	a0, 0(s0)
	CHECK_IMM a0, 0xfedcba9876543210, 6

	/* the reservation is gone after an sc: a second sc fails and does not write */
	li	a2, 0x1111
	sc.d	a3, a2, (s0)
	CHECK_NONZERO a3, 7
	ld	a0, 0(s0)
	CHECK_IMM a0, 0xfedcba9876543210, 8
	sc.w	a3, a2, (s0)
	CHECK_NONZERO a3, 9
	ld	a0, 0(s0)
	CHECK_IMM a0, 0xfedcba9876543210, 10

	/* lr then sc to an address in another page: fails */
	la	s1, far_buf
	li	a1, 77
	sd	a1, 0(s1)
	lr.d	a0, (s0)
	li	a2, 99
	sc.d	a3, a2, (s1)
	CHECK_NONZERO a3, 11
	ld	a0, 0(s1)
	CHECK_IMM a0, 77, 12

	/* lr; store to a different address; sc succeeds */
	lr.d	a0, (s0)
	li	a1, 55
	sd	a1, 0(s1)
	li	a2, 0x4242
	sc.d	a3, a2, (s0)
	CHECK_ZERO a3, 13
	ld	a0, 0(s0)
	CHECK_IMM a0, 0x4242, 14

	/* lr.w/sc.w pair on the upper word of the doubleword */
	addi	s2, s0, 4
	lr.w	a0, (s2)
	CHECK_ZERO a0, 15
	li	a2, -1
	sc.w	a3, a2, (s2)
	CHECK_ZERO a3, 16
	ld	a0, 0(s0)
	CHECK_IMM a0, 0xffffffff00004242, 17

	/* aq/rl forms, and a typical retry loop */
	li	a1, 10
	sd	a1, 0(s0)
1:	lr.d.aq	a0, (s0)
	addi	a0, a0, 5
	sc.d.rl	a3, a0, (s0)
	bnez	a3, 1b
	ld	a0, 0(s0)
	CHECK_IMM a0, 15, 18

	/* ---------------- AMO .d ---------------- */
	T_AMO 20, amoswap.d, 0x1111111111111111, 0x2222222222222222, 0x1111111111111111, 0x2222222222222222
	T_AMO 22, amoadd.d,  0x7fffffffffffffff, 1, 0x7fffffffffffffff, 0x8000000000000000
	T_AMO 24, amoadd.d,  -1, 1, -1, 0
	T_AMO 26, amoxor.d,  0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0
	T_AMO 28, amoand.d,  0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0x0f000f000f000f00
	T_AMO 30, amoor.d,   0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xfff0fff0fff0fff0
	T_AMO 32, amomin.d,  0x8000000000000000, 1, 0x8000000000000000, 0x8000000000000000
	T_AMO 34, amominu.d, 0x8000000000000000, 1, 0x8000000000000000, 1
	T_AMO 36, amomax.d,  0x8000000000000000, 1, 0x8000000000000000, 1
	T_AMO 38, amomaxu.d, 0x8000000000000000, 1, 0x8000000000000000, 0x8000000000000000
	T_AMO 40, amomin.d,  5, -3, 5, -3
	T_AMO 42, amominu.d, 5, -3, 5, 5
	T_AMO 44, amomax.d,  -7, -3, -7, -3
	T_AMO 46, amomaxu.d, -7, -3, -7, -3
	T_AMO 48, amoswap.d.aqrl, 1, 2, 1, 2
	T_AMO 50, amoadd.d.aq, 40, 2, 40, 42

	/* ---------------- AMO .w (upper word of the dword must stay intact) ---------------- */
	T_AMO 60, amoswap.w, 0xaaaaaaaa80000000, 0x12345678, 0xffffffff80000000, 0xaaaaaaaa12345678
	T_AMO 62, amoswap.w, 0xaaaaaaaa12345678, 0xffffffff87654321, 0x12345678, 0xaaaaaaaa87654321
	T_AMO 64, amoadd.w,  0xaaaaaaaa7fffffff, 1, 0x7fffffff, 0xaaaaaaaa80000000
	T_AMO 66, amoadd.w,  0x55555555ffffffff, 1, -1, 0x5555555500000000 /* no carry out */
	T_AMO 68, amoxor.w,  0xaaaaaaaaff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xaaaaaaaaf0f0f0f0
	T_AMO 70, amoand.w,  0xaaaaaaaaff00ff00, 0xfffffffff0f00ff0, 0xffffffffff00ff00, 0xaaaaaaaaf0000f00
	T_AMO 72, amoor.w,   0xaaaaaaaa0f00ff00, 0x8ff00ff0, 0x0f00ff00, 0xaaaaaaaa8ff0fff0
	T_AMO 74, amomin.w,  0xaaaaaaaa80000000, 1, 0xffffffff80000000, 0xaaaaaaaa80000000
	T_AMO 76, amominu.w, 0xaaaaaaaa80000000, 1, 0xffffffff80000000, 0xaaaaaaaa00000001
	T_AMO 78, amomax.w,  0xaaaaaaaa80000000, 1, 0xffffffff80000000, 0xaaaaaaaa00000001
	T_AMO 80, amomaxu.w, 0xaaaaaaaa80000000, 1, 0xffffffff80000000, 0xaaaaaaaa80000000
	/* .w compares only the low 32 bits of rs2 */
	T_AMO 82, amomin.w,  0x0000000000000005, 0x00000001fffffffd, 5, 0x00000000fffffffd
	T_AMO 84, amomaxu.w, 0x0000000000000005, 0xffffffff00000003, 5, 5
	T_AMO 86, amominu.w, 0x0000000000000005, 0xffffffff00000003, 5, 3
	T_AMO 88, amomax.w,  0x00000000fffffff9, 0x00000000fffffffd, -7, 0x00000000fffffffd

	/* .w on the upper half of a doubleword */
	li	a1, 0x0000000100000002
	sd	a1, 0(s0)
	li	a2, 0x10
	amoadd.w a0, a2, (s1)                   /* dummy target: s1 is far_buf */
	addi	s2, s0, 4
	amoadd.w a0, a2, (s2)
	CHECK_IMM a0, 1, 90
	ld	a0, 0(s0)
	CHECK_IMM a0, 0x0000001100000002, 91

	/* rd = x0: memory still updated */
	li	a1, 100
	sd	a1, 0(s0)
	li	a2, 23
	amoadd.d x0, a2, (s0)
	ld	a0, 0(s0)
	CHECK_IMM a0, 123, 92
	amoswap.w x0, a2, (s0)
	ld	a0, 0(s0)
	CHECK_IMM a0, 23, 93

	/* rd == rs2 */
	li	a1, 8
	sd	a1, 0(s0)
	li	a2, 3
	amoadd.d a2, a2, (s0)
	CHECK_IMM a2, 8, 94
	ld	a0, 0(s0)
	CHECK_IMM a0, 11, 95

	PASS

	.data
	.balign 8
amo_buf:
	.dword	0
	.dword	0
	.balign 4096
far_buf:
	.dword	0
