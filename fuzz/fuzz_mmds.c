/*
 * Fuzz target: MMDS's guest-facing HTTP (src/mmds/mmds.c) and its frame classifier (src/mmds/stack.c).
 *
 * Input: a mode byte, then
 *   mode 0: a config byte (bit 0: V2, bit 1: imds_compat), then a byte stream from the guest, cut into chunks:
 *           each chunk is a length byte and that many bytes, appended to the connection's buffer, which is
 *           answered (mmds__http) as a real connection would be; time moves by a second per chunk;
 *   mode 1: documents for the store: an op byte (PUT or PATCH), a u16 length, the text; then a GET of each
 *           path in a fixed list;
 *   mode 2: Ethernet frames (u16 length, bytes) for mmds_stack__wants.
 * Checked: every answer is an HTTP/1.1 response whose Content-Length is the body that follows; a request
 * is never answered with more bytes used than given; ASan/UBSan/LeakSanitizer catch the rest.
 */
#include "fuzz.h"

#include "mmds/mmds.h"
#include "mmds/stack.h"

static const char doc[] = "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"list\":[\"a\",{\"b\":\"c\"}],"
			  "\"n\":1,\"o\":{\"k\":\"v\"}},\"api\":{}}}";

static void check(const char *out, size_t len)
{
	if (!out)
		return;
	if (len < 12 || memcmp(out, "HTTP/1.1 ", 9))
		abort();
	/* The response is len bytes, not a C string: look at a terminated copy. */
	char *r = malloc(len + 1);
	if (!r)
		abort();
	memcpy(r, out, len);
	r[len] = 0;
	const char *cl = strstr(r, "Content-Length: "), *body = strstr(r, "\r\n\r\n");
	if (!cl || !body || (size_t)strtoul(cl + 16, NULL, 10) != len - (size_t)(body + 4 - r))
		abort();
	free(r);
}

static void http_stream(struct fz *f)
{
	struct mmds m;
	mmds__init(&m, 0);
	char err[256];
	if (mmds__put(&m, doc, err, sizeof(err)) < 0)
		abort();
	unsigned cfg = (unsigned)fz__bytes(f, 1);
	mmds__configure(&m, cfg & 1 ? MMDS_V2 : MMDS_V1, cfg & 2);
	static char buf[MMDS_REQUEST_MAX + 256];
	size_t len = 0;
	uint64_t now = 1000000000ull;
	while (f->n) {
		size_t k = (size_t)fz__bytes(f, 1);
		for (size_t i = 0; i < k && f->n && len < MMDS_REQUEST_MAX; i++)
			buf[len++] = (char)fz__bytes(f, 1);
		now += 1000000000ull;
		for (;;) {
			char *out;
			size_t out_len;
			size_t used = mmds__http(&m, buf, len, now, &out, &out_len);
			if (used > len)
				abort();
			check(out, out_len);
			/* A valid token for the next requests: the guest would have read it from the answer. */
			free(out);
			if (!used)
				break;
			memmove(buf, buf + used, len - used);
			len -= used;
		}
	}
	mmds__exit(&m);
}

static void store(struct fz *f)
{
	struct mmds m;
	mmds__init(&m, 4096);
	char err[256];
	static char text[65536 + 1];
	while (f->n > 3) {
		unsigned op = (unsigned)fz__bytes(f, 1);
		size_t k = (size_t)fz__bytes(f, 2);
		size_t i = 0;
		for (; i < k && f->n; i++)
			text[i] = (char)fz__bytes(f, 1);
		text[i] = 0;
		int r = op & 1 ? mmds__patch(&m, text, err, sizeof(err)) : mmds__put(&m, text, err, sizeof(err));
		if (r < 0 && !memchr(err, 0, sizeof(err)))
			abort();
		char *s = mmds__get(&m);
		if (!s || strlen(s) > 4096)
			abort();
		free(s);
	}
	static const char *const gets[] = {
		"GET / HTTP/1.1\r\n\r\n",
		"GET /latest/meta-data/ HTTP/1.1\r\nAccept: application/json\r\n\r\n",
		"GET /latest/meta-data/list/1/b HTTP/1.1\r\n\r\n",
		"GET /a/b/c/d/e?x=1 HTTP/1.1\r\n\r\n",
	};
	for (unsigned i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		char *out;
		size_t out_len;
		if (mmds__http(&m, gets[i], strlen(gets[i]), 1, &out, &out_len) != strlen(gets[i]))
			abort();
		check(out, out_len);
		free(out);
	}
	mmds__exit(&m);
}

static void frames(struct fz *f)
{
	struct mmds_stack s;
	memset(&s, 0, sizeof(s));
	s.ip = MMDS_DEFAULT_IPV4;
	static uint8_t frame[65536];
	while (f->n) {
		size_t k = (size_t)fz__bytes(f, 2), i = 0;
		for (; i < k && f->n; i++)
			frame[i] = (uint8_t)fz__bytes(f, 1);
		(void)mmds_stack__wants(&s, frame, i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	switch (fz__bytes(&f, 1) % 3) {
	case 0:
		http_stream(&f);
		break;
	case 1:
		store(&f);
		break;
	default:
		frames(&f);
	}
	return 0;
}
