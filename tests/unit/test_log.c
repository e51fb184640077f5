/* The logger (levels, format, destination, module filter), the metrics registry and the boot timer device. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"
#include "log/metrics.h"
#include "machine/boottimer.h"

static char dir[] = "/tmp/wisp-test-log-XXXXXX";

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void use_log(struct logger *lg, const char *name, enum log_level level, bool show_level, bool show_origin, const char *module,
		    char *path, size_t n)
{
	char err[256];
	snprintf(path, n, "%s/%s", dir, name);
	struct log_config c = { .set_level = true,
				.level = level,
				.path = path,
				.set_show_level = true,
				.show_level = show_level,
				.set_show_origin = true,
				.show_origin = show_origin,
				.module = module ? module : "" };
	assert_int_equal(log__configure(lg, &c, err, sizeof(err)), 0);
}

static void test_log_format_and_levels(void **state)
{
	(void)state;
	char path[256];
	struct logger log, *lg = &log;
	logger__init(lg);
	log__set_instance_id(lg, "vm-1");
	log__set_thread_name("main");
	use_log(lg, "a.log", LOG_LVL_INFO, false, false, NULL, path, sizeof(path));
	pr_debug(lg, "not shown");
	pr_info(lg, "hello %d", 42);
	pr_err(lg, "bad");
	char *text = slurp(path);
	assert_non_null(text);
	regex_t re;
	assert_int_equal(
		regcomp(&re,
			"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9} \\[vm-1:main\\] hello 42\n"
			"[^\n]* \\[vm-1:main\\] bad\n$",
			REG_EXTENDED),
		0);
	if (regexec(&re, text, 0, NULL, 0))
		fail_msg("log text:\n%s", text);
	regfree(&re);

	use_log(lg, "b.log", LOG_LVL_WARN, true, true, NULL, path, sizeof(path));
	pr_info(lg, "hidden");
	pr_warn(lg, "careful");
	text = slurp(path);
	assert_non_null(strstr(text, "[vm-1:main:WARN:"));
	assert_non_null(strstr(text, "test_log.c:"));
	assert_null(strstr(text, "hidden"));

	/* Module filter: only origins starting with it. */
	use_log(lg, "c.log", LOG_LVL_INFO, false, false, "api/", path, sizeof(path));
	pr_info(lg, "from a test");
	text = slurp(path);
	assert_string_equal(text, "");

	/* A bad destination changes nothing. */
	char err[256];
	struct log_config bad = { .set_level = true, .level = LOG_LVL_DEBUG, .path = dir };
	assert_int_equal(log__configure(lg, &bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is a directory"));
	assert_int_equal(log__level(lg), LOG_LVL_INFO);

	enum log_level l;
	assert_int_equal(log__parse_level("warning", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log__parse_level("WARN", &l), 0);
	assert_int_equal(log__parse_level("Off", &l), 0);
	assert_int_equal(l, LOG_LVL_OFF);
	assert_int_equal(log__parse_level("verbose", &l), -1);
	logger__destroy(lg);
}

/* Two loggers in one process (two microVMs): each its own destination, level and id. */
static void test_two_loggers(void **state)
{
	(void)state;
	struct logger a, b;
	logger__init(&a);
	logger__init(&b);
	char pa[256], pb[256];
	use_log(&a, "vm-a.log", LOG_LVL_INFO, false, false, NULL, pa, sizeof(pa));
	use_log(&b, "vm-b.log", LOG_LVL_ERROR, false, false, NULL, pb, sizeof(pb));
	log__set_instance_id(&a, "vm-a");
	log__set_instance_id(&b, "vm-b");
	pr_info(&a, "a info");
	pr_info(&b, "b info");
	pr_err(&b, "b error");
	pr_err(NULL, "nowhere"); /* no logger: nothing, no crash */
	char *text = slurp(pa);
	assert_non_null(strstr(text, "[vm-a:"));
	assert_non_null(strstr(text, "a info"));
	assert_null(strstr(text, "b "));
	text = slurp(pb);
	assert_non_null(strstr(text, "[vm-b:"));
	assert_non_null(strstr(text, "b error"));
	assert_null(strstr(text, "b info"));
	assert_null(strstr(text, "a info"));
	assert_int_equal(log__level(&a), LOG_LVL_INFO);
	assert_int_equal(log__level(&b), LOG_LVL_ERROR);
	logger__destroy(&a);
	logger__destroy(&b);
}

static uint64_t gauge_value = 7;
static uint64_t read_gauge(void *opaque)
{
	return *(uint64_t *)opaque;
}

static void test_metrics(void **state)
{
	(void)state;
	struct logger log;
	logger__init(&log);
	static struct metrics reg;
	struct metrics *mx = &reg;
	metrics__init(mx, &log);
	atomic_uint_fast64_t hits = 0, misses = 0;
	assert_int_equal(metrics__register_value(mx, "dev", "hits", METRIC_COUNTER, &hits), 0);
	assert_int_equal(metrics__register(mx, "dev", "level", METRIC_GAUGE, read_gauge, &gauge_value), 0);
	assert_int_equal(metrics__register_value(mx, "other", "misses", METRIC_COUNTER, &misses), 0);
	atomic_store(&hits, 5);
	char line[4096];
	metrics__format(mx, line, sizeof(line));
	cJSON *j = cJSON_Parse(line);
	assert_non_null(j);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "dev"), "hits")->valueint, 5);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "dev"), "level")->valueint, 7);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "other"), "misses")->valueint, 0);
	assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "logger"), "missed_log_count"));
	cJSON_Delete(j);
	/* Counters report what was added since the previous line; gauges their value. */
	atomic_store(&hits, 8);
	metrics__format(mx, line, sizeof(line));
	j = cJSON_Parse(line);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "dev"), "hits")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "dev"), "level")->valueint, 7);
	cJSON_Delete(j);
	/* Unregistered values disappear. */
	metrics__unregister(mx, &misses);
	metrics__format(mx, line, sizeof(line));
	assert_null(strstr(line, "\"other\""));

	/* The destination: once; flush appends a line. */
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/metrics", dir);
	struct metrics_config c = { .path = path };
	assert_int_equal(metrics__flush(mx), 0); /* not configured: nothing to do */
	assert_int_equal(metrics__configure(mx, &c, "vm", err, sizeof(err)), 0);
	assert_int_equal(metrics__configure(mx, &c, "vm", err, sizeof(err)), -1);
	assert_string_equal(err, "Reinitialization of metrics not allowed.");
	assert_int_equal(metrics__flush(mx), 0);
	assert_int_equal(metrics__flush(mx), 0);
	char *text = slurp(path);
	int lines = 0;
	for (char *p = text; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 2);

	/* The periodic writer. */
	assert_int_equal(metrics__start_periodic(mx, 50), 0);
	usleep(300 * 1000);
	metrics__stop_periodic(mx);
	text = slurp(path);
	lines = 0;
	for (char *p = text; (p = strchr(p, '\n')); p++)
		lines++;
	assert_true(lines >= 4);

	/* A second registry (another microVM's) sees none of the first one's values. */
	static struct metrics other;
	metrics__init(&other, NULL);
	atomic_uint_fast64_t own = 9;
	assert_int_equal(metrics__register_value(&other, "dev", "own", METRIC_GAUGE, &own), 0);
	metrics__format(&other, line, sizeof(line));
	assert_non_null(strstr(line, "\"own\":9"));
	assert_null(strstr(line, "\"hits\""));
	metrics__format(mx, line, sizeof(line));
	assert_null(strstr(line, "\"own\""));
	metrics__destroy(&other);
	metrics__destroy(mx);
	logger__destroy(&log);
}

