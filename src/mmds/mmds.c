/* MMDS: the metadata document (cJSON), V2 session tokens, and the guest's HTTP requests. */
#include "mmds/mmds.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

void mmds__init(struct mmds *m, size_t limit)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->limit = limit ? limit : MMDS_DEFAULT_LIMIT;
	m->version = MMDS_V1;
}

void mmds__exit(struct mmds *m)
{
	cJSON_Delete(m->data);
	m->data = NULL;
	pthread_mutex_destroy(&m->lock);
}

void mmds__configure(struct mmds *m, enum mmds_version v, bool imds_compat)
{
	pthread_mutex_lock(&m->lock);
	m->version = v;
	m->imds_compat = imds_compat;
	pthread_mutex_unlock(&m->lock);
}

/* A document within the size limit, or NULL with the reason. */
static cJSON *checked(const struct mmds *m, cJSON *doc, char *err, size_t n)
{
	char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
	size_t len = s ? strlen(s) : 0;
	free(s);
	if (!doc || !len) {
		snprintf(err, n, "The MMDS data is not valid JSON.");
	} else if (len > m->limit) {
		snprintf(err, n, "The MMDS patch request doesn't fit: the data store would hold %zu bytes, the limit is %zu.",
			 len, m->limit);
	} else {
		return doc;
	}
	cJSON_Delete(doc);
	return NULL;
}

int mmds__put(struct mmds *m, const char *json, char *err, size_t n)
{
	pthread_mutex_lock(&m->lock);
	cJSON *doc = checked(m, cJSON_Parse(json), err, n);
	if (doc) {
		cJSON_Delete(m->data);
		m->data = doc;
	}
	pthread_mutex_unlock(&m->lock);
	return doc ? 0 : -1;
}

/* RFC 7396: objects merge key by key (null removes), anything else replaces. Returns the new target. */
static cJSON *merge(cJSON *target, const cJSON *patch)
{
	if (!cJSON_IsObject(patch)) {
		cJSON_Delete(target);
		return cJSON_Duplicate(patch, true);
	}
	if (!cJSON_IsObject(target)) {
		cJSON_Delete(target);
		target = cJSON_CreateObject();
	}
	for (const cJSON *p = patch->child; p && target; p = p->next) {
		if (cJSON_IsNull(p)) {
			cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
			continue;
		}
		cJSON *old = cJSON_GetObjectItemCaseSensitive(target, p->string);
		cJSON *merged = merge(old ? cJSON_Duplicate(old, true) : NULL, p);
		if (!merged) {
			cJSON_Delete(target);
			return NULL;
		}
		if (old) /* in its place: keys keep their order */
			cJSON_ReplaceItemInObjectCaseSensitive(target, p->string, merged);
		else
			cJSON_AddItemToObject(target, p->string, merged);
	}
	return target;
}

int mmds__patch(struct mmds *m, const char *json, char *err, size_t n)
{
	cJSON *patch = cJSON_Parse(json);
	if (!patch) {
		snprintf(err, n, "The MMDS data is not valid JSON.");
		return -1;
	}
	pthread_mutex_lock(&m->lock);
	cJSON *doc = checked(m, merge(m->data ? cJSON_Duplicate(m->data, true) : NULL, patch), err, n);
	if (doc) {
		cJSON_Delete(m->data);
		m->data = doc;
	}
	pthread_mutex_unlock(&m->lock);
	cJSON_Delete(patch);
	return doc ? 0 : -1;
}

