/*
 * The interpreter, instruction by instruction: small programs written as instruction words into
 * the fake RAM, run with cpu__run(), then the registers and trap CSRs are checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_hart.h"

#define CODE FAKE_RAM_BASE
#define TRAP (FAKE_RAM_BASE + 0x8000)
#define DATA (FAKE_RAM_BASE + 0x10000)

#define LOAD(h, ...)                                                                                         \
	do {                                                                                                 \
		const uint32_t prog_[] = { __VA_ARGS__ };                                                    \
		fake_hart__load(h, CODE, prog_, sizeof(prog_) / sizeof(prog_[0]));                           \
	} while (0)

/* Compressed encodings, from the RVC chapter of the unprivileged spec. */
static uint16_t c_ci(unsigned f3, unsigned rd, int imm)
{
	unsigned u = (unsigned)imm;
	return (uint16_t)(f3 << 13 | ((u >> 5) & 1) << 12 | rd << 7 | (u & 0x1f) << 2 | 1);
}
#define C_ADDI(rd, imm) c_ci(0, rd, imm)
#define C_LI(rd, imm) c_ci(2, rd, imm)
#define C_MV(rd, rs2) ((uint16_t)(0x8002 | (rd) << 7 | (rs2) << 2))
#define C_JALR(rs1) ((uint16_t)(0x9002 | (rs1) << 7))

static uint16_t C_J(int off)
{
	unsigned u = (unsigned)off;
	return (uint16_t)(0xa001 | ((u >> 11) & 1) << 12 | ((u >> 4) & 1) << 11 | ((u >> 8) & 3) << 9 |
			  ((u >> 10) & 1) << 8 | ((u >> 6) & 1) << 7 | ((u >> 7) & 1) << 6 | ((u >> 1) & 7) << 3 |
			  ((u >> 5) & 1) << 2);
}

static uint16_t c_b(unsigned f3, unsigned rs1, int off)
{
	unsigned u = (unsigned)off;
	return (uint16_t)(f3 << 13 | ((u >> 8) & 1) << 12 | ((u >> 3) & 3) << 10 | (rs1 - 8) << 7 |
			  ((u >> 6) & 3) << 5 | ((u >> 1) & 3) << 3 | ((u >> 5) & 1) << 2 | 1);
}
#define C_BEQZ(rs1, off) c_b(6, rs1, off)
#define C_BNEZ(rs1, off) c_b(7, rs1, off)

static int setup(void **state)
{
	struct fake_hart *h = fake_hart__new();
	if (!h)
		return -1;
	h->cpu->mtvec = TRAP;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	fake_hart__free(*state);
	return 0;
}

static void assert_trap(struct fake_hart *h, uint64_t cause, uint64_t epc, uint64_t tval)
{
	assert_int_equal(h->cpu->priv, PRV_M);
	assert_int_equal(h->cpu->pc, TRAP);
	assert_int_equal(h->cpu->mcause, cause);
	assert_int_equal(h->cpu->mepc, epc);
	assert_int_equal(h->cpu->mtval, tval);
}

static void test_encoder_selfcheck(void **state)
{
	(void)state;
	/* A few words checked against GNU as, so the encoder itself can be trusted. */
	assert_int_equal(ADDI(R_A0, R_A0, -1), 0xfff50513);
	assert_int_equal(SD(R_S1, R_S0, 248), 0x0e943c23);
	assert_int_equal(BEQ(R_A0, R_ZERO, -256), 0xf00500e3);
	assert_int_equal(JAL(R_ZERO, -2048), 0x801ff06f);
	assert_int_equal(LUI(R_T2, 31u << 12), 0x0001f3b7);
	assert_int_equal(SRAI(R_A1, R_A1, 32), 0x4205d593);
	assert_int_equal(C_LI(R_A0, -32), 0x5501);
	assert_int_equal(C_ADDI(R_A0, -1), 0x157d);
	assert_int_equal(C_MV(R_A0, R_A1), 0x852e);
	assert_int_equal(C_J(-2048), 0xb001);
	assert_int_equal(C_J(0x2aa), 0xa46d);
	assert_int_equal(C_BEQZ(R_A0, -256), 0xd101);
	assert_int_equal(C_BNEZ(R_S0, 0x56), 0xe839);
	assert_int_equal(C_JALR(R_T0), 0x9282);
}

static void test_alu_reg_imm(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[5] = 100;
	x[6] = (uint64_t)-7;
	x[7] = ~0ull;
	LOAD(h, ADD(10, 5, 6), SUB(11, 6, 5), SLT(12, 6, 5), SLTU(13, 6, 5), XOR(14, 5, 7), OR(15, 5, 6),
	     AND(16, 5, 6), ADDI(17, 5, -2048), SLTI(18, 6, -6), SLTIU(19, 5, -1), XORI(20, 5, -1),
	     ORI(21, 0, 0x7ff), ANDI(22, 7, 0xf0), ADDI(23, 6, 0), SLTIU(24, 0, 1), SLTI(25, 5, 100));
	assert_int_equal(fake_hart__run(h, 16), 16);
	assert_int_equal(h->why, RV_EXIT_BUDGET);
	assert_int_equal(h->cpu->pc, CODE + 64);
	assert_int_equal(x[10], 93);
	assert_int_equal(x[11], (uint64_t)-107);
	assert_int_equal(x[12], 1);
	assert_int_equal(x[13], 0);
	assert_int_equal(x[14], ~100ull);
	assert_int_equal(x[15], (uint64_t)-3);
	assert_int_equal(x[16], 96);
	assert_int_equal(x[17], (uint64_t)-1948);
	assert_int_equal(x[18], 1);
	assert_int_equal(x[19], 1);
	assert_int_equal(x[20], ~100ull);
	assert_int_equal(x[21], 0x7ff);
	assert_int_equal(x[22], 0xf0);
	assert_int_equal(x[23], (uint64_t)-7);
	assert_int_equal(x[24], 1);
	assert_int_equal(x[25], 0);
}

