/* Request bodies -> config structs: strict field sets, types and required fields. */
#include "api/parse.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Where an error is reported: the buffer and the path of the object being read ("" or "rate_limiter.ops"). */
struct pctx {
	char *err;
	size_t n;
	const char *where;
};

static int fail(const struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const struct pctx *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, p->n, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *kind(const cJSON *j)
{
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNull(j))
		return "null";
	if (cJSON_IsArray(j))
		return "an array";
	return "an object";
}

/* ---- the document ------------------------------------------------------------------------------------ */

/* "\u0000" inside a string would silently cut the C string short: refuse it. */
static bool has_nul_escape(const char *s, size_t len)
{
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		if (!in_str) {
			in_str = s[i] == '"';
			continue;
		}
		if (s[i] == '"') {
			in_str = false;
		} else if (s[i] == '\\' && i + 1 < len) {
			if (s[i + 1] == 'u' && i + 5 < len && !memcmp(s + i + 2, "0000", 4))
				return true;
			i++; /* skip the escaped character */
		}
	}
	return false;
}

static bool has_duplicate_keys(const cJSON *j, const char **dup)
{
	for (const cJSON *a = j ? j->child : NULL; a; a = a->next) {
		if (cJSON_IsObject(j))
			for (const cJSON *b = a->next; b; b = b->next)
				if (!strcmp(a->string, b->string)) {
					*dup = a->string;
					return true;
				}
		if ((cJSON_IsObject(a) || cJSON_IsArray(a)) && has_duplicate_keys(a, dup))
			return true;
	}
	return false;
}

