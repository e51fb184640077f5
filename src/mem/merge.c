/* KSM for guest RAM: MADV_MERGEABLE and the kernel's per-process figures. */
#include "mem/merge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KSM_RUN "/sys/kernel/mm/ksm/run"

bool mem_merge__available(char *why, size_t n)
{
	if (access(KSM_RUN, F_OK) == 0)
		return true;
	snprintf(why, n, "the host kernel has no KSM (%s is missing)", KSM_RUN);
	return false;
}

void mem_merge__init(struct mem_merge *mm)
{
	mm->on = false;
	mm->stat_fd = -1;
}

int mem_merge__enable(struct mem_merge *mm, void *ram, size_t size, char *err, size_t n)
{
	if (!mem_merge__available(err, n))
		return -1;
	if (madvise(ram, size, MADV_MERGEABLE) < 0) {
		snprintf(err, n, "cannot offer guest memory to KSM: %s", strerror(errno));
		return -1;
	}
	mm->on = true;
	mm->stat_fd = open("/proc/self/ksm_stat", O_RDONLY | O_CLOEXEC); /* older kernels: no figures */
	return 0;
}

void mem_merge__exit(struct mem_merge *mm)
{
	if (mm->stat_fd >= 0)
		close(mm->stat_fd);
	mem_merge__init(mm);
}

/* The value of "key N" in the text, or -1. */
static int64_t field(const char *text, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = text; (p = strstr(p, key)); p += k)
		if ((p == text || p[-1] == '\n') && p[k] == ' ')
			return strtoll(p + k + 1, NULL, 10);
	return -1;
}

int mem_merge__stats(const struct mem_merge *mm, struct mem_merge_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!mm->on || mm->stat_fd < 0)
		return -1;
	char buf[512];
	ssize_t len = pread(mm->stat_fd, buf, sizeof(buf) - 1, 0);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	int64_t merging = field(buf, "ksm_merging_pages"), zero = field(buf, "ksm_zero_pages");
	if (merging < 0)
		return -1;
	out->merging_pages = (uint64_t)merging;
	out->zero_pages = zero > 0 ? (uint64_t)zero : 0;
	return 0;
}
