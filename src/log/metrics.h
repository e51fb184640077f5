/*
 * Metrics: a registry of named values, written as one JSON object per line to the metrics path every
 * METRICS_PERIOD_MS and on demand (FlushMetrics), the way Firecracker does:
 *   {"utc_timestamp_ms":1714557600000,"api_server":{...},"uart":{"read_count":3,...},...}
 * Each component owns its counters and registers them under a group ("uart", "vcpu", ...) in a registry
 * (struct metrics) that the registry's owner (the VMM's main) creates and passes down.
 * Counters report what was added since the previous flush (Firecracker's SharedIncMetric); gauges
 * report their current value (SharedStoreMetric).
 */
#ifndef WISP_METRICS_H
#define WISP_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/log.h"

#define METRICS_PERIOD_MS 60000
#define METRICS_MAX 1024 /* the devices' ~80 and 9 per vCPU */
#define METRICS_MAX_PROPERTIES 16

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

typedef uint64_t (*metric_read_fn)(void *opaque);

struct logger;

struct metric {
	const char *group, *name;
	enum metric_kind kind;
	metric_read_fn read;
	void *opaque;
	uint64_t last; /* counters: value at the previous flush */
};

#define METRICS_PROP_MAX 256

struct metrics {
	pthread_mutex_t lock;
	struct logger *log; /* its "logger" group, and where write failures are told */
	struct metric m[METRICS_MAX];
	unsigned n;
	int fd;
	bool configured, builtins;
	bool emit_id;
	char id[LOG_ID_MAX + 1];
	unsigned nprops;
	char keys[METRICS_MAX_PROPERTIES][METRICS_PROP_MAX], values[METRICS_MAX_PROPERTIES][METRICS_PROP_MAX];
	atomic_uint_fast64_t fails;
	/* The periodic writer. */
	pthread_t thread;
	bool running, stop;
	pthread_cond_t cv;
	unsigned period_ms;
};

/* An empty registry without a destination; log may be NULL. */
void metrics__init(struct metrics *mx, struct logger *log);
/* Stop the periodic writer, close the destination. */
void metrics__destroy(struct metrics *mx);

/*
 * Register a value read through `read(opaque)` at each flush. `group` and `name` must outlive the
 * registration (string literals). Returns -1 when the registry is full. A NULL registry registers nothing.
 */
int metrics__register(struct metrics *mx, const char *group, const char *name, enum metric_kind kind,
		      metric_read_fn read, void *opaque);
/* Register an atomic counter or gauge owned by the caller. */
int metrics__register_value(struct metrics *mx, const char *group, const char *name, enum metric_kind kind,
			    atomic_uint_fast64_t *value);
/* Drop every registration made with this opaque pointer (a device going away). */
void metrics__unregister(struct metrics *mx, const void *opaque);

struct metrics_config {
	const char *path;
	bool emit_id;
	unsigned nprops;
	const char *prop_keys[METRICS_MAX_PROPERTIES];
	const char *prop_values[METRICS_MAX_PROPERTIES];
};

/* Set the destination (once per registry, as in Firecracker). Returns -1 with a message on failure. */
int metrics__configure(struct metrics *mx, const struct metrics_config *c, const char *instance_id, char *err,
		       size_t errlen);
bool metrics__configured(struct metrics *mx);
/* Write one line now. Returns 0 (also when no destination is configured), -1 if the write failed. */
int metrics__flush(struct metrics *mx);
/* Format one line into buf (NUL-terminated, no newline) and advance the counters; returns its length. */
size_t metrics__format(struct metrics *mx, char *buf, size_t len);

/* A thread that flushes every period_ms until stopped. */
int metrics__start_periodic(struct metrics *mx, unsigned period_ms);
void metrics__stop_periodic(struct metrics *mx);

#endif
