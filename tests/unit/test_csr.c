/* CSR access rules, WARL fields and the S-mode views of M-mode state, through csr__read/csr__write. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_hart.h"

#define MPP_OF(s) (((s) & MSTATUS_MPP) >> 11)

static int setup(void **state)
{
	struct fake_hart *h = fake_hart__new();
	if (!h)
		return -1;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	fake_hart__free(*state);
	return 0;
}

static uint64_t rd(struct rv_cpu *cpu, unsigned csr)
{
	uint64_t v = 0xbad;
	assert_true(csr__read(cpu, csr, &v));
	return v;
}

static void wr(struct rv_cpu *cpu, unsigned csr, uint64_t v)
{
	assert_true(csr__write(cpu, csr, v));
}

static void test_privilege(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	uint64_t v;
	static const unsigned m_csrs[] = { CSR_NUM_MSTATUS, CSR_NUM_MSCRATCH, CSR_NUM_MEPC, CSR_NUM_MTVEC,
					   CSR_NUM_MIE, CSR_NUM_MIP, CSR_NUM_MHARTID, CSR_NUM_MINSTRET };
	static const unsigned s_csrs[] = { CSR_NUM_SSTATUS, CSR_NUM_SSCRATCH, CSR_NUM_SEPC, CSR_NUM_STVEC,
					   CSR_NUM_SIE, CSR_NUM_SIP, CSR_NUM_SATP, CSR_NUM_SCAUSE };

	cpu->priv = PRV_S;
	for (unsigned i = 0; i < sizeof(m_csrs) / sizeof(m_csrs[0]); i++) {
		assert_false(csr__read(cpu, m_csrs[i], &v));
		assert_false(csr__write(cpu, m_csrs[i], 0));
	}
	for (unsigned i = 0; i < sizeof(s_csrs) / sizeof(s_csrs[0]); i++)
		assert_true(csr__read(cpu, s_csrs[i], &v));

	cpu->priv = PRV_U;
	for (unsigned i = 0; i < sizeof(s_csrs) / sizeof(s_csrs[0]); i++) {
		assert_false(csr__read(cpu, s_csrs[i], &v));
		assert_false(csr__write(cpu, s_csrs[i], 0));
	}

	cpu->priv = PRV_M;
	for (unsigned i = 0; i < sizeof(s_csrs) / sizeof(s_csrs[0]); i++)
		assert_true(csr__read(cpu, s_csrs[i], &v));
	for (unsigned i = 0; i < sizeof(m_csrs) / sizeof(m_csrs[0]); i++)
		assert_true(csr__read(cpu, m_csrs[i], &v));
}

static void test_failed_write_changes_nothing(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	cpu->mscratch = 42;
	cpu->priv = PRV_S;
	assert_false(csr__write(cpu, CSR_NUM_MSCRATCH, 7));
	assert_int_equal(cpu->mscratch, 42);
}

static void test_read_only(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	static const unsigned ro[] = { CSR_NUM_CYCLE, CSR_NUM_TIME, CSR_NUM_INSTRET, 0xc03, CSR_NUM_MVENDORID,
				       0xf12, 0xf13, CSR_NUM_MHARTID };
	for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		uint64_t v;
		assert_true(csr__read(cpu, ro[i], &v));
		assert_false(csr__write(cpu, ro[i], 0));
	}
	assert_int_equal(rd(cpu, CSR_NUM_MHARTID), 0);
	cpu->mhartid = 3;
	assert_int_equal(rd(cpu, CSR_NUM_MHARTID), 3);
}

static void test_unknown_csr(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	uint64_t v;
	assert_false(csr__read(cpu, 0x3a1, &v)); /* pmpcfg1 does not exist on RV64 */
	assert_false(csr__write(cpu, 0x3a1, 0));
	assert_false(csr__read(cpu, 0x7ff, &v));
	assert_false(csr__read(cpu, 0x1ff, &v));
	assert_false(csr__write(cpu, 0x1ff, 0));
}

