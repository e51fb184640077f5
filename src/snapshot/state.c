/* Board state to and from snapshot sections. */
#include "snapshot/state.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Section layout versions: bump when a section's payload changes, and keep reading the old ones. */
#define V_MACHINE 1
#define V_TIME 1
#define V_HART 2 /* 2: the hart's SBI HSM state (version 1: started) */
#define V_CLINT 1
#define V_PLIC 1
#define V_UART 1
#define V_SBI 1

/* The hart's 64-bit scalar registers, in file order. */
#define HART_U64(X)                                                                                          \
	X(pc) X(mstatus) X(misa) X(medeleg) X(mideleg) X(mie) X(mtvec) X(mscratch) X(mepc) X(mcause) X(mtval) \
	X(mcounteren) X(scounteren) X(menvcfg) X(senvcfg) X(mcountinhibit) X(stvec) X(sscratch) X(sepc)      \
	X(scause) X(stval) X(satp) X(mhartid) X(retired) X(instret_offset)

/* ---- device handlers ---- */

static const struct snapshot_device_ops *dev_ops[SNAPSHOT_MAX_DEVICE_OPS];
static unsigned ndev_ops;

int snapshot__register_device(const struct snapshot_device_ops *ops)
{
	if (!ops || !ops->mmio || !ops->kind || strlen(ops->kind) >= 64 || !ops->save || !ops->load ||
	    ndev_ops >= SNAPSHOT_MAX_DEVICE_OPS)
		return -1;
	for (unsigned i = 0; i < ndev_ops; i++)
		if (dev_ops[i]->mmio == ops->mmio)
			return dev_ops[i] == ops ? 0 : -1;
	dev_ops[ndev_ops++] = ops;
	return 0;
}

/* The board's own windows: their state is in the fixed sections. */
static bool builtin_window(const struct mmio_region *r)
{
	return r->ops == &clint__ops || r->ops == &plic__ops || r->ops == &uart__ops || r->ops == &syscon__ops ||
	       r->ops == &boottimer__ops;
}

static const char *name_of(const struct mmio_region *r)
{
	return r->name ? r->name : "?";
}

static const struct snapshot_device_ops *find_ops(const struct mmio_region *r)
{
	for (unsigned i = 0; i < ndev_ops; i++)
		if (dev_ops[i]->mmio == r->ops)
			return dev_ops[i];
	return NULL;
}

/* ---- save ---- */

static void save_hart(struct snap_writer *w, unsigned idx, const struct rv_cpu *c, const struct hart_ctl *hc)
{
	snap_w__begin(w, SNAP_SEC_HART, V_HART);
	snap_w__u32(w, idx);
	snap_w__u32(w, (uint32_t)c->priv);
	snap_w__u32(w, c->fflags);
	snap_w__u32(w, c->frm);
	for (int i = 0; i < 32; i++)
		snap_w__u64(w, c->x[i]);
	for (int i = 0; i < 32; i++)
		snap_w__u64(w, c->f[i]);
#define W(field) snap_w__u64(w, c->field);
	HART_U64(W)
#undef W
	for (int i = 0; i < 16; i++)
		snap_w__u64(w, c->pmpcfg[i]);
	for (int i = 0; i < 64; i++)
		snap_w__u64(w, c->pmpaddr[i]);
	/* The load reservation is dropped (an SC after restore fails and the guest retries). */
	snap_w__u64(w, c->mip_sw | atomic_load(&c->mip_inject));
	snap_w__u8(w, (atomic_load(&c->mip_hw) & MIP_MSIP) ? 1 : 0);
	snap_w__u32(w, hc->status);
	snap_w__u64(w, hc->start_addr);
	snap_w__u64(w, hc->start_opaque);
	snap_w__end(w);
}

