/* Hart life cycle, traps and interrupt delivery. */
#include "cpu/cpu.h"

#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/internal.h"
#include "cpu/jit/jit.h"
#include "cpu/rvc.h"

#define MISA_RV64 (2ull << 62)
#define MISA_EXT(c) (1ull << ((c) - 'A'))

/* Everything but the backend: a hart fresh out of reset. */
/* The MMU's view of its owner: faults become traps of this hart, watched stores its bookkeeping. */
static void mmu_raise(void *owner, uint64_t cause, uint64_t tval)
{
	cpu__raise(owner, cause, tval);
}

static void mmu_store_watched(void *owner, uint64_t paddr, unsigned len)
{
	cpu__store_watched(owner, paddr, len);
}

void cpu__update_mmu(struct rv_cpu *cpu)
{
	unsigned data_priv = (unsigned)cpu->priv;
	if (cpu->priv == PRV_M && (cpu->mstatus & MSTATUS_MPRV))
		data_priv = (unsigned)((cpu->mstatus & MSTATUS_MPP) >> 11);
	mmu__set_mode(&cpu->mmu, (unsigned)cpu->priv, data_priv, cpu->mstatus & MSTATUS_SUM, cpu->mstatus & MSTATUS_MXR,
		      cpu->satp);
}

static void init_state(struct rv_cpu *cpu, uint64_t hartid, struct rv_bus *bus, const struct rv_platform *plat)
{
	memset(cpu, 0, offsetof(struct rv_cpu, bc));
	if (cpu->bc.used) /* a recycled hart's blocks; a new one comes zeroed (see cpu__init) */
		memset(cpu->bc.hash, 0, sizeof(cpu->bc.hash));
	cpu->bc.used = 0;
	cpu->bc.flush = false;
	cpu->bc.builds = cpu->bc.flushes = 0;
	cpu->mhartid = hartid;
	cpu->plat = *plat;
	pthread_mutex_init(&cpu->mail_lock, NULL);
	cpu->rvc = rvc__table();
	size_t pages = bus->ram_size >> PAGE_SHIFT ? bus->ram_size >> PAGE_SHIFT : 1;
	if (!bus->code)
		bus->code = calloc(pages, sizeof(*bus->code));
	if (!bus->resv && plat->nharts > 1)
		bus->resv = calloc(pages, sizeof(*bus->resv));
	const struct rv_mmu_owner owner = { cpu, mmu_raise, mmu_store_watched };
	mmu__init(&cpu->mmu, bus, &owner);
}

void cpu__init(struct rv_cpu *cpu, uint64_t hartid, struct rv_bus *bus, const struct rv_platform *plat)
{
	init_state(cpu, hartid, bus, plat);
	if (!cpu->bc.pages.head)
		code_pages__init(&cpu->bc.pages, (size_t)(bus->ram_size >> PAGE_SHIFT));
	cpu__reset(cpu, bus->ram_base);
	/* The default backend; when the translator cannot start (no memory, not x86-64) the interpreter runs. */
	enum rv_backend b = jit__available() ? RV_BACKEND_JIT : RV_BACKEND_INTERP;
	const char *env = getenv("WISP_CPU_BACKEND");
	if (env && *env)
		cpu__parse_backend(env, &b);
	char err[128];
	if (cpu__set_backend(cpu, b, err, sizeof(err)) < 0)
		cpu__set_backend(cpu, RV_BACKEND_INTERP, err, sizeof(err));
}

void cpu__recycle(struct rv_cpu *cpu, uint64_t hartid, struct rv_bus *bus, const struct rv_platform *plat)
{
	struct rv_jit *j = cpu->jit;
	enum rv_backend b = cpu->backend;
	init_state(cpu, hartid, bus, plat);
	cpu->backend = b;
	cpu->jit = j;
	if (j)
		jit__attach(j);
	cpu__reset(cpu, bus->ram_base);
}

void cpu__exit(struct rv_cpu *cpu)
{
	char err[8];
	cpu__set_backend(cpu, RV_BACKEND_INTERP, err, sizeof(err));
	code_pages__exit(&cpu->bc.pages);
	pthread_mutex_destroy(&cpu->mail_lock);
}

