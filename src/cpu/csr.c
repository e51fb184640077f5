/* Control and status registers: access rules, WARL fields and the views S-mode gets of M state. */
#include <stdatomic.h>

#include "cpu/cpu.h"
#include "cpu/internal.h"

#define MSTATUS_WMASK                                                                                        \
	(MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | MSTATUS_FS |  \
	 MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR)
#define SSTATUS_MASK                                                                                         \
	(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_VS | MSTATUS_FS | MSTATUS_XS |     \
	 MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)
#define SSTATUS_WMASK (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)
#define MIE_MASK (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)
#define MIDELEG_MASK (MIP_SSIP | MIP_STIP | MIP_SEIP)
/* Every synchronous exception but ECALL from M can be delegated. */
#define MEDELEG_MASK 0xb3ffull
#define MIP_SW_MASK (MIP_SSIP | MIP_STIP | MIP_SEIP)

enum {
	CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
	CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02,
	CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SCOUNTEREN = 0x106,
	CSR_SENVCFG = 0x10a, CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142,
	CSR_STVAL = 0x143, CSR_SIP = 0x144, CSR_SATP = 0x180,
	CSR_MVENDORID = 0xf11, CSR_MARCHID = 0xf12, CSR_MIMPID = 0xf13, CSR_MHARTID = 0xf14,
	CSR_MCONFIGPTR = 0xf15,
	CSR_MSTATUS = 0x300, CSR_MISA = 0x301, CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303, CSR_MIE = 0x304,
	CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306, CSR_MENVCFG = 0x30a, CSR_MCOUNTINHIBIT = 0x320,
	CSR_MSCRATCH = 0x340, CSR_MEPC = 0x341, CSR_MCAUSE = 0x342, CSR_MTVAL = 0x343, CSR_MIP = 0x344,
	CSR_PMPCFG0 = 0x3a0, CSR_PMPADDR0 = 0x3b0,
	CSR_TSELECT = 0x7a0, CSR_TDATA1 = 0x7a1, CSR_TDATA2 = 0x7a2, CSR_TDATA3 = 0x7a3, CSR_TINFO = 0x7a4,
	CSR_MCYCLE = 0xb00, CSR_MINSTRET = 0xb02,
};

static uint64_t sd_fixup(uint64_t s)
{
	s &= ~MSTATUS_SD;
	if ((s & MSTATUS_FS) == MSTATUS_FS || (s & MSTATUS_XS) == MSTATUS_XS)
		s |= MSTATUS_SD;
	return s;
}

/* Counter CSRs (cycle/time/instret/hpmcounterN) visible below M only when enabled. */
static bool counter_allowed(const struct rv_cpu *cpu, unsigned idx)
{
	if (cpu->priv == PRV_M)
		return true;
	if (!((cpu->mcounteren >> idx) & 1))
		return false;
	if (cpu->priv == PRV_U && !((cpu->scounteren >> idx) & 1))
		return false;
	return true;
}

/* CSRs that show FP state the host FPU may still hold (accrued flags, and FS/SD which they dirty). */
static bool shows_fp_flags(unsigned csr)
{
	return csr == CSR_FFLAGS || csr == CSR_FCSR || csr == CSR_SSTATUS || csr == CSR_MSTATUS;
}

