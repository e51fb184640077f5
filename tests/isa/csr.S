/*
 * csr.S - Zicsr and machine-level CSRs.
 *  - csrrw/csrrs/csrrc/csrrwi/csrrsi/csrrci on mscratch (old value returned, new written),
 *  - csrrs/csrrc with rs1 = x0 and csrrsi/csrrci with uimm = 0 do not write (so they are
 *    legal on read-only CSRs), while a real write to a read-only CSR (csrw mvendorid,
 *    csrrs with a nonzero rs1, csrrwi mhartid) raises illegal instruction with
 *    mtval = the instruction bits and leaves rd untouched,
 *  - misa reports MXL = 64 and I M A F D C S U; mhartid = 0,
 *  - unknown CSR numbers raise illegal instruction,
 *  - privilege: M CSRs are illegal from S, S CSRs illegal from U, sscratch works in S,
 *  - mcycle/minstret/cycle/instret advance and are writable; time advances and matches
 *    the CLINT mtime; U-mode counter access is gated by mcounteren/scounteren,
 *  - sstatus is a restricted view of mstatus, medeleg can delegate U ecalls, and a satp
 *    write with an unsupported mode has no effect.
 * Built with -DQEMU for QEMU's spike machine, which has no `time` CSR (rdtime traps there):
 * that variant skips the time-CSR checks (49..52).
 */
#include "common.h"

/* Expect the instruction at label to trap with illegal instruction and mtval = its bits. */
.macro CHECK_ILLEGAL_AT label, n
	CHECK_TRAPS 1, \n
	CHECK_CAUSE CAUSE_ILLEGAL, (\n + 1)
	la	t1, \label
	lwu	t1, 0(t1)
	CHECK_EQ s10, t1, (\n + 2)
	la	t1, \label
	CHECK_EQ s9, t1, (\n + 3)
.endm

TEST_START
	INSTALL_M_RECORD

	/* ---------------- read / write / set / clear on mscratch ---------------- */
	li	a1, 0xdeadbeefcafebabe
	csrw	mscratch, a1
	csrr	a0, mscratch
	CHECK_EQ a0, a1, 1
	li	a2, 0x0123456789abcdef
	csrrw	a0, mscratch, a2
	CHECK_EQ a0, a1, 2
	csrr	a0, mscratch
	CHECK_EQ a0, a2, 3
	li	a3, 0xf000000000000010
	csrrs	a0, mscratch, a3
	CHECK_EQ a0, a2, 4
	csrr	a0, mscratch
	CHECK_IMM a0, 0xf123456789abcdff, 5
	li	a3, 0xf0000000000000ff
	csrrc	a0, mscratch, a3
	CHECK_IMM a0, 0xf123456789abcdff, 6
	csrr	a0, mscratch
	CHECK_IMM a0, 0x0123456789abcd00, 7
	csrrwi	a0, mscratch, 31                 /* uimm is zero-extended */
	CHECK_IMM a0, 0x0123456789abcd00, 8
	csrr	a0, mscratch
	CHECK_IMM a0, 31, 9
	csrrci	a0, mscratch, 0x15
	CHECK_IMM a0, 31, 10
	csrr	a0, mscratch
	CHECK_IMM a0, 0x0a, 11
	csrrsi	a0, mscratch, 0x14
	CHECK_IMM a0, 0x0a, 12
	csrr	a0, mscratch
	CHECK_IMM a0, 0x1e, 13
	/* rd == rs1: old value read, new value from the old register contents */
	li	a0, 0x77
	csrrw	a0, mscratch, a0
	CHECK_IMM a0, 0x1e, 14
	csrr	a0, mscratch
	CHECK_IMM a0, 0x77, 15

	/* ---------------- no write when rs1 = x0 / uimm = 0 ---------------- */
	TRAP_RESET
	csrrs	a0, mvendorid, x0
	csrrc	a0, mvendorid, x0
	csrrsi	a0, marchid, 0
	csrrci	a0, mhartid, 0
	csrrs	a0, mimpid, x0
	CHECK_TRAPS 0, 16

	/* ---------------- writes to read-only CSRs ---------------- */
	TRAP_RESET
	li	t0, 1
	li	a0, 0x5a5a
1:	csrrs	a0, mvendorid, t0
	CHECK_ILLEGAL_AT 1b, 17
	CHECK_IMM a0, 0x5a5a, 21                 /* rd not written */
	TRAP_RESET
2:	csrw	mvendorid, t0
	CHECK_ILLEGAL_AT 2b, 22
	TRAP_RESET
3:	csrrwi	a0, mhartid, 0
	CHECK_ILLEGAL_AT 3b, 26
	TRAP_RESET
4:	csrrc	a0, cycle, t0
	CHECK_ILLEGAL_AT 4b, 30

	/* ---------------- identification ---------------- */
	csrr	a0, misa
	srli	a1, a0, 62
	CHECK_IMM a1, 2, 34                      /* MXL = 64 */
	CHECK_BITS_SET a0, (1<<8)|(1<<12)|(1<<0)|(1<<5)|(1<<3)|(1<<2)|(1<<18)|(1<<20), 35
	csrr	a0, mhartid
	CHECK_ZERO a0, 36

	/* ---------------- unknown CSRs ---------------- */
	TRAP_RESET
5:	csrr	a0, 0x0ff
	CHECK_TRAPS 1, 37
	CHECK_CAUSE CAUSE_ILLEGAL, 38
	TRAP_RESET