static void test_word_ops_sign_extend(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[5] = 0x7fffffff;
	x[6] = 1;
	x[7] = 0xdeadbeef00000005ull; /* upper half must be ignored */
	x[28] = 0x80000000;
	LOAD(h, ADDW(10, 5, 6), SUBW(11, 0, 6), ADDIW(12, 7, 3), ADDIW(13, 5, 1), SLLIW(14, 6, 31),
	     SRLIW(15, 28, 4), SRAIW(16, 28, 4), SLLW(17, 6, 7), SRLW(18, 28, 6), SRAW(19, 28, 6),
	     ADDIW(20, 28, 0), SRLIW(21, 28, 0), SUBW(22, 28, 6));
	assert_int_equal(fake_hart__run(h, 13), 13);
	assert_int_equal(x[10], 0xffffffff80000000ull);
	assert_int_equal(x[11], ~0ull);
	assert_int_equal(x[12], 8);
	assert_int_equal(x[13], 0xffffffff80000000ull);
	assert_int_equal(x[14], 0xffffffff80000000ull);
	assert_int_equal(x[15], 0x08000000);
	assert_int_equal(x[16], 0xfffffffff8000000ull);
	assert_int_equal(x[17], 32);
	assert_int_equal(x[18], 0x40000000);
	assert_int_equal(x[19], 0xffffffffc0000000ull);
	assert_int_equal(x[20], 0xffffffff80000000ull);
	assert_int_equal(x[21], 0xffffffff80000000ull);
	assert_int_equal(x[22], 0x7fffffff);
}

static void test_shifts(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[5] = 1;
	x[6] = 0x8000000000000000ull;
	x[7] = 65; /* only the low 6 bits count */
	x[28] = 63;
	LOAD(h, SLL(10, 5, 28), SLL(11, 5, 7), SRL(12, 6, 28), SRA(13, 6, 28), SRA(14, 6, 7), SLLI(15, 5, 63),
	     SRLI(16, 6, 63), SRAI(17, 6, 62), SRLI(18, 6, 0), SRAI(19, 6, 1), SRL(20, 6, 7));
	assert_int_equal(fake_hart__run(h, 11), 11);
	assert_int_equal(x[10], 0x8000000000000000ull);
	assert_int_equal(x[11], 2);
	assert_int_equal(x[12], 1);
	assert_int_equal(x[13], ~0ull);
	assert_int_equal(x[14], 0xc000000000000000ull);
	assert_int_equal(x[15], 0x8000000000000000ull);
	assert_int_equal(x[16], 1);
	assert_int_equal(x[17], 0xfffffffffffffffeull);
	assert_int_equal(x[18], 0x8000000000000000ull);
	assert_int_equal(x[19], 0xc000000000000000ull);
	assert_int_equal(x[20], 0x4000000000000000ull);
}

static void test_lui_auipc(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	LOAD(h, LUI(10, 0x80000000u), LUI(11, 0x12345000u), AUIPC(12, 0), AUIPC(13, 0xfffff000u),
	     LUI(14, 0xfffff000u), AUIPC(15, 0x7ffff000u));
	assert_int_equal(fake_hart__run(h, 6), 6);
	assert_int_equal(x[10], 0xffffffff80000000ull);
	assert_int_equal(x[11], 0x12345000);
	assert_int_equal(x[12], CODE + 8);
	assert_int_equal(x[13], CODE + 12 - 4096);
	assert_int_equal(x[14], 0xfffffffffffff000ull);
	assert_int_equal(x[15], CODE + 20 + 0x7ffff000ull);
}

static void test_loads_sign_zero_extend(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[5] = DATA;
	x[6] = 0x8899aabbccddeeffull;
	LOAD(h, SD(6, 5, 0), LB(10, 5, 0), LBU(11, 5, 0), LH(12, 5, 0), LHU(13, 5, 0), LW(14, 5, 0),
	     LWU(15, 5, 0), LD(16, 5, 0), LB(17, 5, 7), LBU(18, 5, 1), LH(19, 5, 4), LW(20, 5, 4));
	assert_int_equal(fake_hart__run(h, 12), 12);
	assert_int_equal(fake_hart__get64(h, DATA), 0x8899aabbccddeeffull);
	assert_int_equal(x[10], ~0ull);
	assert_int_equal(x[11], 0xff);
	assert_int_equal(x[12], 0xffffffffffffeeffull);
	assert_int_equal(x[13], 0xeeff);
	assert_int_equal(x[14], 0xffffffffccddeeffull);
	assert_int_equal(x[15], 0xccddeeff);
	assert_int_equal(x[16], 0x8899aabbccddeeffull);
	assert_int_equal(x[17], 0xffffffffffffff88ull);
	assert_int_equal(x[18], 0xee);
	assert_int_equal(x[19], 0xffffffffffffaabbull);
	assert_int_equal(x[20], 0xffffffff8899aabbull);
}

