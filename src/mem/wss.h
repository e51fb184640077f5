/*
 * Working-set estimation (issue 18), ESX-style statistical sampling made cheap by wisp's software MMU: a random
 * sample of guest pages is marked on the bus and every hart's TLB is emptied; the first access to a marked page
 * must refill the TLB, which clears the mark and counts the page (src/mmu/mmu.c, fill). When the sample ends,
 * touched / sampled estimates the share of guest memory in active use over the interval.
 *
 * Samples are taken on demand (GET /memory ends the current one and starts the next), so an idle microVM gets no
 * periodic wake-up from the estimator. Accesses that need no TLB fill are not seen: device DMA, and instruction
 * fetches of translated code reached through chained jumps (data accesses always fill).
 */
#ifndef WISP_MEM_WSS_H
#define WISP_MEM_WSS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct machine;

#define WSS_SAMPLE_PAGES 256

struct mem_wss_estimate {
	bool valid;		 /* a sample has ended */
	uint64_t sampled, touched; /* pages in the last sample, and how many of them the guest touched */
	uint64_t interval_ms;	 /* how long it ran */
	uint64_t active_kib;	 /* touched / sampled of guest RAM */
};

struct mem_wss {
	pthread_mutex_t lock;
	uint64_t rng;
	unsigned n;			 /* pages in the current sample (0: none running) */
	uint32_t pages[WSS_SAMPLE_PAGES]; /* their page numbers */
	uint64_t started_ns;
	struct mem_wss_estimate last;
};

void wss__init(struct mem_wss *w, uint64_t seed);
void wss__exit(struct mem_wss *w);
/* End the running sample (its estimate becomes the last one, returned in out) and start a new one. Thread-safe;
 * not from a hart thread. Does nothing (out->valid false) on a board without sampling. */
void wss__rotate(struct mem_wss *w, struct machine *m, struct mem_wss_estimate *out);
/* The last estimate. */
struct mem_wss_estimate wss__last(struct mem_wss *w);

#endif