int snap_state__save(struct machine *m, struct snap_writer *w, char *err, size_t n)
{
	/* Every device window must have a handler: refuse before writing anything. */
	for (unsigned i = 0; i < m->nmmio; i++) {
		const struct mmio_region *r = &m->mmio[i];
		if (!builtin_window(r) && !find_ops(r)) {
			snprintf(err, n, "the device %s at 0x%" PRIx64 " does not support snapshots yet", name_of(r),
				 r->base);
			return -1;
		}
	}

	uint32_t flags = (m->sbi ? SNAP_M_SBI : 0) | (m->cfg.boot_timer ? SNAP_M_BOOT_TIMER : 0) |
			 (m->cfg.firmware ? SNAP_M_FIRMWARE : 0) | (m->cfg.elf ? SNAP_M_ELF : 0);
	snap_w__begin(w, SNAP_SEC_MACHINE, V_MACHINE);
	snap_w__u64(w, m->bus.ram_base);
	snap_w__u64(w, m->bus.ram_size);
	snap_w__u32(w, m->nharts);
	snap_w__u32(w, flags);
	snap_w__u64(w, m->tohost);
	snap_w__u64(w, m->fromhost);
	snap_w__u64(w, m->bus.watch_page);
	snap_w__u64(w, m->entry);
	snap_w__u64(w, m->dtb_addr);
	snap_w__u64(w, m->initrd_start);
	snap_w__u64(w, m->initrd_end);
	snap_w__u64(w, m->kernel_addr);
	snap_w__end(w);

	snap_w__begin(w, SNAP_SEC_TIME, V_TIME);
	snap_w__u64(w, machine__ticks(m));
	snap_w__u64(w, TIMEBASE_HZ);
	snap_w__end(w);

	for (unsigned i = 0; i < m->nharts; i++)
		save_hart(w, i, m->harts[i], &m->hctl[i]);

	snap_w__begin(w, SNAP_SEC_CLINT, V_CLINT);
	snap_w__u32(w, m->nharts);
	for (unsigned i = 0; i < m->nharts; i++)
		snap_w__u64(w, atomic_load(&m->clint.mtimecmp[i]));
	snap_w__u64(w, (uint64_t)m->clint.offset);
	snap_w__end(w);

	/* UART then PLIC, nested as uart__receive does: a byte arriving now is in both or in neither. */
	struct uart *u = &m->uart;
	struct plic *p = &m->plic;
	pthread_mutex_lock(&u->lock);
	pthread_mutex_lock(&p->lock);
	snap_w__begin(w, SNAP_SEC_PLIC, V_PLIC);
	snap_w__u32(w, p->ncontexts);
	snap_w__u32(w, PLIC_NDEV);
	for (unsigned i = 0; i <= PLIC_NDEV; i++)
		snap_w__u32(w, p->priority[i]);
	snap_w__u32(w, p->level);
	snap_w__u32(w, p->pending);
	snap_w__u32(w, p->claimed);
	for (unsigned i = 0; i < p->ncontexts; i++) {
		snap_w__u32(w, p->enable[i]);
		snap_w__u32(w, p->threshold[i]);
	}
	snap_w__end(w);
	snap_w__begin(w, SNAP_SEC_UART, V_UART);
	snap_w__u32(w, u->rx_count);
	for (unsigned i = 0; i < u->rx_count; i++)
		snap_w__u8(w, u->rx[(u->rx_head + i) % UART_FIFO]);
	uint8_t regs[] = { u->ier, u->lcr, u->mcr, u->scr, u->fcr, u->dll, u->dlm, u->thre_pending };
	snap_w__bytes(w, regs, sizeof(regs));
	snap_w__u64(w, u->tx_bytes);
	snap_w__u64(w, u->rx_bytes);
	snap_w__end(w);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&u->lock);

	snap_w__begin(w, SNAP_SEC_SBI, V_SBI);
	snap_w__u32(w, m->nharts);
	for (unsigned i = 0; i < m->nharts; i++)
		snap_w__u64(w, m->sbi_timecmp[i]);
	snap_w__end(w);

	for (unsigned i = 0; i < m->nmmio; i++) {
		const struct mmio_region *r = &m->mmio[i];
		const struct snapshot_device_ops *ops = builtin_window(r) ? NULL : find_ops(r);
		if (!ops)
			continue;
		snap_w__begin(w, SNAP_SEC_DEVICE, 1);
		snap_w__u64(w, r->base);
		snap_w__str(w, ops->kind);
		char name[64]; /* informative only: the window's base identifies it */
		snprintf(name, sizeof(name), "%s", name_of(r));
		snap_w__str(w, name);
		snap_w__u32(w, ops->version);
		char why[256] = "";
		if (ops->save(r->dev, w, why, sizeof(why)) < 0) {
			snprintf(err, n, "cannot save the state of %s at 0x%" PRIx64 ": %s", name_of(r), r->base, why);
			return -1;
		}
		snap_w__end(w);
	}
	if (w->oom) {
		snprintf(err, n, "out of memory while writing the snapshot state");
		return -1;
	}
	return 0;
}

