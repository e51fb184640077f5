/* Working-set sampling over the bus's per-page sample bytes; see wss.h. */
#include "mem/wss.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "machine/machine.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: samples need no more than a fair spread. */
static uint64_t next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

void wss__init(struct mem_wss *w, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	w->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

void wss__exit(struct mem_wss *w)
{
	pthread_mutex_destroy(&w->lock);
}

void wss__rotate(struct mem_wss *w, struct machine *m, struct mem_wss_estimate *out)
{
	struct rv_bus *bus = &m->bus;
	uint64_t npages = bus->ram_size >> PAGE_SHIFT;
	memset(out, 0, sizeof(*out));
	if (!bus->ws_sample || !npages)
		return;
	pthread_mutex_lock(&w->lock);
	uint64_t t = now_ns();
	if (w->n) {
		/* Untouched pages of the sample still carry their mark: clear them, then take the count. */
		for (unsigned i = 0; i < w->n; i++)
			atomic_store_explicit(&bus->ws_sample[w->pages[i]], 0, memory_order_relaxed);
		uint64_t touched = atomic_exchange(&bus->ws_touched, 0);
		if (touched > w->n)
			touched = w->n;
		w->last = (struct mem_wss_estimate){
			.valid = true,
			.sampled = w->n,
			.touched = touched,
			.interval_ms = (t - w->started_ns) / 1000000,
			.active_kib = (bus->ram_size >> 10) * touched / w->n,
		};
	}
	/* The next sample: distinct pages (a page drawn twice is drawn again). */
	unsigned n = npages < WSS_SAMPLE_PAGES ? (unsigned)npages : WSS_SAMPLE_PAGES;
	atomic_store(&bus->ws_touched, 0);
	for (unsigned i = 0; i < n;) {
		uint32_t pg = (uint32_t)(next(&w->rng) % npages);
		if (atomic_exchange_explicit(&bus->ws_sample[pg], 1, memory_order_relaxed))
			continue;
		w->pages[i++] = pg;
	}
	w->n = n;
	w->started_ns = t;
	/* Every hart refills its TLB from here on, so the first touch of a sampled page is seen. */
	for (unsigned i = 0; i < m->nharts; i++)
		cpu__post(m->harts[i], MAIL_TLB_FLUSH, 0, 0, NULL, false);
	*out = w->last;
	pthread_mutex_unlock(&w->lock);
}

struct mem_wss_estimate wss__last(struct mem_wss *w)
{
	pthread_mutex_lock(&w->lock);
	struct mem_wss_estimate e = w->last;
	pthread_mutex_unlock(&w->lock);
	return e;
}
