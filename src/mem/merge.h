/*
 * Page sharing across microVMs (issue 18): guest RAM is offered to the host kernel's KSM (MADV_MERGEABLE), which
 * merges identical pages of all such guests copy-on-write. wisp keeps no second copy of KSM; it turns it on for a
 * microVM's RAM and reports what the kernel merged for this process (/proc/self/ksm_stat).
 */
#ifndef WISP_MEM_MERGE_H
#define WISP_MEM_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem_merge {
	bool on;
	int stat_fd; /* /proc/self/ksm_stat, opened when turned on (read under the metrics thread's filter); -1 */
};

/* Can this host merge pages (KSM in the kernel)? When not, a reason in why. */
bool mem_merge__available(char *why, size_t n);

void mem_merge__init(struct mem_merge *mm);
/* Offer [ram, ram + size) to KSM: 0, or -1 with the reason in err. */
int mem_merge__enable(struct mem_merge *mm, void *ram, size_t size, char *err, size_t n);
void mem_merge__exit(struct mem_merge *mm);

/* What KSM did for this process: pages of it now backed by a shared page, and zero pages it merged. */
struct mem_merge_stats {
	uint64_t merging_pages, zero_pages;
};
/* 0, or -1 when merging is off or the kernel does not say. */
int mem_merge__stats(const struct mem_merge *mm, struct mem_merge_stats *out);

#endif