static void test_mstatus_mpp_warl(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	uint64_t s = rd(cpu, CSR_NUM_MSTATUS) & ~MSTATUS_MPP;
	wr(cpu, CSR_NUM_MSTATUS, s | (1ull << 11));
	assert_int_equal(MPP_OF(rd(cpu, CSR_NUM_MSTATUS)), PRV_S);
	wr(cpu, CSR_NUM_MSTATUS, s | (2ull << 11)); /* reserved: keeps S */
	assert_int_equal(MPP_OF(rd(cpu, CSR_NUM_MSTATUS)), PRV_S);
	wr(cpu, CSR_NUM_MSTATUS, s | (3ull << 11));
	assert_int_equal(MPP_OF(rd(cpu, CSR_NUM_MSTATUS)), PRV_M);
	wr(cpu, CSR_NUM_MSTATUS, s | (2ull << 11)); /* keeps M */
	assert_int_equal(MPP_OF(rd(cpu, CSR_NUM_MSTATUS)), PRV_M);
	wr(cpu, CSR_NUM_MSTATUS, s);
	assert_int_equal(MPP_OF(rd(cpu, CSR_NUM_MSTATUS)), PRV_U);
}

static void test_mstatus_fixed_fields_and_sd(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	/* UXL and SXL are read-only 2 (64-bit); SD is computed from FS/XS. */
	wr(cpu, CSR_NUM_MSTATUS, 0);
	uint64_t s = rd(cpu, CSR_NUM_MSTATUS);
	assert_int_equal((s >> 32) & 3, 2);
	assert_int_equal((s >> 34) & 3, 2);
	assert_false(s & MSTATUS_SD);
	wr(cpu, CSR_NUM_MSTATUS, MSTATUS_SD); /* SD is not directly writable */
	assert_false(rd(cpu, CSR_NUM_MSTATUS) & MSTATUS_SD);
	wr(cpu, CSR_NUM_MSTATUS, MSTATUS_FS); /* FS = Dirty */
	s = rd(cpu, CSR_NUM_MSTATUS);
	assert_int_equal(s & MSTATUS_FS, MSTATUS_FS);
	assert_true(s & MSTATUS_SD);
	wr(cpu, CSR_NUM_MSTATUS, 1ull << 13); /* FS = Initial */
	assert_false(rd(cpu, CSR_NUM_MSTATUS) & MSTATUS_SD);

	/* The plain R/W bits. */
	uint64_t bits = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPRV |
			MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR;
	wr(cpu, CSR_NUM_MSTATUS, bits);
	assert_int_equal(rd(cpu, CSR_NUM_MSTATUS) & bits, bits);
	wr(cpu, CSR_NUM_MSTATUS, 0);
	assert_int_equal(rd(cpu, CSR_NUM_MSTATUS) & bits, 0);
}

static void test_sstatus_is_view_of_mstatus(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	wr(cpu, CSR_NUM_MSTATUS, MSTATUS_MIE | MSTATUS_MPIE | (3ull << 11));
	uint64_t ss = rd(cpu, CSR_NUM_SSTATUS);
	assert_false(ss & MSTATUS_MIE);
	assert_false(ss & MSTATUS_MPIE);
	assert_int_equal(ss & MSTATUS_MPP, 0);
	assert_int_equal((ss >> 32) & 3, 2); /* UXL is visible */

	cpu->priv = PRV_S;
	wr(cpu, CSR_NUM_SSTATUS, MSTATUS_SIE | MSTATUS_SUM);
	cpu->priv = PRV_M;
	uint64_t ms = rd(cpu, CSR_NUM_MSTATUS);
	assert_true(ms & MSTATUS_SIE);
	assert_true(ms & MSTATUS_SUM);
	/* A write through sstatus leaves the M-only fields alone. */
	assert_true(ms & MSTATUS_MIE);
	assert_true(ms & MSTATUS_MPIE);
	assert_int_equal(MPP_OF(ms), PRV_M);

	/* And cannot set them either. */
	cpu->priv = PRV_S;
	wr(cpu, CSR_NUM_SSTATUS, 0);
	wr(cpu, CSR_NUM_SSTATUS, MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TSR);
	cpu->priv = PRV_M;
	ms = rd(cpu, CSR_NUM_MSTATUS);
	assert_false(ms & (MSTATUS_SIE | MSTATUS_SUM | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TSR));
	assert_true(ms & MSTATUS_MIE);

	/* mstatus changes show through sstatus. */
	wr(cpu, CSR_NUM_MSTATUS, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_MXR);
	ss = rd(cpu, CSR_NUM_SSTATUS);
	assert_int_equal(ss & (MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_MXR),
			 MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_MXR);
}

