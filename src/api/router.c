/* Firecracker's API paths on top of the controller. */
#include "api/router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/parse.h"
#include "log/log.h"
#include "log/metrics.h"

#define ERR_MAX 2048
#define DESERIALIZE "An error occurred when deserializing the json body of a request: "

static const struct {
	const char *group, *name;
} counter_names[CNT_MAX] = {
	[CNT_GET_INSTANCE_INFO] = { "get_api_requests", "instance_info_count" },
	[CNT_GET_VERSION] = { "get_api_requests", "vmm_version_count" },
	[CNT_GET_MACHINE_CFG] = { "get_api_requests", "machine_cfg_count" },
	[CNT_GET_VM_CONFIG] = { "get_api_requests", "vm_config_count" },
	[CNT_PUT_ACTIONS] = { "put_api_requests", "actions_count" },
	[CNT_PUT_ACTIONS_FAILS] = { "put_api_requests", "actions_fails" },
	[CNT_PUT_BOOT_SOURCE] = { "put_api_requests", "boot_source_count" },
	[CNT_PUT_BOOT_SOURCE_FAILS] = { "put_api_requests", "boot_source_fails" },
	[CNT_PUT_DRIVE] = { "put_api_requests", "drive_count" },
	[CNT_PUT_DRIVE_FAILS] = { "put_api_requests", "drive_fails" },
	[CNT_PUT_LOGGER] = { "put_api_requests", "logger_count" },
	[CNT_PUT_LOGGER_FAILS] = { "put_api_requests", "logger_fails" },
	[CNT_PUT_MACHINE_CFG] = { "put_api_requests", "machine_cfg_count" },
	[CNT_PUT_MACHINE_CFG_FAILS] = { "put_api_requests", "machine_cfg_fails" },
	[CNT_PUT_METRICS] = { "put_api_requests", "metrics_count" },
	[CNT_PUT_METRICS_FAILS] = { "put_api_requests", "metrics_fails" },
	[CNT_PUT_NETWORK] = { "put_api_requests", "network_count" },
	[CNT_PUT_NETWORK_FAILS] = { "put_api_requests", "network_fails" },
	[CNT_PUT_ENTROPY] = { "put_api_requests", "entropy_count" },
	[CNT_PUT_ENTROPY_FAILS] = { "put_api_requests", "entropy_fails" },
	[CNT_PUT_SERIAL] = { "put_api_requests", "serial_count" },
	[CNT_PUT_SERIAL_FAILS] = { "put_api_requests", "serial_fails" },
	[CNT_PUT_SNAPSHOT] = { "put_api_requests", "snapshot_count" },
	[CNT_PUT_SNAPSHOT_FAILS] = { "put_api_requests", "snapshot_fails" },
	[CNT_PUT_VSOCK] = { "put_api_requests", "vsock_count" },
	[CNT_PUT_VSOCK_FAILS] = { "put_api_requests", "vsock_fails" },
	[CNT_PUT_BALLOON] = { "put_api_requests", "balloon_count" },
	[CNT_PUT_BALLOON_FAILS] = { "put_api_requests", "balloon_fails" },
	[CNT_PATCH_BALLOON] = { "patch_api_requests", "balloon_count" },
	[CNT_PATCH_BALLOON_FAILS] = { "patch_api_requests", "balloon_fails" },
	[CNT_PATCH_DRIVE] = { "patch_api_requests", "drive_count" },
	[CNT_PATCH_DRIVE_FAILS] = { "patch_api_requests", "drive_fails" },
	[CNT_PATCH_NETWORK] = { "patch_api_requests", "network_count" },
	[CNT_PATCH_NETWORK_FAILS] = { "patch_api_requests", "network_fails" },
	[CNT_PATCH_MACHINE_CFG] = { "patch_api_requests", "machine_cfg_count" },
	[CNT_PATCH_MACHINE_CFG_FAILS] = { "patch_api_requests", "machine_cfg_fails" },
	[CNT_PATCH_VM] = { "patch_api_requests", "vm_count" },
	[CNT_PATCH_VM_FAILS] = { "patch_api_requests", "vm_fails" },
	[CNT_BAD_REQUESTS] = { "api_server", "bad_requests" },
};

void api_router__init(struct api_router *r, struct controller *c)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->log = c->log;
	r->metrics = c->metrics;
	for (int i = 0; i < CNT_MAX; i++)
		metrics__register_value(r->metrics, counter_names[i].group, counter_names[i].name, METRIC_COUNTER, &r->counters[i]);
}

void api_router__exit(struct api_router *r)
{
	for (int i = 0; i < CNT_MAX; i++)
		metrics__unregister(r->metrics, &r->counters[i]);
}

