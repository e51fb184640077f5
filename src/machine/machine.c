/* Board assembly, the physical bus dispatch, guest time and the hart run loop. */
#include "machine/machine.h"

#include "cpu/jit/jit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define RUN_BUDGET 8192

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t machine__ticks(struct machine *m)
{
	uint64_t paused = __atomic_load_n(&m->paused_at_ns, __ATOMIC_ACQUIRE);
	uint64_t now = paused ? paused : now_ns();
	return (now - __atomic_load_n(&m->clock_start_ns, __ATOMIC_ACQUIRE)) / (1000000000ull / TIMEBASE_HZ);
}

/* Wake every hart's thread (m->lock held). */
static void wake_all(struct machine *m)
{
	for (unsigned i = 0; i < m->nharts; i++)
		pthread_cond_broadcast(&m->hctl[i].wake);
	pthread_cond_broadcast(&m->wake);
}

void machine__pause(struct machine *m)
{
	pthread_mutex_lock(&m->lock);
	atomic_store(&m->pause_req, true);
	for (unsigned i = 0; i < m->nharts; i++)
		atomic_store(&m->harts[i]->kick, 1);
	wake_all(m);
	while (m->quiet < m->nharts && !atomic_load(&m->halted))
		pthread_cond_wait(&m->wake, &m->lock);
	if (!m->paused_at_ns)
		__atomic_store_n(&m->paused_at_ns, now_ns(), __ATOMIC_RELEASE);
	pthread_mutex_unlock(&m->lock);
}

void machine__resume(struct machine *m)
{
	pthread_mutex_lock(&m->lock);
	if (m->paused_at_ns) {
		/* Guest time continues from where it stopped. */
		__atomic_store_n(&m->clock_start_ns, m->clock_start_ns + (now_ns() - m->paused_at_ns),
				 __ATOMIC_RELEASE);
		__atomic_store_n(&m->paused_at_ns, 0, __ATOMIC_RELEASE);
	}
	atomic_store(&m->pause_req, false);
	wake_all(m);
	pthread_mutex_unlock(&m->lock);
}

bool machine__paused(struct machine *m)
{
	pthread_mutex_lock(&m->lock);
	bool p = atomic_load(&m->pause_req) && m->quiet == m->nharts;
	pthread_mutex_unlock(&m->lock);
	return p;
}

/* Called by a hart between runs when a pause is requested: park until resumed. */
static void park(struct machine *m, unsigned id)
{
	pthread_mutex_lock(&m->lock);
	m->quiet++;
	pthread_cond_broadcast(&m->wake);
	while (atomic_load(&m->pause_req) && !atomic_load(&m->halted))
		pthread_cond_wait(&m->hctl[id].wake, &m->lock);
	m->quiet--;
	pthread_mutex_unlock(&m->lock);
}

/*
 * A hart that is not started (SBI HSM) waits here, counting as quiet for pauses. When hart_start made
 * it START_PENDING it begins where the caller asked, in S-mode with translation off, a0 = its hart id,
 * a1 = the caller's opaque value (SBI spec, HSM). Returns true when the hart runs.
 */
static bool hsm_wait(struct machine *m, unsigned id)
{
	struct hart_ctl *hc = &m->hctl[id];
	struct rv_cpu *cpu = m->harts[id];
	pthread_mutex_lock(&m->lock);
	if (hc->status == HART_STOPPED) {
		m->quiet++;
		pthread_cond_broadcast(&m->wake);
		while (hc->status == HART_STOPPED && !atomic_load(&m->halted) && !atomic_load(&m->pause_req))
			pthread_cond_wait(&hc->wake, &m->lock);
		m->quiet--;
	}
	bool run = false;
	if (hc->status == HART_START_PENDING && !atomic_load(&m->pause_req)) {
		cpu->pc = hc->start_addr;
		cpu->x[10] = id;
		cpu->x[11] = hc->start_opaque;
		cpu->priv = PRV_S;
		cpu->satp = 0;
		cpu->mstatus &= ~(MSTATUS_SIE | MSTATUS_SPIE);
		mmu__flush(&cpu->mmu);
		cpu__update_mmu(cpu);
		hc->status = HART_STARTED;
	}
	run = hc->status == HART_STARTED;
	pthread_mutex_unlock(&m->lock);
	return run;
}

