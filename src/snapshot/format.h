/*
 * The snapshot state file: a versioned container of sections, each with its own id, version and length.
 *
 *   header (32 bytes, little-endian):
 *     magic     8  "WISPSNAP"
 *     version   4  SNAP_FORMAT_VERSION; a reader refuses any other value
 *     hdr_size  4  32
 *     length    8  size of the whole file, header included
 *     crc32     4  CRC-32 (IEEE, as zlib's crc32) of the whole file with this field read as zero
 *     reserved  4  0
 *   sections, back to back until `length`:
 *     id        4  SNAP_SEC_* (unknown ids are refused: the file comes from a newer wisp)
 *     version   4  the section's own layout version
 *     length    8  payload bytes that follow
 *     payload      fixed-width little-endian fields (snap_w__* / snap_r__*), padded with zeros to 8 bytes
 *
 * Everything is explicit little-endian byte by byte: a snapshot taken on one host restores on any other
 * (the CPU is software). Nothing here knows the machine; state.c and snapshot.c fill the sections.
 */
#ifndef WISP_SNAPSHOT_FORMAT_H
#define WISP_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "WISPSNAP"
#define SNAP_FORMAT_VERSION 1u
#define SNAP_HEADER_SIZE 32u
#define SNAP_SECTION_HEADER 16u
#define SNAP_MAX_FILE (64u << 20) /* a state file is a few KiB; anything this large is not ours */

/* Section ids. Never reuse a number: add new ones at the end. */
enum snap_section_id {
	SNAP_SEC_MACHINE = 1, /* board: memory size, harts, boot mode flags, HTIF words */
	SNAP_SEC_MEMORY = 2,  /* how the memory file was written (Full/Diff), page size, snapshot ids */
	SNAP_SEC_TIME = 3,    /* guest time (timebase ticks) when the snapshot was taken */
	SNAP_SEC_HART = 4,    /* one per hart: registers, CSRs, pending interrupts */
	SNAP_SEC_CLINT = 5,
	SNAP_SEC_PLIC = 6,
	SNAP_SEC_UART = 7,
	SNAP_SEC_SBI = 8,     /* the in-VMM SBI's per-hart supervisor timer */
	SNAP_SEC_DEVCFG = 9,  /* the virtio devices' configuration (drive paths, TAP names, MACs) */
	SNAP_SEC_DEVICE = 10, /* one per device window handled by a registered snapshot_device_ops */
	SNAP_SEC_COUNT
};

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32): crc = snap__crc32(crc, buf, len), starting from 0. */
uint32_t snap__crc32(uint32_t crc, const void *buf, size_t len);

/* A growing output buffer. Allocation failure is sticky: check snap_w__error (or snap_w__finish) once. */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t section; /* offset of the open section's header, or SIZE_MAX */
	bool oom;
};

void snap_w__init(struct snap_writer *w);
void snap_w__free(struct snap_writer *w);
void snap_w__u8(struct snap_writer *w, uint8_t v);
void snap_w__u16(struct snap_writer *w, uint16_t v);
void snap_w__u32(struct snap_writer *w, uint32_t v);
void snap_w__u64(struct snap_writer *w, uint64_t v);
void snap_w__bytes(struct snap_writer *w, const void *p, size_t n);
/* A string: u16 length then the bytes (no terminator); NULL is written as length 0xffff. */
void snap_w__str(struct snap_writer *w, const char *s);
/* Sections: begin writes the header, end fills in its length and pads. They do not nest. */
void snap_w__begin(struct snap_writer *w, uint32_t id, uint32_t version);
void snap_w__end(struct snap_writer *w);
/* Header + sections: writes the file header in front, fills length and CRC. -1 on allocation failure. */
int snap_w__start_file(struct snap_writer *w);
int snap_w__finish_file(struct snap_writer *w);

/* A bounds-checked input cursor. Reading past the end sets `bad` and returns zeros. */
struct snap_reader {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

void snap_r__init(struct snap_reader *r, const void *p, size_t len);
uint8_t snap_r__u8(struct snap_reader *r);
uint16_t snap_r__u16(struct snap_reader *r);
uint32_t snap_r__u32(struct snap_reader *r);
uint64_t snap_r__u64(struct snap_reader *r);
void snap_r__bytes(struct snap_reader *r, void *p, size_t n);
/* A string written by snap_w__str into buf (NUL-terminated); *is_null for a NULL string. False if it does
 * not fit in bufsize or the input is short. */
bool snap_r__str(struct snap_reader *r, char *buf, size_t bufsize, bool *is_null);
/* True when every byte was consumed and nothing was read past the end. */
static inline bool snap_r__done(const struct snap_reader *r)
{
	return !r->bad && r->off == r->len;
}

/* One section of a parsed file: points into the file's buffer. */
struct snap_section {
	uint32_t id, version;
	const uint8_t *data;
	size_t len;
};

#define SNAP_MAX_SECTIONS 256

struct snap_file {
	uint8_t *buf; /* the whole file */
	size_t len;
	uint32_t version;
	struct snap_section sec[SNAP_MAX_SECTIONS];
	unsigned nsec;
};

/*
 * Check a state file image: magic, version, length, CRC, and that the sections tile the rest exactly with
 * known ids. Takes ownership of buf (freed by snap_file__free, also on failure). 0, or -1 with the reason.
 */
int snap_file__parse(struct snap_file *f, uint8_t *buf, size_t len, char *err, size_t n);
/* Read and parse a state file from disk. */
int snap_file__read(struct snap_file *f, const char *path, char *err, size_t n);
void snap_file__free(struct snap_file *f);
/* The index-th section with this id (0 = first), or NULL. */
const struct snap_section *snap_file__find(const struct snap_file *f, uint32_t id, unsigned index);
unsigned snap_file__count(const struct snap_file *f, uint32_t id);

/* Write buf to path (created or truncated). -1 with the reason. */
int snap__write_file(const char *path, const void *buf, size_t len, char *err, size_t n);

#endif