int cpu__parse_backend(const char *s, enum rv_backend *out)
{
	if (!strcmp(s, "interp"))
		*out = RV_BACKEND_INTERP;
	else if (!strcmp(s, "jit"))
		*out = RV_BACKEND_JIT;
	else
		return -1;
	return 0;
}

const char *cpu__backend_name(enum rv_backend backend)
{
	return backend == RV_BACKEND_JIT ? "jit" : "interp";
}

int cpu__set_backend(struct rv_cpu *cpu, enum rv_backend backend, char *err, size_t errlen)
{
	if (backend == cpu->backend && (backend == RV_BACKEND_INTERP || cpu->jit))
		return 0;
	if (backend == RV_BACKEND_JIT) {
		if (!jit__available()) {
			snprintf(err, errlen, "the translator needs an x86-64 host");
			return -1;
		}
		cpu->jit = jit__new(cpu, err, errlen);
		if (!cpu->jit)
			return -1;
	} else if (cpu->jit) {
		jit__free(cpu->jit);
		cpu->jit = NULL;
	}
	cpu->backend = backend;
	cpu__flush_icache(cpu);
	mmu__flush(&cpu->mmu);
	cpu__update_mmu(cpu);
	return 0;
}

/* ---- several harts: mail, write-watched pages ---- */

static unsigned nharts_of(const struct rv_cpu *cpu)
{
	return cpu->plat.harts ? cpu->plat.nharts : 1;
}

void cpu__wake(struct rv_cpu *cpu)
{
	atomic_store(&cpu->kick, 1);
	if (cpu->plat.wake)
		cpu->plat.wake(cpu->plat.opaque, cpu);
}

void cpu__post(struct rv_cpu *to, enum rv_mail kind, uint64_t paddr, unsigned len, struct rv_cpu *waiter,
	       bool wait)
{
	pthread_mutex_lock(&to->mail_lock);
	if (kind == MAIL_TLB_FLUSH)
		to->mail_tlb_flush = true;
	else if (kind != MAIL_SYNC && to->nmail < sizeof(to->mail) / sizeof(to->mail[0]))
		to->mail[to->nmail++] = (struct rv_mail_item){ paddr, len, (uint8_t)kind };
	else if (kind != MAIL_SYNC)
		to->mail_overflow = true;
	uint64_t gen = atomic_fetch_add(&to->mail_sent, 1) + 1;
	atomic_store(&to->mail_pending, true);
	pthread_mutex_unlock(&to->mail_lock);
	cpu__wake(to);
	if (!wait)
		return;
	/* A hart outside cpu__run uses no TLB and takes its mail before it runs again (cpu__run). */
	while (atomic_load(&to->in_run) && atomic_load(&to->mail_done) < gen) {
		if (waiter && atomic_load_explicit(&waiter->mail_pending, memory_order_acquire))
			cpu__take_mail(waiter);
#if defined(__x86_64__)
		__builtin_ia32_pause();
#else
		sched_yield();
#endif
	}
}

/* Drop this hart's decoded code overlapping [paddr, paddr + len); true if there was some. When none is
 * left on the page, the hart's bit in the code map goes, and the chunks with the last hart's. */
static bool drop_code(struct rv_cpu *cpu, uint64_t paddr, unsigned len)
{
	struct rv_bus *bus = cpu->mmu.bus;
	const uint8_t *h = bus->ram + (paddr - bus->ram_base);
	bool interp_empty, jit_empty = true;
	bool hit = interp__code_written(cpu, h, len, &interp_empty);
	if (cpu->jit && jit__code_written(cpu->jit, h, len, &jit_empty))
		hit = true;
	if (interp_empty && jit_empty) {
		_Atomic uint64_t *w = &bus->code[(paddr - bus->ram_base) >> PAGE_SHIFT];
		uint64_t me = 1ull << (cpu->mhartid & 31), old = atomic_load(w), nw;
		do {
			nw = old & ~me;
			if (!(nw & 0xffffffffull))
				nw = 0; /* nobody's code is left: stores may take the fast path again */
		} while (old != nw && !atomic_compare_exchange_weak(w, &old, nw));
	}
	return hit;
}

