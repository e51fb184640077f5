/*
 * The API layer without a socket: body parsing (unknown fields, types, required fields), validation against
 * the configuration (nothing half-applied), and the router's paths, status codes and fault messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "api/parse.h"
#include "api/router.h"
#include "log/log.h"
#include "log/metrics.h"
#include "vmm/controller.h"

static char tmpdir[] = "/tmp/wisp-test-api-XXXXXX";
static char kernel[256], initrd[256], disk[256], disk2[256];

static void touch(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(kernel, sizeof(kernel), "%s/Image", tmpdir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", tmpdir);
	snprintf(disk, sizeof(disk), "%s/disk.img", tmpdir);
	snprintf(disk2, sizeof(disk2), "%s/disk2.img", tmpdir);
	touch(kernel, "not a kernel");
	touch(initrd, "initrd");
	touch(disk, "disk");
	touch(disk2, "disk2");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Parse `text` and run one body parser on it; returns its result, the error in err. */
#define PARSE(fn, text, out, err)                                                                                      \
	({                                                                                                             \
		cJSON *j_ = api_json__parse(text, strlen(text), err, sizeof(err));                                     \
		int r_ = j_ ? fn(j_, out, err, sizeof(err)) : -1;                                                      \
		cJSON_Delete(j_);                                                                                      \
		r_;                                                                                                    \
	})

/* ---- documents ---- */

