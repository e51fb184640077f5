/* Compressed (RVC) instructions: expanded to their 32-bit equivalents before execution. */
#include "cpu/rvc.h"

#include <pthread.h>

static uint32_t bits(uint32_t v, int hi, int lo)
{
	return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static uint32_t r_type(uint32_t op, uint32_t rd, uint32_t f3, uint32_t rs1, uint32_t rs2, uint32_t f7)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t i_type(uint32_t op, uint32_t rd, uint32_t f3, uint32_t rs1, int32_t imm)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t s_type(uint32_t op, uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm)
{
	uint32_t u = (uint32_t)imm;
	return bits(u, 11, 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | bits(u, 4, 0) << 7 | op;
}

static uint32_t b_type(uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm)
{
	uint32_t u = (uint32_t)imm;
	return bits(u, 12, 12) << 31 | bits(u, 10, 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
	       bits(u, 4, 1) << 8 | bits(u, 11, 11) << 7 | 0x63;
}

static uint32_t j_type(uint32_t rd, int32_t imm)
{
	uint32_t u = (uint32_t)imm;
	return bits(u, 20, 20) << 31 | bits(u, 10, 1) << 21 | bits(u, 11, 11) << 20 | bits(u, 19, 12) << 12 |
	       rd << 7 | 0x6f;
}

/* Sign-extend the low n bits. */
static int32_t sext(uint32_t v, int n)
{
	return (int32_t)(v << (32 - n)) >> (32 - n);
}

enum { OP_LOAD = 0x03, OP_LOADFP = 0x07, OP_IMM = 0x13, OP_IMM32 = 0x1b, OP_STORE = 0x23,
       OP_STOREFP = 0x27, OP_OP = 0x33, OP_LUI = 0x37, OP_OP32 = 0x3b, OP_JALR = 0x67 };

static uint32_t q0(uint32_t c)
{
	uint32_t rd = bits(c, 4, 2) + 8, rs1 = bits(c, 9, 7) + 8;
	uint32_t uw = bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6; /* lw/sw offsets */
	uint32_t ud = bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6;                      /* ld/sd offsets */
	switch (bits(c, 15, 13)) {
	case 0: {
		uint32_t imm = bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 3;
		return imm ? i_type(OP_IMM, rd, 0, 2, (int32_t)imm) : 0;
	}
	case 1:
		return i_type(OP_LOADFP, rd, 3, rs1, (int32_t)ud);
	case 2:
		return i_type(OP_LOAD, rd, 2, rs1, (int32_t)uw);
	case 3:
		return i_type(OP_LOAD, rd, 3, rs1, (int32_t)ud);
	case 5:
		return s_type(OP_STOREFP, 3, rs1, rd, (int32_t)ud);
	case 6:
		return s_type(OP_STORE, 2, rs1, rd, (int32_t)uw);
	case 7:
		return s_type(OP_STORE, 3, rs1, rd, (int32_t)ud);
	}
	return 0;
}

static uint32_t q1(uint32_t c)
{
	uint32_t rd = bits(c, 11, 7);
	int32_t imm6 = sext(bits(c, 12, 12) << 5 | bits(c, 6, 2), 6);
	uint32_t rdp = bits(c, 9, 7) + 8, rs2p = bits(c, 4, 2) + 8;
	switch (bits(c, 15, 13)) {
	case 0:
		return i_type(OP_IMM, rd, 0, rd, imm6);
	case 1:
		return rd ? i_type(OP_IMM32, rd, 0, rd, imm6) : 0;
	case 2:
		return i_type(OP_IMM, rd, 0, 0, imm6);
	case 3:
		if (rd == 2) {
			int32_t imm = sext(bits(c, 12, 12) << 9 | bits(c, 6, 6) << 4 | bits(c, 5, 5) << 6 |
						   bits(c, 4, 3) << 7 | bits(c, 2, 2) << 5,
					   10);
			return imm ? i_type(OP_IMM, 2, 0, 2, imm) : 0;
		}
		if (!imm6)
			return 0;
		return ((uint32_t)imm6 << 12) | rd << 7 | OP_LUI;
	case 4: {
		uint32_t shamt = bits(c, 12, 12) << 5 | bits(c, 6, 2);
		switch (bits(c, 11, 10)) {
		case 0:
			return i_type(OP_IMM, rdp, 5, rdp, (int32_t)shamt);
		case 1:
			return i_type(OP_IMM, rdp, 5, rdp, (int32_t)(shamt | 0x400));
		case 2:
			return i_type(OP_IMM, rdp, 7, rdp, imm6);
		}
		static const uint32_t f3[4] = { 0, 4, 6, 7 };
		uint32_t sel = bits(c, 6, 5);
		if (!bits(c, 12, 12))
			return r_type(OP_OP, rdp, f3[sel], rdp, rs2p, sel == 0 ? 0x20 : 0);
		if (sel == 0)
			return r_type(OP_OP32, rdp, 0, rdp, rs2p, 0x20);
		if (sel == 1)
			return r_type(OP_OP32, rdp, 0, rdp, rs2p, 0);
		return 0;
	}
	case 5: {
		int32_t imm = sext(bits(c, 12, 12) << 11 | bits(c, 11, 11) << 4 | bits(c, 10, 9) << 8 |
					   bits(c, 8, 8) << 10 | bits(c, 7, 7) << 6 | bits(c, 6, 6) << 7 |
					   bits(c, 5, 3) << 1 | bits(c, 2, 2) << 5,
				   12);
		return j_type(0, imm);
	}
	default: {
		int32_t imm = sext(bits(c, 12, 12) << 8 | bits(c, 11, 10) << 3 | bits(c, 6, 5) << 6 |
					   bits(c, 4, 3) << 1 | bits(c, 2, 2) << 5,
				   9);
		return b_type(bits(c, 15, 13) == 6 ? 0 : 1, rdp, 0, imm);
	}
	}
}

static uint32_t q2(uint32_t c)
{
	uint32_t rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
	uint32_t ldsp = bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6;
	uint32_t sdsp = bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6;
	switch (bits(c, 15, 13)) {
	case 0:
		return i_type(OP_IMM, rd, 1, rd, (int32_t)(bits(c, 12, 12) << 5 | rs2));
	case 1:
		return i_type(OP_LOADFP, rd, 3, 2, (int32_t)ldsp);
	case 2: {
		uint32_t imm = bits(c, 12, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6;
		return rd ? i_type(OP_LOAD, rd, 2, 2, (int32_t)imm) : 0;
	}
	case 3:
		return rd ? i_type(OP_LOAD, rd, 3, 2, (int32_t)ldsp) : 0;
	case 4:
		if (!bits(c, 12, 12)) {
			if (!rs2)
				return rd ? i_type(OP_JALR, 0, 0, rd, 0) : 0;
			return r_type(OP_OP, rd, 0, 0, rs2, 0);
		}
		if (!rs2)
			return rd ? i_type(OP_JALR, 1, 0, rd, 0) : 0x00100073; /* c.jalr / c.ebreak */
		return r_type(OP_OP, rd, 0, rd, rs2, 0);
	case 5:
		return s_type(OP_STOREFP, 3, 2, rs2, (int32_t)sdsp);
	case 6:
		return s_type(OP_STORE, 2, 2, rs2, (int32_t)(bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6));
	default:
		return s_type(OP_STORE, 3, 2, rs2, (int32_t)sdsp);
	}
}

uint32_t rvc__expand(uint16_t c)
{
	switch (c & 3) {
	case 0:
		return q0(c);
	case 1:
		return q1(c);
	default:
		return q2(c);
	}
}

/* Every 16-bit encoding expanded once: decoding an RVC instruction is then a single load. */
#ifdef WISP_RVC_TABLE
/* Expanded at build time (rvc_gen.c): read-only data of the binary, shared by every wisp process. */
static const uint32_t table[1 << 16] = {
#include "rvc_table.inc"
};

const uint32_t *rvc__table(void)
{
	return table;
}
#else
static uint32_t table[1 << 16];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	for (uint32_t c = 0; c < (1u << 16); c++)
		table[c] = (c & 3) == 3 ? 0 : rvc__expand((uint16_t)c);
}

const uint32_t *rvc__table(void)
{
	pthread_once(&table_once, table_init);
	return table;
}
#endif
