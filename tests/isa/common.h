/*
 * common.h - shared scaffolding for the wisp bare-metal ISA tests.
 *
 * Each test is one assembly program that starts at _start in M-mode at 0x80000000 and
 * reports through the HTIF "tohost" convention:
 *     tohost = 1            pass
 *     tohost = (N << 1) | 1 failure number N (emulator / QEMU exit status N)
 *
 * Register conventions (tests must not use these for their own values):
 *     gp  (x3)   test number of the failing check (set only on failure)
 *     t6  (x31)  scratch for expected values in CHECK_* macros
 *     s7..s11    written by the recording trap handlers (__m_record / __s_record):
 *                s7 = [m|s]status at trap entry, s8 = cause, s9 = epc,
 *                s10 = tval, s11 = number of traps taken (incremented)
 *
 * Failure numbers 1..199 are the tests' own checks (keep them below 200 so the exit status,
 * which is only 8 bits, identifies them). An unexpected trap taken by the default handler
 * fails with 200 + mcause for exceptions and 240 + cause for interrupts.
 *
 * Everything here is plain GNU as (macros) plus cpp constants, included once per test.
 *
 * -DQEMU builds the variant used to cross-check against qemu-system-riscv64 -machine spike
 * (QEMU 7.2): it skips the few checks where QEMU itself lacks a feature or deviates from the
 * spec (each test's header says which). Without it, the tests target wisp.
 * tests/isa/run.sh builds and runs everything without CMake.
 */
#ifndef WISP_ISA_COMMON_H
#define WISP_ISA_COMMON_H

#define TESTNUM gp

/* CSR bit constants. */
#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_MPP_S (1 << 11)
#define MSTATUS_MPP_M (3 << 11)
#define MSTATUS_FS    (3 << 13)
#define MSTATUS_FS_INITIAL (1 << 13)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)

#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define MIP_SSIP (1 << IRQ_SSI)
#define MIP_MSIP (1 << IRQ_MSI)
#define MIP_STIP (1 << IRQ_STI)
#define MIP_MTIP (1 << IRQ_MTI)

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS     1
#define CAUSE_ILLEGAL          2
#define CAUSE_BREAKPOINT       3
#define CAUSE_MISALIGNED_LOAD  4
#define CAUSE_LOAD_ACCESS      5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS     7
#define CAUSE_ECALL_U          8
#define CAUSE_ECALL_S          9
#define CAUSE_ECALL_M          11
#define CAUSE_FETCH_PAGE       12
#define CAUSE_LOAD_PAGE        13
#define CAUSE_STORE_PAGE       15

/* CLINT (same layout on wisp and on QEMU's spike machine). */
#define CLINT_BASE     0x2000000
#define CLINT_MSIP     0x2000000
#define CLINT_MTIMECMP 0x2004000
#define CLINT_MTIME    0x200bff8

/* satp modes */
#define SATP_SV39 (8 << 60)
#define SATP_SV48 (9 << 60)

/* PTE bits */
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)

/* ------------------------------------------------------------------------------------- */
/* Checking and reporting                                                                 */
/* ------------------------------------------------------------------------------------- */

/* Record failure number n and report it. */
.macro FAIL n
	li	TESTNUM, \n
	j	__fail
.endm

/* Report success. */
.macro PASS
	j	__pass
.endm

/* Fail with n unless register ra == register rb. */
.macro CHECK_EQ ra, rb, n
	beq	\ra, \rb, .Lcheck_ok\@
	FAIL	\n
.Lcheck_ok\@:
.endm

/* Fail with n if register ra == register rb. */
.macro CHECK_NE ra, rb, n
	bne	\ra, \rb, .Lcheck_ok\@
	FAIL	\n
.Lcheck_ok\@:
.endm

/* Fail with n unless register r holds the 64-bit constant imm (clobbers t6). */
.macro CHECK_IMM r, imm, n
	li	t6, \imm
	CHECK_EQ \r, t6, \n
.endm

/* Fail with n if register r holds the constant imm (clobbers t6). */
.macro CHECK_NOT_IMM r, imm, n
	li	t6, \imm
	CHECK_NE \r, t6, \n
.endm

/* Fail with n unless register r is zero / nonzero. */
.macro CHECK_ZERO r, n
	CHECK_EQ \r, zero, \n
.endm
.macro CHECK_NONZERO r, n
	CHECK_NE \r, zero, \n
.endm

/* Fail with n unless the bits in mask are all set / all clear in r (clobbers t6). */
.macro CHECK_BITS_SET r, mask, n
	li	t6, \mask
	not	t6, t6
	or	t6, t6, \r        /* all ones iff every mask bit is set in r */
	not	t6, t6
	beqz	t6, .Lbits_ok\@
	FAIL	\n