cJSON *api_json__parse(const char *text, size_t len, char *err, size_t n)
{
	if (has_nul_escape(text, len)) {
		snprintf(err, n, "strings must not contain \\u0000");
		return NULL;
	}
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!j || !end) {
		size_t off = end && end >= text ? (size_t)(end - text) : 0, line = 1, col = 1;
		for (size_t i = 0; i < off && i < len; i++, col++)
			if (text[i] == '\n')
				line++, col = 0;
		snprintf(err, n, "invalid JSON at line %zu column %zu", line, col);
		cJSON_Delete(j);
		return NULL;
	}
	for (const char *p = end; p < text + len; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != 0) {
			snprintf(err, n, "trailing characters after the JSON value");
			cJSON_Delete(j);
			return NULL;
		}
	}
	const char *dup = NULL;
	if (has_duplicate_keys(j, &dup)) {
		snprintf(err, n, "duplicate field `%s`", dup);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* ---- fields ------------------------------------------------------------------------------------------ */

struct fld {
	const char *name;
	const cJSON *v; /* NULL when absent; null values count as absent for optional fields */
	bool null;
};

/* Bind the members of object j to the expected fields; any other member is an error. */
static int take(const struct pctx *p, const cJSON *j, struct fld *f, size_t nf)
{
	if (!cJSON_IsObject(j))
		return fail(p, "invalid type%s%s: expected an object, got %s", *p->where ? " for " : "", p->where,
			    kind(j));
	for (const cJSON *it = j->child; it; it = it->next) {
		size_t i = 0;
		while (i < nf && strcmp(it->string, f[i].name))
			i++;
		if (i == nf) {
			char list[512];
			size_t k = 0;
			for (size_t e = 0; e < nf && k < sizeof(list); e++)
				k += (size_t)snprintf(list + k, sizeof(list) - k, "%s`%s`", e ? ", " : "", f[e].name);
			return fail(p, "unknown field `%s`%s%s, expected %s%s", it->string, *p->where ? " in " : "",
				    p->where, nf > 1 ? "one of " : "", list);
		}
		f[i].null = cJSON_IsNull(it);
		f[i].v = f[i].null ? NULL : it;
	}
	return 0;
}

static int missing(const struct pctx *p, const struct fld *f)
{
	if (f->null)
		return fail(p, "invalid type for `%s%s%s`: null", p->where, *p->where ? "." : "", f->name);
	return fail(p, "missing field `%s%s%s`", p->where, *p->where ? "." : "", f->name);
}

static int wrong(const struct pctx *p, const struct fld *f, const char *expected)
{
	return fail(p, "invalid type for `%s%s%s`: expected %s, got %s", p->where, *p->where ? "." : "", f->name,
		    expected, kind(f->v));
}

/* Each getter: 0 when absent and optional (*has = false), -1 on error. */
static int get_str(const struct pctx *p, const struct fld *f, bool req, char *dst, size_t cap, bool *has)
{
	if (has)
		*has = false;
	if (!f->v)
		return req ? missing(p, f) : 0;
	if (!cJSON_IsString(f->v))
		return wrong(p, f, "a string");
	if (strlen(f->v->valuestring) >= cap)
		return fail(p, "`%s%s%s` is longer than %zu bytes", p->where, *p->where ? "." : "", f->name, cap - 1);
	memcpy(dst, f->v->valuestring, strlen(f->v->valuestring) + 1);
	if (has)
		*has = true;
	return 0;
}

static int get_bool(const struct pctx *p, const struct fld *f, bool req, bool *dst, bool *has)
{
	if (has)
		*has = false;
	if (!f->v)
		return req ? missing(p, f) : 0;
	if (!cJSON_IsBool(f->v))
		return wrong(p, f, "a boolean");
	*dst = cJSON_IsTrue(f->v);
	if (has)
		*has = true;
	return 0;
}

static int get_uint(const struct pctx *p, const struct fld *f, bool req, uint64_t max, uint64_t *dst, bool *has)
{
	if (has)
		*has = false;
	if (!f->v)
		return req ? missing(p, f) : 0;
	if (!cJSON_IsNumber(f->v))
		return wrong(p, f, "an unsigned integer");
	double d = f->v->valuedouble;
	if (d != floor(d) || d < 0)
		return fail(p, "invalid value for `%s%s%s`: expected an unsigned integer", p->where,
			    *p->where ? "." : "", f->name);
	if (d > (double)max || d >= 18446744073709551616.0)
		return fail(p, "invalid value for `%s%s%s`: larger than %llu", p->where, *p->where ? "." : "", f->name,
			    (unsigned long long)max);
	*dst = (uint64_t)d;
	if (has)
		*has = true;
	return 0;
}

/* A string from `names` (exact, or any case with nocase); *dst = its index. */
static int get_enum(const struct pctx *p, const struct fld *f, bool req, const char *const *names, bool nocase,
		    int *dst, bool *has)
{
	if (has)
		*has = false;
	if (!f->v)
		return req ? missing(p, f) : 0;
	if (!cJSON_IsString(f->v))
		return wrong(p, f, "a string");
	for (int i = 0; names[i]; i++) {
		if (nocase ? !strcasecmp(names[i], f->v->valuestring) : !strcmp(names[i], f->v->valuestring)) {
			*dst = i;
			if (has)
				*has = true;
			return 0;
		}
	}
	char list[256];
	size_t k = 0;
	for (int i = 0; names[i] && k < sizeof(list); i++)
		k += (size_t)snprintf(list + k, sizeof(list) - k, "%s`%s`", i ? ", " : "", names[i]);
	return fail(p, "unknown variant `%.64s` for `%s%s%s`, expected one of %s", f->v->valuestring, p->where,
		    *p->where ? "." : "", f->name, list);
}

#define NF(f) (sizeof(f) / sizeof((f)[0]))
#define F(name)                                                                                                        \
	{                                                                                                              \
		name, NULL, false                                                                                      \
	}

/* ---- shared pieces ----------------------------------------------------------------------------------- */

static int token_bucket(const struct pctx *outer, const char *where, const struct fld *at, struct token_bucket_cfg *out)
{
	memset(out, 0, sizeof(*out));
	if (!at->v)
		return 0;
	struct pctx p = { outer->err, outer->n, where };
	struct fld f[] = { F("size"), F("refill_time"), F("one_time_burst") };
	if (take(&p, at->v, f, NF(f)) < 0 || get_uint(&p, &f[0], true, UINT64_MAX, &out->size, NULL) < 0 ||
	    get_uint(&p, &f[1], true, UINT64_MAX, &out->refill_time, NULL) < 0 ||
	    get_uint(&p, &f[2], false, UINT64_MAX, &out->one_time_burst, &out->has_burst) < 0)
		return -1;
	out->present = true;
	return 0;
}

static int rate_limiter(const struct pctx *outer, const struct fld *at, struct rate_limiter_cfg *out)
{
	memset(out, 0, sizeof(*out));
	if (!at->v)
		return 0;
	char where[64], bw[80], ops[80];
	snprintf(where, sizeof(where), "%s%s%s", outer->where, *outer->where ? "." : "", at->name);
	snprintf(bw, sizeof(bw), "%s.bandwidth", where);
	snprintf(ops, sizeof(ops), "%s.ops", where);
	struct pctx p = { outer->err, outer->n, where };
	struct fld f[] = { F("bandwidth"), F("ops") };
	if (take(&p, at->v, f, NF(f)) < 0 || token_bucket(&p, bw, &f[0], &out->bandwidth) < 0 ||
	    token_bucket(&p, ops, &f[1], &out->ops) < 0)
		return -1;
	out->present = true;
	return 0;
}

/* ---- bodies ------------------------------------------------------------------------------------------ */

int api_parse__boot_source(const cJSON *j, struct boot_source_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("kernel_image_path"), F("initrd_path"), F("boot_args") };
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 ||
	    get_str(&p, &f[0], true, out->kernel_image_path, sizeof(out->kernel_image_path), NULL) < 0 ||
	    get_str(&p, &f[1], false, out->initrd_path, sizeof(out->initrd_path), NULL) < 0 ||
	    get_str(&p, &f[2], false, out->boot_args, sizeof(out->boot_args), &out->has_boot_args) < 0)
		return -1;
	return 0;
}

