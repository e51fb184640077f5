/*
 * The interpreter: fetch straight from host memory through the exec TLB, decode, execute.
 * Interrupts are taken between cpu__run() calls; a run ends early at a block boundary when another
 * thread kicks the hart, and right after an instruction that changes interrupt or translation state.
 */
#include <stdatomic.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/internal.h"
#include "cpu/decode.h"
#include "cpu/rvc.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline uint64_t load(struct rv_cpu *cpu, uint64_t va, unsigned size)
{
	const struct rv_tlb_entry *e = &cpu->mmu.rtlb[(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
	if (likely(e->tag == (va & PAGE_MASK) && (va & (PAGE_SIZE - 1)) <= PAGE_SIZE - size)) {
		uint64_t v = 0;
		memcpy(&v, (void *)(uintptr_t)(va + e->addend), size);
		return v;
	}
	return mmu__load_slow(&cpu->mmu, va, size);
}

static inline void store(struct rv_cpu *cpu, uint64_t va, unsigned size, uint64_t val)
{
	const struct rv_tlb_entry *e = &cpu->mmu.wtlb[(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
	if (likely(e->tag == (va & PAGE_MASK) && (va & (PAGE_SIZE - 1)) <= PAGE_SIZE - size)) {
		memcpy((void *)(uintptr_t)(va + e->addend), &val, size);
		return;
	}
	mmu__store_slow(&cpu->mmu, va, size, val);
}

/* Operations that end a block: they may change pc, privilege, translation or interrupt state. */
static bool ends_block(int op)
{
	switch (op) {
	case OP_JAL: case OP_JALR: case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU:
	case OP_BGEU: case OP_SYSTEM: case OP_CSR: case OP_FENCE: case OP_ILLEGAL:
		return true;
	}
	return false;
}

static void bcache_flush(struct rv_bcache *bc)
{
	/* Nothing built since the last clear: the index is empty already, and left untouched it stays
	 * non-resident (under the translator the interpreter may never build a block; issue 18). */
	if (bc->used)
		memset(bc->hash, 0, sizeof(bc->hash));
	code_pages__clear(&bc->pages);
	bc->used = 0;
	bc->flush = false;
	bc->flushes++;
}

static inline unsigned bcache_slot(uintptr_t key)
{
	return (unsigned)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 40) & (BCACHE_HASH - 1);
}

/* One op from instruction bits; returns the op so the caller knows whether the block ends. */
static int decode_into(struct rv_bop *o, const void *const *labels, uint32_t raw, unsigned len,
		       const uint32_t *rvc)
{
	uint32_t w = len == 2 ? rvc[raw & 0xffff] : raw;
	int32_t imm = 0;
	int op = w ? decode__op(w, &imm) : OP_ILLEGAL;
	o->h = labels[op];
	o->rd = (w >> 7) & 0x1f;
	o->rs1 = (w >> 15) & 0x1f;
	o->rs2 = (w >> 20) & 0x1f;
	o->len = (uint8_t)len;
	/* ILLEGAL keeps the raw bits for tval; FP loads/stores keep them for their FS check. */
	o->imm = op == OP_ILLEGAL ? (int32_t)raw : imm;
	return op;
}

/*
 * Decode the block starting at pc (host address h on the page `page`). An instruction that
 * straddles the page end becomes a one-op block that is not cached (its second half lives on
 * another page whose mapping may change).
 */
static struct rv_block *build_block(struct rv_cpu *cpu, const void *const *labels, const uint8_t *page,
				    uint64_t pc)
{
	struct rv_bcache *bc = &cpu->bc;
	unsigned off = (unsigned)(pc & (PAGE_SIZE - 1));
	uint16_t lo;
	memcpy(&lo, page + off, 2);
	if ((lo & 3) == 3 && off > PAGE_SIZE - 4) {
		const uint8_t *next = mmu__fetch_page(&cpu->mmu, pc + 2);
		uint16_t hi;
		memcpy(&hi, next, 2);
		struct rv_block *b = (struct rv_block *)bc->scratch;
		b->key = 0;
		b->succ[0] = b->succ[1] = NULL;
		b->n = 2;
		decode_into(&b->ops[0], labels, (uint32_t)lo | (uint32_t)hi << 16, 4, cpu->rvc);
		b->ops[1].h = labels[OP_COUNT]; /* end of block */
		b->ops[1].len = 0;
		return b;
	}
	size_t need = sizeof(struct rv_block) + (BLOCK_MAX_OPS + 1) * sizeof(struct rv_bop);
	if (bc->used + need > BCACHE_ARENA)
		bcache_flush(bc);
	struct rv_block *b = (struct rv_block *)(bc->arena + bc->used);
	unsigned n = 0;
	while (n < BLOCK_MAX_OPS && off < PAGE_SIZE) {
		memcpy(&lo, page + off, 2);
		uint32_t raw = lo;
		unsigned len = 2;
		if ((lo & 3) == 3) {
			if (off > PAGE_SIZE - 4)
				break; /* straddles: becomes its own block */
			memcpy(&raw, page + off, 4);
			len = 4;
		}
		int op = decode_into(&b->ops[n++], labels, raw, len, cpu->rvc);
		off += len;
		if (ends_block(op))
			break;
	}
	b->ops[n].h = labels[OP_COUNT]; /* falls through to the next block */
	b->ops[n].len = 0;
	b->n = n + 1;
	b->key = (uintptr_t)(page + (pc & (PAGE_SIZE - 1)));
	b->succ[0] = b->succ[1] = NULL;
	b->glen = off - (unsigned)(pc & (PAGE_SIZE - 1));
	cpu__code_mark(cpu, (const uint8_t *)b->key, b->glen);
	void *prev = NULL;
	if (bc->pages.head) {
		size_t pg = (size_t)((const uint8_t *)b->key - cpu->mmu.bus->ram) >> PAGE_SHIFT;
		if (!code_pages__push(&bc->pages, pg, b, &prev))
			bc->flush = true; /* cannot track it: drop everything at the next block */
	}
	b->pnext = prev;
	unsigned slot = bcache_slot(b->key);
	b->next = bc->hash[slot];
	bc->hash[slot] = b;
	bc->used += (sizeof(struct rv_block) + b->n * sizeof(struct rv_bop) + 15) & ~(size_t)15;
	bc->builds++;
	return b;
}

static inline struct rv_block *find_block(struct rv_bcache *bc, uintptr_t key)
{
	for (struct rv_block *b = bc->hash[bcache_slot(key)]; b; b = b->next)
		if (b->key == key)
			return b;
	return NULL;
}

/*
 * Run decoded blocks until the budget is used up. Each op handler ends by jumping straight to the
 * next op's handler (threaded code); `pc` is the address of the current op and is written back to
 * cpu->pc before anything that can trap. x[0] is re-zeroed after every op so handlers can write
 * rd unconditionally.
 */
static void exec_loop(struct rv_cpu *cpu)
{
	static const void *const labels[OP_COUNT + 1] = {
#define OP_LABEL(name) [OP_##name] = &&L_##name,
		OPS(OP_LABEL)
#undef OP_LABEL
		[OP_COUNT] = &&L_END,
	};
	uint64_t *x = cpu->x;
	struct rv_bcache *bc = &cpu->bc;
	uint64_t page_va = ~0ull;
	const uint8_t *page = NULL;
	const struct rv_bop *op;
	struct rv_block *cur;
	uint64_t pc;

#define DISPATCH()                                                                                           \
	do {                                                                                                 \
		x[0] = 0;                                                                                    \
		if (unlikely(cpu->budget <= 0)) {                                                            \
			cpu->pc = pc;                                                                        \
			return;                                                                              \
		}                                                                                            \
		cpu->budget--;                                                                               \
		goto *op->h;                                                                                 \
	} while (0)
#define NEXT()                                                                                               \
	do {                                                                                                 \
		pc += op->len;                                                                               \
		op++;                                                                                        \
		DISPATCH();                                                                                  \
	} while (0)
/*
 * Leave the block for `target`. Within the same page the successor block is found through the
 * block's successor cache (the page's translation cannot change inside a run of blocks: anything
 * that changes it ends the run), otherwise through the hash table at `block`.
 */
#define JUMP_VIA(target, i)                                                                                  \
	do {                                                                                                 \
		uint64_t t_ = (target);                                                                      \
		x[0] = 0;                                                                                    \
		cpu->pc = t_;                                                                                \
		if (likely((t_ & PAGE_MASK) == page_va) && likely(cpu->budget > 0) && likely(!KICKED())) {   \
			uintptr_t k_ = (uintptr_t)(page + (t_ & (PAGE_SIZE - 1)));                           \
			struct rv_block *s_ = cur->succ[i];                                                  \
			if (unlikely(!s_ || s_->key != k_)) {                                                \
				s_ = find_block(bc, k_);                                                     \
				if (!s_)                                                                     \
					goto block;                                                          \
				cur->succ[i] = s_;                                                           \
			}                                                                                    \
			cur = s_;                                                                            \
			pc = t_;                                                                             \
			op = s_->ops;                                                                        \
			cpu->budget--;                                                                       \
			goto *op->h;                                                                         \
		}                                                                                            \
		goto block;                                                                                  \
	} while (0)
#define JUMP(target) JUMP_VIA(target, 0)
/* After a store: if it wrote over decoded instructions, the rest of this block is stale. */
#define NEXT_STORE()                                                                                         \
	do {                                                                                                 \
		if (unlikely(cpu->code_changed)) {                                                           \
			cpu->pc = pc + op->len;                                                              \
			x[0] = 0;                                                                            \
			goto block;                                                                          \
		}                                                                                            \
		NEXT();                                                                                      \
	} while (0)
/* Interrupts, pause and halt are looked at between blocks (another thread sets cpu->kick). */
#define KICKED() atomic_load_explicit(&cpu->kick, memory_order_relaxed)
#define SYNC() (cpu->pc = pc)
#define RD x[op->rd]
#define RS1 x[op->rs1]
#define RS2 x[op->rs2]
#define IMM ((uint64_t)(int64_t)op->imm)
#define BRANCH(cond)                                                                                         \
	do {                                                                                                 \
		if (cond)                                                                                    \
			JUMP_VIA(pc + IMM, 0);                                                               \
		JUMP_VIA(pc + op->len, 1);                                                                   \
	} while (0)

block:
	cpu->code_changed = false;
	if (unlikely(atomic_load_explicit(&cpu->mail_pending, memory_order_acquire)) && cpu__take_mail(cpu))
		page_va = ~0ull; /* the TLB was flushed */
	if (unlikely(cpu->budget <= 0) || unlikely(KICKED()))
		return;
	if (unlikely(bc->flush))
		bcache_flush(bc);
	cpu->budget--; /* before the fetch: a fetch fault un-counts its instruction */
	pc = cpu->pc;
	if (unlikely((pc & PAGE_MASK) != page_va)) {
		page = mmu__fetch_page(&cpu->mmu, pc);
		page_va = pc & PAGE_MASK;
	}
	{
		struct rv_block *b = find_block(bc, (uintptr_t)(page + (pc & (PAGE_SIZE - 1))));
		if (unlikely(!b))
			b = build_block(cpu, labels, page, pc);
		cur = b;
		op = b->ops;
	}
	goto *op->h;

L_END:
	cpu->budget++; /* the end marker is not an instruction */
	JUMP(pc);
L_ILLEGAL:
	SYNC();
	ops__illegal(cpu, (uint32_t)op->imm);
L_LUI:
	RD = IMM;
	NEXT();
L_AUIPC:
	RD = pc + IMM;
	NEXT();
L_JAL:
	RD = pc + op->len;
	JUMP(pc + IMM);
L_JALR: {
	uint64_t t = (RS1 + IMM) & ~1ull;
	RD = pc + op->len;
	JUMP(t);
}
L_BEQ:
	BRANCH(RS1 == RS2);
L_BNE:
	BRANCH(RS1 != RS2);
L_BLT:
	BRANCH((int64_t)RS1 < (int64_t)RS2);
L_BGE:
	BRANCH((int64_t)RS1 >= (int64_t)RS2);
L_BLTU:
	BRANCH(RS1 < RS2);
L_BGEU:
	BRANCH(RS1 >= RS2);
L_LB:
	SYNC();
	RD = (uint64_t)(int64_t)(int8_t)load(cpu, RS1 + IMM, 1);
	NEXT();
L_LH:
	SYNC();
	RD = (uint64_t)(int64_t)(int16_t)load(cpu, RS1 + IMM, 2);
	NEXT();
L_LW:
	SYNC();
	RD = (uint64_t)sx32(load(cpu, RS1 + IMM, 4));
	NEXT();
L_LD:
	SYNC();
	RD = load(cpu, RS1 + IMM, 8);
	NEXT();
L_LBU:
	SYNC();
	RD = load(cpu, RS1 + IMM, 1);
	NEXT();
L_LHU:
	SYNC();
	RD = load(cpu, RS1 + IMM, 2);
	NEXT();
L_LWU:
	SYNC();
	RD = load(cpu, RS1 + IMM, 4);
	NEXT();
L_SB:
	SYNC();
	store(cpu, RS1 + IMM, 1, RS2);
	NEXT_STORE();
L_SH:
	SYNC();
	store(cpu, RS1 + IMM, 2, RS2);
	NEXT_STORE();
L_SW:
	SYNC();
	store(cpu, RS1 + IMM, 4, RS2);
	NEXT_STORE();
L_SD:
	SYNC();
	store(cpu, RS1 + IMM, 8, RS2);
	NEXT_STORE();
L_ADDI:
	RD = RS1 + IMM;
	NEXT();
L_SLTI:
	RD = (int64_t)RS1 < (int64_t)IMM;
	NEXT();
L_SLTIU:
	RD = RS1 < IMM;
	NEXT();
L_XORI:
	RD = RS1 ^ IMM;
	NEXT();
L_ORI:
	RD = RS1 | IMM;
	NEXT();
L_ANDI:
	RD = RS1 & IMM;
	NEXT();
L_SLLI:
	RD = RS1 << (op->imm & 63);
	NEXT();
L_SRLI:
	RD = RS1 >> (op->imm & 63);
	NEXT();
L_SRAI:
	RD = (uint64_t)((int64_t)RS1 >> (op->imm & 63));
	NEXT();
L_ADDIW:
	RD = (uint64_t)sx32(RS1 + IMM);
	NEXT();
L_SLLIW:
	RD = (uint64_t)sx32((uint32_t)RS1 << (op->imm & 31));
	NEXT();
L_SRLIW:
	RD = (uint64_t)sx32((uint32_t)RS1 >> (op->imm & 31));
	NEXT();
L_SRAIW:
	RD = (uint64_t)(int64_t)((int32_t)RS1 >> (op->imm & 31));
	NEXT();
L_ADD:
	RD = RS1 + RS2;
	NEXT();
L_SUB:
	RD = RS1 - RS2;
	NEXT();
L_SLL:
	RD = RS1 << (RS2 & 63);
	NEXT();
L_SLT:
	RD = (int64_t)RS1 < (int64_t)RS2;
	NEXT();
L_SLTU:
	RD = RS1 < RS2;
	NEXT();
L_XOR:
	RD = RS1 ^ RS2;
	NEXT();
L_SRL:
	RD = RS1 >> (RS2 & 63);
	NEXT();
L_SRA:
	RD = (uint64_t)((int64_t)RS1 >> (RS2 & 63));
	NEXT();
L_OR:
	RD = RS1 | RS2;
	NEXT();
L_AND:
	RD = RS1 & RS2;
	NEXT();
L_MUL:
	RD = RS1 * RS2;
	NEXT();
L_MULH:
	RD = mulh((int64_t)RS1, (int64_t)RS2);
	NEXT();
L_MULHSU:
	RD = mulhsu((int64_t)RS1, RS2);
	NEXT();
L_MULHU:
	RD = mulhu(RS1, RS2);
	NEXT();
L_DIV:
	RD = ops__m64(4, RS1, RS2);
	NEXT();
L_DIVU:
	RD = ops__m64(5, RS1, RS2);
	NEXT();
L_REM:
	RD = ops__m64(6, RS1, RS2);
	NEXT();
L_REMU:
	RD = ops__m64(7, RS1, RS2);
	NEXT();
L_ADDW:
	RD = (uint64_t)sx32(RS1 + RS2);
	NEXT();
L_SUBW:
	RD = (uint64_t)sx32(RS1 - RS2);
	NEXT();
L_SLLW:
	RD = (uint64_t)sx32((uint32_t)RS1 << (RS2 & 31));
	NEXT();
L_SRLW:
	RD = (uint64_t)sx32((uint32_t)RS1 >> (RS2 & 31));
	NEXT();
L_SRAW:
	RD = (uint64_t)(int64_t)((int32_t)RS1 >> (RS2 & 31));
	NEXT();
L_MULW:
	RD = (uint64_t)sx32((uint32_t)RS1 * (uint32_t)RS2);
	NEXT();
L_DIVW:
	RD = ops__m32(4, RS1, RS2);
	NEXT();
L_DIVUW:
	RD = ops__m32(5, RS1, RS2);
	NEXT();
L_REMW:
	RD = ops__m32(6, RS1, RS2);
	NEXT();
L_REMUW:
	RD = ops__m32(7, RS1, RS2);
	NEXT();
L_FENCE:
	/*
	 * fence.i needs nothing more: stores by any hart and device writes already dropped whatever they
	 * overwrote (cpu__code_written, bus__code_dma), so instruction fetch is always coherent.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	cpu->pc = pc + op->len;
	x[0] = 0;
	goto block; /* not JUMP: the flush must happen before the next lookup */
L_AMO:
	SYNC();
	ops__amo(cpu, (uint32_t)op->imm, RS1, RS2);
	NEXT_STORE();
L_SYSTEM:
	SYNC();
	if (!ops__system(cpu, (uint32_t)op->imm))
		cpu->pc = pc + op->len;
	x[0] = 0;
	page_va = ~0ull; /* translation may have changed */
	goto block;
L_CSR:
	SYNC();
	ops__csr(cpu, (uint32_t)op->imm);
	page_va = ~0ull; /* satp, mstatus or privilege may have changed */
	JUMP(pc + op->len);
L_FLW:
	SYNC();
	if (!fpu__enabled(cpu))
		ops__illegal(cpu, ops__raw_insn(cpu, pc));
	cpu->f[op->rd] = load(cpu, RS1 + IMM, 4) | 0xffffffff00000000ull;
	fpu__dirty(cpu);
	NEXT();
L_FLD:
	SYNC();
	if (!fpu__enabled(cpu))
		ops__illegal(cpu, ops__raw_insn(cpu, pc));
	cpu->f[op->rd] = load(cpu, RS1 + IMM, 8);
	fpu__dirty(cpu);
	NEXT();
L_FSW:
	SYNC();
	if (!fpu__enabled(cpu))
		ops__illegal(cpu, ops__raw_insn(cpu, pc));
	store(cpu, RS1 + IMM, 4, cpu->f[op->rs2]);
	NEXT_STORE();
L_FSD:
	SYNC();
	if (!fpu__enabled(cpu))
		ops__illegal(cpu, ops__raw_insn(cpu, pc));
	store(cpu, RS1 + IMM, 8, cpu->f[op->rs2]);
	NEXT_STORE();
L_FP:
	SYNC();
	if (!fpu__enabled(cpu))
		ops__illegal(cpu, ops__raw_insn(cpu, pc));
	fpu__exec(cpu, (uint32_t)op->imm);
	NEXT();

#undef DISPATCH
#undef NEXT
#undef NEXT_STORE
#undef JUMP
#undef KICKED
#undef JUMP_VIA
#undef SYNC
#undef RD
#undef RS1
#undef RS2
#undef IMM
#undef BRANCH
}

bool interp__code_written(struct rv_cpu *cpu, const uint8_t *host, unsigned len, bool *page_empty)
{
	struct rv_bcache *bc = &cpu->bc;
	*page_empty = true;
	if (!bc->pages.head)
		return true; /* no page index: assume the worst */
	size_t pg = (size_t)(host - cpu->mmu.bus->ram) >> PAGE_SHIFT;
	struct rv_block *first = code_pages__get(&bc->pages, pg), *b;
	for (b = first; b; b = b->pnext)
		if ((uintptr_t)host < b->key + b->glen && b->key < (uintptr_t)host + len)
			break;
	if (!b) {
		*page_empty = !first;
		return false;
	}
	/* Drop the page's blocks: out of the hash table, and keyed 0 so no successor link matches them. */
	for (b = first; b; b = b->pnext) {
		struct rv_block **pp = &bc->hash[bcache_slot(b->key)];
		while (*pp && *pp != b)
			pp = &(*pp)->next;
		if (*pp)
			*pp = b->next;
		b->key = 0;
	}
	code_pages__drop(&bc->pages, pg);
	return true;
}

void interp__run(struct rv_cpu *cpu)
{
	exec_loop(cpu);
}

void interp__step(struct rv_cpu *cpu)
{
	/* Lend the loop one instruction of the budget; the rest counts as unused while it runs (a trap ends
	 * the run with it unused), and comes back if the instruction completes. */
	int64_t rest = cpu->budget - 1;
	cpu->budget = 1;
	cpu->budget_unused += rest;
	exec_loop(cpu);
	cpu->budget_unused -= rest;
	cpu->budget += rest;
}