.Lbits_ok\@:
.endm
.macro CHECK_BITS_CLEAR r, mask, n
	li	t6, \mask
	and	t6, t6, \r
	beqz	t6, .Lbits_ok\@
	FAIL	\n
.Lbits_ok\@:
.endm

/* Fail with n unless the recording handler saw exactly `count` traps since TRAP_RESET. */
.macro CHECK_TRAPS count, n
	CHECK_IMM s11, \count, \n
.endm

/* Fail with n unless the last recorded cause is c (clobbers t6). */
.macro CHECK_CAUSE c, n
	CHECK_IMM s8, \c, \n
.endm

/* Forget previously recorded traps. */
.macro TRAP_RESET
	li	s7, 0
	li	s8, -1
	li	s9, 0
	li	s10, 0
	li	s11, 0
.endm

/* ------------------------------------------------------------------------------------- */
/* Trap vectors and privilege changes                                                     */
/* ------------------------------------------------------------------------------------- */

.macro SET_MTVEC label
	la	t0, \label
	csrw	mtvec, t0
.endm

.macro SET_STVEC label
	la	t0, \label
	csrw	stvec, t0
.endm

/* Use the recording handler for M-mode traps. */
.macro INSTALL_M_RECORD
	SET_MTVEC __m_record
.endm
.macro INSTALL_S_RECORD
	SET_STVEC __s_record
.endm
/* Back to the default handler (every trap is a failure). */
.macro INSTALL_M_DEFAULT
	SET_MTVEC __default_trap
.endm

/*
 * Drop from M-mode to S- or U-mode at `label` with mret (clobbers t0). The code there
 * returns to M-mode with `ecall` when __m_record is installed: the recording handler
 * turns an ecall from S/U into a return to M-mode right after the ecall.
 */
.macro GOTO_MODE mpp, label
	li	t0, MSTATUS_MPP
	csrc	mstatus, t0
	li	t0, (\mpp) << 11
	csrs	mstatus, t0
	la	t0, \label
	csrw	mepc, t0
	mret
.endm
.macro GOTO_S label
	GOTO_MODE 1, \label
.endm
.macro GOTO_U label
	GOTO_MODE 0, \label
.endm

/* Enable the FPU (mstatus.FS = Initial). */
.macro FPU_ON
	li	t0, MSTATUS_FS_INITIAL
	csrs	mstatus, t0
.endm

/* reg = leaf/non-leaf PTE pointing at the page containing label, with flags. */
.macro MAKE_PTE reg, label, flags
	la	\reg, \label
	srli	\reg, \reg, 12
	slli	\reg, \reg, 10
	ori	\reg, \reg, \flags
.endm

/* table[index] = PTE(label, flags) (clobbers t1, t2) */
.macro SET_PTE table, index, label, flags
	MAKE_PTE t1, \label, \flags
	la	t2, \table
	sd	t1, (\index * 8)(t2)
.endm

/* ------------------------------------------------------------------------------------- */
/* Program start                                                                          */
/* ------------------------------------------------------------------------------------- */

/*
 * TEST_START: entry point. Leaves us in M-mode with a default trap handler, sp set, all
 * interrupts masked, no delegation, no translation, and PMP entry 0 opened to all of memory
 * (QEMU denies S/U accesses when no PMP entry is set; on a hart without PMP the writes trap
 * and are skipped). Tests use 32-bit encodings only unless they say `.option rvc`.
 */
.macro TEST_START
	.section .text.init, "ax", @progbits
	.option norvc
	.globl	_start
_start:
	la	t0, .Lpmp_done
	csrw	mtvec, t0
	li	t0, -1
	csrw	pmpaddr0, t0
	li	t0, 0x1f            /* NAPOT, R W X */
	csrw	pmpcfg0, t0
	.balign	4
.Lpmp_done:
	la	t0, __default_trap
	csrw	mtvec, t0
	csrw	mie, zero
	csrw	mip, zero
	csrw	medeleg, zero
	csrw	mideleg, zero
	csrw	satp, zero
	li	t0, MSTATUS_MIE | MSTATUS_SIE | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR
	csrc	mstatus, t0
	la	sp, __stack_top
	li	TESTNUM, 0
	TRAP_RESET
.endm

/* ------------------------------------------------------------------------------------- */
/* Shared routines and data (emitted once, in .text / .data / .tohost)                    */
/* ------------------------------------------------------------------------------------- */

	.section .text, "ax", @progbits
	.option push
	.option norvc

	.balign 4
__pass:
	li	t0, 1
	la	t1, tohost
	sd	t0, 0(t1)
1:	j	1b

	.balign 4
__fail:
	slli	TESTNUM, TESTNUM, 1
	ori	TESTNUM, TESTNUM, 1
	la	t1, tohost
	sd	TESTNUM, 0(t1)
1:	j	1b

