/*
 * The interpreter: fetch straight from host memory through the exec TLB, decode, execute.
 * Interrupts are looked at only between cpu__run() calls and whenever an instruction changes
 * interrupt or translation state (which ends the run early).
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
	return mmu__load_slow(cpu, va, size);
}

static inline void store(struct rv_cpu *cpu, uint64_t va, unsigned size, uint64_t val)
{
	const struct rv_tlb_entry *e = &cpu->mmu.wtlb[(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
	if (likely(e->tag == (va & PAGE_MASK) && (va & (PAGE_SIZE - 1)) <= PAGE_SIZE - size)) {
		memcpy((void *)(uintptr_t)(va + e->addend), &val, size);
		return;
	}
	mmu__store_slow(cpu, va, size, val);
}

static _Noreturn void illegal(struct rv_cpu *cpu, uint32_t insn)
{
	cpu__raise(cpu, EXC_ILLEGAL, insn);
}

/* The raw bits of the instruction at pc (for tval), read through the exec TLB. */
static uint32_t fp_raw(struct rv_cpu *cpu, uint64_t pc)
{
	const uint8_t *page = mmu__fetch_page(cpu, pc);
	unsigned off = (unsigned)(pc & (PAGE_SIZE - 1));
	uint16_t lo;
	memcpy(&lo, page + off, 2);
	if ((lo & 3) != 3)
		return lo;
	uint16_t hi = 0;
	if (off <= PAGE_SIZE - 4)
		memcpy(&hi, page + off + 2, 2);
	else
		memcpy(&hi, mmu__fetch_page(cpu, pc + 2), 2);
	return (uint32_t)lo | (uint32_t)hi << 16;
}

static inline int64_t sx32(uint64_t v)
{
	return (int32_t)v;
}

static uint64_t mulhu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

static uint64_t mulh(int64_t a, int64_t b)
{
	return (uint64_t)(((__int128)a * b) >> 64);
}

static uint64_t mulhsu(int64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)a * (unsigned __int128)b) >> 64);
}

static uint64_t op_m(uint32_t f3, uint64_t a, uint64_t b)
{
	switch (f3) {
	case 0:
		return a * b;
	case 1:
		return mulh((int64_t)a, (int64_t)b);
	case 2:
		return mulhsu((int64_t)a, b);
	case 3:
		return mulhu(a, b);
	case 4:
		if (b == 0)
			return ~0ull;
		if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
			return a;
		return (uint64_t)((int64_t)a / (int64_t)b);
	case 5:
		return b == 0 ? ~0ull : a / b;
	case 6:
		if (b == 0)
			return a;
		if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
			return 0;
		return (uint64_t)((int64_t)a % (int64_t)b);
	default:
		return b == 0 ? a : a % b;
	}
}

static uint64_t op_m32(struct rv_cpu *cpu, uint32_t insn, uint32_t f3, uint64_t a64, uint64_t b64)
{
	int32_t a = (int32_t)a64, b = (int32_t)b64;
	uint32_t ua = (uint32_t)a64, ub = (uint32_t)b64;
	switch (f3) {
	case 0:
		return (uint64_t)(int64_t)(int32_t)(ua * ub);
	case 4:
		if (b == 0)
			return ~0ull;
		if (a == INT32_MIN && b == -1)
			return (uint64_t)(int64_t)a;
		return (uint64_t)(int64_t)(a / b);
	case 5:
		return (uint64_t)(int64_t)(int32_t)(ub == 0 ? ~0u : ua / ub);
	case 6:
		if (b == 0)
			return (uint64_t)(int64_t)a;
		if (a == INT32_MIN && b == -1)
			return 0;
		return (uint64_t)(int64_t)(a % b);
	case 7:
		return (uint64_t)(int64_t)(int32_t)(ub == 0 ? ua : ua % ub);
	}
	illegal(cpu, insn);
}

static bool amo_known(uint32_t f5)
{
	switch (f5) {
	case 0x00: case 0x01: case 0x04: case 0x08: case 0x0c: case 0x10: case 0x14: case 0x18: case 0x1c:
		return true;
	}
	return false;
}