static void test_store_widths(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[5] = DATA;
	x[28] = 0x1122334455667788ull;
	x[29] = DATA + 64;
	fake_hart__put64(h, DATA + 16, ~0ull);
	fake_hart__put64(h, DATA + 24, 0xa5a5a5a5a5a5a5a5ull);
	LOAD(h, SD(0, 5, 16), SB(28, 5, 16), SH(28, 5, 18), SW(28, 5, 20), LD(21, 5, 16), SD(28, 29, -8),
	     LD(22, 5, 56), LH(23, 5, 18), LW(24, 5, 20));
	assert_int_equal(fake_hart__run(h, 9), 9);
	assert_int_equal(x[21], 0x5566778877880088ull);
	assert_int_equal(fake_hart__get64(h, DATA + 24), 0xa5a5a5a5a5a5a5a5ull); /* nothing spilled over */
	assert_int_equal(fake_hart__get64(h, DATA + 56), 0x1122334455667788ull);
	assert_int_equal(x[22], 0x1122334455667788ull);
	assert_int_equal(x[23], 0x7788);
	assert_int_equal(x[24], 0x55667788);
}

static void test_load_store_access_fault(void **state)
{
	struct fake_hart *h = *state;
	h->cpu->x[5] = 0x1000; /* nothing there: the fake bus refuses MMIO */
	LOAD(h, LD(10, 5, 8));
	fake_hart__run(h, 4);
	assert_trap(h, EXC_LOAD_ACCESS, CODE, 0x1008);
	assert_int_equal(h->mmio_reads, 1);

	h->cpu->pc = CODE;
	LOAD(h, SW(10, 5, -4));
	fake_hart__run(h, 4);
	assert_trap(h, EXC_STORE_ACCESS, CODE, 0xffc);
	assert_int_equal(h->mmio_writes, 1);
}

/* Run `b<cond> x5, x6, +8` followed by two addis; report whether the branch was taken. */
static bool branch_taken(struct fake_hart *h, unsigned f3, uint64_t a, uint64_t b)
{
	uint64_t *x = h->cpu->x;
	h->cpu->pc = CODE;
	x[5] = a;
	x[6] = b;
	x[7] = x[28] = 0;
	LOAD(h, enc_b(f3, 5, 6, 8), ADDI(7, 0, 1), ADDI(28, 0, 2));
	assert_int_equal(fake_hart__run(h, 2), 2);
	if (x[28] == 2) {
		assert_int_equal(x[7], 0);
		assert_int_equal(h->cpu->pc, CODE + 12);
		return true;
	}
	assert_int_equal(x[7], 1);
	assert_int_equal(h->cpu->pc, CODE + 8);
	return false;
}

static void test_branches(void **state)
{
	struct fake_hart *h = *state;
	const uint64_t m1 = ~0ull;
	assert_true(branch_taken(h, 0, 5, 5));   /* beq */
	assert_false(branch_taken(h, 0, 5, 6));
	assert_true(branch_taken(h, 1, 5, 6));   /* bne */
	assert_false(branch_taken(h, 1, m1, m1));
	assert_true(branch_taken(h, 4, m1, 1));  /* blt: signed */
	assert_false(branch_taken(h, 4, 1, m1));
	assert_false(branch_taken(h, 4, 3, 3));
	assert_true(branch_taken(h, 5, 1, m1));  /* bge */
	assert_true(branch_taken(h, 5, 3, 3));
	assert_false(branch_taken(h, 5, m1, 1));
	assert_true(branch_taken(h, 6, 1, m1));  /* bltu: unsigned */
	assert_false(branch_taken(h, 6, m1, 1));
	assert_true(branch_taken(h, 7, m1, 1));  /* bgeu */
	assert_true(branch_taken(h, 7, 0, 0));
	assert_false(branch_taken(h, 7, 1, m1));
}

static void test_backward_branch_loop(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	/* t0 = 5; t1 = 0; do { t1 += 3; t0--; } while (t0 != 0); */
	LOAD(h, ADDI(5, 0, 5), ADDI(6, 0, 0), ADDI(6, 6, 3), ADDI(5, 5, -1), BNE(5, 0, -8), ADDI(7, 0, 9));
	assert_int_equal(fake_hart__run(h, 2 + 5 * 3 + 1), 18);
	assert_int_equal(x[5], 0);
	assert_int_equal(x[6], 15);
	assert_int_equal(x[7], 9);
	assert_int_equal(h->cpu->pc, CODE + 24);
}

static void test_jal_jalr_links(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[6] = CODE + 32;
	LOAD(h,
	     JAL(1, 16),      /*  0: ra = 4, -> 16 */
	     ADDI(11, 0, 7),  /*  4 */
	     JAL(0, 16),      /*  8: -> 24 */
	     ADDI(10, 0, 1),  /* 12 */
	     JALR(5, 1, 1),   /* 16: (4 + 1) & ~1 = 4, t0 = 20 */
	     ADDI(10, 0, 2),  /* 20: skipped */
	     JALR(6, 6, 0),   /* 24: rd == rs1: -> 32, x6 = 28 */
	     ADDI(10, 0, 3),  /* 28: skipped */
	     JAL(7, -20));    /* 32: x7 = 36, -> 12 */
	assert_int_equal(fake_hart__run(h, 7), 7);
	assert_int_equal(x[1], CODE + 4);
	assert_int_equal(x[5], CODE + 20);
	assert_int_equal(x[6], CODE + 28);
	assert_int_equal(x[7], CODE + 36);
	assert_int_equal(x[11], 7);
	assert_int_equal(x[10], 1);
	assert_int_equal(h->cpu->pc, CODE + 16);
}