static void count(struct api_router *r, enum api_counter c)
{
	atomic_fetch_add(&r->counters[c], 1);
}

void api_response__free(struct api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

void api_response__fault(struct api_response *out, int status, const char *msg)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "fault_message", msg);
	out->status = status;
	out->body = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
}

static void ok(struct api_response *out)
{
	out->status = 204;
	out->body = NULL;
}

static void ok_json(struct api_response *out, cJSON *j)
{
	out->status = 200;
	out->body = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!out->body)
		api_response__fault(out, 500, "Cannot format the response.");
}

/* ---- GET --------------------------------------------------------------------------------------------- */

static const char *const huge_names[] = { "None", "Transparent", "2M" };

static cJSON *machine_json(const struct machine_cfg *m)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "vcpu_count", m->vcpu_count);
	cJSON_AddNumberToObject(j, "mem_size_mib", (double)m->mem_size_mib);
	cJSON_AddBoolToObject(j, "smt", m->smt);
	cJSON_AddBoolToObject(j, "track_dirty_pages", m->track_dirty_pages);
	cJSON_AddStringToObject(j, "huge_pages", huge_names[m->huge_pages]);
	if (m->has_cpu_template)
		cJSON_AddStringToObject(j, "cpu_template", m->cpu_template);
	if (m->has_cpu_backend)
		cJSON_AddStringToObject(j, "cpu_backend", cpu__backend_name(m->cpu_backend));
	if (m->mem_merge)
		cJSON_AddBoolToObject(j, "mem_merge", true);
	return j;
}

static void add_bucket(cJSON *parent, const char *name, const struct token_bucket_cfg *b)
{
	if (!b->present)
		return;
	cJSON *j = cJSON_AddObjectToObject(parent, name);
	cJSON_AddNumberToObject(j, "size", (double)b->size);
	cJSON_AddNumberToObject(j, "refill_time", (double)b->refill_time);
	if (b->has_burst)
		cJSON_AddNumberToObject(j, "one_time_burst", (double)b->one_time_burst);
}

static void add_limiter(cJSON *parent, const char *name, const struct rate_limiter_cfg *rl)
{
	if (!rl->present)
		return;
	cJSON *j = cJSON_AddObjectToObject(parent, name);
	add_bucket(j, "bandwidth", &rl->bandwidth);
	add_bucket(j, "ops", &rl->ops);
}

static cJSON *balloon_json(const struct balloon_cfg *b)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "amount_mib", b->amount_mib);
	cJSON_AddBoolToObject(j, "deflate_on_oom", b->deflate_on_oom);
	cJSON_AddNumberToObject(j, "stats_polling_interval_s", b->stats_polling_interval_s);
	cJSON_AddBoolToObject(j, "free_page_hinting", b->free_page_hinting);
	cJSON_AddBoolToObject(j, "free_page_reporting", b->free_page_reporting);
	return j;
}