int machine__hart_start(struct machine *m, unsigned id, uint64_t addr, uint64_t opaque)
{
	if (id >= m->nharts)
		return -1;
	pthread_mutex_lock(&m->lock);
	int r = 0;
	if (m->hctl[id].status != HART_STOPPED) {
		r = 1;
	} else {
		m->hctl[id].status = HART_START_PENDING;
		m->hctl[id].start_addr = addr;
		m->hctl[id].start_opaque = opaque;
		pthread_cond_broadcast(&m->hctl[id].wake);
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

void machine__hart_stop(struct machine *m, unsigned id)
{
	pthread_mutex_lock(&m->lock);
	m->hctl[id].status = HART_STOPPED;
	pthread_mutex_unlock(&m->lock);
	cpu__request_exit(m->harts[id]);
}

enum hart_status machine__hart_status(struct machine *m, unsigned id)
{
	pthread_mutex_lock(&m->lock);
	enum hart_status s = m->hctl[id].status;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* A device line rose or an IPI arrived for this hart: wake its thread if it sleeps (cpu__set_mip). */
static void wake_hart(void *opaque, struct rv_cpu *cpu)
{
	struct machine *m = opaque;
	pthread_mutex_lock(&m->lock);
	pthread_cond_broadcast(&m->hctl[cpu->mhartid].wake);
	pthread_mutex_unlock(&m->lock);
}

/* A device wrote a RAM page holding decoded code: every hart drops it. */
static void code_dma(void *opaque, uint64_t paddr)
{
	struct machine *m = opaque;
	for (unsigned i = 0; i < m->nharts; i++)
		cpu__post(m->harts[i], MAIL_CODE_WRITE, paddr, PAGE_SIZE, NULL, false);
}

static uint64_t clock_ticks(void *opaque)
{
	return machine__ticks(opaque);
}

static struct mmio_region *find_mmio(struct machine *m, uint64_t pa, unsigned size)
{
	for (unsigned i = 0; i < m->nmmio; i++) {
		struct mmio_region *r = &m->mmio[i];
		if (pa >= r->base && pa - r->base < r->size)
			return pa - r->base + size <= r->size ? r : NULL;
	}
	return NULL;
}

static bool bus_read(void *opaque, uint64_t pa, unsigned size, uint64_t *val)
{
	struct mmio_region *r = find_mmio(opaque, pa, size);
	if (!r || (pa & (size - 1)))
		return false;
	*val = r->ops->read(r->dev, pa - r->base, size);
	return true;
}

static bool bus_write(void *opaque, uint64_t pa, unsigned size, uint64_t val)
{
	struct mmio_region *r = find_mmio(opaque, pa, size);
	if (!r || (pa & (size - 1)))
		return false;
	r->ops->write(r->dev, pa - r->base, size, val);
	return true;
}

int machine__add_mmio(struct machine *m, uint64_t base, uint64_t size, const struct mmio_ops *ops, void *dev,
		      const char *name)
{
	if (m->nmmio >= MAX_MMIO)
		return -1;
	for (unsigned i = 0; i < m->nmmio; i++)
		if (base < m->mmio[i].base + m->mmio[i].size && m->mmio[i].base < base + size)
			return -1;
	m->mmio[m->nmmio++] = (struct mmio_region){ base, size, ops, dev, name };
	return 0;
}

void machine__kick(struct machine *m)
{
	pthread_mutex_lock(&m->lock);
	wake_all(m);
	pthread_mutex_unlock(&m->lock);
}

static void halt_locked(struct machine *m, int code, const char *why)
{
	if (!atomic_load(&m->halted)) {
		m->exit_code = code;
		m->exit_why = why;
		atomic_store(&m->halted, true);
	}
	for (unsigned i = 0; i < m->nharts; i++)
		atomic_store(&m->harts[i]->kick, 1);
	wake_all(m);
}

void machine__halt(struct machine *m, int code, const char *why)
{
	pthread_mutex_lock(&m->lock);
	halt_locked(m, code, why);
	pthread_mutex_unlock(&m->lock);
}

static void syscon_event(void *opaque, enum syscon_event ev, unsigned code)
{
	struct machine *m = opaque;
	switch (ev) {
	case SYSCON_EV_POWEROFF:
		machine__halt(m, 0, "poweroff");
		break;
	case SYSCON_EV_REBOOT:
		machine__halt(m, 0, "reboot");
		break;
	case SYSCON_EV_FAIL:
		machine__halt(m, code ? (int)code : 1, "guest reported failure");
		break;
	}
}

static void uart_tx(void *opaque, uint8_t c)
{
	struct machine *m = opaque;
	m->console(m->console_opaque, c);
}

int machine__init(struct machine *m, const struct machine_config *cfg, void (*console)(void *, uint8_t),
		  void *console_opaque, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->console = console;
	m->console_opaque = console_opaque;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	for (unsigned i = 0; i < CLINT_MAX_HARTS; i++)
		pthread_cond_init(&m->hctl[i].wake, NULL);
	m->clock_start_ns = now_ns();

	if (cfg->mem_mib < MIN_MEM_MIB || cfg->mem_mib > MAX_MEM_MIB) {
		snprintf(err, errlen, "guest memory must be %d..%d MiB (got %llu)", MIN_MEM_MIB, MAX_MEM_MIB,
			 (unsigned long long)cfg->mem_mib);
		return -1;
	}
	if (cfg->cpus < 1 || cfg->cpus > MACHINE_MAX_CPUS) {
		snprintf(err, errlen, "a microVM has 1 to %d vCPUs (got %u)", MACHINE_MAX_CPUS, cfg->cpus);
		return -1;
	}
	m->bus.ram_base = RAM_BASE;
	m->bus.ram_size = cfg->mem_mib << 20;
	m->bus.ram = mmap(NULL, m->bus.ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	if (m->bus.ram == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %llu MiB of guest memory: %s", (unsigned long long)cfg->mem_mib,
			 strerror(errno));
		m->bus.ram = NULL;
		return -1;
	}
	/* Working-set samples (src/mem/wss.c): untouched, this costs no memory until a sample is taken. */
	void *ws = mmap(NULL, m->bus.ram_size >> PAGE_SHIFT, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	m->bus.ws_sample = ws == MAP_FAILED ? NULL : ws;
	m->bus.opaque = m;
	m->bus.mmio_read = bus_read;
	m->bus.mmio_write = bus_write;
	m->bus.watch_page = ~0ull;
	m->bus.watch_write = htif__write;
	m->bus.code_dma = code_dma;

	m->sbi = !cfg->firmware && !cfg->elf;
	struct rv_platform plat = {
		.opaque = m,
		.time = clock_ticks,
		.ecall = m->sbi ? sbi__ecall : NULL,
		.wake = wake_hart,
		.harts = m->harts,
		.nharts = cfg->cpus,
	};
	m->nharts = cfg->cpus;
	/* With the SBI in the VMM only hart 0 starts; the others wait for hart_start (HSM). Firmware and
	 * bare-metal programs start on every hart, as on real hardware. */
	for (unsigned i = 0; i < m->nharts; i++)
		m->hctl[i].status = m->sbi && i ? HART_STOPPED : HART_STARTED;
	for (unsigned i = 0; i < m->nharts; i++) {
		m->harts[i] = calloc(1, sizeof(struct rv_cpu));
		if (!m->harts[i]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		cpu__init(m->harts[i], i, &m->bus, &plat);
		char why[160];
		if (cfg->has_cpu_backend && cpu__set_backend(m->harts[i], cfg->cpu_backend, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "cannot use the %s CPU backend: %s", cpu__backend_name(cfg->cpu_backend),
				 why);
			return -1;
		}
		m->sbi_timecmp[i] = ~0ull;
	}

	clint__init(&m->clint, m->harts, m->nharts, clock_ticks, m);
	plic__init(&m->plic, m->harts, m->nharts);
	uart__init(&m->uart, (struct irq_line){ plic__set_irq, &m->plic, UART_IRQ }, uart_tx, m);
	m->syscon = (struct syscon){ syscon_event, m };
	machine__add_mmio(m, CLINT_BASE, CLINT_SIZE, &clint__ops, &m->clint, "clint");
	machine__add_mmio(m, PLIC_BASE, PLIC_SIZE, &plic__ops, &m->plic, "plic");
	machine__add_mmio(m, UART_BASE, UART_SIZE, &uart__ops, &m->uart, "uart");
	machine__add_mmio(m, SYSCON_BASE, SYSCON_SIZE, &syscon__ops, &m->syscon, "syscon");
	if (cfg->boot_timer) {
		boottimer__init(&m->boottimer, m->cfg.log);
		machine__add_mmio(m, BOOTTIMER_BASE, BOOTTIMER_SIZE, &boottimer__ops, &m->boottimer, "boottimer");
	}

	if (cfg->attach_devices && cfg->attach_devices(m, cfg->attach_opaque, err, errlen) < 0)
		return -1;
	return cfg->restore ? 0 : loader__load(m, err, errlen);
}

void machine__exit(struct machine *m)
{
	if (getenv("WISP_STATS")) {
		for (unsigned i = 0; i < m->nharts; i++) {
			struct rv_cpu *c = m->harts[i];
			fprintf(stderr, "wisp: hart %u: %llu instructions, %llu page walks, backend %s\n", i,
				(unsigned long long)c->retired, (unsigned long long)c->mmu.walks,
				cpu__backend_name(c->backend));
			if (c->jit) {
				struct jit_stats st;
				jit__stats(c->jit, &st);
				fprintf(stderr,
					"wisp: hart %u: translator: %llu blocks, %llu translations, %llu KiB of code "
					"(of %llu), %llu flushes, %llu pages invalidated, %llu links\n",
					i, (unsigned long long)st.blocks, (unsigned long long)st.translations,
					(unsigned long long)st.code_bytes >> 10, (unsigned long long)st.code_capacity >> 10,
					(unsigned long long)st.flushes, (unsigned long long)st.invalidations,
					(unsigned long long)st.links);
			}
		}
	}
	for (unsigned i = 0; i < m->nharts; i++) {
		if (m->harts[i])
			cpu__exit(m->harts[i]);
		free(m->harts[i]);
	}
	uart__destroy(&m->uart);
	plic__destroy(&m->plic);
	if (m->bus.ram)
		munmap(m->bus.ram, m->bus.ram_size);
	if (m->bus.ws_sample)
		munmap((void *)m->bus.ws_sample, m->bus.ram_size >> PAGE_SHIFT);
	m->bus.ws_sample = NULL;
	free((void *)m->bus.dirty);
	free((void *)m->bus.code);
	free((void *)m->bus.resv);
	free(m->ram_file_pages);
	pthread_cond_destroy(&m->wake);
	for (unsigned i = 0; i < CLINT_MAX_HARTS; i++)
		pthread_cond_destroy(&m->hctl[i].wake);
	pthread_mutex_destroy(&m->lock);
}

/* Raise or drop hart id's timer lines for the current time; returns its next deadline in ticks. */
static uint64_t update_timers(struct machine *m, unsigned id, uint64_t now)
{
	uint64_t next = clint__update_hart(&m->clint, id, now);
	if (m->sbi) {
		struct rv_cpu *cpu = m->harts[id];
		uint64_t cmp = __atomic_load_n(&m->sbi_timecmp[id], __ATOMIC_RELAXED);
		bool fire = now >= cmp;
		if (fire != !!(cpu__mip(cpu) & MIP_STIP))
			cpu__set_mip(cpu, MIP_STIP, fire);
		if (!fire && cmp < next)
			next = cmp;
	}
	return next;
}

/* WFI: sleep until an interrupt is pending, the next timer deadline, or someone needs the hart. */
static void wait_for_interrupt(struct machine *m, unsigned id, uint64_t deadline)
{
	struct rv_cpu *cpu = m->harts[id];
	uint64_t t0 = now_ns();
	pthread_mutex_lock(&m->lock);
	while (!atomic_load(&m->halted) && !cpu__irq_pending(cpu, true) && !atomic_load(&m->pause_req) &&
	       !atomic_load(&cpu->mail_pending) && m->hctl[id].status == HART_STARTED) {
		uint64_t now = machine__ticks(m);
		if (now >= deadline)
			break;
		if (deadline == ~0ull) {
			pthread_cond_wait(&m->hctl[id].wake, &m->lock);
			break; /* a timer may have moved: the run loop recomputes the deadline */
		}
		/* The condition variable uses CLOCK_REALTIME: convert the delay. */
		uint64_t ns = (deadline - now) * (1000000000ull / TIMEBASE_HZ);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ns += (uint64_t)ts.tv_nsec;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		pthread_cond_timedwait(&m->hctl[id].wake, &m->lock, &ts);
		break;
	}
	atomic_store(&cpu->kick, 0);
	pthread_mutex_unlock(&m->lock);
	m->hctl[id].wfi_ns += now_ns() - t0;
}

/* The exception a hart has just taken, as the trap CSRs of the mode that took it record it. */
struct exception {
	uint64_t cause, pc, tval, vector;
	int mode;
};

static struct exception last_exception(const struct rv_cpu *cpu)
{
	if (cpu->priv == PRV_M)
		return (struct exception){ cpu->mcause, cpu->mepc, cpu->mtval, cpu->mtvec & ~3ull, PRV_M };
	return (struct exception){ cpu->scause, cpu->sepc, cpu->stval, cpu->stvec & ~3ull, PRV_S };
}

static const char *cause_name(uint64_t cause)
{
	static const char *const names[] = {
		[EXC_INSN_MISALIGNED] = "instruction address misaligned",
		[EXC_INSN_ACCESS] = "instruction access fault",
		[EXC_ILLEGAL] = "illegal instruction",
		[EXC_BREAKPOINT] = "breakpoint",
		[EXC_LOAD_MISALIGNED] = "load address misaligned",
		[EXC_LOAD_ACCESS] = "load access fault",
		[EXC_STORE_MISALIGNED] = "store address misaligned",
		[EXC_STORE_ACCESS] = "store access fault",
		[EXC_ECALL_U] = "environment call from U-mode",
		[EXC_ECALL_S] = "environment call from S-mode",
		[EXC_ECALL_M] = "environment call from M-mode",
		[EXC_INSN_PAGE] = "instruction page fault",
		[EXC_LOAD_PAGE] = "load page fault",
		[EXC_STORE_PAGE] = "store page fault",
	};
	return cause < sizeof(names) / sizeof(names[0]) && names[cause] ? names[cause] : "exception";
}

/* A hart that cannot make progress stops the machine (the first hart to halt it gives the reason). */
static void halt_stuck(struct machine *m, unsigned id, const struct exception *first, const struct exception *last)
{
	char why[sizeof(m->fault)];
	snprintf(why, sizeof(why),
		 "hart %u can make no progress: %d exceptions in a row without retiring an instruction, the last %s "
		 "(cause %llu) at pc 0x%llx (tval 0x%llx) taken to %s-mode whose trap vector is 0x%llx; the first: %s "
		 "(cause %llu) at pc 0x%llx (tval 0x%llx)",
		 id, MACHINE_STUCK_EXCEPTIONS, cause_name(last->cause), (unsigned long long)last->cause,
		 (unsigned long long)last->pc, (unsigned long long)last->tval, last->mode == PRV_M ? "M" : "S",
		 (unsigned long long)last->vector, cause_name(first->cause), (unsigned long long)first->cause,
		 (unsigned long long)first->pc, (unsigned long long)first->tval);
	pthread_mutex_lock(&m->lock);
	if (!atomic_load(&m->halted)) {
		memcpy(m->fault, why, sizeof(why));
		m->failed = true;
	}
	halt_locked(m, MACHINE_EXIT_STUCK, m->fault);
	pthread_mutex_unlock(&m->lock);
}

int machine__run_hart(struct machine *m, unsigned id)
{
	struct rv_cpu *cpu = m->harts[id];
	struct hart_ctl *hc = &m->hctl[id];
	unsigned stuck = 0; /* exceptions in a row with no instruction retired */
	struct exception first = { 0 };
	while (!atomic_load(&m->halted)) {
		if (atomic_load(&m->pause_req)) {
			park(m, id);
			continue;
		}
		if (hc->status != HART_STARTED && !hsm_wait(m, id))
			continue;
		update_timers(m, id, machine__ticks(m));
		enum rv_exit why;
		uint64_t before = cpu->exceptions;
		uint64_t retired = cpu__run(cpu, RUN_BUDGET, &why);
		if (why == RV_EXIT_WFI)
			hc->exits_wfi++;
		else if (why == RV_EXIT_HALT)
			hc->exits_halt++;
		else
			hc->exits_budget++;
		uint64_t taken = cpu->exceptions - before;
		if (retired)
			stuck = 0;
		if (taken) {
			/* An exception ends a run: when it retired instructions, the last exception came after them. */
			if (!stuck)
				first = last_exception(cpu);
			stuck += retired ? 1 : (unsigned)(taken < MACHINE_STUCK_EXCEPTIONS ? taken : MACHINE_STUCK_EXCEPTIONS);
			if (stuck >= MACHINE_STUCK_EXCEPTIONS) {
				struct exception last = last_exception(cpu);
				halt_stuck(m, id, &first, &last);
				break;
			}
		}
		if (why != RV_EXIT_WFI)
			continue;
		/* The guest may have just moved its timer: recompute the deadline before sleeping. */
		uint64_t deadline = update_timers(m, id, machine__ticks(m));
		if (!cpu__irq_pending(cpu, true))
			wait_for_interrupt(m, id, deadline);
	}
	return m->exit_code;
}
