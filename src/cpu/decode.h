/* Pre-decoded instructions: the interpreter dispatches on these instead of re-decoding bits. */
#ifndef WISP_CPU_DECODE_H
#define WISP_CPU_DECODE_H

#include <stdint.h>

#define OPS(X)                                                                                              \
	X(ILLEGAL) X(LUI) X(AUIPC) X(JAL) X(JALR) X(BEQ) X(BNE) X(BLT) X(BGE) X(BLTU) X(BGEU)              \
	X(LB) X(LH) X(LW) X(LD) X(LBU) X(LHU) X(LWU) X(SB) X(SH) X(SW) X(SD)                               \
	X(ADDI) X(SLTI) X(SLTIU) X(XORI) X(ORI) X(ANDI) X(SLLI) X(SRLI) X(SRAI)                            \
	X(ADDIW) X(SLLIW) X(SRLIW) X(SRAIW)                                                                 \
	X(ADD) X(SUB) X(SLL) X(SLT) X(SLTU) X(XOR) X(SRL) X(SRA) X(OR) X(AND)                              \
	X(MUL) X(MULH) X(MULHSU) X(MULHU) X(DIV) X(DIVU) X(REM) X(REMU)                                    \
	X(ADDW) X(SUBW) X(SLLW) X(SRLW) X(SRAW) X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW)                  \
	X(FENCE) X(AMO) X(SYSTEM) X(CSR) X(FLW) X(FLD) X(FSW) X(FSD) X(FP)

enum rv_op {
#define OP_ENUM(name) OP_##name,
	OPS(OP_ENUM)
#undef OP_ENUM
	OP_COUNT
};

/*
 * Decode one 32-bit (already expanded) instruction word. Returns the operation; *imm gets the
 * immediate, or for AMO/SYSTEM/CSR/FP the whole instruction word.
 */
int decode__op(uint32_t w, int32_t *imm);

#endif
