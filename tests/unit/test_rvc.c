/*
 * rvc__expand against hand-derived 32-bit equivalents, one table row per case.
 * The 16-bit words and the 32-bit results were cross-checked with GNU as/objdump (rv64gc).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cpu/rvc.h"
#include "fake_hart.h"

#define FLD(d, a, i) enc_i(OPC_LOADFP, d, 3, a, i)
#define FSD(s, a, i) enc_s(OPC_STOREFP, 3, a, s, i)

struct rvc_case {
	const char *name;
	uint16_t c;
	uint32_t expect;
};

static void check_table(const struct rvc_case *t, size_t n)
{
	unsigned bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t got = rvc__expand(t[i].c);
		if (got != t[i].expect) {
			print_error("%s (0x%04x): expected 0x%08x, got 0x%08x\n", t[i].name, t[i].c, t[i].expect, got);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

#define CHECK(table) check_table(table, sizeof(table) / sizeof(table[0]))

/* Quadrant 0: c.addi4spn and the register-based loads and stores (rd'/rs1'/rs2' = x8..x15). */
static void test_q0(void **state)
{
	(void)state;
	const struct rvc_case t[] = {
		{ "c.addi4spn s0, sp, 16", 0x0800, ADDI(R_S0, R_SP, 16) },
		{ "c.addi4spn a5, sp, 1020", 0x1ffc, ADDI(R_A5, R_SP, 1020) },
		{ "c.addi4spn s1, sp, 4", 0x0044, ADDI(R_S1, R_SP, 4) },
		{ "c.lw a0, 4(a1)", 0x41c8, LW(R_A0, R_A1, 4) },
		{ "c.lw s0, 124(a5)", 0x5fe0, LW(R_S0, R_A5, 124) },
		{ "c.ld a0, 248(a1)", 0x7de8, LD(R_A0, R_A1, 248) },
		{ "c.ld s1, 8(a5)", 0x6784, LD(R_S1, R_A5, 8) },
		{ "c.sw a2, 64(a3)", 0xc2b0, SW(R_A2, R_A3, 64) },
		{ "c.sw s0, 124(s1)", 0xdce0, SW(R_S0, R_S1, 124) },
		{ "c.sd a4, 136(a5)", 0xe7d8, SD(R_A4, R_A5, 136) },
		{ "c.sd s1, 248(s0)", 0xfc64, SD(R_S1, R_S0, 248) },
		{ "c.fld fa0, 8(a1)", 0x2588, FLD(10, R_A1, 8) },
		{ "c.fsd fa1, 248(a2)", 0xbe6c, FSD(11, R_A2, 248) },
	};
	CHECK(t);
}

static void test_q1_imm(void **state)
{
	(void)state;
	const struct rvc_case t[] = {
		{ "c.nop", 0x0001, ADDI(0, 0, 0) },
		{ "c.addi a0, -1", 0x157d, ADDI(R_A0, R_A0, -1) },
		{ "c.addi t0, 31", 0x02fd, ADDI(R_T0, R_T0, 31) },
		{ "c.addi sp, -32", 0x1101, ADDI(R_SP, R_SP, -32) },
		{ "c.addiw a0, -32", 0x3501, ADDIW(R_A0, R_A0, -32) },
		{ "c.addiw a1, 1", 0x2585, ADDIW(R_A1, R_A1, 1) },
		{ "c.li a0, -32", 0x5501, ADDI(R_A0, 0, -32) },
		{ "c.li t6, 31", 0x4ffd, ADDI(R_T6, 0, 31) },
		{ "c.lui a0, 0xfffe0", 0x7501, LUI(R_A0, 0xfffe0000u) },
		{ "c.lui s2, 1", 0x6905, LUI(R_S2, 0x1000u) },
		{ "c.lui t2, 31", 0x63fd, LUI(R_T2, 0x1f000u) },
		{ "c.addi16sp -512", 0x7101, ADDI(R_SP, R_SP, -512) },
		{ "c.addi16sp 496", 0x617d, ADDI(R_SP, R_SP, 496) },
		{ "c.addi16sp 16", 0x6141, ADDI(R_SP, R_SP, 16) },
	};
	CHECK(t);
}

static void test_q1_alu(void **state)
{
	(void)state;
	const struct rvc_case t[] = {
		{ "c.srli a0, 63", 0x917d, SRLI(R_A0, R_A0, 63) },
		{ "c.srli s0, 1", 0x8005, SRLI(R_S0, R_S0, 1) },
		{ "c.srai a1, 32", 0x9581, SRAI(R_A1, R_A1, 32) },
		{ "c.srai a5, 1", 0x8785, SRAI(R_A5, R_A5, 1) },
		{ "c.andi a2, -1", 0x9a7d, ANDI(R_A2, R_A2, -1) },
		{ "c.andi a3, 5", 0x8a95, ANDI(R_A3, R_A3, 5) },
		{ "c.sub s0, s1", 0x8c05, SUB(R_S0, R_S0, R_S1) },
		{ "c.xor a0, a1", 0x8d2d, XOR(R_A0, R_A0, R_A1) },
		{ "c.or a2, a3", 0x8e55, OR(R_A2, R_A2, R_A3) },
		{ "c.and a4, a5", 0x8f7d, AND(R_A4, R_A4, R_A5) },
		{ "c.subw s0, a5", 0x9c1d, SUBW(R_S0, R_S0, R_A5) },
		{ "c.addw a0, a1", 0x9d2d, ADDW(R_A0, R_A0, R_A1) },
	};
	CHECK(t);
}

