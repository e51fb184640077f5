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

static struct {
	pthread_mutex_t lock;
	int fd; /* -1: stderr */
	atomic_int level;
	bool show_level, show_origin;
	char module[LOG_MODULE_MAX];
	char id[LOG_ID_MAX + 1];
	atomic_uint_fast64_t missed;
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
	.level = LOG_LVL_WARN,
	.id = "anonymous-instance",
};

static _Thread_local char thread_name[32];
static uint64_t start_us, start_cpu_us;

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

uint64_t log__process_start_cpu_us(void)
{
	return start_cpu_us;
}

void log__set_process_start(uint64_t mono_us, uint64_t cpu_us)
{
	start_us = mono_us;
	start_cpu_us = cpu_us;
}

uint64_t log__missed_count(void)
{
	return atomic_load(&g.missed);
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

enum log_level log__level(void)
{
	return (enum log_level)atomic_load(&g.level);
}

bool log__enabled(enum log_level level)
{
	return level != LOG_LVL_OFF && (int)level <= atomic_load(&g.level);
}

void log__set_instance_id(const char *id)
{
	pthread_mutex_lock(&g.lock);
	snprintf(g.id, sizeof(g.id), "%s", id);
	pthread_mutex_unlock(&g.lock);
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

int log__configure(const struct log_config *c, char *err, size_t errlen)
{
	int fd = -1;
	if (c->module && strlen(c->module) >= LOG_MODULE_MAX) {
		snprintf(err, errlen, "the module filter is longer than %d bytes", LOG_MODULE_MAX - 1);
		return -1;
	}
	if (c->path && (fd = log__open_destination(c->path, err, errlen)) < 0)
		return -1;
	pthread_mutex_lock(&g.lock);
	if (c->path) {
		if (g.fd >= 0)
			close(g.fd);
		g.fd = fd;
	}
	if (c->set_level)
		atomic_store(&g.level, c->level);
	if (c->set_show_level)
		g.show_level = c->show_level;
	if (c->set_show_origin)
		g.show_origin = c->show_origin;
	if (c->module)
		snprintf(g.module, sizeof(g.module), "%s", c->module);
	pthread_mutex_unlock(&g.lock);
	return 0;
}

void log__reset(void)
{
	pthread_mutex_lock(&g.lock);
	if (g.fd >= 0)
		close(g.fd);
	g.fd = -1;
	atomic_store(&g.level, LOG_LVL_WARN);
	g.show_level = g.show_origin = false;
	g.module[0] = 0;
	snprintf(g.id, sizeof(g.id), "anonymous-instance");
	atomic_store(&g.missed, 0);
	pthread_mutex_unlock(&g.lock);
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

void log__write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	if (!log__enabled(level))
		return;
	const char *org = origin(file);
	char buf[LINE_MAX_LEN];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&g.lock);
	if (g.module[0] && strncmp(org, g.module, strlen(g.module)) != 0) {
		pthread_mutex_unlock(&g.lock);
		return;
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%09ld [%s:%s", ts.tv_nsec, g.id,
			      thread_name[0] ? thread_name : "-");
	if (g.show_level && n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%s", level_tags[level]);
	if (g.show_origin && n < sizeof(buf))
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
	int fd = g.fd >= 0 ? g.fd : STDERR_FILENO;
	ssize_t w;
	do
		w = write(fd, buf, n);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)n)
		atomic_fetch_add(&g.missed, 1);
	pthread_mutex_unlock(&g.lock);
}
