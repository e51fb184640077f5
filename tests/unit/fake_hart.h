/*
 * A hart over a fake bus for the CPU/MMU unit tests: malloc'd RAM at 0x80000000, MMIO callbacks
 * that refuse every access, a `time` CSR driven by the test, and no SBI.
 *
 * Also a small RV64 encoder for writing test programs as 32-bit instruction words.
 */
#ifndef WISP_TESTS_FAKE_HART_H
#define WISP_TESTS_FAKE_HART_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"

#define FAKE_RAM_BASE 0x80000000ull
#define FAKE_RAM_SIZE (4ull << 20)

struct fake_hart {
	struct rv_bus bus;
	struct rv_cpu *cpu;
	uint64_t now; /* what the `time` CSR reads */
	unsigned mmio_reads, mmio_writes;
	enum rv_exit why;
};

static inline uint64_t fake_time(void *opaque)
{
	return ((struct fake_hart *)opaque)->now;
}

static inline bool fake_mmio_read(void *opaque, uint64_t paddr, unsigned size, uint64_t *val)
{
	(void)paddr;
	(void)size;
	(void)val;
	((struct fake_hart *)opaque)->mmio_reads++;
	return false;
}

static inline bool fake_mmio_write(void *opaque, uint64_t paddr, unsigned size, uint64_t val)
{
	(void)paddr;
	(void)size;
	(void)val;
	((struct fake_hart *)opaque)->mmio_writes++;
	return false;
}

static inline struct fake_hart *fake_hart__new(void)
{
	struct fake_hart *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->bus.ram = calloc(1, FAKE_RAM_SIZE);
	h->cpu = calloc(1, sizeof(*h->cpu));
	if (!h->bus.ram || !h->cpu) {
		free(h->bus.ram);
		free(h->cpu);
		free(h);
		return NULL;
	}
	h->bus.ram_base = FAKE_RAM_BASE;
	h->bus.ram_size = FAKE_RAM_SIZE;
	h->bus.opaque = h;
	h->bus.mmio_read = fake_mmio_read;
	h->bus.mmio_write = fake_mmio_write;
	h->bus.watch_page = ~0ull;
	h->bus.watch_write = NULL;
	h->bus.dirty = NULL;
	struct rv_platform plat = { .opaque = h, .time = fake_time, .ecall = NULL };
	cpu__init(h->cpu, 0, &h->bus, &plat);
	return h;
}

static inline void fake_hart__free(struct fake_hart *h)
{
	if (!h)
		return;
	cpu__exit(h->cpu);
	free(h->bus.ram);
	free((void *)h->bus.code);
	free((void *)h->bus.resv);
	free(h->cpu);
	free(h);
}

/* Host pointer for guest physical address pa (must be RAM). */
static inline void *fake_hart__ram(struct fake_hart *h, uint64_t pa)
{
	return h->bus.ram + (pa - FAKE_RAM_BASE);
}

static inline void fake_hart__put32(struct fake_hart *h, uint64_t pa, uint32_t v)
{
	memcpy(fake_hart__ram(h, pa), &v, 4);
	cpu__flush_icache(h->cpu); /* the test writes code: act as FENCE.I */
}

static inline void fake_hart__put16(struct fake_hart *h, uint64_t pa, uint16_t v)
{
	memcpy(fake_hart__ram(h, pa), &v, 2);
	cpu__flush_icache(h->cpu); /* the test writes code: act as FENCE.I */
}

static inline void fake_hart__put64(struct fake_hart *h, uint64_t pa, uint64_t v)
{
	memcpy(fake_hart__ram(h, pa), &v, 8);
	cpu__flush_icache(h->cpu); /* the test writes code: act as FENCE.I */
}

static inline uint64_t fake_hart__get64(struct fake_hart *h, uint64_t pa)
{
	uint64_t v;
	memcpy(&v, fake_hart__ram(h, pa), 8);
	return v;
}

static inline uint32_t fake_hart__get32(struct fake_hart *h, uint64_t pa)
{
	uint32_t v;
	memcpy(&v, fake_hart__ram(h, pa), 4);
	return v;
}

