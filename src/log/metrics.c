/* The metrics registry and its JSON-lines writer. */
#include "log/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "log/log.h"

#define LINE_MAX_LEN 65536
#define PROP_MAX 256

struct metric {
	const char *group, *name;
	enum metric_kind kind;
	metric_read_fn read;
	void *opaque;
	uint64_t last; /* counters: value at the previous flush */
};

static struct {
	pthread_mutex_t lock;
	struct metric m[METRICS_MAX];
	unsigned n;
	int fd;
	bool configured, builtins;
	bool emit_id;
	char id[LOG_ID_MAX + 1];
	unsigned nprops;
	char keys[METRICS_MAX_PROPERTIES][PROP_MAX], values[METRICS_MAX_PROPERTIES][PROP_MAX];
	atomic_uint_fast64_t fails;
	/* The periodic writer. */
	pthread_t thread;
	bool running, stop;
	pthread_cond_t cv;
	unsigned period_ms;
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.fd = -1,
};

static uint64_t read_atomic(void *opaque)
{
	return atomic_load((atomic_uint_fast64_t *)opaque);
}

static uint64_t read_missed_logs(void *opaque)
{
	(void)opaque;
	return log__missed_count();
}

static int add_locked(const char *group, const char *name, enum metric_kind kind, metric_read_fn read, void *opaque)
{
	if (g.n >= METRICS_MAX)
		return -1;
	g.m[g.n++] = (struct metric){ group, name, kind, read, opaque, 0 };
	return 0;
}

/* The metrics of the logger and of this writer, registered once. */
static void builtins_locked(void)
{
	if (g.builtins)
		return;
	g.builtins = true;
	add_locked("logger", "missed_log_count", METRIC_COUNTER, read_missed_logs, NULL);
	add_locked("logger", "metrics_fails", METRIC_COUNTER, read_atomic, &g.fails);
}

int metrics__register(const char *group, const char *name, enum metric_kind kind, metric_read_fn read, void *opaque)
{
	pthread_mutex_lock(&g.lock);
	builtins_locked();
	int r = add_locked(group, name, kind, read, opaque);
	pthread_mutex_unlock(&g.lock);
	return r;
}

int metrics__register_value(const char *group, const char *name, enum metric_kind kind, atomic_uint_fast64_t *value)
{
	return metrics__register(group, name, kind, read_atomic, value);
}

void metrics__unregister(const void *opaque)
{
	pthread_mutex_lock(&g.lock);
	unsigned j = 0;
	for (unsigned i = 0; i < g.n; i++)
		if (g.m[i].opaque != opaque)
			g.m[j++] = g.m[i];
	g.n = j;
	pthread_mutex_unlock(&g.lock);
}

int metrics__configure(const struct metrics_config *c, const char *instance_id, char *err, size_t errlen)
{
	if (c->nprops > METRICS_MAX_PROPERTIES) {
		snprintf(err, errlen, "at most %d metrics properties", METRICS_MAX_PROPERTIES);
		return -1;
	}
	for (unsigned i = 0; i < c->nprops; i++) {
		if (strlen(c->prop_keys[i]) >= PROP_MAX || strlen(c->prop_values[i]) >= PROP_MAX) {
			snprintf(err, errlen, "metrics property '%.32s' is longer than %d bytes", c->prop_keys[i],
				 PROP_MAX - 1);
			return -1;
		}
	}
	pthread_mutex_lock(&g.lock);
	if (g.configured) {
		pthread_mutex_unlock(&g.lock);
		snprintf(err, errlen, "Reinitialization of metrics not allowed.");
		return -1;
	}
	int fd = log__open_destination(c->path, err, errlen);
	if (fd < 0) {
		pthread_mutex_unlock(&g.lock);
		return -1;
	}
	builtins_locked();
	g.fd = fd;
	g.configured = true;
	g.emit_id = c->emit_id;
	snprintf(g.id, sizeof(g.id), "%s", instance_id ? instance_id : "");
	g.nprops = c->nprops;
	for (unsigned i = 0; i < c->nprops; i++) {
		snprintf(g.keys[i], PROP_MAX, "%s", c->prop_keys[i]);
		snprintf(g.values[i], PROP_MAX, "%s", c->prop_values[i]);
	}
	pthread_mutex_unlock(&g.lock);
	return 0;
}

bool metrics__configured(void)
{
	pthread_mutex_lock(&g.lock);
	bool c = g.configured;
	pthread_mutex_unlock(&g.lock);
	return c;
}