static void test_mul_div_64(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[5] = 0x8000000000000000ull; /* INT64_MIN */
	x[6] = ~0ull;                 /* -1 */
	x[7] = 0;
	x[28] = 7;
	x[29] = (uint64_t)-7;
	x[30] = 2;
	LOAD(h, DIV(10, 5, 6), REM(11, 5, 6), DIV(12, 28, 7), DIVU(13, 28, 7), REM(14, 28, 7), REMU(15, 29, 7),
	     DIV(16, 29, 30), REM(17, 29, 30), DIVU(18, 29, 30), REMU(19, 29, 30), MUL(20, 29, 28),
	     MULH(21, 5, 5), MULHU(22, 6, 6), MULHSU(23, 6, 6), MULH(24, 29, 28), MULHSU(25, 28, 6),
	     MULHU(26, 28, 6), MUL(27, 5, 6));
	assert_int_equal(fake_hart__run(h, 18), 18);
	assert_int_equal(x[10], 0x8000000000000000ull); /* overflow: quotient is the dividend */
	assert_int_equal(x[11], 0);
	assert_int_equal(x[12], ~0ull); /* divide by zero: all ones */
	assert_int_equal(x[13], ~0ull);
	assert_int_equal(x[14], 7); /* remainder by zero: the dividend */
	assert_int_equal(x[15], (uint64_t)-7);
	assert_int_equal(x[16], (uint64_t)-3); /* rounds toward zero */
	assert_int_equal(x[17], (uint64_t)-1);
	assert_int_equal(x[18], 0x7ffffffffffffffcull);
	assert_int_equal(x[19], 1);
	assert_int_equal(x[20], (uint64_t)-49);
	assert_int_equal(x[21], 0x4000000000000000ull);
	assert_int_equal(x[22], 0xfffffffffffffffeull);
	assert_int_equal(x[23], ~0ull);
	assert_int_equal(x[24], ~0ull);
	assert_int_equal(x[25], 6);
	assert_int_equal(x[26], 6);
	assert_int_equal(x[27], 0x8000000000000000ull);
}

static void test_mul_div_32(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[5] = 0xffffffff80000000ull; /* INT32_MIN */
	x[6] = ~0ull;
	x[7] = 0x100000000ull; /* zero in the low word */
	x[28] = 14;
	x[29] = 0x12345678fffffff9ull; /* -7 in the low word */
	x[30] = 2;
	x[31] = 0x7fffffff;
	LOAD(h, DIVW(10, 5, 6), REMW(11, 5, 6), DIVW(12, 28, 7), DIVUW(13, 28, 7), REMW(14, 29, 7),
	     REMUW(15, 29, 7), DIVW(16, 29, 30), DIVUW(17, 29, 30), MULW(18, 28, 31), REMUW(19, 28, 30),
	     REMW(20, 29, 30));
	assert_int_equal(fake_hart__run(h, 11), 11);
	assert_int_equal(x[10], 0xffffffff80000000ull);
	assert_int_equal(x[11], 0);
	assert_int_equal(x[12], ~0ull);
	assert_int_equal(x[13], ~0ull);
	assert_int_equal(x[14], (uint64_t)-7);
	assert_int_equal(x[15], (uint64_t)-7);
	assert_int_equal(x[16], (uint64_t)-3);
	assert_int_equal(x[17], 0x7ffffffc);
	assert_int_equal(x[18], 0xfffffffffffffff2ull);
	assert_int_equal(x[19], 0);
	assert_int_equal(x[20], (uint64_t)-1);
}

static void test_lr_sc_amoadd(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	fake_hart__put64(h, DATA, 0x1234);
	fake_hart__put32(h, DATA + 8, 0x7fffffff);
	fake_hart__put32(h, DATA + 12, 0xcafebabe);
	fake_hart__put64(h, DATA + 16, 100);
	x[5] = DATA;
	x[6] = 0x5555;
	x[7] = 0x9999;
	x[28] = DATA + 8;
	x[29] = 1;
	x[30] = DATA + 16;
	x[31] = ~0ull;
	LOAD(h, LR_D(10, 5), SC_D(11, 5, 6), SC_D(12, 5, 7), AMOADD_W(13, 28, 29), AMOADD_W(14, 28, 29),
	     AMOADD_D(15, 30, 31), LR_W(16, 28), SC_W(17, 28, 0), AMOSWAP_D(18, 30, 6));
	assert_int_equal(fake_hart__run(h, 9), 9);
	assert_int_equal(x[10], 0x1234);
	assert_int_equal(x[11], 0); /* success */
	assert_int_equal(x[12], 1); /* no reservation any more */
	assert_int_equal(fake_hart__get64(h, DATA), 0x5555);
	assert_int_equal(x[13], 0x7fffffff);
	assert_int_equal(x[14], 0xffffffff80000000ull); /* old value, sign-extended */
	assert_int_equal(fake_hart__get32(h, DATA + 8), 0);
	assert_int_equal(fake_hart__get32(h, DATA + 12), 0xcafebabe); /* a word AMO stays a word */
	assert_int_equal(x[15], 100);
	assert_int_equal(x[16], 0xffffffff80000001ull);
	assert_int_equal(x[17], 0);
	assert_int_equal(x[18], 99);
	assert_int_equal(fake_hart__get64(h, DATA + 16), 0x5555);
}