static cJSON *vm_config_json(const struct vm_resources *r, struct logger *lg)
{
	cJSON *j = cJSON_CreateObject();
	if (r->has_boot_source) {
		cJSON *b = cJSON_AddObjectToObject(j, "boot-source");
		cJSON_AddStringToObject(b, "kernel_image_path", r->boot.kernel_image_path);
		if (r->boot.initrd_path[0])
			cJSON_AddStringToObject(b, "initrd_path", r->boot.initrd_path);
		if (r->boot.has_boot_args)
			cJSON_AddStringToObject(b, "boot_args", r->boot.boot_args);
	}
	cJSON_AddItemToObject(j, "machine-config", machine_json(&r->machine));
	cJSON *drives = cJSON_AddArrayToObject(j, "drives");
	for (unsigned i = 0; i < r->ndrives; i++) {
		const struct drive_cfg *d = &r->drives[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "drive_id", d->drive_id);
		cJSON_AddStringToObject(o, "path_on_host", d->path_on_host);
		cJSON_AddBoolToObject(o, "is_root_device", d->is_root_device);
		cJSON_AddBoolToObject(o, "is_read_only", d->is_read_only);
		if (d->has_partuuid)
			cJSON_AddStringToObject(o, "partuuid", d->partuuid);
		cJSON_AddStringToObject(o, "cache_type", d->cache_type == CACHE_WRITEBACK ? "Writeback" : "Unsafe");
		cJSON_AddStringToObject(o, "io_engine", d->io_engine == IO_ENGINE_ASYNC ? "Async" : "Sync");
		add_limiter(o, "rate_limiter", &d->rate_limiter);
		cJSON_AddItemToArray(drives, o);
	}
	cJSON *nets = cJSON_AddArrayToObject(j, "network-interfaces");
	for (unsigned i = 0; i < r->nnets; i++) {
		const struct net_cfg *nc = &r->nets[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "iface_id", nc->iface_id);
		cJSON_AddStringToObject(o, "host_dev_name", nc->host_dev_name);
		if (nc->has_guest_mac) {
			char mac[18];
			resources__format_mac(nc->guest_mac, mac);
			cJSON_AddStringToObject(o, "guest_mac", mac);
		}
		if (nc->mtu)
			cJSON_AddNumberToObject(o, "mtu", nc->mtu);
		add_limiter(o, "rx_rate_limiter", &nc->rx_rate_limiter);
		add_limiter(o, "tx_rate_limiter", &nc->tx_rate_limiter);
		cJSON_AddItemToArray(nets, o);
	}
	if (r->has_entropy) {
		cJSON *e = cJSON_AddObjectToObject(j, "entropy");
		add_limiter(e, "rate_limiter", &r->entropy.rate_limiter);
	}
	if (r->has_vsock) {
		cJSON *v = cJSON_AddObjectToObject(j, "vsock");
		cJSON_AddNumberToObject(v, "guest_cid", r->vsock.guest_cid);
		cJSON_AddStringToObject(v, "uds_path", r->vsock.uds_path);
	}
	if (r->has_balloon)
		cJSON_AddItemToObject(j, "balloon", balloon_json(&r->balloon));
	if (r->has_mmds) {
		cJSON *o = cJSON_AddObjectToObject(j, "mmds-config");
		cJSON_AddStringToObject(o, "version", r->mmds.version == 2 ? "V2" : "V1");
		cJSON *ifs = cJSON_AddArrayToObject(o, "network_interfaces");
		for (unsigned i = 0; i < r->mmds.nifaces; i++)
			cJSON_AddItemToArray(ifs, cJSON_CreateString(r->mmds.ifaces[i]));
		char ip[16];
		uint32_t a = r->mmds.ipv4;
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
		cJSON_AddStringToObject(o, "ipv4_address", ip);
		cJSON_AddBoolToObject(o, "imds_compat", r->mmds.imds_compat);
	}
	if (r->has_logger) {
		const struct logger_cfg *l = &r->logger;
		cJSON *o = cJSON_AddObjectToObject(j, "logger");
		cJSON_AddStringToObject(o, "level", log__level_name(log__level(lg)));
		if (l->has_log_path)
			cJSON_AddStringToObject(o, "log_path", l->log_path);
		cJSON_AddBoolToObject(o, "show_level", l->show_level);
		cJSON_AddBoolToObject(o, "show_log_origin", l->show_log_origin);
		if (l->has_module && l->module[0])
			cJSON_AddStringToObject(o, "module", l->module);
	}
	if (r->has_metrics) {
		const struct metrics_cfg *m = &r->metrics;
		cJSON *o = cJSON_AddObjectToObject(j, "metrics");
		cJSON_AddStringToObject(o, "metrics_path", m->metrics_path);
		if (m->emit_id)
			cJSON_AddBoolToObject(o, "emit_id", true);
		if (m->nprops) {
			cJSON *p = cJSON_AddObjectToObject(o, "properties");
			for (unsigned i = 0; i < m->nprops; i++)
				cJSON_AddStringToObject(p, m->prop_keys[i], m->prop_values[i]);
		}
	}
	return j;
}

static void get_instance_info(struct api_router *r, struct api_response *out)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", r->c->id);
	cJSON_AddStringToObject(j, "state", controller__state_name(controller__state(r->c)));
	cJSON_AddStringToObject(j, "vmm_version", WISP_VERSION);
	cJSON_AddStringToObject(j, "app_name", "wisp");
	ok_json(out, j);
}

static void get_config(struct api_router *r, bool machine_only, struct api_response *out)
{
	struct vm_resources *res = malloc(sizeof(*res));
	if (!res) {
		api_response__fault(out, 500, "Out of memory.");
		return;
	}
	controller__get(r->c, res, NULL);
	ok_json(out, machine_only ? machine_json(&res->machine) : vm_config_json(res, r->log));
	free(res);
}

