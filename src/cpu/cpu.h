/* RV64GC hart state and the interface the rest of wisp uses to run it. */
#ifndef WISP_CPU_H
#define WISP_CPU_H

#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/codepages.h"
#include "cpu/decode.h"
#include "isa/rv.h"
#include "mmu/mmu.h"


struct rv_cpu;

/*
 * Decoded-block cache. A block is a run of instructions from one guest page, decoded once into
 * ops that the interpreter dispatches with one indirect jump each. Blocks are keyed by the host
 * address of their first instruction (i.e. by physical address) and live until FENCE.I (local or
 * by SBI remote fence), a reset, or the arena filling up: like hardware, code written without a
 * FENCE.I may keep executing stale instructions, which the ISA allows.
 */
struct rv_bop {
	const void *h; /* handler (computed-goto label) */
	uint8_t rd, rs1, rs2, len;
	int32_t imm;
};

struct rv_block {
	uintptr_t key; /* 0 once dropped (a store wrote over it) */
	struct rv_block *next;
	struct rv_block *pnext; /* next block decoded from the same RAM page */
	/* Successors last seen (taken / fall-through), checked by key before use. */
	struct rv_block *succ[2];
	uint32_t n;
	uint32_t glen; /* guest bytes covered from key */
	struct rv_bop ops[];
};

#define BCACHE_HASH 16384
#define BCACHE_ARENA (1u << 20)
#define BLOCK_MAX_OPS 64

struct rv_bcache {
	struct rv_block *hash[BCACHE_HASH];
	struct code_pages pages; /* per RAM page: the blocks decoded from it */
	size_t used;
	bool flush; /* flush at the next block boundary (never under a running block) */
	uint64_t builds, flushes;
	_Alignas(16) uint8_t arena[BCACHE_ARENA];
	/* A block that is not cached (an instruction straddling two pages). */
	_Alignas(16) uint8_t scratch[sizeof(struct rv_block) + 2 * sizeof(struct rv_bop)];
};

/*
 * What the hart needs from the machine around it. The CPU never knows which devices exist:
 * it sees guest RAM through the MMU and everything else through these callbacks.
 */
struct rv_platform {
	void *opaque;
	/* Guest time in timebase ticks (the `time` CSR). */
	uint64_t (*time)(void *opaque);
	/* ECALL from S-mode when the VMM plays the SBI firmware. Returns false to trap normally. */
	bool (*ecall)(void *opaque, struct rv_cpu *cpu);
	/* Wake the hart's thread if it sleeps (an interrupt line rose, mail arrived). Optional. */
	void (*wake)(void *opaque, struct rv_cpu *cpu);
	/* All the machine's harts (this one included), for shootdowns and reservations; NULL/0 = alone. */
	struct rv_cpu *const *harts;
	unsigned nharts;
};

/* What other threads ask a hart to do before it runs another block (cpu__post). */
enum rv_mail {
	MAIL_SYNC,        /* nothing: the sender only waits until the hart has taken its mail */
	MAIL_CODE_WRITE,  /* [paddr, paddr + len) was written: drop decoded code there */
	MAIL_UNMAP_WRITE, /* the RAM page at paddr is write-watched now: drop write-TLB entries to it */
	MAIL_TLB_FLUSH,   /* sfence.vma for another hart (SBI remote_sfence_vma) */
};

/* Why cpu_run() returned. */
enum rv_exit { RV_EXIT_BUDGET = 0, RV_EXIT_WFI, RV_EXIT_HALT };

/*
 * How the hart executes guest code: the interpreter (exec.c, the reference, any host) or the
 * dynamic binary translator to x86-64 (jit/, the default where it exists). Both give the same
 * architectural results, instruction counts and trap state; snapshots do not depend on the choice.
 */
enum rv_backend { RV_BACKEND_INTERP = 0, RV_BACKEND_JIT = 1 };

struct rv_jit;

struct rv_cpu {
	uint64_t x[32];
	uint64_t pc;
	uint64_t f[32]; /* NaN-boxed: single-precision values live in the low 32 bits */
	uint32_t fflags;
	uint32_t frm;
	int priv;