/* The value an AMO writes back (f5 checked by amo_known). */
static uint64_t amo_alu(uint32_t f5, uint64_t old, uint64_t src)
{
	switch (f5) {
	case 0x01: return src;
	case 0x00: return old + src;
	case 0x04: return old ^ src;
	case 0x0c: return old & src;
	case 0x08: return old | src;
	case 0x10: return (int64_t)old < (int64_t)src ? old : src;
	case 0x14: return (int64_t)old > (int64_t)src ? old : src;
	case 0x18: return old < src ? old : src;
	default: return old > src ? old : src;
	}
}

static void exec_amo(struct rv_cpu *cpu, uint32_t insn, uint32_t rd, uint64_t addr, uint64_t src)
{
	uint32_t f3 = (insn >> 12) & 7, f5 = insn >> 27;
	if (f3 != 2 && f3 != 3)
		illegal(cpu, insn);
	bool dbl = f3 == 3;
	unsigned size = dbl ? 8 : 4;
	uint64_t res;
	if (f5 == 2) { /* LR */
		if ((insn >> 20) & 0x1f)
			illegal(cpu, insn);
		void *p = mmu__amo_ptr(cpu, addr, size, true);
		res = dbl ? __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST)
			  : (uint64_t)(int64_t)(int32_t)__atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST);
		cpu->resv_valid = true;
		cpu->resv_addr = addr;
		cpu->resv_value = res;
	} else if (f5 == 3) { /* SC */
		void *p = mmu__amo_ptr(cpu, addr, size, false);
		res = 1;
		if (cpu->resv_valid && cpu->resv_addr == addr) {
			if (dbl) {
				uint64_t exp = cpu->resv_value;
				res = !__atomic_compare_exchange_n((uint64_t *)p, &exp, src, false, __ATOMIC_SEQ_CST,
								   __ATOMIC_SEQ_CST);
			} else {
				uint32_t exp = (uint32_t)cpu->resv_value;
				res = !__atomic_compare_exchange_n((uint32_t *)p, &exp, (uint32_t)src, false,
								   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			}
		}
		cpu->resv_valid = false;
	} else {
		if (!amo_known(f5))
			illegal(cpu, insn);
		void *p = mmu__amo_ptr(cpu, addr, size, false);
		if (dbl) {
			uint64_t *q = p, old = __atomic_load_n(q, __ATOMIC_RELAXED);
			while (!__atomic_compare_exchange_n(q, &old, amo_alu(f5, old, src), true, __ATOMIC_SEQ_CST,
							    __ATOMIC_RELAXED))
				;
			res = old;
		} else {
			/* On sign-extended 32-bit values the 64-bit operations give the 32-bit results. */
			uint32_t *q = p, old = __atomic_load_n(q, __ATOMIC_RELAXED);
			while (!__atomic_compare_exchange_n(q, &old, (uint32_t)amo_alu(f5, (uint64_t)sx32(old),
										       (uint64_t)sx32(src)),
							    true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
				;
			res = (uint64_t)sx32(old);
		}
	}
	if (rd)
		cpu->x[rd] = res;
}

#define CSR_NUM_MIP 0x344

static void exec_csr(struct rv_cpu *cpu, uint32_t insn, uint32_t rd, uint32_t rs1, uint32_t f3)
{
	unsigned csr = insn >> 20;
	uint64_t src = (f3 & 4) ? rs1 : cpu->x[rs1];
	uint64_t old = 0;
	bool writes = (f3 & 3) == 1 || rs1 != 0;
	bool reads = (f3 & 3) != 1 || rd != 0;
	if (reads && !csr__read(cpu, csr, &old))
		illegal(cpu, insn);
	if (!reads && (csr >> 10) == 3)
		illegal(cpu, insn);
	if (writes) {
		/*
		 * csrrs/csrrc on mip modify only the software-writable SEIP bit, not the PLIC's line
		 * that the read reflects: otherwise a set of STIP would latch a passing SEIP forever.
		 */
		uint64_t base = csr == CSR_NUM_MIP ? (old & ~MIP_SEIP) | (cpu->mip_sw & MIP_SEIP) : old;
		uint64_t nv = (f3 & 3) == 1 ? src : (f3 & 3) == 2 ? base | src : base & ~src;
		if (!csr__write(cpu, csr, nv))
			illegal(cpu, insn);
	}
	if (rd)
		cpu->x[rd] = old;
}

/* SYSTEM opcode with funct3 = 0: ecall, ebreak, xret, wfi, sfence.vma. Returns true if pc was set. */
static bool exec_system(struct rv_cpu *cpu, uint32_t insn)
{
	uint32_t rd = (insn >> 7) & 0x1f, rs1 = (insn >> 15) & 0x1f;
	if (insn >> 25 == 0x09) { /* sfence.vma */
		if (rd || cpu->priv == PRV_U || (cpu->priv == PRV_S && (cpu->mstatus & MSTATUS_TVM)))
			illegal(cpu, insn);
		if (rs1)
			mmu__flush_page(&cpu->mmu, cpu->x[rs1]);
		else
			mmu__flush(&cpu->mmu);
		cpu__request_exit(cpu);
		return false;
	}
	if (rd || rs1)
		illegal(cpu, insn);
	switch (insn >> 20) {
	case 0x000: /* ecall */
		if (cpu->priv == PRV_S && cpu->plat.ecall && cpu->plat.ecall(cpu->plat.opaque, cpu))
			return false;
		cpu__raise(cpu, EXC_ECALL_U + (uint64_t)cpu->priv, 0);
	case 0x001: /* ebreak */
		cpu__raise(cpu, EXC_BREAKPOINT, cpu->pc);
	case 0x102: { /* sret */
		if (cpu->priv < PRV_S || (cpu->priv == PRV_S && (cpu->mstatus & MSTATUS_TSR)))
			illegal(cpu, insn);
		uint64_t s = cpu->mstatus;
		cpu->priv = (s & MSTATUS_SPP) ? PRV_S : PRV_U;
		s = (s & ~(MSTATUS_SIE | MSTATUS_SPP)) | MSTATUS_SPIE | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
		s &= ~MSTATUS_MPRV;
		cpu->mstatus = s;
		cpu->pc = cpu->sepc;
		mmu__update_ctx(cpu);
		cpu__request_exit(cpu);
		return true;
	}
	case 0x302: { /* mret */
		if (cpu->priv != PRV_M)
			illegal(cpu, insn);
		uint64_t s = cpu->mstatus;
		int mpp = (int)((s & MSTATUS_MPP) >> 11);
		cpu->priv = mpp;
		s = (s & ~(MSTATUS_MIE | MSTATUS_MPP)) | MSTATUS_MPIE | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
		if (mpp != PRV_M)
			s &= ~MSTATUS_MPRV;
		cpu->mstatus = s;
		cpu->pc = cpu->mepc;
		mmu__update_ctx(cpu);
		cpu__request_exit(cpu);
		return true;
	}
	case 0x105: /* wfi */
		if (cpu->priv == PRV_U || (cpu->priv == PRV_S && (cpu->mstatus & MSTATUS_TW)))
			illegal(cpu, insn);
		cpu->exit_reason = RV_EXIT_WFI;
		cpu__request_exit(cpu);
		return false;
	}
	illegal(cpu, insn);
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
	memset(bc->hash, 0, sizeof(bc->hash));
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
		const uint8_t *next = mmu__fetch_page(cpu, pc + 2);
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
		if (likely((t_ & PAGE_MASK) == page_va) && likely(cpu->budget > 0)) {                        \
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
	if (unlikely(cpu->budget <= 0))
		return;
	if (unlikely(bc->flush))
		bcache_flush(bc);
	cpu->budget--; /* before the fetch: a fetch fault un-counts its instruction */
	pc = cpu->pc;
	if (unlikely((pc & PAGE_MASK) != page_va)) {
		page = mmu__fetch_page(cpu, pc);
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
	illegal(cpu, (uint32_t)op->imm);
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
	NEXT();
L_SH:
	SYNC();
	store(cpu, RS1 + IMM, 2, RS2);
	NEXT();
L_SW:
	SYNC();
	store(cpu, RS1 + IMM, 4, RS2);
	NEXT();
L_SD:
	SYNC();
	store(cpu, RS1 + IMM, 8, RS2);
	NEXT();
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
	RD = op_m(4, RS1, RS2);
	NEXT();
L_DIVU:
	RD = op_m(5, RS1, RS2);
	NEXT();
L_REM:
	RD = op_m(6, RS1, RS2);
	NEXT();
L_REMU:
	RD = op_m(7, RS1, RS2);
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
	RD = op_m32(cpu, 0, 4, RS1, RS2);
	NEXT();
L_DIVUW:
	RD = op_m32(cpu, 0, 5, RS1, RS2);
	NEXT();
L_REMW:
	RD = op_m32(cpu, 0, 6, RS1, RS2);
	NEXT();
L_REMUW:
	RD = op_m32(cpu, 0, 7, RS1, RS2);
	NEXT();
L_FENCE:
	/* fence.i: decoded blocks may be stale now; the flush happens at the block boundary. */
	if (((uint32_t)op->imm >> 12 & 7) == 1)
		bc->flush = true;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	cpu->pc = pc + op->len;
	x[0] = 0;
	goto block; /* not JUMP: the flush must happen before the next lookup */
L_AMO:
	SYNC();
	exec_amo(cpu, (uint32_t)op->imm, op->rd, RS1, RS2);
	NEXT();
L_SYSTEM:
	SYNC();
	if (!exec_system(cpu, (uint32_t)op->imm))
		cpu->pc = pc + op->len;
	x[0] = 0;
	page_va = ~0ull; /* translation may have changed */
	goto block;
L_CSR:
	SYNC();
	exec_csr(cpu, (uint32_t)op->imm, op->rd, op->rs1, ((uint32_t)op->imm >> 12) & 7);
	page_va = ~0ull; /* satp, mstatus or privilege may have changed */
	JUMP(pc + op->len);
L_FLW:
	SYNC();
	if (!fpu__enabled(cpu))
		illegal(cpu, fp_raw(cpu, pc));
	cpu->f[op->rd] = load(cpu, RS1 + IMM, 4) | 0xffffffff00000000ull;
	fpu__dirty(cpu);
	NEXT();
L_FLD:
	SYNC();
	if (!fpu__enabled(cpu))
		illegal(cpu, fp_raw(cpu, pc));
	cpu->f[op->rd] = load(cpu, RS1 + IMM, 8);
	fpu__dirty(cpu);
	NEXT();
L_FSW:
	SYNC();
	if (!fpu__enabled(cpu))
		illegal(cpu, fp_raw(cpu, pc));
	store(cpu, RS1 + IMM, 4, cpu->f[op->rs2]);
	NEXT();
L_FSD:
	SYNC();
	if (!fpu__enabled(cpu))
		illegal(cpu, fp_raw(cpu, pc));
	store(cpu, RS1 + IMM, 8, cpu->f[op->rs2]);
	NEXT();
L_FP:
	SYNC();
	if (!fpu__enabled(cpu))
		illegal(cpu, fp_raw(cpu, pc));
	fpu__exec(cpu, (uint32_t)op->imm);
	NEXT();

#undef DISPATCH
#undef NEXT
#undef JUMP
#undef JUMP_VIA
#undef SYNC
#undef RD
#undef RS1
#undef RS2
#undef IMM
#undef BRANCH
}

uint64_t cpu__run(struct rv_cpu *cpu, uint64_t budget, enum rv_exit *why)
{
	cpu->budget = cpu->budget_start = (int64_t)budget;
	cpu->budget_unused = 0;
	cpu->exit_reason = RV_EXIT_BUDGET;
	atomic_store_explicit(&cpu->kick, 0, memory_order_relaxed);
	if (!cpu__take_interrupt(cpu)) {
		cpu->executing = 1;
		if (setjmp(cpu->trap_jmp) == 0)
			exec_loop(cpu);
		cpu->executing = 0;
	}
	uint64_t done = (uint64_t)(cpu->budget_start - cpu->budget - cpu->budget_unused);
	cpu->retired += done;
	cpu->budget = cpu->budget_start = cpu->budget_unused = 0;
	if (why)
		*why = cpu->exit_reason;
	return done;
}
