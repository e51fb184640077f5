/* MMDS: the store (PUT, PATCH as RFC 7396, the size limit) and the guest's HTTP (src/mmds/mmds.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mmds/mmds.h"
#include "mmds/stack.h"

#define SEC 1000000000ull

struct answer {
	int status;
	char body[4096];
	size_t used;
};

/* One request: its status and body (0 status: not complete). */
static struct answer ask(struct mmds *m, const char *req, uint64_t now)
{
	struct answer a = { 0 };
	char *out;
	size_t len;
	a.used = mmds__http(m, req, strlen(req), now, &out, &len);
	if (!out)
		return a;
	a.status = atoi(out + 9);
	const char *b = strstr(out, "\r\n\r\n");
	assert_non_null(b);
	size_t blen = len - (size_t)(b + 4 - out);
	assert_true(blen < sizeof(a.body));
	memcpy(a.body, b + 4, blen);
	free(out);
	return a;
}

static int setup(void **state)
{
	struct mmds *m = calloc(1, sizeof(*m));
	mmds__init(m, 200);
	char err[256];
	assert_int_equal(mmds__put(m, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"o\":{\"k\":\"v\"},\"n\":7}}}", err,
				   sizeof(err)),
			 0);
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	mmds__exit(*state);
	free(*state);
	return 0;
}

static void test_store(void **state)
{
	struct mmds *m = *state;
	char err[256];
	assert_int_equal(mmds__patch(m, "{\"latest\":{\"meta-data\":{\"n\":null,\"ami-id\":\"ami-2\",\"new\":{}}}}", err,
				     sizeof(err)),
			 0);
	char *s = mmds__get(m);
	assert_string_equal(s, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-2\",\"o\":{\"k\":\"v\"},\"new\":{}}}}");
	free(s);
	/* Refused, and nothing changed: bad JSON, a document over the limit. */
	assert_int_equal(mmds__put(m, "{\"a\":", err, sizeof(err)), -1);
	char big[400];
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"a\":\"", 6);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	assert_int_equal(mmds__put(m, big, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "limit"));
	assert_int_equal(mmds__patch(m, big, err, sizeof(err)), -1);
	s = mmds__get(m);
	assert_non_null(strstr(s, "ami-2"));
	free(s);
	/* A patch that is not an object replaces the document. */
	assert_int_equal(mmds__patch(m, "[1,2]", err, sizeof(err)), 0);
	s = mmds__get(m);
	assert_string_equal(s, "[1,2]");
	free(s);
}

static void test_v1_text_and_json(void **state)
{
	struct mmds *m = *state;
	struct answer a = ask(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: x\r\n\r\n", 0);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "ami-1");
	a = ask(m, "GET /latest/meta-data/ HTTP/1.1\r\n\r\n", 0);
	assert_string_equal(a.body, "ami-id\no/\nn");
	a = ask(m, "GET /latest/meta-data/o?x=y HTTP/1.1\r\naccept:  application/json \r\n\r\n", 0);
	assert_string_equal(a.body, "{\"k\":\"v\"}");
	assert_int_equal(ask(m, "GET /latest/meta-data/n HTTP/1.1\r\n\r\n", 0).status, 501);
	assert_int_equal(ask(m, "GET /latest/none HTTP/1.1\r\n\r\n", 0).status, 404);
	assert_int_equal(ask(m, "DELETE / HTTP/1.1\r\n\r\n", 0).status, 405);
	assert_int_equal(ask(m, "GET / HTTP/1.1\r\nno colon\r\n\r\n", 0).status, 400);
	mmds__configure(m, MMDS_V1, true); /* imds_compat: text even when JSON is asked for */
	a = ask(m, "GET /latest/meta-data/o HTTP/1.1\r\nAccept: application/json\r\n\r\n", 0);
	assert_string_equal(a.body, "k");
}

static void test_partial_requests(void **state)
{
	struct mmds *m = *state;
	assert_int_equal(ask(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\n", 0).used, 0);
	assert_int_equal(ask(m, "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", 0).used, 0);
	const char *two = "GET / HTTP/1.1\r\n\r\nGET /latest HTTP/1.1\r\n\r\n";
	assert_int_equal(ask(m, two, 0).used, 18); /* one request at a time */
	char huge[MMDS_REQUEST_MAX + 10];
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = 0;
	struct answer a = ask(m, huge, 0);
	assert_int_equal(a.status, 400);
	assert_int_equal(a.used, sizeof(huge) - 1);
}

static void test_v2_tokens(void **state)
{
	struct mmds *m = *state;
	mmds__configure(m, MMDS_V2, false);
	assert_int_equal(ask(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n", 10 * SEC).status, 401);
	assert_int_equal(ask(m, "PUT /latest/api/token HTTP/1.1\r\n\r\n", 10 * SEC).status, 400);
	assert_int_equal(ask(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n", 0).status,
			 400);
	assert_int_equal(ask(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5x\r\n\r\n", 0).status,
			 400);
	assert_int_equal(ask(m, "PUT /latest/api/token HTTP/1.1\r\nX-Forwarded-For: a\r\n"
				"X-metadata-token-ttl-seconds: 5\r\n\r\n",
			     0)
				 .status,
			 400);
	struct answer t = ask(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n", 10 * SEC);
	assert_int_equal(t.status, 200);
	assert_int_equal(strlen(t.body), MMDS_TOKEN_CHARS);
	char req[256];
	snprintf(req, sizeof(req), "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", t.body);
	struct answer a = ask(m, req, 69 * SEC);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "ami-1");
	assert_int_equal(ask(m, req, 70 * SEC).status, 401); /* expired */
	req[strlen("GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: ")] ^= 1;
	assert_int_equal(ask(m, req, 11 * SEC).status, 401); /* not ours */
	/* More tokens than the table holds: the oldest go, new ones work. */
	for (unsigned i = 0; i < MMDS_MAX_TOKENS + 3; i++)
		t = ask(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 600\r\n\r\n", 100 * SEC + i);
	snprintf(req, sizeof(req), "GET /latest HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", t.body);
	assert_int_equal(ask(m, req, 200 * SEC).status, 200);
}

static void test_frames_for_mmds(void **state)
{
	(void)state;
	struct mmds_stack s = { .ip = MMDS_DEFAULT_IPV4 };
	uint8_t f[64] = { 0 };
	f[12] = 0x08, f[13] = 0x06; /* ARP for 169.254.169.254 */
	memcpy(f + 14 + 24, (uint8_t[]){ 169, 254, 169, 254 }, 4);
	assert_true(mmds_stack__wants(&s, f, 42));
	assert_false(mmds_stack__wants(&s, f, 41)); /* truncated */
	f[14 + 27] = 1;				    /* another address */
	assert_false(mmds_stack__wants(&s, f, 42));
	memset(f, 0, sizeof(f));
	f[12] = 0x08, f[14] = 0x45; /* IPv4 to it */
	memcpy(f + 14 + 16, (uint8_t[]){ 169, 254, 169, 254 }, 4);
	assert_true(mmds_stack__wants(&s, f, 34));
	f[14] = 0x65; /* not version 4 */
	assert_false(mmds_stack__wants(&s, f, 34));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_text_and_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_tokens, setup, teardown),
		cmocka_unit_test(test_frames_for_mmds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
