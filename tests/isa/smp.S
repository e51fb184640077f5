/*
 * smp.S - four harts (run with --cpus 4): all start at _start with a0 = their hart id, as on hardware
 * (and as wisp does for bare-metal programs and firmware).
 *   1  every hart adds 1 to a shared word 20000 times with amoadd.w: the total is exact
 *   2  every hart increments a plain word 5000 times under an LR/SC spinlock: the total is exact
 *   3  every hart adds 1 20000 times with an LR/SC loop (what compilers emit for atomic_fetch_add on
 *      hardware without AMOs): exact
 *   4  an SC succeeds when nobody touched the granule since the LR
 *   5  an SC fails after another hart stored to the granule, even the value it already held (no ABA;
 *      not with -DQEMU: QEMU 7.2 compares values)
 * Hart 0 checks and reports; the others park in WFI.
 */
#include "common.h"

#define NHARTS 4

TEST_START
	csrr	s0, mhartid

	/* 1: amoadd */
	la	t0, amo_count
	li	t1, 20000
	li	t2, 1
1:	amoadd.w zero, t2, (t0)
	addi	t1, t1, -1
	bnez	t1, 1b

	/* 2: spinlock (LR/SC test-and-set) around a plain read-modify-write */
	la	t3, lock
	la	t4, plain_count
	li	t1, 5000
2:	lr.w.aq	t2, (t3)
	bnez	t2, 2b
	li	t5, 1
	sc.w	t2, t5, (t3)
	bnez	t2, 2b
	lw	t5, 0(t4)
	addi	t5, t5, 1
	sw	t5, 0(t4)
	amoswap.w.rl zero, zero, (t3)
	addi	t1, t1, -1
	bnez	t1, 2b

	/* 3: LR/SC increment loop */
	la	t0, lrsc_count
	li	t1, 20000
3:	lr.w	t2, (t0)
	addi	t2, t2, 1
	sc.w	t5, t2, (t0)
	bnez	t5, 3b
	addi	t1, t1, -1
	bnez	t1, 3b

	/* this hart is done */
	la	t0, done
	li	t2, 1
	amoadd.w zero, t2, (t0)
	li	t0, 1
	beq	s0, t0, hart1
	bnez	s0, park

	/* hart 0: wait for everyone, check the totals */
	la	t0, done
4:	lw	t2, 0(t0)
	li	t5, NHARTS
	bne	t2, t5, 4b
	la	t0, amo_count
	lw	t1, 0(t0)
	CHECK_IMM t1, NHARTS * 20000, 1
	la	t0, plain_count
	lw	t1, 0(t0)
	CHECK_IMM t1, NHARTS * 5000, 2
	la	t0, lrsc_count
	lw	t1, 0(t0)
	CHECK_IMM t1, NHARTS * 20000, 3

	/* 4/5: hart 1 takes a reservation on `granule` and tells us (flag1); we store the value the
	 * granule already holds, then tell it (flag2); its SC must fail (result in sc_result). */
	la	t0, flag1
5:	lw	t1, 0(t0)
	beqz	t1, 5b
	la	t0, granule
	lw	t1, 0(t0)
	sw	t1, 0(t0)                        /* same value */
	fence	rw, rw
	la	t0, flag2
	li	t1, 1
	sw	t1, 0(t0)
	la	t0, flag3
6:	lw	t1, 0(t0)
	beqz	t1, 6b
	fence	rw, rw
	la	t0, sc_control
	lw	t1, 0(t0)
	CHECK_IMM t1, 0, 4                       /* the undisturbed SC succeeded */
#ifndef QEMU /* QEMU 7.2's SC compares values: the same value stored in between goes unnoticed */
	la	t0, sc_result
	lw	t1, 0(t0)
	CHECK_NOT_IMM t1, 0, 5                   /* the SC after our store failed */
	la	t0, granule
	lw	t1, 0(t0)
	CHECK_IMM t1, 0x1234, 5                  /* and wrote nothing */
#endif
	PASS

hart1:
	/* 4: an undisturbed LR/SC pair succeeds */
	la	t0, granule
	lr.w	t1, (t0)
	sc.w	t2, t1, (t0)
	la	t0, sc_control
	sw	t2, 0(t0)
	/* 5: LR, let hart 0 store, then SC */
	la	t0, granule
	lr.w	t1, (t0)
	la	t3, flag1
	li	t4, 1
	sw	t4, 0(t3)
	la	t3, flag2
7:	lw	t4, 0(t3)
	beqz	t4, 7b
	li	t1, 0x5678
	sc.w	t2, t1, (t0)
	la	t0, sc_result
	sw	t2, 0(t0)
	fence	rw, rw
	la	t0, flag3
	li	t1, 1
	sw	t1, 0(t0)

park:
	wfi
	j	park

	.data
	.balign 64
amo_count:	.word 0
	.balign 64
lock:		.word 0
plain_count:	.word 0
	.balign 64
lrsc_count:	.word 0
	.balign 64
done:		.word 0
flag1:		.word 0
flag2:		.word 0
flag3:		.word 0
sc_result:	.word 0
sc_control:	.word 1
	.balign 64
granule:	.word 0x1234