static const char *const cpu_templates[] = { "C3", "T2", "T2S", "T2CL", "T2A", "V1N1", "None", NULL };
static const char *const huge_pages_names[] = { "None", "Transparent", "2M", NULL };
static const char *const cpu_backends[] = { [RV_BACKEND_INTERP] = "interp", [RV_BACKEND_JIT] = "jit", NULL };

int api_parse__machine_config(const cJSON *j, bool full, struct machine_cfg_update *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("vcpu_count"),	   F("mem_size_mib"), F("smt"),		F("track_dirty_pages"),
			   F("huge_pages"),	   F("cpu_template"), F("cpu_backend"),
			   F("mem_merge") };
	uint64_t vcpus = 0, mem = 0;
	int huge = 0, tmpl = 0, backend = 0;
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || get_uint(&p, &f[0], full, 255, &vcpus, &out->has_vcpu_count) < 0 ||
	    get_uint(&p, &f[1], full, (uint64_t)1 << 40, &mem, &out->has_mem_size_mib) < 0 ||
	    get_bool(&p, &f[2], false, &out->v.smt, &out->has_smt) < 0 ||
	    get_bool(&p, &f[3], false, &out->v.track_dirty_pages, &out->has_track_dirty_pages) < 0 ||
	    get_enum(&p, &f[4], false, huge_pages_names, false, &huge, &out->has_huge_pages) < 0 ||
	    get_enum(&p, &f[5], false, cpu_templates, false, &tmpl, &out->has_cpu_template) < 0 ||
	    get_enum(&p, &f[6], false, cpu_backends, false, &backend, &out->has_cpu_backend) < 0 ||
	    get_bool(&p, &f[7], false, &out->v.mem_merge, &out->has_mem_merge) < 0)
		return -1;
	out->v.cpu_backend = (enum rv_backend)backend;
	out->v.vcpu_count = (unsigned)vcpus;
	out->v.mem_size_mib = mem;
	out->v.huge_pages = (enum huge_pages)huge;
	if (out->has_cpu_template) {
		out->v.has_cpu_template = true;
		snprintf(out->v.cpu_template, sizeof(out->v.cpu_template), "%s", cpu_templates[tmpl]);
	}
	return 0;
}

