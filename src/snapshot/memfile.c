/* Guest memory files: sparse Full/Diff writing, lazy MAP_PRIVATE restore with diff layers, merging. */
#include "snapshot/memfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)

static inline bool bit(const uint64_t *map, uint64_t i)
{
	return (map[i / 64] >> (i % 64)) & 1;
}

static inline void set_bit(uint64_t *map, uint64_t i)
{
	map[i / 64] |= 1ull << (i % 64);
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;
	for (size_t i = 0; i < PAGE_SIZE / 8; i += 8) {
		uint64_t acc = q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7];
		if (acc)
			return false;
	}
	return true;
}

/*
 * Pages that may hold data: those the host has in RAM or swap for this mapping (/proc/self/pagemap), plus
 * those backed by a memory file. Anything else has never been touched and reads as zero. NULL when the
 * pagemap cannot be read: then every page is a candidate.
 */
static uint64_t *candidate_pages(const struct machine *m, uint64_t npages)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	uint64_t *map = calloc((npages + 63) / 64, 8);
	enum { CHUNK = 4096 };
	uint64_t *buf = malloc(CHUNK * 8);
	off_t base = (off_t)((uintptr_t)m->bus.ram / PAGE_SIZE * 8);
	bool ok = map && buf;
	for (uint64_t i = 0; ok && i < npages; i += CHUNK) {
		uint64_t cnt = npages - i < CHUNK ? npages - i : CHUNK;
		ssize_t r = pread(fd, buf, cnt * 8, base + (off_t)(i * 8));
		if (r != (ssize_t)(cnt * 8)) {
			ok = false;
			break;
		}
		for (uint64_t k = 0; k < cnt; k++)
			if (buf[k] & (PM_PRESENT | PM_SWAPPED))
				set_bit(map, i + k);
	}
	close(fd);
	free(buf);
	if (!ok) {
		free(map);
		return NULL;
	}
	if (m->ram_file_pages)
		for (uint64_t w = 0; w < (npages + 63) / 64; w++)
			map[w] |= m->ram_file_pages[w];
	return map;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t w = pwrite(fd, p, len, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

int snap_mem__write(struct machine *m, bool diff, const char *path, struct snap_mem_stats *st, char *err,
		    size_t n)
{
	struct snap_mem_stats local;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	uint64_t npages = m->bus.ram_size / PAGE_SIZE;
	const _Atomic uint64_t *dirty = diff ? m->bus.dirty : NULL;
	uint64_t *cand = dirty ? NULL : candidate_pages(m, npages);
	st->diff = dirty != NULL;

	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, n, "cannot create the memory file %s: %s", path, strerror(errno));
		free(cand);
		return -1;
	}
	int rc = 0;
	if (ftruncate(fd, (off_t)m->bus.ram_size) < 0) {
		rc = -1;
		goto out;
	}
	/* Runs of consecutive pages to write go out in one pwrite. */
	uint64_t run = 0, run_len = 0;
	for (uint64_t pg = 0; pg <= npages; pg++) {
		bool take = false;
		if (pg < npages) {
			if (dirty) {
				take = (atomic_load_explicit(&dirty[pg / 64], memory_order_relaxed) >> (pg % 64)) & 1;
			} else if (!cand || bit(cand, pg)) {
				st->pages_scanned++;
				take = !page_is_zero(m->bus.ram + pg * PAGE_SIZE);
			}
		}
		if (take) {
			if (!run_len)
				run = pg;
			run_len++;
			continue;
		}
		if (run_len) {
			if (pwrite_all(fd, m->bus.ram + run * PAGE_SIZE, run_len * PAGE_SIZE, (off_t)(run * PAGE_SIZE)) < 0) {
				rc = -1;
				goto out;
			}
			st->pages_written += run_len;
			st->bytes_written += run_len * PAGE_SIZE;
			run_len = 0;
		}
	}
	if (dirty)
		st->pages_scanned = st->pages_written;