char *mmds__get(struct mmds *m)
{
	pthread_mutex_lock(&m->lock);
	char *s = m->data ? cJSON_PrintUnformatted(m->data) : strdup("{}");
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* ---- the guest's HTTP ---------------------------------------------------------------------------------- */

struct request {
	char method[8];
	char path[1024];
	bool has_token, has_ttl, forwarded, json;
	char token[MMDS_TOKEN_CHARS + 2];
	char ttl[24];
};

static char *respond(size_t *out_len, int status, const char *reason, const char *type, const char *body)
{
	size_t blen = strlen(body), cap = blen + 256;
	char *r = malloc(cap);
	if (!r) {
		*out_len = 0;
		return NULL;
	}
	int k = snprintf(r, cap, "HTTP/1.1 %d %s\r\nServer: wisp-mmds\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
			 status, reason, type, blen, status == 405 ? "Allow: GET, PUT\r\n" : "");
	memcpy(r + k, body, blen);
	*out_len = (size_t)k + blen;
	return r;
}

static char *error(size_t *out_len, int status, const char *reason, const char *msg)
{
	return respond(out_len, status, reason, "text/plain", msg);
}

/* Copy a header value (trimmed) if it fits. */
static bool value(char *dst, size_t cap, const char *v, size_t len)
{
	while (len && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len >= cap)
		return false;
	memcpy(dst, v, len);
	dst[len] = 0;
	return true;
}

/* Parse the head [buf, end): request line and the headers MMDS looks at. false: malformed. */
static bool parse_head(const char *buf, const char *end, struct request *q, size_t *content_length)
{
	const char *eol = memchr(buf, '\r', (size_t)(end - buf));
	const char *sp1 = eol ? memchr(buf, ' ', (size_t)(eol - buf)) : NULL;
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp2 || (size_t)(sp1 - buf) >= sizeof(q->method) || (size_t)(sp2 - sp1 - 1) >= sizeof(q->path) ||
	    sp2 == sp1 + 1 || eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7))
		return false;
	memcpy(q->method, buf, (size_t)(sp1 - buf));
	memcpy(q->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	*content_length = 0;
	for (const char *line = eol + 2; line < end;) {
		const char *e = memchr(line, '\r', (size_t)(end - line));
		if (!e || e + 1 >= end || e[1] != '\n')
			return false;
		if (e == line)
			break;
		const char *colon = memchr(line, ':', (size_t)(e - line));
		if (!colon)
			return false;
		size_t nlen = (size_t)(colon - line), vlen = (size_t)(e - colon - 1);
		const char *v = colon + 1;
#define IS(name) (nlen == sizeof(name) - 1 && !strncasecmp(line, name, nlen))
		if (IS("X-metadata-token")) {
			if (!value(q->token, sizeof(q->token), v, vlen))
				q->token[0] = 0; /* too long to be one of ours */
			q->has_token = true;
		} else if (IS("X-metadata-token-ttl-seconds")) {
			if (!value(q->ttl, sizeof(q->ttl), v, vlen))
				snprintf(q->ttl, sizeof(q->ttl), "(too long)");
			q->has_ttl = true;
		} else if (IS("X-Forwarded-For")) {
			q->forwarded = true;
		} else if (IS("Accept")) {
			char a[128];
			q->json = value(a, sizeof(a), v, vlen) && !strncasecmp(a, "application/json", 16);
		} else if (IS("Content-Length")) {
			char c[24], *ce;
			if (!value(c, sizeof(c), v, vlen) || !isdigit((unsigned char)c[0]))
				return false;
			errno = 0;
			unsigned long long cl = strtoull(c, &ce, 10);
			if (errno || *ce || cl > MMDS_REQUEST_MAX)
				return false;
			*content_length = (size_t)cl;
		}
#undef IS
		line = e + 2;
	}
	return true;
}

static bool token_valid(struct mmds *m, const char *t, uint64_t now_ns)
{
	if (strlen(t) != MMDS_TOKEN_CHARS)
		return false;
	for (unsigned i = 0; i < MMDS_MAX_TOKENS; i++)
		if (m->tokens[i].value[0] && !strcmp(m->tokens[i].value, t))
			return m->tokens[i].expires_ns > now_ns;
	return false;
}

static char *new_token(struct mmds *m, const struct request *q, uint64_t now_ns, size_t *out_len)
{
	char *end;
	errno = 0;
	long long ttl = strtoll(q->ttl, &end, 10);
	if (!q->has_ttl)
		return error(out_len, 400, "Bad Request", "Token time to live value not found.");
	if (errno || end == q->ttl || *end || ttl < 1 || ttl > MMDS_MAX_TTL) {
		char msg[160];
		snprintf(msg, sizeof(msg), "Invalid time to live value provided for token: %.24s. Please provide a value "
					   "between 1 and %d.", q->ttl, MMDS_MAX_TTL);
		return error(out_len, 400, "Bad Request", msg);
	}
	uint8_t raw[MMDS_TOKEN_CHARS / 2];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return error(out_len, 500, "Internal Server Error", "Cannot generate a token.");
	/* The slot of an expired token, else the one that expires first. */
	struct mmds_token *slot = &m->tokens[0];
	for (unsigned i = 0; i < MMDS_MAX_TOKENS; i++) {
		struct mmds_token *t = &m->tokens[i];
		if (!t->value[0] || t->expires_ns <= now_ns) {
			slot = t;
			break;
		}
		if (t->expires_ns < slot->expires_ns)
			slot = t;
	}
	for (unsigned i = 0; i < sizeof(raw); i++)
		snprintf(slot->value + 2 * i, 3, "%02x", raw[i]);
	slot->expires_ns = now_ns + (uint64_t)ttl * 1000000000ull;
	return respond(out_len, 200, "OK", "text/plain", slot->value);
}

