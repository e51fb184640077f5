/*
 * Shared by the fuzz targets: the libFuzzer entry point they define, and a reader that turns the input bytes
 * into the values a target needs (past the end it yields zeros, so every input is a valid program).
 */
#ifndef WISP_FUZZ_H
#define WISP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional one-time set-up, called by libFuzzer and by the replay runner before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fz__bytes(struct fz *f, unsigned k)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < k && f->n; i++, f->p++, f->n--)
		v |= (uint64_t)*f->p << (8 * i);
	return v;
}

static inline uint8_t fz__u8(struct fz *f)
{
	return (uint8_t)fz__bytes(f, 1);
}

static inline uint16_t fz__u16(struct fz *f)
{
	return (uint16_t)fz__bytes(f, 2);
}

static inline uint32_t fz__u32(struct fz *f)
{
	return (uint32_t)fz__bytes(f, 4);
}

static inline uint64_t fz__u64(struct fz *f)
{
	return fz__bytes(f, 8);
}

static inline size_t fz__left(const struct fz *f)
{
	return f->n;
}

/* Copy up to len bytes (zero-filling the rest); returns how many came from the input. */
static inline size_t fz__copy(struct fz *f, void *dst, size_t len)
{
	size_t k = len < f->n ? len : f->n;
	memcpy(dst, f->p, k);
	memset((uint8_t *)dst + k, 0, len - k);
	f->p += k;
	f->n -= k;
	return k;
}

/* For harness-only loops that would otherwise dominate the run time under coverage instrumentation. */
#if defined(__clang__)
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#else
#define FUZZ_NO_COVERAGE __attribute__((noinline))
#endif

/* A broken invariant: report it the way a sanitizer would, so both runners stop with a failure. */
#define FUZZ_CHECK(cond)                                                                                       \
	do {                                                                                                   \
		if (!(cond)) {                                                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
			abort();                                                                               \
		}                                                                                              \
	} while (0)

#endif
