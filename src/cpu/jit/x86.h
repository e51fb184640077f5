/*
 * The translator's host back end: an x86-64 instruction encoder. Each function appends one host
 * instruction to a code buffer. Only the forms the translator uses are here: 64- and 32-bit integer
 * operations on registers, memory operands [base + index * scale + disp], immediates, branches with
 * 32-bit displacements that can be patched later, and the scalar SSE / FMA operations of the FPU.
 *
 * Encoding reference: Intel SDM volume 2 (REX prefix, ModRM/SIB, VEX). The buffer never overflows:
 * the translator reserves room before each guest instruction and a full buffer sets `overflow`.
 */
#ifndef WISP_CPU_JIT_X86_H
#define WISP_CPU_JIT_X86_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum host_reg {
	RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
	XNONE = -1,
};

/* Condition codes (the low nibble of Jcc/SETcc/CMOVcc). */
enum host_cc {
	CC_O, CC_NO, CC_B, CC_AE, CC_E, CC_NE, CC_BE, CC_A, CC_S, CC_NS, CC_P, CC_NP, CC_L, CC_GE, CC_LE, CC_G,
};

/* Group-1 ALU operations (the /digit of 0x81/0x83 and the opcode row of the r/m forms). */
enum host_alu { ALU_ADD = 0, ALU_OR = 1, ALU_ADC = 2, ALU_SBB = 3, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7 };

/* Group-2 shifts (the /digit of 0xC1/0xD3). */
enum host_shift { SH_ROL = 0, SH_ROR = 1, SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

struct x86_mem {
	int base;  /* x86_reg, or XNONE for RIP-relative (not used) */
	int index; /* x86_reg or XNONE */
	int scale; /* 1, 2, 4, 8 */
	int32_t disp;
};

static inline struct x86_mem M(int base, int32_t disp)
{
	return (struct x86_mem){ base, XNONE, 1, disp };
}

static inline struct x86_mem MI(int base, int index, int scale, int32_t disp)
{
	return (struct x86_mem){ base, index, scale, disp };
}

struct x86_buf {
	uint8_t *start, *p, *end;
	bool overflow;
};

static inline void x86__byte(struct x86_buf *b, uint8_t v)
{
	if (b->p < b->end)
		*b->p++ = v;
	else
		b->overflow = true;
}

static inline void x86__u32(struct x86_buf *b, uint32_t v)
{
	if (b->end - b->p >= 4) {
		memcpy(b->p, &v, 4);
		b->p += 4;
	} else {
		b->overflow = true;
	}
}

static inline void x86__u64(struct x86_buf *b, uint64_t v)
{
	x86__u32(b, (uint32_t)v);
	x86__u32(b, (uint32_t)(v >> 32));
}

static inline bool fits8(int64_t v)
{
	return v >= -128 && v <= 127;
}

static inline bool fits32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

/* REX prefix: emitted when any of W/R/X/B is set, or `force` (byte access to SPL/BPL/SIL/DIL). */
static inline void x86__rex(struct x86_buf *b, bool w, int reg, int index, int base, bool force)
{
	uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((index & 8) && index >= 0 ? 2 : 0) |
				((base & 8) && base >= 0 ? 1 : 0));
	if (rex != 0x40 || force)
		x86__byte(b, rex);
}

/* ModRM (+ SIB + displacement) for a memory operand with `reg` in the reg field. */
static inline void x86__modrm_mem(struct x86_buf *b, int reg, struct x86_mem m)
{
	int r = reg & 7;
	int base = m.base & 7;
	int mod = m.disp == 0 && base != RBP ? 0 : fits8(m.disp) ? 1 : 2;
	if (m.index == XNONE && base != RSP) {
		x86__byte(b, (uint8_t)(mod << 6 | r << 3 | base));
	} else {
		int ss = m.scale == 8 ? 3 : m.scale == 4 ? 2 : m.scale == 2 ? 1 : 0;
		int idx = m.index == XNONE ? RSP : (m.index & 7); /* index 100 = none */
		x86__byte(b, (uint8_t)(mod << 6 | r << 3 | 4));
		x86__byte(b, (uint8_t)(ss << 6 | idx << 3 | base));
	}
	if (mod == 1)
		x86__byte(b, (uint8_t)(int8_t)m.disp);
	else if (mod == 2)
		x86__u32(b, (uint32_t)m.disp);
}