bool csr__read(struct rv_cpu *cpu, unsigned csr, uint64_t *val)
{
	if ((int)((csr >> 8) & 3) > cpu->priv)
		return false;
	if (shows_fp_flags(csr))
		fpu__fold(cpu);
	switch (csr) {
	case CSR_FFLAGS:
	case CSR_FRM:
	case CSR_FCSR:
		if (!fpu__enabled(cpu))
			return false;
		*val = csr == CSR_FFLAGS ? cpu->fflags : csr == CSR_FRM ? cpu->frm : (cpu->frm << 5) | cpu->fflags;
		return true;
	case CSR_SSTATUS:
		*val = cpu->mstatus & SSTATUS_MASK;
		return true;
	case CSR_SIE:
		*val = cpu->mie & cpu->mideleg;
		return true;
	case CSR_STVEC:
		*val = cpu->stvec;
		return true;
	case CSR_SCOUNTEREN:
		*val = cpu->scounteren;
		return true;
	case CSR_SENVCFG:
		*val = cpu->senvcfg;
		return true;
	case CSR_SSCRATCH:
		*val = cpu->sscratch;
		return true;
	case CSR_SEPC:
		*val = cpu->sepc;
		return true;
	case CSR_SCAUSE:
		*val = cpu->scause;
		return true;
	case CSR_STVAL:
		*val = cpu->stval;
		return true;
	case CSR_SIP:
		*val = cpu__mip(cpu) & cpu->mideleg;
		return true;
	case CSR_SATP:
		if (cpu->priv == PRV_S && (cpu->mstatus & MSTATUS_TVM))
			return false;
		*val = cpu->satp;
		return true;
	case CSR_MVENDORID:
	case CSR_MARCHID:
	case CSR_MIMPID:
	case CSR_MCONFIGPTR:
		*val = 0;
		return true;
	case CSR_MHARTID:
		*val = cpu->mhartid;
		return true;
	case CSR_MSTATUS:
		*val = cpu->mstatus;
		return true;
	case CSR_MISA:
		*val = cpu->misa;
		return true;
	case CSR_MEDELEG:
		*val = cpu->medeleg;
		return true;
	case CSR_MIDELEG:
		*val = cpu->mideleg;
		return true;
	case CSR_MIE:
		*val = cpu->mie;
		return true;
	case CSR_MTVEC:
		*val = cpu->mtvec;
		return true;
	case CSR_MCOUNTEREN:
		*val = cpu->mcounteren;
		return true;
	case CSR_MENVCFG:
		*val = cpu->menvcfg;
		return true;
	case CSR_MCOUNTINHIBIT:
		*val = cpu->mcountinhibit;
		return true;
	case CSR_MSCRATCH:
		*val = cpu->mscratch;
		return true;
	case CSR_MEPC:
		*val = cpu->mepc;
		return true;
	case CSR_MCAUSE:
		*val = cpu->mcause;
		return true;
	case CSR_MTVAL:
		*val = cpu->mtval;
		return true;
	case CSR_MIP:
		*val = cpu__mip(cpu);
		return true;
	case CSR_MCYCLE:
	case CSR_MINSTRET:
		*val = cpu__instret(cpu);
		return true;
	/*
	 * Debug triggers (Sdtrig): none. The registers answer as the debug spec's enumeration expects of a
	 * trigger that does not exist: tselect holds only 0, tdata1 is 0 (type 0, "no trigger at this
	 * tselect", dmode and data hard-wired to 0), tdata2/tdata3 are 0, tinfo is 1.
	 */
	case CSR_TSELECT:
	case CSR_TDATA1:
	case CSR_TDATA2:
	case CSR_TDATA3:
		*val = 0;
		return true;
	case CSR_TINFO:
		*val = 1;
		return true;
	case CSR_CYCLE:
	case CSR_INSTRET:
	case CSR_TIME:
		if (!counter_allowed(cpu, csr - CSR_CYCLE))
			return false;
		*val = csr == CSR_TIME ? cpu->plat.time(cpu->plat.opaque) : cpu__instret(cpu);
		return true;
	}
	if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + 16) {
		if (csr & 1)
			return false; /* odd pmpcfg registers do not exist on RV64 */
		*val = cpu->pmpcfg[csr - CSR_PMPCFG0];
		return true;
	}
	if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64) {
		*val = cpu->pmpaddr[csr - CSR_PMPADDR0];
		return true;
	}
	/* hpmcounter3..31, mhpmcounter3..31, mhpmevent3..31: implemented as constant zero. */
	if (csr >= 0xc03 && csr <= 0xc1f) {
		if (!counter_allowed(cpu, csr - CSR_CYCLE))
			return false;
		*val = 0;
		return true;
	}
	if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) {
		*val = 0;
		return true;
	}
	return false;
}

static uint64_t tvec_warl(uint64_t v)
{
	return (v & 3) >= 2 ? v & ~3ull : v;
}

