/*
 * MMDS, Firecracker's microVM metadata service: a JSON document the host sets through the API and the guest
 * reads with plain HTTP at a link-local address (169.254.169.254 by default) over the interfaces listed in its
 * configuration. This file is the data store and the guest-facing HTTP handling (no networking here:
 * stack.c carries the bytes between the guest's TCP connections and mmds__http).
 *
 *  V1: GETs are answered directly. V2: a session token first (PUT /latest/api/token with
 *  X-metadata-token-ttl-seconds: 1..21600), then every GET carries it in X-metadata-token.
 *  GET paths index into the document (/latest/meta-data/ami-id); `Accept: application/json` answers JSON,
 *  anything else IMDS text (an object lists its keys, one a line, objects with a trailing '/'; a string is
 *  itself); imds_compat answers IMDS text always.
 *
 * Thread-safe: the API thread changes the document while the I/O thread answers the guest.
 */
#ifndef WISP_MMDS_MMDS_H
#define WISP_MMDS_MMDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMDS_DEFAULT_LIMIT 51200	   /* bytes of JSON: Firecracker's default (the API payload limit) */
#define MMDS_DEFAULT_IPV4 0xa9fea9feu	   /* 169.254.169.254 */
#define MMDS_MAX_TOKENS 64
#define MMDS_TOKEN_CHARS 64		   /* hex of 32 random bytes */
#define MMDS_MAX_TTL 21600		   /* seconds */
#define MMDS_REQUEST_MAX 8192		   /* one guest request, headers and body */

enum mmds_version { MMDS_V1 = 1, MMDS_V2 = 2 };

struct mmds_token {
	char value[MMDS_TOKEN_CHARS + 1]; /* "" = free */
	uint64_t expires_ns;		  /* CLOCK_MONOTONIC */
};

struct mmds {
	pthread_mutex_t lock;
	struct cJSON *data; /* NULL until the first PUT */
	size_t limit;
	enum mmds_version version;
	bool imds_compat;
	struct mmds_token tokens[MMDS_MAX_TOKENS];
	uint64_t requests, bad_requests, unauthorized; /* guest side counters */
};

void mmds__init(struct mmds *m, size_t limit);
void mmds__exit(struct mmds *m);
void mmds__configure(struct mmds *m, enum mmds_version v, bool imds_compat);
/* PUT: replace the document (a JSON value of at most `limit` bytes). -1 with the reason, nothing changed. */
int mmds__put(struct mmds *m, const char *json, char *err, size_t n);
/* PATCH: RFC 7396 merge patch into the document (an empty one if none). -1 with the reason, nothing changed. */
int mmds__patch(struct mmds *m, const char *json, char *err, size_t n);
/* The document as JSON (malloc'd; "{}" before any PUT). */
char *mmds__get(struct mmds *m);

/*
 * One HTTP request from the guest at the start of buf[0, len): 0 if it is not complete yet (and len is below
 * MMDS_REQUEST_MAX), else the bytes it used, with the response (malloc'd, *out_len bytes) in *out.
 * now_ns: CLOCK_MONOTONIC, for token lifetimes.
 */
size_t mmds__http(struct mmds *m, const char *buf, size_t len, uint64_t now_ns, char **out, size_t *out_len);

#endif
