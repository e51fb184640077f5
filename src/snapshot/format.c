/* The snapshot state file container: writer, reader, CRC-32, header and section checks. */
#include "snapshot/format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- CRC-32 (reflected polynomial 0xedb88320), one table built on first use ---- */

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	__atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t snap__crc32(uint32_t crc, const void *buf, size_t len)
{
	if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
		crc_init(); /* idempotent: two threads racing compute the same table */
	const uint8_t *p = buf;
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- writer ---- */

void snap_w__init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->section = SIZE_MAX;
}

void snap_w__free(struct snap_writer *w)
{
	free(w->buf);
	snap_w__init(w);
}

static uint8_t *w_room(struct snap_writer *w, size_t n)
{
	if (w->oom)
		return NULL;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			w->oom = true;
			return NULL;
		}
		w->buf = b;
		w->cap = cap;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void w_le(struct snap_writer *w, uint64_t v, unsigned n)
{
	uint8_t *p = w_room(w, n);
	if (p)
		put_le(p, v, n);
}

void snap_w__u8(struct snap_writer *w, uint8_t v) { w_le(w, v, 1); }
void snap_w__u16(struct snap_writer *w, uint16_t v) { w_le(w, v, 2); }
void snap_w__u32(struct snap_writer *w, uint32_t v) { w_le(w, v, 4); }
void snap_w__u64(struct snap_writer *w, uint64_t v) { w_le(w, v, 8); }

void snap_w__bytes(struct snap_writer *w, const void *src, size_t n)
{
	uint8_t *p = w_room(w, n);
	if (p && n)
		memcpy(p, src, n);
}

void snap_w__str(struct snap_writer *w, const char *s)
{
	if (!s) {
		snap_w__u16(w, 0xffff);
		return;
	}
	size_t n = strlen(s);
	if (n >= 0xffff) {
		w->oom = true; /* no string of ours is this long: treat as a failure */
		return;
	}
	snap_w__u16(w, (uint16_t)n);
	snap_w__bytes(w, s, n);
}

void snap_w__begin(struct snap_writer *w, uint32_t id, uint32_t version)
{
	w->section = w->len;
	snap_w__u32(w, id);
	snap_w__u32(w, version);
	snap_w__u64(w, 0);
}

void snap_w__end(struct snap_writer *w)
{
	if (w->section == SIZE_MAX)
		return;
	size_t payload = w->len - w->section - SNAP_SECTION_HEADER;
	while (!w->oom && (w->len & 7))
		snap_w__u8(w, 0);
	if (!w->oom)
		put_le(w->buf + w->section + 8, payload, 8);
	w->section = SIZE_MAX;
}

int snap_w__start_file(struct snap_writer *w)
{
	uint8_t *h = w_room(w, SNAP_HEADER_SIZE);
	if (!h)
		return -1;
	memset(h, 0, SNAP_HEADER_SIZE);
	memcpy(h, SNAP_MAGIC, 8);
	put_le(h + 8, SNAP_FORMAT_VERSION, 4);
	put_le(h + 12, SNAP_HEADER_SIZE, 4);
	return 0;
}

int snap_w__finish_file(struct snap_writer *w)
{
	if (w->oom || w->len < SNAP_HEADER_SIZE)
		return -1;
	put_le(w->buf + 16, w->len, 8);
	put_le(w->buf + 24, 0, 4);
	put_le(w->buf + 24, snap__crc32(0, w->buf, w->len), 4);
	return 0;
}

/* ---- reader ---- */