static void test_json_document(void **state)
{
	(void)state;
	char err[256];
	assert_null(api_json__parse("{\"a\": ", 6, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid JSON at line 1"));
	assert_null(api_json__parse("{} x", 4, err, sizeof(err)));
	assert_string_equal(err, "trailing characters after the JSON value");
	assert_null(api_json__parse("{\"a\":1,\"a\":2}", 13, err, sizeof(err)));
	assert_string_equal(err, "duplicate field `a`");
	const char *nul = "{\"kernel_image_path\": \"/bin/sh\\u0000.evil\"}";
	assert_null(api_json__parse(nul, strlen(nul), err, sizeof(err)));
	assert_non_null(strstr(err, "\\u0000"));
	/* An escaped backslash before u0000 is just text. */
	const char *ok = "{\"a\": \"x\\\\u0000\"}";
	cJSON *j = api_json__parse(ok, strlen(ok), err, sizeof(err));
	assert_non_null(j);
	cJSON_Delete(j);
	assert_null(api_json__parse("", 0, err, sizeof(err)));
}

static void test_parse_boot_source(void **state)
{
	(void)state;
	char err[512];
	struct boot_source_cfg b;
	assert_int_equal(PARSE(api_parse__boot_source,
			       "{\"kernel_image_path\":\"/k\",\"initrd_path\":null,\"boot_args\":\"console=ttyS0\"}",
			       &b, err),
			 0);
	assert_string_equal(b.kernel_image_path, "/k");
	assert_string_equal(b.initrd_path, "");
	assert_true(b.has_boot_args);
	assert_string_equal(b.boot_args, "console=ttyS0");

	assert_int_equal(PARSE(api_parse__boot_source, "{\"boot_args\":\"x\"}", &b, err), -1);
	assert_string_equal(err, "missing field `kernel_image_path`");
	assert_int_equal(PARSE(api_parse__boot_source, "{\"kernel_image_path\":\"/k\",\"extra\":1}", &b, err), -1);
	assert_string_equal(err, "unknown field `extra`, expected one of `kernel_image_path`, `initrd_path`, "
				 "`boot_args`");
	assert_int_equal(PARSE(api_parse__boot_source, "{\"kernel_image_path\":5}", &b, err), -1);
	assert_string_equal(err, "invalid type for `kernel_image_path`: expected a string, got a number");
	assert_int_equal(PARSE(api_parse__boot_source, "{\"kernel_image_path\":null}", &b, err), -1);
	assert_string_equal(err, "invalid type for `kernel_image_path`: null");
	assert_int_equal(PARSE(api_parse__boot_source, "[1,2]", &b, err), -1);
	assert_string_equal(err, "invalid type: expected an object, got an array");

	char big[RES_CMDLINE_MAX + 64];
	snprintf(big, sizeof(big), "{\"kernel_image_path\":\"/k\",\"boot_args\":\"%0*d\"}", RES_CMDLINE_MAX, 0);
	assert_int_equal(PARSE(api_parse__boot_source, big, &b, err), -1);
	assert_non_null(strstr(err, "`boot_args` is longer than"));
}

static int parse_machine(const char *text, bool full, struct machine_cfg_update *u, char *err, size_t n)
{
	cJSON *j = api_json__parse(text, strlen(text), err, n);
	int r = j ? api_parse__machine_config(j, full, u, err, n) : -1;
	cJSON_Delete(j);
	return r;
}

static void test_parse_machine_config(void **state)
{
	(void)state;
	char err[512];
	struct machine_cfg_update u;
	assert_int_equal(
		parse_machine("{\"vcpu_count\":1,\"mem_size_mib\":256,\"smt\":false,\"track_dirty_pages\":true,"
			      "\"huge_pages\":\"None\",\"cpu_template\":\"None\"}",
			      true, &u, err, sizeof(err)),
		0);
	assert_int_equal(u.v.vcpu_count, 1);
	assert_int_equal(u.v.mem_size_mib, 256);
	assert_true(u.v.track_dirty_pages && u.has_track_dirty_pages);
	assert_string_equal(u.v.cpu_template, "None");

	assert_int_equal(parse_machine("{\"vcpu_count\":2}", true, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "missing field `mem_size_mib`");
	assert_int_equal(parse_machine("{\"mem_size_mib\":512}", false, &u, err, sizeof(err)), 0);
	assert_true(u.has_mem_size_mib && !u.has_vcpu_count);
	assert_int_equal(parse_machine("{\"vcpu_count\":-1,\"mem_size_mib\":1}", true, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid value for `vcpu_count`: expected an unsigned integer");
	assert_int_equal(parse_machine("{\"vcpu_count\":1.5,\"mem_size_mib\":1}", true, &u, err, sizeof(err)), -1);
	assert_int_equal(parse_machine("{\"vcpu_count\":300,\"mem_size_mib\":1}", true, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid value for `vcpu_count`: larger than 255");
	assert_int_equal(parse_machine("{\"vcpu_count\":\"1\",\"mem_size_mib\":1}", true, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid type for `vcpu_count`: expected an unsigned integer, got a string");
	assert_int_equal(parse_machine("{\"smt\":1}", false, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid type for `smt`: expected a boolean, got a number");
	assert_int_equal(parse_machine("{\"cpu_template\":\"T9\"}", false, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown variant `T9` for `cpu_template`"));
	assert_int_equal(parse_machine("{\"mem_size_mib\":1e300}", false, &u, err, sizeof(err)), -1);
}

static void test_parse_devices(void **state)
{
	(void)state;
	char err[512];
	struct drive_cfg d;
	assert_int_equal(PARSE(api_parse__drive,
			       "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/d\",\"is_root_device\":true,"
			       "\"is_read_only\":true,\"cache_type\":\"Writeback\",\"io_engine\":\"Async\","
			       "\"rate_limiter\":{\"bandwidth\":{\"size\":1000,\"refill_time\":100}}}",
			       &d, err),
			 0);
	assert_true(d.is_root_device && d.is_read_only);
	assert_int_equal(d.cache_type, CACHE_WRITEBACK);
	assert_int_equal(d.io_engine, IO_ENGINE_ASYNC);
	assert_true(d.rate_limiter.present && d.rate_limiter.bandwidth.present && !d.rate_limiter.ops.present);
	assert_int_equal(d.rate_limiter.bandwidth.size, 1000);

	assert_int_equal(PARSE(api_parse__drive, "{\"drive_id\":\"a\",\"path_on_host\":\"/d\"}", &d, err), -1);
	assert_string_equal(err, "missing field `is_root_device`");
	assert_int_equal(
		PARSE(api_parse__drive, "{\"drive_id\":\"a\",\"socket\":\"/s\",\"is_root_device\":false}", &d, err),
		-1);
	assert_non_null(strstr(err, "vhost-user"));
	assert_int_equal(PARSE(api_parse__drive,
			       "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
			       "\"rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":1,\"burst\":2}}}",
			       &d, err),
			 -1);
	assert_non_null(strstr(err, "unknown field `burst` in rate_limiter.ops"));
	assert_int_equal(PARSE(api_parse__drive,
			       "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
			       "\"rate_limiter\":{\"ops\":{\"size\":1}}}",
			       &d, err),
			 -1);
	assert_string_equal(err, "missing field `rate_limiter.ops.refill_time`");

	struct net_cfg n;
	assert_int_equal(PARSE(api_parse__net,
			       "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"AA:FC:00:00:00:01\","
			       "\"mtu\":1500}",
			       &n, err),
			 0);
	assert_int_equal(n.guest_mac[0], 0xaa);
	assert_int_equal(n.guest_mac[5], 0x01);
	assert_int_equal(n.mtu, 1500);
	assert_int_equal(PARSE(api_parse__net,
			       "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"AA:FC\"}", &n, err),
			 -1);
	assert_non_null(strstr(err, "guest_mac"));
	assert_int_equal(
		PARSE(api_parse__net, "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"mtu\":67}", &n, err), -1);
	assert_int_equal(
		PARSE(api_parse__net, "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"mtu\":65536}", &n, err), -1);
	assert_int_equal(PARSE(api_parse__net, "{\"iface_id\":\"eth0\"}", &n, err), -1);
	assert_string_equal(err, "missing field `host_dev_name`");
	assert_int_equal(
		PARSE(api_parse__net, "{\"iface_id\":\"eth0\",\"host_dev_name\":\"a-very-long-tap-name\"}", &n, err),
		-1);
	assert_non_null(strstr(err, "longer than 15 bytes"));
}

static void test_parse_misc(void **state)
{
	(void)state;
	char err[512];
	struct logger_cfg l;
	assert_int_equal(PARSE(api_parse__logger, "{\"level\":\"warning\",\"show_level\":true}", &l, err), 0);
	assert_true(l.has_level && l.level == LOG_LVL_WARN && l.has_show_level && l.show_level);
	assert_false(l.has_log_path);
	assert_int_equal(PARSE(api_parse__logger, "{\"level\":\"DEBUG\"}", &l, err), 0);
	assert_int_equal(l.level, LOG_LVL_DEBUG);
	assert_int_equal(PARSE(api_parse__logger, "{\"level\":\"Loud\"}", &l, err), -1);
	assert_non_null(strstr(err, "unknown variant `Loud`"));

	struct metrics_cfg *m = malloc(sizeof(*m));
	assert_int_equal(
		PARSE(api_parse__metrics, "{\"metrics_path\":\"/m\",\"properties\":{\"a\":\"b\",\"c\":\"d\"}}", m, err),
		0);
	assert_int_equal(m->nprops, 2);
	assert_string_equal(m->prop_values[1], "d");
	assert_int_equal(PARSE(api_parse__metrics, "{\"metrics_path\":\"/m\",\"properties\":{\"a\":1}}", m, err), -1);
	assert_string_equal(err, "invalid type for `properties.a`: expected a string, got a number");
	free(m);

	enum api_action a;
	assert_int_equal(PARSE(api_parse__action, "{\"action_type\":\"FlushMetrics\"}", &a, err), 0);
	assert_int_equal(a, ACTION_FLUSH_METRICS);
	assert_int_equal(PARSE(api_parse__action, "{\"action_type\":\"Reboot\"}", &a, err), -1);
	assert_non_null(strstr(err, "expected one of `InstanceStart`, `FlushMetrics`, `SendCtrlAltDel`"));
	bool pause;
	assert_int_equal(PARSE(api_parse__vm_state, "{\"state\":\"Paused\"}", &pause, err), 0);
	assert_true(pause);
	assert_int_equal(PARSE(api_parse__vm_state, "{\"state\":\"Resumed\"}", &pause, err), 0);
	assert_false(pause);
	assert_int_equal(PARSE(api_parse__vm_state, "{\"state\":\"paused\"}", &pause, err), -1);

	struct snapshot_load_cfg *s = malloc(sizeof(*s));
	assert_int_equal(PARSE(api_parse__snapshot_load, "{\"snapshot_path\":\"/s\"}", s, err), -1);
	assert_non_null(strstr(err, "exactly one of"));
	assert_int_equal(
		PARSE(api_parse__snapshot_load,
		      "{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"Uffd\",\"backend_path\":\"/u\"}}",
		      s, err),
		0);
	assert_true(s->mem_uffd);
	free(s);
}

/* ---- validation against the configuration ---- */

static struct drive_cfg drive(const char *id, const char *path, bool root)
{
	struct drive_cfg d = { .is_root_device = root };
	snprintf(d.drive_id, sizeof(d.drive_id), "%s", id);
	snprintf(d.path_on_host, sizeof(d.path_on_host), "%s", path);
	return d;
}

static void test_resources(void **state)
{
	(void)state;
	char err[1024];
	struct vm_resources *r = malloc(sizeof(*r)), *before = malloc(sizeof(*before));
	resources__init(r);
	assert_int_equal(r->machine.mem_size_mib, RES_DEFAULT_MEM_MIB);

	struct boot_source_cfg b = { 0 };
	snprintf(b.kernel_image_path, sizeof(b.kernel_image_path), "%s/missing", tmpdir);
	assert_int_equal(resources__set_boot_source(r, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "The kernel file cannot be opened"));
	assert_false(r->has_boot_source);
	snprintf(b.kernel_image_path, sizeof(b.kernel_image_path), "%s", kernel);
	snprintf(b.initrd_path, sizeof(b.initrd_path), "%s", tmpdir); /* a directory */
	assert_int_equal(resources__set_boot_source(r, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "The initrd file cannot be opened"));
	snprintf(b.initrd_path, sizeof(b.initrd_path), "%s", initrd);
	assert_int_equal(resources__set_boot_source(r, &b, err, sizeof(err)), 0);

	/* Machine: a refused update leaves everything as it was. */
	struct machine_cfg_update u = { .has_vcpu_count = true, .has_mem_size_mib = true };
	u.v.vcpu_count = 1;
	u.v.mem_size_mib = 512;
	assert_int_equal(resources__update_machine(r, &u, true, err, sizeof(err)), 0);
	*before = *r;
	u.v.vcpu_count = 33;
	assert_int_equal(resources__update_machine(r, &u, true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "vCPU"));
	u.v.vcpu_count = 1;
	u.v.mem_size_mib = 4;
	assert_int_equal(resources__update_machine(r, &u, true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "memory size"));
	struct machine_cfg_update smt = { .has_smt = true, .v.smt = true, .has_mem_size_mib = true };
	smt.v.mem_size_mib = 1024;
	assert_int_equal(resources__update_machine(r, &smt, false, err, sizeof(err)), -1);
	assert_string_equal(err, "Enabling simultaneous multithreading is not supported on RISC-V.");
	struct machine_cfg_update tmpl = { .has_cpu_template = true, .v.has_cpu_template = true };
	snprintf(tmpl.v.cpu_template, sizeof(tmpl.v.cpu_template), "T2");
	assert_int_equal(resources__update_machine(r, &tmpl, false, err, sizeof(err)), -1);
	assert_memory_equal(before, r, sizeof(*r));
	/* PATCH keeps what it does not name; PUT resets it. */
	struct machine_cfg_update dirty = { .has_track_dirty_pages = true, .v.track_dirty_pages = true };
	assert_int_equal(resources__update_machine(r, &dirty, false, err, sizeof(err)), 0);
	assert_int_equal(r->machine.mem_size_mib, 512);
	assert_true(r->machine.track_dirty_pages);

	/* Drives: existing path, one root device, valid ids, the root first. */
	struct drive_cfg d = drive("data", disk2, false);
	assert_int_equal(resources__put_drive(r, &d, err, sizeof(err)), 0);
	d = drive("rootfs", disk, true);
	assert_int_equal(resources__put_drive(r, &d, err, sizeof(err)), 0);
	assert_string_equal(r->drives[0].drive_id, "rootfs");
	assert_string_equal(r->drives[1].drive_id, "data");
	*before = *r;
	d = drive("other", disk2, true);
	assert_int_equal(resources__put_drive(r, &d, err, sizeof(err)), -1);
	assert_string_equal(err, "A root block device already exists!");
	d = drive("bad-id", disk2, false);
	assert_int_equal(resources__put_drive(r, &d, err, sizeof(err)), -1);
	d = drive("nofile", "/nonexistent/disk", false);
	assert_int_equal(resources__put_drive(r, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Unable to open the block device backing file"));
	assert_memory_equal(before, r, sizeof(*r));
	/* Updating a drive in place keeps its slot. */
	d = drive("data", disk, false);
	d.is_read_only = true;
	assert_int_equal(resources__put_drive(r, &d, err, sizeof(err)), 0);
	assert_int_equal(r->ndrives, 2);
	assert_true(r->drives[1].is_read_only);

	char cmdline[RES_CMDLINE_MAX];
	assert_int_equal(resources__cmdline(r, cmdline, sizeof(cmdline)), 0);
	assert_string_equal(cmdline, RES_DEFAULT_CMDLINE " root=/dev/vda rw");

	/* Network interfaces: unique TAP and MAC. */
	struct net_cfg n = { .has_guest_mac = true, .guest_mac = { 0xaa, 0xfc, 0, 0, 0, 1 } };
	snprintf(n.iface_id, sizeof(n.iface_id), "eth0");
	snprintf(n.host_dev_name, sizeof(n.host_dev_name), "tap0");
	assert_int_equal(resources__put_net(r, &n, err, sizeof(err)), 0);
	snprintf(n.iface_id, sizeof(n.iface_id), "eth1");
	assert_int_equal(resources__put_net(r, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "host device name tap0 is already in use"));
	snprintf(n.host_dev_name, sizeof(n.host_dev_name), "tap1");
	assert_int_equal(resources__put_net(r, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MAC address aa:fc:00:00:00:01 is already in use"));
	n.guest_mac[5] = 2;
	assert_int_equal(resources__put_net(r, &n, err, sizeof(err)), 0);
	snprintf(n.host_dev_name, sizeof(n.host_dev_name), "../x");
	assert_int_equal(resources__put_net(r, &n, err, sizeof(err)), -1);

	/* Slots: 2 drives + 2 nets + entropy + 3 more drives = 8; the ninth device is refused. */
	struct entropy_cfg e = { 0 };
	assert_int_equal(resources__set_entropy(r, &e, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {
		char id[8];
		snprintf(id, sizeof(id), "d%d", i);
		d = drive(id, disk2, false);
		assert_int_equal(resources__put_drive(r, &d, err, sizeof(err)), 0);
	}
	d = drive("d9", disk2, false);
	assert_int_equal(resources__put_drive(r, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "virtio-mmio slots"));
	d = drive("d0", disk, false); /* replacing one needs no new slot */
	assert_int_equal(resources__put_drive(r, &d, err, sizeof(err)), 0);

	assert_true(resources__valid_id("rootfs_1"));
	assert_false(resources__valid_id(""));
	assert_false(resources__valid_id("a/b"));
	free(r);
	free(before);
}

/* ---- the router ---- */

struct fix {
	struct logger log; /* each fixture its own logger and metrics: nothing is process-wide */
	struct metrics metrics;
	struct controller c;
	struct api_router r;
};

static int router_setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	logger__init(&f->log);
	log__configure(&f->log, &(struct log_config){ .set_level = true, .level = LOG_LVL_OFF }, NULL, 0);
	metrics__init(&f->metrics, &f->log);
	controller__init(&f->c, "test-vm", -1, -1, &f->log, &f->metrics);
	api_router__init(&f->r, &f->c);
	*state = f;
	return 0;
}

static int router_teardown(void **state)
{
	struct fix *f = *state;
	api_router__exit(&f->r);
	controller__exit(&f->c);
	metrics__destroy(&f->metrics);
	logger__destroy(&f->log);
	free(f);
	return 0;
}

/* One request; returns the status, the body (or "") in `body`. */
static int req(struct fix *f, const char *method, const char *path, const char *body, char *out, size_t n)
{
	struct api_response resp;
	api_router__handle(&f->r, method, path, body, body ? strlen(body) : 0, &resp);
	snprintf(out, n, "%s", resp.body ? resp.body : "");
	api_response__free(&resp);
	return resp.status;
}

static void assert_fault(const char *body, const char *msg)
{
	cJSON *j = cJSON_Parse(body);
	assert_non_null(j);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "fault_message");
	assert_true(cJSON_IsString(m));
	if (!strstr(m->valuestring, msg))
		fail_msg("fault_message '%s' does not contain '%s'", m->valuestring, msg);
	assert_int_equal(cJSON_GetArraySize(j), 1);
	cJSON_Delete(j);
}

static void test_router_get(void **state)
{
	struct fix *f = *state;
	char body[4096];
	assert_int_equal(req(f, "GET", "/", NULL, body, sizeof(body)), 200);
	assert_string_equal(body, "{\"id\":\"test-vm\",\"state\":\"Not started\",\"vmm_version\":\"" WISP_VERSION
				  "\",\"app_name\":\"wisp\"}");
	assert_int_equal(req(f, "GET", "/version", NULL, body, sizeof(body)), 200);
	assert_string_equal(body, "{\"firecracker_version\":\"" WISP_VERSION "\"}");
	assert_int_equal(req(f, "GET", "/machine-config", NULL, body, sizeof(body)), 200);
	assert_string_equal(body, "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":false,\"track_dirty_pages\":false,"
				  "\"huge_pages\":\"None\"}");
	assert_int_equal(req(f, "GET", "/vm/config", NULL, body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"machine-config\":{"));
	assert_int_equal(req(f, "GET", "/nothing", NULL, body, sizeof(body)), 400);
	assert_fault(body, "Invalid request method and/or path: GET /nothing.");
	assert_int_equal(req(f, "GET", "/", "{}", body, sizeof(body)), 400);
	assert_fault(body, "GET request cannot have a body.");
	assert_int_equal(req(f, "DELETE", "/drives/x", NULL, body, sizeof(body)), 400);
	assert_fault(body, "Invalid request method and/or path: DELETE /drives/x.");
	assert_int_equal(req(f, "GET", "/a/b/c/d", NULL, body, sizeof(body)), 400);
	assert_int_equal(req(f, "GET", "/balloon", NULL, body, sizeof(body)), 400);
	assert_fault(body, "No balloon device is configured.");
	assert_int_equal(req(f, "GET", "/mmds", NULL, body, sizeof(body)), 200);
	assert_string_equal(body, "{}");
}

/* MMDS through the router: the document at any time, its configuration checked against the interfaces. */
static void test_router_mmds(void **state)
{
	struct fix *f = *state;
	char body[1024];
	assert_int_equal(req(f, "PUT", "/mmds", "{\"a\":{\"b\":\"c\",\"d\":1}}", body, sizeof(body)), 204);
	assert_int_equal(req(f, "PATCH", "/mmds", "{\"a\":{\"d\":null,\"e\":[1]}}", body, sizeof(body)), 204);
	assert_int_equal(req(f, "GET", "/mmds", NULL, body, sizeof(body)), 200);
	assert_string_equal(body, "{\"a\":{\"b\":\"c\",\"e\":[1]}}");
	assert_int_equal(req(f, "PUT", "/mmds", "{\"a\":", body, sizeof(body)), 400);
	assert_int_equal(req(f, "PUT", "/mmds/config", "{\"network_interfaces\":[\"eth9\"]}", body, sizeof(body)),
			 400);
	assert_fault(body, "does not correspond to any existing network interface: eth9");
	assert_int_equal(req(f, "PUT", "/mmds/config", "{\"version\":\"V3\",\"network_interfaces\":[]}", body,
			     sizeof(body)),
			 400);
	assert_int_equal(req(f, "PUT", "/mmds/config", "{\"network_interfaces\":[]}", body, sizeof(body)), 400);
	assert_fault(body, "is empty");
	assert_int_equal(req(f, "PUT", "/network-interfaces/eth0",
			     "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap-mmds0\"}", body, sizeof(body)),
			 204);
	assert_int_equal(req(f, "PUT", "/mmds/config",
			     "{\"network_interfaces\":[\"eth0\"],\"ipv4_address\":\"10.0.0.1\"}", body, sizeof(body)),
			 400);
	assert_fault(body, "link-local");
	assert_int_equal(req(f, "PUT", "/mmds/config",
			     "{\"version\":\"V2\",\"network_interfaces\":[\"eth0\"],\"imds_compat\":true}", body,
			     sizeof(body)),
			 204);
	assert_true(f->c.res.has_mmds);
	assert_int_equal(f->c.res.mmds.version, 2);
	assert_int_equal(f->c.res.mmds.ipv4, MMDS_DEFAULT_IPV4);
	assert_int_equal(req(f, "GET", "/vm/config", NULL, body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"mmds-config\":{\"version\":\"V2\",\"network_interfaces\":[\"eth0\"],"
				     "\"ipv4_address\":\"169.254.169.254\",\"imds_compat\":true}"));
	/* Runtime updates need a running microVM. */
	assert_int_equal(req(f, "PATCH", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\"}", body, sizeof(body)),
			 400);
	assert_fault(body, "not supported before starting");
}

static void test_router_preboot(void **state)
{
	struct fix *f = *state;
	char body[4096], json[1024];
	assert_int_equal(req(f, "PUT", "/boot-source", NULL, body, sizeof(body)), 400);
	assert_fault(body, "Empty PUT request.");
	assert_int_equal(req(f, "PATCH", "/machine-config", "", body, sizeof(body)), 400);
	assert_fault(body, "Empty PATCH request.");
	assert_int_equal(req(f, "PUT", "/boot-source", "{\"kernel_image_path\":", body, sizeof(body)), 400);
	assert_fault(body, "An error occurred when deserializing the json body of a request: invalid JSON");

	snprintf(json, sizeof(json), "{\"kernel_image_path\":\"%s\",\"boot_args\":\"console=ttyS0\"}", kernel);
	assert_int_equal(req(f, "PUT", "/boot-source", json, body, sizeof(body)), 204);
	assert_string_equal(body, "");
	assert_int_equal(req(f, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}", body, sizeof(body)),
			 204);
	assert_int_equal(req(f, "PATCH", "/machine-config", "{\"vcpu_count\":33}", body, sizeof(body)), 400);
	assert_int_equal(req(f, "GET", "/machine-config", NULL, body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"mem_size_mib\":64"));
	assert_non_null(strstr(body, "\"vcpu_count\":1"));

	snprintf(json, sizeof(json), "{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":true}", disk);
	assert_int_equal(req(f, "PUT", "/drives/rootfs", json, body, sizeof(body)), 204);
	assert_int_equal(req(f, "PUT", "/drives/other", json, body, sizeof(body)), 400);
	assert_fault(body, "The id from the path does not match the id from the body!");
	assert_int_equal(req(f, "PUT", "/drives/bad-id", json, body, sizeof(body)), 400);
	assert_fault(body, "API Resource IDs can only contain alphanumeric characters and underscores.");
	assert_int_equal(req(f, "PUT", "/drives", json, body, sizeof(body)), 400);
	assert_fault(body, "The ID cannot be empty.");
	assert_int_equal(req(f, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\"}", body, sizeof(body)), 400);
	assert_fault(body, MSG_NOT_STARTED);
	assert_int_equal(req(f, "PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}",
			     body, sizeof(body)),
			 204);
	assert_int_equal(req(f, "PATCH", "/vm", "{\"state\":\"Paused\"}", body, sizeof(body)), 400);
	assert_fault(body, MSG_NOT_STARTED);
	assert_int_equal(req(f, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", body, sizeof(body)), 400);
	assert_fault(body, MSG_NOT_STARTED);
	assert_int_equal(req(f, "PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"/tmp\"}", body, sizeof(body)), 400);
	assert_fault(body, "already exists");
	assert_int_equal(req(f, "PUT", "/snapshot/create", "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}", body,
			     sizeof(body)),
			 400);
	assert_fault(body, MSG_NOT_STARTED);
	assert_int_equal(req(f, "PUT", "/snapshot/load", "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}", body,
			     sizeof(body)),
			 400);
	assert_fault(body, "Loading a microVM snapshot not allowed after configuring boot-specific resources.");
	assert_int_equal(req(f, "PUT", "/entropy", "{}", body, sizeof(body)), 204);

	/* Everything shows in /vm/config. */
	assert_int_equal(req(f, "GET", "/vm/config", NULL, body, sizeof(body)), 200);
	cJSON *cfg = cJSON_Parse(body);
	assert_non_null(cfg);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cfg, "boot-source"), "boot_args")->valuestring,
			    "console=ttyS0");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cfg, "drives")), 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cfg, "network-interfaces")), 1);
	assert_non_null(cJSON_GetObjectItem(cfg, "entropy"));
	cJSON_Delete(cfg);
}

/* PUT /snapshot/load before anything boot-specific: refused files leave the microVM Not started and loadable. */
static void test_router_snapshot_load(void **state)
{
	struct fix *f = *state;
	char body[4096], json[1024];
	/* The logger, metrics and serial output are not boot-specific (as in Firecracker). */
	assert_int_equal(req(f, "PUT", "/logger", "{\"level\":\"Off\"}", body, sizeof(body)), 204);
	snprintf(json, sizeof(json), "{\"snapshot_path\":\"%s/none.state\",\"mem_file_path\":\"%s/none.mem\"}", tmpdir,
		 tmpdir);
	assert_int_equal(req(f, "PUT", "/snapshot/load", json, body, sizeof(body)), 400);
	assert_fault(body, "Load snapshot error: cannot open the snapshot state file");
	assert_int_equal(controller__state(&f->c), VM_NOT_STARTED);
	/* Not a snapshot at all (the fake kernel). */
	snprintf(json, sizeof(json), "{\"snapshot_path\":\"%s\",\"mem_backend\":{\"backend_type\":\"File\","
		 "\"backend_path\":\"%s\"},\"resume_vm\":true}", kernel, disk);
	assert_int_equal(req(f, "PUT", "/snapshot/load", json, body, sizeof(body)), 400);
	assert_fault(body, "Load snapshot error: ");
	assert_int_equal(controller__state(&f->c), VM_NOT_STARTED);
	snprintf(json, sizeof(json), "{\"snapshot_path\":\"%s\",\"mem_backend\":{\"backend_type\":\"Uffd\","
		 "\"backend_path\":\"/u.sock\"}}", kernel);
	assert_int_equal(req(f, "PUT", "/snapshot/load", json, body, sizeof(body)), 400);
	assert_fault(body, "Uffd memory backend is not supported");
	assert_int_equal(req(f, "PUT", "/snapshot/create", "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}", body,
			     sizeof(body)),
			 400);
	assert_fault(body, MSG_NOT_STARTED);
	/* Still configurable and still loadable; once a boot resource is set, a load is refused. */
	assert_int_equal(req(f, "GET", "/", NULL, body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"state\":\"Not started\""));
	assert_int_equal(req(f, "PATCH", "/machine-config", "{\"mem_size_mib\":64}", body, sizeof(body)), 204);
	snprintf(json, sizeof(json), "{\"snapshot_path\":\"%s\",\"mem_file_path\":\"%s\"}", kernel, disk);
	assert_int_equal(req(f, "PUT", "/snapshot/load", json, body, sizeof(body)), 400);
	assert_fault(body, "Loading a microVM snapshot not allowed after configuring boot-specific resources.");
	/* After start (pretended), a load is a pre-boot request like any other. */
	f->c.state = VM_RUNNING;
	assert_int_equal(req(f, "PUT", "/snapshot/load", json, body, sizeof(body)), 400);
	assert_fault(body, MSG_STARTED);
	f->c.state = VM_NOT_STARTED;
}

static void test_router_start_failures(void **state)
{
	struct fix *f = *state;
	char body[4096], json[1024];
	assert_int_equal(req(f, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", body, sizeof(body)), 400);
	assert_fault(body, "Cannot start microvm without kernel configuration.");
	/* A kernel file that is no kernel: the start fails, the microVM stays configurable. */
	snprintf(json, sizeof(json), "{\"kernel_image_path\":\"%s\"}", kernel);
	assert_int_equal(req(f, "PUT", "/boot-source", json, body, sizeof(body)), 204);
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
	dup2(null, STDERR_FILENO); /* the loader explains on stderr */
	int st = req(f, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", body, sizeof(body));
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	assert_int_equal(st, 400);
	assert_fault(body, "Failed to start the microVM");
	assert_int_equal(controller__state(&f->c), VM_NOT_STARTED);
	assert_int_equal(req(f, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}", body, sizeof(body)),
			 204);
}

static void test_router_after_start(void **state)
{
	struct fix *f = *state;
	char body[4096], json[1024];
	/* Pretend the microVM runs: only the pre-boot refusals are exercised, nothing touches the machine. */
	f->c.state = VM_RUNNING;
	snprintf(json, sizeof(json), "{\"kernel_image_path\":\"%s\"}", kernel);
	assert_int_equal(req(f, "PUT", "/boot-source", json, body, sizeof(body)), 400);
	assert_fault(body, MSG_STARTED);
	assert_int_equal(req(f, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}", body, sizeof(body)),
			 400);
	assert_fault(body, MSG_STARTED);
	assert_int_equal(req(f, "PATCH", "/machine-config", "{\"mem_size_mib\":64}", body, sizeof(body)), 400);
	assert_fault(body, MSG_STARTED);
	snprintf(json, sizeof(json), "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":false}", disk);
	assert_int_equal(req(f, "PUT", "/drives/x", json, body, sizeof(body)), 400);
	assert_fault(body, MSG_STARTED);
	assert_int_equal(req(f, "PUT", "/logger", "{\"level\":\"Info\"}", body, sizeof(body)), 400);
	assert_fault(body, MSG_STARTED);
	assert_int_equal(req(f, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", body, sizeof(body)), 400);
	assert_fault(body, MSG_STARTED);
	assert_int_equal(req(f, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", body, sizeof(body)), 400);
	assert_fault(body, "SendCtrlAltDel is not supported on RISC-V");
	assert_int_equal(req(f, "PATCH", "/drives/nope", "{\"drive_id\":\"nope\"}", body, sizeof(body)), 400);
	assert_fault(body, "Invalid block device ID: nope");
	assert_int_equal(req(f, "PUT", "/snapshot/create", "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}", body,
			     sizeof(body)),
			 400);
	assert_fault(body, "Create snapshot only allowed while paused");
	assert_int_equal(req(f, "GET", "/", NULL, body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"state\":\"Running\""));
	assert_int_equal(req(f, "GET", "/machine-config", NULL, body, sizeof(body)), 200);
	f->c.state = VM_NOT_STARTED;
}

/* vsock and balloon before boot: validation, updates, GET, the configuration document; runtime-only requests. */
static void test_router_vsock_balloon(void **state)
{
	struct fix *f = *state;
	char body[4096], json[1024], sock[300];
	snprintf(sock, sizeof(sock), "%s/v.sock", tmpdir);
	/* vsock: CIDs 0..2 are reserved, the path must be new, short enough, in an existing directory. */
	assert_int_equal(req(f, "PUT", "/vsock", "{\"guest_cid\":2,\"uds_path\":\"/x\"}", body, sizeof(body)), 400);
	assert_fault(body, "invalid value for `guest_cid`");
	assert_int_equal(req(f, "PUT", "/vsock", "{\"guest_cid\":4294967296,\"uds_path\":\"/x\"}", body, sizeof(body)),
			 400);
	assert_int_equal(req(f, "PUT", "/vsock", "{\"guest_cid\":3}", body, sizeof(body)), 400);
	assert_fault(body, "missing field `uds_path`");
	assert_int_equal(req(f, "PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"/no/such/dir/v\"}", body, sizeof(body)),
			 400);
	assert_fault(body, "does not exist");
	snprintf(json, sizeof(json), "{\"guest_cid\":3,\"uds_path\":\"%0100d\"}", 0);
	assert_int_equal(req(f, "PUT", "/vsock", json, body, sizeof(body)), 400);
	assert_false(f->c.res.has_vsock); /* nothing changed by the refusals */
	snprintf(json, sizeof(json), "{\"guest_cid\":7,\"uds_path\":\"%s\",\"vsock_id\":\"old\"}", sock);
	assert_int_equal(req(f, "PUT", "/vsock", json, body, sizeof(body)), 204);
	assert_int_equal(f->c.res.vsock.guest_cid, 7);
	assert_string_equal(f->c.res.vsock.uds_path, sock);

	/* balloon: required fields, a target within guest memory (128 MiB by default). */
	assert_int_equal(req(f, "PUT", "/balloon", "{\"amount_mib\":1}", body, sizeof(body)), 400);
	assert_fault(body, "missing field `deflate_on_oom`");
	assert_int_equal(req(f, "PUT", "/balloon", "{\"amount_mib\":129,\"deflate_on_oom\":true}", body, sizeof(body)),
			 400);
	assert_fault(body, "larger than the guest memory");
	assert_int_equal(req(f, "PUT", "/balloon", "{\"amount_mib\":1,\"deflate_on_oom\":true,"
					       "\"stats_polling_interval_s\":65536}",
			     body, sizeof(body)),
			 400);
	assert_int_equal(req(f, "PATCH", "/balloon", "{\"amount_mib\":1}", body, sizeof(body)), 400);
	assert_fault(body, "No balloon device is configured.");
	assert_false(f->c.res.has_balloon);
	assert_int_equal(req(f, "PUT", "/balloon", "{\"amount_mib\":16,\"deflate_on_oom\":true,"
					       "\"stats_polling_interval_s\":2,\"free_page_reporting\":true}",
			     body, sizeof(body)),
			 204);
	assert_int_equal(req(f, "PATCH", "/balloon", "{\"amount_mib\":32}", body, sizeof(body)), 204);
	assert_int_equal(req(f, "PATCH", "/balloon", "{\"amount_mib\":1000}", body, sizeof(body)), 400);
	assert_int_equal(req(f, "PATCH", "/balloon", "{\"amount_mib\":1,\"x\":2}", body, sizeof(body)), 400);
	assert_fault(body, "unknown field `x`");
	assert_int_equal(req(f, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\":5}", body, sizeof(body)),
			 204);
	assert_int_equal(req(f, "GET", "/balloon", NULL, body, sizeof(body)), 200);
	assert_string_equal(body, "{\"amount_mib\":32,\"deflate_on_oom\":true,\"stats_polling_interval_s\":5,"
				  "\"free_page_hinting\":false,\"free_page_reporting\":true}");
	assert_int_equal(req(f, "GET", "/vm/config", NULL, body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"balloon\":{\"amount_mib\":32,"));
	assert_non_null(strstr(body, "\"vsock\":{\"guest_cid\":7,"));

	/* Statistics and hinting need a running microVM. */
	assert_int_equal(req(f, "GET", "/balloon/statistics", NULL, body, sizeof(body)), 400);
	assert_fault(body, MSG_NOT_STARTED);
	assert_int_equal(req(f, "PATCH", "/balloon/hinting/start", NULL, body, sizeof(body)), 400);
	assert_fault(body, MSG_NOT_STARTED);
	assert_int_equal(req(f, "PATCH", "/balloon/hinting/start", "{\"acknowledge_on_stop\":1}", body, sizeof(body)),
			 400);
	assert_fault(body, "invalid type for `acknowledge_on_stop`");
	assert_int_equal(req(f, "PATCH", "/balloon/hinting/stop", NULL, body, sizeof(body)), 400);
	assert_fault(body, MSG_NOT_STARTED);
	assert_int_equal(req(f, "GET", "/balloon/hinting/status", NULL, body, sizeof(body)), 400);
	assert_int_equal(req(f, "PATCH", "/balloon/hinting/other", NULL, body, sizeof(body)), 400);
	assert_fault(body, "Empty PATCH request.");
	assert_int_equal(req(f, "GET", "/balloon/nothing", NULL, body, sizeof(body)), 400);
	assert_fault(body, "Invalid request method and/or path");

	/* After boot (pretended: no machine), without a balloon device. */
	f->c.state = VM_RUNNING;
	assert_int_equal(req(f, "PUT", "/vsock", json, body, sizeof(body)), 400);
	assert_fault(body, MSG_STARTED);
	assert_int_equal(req(f, "PUT", "/balloon", "{\"amount_mib\":1,\"deflate_on_oom\":true}", body, sizeof(body)),
			 400);
	assert_fault(body, MSG_STARTED);
	assert_int_equal(req(f, "PATCH", "/balloon", "{\"amount_mib\":1}", body, sizeof(body)), 400);
	assert_fault(body, "No balloon device is configured.");
	assert_int_equal(req(f, "GET", "/balloon/statistics", NULL, body, sizeof(body)), 400);
	assert_fault(body, "No balloon device is configured.");
	f->c.state = VM_NOT_STARTED;
}

static void test_router_metrics(void **state)
{
	struct fix *f = *state;
	char body[4096], json[1024], path[300], line[65536];
	snprintf(path, sizeof(path), "%s/metrics.json", tmpdir);
	assert_int_equal(req(f, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", body, sizeof(body)), 204);
	snprintf(json, sizeof(json), "{\"metrics_path\":\"%s\",\"emit_id\":true,\"properties\":{\"team\":\"a\\\"b\"}}",
		 path);
	assert_int_equal(req(f, "PUT", "/metrics", json, body, sizeof(body)), 204);
	assert_int_equal(req(f, "PUT", "/metrics", json, body, sizeof(body)), 400);
	assert_fault(body, "Reinitialization of metrics not allowed.");
	assert_int_equal(req(f, "GET", "/", NULL, body, sizeof(body)), 200);
	assert_int_equal(req(f, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", body, sizeof(body)), 204);
	FILE *m = fopen(path, "r");
	assert_non_null(m);
	assert_non_null(fgets(line, sizeof(line), m));
	fclose(m);
	cJSON *j = cJSON_Parse(line);
	assert_non_null(j);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "utc_timestamp_ms")));
	assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring, "test-vm");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "properties"), "team")->valuestring, "a\"b");
	const cJSON *get = cJSON_GetObjectItem(j, "get_api_requests");
	assert_int_equal(cJSON_GetObjectItem(get, "instance_info_count")->valueint, 1);
	const cJSON *put = cJSON_GetObjectItem(j, "put_api_requests");
	assert_int_equal(cJSON_GetObjectItem(put, "metrics_count")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(put, "metrics_fails")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(put, "actions_count")->valueint, 2);
	cJSON_Delete(j);
}

static void test_config_file(void **state)
{
	struct fix *f = *state;
	char doc[2048], err[1024];
	snprintf(doc, sizeof(doc),
		 "{\"boot-source\":{\"kernel_image_path\":\"%s\",\"boot_args\":\"console=ttyS0 reboot=k\"},"
		 "\"drives\":[{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":true,"
		 "\"is_read_only\":true}],"
		 "\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":1024},\"network-interfaces\":[],"
		 "\"balloon\":null}",
		 kernel, disk);
	assert_int_equal(api_config__apply(&f->c, doc, strlen(doc), err, sizeof(err)), 0);
	assert_int_equal(f->c.res.machine.mem_size_mib, 1024);
	assert_int_equal(f->c.res.ndrives, 1);
	assert_true(f->c.res.drives[0].is_read_only);

	const char *bad[][2] = {
		{ "{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64}}", "missing field `boot-source`" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"/bin/sh\"},\"mmds-config\":{}}",
		  "mmds-config: missing field `network_interfaces`" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"/bin/sh\"},\"vsock\":{\"guest_cid\":1,\"uds_path\":\"/v\"}}",
		  "vsock: invalid value for `guest_cid`" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"/bin/sh\"},\"balloon\":{\"amount_mib\":1}}",
		  "balloon: missing field `deflate_on_oom`" },
		{ "{\"boot-source\":{},\"nonsense\":1}", "unknown field `nonsense`" },
		{ "{\"boot-source\":{}}", "boot-source: missing field `kernel_image_path`" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"/bin/sh\"},\"drives\":{}}", "drives: expected an array" },
		{ "[]", "expected a JSON object" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(api_config__apply(&f->c, bad[i][0], strlen(bad[i][0]), err, sizeof(err)), -1);
		if (!strstr(err, bad[i][1]))
			fail_msg("config %zu: '%s' does not contain '%s'", i, err, bad[i][1]);
	}
	snprintf(doc, sizeof(doc),
		 "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"%"
		 "s\","
		 "\"is_root_device\":false},{\"drive_id\":\"b\",\"path_on_host\":\"/"
		 "nonexistent\",\"is_root_device\":false}]}",
		 kernel, disk);
	assert_int_equal(api_config__apply(&f->c, doc, strlen(doc), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "drives[1]: Unable to open the block device backing file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_document),
		cmocka_unit_test(test_parse_boot_source),
		cmocka_unit_test(test_parse_machine_config),
		cmocka_unit_test(test_parse_devices),
		cmocka_unit_test(test_parse_misc),
		cmocka_unit_test(test_resources),
		cmocka_unit_test_setup_teardown(test_router_get, router_setup, router_teardown),
		cmocka_unit_test_setup_teardown(test_router_mmds, router_setup, router_teardown),
		cmocka_unit_test_setup_teardown(test_router_preboot, router_setup, router_teardown),
		cmocka_unit_test_setup_teardown(test_router_snapshot_load, router_setup, router_teardown),
		cmocka_unit_test_setup_teardown(test_router_start_failures, router_setup, router_teardown),
		cmocka_unit_test_setup_teardown(test_router_after_start, router_setup, router_teardown),
		cmocka_unit_test_setup_teardown(test_router_vsock_balloon, router_setup, router_teardown),
		cmocka_unit_test_setup_teardown(test_router_metrics, router_setup, router_teardown),
		cmocka_unit_test_setup_teardown(test_config_file, router_setup, router_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