static inline void x86__modrm_reg(struct x86_buf *b, int reg, int rm)
{
	x86__byte(b, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

/* op reg, r/m (register form): `opc` is one or two bytes (two when > 0xff: 0x0Fxx). */
static inline void x86__op_rr(struct x86_buf *b, unsigned opc, bool w, int reg, int rm, bool force_rex)
{
	x86__rex(b, w, reg, XNONE, rm, force_rex);
	if (opc > 0xff)
		x86__byte(b, (uint8_t)(opc >> 8));
	x86__byte(b, (uint8_t)opc);
	x86__modrm_reg(b, reg, rm);
}

static inline void x86__op_rm(struct x86_buf *b, unsigned opc, bool w, int reg, struct x86_mem m, bool force_rex)
{
	x86__rex(b, w, reg, m.index, m.base, force_rex);
	if (opc > 0xff)
		x86__byte(b, (uint8_t)(opc >> 8));
	x86__byte(b, (uint8_t)opc);
	x86__modrm_mem(b, reg, m);
}

/* ---- moves ---- */

/* dst = src (64-bit, or 32-bit zero-extending when !w). */
static inline void x86_mov_rr(struct x86_buf *b, bool w, int dst, int src)
{
	x86__op_rr(b, 0x89, w, src, dst, false);
}

static inline void x86_load(struct x86_buf *b, bool w, int dst, struct x86_mem m)
{
	x86__op_rm(b, 0x8b, w, dst, m, false);
}

static inline void x86_store(struct x86_buf *b, bool w, struct x86_mem m, int src)
{
	x86__op_rm(b, 0x89, w, src, m, false);
}

/* Stores of 1, 2, 4 or 8 bytes of src. */
static inline void x86_store_n(struct x86_buf *b, unsigned size, struct x86_mem m, int src)
{
	switch (size) {
	case 1:
		x86__op_rm(b, 0x88, false, src, m, src >= RSP);
		break;
	case 2:
		x86__byte(b, 0x66);
		x86__op_rm(b, 0x89, false, src, m, false);
		break;
	default:
		x86__op_rm(b, 0x89, size == 8, src, m, false);
		break;
	}
}

/* Loads of 1, 2, 4 or 8 bytes into a 64-bit register, sign- or zero-extended. */
static inline void x86_load_n(struct x86_buf *b, unsigned size, bool sign, int dst, struct x86_mem m)
{
	switch (size) {
	case 1:
		x86__op_rm(b, sign ? 0x0fbe : 0x0fb6, sign, dst, m, false);
		break;
	case 2:
		x86__op_rm(b, sign ? 0x0fbf : 0x0fb7, sign, dst, m, false);
		break;
	case 4:
		x86__op_rm(b, sign ? 0x63 : 0x8b, sign, dst, m, false);
		break;
	default:
		x86__op_rm(b, 0x8b, true, dst, m, false);
		break;
	}
}

/* dst = imm (shortest encoding). */
static inline void x86_mov_ri(struct x86_buf *b, int dst, uint64_t imm)
{
	if (imm == 0) {
		x86__op_rr(b, 0x31, false, dst, dst, false); /* xor r32, r32 */
	} else if (imm <= 0xffffffffull) {
		x86__rex(b, false, 0, XNONE, dst, false);
		x86__byte(b, (uint8_t)(0xb8 | (dst & 7)));
		x86__u32(b, (uint32_t)imm);
	} else if (fits32((int64_t)imm)) {
		x86__rex(b, true, 0, XNONE, dst, false);
		x86__byte(b, 0xc7);
		x86__modrm_reg(b, 0, dst);
		x86__u32(b, (uint32_t)imm);
	} else {
		x86__rex(b, true, 0, XNONE, dst, false);
		x86__byte(b, (uint8_t)(0xb8 | (dst & 7)));
		x86__u64(b, imm);
	}
}

/* mov qword/dword [m], simm32 */
static inline void x86_store_imm(struct x86_buf *b, bool w, struct x86_mem m, int32_t imm)
{
	x86__op_rm(b, 0xc7, w, 0, m, false);
	x86__u32(b, (uint32_t)imm);
}

static inline void x86_store_imm8(struct x86_buf *b, struct x86_mem m, uint8_t imm)
{
	x86__op_rm(b, 0xc6, false, 0, m, false);
	x86__byte(b, imm);
}

static inline void x86_lea(struct x86_buf *b, bool w, int dst, struct x86_mem m)
{
	x86__op_rm(b, 0x8d, w, dst, m, false);
}

/* movsxd dst, src32 */
static inline void x86_movsxd(struct x86_buf *b, int dst, int src)
{
	x86__op_rr(b, 0x63, true, dst, src, false);
}

/* Sign or zero extension of the low 8/16 bits of src into dst (64-bit). */
static inline void x86_movx(struct x86_buf *b, unsigned size, bool sign, int dst, int src)
{
	unsigned opc = size == 1 ? (sign ? 0x0fbe : 0x0fb6) : (sign ? 0x0fbf : 0x0fb7);
	x86__op_rr(b, opc, sign, dst, src, size == 1 && src >= RSP);
}

/* ---- integer ALU ---- */

static inline void x86_alu_rr(struct x86_buf *b, enum host_alu op, bool w, int dst, int src)
{
	x86__op_rr(b, (unsigned)(op << 3 | 1), w, src, dst, false);
}

static inline void x86_alu_rm(struct x86_buf *b, enum host_alu op, bool w, int dst, struct x86_mem m)
{
	x86__op_rm(b, (unsigned)(op << 3 | 3), w, dst, m, false);
}

static inline void x86_alu_mr(struct x86_buf *b, enum host_alu op, bool w, struct x86_mem m, int src)
{
	x86__op_rm(b, (unsigned)(op << 3 | 1), w, src, m, false);
}

static inline void x86_alu_ri(struct x86_buf *b, enum host_alu op, bool w, int dst, int32_t imm)
{
	if (fits8(imm)) {
		x86__op_rr(b, 0x83, w, op, dst, false);
		x86__byte(b, (uint8_t)(int8_t)imm);
	} else {
		x86__op_rr(b, 0x81, w, op, dst, false);
		x86__u32(b, (uint32_t)imm);
	}
}

static inline void x86_alu_mi(struct x86_buf *b, enum host_alu op, bool w, struct x86_mem m, int32_t imm)
{
	if (fits8(imm)) {
		x86__op_rm(b, 0x83, w, op, m, false);
		x86__byte(b, (uint8_t)(int8_t)imm);
	} else {
		x86__op_rm(b, 0x81, w, op, m, false);
		x86__u32(b, (uint32_t)imm);
	}
}

/* cmp byte [m], imm8 */
static inline void x86_cmp_m8i(struct x86_buf *b, struct x86_mem m, uint8_t imm)
{
	x86__op_rm(b, 0x80, false, ALU_CMP, m, false);
	x86__byte(b, imm);
}

static inline void x86_test_rr(struct x86_buf *b, bool w, int a, int c)
{
	x86__op_rr(b, 0x85, w, c, a, false);
}

/* test dword/qword [m], imm32 */
static inline void x86_test_mi(struct x86_buf *b, bool w, struct x86_mem m, int32_t imm)
{
	x86__op_rm(b, 0xf7, w, 0, m, false);
	x86__u32(b, (uint32_t)imm);
}

static inline void x86_shift_ri(struct x86_buf *b, enum host_shift op, bool w, int dst, unsigned n)
{
	x86__op_rr(b, 0xc1, w, op, dst, false);
	x86__byte(b, (uint8_t)n);
}

/* dst = dst shifted by CL */
static inline void x86_shift_cl(struct x86_buf *b, enum host_shift op, bool w, int dst)
{
	x86__op_rr(b, 0xd3, w, op, dst, false);
}

/* dst = dst * src (low half) */
static inline void x86_imul_rr(struct x86_buf *b, bool w, int dst, int src)
{
	x86__op_rr(b, 0x0faf, w, dst, src, false);
}

/* One-operand group 3: /2 not, /3 neg, /4 mul, /5 imul, /6 div, /7 idiv (RDX:RAX). */
static inline void x86_grp3(struct x86_buf *b, unsigned digit, bool w, int rm)
{
	x86__op_rr(b, 0xf7, w, (int)digit, rm, false);
}

static inline void x86_cqo(struct x86_buf *b)
{
	x86__byte(b, 0x48);
	x86__byte(b, 0x99);
}

static inline void x86_cdq(struct x86_buf *b)
{
	x86__byte(b, 0x99);
}

/* dst8 = cc ? 1 : 0 (then zero-extend with x86_movx) */
static inline void x86_setcc(struct x86_buf *b, enum host_cc cc, int dst)
{
	x86__op_rr(b, 0x0f90u | cc, false, 0, dst, dst >= RSP);
}

static inline void x86_cmov(struct x86_buf *b, enum host_cc cc, bool w, int dst, int src)
{
	x86__op_rr(b, 0x0f40u | cc, w, dst, src, false);
}

static inline void x86_push(struct x86_buf *b, int r)
{
	x86__rex(b, false, 0, XNONE, r, false);
	x86__byte(b, (uint8_t)(0x50 | (r & 7)));
}

static inline void x86_pop(struct x86_buf *b, int r)
{
	x86__rex(b, false, 0, XNONE, r, false);
	x86__byte(b, (uint8_t)(0x58 | (r & 7)));
}

static inline void x86_ret(struct x86_buf *b)
{
	x86__byte(b, 0xc3);
}

/* ---- control flow: 32-bit displacements, returned as patchable offsets ---- */

/* Emit jmp rel32 with a zero displacement; returns the address of the displacement field. */
static inline uint8_t *x86_jmp32(struct x86_buf *b)
{
	x86__byte(b, 0xe9);
	uint8_t *at = b->p;
	x86__u32(b, 0);
	return at;
}

static inline uint8_t *x86_jcc32(struct x86_buf *b, enum host_cc cc)
{
	x86__byte(b, 0x0f);
	x86__byte(b, (uint8_t)(0x80 | cc));
	uint8_t *at = b->p;
	x86__u32(b, 0);
	return at;
}

/* Point the rel32 field at `at` (in buffer `b`) to the buffer position `target`. */
static inline void x86_patch(uint8_t *at, const uint8_t *target)
{
	int32_t rel = (int32_t)(target - (at + 4));
	memcpy(at, &rel, 4);
}

/* call/jmp through a 64-bit pointer in memory */
static inline void x86_call_m(struct x86_buf *b, struct x86_mem m)
{
	x86__op_rm(b, 0xff, false, 2, m, false);
}

static inline void x86_jmp_m(struct x86_buf *b, struct x86_mem m)
{
	x86__op_rm(b, 0xff, false, 4, m, false);
}

static inline void x86_jmp_r(struct x86_buf *b, int r)
{
	x86__op_rr(b, 0xff, false, 4, r, false);
}

/* ---- scalar SSE (xmm0..xmm15 are numbered 0..15) ---- */

/* prefix (0x66/0xF2/0xF3 or 0) + REX + 0F op + modrm, register form */
static inline void x86__sse_rr(struct x86_buf *b, uint8_t prefix, bool w, uint8_t op, int reg, int rm)
{
	if (prefix)
		x86__byte(b, prefix);
	x86__rex(b, w, reg, XNONE, rm, false);
	x86__byte(b, 0x0f);
	x86__byte(b, op);
	x86__modrm_reg(b, reg, rm);
}

static inline void x86__sse_rm(struct x86_buf *b, uint8_t prefix, bool w, uint8_t op, int reg, struct x86_mem m)
{
	if (prefix)
		x86__byte(b, prefix);
	x86__rex(b, w, reg, m.index, m.base, false);
	x86__byte(b, 0x0f);
	x86__byte(b, op);
	x86__modrm_mem(b, reg, m);
}

/* movsd/movss xmm, [m]  and  [m], xmm  (dbl: F2 = double, F3 = single) */
static inline void x86_fload(struct x86_buf *b, bool dbl, int x, struct x86_mem m)
{
	x86__sse_rm(b, dbl ? 0xf2 : 0xf3, false, 0x10, x, m);
}

static inline void x86_fstore(struct x86_buf *b, bool dbl, struct x86_mem m, int x)
{
	x86__sse_rm(b, dbl ? 0xf2 : 0xf3, false, 0x11, x, m);
}

/* Arithmetic: op = 0x58 add, 0x59 mul, 0x5c sub, 0x5e div, 0x51 sqrt, 0x5d min, 0x5f max. */
static inline void x86_farith_rm(struct x86_buf *b, bool dbl, uint8_t op, int x, struct x86_mem m)
{
	x86__sse_rm(b, dbl ? 0xf2 : 0xf3, false, op, x, m);
}

static inline void x86_farith_rr(struct x86_buf *b, bool dbl, uint8_t op, int x, int y)
{
	x86__sse_rr(b, dbl ? 0xf2 : 0xf3, false, op, x, y);
}

/* ucomisd/ucomiss (quiet) or comisd/comiss (signalling) x, y */
static inline void x86_fcmp_rr(struct x86_buf *b, bool dbl, bool signalling, int x, int y)
{
	x86__sse_rr(b, dbl ? 0x66 : 0, false, signalling ? 0x2f : 0x2e, x, y);
}

/* cvtsi2sd/ss x, r32/r64 */
static inline void x86_cvt_i2f(struct x86_buf *b, bool dbl, bool w, int x, int r)
{
	x86__sse_rr(b, dbl ? 0xf2 : 0xf3, w, 0x2a, x, r);
}

/* cvttsd2si / cvtsd2si r32/r64, x (trunc: round toward zero; else MXCSR's mode) */
static inline void x86_cvt_f2i(struct x86_buf *b, bool dbl, bool w, bool trunc, int r, int x)
{
	x86__sse_rr(b, dbl ? 0xf2 : 0xf3, w, trunc ? 0x2c : 0x2d, r, x);
}

/* cvtsd2ss (dbl source) / cvtss2sd */
static inline void x86_cvt_ff(struct x86_buf *b, bool from_dbl, int x, int y)
{
	x86__sse_rr(b, from_dbl ? 0xf2 : 0xf3, false, 0x5a, x, y);
}

/* movq xmm, r64 / movq r64, xmm (movd when !w) */
static inline void x86_movq_xr(struct x86_buf *b, bool w, int x, int r)
{
	x86__sse_rr(b, 0x66, w, 0x6e, x, r);
}

static inline void x86_movq_rx(struct x86_buf *b, bool w, int r, int x)
{
	x86__sse_rr(b, 0x66, w, 0x7e, x, r);
}

/*
 * VEX-encoded FMA3 (0F38 map, 66 prefix): vfmadd231 (0xB9), vfmsub231 (0xBB), vfnmadd231 (0xBD),
 * vfnmsub231 (0xBF) scalar: x = ±(y * [m]) ± x. W1 = double, W0 = single.
 */
static inline void x86_fma231_rm(struct x86_buf *b, bool dbl, uint8_t op, int x, int y, struct x86_mem m)
{
	x86__byte(b, 0xc4);
	uint8_t rxb = (uint8_t)(((x & 8) ? 0 : 0x80) | ((m.index >= 0 && (m.index & 8)) ? 0 : 0x40) |
				((m.base & 8) ? 0 : 0x20) | 0x02);
	x86__byte(b, rxb);
	x86__byte(b, (uint8_t)((dbl ? 0x80 : 0) | ((~y & 15) << 3) | 0x01)); /* W vvvv L=0 pp=01 */
	x86__byte(b, op);
	x86__modrm_mem(b, x, m);
}

/* ldmxcsr / stmxcsr [m] */
static inline void x86_ldmxcsr(struct x86_buf *b, struct x86_mem m)
{
	x86__op_rm(b, 0x0fae, false, 2, m, false);
}

static inline void x86_stmxcsr(struct x86_buf *b, struct x86_mem m)
{
	x86__op_rm(b, 0x0fae, false, 3, m, false);
}

#endif