/* Copy n instruction words to pa. */
static inline void fake_hart__load(struct fake_hart *h, uint64_t pa, const uint32_t *code, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fake_hart__put32(h, pa + 4 * i, code[i]);
}

/* Run up to budget instructions; returns how many cpu__run reports. */
static inline uint64_t fake_hart__run(struct fake_hart *h, uint64_t budget)
{
	return cpu__run(h->cpu, budget, &h->why);
}

/* ---- RV64 encoder ---- */

enum {
	R_ZERO, R_RA, R_SP, R_GP, R_TP, R_T0, R_T1, R_T2, R_S0, R_S1, R_A0, R_A1, R_A2, R_A3, R_A4, R_A5,
	R_A6, R_A7, R_S2, R_S3, R_S4, R_S5, R_S6, R_S7, R_S8, R_S9, R_S10, R_S11, R_T3, R_T4, R_T5, R_T6,
};

static inline uint32_t enc_r(uint32_t op, unsigned rd, unsigned f3, unsigned rs1, unsigned rs2, unsigned f7)
{
	return (uint32_t)f7 << 25 | (uint32_t)rs2 << 20 | (uint32_t)rs1 << 15 | (uint32_t)f3 << 12 |
	       (uint32_t)rd << 7 | op;
}

static inline uint32_t enc_i(uint32_t op, unsigned rd, unsigned f3, unsigned rs1, int32_t imm)
{
	return ((uint32_t)imm & 0xfff) << 20 | (uint32_t)rs1 << 15 | (uint32_t)f3 << 12 | (uint32_t)rd << 7 | op;
}

static inline uint32_t enc_s(uint32_t op, unsigned f3, unsigned rs1, unsigned rs2, int32_t imm)
{
	uint32_t u = (uint32_t)imm;
	return ((u >> 5) & 0x7f) << 25 | (uint32_t)rs2 << 20 | (uint32_t)rs1 << 15 | (uint32_t)f3 << 12 |
	       (u & 0x1f) << 7 | op;
}

static inline uint32_t enc_b(unsigned f3, unsigned rs1, unsigned rs2, int32_t imm)
{
	uint32_t u = (uint32_t)imm;
	return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | (uint32_t)rs2 << 20 | (uint32_t)rs1 << 15 |
	       (uint32_t)f3 << 12 | ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}

/* imm is the full 32-bit value whose upper 20 bits go into the instruction. */
static inline uint32_t enc_u(uint32_t op, unsigned rd, uint32_t imm)
{
	return (imm & 0xfffff000) | (uint32_t)rd << 7 | op;
}

static inline uint32_t enc_j(unsigned rd, int32_t imm)
{
	uint32_t u = (uint32_t)imm;
	return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 | ((u >> 12) & 0xff) << 12 |
	       (uint32_t)rd << 7 | 0x6f;
}

#define OPC_LOAD 0x03
#define OPC_LOADFP 0x07
#define OPC_MISCMEM 0x0f
#define OPC_IMM 0x13
#define OPC_AUIPC 0x17
#define OPC_IMM32 0x1b
#define OPC_STORE 0x23
#define OPC_STOREFP 0x27
#define OPC_AMO 0x2f
#define OPC_OP 0x33
#define OPC_LUI 0x37
#define OPC_OP32 0x3b
#define OPC_JALR 0x67
#define OPC_SYSTEM 0x73