/* GET /memory (wisp extension, docs/api.md "Memory"). */
static void get_memory(struct api_router *r, struct api_response *out)
{
	char err[ERR_MAX];
	struct controller_memory m;
	if (controller__memory(r->c, &m, err, sizeof(err)) < 0) {
		api_response__fault(out, 400, err);
		return;
	}
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "ram_kib", (double)m.ram_kib);
	if (m.has_usage) {
		cJSON_AddNumberToObject(j, "resident_kib", (double)m.usage.rss_kib);
		cJSON_AddNumberToObject(j, "pss_kib", (double)m.usage.pss_kib);
		cJSON_AddNumberToObject(j, "private_dirty_kib", (double)m.usage.private_dirty_kib);
		cJSON_AddNumberToObject(j, "shared_kib", (double)m.usage.shared_kib);
	}
	cJSON_AddBoolToObject(j, "merge", m.merge);
	if (m.merge)
		cJSON_AddNumberToObject(j, "merged_kib", (double)(m.merged.merging_pages * 4));
	cJSON_AddNumberToObject(j, "compressed_kib", 0);
	if (m.wss.valid) {
		cJSON *w = cJSON_AddObjectToObject(j, "working_set");
		cJSON_AddNumberToObject(w, "estimated_active_kib", (double)m.wss.active_kib);
		cJSON_AddNumberToObject(w, "sampled_pages", (double)m.wss.sampled);
		cJSON_AddNumberToObject(w, "touched_pages", (double)m.wss.touched);
		cJSON_AddNumberToObject(w, "interval_ms", (double)m.wss.interval_ms);
	}
	ok_json(out, j);
}

/* GET /balloon, /balloon/statistics, /balloon/hinting/status. */
static void get_balloon(struct api_router *r, const char *what, struct api_response *out)
{
	char err[ERR_MAX];
	if (!what) {
		struct balloon_cfg b;
		if (controller__get_balloon(r->c, &b, err, sizeof(err)) < 0)
			api_response__fault(out, 400, err);
		else
			ok_json(out, balloon_json(&b));
		return;
	}
	struct virtio_balloon_info i;
	bool stats = !strcmp(what, "statistics");
	if ((stats ? controller__balloon_stats(r->c, &i, err, sizeof(err))
		   : controller__balloon_hinting_status(r->c, &i, err, sizeof(err))) < 0) {
		api_response__fault(out, 400, err);
		return;
	}
	cJSON *j = cJSON_CreateObject();
	if (!stats) {
		cJSON_AddNumberToObject(j, "host_cmd", i.host_cmd);
		if (i.guest_cmd_valid)
			cJSON_AddNumberToObject(j, "guest_cmd", i.guest_cmd);
		ok_json(out, j);
		return;
	}
	static const char *const names[VIRTIO_BALLOON_STAT_TAGS] = {
		"swap_in",	   "swap_out",	       "major_faults",	       "minor_faults",
		"free_memory",	   "total_memory",     "available_memory",     "disk_caches",
		"hugetlb_allocations", "hugetlb_failures", "oom_kill",	       "alloc_stall",
		"async_scan",	   "direct_scan",      "async_reclaim",	       "direct_reclaim",
	};
	cJSON_AddNumberToObject(j, "target_pages", i.target_pages);
	cJSON_AddNumberToObject(j, "actual_pages", i.actual_pages);
	cJSON_AddNumberToObject(j, "target_mib", i.target_pages / VIRTIO_BALLOON_PAGES_PER_MIB);
	cJSON_AddNumberToObject(j, "actual_mib", i.actual_pages / VIRTIO_BALLOON_PAGES_PER_MIB);
	for (unsigned t = 0; t < VIRTIO_BALLOON_STAT_TAGS; t++)
		if ((i.guest.present >> t) & 1)
			cJSON_AddNumberToObject(j, names[t], (double)i.guest.val[t]);
	ok_json(out, j);
}

/* ---- PUT / PATCH ------------------------------------------------------------------------------------- */

/* The request being served: its parsed body and the error buffer. */
struct req {
	struct api_router *r;
	const cJSON *body;
	const char *id; /* the path's resource id, or NULL */
	char err[ERR_MAX];
	struct api_response *out;
};

static void respond(struct req *q, int rc, enum api_counter fails)
{
	if (rc == 0) {
		ok(q->out);
		return;
	}
	if (fails != CNT_MAX)
		count(q->r, fails);
	pr_warn(q->r->log, "API request failed: %s", q->err);
	api_response__fault(q->out, 400, q->err);
}

/* A body that did not parse into its struct: Firecracker's deserialisation message around our reason. */
static int bad_body(struct req *q)
{
	char why[ERR_MAX];
	snprintf(why, sizeof(why), "%s", q->err);
	snprintf(q->err, sizeof(q->err), DESERIALIZE "%.1900s.", why);
	return -1;
}

