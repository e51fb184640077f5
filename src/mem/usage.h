/* What guest RAM costs the host now: the kernel's accounting of the RAM mapping (/proc/self/smaps). */
#ifndef WISP_MEM_USAGE_H
#define WISP_MEM_USAGE_H

#include <stdint.h>

struct mem_usage {
	uint64_t rss_kib;	    /* resident pages of guest RAM */
	uint64_t pss_kib;	    /* the same, shared pages divided among their sharers */
	uint64_t private_dirty_kib; /* written by this microVM only (what it alone costs) */
	uint64_t shared_kib;	    /* resident and shared with other processes (a snapshot's page cache, KSM) */
};

/* The mapping that starts at ram: 0, or -1 when /proc/self/smaps cannot be read or has no such mapping. */
int mem__usage(const void *ram, struct mem_usage *out);

#endif
