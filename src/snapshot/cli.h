/*
 * Snapshots from the command line, without the API:
 *   --snapshot-save STATE,MEM[,diff]  where SIGUSR1 (or --snapshot-after) writes a snapshot: pause, write,
 *                                      resume (or stop with --snapshot-exit)
 *   --snapshot-after SEC               take that snapshot SEC seconds after the guest starts
 *   --snapshot-exit                    end wisp (status 0) once the snapshot is written
 *   --restore STATE,MEM[,DIFF...]      build the microVM from a snapshot instead of booting, and run it
 *   --snapshot-merge BASE,DIFF         merge a Diff memory file into its base in place, then exit
 * main.c strips these options before its own parsing (snapshot_cli__parse), then either hands the
 * process over to snapshot_cli__restore or arms the trigger on the booted microVM (snapshot_cli__arm).
 */
#ifndef WISP_SNAPSHOT_CLI_H
#define WISP_SNAPSHOT_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "snapshot/memfile.h"

struct controller;
struct logger;
struct vmm;
struct vmm_devices_config;

struct snapshot_cli {
	struct logger *log; /* main's; may be NULL */
	uint64_t start_ns; /* CLOCK_MONOTONIC when main began: restore latency is measured from here */
	/* --snapshot-save */
	char *save_state, *save_mem;
	bool save_diff, save_exit;
	double save_after; /* seconds, 0 = only on SIGUSR1 */
	/* --restore */
	char *restore_state;
	const char *restore_mem[SNAP_MAX_LAYERS];
	unsigned restore_nmem;
	/* Run time. */
	unsigned seq; /* snapshots taken (the "%n" of --snapshot-save) */
	struct snapshot_trigger {
		struct snapshot_cli *s;
		struct controller *c; /* the controller's microVM, or */
		struct vmm *v;        /* a restored one without a controller */
	} trigger;
	struct vmm *restored; /* --restore's microVM */
	sigset_t sigs;        /* what its signal thread waits for */
};

/* Help text for the options above. */
void snapshot_cli__usage(FILE *f);

/*
 * Take the snapshot options out of argv (argc shrinks). Returns -1 to go on, or an exit status: 2 after an
 * error (printed), 0 after --snapshot-merge. Call first thing in main: with --snapshot-save it blocks
 * SIGUSR1, which every thread must inherit.
 */
int snapshot_cli__parse(struct snapshot_cli *s, int *argc, char **argv);

static inline bool snapshot_cli__restoring(const struct snapshot_cli *s)
{
	return s->restore_state != NULL;
}

/*
 * --restore: run the microVM from the snapshot until it stops; returns wisp's exit status. devices = the
 * clone's own --drive/--net/... (NULL or empty = those of the snapshot). The serial console is stdin/stdout.
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT (blocked by main) end it.
 */
int snapshot_cli__restore(struct snapshot_cli *s, double timeout, const struct vmm_devices_config *devices);

/* --snapshot-save on a microVM the controller started: start the SIGUSR1 / --snapshot-after trigger. */
int snapshot_cli__arm(struct snapshot_cli *s, struct controller *c);

#endif