/* ---- parse ---- */

/* The one section with this id (exactly one must exist). */
static const struct snap_section *one(const struct snap_file *f, uint32_t id, const char *what, char *err,
				       size_t n)
{
	unsigned c = snap_file__count(f, id);
	if (c != 1) {
		snprintf(err, n, "snapshot state file has %u %s sections, expected one", c, what);
		return NULL;
	}
	return snap_file__find(f, id, 0);
}

static bool version_ok(const struct snap_section *s, uint32_t want, const char *what, char *err, size_t n)
{
	if (s->version == want)
		return true;
	snprintf(err, n, "snapshot %s section has version %u, this wisp reads version %u", what, s->version, want);
	return false;
}

static int bad_section(const char *what, char *err, size_t n)
{
	snprintf(err, n, "corrupt snapshot state file: the %s section has the wrong length or values", what);
	return -1;
}

static int parse_hart(struct snap_state *s, const struct snap_section *sec, bool *seen, char *err, size_t n)
{
	if (sec->version != 1 && !version_ok(sec, V_HART, "hart", err, n))
		return -1;
	struct snap_reader r;
	snap_r__init(&r, sec->data, sec->len);
	uint32_t idx = snap_r__u32(&r);
	if (r.bad || idx >= s->info.nharts) {
		snprintf(err, n, "snapshot hart section for hart %u, but the machine has %u", idx, s->info.nharts);
		return -1;
	}
	if (seen[idx]) {
		snprintf(err, n, "snapshot state file has two sections for hart %u", idx);
		return -1;
	}
	seen[idx] = true;
	struct snap_hart *h = &s->hart[idx];
	h->priv = snap_r__u32(&r);
	h->fflags = snap_r__u32(&r);
	h->frm = snap_r__u32(&r);
	for (int i = 0; i < 32; i++)
		h->x[i] = snap_r__u64(&r);
	for (int i = 0; i < 32; i++)
		h->f[i] = snap_r__u64(&r);
#define R(field) h->field = snap_r__u64(&r);
	HART_U64(R)
#undef R
	for (int i = 0; i < 16; i++)
		h->pmpcfg[i] = snap_r__u64(&r);
	for (int i = 0; i < 64; i++)
		h->pmpaddr[i] = snap_r__u64(&r);
	h->mip_sw = snap_r__u64(&r);
	uint8_t msip = snap_r__u8(&r);
	h->msip = msip;
	h->hsm = HART_STARTED;
	if (sec->version >= 2) {
		h->hsm = snap_r__u32(&r);
		h->start_addr = snap_r__u64(&r);
		h->start_opaque = snap_r__u64(&r);
	}
	if (!snap_r__done(&r) || (h->hsm != HART_STARTED && h->hsm != HART_STOPPED && h->hsm != HART_START_PENDING))
		return bad_section("hart", err, n);
	/* Values the interpreter uses as indices or modes must be legal; the rest is the guest's business. */
	unsigned mpp = (unsigned)((h->mstatus & MSTATUS_MPP) >> 11), satp_mode = (unsigned)(h->satp >> 60);
	if ((h->priv != PRV_U && h->priv != PRV_S && h->priv != PRV_M) || mpp == 2 || h->frm > 7 ||
	    h->fflags > 0x1f || msip > 1 || h->mhartid != idx || h->x[0] != 0 ||
	    (h->mip_sw & ~(MIP_SSIP | MIP_STIP | MIP_SEIP)) ||
	    (satp_mode != 0 && satp_mode != 8 && satp_mode != 9)) {
		snprintf(err, n, "corrupt snapshot state file: hart %u has illegal register values", idx);
		return -1;
	}
	return 0;
}