/* The id in the path must be valid and match the body's. */
static int check_ids(struct req *q, const char *body_id)
{
	if (!q->id || !*q->id) {
		snprintf(q->err, sizeof(q->err), "The ID cannot be empty.");
		return -1;
	}
	if (!resources__valid_id(q->id)) {
		snprintf(q->err, sizeof(q->err),
			 "API Resource IDs can only contain alphanumeric characters and underscores.");
		return -1;
	}
	if (strcmp(q->id, body_id)) {
		snprintf(q->err, sizeof(q->err), "The id from the path does not match the id from the body!");
		return -1;
	}
	return 0;
}

static int put_boot_source(struct req *q)
{
	struct boot_source_cfg *b = malloc(sizeof(*b));
	int rc = !b ? -1
		 : api_parse__boot_source(q->body, b, q->err, sizeof(q->err)) < 0
			 ? bad_body(q)
			 : controller__set_boot_source(q->r->c, b, q->err, sizeof(q->err));
	if (!b)
		snprintf(q->err, sizeof(q->err), "Out of memory.");
	free(b);
	return rc;
}

static int machine_config(struct req *q, bool full)
{
	struct machine_cfg_update u;
	if (api_parse__machine_config(q->body, full, &u, q->err, sizeof(q->err)) < 0)
		return bad_body(q);
	return controller__update_machine(q->r->c, &u, full, q->err, sizeof(q->err));
}

static int put_drive(struct req *q)
{
	struct drive_cfg *d = malloc(sizeof(*d));
	int rc = -1;
	if (!d)
		snprintf(q->err, sizeof(q->err), "Out of memory.");
	else if (api_parse__drive(q->body, d, q->err, sizeof(q->err)) < 0)
		rc = bad_body(q);
	else if (check_ids(q, d->drive_id) == 0)
		rc = controller__put_drive(q->r->c, d, q->err, sizeof(q->err));
	free(d);
	return rc;
}

static int patch_drive(struct req *q)
{
	struct drive_update *u = malloc(sizeof(*u));
	int rc = -1;
	if (!u)
		snprintf(q->err, sizeof(q->err), "Out of memory.");
	else if (api_parse__drive_update(q->body, u, q->err, sizeof(q->err)) < 0)
		rc = bad_body(q);
	else if (check_ids(q, u->drive_id) == 0)
		rc = controller__update_drive(q->r->c, u, q->err, sizeof(q->err));
	free(u);
	return rc;
}

static int put_net(struct req *q)
{
	struct net_cfg nc;
	if (api_parse__net(q->body, &nc, q->err, sizeof(q->err)) < 0)
		return bad_body(q);
	if (check_ids(q, nc.iface_id) < 0)
		return -1;
	return controller__put_net(q->r->c, &nc, q->err, sizeof(q->err));
}

static int patch_net(struct req *q)
{
	struct net_update u;
	if (api_parse__net_update(q->body, &u, q->err, sizeof(q->err)) < 0)
		return bad_body(q);
	if (check_ids(q, u.iface_id) < 0)
		return -1;
	return controller__update_net(q->r->c, &u, q->err, sizeof(q->err));
}

static int put_logger(struct req *q)
{
	struct logger_cfg *l = malloc(sizeof(*l));
	int rc = -1;
	if (!l)
		snprintf(q->err, sizeof(q->err), "Out of memory.");
	else if (api_parse__logger(q->body, l, q->err, sizeof(q->err)) < 0)
		rc = bad_body(q);
	else
		rc = controller__set_logger(q->r->c, l, q->err, sizeof(q->err));
	free(l);
	return rc;
}

static int put_metrics(struct req *q)
{
	struct metrics_cfg *m = malloc(sizeof(*m));
	int rc = -1;
	if (!m)
		snprintf(q->err, sizeof(q->err), "Out of memory.");
	else if (api_parse__metrics(q->body, m, q->err, sizeof(q->err)) < 0)
		rc = bad_body(q);
	else
		rc = controller__set_metrics(q->r->c, m, q->err, sizeof(q->err));
	free(m);
	return rc;
}

static int put_entropy(struct req *q)
{
	struct entropy_cfg e;
	if (api_parse__entropy(q->body, &e, q->err, sizeof(q->err)) < 0)
		return bad_body(q);
	return controller__set_entropy(q->r->c, &e, q->err, sizeof(q->err));
}

static int put_serial(struct req *q)
{
	struct serial_cfg *s = malloc(sizeof(*s));
	int rc = -1;
	if (!s)
		snprintf(q->err, sizeof(q->err), "Out of memory.");
	else if (api_parse__serial(q->body, s, q->err, sizeof(q->err)) < 0)
		rc = bad_body(q);
	else
		rc = controller__set_serial(q->r->c, s, q->err, sizeof(q->err));
	free(s);
	return rc;
}

