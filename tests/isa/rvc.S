/*
 * rvc.S - C extension (RV64C). Every instruction under test is written with its explicit
 * c.* mnemonic, so it is the 16-bit encoding. Covers c.li, c.lui, c.addi, c.addiw, c.nop,
 * c.slli/srli/srai/andi, c.mv/c.add, c.sub/xor/or/and/subw/addw, c.addi16sp, c.addi4spn,
 * c.lwsp/ldsp/swsp/sdsp, c.lw/ld/sw/sd, c.j, c.jr, c.jalr (link = pc + 2), c.beqz/c.bnez,
 * c.fld/fsd/fldsp/fsdsp, a 32-bit instruction at a 2-byte aligned pc, c.ebreak, and
 * reserved encodings (c.unimp, c.lui/c.addi16sp with imm 0, c.jr x0, c.ldsp x0) raising
 * illegal instruction with mtval = the 16-bit instruction bits.
 * (c.jal is RV32-only; in RV64 that encoding is c.addiw, tested here.)
 */
#include "common.h"

/* checks that the branch at the end of the block is not taken */
.macro NOT_TAKEN n, op, reg
	\op	\reg, .Lbad\@
	j	.Lok\@
.Lbad\@:
	FAIL	\n
.Lok\@:
.endm

TEST_START
	.option rvc
	FPU_ON

	/* ---------------- c.li / c.lui ---------------- */
	c.li	a0, -32
	CHECK_IMM a0, -32, 1
	c.li	a0, 31
	CHECK_IMM a0, 31, 2
	c.lui	a0, 1
	CHECK_IMM a0, 0x1000, 3
	c.lui	a0, 0xfffff
	CHECK_IMM a0, -4096, 4
	c.lui	a0, 0x1f
	CHECK_IMM a0, 0x1f000, 5
	c.lui	a0, 0xfffe0
	CHECK_IMM a0, 0xfffffffffffe0000, 6

	/* ---------------- c.addi / c.addiw / c.nop ---------------- */
	li	a0, 10
	c.addi	a0, -11
	CHECK_IMM a0, -1, 7
	c.addi	a0, 31
	CHECK_IMM a0, 30, 8
	c.nop
	li	a0, 0x7fffffff
	c.addiw	a0, 1
	CHECK_IMM a0, 0xffffffff80000000, 9
	li	a0, 0x180000000
	c.addiw	a0, 0                             /* sext.w */
	CHECK_IMM a0, 0xffffffff80000000, 10

	/* ---------------- shifts / andi ---------------- */
	li	a0, 1
	c.slli	a0, 63
	CHECK_IMM a0, 0x8000000000000000, 11
	li	a0, 3
	c.slli	a0, 32
	CHECK_IMM a0, 0x300000000, 12
	li	s0, 0x8000000000000000
	c.srli	s0, 63
	CHECK_IMM s0, 1, 13
	li	s0, 0x8000000000000000
	c.srli	s0, 32
	CHECK_IMM s0, 0x80000000, 14
	li	s1, 0x8000000000000000
	c.srai	s1, 63
	CHECK_IMM s1, -1, 15
	li	s1, 0x8000000000000000
	c.srai	s1, 1
	CHECK_IMM s1, 0xc000000000000000, 16
	li	a5, -1
	c.andi	a5, -16
	CHECK_IMM a5, 0xfffffffffffffff0, 17
	li	a5, 0x1234
	c.andi	a5, 0x1f
	CHECK_IMM a5, 0x14, 18

	/* ---------------- c.mv / c.add ---------------- */
	li	a1, 0x123456789
	c.mv	a0, a1
	CHECK_IMM a0, 0x123456789, 19
	li	a0, 5
	li	a1, -7
	c.add	a0, a1
	CHECK_IMM a0, -2, 20

	/* ---------------- CA format ---------------- */
	li	a2, 10
	li	a3, 3
	c.sub	a2, a3
	CHECK_IMM a2, 7, 21
	li	a2, 0xff00
	li	a3, 0x0ff0
	c.xor	a2, a3
	CHECK_IMM a2, 0xf0f0, 22
	li	a2, 0xff00
	c.or	a2, a3
	CHECK_IMM a2, 0xfff0, 23
	li	a2, 0xff00
	c.and	a2, a3
	CHECK_IMM a2, 0x0f00, 24
	li	a4, 0x7fffffff
	li	a5, 1
	c.addw	a4, a5
	CHECK_IMM a4, 0xffffffff80000000, 25
	li	a4, 0xffffffff80000000
	c.subw	a4, a5
	CHECK_IMM a4, 0x7fffffff, 26
	li	a4, 0x100000000
	c.subw	a4, a5
	CHECK_IMM a4, -1, 27

	/* ---------------- c.addi16sp / c.addi4spn ---------------- */
	la	sp, rvc_data
	mv	s2, sp
	c.addi16sp sp, -64
	addi	a1, s2, -64
	CHECK_EQ sp, a1, 28
	c.addi16sp sp, 496
	addi	a1, s2, 432
	CHECK_EQ sp, a1, 29
	c.addi16sp sp, -432
	CHECK_EQ sp, s2, 30
	c.addi4spn a0, sp, 1020
	addi	a1, s2, 1020
	CHECK_EQ a0, a1, 31
	c.addi4spn s1, sp, 4
	addi	a1, s2, 4
	CHECK_EQ s1, a1, 32

	/* ---------------- sp-relative loads/stores ---------------- */
	li	a0, 0x0123456789abcdef
	c.sdsp	a0, 8(sp)
	ld	a1, 8(sp)
	CHECK_IMM a1, 0x0123456789abcdef, 33
	li	a0, 0x80000001
	c.swsp	a0, 16(sp)
	c.lwsp	a1, 16(sp)
	CHECK_IMM a1, 0xffffffff80000001, 34
	c.ldsp	a2, 8(sp)
	CHECK_IMM a2, 0x0123456789abcdef, 35
	c.lwsp	a3, 12(sp)
	CHECK_IMM a3, 0x01234567, 36
	c.sdsp	a0, 504(sp)
	ld	a1, 504(sp)
	CHECK_IMM a1, 0x80000001, 37
	c.lwsp	a1, 252(sp)
	lw	a2, 252(sp)
	CHECK_EQ a1, a2, 38

	/* ---------------- register-relative loads/stores ---------------- */
	la	s0, rvc_data
	li	a0, 0xfedcba9876543210
	c.sd	a0, 24(s0)
	ld	a1, 24(s0)
	CHECK_IMM a1, 0xfedcba9876543210, 39
	c.ld	a1, 24(s0)
	CHECK_IMM a1, 0xfedcba9876543210, 40
	c.lw	a2, 28(s0)
	CHECK_IMM a2, 0xfffffffffedcba98, 41
	li	a3, 0x7fffffff
	c.sw	a3, 24(s0)
	ld	a1, 24(s0)
	CHECK_IMM a1, 0xfedcba987fffffff, 42
	li	a0, 0x55
	c.sd	a0, 248(s0)
	ld	a1, 248(s0)
	CHECK_IMM a1, 0x55, 43
	c.sw	a0, 124(s0)
	c.lw	a1, 124(s0)
	CHECK_IMM a1, 0x55, 44

	/* ---------------- jumps ---------------- */
	li	a0, 0
	c.j	1f
	FAIL	45