static void test_sie_sip_masked_by_mideleg(void **state)
{
	struct fake_hart *h = *state;
	struct rv_cpu *cpu = h->cpu;
	wr(cpu, CSR_NUM_MIDELEG, ~0ull);
	assert_int_equal(rd(cpu, CSR_NUM_MIDELEG), MIP_SSIP | MIP_STIP | MIP_SEIP);

	wr(cpu, CSR_NUM_MIDELEG, MIP_SSIP | MIP_STIP);
	wr(cpu, CSR_NUM_MIE, 0);
	wr(cpu, CSR_NUM_SIE, ~0ull);
	assert_int_equal(rd(cpu, CSR_NUM_MIE), MIP_SSIP | MIP_STIP);
	wr(cpu, CSR_NUM_MIE, MIP_MEIP | MIP_SEIP | MIP_MTIP | MIP_STIP);
	assert_int_equal(rd(cpu, CSR_NUM_SIE), MIP_STIP);
	/* Clearing through sie leaves the non-delegated enables. */
	wr(cpu, CSR_NUM_SIE, 0);
	assert_int_equal(rd(cpu, CSR_NUM_MIE), MIP_MEIP | MIP_SEIP | MIP_MTIP);

	cpu__set_mip(cpu, MIP_MEIP | MIP_SEIP | MIP_STIP | MIP_MTIP, true);
	assert_int_equal(rd(cpu, CSR_NUM_SIP), MIP_STIP);
	assert_int_equal(rd(cpu, CSR_NUM_MIP), MIP_MEIP | MIP_SEIP | MIP_STIP | MIP_MTIP);

	/* SSIP is writable through sip only when delegated. */
	wr(cpu, CSR_NUM_SIP, MIP_SSIP);
	assert_true(cpu__mip(cpu) & MIP_SSIP);
	assert_true(rd(cpu, CSR_NUM_SIP) & MIP_SSIP);
	wr(cpu, CSR_NUM_SIP, 0);
	assert_false(cpu__mip(cpu) & MIP_SSIP);
	wr(cpu, CSR_NUM_MIDELEG, MIP_STIP);
	wr(cpu, CSR_NUM_SIP, MIP_SSIP);
	assert_false(cpu__mip(cpu) & MIP_SSIP);
}

static void test_mie_mip_masks(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	wr(cpu, CSR_NUM_MIE, ~0ull);
	assert_int_equal(rd(cpu, CSR_NUM_MIE), 0xaaa);
	/* mip: only the S-level bits are software-writable; device bits come from the lines. */
	wr(cpu, CSR_NUM_MIP, ~0ull);
	assert_int_equal(rd(cpu, CSR_NUM_MIP), MIP_SSIP | MIP_STIP | MIP_SEIP);
	wr(cpu, CSR_NUM_MIP, 0);
	assert_int_equal(rd(cpu, CSR_NUM_MIP), 0);
}

static void test_satp_modes(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	uint64_t sv39 = (8ull << 60) | 0x80123;
	uint64_t sv48 = (9ull << 60) | 0x80456;
	wr(cpu, CSR_NUM_SATP, sv39);
	assert_int_equal(rd(cpu, CSR_NUM_SATP), sv39);
	wr(cpu, CSR_NUM_SATP, (10ull << 60) | 0x80999); /* Sv57: not supported, write ignored */
	assert_int_equal(rd(cpu, CSR_NUM_SATP), sv39);
	wr(cpu, CSR_NUM_SATP, (1ull << 60) | 0x80999); /* reserved mode */
	assert_int_equal(rd(cpu, CSR_NUM_SATP), sv39);
	wr(cpu, CSR_NUM_SATP, (15ull << 60) | 0x80999);
	assert_int_equal(rd(cpu, CSR_NUM_SATP), sv39);
	wr(cpu, CSR_NUM_SATP, sv48);
	assert_int_equal(rd(cpu, CSR_NUM_SATP), sv48);
	wr(cpu, CSR_NUM_SATP, 0);
	assert_int_equal(rd(cpu, CSR_NUM_SATP), 0);

	/* TVM traps S-mode satp accesses. */
	wr(cpu, CSR_NUM_MSTATUS, MSTATUS_TVM);
	cpu->priv = PRV_S;
	uint64_t v;
	assert_false(csr__read(cpu, CSR_NUM_SATP, &v));
	assert_false(csr__write(cpu, CSR_NUM_SATP, sv39));
	cpu->priv = PRV_M;
	assert_int_equal(rd(cpu, CSR_NUM_SATP), 0);
}

