/*
 * Fuzz target: the API's input parsers (src/api): every JSON request body parser on arbitrary text, the
 * request router (path splitting, method and body rules, then the parsers and the controller's pre-boot
 * checks) on sequences of requests, and --config-file documents.
 *
 * Input: a mode byte, then
 *   mode 0: a parser selector byte, then the body text (api_json__parse + one api_parse__* function);
 *   mode 1: requests until the input ends: method byte, path (a known route with a fuzzed id, or raw bytes
 *           up to a NUL), body length (u16), body; handled by a router over a fresh, never started controller;
 *   mode 2: a whole config document for api_config__apply on a fresh controller.
 * Requests and documents that would make the controller write host files or start the microVM (logger,
 * metrics, serial, actions, snapshots) are left out: a fuzzer must not create files at arbitrary paths.
 * Checked: responses are 200/204/400 with a body exactly when they should have one, err strings are
 * terminated; ASan/UBSan/LeakSanitizer catch the rest.
 */
#include <strings.h>

#include "fuzz.h"

#include "api/parse.h"
#include "api/router.h"
#include "log/log.h"

#define MAX_REQUESTS 16
#define ERR_LEN 256

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static bool forbidden(const char *s, size_t len)
{
	static const char *const words[] = { "logger", "metrics", "serial", "actions", "snapshot" };
	for (size_t i = 0; i < len; i++)
		for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
			size_t k = strlen(words[w]);
			if (len - i >= k && strncasecmp(s + i, words[w], k) == 0)
				return true;
		}
	return false;
}

static void check_err(const char *err)
{
	FUZZ_CHECK(memchr(err, 0, ERR_LEN) != NULL);
}

/* The parsers write into large structs (host paths are PATH_MAX): one union on the heap for all. */
union parsed {
	struct boot_source_cfg boot;
	struct machine_cfg_update machine;
	struct drive_cfg drive;
	struct drive_update drive_update;
	struct net_cfg net;
	struct net_update net_update;
	struct entropy_cfg entropy;
	struct serial_cfg serial;
	struct logger_cfg logger;
	struct metrics_cfg metrics;
	struct snapshot_create_cfg snap_create;
	struct snapshot_load_cfg snap_load;
	enum api_action action;
	bool pause;
};

static void parse_one(uint8_t which, const char *text, size_t len)
{
	char err[ERR_LEN];
	err[0] = 0;
	cJSON *j = api_json__parse(text, len, err, sizeof(err));
	check_err(err);
	if (!j)
		return;
	union parsed *p = malloc(sizeof(*p));
	if (!p) {
		cJSON_Delete(j);
		return;
	}
	memset(p, 0xa5, sizeof(*p)); /* whatever the parser leaves unset must not matter */
	err[0] = 0;
	switch (which % 16) {
	case 0: api_parse__boot_source(j, &p->boot, err, sizeof(err)); break;
	case 1: api_parse__machine_config(j, true, &p->machine, err, sizeof(err)); break;
	case 2: api_parse__machine_config(j, false, &p->machine, err, sizeof(err)); break;
	case 3: api_parse__drive(j, &p->drive, err, sizeof(err)); break;
	case 4: api_parse__drive_update(j, &p->drive_update, err, sizeof(err)); break;
	case 5: api_parse__net(j, &p->net, err, sizeof(err)); break;
	case 6: api_parse__net_update(j, &p->net_update, err, sizeof(err)); break;
	case 7: api_parse__entropy(j, &p->entropy, err, sizeof(err)); break;
	case 8: api_parse__serial(j, &p->serial, err, sizeof(err)); break;
	case 9: api_parse__logger(j, &p->logger, err, sizeof(err)); break;
	case 10: api_parse__metrics(j, &p->metrics, err, sizeof(err)); break;
	case 11: api_parse__action(j, &p->action, err, sizeof(err)); break;
	case 12: api_parse__vm_state(j, &p->pause, err, sizeof(err)); break;
	case 13: api_parse__snapshot_create(j, &p->snap_create, err, sizeof(err)); break;
	case 14: api_parse__snapshot_load(j, &p->snap_load, err, sizeof(err)); break;
	default: api_parse__boot_source(j, &p->boot, err, sizeof(err)); break;
	}
	check_err(err);
	free(p);
	cJSON_Delete(j);
}

