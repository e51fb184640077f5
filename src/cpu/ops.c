/*
 * Instruction semantics that both CPU backends (the interpreter in exec.c and the translator in jit/)
 * share: the M extension's division and high multiplies, AMOs and LR/SC, CSR instructions, the
 * SYSTEM opcode. Each one either completes (updating cpu->x and CSRs) or raises a guest exception
 * through cpu__raise (which does not return). The caller has written pc back before calling.
 */
#include <stdatomic.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/internal.h"

_Noreturn void ops__illegal(struct rv_cpu *cpu, uint32_t insn)
{
	cpu__raise(cpu, EXC_ILLEGAL, insn);
}

/* The raw bits of the instruction at pc (for tval), read through the exec TLB. */
uint32_t ops__raw_insn(struct rv_cpu *cpu, uint64_t pc)
{
	const uint8_t *page = mmu__fetch_page(&cpu->mmu, pc);
	unsigned off = (unsigned)(pc & (PAGE_SIZE - 1));
	uint16_t lo;
	memcpy(&lo, page + off, 2);
	if ((lo & 3) != 3)
		return lo;
	uint16_t hi = 0;
	if (off <= PAGE_SIZE - 4)
		memcpy(&hi, page + off + 2, 2);
	else
		memcpy(&hi, mmu__fetch_page(&cpu->mmu, pc + 2), 2);
	return (uint32_t)lo | (uint32_t)hi << 16;
}

uint64_t ops__m64(uint32_t f3, uint64_t a, uint64_t b)
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

uint64_t ops__m32(uint32_t f3, uint64_t a64, uint64_t b64)
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
	default:
		return (uint64_t)(int64_t)(int32_t)(ub == 0 ? ua : ua % ub);
	}
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