static int put_vsock(struct req *q)
{
	struct vsock_cfg v;
	if (api_parse__vsock(q->body, &v, q->err, sizeof(q->err)) < 0)
		return bad_body(q);
	return controller__set_vsock(q->r->c, &v, q->err, sizeof(q->err));
}

static int put_balloon(struct req *q)
{
	struct balloon_cfg b;
	if (api_parse__balloon(q->body, &b, q->err, sizeof(q->err)) < 0)
		return bad_body(q);
	return controller__set_balloon(q->r->c, &b, q->err, sizeof(q->err));
}

/* PATCH /balloon, /balloon/statistics, /balloon/hinting/start|stop (the last two may come without a body). */
static int patch_balloon(struct req *q, const char *what, const char *sub)
{
	struct controller *c = q->r->c;
	uint32_t v;
	bool ack;
	if (!what) {
		if (api_parse__balloon_update(q->body, &v, q->err, sizeof(q->err)) < 0)
			return bad_body(q);
		return controller__update_balloon(c, v, q->err, sizeof(q->err));
	}
	if (!strcmp(what, "statistics")) {
		if (api_parse__balloon_stats_update(q->body, &v, q->err, sizeof(q->err)) < 0)
			return bad_body(q);
		return controller__update_balloon_stats(c, v, q->err, sizeof(q->err));
	}
	if (!strcmp(sub, "start")) {
		if (api_parse__balloon_hint_start(q->body, &ack, q->err, sizeof(q->err)) < 0)
			return bad_body(q);
		return controller__balloon_hinting(c, true, ack, q->err, sizeof(q->err));
	}
	return controller__balloon_hinting(c, false, false, q->err, sizeof(q->err));
}

static int put_actions(struct req *q)
{
	enum api_action a;
	if (api_parse__action(q->body, &a, q->err, sizeof(q->err)) < 0)
		return bad_body(q);
	switch (a) {
	case ACTION_INSTANCE_START:
		return controller__start(q->r->c, q->err, sizeof(q->err));
	case ACTION_FLUSH_METRICS:
		return controller__flush_metrics(q->r->c, q->err, sizeof(q->err));
	case ACTION_SEND_CTRL_ALT_DEL:
		return controller__send_ctrl_alt_del(q->r->c, q->err, sizeof(q->err));
	}
	return -1;
}

static int patch_vm(struct req *q)
{
	bool pause;
	if (api_parse__vm_state(q->body, &pause, q->err, sizeof(q->err)) < 0)
		return bad_body(q);
	return pause ? controller__pause(q->r->c, q->err, sizeof(q->err))
		     : controller__resume(q->r->c, q->err, sizeof(q->err));
}

static int put_snapshot(struct req *q, const char *what)
{
	if (what && !strcmp(what, "create")) {
		struct snapshot_create_cfg *s = malloc(sizeof(*s));
		int rc = -1;
		if (!s)
			snprintf(q->err, sizeof(q->err), "Out of memory.");
		else if (api_parse__snapshot_create(q->body, s, q->err, sizeof(q->err)) < 0)
			rc = bad_body(q);
		else
			rc = controller__snapshot_create(q->r->c, s, q->err, sizeof(q->err));
		free(s);
		return rc;
	}
	struct snapshot_load_cfg *s = malloc(sizeof(*s));
	int rc = -1;
	if (!s)
		snprintf(q->err, sizeof(q->err), "Out of memory.");
	else if (api_parse__snapshot_load(q->body, s, q->err, sizeof(q->err)) < 0)
		rc = bad_body(q);
	else
		rc = controller__snapshot_load(q->r->c, s, q->err, sizeof(q->err));
	free(s);
	return rc;
}

/* ---- MMDS -------------------------------------------------------------------------------------------- */

static int put_mmds(struct req *q, bool patch)
{
	char *text = cJSON_PrintUnformatted(q->body);
	int rc = -1;
	if (!text)
		snprintf(q->err, sizeof(q->err), "Out of memory.");
	else
		rc = patch ? controller__mmds_patch(q->r->c, text, q->err, sizeof(q->err))
			   : controller__mmds_put(q->r->c, text, q->err, sizeof(q->err));
	free(text);
	return rc;
}

static int put_mmds_config(struct req *q)
{
	struct mmds_cfg m;
	if (api_parse__mmds_config(q->body, &m, q->err, sizeof(q->err)) < 0)
		return bad_body(q);
	return controller__set_mmds_config(q->r->c, &m, q->err, sizeof(q->err));
}

