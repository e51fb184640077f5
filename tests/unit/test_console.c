/* The console's output side: a hart never waits for the reader; what does not fit is dropped and counted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/console.h"

#define TOTAL 300000

static uint8_t expected(size_t i)
{
	return (uint8_t)('a' + (i * 7 + i / 26) % 26);
}

struct reader {
	int fd;
	uint8_t *buf;
	size_t len;
};

static void *read_all(void *opaque)
{
	struct reader *r = opaque;
	ssize_t n;
	while ((n = read(r->fd, r->buf + r->len, TOTAL - r->len)) > 0)
		r->len += (size_t)n;
	return NULL;
}

/* Nobody reads the pipe while the guest prints: every put returns, the output is a prefix, drops add up. */
static void test_pipe_nobody_reads(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	int flags = fcntl(p[1], F_GETFL);
	struct console *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	assert_int_equal(console__init(c, NULL, -1, p[1]), 0);
	for (size_t i = 0; i < TOTAL; i++)
		console__put(c, expected(i));
	uint64_t dropped = console__dropped(c);
	assert_true(dropped >= TOTAL - CONSOLE_OUT_BUF - 65536);

	/* A reader comes: what was kept arrives, in order, and the exit writes it all out. */
	struct reader r = { p[0], malloc(TOTAL), 0 };
	assert_non_null(r.buf);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, read_all, &r), 0);
	console__exit(c);
	assert_int_equal(fcntl(p[1], F_GETFL), flags); /* the description given is left as it was */
	close(p[1]);
	pthread_join(t, NULL);
	close(p[0]);
	assert_true(r.len >= 65536);
	assert_int_equal(r.len + console__dropped(c), TOTAL);
	for (size_t i = 0; i < r.len; i++)
		if (r.buf[i] != expected(i))
			fail_msg("byte %zu differs", i);
	free(r.buf);
	free(c);
}

/* A regular file takes everything. */
static void test_file_takes_all(void **state)
{
	(void)state;
	char path[] = "/tmp/wisp-test-console-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	struct console *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	assert_int_equal(console__init(c, NULL, -1, fd), 0);
	for (size_t i = 0; i < TOTAL; i++)
		console__put(c, expected(i));
	console__exit(c);
	console__exit(c); /* idempotent */
	assert_int_equal(console__dropped(c), 0);
	assert_int_equal(lseek(fd, 0, SEEK_END), TOTAL);
	uint8_t *buf = malloc(TOTAL);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, TOTAL, 0), TOTAL);
	for (size_t i = 0; i < TOTAL; i++)
		if (buf[i] != expected(i))
			fail_msg("byte %zu differs", i);
	free(buf);
	free(c);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_nobody_reads),
		cmocka_unit_test(test_file_takes_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
