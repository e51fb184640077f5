/*
 * The interpreter: fetch straight from host memory through the exec TLB, decode, execute.
 * Interrupts are looked at only between cpu__run() calls and whenever an instruction changes
 * interrupt or translation state (which ends the run early).
 */
#include <stdatomic.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/internal.h"
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
		void *p = mmu__amo_ptr(cpu, addr, size, false);
		if (dbl) {
			uint64_t *q = p, old = __atomic_load_n(q, __ATOMIC_RELAXED), nv;
			do {
				switch (f5) {
				case 0x01: nv = src; break;
				case 0x00: nv = old + src; break;
				case 0x04: nv = old ^ src; break;
				case 0x0c: nv = old & src; break;
				case 0x08: nv = old | src; break;
				case 0x10: nv = (int64_t)old < (int64_t)src ? old : src; break;
				case 0x14: nv = (int64_t)old > (int64_t)src ? old : src; break;
				case 0x18: nv = old < src ? old : src; break;
				case 0x1c: nv = old > src ? old : src; break;
				default: illegal(cpu, insn);
				}
			} while (!__atomic_compare_exchange_n(q, &old, nv, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
			res = old;
		} else {
			uint32_t *q = p, old = __atomic_load_n(q, __ATOMIC_RELAXED), nv, s = (uint32_t)src;
			do {
				switch (f5) {
				case 0x01: nv = s; break;
				case 0x00: nv = old + s; break;
				case 0x04: nv = old ^ s; break;
				case 0x0c: nv = old & s; break;
				case 0x08: nv = old | s; break;
				case 0x10: nv = (int32_t)old < (int32_t)s ? old : s; break;
				case 0x14: nv = (int32_t)old > (int32_t)s ? old : s; break;
				case 0x18: nv = old < s ? old : s; break;
				case 0x1c: nv = old > s ? old : s; break;
				default: illegal(cpu, insn);
				}
			} while (!__atomic_compare_exchange_n(q, &old, nv, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
			res = (uint64_t)(int64_t)(int32_t)old;
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

static inline uint32_t fetch(struct rv_cpu *cpu, const uint8_t *page, const uint32_t *rvc, unsigned *len)
{
	unsigned off = (unsigned)(cpu->pc & (PAGE_SIZE - 1));
	uint16_t lo;
	memcpy(&lo, page + off, 2);
	if ((lo & 3) != 3) {
		*len = 2;
		uint32_t insn = rvc[lo];
		if (unlikely(!insn))
			illegal(cpu, lo);
		return insn;
	}
	*len = 4;
	if (likely(off <= PAGE_SIZE - 4)) {
		uint32_t insn;
		memcpy(&insn, page + off, 4);
		return insn;
	}
	const uint8_t *next = mmu__fetch_page(cpu, cpu->pc + 2);
	uint16_t hi;
	memcpy(&hi, next, 2);
	return (uint32_t)lo | (uint32_t)hi << 16;
}

static void exec_loop(struct rv_cpu *cpu)
{
	uint64_t *x = cpu->x;
	uint64_t page_va = ~0ull;
	const uint8_t *page = NULL;
	const uint32_t *rvc = cpu->rvc;

	while (likely(cpu->budget > 0)) {
		cpu->budget--;
		uint64_t pc = cpu->pc;
		if (unlikely((pc & PAGE_MASK) != page_va)) {
			page = mmu__fetch_page(cpu, pc);
			page_va = pc & PAGE_MASK;
		}
		unsigned len;
		uint32_t insn = fetch(cpu, page, rvc, &len);
		uint32_t rd = (insn >> 7) & 0x1f, rs1 = (insn >> 15) & 0x1f, rs2 = (insn >> 20) & 0x1f;
		uint32_t f3 = (insn >> 12) & 7;
		int64_t imm_i = (int32_t)insn >> 20;
		uint64_t next = pc + len;
		uint64_t v;

		switch (insn & 0x7f) {
		case 0x37: /* lui */
			v = (uint64_t)(int64_t)(int32_t)(insn & 0xfffff000);
			break;
		case 0x17: /* auipc */
			v = pc + (uint64_t)(int64_t)(int32_t)(insn & 0xfffff000);
			break;
		case 0x6f: { /* jal */
			int64_t imm = (int64_t)(((int32_t)insn >> 11) & ~0xfffff) | (insn & 0xff000) |
				      ((insn >> 9) & 0x800) | ((insn >> 20) & 0x7fe);
			v = next;
			next = pc + (uint64_t)imm;
			break;
		}
		case 0x67: /* jalr */
			if (f3)
				illegal(cpu, insn);
			v = next;
			next = (x[rs1] + (uint64_t)imm_i) & ~1ull;
			break;
		case 0x63: { /* branches */
			uint64_t a = x[rs1], b = x[rs2];
			bool t;
			switch (f3) {
			case 0: t = a == b; break;
			case 1: t = a != b; break;
			case 4: t = (int64_t)a < (int64_t)b; break;
			case 5: t = (int64_t)a >= (int64_t)b; break;
			case 6: t = a < b; break;
			case 7: t = a >= b; break;
			default: illegal(cpu, insn);
			}
			if (t) {
				int64_t imm = (int64_t)(((int32_t)insn >> 19) & ~0xfff) | ((insn << 4) & 0x800) |
					      ((insn >> 20) & 0x7e0) | ((insn >> 7) & 0x1e);
				next = pc + (uint64_t)imm;
			}
			cpu->pc = next;
			continue;
		}
		case 0x03: { /* loads */
			uint64_t a = x[rs1] + (uint64_t)imm_i;
			switch (f3) {
			case 0: v = (uint64_t)(int64_t)(int8_t)load(cpu, a, 1); break;
			case 1: v = (uint64_t)(int64_t)(int16_t)load(cpu, a, 2); break;
			case 2: v = (uint64_t)sx32(load(cpu, a, 4)); break;
			case 3: v = load(cpu, a, 8); break;
			case 4: v = load(cpu, a, 1); break;
			case 5: v = load(cpu, a, 2); break;
			case 6: v = load(cpu, a, 4); break;
			default: illegal(cpu, insn);
			}
			break;
		}
		case 0x23: { /* stores */
			int64_t imm = (int64_t)(((int32_t)insn >> 20) & ~0x1f) | ((insn >> 7) & 0x1f);
			uint64_t a = x[rs1] + (uint64_t)imm;
			if (f3 > 3)
				illegal(cpu, insn);
			store(cpu, a, 1u << f3, x[rs2]);
			cpu->pc = next;
			continue;
		}
		case 0x13: { /* OP-IMM */
			uint64_t a = x[rs1];
			switch (f3) {
			case 0: v = a + (uint64_t)imm_i; break;
			case 1:
				if (insn >> 26)
					illegal(cpu, insn);
				v = a << (imm_i & 63);
				break;
			case 2: v = (int64_t)a < imm_i; break;
			case 3: v = a < (uint64_t)imm_i; break;
			case 4: v = a ^ (uint64_t)imm_i; break;
			case 5:
				if ((insn >> 26) == 0)
					v = a >> (imm_i & 63);
				else if ((insn >> 26) == 0x10)
					v = (uint64_t)((int64_t)a >> (imm_i & 63));
				else
					illegal(cpu, insn);
				break;
			case 6: v = a | (uint64_t)imm_i; break;
			default: v = a & (uint64_t)imm_i; break;
			}
			break;
		}
		case 0x1b: { /* OP-IMM-32 */
			uint32_t a = (uint32_t)x[rs1];
			unsigned sh = (insn >> 20) & 31;
			if (f3 == 0)
				v = (uint64_t)sx32(a + (uint32_t)imm_i);
			else if (f3 == 1 && (insn >> 25) == 0)
				v = (uint64_t)sx32(a << sh);
			else if (f3 == 5 && (insn >> 25) == 0)
				v = (uint64_t)sx32(a >> sh);
			else if (f3 == 5 && (insn >> 25) == 0x20)
				v = (uint64_t)(int64_t)((int32_t)a >> sh);
			else
				illegal(cpu, insn);
			break;
		}
		case 0x33: { /* OP */
			uint64_t a = x[rs1], b = x[rs2];
			uint32_t f7 = insn >> 25;
			if (f7 == 1) {
				v = op_m(f3, a, b);
				break;
			}
			if (f7 != 0 && !(f7 == 0x20 && (f3 == 0 || f3 == 5)))
				illegal(cpu, insn);
			switch (f3) {
			case 0: v = f7 ? a - b : a + b; break;
			case 1: v = a << (b & 63); break;
			case 2: v = (int64_t)a < (int64_t)b; break;
			case 3: v = a < b; break;
			case 4: v = a ^ b; break;
			case 5: v = f7 ? (uint64_t)((int64_t)a >> (b & 63)) : a >> (b & 63); break;
			case 6: v = a | b; break;
			default: v = a & b; break;
			}
			break;
		}
		case 0x3b: { /* OP-32 */
			uint32_t a = (uint32_t)x[rs1], b = (uint32_t)x[rs2];
			uint32_t f7 = insn >> 25;
			if (f7 == 1) {
				if (f3 >= 1 && f3 <= 3)
					illegal(cpu, insn);
				v = op_m32(cpu, insn, f3, x[rs1], x[rs2]);
				break;
			}
			if (f7 == 0 && f3 == 0)
				v = (uint64_t)sx32(a + b);
			else if (f7 == 0x20 && f3 == 0)
				v = (uint64_t)sx32(a - b);
			else if (f7 == 0 && f3 == 1)
				v = (uint64_t)sx32(a << (b & 31));
			else if (f7 == 0 && f3 == 5)
				v = (uint64_t)sx32(a >> (b & 31));
			else if (f7 == 0x20 && f3 == 5)
				v = (uint64_t)(int64_t)((int32_t)a >> (b & 31));
			else
				illegal(cpu, insn);
			break;
		}
		case 0x0f: /* fence, fence.i: memory is coherent and code is fetched from memory */
			if (f3 > 1)
				illegal(cpu, insn);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			cpu->pc = next;
			continue;
		case 0x2f: /* AMO */
			exec_amo(cpu, insn, rd, x[rs1], x[rs2]);
			cpu->pc = next;
			continue;
		case 0x73: /* SYSTEM */
			if (f3 == 0) {
				if (!exec_system(cpu, insn))
					cpu->pc = next;
				continue;
			}
			if (f3 == 4)
				illegal(cpu, insn);
			exec_csr(cpu, insn, rd, rs1, f3);
			cpu->pc = next;
			continue;
		case 0x07: { /* FLW / FLD */
			if (!fpu__enabled(cpu) || (f3 != 2 && f3 != 3))
				illegal(cpu, insn);
			uint64_t a = x[rs1] + (uint64_t)imm_i;
			cpu->f[rd] = f3 == 3 ? load(cpu, a, 8) : (load(cpu, a, 4) | 0xffffffff00000000ull);
			fpu__dirty(cpu);
			cpu->pc = next;
			continue;
		}
		case 0x27: { /* FSW / FSD */
			if (!fpu__enabled(cpu) || (f3 != 2 && f3 != 3))
				illegal(cpu, insn);
			int64_t imm = (int64_t)(((int32_t)insn >> 20) & ~0x1f) | ((insn >> 7) & 0x1f);
			store(cpu, x[rs1] + (uint64_t)imm, f3 == 3 ? 8 : 4, cpu->f[rs2]);
			cpu->pc = next;
			continue;
		}
		case 0x43:
		case 0x47:
		case 0x4b:
		case 0x4f:
		case 0x53:
			if (!fpu__enabled(cpu))
				illegal(cpu, insn);
			fpu__exec(cpu, insn);
			cpu->pc = next;
			continue;
		default:
			illegal(cpu, insn);
		}
		if (rd)
			x[rd] = v;
		cpu->pc = next;
	}
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