/* Routes without side effects outside the process; "%s" takes an id from the input. */
static const struct {
	const char *method, *path;
} routes[] = {
	{ "GET", "/" },
	{ "GET", "/version" },
	{ "GET", "/machine-config" },
	{ "GET", "/vm/config" },
	{ "PUT", "/boot-source" },
	{ "PUT", "/machine-config" },
	{ "PATCH", "/machine-config" },
	{ "PUT", "/drives/%s" },
	{ "PATCH", "/drives/%s" },
	{ "PUT", "/network-interfaces/%s" },
	{ "PATCH", "/network-interfaces/%s" },
	{ "PUT", "/entropy" },
	{ "PATCH", "/vm" },
	{ "PUT", "/balloon" },
	{ "PUT", "/mmds" },
	{ "DELETE", "/drives/%s" },
};
static const char *const methods[] = { "GET", "PUT", "PATCH", "POST", "DELETE", "" };

/* Read a string from the input up to a NUL or max bytes; returns its length. */
static size_t fz__str(struct fz *f, char *out, size_t max)
{
	size_t k = 0;
	while (k < max && fz__left(f)) {
		uint8_t c = fz__u8(f);
		if (!c)
			break;
		out[k++] = (char)c;
	}
	out[k] = 0;
	return k;
}

static void route_requests(struct fz *f)
{
	struct controller *c = malloc(sizeof(*c));
	struct api_router *r = malloc(sizeof(*r));
	char *body = malloc(65536);
	if (!c || !r || !body)
		goto out;
	controller__init(c, "fuzz", -1, -1, NULL, NULL); /* no logger (quiet), no metrics */
	api_router__init(r, c);
	for (unsigned n = 0; n < MAX_REQUESTS && fz__left(f); n++) {
		uint8_t how = fz__u8(f);
		char path[600], id[80];
		const char *method;
		if (how & 0x80) { /* raw method and path */
			method = methods[(how >> 4) % 6];
			size_t len = fz__str(f, path, 560);
			if (forbidden(path, len))
				continue;
		} else {
			unsigned i = how % (sizeof(routes) / sizeof(routes[0]));
			method = routes[i].method;
			size_t len = fz__str(f, id, 70);
			if (forbidden(id, len))
				continue;
			snprintf(path, sizeof(path), routes[i].path, id);
		}
		size_t blen = fz__u16(f);
		blen = fz__copy(f, body, blen);
		struct api_response resp = { 0 };
		api_router__handle(r, method, path, blen ? body : NULL, blen, &resp);
		FUZZ_CHECK(resp.status == 200 || resp.status == 204 || resp.status == 400 || resp.status == 500);
		if (resp.status == 204)
			FUZZ_CHECK(resp.body == NULL);
		if (resp.status == 400)
			FUZZ_CHECK(resp.body != NULL);
		api_response__free(&resp);
		FUZZ_CHECK(controller__state(c) == VM_NOT_STARTED);
	}
	api_router__exit(r);
	controller__exit(c);
out:
	free(body);
	free(r);
	free(c);
}

static void apply_config(const char *text, size_t len)
{
	/* Only documents whose sections have no host side effects (see above). */
	char err[ERR_LEN];
	cJSON *doc = api_json__parse(text, len, err, sizeof(err));
	if (doc) {
		bool bad = false;
		for (const cJSON *s = doc->child; s; s = s->next)
			if (s->string && forbidden(s->string, strlen(s->string)))
				bad = true;
		cJSON_Delete(doc);
		if (bad)
			return;
	}
	struct controller *c = malloc(sizeof(*c));
	if (!c)
		return;
	controller__init(c, "fuzz", -1, -1, NULL, NULL); /* no logger (quiet), no metrics */
	err[0] = 0;
	api_config__apply(c, text, len, err, sizeof(err));
	check_err(err);
	FUZZ_CHECK(controller__state(c) == VM_NOT_STARTED);
	controller__exit(c);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		LLVMFuzzerInitialize(NULL, NULL);
		init = true;
	}
	struct fz f = { data, size };
	uint8_t mode = fz__u8(&f);
	switch (mode % 3) {
	case 0: {
		uint8_t which = fz__u8(&f);
		parse_one(which, (const char *)f.p, f.n);
		break;
	}
	case 1:
		route_requests(&f);
		break;
	case 2:
		apply_config((const char *)f.p, f.n);
		break;
	}
	return 0;
}
