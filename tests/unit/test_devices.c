/* PLIC, CLINT, UART and syscon through their MMIO ops, with a real hart as the interrupt target. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_hart.h"
#include "machine/clint.h"
#include "machine/plic.h"
#include "machine/syscon.h"
#include "machine/uart.h"

/* ---- PLIC ---- */

#define PLIC_PRIO(i) (4u * (i))
#define PLIC_PENDING 0x1000u
#define PLIC_ENABLE(ctx) (0x2000u + 0x80u * (ctx))
#define PLIC_THRESHOLD(ctx) (0x200000u + 0x1000u * (ctx))
#define PLIC_CLAIM(ctx) (0x200004u + 0x1000u * (ctx))
#define PCTX_M 0
#define PCTX_S 1

struct plic_fix {
	struct fake_hart *h;
	struct rv_cpu *harts[1];
	struct plic plic;
};

static int plic_setup(void **state)
{
	struct plic_fix *f = calloc(1, sizeof(*f));
	if (!f || !(f->h = fake_hart__new())) {
		free(f);
		return -1;
	}
	f->harts[0] = f->h->cpu;
	plic__init(&f->plic, f->harts, 1);
	*state = f;
	return 0;
}

static int plic_teardown(void **state)
{
	struct plic_fix *f = *state;
	plic__destroy(&f->plic);
	fake_hart__free(f->h);
	free(f);
	return 0;
}

static uint32_t plic_rd(struct plic_fix *f, uint64_t off)
{
	return (uint32_t)plic__ops.read(&f->plic, off, 4);
}

static void plic_wr(struct plic_fix *f, uint64_t off, uint32_t v)
{
	plic__ops.write(&f->plic, off, 4, v);
}

static bool meip(struct plic_fix *f)
{
	return cpu__mip(f->h->cpu) & MIP_MEIP;
}

static bool seip(struct plic_fix *f)
{
	return cpu__mip(f->h->cpu) & MIP_SEIP;
}

static void test_plic_priority_regs(void **state)
{
	struct plic_fix *f = *state;
	plic_wr(f, PLIC_PRIO(1), 5);
	plic_wr(f, PLIC_PRIO(31), 7);
	plic_wr(f, PLIC_PRIO(0), 3); /* source 0 does not exist */
	assert_int_equal(plic_rd(f, PLIC_PRIO(1)), 5);
	assert_int_equal(plic_rd(f, PLIC_PRIO(31)), 7);
	assert_int_equal(plic_rd(f, PLIC_PRIO(0)), 0);
	assert_int_equal(plic_rd(f, PLIC_PRIO(2)), 0);
	plic_wr(f, PLIC_PRIO(1), 0);
	assert_int_equal(plic_rd(f, PLIC_PRIO(1)), 0);
}

static void test_plic_claim_highest_priority(void **state)
{
	struct plic_fix *f = *state;
	plic_wr(f, PLIC_PRIO(3), 2);
	plic_wr(f, PLIC_PRIO(5), 6);
	plic_wr(f, PLIC_PRIO(7), 6);
	plic_wr(f, PLIC_ENABLE(PCTX_M), 1u << 3 | 1u << 5 | 1u << 7);
	assert_false(meip(f));
	plic__set_irq(&f->plic, 3, true);
	plic__set_irq(&f->plic, 7, true);
	plic__set_irq(&f->plic, 5, true);
	assert_int_equal(plic_rd(f, PLIC_PENDING), 1u << 3 | 1u << 5 | 1u << 7);
	assert_true(meip(f));

	/* Highest priority first; equal priorities go to the lower ID. */
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 5);
	assert_int_equal(plic_rd(f, PLIC_PENDING), 1u << 3 | 1u << 7);
	assert_true(meip(f));
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 7);
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 3);
	assert_int_equal(plic_rd(f, PLIC_PENDING), 0);
	assert_false(meip(f));
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 0);

	/* Lines dropped before completion: nothing comes back. */
	plic__set_irq(&f->plic, 3, false);
	plic__set_irq(&f->plic, 5, false);
	plic__set_irq(&f->plic, 7, false);
	plic_wr(f, PLIC_CLAIM(PCTX_M), 5);
	plic_wr(f, PLIC_CLAIM(PCTX_M), 7);
	plic_wr(f, PLIC_CLAIM(PCTX_M), 3);
	assert_int_equal(plic_rd(f, PLIC_PENDING), 0);
	assert_false(meip(f));
}