static const char *const cache_types[] = { "Unsafe", "Writeback", NULL };
static const char *const io_engines[] = { "Sync", "Async", NULL };

int api_parse__drive(const cJSON *j, struct drive_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("drive_id"),   F("path_on_host"), F("is_root_device"), F("is_read_only"), F("partuuid"),
			   F("cache_type"), F("io_engine"),    F("rate_limiter"),   F("socket") };
	int cache = 0, engine = 0;
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || get_str(&p, &f[0], true, out->drive_id, sizeof(out->drive_id), NULL) < 0)
		return -1;
	if (f[8].v)
		return fail(&p, "vhost-user block devices (`socket`) are not supported by wisp yet");
	if (get_str(&p, &f[1], true, out->path_on_host, sizeof(out->path_on_host), NULL) < 0 ||
	    get_bool(&p, &f[2], true, &out->is_root_device, NULL) < 0 ||
	    get_bool(&p, &f[3], false, &out->is_read_only, NULL) < 0 ||
	    get_str(&p, &f[4], false, out->partuuid, sizeof(out->partuuid), &out->has_partuuid) < 0 ||
	    get_enum(&p, &f[5], false, cache_types, false, &cache, NULL) < 0 ||
	    get_enum(&p, &f[6], false, io_engines, false, &engine, NULL) < 0 ||
	    rate_limiter(&p, &f[7], &out->rate_limiter) < 0)
		return -1;
	out->cache_type = (enum cache_type)cache;
	out->io_engine = (enum io_engine)engine;
	return 0;
}

int api_parse__drive_update(const cJSON *j, struct drive_update *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("drive_id"), F("path_on_host"), F("rate_limiter") };
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || get_str(&p, &f[0], true, out->drive_id, sizeof(out->drive_id), NULL) < 0 ||
	    get_str(&p, &f[1], false, out->path_on_host, sizeof(out->path_on_host), &out->has_path_on_host) < 0 ||
	    rate_limiter(&p, &f[2], &out->rate_limiter) < 0)
		return -1;
	return 0;
}

int api_parse__net(const cJSON *j, struct net_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("iface_id"), F("host_dev_name"),	F("guest_mac"),
			   F("mtu"),	  F("rx_rate_limiter"), F("tx_rate_limiter") };
	char mac[32];
	uint64_t mtu = 0;
	bool has_mtu;
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || get_str(&p, &f[0], true, out->iface_id, sizeof(out->iface_id), NULL) < 0 ||
	    get_str(&p, &f[1], true, out->host_dev_name, sizeof(out->host_dev_name), NULL) < 0 ||
	    get_str(&p, &f[2], false, mac, sizeof(mac), &out->has_guest_mac) < 0 ||
	    get_uint(&p, &f[3], false, 65535, &mtu, &has_mtu) < 0 ||
	    rate_limiter(&p, &f[4], &out->rx_rate_limiter) < 0 || rate_limiter(&p, &f[5], &out->tx_rate_limiter) < 0)
		return -1;
	if (out->has_guest_mac && resources__parse_mac(mac, out->guest_mac) < 0)
		return fail(&p, "invalid value for `guest_mac`: expected a MAC address like AA:FC:00:00:00:01");
	if (has_mtu && mtu < 68)
		return fail(&p, "invalid value for `mtu`: it must be 68..65535");
	out->mtu = (unsigned)mtu;
	return 0;
}

int api_parse__net_update(const cJSON *j, struct net_update *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("iface_id"), F("rx_rate_limiter"), F("tx_rate_limiter") };
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || get_str(&p, &f[0], true, out->iface_id, sizeof(out->iface_id), NULL) < 0 ||
	    rate_limiter(&p, &f[1], &out->rx_rate_limiter) < 0 || rate_limiter(&p, &f[2], &out->tx_rate_limiter) < 0)
		return -1;
	return 0;
}

