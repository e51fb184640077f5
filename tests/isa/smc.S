/*
 * smc.S - code that changes under the hart (what a translator must get right; the interpreter too).
 * M-mode, bare: RAM is readable, writable and executable. No FENCE.I anywhere: RISC-V allows a hart
 * to keep running stale instructions until FENCE.I, but wisp keeps instruction fetch coherent with
 * every store (as QEMU does), and these checks hold it to that.
 *   1-2  rewrite a routine that already ran, call it again
 *   3    a store rewrites the very next instruction of a straight run (not with -DQEMU: QEMU 7.2 runs
 *        the stale instruction there, which the ISA allows)
 *   4    a loop rewrites its own body every round
 *   5    data next to code: storing it leaves the code running (and the value is right)
 *   6-7  a trap on the first and on the last instruction of a run: exact mepc and instret (minstret
 *        not checked with -DQEMU: QEMU 7.2 counts it only approximately)
 *   8    a timer interrupt ends a tight loop that only the handler can leave
 */
#include "common.h"

#define ADDI(rd, rs, imm) (((imm) << 20) | ((rs) << 15) | ((rd) << 7) | 0x13)

TEST_START
	INSTALL_M_RECORD
	.option push
	.option norvc

	/* 1-2: a routine run once, rewritten, run again */
	jal	ra, routine
	CHECK_IMM a0, 1, 1
	la	t0, routine
	li	t1, ADDI(10, 0, 2)
	sw	t1, 0(t0)
	jal	ra, routine
	CHECK_IMM a0, 2, 2

	/* 3: the store rewrites the instruction right behind it (QEMU 7.2 runs the old one) */
#ifndef QEMU
	la	t0, next3
	li	t1, ADDI(11, 0, 7)
	sw	t1, 0(t0)
next3:	addi	a1, zero, 3
	CHECK_IMM a1, 7, 3
#endif

	/* 4: each round executes `addi a2, a2, K` and rewrites it with K + 1: 1 + 2 + 3 + 4 */
	li	a2, 0
	li	a3, 1
	li	t2, 4
	la	t0, inc4
	li	t3, ADDI(12, 12, 0)
loop4:
inc4:	addi	a2, a2, 1
	addi	a3, a3, 1
	slli	t1, a3, 20
	or	t1, t1, t3
	sw	t1, 0(t0)
	addi	t2, t2, -1
	bnez	t2, loop4
	CHECK_IMM a2, 10, 4

	/* 5: stores to data in the same 64 bytes as the loop's code */
	li	t2, 100
	la	t0, data5
	li	a4, 0
loop5:	lw	t1, 0(t0)
	addi	t1, t1, 3
	sw	t1, 0(t0)
	addi	a4, a4, 1
	addi	t2, t2, -1
	bnez	t2, loop5
	lw	t1, 0(t0)
	CHECK_IMM t1, 300, 5
	CHECK_IMM a4, 100, 5
	j	after5
	.balign 8
data5:	.word 0
after5:

	/* 6: the first instruction of a run faults: mepc is that instruction; instret counts exactly the
	 * instructions before it (csrr, j) when the handler's first instruction reads it */
	la	t0, count_handler
	csrw	mtvec, t0
	li	s11, 0
	csrr	s1, minstret
	j	first6                           /* a new block starts at first6 */
first6:	lw	t1, 1(zero)                      /* address 1: no RAM there (access fault) */
	CHECK_IMM s11, 1, 6
	la	t1, first6
	CHECK_EQ s9, t1, 6
#ifndef QEMU /* QEMU 7.2's minstret is not exact without -icount */
	sub	s2, s6, s1
	CHECK_IMM s2, 2, 6
#endif

	/* 7: the last instruction of a straight run faults; the ones before it all retired */
	li	s11, 0
	li	a5, 0
	csrr	s1, minstret
	addi	a5, a5, 1
	addi	a5, a5, 1
	addi	a5, a5, 1
	addi	a5, a5, 1
	addi	a5, a5, 1
last7:	lw	t1, 1(zero)
	CHECK_IMM s11, 1, 7
	la	t1, last7
	CHECK_EQ s9, t1, 7
	CHECK_IMM a5, 5, 7
#ifndef QEMU
	sub	s2, s6, s1
	CHECK_IMM s2, 6, 7
#endif
	INSTALL_M_RECORD

	/* 8: wait in a tight loop for the timer interrupt; the handler sets s0 */
	la	t0, timer_handler
	csrw	mtvec, t0
	li	s0, 0
	li	t0, CLINT_MTIME
	ld	t1, 0(t0)
	addi	t1, t1, 1000
	li	t0, CLINT_MTIMECMP
	sd	t1, 0(t0)
	li	t0, MIP_MTIP
	csrs	mie, t0
	csrsi	mstatus, MSTATUS_MIE
spin8:	beqz	s0, spin8
	csrci	mstatus, MSTATUS_MIE
	CHECK_IMM s0, 1, 8
	INSTALL_M_DEFAULT
	PASS

	.balign 4
routine:
	addi	a0, zero, 1
	ret

/* Reads minstret first, records mepc, skips the (4-byte) faulting instruction. */
count_handler:
	csrr	s6, minstret
	csrr	s9, mepc
	addi	s11, s11, 1
	addi	t0, s9, 4
	csrw	mepc, t0
	mret

timer_handler:
	li	t0, -1
	li	t1, CLINT_MTIMECMP
	sd	t0, 0(t1)                        /* no more timer interrupts */
	li	s0, 1
	mret
	.option pop
