/*
 * rv64i.S - every RV64I instruction (32-bit encodings; no compression).
 * Checks: ALU register/immediate ops incl. the W forms and their sign extension, shifts by
 * 0/31/32/63 (and shift amounts taken mod XLEN), lui/auipc, every branch taken and not taken
 * with signed/unsigned edge cases, jal/jalr (link value, jalr clears bit 0, rd == rs1),
 * loads/stores of every width with sign/zero extension, and x0 staying zero.
 */
#include "common.h"

/* rd = op(v1, v2) */
.macro T_RR n, op, res, v1, v2
	li	a1, \v1
	li	a2, \v2
	\op	a0, a1, a2
	CHECK_IMM a0, \res, \n
.endm

/* rd = op(v1, imm) */
.macro T_RI n, op, res, v1, imm
	li	a1, \v1
	\op	a0, a1, \imm
	CHECK_IMM a0, \res, \n
.endm

/* branch must be taken */
.macro T_BR_T n, op, v1, v2
	li	a1, \v1
	li	a2, \v2
	\op	a1, a2, .Ltaken\@
	FAIL	\n
.Ltaken\@:
.endm

/* branch must not be taken */
.macro T_BR_N n, op, v1, v2
	li	a1, \v1
	li	a2, \v2
	\op	a1, a2, .Lbad\@
	j	.Lok\@
.Lbad\@:
	FAIL	\n
.Lok\@:
.endm

