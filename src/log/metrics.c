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
#define PROP_MAX METRICS_PROP_MAX

static uint64_t read_atomic(void *opaque)
{
	return atomic_load((atomic_uint_fast64_t *)opaque);
}

static uint64_t read_missed_logs(void *opaque)
{
	return log__missed_count(opaque);
}

static int add_locked(struct metrics *mx, const char *group, const char *name, enum metric_kind kind, metric_read_fn read, void *opaque)
{
	if (mx->n >= METRICS_MAX)
		return -1;
	mx->m[mx->n++] = (struct metric){ group, name, kind, read, opaque, 0 };
	return 0;
}

/* The metrics of the logger and of this writer, registered once. */
static void builtins_locked(struct metrics *mx)
{
	if (mx->builtins)
		return;
	mx->builtins = true;
	add_locked(mx, "logger", "missed_log_count", METRIC_COUNTER, read_missed_logs, mx->log);
	add_locked(mx, "logger", "metrics_fails", METRIC_COUNTER, read_atomic, &mx->fails);
}

void metrics__init(struct metrics *mx, struct logger *log)
{
	memset(mx, 0, sizeof(*mx));
	pthread_mutex_init(&mx->lock, NULL);
	pthread_cond_init(&mx->cv, NULL);
	mx->log = log;
	mx->fd = -1;
	atomic_init(&mx->fails, 0);
}

int metrics__register(struct metrics *mx, const char *group, const char *name, enum metric_kind kind,
		      metric_read_fn read, void *opaque)
{
	if (!mx)
		return -1;
	pthread_mutex_lock(&mx->lock);
	builtins_locked(mx);
	int r = add_locked(mx, group, name, kind, read, opaque);
	pthread_mutex_unlock(&mx->lock);
	return r;
}

int metrics__register_value(struct metrics *mx, const char *group, const char *name, enum metric_kind kind,
			    atomic_uint_fast64_t *value)
{
	return metrics__register(mx, group, name, kind, read_atomic, value);
}

void metrics__unregister(struct metrics *mx, const void *opaque)
{
	if (!mx)
		return;
	pthread_mutex_lock(&mx->lock);
	unsigned j = 0;
	for (unsigned i = 0; i < mx->n; i++)
		if (mx->m[i].opaque != opaque)
			mx->m[j++] = mx->m[i];
	mx->n = j;
	pthread_mutex_unlock(&mx->lock);
}

int metrics__configure(struct metrics *mx, const struct metrics_config *c, const char *instance_id, char *err,
		       size_t errlen)
{
	if (!mx) {
		snprintf(err, errlen, "no metrics registry");
		return -1;
	}
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
	pthread_mutex_lock(&mx->lock);
	if (mx->configured) {
		pthread_mutex_unlock(&mx->lock);
		snprintf(err, errlen, "Reinitialization of metrics not allowed.");
		return -1;
	}
	int fd = log__open_destination(c->path, err, errlen);
	if (fd < 0) {
		pthread_mutex_unlock(&mx->lock);
		return -1;
	}
	builtins_locked(mx);
	mx->fd = fd;
	mx->configured = true;
	mx->emit_id = c->emit_id;
	snprintf(mx->id, sizeof(mx->id), "%s", instance_id ? instance_id : "");
	mx->nprops = c->nprops;
	for (unsigned i = 0; i < c->nprops; i++) {
		snprintf(mx->keys[i], PROP_MAX, "%s", c->prop_keys[i]);
		snprintf(mx->values[i], PROP_MAX, "%s", c->prop_values[i]);
	}
	pthread_mutex_unlock(&mx->lock);
	return 0;
}

