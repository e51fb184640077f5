/* Helpers shared by the files of the CPU (both backends); not part of the CPU's public interface. */
#ifndef WISP_CPU_INTERNAL_H
#define WISP_CPU_INTERNAL_H

#include "cpu/cpu.h"

static inline uint64_t cpu__instret(const struct rv_cpu *cpu)
{
	/* Inside an instruction the budget already counts that instruction: it has not retired yet. */
	return cpu->retired + (uint64_t)(cpu->budget_start - cpu->budget - cpu->budget_unused) -
	       (uint64_t)cpu->executing + cpu->instret_offset;
}

static inline int64_t sx32(uint64_t v)
{
	return (int32_t)v;
}

static inline uint64_t mulhu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

static inline uint64_t mulh(int64_t a, int64_t b)
{
	return (uint64_t)(((__int128)a * b) >> 64);
}

static inline uint64_t mulhsu(int64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)a * (unsigned __int128)b) >> 64);
}

/* ---- ops.c: instruction semantics shared by the interpreter and the translator ---- */

_Noreturn void ops__illegal(struct rv_cpu *cpu, uint32_t insn);
/* The raw bits of the instruction at pc (for tval), read through the exec TLB. */
uint32_t ops__raw_insn(struct rv_cpu *cpu, uint64_t pc);
/* DIV/DIVU/REM/REMU (f3 = 4..7; 0..3: MUL, MULH, MULHSU, MULHU) and their W forms (f3 = 0, 4..7). */
uint64_t ops__m64(uint32_t f3, uint64_t a, uint64_t b);
uint64_t ops__m32(uint32_t f3, uint64_t a, uint64_t b);
/* The A extension: LR, SC, AMOs (writes x[rd] itself). */
void ops__amo(struct rv_cpu *cpu, uint32_t insn, uint64_t addr, uint64_t src);
/* Zicsr: csrrw/s/c[i] (writes x[rd] itself). */
void ops__csr(struct rv_cpu *cpu, uint32_t insn);
/* SYSTEM with funct3 = 0: ecall, ebreak, xret, wfi, sfence.vma. Returns true if it set pc. */
bool ops__system(struct rv_cpu *cpu, uint32_t insn);

/* ---- exec.c: the interpreter ---- */

/* Run decoded blocks until the budget is used up (or an exit is requested); traps longjmp out. */
void interp__run(struct rv_cpu *cpu);
/* Execute exactly one instruction with the interpreter (the translator's fallback); may longjmp. */
void interp__step(struct rv_cpu *cpu);
/* A store is about to write [host, host + len): drop the decoded blocks of that page if it overlaps one
 * (returns true). *page_empty: the page has no decoded block left. */
bool interp__code_written(struct rv_cpu *cpu, const uint8_t *host, unsigned len, bool *page_empty);

/* ---- cpu.c: guest code tracking (self-modifying code) ---- */

/*
 * Record that [host, host + len) holds instructions a backend has decoded or translated: stores to
 * those bytes then take the MMU's slow path, which calls cpu__code_written.
 */
void cpu__code_mark(struct rv_cpu *cpu, const uint8_t *host, unsigned len);

/* LR on RAM at paddr: with several harts, take the reservation where other harts' stores see it. */
void cpu__reserve(struct rv_cpu *cpu, uint64_t paddr);
/* SC: is the reservation on paddr still ours (no other hart stored there)? Consumes it. */
bool cpu__reservation_held(struct rv_cpu *cpu, uint64_t paddr);

#endif
