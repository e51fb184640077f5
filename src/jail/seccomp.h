/*
 * Per-thread seccomp filters (libseccomp): every kind of thread wisp starts runs under its own allow-list, so
 * code that took over one thread can only make the system calls that thread needs. See docs/seccomp.md.
 *
 * A leaf module: it knows no other part of wisp, so every layer that starts a thread can call it. The
 * allow-lists are in seccomp_rules.c; a custom policy comes from a JSON file in Firecracker's seccompiler
 * format (seccomp_json.c).
 *
 * Life cycle: main calls seccomp__setup once, before any other thread exists. It compiles the filter of every
 * thread kind and installs the VMM's on the calling thread. Each thread's first act is seccomp__enter(kind).
 * Without seccomp__setup (unit tests, fuzzers) or with seccomp off, seccomp__enter does nothing.
 *
 * The kernel gives a new thread its parent's filters and a system call passes only if every filter on the
 * thread allows it. So the filter of a thread that starts others also allows what those others need
 * (seccomp_rules.c lists who starts whom); the children's own filters then narrow them down.
 */
#ifndef WISP_JAIL_SECCOMP_H
#define WISP_JAIL_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum seccomp_thread {
	SECCOMP_VMM,	  /* the main thread: configuration, --config-file and CLI boots, exit */
	SECCOMP_API,	  /* the API server; runs the controller (InstanceStart, snapshots, pause/resume) */
	SECCOMP_VCPU,	  /* a vCPU: runs guest code and device MMIO */
	SECCOMP_IO,	  /* the virtio I/O thread (virtio/ioloop.c) */
	SECCOMP_CONSOLE,  /* the serial console input thread */
	SECCOMP_TIMEOUT,  /* --timeout */
	SECCOMP_METRICS,  /* the periodic metrics writer */
	SECCOMP_SIGNALS,  /* sigwait for SIGINT/SIGTERM/SIGHUP/SIGQUIT */
	SECCOMP_SNAPSHOT, /* --snapshot-save's trigger (SIGUSR1 or a timer) */
	SECCOMP_NTHREADS
};

/* --seccomp-level: Firecracker's levels. */
enum seccomp_level { SECCOMP_LEVEL_OFF = 0, SECCOMP_LEVEL_BASIC = 1, SECCOMP_LEVEL_ADVANCED = 2 };

struct seccomp_options {
	enum seccomp_level level; /* default SECCOMP_LEVEL_ADVANCED; --no-seccomp = SECCOMP_LEVEL_OFF */
	const char *filter_file;  /* --seccomp-filter FILE: a JSON policy instead of the built-in one */
	bool trap;		  /* --seccomp-trap: report a forbidden call on stderr, then die of SIGSYS */
	bool print;		  /* --seccomp-print-filter: print the built-in policy as JSON and exit */
};

/*
 * wisp's seccomp options, taken out of argv (the rest is left for the main parser). Returns -1 to go on,
 * else the exit status (2 after an error, 0 after --seccomp-print-filter).
 */
int seccomp_cli__parse(struct seccomp_options *o, int *argc, char **argv);
void seccomp_cli__usage(FILE *f);

/* Compile every kind's filter and install the VMM's on the calling thread. -1 with a message in err. */
int seccomp__setup(const struct seccomp_options *o, char *err, size_t n);
/* The calling thread is of this kind: name it and install its filter (a failure ends the process). */
void seccomp__enter(enum seccomp_thread kind);
/*
 * The calling thread has built its machine (the translator's code cache exists): from now on it, and the threads
 * it starts, can map or mprotect nothing executable. Once per thread; no-op when seccomp is off or at level 1.
 */
void seccomp__lock_exec(void);

const char *seccomp__thread_name(enum seccomp_thread kind); /* "vmm", "api", "vcpu", ... */
/* The kind a name stands for, -1 if none. */
int seccomp__thread_kind(const char *name);

#endif