static void test_plic_enables_per_context(void **state)
{
	struct plic_fix *f = *state;
	plic_wr(f, PLIC_PRIO(4), 1);
	plic_wr(f, PLIC_ENABLE(PCTX_S), 1u << 4);
	assert_int_equal(plic_rd(f, PLIC_ENABLE(PCTX_S)), 1u << 4);
	assert_int_equal(plic_rd(f, PLIC_ENABLE(PCTX_M)), 0);
	plic__set_irq(&f->plic, 4, true);
	assert_true(seip(f));
	assert_false(meip(f));
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 0);
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_S)), 4);
	assert_false(seip(f));

	/* Source 0 cannot be enabled. */
	plic_wr(f, PLIC_ENABLE(PCTX_M), ~0u);
	assert_int_equal(plic_rd(f, PLIC_ENABLE(PCTX_M)), ~1u);
}

static void test_plic_enable_after_pending(void **state)
{
	struct plic_fix *f = *state;
	plic_wr(f, PLIC_PRIO(9), 1);
	plic__set_irq(&f->plic, 9, true);
	assert_int_equal(plic_rd(f, PLIC_PENDING), 1u << 9);
	assert_false(meip(f));
	plic_wr(f, PLIC_ENABLE(PCTX_M), 1u << 9);
	assert_true(meip(f));
	plic_wr(f, PLIC_ENABLE(PCTX_M), 0);
	assert_false(meip(f));
}

static void test_plic_threshold(void **state)
{
	struct plic_fix *f = *state;
	plic_wr(f, PLIC_PRIO(2), 3);
	plic_wr(f, PLIC_ENABLE(PCTX_M), 1u << 2);
	plic_wr(f, PLIC_THRESHOLD(PCTX_M), 3);
	assert_int_equal(plic_rd(f, PLIC_THRESHOLD(PCTX_M)), 3);
	plic__set_irq(&f->plic, 2, true);
	assert_false(meip(f)); /* priority must exceed the threshold */
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 0);
	assert_int_equal(plic_rd(f, PLIC_PENDING), 1u << 2);
	plic_wr(f, PLIC_THRESHOLD(PCTX_M), 2);
	assert_true(meip(f));
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 2);

	/* Priority 0 never interrupts, even with threshold 0. */
	plic_wr(f, PLIC_THRESHOLD(PCTX_M), 0);
	plic_wr(f, PLIC_PRIO(6), 0);
	plic_wr(f, PLIC_ENABLE(PCTX_M), 1u << 6);
	plic__set_irq(&f->plic, 6, true);
	assert_false(meip(f));
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 0);
}

static void test_plic_complete_repends_level(void **state)
{
	struct plic_fix *f = *state;
	plic_wr(f, PLIC_PRIO(1), 1);
	plic_wr(f, PLIC_ENABLE(PCTX_M), 1u << 1);
	plic__set_irq(&f->plic, 1, true);
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 1);
	assert_false(meip(f));
	assert_int_equal(plic_rd(f, PLIC_PENDING), 0);

	/* Still claimed: a new edge on the line is held back. */
	plic__set_irq(&f->plic, 1, true);
	assert_false(meip(f));
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 0);

	/* Complete with the line still high: pending again. */
	plic_wr(f, PLIC_CLAIM(PCTX_M), 1);
	assert_int_equal(plic_rd(f, PLIC_PENDING), 1u << 1);
	assert_true(meip(f));
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 1);

	/* Device quiesced before completion: done. */
	plic__set_irq(&f->plic, 1, false);
	plic_wr(f, PLIC_CLAIM(PCTX_M), 1);
	assert_int_equal(plic_rd(f, PLIC_PENDING), 0);
	assert_false(meip(f));
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 0);
}

