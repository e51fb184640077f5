/* CLINT: software interrupts and the machine timer. */
#include "machine/clint.h"

#include <stdatomic.h>

#include "cpu/cpu.h"

#define MSIP_OFF 0x0000
#define MTIMECMP_OFF 0x4000
#define MTIME_OFF 0xbff8

void clint__init(struct clint *c, struct rv_cpu **harts, unsigned nharts, uint64_t (*clock)(void *), void *opaque)
{
	c->harts = harts;
	c->nharts = nharts > CLINT_MAX_HARTS ? CLINT_MAX_HARTS : nharts;
	for (unsigned i = 0; i < CLINT_MAX_HARTS; i++)
		c->mtimecmp[i] = ~0ull;
	c->offset = 0;
	c->clock = clock;
	c->clock_opaque = opaque;
}

uint64_t clint__mtime(const struct clint *c)
{
	return c->clock(c->clock_opaque) + (uint64_t)c->offset;
}

uint64_t clint__update_hart(struct clint *c, unsigned h, uint64_t now)
{
	if (h >= c->nharts)
		return ~0ull;
	uint64_t cmp = c->mtimecmp[h];
	bool fire = now >= cmp;
	if (fire != !!(cpu__mip(c->harts[h]) & MIP_MTIP))
		cpu__set_mip(c->harts[h], MIP_MTIP, fire);
	return fire ? ~0ull : cmp;
}

uint64_t clint__update(struct clint *c, uint64_t now)
{
	uint64_t next = ~0ull;
	for (unsigned i = 0; i < c->nharts; i++) {
		uint64_t t = clint__update_hart(c, i, now);
		if (t < next)
			next = t;
	}
	return next;
}

/* Registers are 32 bits (msip) or 64 bits (mtimecmp, mtime), accessible as 32-bit halves. */
static uint64_t clint_read(void *dev, uint64_t off, unsigned size)
{
	struct clint *c = dev;
	uint64_t val = 0, base = off & ~7ull;
	if (off < MSIP_OFF + 4 * c->nharts) {
		unsigned h = (unsigned)(off / 4);
		return (cpu__mip(c->harts[h]) & MIP_MSIP) ? 1 : 0;
	}
	if (base >= MTIMECMP_OFF && base < MTIMECMP_OFF + 8 * c->nharts)
		val = c->mtimecmp[(base - MTIMECMP_OFF) / 8];
	else if (base == MTIME_OFF)
		val = clint__mtime(c);
	else
		return 0;
	val >>= 8 * (off & 7);
	return size == 8 ? val : val & ((1ull << (8 * size)) - 1);
}

static uint64_t merge(uint64_t old, uint64_t off, unsigned size, uint64_t val)
{
	if (size == 8)
		return val;
	unsigned sh = 8 * (unsigned)(off & 7);
	uint64_t mask = ((1ull << (8 * size)) - 1) << sh;
	return (old & ~mask) | ((val << sh) & mask);
}

static void clint_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct clint *c = dev;
	uint64_t base = off & ~7ull;
	if (off < MSIP_OFF + 4 * c->nharts) {
		if ((off & 3) == 0)
			cpu__set_mip(c->harts[off / 4], MIP_MSIP, val & 1);
		return;
	}
	if (base >= MTIMECMP_OFF && base < MTIMECMP_OFF + 8 * c->nharts) {
		unsigned h = (unsigned)((base - MTIMECMP_OFF) / 8);
		c->mtimecmp[h] = merge(c->mtimecmp[h], off, size, val);
		clint__update_hart(c, h, clint__mtime(c));
		cpu__wake(c->harts[h]); /* it may sleep until the old deadline */
	} else if (base == MTIME_OFF) {
		uint64_t now = clint__mtime(c);
		/* Modulo 2^64: any mtime the guest writes is fine, the sum must not be signed overflow. */
		c->offset = (int64_t)((uint64_t)c->offset + (merge(now, off, size, val) - now));
		clint__update(c, clint__mtime(c));
		for (unsigned i = 0; i < c->nharts; i++)
			cpu__wake(c->harts[i]); /* every deadline moved */
	}
}

const struct mmio_ops clint__ops = { clint_read, clint_write };