static void test_boottimer(void **state)
{
	(void)state;
	char path[256];
	struct logger log;
	logger__init(&log);
	use_log(&log, "boot.log", LOG_LVL_INFO, false, false, NULL, path, sizeof(path));
	struct boottimer b;
	boottimer__init(&b, &log);
	assert_int_equal(boottimer__ops.read(&b, 0, 1), 0);
	boottimer__ops.write(&b, 0, 1, 122);		 /* not the magic value */
	boottimer__ops.write(&b, 0, 4, BOOTTIMER_MAGIC); /* not a byte */
	boottimer__ops.write(&b, 8, 1, BOOTTIMER_MAGIC); /* not offset 0 */
	assert_string_equal(slurp(path), "");
	assert_int_equal(atomic_load(&b.boot_us), 0);
	usleep(2000);
	boottimer__ops.write(&b, 0, 1, BOOTTIMER_MAGIC);
	char *text = slurp(path);
	regex_t re;
	assert_int_equal(
		regcomp(&re, "Guest-boot-time = +[0-9]+ us [0-9]+ ms, +[0-9]+ CPU us [0-9]+ CPU ms", REG_EXTENDED), 0);
	if (regexec(&re, text, 0, NULL, 0))
		fail_msg("log text:\n%s", text);
	regfree(&re);
	assert_true(atomic_load(&b.boot_us) >= 2000);
	logger__destroy(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_format_and_levels),
		cmocka_unit_test(test_two_loggers),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_boottimer),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
