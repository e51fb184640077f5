/* The ESX-style reclaim plan; see policy.h. */
#include "mem/policy.h"

#include <string.h>

/* What vm may still give: down to the larger of its working set and its floor. */
static uint64_t spare(const struct mem_vm_state *vm, uint64_t given)
{
	uint64_t keep = vm->active_kib > vm->floor_kib ? vm->active_kib : vm->floor_kib;
	uint64_t held = vm->resident_kib > given ? vm->resident_kib - given : 0;
	return held > keep ? held - keep : 0;
}

static double rho(const struct mem_vm_state *vm, uint64_t given, double k)
{
	double p = (double)(vm->resident_kib - given);
	double f = p > 0 ? (double)vm->active_kib / p : 1;
	if (f > 1)
		f = 1;
	double s = vm->shares ? (double)vm->shares : 1;
	return s / (p * (f + k * (1 - f)));
}

uint64_t mem_policy__plan(const struct mem_policy *pol, const struct mem_vm_state *vms, unsigned n,
			  uint64_t reclaim_kib, struct mem_vm_plan *out)
{
	memset(out, 0, sizeof(*out) * n);
	double tax = pol->tax < 0 ? 0 : pol->tax > 0.99 ? 0.99 : pol->tax;
	double k = 1 / (1 - tax);
	/* What compressing one KiB frees. */
	double gain = pol->compress_ratio > 1 ? 1 - 1 / pol->compress_ratio : 0;
	uint64_t step = pol->step_kib ? pol->step_kib : 1024, got = 0;
	while (got < reclaim_kib) {
		int best = -1;
		double best_rho = 0;
		for (unsigned i = 0; i < n; i++) {
			if (!spare(&vms[i], out[i].give_kib))
				continue;
			double r = rho(&vms[i], out[i].give_kib, k);
			if (best < 0 || r < best_rho) {
				best = (int)i;
				best_rho = r;
			}
		}
		if (best < 0)
			break; /* every microVM is at its working set or floor */
		const struct mem_vm_state *vm = &vms[best];
		struct mem_vm_plan *p = &out[best];
		uint64_t s = spare(vm, p->give_kib), t = s < step ? s : step;
		/* Compression first: cold pages not yet planned, each freeing `gain` of itself. */
		uint64_t cold = vm->resident_kib > vm->active_kib ? vm->resident_kib - vm->active_kib : 0;
		uint64_t left = cold > p->compress_kib ? cold - p->compress_kib : 0;
		uint64_t freed = 0;
		if (gain > 0 && left) {
			uint64_t c = (uint64_t)((double)t / gain + 0.5);
			if (c > left)
				c = left;
			freed = (uint64_t)((double)c * gain + 0.5);
			if (freed > t)
				freed = t;
			p->compress_kib += c;
		}
		p->balloon_kib += t - freed;
		p->give_kib += t;
		got += t;
	}
	return got;
}