/* Append to buf at *n, never past len - 1; *n may reach len - 1 (truncated). */
static void put(char *buf, size_t len, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	if (*n >= len - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	*n = w < 0 ? *n : (*n + (size_t)w >= len ? len - 1 : *n + (size_t)w);
}

static void put_string(char *buf, size_t len, size_t *n, const char *s)
{
	put(buf, len, n, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put(buf, len, n, "\\%c", c);
		else if (c < 0x20)
			put(buf, len, n, "\\u%04x", c);
		else
			put(buf, len, n, "%c", c);
	}
	put(buf, len, n, "\"");
}

static size_t format_locked(char *buf, size_t len)
{
	struct timespec ts;
	size_t n = 0;
	builtins_locked();
	clock_gettime(CLOCK_REALTIME, &ts);
	put(buf, len, &n, "{\"utc_timestamp_ms\":%llu",
	    (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull);
	if (g.emit_id) {
		put(buf, len, &n, ",\"id\":");
		put_string(buf, len, &n, g.id);
	}
	if (g.nprops) {
		put(buf, len, &n, ",\"properties\":{");
		for (unsigned i = 0; i < g.nprops; i++) {
			put(buf, len, &n, i ? "," : "");
			put_string(buf, len, &n, g.keys[i]);
			put(buf, len, &n, ":");
			put_string(buf, len, &n, g.values[i]);
		}
		put(buf, len, &n, "}");
	}
	/* Groups in the order they were first registered. */
	for (unsigned i = 0; i < g.n; i++) {
		bool seen = false;
		for (unsigned k = 0; k < i && !seen; k++)
			seen = !strcmp(g.m[k].group, g.m[i].group);
		if (seen)
			continue;
		put(buf, len, &n, ",\"%s\":{", g.m[i].group);
		bool first = true;
		for (unsigned k = i; k < g.n; k++) {
			struct metric *m = &g.m[k];
			if (strcmp(m->group, g.m[i].group))
				continue;
			uint64_t v = m->read(m->opaque), out = v;
			if (m->kind == METRIC_COUNTER) {
				out = v >= m->last ? v - m->last : v;
				m->last = v;
			}
			put(buf, len, &n, "%s\"%s\":%llu", first ? "" : ",", m->name, (unsigned long long)out);
			first = false;
		}
		put(buf, len, &n, "}");
	}
	put(buf, len, &n, "}");
	return n;
}

size_t metrics__format(char *buf, size_t len)
{
	pthread_mutex_lock(&g.lock);
	size_t n = format_locked(buf, len);
	pthread_mutex_unlock(&g.lock);
	return n;
}

int metrics__flush(void)
{
	char *buf = malloc(LINE_MAX_LEN);
	if (!buf)
		return -1;
	int r = 0;
	pthread_mutex_lock(&g.lock);
	if (g.configured) {
		size_t n = format_locked(buf, LINE_MAX_LEN - 1);
		buf[n++] = '\n';
		ssize_t w;
		do
			w = write(g.fd, buf, n);
		while (w < 0 && errno == EINTR);
		if (w != (ssize_t)n) {
			atomic_fetch_add(&g.fails, 1);
			r = -1;
		}
	}
	pthread_mutex_unlock(&g.lock);
	free(buf);
	if (r < 0)
		pr_warn("Failed to write metrics");
	return r;
}

static void *periodic(void *opaque)
{
	(void)opaque;
	seccomp__enter(SECCOMP_METRICS);
	log__set_thread_name("metrics");
	pthread_mutex_lock(&g.lock);
	while (!g.stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)g.period_ms * 1000000ull;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		int r = 0;
		while (!g.stop && r != ETIMEDOUT)
			r = pthread_cond_timedwait(&g.cv, &g.lock, &ts);
		if (g.stop)
			break;
		pthread_mutex_unlock(&g.lock);
		metrics__flush();
		pthread_mutex_lock(&g.lock);
	}
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

int metrics__start_periodic(unsigned period_ms)
{
	pthread_mutex_lock(&g.lock);
	if (g.running) {
		pthread_mutex_unlock(&g.lock);
		return 0;
	}
	g.stop = false;
	g.period_ms = period_ms ? period_ms : METRICS_PERIOD_MS;
	int r = pthread_create(&g.thread, NULL, periodic, NULL) == 0 ? 0 : -1;
	g.running = r == 0;
	pthread_mutex_unlock(&g.lock);
	return r;
}

void metrics__stop_periodic(void)
{
	pthread_mutex_lock(&g.lock);
	if (!g.running) {
		pthread_mutex_unlock(&g.lock);
		return;
	}
	g.stop = true;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.lock);
	pthread_join(g.thread, NULL);
	pthread_mutex_lock(&g.lock);
	g.running = false;
	pthread_mutex_unlock(&g.lock);
}

void metrics__reset(void)
{
	metrics__stop_periodic();
	pthread_mutex_lock(&g.lock);
	if (g.fd >= 0)
		close(g.fd);
	g.fd = -1;
	g.n = 0;
	g.configured = g.builtins = g.emit_id = false;
	g.nprops = 0;
	atomic_store(&g.fails, 0);
	pthread_mutex_unlock(&g.lock);
}