static void test_sc_fails_after_trap(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	fake_hart__put64(h, DATA, 1);
	x[5] = DATA;
	x[6] = 2;
	LOAD(h, LR_D(10, 5), ECALL);
	fake_hart__put32(h, TRAP, SC_D(11, 5, 6));
	fake_hart__run(h, 2);
	assert_int_equal(h->cpu->mcause, EXC_ECALL_M);
	assert_int_equal(fake_hart__run(h, 1), 1);
	assert_int_equal(x[11], 1);
	assert_int_equal(fake_hart__get64(h, DATA), 1);
}

static void test_sc_other_address_fails(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	fake_hart__put64(h, DATA, 1);
	fake_hart__put64(h, DATA + 64, 2);
	x[5] = DATA;
	x[6] = DATA + 64;
	x[7] = 9;
	LOAD(h, LR_D(10, 5), SC_D(11, 6, 7), SC_D(12, 5, 7));
	assert_int_equal(fake_hart__run(h, 3), 3);
	assert_int_equal(x[11], 1);
	assert_int_equal(fake_hart__get64(h, DATA + 64), 2);
	/* A failed SC still ends the reservation. */
	assert_int_equal(x[12], 1);
	assert_int_equal(fake_hart__get64(h, DATA), 1);
}

static bool fake_sbi(void *opaque, struct rv_cpu *cpu)
{
	(void)opaque;
	if (cpu->x[R_A7] != 0x10)
		return false;
	cpu->x[R_A0] = 0;
	cpu->x[R_A1] = 0x1234;
	return true;
}

static void test_ecall_from_s_platform_hook(void **state)
{
	struct fake_hart *h = *state;
	struct rv_cpu *cpu = h->cpu;
	cpu->plat.ecall = fake_sbi;
	cpu->priv = PRV_S;
	cpu__update_mmu(cpu);
	cpu->x[R_A7] = 0x10;
	cpu->x[R_A0] = 99;
	LOAD(h, ECALL, ADDI(R_A2, 0, 1), ECALL);
	assert_int_equal(fake_hart__run(h, 2), 2);
	assert_int_equal(cpu->priv, PRV_S);
	assert_int_equal(cpu->x[R_A0], 0);
	assert_int_equal(cpu->x[R_A1], 0x1234);
	assert_int_equal(cpu->x[R_A2], 1);
	assert_int_equal(cpu->pc, CODE + 8);
	/* The hook declines: a normal trap. */
	cpu->x[R_A7] = 0x11;
	fake_hart__run(h, 1);
	assert_trap(h, EXC_ECALL_S, CODE + 8, 0);

	/* Only S-mode ecalls go to the hook. */
	cpu->x[R_A7] = 0x10;
	cpu->x[R_A1] = 0;
	cpu->pc = CODE;
	fake_hart__run(h, 1);
	assert_trap(h, EXC_ECALL_M, CODE, 0);
	cpu->mstatus &= ~MSTATUS_MPP;
	cpu->mepc = CODE + 0x100;
	cpu->pc = CODE + 0x200;
	fake_hart__put32(h, CODE + 0x200, MRET);
	fake_hart__put32(h, CODE + 0x100, ECALL);
	fake_hart__run(h, 1);
	fake_hart__run(h, 1);
	assert_trap(h, EXC_ECALL_U, CODE + 0x100, 0);
	assert_int_equal(cpu->x[R_A1], 0);
}

static void test_illegal_all_zero(void **state)
{
	struct fake_hart *h = *state;
	fake_hart__put32(h, CODE, 0);
	fake_hart__run(h, 4);
	assert_trap(h, EXC_ILLEGAL, CODE, 0);
	assert_int_equal((h->cpu->mstatus & MSTATUS_MPP) >> 11, PRV_M);
}

static void test_illegal_all_ones(void **state)
{
	struct fake_hart *h = *state;
	LOAD(h, NOP, 0xffffffffu);
	fake_hart__run(h, 4);
	assert_trap(h, EXC_ILLEGAL, CODE + 4, 0xffffffffu);
}

static void test_illegal_reserved_encodings(void **state)
{
	struct fake_hart *h = *state;
	/* funct7 = 0x20 is only sub/sra: 0x20 with xor is reserved. */
	uint32_t bad[] = { enc_r(OPC_OP, 10, 4, 5, 6, 0x20), JALR(1, 5, 0) | (1u << 12), LD(10, 5, 0) | (7u << 12),
			   SLLIW(10, 5, 0) | (1u << 25) };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h->cpu->pc = CODE;
		fake_hart__put32(h, CODE, bad[i]);
		fake_hart__run(h, 2);
		assert_trap(h, EXC_ILLEGAL, CODE, bad[i]);
	}
}

static void test_ecall_from_m(void **state)
{
	struct fake_hart *h = *state;
	LOAD(h, NOP, ECALL, NOP);
	fake_hart__run(h, 10);
	assert_trap(h, EXC_ECALL_M, CODE + 4, 0);
}