	/* Machine-level CSRs. */
	uint64_t mstatus, misa, medeleg, mideleg, mie, mtvec, mscratch, mepc, mcause, mtval;
	uint64_t mcounteren, scounteren, menvcfg, senvcfg, mcountinhibit;
	uint64_t stvec, sscratch, sepc, scause, stval, satp;
	uint64_t mhartid;
	uint64_t pmpcfg[16], pmpaddr[64];
	/* Instruction counting: retired before this cpu__run, plus the part of the budget used so far. */
	uint64_t retired, instret_offset;
	/* Synchronous exceptions taken (cpu__trap without the interrupt flag); the VMM watches it for progress. */
	uint64_t exceptions;
	uint64_t interrupts; /* interrupts taken (metrics) */
	int64_t budget, budget_start, budget_unused;
	int executing; /* inside exec_loop: the current instruction has used budget but not retired */
	/* mip bits written by software (SSIP, STIP, SEIP); the rest comes from devices. */
	uint64_t mip_sw;
	/* mip bits driven by devices (MTIP, MSIP, MEIP, SEIP, STIP when the VMM is the SBI). */
	_Atomic uint64_t mip_hw;
	/* mip bits other threads want set in mip_sw (SSIP from an IPI); folded in by cpu__run. */
	_Atomic uint64_t mip_inject;
	/* Set by other threads to make the hart leave its run loop and look at interrupts. */
	_Atomic int kick;

	/* Load reservation (LR/SC). With several harts, resv_tag = physical address of the reserved 8-byte
	 * granule | 1; another hart's store there clears it (cpu__store_watched). */
	uint64_t resv_addr;
	uint64_t resv_value;
	bool resv_valid;
	_Atomic uint64_t resv_tag;

	const uint32_t *rvc; /* compressed-instruction expansion table */
	struct rv_mmu mmu;
	struct rv_platform plat;

	/* Trap unwinding: exceptions raised inside an instruction longjmp here. */
	jmp_buf trap_jmp;
	bool exit_req; /* cpu__request_exit was called during this run */
	enum rv_exit exit_reason;
	/* Inside cpu__run the host FPU holds the guest's rounding mode and accrues its flags (fpu.c). */
	bool fpu_live;

	enum rv_backend backend;
	struct rv_jit *jit;   /* translator state, NULL when interpreting */
	bool jit_flush;       /* drop every translation at the next block boundary (FENCE.I) */
	uintptr_t jit_link;   /* a translated jump (rel32 address) to point at the next block, 0 if none */
	bool code_changed;    /* a store just wrote over decoded instructions (cpu__code_written) */
	/* Mail from other threads (cpu__post), taken between blocks. mail_done reaches mail_sent once all
	 * mail sent so far is taken; in_run is set while cpu__run runs (a hart outside it has no TLB in use). */
	pthread_mutex_t mail_lock;
	_Atomic bool mail_pending, in_run;
	_Atomic uint64_t mail_sent, mail_done;
	bool mail_overflow, mail_tlb_flush;
	unsigned nmail;
	struct rv_mail_item {
		uint64_t paddr;
		uint32_t len;
		uint8_t kind;
	} mail[16];

	/* Decoded blocks: keep last, cpu__init clears only its index, not the arena. */
	struct rv_bcache bc;
};

/* Drop all decoded and translated blocks at the next block boundary (FENCE.I semantics). */
static inline void cpu__flush_icache(struct rv_cpu *cpu)
{
	cpu->bc.flush = true;
	cpu->jit_flush = true;
}

/*
 * Lifecycle. cpu__init picks the default backend: $WISP_CPU_BACKEND ("interp" or "jit") when set,
 * else the translator where it exists. cpu__exit frees what the hart allocated (not the struct). The struct
 * comes zeroed (calloc): its large caches are then touched only as they are used.
 */
void cpu__init(struct rv_cpu *cpu, uint64_t hartid, struct rv_bus *bus, const struct rv_platform *plat);
void cpu__exit(struct rv_cpu *cpu);
/* cpu__init for a hart that was initialised before, keeping its backend (harnesses that run many
 * programs on one hart); every translation is dropped. */
void cpu__recycle(struct rv_cpu *cpu, uint64_t hartid, struct rv_bus *bus, const struct rv_platform *plat);
void cpu__reset(struct rv_cpu *cpu, uint64_t pc);
/* Choose the backend (before running or between runs). Returns -1 with a message if unavailable. */
int cpu__set_backend(struct rv_cpu *cpu, enum rv_backend backend, char *err, size_t errlen);
/* Parse "interp"/"jit"; returns -1 for anything else. */
int cpu__parse_backend(const char *s, enum rv_backend *out);
const char *cpu__backend_name(enum rv_backend backend);

/* Run up to `budget` instructions; stops early on WFI, halt, or kick. Returns the number retired. */
uint64_t cpu__run(struct rv_cpu *cpu, uint64_t budget, enum rv_exit *why);