static void test_tvec_warl(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	const uint64_t base = 0x80001000;
	static const unsigned tvecs[] = { CSR_NUM_MTVEC, CSR_NUM_STVEC };
	for (unsigned i = 0; i < 2; i++) {
		wr(cpu, tvecs[i], base | 1);
		assert_int_equal(rd(cpu, tvecs[i]), base | 1);
		wr(cpu, tvecs[i], base);
		assert_int_equal(rd(cpu, tvecs[i]), base);
		for (uint64_t mode = 2; mode <= 3; mode++) {
			wr(cpu, tvecs[i], base | mode);
			uint64_t v = rd(cpu, tvecs[i]);
			assert_true((v & 3) < 2);
			assert_int_equal(v & ~3ull, base);
		}
	}
}

static void test_medeleg(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	wr(cpu, CSR_NUM_MEDELEG, ~0ull);
	uint64_t d = rd(cpu, CSR_NUM_MEDELEG);
	assert_false(d & (1ull << EXC_ECALL_M));
	uint64_t want = (1ull << EXC_INSN_MISALIGNED) | (1ull << EXC_ILLEGAL) | (1ull << EXC_BREAKPOINT) |
			(1ull << EXC_ECALL_U) | (1ull << EXC_INSN_PAGE) | (1ull << EXC_LOAD_PAGE) |
			(1ull << EXC_STORE_PAGE);
	assert_int_equal(d & want, want);
	wr(cpu, CSR_NUM_MEDELEG, 1ull << EXC_ECALL_M);
	assert_int_equal(rd(cpu, CSR_NUM_MEDELEG), 0);
}

static void test_misa(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	uint64_t want = 2ull << 62;
	for (const char *e = "IMAFDCSU"; *e; e++)
		want |= 1ull << (*e - 'A');
	assert_int_equal(rd(cpu, CSR_NUM_MISA), want);
	/* Writes are ignored (misa is WARL and fixed here). */
	assert_true(csr__write(cpu, CSR_NUM_MISA, 0));
	assert_int_equal(rd(cpu, CSR_NUM_MISA), want);
}

static void test_epc_alignment(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	wr(cpu, CSR_NUM_MEPC, 0x80000003);
	assert_int_equal(rd(cpu, CSR_NUM_MEPC), 0x80000002);
	wr(cpu, CSR_NUM_SEPC, 0x80000005);
	assert_int_equal(rd(cpu, CSR_NUM_SEPC), 0x80000004);
	wr(cpu, CSR_NUM_MSCRATCH, ~0ull);
	assert_int_equal(rd(cpu, CSR_NUM_MSCRATCH), ~0ull);
}

static void test_fp_csrs_need_fs(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	uint64_t v;
	static const unsigned fp[] = { CSR_NUM_FFLAGS, CSR_NUM_FRM, CSR_NUM_FCSR };
	wr(cpu, CSR_NUM_MSTATUS, 0); /* FS = Off */
	for (unsigned i = 0; i < 3; i++) {
		assert_false(csr__read(cpu, fp[i], &v));
		assert_false(csr__write(cpu, fp[i], 0));
	}

	wr(cpu, CSR_NUM_MSTATUS, 1ull << 13); /* FS = Initial */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(rd(cpu, fp[i]), 0);
	wr(cpu, CSR_NUM_FCSR, 0xff);
	assert_int_equal(rd(cpu, CSR_NUM_FFLAGS), 0x1f);
	assert_int_equal(rd(cpu, CSR_NUM_FRM), 7);
	assert_int_equal(rd(cpu, CSR_NUM_FCSR), 0xff);
	/* Writing FP state marks it dirty. */
	assert_int_equal(cpu->mstatus & MSTATUS_FS, MSTATUS_FS);
	assert_true(cpu->mstatus & MSTATUS_SD);

	wr(cpu, CSR_NUM_FRM, 0x2);
	assert_int_equal(rd(cpu, CSR_NUM_FCSR), (2 << 5) | 0x1f);
	wr(cpu, CSR_NUM_FFLAGS, 0xe5); /* only five flag bits */
	assert_int_equal(rd(cpu, CSR_NUM_FFLAGS), 0x05);
	assert_int_equal(rd(cpu, CSR_NUM_FCSR), (2 << 5) | 0x05);
	/* User mode may use them too. */
	cpu->priv = PRV_U;
	assert_true(csr__read(cpu, CSR_NUM_FCSR, &v));
}

