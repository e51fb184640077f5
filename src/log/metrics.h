/*
 * Metrics: a registry of named values, written as one JSON object per line to the metrics path every
 * METRICS_PERIOD_MS and on demand (FlushMetrics), the way Firecracker does:
 *   {"utc_timestamp_ms":1714557600000,"api_server":{...},"uart":{"read_count":3,...},...}
 * Each component owns its counters and registers them here under a group ("uart", "vcpu", ...).
 * Counters report what was added since the previous flush (Firecracker's SharedIncMetric); gauges
 * report their current value (SharedStoreMetric).
 */
#ifndef WISP_METRICS_H
#define WISP_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_PERIOD_MS 60000
#define METRICS_MAX 1024 /* the devices' ~80 and 9 per vCPU */
#define METRICS_MAX_PROPERTIES 16

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

typedef uint64_t (*metric_read_fn)(void *opaque);

/*
 * Register a value read through `read(opaque)` at each flush. `group` and `name` must outlive the
 * registration (string literals). Returns -1 when the registry is full.
 */
int metrics__register(const char *group, const char *name, enum metric_kind kind, metric_read_fn read, void *opaque);
/* Register an atomic counter or gauge owned by the caller. */
int metrics__register_value(const char *group, const char *name, enum metric_kind kind, atomic_uint_fast64_t *value);
/* Drop every registration made with this opaque pointer (a device going away). */
void metrics__unregister(const void *opaque);

struct metrics_config {
	const char *path;
	bool emit_id;
	unsigned nprops;
	const char *prop_keys[METRICS_MAX_PROPERTIES];
	const char *prop_values[METRICS_MAX_PROPERTIES];
};

/* Set the destination (once per process, as in Firecracker). Returns -1 with a message on failure. */
int metrics__configure(const struct metrics_config *c, const char *instance_id, char *err, size_t errlen);
bool metrics__configured(void);
/* Write one line now. Returns 0 (also when no destination is configured), -1 if the write failed. */
int metrics__flush(void);
/* Format one line into buf (NUL-terminated, no newline) and advance the counters; returns its length. */
size_t metrics__format(char *buf, size_t len);

/* A thread that flushes every period_ms until stopped. */
int metrics__start_periodic(unsigned period_ms);
void metrics__stop_periodic(void);

/* Forget every registration and the destination (tests). */
void metrics__reset(void);

#endif
