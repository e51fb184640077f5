/*
 * vm.S - Sv39 and Sv48 address translation.
 * Page tables are built in memory by M-mode; the tests run in S-mode (and U-mode) with
 * satp.MODE = 8 (Sv39), then 9 (Sv48). The code itself runs from a 1 GiB identity
 * gigapage at 0x80000000 (R/W/X). Traps go to M-mode (__m_record) unless delegated; S code
 * copies the recorded cause/tval into a2/a3 (and s11 into a4) before ecall-ing back to M.
 *
 * Sv39 virtual map (4 KiB pages in one L0 table at VA 0x40000000 + i * 4K):
 *   0 -> pg_data  V R W          (A/D clear: hardware sets them)
 *   1 -> pg_ro    V R A          (store faults)
 *   2 -> pg_user  V R W U A D    (S access needs SUM)
 *   3 -> invalid                 (load/store page faults)
 *   4 -> code_page V R W A D     (no X: fetch faults)
 *   5 -> pg_p1 / pg_p2           (switched to check sfence.vma)
 *   6 -> pg_ad    V R W          (A/D update order)
 *   7 -> code_page V R X A       (executable)
 *   8 -> pg_m2, 9 -> pg_m1       (physically out of order: misaligned access across them)
 *  10 -> pg_data  V W A D        (W without R: reserved, faults)
 *  11 -> pg_data  V X A          (execute-only: loads need MXR)
 *  12 -> code_page V R X U A     (user code: S may not execute it)
 * VA 0xC0000000: 2 MiB megapage -> PA 0x80200000; VA 0xC0200000: misaligned megapage.
 * Sv48: VA 0x8000000000 (beyond Sv39's range) -> pg_sv48 through a 4-level walk.
 */
#include "common.h"

#define VA_BASE 0x40000000
#define VA(i)   (VA_BASE + (i) * 0x1000)

/* Copy what the last trap recorded into a2 (cause), a3 (tval), a4 (count), then M-mode. */
.macro BACK_TO_M
	mv	a2, s8
	mv	a3, s10
	mv	a4, s11
	ecall
.endm

/* Load a 64-bit constant into memory at label + off (clobbers t1, t2). */
.macro STORE_CONST label, off, value
	li	t1, \value
	la	t2, \label + \off
	sd	t1, 0(t2)
.endm

/* a0 = PTE at table[index] */
.macro GET_PTE table, index
	la	t1, \table
	ld	a0, (\index * 8)(t1)
.endm