static void test_counters_from_lower_modes(void **state)
{
	struct fake_hart *h = *state;
	struct rv_cpu *cpu = h->cpu;
	uint64_t v;
	h->now = 777;
	static const unsigned ctr[] = { CSR_NUM_CYCLE, CSR_NUM_TIME, CSR_NUM_INSTRET };

	cpu->priv = PRV_U;
	for (unsigned i = 0; i < 3; i++)
		assert_false(csr__read(cpu, ctr[i], &v));
	cpu->priv = PRV_S;
	for (unsigned i = 0; i < 3; i++)
		assert_false(csr__read(cpu, ctr[i], &v));

	cpu->priv = PRV_M;
	wr(cpu, CSR_NUM_MCOUNTEREN, 7);
	cpu->priv = PRV_S;
	for (unsigned i = 0; i < 3; i++)
		assert_true(csr__read(cpu, ctr[i], &v));
	assert_int_equal(rd(cpu, CSR_NUM_TIME), 777);
	/* scounteren resets to CY|TM|IR (Linux never sets it); clear it to test the U-mode gate. */
	assert_int_equal(rd(cpu, CSR_NUM_SCOUNTEREN), 7);
	wr(cpu, CSR_NUM_SCOUNTEREN, 0);
	cpu->priv = PRV_U;
	for (unsigned i = 0; i < 3; i++)
		assert_false(csr__read(cpu, ctr[i], &v));

	cpu->priv = PRV_S;
	wr(cpu, CSR_NUM_SCOUNTEREN, 1u << 1); /* TM only */
	cpu->priv = PRV_U;
	assert_int_equal(rd(cpu, CSR_NUM_TIME), 777);
	assert_false(csr__read(cpu, CSR_NUM_CYCLE, &v));
	assert_false(csr__read(cpu, CSR_NUM_INSTRET, &v));

	/* Both levels must agree: scounteren alone is not enough. */
	cpu->priv = PRV_M;
	wr(cpu, CSR_NUM_MCOUNTEREN, 1u << 0);
	cpu->priv = PRV_U;
	assert_false(csr__read(cpu, CSR_NUM_TIME, &v));
	assert_false(csr__read(cpu, CSR_NUM_CYCLE, &v));
}