void snap_r__init(struct snap_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

static const uint8_t *r_take(struct snap_reader *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t r_le(struct snap_reader *r, unsigned n)
{
	const uint8_t *p = r_take(r, n);
	return p ? get_le(p, n) : 0;
}

uint8_t snap_r__u8(struct snap_reader *r) { return (uint8_t)r_le(r, 1); }
uint16_t snap_r__u16(struct snap_reader *r) { return (uint16_t)r_le(r, 2); }
uint32_t snap_r__u32(struct snap_reader *r) { return (uint32_t)r_le(r, 4); }
uint64_t snap_r__u64(struct snap_reader *r) { return r_le(r, 8); }

void snap_r__bytes(struct snap_reader *r, void *dst, size_t n)
{
	const uint8_t *p = r_take(r, n);
	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

bool snap_r__str(struct snap_reader *r, char *buf, size_t bufsize, bool *is_null)
{
	uint16_t n = snap_r__u16(r);
	if (bufsize)
		buf[0] = 0;
	if (is_null)
		*is_null = n == 0xffff;
	if (n == 0xffff)
		return !r->bad;
	const uint8_t *p = r_take(r, n);
	if (!p || (size_t)n + 1 > bufsize || memchr(p, 0, n)) {
		r->bad = true;
		return false;
	}
	memcpy(buf, p, n);
	buf[n] = 0;
	return true;
}

/* ---- files ---- */

void snap_file__free(struct snap_file *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

int snap_file__parse(struct snap_file *f, uint8_t *buf, size_t len, char *err, size_t n)
{
	memset(f, 0, sizeof(*f));
	f->buf = buf;
	f->len = len;
	if (len < SNAP_HEADER_SIZE || memcmp(buf, SNAP_MAGIC, 8) != 0) {
		snprintf(err, n, "not a wisp snapshot state file (no %s header)", SNAP_MAGIC);
		goto fail;
	}
	f->version = (uint32_t)get_le(buf + 8, 4);
	if (f->version != SNAP_FORMAT_VERSION) {
		snprintf(err, n, "snapshot format version %u is not supported (this wisp reads version %u)", f->version,
			 SNAP_FORMAT_VERSION);
		goto fail;
	}
	uint32_t hdr = (uint32_t)get_le(buf + 12, 4);
	uint64_t total = get_le(buf + 16, 8);
	if (hdr != SNAP_HEADER_SIZE) {
		snprintf(err, n, "corrupt snapshot state file: header size %u", hdr);
		goto fail;
	}
	if (total != len) {
		snprintf(err, n, "snapshot state file is %s: %zu bytes, its header says %llu",
			 len < total ? "truncated" : "longer than recorded", len, (unsigned long long)total);
		goto fail;
	}
	uint32_t want = (uint32_t)get_le(buf + 24, 4);
	put_le(buf + 24, 0, 4);
	uint32_t got = snap__crc32(0, buf, len);
	put_le(buf + 24, want, 4);
	if (got != want) {
		snprintf(err, n, "snapshot state file is corrupt: CRC-32 %08x, expected %08x", got, want);
		goto fail;
	}
	size_t off = SNAP_HEADER_SIZE;
	while (off < len) {
		if (len - off < SNAP_SECTION_HEADER) {
			snprintf(err, n, "corrupt snapshot state file: partial section header at byte %zu", off);
			goto fail;
		}
		uint32_t id = (uint32_t)get_le(buf + off, 4), ver = (uint32_t)get_le(buf + off + 4, 4);
		uint64_t plen = get_le(buf + off + 8, 8);
		uint64_t padded = (plen + 7) & ~7ull;
		if (plen > len || padded > len - off - SNAP_SECTION_HEADER) {
			snprintf(err, n, "corrupt snapshot state file: section %u at byte %zu runs past the end", id, off);
			goto fail;
		}
		if (id == 0 || id >= SNAP_SEC_COUNT) {
			snprintf(err, n, "snapshot state file has an unknown section (id %u): written by a newer wisp?", id);
			goto fail;
		}
		if (f->nsec >= SNAP_MAX_SECTIONS) {
			snprintf(err, n, "snapshot state file has more than %d sections", SNAP_MAX_SECTIONS);
			goto fail;
		}
		f->sec[f->nsec++] = (struct snap_section){ id, ver, buf + off + SNAP_SECTION_HEADER, (size_t)plen };
		off += SNAP_SECTION_HEADER + padded;
	}
	return 0;
fail:
	snap_file__free(f);
	return -1;
}

int snap_file__read(struct snap_file *f, const char *path, char *err, size_t n)
{
	memset(f, 0, sizeof(*f));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, n, "cannot open the snapshot state file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)SNAP_MAX_FILE) {
		snprintf(err, n, "snapshot state file %s is not a regular file of at most %u MiB", path,
			 SNAP_MAX_FILE >> 20);
		close(fd);
		return -1;
	}
	size_t len = (size_t)st.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	size_t got = 0;
	while (buf && got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf || got != len) {
		snprintf(err, n, "cannot read the snapshot state file %s%s", path, buf ? "" : ": out of memory");
		free(buf);
		return -1;
	}
	char why[256];
	if (snap_file__parse(f, buf, len, why, sizeof(why)) < 0) {
		snprintf(err, n, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

const struct snap_section *snap_file__find(const struct snap_file *f, uint32_t id, unsigned index)
{
	for (unsigned i = 0; i < f->nsec; i++)
		if (f->sec[i].id == id && index-- == 0)
			return &f->sec[i];
	return NULL;
}

unsigned snap_file__count(const struct snap_file *f, uint32_t id)
{
	unsigned c = 0;
	for (unsigned i = 0; i < f->nsec; i++)
		c += f->sec[i].id == id;
	return c;
}

int snap__write_file(const char *path, const void *buf, size_t len, char *err, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, n, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	const uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, n, "cannot write %s: %s", path, w < 0 ? strerror(errno) : "short write");
			close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	if (close(fd) < 0) {
		snprintf(err, n, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