static void test_ebreak(void **state)
{
	struct fake_hart *h = *state;
	LOAD(h, EBREAK);
	fake_hart__run(h, 10);
	assert_int_equal(h->cpu->mcause, EXC_BREAKPOINT);
	assert_int_equal(h->cpu->mepc, CODE);
	assert_int_equal(h->cpu->pc, TRAP);

	/* c.ebreak too */
	h->cpu->pc = CODE;
	fake_hart__put16(h, CODE, 0x9002);
	fake_hart__run(h, 10);
	assert_int_equal(h->cpu->mcause, EXC_BREAKPOINT);
	assert_int_equal(h->cpu->mepc, CODE);
}

static void test_mret_to_s(void **state)
{
	struct fake_hart *h = *state;
	struct rv_cpu *cpu = h->cpu;
	cpu->mstatus = (cpu->mstatus & ~MSTATUS_MPP) | ((uint64_t)PRV_S << 11) | MSTATUS_MPIE;
	cpu->mepc = CODE + 0x100;
	LOAD(h, MRET);
	fake_hart__put32(h, CODE + 0x100, ECALL);
	assert_int_equal(fake_hart__run(h, 10), 1);
	assert_int_equal(cpu->priv, PRV_S);
	assert_int_equal(cpu->pc, CODE + 0x100);
	assert_true(cpu->mstatus & MSTATUS_MIE);  /* MIE = old MPIE */
	assert_true(cpu->mstatus & MSTATUS_MPIE); /* MPIE = 1 */
	assert_int_equal(cpu->mstatus & MSTATUS_MPP, 0); /* MPP = U */

	fake_hart__run(h, 10);
	assert_trap(h, EXC_ECALL_S, CODE + 0x100, 0);
	assert_int_equal((cpu->mstatus & MSTATUS_MPP) >> 11, PRV_S);
	assert_false(cpu->mstatus & MSTATUS_MIE);
	assert_true(cpu->mstatus & MSTATUS_MPIE);
}

static void test_mret_to_u(void **state)
{
	struct fake_hart *h = *state;
	struct rv_cpu *cpu = h->cpu;
	cpu->mstatus &= ~MSTATUS_MPP;
	cpu->mepc = CODE + 0x100;
	LOAD(h, MRET);
	fake_hart__put32(h, CODE + 0x100, ECALL);
	fake_hart__run(h, 10);
	assert_int_equal(cpu->priv, PRV_U);
	assert_int_equal(cpu->pc, CODE + 0x100);
	fake_hart__run(h, 10);
	assert_trap(h, EXC_ECALL_U, CODE + 0x100, 0);
	assert_int_equal(cpu->mstatus & MSTATUS_MPP, 0);

	/* U-mode touching an M CSR or running mret is illegal. */
	uint32_t bad[] = { CSRRS(10, CSR_NUM_MSTATUS, 0), MRET, SRET };
	for (unsigned i = 0; i < 3; i++) {
		cpu->mstatus &= ~MSTATUS_MPP;
		cpu->mepc = CODE + 0x100;
		cpu->pc = CODE;
		fake_hart__put32(h, CODE + 0x100, bad[i]);
		fake_hart__run(h, 1);
		assert_int_equal(cpu->priv, PRV_U);
		fake_hart__run(h, 1);
		assert_trap(h, EXC_ILLEGAL, CODE + 0x100, bad[i]);
	}
}

static void test_delegated_ecall_from_u(void **state)
{
	struct fake_hart *h = *state;
	struct rv_cpu *cpu = h->cpu;
	cpu->medeleg = 1u << EXC_ECALL_U;
	cpu->stvec = CODE + 0x200;
	cpu->mstatus &= ~MSTATUS_MPP;
	cpu->mepc = CODE + 0x100;
	LOAD(h, MRET);
	fake_hart__put32(h, CODE + 0x100, ECALL);
	fake_hart__run(h, 1);
	fake_hart__run(h, 1);
	assert_int_equal(cpu->priv, PRV_S);
	assert_int_equal(cpu->pc, CODE + 0x200);
	assert_int_equal(cpu->scause, EXC_ECALL_U);
	assert_int_equal(cpu->sepc, CODE + 0x100);
	assert_false(cpu->mstatus & MSTATUS_SPP);
	assert_int_equal(cpu->mcause, 0);

	/* sret back to U */
	cpu->sepc = CODE + 0x300;
	fake_hart__put32(h, CODE + 0x200, SRET);
	fake_hart__put32(h, CODE + 0x300, ADDI(10, 0, 5));
	fake_hart__run(h, 1);
	assert_int_equal(cpu->priv, PRV_U);
	assert_int_equal(cpu->pc, CODE + 0x300);
	fake_hart__run(h, 1);
	assert_int_equal(cpu->x[10], 5);
}