int snap_state__parse(struct snap_state *s, const struct snap_file *f, char *err, size_t n)
{
	memset(s, 0, sizeof(*s));
	const struct snap_section *sec;
	struct snap_reader r;

	if (!(sec = one(f, SNAP_SEC_MACHINE, "machine", err, n)) || !version_ok(sec, V_MACHINE, "machine", err, n))
		return -1;
	snap_r__init(&r, sec->data, sec->len);
	struct snap_machine_info *mi = &s->info;
	mi->ram_base = snap_r__u64(&r);
	mi->ram_size = snap_r__u64(&r);
	mi->nharts = snap_r__u32(&r);
	mi->flags = snap_r__u32(&r);
	mi->tohost = snap_r__u64(&r);
	mi->fromhost = snap_r__u64(&r);
	mi->watch_page = snap_r__u64(&r);
	mi->entry = snap_r__u64(&r);
	mi->dtb_addr = snap_r__u64(&r);
	mi->initrd_start = snap_r__u64(&r);
	mi->initrd_end = snap_r__u64(&r);
	mi->kernel_addr = snap_r__u64(&r);
	if (!snap_r__done(&r) || mi->ram_base != RAM_BASE || mi->ram_size % (1ull << 20) ||
	    mi->ram_size < ((uint64_t)MIN_MEM_MIB << 20) || mi->ram_size > ((uint64_t)MAX_MEM_MIB << 20) ||
	    mi->flags & ~(SNAP_M_SBI | SNAP_M_BOOT_TIMER | SNAP_M_FIRMWARE | SNAP_M_ELF))
		return bad_section("machine", err, n);
	/* The HTIF words and the watched page, when used, are in RAM (the loader only ever puts them there). */
	uint64_t ram_end = mi->ram_base + mi->ram_size;
	bool htif_ok = (!mi->tohost || (!(mi->tohost & 7) && mi->tohost >= mi->ram_base && mi->tohost < ram_end)) &&
		       (!mi->fromhost || (!(mi->fromhost & 7) && mi->fromhost >= mi->ram_base && mi->fromhost < ram_end)) &&
		       (mi->watch_page == ~0ull ||
			(!(mi->watch_page & (PAGE_SIZE - 1)) && mi->watch_page >= mi->ram_base && mi->watch_page < ram_end));
	if (!htif_ok)
		return bad_section("machine", err, n);
	if (mi->nharts < 1 || mi->nharts > MACHINE_MAX_CPUS) {
		snprintf(err, n, "the snapshot has %u vCPUs; this wisp runs 1 to %d", mi->nharts, MACHINE_MAX_CPUS);
		return -1;
	}

	if (!(sec = one(f, SNAP_SEC_TIME, "time", err, n)) || !version_ok(sec, V_TIME, "time", err, n))
		return -1;
	snap_r__init(&r, sec->data, sec->len);
	s->ticks = snap_r__u64(&r);
	uint64_t hz = snap_r__u64(&r);
	if (!snap_r__done(&r) || hz != TIMEBASE_HZ)
		return bad_section("time", err, n);

	unsigned nh = snap_file__count(f, SNAP_SEC_HART);
	if (nh != mi->nharts) {
		snprintf(err, n, "snapshot state file has %u hart sections for %u harts", nh, mi->nharts);
		return -1;
	}
	bool seen[CLINT_MAX_HARTS] = { false };
	for (unsigned i = 0; i < nh; i++) {
		sec = snap_file__find(f, SNAP_SEC_HART, i);
		if (parse_hart(s, sec, seen, err, n) < 0)
			return -1;
	}

	if (!(sec = one(f, SNAP_SEC_CLINT, "CLINT", err, n)) || !version_ok(sec, V_CLINT, "CLINT", err, n))
		return -1;
	snap_r__init(&r, sec->data, sec->len);
	if (snap_r__u32(&r) != mi->nharts)
		return bad_section("CLINT", err, n);
	for (unsigned i = 0; i < mi->nharts; i++)
		s->clint.mtimecmp[i] = snap_r__u64(&r);
	s->clint.offset = (int64_t)snap_r__u64(&r);
	if (!snap_r__done(&r))
		return bad_section("CLINT", err, n);

	if (!(sec = one(f, SNAP_SEC_PLIC, "PLIC", err, n)) || !version_ok(sec, V_PLIC, "PLIC", err, n))
		return -1;
	snap_r__init(&r, sec->data, sec->len);
	s->plic.ncontexts = snap_r__u32(&r);
	if (s->plic.ncontexts != 2 * mi->nharts || s->plic.ncontexts > PLIC_MAX_CONTEXTS ||
	    snap_r__u32(&r) != PLIC_NDEV)
		return bad_section("PLIC", err, n);
	bool ok = true;
	for (unsigned i = 0; i <= PLIC_NDEV; i++) {
		s->plic.priority[i] = snap_r__u32(&r);
		ok &= s->plic.priority[i] <= 7 && (i || !s->plic.priority[i]);
	}
	s->plic.level = snap_r__u32(&r);
	s->plic.pending = snap_r__u32(&r);
	s->plic.claimed = snap_r__u32(&r);
	ok &= !((s->plic.level | s->plic.pending | s->plic.claimed) & 1);
	for (unsigned i = 0; i < s->plic.ncontexts; i++) {
		s->plic.enable[i] = snap_r__u32(&r);
		s->plic.threshold[i] = snap_r__u32(&r);
		ok &= !(s->plic.enable[i] & 1) && s->plic.threshold[i] <= 7;
	}
	if (!snap_r__done(&r) || !ok)
		return bad_section("PLIC", err, n);

	if (!(sec = one(f, SNAP_SEC_UART, "UART", err, n)) || !version_ok(sec, V_UART, "UART", err, n))
		return -1;
	snap_r__init(&r, sec->data, sec->len);
	s->uart.rx_count = snap_r__u32(&r);
	if (s->uart.rx_count > UART_FIFO)
		return bad_section("UART", err, n);
	snap_r__bytes(&r, s->uart.rx, s->uart.rx_count);
	uint8_t regs[8];
	snap_r__bytes(&r, regs, sizeof(regs));
	s->uart.ier = regs[0];
	s->uart.lcr = regs[1];
	s->uart.mcr = regs[2];
	s->uart.scr = regs[3];
	s->uart.fcr = regs[4];
	s->uart.dll = regs[5];
	s->uart.dlm = regs[6];
	s->uart.thre_pending = regs[7];
	s->uart.tx_bytes = snap_r__u64(&r);
	s->uart.rx_bytes = snap_r__u64(&r);
	if (!snap_r__done(&r) || regs[7] > 1)
		return bad_section("UART", err, n);

	if (!(sec = one(f, SNAP_SEC_SBI, "SBI", err, n)) || !version_ok(sec, V_SBI, "SBI", err, n))
		return -1;
	snap_r__init(&r, sec->data, sec->len);
	if (snap_r__u32(&r) != mi->nharts)
		return bad_section("SBI", err, n);
	for (unsigned i = 0; i < mi->nharts; i++)
		s->sbi_timecmp[i] = snap_r__u64(&r);
	if (!snap_r__done(&r))
		return bad_section("SBI", err, n);

	/* Device sections: only their framing here; apply matches them with the machine's windows. */
	for (unsigned i = 0; i < snap_file__count(f, SNAP_SEC_DEVICE); i++) {
		sec = snap_file__find(f, SNAP_SEC_DEVICE, i);
		snap_r__init(&r, sec->data, sec->len);
		char kind[64], name[64];
		snap_r__u64(&r);
		if (sec->version != 1 || !snap_r__str(&r, kind, sizeof(kind), NULL) ||
		    !snap_r__str(&r, name, sizeof(name), NULL))
			return bad_section("device", err, n);
		snap_r__u32(&r);
		if (r.bad)
			return bad_section("device", err, n);
	}
	return 0;
}

