/*
 * trap.S - exceptions, privilege changes and interrupts.
 *  - ecall from M (11), ebreak (3, mepc = the ebreak), illegal instructions (2, mtval =
 *    instruction bits), mepc bit 0 is always zero (check 21, skipped with -DQEMU: QEMU 7.2
 *    does not clear it),
 *  - jumps to 2-byte aligned targets are legal with C (no misaligned-fetch trap), and
 *    jalr to an odd address clears bit 0,
 *  - mret to S and U (mstatus.MPP), MIE/MPIE handling, mret to S clears MPRV (check 91,
 *    skipped with -DQEMU: QEMU 7.2 leaves MPRV set), ecall from S (9) and U (8),
 *    mret from S and sret from U are illegal, mstatus.TSR makes sret illegal in S,
 *  - medeleg: a U ecall delegated to S lands at stvec with scause 8, sepc, sstatus.SPP = 0,
 *    SPIE = old SIE, SIE = 0; sret returns to U and restores SIE,
 *  - machine timer interrupt from the CLINT (mcause 0x8000000000000007), wfi waking up on
 *    a pending timer interrupt (with and without mstatus.MIE), machine software interrupt
 *    via CLINT msip (mcause 0x8000000000000003), mip mirroring msip/mtimecmp,
 *    M interrupts taken in U-mode even with mstatus.MIE = 0, vectored mtvec,
 *  - S timer interrupt delegated through mideleg and raised by M-mode writing mip.STIP
 *    (scause 0x8000000000000005 at stvec).
 */
#include "common.h"

TEST_START
	INSTALL_M_RECORD

	/* ---------------- synchronous exceptions in M-mode ---------------- */
	TRAP_RESET
	li	t0, 0x1234
	csrw	mtval, t0
1:	ecall
	CHECK_TRAPS 1, 1
	CHECK_CAUSE CAUSE_ECALL_M, 2
	la	a1, 1b
	CHECK_EQ s9, a1, 3
	CHECK_ZERO s10, 4                        /* mtval = 0 for ecall */
	srli	a0, s7, 11
	andi	a0, a0, 3
	CHECK_IMM a0, 3, 5                       /* MPP = M */

	TRAP_RESET
2:	ebreak
	CHECK_TRAPS 1, 6
	CHECK_CAUSE CAUSE_BREAKPOINT, 7
	la	a1, 2b
	CHECK_EQ s9, a1, 8

	TRAP_RESET
3:	.word	0xc0001073                        /* unimp: csrrw x0, cycle, x0 */
	CHECK_TRAPS 1, 9
	CHECK_CAUSE CAUSE_ILLEGAL, 10
	CHECK_IMM s10, 0xc0001073, 11
	la	a1, 3b
	CHECK_EQ s9, a1, 12
	TRAP_RESET
	.word	0xfe000033                        /* OP with funct7 = 0x7f */
	CHECK_TRAPS 1, 13
	CHECK_CAUSE CAUSE_ILLEGAL, 14
	CHECK_IMM s10, 0xfe000033, 15
	TRAP_RESET
	.word	0x0000000b                        /* custom-0: not implemented */
	CHECK_TRAPS 1, 16
	CHECK_CAUSE CAUSE_ILLEGAL, 17
	CHECK_IMM s10, 0x0000000b, 18
	TRAP_RESET
	.word	0x00001073 | (0x7c0 << 20)        /* csrw of an unimplemented custom CSR */
	CHECK_TRAPS 1, 19
	CHECK_CAUSE CAUSE_ILLEGAL, 20

#ifndef QEMU
	/* mepc[0] is always zero (IALIGN = 16 with C). QEMU 7.2 keeps bit 0: skipped there. */
	li	t0, 0x80000001
	csrw	mepc, t0
	csrr	a0, mepc
	CHECK_IMM a0, 0x80000000, 21
#endif

	/* ---------------- 2-byte aligned jump targets ---------------- */
	TRAP_RESET
	la	t0, half_target
	andi	a1, t0, 3
	CHECK_IMM a1, 2, 22                      /* really at pc % 4 == 2 */
	li	a0, 0
	jalr	ra, 0(t0)
	CHECK_TRAPS 0, 23
	CHECK_IMM a0, 0x99, 24
	la	t0, half_target
	addi	t0, t0, 1                        /* odd: bit 0 cleared, no trap */
	li	a0, 0
	jalr	ra, 0(t0)
	CHECK_TRAPS 0, 25
	CHECK_IMM a0, 0x99, 26

	/* ---------------- mret to S-mode, ecall from S ---------------- */
	TRAP_RESET
	li	t0, MSTATUS_MPIE | MSTATUS_MPRV
	csrs	mstatus, t0
	csrci	mstatus, MSTATUS_MIE
	GOTO_S	4f
