/* Hart life cycle, traps and interrupt delivery. */
#include "cpu/cpu.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "cpu/internal.h"
#include "cpu/rvc.h"

#define MISA_RV64 (2ull << 62)
#define MISA_EXT(c) (1ull << ((c) - 'A'))

void cpu__init(struct rv_cpu *cpu, uint64_t hartid, struct rv_bus *bus, const struct rv_platform *plat)
{
	memset(cpu, 0, offsetof(struct rv_cpu, bc));
	memset(cpu->bc.hash, 0, sizeof(cpu->bc.hash));
	cpu->bc.used = 0;
	cpu->bc.flush = false;
	cpu->bc.builds = cpu->bc.flushes = 0;
	cpu->mhartid = hartid;
	cpu->plat = *plat;
	cpu->rvc = rvc__table();
	mmu__init(&cpu->mmu, bus);
	cpu__reset(cpu, bus->ram_base);
}

void cpu__reset(struct rv_cpu *cpu, uint64_t pc)
{
	memset(cpu->x, 0, sizeof(cpu->x));
	memset(cpu->f, 0, sizeof(cpu->f));
	cpu->fflags = cpu->frm = 0;
	cpu->pc = pc;
	cpu->priv = PRV_M;
	cpu->misa = MISA_RV64 | MISA_EXT('I') | MISA_EXT('M') | MISA_EXT('A') | MISA_EXT('F') | MISA_EXT('D') |
		    MISA_EXT('C') | MISA_EXT('S') | MISA_EXT('U');
	cpu->mstatus = (2ull << 32) | (2ull << 34); /* UXL = SXL = 64 */
	cpu->medeleg = cpu->mideleg = cpu->mie = 0;
	cpu->mtvec = cpu->stvec = cpu->satp = 0;
	cpu->mip_sw = 0;
	cpu->mcounteren = 0;
	/* Reset value is unspecified; Linux 6.1 never writes scounteren but its vDSO reads `time`. */
	cpu->scounteren = 7;
	cpu->resv_valid = false;
	cpu__flush_icache(cpu);
	mmu__flush(&cpu->mmu);
	mmu__update_ctx(cpu);
}

uint64_t cpu__mip(const struct rv_cpu *cpu)
{
	return cpu->mip_sw | atomic_load_explicit(&cpu->mip_hw, memory_order_relaxed) |
	       atomic_load_explicit(&cpu->mip_inject, memory_order_relaxed);
}

void cpu__set_mip(struct rv_cpu *cpu, uint64_t bits, bool level)
{
	if (level) {
		atomic_fetch_or(&cpu->mip_hw, bits);
		atomic_store(&cpu->kick, 1);
	} else {
		atomic_fetch_and(&cpu->mip_hw, ~bits);
	}
}

void cpu__inject_mip(struct rv_cpu *cpu, uint64_t bits)
{
	atomic_fetch_or(&cpu->mip_inject, bits);
	atomic_store(&cpu->kick, 1);
}

/* The interrupt to take now, or -1. Priority: MEI, MSI, MTI, SEI, SSI, STI. */
static int pending_irq(const struct rv_cpu *cpu)
{
	uint64_t pend = cpu__mip(cpu) & cpu->mie;
	if (!pend)
		return -1;
	uint64_t m = pend & ~cpu->mideleg;
	uint64_t s = pend & cpu->mideleg;
	bool m_on = cpu->priv < PRV_M || (cpu->mstatus & MSTATUS_MIE);
	bool s_on = cpu->priv < PRV_S || (cpu->priv == PRV_S && (cpu->mstatus & MSTATUS_SIE));
	uint64_t take = (m_on ? m : 0) | (s_on ? s : 0);
	static const int order[] = { IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI };
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (take & (1ull << order[i]))
			return order[i];
	return -1;
}

bool cpu__irq_pending(const struct rv_cpu *cpu, bool wfi)
{
	if (wfi)
		return (cpu__mip(cpu) & cpu->mie) != 0;
	return pending_irq(cpu) >= 0;
}

void cpu__trap(struct rv_cpu *cpu, uint64_t cause, uint64_t tval, bool interrupt)
{
	uint64_t deleg = interrupt ? cpu->mideleg : cpu->medeleg;
	uint64_t mcause = cause | (interrupt ? 1ull << 63 : 0);
	cpu->resv_valid = false;
	if (cpu->priv <= PRV_S && ((deleg >> cause) & 1)) {
		cpu->scause = mcause;
		cpu->sepc = cpu->pc;
		cpu->stval = tval;
		uint64_t s = cpu->mstatus & ~(MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE);
		if (cpu->priv == PRV_S)
			s |= MSTATUS_SPP;
		if (cpu->mstatus & MSTATUS_SIE)
			s |= MSTATUS_SPIE;
		cpu->mstatus = s;
		cpu->priv = PRV_S;
		cpu->pc = (cpu->stvec & ~3ull) + ((interrupt && (cpu->stvec & 1)) ? 4 * cause : 0);
	} else {
		cpu->mcause = mcause;
		cpu->mepc = cpu->pc;
		cpu->mtval = tval;
		uint64_t s = cpu->mstatus & ~(MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE);
		s |= (uint64_t)cpu->priv << 11;
		if (cpu->mstatus & MSTATUS_MIE)
			s |= MSTATUS_MPIE;
		cpu->mstatus = s;
		cpu->priv = PRV_M;
		cpu->pc = (cpu->mtvec & ~3ull) + ((interrupt && (cpu->mtvec & 1)) ? 4 * cause : 0);
	}
	mmu__update_ctx(cpu);
}

_Noreturn void cpu__raise(struct rv_cpu *cpu, uint64_t cause, uint64_t tval)
{
	cpu__trap(cpu, cause, tval, false);
	cpu__request_exit(cpu);
	cpu->budget_unused++; /* the trapping instruction does not retire */
	longjmp(cpu->trap_jmp, 1);
}

/* Take the highest-priority enabled interrupt, if any. */
bool cpu__take_interrupt(struct rv_cpu *cpu)
{
	uint64_t inj = atomic_exchange(&cpu->mip_inject, 0);
	cpu->mip_sw |= inj;
	int irq = pending_irq(cpu);
	if (irq < 0)
		return false;
	cpu__trap(cpu, (uint64_t)irq, 0, true);
	return true;
}