static void test_plic_complete_unclaimed_ignored(void **state)
{
	struct plic_fix *f = *state;
	plic_wr(f, PLIC_PRIO(8), 1);
	plic_wr(f, PLIC_ENABLE(PCTX_M), 1u << 8);
	plic__set_irq(&f->plic, 8, true);
	plic_wr(f, PLIC_CLAIM(PCTX_M), 8); /* never claimed */
	plic_wr(f, PLIC_CLAIM(PCTX_M), 0);
	plic_wr(f, PLIC_CLAIM(PCTX_M), 99);
	assert_int_equal(plic_rd(f, PLIC_PENDING), 1u << 8);
	assert_true(meip(f));
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_M)), 8);
}

static void test_plic_mip_reaches_hart(void **state)
{
	struct plic_fix *f = *state;
	struct rv_cpu *cpu = f->h->cpu;
	plic_wr(f, PLIC_PRIO(10), 1);
	plic_wr(f, PLIC_ENABLE(PCTX_M), 1u << 10);
	plic_wr(f, PLIC_ENABLE(PCTX_S), 1u << 10);
	cpu->kick = 0;
	plic__set_irq(&f->plic, 10, true);
	assert_int_equal(cpu__mip(cpu) & (MIP_MEIP | MIP_SEIP), MIP_MEIP | MIP_SEIP);
	assert_true(cpu->kick); /* the hart is told to look */

	/* And the hart takes it: M external interrupt. */
	cpu->mtvec = FAKE_RAM_BASE + 0x8000;
	cpu->mie = MIP_MEIP;
	cpu->mstatus |= MSTATUS_MIE;
	assert_true(cpu__take_interrupt(cpu));
	assert_int_equal(cpu->mcause, (1ull << 63) | IRQ_MEI);

	/* Claiming in the S context drops SEIP only. */
	assert_int_equal(plic_rd(f, PLIC_CLAIM(PCTX_S)), 10);
	assert_int_equal(cpu__mip(cpu) & (MIP_MEIP | MIP_SEIP), 0);
}

/* ---- CLINT ---- */

#define CLINT_MSIP 0x0000u
#define CLINT_MTIMECMP 0x4000u
#define CLINT_MTIME 0xbff8u

struct clint_fix {
	struct fake_hart *h;
	struct rv_cpu *harts[1];
	struct clint clint;
	uint64_t now;
};

static uint64_t fake_clock(void *opaque)
{
	return *(uint64_t *)opaque;
}

static int clint_setup(void **state)
{
	struct clint_fix *f = calloc(1, sizeof(*f));
	if (!f || !(f->h = fake_hart__new())) {
		free(f);
		return -1;
	}
	f->harts[0] = f->h->cpu;
	f->now = 1000;
	clint__init(&f->clint, f->harts, 1, fake_clock, &f->now);
	*state = f;
	return 0;
}

static int clint_teardown(void **state)
{
	struct clint_fix *f = *state;
	fake_hart__free(f->h);
	free(f);
	return 0;
}

static bool mtip(struct clint_fix *f)
{
	return cpu__mip(f->h->cpu) & MIP_MTIP;
}

static void test_clint_msip(void **state)
{
	struct clint_fix *f = *state;
	assert_int_equal(clint__ops.read(&f->clint, CLINT_MSIP, 4), 0);
	clint__ops.write(&f->clint, CLINT_MSIP, 4, 1);
	assert_true(cpu__mip(f->h->cpu) & MIP_MSIP);
	assert_int_equal(clint__ops.read(&f->clint, CLINT_MSIP, 4), 1);
	clint__ops.write(&f->clint, CLINT_MSIP, 4, 0);
	assert_false(cpu__mip(f->h->cpu) & MIP_MSIP);
	assert_int_equal(clint__ops.read(&f->clint, CLINT_MSIP, 4), 0);
}