bool metrics__configured(struct metrics *mx)
{
	if (!mx)
		return false;
	pthread_mutex_lock(&mx->lock);
	bool c = mx->configured;
	pthread_mutex_unlock(&mx->lock);
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

static size_t format_locked(struct metrics *mx, char *buf, size_t len)
{
	struct timespec ts;
	size_t n = 0;
	builtins_locked(mx);
	clock_gettime(CLOCK_REALTIME, &ts);
	put(buf, len, &n, "{\"utc_timestamp_ms\":%llu",
	    (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull);
	if (mx->emit_id) {
		put(buf, len, &n, ",\"id\":");
		put_string(buf, len, &n, mx->id);
	}
	if (mx->nprops) {
		put(buf, len, &n, ",\"properties\":{");
		for (unsigned i = 0; i < mx->nprops; i++) {
			put(buf, len, &n, i ? "," : "");
			put_string(buf, len, &n, mx->keys[i]);
			put(buf, len, &n, ":");
			put_string(buf, len, &n, mx->values[i]);
		}
		put(buf, len, &n, "}");
	}
	/* Groups in the order they were first registered. */
	for (unsigned i = 0; i < mx->n; i++) {
		bool seen = false;
		for (unsigned k = 0; k < i && !seen; k++)
			seen = !strcmp(mx->m[k].group, mx->m[i].group);
		if (seen)
			continue;
		put(buf, len, &n, ",\"%s\":{", mx->m[i].group);
		bool first = true;
		for (unsigned k = i; k < mx->n; k++) {
			struct metric *m = &mx->m[k];
			if (strcmp(m->group, mx->m[i].group))
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

size_t metrics__format(struct metrics *mx, char *buf, size_t len)
{
	pthread_mutex_lock(&mx->lock);
	size_t n = format_locked(mx, buf, len);
	pthread_mutex_unlock(&mx->lock);
	return n;
}

int metrics__flush(struct metrics *mx)
{
	if (!mx)
		return 0;
	char *buf = malloc(LINE_MAX_LEN);
	if (!buf)
		return -1;
	int r = 0;
	pthread_mutex_lock(&mx->lock);
	if (mx->configured) {
		size_t n = format_locked(mx, buf, LINE_MAX_LEN - 1);
		buf[n++] = '\n';
		ssize_t w;
		do
			w = write(mx->fd, buf, n);
		while (w < 0 && errno == EINTR);
		if (w != (ssize_t)n) {
			atomic_fetch_add(&mx->fails, 1);
			r = -1;
		}
	}
	pthread_mutex_unlock(&mx->lock);
	free(buf);
	if (r < 0)
		pr_warn(mx->log, "Failed to write metrics");
	return r;
}

static void *periodic(void *opaque)
{
	struct metrics *mx = opaque;
	seccomp__enter(SECCOMP_METRICS);
	log__set_thread_name("metrics");
	pthread_mutex_lock(&mx->lock);
	while (!mx->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)mx->period_ms * 1000000ull;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		int r = 0;
		while (!mx->stop && r != ETIMEDOUT)
			r = pthread_cond_timedwait(&mx->cv, &mx->lock, &ts);
		if (mx->stop)
			break;
		pthread_mutex_unlock(&mx->lock);
		metrics__flush(mx);
		pthread_mutex_lock(&mx->lock);
	}
	pthread_mutex_unlock(&mx->lock);
	return NULL;
}

int metrics__start_periodic(struct metrics *mx, unsigned period_ms)
{
	if (!mx)
		return 0;
	pthread_mutex_lock(&mx->lock);
	if (mx->running) {
		pthread_mutex_unlock(&mx->lock);
		return 0;
	}
	mx->stop = false;
	mx->period_ms = period_ms ? period_ms : METRICS_PERIOD_MS;
	int r = pthread_create(&mx->thread, NULL, periodic, mx) == 0 ? 0 : -1;
	mx->running = r == 0;
	pthread_mutex_unlock(&mx->lock);
	return r;
}

void metrics__stop_periodic(struct metrics *mx)
{
	if (!mx)
		return;
	pthread_mutex_lock(&mx->lock);
	if (!mx->running) {
		pthread_mutex_unlock(&mx->lock);
		return;
	}
	mx->stop = true;
	pthread_cond_broadcast(&mx->cv);
	pthread_mutex_unlock(&mx->lock);
	pthread_join(mx->thread, NULL);
	pthread_mutex_lock(&mx->lock);
	mx->running = false;
	pthread_mutex_unlock(&mx->lock);
}

void metrics__destroy(struct metrics *mx)
{
	metrics__stop_periodic(mx);
	if (mx->fd >= 0)
		close(mx->fd);
	mx->fd = -1;
	pthread_cond_destroy(&mx->cv);
	pthread_mutex_destroy(&mx->lock);
}