4:	li	a0, 0x51
5:	ecall
	CHECK_TRAPS 1, 27
	CHECK_CAUSE CAUSE_ECALL_S, 28
	la	a1, 5b
	CHECK_EQ s9, a1, 29
	srli	a0, s7, 11
	andi	a0, a0, 3
	CHECK_IMM a0, 1, 30                      /* MPP = S at the trap */
	CHECK_BITS_SET s7, MSTATUS_MPIE, 31      /* mret set MIE from MPIE=1, trap saved it */
	CHECK_BITS_CLEAR s7, MSTATUS_MIE, 32
#ifndef QEMU
	CHECK_BITS_CLEAR s7, MSTATUS_MPRV, 91    /* mret to S clears MPRV (QEMU 7.2 does not) */
#endif
	li	t0, MSTATUS_MPRV
	csrc	mstatus, t0
	csrr	a0, mstatus
	CHECK_BITS_SET a0, MSTATUS_MIE, 33       /* mret back to M restored MIE = MPIE = 1 */
	csrci	mstatus, MSTATUS_MIE

	/* ---------------- mret to U-mode, ecall from U ---------------- */
	TRAP_RESET
	li	t0, MSTATUS_MPIE
	csrc	mstatus, t0                      /* mret will set MIE = 0 */
	GOTO_U	6f
6:	nop
7:	ecall
	CHECK_TRAPS 1, 34
	CHECK_CAUSE CAUSE_ECALL_U, 35
	la	a1, 7b
	CHECK_EQ s9, a1, 36
	srli	a0, s7, 11
	andi	a0, a0, 3
	CHECK_ZERO a0, 37                        /* MPP = U */
	CHECK_BITS_CLEAR s7, MSTATUS_MPIE, 38    /* MIE was 0 when mret ran */

	/* ---------------- privileged returns from the wrong mode ---------------- */
	TRAP_RESET
	GOTO_U	8f
8:	sret                                      /* illegal in U */
	mret                                      /* illegal in U */
	ecall
	CHECK_TRAPS 3, 39
	TRAP_RESET
	GOTO_S	9f
9:	mret                                      /* illegal in S */
	mv	a2, s8
	ecall
	CHECK_TRAPS 2, 40
	CHECK_IMM a2, CAUSE_ILLEGAL, 41
	TRAP_RESET
	li	t0, 1 << 22                      /* TSR */
	csrs	mstatus, t0
	GOTO_S	10f
10:	sret                                      /* illegal in S with TSR */
	mv	a2, s8
	ecall
	li	t0, 1 << 22
	csrc	mstatus, t0
	CHECK_TRAPS 2, 42
	CHECK_IMM a2, CAUSE_ILLEGAL, 43

	/* ---------------- U ecall delegated to S, sret back to U ---------------- */
	INSTALL_S_RECORD
	li	t0, 1 << CAUSE_ECALL_U
	csrw	medeleg, t0
	csrsi	mstatus, MSTATUS_SIE
	li	t0, MSTATUS_SPIE
	csrc	mstatus, t0
	li	t0, 0x777
	csrw	mcause, t0
	TRAP_RESET
	GOTO_U	11f