static void test_clint_timer_fires(void **state)
{
	struct clint_fix *f = *state;
	struct clint *c = &f->clint;
	assert_int_equal(clint__ops.read(c, CLINT_MTIMECMP, 8), ~0ull); /* reset: never */
	assert_int_equal(clint__update(c, clint__mtime(c)), ~0ull);
	assert_false(mtip(f));

	clint__ops.write(c, CLINT_MTIMECMP, 8, 2000);
	assert_false(mtip(f));
	f->now = 1999;
	assert_int_equal(clint__update(c, clint__mtime(c)), 2000); /* next deadline */
	assert_false(mtip(f));
	f->now = 2000;
	clint__update(c, clint__mtime(c));
	assert_true(mtip(f));
	f->now = 2500;
	clint__update(c, clint__mtime(c));
	assert_true(mtip(f));

	/* Moving the deadline forward drops MTIP at once; into the past raises it at once. */
	clint__ops.write(c, CLINT_MTIMECMP, 8, 5000);
	assert_false(mtip(f));
	clint__ops.write(c, CLINT_MTIMECMP, 8, 100);
	assert_true(mtip(f));
}

static void test_clint_mtimecmp_halves(void **state)
{
	struct clint_fix *f = *state;
	struct clint *c = &f->clint;
	/* Low half first while the high half is still all ones: no spurious interrupt. */
	clint__ops.write(c, CLINT_MTIMECMP, 4, 0);
	assert_int_equal(clint__ops.read(c, CLINT_MTIMECMP, 8), 0xffffffff00000000ull);
	assert_false(mtip(f));
	clint__ops.write(c, CLINT_MTIMECMP + 4, 4, 0);
	assert_int_equal(clint__ops.read(c, CLINT_MTIMECMP, 8), 0);
	assert_true(mtip(f));

	clint__ops.write(c, CLINT_MTIMECMP + 4, 4, 0x01234567);
	clint__ops.write(c, CLINT_MTIMECMP, 4, 0x89abcdef);
	assert_false(mtip(f));
	assert_int_equal(clint__ops.read(c, CLINT_MTIMECMP, 8), 0x0123456789abcdefull);
	assert_int_equal(clint__ops.read(c, CLINT_MTIMECMP, 4), 0x89abcdef);
	assert_int_equal(clint__ops.read(c, CLINT_MTIMECMP + 4, 4), 0x01234567);
}

static void test_clint_mtime(void **state)
{
	struct clint_fix *f = *state;
	struct clint *c = &f->clint;
	assert_int_equal(clint__ops.read(c, CLINT_MTIME, 8), 1000);
	f->now = 1234;
	assert_int_equal(clint__ops.read(c, CLINT_MTIME, 8), 1234);
	clint__ops.write(c, CLINT_MTIME, 8, 0x100000000ull);
	assert_int_equal(clint__ops.read(c, CLINT_MTIME, 8), 0x100000000ull);
	f->now += 5;
	assert_int_equal(clint__mtime(c), 0x100000005ull);
	assert_int_equal(clint__ops.read(c, CLINT_MTIME + 4, 4), 1);
	assert_int_equal(clint__ops.read(c, CLINT_MTIME, 4), 5);
	/* mtimecmp compares against mtime, not the raw clock. */
	clint__ops.write(c, CLINT_MTIMECMP, 8, 0x100000010ull);
	assert_false(mtip(f));
	f->now += 11;
	clint__update(c, clint__mtime(c));
	assert_true(mtip(f));
}

/* ---- UART ---- */

#define UART_RBR 0
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

struct uart_fix {
	struct uart uart;
	char tx[64];
	unsigned ntx;
	bool irq_level;
	unsigned irq_num, irq_calls;
};

static void fake_tx(void *opaque, uint8_t c)
{
	struct uart_fix *f = opaque;
	if (f->ntx < sizeof(f->tx) - 1)
		f->tx[f->ntx++] = (char)c;
}

static void fake_irq_set(void *ctl, unsigned irq, bool level)
{
	struct uart_fix *f = ctl;
	f->irq_level = level;
	f->irq_num = irq;
	f->irq_calls++;
}