TEST_START

	/* ---------------- add / sub / addi ---------------- */
	T_RR 1,  add, 3, 1, 2
	T_RR 2,  add, 0x8000000000000000, 0x7fffffffffffffff, 1
	T_RR 3,  add, 0, -1, 1
	T_RR 4,  sub, -2, 3, 5
	T_RR 5,  sub, 0x7fffffffffffffff, 0x8000000000000000, 1
	T_RI 6,  addi, -1, 5, -6
	T_RI 7,  addi, 2047, 0, 2047
	T_RI 8,  addi, -2048, 0, -2048
	T_RI 9,  addi, 0x8000000000000000, 0x7fffffffffffffff, 1

	/* ---------------- W forms: 32-bit result, sign extended ---------------- */
	T_RR 10, addw, 0xffffffff80000000, 0x7fffffff, 1
	T_RR 11, addw, 8, 0xffffffff00000005, 3          /* upper bits ignored */
	T_RR 12, addw, 0x7fffffff, 0xffffffff, 0x80000000 /* -1 + INT_MIN wraps */
	T_RR 13, subw, -1, 0, 1
	T_RR 14, subw, 0x7fffffff, 0xffffffff80000000, 1
	T_RR 15, subw, 0, 0x1234567800000000, 0x8765432100000000
	T_RI 16, addiw, 0xffffffff80000000, 0x7fffffff, 1
	T_RI 17, addiw, -1, 0x100000000, -1
	T_RI 18, addiw, 0xffffffff80000000, 0x0000000080000000, 0  /* sext.w */
	T_RI 19, addiw, 0x7fffffff, 0xffffffff7fffffff, 0

	/* ---------------- compares ---------------- */
	T_RR 20, slt, 1, -1, 1
	T_RR 21, slt, 0, 1, -1
	T_RR 22, slt, 0, 7, 7
	T_RR 23, slt, 1, 0x8000000000000000, 0x7fffffffffffffff
	T_RR 24, sltu, 0, -1, 1
	T_RR 25, sltu, 1, 1, -1
	T_RR 26, sltu, 0, 7, 7
	T_RR 27, sltu, 0, 0x8000000000000000, 0x7fffffffffffffff
	T_RI 28, slti, 1, -5, -4
	T_RI 29, slti, 0, -4, -4
	T_RI 30, slti, 0, 0, -2048
	T_RI 31, sltiu, 1, 5, -1          /* imm sign-extended, then compared unsigned */
	T_RI 32, sltiu, 0, -1, -1
	T_RI 33, sltiu, 1, 0, 1           /* seqz */
	T_RI 34, sltiu, 0, 0x8000000000000000, 2047

	/* ---------------- logic ---------------- */
	T_RR 35, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
	T_RR 36, or,  0xfff0fff0fff0fff0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
	T_RR 37, xor, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
	T_RI 38, andi, 0xff00ff00ff00ff00, 0xff00ff00ff00ff00, -1
	T_RI 39, andi, 0x00000000000007f0, 0xff00ff00ff00fff0, 0x7ff
	T_RI 40, ori,  0xfffffffffffff800, 0x0000000000000000, -2048
	T_RI 41, ori,  0x12345678000007ff, 0x1234567800000000, 0x7ff
	T_RI 42, xori, 0x00ff00ff00ff00ff, 0xff00ff00ff00ff00, -1     /* not */
	T_RI 43, xori, 0xff00ff00ff00f8ff, 0xff00ff00ff00ff00, 0x7ff

	/* ---------------- 64-bit shifts ---------------- */
	T_RR 44, sll, 1, 1, 0
	T_RR 45, sll, 0x80000000, 1, 31           /* no sign extension in RV64 */
	T_RR 46, sll, 0x100000000, 1, 32
	T_RR 47, sll, 0x8000000000000000, 1, 63
	T_RR 48, sll, 3, 3, 64                    /* amount taken mod 64 */
	T_RR 49, srl, 0x8000000000000000, 0x8000000000000000, 0
	T_RR 50, srl, 0x100000000, 0x8000000000000000, 31
	T_RR 51, srl, 0x80000000, 0x8000000000000000, 32
	T_RR 52, srl, 1, 0x8000000000000000, 63
	T_RR 53, srl, 0x4000000000000000, 0x8000000000000000, 65
	T_RR 54, sra, 0x8000000000000000, 0x8000000000000000, 0
	T_RR 55, sra, 0xffffffff00000000, 0x8000000000000000, 31
	T_RR 56, sra, 0xffffffff80000000, 0x8000000000000000, 32
	T_RR 57, sra, -1, 0x8000000000000000, 63
	T_RR 58, sra, 0x0000000000000001, 0x7fffffffffffffff, 62
	T_RI 59, slli, 1, 1, 0
	T_RI 60, slli, 0x80000000, 1, 31
	T_RI 61, slli, 0x100000000, 1, 32
	T_RI 62, slli, 0x8000000000000000, 1, 63
	T_RI 63, srli, 0x8000000000000001, 0x8000000000000001, 0
	T_RI 64, srli, 0x100000000, 0x8000000000000000, 31
	T_RI 65, srli, 0x80000000, 0x8000000000000000, 32
	T_RI 66, srli, 1, 0x8000000000000000, 63
	T_RI 67, srai, 0x8000000000000000, 0x8000000000000000, 0
	T_RI 68, srai, 0xffffffff00000000, 0x8000000000000000, 31
	T_RI 69, srai, 0xffffffff80000000, 0x8000000000000000, 32
	T_RI 70, srai, -1, 0x8000000000000000, 63
	T_RI 71, srai, 1, 0x7fffffffffffffff, 62

	/* ---------------- 32-bit shifts (W forms) ---------------- */
	T_RR 72, sllw, 0xffffffff80000000, 1, 31
	T_RR 73, sllw, 1, 1, 32                   /* amount taken mod 32 */
	T_RR 74, sllw, 2, 0xffffffff00000001, 1   /* upper source bits ignored */
	T_RR 75, sllw, 0xffffffff80000000, 0x80000000, 0
	T_RR 76, srlw, 1, 0xffffffff80000000, 31
	T_RR 77, srlw, 0xffffffff80000000, 0x80000000, 0
	T_RR 78, srlw, 0x40000000, 0x0000000180000000, 1
	T_RR 79, srlw, 0xffffffff80000000, 0x80000000, 32
	T_RR 80, sraw, -1, 0x80000000, 31
	T_RR 81, sraw, 0xffffffffc0000000, 0x80000000, 1
	T_RR 82, sraw, 0x3fffffff, 0xffffffff7fffffff, 1
	T_RR 83, sraw, 0x12345678, 0xabcdef0012345678, 32
	T_RI 84, slliw, 0xffffffff80000000, 1, 31
	T_RI 85, slliw, 0xffffffff80000000, 0x80000000, 0
	T_RI 86, slliw, 0x2, 0x5555555500000001, 1
	T_RI 87, srliw, 1, 0x80000000, 31
	T_RI 88, srliw, 0xffffffff80000000, 0x80000000, 0
	T_RI 89, srliw, 0x7fffffff, 0xfffffffffffffffe, 1
	T_RI 90, sraiw, -1, 0x80000000, 31
	T_RI 91, sraiw, 0xffffffffc0000000, 0x80000000, 1
	T_RI 92, sraiw, 0x7fffffff, 0x7fffffff, 0
	T_RI 93, sraiw, 0xfffffffffffffff0, 0x00000000ffffff00, 4

	/* ---------------- lui / auipc ---------------- */
	lui	a0, 0x12345
	CHECK_IMM a0, 0x12345000, 94
	lui	a0, 0x80000
	CHECK_IMM a0, 0xffffffff80000000, 95   /* sign extended */
	lui	a0, 0x7ffff
	CHECK_IMM a0, 0x7ffff000, 96
	lui	a0, 0xfffff
	CHECK_IMM a0, -4096, 97