/* Any trap not expected by the test: fail with 200 + cause (240 + cause for interrupts). */
	.balign 4
__default_trap:
	csrr	TESTNUM, mcause
	bltz	TESTNUM, 1f
	andi	TESTNUM, TESTNUM, 31
	addi	TESTNUM, TESTNUM, 200
	j	__fail
1:	andi	TESTNUM, TESTNUM, 15
	addi	TESTNUM, TESTNUM, 240
	j	__fail

/*
 * Recording M-mode handler: saves mstatus/mcause/mepc/mtval into s7..s10, counts in s11.
 *  - ecall from U or S (cause 8/9) and ebreak from any mode (cause 3): return to M-mode
 *    at the instruction after it (mstatus.MPP = M). This is how tests running code in S/U
 *    get back to M-mode.
 *  - fetch faults (cause 0, 1, 12): the faulting pc is not executable, so resume at ra
 *    (tests reach such targets with `jalr ra, ...`).
 *  - any other exception: skip the faulting instruction (2 or 4 bytes, read from mepc)
 *    and return to the mode that trapped.
 *  - machine software interrupt: clears CLINT msip; machine timer interrupt: sets mtimecmp
 *    to the maximum; then returns to the interrupted code. Other interrupts fail (240+n).
 *    (t0 is preserved through mscratch.)
 */
	.balign 4
__m_record:
	csrr	s7, mstatus
	csrr	s8, mcause
	csrr	s9, mepc
	csrr	s10, mtval
	addi	s11, s11, 1
	bltz	s8, 7f
	beqz	s8, 6f
	li	s10, CAUSE_FETCH_ACCESS
	beq	s8, s10, 6f
	li	s10, CAUSE_FETCH_PAGE
	beq	s8, s10, 6f
	/* next pc: 4 bytes if the instruction's low two bits are 11, else 2 */
	lhu	s10, 0(s9)
	andi	s10, s10, 3
	addi	s10, s10, -3
	beqz	s10, 1f
	addi	s10, s9, 2
	j	2f
1:	addi	s10, s9, 4
2:	csrw	mepc, s10
	li	s10, CAUSE_ECALL_U
	beq	s8, s10, 5f
	li	s10, CAUSE_ECALL_S
	beq	s8, s10, 5f
	li	s10, CAUSE_BREAKPOINT
	beq	s8, s10, 5f
	csrr	s10, mtval
	mret
5:	/* continue in M-mode */
	li	s10, MSTATUS_MPP
	csrs	mstatus, s10
	csrr	s10, mtval
	mret
6:	/* fetch fault: return to ra */
	csrw	mepc, ra
	csrr	s10, mtval
	mret
7:	/* interrupts */
	slli	s10, s8, 1
	srli	s10, s10, 1
	addi	s10, s10, -IRQ_MSI
	bnez	s10, 8f
	li	s10, CLINT_MSIP
	sw	zero, 0(s10)
	li	s10, 0
	mret
8:	addi	s10, s10, IRQ_MSI - IRQ_MTI
	bnez	s10, 9f
	csrw	mscratch, t0
	li	t0, -1
	li	s10, CLINT_MTIMECMP
	sd	t0, 0(s10)
	csrr	t0, mscratch
	li	s10, 0
	mret
9:	j	__default_trap

/*
 * Recording S-mode handler: same register convention with the S-mode CSRs (s7 = sstatus,
 * s8 = scause, s9 = sepc, s10 = stval, s11 counts). Skips the faulting instruction, or
 * returns to ra for fetch faults. Interrupts: clears sie (all sources) and returns.
 */
	.balign 4
__s_record:
	csrr	s7, sstatus
	csrr	s8, scause
	csrr	s9, sepc
	csrr	s10, stval
	addi	s11, s11, 1
	bltz	s8, 7f
	beqz	s8, 6f
	li	s10, CAUSE_FETCH_ACCESS
	beq	s8, s10, 6f
	li	s10, CAUSE_FETCH_PAGE
	beq	s8, s10, 6f
	lhu	s10, 0(s9)
	andi	s10, s10, 3
	addi	s10, s10, -3
	beqz	s10, 1f
	addi	s10, s9, 2
	j	2f
1:	addi	s10, s9, 4
2:	csrw	sepc, s10
	csrr	s10, stval
	sret
6:	csrw	sepc, ra
	csrr	s10, stval
	sret
7:	csrw	sie, zero
	sret

	.option pop

	.section .bss, "aw", @nobits
	.balign	16
__stack_bottom:
	.skip	4096
__stack_top:

	.section .tohost, "aw", @progbits
	.balign	64
	.globl	tohost
	.type	tohost, @object
	.size	tohost, 8
tohost:
	.dword	0
	.balign	64
	.globl	fromhost
	.type	fromhost, @object
	.size	fromhost, 8
fromhost:
	.dword	0

	.text

#endif
