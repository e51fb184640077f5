/* RV64GC decoder: raw instruction bits to a flat operation with its operands. */
#include "cpu/decode.h"

static int32_t imm_i(uint32_t w)
{
	return (int32_t)w >> 20;
}

static int32_t imm_s(uint32_t w)
{
	return (int32_t)((((int32_t)w >> 20) & ~0x1f) | ((w >> 7) & 0x1f));
}

static int32_t imm_b(uint32_t w)
{
	return (int32_t)((((int32_t)w >> 19) & ~0xfff) | ((w << 4) & 0x800) | ((w >> 20) & 0x7e0) | ((w >> 7) & 0x1e));
}

static int32_t imm_j(uint32_t w)
{
	return (int32_t)((((int32_t)w >> 11) & ~0xfffff) | (w & 0xff000) | ((w >> 9) & 0x800) | ((w >> 20) & 0x7fe));
}

static int op_imm(uint32_t w, uint32_t f3)
{
	static const int ops[8] = { OP_ADDI, OP_SLLI, OP_SLTI, OP_SLTIU, OP_XORI, OP_SRLI, OP_ORI, OP_ANDI };
	if (f3 == 1)
		return (w >> 26) == 0 ? OP_SLLI : OP_ILLEGAL;
	if (f3 == 5)
		return (w >> 26) == 0 ? OP_SRLI : (w >> 26) == 0x10 ? OP_SRAI : OP_ILLEGAL;
	return ops[f3];
}

static int op_imm32(uint32_t w, uint32_t f3)
{
	uint32_t f7 = w >> 25;
	if (f3 == 0)
		return OP_ADDIW;
	if (f3 == 1 && f7 == 0)
		return OP_SLLIW;
	if (f3 == 5 && f7 == 0)
		return OP_SRLIW;
	if (f3 == 5 && f7 == 0x20)
		return OP_SRAIW;
	return OP_ILLEGAL;
}

static int op_reg(uint32_t w, uint32_t f3)
{
	static const int base[8] = { OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND };
	static const int mext[8] = { OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU };
	uint32_t f7 = w >> 25;
	if (f7 == 0)
		return base[f3];
	if (f7 == 1)
		return mext[f3];
	if (f7 == 0x20 && f3 == 0)
		return OP_SUB;
	if (f7 == 0x20 && f3 == 5)
		return OP_SRA;
	return OP_ILLEGAL;
}

static int op_reg32(uint32_t w, uint32_t f3)
{
	uint32_t f7 = w >> 25;
	if (f7 == 0)
		return f3 == 0 ? OP_ADDW : f3 == 1 ? OP_SLLW : f3 == 5 ? OP_SRLW : OP_ILLEGAL;
	if (f7 == 0x20)
		return f3 == 0 ? OP_SUBW : f3 == 5 ? OP_SRAW : OP_ILLEGAL;
	if (f7 == 1) {
		static const int m[8] = { OP_MULW, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL,
					  OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW };
		return m[f3];
	}
	return OP_ILLEGAL;
}

int decode__op(uint32_t w, int32_t *imm)
{
	uint32_t f3 = (w >> 12) & 7;
	static const int loads[8] = { OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU, OP_ILLEGAL };
	static const int stores[8] = { OP_SB, OP_SH, OP_SW, OP_SD, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL };
	static const int branches[8] = { OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU };
	*imm = imm_i(w);
	switch (w & 0x7f) {
	case 0x37:
		*imm = (int32_t)(w & 0xfffff000);
		return OP_LUI;
	case 0x17:
		*imm = (int32_t)(w & 0xfffff000);
		return OP_AUIPC;
	case 0x6f:
		*imm = imm_j(w);
		return OP_JAL;
	case 0x67:
		return f3 == 0 ? OP_JALR : OP_ILLEGAL;
	case 0x63:
		*imm = imm_b(w);
		return branches[f3];
	case 0x03:
		return loads[f3];
	case 0x23:
		*imm = imm_s(w);
		return stores[f3];
	case 0x13:
		return op_imm(w, f3);
	case 0x1b:
		return op_imm32(w, f3);
	case 0x33:
		return op_reg(w, f3);
	case 0x3b:
		return op_reg32(w, f3);
	case 0x0f:
		return f3 <= 1 ? OP_FENCE : OP_ILLEGAL;
	case 0x07:
		return f3 == 2 ? OP_FLW : f3 == 3 ? OP_FLD : OP_ILLEGAL;
	case 0x27:
		*imm = imm_s(w);
		return f3 == 2 ? OP_FSW : f3 == 3 ? OP_FSD : OP_ILLEGAL;
	case 0x2f:
		*imm = (int32_t)w;
		return OP_AMO;
	case 0x73:
		*imm = (int32_t)w;
		return f3 == 0 ? OP_SYSTEM : f3 == 4 ? OP_ILLEGAL : OP_CSR;
	case 0x43:
	case 0x47:
	case 0x4b:
	case 0x4f:
	case 0x53:
		*imm = (int32_t)w;
		return OP_FP;
	}
	return OP_ILLEGAL;
}
