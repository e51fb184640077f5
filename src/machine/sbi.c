/*
 * The SBI implemented inside the VMM (no firmware image): an S-mode ECALL lands here instead of
 * trapping to M-mode. Extensions: BASE, TIME, IPI, RFENCE, HSM, SRST and the legacy calls.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "machine/machine.h"

enum {
	SBI_SUCCESS = 0,
	SBI_ERR_FAILED = -1,
	SBI_ERR_NOT_SUPPORTED = -2,
	SBI_ERR_INVALID_PARAM = -3,
	SBI_ERR_ALREADY_AVAILABLE = -6,
};

enum {
	EXT_LEGACY_SET_TIMER = 0x00,
	EXT_LEGACY_PUTCHAR = 0x01,
	EXT_LEGACY_GETCHAR = 0x02,
	EXT_LEGACY_CLEAR_IPI = 0x03,
	EXT_LEGACY_SEND_IPI = 0x04,
	EXT_LEGACY_FENCE_I = 0x05,
	EXT_LEGACY_SFENCE_VMA = 0x06,
	EXT_LEGACY_SFENCE_VMA_ASID = 0x07,
	EXT_LEGACY_SHUTDOWN = 0x08,
	EXT_BASE = 0x10,
	EXT_TIME = 0x54494d45,
	EXT_IPI = 0x735049,
	EXT_RFENCE = 0x52464e43,
	EXT_HSM = 0x48534d,
	EXT_SRST = 0x53525354,
};

#define SBI_SPEC_VERSION ((1u << 24) | 0) /* v1.0 */
#define SBI_IMPL_ID 0x77697370            /* "wisp": not a registered implementation ID */
#define SBI_IMPL_VERSION 1

struct sbiret {
	int64_t error;
	uint64_t value;
};

static bool ext_supported(uint64_t ext)
{
	switch (ext) {
	case EXT_BASE:
	case EXT_TIME:
	case EXT_IPI:
	case EXT_RFENCE:
	case EXT_HSM:
	case EXT_SRST:
	case EXT_LEGACY_SET_TIMER:
	case EXT_LEGACY_PUTCHAR:
	case EXT_LEGACY_GETCHAR:
	case EXT_LEGACY_CLEAR_IPI:
	case EXT_LEGACY_SEND_IPI:
	case EXT_LEGACY_FENCE_I:
	case EXT_LEGACY_SFENCE_VMA:
	case EXT_LEGACY_SFENCE_VMA_ASID:
	case EXT_LEGACY_SHUTDOWN:
		return true;
	}
	return false;
}

static void set_timer(struct machine *m, struct rv_cpu *cpu, uint64_t when)
{
	m->sbi_timecmp[cpu->mhartid] = when;
	/* A new deadline clears a pending timer interrupt until it is reached. */
	cpu__set_mip(cpu, MIP_STIP, machine__ticks(m) >= when);
}

/* The calling hart's IPI or remote-fence counter (metrics). */
static _Atomic uint64_t *counter(struct machine *m, struct rv_cpu *self, bool fence)
{
	if (self->mhartid >= m->nharts)
		return NULL;
	return fence ? &m->hctl[self->mhartid].remote_fences : &m->hctl[self->mhartid].ipis_sent;
}

/* Apply fn to every hart selected by (mask, base); base == -1 means all harts. Counts each in *count. */
static int64_t for_harts(struct machine *m, struct rv_cpu *self, uint64_t mask, uint64_t base,
			 void (*fn)(struct rv_cpu *self, struct rv_cpu *to), _Atomic uint64_t *count)
{
	if (base != ~0ull)
		for (unsigned b = 0; b < 64; b++)
			if (((mask >> b) & 1) && (base >= m->nharts || b >= m->nharts - base))
				return SBI_ERR_INVALID_PARAM; /* a selected hart does not exist */
	for (unsigned i = 0; i < m->nharts; i++) {
		bool sel = base == ~0ull || (i >= base && i - base < 64 && ((mask >> (i - base)) & 1));
		if (!sel)
			continue;
		fn(self, m->harts[i]);
		if (count)
			atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
	}
	return SBI_SUCCESS;
}

