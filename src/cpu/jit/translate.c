/*
 * Translation of one block: guest instructions (from the existing decoder) to x86-64.
 *
 * A block is a path of at most JIT_MAX_INSNS instructions within one guest page, from its first
 * instruction through any conditional branches (a taken branch is a side exit) up to an instruction
 * that ends it: a jump, a SYSTEM/CSR/FENCE instruction, an illegal one, the end of the page. The
 * whole path is charged to the budget at entry; every side exit gives back what it did not run, and
 * every instruction that can trap or call out stores the exact pc and budget first, so traps, helper
 * calls and exits see precise state.
 *
 * Guest registers the path uses most live in host registers within the block: the prologue loads
 * those it reads before writing, exits write back those it wrote. A branch back to the block's start
 * keeps them in host registers across iterations (a loop stays inside the block), with the budget
 * and kick checks on the back edge.
 *
 * Loads and stores look up the soft TLB inline (index, one compare that also catches an access
 * crossing the page, add the host addend); misses, MMIO, pages holding translated code and page
 * crossings go to an out-of-line stub that calls the MMU's slow path.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/decode.h"
#include "cpu/internal.h"
#include "cpu/jit/internal.h"

struct insn {
	uint64_t pc;
	uint32_t w;   /* the (expanded) 32-bit instruction */
	uint32_t raw; /* the bits as fetched (16 or 32) */
	int op;
	int32_t imm;
	uint8_t rd, rs1, rs2, len;
	uint32_t reads, writes; /* integer registers, as bit masks */
};

enum stub_kind {
	ST_LOAD,   /* TLB miss of a load: call the slow path, extend, resume */
	ST_STORE,  /* TLB miss of a store */
	ST_EXIT,   /* side exit: write back, adjust the budget, go to pc (chained or looked up) */
	ST_PLAIN,  /* write back, adjust the budget, store pc and budget, return to the dispatcher */
	ST_LINK,   /* store pc and budget, ask the dispatcher to point the jump at `from` to pc's block */
	ST_FP,     /* redo an FP instruction in fpu__exec, resume */
	ST_FPSTEP, /* the FPU is off or frm has no host mode: interpret this instruction, leave */
	ST_NOSYNC, /* a helper asked to leave: pc = next (budget already stored), exit */
};

struct stub {
	enum stub_kind kind;
	uint8_t *from;   /* rel32 of the branch to this stub */
	uint8_t *from2;  /* and of a second one, or NULL */
	uint8_t *resume; /* where to continue (load/store/fp) */
	int k;           /* instruction index */
	uint32_t dirty;  /* guest registers to write back */
	unsigned size;
	bool sign;
	int dst; /* ST_LOAD: the host register the value goes to (RAX unless rd has its own) */
	int32_t budget_adj; /* ST_EXIT/ST_PLAIN: added to R15 first */
	uint64_t pc;        /* where execution continues (exits) */
};

#define MAX_STUBS (JIT_MAX_INSNS * 3 + 8)

struct tctx {
	struct rv_jit *j;
	struct rv_cpu *cpu;
	struct x86_buf b;
	int n;
	uint64_t vpc0;
	const uint8_t *h0;
	int8_t hreg[32];
	uint32_t alloc;      /* guest registers in host registers */
	uint32_t dirty;      /* of those, written since they were last stored */
	uint32_t always;     /* loop blocks: registers treated as dirty everywhere */
	bool loop;           /* some branch goes back to vpc0 */
	uint8_t *loop_head;  /* after the prologue */
	int nst;
	bool fs_checked, rm_checked, fs_marked;
	uint8_t flags; /* JIT_F_* assumed by this translation */
	/* Large arrays last: only the fields above are cleared per translation. */
	struct insn in[JIT_MAX_INSNS];
	struct stub st[MAX_STUBS];
};

static const int alloc_order[] = { RBP, R12, R13, R14, RSI, RDI, R8, R9, R10, R11 };
#define N_ALLOC ((int)(sizeof(alloc_order) / sizeof(alloc_order[0])))

static bool caller_saved(int r)
{
	return r == RSI || r == RDI || (r >= R8 && r <= R11);
}

/* ---- small emitters ---- */