static int uart_setup(void **state)
{
	struct uart_fix *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	uart__init(&f->uart, (struct irq_line){ fake_irq_set, f, UART_IRQ }, fake_tx, f);
	*state = f;
	return 0;
}

static int uart_teardown(void **state)
{
	struct uart_fix *f = *state;
	uart__destroy(&f->uart);
	free(f);
	return 0;
}

static uint8_t uart_rd(struct uart_fix *f, unsigned reg)
{
	return (uint8_t)uart__ops.read(&f->uart, reg, 1);
}

static void uart_wr(struct uart_fix *f, unsigned reg, uint8_t v)
{
	uart__ops.write(&f->uart, reg, 1, v);
}

static void test_uart_tx(void **state)
{
	struct uart_fix *f = *state;
	assert_int_equal(uart_rd(f, UART_LSR) & 0x60, 0x60); /* THRE and TEMT */
	uart_wr(f, UART_THR, 'h');
	uart_wr(f, UART_THR, 'i');
	assert_int_equal(f->ntx, 2);
	assert_memory_equal(f->tx, "hi", 2);
	assert_int_equal(uart_rd(f, UART_LSR) & 0x60, 0x60);
	assert_false(f->irq_level); /* no interrupts enabled */
}

static void test_uart_rx_in_order(void **state)
{
	struct uart_fix *f = *state;
	assert_int_equal(uart_rd(f, UART_LSR) & 1, 0);
	assert_int_equal(uart__receive(&f->uart, (const uint8_t *)"abc", 3), 3);
	assert_int_equal(uart_rd(f, UART_LSR) & 1, 1);
	assert_int_equal(uart_rd(f, UART_RBR), 'a');
	assert_int_equal(uart_rd(f, UART_RBR), 'b');
	assert_int_equal(uart__receive(&f->uart, (const uint8_t *)"d", 1), 1);
	assert_int_equal(uart_rd(f, UART_RBR), 'c');
	assert_int_equal(uart_rd(f, UART_LSR) & 1, 1);
	assert_int_equal(uart_rd(f, UART_RBR), 'd');
	assert_int_equal(uart_rd(f, UART_LSR) & 1, 0);
	assert_int_equal(f->ntx, 0);
}

static void test_uart_rda_irq(void **state)
{
	struct uart_fix *f = *state;
	uart__receive(&f->uart, (const uint8_t *)"x", 1);
	assert_false(f->irq_level); /* IER clear */
	assert_int_equal(uart_rd(f, UART_IIR) & 0x0f, 0x01);
	uart_wr(f, UART_IER, 0x01);
	assert_true(f->irq_level);
	assert_int_equal(f->irq_num, UART_IRQ);
	assert_int_equal(uart_rd(f, UART_IIR) & 0x0f, 0x04);
	assert_int_equal(uart_rd(f, UART_RBR), 'x');
	assert_false(f->irq_level);
	assert_int_equal(uart_rd(f, UART_IIR) & 0x0f, 0x01);
	/* New data with the interrupt enabled raises the line right away. */
	uart__receive(&f->uart, (const uint8_t *)"y", 1);
	assert_true(f->irq_level);
}

static void test_uart_iir_rda_then_thre(void **state)
{
	struct uart_fix *f = *state;
	uart_wr(f, UART_FCR, 0x01); /* FIFOs on: IIR bits 7:6 set */
	uart_wr(f, UART_IER, 0x03);
	assert_int_equal(uart_rd(f, UART_IER), 0x03);
	assert_true(f->irq_level);
	uart__receive(&f->uart, (const uint8_t *)"q", 1);
	/* Received data outranks THR empty. */
	assert_int_equal(uart_rd(f, UART_IIR), 0xc4);
	assert_int_equal(uart_rd(f, UART_RBR), 'q');
	assert_true(f->irq_level);
	/* Reading IIR while it reports THRE clears it. */
	assert_int_equal(uart_rd(f, UART_IIR), 0xc2);
	assert_int_equal(uart_rd(f, UART_IIR), 0xc1);
	assert_false(f->irq_level);
	/* Transmitting empties THR again. */
	uart_wr(f, UART_THR, '!');
	assert_true(f->irq_level);
	assert_int_equal(uart_rd(f, UART_IIR) & 0x0f, 0x02);
	assert_false(f->irq_level);
}