1:	auipc	a0, 0
	la	a1, 1b
	CHECK_EQ a0, a1, 98
2:	auipc	a0, 1
	la	a1, 2b
	li	a2, 0x1000
	add	a1, a1, a2
	CHECK_EQ a0, a1, 99
3:	auipc	a0, 0x80000                    /* pc - 2^31 */
	la	a1, 3b
	li	a2, 0xffffffff80000000
	add	a1, a1, a2
	CHECK_EQ a0, a1, 100

	/* ---------------- branches ---------------- */
	T_BR_T 101, beq, 5, 5
	T_BR_N 102, beq, 5, 6
	T_BR_N 103, beq, 0x100000005, 5          /* all 64 bits compared */
	T_BR_T 104, bne, 5, 6
	T_BR_N 105, bne, -1, -1
	T_BR_T 106, bne, 0x100000005, 5
	T_BR_T 107, blt, -1, 1
	T_BR_N 108, blt, 1, -1
	T_BR_N 109, blt, 3, 3
	T_BR_T 110, blt, 0x8000000000000000, 0x7fffffffffffffff
	T_BR_T 111, bge, 3, 3
	T_BR_T 112, bge, 1, -1
	T_BR_N 113, bge, -1, 1
	T_BR_N 114, bge, 0x8000000000000000, 0x7fffffffffffffff
	T_BR_T 115, bltu, 1, -1
	T_BR_N 116, bltu, -1, 1
	T_BR_N 117, bltu, 3, 3
	T_BR_N 118, bltu, 0x8000000000000000, 0x7fffffffffffffff
	T_BR_T 119, bgeu, 3, 3
	T_BR_T 120, bgeu, -1, 1
	T_BR_N 121, bgeu, 1, -1
	T_BR_T 122, bgeu, 0x8000000000000000, 0x7fffffffffffffff

	/* backward taken branch: loop three times */
	li	a0, 0
	li	a1, 3
4:	addi	a0, a0, 1
	blt	a0, a1, 4b
	CHECK_IMM a0, 3, 123

	/* ---------------- jal / jalr ---------------- */
	jal	ra, 5f
6:	FAIL	124                              /* jal must not fall through */
5:	la	a1, 6b
	CHECK_EQ ra, a1, 125                      /* link = pc + 4 */

	li	a0, 0
	j	8f                                    /* jal x0: forward */
7:	addi	a0, a0, 1
	j	9f
8:	j	7b                                    /* jal x0: backward */
9:	CHECK_IMM a0, 1, 126

	la	t0, 10f
	jalr	ra, 0(t0)
11:	FAIL	127
10:	la	a1, 11b
	CHECK_EQ ra, a1, 128

	la	t0, 12f
	addi	t0, t0, -16
	jalr	ra, 16(t0)                            /* positive offset */
	FAIL	129
12:	la	t0, 13f
	addi	t0, t0, 12
	jalr	ra, -12(t0)                           /* negative offset */
	FAIL	130
13:	la	t0, 14f
	addi	t0, t0, 1                             /* odd target: bit 0 is cleared */
	jalr	ra, 0(t0)
	FAIL	131
14:	la	t0, 15f
	jalr	t0, 0(t0)                             /* rd == rs1: target uses old value */
16:	FAIL	132
15:	la	a1, 16b
	CHECK_EQ t0, a1, 133
	la	t0, 17f
	jalr	x0, 0(t0)                             /* jr: no link */
	FAIL	134
