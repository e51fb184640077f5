/*
 * trigger.S - the debug spec's trigger CSRs (Sdtrig) on a hart with no triggers.
 *
 * wisp implements no trigger, and says so the way the debug spec's enumeration expects
 * (Sdtrig, "Enumeration", and the tselect/tdata1/tinfo register descriptions):
 *  - tselect is accessible from M-mode, holds only 0: writing another index reads back a
 *    different value (so software learns the index does not exist),
 *  - tdata1 reads 0 at tselect 0: type 0 = "there is no trigger at this tselect", with dmode
 *    and data hard-wired to 0; writing an mcontrol (type 2) breakpoint is ignored, so nothing
 *    is armed and no breakpoint exception is ever taken,
 *  - tdata2 and tdata3 read 0 and ignore writes; tinfo reads 1 ("the selected trigger does
 *    not exist") and its read-only fields ignore writes,
 *  - like every M-level CSR, they are illegal from S-mode.
 * Checks 10..20 follow riscv-tests' rv64mi breakpoint test, which takes these answers as
 * "no breakpoints: skip".
 * Not built for QEMU: QEMU 7.2 implements two mcontrol triggers.
 */
#include "common.h"

#define TDATA1_TYPE_SHIFT 60
#define MCONTROL_M (1 << 6)
#define MCONTROL_X (1 << 2)
#define MCONTROL_R (1 << 0)
#define MCONTROL_W (1 << 1)

TEST_START
	INSTALL_M_RECORD

	/* ---------------- enumeration ---------------- */
	TRAP_RESET
	csrw	tselect, zero
	csrr	a0, tselect
	CHECK_TRAPS 0, 1
	CHECK_ZERO a0, 2
	csrr	a0, tinfo
	CHECK_TRAPS 0, 3
	CHECK_IMM a0, 1, 4
	csrr	a0, tdata1
	CHECK_TRAPS 0, 5
	srli	a1, a0, TDATA1_TYPE_SHIFT
	CHECK_ZERO a1, 6
	CHECK_ZERO a0, 7

	/* ---------------- riscv-tests' breakpoint: tselect of a trigger that is not there ---------------- */
	li	a0, 1 << 63
	csrw	tselect, a0
	csrr	a1, tselect
	CHECK_TRAPS 0, 10
	CHECK_NE a0, a1, 11
	li	a0, 1
	csrw	tselect, a0
	csrr	a1, tselect
	CHECK_NE a0, a1, 12
	/* tselect 0: nothing armed by writing an execute breakpoint */
	csrw	tselect, zero
	la	a2, 1f
	csrw	tdata2, a2
	li	a0, (2 << TDATA1_TYPE_SHIFT) | MCONTROL_M | MCONTROL_X
	csrw	tdata1, a0
	csrr	a1, tdata1
	CHECK_ZERO a1, 13
	csrr	a1, tdata2
	CHECK_ZERO a1, 14
	li	a0, MCONTROL_M | MCONTROL_R | MCONTROL_W
	csrw	tdata1, a0
	csrr	a1, tdata1
	CHECK_ZERO a1, 15
1:	la	a2, data
	lw	a3, 0(a2)
	sw	a3, 0(a2)
	CHECK_TRAPS 0, 16
	li	a0, -1
	csrw	tdata3, a0
	csrr	a1, tdata3
	CHECK_ZERO a1, 17
	csrs	tdata1, a0
	csrr	a1, tdata1
	CHECK_ZERO a1, 18
	csrw	tinfo, a0                /* read-only fields: the write is ignored */
	csrr	a1, tinfo
	CHECK_IMM a1, 1, 19
	CHECK_TRAPS 0, 20

	/* ---------------- M-level: illegal from S ---------------- */
	TRAP_RESET
	GOTO_S 2f
2:	csrr	a0, tselect
	csrr	a0, tdata1
	csrw	tdata2, zero
	csrr	a0, tinfo
	ecall
	CHECK_TRAPS 5, 30
	CHECK_CAUSE CAUSE_ECALL_S, 31

	PASS

	.data
	.balign 8
data:	.word 0x1234