static void send_ipi(struct rv_cpu *self, struct rv_cpu *to)
{
	(void)self;
	cpu__inject_mip(to, MIP_SSIP);
}

/*
 * Instruction fetch is coherent with every store and device write (cpu__code_written): a remote
 * fence.i only makes sure each target has taken the code invalidations sent to it so far.
 */
static void fence_i(struct rv_cpu *self, struct rv_cpu *to)
{
	if (to != self)
		cpu__post(to, MAIL_SYNC, 0, 0, self, true);
}

/* Remote sfence.vma: the caller returns once every target has flushed its TLB (or is not running,
 * and will flush before it runs). */
static void sfence_vma(struct rv_cpu *self, struct rv_cpu *to)
{
	if (to == self)
		mmu__flush(&self->mmu);
	else
		cpu__post(to, MAIL_TLB_FLUSH, 0, 0, self, true);
}

static struct sbiret base_call(struct machine *m, uint64_t fid, uint64_t a0)
{
	(void)m;
	switch (fid) {
	case 0:
		return (struct sbiret){ 0, SBI_SPEC_VERSION };
	case 1:
		return (struct sbiret){ 0, SBI_IMPL_ID };
	case 2:
		return (struct sbiret){ 0, SBI_IMPL_VERSION };
	case 3:
		return (struct sbiret){ 0, ext_supported(a0) };
	case 4:
	case 5:
	case 6:
		return (struct sbiret){ 0, 0 }; /* mvendorid, marchid, mimpid */
	}
	return (struct sbiret){ SBI_ERR_NOT_SUPPORTED, 0 };
}

static struct sbiret hsm_call(struct machine *m, struct rv_cpu *cpu, uint64_t fid, const uint64_t *a)
{
	switch (fid) {
	case 0: /* hart_start(hartid, start_addr, opaque) */
		switch (machine__hart_start(m, a[0] < m->nharts ? (unsigned)a[0] : ~0u, a[1], a[2])) {
		case 0:
			return (struct sbiret){ SBI_SUCCESS, 0 };
		case 1:
			return (struct sbiret){ SBI_ERR_ALREADY_AVAILABLE, 0 };
		default:
			return (struct sbiret){ SBI_ERR_INVALID_PARAM, 0 };
		}
	case 1: /* hart_stop: the calling hart stops (the call does not return) */
		machine__hart_stop(m, (unsigned)cpu->mhartid);
		return (struct sbiret){ SBI_SUCCESS, 0 };
	case 2: /* hart_get_status */
		if (a[0] >= m->nharts)
			return (struct sbiret){ SBI_ERR_INVALID_PARAM, 0 };
		return (struct sbiret){ 0, (int64_t)machine__hart_status(m, (unsigned)a[0]) };
	case 3: /* hart_suspend(type, resume_addr, opaque) */
		if (a[0] == 0) {
			/* Default retentive suspend: wait for an interrupt, then return from the call. */
			cpu->exit_reason = RV_EXIT_WFI;
			return (struct sbiret){ SBI_SUCCESS, 0 };
		}
		if (a[0] == 0x80000000u) {
			/* Default non-retentive suspend: wake at resume_addr as if just started. */
			cpu->pc = a[1] - 4; /* the caller's sbi__ecall return adds 4 */
			cpu->satp = 0;
			cpu->mstatus &= ~(MSTATUS_SIE | MSTATUS_SPIE);
			mmu__flush(&cpu->mmu);
			cpu__update_mmu(cpu);
			cpu->exit_reason = RV_EXIT_WFI;
			return (struct sbiret){ (int64_t)cpu->mhartid, (int64_t)a[2] }; /* a0 = hartid, a1 = opaque */
		}
		return (struct sbiret){ (a[0] < 0x10000000u || (a[0] >= 0x80000000u && a[0] < 0x90000000u))
						? SBI_ERR_INVALID_PARAM
						: SBI_ERR_NOT_SUPPORTED,
					0 };
	}
	return (struct sbiret){ SBI_ERR_NOT_SUPPORTED, 0 };
}