/* Interrupts: device lines. Thread-safe. */
void cpu__set_mip(struct rv_cpu *cpu, uint64_t bits, bool level);
uint64_t cpu__mip(const struct rv_cpu *cpu);
/* Set software-writable mip bits (SSIP) from another thread, e.g. an SBI IPI. */
void cpu__inject_mip(struct rv_cpu *cpu, uint64_t bits);
/* True when an interrupt would be taken now (or WFI should wake: `wfi` ignores global enables). */
bool cpu__irq_pending(const struct rv_cpu *cpu, bool wfi);

/* Deliver the highest-priority enabled pending interrupt; false if none. */
bool cpu__take_interrupt(struct rv_cpu *cpu);

/* Leave the run loop after the current instruction (interrupt state or translation changed). */
static inline void cpu__request_exit(struct rv_cpu *cpu)
{
	cpu->budget_unused += cpu->budget;
	cpu->budget = 0;
	cpu->exit_req = true;
}

/*
 * A store (or AMO) is about to write [paddr, paddr + len) on a RAM page holding decoded or translated
 * instructions: if it overlaps them, drop them and set code_changed, on which the backend leaves the current block after
 * this instruction, so the next fetch sees the new bytes (the guest needs no FENCE.I for its own
 * stores). The run goes on: where it ends does not depend on what the backends had decoded.
 */
void cpu__code_written(struct rv_cpu *cpu, uint64_t paddr, unsigned len);
/*
 * Ask hart `to` (thread-safe) to do `kind` before it runs another block, and kick it. With `waiter` (the
 * calling hart, or NULL for a thread that is no hart), also wait until `to` did it or is not running,
 * taking the waiter's own mail meanwhile (so two harts waiting on each other both go on).
 */
void cpu__post(struct rv_cpu *to, enum rv_mail kind, uint64_t paddr, unsigned len, struct rv_cpu *waiter,
	       bool wait);
/* The hart's side of cpu__post (backends call it between blocks when mail_pending is set). Returns true
 * when the TLB was flushed. */
bool cpu__take_mail(struct rv_cpu *cpu);
/* A store from the slow path is about to write [paddr, paddr + len) of RAM on a write-watched page: drop
 * overwritten code (here and on other harts), break other harts' reservations on it. */
void cpu__store_watched(struct rv_cpu *cpu, uint64_t paddr, unsigned len);
/* Wake the hart's thread (plat.wake) after setting something it must look at. */
void cpu__wake(struct rv_cpu *cpu);

/* Raise an exception from inside an instruction: does not return. */
_Noreturn void cpu__raise(struct rv_cpu *cpu, uint64_t cause, uint64_t tval);
/* Tell the MMU the translation regime after priv, mstatus (MPRV, MPP, SUM, MXR) or satp changed. */
void cpu__update_mmu(struct rv_cpu *cpu);
/* Take a trap (exception or interrupt) now: update CSRs and pc. */
void cpu__trap(struct rv_cpu *cpu, uint64_t cause, uint64_t tval, bool interrupt);

/* CSR access as an instruction does it; returns false if the access is illegal. */
bool csr__read(struct rv_cpu *cpu, unsigned csr, uint64_t *val);
bool csr__write(struct rv_cpu *cpu, unsigned csr, uint64_t val);

/* Floating point (fpu.c): OP-FP, FMADD/FMSUB/FNMSUB/FNMADD. Raises illegal on bad encodings. */
void fpu__exec(struct rv_cpu *cpu, uint32_t insn);
/*
 * The host FPU during a run: fpu__enter loads the guest's rounding mode with clear exception flags,
 * the flags raised by host operations accrue there, fpu__fold moves them into cpu->fflags (before
 * fflags/fcsr are read or written, and by fpu__leave), fpu__leave restores the host's environment.
 * fpu__set_rm follows a write of frm.
 */
void fpu__enter(struct rv_cpu *cpu);
void fpu__fold(struct rv_cpu *cpu);
void fpu__leave(struct rv_cpu *cpu);
void fpu__set_rm(struct rv_cpu *cpu);
/* True when mstatus.FS is not Off (F/D instructions are legal). */
static inline bool fpu__enabled(const struct rv_cpu *cpu)
{
	return (cpu->mstatus & MSTATUS_FS) != 0;
}
/* Mark the FP state dirty (mstatus.FS = Dirty, SD set). */
static inline void fpu__dirty(struct rv_cpu *cpu)
{
	cpu->mstatus |= MSTATUS_FS | MSTATUS_SD;
}

#endif