/* The node at a path ("/latest/meta-data/x", a query string ignored), or NULL. */
static const cJSON *lookup(const cJSON *doc, char *path)
{
	char *q = strchr(path, '?');
	if (q)
		*q = 0;
	char *save = NULL;
	for (char *seg = strtok_r(path, "/", &save); seg && doc; seg = strtok_r(NULL, "/", &save)) {
		if (cJSON_IsObject(doc)) {
			doc = cJSON_GetObjectItemCaseSensitive(doc, seg);
		} else if (cJSON_IsArray(doc) && isdigit((unsigned char)seg[0])) {
			char *e;
			long i = strtol(seg, &e, 10);
			doc = *e || i > INT32_MAX ? NULL : cJSON_GetArrayItem(doc, (int)i);
		} else {
			doc = NULL;
		}
	}
	return doc;
}

/* IMDS text: an object's keys one a line (objects with '/'), a string itself; NULL for other types. */
static char *imds_text(const cJSON *node)
{
	if (cJSON_IsString(node))
		return strdup(node->valuestring);
	if (!cJSON_IsObject(node))
		return NULL;
	size_t cap = 1;
	for (const cJSON *c = node->child; c; c = c->next)
		cap += strlen(c->string) + 2;
	char *s = malloc(cap), *p = s;
	if (!s)
		return NULL;
	for (const cJSON *c = node->child; c; c = c->next) {
		if (p != s)
			*p++ = '\n';
		size_t k = strlen(c->string);
		memcpy(p, c->string, k);
		p += k;
		if (cJSON_IsObject(c))
			*p++ = '/';
	}
	*p = 0;
	return s;
}

static char *get(struct mmds *m, struct request *q, uint64_t now_ns, size_t *out_len)
{
	if (m->version == MMDS_V2 && !q->has_token)
		return error(out_len, 401, "Unauthorized",
			     "No MMDS token provided. Use `X-metadata-token` header to specify the session token.");
	if (m->version == MMDS_V2 && !token_valid(m, q->token, now_ns)) {
		m->unauthorized++;
		return error(out_len, 401, "Unauthorized", "MMDS token not valid.");
	}
	char path[sizeof(q->path)];
	snprintf(path, sizeof(path), "%s", q->path);
	const cJSON *node = m->data ? lookup(m->data, path) : NULL;
	if (!node) {
		char msg[sizeof(q->path) + 32];
		snprintf(msg, sizeof(msg), "Resource not found: %s.", q->path);
		return error(out_len, 404, "Not Found", msg);
	}
	if (q->json && !m->imds_compat) {
		char *s = cJSON_PrintUnformatted(node);
		char *r = s ? respond(out_len, 200, "OK", "application/json", s) : NULL;
		free(s);
		return r;
	}
	char *s = imds_text(node);
	if (!s)
		return error(out_len, 501, "Not Implemented",
			     "Cannot retrieve value. The value has an unsupported type.");
	char *r = respond(out_len, 200, "OK", "text/plain", s);
	free(s);
	return r;
}

size_t mmds__http(struct mmds *m, const char *buf, size_t len, uint64_t now_ns, char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	const char *end = NULL;
	for (size_t i = 0; i + 3 < len && !end; i++)
		if (buf[i] == '\r' && !memcmp(buf + i, "\r\n\r\n", 4))
			end = buf + i + 4;
	if (!end) {
		if (len < MMDS_REQUEST_MAX)
			return 0;
		*out = error(out_len, 400, "Bad Request", "Request too large.");
		return len;
	}
	struct request q;
	memset(&q, 0, sizeof(q));
	size_t body = 0;
	pthread_mutex_lock(&m->lock);
	m->requests++;
	size_t used = (size_t)(end - buf);
	if (!parse_head(buf, end, &q, &body)) {
		m->bad_requests++;
		*out = error(out_len, 400, "Bad Request", "Malformed HTTP request.");
		used = len; /* no way to find the next request: drop what there is */
	} else if (len - used < body) {
		used = 0; /* the body is still coming */
	} else {
		used += body;
		if (!strcmp(q.method, "PUT") && !strcmp(q.path, "/latest/api/token")) {
			*out = q.forwarded ? error(out_len, 400, "Bad Request", "Invalid header. Reason: Unsupported "
											"header name. Key: X-Forwarded-For")
					   : new_token(m, &q, now_ns, out_len);
		} else if (!strcmp(q.method, "GET")) {
			*out = get(m, &q, now_ns, out_len);
		} else {
			*out = error(out_len, 405, "Method Not Allowed", "Not allowed HTTP method.");
		}
	}
	pthread_mutex_unlock(&m->lock);
	return used;
}