bool csr__write(struct rv_cpu *cpu, unsigned csr, uint64_t val)
{
	if ((int)((csr >> 8) & 3) > cpu->priv || (csr >> 10) == 3)
		return false;
	if (shows_fp_flags(csr))
		fpu__fold(cpu);
	switch (csr) {
	case CSR_FFLAGS:
	case CSR_FRM:
	case CSR_FCSR:
		if (!fpu__enabled(cpu))
			return false;
		if (csr != CSR_FRM)
			cpu->fflags = val & 0x1f;
		if (csr == CSR_FRM)
			cpu->frm = val & 7;
		if (csr == CSR_FCSR)
			cpu->frm = (val >> 5) & 7;
		fpu__set_rm(cpu);
		fpu__dirty(cpu);
		return true;
	case CSR_SSTATUS:
		val = (cpu->mstatus & ~SSTATUS_WMASK) | (val & SSTATUS_WMASK);
		csr = CSR_MSTATUS;
		break;
	case CSR_SIE:
		cpu->mie = (cpu->mie & ~cpu->mideleg) | (val & cpu->mideleg);
		cpu__request_exit(cpu);
		return true;
	case CSR_STVEC:
		cpu->stvec = tvec_warl(val);
		return true;
	case CSR_SCOUNTEREN:
		cpu->scounteren = val & 0xffffffff;
		return true;
	case CSR_SENVCFG:
		cpu->senvcfg = 0; /* no fields implemented (no Zicbo*, no Svpbmt) */
		return true;
	case CSR_SSCRATCH:
		cpu->sscratch = val;
		return true;
	case CSR_SEPC:
		cpu->sepc = val & ~1ull;
		return true;
	case CSR_SCAUSE:
		cpu->scause = val;
		return true;
	case CSR_STVAL:
		cpu->stval = val;
		return true;
	case CSR_SIP:
		/* Only SSIP is writable through sip, and only when delegated. */
		cpu->mip_sw = (cpu->mip_sw & ~(MIP_SSIP & cpu->mideleg)) | (val & MIP_SSIP & cpu->mideleg);
		cpu__request_exit(cpu);
		return true;
	case CSR_SATP: {
		if (cpu->priv == PRV_S && (cpu->mstatus & MSTATUS_TVM))
			return false;
		unsigned mode = (unsigned)(val >> 60);
		if (mode != 0 && mode != 8 && mode != 9)
			return true; /* unsupported mode: the whole write is ignored */
		/* No ASID bits: software then flushes everything, which is what we do anyway. */
		cpu->satp = val & ((0xfull << 60) | ((1ull << 44) - 1));
		mmu__flush(&cpu->mmu);
		cpu__update_mmu(cpu);
		cpu__request_exit(cpu);
		return true;
	}
	case CSR_MISA:
		return true; /* fixed */
	case CSR_MEDELEG:
		cpu->medeleg = val & MEDELEG_MASK;
		return true;
	case CSR_MIDELEG:
		cpu->mideleg = val & MIDELEG_MASK;
		cpu__request_exit(cpu);
		return true;
	case CSR_MIE:
		cpu->mie = val & MIE_MASK;
		cpu__request_exit(cpu);
		return true;
	case CSR_MTVEC:
		cpu->mtvec = tvec_warl(val);
		return true;
	case CSR_MCOUNTEREN:
		cpu->mcounteren = val & 0xffffffff;
		return true;
	case CSR_MENVCFG:
		cpu->menvcfg = 0;
		return true;
	case CSR_MCOUNTINHIBIT:
		cpu->mcountinhibit = val & 0xfffffffd;
		return true;
	case CSR_MSCRATCH:
		cpu->mscratch = val;
		return true;
	case CSR_MEPC:
		cpu->mepc = val & ~1ull;
		return true;
	case CSR_MCAUSE:
		cpu->mcause = val;
		return true;
	case CSR_MTVAL:
		cpu->mtval = val;
		return true;
	case CSR_MIP:
		cpu->mip_sw = (cpu->mip_sw & ~MIP_SW_MASK) | (val & MIP_SW_MASK);
		cpu__request_exit(cpu);
		return true;
	case CSR_TSELECT:
	case CSR_TDATA1:
	case CSR_TDATA2:
	case CSR_TDATA3:
	case CSR_TINFO:
		return true; /* no triggers: every write leaves them as they read (see csr__read) */
	case CSR_MCYCLE:
	case CSR_MINSTRET:
		/* The next instruction reads val: this one does not count once it has written. */
		cpu->instret_offset += val - cpu__instret(cpu) - (uint64_t)cpu->executing;
		return true;
	}
	if (csr == CSR_MSTATUS) {
		uint64_t old = cpu->mstatus;
		uint64_t s = (old & ~MSTATUS_WMASK) | (val & MSTATUS_WMASK);
		if (((s & MSTATUS_MPP) >> 11) == 2)
			s = (s & ~MSTATUS_MPP) | (old & MSTATUS_MPP); /* MPP=2 is reserved: keep the old value */
		cpu->mstatus = sd_fixup(s);
		uint64_t changed = old ^ cpu->mstatus;
		if (changed & MSTATUS_MXR)
			mmu__flush(&cpu->mmu); /* MXR widens what reads may see: cached entries are stale */
		if (changed & (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM | MSTATUS_MXR))
			cpu__update_mmu(cpu);
		/*
		 * Leave the run when an interrupt may now be taken, or what blocks were decoded under changed
		 * (FPU on/off, whether data accesses are translated). SUM and MXR, which Linux toggles around
		 * every user access, only pick other TLB sets: the run goes on.
		 */
		if (changed & (MSTATUS_MIE | MSTATUS_SIE | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_MPP))
			cpu__request_exit(cpu);
		return true;
	}
	if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + 16) {
		if (csr & 1)
			return false;
		cpu->pmpcfg[csr - CSR_PMPCFG0] = val; /* PMP is stored but not enforced */
		return true;
	}
	if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64) {
		cpu->pmpaddr[csr - CSR_PMPADDR0] = val & ((1ull << 54) - 1);
		return true;
	}
	if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f))
		return true;
	return false;
}