int api_parse__entropy(const cJSON *j, struct entropy_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("rate_limiter") };
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || rate_limiter(&p, &f[0], &out->rate_limiter) < 0)
		return -1;
	return 0;
}

int api_parse__serial(const cJSON *j, struct serial_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("serial_out_path"), F("rate_limiter") };
	struct token_bucket_cfg tb;
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 ||
	    get_str(&p, &f[0], false, out->serial_out_path, sizeof(out->serial_out_path), NULL) < 0 ||
	    token_bucket(&p, "rate_limiter", &f[1], &tb) < 0)
		return -1;
	out->has_rate_limiter = tb.present;
	return 0;
}

static const char *const log_levels[] = { "Off", "Error", "Warning", "Info", "Debug", "Trace", "Warn", NULL };

int api_parse__logger(const cJSON *j, struct logger_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("level"), F("log_path"), F("show_level"), F("show_log_origin"), F("module") };
	int level = 0;
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || get_enum(&p, &f[0], false, log_levels, true, &level, &out->has_level) < 0 ||
	    get_str(&p, &f[1], false, out->log_path, sizeof(out->log_path), &out->has_log_path) < 0 ||
	    get_bool(&p, &f[2], false, &out->show_level, &out->has_show_level) < 0 ||
	    get_bool(&p, &f[3], false, &out->show_log_origin, &out->has_show_log_origin) < 0 ||
	    get_str(&p, &f[4], false, out->module, sizeof(out->module), &out->has_module) < 0)
		return -1;
	/* The table is in enum log_level order, plus "Warn" as an alias. */
	out->level = level == 6 ? LOG_LVL_WARN : (enum log_level)level;
	return 0;
}

int api_parse__metrics(const cJSON *j, struct metrics_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("metrics_path"), F("emit_id"), F("properties") };
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 ||
	    get_str(&p, &f[0], true, out->metrics_path, sizeof(out->metrics_path), NULL) < 0 ||
	    get_bool(&p, &f[1], false, &out->emit_id, NULL) < 0)
		return -1;
	if (!f[2].v)
		return 0;
	if (!cJSON_IsObject(f[2].v))
		return wrong(&p, &f[2], "an object");
	for (const cJSON *it = f[2].v->child; it; it = it->next) {
		if (out->nprops >= RES_MAX_PROPS)
			return fail(&p, "`properties` has more than %d entries", RES_MAX_PROPS);
		if (!cJSON_IsString(it))
			return fail(&p, "invalid type for `properties.%.64s`: expected a string, got %s", it->string,
				    kind(it));
		if (strlen(it->string) >= RES_PROP_MAX || strlen(it->valuestring) >= RES_PROP_MAX)
			return fail(&p, "`properties.%.64s` is longer than %d bytes", it->string, RES_PROP_MAX - 1);
		snprintf(out->prop_keys[out->nprops], RES_PROP_MAX, "%s", it->string);
		snprintf(out->prop_values[out->nprops], RES_PROP_MAX, "%s", it->valuestring);
		out->nprops++;
	}
	return 0;
}

static const char *const mmds_versions[] = { "V1", "V2", NULL };