#define ADD(d, a, b) enc_r(OPC_OP, d, 0, a, b, 0)
#define SUB(d, a, b) enc_r(OPC_OP, d, 0, a, b, 0x20)
#define SLL(d, a, b) enc_r(OPC_OP, d, 1, a, b, 0)
#define SLT(d, a, b) enc_r(OPC_OP, d, 2, a, b, 0)
#define SLTU(d, a, b) enc_r(OPC_OP, d, 3, a, b, 0)
#define XOR(d, a, b) enc_r(OPC_OP, d, 4, a, b, 0)
#define SRL(d, a, b) enc_r(OPC_OP, d, 5, a, b, 0)
#define SRA(d, a, b) enc_r(OPC_OP, d, 5, a, b, 0x20)
#define OR(d, a, b) enc_r(OPC_OP, d, 6, a, b, 0)
#define AND(d, a, b) enc_r(OPC_OP, d, 7, a, b, 0)
#define MUL(d, a, b) enc_r(OPC_OP, d, 0, a, b, 1)
#define MULH(d, a, b) enc_r(OPC_OP, d, 1, a, b, 1)
#define MULHSU(d, a, b) enc_r(OPC_OP, d, 2, a, b, 1)
#define MULHU(d, a, b) enc_r(OPC_OP, d, 3, a, b, 1)
#define DIV(d, a, b) enc_r(OPC_OP, d, 4, a, b, 1)
#define DIVU(d, a, b) enc_r(OPC_OP, d, 5, a, b, 1)
#define REM(d, a, b) enc_r(OPC_OP, d, 6, a, b, 1)
#define REMU(d, a, b) enc_r(OPC_OP, d, 7, a, b, 1)
#define ADDW(d, a, b) enc_r(OPC_OP32, d, 0, a, b, 0)
#define SUBW(d, a, b) enc_r(OPC_OP32, d, 0, a, b, 0x20)
#define SLLW(d, a, b) enc_r(OPC_OP32, d, 1, a, b, 0)
#define SRLW(d, a, b) enc_r(OPC_OP32, d, 5, a, b, 0)
#define SRAW(d, a, b) enc_r(OPC_OP32, d, 5, a, b, 0x20)
#define MULW(d, a, b) enc_r(OPC_OP32, d, 0, a, b, 1)
#define DIVW(d, a, b) enc_r(OPC_OP32, d, 4, a, b, 1)
#define DIVUW(d, a, b) enc_r(OPC_OP32, d, 5, a, b, 1)
#define REMW(d, a, b) enc_r(OPC_OP32, d, 6, a, b, 1)
#define REMUW(d, a, b) enc_r(OPC_OP32, d, 7, a, b, 1)

#define ADDI(d, a, i) enc_i(OPC_IMM, d, 0, a, i)
#define SLTI(d, a, i) enc_i(OPC_IMM, d, 2, a, i)
#define SLTIU(d, a, i) enc_i(OPC_IMM, d, 3, a, i)
#define XORI(d, a, i) enc_i(OPC_IMM, d, 4, a, i)
#define ORI(d, a, i) enc_i(OPC_IMM, d, 6, a, i)
#define ANDI(d, a, i) enc_i(OPC_IMM, d, 7, a, i)
#define SLLI(d, a, sh) enc_i(OPC_IMM, d, 1, a, sh)
#define SRLI(d, a, sh) enc_i(OPC_IMM, d, 5, a, sh)
#define SRAI(d, a, sh) enc_i(OPC_IMM, d, 5, a, 0x400 | (sh))
#define ADDIW(d, a, i) enc_i(OPC_IMM32, d, 0, a, i)
#define SLLIW(d, a, sh) enc_i(OPC_IMM32, d, 1, a, sh)
#define SRLIW(d, a, sh) enc_i(OPC_IMM32, d, 5, a, sh)
#define SRAIW(d, a, sh) enc_i(OPC_IMM32, d, 5, a, 0x400 | (sh))
#define LUI(d, v) enc_u(OPC_LUI, d, v)
#define AUIPC(d, v) enc_u(OPC_AUIPC, d, v)

#define LB(d, a, i) enc_i(OPC_LOAD, d, 0, a, i)
#define LH(d, a, i) enc_i(OPC_LOAD, d, 1, a, i)
#define LW(d, a, i) enc_i(OPC_LOAD, d, 2, a, i)
#define LD(d, a, i) enc_i(OPC_LOAD, d, 3, a, i)
#define LBU(d, a, i) enc_i(OPC_LOAD, d, 4, a, i)
#define LHU(d, a, i) enc_i(OPC_LOAD, d, 5, a, i)
#define LWU(d, a, i) enc_i(OPC_LOAD, d, 6, a, i)
#define SB(s, a, i) enc_s(OPC_STORE, 0, a, s, i)
#define SH(s, a, i) enc_s(OPC_STORE, 1, a, s, i)
#define SW(s, a, i) enc_s(OPC_STORE, 2, a, s, i)
#define SD(s, a, i) enc_s(OPC_STORE, 3, a, s, i)

