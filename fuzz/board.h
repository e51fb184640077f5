/*
 * A real board for the fuzz targets that need one (devices, snapshot): machine__init on a minimal Linux
 * Image header written to a temporary file, so the SBI inside the VMM is active, 16 MiB of RAM and one hart.
 * Created once per process; board__reset() puts the devices, the hart and the halt state back between inputs.
 */
#ifndef WISP_FUZZ_BOARD_H
#define WISP_FUZZ_BOARD_H

#include <stdatomic.h>
#include <unistd.h>

#include "fuzz.h"

#include "machine/machine.h"

struct board {
	struct machine *m;
	/* What machine__init wired up, to wire it again on reset. */
	uint64_t (*clint_clock)(void *);
	void *clint_clock_opaque;
	struct irq_line uart_irq;
	void (*uart_tx)(void *, uint8_t);
	void *uart_tx_opaque;
	uint64_t console_bytes;
};

static inline void board__console(void *opaque, uint8_t c)
{
	((struct board *)opaque)->console_bytes += c | 1;
}

static inline void board__create(struct board *b)
{
	/* The smallest Linux Image the loader accepts: a 64-byte header with the "RISCV" magic. */
	uint8_t img[64] = { 0 };
	memcpy(img + 48, "RISCV\0\0\0", 8);
	char path[] = "/tmp/wisp-fuzz-image-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, img, sizeof(img)) != (ssize_t)sizeof(img))
		abort();
	close(fd);
	b->m = calloc(1, sizeof(*b->m));
	char err[512];
	struct machine_config cfg = { .mem_mib = MIN_MEM_MIB, .cpus = 1, .kernel = path, .cmdline = "console=ttyS0",
				      .boot_timer = true };
	if (!b->m || machine__init(b->m, &cfg, board__console, b, err, sizeof(err)) < 0)
		abort();
	unlink(path);
	b->m->cfg.kernel = NULL;
	b->clint_clock = b->m->clint.clock;
	b->clint_clock_opaque = b->m->clint.clock_opaque;
	b->uart_irq = b->m->uart.irq;
	b->uart_tx = b->m->uart.tx;
	b->uart_tx_opaque = b->m->uart.tx_opaque;
}

/* The state loader__load leaves behind for a kernel under the VMM's SBI, devices fresh, not halted. */
static inline void board__reset(struct board *b)
{
	struct machine *m = b->m;
	struct rv_cpu *cpu = m->harts[0];
	cpu__reset(cpu, m->entry);
	cpu->x[11] = m->dtb_addr;
	cpu->priv = PRV_S;
	cpu->medeleg = 0xb1ff;
	cpu->mideleg = MIP_SSIP | MIP_STIP | MIP_SEIP;
	cpu->mcounteren = 0xffffffff;
	cpu->plat.ecall = sbi__ecall;
	atomic_store(&cpu->mip_hw, 0);
	atomic_store(&cpu->mip_inject, 0);
	cpu__update_mmu(cpu);
	m->sbi = true;
	clint__init(&m->clint, m->harts, m->nharts, b->clint_clock, b->clint_clock_opaque);
	plic__destroy(&m->plic);
	plic__init(&m->plic, m->harts, m->nharts);
	uart__destroy(&m->uart);
	uart__init(&m->uart, b->uart_irq, b->uart_tx, b->uart_tx_opaque);
	for (unsigned i = 0; i < CLINT_MAX_HARTS; i++)
		m->sbi_timecmp[i] = ~0ull;
	atomic_store(&m->halted, false);
	machine__resume(m); /* a restored snapshot leaves guest time frozen */
	m->exit_code = 0;
	m->exit_why = NULL;
	m->tohost = m->fromhost = 0;
	m->bus.watch_page = ~0ull;
}

/* Device state that must hold whatever the guest (or a snapshot) did. */
static inline void board__check(const struct board *b)
{
	const struct machine *m = b->m;
	const struct plic *p = &m->plic;
	uint32_t valid = (uint32_t)(((1ull << (PLIC_NDEV + 1)) - 1) & ~1ull);
	FUZZ_CHECK((p->pending & ~valid) == 0 && (p->claimed & ~valid) == 0 && (p->level & ~valid) == 0);
	for (unsigned i = 0; i < PLIC_MAX_CONTEXTS; i++)
		FUZZ_CHECK(p->threshold[i] <= 7 && (p->enable[i] & ~valid) == 0);
	for (unsigned i = 0; i <= PLIC_NDEV; i++)
		FUZZ_CHECK(p->priority[i] <= 7);
	FUZZ_CHECK(m->uart.rx_count <= UART_FIFO && m->uart.rx_head < UART_FIFO);
	const struct rv_cpu *cpu = m->harts[0];
	FUZZ_CHECK(cpu->x[0] == 0);
	FUZZ_CHECK(cpu->priv == PRV_U || cpu->priv == PRV_S || cpu->priv == PRV_M);
}

#endif