bool cpu__take_mail(struct rv_cpu *cpu)
{
	struct rv_mail_item mail[sizeof(cpu->mail) / sizeof(cpu->mail[0])];
	pthread_mutex_lock(&cpu->mail_lock);
	unsigned n = cpu->nmail;
	bool overflow = cpu->mail_overflow, tlb = cpu->mail_tlb_flush;
	memcpy(mail, cpu->mail, n * sizeof(mail[0]));
	cpu->nmail = 0;
	cpu->mail_overflow = cpu->mail_tlb_flush = false;
	uint64_t gen = atomic_load(&cpu->mail_sent);
	atomic_store(&cpu->mail_pending, false);
	pthread_mutex_unlock(&cpu->mail_lock);
	if (overflow) {
		/* Too much at once: drop every translation and every write mapping. */
		cpu__flush_icache(cpu);
		tlb = true;
	}
	for (unsigned i = 0; i < n; i++) {
		if (mail[i].kind == MAIL_CODE_WRITE)
			drop_code(cpu, mail[i].paddr, mail[i].len);
		else if (mail[i].kind == MAIL_UNMAP_WRITE)
			mmu__unmap_write(&cpu->mmu, cpu->mmu.bus->ram + ((mail[i].paddr & PAGE_MASK) - cpu->mmu.bus->ram_base));
	}
	if (tlb)
		mmu__flush(&cpu->mmu);
	cpu->code_changed = false; /* taken between blocks: nothing to leave */
	atomic_store(&cpu->mail_done, gen);
	return tlb;
}

/* Every other hart: mail, and (wait) until each has taken it. */
static void post_others(struct rv_cpu *cpu, enum rv_mail kind, uint64_t paddr, unsigned len, uint32_t mask,
			bool wait)
{
	for (unsigned i = 0; i < nharts_of(cpu); i++) {
		struct rv_cpu *h = cpu->plat.harts[i];
		if (h != cpu && ((mask >> (i & 31)) & 1))
			cpu__post(h, kind, paddr, len, cpu, wait);
	}
}

void cpu__code_mark(struct rv_cpu *cpu, const uint8_t *host, unsigned len)
{
	struct rv_bus *bus = cpu->mmu.bus;
	uint64_t off = (uint64_t)(host - bus->ram);
	uint64_t bits = code__chunks((unsigned)(off & (PAGE_SIZE - 1)), len) | (1ull << (cpu->mhartid & 31));
	uint64_t old = atomic_fetch_or(&bus->code[off >> PAGE_SHIFT], bits);
	if (old)
		return;
	/* The page was plain data: no hart may keep a write mapping of it (stores must see the code). */
	mmu__unmap_write(&cpu->mmu, host - (off & (PAGE_SIZE - 1)));
	if (nharts_of(cpu) > 1 && !(bus->resv && atomic_load(&bus->resv[off >> PAGE_SHIFT])))
		post_others(cpu, MAIL_UNMAP_WRITE, bus->ram_base + (off & PAGE_MASK), 0, ~0u, true);
}

void cpu__code_written(struct rv_cpu *cpu, uint64_t paddr, unsigned len)
{
	struct rv_bus *bus = cpu->mmu.bus;
	uint64_t harts = atomic_load(&bus->code[(paddr - bus->ram_base) >> PAGE_SHIFT]) & 0xffffffffull;
	if (drop_code(cpu, paddr, len))
		cpu->code_changed = true;
	/* Other harts' code there goes at their next block (a hart that must see it at once, after
	 * cross-modifying code, executes FENCE.I, which takes its mail). */
	if (nharts_of(cpu) > 1 && (harts & ~(1ull << (cpu->mhartid & 31))))
		post_others(cpu, MAIL_CODE_WRITE, paddr, len, (uint32_t)harts, false);
}

void cpu__store_watched(struct rv_cpu *cpu, uint64_t paddr, unsigned len)
{
	struct rv_bus *bus = cpu->mmu.bus;
	if (bus__code_hit(bus, paddr, len))
		cpu__code_written(cpu, paddr, len);
	if (!bus->resv || !atomic_load_explicit(&bus->resv[(paddr - bus->ram_base) >> PAGE_SHIFT],
						 memory_order_relaxed))
		return;
	/* Break the reservations of other harts on the granules written. */
	for (unsigned i = 0; i < nharts_of(cpu); i++) {
		struct rv_cpu *h = cpu->plat.harts[i];
		if (h == cpu)
			continue;
		uint64_t tag = atomic_load(&h->resv_tag);
		if ((tag & 1) && (tag & ~7ull) < paddr + len && paddr < (tag & ~7ull) + 8)
			atomic_compare_exchange_strong(&h->resv_tag, &tag, 0);
	}
}