1:	c.j	3f
2:	addi	a0, a0, 1
	c.j	4f
3:	c.j	2b                                /* backward */
4:	CHECK_IMM a0, 1, 46
	la	t0, 5f
	c.jr	t0
	FAIL	47
5:	la	t0, 7f
6:	c.jalr	t0
	FAIL	48
7:	la	a1, 6b
	addi	a1, a1, 2
	CHECK_EQ ra, a1, 49                   /* link = pc + 2 */
	la	ra, 9f
8:	c.jalr	ra                            /* target is the old ra */
	FAIL	50
9:	la	a1, 8b
	addi	a1, a1, 2
	CHECK_EQ ra, a1, 51

	/* ---------------- c.beqz / c.bnez ---------------- */
	li	s0, 0
	c.beqz	s0, 1f
	FAIL	52
1:	li	s0, 1
	NOT_TAKEN 53, c.beqz, s0
	c.bnez	s0, 2f
	FAIL	54
2:	li	s0, 0
	NOT_TAKEN 55, c.bnez, s0
	li	a5, 0x100000000                   /* nonzero only in the upper word */
	NOT_TAKEN 56, c.beqz, a5
	li	a5, 0
	li	s1, 3
3:	c.addi	a5, 1                             /* backward c.bnez loop */
	c.addi	s1, -1
	c.bnez	s1, 3b
	CHECK_IMM a5, 3, 57

	/* ---------------- FP loads/stores ---------------- */
	la	s0, rvc_data
	li	a0, 0x400921fb54442d18
	sd	a0, 32(s0)
	c.fld	fa0, 32(s0)
	fmv.x.d	a1, fa0
	CHECK_IMM a1, 0x400921fb54442d18, 58
	c.fsd	fa0, 40(s0)
	ld	a1, 40(s0)
	CHECK_IMM a1, 0x400921fb54442d18, 59
	la	sp, rvc_data
	c.fldsp	ft1, 32(sp)
	fmv.x.d	a1, ft1
	CHECK_IMM a1, 0x400921fb54442d18, 60
	c.fsdsp	ft1, 48(sp)
	ld	a1, 48(sp)
	CHECK_IMM a1, 0x400921fb54442d18, 61

	/* ---------------- 32-bit instruction at pc % 4 == 2 ---------------- */
	.balign 4
	c.nop
	.option push
	.option norvc
	addi	a0, x0, 77
	.option pop
	CHECK_IMM a0, 77, 62

	/* ---------------- traps ---------------- */
	INSTALL_M_RECORD
	TRAP_RESET
1:	c.ebreak
	CHECK_TRAPS 1, 63
	CHECK_CAUSE CAUSE_BREAKPOINT, 64
	la	a1, 1b
	CHECK_EQ s9, a1, 65                   /* mepc = the c.ebreak; handler skipped 2 bytes */

	TRAP_RESET
	c.unimp                                   /* 0x0000 */
	CHECK_TRAPS 1, 66
	CHECK_CAUSE CAUSE_ILLEGAL, 67
	TRAP_RESET
	.hword	0x6501                            /* c.lui a0, 0 (reserved) */
	CHECK_TRAPS 1, 68
	CHECK_CAUSE CAUSE_ILLEGAL, 69
	CHECK_IMM s10, 0x6501, 70                 /* mtval = instruction bits */
	TRAP_RESET
	.hword	0x6101                            /* c.addi16sp sp, 0 (reserved) */
	CHECK_TRAPS 1, 71
	CHECK_CAUSE CAUSE_ILLEGAL, 72
	TRAP_RESET
	.hword	0x8002                            /* c.jr x0 (reserved) */
	CHECK_TRAPS 1, 73
	CHECK_CAUSE CAUSE_ILLEGAL, 74
	TRAP_RESET
	.hword	0x6002                            /* c.ldsp x0, 0(sp) (reserved) */
	CHECK_TRAPS 1, 75
	CHECK_CAUSE CAUSE_ILLEGAL, 76
	INSTALL_M_DEFAULT

	PASS

	.data
	.balign 16
rvc_data:
	.skip	1024