6:	csrw	0x7ff, t0
	CHECK_TRAPS 1, 39
	CHECK_CAUSE CAUSE_ILLEGAL, 40

	/* ---------------- counters ---------------- */
	csrr	a0, mcycle
	csrr	a1, minstret
	li	t0, 100
7:	addi	t0, t0, -1
	bnez	t0, 7b
	csrr	a2, mcycle
	csrr	a3, minstret
	bgtu	a2, a0, 8f
	FAIL	41
8:	bgtu	a3, a1, 9f
	FAIL	42
9:	rdcycle	a0
	rdinstret a1
	nop
	nop
	rdcycle	a2
	rdinstret a3
	bgtu	a2, a0, 10f
	FAIL	43
10:	sub	a3, a3, a1
	li	t1, 3                            /* at least the two nops and rdcycle retired */
	bgeu	a3, t1, 11f
	FAIL	44
11:	li	a1, 0x1000000000
	csrw	mcycle, a1
	csrr	a0, mcycle
	bgeu	a0, a1, 12f
	FAIL	45
12:	sub	a0, a0, a1
	srli	a0, a0, 32
	CHECK_ZERO a0, 46
	csrw	minstret, a1
	csrr	a0, minstret
	bgeu	a0, a1, 13f
	FAIL	47
13:	sub	a0, a0, a1
	srli	a0, a0, 32
	CHECK_ZERO a0, 48


#ifndef QEMU
	/* time: shadow of the CLINT mtime */
	TRAP_RESET
	li	s0, CLINT_MTIME
	ld	a0, 0(s0)
	rdtime	a1
	ld	a2, 0(s0)
	CHECK_TRAPS 0, 49
	bgeu	a1, a0, 15f
	FAIL	50
15:	bgeu	a2, a1, 16f
	FAIL	51
16:	li	t0, 100000
17:	ld	a2, 0(s0)
	bne	a2, a0, 18f                      /* wait until mtime ticks */
	addi	t0, t0, -1
	bnez	t0, 17b
18:	rdtime	a3
	bgtu	a3, a1, 19f
	FAIL	52
19:
#endif

	/* ---------------- privilege checks ---------------- */
	li	t0, MSTATUS_MPRV
	csrc	mstatus, t0
	TRAP_RESET
	GOTO_S	20f
20:	csrr	a0, mscratch                     /* M CSR from S: illegal */
	li	a1, 0x66
	csrw	sscratch, a1                     /* S CSR from S: fine */
	csrr	a2, sscratch
	ecall
	CHECK_TRAPS 2, 53
	CHECK_CAUSE CAUSE_ECALL_S, 54
	CHECK_IMM a2, 0x66, 55
	TRAP_RESET
	GOTO_U	22f
22:	csrr	a0, sscratch                     /* S CSR from U: illegal */
	ecall
	CHECK_TRAPS 2, 56

	/* counter enables: U-mode rdcycle needs mcounteren.CY and scounteren.CY */
	csrw	mcounteren, zero
	csrw	scounteren, zero
	TRAP_RESET
	GOTO_U	23f
23:	rdcycle	a0
	ecall
	CHECK_TRAPS 2, 57
	TRAP_RESET
	GOTO_S	24f
24:	rdcycle	a0                               /* S needs only mcounteren */
	ecall
	CHECK_TRAPS 2, 58
	li	t0, 5                            /* CY | IR */
	csrw	mcounteren, t0
	TRAP_RESET
	GOTO_S	25f
25:	rdcycle	a0
	rdinstret a0
	ecall
	CHECK_TRAPS 1, 59
	TRAP_RESET
	GOTO_U	26f
26:	rdcycle	a0                               /* scounteren still 0 */
	ecall
	CHECK_TRAPS 2, 60
	li	t0, 5
	csrw	scounteren, t0
	TRAP_RESET
	GOTO_U	27f
27:	rdcycle	a0
	rdinstret a1
	ecall
	CHECK_TRAPS 1, 61
	csrw	mcounteren, zero
	csrw	scounteren, zero

	/* ---------------- sstatus is a view of mstatus ---------------- */
	csrr	a0, mstatus
	csrs	sstatus, MSTATUS_SIE
	csrr	a1, mstatus
	CHECK_BITS_SET a1, MSTATUS_SIE, 62
	csrc	sstatus, MSTATUS_SIE
	csrr	a1, mstatus
	CHECK_BITS_CLEAR a1, MSTATUS_SIE, 63
	li	t0, MSTATUS_SPP
	csrs	mstatus, t0
	csrr	a1, sstatus
	CHECK_BITS_SET a1, MSTATUS_SPP, 64
	csrc	mstatus, t0
	li	t0, MSTATUS_MPP | MSTATUS_MPIE
	csrs	mstatus, t0
	csrr	a1, sstatus
	CHECK_BITS_CLEAR a1, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, 65
	li	t0, MSTATUS_MPP
	csrw	sstatus, zero                    /* does not clear M-only fields */
	csrr	a1, mstatus
	CHECK_BITS_SET a1, MSTATUS_MPP, 66

	/* ---------------- WARL fields ---------------- */
	li	t0, -1
	csrw	medeleg, t0
	csrr	a0, medeleg
	CHECK_BITS_SET a0, 1 << 8, 68            /* ecall from U can */
	csrw	medeleg, zero
	csrw	satp, zero
	li	t0, (5 << 60) | 0x1234           /* reserved mode: write ignored */
	csrw	satp, t0
	csrr	a0, satp
	CHECK_ZERO a0, 69

	INSTALL_M_DEFAULT
	PASS