17:

	/* ---------------- loads ---------------- */
	la	s0, ld_data                           /* 88 87 86 85 84 83 82 81 | 7f 00 ff 80 ... */
	lb	a0, 0(s0)
	CHECK_IMM a0, 0xffffffffffffff88, 135
	lbu	a0, 0(s0)
	CHECK_IMM a0, 0x88, 136
	lb	a0, 8(s0)
	CHECK_IMM a0, 0x7f, 137
	lh	a0, 0(s0)
	CHECK_IMM a0, 0xffffffffffff8788, 138
	lhu	a0, 0(s0)
	CHECK_IMM a0, 0x8788, 139
	lh	a0, 8(s0)
	CHECK_IMM a0, 0x007f, 140
	lw	a0, 0(s0)
	CHECK_IMM a0, 0xffffffff85868788, 141
	lwu	a0, 0(s0)
	CHECK_IMM a0, 0x85868788, 142
	lw	a0, 8(s0)
	CHECK_IMM a0, 0xffffffff80ff007f, 143
	lwu	a0, 8(s0)
	CHECK_IMM a0, 0x80ff007f, 144
	ld	a0, 0(s0)
	CHECK_IMM a0, 0x8182838485868788, 145
	lb	a0, 10(s0)
	CHECK_IMM a0, -1, 146
	lbu	a0, 11(s0)
	CHECK_IMM a0, 0x80, 147
	addi	s1, s0, 16
	ld	a0, -8(s1)                            /* negative offset */
	CHECK_IMM a0, 0x1234567880ff007f, 148
	lh	a0, -6(s1)
	CHECK_IMM a0, 0xffffffffffff80ff, 149
	lhu	a0, -4(s1)
	CHECK_IMM a0, 0x5678, 150

	/* ---------------- stores ---------------- */
	la	s0, st_data
	li	a1, -1
	sd	a1, 0(s0)
	sd	a1, 8(s0)
	li	a1, 0x0123456789abcdef
	sb	a1, 0(s0)                             /* only the low byte is written */
	ld	a0, 0(s0)
	CHECK_IMM a0, 0xffffffffffffffef, 151
	sb	a1, 7(s0)
	ld	a0, 0(s0)
	CHECK_IMM a0, 0xefffffffffffffef, 152
	sh	a1, 2(s0)
	ld	a0, 0(s0)
	CHECK_IMM a0, 0xefffffffcdefffef, 153
	sw	a1, 8(s0)
	ld	a0, 8(s0)
	CHECK_IMM a0, 0xffffffff89abcdef, 154
	sw	a1, 12(s0)
	ld	a0, 8(s0)
	CHECK_IMM a0, 0x89abcdef89abcdef, 155
	sd	a1, 0(s0)
	ld	a0, 0(s0)
	CHECK_IMM a0, 0x0123456789abcdef, 156
	lbu	a0, 0(s0)                             /* little endian */
	CHECK_IMM a0, 0xef, 157
	lbu	a0, 7(s0)
	CHECK_IMM a0, 0x01, 158
	addi	s1, s0, 16
	li	a1, 0x5a
	sb	a1, -9(s1)                            /* negative offset store */
	ld	a0, 0(s0)
	CHECK_IMM a0, 0x5a23456789abcdef, 159

	/* ---------------- x0 is hardwired to zero ---------------- */
	li	t0, 5
	add	x0, t0, t0
	mv	a0, x0
	CHECK_ZERO a0, 160
	addi	x0, x0, 7
	CHECK_ZERO x0, 161
	lui	x0, 0x12345
	CHECK_ZERO x0, 162
	la	s0, ld_data
	ld	x0, 0(s0)
	CHECK_ZERO x0, 163
	jal	x0, 18f
18:	CHECK_ZERO x0, 164
	auipc	x0, 1
	or	a0, x0, x0
	CHECK_ZERO a0, 165

	/* ---------------- fence / fence.i / nop ---------------- */
	fence
	fence	rw, rw
	fence.i
	nop
	/* self-modifying code made visible by fence.i: patch `li a0, 1` into `li a0, 2` */
	la	s0, 19f
	lw	a1, 0(s0)
	li	a2, 1 << 20                           /* imm field +1 */
	add	a1, a1, a2
	sw	a1, 0(s0)
	fence.i
19:	li	a0, 1
	CHECK_IMM a0, 2, 166

	PASS

	.data
	.balign 8
ld_data:
	.dword	0x8182838485868788
	.dword	0x1234567880ff007f
st_data:
	.dword	0
	.dword	0