static void test_q1_jumps_branches(void **state)
{
	(void)state;
	const struct rvc_case t[] = {
		{ "c.j -2048", 0xb001, JAL(0, -2048) },
		{ "c.j +2046", 0xaffd, JAL(0, 2046) },
		{ "c.j -2", 0xbffd, JAL(0, -2) },
		{ "c.j +0x2aa", 0xa46d, JAL(0, 0x2aa) },
		{ "c.beqz a0, -256", 0xd101, BEQ(R_A0, 0, -256) },
		{ "c.bnez s1, -2", 0xfcfd, BNE(R_S1, 0, -2) },
		{ "c.beqz a5, +254", 0xcffd, BEQ(R_A5, 0, 254) },
		{ "c.bnez s0, +0x56", 0xe839, BNE(R_S0, 0, 0x56) },
	};
	CHECK(t);
}

static void test_q2(void **state)
{
	(void)state;
	const struct rvc_case t[] = {
		{ "c.slli a0, 63", 0x157e, SLLI(R_A0, R_A0, 63) },
		{ "c.slli t0, 1", 0x0286, SLLI(R_T0, R_T0, 1) },
		{ "c.lwsp a0, 252(sp)", 0x557e, LW(R_A0, R_SP, 252) },
		{ "c.lwsp ra, 4(sp)", 0x4092, LW(R_RA, R_SP, 4) },
		{ "c.ldsp s0, 504(sp)", 0x747e, LD(R_S0, R_SP, 504) },
		{ "c.ldsp t1, 8(sp)", 0x6322, LD(R_T1, R_SP, 8) },
		{ "c.fldsp fs0, 8(sp)", 0x2422, FLD(8, R_SP, 8) },
		{ "c.fldsp ft0, 504(sp)", 0x307e, FLD(0, R_SP, 504) },
		{ "c.jr ra", 0x8082, JALR(0, R_RA, 0) },
		{ "c.jr t6", 0x8f82, JALR(0, R_T6, 0) },
		{ "c.mv a0, a1", 0x852e, ADD(R_A0, 0, R_A1) },
		{ "c.mv t6, ra", 0x8f86, ADD(R_T6, 0, R_RA) },
		{ "c.ebreak", 0x9002, EBREAK },
		{ "c.jalr t0", 0x9282, JALR(R_RA, R_T0, 0) },
		{ "c.jalr ra", 0x9082, JALR(R_RA, R_RA, 0) },
		{ "c.add a0, a1", 0x952e, ADD(R_A0, R_A0, R_A1) },
		{ "c.add sp, t6", 0x917e, ADD(R_SP, R_SP, R_T6) },
		{ "c.swsp a0, 252(sp)", 0xdfaa, SW(R_A0, R_SP, 252) },
		{ "c.swsp ra, 0(sp)", 0xc006, SW(R_RA, R_SP, 0) },
		{ "c.sdsp s0, 504(sp)", 0xffa2, SD(R_S0, R_SP, 504) },
		{ "c.sdsp t2, 8(sp)", 0xe41e, SD(R_T2, R_SP, 8) },
		{ "c.fsdsp fs1, 8(sp)", 0xa426, FSD(9, R_SP, 8) },
		{ "c.fsdsp ft11, 504(sp)", 0xbffe, FSD(31, R_SP, 504) },
	};
	CHECK(t);
}

/* Reserved and illegal encodings expand to 0 (the caller raises illegal instruction). */
static void test_reserved(void **state)
{
	(void)state;
	const struct rvc_case t[] = {
		{ "all zero", 0x0000, 0 },
		{ "c.addi4spn s1, sp, 0", 0x0004, 0 },
		{ "c.addi4spn a5, sp, 0", 0x001c, 0 },
		{ "c.lui a0, 0", 0x6501, 0 },
		{ "c.addi16sp 0", 0x6101, 0 },
		{ "c.lwsp x0, 0(sp)", 0x4002, 0 },
		{ "c.lwsp x0, 252(sp)", 0x507e, 0 },
		{ "c.ldsp x0, 0(sp)", 0x6002, 0 },
		{ "c.ldsp x0, 504(sp)", 0x707e, 0 },
		{ "c.jr x0", 0x8002, 0 },
		{ "c.addiw x0, 0", 0x2001, 0 },
		{ "c.addiw x0, 1", 0x2005, 0 },
		{ "q0 funct3=100", 0x8000, 0 },
		{ "c.subw/addw funct2=10", 0x9c41, 0 },
		{ "c.subw/addw funct2=11", 0x9c61, 0 },
	};
	CHECK(t);
}

/* Every 16-bit word: nothing must expand into a 32-bit word that looks compressed. */
static void test_expansions_are_32bit(void **state)
{
	(void)state;
	unsigned bad = 0;
	for (uint32_t c = 0; c < 0x10000; c++) {
		if ((c & 3) == 3)
			continue;
		uint32_t e = rvc__expand((uint16_t)c);
		if (e && (e & 3) != 3) {
			if (bad++ < 5)
				print_error("0x%04x expands to 0x%08x\n", c, e);
		}
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_q0),
		cmocka_unit_test(test_q1_imm),
		cmocka_unit_test(test_q1_alu),
		cmocka_unit_test(test_q1_jumps_branches),
		cmocka_unit_test(test_q2),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_expansions_are_32bit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