static void test_csr_instructions(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	h->cpu->mscratch = 0x0ff0;
	x[5] = 0xf0f0;
	x[6] = 0x000f;
	x[7] = 0xf000;
	uint32_t bad = CSRRS(18, CSR_NUM_MHARTID, 5);
	LOAD(h, CSRRW(10, CSR_NUM_MSCRATCH, 5), CSRRS(11, CSR_NUM_MSCRATCH, 6), CSRRC(12, CSR_NUM_MSCRATCH, 7),
	     CSRRWI(13, CSR_NUM_MSCRATCH, 0x1f), CSRRSI(14, CSR_NUM_MSCRATCH, 0), CSRRCI(15, CSR_NUM_MSCRATCH, 3),
	     CSRRS(16, CSR_NUM_MHARTID, 0), CSRRW(0, CSR_NUM_MSCRATCH, 0), CSRRS(17, CSR_NUM_MSCRATCH, 0), bad);
	fake_hart__run(h, 20);
	assert_int_equal(x[10], 0x0ff0);
	assert_int_equal(x[11], 0xf0f0);
	assert_int_equal(x[12], 0xf0ff);
	assert_int_equal(x[13], 0x00ff);
	assert_int_equal(x[14], 0x1f);
	assert_int_equal(x[15], 0x1f);
	assert_int_equal(x[16], 0);
	assert_int_equal(x[17], 0);
	assert_int_equal(h->cpu->mscratch, 0);
	/* csrrs with a non-zero rs1 writes, and mhartid is read-only. */
	assert_trap(h, EXC_ILLEGAL, CODE + 36, bad);
	assert_int_equal(x[18], 0);
}

static void test_csr_time_and_counters(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	h->now = 123456789;
	LOAD(h, CSRRS(10, CSR_NUM_TIME, 0), CSRRS(11, CSR_NUM_INSTRET, 0), NOP, CSRRS(12, CSR_NUM_INSTRET, 0),
	     CSRRS(13, CSR_NUM_CYCLE, 0));
	assert_int_equal(fake_hart__run(h, 5), 5);
	assert_int_equal(x[10], 123456789);
	assert_int_equal(x[12] - x[11], 2);
	assert_true(x[13] >= x[12]);
}

/*
 * Zicsr: "a value written to instret by one instruction will be the value read by the following
 * instruction." (The CSR write replaces the increment.)
 */
static void test_minstret_write_then_read(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[5] = 1000;
	LOAD(h, NOP, CSRRW(0, CSR_NUM_MINSTRET, 5), CSRRS(10, CSR_NUM_MINSTRET, 0));
	assert_int_equal(fake_hart__run(h, 3), 3);
	assert_int_equal(x[10], 1000);
}

/* Privileged spec: ECALL/EBREAK (and any instruction that traps) do not retire. */
static void test_minstret_ignores_trapping_insn(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	LOAD(h, CSRRS(10, CSR_NUM_MINSTRET, 0), ECALL);
	fake_hart__put32(h, TRAP, CSRRS(11, CSR_NUM_MINSTRET, 0));
	fake_hart__run(h, 5);
	assert_int_equal(h->cpu->mcause, EXC_ECALL_M);
	fake_hart__run(h, 1);
	assert_int_equal(x[11] - x[10], 1);
}

static void test_x0_is_zero(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[5] = 123;
	x[6] = DATA;
	fake_hart__put64(h, DATA, 0xdead);
	LOAD(h, ADDI(0, 5, 1), LUI(0, 0x12345000u), ADD(0, 5, 5), JAL(0, 4), LD(0, 6, 0),
	     CSRRS(0, CSR_NUM_MSCRATCH, 0), AUIPC(0, 0x1000), ADDI(10, 0, 0), ADD(11, 0, 5));
	assert_int_equal(fake_hart__run(h, 9), 9);
	assert_int_equal(x[0], 0);
	assert_int_equal(x[10], 0);
	assert_int_equal(x[11], 123);
}

static void test_compressed(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	fake_hart__put16(h, CODE + 0x00, C_LI(R_A0, 5));
	fake_hart__put16(h, CODE + 0x02, C_ADDI(R_A0, -2));
	fake_hart__put16(h, CODE + 0x04, C_MV(R_A1, R_A0));
	fake_hart__put16(h, CODE + 0x06, C_BEQZ(R_A2, 6)); /* a2 == 0: taken */
	fake_hart__put16(h, CODE + 0x08, C_LI(R_A3, 1));
	fake_hart__put16(h, CODE + 0x0a, C_LI(R_A3, 2));
	fake_hart__put16(h, CODE + 0x0c, C_J(4));
	fake_hart__put16(h, CODE + 0x0e, C_LI(R_A4, 1));
	fake_hart__put16(h, CODE + 0x10, C_BEQZ(R_A0, -16)); /* a0 == 3: not taken */
	fake_hart__put16(h, CODE + 0x12, C_LI(R_A5, -32));
	fake_hart__put32(h, CODE + 0x14, ADDI(R_A6, R_A0, 1)); /* 32-bit at a 2-byte boundary */
	fake_hart__put16(h, CODE + 0x18, C_BNEZ(R_A0, -8)); /* back to the addi, once */
	assert_int_equal(fake_hart__run(h, 8), 8);
	assert_int_equal(x[R_A0], 3);
	assert_int_equal(x[R_A1], 3);
	assert_int_equal(x[R_A3], 0);
	assert_int_equal(x[R_A4], 0);
	assert_int_equal(x[R_A5], (uint64_t)-32);
	assert_int_equal(x[R_A6], 4);
	assert_int_equal(h->cpu->pc, CODE + 0x18);
	assert_int_equal(fake_hart__run(h, 1), 1);
	assert_int_equal(h->cpu->pc, CODE + 0x10);
}