void cpu__reserve(struct rv_cpu *cpu, uint64_t paddr)
{
	struct rv_bus *bus = cpu->mmu.bus;
	if (nharts_of(cpu) < 2 || !bus->resv)
		return;
	atomic_store(&cpu->resv_tag, (paddr & ~7ull) | 1);
	uint64_t pg = (paddr - bus->ram_base) >> PAGE_SHIFT;
	if (atomic_exchange(&bus->resv[pg], 1))
		return;
	/* First reservation on the page: from now on every hart's stores to it take the slow path. */
	mmu__unmap_write(&cpu->mmu, bus->ram + (pg << PAGE_SHIFT));
	if (!atomic_load(&bus->code[pg]))
		post_others(cpu, MAIL_UNMAP_WRITE, paddr & PAGE_MASK, 0, ~0u, true);
}

bool cpu__reservation_held(struct rv_cpu *cpu, uint64_t paddr)
{
	if (nharts_of(cpu) < 2 || !cpu->mmu.bus->resv)
		return true;
	uint64_t tag = (paddr & ~7ull) | 1;
	return atomic_compare_exchange_strong(&cpu->resv_tag, &tag, 0);
}

uint64_t cpu__run(struct rv_cpu *cpu, uint64_t budget, enum rv_exit *why)
{
	cpu->budget = cpu->budget_start = (int64_t)budget;
	cpu->budget_unused = 0;
	cpu->exit_reason = RV_EXIT_BUDGET;
	cpu->exit_req = false;
	atomic_store_explicit(&cpu->kick, 0, memory_order_relaxed);
	/* From here the hart uses its TLB: senders of mail now wait for it to be taken (cpu__post). */
	atomic_store(&cpu->in_run, true);
	if (atomic_load(&cpu->mail_pending))
		cpu__take_mail(cpu);
	if (!cpu__take_interrupt(cpu)) {
		fpu__enter(cpu);
		cpu->executing = 1;
		if (setjmp(cpu->trap_jmp) == 0) {
			if (cpu->backend == RV_BACKEND_JIT)
				jit__run(cpu);
			else
				interp__run(cpu);
		}
		cpu->executing = 0;
		fpu__leave(cpu);
	}
	atomic_store(&cpu->in_run, false);
	uint64_t done = (uint64_t)(cpu->budget_start - cpu->budget - cpu->budget_unused);
	cpu->retired += done;
	cpu->budget = cpu->budget_start = cpu->budget_unused = 0;
	if (why)
		*why = cpu->exit_reason;
	return done;
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
	atomic_store_explicit(&cpu->resv_tag, 0, memory_order_relaxed);
	cpu__flush_icache(cpu);
	mmu__flush(&cpu->mmu);
	cpu__update_mmu(cpu);
}

uint64_t cpu__mip(const struct rv_cpu *cpu)
{
	return cpu->mip_sw | atomic_load_explicit(&cpu->mip_hw, memory_order_relaxed) |
	       atomic_load_explicit(&cpu->mip_inject, memory_order_relaxed);
}

void cpu__set_mip(struct rv_cpu *cpu, uint64_t bits, bool level)
{
	if (level) {
		uint64_t old = atomic_fetch_or(&cpu->mip_hw, bits);
		if ((old & bits) != bits)
			cpu__wake(cpu);
		else
			atomic_store(&cpu->kick, 1);
	} else {
		atomic_fetch_and(&cpu->mip_hw, ~bits);
	}
}

void cpu__inject_mip(struct rv_cpu *cpu, uint64_t bits)
{
	atomic_fetch_or(&cpu->mip_inject, bits);
	cpu__wake(cpu);
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
	atomic_store_explicit(&cpu->resv_tag, 0, memory_order_relaxed);
	cpu->exceptions += !interrupt;
	cpu->interrupts += interrupt;
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
	cpu__update_mmu(cpu);
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
