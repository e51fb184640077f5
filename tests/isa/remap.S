/*
 * remap.S - the same code at other virtual addresses, other code at the same virtual address: what a
 * translator keyed by physical address (and by the virtual pc it translated at) must get right.
 * S-mode with Sv39; code pages hold `li a0, N; ret` (a returning routine) and are called with jalr.
 *   1  VA(0) -> page_a: returns 1
 *   2  VA(0) remapped to page_b (sfence.vma): returns 2
 *   3  VA(1) -> page_a too: the same physical code at another address returns 1; its auipc sees VA(1)
 *   4  page_a rewritten through a writable alias VA(2) (no FENCE.I): VA(1) runs the new code
 *   5  VA(0) back to page_a: the rewritten code there too
 */
#include "common.h"

#define VA_BASE 0x40000000
#define VA(i)   (VA_BASE + (i) * 0x1000)
#define ADDI(rd, rs, imm) (((imm) << 20) | ((rs) << 15) | ((rd) << 7) | 0x13)

/* Call the routine at virtual address va from S-mode; a0 = its result. */
.macro CALL_VA va
	li	t3, \va
	jalr	ra, 0(t3)
.endm

TEST_START
	INSTALL_M_RECORD
	li	t1, (0x80000000 >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
	la	t2, pt_root
	sd	t1, 2 * 8(t2)                    /* gigapage identity map for the test itself */
	SET_PTE pt_root, 1, pt_l1, PTE_V
	SET_PTE pt_l1, 0, pt_l0, PTE_V
	SET_PTE pt_l0, 0, page_a, PTE_V | PTE_R | PTE_X | PTE_A
	SET_PTE pt_l0, 1, page_a, PTE_V | PTE_R | PTE_X | PTE_A
	SET_PTE pt_l0, 2, page_a, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	la	t1, pt_root
	srli	t1, t1, 12
	li	t2, SATP_SV39
	or	t1, t1, t2
	csrw	satp, t1
	sfence.vma

	GOTO_S	1f
1:	CALL_VA	VA(0)
	mv	s1, a0
	mv	s2, a1
	ecall
	CHECK_IMM s1, 1, 1
	CHECK_IMM s2, VA(0), 1                   /* auipc in the routine */

	SET_PTE pt_l0, 0, page_b, PTE_V | PTE_R | PTE_X | PTE_A
	GOTO_S	2f
2:	sfence.vma
	CALL_VA	VA(0)
	mv	s1, a0
	ecall
	CHECK_IMM s1, 2, 2

	GOTO_S	3f
3:	CALL_VA	VA(1)
	mv	s1, a0
	mv	s2, a1
	ecall
	CHECK_IMM s1, 1, 3
	CHECK_IMM s2, VA(1), 3

	GOTO_S	4f
4:	li	t0, VA(2)
	li	t1, ADDI(10, 0, 5)
	sw	t1, 0(t0)                        /* page_a now returns 5 */
	CALL_VA	VA(1)
	mv	s1, a0
	ecall
	CHECK_IMM s1, 5, 4

	SET_PTE pt_l0, 0, page_a, PTE_V | PTE_R | PTE_X | PTE_A
	GOTO_S	5f
5:	sfence.vma
	CALL_VA	VA(0)
	mv	s1, a0
	ecall
	CHECK_IMM s1, 5, 5

	csrw	satp, zero
	sfence.vma
	INSTALL_M_DEFAULT
	PASS

	.text
	.option push
	.option norvc
	.balign 4096
page_a:
	addi	a0, zero, 1
	auipc	a1, 0
	addi	a1, a1, -4
	ret
	.balign 4096
page_b:
	addi	a0, zero, 2
	auipc	a1, 0
	addi	a1, a1, -4
	ret
	.balign 4096
	.option pop

	.data
	.balign 4096
pt_root:	.skip 4096
pt_l1:		.skip 4096
pt_l0:		.skip 4096