#define BEQ(a, b, i) enc_b(0, a, b, i)
#define BNE(a, b, i) enc_b(1, a, b, i)
#define BLT(a, b, i) enc_b(4, a, b, i)
#define BGE(a, b, i) enc_b(5, a, b, i)
#define BLTU(a, b, i) enc_b(6, a, b, i)
#define BGEU(a, b, i) enc_b(7, a, b, i)
#define JAL(d, i) enc_j(d, i)
#define JALR(d, a, i) enc_i(OPC_JALR, d, 0, a, i)

/* AMOs: f5 is funct5; aq/rl left clear. */
#define AMO(f5, w, d, addr, src) enc_r(OPC_AMO, d, (w) ? 2 : 3, addr, src, (f5) << 2)
#define LR_W(d, a) AMO(0x02, 1, d, a, 0)
#define LR_D(d, a) AMO(0x02, 0, d, a, 0)
#define SC_W(d, a, s) AMO(0x03, 1, d, a, s)
#define SC_D(d, a, s) AMO(0x03, 0, d, a, s)
#define AMOADD_W(d, a, s) AMO(0x00, 1, d, a, s)
#define AMOADD_D(d, a, s) AMO(0x00, 0, d, a, s)
#define AMOSWAP_D(d, a, s) AMO(0x01, 0, d, a, s)

#define CSRRW(d, csr, s) enc_i(OPC_SYSTEM, d, 1, s, (int32_t)(csr))
#define CSRRS(d, csr, s) enc_i(OPC_SYSTEM, d, 2, s, (int32_t)(csr))
#define CSRRC(d, csr, s) enc_i(OPC_SYSTEM, d, 3, s, (int32_t)(csr))
#define CSRRWI(d, csr, u) enc_i(OPC_SYSTEM, d, 5, u, (int32_t)(csr))
#define CSRRSI(d, csr, u) enc_i(OPC_SYSTEM, d, 6, u, (int32_t)(csr))
#define CSRRCI(d, csr, u) enc_i(OPC_SYSTEM, d, 7, u, (int32_t)(csr))

#define ECALL 0x00000073u
#define EBREAK 0x00100073u
#define SRET 0x10200073u
#define MRET 0x30200073u
#define WFI 0x10500073u
#define NOP ADDI(0, 0, 0)

/* CSR numbers used by the tests (from the privileged spec). */
enum {
	CSR_NUM_FFLAGS = 0x001, CSR_NUM_FRM = 0x002, CSR_NUM_FCSR = 0x003,
	CSR_NUM_SSTATUS = 0x100, CSR_NUM_SIE = 0x104, CSR_NUM_STVEC = 0x105, CSR_NUM_SCOUNTEREN = 0x106,
	CSR_NUM_SSCRATCH = 0x140, CSR_NUM_SEPC = 0x141, CSR_NUM_SCAUSE = 0x142, CSR_NUM_STVAL = 0x143,
	CSR_NUM_SIP = 0x144, CSR_NUM_SATP = 0x180,
	CSR_NUM_MSTATUS = 0x300, CSR_NUM_MISA = 0x301, CSR_NUM_MEDELEG = 0x302, CSR_NUM_MIDELEG = 0x303,
	CSR_NUM_MIE = 0x304, CSR_NUM_MTVEC = 0x305, CSR_NUM_MCOUNTEREN = 0x306, CSR_NUM_MSCRATCH = 0x340,
	CSR_NUM_MEPC = 0x341, CSR_NUM_MCAUSE = 0x342, CSR_NUM_MTVAL = 0x343, CSR_NUM_MIP = 0x344,
	CSR_NUM_MCYCLE = 0xb00, CSR_NUM_MINSTRET = 0xb02,
	CSR_NUM_CYCLE = 0xc00, CSR_NUM_TIME = 0xc01, CSR_NUM_INSTRET = 0xc02,
	CSR_NUM_MVENDORID = 0xf11, CSR_NUM_MHARTID = 0xf14,
};

#endif
