/* Guest RAM's entry in /proc/self/smaps. */
#include "mem/usage.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int mem__usage(const void *ram, struct mem_usage *out)
{
	memset(out, 0, sizeof(*out));
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -1;
	char line[512];
	bool in = false, found = false;
	uint64_t start, end, shared_clean = 0, shared_dirty = 0;
	while (fgets(line, sizeof(line), f)) {
		/* A mapping's first line ("start-end perms ..."); no field line parses as two hex numbers and a dash. */
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &start, &end) == 2) {
			if (in)
				break;
			in = start == (uint64_t)(uintptr_t)ram;
			found |= in;
			continue;
		}
		if (!in)
			continue;
		uint64_t v;
		if (sscanf(line, "Rss: %" SCNu64, &v) == 1)
			out->rss_kib = v;
		else if (sscanf(line, "Pss: %" SCNu64, &v) == 1)
			out->pss_kib = v;
		else if (sscanf(line, "Private_Dirty: %" SCNu64, &v) == 1)
			out->private_dirty_kib = v;
		else if (sscanf(line, "Shared_Clean: %" SCNu64, &v) == 1)
			shared_clean = v;
		else if (sscanf(line, "Shared_Dirty: %" SCNu64, &v) == 1)
			shared_dirty = v;
	}
	fclose(f);
	out->shared_kib = shared_clean + shared_dirty;
	return found ? 0 : -1;
}