int api_parse__mmds_config(const cJSON *j, struct mmds_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("version"), F("network_interfaces"), F("ipv4_address"), F("imds_compat") };
	int version = 0;
	char ip[32] = "169.254.169.254";
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || get_enum(&p, &f[0], false, mmds_versions, false, &version, NULL) < 0 ||
	    get_str(&p, &f[2], false, ip, sizeof(ip), NULL) < 0 || get_bool(&p, &f[3], false, &out->imds_compat, NULL) < 0)
		return -1;
	if (!f[1].v)
		return missing(&p, &f[1]);
	if (!cJSON_IsArray(f[1].v))
		return wrong(&p, &f[1], "a sequence");
	for (const cJSON *it = f[1].v->child; it; it = it->next) {
		if (!cJSON_IsString(it) || strlen(it->valuestring) > RES_ID_MAX)
			return fail(&p, "invalid value in `network_interfaces`: expected interface ids (strings of at most "
					"%d bytes)",
				    RES_ID_MAX);
		if (out->nifaces == RES_MAX_DEVICES)
			return fail(&p, "invalid value for `network_interfaces`: more than %d interfaces", RES_MAX_DEVICES);
		snprintf(out->ifaces[out->nifaces++], sizeof(out->ifaces[0]), "%s", it->valuestring);
	}
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return fail(&p, "invalid value for `ipv4_address`: `%s` is not an IPv4 address", ip);
	out->ipv4 = ntohl(a.s_addr);
	out->version = (unsigned)version + 1;
	return 0;
}

int api_parse__vsock(const cJSON *j, struct vsock_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("guest_cid"), F("uds_path"), F("vsock_id") };
	uint64_t cid = 0;
	char id[RES_ID_MAX + 1];
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || get_uint(&p, &f[0], true, UINT32_MAX, &cid, NULL) < 0 ||
	    get_str(&p, &f[1], true, out->uds_path, sizeof(out->uds_path), NULL) < 0 ||
	    get_str(&p, &f[2], false, id, sizeof(id), NULL) < 0) /* deprecated, ignored as by Firecracker */
		return -1;
	if (cid < 3)
		return fail(&p, "invalid value for `guest_cid`: it must be at least 3");
	out->guest_cid = (uint32_t)cid;
	return 0;
}

int api_parse__balloon(const cJSON *j, struct balloon_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("amount_mib"), F("deflate_on_oom"), F("stats_polling_interval_s"),
			   F("free_page_hinting"), F("free_page_reporting") };
	uint64_t amount = 0, interval = 0;
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 || get_uint(&p, &f[0], true, UINT32_MAX / 256, &amount, NULL) < 0 ||
	    get_bool(&p, &f[1], true, &out->deflate_on_oom, NULL) < 0 ||
	    get_uint(&p, &f[2], false, UINT16_MAX, &interval, NULL) < 0 ||
	    get_bool(&p, &f[3], false, &out->free_page_hinting, NULL) < 0 ||
	    get_bool(&p, &f[4], false, &out->free_page_reporting, NULL) < 0)
		return -1;
	out->amount_mib = (uint32_t)amount;
	out->stats_polling_interval_s = (uint32_t)interval;
	return 0;
}

int api_parse__balloon_update(const cJSON *j, uint32_t *amount_mib, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("amount_mib") };
	uint64_t v = 0;
	if (take(&p, j, f, NF(f)) < 0 || get_uint(&p, &f[0], true, UINT32_MAX / 256, &v, NULL) < 0)
		return -1;
	*amount_mib = (uint32_t)v;
	return 0;
}

int api_parse__balloon_stats_update(const cJSON *j, uint32_t *interval_s, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("stats_polling_interval_s") };
	uint64_t v = 0;
	if (take(&p, j, f, NF(f)) < 0 || get_uint(&p, &f[0], true, UINT16_MAX, &v, NULL) < 0)
		return -1;
	*interval_s = (uint32_t)v;
	return 0;
}

int api_parse__balloon_hint_start(const cJSON *j, bool *acknowledge_on_stop, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("acknowledge_on_stop") };
	*acknowledge_on_stop = true;
	if (!j)
		return 0;
	return take(&p, j, f, NF(f)) < 0 || get_bool(&p, &f[0], false, acknowledge_on_stop, NULL) < 0 ? -1 : 0;
}

static const char *const actions[] = { "InstanceStart", "FlushMetrics", "SendCtrlAltDel", NULL };

int api_parse__action(const cJSON *j, enum api_action *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("action_type") };
	int a = 0;
	if (take(&p, j, f, NF(f)) < 0 || get_enum(&p, &f[0], true, actions, false, &a, NULL) < 0)
		return -1;
	*out = (enum api_action)a;
	return 0;
}