static void test_uart_dlab(void **state)
{
	struct uart_fix *f = *state;
	uart_wr(f, UART_IER, 0x01);
	uart_wr(f, UART_LCR, 0x83);
	assert_int_equal(uart_rd(f, UART_LCR), 0x83);
	uart_wr(f, UART_DLL, 0x12);
	uart_wr(f, UART_DLM, 0x34);
	assert_int_equal(f->ntx, 0); /* divisor writes are not data */
	assert_int_equal(uart_rd(f, UART_DLL), 0x12);
	assert_int_equal(uart_rd(f, UART_DLM), 0x34);
	uart_wr(f, UART_LCR, 0x03);
	assert_int_equal(uart_rd(f, UART_IER), 0x01);
	uart_wr(f, UART_THR, 'k');
	assert_int_equal(f->ntx, 1);
	uart_wr(f, UART_LCR, 0x83);
	assert_int_equal(uart_rd(f, UART_DLL), 0x12);
	assert_int_equal(uart_rd(f, UART_DLM), 0x34);
	/* RBR is not consumed while DLAB is set. */
	uart__receive(&f->uart, (const uint8_t *)"z", 1);
	assert_int_equal(uart_rd(f, UART_DLL), 0x12);
	uart_wr(f, UART_LCR, 0x03);
	assert_int_equal(uart_rd(f, UART_RBR), 'z');
}

static void test_uart_loopback(void **state)
{
	struct uart_fix *f = *state;
	uart_wr(f, UART_MCR, 0x10);
	assert_int_equal(uart_rd(f, UART_MCR), 0x10);
	uart_wr(f, UART_THR, 'Z');
	assert_int_equal(f->ntx, 0);
	assert_int_equal(uart_rd(f, UART_LSR) & 1, 1);
	assert_int_equal(uart_rd(f, UART_RBR), 'Z');
	assert_int_equal(uart_rd(f, UART_LSR) & 1, 0);
	uart_wr(f, UART_MCR, 0x00);
	uart_wr(f, UART_THR, 'Y');
	assert_int_equal(f->ntx, 1);
	assert_int_equal(uart_rd(f, UART_LSR) & 1, 0);
}

/*
 * 16550 loopback wires RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. Linux's 8250 autoconfig writes
 * MCR = LOOP | RTS | OUT2 (0x1a) and expects MSR & 0xf0 == 0x90 (CTS | DCD).
 */
static void test_uart_loopback_msr(void **state)
{
	struct uart_fix *f = *state;
	uart_wr(f, UART_MCR, 0x1a);
	assert_int_equal(uart_rd(f, UART_MSR) & 0xf0, 0x90);
	uart_wr(f, UART_MCR, 0x11); /* DTR -> DSR */
	assert_int_equal(uart_rd(f, UART_MSR) & 0xf0, 0x20);
	uart_wr(f, UART_MCR, 0x12); /* RTS -> CTS */
	assert_int_equal(uart_rd(f, UART_MSR) & 0xf0, 0x10);
	uart_wr(f, UART_MCR, 0x14); /* OUT1 -> RI */
	assert_int_equal(uart_rd(f, UART_MSR) & 0xf0, 0x40);
	uart_wr(f, UART_MCR, 0x1f);
	assert_int_equal(uart_rd(f, UART_MSR) & 0xf0, 0xf0);
}

static void test_uart_fifo_full(void **state)
{
	struct uart_fix *f = *state;
	uint8_t buf[UART_FIFO + 50];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(uart__rx_space(&f->uart), UART_FIFO);
	assert_int_equal(uart__receive(&f->uart, buf, sizeof(buf)), UART_FIFO);
	assert_int_equal(uart__rx_space(&f->uart), 0);
	assert_int_equal(uart__receive(&f->uart, buf, 4), 0);
	assert_int_equal(uart_rd(f, UART_RBR), 0);
	assert_int_equal(uart__rx_space(&f->uart), 1);
	assert_int_equal(uart__receive(&f->uart, (const uint8_t *)"\xee\xff", 2), 1);
	for (unsigned i = 1; i < UART_FIFO; i++)
		assert_int_equal(uart_rd(f, UART_RBR), (uint8_t)i);
	assert_int_equal(uart_rd(f, UART_RBR), 0xee);
	assert_int_equal(uart_rd(f, UART_LSR) & 1, 0);
}