11:	nop
12:	ecall                                     /* -> S handler, skips it, sret to U */
	mv	a2, s8                            /* scause */
	mv	a3, s9                            /* sepc */
	mv	a4, s7                            /* sstatus at the trap */
	mv	a5, s11
	ebreak                                    /* not delegated: back to M */
	CHECK_IMM a5, 1, 44                      /* exactly one S trap */
	CHECK_IMM a2, CAUSE_ECALL_U, 45
	la	a1, 12b
	CHECK_EQ a3, a1, 46
	CHECK_BITS_CLEAR a4, MSTATUS_SPP | MSTATUS_SIE, 47
	CHECK_BITS_SET a4, MSTATUS_SPIE, 48
	CHECK_CAUSE CAUSE_BREAKPOINT, 49         /* the ebreak reached M ... */
	srli	a0, s7, 11
	andi	a0, a0, 3
	CHECK_ZERO a0, 50                        /* ... from U: sret returned to U */
	CHECK_BITS_SET s7, MSTATUS_SIE, 51       /* sret restored SIE from SPIE */
	csrr	a0, scause
	CHECK_IMM a0, CAUSE_ECALL_U, 52
	csrw	medeleg, zero
	csrci	mstatus, MSTATUS_SIE

	/* ---------------- machine timer interrupt ---------------- */
	TRAP_RESET
	li	s0, CLINT_MTIME
	li	s1, CLINT_MTIMECMP
	ld	a0, 0(s0)
	addi	a0, a0, 100
	sd	a0, 0(s1)
	li	t0, MIP_MTIP
	csrs	mie, t0
	csrsi	mstatus, MSTATUS_MIE
	li	t1, 20000000
13:	bnez	s11, 14f
	addi	t1, t1, -1
	bnez	t1, 13b
	FAIL	53                                /* no interrupt */
14:	csrci	mstatus, MSTATUS_MIE
	CHECK_TRAPS 1, 54
	CHECK_IMM s8, 0x8000000000000007, 55
	CHECK_BITS_SET s7, MSTATUS_MPIE, 56
	CHECK_BITS_CLEAR s7, MSTATUS_MIE, 57
	ld	a1, 0(s0)
	ld	a2, 0(s1)
	bgeu	a1, a0, 15f                      /* mtime reached the compare value */
	FAIL	58
15:	csrr	a0, mip
	CHECK_BITS_CLEAR a0, MIP_MTIP, 59        /* mtimecmp = max clears MTIP */

	/* mip.MTIP follows mtime >= mtimecmp */
	sd	zero, 0(s1)
	csrr	a0, mip
	CHECK_BITS_SET a0, MIP_MTIP, 60
	li	t0, -1
	sd	t0, 0(s1)
	csrr	a0, mip
	CHECK_BITS_CLEAR a0, MIP_MTIP, 61

	/* ---------------- wfi wakes up on a pending timer interrupt ---------------- */
	/* with mstatus.MIE = 0 the interrupt is not taken, but wfi must still return */
	TRAP_RESET
	ld	a0, 0(s0)
	li	t0, 1000
	add	a0, a0, t0
	sd	a0, 0(s1)
	wfi
	csrr	a1, mip
	ld	a2, 0(s0)
	CHECK_TRAPS 0, 62
	CHECK_BITS_SET a1, MIP_MTIP, 63
	bgeu	a2, a0, 16f
	FAIL	64
16:	/* with mstatus.MIE = 1 the handler runs right after wfi */
	ld	a0, 0(s0)
	add	a0, a0, t0
	sd	a0, 0(s1)
	csrsi	mstatus, MSTATUS_MIE
	wfi
	csrci	mstatus, MSTATUS_MIE
	CHECK_TRAPS 1, 65
	CHECK_IMM s8, 0x8000000000000007, 66
	csrw	mie, zero

	/* ---------------- machine software interrupt ---------------- */
	li	s2, CLINT_MSIP
	li	t0, 1
	sw	t0, 0(s2)
	csrr	a0, mip
	CHECK_BITS_SET a0, MIP_MSIP, 67
	lw	a0, 0(s2)
	CHECK_IMM a0, 1, 68
	sw	zero, 0(s2)
	csrr	a0, mip
	CHECK_BITS_CLEAR a0, MIP_MSIP, 69
	TRAP_RESET
	li	t0, MIP_MSIP
	csrw	mie, t0
	csrsi	mstatus, MSTATUS_MIE
	li	t0, 1
	sw	t0, 0(s2)
	li	t1, 1000000
17:	bnez	s11, 18f
	addi	t1, t1, -1
	bnez	t1, 17b
	FAIL	70
18:	csrci	mstatus, MSTATUS_MIE
	CHECK_TRAPS 1, 71
	CHECK_IMM s8, 0x8000000000000003, 72
	lw	a0, 0(s2)
	CHECK_ZERO a0, 73                        /* handler cleared msip */

	/* M interrupts are taken in U-mode even with mstatus.MIE = 0 */
	TRAP_RESET
	li	t0, 1
	sw	t0, 0(s2)
	nop
	nop
	CHECK_TRAPS 0, 74                        /* masked in M-mode */
	GOTO_U	19f