static struct sbiret srst_call(struct machine *m, uint64_t fid, uint64_t type, uint64_t reason)
{
	if (fid != 0)
		return (struct sbiret){ SBI_ERR_NOT_SUPPORTED, 0 };
	if (type > 2 || reason > 1)
		return (struct sbiret){ SBI_ERR_INVALID_PARAM, 0 };
	machine__halt(m, reason == 1 ? 1 : 0, type == 0 ? "SBI shutdown" : "SBI reboot");
	return (struct sbiret){ 0, 0 };
}

bool sbi__ecall(void *opaque, struct rv_cpu *cpu)
{
	struct machine *m = opaque;
	uint64_t *a = &cpu->x[10]; /* a0..a7 = x10..x17 */
	uint64_t ext = a[7], fid = a[6];
	struct sbiret r = { SBI_ERR_NOT_SUPPORTED, 0 };
	bool legacy = ext <= EXT_LEGACY_SHUTDOWN;

	switch (ext) {
	case EXT_LEGACY_SET_TIMER:
		set_timer(m, cpu, a[0]);
		r.error = 0;
		break;
	case EXT_LEGACY_PUTCHAR:
		m->console(m->console_opaque, (uint8_t)a[0]);
		r.error = 0;
		break;
	case EXT_LEGACY_GETCHAR: {
		uint64_t c;
		bool got = false;
		pthread_mutex_lock(&m->uart.lock);
		if (m->uart.rx_count) {
			c = m->uart.rx[m->uart.rx_head];
			m->uart.rx_head = (m->uart.rx_head + 1) % UART_FIFO;
			m->uart.rx_count--;
			got = true;
		}
		pthread_mutex_unlock(&m->uart.lock);
		r.error = got ? (int64_t)c : -1;
		break;
	}
	case EXT_LEGACY_CLEAR_IPI:
		cpu->mip_sw &= ~MIP_SSIP;
		r.error = 0;
		break;
	case EXT_LEGACY_SEND_IPI:
	case EXT_LEGACY_FENCE_I:
	case EXT_LEGACY_SFENCE_VMA:
	case EXT_LEGACY_SFENCE_VMA_ASID: {
		/* The legacy calls pass a pointer to the hart mask in guest virtual memory. */
		uint64_t mask = 0;
		if (a[0]) {
			uint64_t pa, cause;
			uint8_t *p = NULL;
			if (mmu__translate(&cpu->mmu, a[0], ACC_READ, &pa, &cause))
				p = bus__ram_ptr(&m->bus, pa, 8);
			if (!p) {
				r.error = SBI_ERR_INVALID_PARAM;
				break;
			}
			memcpy(&mask, p, 8);
		}
		r.error = for_harts(m, cpu, mask, a[0] ? 0 : ~0ull,
				    ext == EXT_LEGACY_SEND_IPI  ? send_ipi
				    : ext == EXT_LEGACY_FENCE_I ? fence_i
								: sfence_vma,
				    counter(m, cpu, ext != EXT_LEGACY_SEND_IPI));
		break;
	}
	case EXT_LEGACY_SHUTDOWN:
		machine__halt(m, 0, "SBI shutdown");
		r.error = 0;
		break;
	case EXT_BASE:
		r = base_call(m, fid, a[0]);
		break;
	case EXT_TIME:
		if (fid == 0) {
			set_timer(m, cpu, a[0]);
			r.error = 0;
		}
		break;
	case EXT_IPI:
		if (fid == 0)
			r.error = for_harts(m, cpu, a[0], a[1], send_ipi, counter(m, cpu, false));
		break;
	case EXT_RFENCE:
		if (fid <= 6)
			r.error = for_harts(m, cpu, a[0], a[1], fid == 0 ? fence_i : sfence_vma, counter(m, cpu, true));
		if (fid > 2)
			r.error = SBI_ERR_NOT_SUPPORTED; /* hypervisor fences: no H extension */
		break;
	case EXT_HSM:
		r = hsm_call(m, cpu, fid, a);
		break;
	case EXT_SRST:
		r = srst_call(m, fid, a[0], a[1]);
		break;
	}
	a[0] = (uint64_t)r.error;
	if (!legacy)
		a[1] = r.value;
	/* Fences and timer changes must be seen before the next instruction. */
	cpu__request_exit(cpu);
	return true;
}