out:
	if (rc < 0)
		snprintf(err, n, "cannot write the memory file %s: %s", path, strerror(errno));
	if (close(fd) < 0 && rc == 0) {
		snprintf(err, n, "cannot write the memory file %s: %s", path, strerror(errno));
		rc = -1;
	}
	free(cand);
	return rc;
}

static int open_layer(const char *path, uint64_t ram_size, char *err, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, n, "cannot open the memory file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, n, "memory file %s is not a regular file", path);
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size != ram_size) {
		snprintf(err, n, "memory file %s is %lld bytes, the snapshot's guest memory is %llu bytes (%s)", path,
			 (long long)st.st_size, (unsigned long long)ram_size,
			 (uint64_t)st.st_size < ram_size ? "truncated?" : "wrong file?");
		close(fd);
		return -1;
	}
	return fd;
}

int snap_mem__check(const char *path, uint64_t ram_size, char *err, size_t n)
{
	int fd = open_layer(path, ram_size, err, n);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Data extents of fd rounded out to pages: calls fn(start, end) for each; returns the count or -1. */
static long for_extents(int fd, uint64_t size, int (*fn)(void *, uint64_t, uint64_t), void *opaque)
{
	long count = 0;
	off_t off = 0;
	while ((uint64_t)off < size) {
		off_t data = lseek(fd, off, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? count : -1; /* ENXIO: no data after off */
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return -1;
		uint64_t s = (uint64_t)data & PAGE_MASK, e = ((uint64_t)hole + PAGE_SIZE - 1) & PAGE_MASK;
		if (e > size)
			e = size;
		if (fn && fn(opaque, s, e) < 0)
			return -1;
		count++;
		off = hole;
	}
	return count;
}

struct layer_ctx {
	struct machine *m;
	int fd;
	bool map; /* map the extents; else read them */
	uint64_t pages;
};

static int mark_extent(void *opaque, uint64_t s, uint64_t e)
{
	struct layer_ctx *c = opaque;
	for (uint64_t p = s / PAGE_SIZE; p < e / PAGE_SIZE; p++)
		set_bit(c->m->ram_file_pages, p);
	c->pages += (e - s) / PAGE_SIZE;
	return 0;
}

static int apply_extent(void *opaque, uint64_t s, uint64_t e)
{
	struct layer_ctx *c = opaque;
	uint8_t *dst = c->m->bus.ram + s;
	if (c->map) {
		void *p = mmap(dst, e - s, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, c->fd, (off_t)s);
		if (p == MAP_FAILED)
			return -1;
	} else {
		for (uint64_t done = 0; done < e - s;) {
			ssize_t r = pread(c->fd, dst + done, e - s - done, (off_t)(s + done));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			done += (uint64_t)r;
		}
	}
	return mark_extent(opaque, s, e);
}

int snap_mem__map(struct machine *m, const char *const *layers, unsigned nlayers, uint64_t *last_pages,
		  char *err, size_t n)
{
	uint64_t size = m->bus.ram_size;
	int fds[SNAP_MAX_LAYERS];
	if (nlayers < 1 || nlayers > SNAP_MAX_LAYERS) {
		snprintf(err, n, "a restore takes 1 to %d memory files (got %u)", SNAP_MAX_LAYERS, nlayers);
		return -1;
	}
	/* Open and check every layer before touching RAM. */
	for (unsigned i = 0; i < nlayers; i++) {
		fds[i] = open_layer(layers[i], size, err, n);
		if (fds[i] < 0) {
			while (i--)
				close(fds[i]);
			return -1;
		}
	}
	int rc = -1;
	free(m->ram_file_pages);
	m->ram_file_pages = calloc((size / PAGE_SIZE + 63) / 64, 8);
	if (!m->ram_file_pages) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	void *p = mmap(m->bus.ram, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fds[0], 0);
	if (p == MAP_FAILED) {
		snprintf(err, n, "cannot map the memory file %s: %s", layers[0], strerror(errno));
		goto out;
	}
	struct layer_ctx c = { .m = m, .fd = fds[0] };
	if (for_extents(fds[0], size, mark_extent, &c) < 0) {
		/* No hole information: every page may hold data. */
		memset(m->ram_file_pages, 0xff, (size / PAGE_SIZE + 63) / 64 * 8);
		c.pages = size / PAGE_SIZE;
	}
	for (unsigned i = 1; i < nlayers; i++) {
		long ext = for_extents(fds[i], size, NULL, NULL);
		if (ext < 0) {
			snprintf(err, n, "cannot find the data in diff memory file %s: %s", layers[i], strerror(errno));
			goto out;
		}
		c = (struct layer_ctx){ .m = m, .fd = fds[i], .map = ext <= SNAP_MAX_EXTENTS };
		if (for_extents(fds[i], size, apply_extent, &c) < 0) {
			snprintf(err, n, "cannot lay the diff memory file %s over %s: %s", layers[i], layers[0],
				 strerror(errno));
			goto out;
		}
	}
	if (last_pages)
		*last_pages = c.pages;
	rc = 0;
out:
	for (unsigned i = 0; i < nlayers; i++)
		close(fds[i]);
	return rc;
}

struct merge_ctx {
	int in, out;
};

static int copy_extent(void *opaque, uint64_t s, uint64_t e)
{
	struct merge_ctx *c = opaque;
	loff_t in = (loff_t)s, out = (loff_t)s;
	size_t left = e - s;
	while (left) {
		ssize_t r = copy_file_range(c->in, &in, c->out, &out, left, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
			/* Fall back to a plain copy. */
			static uint8_t buf[1 << 16];
			size_t k = left < sizeof(buf) ? left : sizeof(buf);
			ssize_t got = pread(c->in, buf, k, in);
			if (got <= 0 || pwrite_all(c->out, buf, (size_t)got, out) < 0)
				return -1;
			r = got;
			in += got;
			out += got;
		} else if (r <= 0) {
			return -1;
		}
		left -= (size_t)r;
	}
	return 0;
}

int snap_mem__merge(const char *base, const char *diff, char *err, size_t n)
{
	int in = open(diff, O_RDONLY | O_CLOEXEC);
	int out = open(base, O_WRONLY | O_CLOEXEC);
	struct stat si, so;
	int rc = -1;
	if (in < 0 || out < 0) {
		snprintf(err, n, "cannot open %s: %s", in < 0 ? diff : base, strerror(errno));
		goto done;
	}
	if (fstat(in, &si) < 0 || fstat(out, &so) < 0 || si.st_size != so.st_size) {
		snprintf(err, n, "%s and %s are not memory files of the same guest (sizes differ)", base, diff);
		goto done;
	}
	struct merge_ctx c = { in, out };
	if (for_extents(in, (uint64_t)si.st_size, copy_extent, &c) < 0) {
		snprintf(err, n, "cannot merge %s into %s: %s", diff, base, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && rc == 0) {
		snprintf(err, n, "cannot write %s: %s", base, strerror(errno));
		rc = -1;
	}
	return rc;
}

int snap_mem__reset_dirty(struct machine *m)
{
	size_t words = (m->bus.ram_size / PAGE_SIZE + 63) / 64;
	if (!m->bus.dirty) {
		_Atomic uint64_t *d = calloc(words, sizeof(*d));
		if (!d)
			return -1;
		m->bus.dirty = d;
	} else {
		for (size_t i = 0; i < words; i++)
			atomic_store_explicit(&m->bus.dirty[i], 0, memory_order_relaxed);
	}
	for (unsigned i = 0; i < m->nharts; i++) {
		mmu__flush(&m->harts[i]->mmu);
		cpu__update_mmu(m->harts[i]);
	}
	return 0;
}