static void test_trap_csr_updates(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	/* M-mode trap from S with SIE/MIE state. */
	cpu->mtvec = 0x80002000;
	cpu->stvec = 0x80003000;
	cpu->priv = PRV_S;
	cpu->pc = 0x80000010;
	cpu->mstatus |= MSTATUS_MIE;
	cpu__trap(cpu, EXC_ILLEGAL, 0x1234, false);
	assert_int_equal(cpu->priv, PRV_M);
	assert_int_equal(cpu->pc, 0x80002000);
	assert_int_equal(cpu->mepc, 0x80000010);
	assert_int_equal(cpu->mcause, EXC_ILLEGAL);
	assert_int_equal(cpu->mtval, 0x1234);
	assert_int_equal(MPP_OF(cpu->mstatus), PRV_S);
	assert_true(cpu->mstatus & MSTATUS_MPIE);
	assert_false(cpu->mstatus & MSTATUS_MIE);

	/* Delegated to S from U. */
	cpu->medeleg = 1u << EXC_LOAD_PAGE;
	cpu->priv = PRV_U;
	cpu->pc = 0x1000;
	cpu->mstatus |= MSTATUS_SIE;
	cpu__trap(cpu, EXC_LOAD_PAGE, 0xdead000, false);
	assert_int_equal(cpu->priv, PRV_S);
	assert_int_equal(cpu->pc, 0x80003000);
	assert_int_equal(cpu->sepc, 0x1000);
	assert_int_equal(cpu->scause, EXC_LOAD_PAGE);
	assert_int_equal(cpu->stval, 0xdead000);
	assert_false(cpu->mstatus & MSTATUS_SPP);
	assert_true(cpu->mstatus & MSTATUS_SPIE);
	assert_false(cpu->mstatus & MSTATUS_SIE);
	assert_int_equal(cpu->mcause, EXC_ILLEGAL); /* untouched */

	/* Delegation never moves a trap taken in M down to S. */
	cpu->priv = PRV_M;
	cpu->pc = 0x80000100;
	cpu__trap(cpu, EXC_LOAD_PAGE, 0, false);
	assert_int_equal(cpu->priv, PRV_M);
	assert_int_equal(cpu->mcause, EXC_LOAD_PAGE);

	/* Delegated interrupt with vectored stvec. */
	cpu->mideleg = MIP_STIP;
	cpu->stvec = 0x80003000 | 1;
	cpu->priv = PRV_S;
	cpu->pc = 0x80000200;
	cpu__trap(cpu, IRQ_STI, 0, true);
	assert_int_equal(cpu->priv, PRV_S);
	assert_int_equal(cpu->scause, (1ull << 63) | IRQ_STI);
	assert_int_equal(cpu->pc, 0x80003000 + 4 * IRQ_STI);
	assert_true(cpu->mstatus & MSTATUS_SPP);
}

static void test_interrupt_priority_and_enables(void **state)
{
	struct rv_cpu *cpu = ((struct fake_hart *)*state)->cpu;
	cpu->mtvec = 0x80002000;
	cpu->stvec = 0x80003000;
	cpu->mie = MIP_MTIP | MIP_MEIP | MIP_STIP | MIP_SSIP;
	cpu->mideleg = MIP_STIP | MIP_SSIP;
	cpu__set_mip(cpu, MIP_MTIP | MIP_MEIP | MIP_STIP, true);

	/* In M with MIE clear nothing is taken, but WFI would wake. */
	assert_false(cpu__irq_pending(cpu, false));
	assert_true(cpu__irq_pending(cpu, true));

	/* In S, M-level interrupts are taken regardless of MIE; MEI first. */
	cpu->priv = PRV_S;
	assert_true(cpu__take_interrupt(cpu));
	assert_int_equal(cpu->mcause, (1ull << 63) | IRQ_MEI);
	assert_int_equal(cpu->priv, PRV_M);

	cpu__set_mip(cpu, MIP_MEIP, false);
	cpu->priv = PRV_S;
	assert_true(cpu__take_interrupt(cpu));
	assert_int_equal(cpu->mcause, (1ull << 63) | IRQ_MTI);

	/* Delegated STI in S needs SIE; in U it is always enabled. */
	cpu__set_mip(cpu, MIP_MTIP, false);
	cpu->priv = PRV_S;
	cpu->mstatus &= ~MSTATUS_SIE;
	assert_false(cpu__take_interrupt(cpu));
	cpu->priv = PRV_U;
	assert_true(cpu__take_interrupt(cpu));
	assert_int_equal(cpu->priv, PRV_S);
	assert_int_equal(cpu->scause, (1ull << 63) | IRQ_STI);

	/* SSI beats STI. */
	cpu->priv = PRV_U;
	cpu__inject_mip(cpu, MIP_SSIP);
	assert_true(cpu__take_interrupt(cpu));
	assert_int_equal(cpu->scause, (1ull << 63) | IRQ_SSI);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_privilege),
		T(test_failed_write_changes_nothing),
		T(test_read_only),
		T(test_unknown_csr),
		T(test_mstatus_mpp_warl),
		T(test_mstatus_fixed_fields_and_sd),
		T(test_sstatus_is_view_of_mstatus),
		T(test_sie_sip_masked_by_mideleg),
		T(test_mie_mip_masks),
		T(test_satp_modes),
		T(test_tvec_warl),
		T(test_medeleg),
		T(test_misa),
		T(test_epc_alignment),
		T(test_fp_csrs_need_fs),
		T(test_counters_from_lower_modes),
		T(test_trap_csr_updates),
		T(test_interrupt_priority_and_enables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
