/* PLIC: level-triggered gateways, priorities, per-context enables, thresholds and claim/complete. */
#include "machine/plic.h"

#include <stdatomic.h>
#include <string.h>

#include "cpu/cpu.h"

#define PRIORITY_OFF 0x0
#define PENDING_OFF 0x1000
#define ENABLE_OFF 0x2000
#define ENABLE_STRIDE 0x80
#define CONTEXT_OFF 0x200000
#define CONTEXT_STRIDE 0x1000
#define VALID_MASK (((1ull << (PLIC_NDEV + 1)) - 1) & ~1ull)

void plic__init(struct plic *p, struct rv_cpu **harts, unsigned nharts)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->harts = harts;
	p->ncontexts = 2 * nharts > PLIC_MAX_CONTEXTS ? PLIC_MAX_CONTEXTS : 2 * nharts;
}

void plic__destroy(struct plic *p)
{
	pthread_mutex_destroy(&p->lock);
}

/* Highest-priority pending+enabled source above the context's threshold (0 = none). */
static unsigned best(const struct plic *p, unsigned ctx)
{
	uint32_t cand = p->pending & p->enable[ctx] & ~p->claimed;
	unsigned id = 0;
	uint32_t prio = p->threshold[ctx];
	for (unsigned i = 1; i <= PLIC_NDEV; i++)
		if ((cand >> i) & 1 && p->priority[i] > prio) {
			prio = p->priority[i];
			id = i;
		}
	return id;
}

static void update(struct plic *p)
{
	for (unsigned ctx = 0; ctx < p->ncontexts; ctx++) {
		struct rv_cpu *hart = p->harts[ctx / 2];
		uint64_t bit = (ctx & 1) ? MIP_SEIP : MIP_MEIP;
		bool on = best(p, ctx) != 0;
		if (on != !!(atomic_load(&hart->mip_hw) & bit))
			cpu__set_mip(hart, bit, on);
	}
}

void plic__set_irq(void *opaque, unsigned irq, bool level)
{
	struct plic *p = opaque;
	if (irq == 0 || irq > PLIC_NDEV)
		return;
	pthread_mutex_lock(&p->lock);
	uint32_t bit = 1u << irq;
	p->level = level ? p->level | bit : p->level & ~bit;
	if (level && !(p->claimed & bit))
		p->pending |= bit;
	update(p);
	pthread_mutex_unlock(&p->lock);
}

void plic__sync(struct plic *p)
{
	pthread_mutex_lock(&p->lock);
	update(p);
	pthread_mutex_unlock(&p->lock);
}

static uint64_t plic_read(void *dev, uint64_t off, unsigned size)
{
	struct plic *p = dev;
	uint32_t val = 0;
	if (size != 4)
		return 0;
	pthread_mutex_lock(&p->lock);
	if (off < PENDING_OFF) {
		unsigned i = (unsigned)(off / 4);
		val = i <= PLIC_NDEV ? p->priority[i] : 0;
	} else if (off == PENDING_OFF) {
		val = p->pending;
	} else if (off >= ENABLE_OFF && off < ENABLE_OFF + ENABLE_STRIDE * p->ncontexts) {
		unsigned ctx = (unsigned)((off - ENABLE_OFF) / ENABLE_STRIDE);
		val = (off - ENABLE_OFF) % ENABLE_STRIDE == 0 ? p->enable[ctx] : 0;
	} else if (off >= CONTEXT_OFF && off < CONTEXT_OFF + CONTEXT_STRIDE * p->ncontexts) {
		unsigned ctx = (unsigned)((off - CONTEXT_OFF) / CONTEXT_STRIDE);
		unsigned reg = (unsigned)((off - CONTEXT_OFF) % CONTEXT_STRIDE);
		if (reg == 0) {
			val = p->threshold[ctx];
		} else if (reg == 4) { /* claim */
			unsigned id = best(p, ctx);
			if (id) {
				p->pending &= ~(1u << id);
				p->claimed |= 1u << id;
			}
			val = id;
			update(p);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return val;
}

static void plic_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct plic *p = dev;
	if (size != 4)
		return;
	pthread_mutex_lock(&p->lock);
	if (off < PENDING_OFF) {
		unsigned i = (unsigned)(off / 4);
		if (i >= 1 && i <= PLIC_NDEV)
			p->priority[i] = (uint32_t)val & 7;
	} else if (off >= ENABLE_OFF && off < ENABLE_OFF + ENABLE_STRIDE * p->ncontexts) {
		unsigned ctx = (unsigned)((off - ENABLE_OFF) / ENABLE_STRIDE);
		if ((off - ENABLE_OFF) % ENABLE_STRIDE == 0)
			p->enable[ctx] = (uint32_t)val & (uint32_t)VALID_MASK;
	} else if (off >= CONTEXT_OFF && off < CONTEXT_OFF + CONTEXT_STRIDE * p->ncontexts) {
		unsigned ctx = (unsigned)((off - CONTEXT_OFF) / CONTEXT_STRIDE);
		unsigned reg = (unsigned)((off - CONTEXT_OFF) % CONTEXT_STRIDE);
		if (reg == 0) {
			p->threshold[ctx] = (uint32_t)val & 7;
		} else if (reg == 4 && val >= 1 && val <= PLIC_NDEV) { /* complete */
			uint32_t bit = 1u << val;
			if (p->claimed & bit) {
				p->claimed &= ~bit;
				if (p->level & bit)
					p->pending |= bit; /* line still high: request again */
			}
		}
	}
	update(p);
	pthread_mutex_unlock(&p->lock);
}

const struct mmio_ops plic__ops = { plic_read, plic_write };