static void test_compressed_jalr_link(void **state)
{
	struct fake_hart *h = *state;
	uint64_t *x = h->cpu->x;
	x[R_T0] = CODE + 0x40;
	fake_hart__put16(h, CODE + 0x00, C_JALR(R_T0));
	fake_hart__put16(h, CODE + 0x40, C_MV(R_A0, R_RA));
	assert_int_equal(fake_hart__run(h, 2), 2);
	assert_int_equal(x[R_RA], CODE + 2); /* the link skips a 2-byte instruction */
	assert_int_equal(x[R_A0], CODE + 2);
	assert_int_equal(h->cpu->pc, CODE + 0x42);
}

static void test_compressed_illegal(void **state)
{
	struct fake_hart *h = *state;
	fake_hart__put16(h, CODE, 0x8002); /* c.jr x0: reserved */
	fake_hart__run(h, 2);
	assert_trap(h, EXC_ILLEGAL, CODE, 0x8002);
}

static void test_insn_across_page(void **state)
{
	struct fake_hart *h = *state;
	uint32_t insn = ADDI(R_A0, 0, 42);
	h->cpu->pc = CODE + 0xffe;
	fake_hart__put16(h, CODE + 0xffe, (uint16_t)insn);
	fake_hart__put16(h, CODE + 0x1000, (uint16_t)(insn >> 16));
	assert_int_equal(fake_hart__run(h, 1), 1);
	assert_int_equal(h->cpu->x[R_A0], 42);
	assert_int_equal(h->cpu->pc, CODE + 0x1002);
}

static void test_interrupt_taken_between_runs(void **state)
{
	struct fake_hart *h = *state;
	struct rv_cpu *cpu = h->cpu;
	LOAD(h, NOP, NOP);
	cpu->mie = MIP_MTIP;
	cpu__set_mip(cpu, MIP_MTIP, true);

	/* M-mode with MIE clear: not taken. */
	assert_int_equal(fake_hart__run(h, 1), 1);
	assert_int_equal(cpu->pc, CODE + 4);

	cpu->mstatus |= MSTATUS_MIE;
	assert_int_equal(fake_hart__run(h, 5), 0);
	assert_int_equal(cpu->pc, TRAP);
	assert_int_equal(cpu->mcause, (1ull << 63) | IRQ_MTI);
	assert_int_equal(cpu->mepc, CODE + 4);
	assert_false(cpu->mstatus & MSTATUS_MIE);
	assert_true(cpu->mstatus & MSTATUS_MPIE);

	/* Vectored mode: base + 4 * cause. */
	cpu->mtvec = TRAP | 1;
	cpu->pc = CODE;
	cpu->mstatus |= MSTATUS_MIE;
	fake_hart__run(h, 5);
	assert_int_equal(cpu->pc, TRAP + 4 * IRQ_MTI);
}

static void test_wfi_exits(void **state)
{
	struct fake_hart *h = *state;
	LOAD(h, WFI, NOP, NOP);
	assert_int_equal(fake_hart__run(h, 10), 1);
	assert_int_equal(h->why, RV_EXIT_WFI);
	assert_int_equal(h->cpu->pc, CODE + 4);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)


/* csrrs on mip must not latch the external (PLIC) SEIP line into the software SEIP bit. */
static void test_mip_rmw_ignores_external_seip(void **state)
{
	(void)state;
	struct fake_hart *h = fake_hart__new();
	assert_non_null(h);
	cpu__set_mip(h->cpu, MIP_SEIP, true); /* the PLIC raises SEIP */
	const uint32_t code[] = {
		ADDI(R_T0, R_ZERO, (int32_t)MIP_STIP),
		CSRRS(R_T1, 0x344, R_T0), /* csrs mip, STIP (as firmware does on a timer interrupt) */
	};
	fake_hart__load(h, FAKE_RAM_BASE, code, 2);
	fake_hart__run(h, 2);
	assert_true(h->cpu->x[R_T1] & MIP_SEIP); /* the read shows the line */
	cpu__set_mip(h->cpu, MIP_SEIP, false); /* the PLIC drops it */
	assert_int_equal(cpu__mip(h->cpu) & (MIP_SEIP | MIP_STIP), MIP_STIP);
	fake_hart__free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mip_rmw_ignores_external_seip),
		cmocka_unit_test(test_encoder_selfcheck),
		T(test_alu_reg_imm),
		T(test_word_ops_sign_extend),
		T(test_shifts),
		T(test_lui_auipc),
		T(test_loads_sign_zero_extend),
		T(test_store_widths),
		T(test_load_store_access_fault),
		T(test_branches),
		T(test_backward_branch_loop),
		T(test_jal_jalr_links),
		T(test_mul_div_64),
		T(test_mul_div_32),
		T(test_lr_sc_amoadd),
		T(test_sc_fails_after_trap),
		T(test_sc_other_address_fails),
		T(test_ecall_from_s_platform_hook),
		T(test_illegal_all_zero),
		T(test_illegal_all_ones),
		T(test_illegal_reserved_encodings),
		T(test_ecall_from_m),
		T(test_ebreak),
		T(test_mret_to_s),
		T(test_mret_to_u),
		T(test_delegated_ecall_from_u),
		T(test_csr_instructions),
		T(test_csr_time_and_counters),
		T(test_minstret_write_then_read),
		T(test_minstret_ignores_trapping_insn),
		T(test_x0_is_zero),
		T(test_compressed),
		T(test_compressed_jalr_link),
		T(test_compressed_illegal),
		T(test_insn_across_page),
		T(test_interrupt_taken_between_runs),
		T(test_wfi_exits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
