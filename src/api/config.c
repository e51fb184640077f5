/* --config-file: Firecracker's whole-VM JSON document applied section by section through the controller. */
#include <stdio.h>
#include <string.h>

#include "api/parse.h"

/* Sections of Firecracker's document that wisp cannot provide yet: refused when present. */
static const char *const unsupported[] = { "cpu-config", "pmem", "memory-hotplug", NULL };
static const char *const known[] = { "boot-source", "machine-config", "drives",	 "network-interfaces",
				     "logger",	    "metrics",	      "entropy", "serial",
				     "vsock",	    "balloon",	      "mmds-config", NULL };

static bool in(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* One object section: parse it into its struct, hand it to the controller. */
static int apply_one(struct controller *c, const char *name, const cJSON *s, char *why, size_t n)
{
	if (!strcmp(name, "logger")) {
		struct logger_cfg l;
		return api_parse__logger(s, &l, why, n) < 0 ? -1 : controller__set_logger(c, &l, why, n);
	}
	if (!strcmp(name, "metrics")) {
		struct metrics_cfg m;
		return api_parse__metrics(s, &m, why, n) < 0 ? -1 : controller__set_metrics(c, &m, why, n);
	}
	if (!strcmp(name, "machine-config")) {
		struct machine_cfg_update u;
		return api_parse__machine_config(s, true, &u, why, n) < 0
			       ? -1
			       : controller__update_machine(c, &u, true, why, n);
	}
	if (!strcmp(name, "boot-source")) {
		struct boot_source_cfg b;
		return api_parse__boot_source(s, &b, why, n) < 0 ? -1 : controller__set_boot_source(c, &b, why, n);
	}
	if (!strcmp(name, "drives")) {
		struct drive_cfg d;
		return api_parse__drive(s, &d, why, n) < 0 ? -1 : controller__put_drive(c, &d, why, n);
	}
	if (!strcmp(name, "network-interfaces")) {
		struct net_cfg nc;
		return api_parse__net(s, &nc, why, n) < 0 ? -1 : controller__put_net(c, &nc, why, n);
	}
	if (!strcmp(name, "vsock")) {
		struct vsock_cfg v;
		return api_parse__vsock(s, &v, why, n) < 0 ? -1 : controller__set_vsock(c, &v, why, n);
	}
	if (!strcmp(name, "balloon")) {
		struct balloon_cfg b;
		return api_parse__balloon(s, &b, why, n) < 0 ? -1 : controller__set_balloon(c, &b, why, n);
	}
	if (!strcmp(name, "entropy")) {
		struct entropy_cfg e;
		return api_parse__entropy(s, &e, why, n) < 0 ? -1 : controller__set_entropy(c, &e, why, n);
	}
	if (!strcmp(name, "mmds-config")) {
		struct mmds_cfg m;
		return api_parse__mmds_config(s, &m, why, n) < 0 ? -1 : controller__set_mmds_config(c, &m, why, n);
	}
	struct serial_cfg sc;
	return api_parse__serial(s, &sc, why, n) < 0 ? -1 : controller__set_serial(c, &sc, why, n);
}

int api_config__apply(struct controller *c, const char *text, size_t len, char *err, size_t n)
{
	/* The order Firecracker applies them in: logging first, so the rest is logged. */
	static const char *const order[] = { "logger",	"metrics", "machine-config", "boot-source", "drives",
					     "network-interfaces", "mmds-config", "entropy", "vsock", "balloon",
					     "serial", NULL };
	char why[1024];
	cJSON *doc = api_json__parse(text, len, why, sizeof(why));
	if (!doc) {
		snprintf(err, n, "configuration: %s", why);
		return -1;
	}
	int r = -1;
	if (!cJSON_IsObject(doc)) {
		snprintf(err, n, "configuration: expected a JSON object");
		goto out;
	}
	for (const cJSON *it = doc->child; it; it = it->next) {
		if (in(unsupported, it->string) && !cJSON_IsNull(it)) {
			snprintf(err, n, "%s: not supported by wisp yet", it->string);
			goto out;
		}
		if (!in(known, it->string) && !in(unsupported, it->string)) {
			snprintf(err, n, "configuration: unknown field `%s`", it->string);
			goto out;
		}
	}
	const cJSON *boot = cJSON_GetObjectItemCaseSensitive(doc, "boot-source");
	if (!boot || cJSON_IsNull(boot)) {
		snprintf(err, n, "configuration: missing field `boot-source`");
		goto out;
	}
	for (const char *const *name = order; *name; name++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, *name);
		if (!s || cJSON_IsNull(s))
			continue;
		bool list = !strcmp(*name, "drives") || !strcmp(*name, "network-interfaces");
		if (!list) {
			if (apply_one(c, *name, s, why, sizeof(why)) < 0) {
				snprintf(err, n, "%s: %s", *name, why);
				goto out;
			}
			continue;
		}
		if (!cJSON_IsArray(s)) {
			snprintf(err, n, "%s: expected an array", *name);
			goto out;
		}
		int i = 0;
		for (const cJSON *e = s->child; e; e = e->next, i++) {
			if (apply_one(c, *name, e, why, sizeof(why)) < 0) {
				snprintf(err, n, "%s[%d]: %s", *name, i, why);
				goto out;
			}
		}
	}
	r = 0;
out:
	cJSON_Delete(doc);
	return r;
}