19:	nop
	nop
	nop
	nop
	ecall
	CHECK_TRAPS 2, 75                        /* the interrupt, then the ecall */
	lw	a0, 0(s2)
	CHECK_ZERO a0, 76
	csrw	mie, zero

	/* ---------------- vectored mtvec ---------------- */
	la	t0, vec_table
	ori	t0, t0, 1
	csrw	mtvec, t0
	csrr	a0, mtvec
	CHECK_EQ a0, t0, 77
	TRAP_RESET
	li	a7, 0
	ecall                                     /* exceptions go to BASE */
	CHECK_TRAPS 1, 78
	CHECK_IMM a7, 100, 79
	li	t0, MIP_MSIP
	csrw	mie, t0
	li	t0, 1
	sw	t0, 0(s2)
	csrsi	mstatus, MSTATUS_MIE
	li	t1, 1000000
20:	bnez	a7, 21f                           /* vector 3 sets a7 = 3 */
	addi	t1, t1, -1
	bnez	t1, 20b
21:	csrci	mstatus, MSTATUS_MIE
	CHECK_IMM a7, 3, 80
	csrw	mie, zero
	INSTALL_M_RECORD

	/* ---------------- S timer interrupt delegated with mideleg ---------------- */
	INSTALL_S_RECORD
	li	t0, MIP_STIP
	csrw	mideleg, t0
	csrr	a0, mideleg
	CHECK_BITS_SET a0, MIP_STIP, 81
	csrw	mie, t0                          /* STIE */
	csrs	mip, t0                          /* M-mode raises STIP */
	csrr	a0, sip
	CHECK_BITS_SET a0, MIP_STIP, 82          /* visible in sip */
	csrr	a0, sie
	CHECK_BITS_SET a0, MIP_STIP, 83
	csrsi	mstatus, MSTATUS_SIE
	TRAP_RESET
	nop
	CHECK_TRAPS 0, 84                        /* never taken in M-mode */
	GOTO_S	22f
22:	nop                                       /* taken here, at S-mode */
	nop
	nop
	nop
	mv	a2, s8                            /* scause */
	mv	a3, s9                            /* sepc */
	mv	a4, s11
	mv	a5, s7                            /* sstatus */
	ecall
	CHECK_IMM a4, 1, 85
	CHECK_IMM a2, 0x8000000000000005, 86
	la	a1, 22b
	bltu	a3, a1, 23f
	addi	a1, a1, 16
	bltu	a1, a3, 23f
	j	24f
23:	FAIL	87                                /* sepc not in the S code */
24:	CHECK_BITS_SET a5, MSTATUS_SPP | MSTATUS_SPIE, 88
	CHECK_BITS_CLEAR a5, MSTATUS_SIE, 89
	li	t0, MIP_STIP
	csrc	mip, t0
	csrw	mie, zero
	csrw	mideleg, zero
	csrci	mstatus, MSTATUS_SIE

	INSTALL_M_DEFAULT
	PASS

/* A function starting at pc % 4 == 2: sets a0 = 0x99 and returns. */
	.option push
	.option rvc
	.balign 4
	c.nop
half_target:
	c.li	a0, 0x19
	c.addi	a0, 0x1f
	addi	a0, a0, 0x99 - 0x19 - 0x1f        /* 32-bit, at pc % 4 == 2 */
	c.jr	ra
	.option pop

/*
 * Vectored trap table: exceptions land at BASE (sets a7 = 100 and skips the ecall),
 * the machine software interrupt at BASE + 4*3 (clears msip, sets a7 = 3).
 */
	.balign 256
vec_table:
	j	vec_exc
	j	vec_bad
	j	vec_bad
	j	vec_msi
	j	vec_bad
	j	vec_bad
	j	vec_bad
	j	vec_bad
	j	vec_bad
	j	vec_bad
	j	vec_bad
	j	vec_bad
vec_exc:
	addi	s11, s11, 1
	li	a7, 100
	csrr	t0, mepc
	addi	t0, t0, 4
	csrw	mepc, t0
	mret
vec_msi:
	li	t0, CLINT_MSIP
	sw	zero, 0(t0)
	li	a7, 3
	mret
vec_bad:
	FAIL	90
