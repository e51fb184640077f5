/*
 * The logger: human-readable lines with a level. A logger is an object its owner (the VMM's main) creates
 * and passes down to what logs; nothing here is process-wide except the calling thread's name.
 *
 * Line format (Firecracker's):
 *   2024-05-01T12:00:00.123456789 [instance-id:thread(:LEVEL)(:file:line)] message
 * Lines go to stderr until a log path is configured (stdout is the guest console).
 */
#ifndef WISP_LOG_H
#define WISP_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_LVL_OFF = 0, LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_TRACE };

#define LOG_ID_MAX 64
#define LOG_MODULE_MAX 128

/* A logger update: fields left at their "unset" value keep the current setting. */
struct log_config {
	bool set_level;
	enum log_level level;
	const char *path; /* NULL: keep the destination */
	bool set_show_level, show_level;
	bool set_show_origin, show_origin;
	const char *module; /* NULL: keep; "": no filter; else only lines whose origin starts with it */
};

struct logger {
	pthread_mutex_t lock;
	int fd; /* -1: stderr */
	atomic_int level;
	bool show_level, show_origin;
	char module[LOG_MODULE_MAX];
	char id[LOG_ID_MAX + 1];
	atomic_uint_fast64_t missed;
	/* When the process started (log__process_start_us, or a launcher's --start-time-us), for the
	 * startup figures the API server and the boot timer report. */
	uint64_t start_us, start_cpu_us;
};

/* Stderr, Warning, no level, no origin, id "anonymous-instance", started at the process's start. */
void logger__init(struct logger *lg);
void logger__destroy(struct logger *lg);

/*
 * Apply a configuration. The destination is opened first (created if missing; FIFOs work without a reader
 * yet); on failure nothing changes, an error is written to err and -1 returned.
 */
int log__configure(struct logger *lg, const struct log_config *c, char *err, size_t errlen);
/* The instance id shown in every line (default "anonymous-instance"). */
void log__set_instance_id(struct logger *lg, const char *id);
/* Name of the calling thread in log lines (default "-"): per thread, for every logger. */
void log__set_thread_name(const char *name);

/* A NULL logger logs nothing (components built without one, unit tests). */
bool log__enabled(struct logger *lg, enum log_level level);
void log__write(struct logger *lg, enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Parse "Error", "Warning" (or "Warn"), "Info", "Debug", "Trace", "Off", any case. */
int log__parse_level(const char *s, enum log_level *out);
const char *log__level_name(enum log_level level); /* "Error", "Warning", ... */
enum log_level log__level(struct logger *lg);

/* Monotonic and process CPU clocks in microseconds; the process's start (taken before main) on the same clock. */
uint64_t log__now_us(void);
uint64_t log__cpu_now_us(void);
uint64_t log__process_start_us(void);

/* Counters the metrics report under "logger". */
uint64_t log__missed_count(struct logger *lg);

#define pr_err(lg, ...) log__write((lg), LOG_LVL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define pr_warn(lg, ...) log__write((lg), LOG_LVL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define pr_info(lg, ...) log__write((lg), LOG_LVL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define pr_debug(lg, ...) log__write((lg), LOG_LVL_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

/*
 * Open a log or metrics destination for appending: a regular file (created if missing) or a FIFO
 * (opened non-blocking read-write, so writes never block the VMM). On error, a message in err.
 */
int log__open_destination(const char *path, char *err, size_t errlen);

#endif