static void test_uart_fcr_scr(void **state)
{
	struct uart_fix *f = *state;
	uart_wr(f, UART_SCR, 0x5a);
	assert_int_equal(uart_rd(f, UART_SCR), 0x5a);
	uart__receive(&f->uart, (const uint8_t *)"abc", 3);
	uart_wr(f, UART_FCR, 0x03); /* enable + clear RX FIFO */
	assert_int_equal(uart_rd(f, UART_LSR) & 1, 0);
	assert_int_equal(uart_rd(f, UART_IIR) & 0xc0, 0xc0);
	uart_wr(f, UART_FCR, 0x00);
	assert_int_equal(uart_rd(f, UART_IIR) & 0xc0, 0);
}

/* ---- syscon ---- */

struct syscon_rec {
	unsigned calls;
	enum syscon_event ev;
	unsigned code;
};

static void fake_event(void *opaque, enum syscon_event ev, unsigned code)
{
	struct syscon_rec *r = opaque;
	r->calls++;
	r->ev = ev;
	r->code = code;
}

static void test_syscon(void **state)
{
	(void)state;
	struct syscon_rec r = { 0 };
	struct syscon s = { fake_event, &r };

	syscon__ops.write(&s, 0, 4, 0x5555);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.ev, SYSCON_EV_POWEROFF);

	syscon__ops.write(&s, 0, 4, 0x7777);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.ev, SYSCON_EV_REBOOT);

	syscon__ops.write(&s, 0, 4, 0x3333 | (42u << 16));
	assert_int_equal(r.calls, 3);
	assert_int_equal(r.ev, SYSCON_EV_FAIL);
	assert_int_equal(r.code, 42);

	syscon__ops.write(&s, 0, 4, 0x3333 | (0xffffu << 16));
	assert_int_equal(r.calls, 4);
	assert_int_equal(r.code, 0xffff);

	/* Anything else is ignored. */
	syscon__ops.write(&s, 0, 4, 0x1234);
	syscon__ops.write(&s, 0, 4, 0);
	syscon__ops.write(&s, 8, 4, 0x5555);
	assert_int_equal(r.calls, 4);
	assert_int_equal(syscon__ops.read(&s, 0, 4), 0);
}

#define PLIC_T(f) cmocka_unit_test_setup_teardown(f, plic_setup, plic_teardown)
#define CLINT_T(f) cmocka_unit_test_setup_teardown(f, clint_setup, clint_teardown)
#define UART_T(f) cmocka_unit_test_setup_teardown(f, uart_setup, uart_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		PLIC_T(test_plic_priority_regs),
		PLIC_T(test_plic_claim_highest_priority),
		PLIC_T(test_plic_enables_per_context),
		PLIC_T(test_plic_enable_after_pending),
		PLIC_T(test_plic_threshold),
		PLIC_T(test_plic_complete_repends_level),
		PLIC_T(test_plic_complete_unclaimed_ignored),
		PLIC_T(test_plic_mip_reaches_hart),
		CLINT_T(test_clint_msip),
		CLINT_T(test_clint_timer_fires),
		CLINT_T(test_clint_mtimecmp_halves),
		CLINT_T(test_clint_mtime),
		UART_T(test_uart_tx),
		UART_T(test_uart_rx_in_order),
		UART_T(test_uart_rda_irq),
		UART_T(test_uart_iir_rda_then_thre),
		UART_T(test_uart_dlab),
		UART_T(test_uart_loopback),
		UART_T(test_uart_loopback_msr),
		UART_T(test_uart_fifo_full),
		UART_T(test_uart_fcr_scr),
		cmocka_unit_test(test_syscon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