static void get_mmds(struct api_router *r, struct api_response *out)
{
	char err[ERR_MAX] = "";
	char *s = controller__mmds_get(r->c, err, sizeof(err));
	if (!s) {
		api_response__fault(out, 400, err);
		return;
	}
	out->status = 200;
	out->body = s;
}

/* ---- dispatch ---------------------------------------------------------------------------------------- */

/* Firecracker resources wisp does not provide yet, with the reason given to the client. */
static const struct {
	const char *resource, *what;
} unsupported[] = {
	{ "cpu-config", "Custom CPU templates" },
	{ "pmem", "Persistent memory (pmem) devices" },
	{ "hotplug", "Memory hot-plugging" },
};

static void fault(struct api_router *r, struct api_response *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fault(struct api_router *r, struct api_response *out, const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	count(r, CNT_BAD_REQUESTS);
	pr_warn(r->log, "API request refused: %s", msg);
	api_response__fault(out, 400, msg);
}

void api_router__handle(struct api_router *r, const char *method, const char *path, const char *body, size_t len,
			struct api_response *out)
{
	out->status = 500;
	out->body = NULL;
	/* Path: "/a/b/c" -> up to three tokens; a trailing '/' is ignored. */
	char buf[512], *tok[4] = { "", NULL, NULL, NULL };
	int ntok = 0;
	snprintf(buf, sizeof(buf), "%s", path ? path : "/");
	char *q = strchr(buf, '?');
	if (q)
		*q = 0;
	bool too_deep = false;
	for (char *save = NULL, *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (ntok == 3)
			too_deep = true;
		else
			tok[ntok++] = t;
	}
	const char *p0 = tok[0], *p1 = tok[1], *p2 = tok[2];
	bool get = !strcmp(method, "GET"), put = !strcmp(method, "PUT"), patch = !strcmp(method, "PATCH");
	bool has_body = body && len > 0;
	pr_info(r->log, "The API server received a %s request on \"%s\".", method, path ? path : "/");

	if (too_deep || (!get && !put && !patch)) {
		fault(r, out, "Invalid request method and/or path: %s %s.", method, path);
		return;
	}
	if (get && has_body) {
		fault(r, out, "GET request cannot have a body.");
		return;
	}
	/* Firecracker's free page hinting start and stop take an optional body. */
	bool hinting = p0 && !strcmp(p0, "balloon") && p1 && !strcmp(p1, "hinting") && p2 &&
		       (!strcmp(p2, "start") || !strcmp(p2, "stop"));
	if ((put || patch) && !has_body && !(patch && hinting)) {
		fault(r, out, put ? "Empty PUT request." : "Empty PATCH request.");
		return;
	}
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		if (!strcmp(p0, unsupported[i].resource)) {
			fault(r, out, "%s is not supported by wisp yet.", unsupported[i].what);
			return;
		}
	}

	if (get) {
		if (!*p0 && !p1) {
			count(r, CNT_GET_INSTANCE_INFO);
			get_instance_info(r, out);
		} else if (!strcmp(p0, "version") && !p1) {
			cJSON *j = cJSON_CreateObject();
			cJSON_AddStringToObject(j, "firecracker_version", WISP_VERSION);
			count(r, CNT_GET_VERSION);
			ok_json(out, j);
		} else if (!strcmp(p0, "machine-config") && !p1) {
			count(r, CNT_GET_MACHINE_CFG);
			get_config(r, true, out);
		} else if (!strcmp(p0, "vm") && p1 && !strcmp(p1, "config") && !p2) {
			count(r, CNT_GET_VM_CONFIG);
			get_config(r, false, out);
		} else if (!strcmp(p0, "mmds") && !p1) {
			get_mmds(r, out);
		} else if (!strcmp(p0, "memory") && !p1) {
			get_memory(r, out);
		} else if (!strcmp(p0, "balloon") &&
			   (!p1 || (!strcmp(p1, "statistics") && !p2) ||
			    (!strcmp(p1, "hinting") && p2 && !strcmp(p2, "status")))) {
			get_balloon(r, p1, out);
		} else {
			fault(r, out, "Invalid request method and/or path: %s %s.", method, path);
		}
		return;
	}

	/* PUT and PATCH carry a JSON body. */
	struct req *rq = calloc(1, sizeof(*rq));
	if (!rq) {
		api_response__fault(out, 500, "Out of memory.");
		return;
	}
	rq->r = r;
	rq->out = out;
	rq->id = p1;
	char why[ERR_MAX];
	cJSON *json = has_body ? api_json__parse(body, len, why, sizeof(why)) : NULL;
	if (!json && has_body) {
		fault(r, out, DESERIALIZE "%.1900s.", why);
		free(rq);
		return;
	}
	rq->body = json;
	bool one = !p1, two = p1 && !p2;
	if (put && !strcmp(p0, "boot-source") && one) {
		count(r, CNT_PUT_BOOT_SOURCE);
		respond(rq, put_boot_source(rq), CNT_PUT_BOOT_SOURCE_FAILS);
	} else if (put && !strcmp(p0, "machine-config") && one) {
		count(r, CNT_PUT_MACHINE_CFG);
		respond(rq, machine_config(rq, true), CNT_PUT_MACHINE_CFG_FAILS);
	} else if (patch && !strcmp(p0, "machine-config") && one) {
		count(r, CNT_PATCH_MACHINE_CFG);
		respond(rq, machine_config(rq, false), CNT_PATCH_MACHINE_CFG_FAILS);
	} else if (put && !strcmp(p0, "drives") && (one || two)) {
		count(r, CNT_PUT_DRIVE);
		respond(rq, put_drive(rq), CNT_PUT_DRIVE_FAILS);
	} else if (patch && !strcmp(p0, "drives") && (one || two)) {
		count(r, CNT_PATCH_DRIVE);
		respond(rq, patch_drive(rq), CNT_PATCH_DRIVE_FAILS);
	} else if (put && !strcmp(p0, "network-interfaces") && (one || two)) {
		count(r, CNT_PUT_NETWORK);
		respond(rq, put_net(rq), CNT_PUT_NETWORK_FAILS);
	} else if (patch && !strcmp(p0, "network-interfaces") && (one || two)) {
		count(r, CNT_PATCH_NETWORK);
		respond(rq, patch_net(rq), CNT_PATCH_NETWORK_FAILS);
	} else if (put && !strcmp(p0, "actions") && one) {
		count(r, CNT_PUT_ACTIONS);
		respond(rq, put_actions(rq), CNT_PUT_ACTIONS_FAILS);
	} else if (patch && !strcmp(p0, "vm") && one) {
		count(r, CNT_PATCH_VM);
		respond(rq, patch_vm(rq), CNT_PATCH_VM_FAILS);
	} else if (put && !strcmp(p0, "logger") && one) {
		count(r, CNT_PUT_LOGGER);
		respond(rq, put_logger(rq), CNT_PUT_LOGGER_FAILS);
	} else if (put && !strcmp(p0, "metrics") && one) {
		count(r, CNT_PUT_METRICS);
		respond(rq, put_metrics(rq), CNT_PUT_METRICS_FAILS);
	} else if (put && !strcmp(p0, "entropy") && one) {
		count(r, CNT_PUT_ENTROPY);
		respond(rq, put_entropy(rq), CNT_PUT_ENTROPY_FAILS);
	} else if (put && !strcmp(p0, "serial") && one) {
		count(r, CNT_PUT_SERIAL);
		respond(rq, put_serial(rq), CNT_PUT_SERIAL_FAILS);
	} else if (put && !strcmp(p0, "vsock") && one) {
		count(r, CNT_PUT_VSOCK);
		respond(rq, put_vsock(rq), CNT_PUT_VSOCK_FAILS);
	} else if (put && !strcmp(p0, "balloon") && one) {
		count(r, CNT_PUT_BALLOON);
		respond(rq, put_balloon(rq), CNT_PUT_BALLOON_FAILS);
	} else if (patch && !strcmp(p0, "balloon") && (one || (two && !strcmp(p1, "statistics")) || hinting)) {
		count(r, CNT_PATCH_BALLOON);
		rq->id = NULL;
		respond(rq, patch_balloon(rq, p1, p2), CNT_PATCH_BALLOON_FAILS);
	} else if ((put || patch) && !strcmp(p0, "mmds") && one) {
		respond(rq, put_mmds(rq, patch), CNT_MAX);
	} else if (put && !strcmp(p0, "mmds") && two && !strcmp(p1, "config")) {
		rq->id = NULL;
		respond(rq, put_mmds_config(rq), CNT_MAX);
	} else if (put && !strcmp(p0, "snapshot") && two && (!strcmp(p1, "create") || !strcmp(p1, "load"))) {
		count(r, CNT_PUT_SNAPSHOT);
		rq->id = NULL;
		respond(rq, put_snapshot(rq, p1), CNT_PUT_SNAPSHOT_FAILS);
	} else {
		fault(r, out, "Invalid request method and/or path: %s %s.", method, path);
	}
	cJSON_Delete(json);
	free(rq);
}