void ops__amo(struct rv_cpu *cpu, uint32_t insn, uint64_t addr, uint64_t src)
{
	uint32_t f3 = (insn >> 12) & 7, f5 = insn >> 27, rd = (insn >> 7) & 0x1f;
	if (f3 != 2 && f3 != 3)
		ops__illegal(cpu, insn);
	bool dbl = f3 == 3;
	unsigned size = dbl ? 8 : 4;
	uint64_t res;
	if (f5 == 2) { /* LR */
		if ((insn >> 20) & 0x1f)
			ops__illegal(cpu, insn);
		void *p = mmu__amo_ptr(&cpu->mmu, addr, size, true);
		/* Other harts' stores to the granule must be seen from before the load on. */
		cpu__reserve(cpu, cpu->mmu.bus->ram_base + (uint64_t)((uint8_t *)p - cpu->mmu.bus->ram));
		res = dbl ? __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST)
			  : (uint64_t)(int64_t)(int32_t)__atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST);
		cpu->resv_valid = true;
		cpu->resv_addr = addr;
		cpu->resv_value = res;
	} else if (f5 == 3) { /* SC */
		uint64_t pa;
		void *p = mmu__amo_ptr_quiet(&cpu->mmu, addr, size, &pa);
		res = 1;
		/* The reservation must be ours still (no other hart stored to the granule since the LR), and the
		 * value what the LR read (atomically with the store). */
		if (cpu->resv_valid && cpu->resv_addr == addr && cpu__reservation_held(cpu, pa)) {
			if (dbl) {
				uint64_t exp = cpu->resv_value;
				res = !__atomic_compare_exchange_n((uint64_t *)p, &exp, src, false, __ATOMIC_SEQ_CST,
								   __ATOMIC_SEQ_CST);
			} else {
				uint32_t exp = (uint32_t)cpu->resv_value;
				res = !__atomic_compare_exchange_n((uint32_t *)p, &exp, (uint32_t)src, false,
								   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			}
			if (res == 0 && bus__write_watched(cpu->mmu.bus, pa))
				cpu__store_watched(cpu, pa, size);
		}
		cpu->resv_valid = false;
	} else {
		if (!amo_known(f5))
			ops__illegal(cpu, insn);
		void *p = mmu__amo_ptr(&cpu->mmu, addr, size, false);
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

void ops__csr(struct rv_cpu *cpu, uint32_t insn)
{
	unsigned csr = insn >> 20;
	uint32_t rd = (insn >> 7) & 0x1f, rs1 = (insn >> 15) & 0x1f, f3 = (insn >> 12) & 7;
	uint64_t src = (f3 & 4) ? rs1 : cpu->x[rs1];
	uint64_t old = 0;
	bool writes = (f3 & 3) == 1 || rs1 != 0;
	bool reads = (f3 & 3) != 1 || rd != 0;
	if (reads && !csr__read(cpu, csr, &old))
		ops__illegal(cpu, insn);
	if (!reads && (csr >> 10) == 3)
		ops__illegal(cpu, insn);
	if (writes) {
		/*
		 * csrrs/csrrc on mip modify only the software-writable SEIP bit, not the PLIC's line
		 * that the read reflects: otherwise a set of STIP would latch a passing SEIP forever.
		 */
		uint64_t base = csr == CSR_NUM_MIP ? (old & ~MIP_SEIP) | (cpu->mip_sw & MIP_SEIP) : old;
		uint64_t nv = (f3 & 3) == 1 ? src : (f3 & 3) == 2 ? base | src : base & ~src;
		if (!csr__write(cpu, csr, nv))
			ops__illegal(cpu, insn);
	}
	if (rd)
		cpu->x[rd] = old;
}

/* SYSTEM opcode with funct3 = 0: ecall, ebreak, xret, wfi, sfence.vma. Returns true if pc was set. */
bool ops__system(struct rv_cpu *cpu, uint32_t insn)
{
	uint32_t rd = (insn >> 7) & 0x1f, rs1 = (insn >> 15) & 0x1f;
	if (insn >> 25 == 0x09) { /* sfence.vma */
		if (rd || cpu->priv == PRV_U || (cpu->priv == PRV_S && (cpu->mstatus & MSTATUS_TVM)))
			ops__illegal(cpu, insn);
		if (rs1)
			mmu__flush_page(&cpu->mmu, cpu->x[rs1]);
		else
			mmu__flush(&cpu->mmu);
		cpu__request_exit(cpu);
		return false;
	}
	if (rd || rs1)
		ops__illegal(cpu, insn);
	switch (insn >> 20) {
	case 0x000: /* ecall */
		if (cpu->priv == PRV_S && cpu->plat.ecall && cpu->plat.ecall(cpu->plat.opaque, cpu))
			return false;
		cpu__raise(cpu, EXC_ECALL_U + (uint64_t)cpu->priv, 0);
	case 0x001: /* ebreak */
		cpu__raise(cpu, EXC_BREAKPOINT, cpu->pc);
	case 0x102: { /* sret */
		if (cpu->priv < PRV_S || (cpu->priv == PRV_S && (cpu->mstatus & MSTATUS_TSR)))
			ops__illegal(cpu, insn);
		uint64_t s = cpu->mstatus;
		cpu->priv = (s & MSTATUS_SPP) ? PRV_S : PRV_U;
		s = (s & ~(MSTATUS_SIE | MSTATUS_SPP)) | MSTATUS_SPIE | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
		s &= ~MSTATUS_MPRV;
		cpu->mstatus = s;
		cpu->pc = cpu->sepc;
		cpu__update_mmu(cpu);
		cpu__request_exit(cpu);
		return true;
	}
	case 0x302: { /* mret */
		if (cpu->priv != PRV_M)
			ops__illegal(cpu, insn);
		uint64_t s = cpu->mstatus;
		int mpp = (int)((s & MSTATUS_MPP) >> 11);
		cpu->priv = mpp;
		s = (s & ~(MSTATUS_MIE | MSTATUS_MPP)) | MSTATUS_MPIE | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
		if (mpp != PRV_M)
			s &= ~MSTATUS_MPRV;
		cpu->mstatus = s;
		cpu->pc = cpu->mepc;
		cpu__update_mmu(cpu);
		cpu__request_exit(cpu);
		return true;
	}
	case 0x105: /* wfi */
		if (cpu->priv == PRV_U || (cpu->priv == PRV_S && (cpu->mstatus & MSTATUS_TW)))
			ops__illegal(cpu, insn);
		cpu->exit_reason = RV_EXIT_WFI;
		cpu__request_exit(cpu);
		return false;
	}
	ops__illegal(cpu, insn);
}

