/*
 * The host memory manager's policy (issue 18), after VMware ESX: when the host must get `reclaim_kib` back from
 * its microVMs, memory is taken from the one with the lowest adjusted shares-per-KiB ratio
 *
 *     rho = shares / (P * (f + k * (1 - f))),   k = 1 / (1 - tax)
 *
 * (P: what it holds now, f: the active share of it, from the working-set estimate; idle memory costs k times
 * more than active memory), a step at a time, so the ratios level out. A microVM never goes below its working
 * set or its floor: when every one is there, the plan reclaims less than asked and nobody is killed. What a
 * microVM gives is met by compressing its cold pages first (resident minus active; compressing c KiB frees
 * c * (1 - 1 / ratio)), the rest by its balloon. Pure arithmetic: whoever applies the plan (a manager over the API sockets, docs/api.md "Memory")
 * reads the inputs from GET /memory and sets balloon targets with PATCH /balloon.
 */
#ifndef WISP_MEM_POLICY_H
#define WISP_MEM_POLICY_H

#include <stdint.h>

#define MEM_POLICY_TAX_DEFAULT 0.75 /* ESX's default idle memory tax */

struct mem_vm_state {
	uint64_t shares;       /* relative right to memory; 0 counts as 1 */
	uint64_t resident_kib; /* host memory it holds now */
	uint64_t active_kib;   /* working-set estimate (GET /memory working_set.estimated_active_kib) */
	uint64_t floor_kib;    /* never below this (its kernel and a margin) */
};

struct mem_vm_plan {
	uint64_t give_kib;     /* host memory it gives back: what compression frees plus balloon_kib */
	uint64_t compress_kib; /* cold pages to compress */
	uint64_t balloon_kib;  /* to reclaim by inflating its balloon */
};

struct mem_policy {
	double tax;	       /* idle memory tax in [0, 1) */
	double compress_ratio; /* expected compression ratio of cold pages; <= 1: no compression (balloon only) */
	uint64_t step_kib;     /* granularity (0: 1 MiB) */
};

/* Plan taking reclaim_kib from vms[0..n): fills out[0..n), returns the KiB it reclaims (at most reclaim_kib plus
 * one step). */
uint64_t mem_policy__plan(const struct mem_policy *pol, const struct mem_vm_state *vms, unsigned n,
			  uint64_t reclaim_kib, struct mem_vm_plan *out);

#endif
