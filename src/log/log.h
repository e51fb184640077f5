/*
 * The logger: human-readable lines with a level, shared by every layer (process-wide, like the metrics).
 *
 * Line format (Firecracker's):
 *   2024-05-01T12:00:00.123456789 [instance-id:thread(:LEVEL)(:file:line)] message
 * Lines go to stderr until a log path is configured (stdout is the guest console).
 */
#ifndef WISP_LOG_H
#define WISP_LOG_H

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

/*
 * Apply a configuration. The destination is opened first (created if missing; FIFOs work without a reader
 * yet); on failure nothing changes, an error is written to err and -1 returned.
 */
int log__configure(const struct log_config *c, char *err, size_t errlen);
/* The instance id shown in every line (default "anonymous-instance"). */
void log__set_instance_id(const char *id);
/* Name of the calling thread in log lines (default "main" for the first thread, else "-"). */
void log__set_thread_name(const char *name);
/* Back to the initial state: stderr, Warning, no level, no origin (tests). */
void log__reset(void);

bool log__enabled(enum log_level level);
void log__write(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Parse "Error", "Warning" (or "Warn"), "Info", "Debug", "Trace", "Off", any case. */
int log__parse_level(const char *s, enum log_level *out);
const char *log__level_name(enum log_level level); /* "Error", "Warning", ... */
enum log_level log__level(void);

/* Monotonic and process CPU clocks in microseconds; process start (taken before main) on the same clock. */
uint64_t log__now_us(void);
uint64_t log__cpu_now_us(void);
uint64_t log__process_start_us(void);
/* A launcher's start (wisp-jailer's --start-time-us and --start-time-cpu-us), before any thread exists. */
void log__set_process_start(uint64_t mono_us, uint64_t cpu_us);
uint64_t log__process_start_cpu_us(void); /* 0 unless set */

/* Counters the metrics report under "logger". */
uint64_t log__missed_count(void);

#define pr_err(...) log__write(LOG_LVL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define pr_warn(...) log__write(LOG_LVL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define pr_info(...) log__write(LOG_LVL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define pr_debug(...) log__write(LOG_LVL_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

/*
 * Open a log or metrics destination for appending: a regular file (created if missing) or a FIFO
 * (opened non-blocking read-write, so writes never block the VMM). On error, a message in err.
 */
int log__open_destination(const char *path, char *err, size_t errlen);

#endif