static const char *const vm_states[] = { "Paused", "Resumed", NULL };

int api_parse__vm_state(const cJSON *j, bool *pause, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("state") };
	int s = 0;
	if (take(&p, j, f, NF(f)) < 0 || get_enum(&p, &f[0], true, vm_states, false, &s, NULL) < 0)
		return -1;
	*pause = s == 0;
	return 0;
}

static const char *const snapshot_types[] = { "Full", "Diff", NULL };

int api_parse__snapshot_create(const cJSON *j, struct snapshot_create_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("snapshot_path"), F("mem_file_path"), F("snapshot_type") };
	int type = 0;
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 ||
	    get_str(&p, &f[0], true, out->snapshot_path, sizeof(out->snapshot_path), NULL) < 0 ||
	    get_str(&p, &f[1], true, out->mem_file_path, sizeof(out->mem_file_path), NULL) < 0 ||
	    get_enum(&p, &f[2], false, snapshot_types, false, &type, NULL) < 0)
		return -1;
	out->diff = type == 1;
	return 0;
}

static const char *const backend_types[] = { "File", "Uffd", NULL };
static const char *const load_huge_pages[] = { "Snapshot", "None", "Transparent", "2M", NULL };

int api_parse__snapshot_load(const cJSON *j, struct snapshot_load_cfg *out, char *err, size_t n)
{
	struct pctx p = { err, n, "" };
	struct fld f[] = { F("snapshot_path"),	   F("mem_file_path"),
			   F("mem_backend"),	   F("enable_diff_snapshots"),
			   F("track_dirty_pages"), F("resume_vm"),
			   F("network_overrides"), F("vsock_override"),
			   F("clock_realtime"),	   F("huge_pages") };
	bool has_file, diff = false, dirty = false, rt = false;
	int hp = 0;
	memset(out, 0, sizeof(*out));
	if (take(&p, j, f, NF(f)) < 0 ||
	    get_str(&p, &f[0], true, out->snapshot_path, sizeof(out->snapshot_path), NULL) < 0 ||
	    get_str(&p, &f[1], false, out->mem_path, sizeof(out->mem_path), &has_file) < 0 ||
	    get_bool(&p, &f[3], false, &diff, NULL) < 0 || get_bool(&p, &f[4], false, &dirty, NULL) < 0 ||
	    get_bool(&p, &f[5], false, &out->resume_vm, NULL) < 0 || get_bool(&p, &f[8], false, &rt, NULL) < 0 ||
	    get_enum(&p, &f[9], false, load_huge_pages, false, &hp, NULL) < 0)
		return -1;
	out->track_dirty_pages = diff || dirty;
	if (has_file == (f[2].v != NULL))
		return fail(&p, "exactly one of `mem_file_path` and `mem_backend` must be given");
	if (f[2].v) {
		struct pctx q = { err, n, "mem_backend" };
		struct fld b[] = { F("backend_type"), F("backend_path") };
		int type = 0;
		if (take(&q, f[2].v, b, NF(b)) < 0 ||
		    get_enum(&q, &b[0], true, backend_types, false, &type, NULL) < 0 ||
		    get_str(&q, &b[1], true, out->mem_path, sizeof(out->mem_path), NULL) < 0)
			return -1;
		out->mem_uffd = type == 1;
	}
	if (f[6].v && !cJSON_IsArray(f[6].v))
		return wrong(&p, &f[6], "an array");
	if (f[7].v) {
		struct pctx q = { err, n, "vsock_override" };
		struct fld v[] = { F("uds_path") };
		if (take(&q, f[7].v, v, NF(v)) < 0 ||
		    get_str(&q, &v[0], true, out->vsock_uds_path, sizeof(out->vsock_uds_path), NULL) < 0)
			return -1;
		out->has_vsock_override = true;
	}
	return 0;
}