/* ---- apply ---- */

struct dev_match {
	const struct mmio_region *r;
	const struct snapshot_device_ops *ops;
	const struct snap_section *sec;
};

/* Pair every non-board window of m with its device section, both ways. */
static int match_devices(const struct snap_file *f, const struct machine *m, struct dev_match *out, unsigned *nout,
			 char *err, size_t n)
{
	unsigned nsec = snap_file__count(f, SNAP_SEC_DEVICE), used = 0;
	*nout = 0;
	for (unsigned i = 0; i < m->nmmio; i++) {
		const struct mmio_region *r = &m->mmio[i];
		if (builtin_window(r))
			continue;
		const struct snapshot_device_ops *ops = find_ops(r);
		if (!ops) {
			snprintf(err, n, "the device %s at 0x%" PRIx64 " does not support snapshots yet", name_of(r), r->base);
			return -1;
		}
		const struct snap_section *hit = NULL;
		for (unsigned k = 0; k < nsec && !hit; k++) {
			const struct snap_section *sec = snap_file__find(f, SNAP_SEC_DEVICE, k);
			struct snap_reader rd;
			snap_r__init(&rd, sec->data, sec->len);
			if (snap_r__u64(&rd) == r->base)
				hit = sec;
		}
		char kind[64] = "";
		if (hit) {
			struct snap_reader rd;
			snap_r__init(&rd, hit->data, hit->len);
			snap_r__u64(&rd);
			snap_r__str(&rd, kind, sizeof(kind), NULL);
		}
		if (!hit || strcmp(kind, ops->kind) != 0) {
			snprintf(err, n, "the snapshot has no %s state for the device %s at 0x%" PRIx64, ops->kind,
				 name_of(r), r->base);
			return -1;
		}
		out[(*nout)++] = (struct dev_match){ r, ops, hit };
		used++;
	}
	if (used != nsec) {
		snprintf(err, n, "the snapshot has state for %u devices, the restored machine has %u", nsec, used);
		return -1;
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void load_hart(struct rv_cpu *c, const struct snap_hart *h)
{
	memcpy(c->x, h->x, sizeof(c->x));
	memcpy(c->f, h->f, sizeof(c->f));
	c->priv = (int)h->priv;
	c->fflags = h->fflags;
	c->frm = h->frm;
#define A(field) c->field = h->field;
	HART_U64(A)
#undef A
	memcpy(c->pmpcfg, h->pmpcfg, sizeof(c->pmpcfg));
	memcpy(c->pmpaddr, h->pmpaddr, sizeof(c->pmpaddr));
	c->budget = c->budget_start = c->budget_unused = 0;
	c->executing = 0;
	c->mip_sw = h->mip_sw;
	atomic_store(&c->mip_inject, 0);
	/* Device lines: MSIP is state; MTIP/STIP come back from the timers at the first run, MEIP/SEIP from the
	 * PLIC below. */
	atomic_store(&c->mip_hw, h->msip ? MIP_MSIP : 0);
	c->resv_valid = false;
	c->exit_req = false;
	atomic_store(&c->kick, 1);
	mmu__flush(&c->mmu);
	cpu__update_mmu(c);
	cpu__flush_icache(c); /* decoded blocks are keyed by host address: RAM may be a new mapping */
}

int snap_state__apply(const struct snap_state *s, const struct snap_file *f, struct machine *m, char *err,
		      size_t n)
{
	const struct snap_machine_info *mi = &s->info;
	if (m->bus.ram_size != mi->ram_size || m->bus.ram_base != mi->ram_base || m->nharts != mi->nharts) {
		snprintf(err, n, "the machine (%u vCPU, %" PRIu64 " MiB) does not match the snapshot (%u vCPU, %" PRIu64
				 " MiB)",
			 m->nharts, m->bus.ram_size >> 20, mi->nharts, mi->ram_size >> 20);
		return -1;
	}
	for (unsigned i = 0; i < m->nharts; i++)
		if (m->harts[i]->misa != s->hart[i].misa) {
			snprintf(err, n, "the snapshot's hart %u has ISA %#" PRIx64 ", this wisp implements %#" PRIx64, i,
				 s->hart[i].misa, m->harts[i]->misa);
			return -1;
		}
	if (m->plic.ncontexts != s->plic.ncontexts) {
		snprintf(err, n, "the snapshot's PLIC has %u contexts, this machine's %u", s->plic.ncontexts,
			 m->plic.ncontexts);
		return -1;
	}
	struct dev_match dev[MAX_MMIO];
	unsigned ndev;
	if (match_devices(f, m, dev, &ndev, err, n) < 0)
		return -1;

	/* From here on the machine changes. */
	m->sbi = mi->flags & SNAP_M_SBI;
	for (unsigned i = 0; i < m->nharts; i++) {
		m->harts[i]->plat.ecall = m->sbi ? sbi__ecall : NULL;
		load_hart(m->harts[i], &s->hart[i]);
		m->hctl[i].status = (enum hart_status)s->hart[i].hsm;
		m->hctl[i].start_addr = s->hart[i].start_addr;
		m->hctl[i].start_opaque = s->hart[i].start_opaque;
		m->sbi_timecmp[i] = s->sbi_timecmp[i];
		atomic_store(&m->clint.mtimecmp[i], s->clint.mtimecmp[i]);
	}
	m->clint.offset = s->clint.offset;
	m->tohost = mi->tohost;
	m->fromhost = mi->fromhost;
	m->bus.watch_page = mi->watch_page;
	m->entry = mi->entry;
	m->dtb_addr = mi->dtb_addr;
	m->initrd_start = mi->initrd_start;
	m->initrd_end = mi->initrd_end;
	m->kernel_addr = mi->kernel_addr;

	struct uart *u = &m->uart;
	pthread_mutex_lock(&u->lock);
	memcpy(u->rx, s->uart.rx, s->uart.rx_count);
	u->rx_head = 0;
	u->rx_count = s->uart.rx_count;
	u->ier = s->uart.ier;
	u->lcr = s->uart.lcr;
	u->mcr = s->uart.mcr;
	u->scr = s->uart.scr;
	u->fcr = s->uart.fcr;
	u->dll = s->uart.dll;
	u->dlm = s->uart.dlm;
	u->thre_pending = s->uart.thre_pending;
	u->tx_bytes = s->uart.tx_bytes;
	u->rx_bytes = s->uart.rx_bytes;
	pthread_mutex_unlock(&u->lock);

	struct plic *p = &m->plic;
	pthread_mutex_lock(&p->lock);
	memcpy(p->priority, s->plic.priority, sizeof(p->priority));
	p->level = s->plic.level;
	p->pending = s->plic.pending;
	p->claimed = s->plic.claimed;
	memcpy(p->enable, s->plic.enable, sizeof(p->enable));
	memcpy(p->threshold, s->plic.threshold, sizeof(p->threshold));
	pthread_mutex_unlock(&p->lock);
	plic__sync(p);

	/* Guest time continues from the snapshot's tick count, frozen until the machine is resumed. Unsigned
	 * arithmetic wraps consistently, so a guest older than the host's uptime is fine. */
	uint64_t now = mono_ns();
	if (now == 0)
		now = 1; /* paused_at_ns == 0 means running */
	__atomic_store_n(&m->clock_start_ns, now - s->ticks * (1000000000ull / TIMEBASE_HZ), __ATOMIC_RELEASE);
	__atomic_store_n(&m->paused_at_ns, now, __ATOMIC_RELEASE);

	for (unsigned i = 0; i < ndev; i++) {
		struct snap_reader r;
		snap_r__init(&r, dev[i].sec->data, dev[i].sec->len);
		snap_r__u64(&r);
		char skip[64];
		snap_r__str(&r, skip, sizeof(skip), NULL);
		snap_r__str(&r, skip, sizeof(skip), NULL);
		uint32_t ver = snap_r__u32(&r);
		char why[256] = "";
		if (dev[i].ops->load(dev[i].r->dev, ver, &r, why, sizeof(why)) < 0) {
			snprintf(err, n, "cannot restore %s at 0x%" PRIx64 ": %s", name_of(dev[i].r), dev[i].r->base, why);
			return -1;
		}
	}
	return 0;
}