TEST_START
	INSTALL_M_RECORD

	/* ---------------- page data ---------------- */
	STORE_CONST pg_data, 0, 0x1122334455667788
	STORE_CONST pg_ro, 0, 0xabcd
	STORE_CONST pg_user, 0, 0x5555
	STORE_CONST pg_p1, 0, 0x1111
	STORE_CONST pg_p2, 0, 0x2222
	STORE_CONST pg_ad, 0, 0xadad
	STORE_CONST pg_m2, 4088, 0x0807060504030201
	STORE_CONST pg_m1, 0, 0x100f0e0d0c0b0a09
	STORE_CONST pg_sv48, 0, 0x4848
	li	t1, 0x80200000 + 0x3008          /* inside the megapage */
	li	t2, 0x3e6a
	sd	t2, 0(t1)

	/* ---------------- Sv39 tables ---------------- */
	li	t1, (0x80000000 >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
	la	t2, pt_root
	sd	t1, 2 * 8(t2)                    /* gigapage identity map */
	SET_PTE pt_root, 1, pt_l1, PTE_V
	SET_PTE pt_l1, 0, pt_l0, PTE_V
	SET_PTE pt_l0, 0, pg_data, PTE_V | PTE_R | PTE_W
	SET_PTE pt_l0, 1, pg_ro, PTE_V | PTE_R | PTE_A
	SET_PTE pt_l0, 2, pg_user, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
	SET_PTE pt_l0, 4, code_page, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	SET_PTE pt_l0, 5, pg_p1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	SET_PTE pt_l0, 6, pg_ad, PTE_V | PTE_R | PTE_W
	SET_PTE pt_l0, 7, code_page, PTE_V | PTE_R | PTE_X | PTE_A
	SET_PTE pt_l0, 8, pg_m2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	SET_PTE pt_l0, 9, pg_m1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	SET_PTE pt_l0, 10, pg_data, PTE_V | PTE_W | PTE_A | PTE_D
	SET_PTE pt_l0, 11, pg_data, PTE_V | PTE_X | PTE_A
	SET_PTE pt_l0, 12, code_page, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
	SET_PTE pt_root, 3, pt_l1m, PTE_V
	li	t1, (0x80200000 >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	la	t2, pt_l1m
	sd	t1, 0(t2)                        /* 2 MiB megapage at VA 0xC0000000 */
	li	t1, (0x80201000 >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	sd	t1, 8(t2)                        /* misaligned megapage at VA 0xC0200000 */

	la	t1, pt_root
	srli	t1, t1, 12
	li	t2, SATP_SV39
	or	s0, t1, t2
	csrw	satp, s0
	sfence.vma
	csrr	a0, satp
	CHECK_EQ a0, s0, 1

	/* ---------------- basic translation, A/D set by hardware ---------------- */
	TRAP_RESET
	GOTO_S	1f
1:	li	t1, VA(0)
	ld	a5, 0(t1)
	li	t2, 0x600d
	sd	t2, 8(t1)
	BACK_TO_M
	CHECK_IMM a4, 0, 2                       /* no faults */
	CHECK_IMM a5, 0x1122334455667788, 3
	la	t1, pg_data
	ld	a0, 8(t1)
	CHECK_IMM a0, 0x600d, 4                  /* the store reached the physical page */
	GET_PTE pt_l0, 0
	CHECK_BITS_SET a0, PTE_A | PTE_D, 5

	TRAP_RESET
	GOTO_S	2f
2:	li	t1, VA(6)
	ld	a5, 0(t1)                        /* read only: A set, D stays clear */
	BACK_TO_M
	CHECK_IMM a4, 0, 6
	CHECK_IMM a5, 0xadad, 7
	GET_PTE pt_l0, 6
	CHECK_BITS_SET a0, PTE_A, 8
	CHECK_BITS_CLEAR a0, PTE_D, 9
	TRAP_RESET
	GOTO_S	3f
3:	li	t1, VA(6)
	sd	zero, 0(t1)
	BACK_TO_M
	CHECK_IMM a4, 0, 10
	GET_PTE pt_l0, 6
	CHECK_BITS_SET a0, PTE_A | PTE_D, 11

	/* ---------------- permission faults ---------------- */
	TRAP_RESET
	GOTO_S	4f
4:	li	t1, VA(1)
	ld	a5, 0(t1)                        /* read-only page: load fine */
	sd	zero, 16(t1)                     /* store page fault */
	BACK_TO_M
	CHECK_IMM a4, 1, 12
	CHECK_IMM a2, CAUSE_STORE_PAGE, 13
	CHECK_IMM a3, VA(1) + 16, 14             /* mtval = faulting address */
	CHECK_IMM a5, 0xabcd, 15

	TRAP_RESET
	GOTO_S	5f
5:	li	t1, VA(3)
	li	a5, 0x77
	ld	a5, 8(t1)                        /* unmapped: load page fault */
	BACK_TO_M
	CHECK_IMM a4, 1, 16
	CHECK_IMM a2, CAUSE_LOAD_PAGE, 17
	CHECK_IMM a3, VA(3) + 8, 18
	CHECK_IMM a5, 0x77, 19                   /* rd not written */
	TRAP_RESET
	GOTO_S	6f
6:	li	t1, VA(3)
	sw	zero, 4(t1)
	BACK_TO_M
	CHECK_IMM a2, CAUSE_STORE_PAGE, 20
	CHECK_IMM a3, VA(3) + 4, 21

	TRAP_RESET
	GOTO_S	7f
7:	li	t1, 0x0000008000000000           /* not sign-extended from bit 38 */
	ld	a5, 0(t1)
	BACK_TO_M
	CHECK_IMM a4, 1, 22
	CHECK_IMM a2, CAUSE_LOAD_PAGE, 23

	/* W without R is reserved: faults for loads and stores */
	TRAP_RESET
	GOTO_S	8f
8:	li	t1, VA(10)
	ld	a5, 0(t1)
	BACK_TO_M
	CHECK_IMM a2, CAUSE_LOAD_PAGE, 24
	TRAP_RESET
	GOTO_S	9f
9:	li	t1, VA(10)
	sd	zero, 0(t1)
	BACK_TO_M
	CHECK_IMM a2, CAUSE_STORE_PAGE, 25

	/* execute-only page: loads fault unless MXR */
	TRAP_RESET
	GOTO_S	10f
10:	li	t1, VA(11)
	ld	a5, 0(t1)
	BACK_TO_M
	CHECK_IMM a4, 1, 26
	CHECK_IMM a2, CAUSE_LOAD_PAGE, 27
	TRAP_RESET
	GOTO_S	11f
11:	li	t0, MSTATUS_MXR
	csrs	sstatus, t0
	li	t1, VA(11)
	ld	a5, 0(t1)
	csrc	sstatus, t0
	BACK_TO_M
	CHECK_IMM a4, 0, 28
	CHECK_IMM a5, 0x1122334455667788, 29

	/* ---------------- U pages and SUM ---------------- */
	TRAP_RESET
	GOTO_S	12f
12:	li	t1, VA(2)
	ld	a5, 0(t1)                        /* SUM = 0: fault */
	BACK_TO_M
	CHECK_IMM a4, 1, 30
	CHECK_IMM a2, CAUSE_LOAD_PAGE, 31
	CHECK_IMM a3, VA(2), 32
	TRAP_RESET
	GOTO_S	13f
13:	li	t0, MSTATUS_SUM
	csrs	sstatus, t0
	li	t1, VA(2)
	ld	a5, 0(t1)                        /* SUM = 1: allowed */
	sd	a5, 8(t1)
	csrc	sstatus, t0
	BACK_TO_M
	CHECK_IMM a4, 0, 33
	CHECK_IMM a5, 0x5555, 34

	/* U-mode: runs from the gigapage made user-accessible for the occasion */
	li	t1, (0x80000000 >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
	la	t2, pt_root
	sd	t1, 2 * 8(t2)
	sfence.vma
	TRAP_RESET
	GOTO_U	14f
14:	li	t1, VA(2)
	ld	a5, 0(t1)                        /* U page from U: fine */
	li	t1, VA(0)
	ld	a6, 0(t1)                        /* S page from U: fault */
	BACK_TO_M
	CHECK_IMM a4, 1, 35
	CHECK_IMM a2, CAUSE_LOAD_PAGE, 36
	CHECK_IMM a5, 0x5555, 37
	li	t1, (0x80000000 >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
	la	t2, pt_root
	sd	t1, 2 * 8(t2)
	sfence.vma

	/* ---------------- instruction fetch permissions ---------------- */
	TRAP_RESET
	GOTO_S	17f
17:	li	t1, VA(4)
	li	a0, 0
	jalr	ra, 0(t1)                         /* no X: fetch page fault, resumes at ra */
	mv	a5, a0
	li	t1, VA(7)
	jalr	ra, 0(t1)                         /* X: returns with a0 = 42 */
	mv	a6, a0
	BACK_TO_M
	CHECK_IMM a4, 1, 41
	CHECK_IMM a2, CAUSE_FETCH_PAGE, 42
	CHECK_IMM a3, VA(4), 43
	CHECK_IMM a5, 0, 44
	CHECK_IMM a6, 42, 45

	/* S-mode may not execute from a U page, even with SUM = 1 */
	TRAP_RESET
	GOTO_S	24f
24:	li	t0, MSTATUS_SUM
	csrs	sstatus, t0
	li	t1, VA(12)
	li	a0, 0
	jalr	ra, 0(t1)
	mv	a5, a0
	csrc	sstatus, t0
	BACK_TO_M
	CHECK_IMM a4, 1, 38
	CHECK_IMM a2, CAUSE_FETCH_PAGE, 39
	CHECK_IMM a5, 0, 40

	/* ---------------- sfence.vma makes a changed PTE visible ---------------- */
	TRAP_RESET
	GOTO_S	18f
18:	li	t1, VA(5)
	ld	a5, 0(t1)                        /* pg_p1 (now possibly cached) */
	MAKE_PTE t2, pg_p2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	la	t3, pt_l0
	sd	t2, 5 * 8(t3)                    /* S writes the table through the gigapage */
	sfence.vma
	ld	a6, 0(t1)                        /* pg_p2 */
	MAKE_PTE t2, pg_p1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	sd	t2, 5 * 8(t3)
	sfence.vma t1, zero                       /* address-specific flush */
	ld	a7, 0(t1)                        /* pg_p1 again */
	BACK_TO_M
	CHECK_IMM a4, 0, 46
	CHECK_IMM a5, 0x1111, 47
	CHECK_IMM a6, 0x2222, 48
	CHECK_IMM a7, 0x1111, 49

	/* ---------------- superpages ---------------- */
	TRAP_RESET
	GOTO_S	19f
19:	li	t1, 0xC0000000 + 0x3008
	ld	a5, 0(t1)
	li	t1, 0xC0200000
	ld	a6, 0(t1)                        /* misaligned superpage: fault */
	BACK_TO_M
	CHECK_IMM a4, 1, 50
	CHECK_IMM a5, 0x3e6a, 51
	CHECK_IMM a2, CAUSE_LOAD_PAGE, 52

	/* ---------------- misaligned access across two virtual pages ---------------- */
	TRAP_RESET
	GOTO_S	20f
20:	li	t1, VA(8) + 4092
	ld	a5, 0(t1)                        /* 4 bytes from pg_m2, 4 from pg_m1 */
	li	t2, 0xa1a2a3a4a5a6a7a8
	sd	t2, 2(t1)                        /* 2 bytes in pg_m2, 6 in pg_m1 */
	BACK_TO_M
	CHECK_IMM a4, 0, 53
	CHECK_IMM a5, 0x0c0b0a0908070605, 54
	la	t1, pg_m2 + 4088
	ld	a0, 0(t1)
	CHECK_IMM a0, 0xa7a8060504030201, 55
	la	t1, pg_m1
	ld	a0, 0(t1)
	CHECK_IMM a0, 0x100fa1a2a3a4a5a6, 56

	/* ---------------- page faults delegated to S ---------------- */
	INSTALL_S_RECORD
	li	t0, (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE)
	csrw	medeleg, t0
	li	t0, 0x99
	csrw	mtval, t0
	TRAP_RESET
	GOTO_S	21f
21:	li	t1, VA(1)
22:	sd	zero, 24(t1)                     /* -> S handler */
	mv	a5, s9                            /* sepc */
	BACK_TO_M
	CHECK_IMM a4, 1, 57
	CHECK_IMM a2, CAUSE_STORE_PAGE, 58
	CHECK_IMM a3, VA(1) + 24, 59             /* stval */
	la	t1, 22b
	CHECK_EQ a5, t1, 60
	CHECK_CAUSE CAUSE_ECALL_S, 61            /* M only saw the ecall */
	csrr	a0, mtval
	CHECK_ZERO a0, 62
	csrw	medeleg, zero

	/* ---------------- MPRV: M-mode loads translated as S ---------------- */
	TRAP_RESET
	li	t0, MSTATUS_MPP
	csrc	mstatus, t0
	li	t0, MSTATUS_MPP_S | MSTATUS_MPRV
	csrs	mstatus, t0
	li	t1, VA(0)
	ld	a5, 0(t1)
	li	t0, MSTATUS_MPRV
	csrc	mstatus, t0
	CHECK_IMM s11, 0, 63
	CHECK_IMM a5, 0x1122334455667788, 64

	/* ---------------- Sv48 ---------------- */
	csrw	satp, zero
	sfence.vma
	li	t1, (0x80000000 >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
	la	t2, pt48_l2a
	sd	t1, 2 * 8(t2)                    /* gigapage identity map */
	SET_PTE pt48_root, 0, pt48_l2a, PTE_V
	SET_PTE pt48_root, 1, pt48_l2b, PTE_V
	SET_PTE pt48_l2b, 0, pt48_l1b, PTE_V
	SET_PTE pt48_l1b, 0, pt48_l0b, PTE_V
	SET_PTE pt48_l0b, 0, pg_sv48, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	la	t1, pt48_root
	srli	t1, t1, 12
	li	t2, SATP_SV48
	or	s0, t1, t2
	csrw	satp, s0
	sfence.vma
	csrr	a0, satp
	CHECK_EQ a0, s0, 65                      /* Sv48 supported */
	TRAP_RESET
	GOTO_S	23f
23:	li	t1, 0x0000008000000000
	ld	a5, 0(t1)
	li	t1, 0x0000800000000000           /* not sign-extended from bit 47 */
	ld	a6, 0(t1)
	BACK_TO_M
	CHECK_IMM a4, 1, 66
	CHECK_IMM a5, 0x4848, 67
	CHECK_IMM a2, CAUSE_LOAD_PAGE, 68
	GET_PTE pt48_l0b, 0
	CHECK_BITS_SET a0, PTE_A, 69

	csrw	satp, zero
	sfence.vma
	INSTALL_M_DEFAULT
	PASS

/* A page of code: `li a0, 42; ret`, mapped executable at VA(7) and non-executable at VA(4). */
	.text
	.balign 4096
code_page:
	li	a0, 42
	ret
	.balign 4096

	.data
	.balign 4096
pt_root:	.skip 4096
pt_l1:		.skip 4096
pt_l0:		.skip 4096
pt_l1m:		.skip 4096
pt48_root:	.skip 4096
pt48_l2a:	.skip 4096
pt48_l2b:	.skip 4096
pt48_l1b:	.skip 4096
pt48_l0b:	.skip 4096
pg_data:	.skip 4096
pg_ro:		.skip 4096
pg_user:	.skip 4096
pg_p1:		.skip 4096
pg_p2:		.skip 4096
pg_ad:		.skip 4096
pg_m1:		.skip 4096
pg_m2:		.skip 4096
pg_sv48:	.skip 4096