static struct stub *add_stub(struct tctx *t, enum stub_kind kind, uint8_t *from, int k)
{
	if (t->nst >= MAX_STUBS) {
		t->b.overflow = true;
		t->nst = 0;
	}
	struct stub *s = &t->st[t->nst++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->from = from;
	s->k = k;
	s->dirty = t->dirty | t->always;
	return s;
}

/* jmp to an address in the executable view (outside this block). */
static void jmp_rx(struct tctx *t, const uint8_t *target_rx)
{
	uint8_t *at = x86_jmp32(&t->b);
	int32_t rel = (int32_t)(target_rx - (jit__rx_of(t->j, at) + 4));
	memcpy(at, &rel, 4);
}

static void call_fn(struct tctx *t, const void *fn)
{
	x86_mov_ri(&t->b, RAX, (uint64_t)(uintptr_t)fn);
	x86__op_rr(&t->b, 0xff, false, 2, RAX, false); /* call rax */
}

static void cpu_arg(struct tctx *t)
{
	x86_lea(&t->b, true, RDI, M(R_CPU, -JIT_BIAS));
}

/* [rbx + off] = v, using `scratch` when v does not fit a sign-extended imm32. */
static void store_u64(struct tctx *t, int32_t off, uint64_t v, int scratch)
{
	if (fits32((int64_t)v)) {
		x86_store_imm(&t->b, true, M(R_CPU, off), (int32_t)v);
	} else {
		x86_mov_ri(&t->b, scratch, v);
		x86_store(&t->b, true, M(R_CPU, off), scratch);
	}
}

static void set_pc(struct tctx *t, uint64_t pc, int scratch)
{
	store_u64(t, CPU_OFF(pc), pc, scratch);
}

/* cpu->budget = R15 + adj */
static void store_budget(struct tctx *t, int32_t adj, int scratch)
{
	if (adj) {
		x86_lea(&t->b, true, scratch, M(R_BUDGET, adj));
		x86_store(&t->b, true, M(R_CPU, CPU_OFF(budget)), scratch);
	} else {
		x86_store(&t->b, true, M(R_CPU, CPU_OFF(budget)), R_BUDGET);
	}
}

static void writeback(struct tctx *t, uint32_t mask)
{
	mask &= t->alloc;
	for (int r = 1; r < 32; r++)
		if (mask & (1u << r))
			x86_store(&t->b, true, XREG(r), t->hreg[r]);
}

static void reload(struct tctx *t, uint32_t mask)
{
	mask &= t->alloc;
	for (int r = 1; r < 32; r++)
		if (mask & (1u << r))
			x86_load(&t->b, true, t->hreg[r], XREG(r));
}

static uint32_t caller_saved_mask(struct tctx *t)
{
	uint32_t m = 0;
	for (int r = 1; r < 32; r++)
		if ((t->alloc & (1u << r)) && caller_saved(t->hreg[r]))
			m |= 1u << r;
	return m;
}

/* dst = guest register r */
static void ld(struct tctx *t, int dst, unsigned r)
{
	if (r == 0)
		x86_mov_ri(&t->b, dst, 0);
	else if (t->alloc & (1u << r)) {
		if (t->hreg[r] != dst)
			x86_mov_rr(&t->b, true, dst, t->hreg[r]);
	} else
		x86_load(&t->b, true, dst, XREG(r));
}

/* guest register r = src */
static void wr(struct tctx *t, unsigned r, int src)
{
	if (r == 0)
		return;
	if (t->alloc & (1u << r)) {
		if (t->hreg[r] != src)
			x86_mov_rr(&t->b, true, t->hreg[r], src);
		t->dirty |= 1u << r;
	} else {
		x86_store(&t->b, true, XREG(r), src);
	}
}

static void wr_imm(struct tctx *t, unsigned r, uint64_t v)
{
	if (r == 0)
		return;
	if (t->alloc & (1u << r)) {
		x86_mov_ri(&t->b, t->hreg[r], v);
		t->dirty |= 1u << r;
	} else {
		store_u64(t, 8 * (int32_t)r - 128, v, RDX); /* RAX may hold a jump target */
	}
}

static bool in_host(struct tctx *t, unsigned r)
{
	return r != 0 && (t->alloc & (1u << r));
}

/* dst op= guest register r (r = x0 reads 0) */
static void alu_with(struct tctx *t, enum host_alu op, bool w, int dst, unsigned r)
{
	if (r == 0)
		x86_alu_ri(&t->b, op, w, dst, 0);
	else if (in_host(t, r))
		x86_alu_rr(&t->b, op, w, dst, t->hreg[r]);
	else
		x86_alu_rm(&t->b, op, w, dst, XREG(r));
}

/* The register a result for rd is computed in: rd's own host register unless that would clobber an
 * operand still needed, else RAX. */
static int dest_for(struct tctx *t, unsigned rd, unsigned later_src)
{
	if (in_host(t, rd) && (rd != later_src || later_src == 0))
		return t->hreg[rd];
	return RAX;
}

/* ---- calls that leave the generated code for C ---- */

/* Before a helper that may trap or read state: registers in memory, exact pc and budget. `consumed`
 * is 1 when instruction k counts as executing (the interpreter's convention), 0 for interp__step. */
static void sync_for_call(struct tctx *t, int k, int consumed, uint32_t dirty)
{
	writeback(t, dirty);
	set_pc(t, t->in[k].pc, RCX);
	store_budget(t, t->n - k - consumed, RCX);
}

/* After a helper returned: host registers it clobbered, and guest registers it wrote in memory. */
static void after_call(struct tctx *t, uint32_t written)
{
	reload(t, caller_saved_mask(t) | written);
}

/* The store just made wrote over translated code (cpu__code_written): leave with pc = the next
 * instruction (the rest of this block may be stale; the budget is in memory). */
static void exit_if_code_changed(struct tctx *t, int k)
{
	x86_cmp_m8i(&t->b, M(R_CPU, CPU_OFF(code_changed)), 0);
	struct stub *s = add_stub(t, ST_NOSYNC, x86_jcc32(&t->b, CC_NE), k);
	s->pc = t->in[k].pc + t->in[k].len;
}

/* ---- C helpers the generated code calls ---- */

static uint64_t h_load(struct rv_cpu *cpu, uint64_t va, unsigned size)
{
	return mmu__load_slow(&cpu->mmu, va, size);
}

static void h_store(struct rv_cpu *cpu, uint64_t va, unsigned size, uint64_t val)
{
	mmu__store_slow(&cpu->mmu, va, size, val);
}

static void h_amo(struct rv_cpu *cpu, uint32_t insn, uint64_t addr, uint64_t src)
{
	ops__amo(cpu, insn, addr, src);
}

static void h_csr(struct rv_cpu *cpu, uint32_t insn, unsigned len)
{
	ops__csr(cpu, insn);
	cpu->pc += len;
}

static void h_system(struct rv_cpu *cpu, uint32_t insn, unsigned len)
{
	if (!ops__system(cpu, insn))
		cpu->pc += len;
}

static void h_step(struct rv_cpu *cpu)
{
	interp__step(cpu);
}

static void h_fp(struct rv_cpu *cpu, uint32_t insn)
{
	fpu__exec(cpu, insn);
}

/* ---- scanning the path ---- */

static bool is_branch(int op)
{
	return op >= OP_BEQ && op <= OP_BGEU;
}

static bool ends_path(int op)
{
	switch (op) {
	case OP_JAL: case OP_JALR: case OP_SYSTEM: case OP_FENCE: case OP_ILLEGAL:
		return true;
	}
	return false;
}

static void operands(struct insn *i)
{
	uint32_t b1 = i->rs1 ? 1u << i->rs1 : 0, b2 = i->rs2 ? 1u << i->rs2 : 0, bd = i->rd ? 1u << i->rd : 0;
	switch (i->op) {
	case OP_LUI: case OP_AUIPC: case OP_JAL:
		i->writes = bd;
		break;
	case OP_JALR:
	case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU:
	case OP_ADDI: case OP_SLTI: case OP_SLTIU: case OP_XORI: case OP_ORI: case OP_ANDI:
	case OP_SLLI: case OP_SRLI: case OP_SRAI: case OP_ADDIW: case OP_SLLIW: case OP_SRLIW: case OP_SRAIW:
		i->reads = b1;
		i->writes = bd;
		break;
	case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU:
	case OP_SB: case OP_SH: case OP_SW: case OP_SD:
		i->reads = b1 | b2;
		break;
	case OP_FLW: case OP_FLD: case OP_FSW: case OP_FSD:
		i->reads = b1;
		break;
	case OP_AMO:
		i->reads = b1 | b2;
		i->writes = bd;
		break;
	case OP_FENCE: case OP_ILLEGAL:
		break;
	case OP_SYSTEM: case OP_CSR:
		i->reads = b1;
		i->writes = bd;
		break;
	case OP_FP: {
		/* Which side each operand is on: moves and conversions read or write integer registers. */
		unsigned f5 = i->w >> 27, opc = i->w & 0x7f;
		if (opc == 0x53) {
			if (f5 == 0x1a || f5 == 0x1e) /* fcvt.f.x, fmv.f.x */
				i->reads = b1;
			if (f5 == 0x14 || f5 == 0x18 || f5 == 0x1c) /* compares, fcvt.x.f, fmv.x.f / fclass */
				i->writes = bd;
		}
		break;
	}
	default: /* R-type integer */
		i->reads = b1 | b2;
		i->writes = bd;
		break;
	}
}

/* Decode the path; returns the number of instructions (0: the first one straddles the page end). */
static int scan(struct tctx *t)
{
	unsigned off = (unsigned)(t->vpc0 & (PAGE_SIZE - 1));
	const uint8_t *page = t->h0 - off;
	uint64_t pc = t->vpc0;
	int n = 0;
	while (n < JIT_MAX_INSNS && off < PAGE_SIZE) {
		uint16_t lo;
		memcpy(&lo, page + off, 2);
		uint32_t raw = lo;
		unsigned len = 2;
		if ((lo & 3) == 3) {
			if (off > PAGE_SIZE - 4)
				break;
			memcpy(&raw, page + off, 4);
			len = 4;
		}
		struct insn *i = &t->in[n++];
		memset(i, 0, sizeof(*i));
		i->pc = pc;
		i->raw = raw;
		i->len = (uint8_t)len;
		i->w = len == 2 ? t->cpu->rvc[raw & 0xffff] : raw;
		i->op = i->w ? decode__op(i->w, &i->imm) : OP_ILLEGAL;
		i->rd = (i->w >> 7) & 0x1f;
		i->rs1 = (i->w >> 15) & 0x1f;
		i->rs2 = (i->w >> 20) & 0x1f;
		operands(i);
		if (is_branch(i->op) && (uint64_t)(pc + (uint64_t)(int64_t)i->imm) == t->vpc0)
			t->loop = true;
		if (i->op == OP_JAL && pc + (uint64_t)(int64_t)i->imm == t->vpc0)
			t->loop = true;
		off += len;
		pc += len;
		if (ends_path(i->op))
			break;
	}
	return n;
}

/* Choose the guest registers kept in host registers. */
static void allocate(struct tctx *t)
{
	unsigned count[32] = { 0 };
	for (int k = 0; k < t->n; k++) {
		uint32_t m = t->in[k].reads | t->in[k].writes;
		for (int r = 1; r < 32; r++)
			if (m & (1u << r))
				count[r]++;
	}
	memset(t->hreg, -1, sizeof(t->hreg));
	t->alloc = 0;
	unsigned min = t->loop ? 1 : 2;
	for (int h = 0; h < N_ALLOC; h++) {
		int best = 0;
		for (int r = 1; r < 32; r++)
			if (!(t->alloc & (1u << r)) && count[r] >= min && count[r] > count[best])
				best = r;
		if (!best)
			break;
		t->alloc |= 1u << best;
		t->hreg[best] = (int8_t)alloc_order[h];
	}
}

/* Registers read before they are written on the path: loaded by the prologue. */
static uint32_t live_in(struct tctx *t)
{
	uint32_t written = 0, in = 0;
	for (int k = 0; k < t->n; k++) {
		in |= t->in[k].reads & ~written;
		written |= t->in[k].writes;
	}
	return in;
}

/* ---- leaving the block ---- */

/* Jump to the block for a target known at translation time. Registers are written back and the budget
 * adjusted by the caller. */
static void goto_pc(struct tctx *t, int k, uint64_t target)
{
	if ((target & PAGE_MASK) == (t->vpc0 & PAGE_MASK)) {
		/* Same page, so same physical page: chain (patched once the target block exists). */
		struct stub *s = add_stub(t, ST_LINK, x86_jmp32(&t->b), k);
		s->pc = target;
		return;
	}
	/* Another page: its mapping may change, so look it up (jump cache) each time. */
	x86_mov_ri(&t->b, RAX, target);
	x86_load(&t->b, true, RDX, M(R_CPU, CPU_OFF(mmu.xjc)));
	x86_mov_rr(&t->b, false, RCX, RAX);
	x86_shift_ri(&t->b, SH_SHL, false, RCX, 3);
	x86_alu_ri(&t->b, ALU_AND, false, RCX, (JC_SIZE - 1) << 4);
	x86_alu_rm(&t->b, ALU_CMP, true, RAX, MI(RDX, RCX, 1, 0));
	uint8_t *miss = x86_jcc32(&t->b, CC_NE);
	x86_jmp_m(&t->b, MI(RDX, RCX, 1, 8));
	x86_patch(miss, t->b.p);
	x86_store(&t->b, true, M(R_CPU, CPU_OFF(pc)), RAX);
	store_budget(t, 0, RCX);
	jmp_rx(t, t->j->exit);
}

/* Indirect jump to the guest address in RAX (registers written back, budget adjusted). */
static void goto_rax(struct tctx *t)
{
	x86_load(&t->b, true, RDX, M(R_CPU, CPU_OFF(mmu.xjc)));
	x86_mov_rr(&t->b, false, RCX, RAX);
	x86_shift_ri(&t->b, SH_SHL, false, RCX, 3);
	x86_alu_ri(&t->b, ALU_AND, false, RCX, (JC_SIZE - 1) << 4);
	x86_alu_rm(&t->b, ALU_CMP, true, RAX, MI(RDX, RCX, 1, 0));
	uint8_t *miss = x86_jcc32(&t->b, CC_NE);
	x86_jmp_m(&t->b, MI(RDX, RCX, 1, 8));
	x86_patch(miss, t->b.p);
	x86_store(&t->b, true, M(R_CPU, CPU_OFF(pc)), RAX);
	store_budget(t, 0, RCX);
	jmp_rx(t, t->j->exit);
}

/* Back to the start of this block with registers kept (k = the instruction that jumps). The path was
 * charged for n instructions and ran k + 1: charging n for the next round takes k + 1 more. */
static void loop_back(struct tctx *t, int k)
{
	x86_alu_ri(&t->b, ALU_SUB, true, R_BUDGET, k + 1);
	struct stub *s = add_stub(t, ST_PLAIN, x86_jcc32(&t->b, CC_L), k);
	s->pc = t->vpc0;
	s->budget_adj = t->n;
	x86_alu_mi(&t->b, ALU_CMP, false, M(R_CPU, CPU_OFF(kick)), 0);
	s->from2 = x86_jcc32(&t->b, CC_NE);
	uint8_t *j = x86_jmp32(&t->b);
	x86_patch(j, t->loop_head);
}

/* Leave after instruction k for `target` (constant): write back, give back the unused budget, go. */
static void exit_to(struct tctx *t, int k, uint64_t target)
{
	if (t->loop && target == t->vpc0) {
		loop_back(t, k);
		return;
	}
	writeback(t, t->dirty | t->always);
	int32_t refund = t->n - k - 1;
	if (refund)
		x86_alu_ri(&t->b, ALU_ADD, true, R_BUDGET, refund);
	goto_pc(t, k, target);
}

/* Leave to the dispatcher after a helper that ended the block (pc and budget are in memory). */
static void exit_synced(struct tctx *t)
{
	jmp_rx(t, t->j->exit);
}

/* ---- loads and stores ---- */

/* RAX = rs1 + imm */
static void address(struct tctx *t, const struct insn *i)
{
	if (in_host(t, i->rs1))
		x86_lea(&t->b, true, RAX, M(t->hreg[i->rs1], i->imm));
	else {
		ld(t, RAX, i->rs1);
		if (i->imm)
			x86_lea(&t->b, true, RAX, M(RAX, i->imm));
	}
}

/* Inline TLB lookup of the address in RAX for `size` bytes; on a hit RAX becomes the host address.
 * Returns the rel32 of the miss branch. */
static uint8_t *tlb_lookup(struct tctx *t, bool write, unsigned size)
{
	x86_load(&t->b, true, RDX, M(R_CPU, write ? CPU_OFF(mmu.wtlb) : CPU_OFF(mmu.rtlb)));
	x86_mov_rr(&t->b, false, RCX, RAX);
	x86_shift_ri(&t->b, SH_SHR, false, RCX, PAGE_SHIFT - 4);
	x86_alu_ri(&t->b, ALU_AND, false, RCX, (TLB_SIZE - 1) << 4);
	x86_alu_rr(&t->b, ALU_ADD, true, RDX, RCX);
	x86_lea(&t->b, true, RCX, M(RAX, (int32_t)size - 1)); /* the last byte: a page crossing misses */
	x86_alu_ri(&t->b, ALU_AND, true, RCX, (int32_t)PAGE_MASK);
	x86_alu_rm(&t->b, ALU_CMP, true, RCX, M(RDX, 0));
	uint8_t *miss = x86_jcc32(&t->b, CC_NE);
	x86_alu_rm(&t->b, ALU_ADD, true, RAX, M(RDX, 8));
	return miss;
}

/* Loads while data accesses are untranslated: RAM is one range; the rest (MMIO, the last bytes of RAM,
 * outside RAM) misses to the slow path. RAX becomes the host address. */
static uint8_t *ram_lookup(struct tctx *t)
{
	x86_mov_rr(&t->b, true, RCX, RAX);
	x86_alu_rm(&t->b, ALU_SUB, true, RCX, M(R_CPU, CPU_OFF(mmu.ram_base)));
	x86_alu_rm(&t->b, ALU_CMP, true, RCX, M(R_CPU, CPU_OFF(mmu.ram_limit)));
	uint8_t *miss = x86_jcc32(&t->b, CC_A);
	x86_alu_rm(&t->b, ALU_ADD, true, RCX, M(R_CPU, CPU_OFF(mmu.ram)));
	x86_mov_rr(&t->b, true, RAX, RCX);
	return miss;
}

static uint8_t *load_lookup(struct tctx *t, unsigned size)
{
	return (t->flags & JIT_F_BARE) ? ram_lookup(t) : tlb_lookup(t, false, size);
}

static void gen_load(struct tctx *t, int k, unsigned size, bool sign)
{
	const struct insn *i = &t->in[k];
	address(t, i);
	uint8_t *miss = load_lookup(t, size);
	/* Straight into rd's host register when it has one (the stub puts its result there too). */
	int dst = in_host(t, i->rd) ? t->hreg[i->rd] : RAX;
	x86_load_n(&t->b, size, sign, dst, M(RAX, 0));
	struct stub *s = add_stub(t, ST_LOAD, miss, k);
	s->size = size;
	s->sign = sign;
	s->dst = dst;
	s->resume = t->b.p;
	if (dst == RAX)
		wr(t, i->rd, RAX);
	else
		t->dirty |= 1u << i->rd;
}

/* The value a store writes: a host register holding it (RCX loaded if needed). */
static int store_value(struct tctx *t, unsigned r)
{
	if (in_host(t, r))
		return t->hreg[r];
	ld(t, RCX, r);
	return RCX;
}

static void gen_store(struct tctx *t, int k, unsigned size)
{
	const struct insn *i = &t->in[k];
	address(t, i);
	uint8_t *miss = tlb_lookup(t, true, size);
	int v = store_value(t, i->rs2);
	x86_store_n(&t->b, size, M(RAX, 0), v);
	struct stub *s = add_stub(t, ST_STORE, miss, k);
	s->size = size;
	s->resume = t->b.p;
}

/* FLW/FLD: the same path into an f register (NaN-boxing singles). */
static void fp_check_fs(struct tctx *t, int k);
static void fp_mark_dirty(struct tctx *t);

static void gen_fload(struct tctx *t, int k, unsigned size)
{
	const struct insn *i = &t->in[k];
	fp_check_fs(t, k);
	address(t, i);
	uint8_t *miss = load_lookup(t, size);
	x86_load_n(&t->b, size, false, RAX, M(RAX, 0));
	struct stub *s = add_stub(t, ST_LOAD, miss, k);
	s->size = size;
	s->dst = RAX;
	s->resume = t->b.p;
	if (size == 4) {
		x86_store(&t->b, false, FREG(i->rd), RAX);
		x86_store_imm(&t->b, false, M(R_CPU, CPU_OFF(f[i->rd]) + 4), -1);
	} else {
		x86_store(&t->b, true, FREG(i->rd), RAX);
	}
	fp_mark_dirty(t);
}

static void gen_fstore(struct tctx *t, int k, unsigned size)
{
	const struct insn *i = &t->in[k];
	fp_check_fs(t, k);
	address(t, i);
	uint8_t *miss = tlb_lookup(t, true, size);
	x86_load(&t->b, size == 8, RCX, FREG(i->rs2));
	x86_store_n(&t->b, size, M(RAX, 0), RCX);
	struct stub *s = add_stub(t, ST_STORE, miss, k);
	s->size = size;
	s->resume = t->b.p;
}

/* ---- integer arithmetic ---- */

static void gen_alu_rr(struct tctx *t, const struct insn *i, enum host_alu op, bool w)
{
	int d = dest_for(t, i->rd, i->rs2);
	ld(t, d, i->rs1);
	alu_with(t, op, w, d, i->rs2);
	if (!w)
		x86_movsxd(&t->b, d, d);
	wr(t, i->rd, d);
}

static void gen_alu_ri(struct tctx *t, const struct insn *i, enum host_alu op)
{
	if (op == ALU_ADD && in_host(t, i->rd) && in_host(t, i->rs1) && i->rd != i->rs1) {
		x86_lea(&t->b, true, t->hreg[i->rd], M(t->hreg[i->rs1], i->imm));
		t->dirty |= 1u << i->rd;
		return;
	}
	int d = dest_for(t, i->rd, 0);
	ld(t, d, i->rs1);
	if (i->imm || op == ALU_AND)
		x86_alu_ri(&t->b, op, true, d, i->imm);
	wr(t, i->rd, d);
}

static void gen_shift_i(struct tctx *t, const struct insn *i, enum host_shift op, bool w)
{
	int d = dest_for(t, i->rd, 0);
	ld(t, d, i->rs1);
	unsigned sh = (unsigned)i->imm & (w ? 63 : 31);
	if (sh || !w)
		x86_shift_ri(&t->b, op, w, d, sh);
	if (!w)
		x86_movsxd(&t->b, d, d);
	wr(t, i->rd, d);
}

static void gen_shift_r(struct tctx *t, const struct insn *i, enum host_shift op, bool w)
{
	ld(t, RCX, i->rs2);
	int d = dest_for(t, i->rd, 0);
	if (d == RCX)
		d = RAX;
	ld(t, d, i->rs1);
	x86_shift_cl(&t->b, op, w, d);
	if (!w)
		x86_movsxd(&t->b, d, d);
	wr(t, i->rd, d);
}

static void gen_set(struct tctx *t, const struct insn *i, enum host_cc cc, bool imm)
{
	ld(t, RAX, i->rs1);
	if (imm)
		x86_alu_ri(&t->b, ALU_CMP, true, RAX, i->imm);
	else
		alu_with(t, ALU_CMP, true, RAX, i->rs2);
	x86_setcc(&t->b, cc, RAX);
	x86_movx(&t->b, 1, false, RAX, RAX);
	wr(t, i->rd, RAX);
}

static void gen_mul(struct tctx *t, const struct insn *i, bool w)
{
	int d = dest_for(t, i->rd, i->rs2);
	ld(t, d, i->rs1);
	if (in_host(t, i->rs2))
		x86_imul_rr(&t->b, w, d, t->hreg[i->rs2]);
	else if (i->rs2 == 0)
		x86_mov_ri(&t->b, d, 0);
	else
		x86__op_rm(&t->b, 0x0faf, w, d, XREG(i->rs2), false);
	if (!w)
		x86_movsxd(&t->b, d, d);
	wr(t, i->rd, d);
}

/* MULH (signed), MULHU, MULHSU: the high 64 bits of the 128-bit product. */
static void gen_mulh(struct tctx *t, const struct insn *i)
{
	ld(t, RAX, i->rs1);
	ld(t, RCX, i->rs2);
	x86_grp3(&t->b, i->op == OP_MULH ? 5 : 4, true, RCX); /* imul / mul rcx: RDX:RAX */
	if (i->op == OP_MULHSU) {
		/* signed a * unsigned b = unsigned product - (a < 0 ? b << 64 : 0) */
		ld(t, RAX, i->rs1);
		x86_shift_ri(&t->b, SH_SAR, true, RAX, 63);
		x86_alu_rr(&t->b, ALU_AND, true, RAX, RCX);
		x86_alu_rr(&t->b, ALU_SUB, true, RDX, RAX);
	}
	wr(t, i->rd, RDX);
}

/* DIV[U][W], REM[U][W] with RISC-V's results for division by zero and overflow (no host trap). */
static void gen_div(struct tctx *t, const struct insn *i)
{
	bool w = i->op == OP_DIV || i->op == OP_DIVU || i->op == OP_REM || i->op == OP_REMU;
	bool sign = i->op == OP_DIV || i->op == OP_REM || i->op == OP_DIVW || i->op == OP_REMW;
	bool rem = i->op == OP_REM || i->op == OP_REMU || i->op == OP_REMW || i->op == OP_REMUW;
	struct x86_buf *b = &t->b;
	ld(t, RCX, i->rs2);
	ld(t, RAX, i->rs1);
	x86_test_rr(b, w, RCX, RCX);
	uint8_t *zero = x86_jcc32(b, CC_E);
	uint8_t *ovf = NULL;
	if (sign) {
		x86_alu_ri(b, ALU_CMP, w, RCX, -1);
		ovf = x86_jcc32(b, CC_E);
		if (w)
			x86_cqo(b);
		else
			x86_cdq(b);
		x86_grp3(b, 7, w, RCX); /* idiv */
	} else {
		x86_mov_ri(b, RDX, 0);
		x86_grp3(b, 6, w, RCX); /* div */
	}
	uint8_t *done1 = x86_jmp32(b);
	/* divisor zero: quotient all ones, remainder the dividend */
	x86_patch(zero, b->p);
	x86_mov_rr(b, true, RDX, RAX);
	x86_mov_ri(b, RAX, ~0ull);
	uint8_t *done2 = x86_jmp32(b);
	if (sign) {
		/* divisor -1: quotient -dividend (wrapping at the minimum), remainder 0 */
		x86_patch(ovf, b->p);
		x86_grp3(b, 3, w, RAX); /* neg */
		x86_mov_ri(b, RDX, 0);
	}
	x86_patch(done1, b->p);
	x86_patch(done2, b->p);
	int res = rem ? RDX : RAX;
	if (!w)
		x86_movsxd(b, res, res);
	wr(t, i->rd, res);
}

/* ---- branches ---- */

static enum host_cc branch_cc(int op)
{
	switch (op) {
	case OP_BEQ: return CC_E;
	case OP_BNE: return CC_NE;
	case OP_BLT: return CC_L;
	case OP_BGE: return CC_GE;
	case OP_BLTU: return CC_B;
	default: return CC_AE;
	}
}

/* Flags for rs1 - rs2. */
static void compare(struct tctx *t, const struct insn *i)
{
	if (in_host(t, i->rs1)) {
		alu_with(t, ALU_CMP, true, t->hreg[i->rs1], i->rs2);
	} else if (i->rs1 != 0 && in_host(t, i->rs2)) {
		x86_alu_mr(&t->b, ALU_CMP, true, XREG(i->rs1), t->hreg[i->rs2]);
	} else if (i->rs1 != 0 && i->rs2 == 0) {
		x86_alu_mi(&t->b, ALU_CMP, true, XREG(i->rs1), 0);
	} else {
		ld(t, RAX, i->rs1);
		alu_with(t, ALU_CMP, true, RAX, i->rs2);
	}
}

static void gen_branch(struct tctx *t, int k)
{
	const struct insn *i = &t->in[k];
	uint64_t taken = i->pc + (uint64_t)(int64_t)i->imm, next = i->pc + i->len;
	enum host_cc cc = branch_cc(i->op);
	compare(t, i);
	bool last = k == t->n - 1;
	if (t->loop && taken == t->vpc0) {
		/* The hot way round a loop stays inline; leaving it is the branch. */
		uint8_t *skip = x86_jcc32(&t->b, (enum host_cc)(cc ^ 1));
		loop_back(t, k);
		x86_patch(skip, t->b.p);
		if (last)
			exit_to(t, k, next);
		return;
	}
	/* Taken: a side exit through a stub. */
	uint8_t *side = x86_jcc32(&t->b, cc);
	struct stub *s = add_stub(t, ST_EXIT, side, k);
	s->pc = taken;
	s->budget_adj = t->n - k - 1;
	if (last)
		exit_to(t, k, next);
}

/* ---- floating point (fast paths on the host FPU; the rest through fpu__exec) ---- */

#define MSTATUS_OFF CPU_OFF(mstatus)

/* The first FP instruction of a block checks that the FPU is on; nothing in a block can turn it off. */
static void fp_check_fs(struct tctx *t, int k)
{
	if (t->fs_checked)
		return;
	t->fs_checked = true;
	x86_test_mi(&t->b, false, M(R_CPU, MSTATUS_OFF), (int32_t)MSTATUS_FS);
	add_stub(t, ST_FPSTEP, x86_jcc32(&t->b, CC_E), k);
}

/* ... and, for the dynamic rounding mode, that frm has a host equivalent (the host FPU runs in it). */
static void fp_check_rm(struct tctx *t, int k)
{
	fp_check_fs(t, k);
	if (t->rm_checked)
		return;
	t->rm_checked = true;
	x86_alu_mi(&t->b, ALU_CMP, false, M(R_CPU, CPU_OFF(frm)), 3);
	add_stub(t, ST_FPSTEP, x86_jcc32(&t->b, CC_A), k);
}

/* mstatus.FS = Dirty (and SD): what every instruction that writes an f register does. */
static void fp_mark_dirty(struct tctx *t)
{
	x86__op_rm(&t->b, 0x81, false, ALU_OR, M(R_CPU, MSTATUS_OFF), false);
	x86__u32(&t->b, (uint32_t)MSTATUS_FS);
	x86__op_rm(&t->b, 0x80, false, ALU_OR, M(R_CPU, MSTATUS_OFF + 7), false);
	x86__byte(&t->b, 0x80);
}

/* A full FP instruction in fpu__exec, inline (it may trap: state synced first). */
static void gen_fp_call(struct tctx *t, int k)
{
	const struct insn *i = &t->in[k];
	sync_for_call(t, k, 1, t->dirty | t->always);
	if (!t->loop)
		t->dirty = 0;
	cpu_arg(t);
	x86_mov_ri(&t->b, RSI, i->w);
	call_fn(t, (const void *)h_fp);
	after_call(t, i->writes);
}

/* A single-precision operand must be NaN-boxed; otherwise the full path (it reads as a NaN). */
static void fp_need_box(struct tctx *t, int k, unsigned r)
{
	x86_alu_mi(&t->b, ALU_CMP, false, M(R_CPU, CPU_OFF(f[r]) + 4), -1);
	add_stub(t, ST_FP, x86_jcc32(&t->b, CC_NE), k);
}

/* Store xmm0 to f[rd] (boxing singles) after checking it is not a NaN (NaNs go the full path). */
static void fp_result(struct tctx *t, int k, bool dbl)
{
	const struct insn *i = &t->in[k];
	x86_fcmp_rr(&t->b, dbl, false, 0, 0);
	add_stub(t, ST_FP, x86_jcc32(&t->b, CC_P), k);
	x86_fstore(&t->b, dbl, FREG(i->rd), 0);
	if (!dbl)
		x86_store_imm(&t->b, false, M(R_CPU, CPU_OFF(f[i->rd]) + 4), -1);
	fp_mark_dirty(t);
}

static void gen_fp(struct tctx *t, int k)
{
	const struct insn *i = &t->in[k];
	uint32_t w = i->w;
	unsigned opc = w & 0x7f, f5 = w >> 27, fmt = (w >> 25) & 3, rm = (w >> 12) & 7;
	bool dbl = fmt == 1;
	if (fmt > 1) {
		gen_fp_call(t, k); /* raises illegal */
		return;
	}
	if (opc == 0x53 && rm == 7 && (f5 <= 3 || (f5 == 0x0b && i->rs2 == 0))) {
		static const uint8_t sse[4] = { 0x58, 0x5c, 0x59, 0x5e };
		fp_check_rm(t, k);
		if (!dbl) {
			fp_need_box(t, k, i->rs1);
			if (f5 != 0x0b)
				fp_need_box(t, k, i->rs2);
		}
		if (f5 == 0x0b) {
			x86_fload(&t->b, dbl, 1, FREG(i->rs1));
			x86_farith_rr(&t->b, dbl, 0x51, 0, 1);
		} else {
			x86_fload(&t->b, dbl, 0, FREG(i->rs1));
			x86_farith_rm(&t->b, dbl, sse[f5], 0, FREG(i->rs2));
		}
		fp_result(t, k, dbl);
		return;
	}
	if (opc != 0x53 && rm == 7 && t->j->fma) {
		/* FMADD rs1*rs2+rs3, FMSUB rs1*rs2-rs3, FNMSUB -(rs1*rs2)+rs3, FNMADD -(rs1*rs2)-rs3 */
		static const uint8_t fma[4] = { 0xb9, 0xbb, 0xbd, 0xbf };
		unsigned rs3 = w >> 27;
		fp_check_rm(t, k);
		if (!dbl) {
			fp_need_box(t, k, i->rs1);
			fp_need_box(t, k, i->rs2);
			fp_need_box(t, k, rs3);
		}
		x86_fload(&t->b, dbl, 0, FREG(rs3));
		x86_fload(&t->b, dbl, 1, FREG(i->rs1));
		x86_fma231_rm(&t->b, dbl, fma[(opc >> 2) & 3], 0, 1, FREG(i->rs2));
		fp_result(t, k, dbl);
		return;
	}
	if (opc == 0x53 && f5 == 0x04 && rm <= 2) {
		/* FSGNJ/FSGNJN/FSGNJX: sign bit from rs2 (fmv/fneg/fabs) */
		fp_check_fs(t, k);
		if (!dbl) {
			fp_need_box(t, k, i->rs1);
			fp_need_box(t, k, i->rs2);
		}
		uint64_t sign = dbl ? 1ull << 63 : 1ull << 31;
		x86_load(&t->b, true, RAX, FREG(i->rs1));
		x86_load(&t->b, true, RCX, FREG(i->rs2));
		x86_mov_ri(&t->b, RDX, sign);
		if (rm == 1)
			x86_grp3(&t->b, 2, true, RCX); /* not */
		if (rm == 2) {
			x86_alu_rr(&t->b, ALU_AND, true, RCX, RDX);
			x86_alu_rr(&t->b, ALU_XOR, true, RAX, RCX);
		} else {
			x86_alu_rr(&t->b, ALU_AND, true, RCX, RDX);
			x86_grp3(&t->b, 2, true, RDX);
			x86_alu_rr(&t->b, ALU_AND, true, RAX, RDX);
			x86_alu_rr(&t->b, ALU_OR, true, RAX, RCX);
		}
		x86_store(&t->b, true, FREG(i->rd), RAX);
		fp_mark_dirty(t);
		return;
	}
	if (opc == 0x53 && (f5 == 0x1c || f5 == 0x1e) && rm == 0 && i->rs2 == 0) {
		fp_check_fs(t, k);
		if (f5 == 0x1c) { /* FMV.X.W / FMV.X.D */
			if (dbl)
				x86_load(&t->b, true, RAX, FREG(i->rs1));
			else
				x86_load_n(&t->b, 4, true, RAX, FREG(i->rs1));
			wr(t, i->rd, RAX);
		} else { /* FMV.W.X / FMV.D.X */
			ld(t, RAX, i->rs1);
			if (dbl) {
				x86_store(&t->b, true, FREG(i->rd), RAX);
			} else {
				x86_store(&t->b, false, FREG(i->rd), RAX);
				x86_store_imm(&t->b, false, M(R_CPU, CPU_OFF(f[i->rd]) + 4), -1);
			}
			fp_mark_dirty(t);
		}
		return;
	}
	if (opc == 0x53 && f5 == 0x14 && rm <= 2) {
		/* FLE (0), FLT (1): signalling compares; FEQ (2): quiet */
		fp_check_fs(t, k);
		if (!dbl) {
			fp_need_box(t, k, i->rs1);
			fp_need_box(t, k, i->rs2);
		}
		if (rm == 2) {
			x86_fload(&t->b, dbl, 0, FREG(i->rs1));
			x86_fload(&t->b, dbl, 1, FREG(i->rs2));
			x86_fcmp_rr(&t->b, dbl, false, 0, 1);
			x86_setcc(&t->b, CC_E, RAX);
			x86_setcc(&t->b, CC_NP, RCX);
			x86_alu_rr(&t->b, ALU_AND, false, RAX, RCX);
		} else {
			/* rs1 <= rs2  <=>  rs2 >= rs1 (AE is false when unordered) */
			x86_fload(&t->b, dbl, 0, FREG(i->rs2));
			x86_fload(&t->b, dbl, 1, FREG(i->rs1));
			x86_fcmp_rr(&t->b, dbl, true, 0, 1);
			x86_setcc(&t->b, rm == 0 ? CC_AE : CC_A, RAX);
		}
		x86_movx(&t->b, 1, false, RAX, RAX);
		wr(t, i->rd, RAX);
		return;
	}
	if (opc == 0x53 && f5 == 0x18 && i->rs2 <= 2 && i->rs2 != 1 && (rm == 1 || rm == 7) && dbl) {
		/* FCVT.W.D / FCVT.L.D in RTZ or the dynamic mode; out of range and NaN take the full path */
		bool wide = i->rs2 == 2;
		if (rm == 7)
			fp_check_rm(t, k);
		else
			fp_check_fs(t, k);
		x86_fload(&t->b, true, 0, FREG(i->rs1));
		x86_cvt_f2i(&t->b, true, wide, rm == 1, RAX, 0);
		if (wide) {
			x86_mov_ri(&t->b, RCX, 1ull << 63);
			x86_alu_rr(&t->b, ALU_CMP, true, RAX, RCX);
		} else {
			x86_alu_ri(&t->b, ALU_CMP, false, RAX, INT32_MIN);
			x86_movsxd(&t->b, RAX, RAX);
		}
		add_stub(t, ST_FP, x86_jcc32(&t->b, CC_E), k);
		wr(t, i->rd, RAX);
		return;
	}
	if (opc == 0x53 && f5 == 0x1a && (i->rs2 == 0 || i->rs2 == 2) && (rm == 7 || i->rs2 == 0)) {
		/* FCVT.S/D.W (exact for doubles, dyn for singles) and FCVT.S/D.L (dyn) */
		bool wide = i->rs2 == 2;
		if (rm == 7 || !dbl)
			fp_check_rm(t, k);
		else
			fp_check_fs(t, k);
		if (!dbl && rm != 7) {
			gen_fp_call(t, k);
			return;
		}
		ld(t, RAX, i->rs1);
		x86_cvt_i2f(&t->b, dbl, wide, 0, RAX);
		x86_fstore(&t->b, dbl, FREG(i->rd), 0);
		if (!dbl)
			x86_store_imm(&t->b, false, M(R_CPU, CPU_OFF(f[i->rd]) + 4), -1);
		fp_mark_dirty(t);
		return;
	}
	if (opc == 0x53 && f5 == 0x08 && ((dbl && i->rs2 == 0) || (!dbl && i->rs2 == 1 && rm == 7))) {
		/* FCVT.D.S (exact) / FCVT.S.D (dyn); NaNs take the full path */
		if (dbl) {
			fp_check_fs(t, k);
			fp_need_box(t, k, i->rs1);
		} else {
			fp_check_rm(t, k);
		}
		x86_fload(&t->b, !dbl, 1, FREG(i->rs1));
		x86_cvt_ff(&t->b, !dbl, 0, 1);
		fp_result(t, k, dbl);
		return;
	}
	fp_check_fs(t, k);
	gen_fp_call(t, k);
}

/* ---- one instruction ---- */

/* Returns false when the instruction ended the block (the code after it is unreachable). */
static bool gen_insn(struct tctx *t, int k)
{
	const struct insn *i = &t->in[k];
	struct x86_buf *b = &t->b;
	switch (i->op) {
	case OP_LUI:
		wr_imm(t, i->rd, (uint64_t)(int64_t)i->imm);
		return true;
	case OP_AUIPC:
		wr_imm(t, i->rd, i->pc + (uint64_t)(int64_t)i->imm);
		return true;
	case OP_JAL:
		wr_imm(t, i->rd, i->pc + i->len);
		exit_to(t, k, i->pc + (uint64_t)(int64_t)i->imm);
		return false;
	case OP_JALR:
		ld(t, RAX, i->rs1);
		if (i->imm)
			x86_alu_ri(b, ALU_ADD, true, RAX, i->imm);
		x86_alu_ri(b, ALU_AND, true, RAX, -2);
		wr_imm(t, i->rd, i->pc + i->len);
		writeback(t, t->dirty | t->always);
		goto_rax(t);
		return false;
	case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU:
		gen_branch(t, k);
		return k != t->n - 1;
	case OP_LB: gen_load(t, k, 1, true); return true;
	case OP_LH: gen_load(t, k, 2, true); return true;
	case OP_LW: gen_load(t, k, 4, true); return true;
	case OP_LD: gen_load(t, k, 8, false); return true;
	case OP_LBU: gen_load(t, k, 1, false); return true;
	case OP_LHU: gen_load(t, k, 2, false); return true;
	case OP_LWU: gen_load(t, k, 4, false); return true;
	case OP_SB: gen_store(t, k, 1); return true;
	case OP_SH: gen_store(t, k, 2); return true;
	case OP_SW: gen_store(t, k, 4); return true;
	case OP_SD: gen_store(t, k, 8); return true;
	case OP_ADDI: gen_alu_ri(t, i, ALU_ADD); return true;
	case OP_XORI: gen_alu_ri(t, i, ALU_XOR); return true;
	case OP_ORI: gen_alu_ri(t, i, ALU_OR); return true;
	case OP_ANDI: gen_alu_ri(t, i, ALU_AND); return true;
	case OP_SLTI: gen_set(t, i, CC_L, true); return true;
	case OP_SLTIU: gen_set(t, i, CC_B, true); return true;
	case OP_SLLI: gen_shift_i(t, i, SH_SHL, true); return true;
	case OP_SRLI: gen_shift_i(t, i, SH_SHR, true); return true;
	case OP_SRAI: gen_shift_i(t, i, SH_SAR, true); return true;
	case OP_ADDIW: {
		int d = dest_for(t, i->rd, 0);
		ld(t, d, i->rs1);
		if (i->imm)
			x86_alu_ri(b, ALU_ADD, false, d, i->imm);
		x86_movsxd(b, d, d);
		wr(t, i->rd, d);
		return true;
	}
	case OP_SLLIW: gen_shift_i(t, i, SH_SHL, false); return true;
	case OP_SRLIW: gen_shift_i(t, i, SH_SHR, false); return true;
	case OP_SRAIW: gen_shift_i(t, i, SH_SAR, false); return true;
	case OP_ADD: gen_alu_rr(t, i, ALU_ADD, true); return true;
	case OP_SUB: gen_alu_rr(t, i, ALU_SUB, true); return true;
	case OP_XOR: gen_alu_rr(t, i, ALU_XOR, true); return true;
	case OP_OR: gen_alu_rr(t, i, ALU_OR, true); return true;
	case OP_AND: gen_alu_rr(t, i, ALU_AND, true); return true;
	case OP_ADDW: gen_alu_rr(t, i, ALU_ADD, false); return true;
	case OP_SUBW: gen_alu_rr(t, i, ALU_SUB, false); return true;
	case OP_SLT: gen_set(t, i, CC_L, false); return true;
	case OP_SLTU: gen_set(t, i, CC_B, false); return true;
	case OP_SLL: gen_shift_r(t, i, SH_SHL, true); return true;
	case OP_SRL: gen_shift_r(t, i, SH_SHR, true); return true;
	case OP_SRA: gen_shift_r(t, i, SH_SAR, true); return true;
	case OP_SLLW: gen_shift_r(t, i, SH_SHL, false); return true;
	case OP_SRLW: gen_shift_r(t, i, SH_SHR, false); return true;
	case OP_SRAW: gen_shift_r(t, i, SH_SAR, false); return true;
	case OP_MUL: gen_mul(t, i, true); return true;
	case OP_MULW: gen_mul(t, i, false); return true;
	case OP_MULH: case OP_MULHU: case OP_MULHSU: gen_mulh(t, i); return true;
	case OP_DIV: case OP_DIVU: case OP_REM: case OP_REMU:
	case OP_DIVW: case OP_DIVUW: case OP_REMW: case OP_REMUW:
		gen_div(t, i);
		return true;
	case OP_FLW: gen_fload(t, k, 4); return true;
	case OP_FLD: gen_fload(t, k, 8); return true;
	case OP_FSW: gen_fstore(t, k, 4); return true;
	case OP_FSD: gen_fstore(t, k, 8); return true;
	case OP_FP: {
		int first = t->nst;
		gen_fp(t, k);
		/* The full path redoes the whole instruction: its stubs come back after it. */
		for (int n = first; n < t->nst; n++)
			if (t->st[n].kind == ST_FP)
				t->st[n].resume = t->b.p;
		return true;
	}
	case OP_AMO:
		sync_for_call(t, k, 1, t->dirty | t->always);
		if (!t->loop)
			t->dirty = 0;
		ld(t, RDX, i->rs1);
		ld(t, RCX, i->rs2);
		cpu_arg(t);
		x86_mov_ri(b, RSI, i->w);
		call_fn(t, (const void *)h_amo);
		after_call(t, i->writes);
		exit_if_code_changed(t, k);
		return true;
	case OP_FENCE:
		/* fence.i: fetch is always coherent (see exec.c). RVWMO on x86-TSO: only ordering earlier
		 * stores before later loads needs a host fence (and fence.i orders like a full fence). */
		if (((i->w >> 12) & 7) == 1 || (((i->w >> 24) & 1) && ((i->w >> 21) & 1))) {
			x86__byte(b, 0x0f);
			x86__byte(b, 0xae);
			x86__byte(b, 0xf0); /* mfence */
		}
		exit_to(t, k, i->pc + i->len);
		return false;
	case OP_CSR: {
		/* The block goes on unless the write asked the run to end (interrupts enabled, the FPU or the
		 * translation of data accesses changed, satp written: cpu->budget = 0). */
		sync_for_call(t, k, 1, t->dirty | t->always);
		if (!t->loop)
			t->dirty = 0;
		cpu_arg(t);
		x86_mov_ri(b, RSI, i->w);
		x86_mov_ri(b, RDX, i->len);
		call_fn(t, (const void *)h_csr);
		after_call(t, i->writes);
		x86_alu_mi(b, ALU_CMP, true, M(R_CPU, CPU_OFF(budget)), 0);
		struct stub *s = add_stub(t, ST_NOSYNC, x86_jcc32(b, CC_LE), k);
		s->pc = i->pc + i->len;
		t->fs_checked = t->rm_checked = false; /* frm may have changed */
		return true;
	}
	case OP_SYSTEM:
		sync_for_call(t, k, 1, t->dirty | t->always);
		cpu_arg(t);
		x86_mov_ri(b, RSI, i->w);
		x86_mov_ri(b, RDX, i->len);
		call_fn(t, (const void *)h_system);
		exit_synced(t);
		return false;
	default: /* OP_ILLEGAL: the interpreter raises it */
		sync_for_call(t, k, 0, t->dirty | t->always);
		cpu_arg(t);
		call_fn(t, (const void *)h_step);
		exit_synced(t);
		return false;
	}
}

/* ---- out-of-line stubs ---- */

static void emit_stub(struct tctx *t, struct stub *s)
{
	struct x86_buf *b = &t->b;
	const struct insn *i = &t->in[s->k];
	x86_patch(s->from, b->p);
	if (s->from2)
		x86_patch(s->from2, b->p);
	switch (s->kind) {
	case ST_LOAD:
	case ST_STORE:
		/* RAX = the virtual address; for stores, the value is in the guest register (or f register). */
		writeback(t, s->dirty);
		set_pc(t, i->pc, RCX);
		store_budget(t, t->n - s->k - 1, RCX);
		/* The value first: it may sit in RSI or RDI, which the arguments take. */
		if (s->kind == ST_STORE) {
			if (i->op == OP_FSW || i->op == OP_FSD)
				x86_load(b, true, RCX, FREG(i->rs2));
			else
				ld(t, RCX, i->rs2);
		}
		x86_mov_rr(b, true, RSI, RAX);
		x86_mov_ri(b, RDX, s->size);
		cpu_arg(t);
		call_fn(t, s->kind == ST_LOAD ? (const void *)h_load : (const void *)h_store);
		reload(t, caller_saved_mask(t));
		if (s->kind == ST_LOAD) {
			if (s->sign && s->size < 8) {
				if (s->size == 4)
					x86_movsxd(b, RAX, RAX);
				else
					x86_movx(b, s->size, true, RAX, RAX);
			}
			if (s->dst != RAX)
				x86_mov_rr(b, true, s->dst, RAX);
		} else {
			/* A store over translated code leaves the block after it (cpu__code_written). */
			x86_cmp_m8i(b, M(R_CPU, CPU_OFF(code_changed)), 0);
			uint8_t *go = x86_jcc32(b, CC_E);
			set_pc(t, i->pc + i->len, RCX);
			jmp_rx(t, t->j->exit);
			x86_patch(go, b->p);
		}
		x86_patch(x86_jmp32(b), s->resume);
		break;
	case ST_FP:
		writeback(t, s->dirty);
		set_pc(t, i->pc, RCX);
		store_budget(t, t->n - s->k - 1, RCX);
		cpu_arg(t);
		x86_mov_ri(b, RSI, i->w);
		call_fn(t, (const void *)h_fp);
		reload(t, caller_saved_mask(t) | i->writes);
		x86_patch(x86_jmp32(b), s->resume);
		break;
	case ST_FPSTEP:
		writeback(t, s->dirty);
		set_pc(t, i->pc, RCX);
		store_budget(t, t->n - s->k, RCX);
		cpu_arg(t);
		call_fn(t, (const void *)h_step);
		jmp_rx(t, t->j->exit);
		break;
	case ST_NOSYNC:
		set_pc(t, s->pc, RCX);
		jmp_rx(t, t->j->exit);
		break;
	case ST_EXIT:
		writeback(t, s->dirty);
		if (s->budget_adj)
			x86_alu_ri(b, ALU_ADD, true, R_BUDGET, s->budget_adj);
		goto_pc(t, s->k, s->pc);
		break;
	case ST_PLAIN:
		writeback(t, s->dirty);
		if (s->budget_adj)
			x86_alu_ri(b, ALU_ADD, true, R_BUDGET, s->budget_adj);
		set_pc(t, s->pc, RCX);
		store_budget(t, 0, RCX);
		jmp_rx(t, t->j->exit);
		break;
	case ST_LINK:
		set_pc(t, s->pc, RCX);
		store_budget(t, 0, RCX);
		x86_mov_ri(b, RCX, (uint64_t)(uintptr_t)jit__rx_of(t->j, s->from));
		x86_store(b, true, M(R_CPU, CPU_OFF(jit_link)), RCX);
		jmp_rx(t, t->j->exit);
		break;
	}
}

/* ---- the block ---- */

struct jit_block *jit__translate(struct rv_jit *j, uint64_t vpc, const uint8_t *h)
{
	struct tctx *t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	memset(t, 0, offsetof(struct tctx, in));
	t->j = j;
	t->cpu = j->cpu;
	t->vpc0 = vpc;
	t->h0 = h;
	t->flags = jit__flags(j->cpu);
	t->n = scan(t);
	if (t->n == 0) {
		free(t);
		return NULL;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		jit__reserve(j);
		uint8_t *start = j->rw + j->used;
		t->b = (struct x86_buf){ start, start, start + JIT_MAX_BLOCK_CODE, false };
		t->nst = 0;
		t->dirty = 0;
		t->fs_checked = t->rm_checked = t->fs_marked = false;
		allocate(t);
		uint32_t in = live_in(t);
		t->always = 0;
		if (t->loop) {
			for (int k = 0; k < t->n; k++)
				t->always |= t->in[k].writes;
			t->always &= t->alloc;
			in = t->alloc;
		}
		/* Entry: budget and kick checks (one way out, which gives the charge back), then the prologue. */
		x86_alu_ri(&t->b, ALU_SUB, true, R_BUDGET, t->n);
		struct stub *s = add_stub(t, ST_PLAIN, x86_jcc32(&t->b, CC_L), 0);
		x86_alu_mi(&t->b, ALU_CMP, false, M(R_CPU, CPU_OFF(kick)), 0);
		s->from2 = x86_jcc32(&t->b, CC_NE);
		s->dirty = 0;
		s->pc = vpc;
		s->budget_adj = t->n;
		reload(t, in & t->alloc);
		t->loop_head = t->b.p;
		bool open = true;
		for (int k = 0; k < t->n && open; k++)
			open = gen_insn(t, k);
		if (open) /* the path ran out (page end, length): continue at the next instruction */
			exit_to(t, t->n - 1, t->in[t->n - 1].pc + t->in[t->n - 1].len);
		for (int k = 0; k < t->nst; k++)
			emit_stub(t, &t->st[k]);
		if (t->b.overflow) {
			jit__flush(j);
			continue;
		}
		const struct insn *last = &t->in[t->n - 1];
		unsigned glen = (unsigned)(last->pc + last->len - vpc);
		cpu__code_mark(j->cpu, h, glen);
		struct jit_block *blk = jit__add_block(j, (uintptr_t)h, vpc, t->flags, start,
						       (size_t)(t->b.p - start), (unsigned)t->n, glen);
		if (blk)
			jit__debug_block(j, blk);
		free(t);
		return blk;
	}
	free(t);
	return NULL;
}
