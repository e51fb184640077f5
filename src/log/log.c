/* The logger: levels, a destination (stderr, a file or a FIFO), Firecracker's line format. */
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096

static _Thread_local char thread_name[32];
static uint64_t start_us; /* written once, before main */

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t log__now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

uint64_t log__cpu_now_us(void)
{
	return clock_us(CLOCK_PROCESS_CPUTIME_ID);
}

__attribute__((constructor)) static void take_start_time(void)
{
	start_us = log__now_us();
}

uint64_t log__process_start_us(void)
{
	return start_us;
}

void logger__init(struct logger *lg)
{
	memset(lg, 0, sizeof(*lg));
	pthread_mutex_init(&lg->lock, NULL);
	lg->fd = -1;
	atomic_init(&lg->level, LOG_LVL_WARN);
	snprintf(lg->id, sizeof(lg->id), "anonymous-instance");
	atomic_init(&lg->missed, 0);
	lg->start_us = start_us;
}

void logger__destroy(struct logger *lg)
{
	if (lg->fd >= 0)
		close(lg->fd);
	lg->fd = -1;
	pthread_mutex_destroy(&lg->lock);
}

uint64_t log__missed_count(struct logger *lg)
{
	return lg ? atomic_load(&lg->missed) : 0;
}

static const char *const level_names[] = { "Off", "Error", "Warning", "Info", "Debug", "Trace" };
static const char *const level_tags[] = { "OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };

const char *log__level_name(enum log_level level)
{
	return (unsigned)level <= LOG_LVL_TRACE ? level_names[level] : "?";
}

int log__parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i <= LOG_LVL_TRACE; i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(s, "warn")) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

enum log_level log__level(struct logger *lg)
{
	return lg ? (enum log_level)atomic_load(&lg->level) : LOG_LVL_OFF;
}

bool log__enabled(struct logger *lg, enum log_level level)
{
	return lg && level != LOG_LVL_OFF && (int)level <= atomic_load(&lg->level);
}

void log__set_instance_id(struct logger *lg, const char *id)
{
	if (!lg)
		return;
	pthread_mutex_lock(&lg->lock);
	snprintf(lg->id, sizeof(lg->id), "%s", id);
	pthread_mutex_unlock(&lg->lock);
}

void log__set_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

int log__open_destination(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "'%s' is a directory", path);
			return -1;
		}
		/* A FIFO opened read-write needs no reader yet; writes never block the VMM. */
		if (S_ISFIFO(st.st_mode))
			flags = O_RDWR | O_NONBLOCK | O_CLOEXEC;
	}
	int fd = open(path, flags, 0644);
	if (fd < 0)
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
	return fd;
}

int log__configure(struct logger *lg, const struct log_config *c, char *err, size_t errlen)
{
	if (!lg) {
		snprintf(err, errlen, "no logger");
		return -1;
	}
	int fd = -1;
	if (c->module && strlen(c->module) >= LOG_MODULE_MAX) {
		snprintf(err, errlen, "the module filter is longer than %d bytes", LOG_MODULE_MAX - 1);
		return -1;
	}
	if (c->path && (fd = log__open_destination(c->path, err, errlen)) < 0)
		return -1;
	pthread_mutex_lock(&lg->lock);
	if (c->path) {
		if (lg->fd >= 0)
			close(lg->fd);
		lg->fd = fd;
	}
	if (c->set_level)
		atomic_store(&lg->level, c->level);
	if (c->set_show_level)
		lg->show_level = c->show_level;
	if (c->set_show_origin)
		lg->show_origin = c->show_origin;
	if (c->module)
		snprintf(lg->module, sizeof(lg->module), "%s", c->module);
	pthread_mutex_unlock(&lg->lock);
	return 0;
}

/* "…/src/api/server.c" -> "api/server.c": the origin shown in lines and matched by the module filter. */
static const char *origin(const char *file)
{
	const char *p = file, *hit = NULL;
	while ((p = strstr(p, "src/")) != NULL) {
		hit = p + 4;
		p += 4;
	}
	return hit ? hit : file;
}

void log__write(struct logger *lg, enum log_level level, const char *file, int line, const char *fmt, ...)
{
	if (!log__enabled(lg, level))
		return;
	const char *org = origin(file);
	char buf[LINE_MAX_LEN];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&lg->lock);
	if (lg->module[0] && strncmp(org, lg->module, strlen(lg->module)) != 0) {
		pthread_mutex_unlock(&lg->lock);
		return;
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%09ld [%s:%s", ts.tv_nsec, lg->id,
			      thread_name[0] ? thread_name : "-");
	if (lg->show_level && n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%s", level_tags[level]);
	if (lg->show_origin && n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%s:%d", org, line);
	if (n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "] ");
	if (n < sizeof(buf)) {
		va_list ap;
		va_start(ap, fmt);
		n += (size_t)vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		va_end(ap);
	}
	if (n >= sizeof(buf) - 1) {
		n = sizeof(buf) - 5;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '\n';
	int fd = lg->fd >= 0 ? lg->fd : STDERR_FILENO;
	ssize_t w;
	do
		w = write(fd, buf, n);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)n)
		atomic_fetch_add(&lg->missed, 1);
	pthread_mutex_unlock(&lg->lock);
}
