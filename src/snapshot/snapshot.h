/*
 * Snapshots of a whole microVM: what PUT /snapshot/create and PUT /snapshot/load do, and what the command
 * line's --snapshot-save / --restore use. A snapshot is two files, as in Firecracker:
 *   - the state file (snapshot_path): the format in format.h; harts, board devices, virtio devices and
 *     their configuration, guest time; a few KiB, versioned and checksummed;
 *   - the memory file (mem_file_path): guest RAM, Full or Diff (memfile.h).
 * Drive images are the user's: wisp does not copy them.
 *
 * Dirty-page tracking (for Diff) starts at the first snapshot or restore of a VM and never stops: every
 * snapshot clears the bitmap, so a Diff holds the pages written since the previous snapshot (or restore).
 * Before that, nothing tracks writes (a booting VM pays nothing) and a Diff is written as a Full.
 *
 * Threads: snapshot__create needs the VM paused (vmm__pause / PATCH /vm Paused) and must not race other
 * calls on the same vmm; the controller serialises them. snapshot__load builds a new VM in an unused vmm.
 */
#ifndef WISP_SNAPSHOT_SNAPSHOT_H
#define WISP_SNAPSHOT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot/memfile.h"
#include "vmm/vmm.h"

enum snapshot_type { SNAPSHOT_FULL = 0, SNAPSHOT_DIFF = 1 };

/* PUT /snapshot/create. */
struct snapshot_params {
	enum snapshot_type type; /* snapshot_type */
	const char *state_path;  /* snapshot_path */
	const char *mem_path;    /* mem_file_path */
	struct snap_mem_stats *stats; /* optional: what the memory file got */
};

/* PUT /snapshot/load. */
struct snapshot_load_params {
	const char *state_path; /* snapshot_path */
	/*
	 * mem_backend.backend_path: mem[0] is the Full memory file (or a Full with its Diffs merged in); further
	 * entries are Diff memory files laid over it, oldest first, without merging (a wisp extension).
	 */
	const char *mem[SNAP_MAX_LAYERS];
	unsigned nmem;
	bool resume;                /* resume_vm: run at once; else the VM is left Paused */
	int console_in, console_out; /* the guest's serial console (console_in -1 = no input) */
	double timeout;             /* vmm timeout in seconds, 0 = none */
	/*
	 * The clone's own devices: NULL = those recorded in the snapshot (same drive paths, TAP names and MACs).
	 * Otherwise as many drives, interfaces, rng and console as the snapshot has, in the same order (they
	 * take the same virtio-mmio slots); paths, TAP names and MACs may differ. Strings are copied.
	 */
	const struct vmm_devices_config *devices;
	/* vsock_override: the restored vsock device listens here instead of the snapshot's uds_path. */
	const char *vsock_uds_path;
	struct logger *log; /* the restored machine's logger (its boot timer); may be NULL */
	/* Where the snapshot's MMDS document and configuration go (the controller's store); NULL: not restored. */
	struct mmds *mmds;
};

/* Take a snapshot of the paused VM v. Nothing changes on failure (no file replaced, dirty pages kept). */
int snapshot__create(struct vmm *v, const struct snapshot_params *p, char *err, size_t n);

/*
 * Build a VM in v (not created yet, or destroyed) from a snapshot and start its threads, paused or running
 * per p->resume. Corrupt, truncated, wrong-version or mismatched files are refused before anything is
 * built; any later failure tears the new VM down again. Either way v is left unused and the process fine.
 */
int snapshot__load(struct vmm *v, const struct snapshot_load_params *p, char *err, size_t n);

/* What a state file says about itself, for tools and error messages. */
struct snapshot_summary {
	enum snapshot_type type;
	uint64_t mem_size, pages_written, ticks;
	unsigned nharts;
};
int snapshot__inspect(const char *state_path, struct snapshot_summary *s, char *err, size_t n);

#endif
