/*
 * Invocation traces in the Azure Functions 2019 format: CSV, header
 * HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440, one row per function with its per-minute invocation
 * counts, one file per day. Functions of one application (HashOwner + HashApp) share its instances, so the
 * trace is kept per application: the minutes with invocations, in order, and their counts.
 */
#ifndef WISP_FAAS_TRACE_H
#define WISP_FAAS_TRACE_H
#include <stddef.h>
#include <stdint.h>

#define TRACE_MINUTES 1440

struct trace_app {
	char *name; /* "owner/app" */
	char trigger[16];
	uint32_t *minute, *count; /* the minutes (day * 1440 + m - 1) with invocations, ascending */
	size_t n, cap;
	uint64_t invocations;
};

struct trace {
	struct trace_app *apps;
	size_t n, cap;
	unsigned days;
};

/* Add one day's file (the next day after those already read). A malformed file leaves t unchanged and says
 * which line is at fault. */
int trace__read(struct trace *t, const char *path, char *err, size_t n);
void trace__free(struct trace *t);

struct gen_opts {
	unsigned apps, days;
	uint64_t seed;
};
/* Write a synthetic trace, one file per day: PREFIX.dNN.csv (NN from 01). */
int trace__generate(const struct gen_opts *o, const char *prefix, char *err, size_t n);

#endif
