/*
 * Guest memory files. A memory file is the guest's RAM byte for byte (offset 0 = RAM_BASE), exactly
 * ram_size long, as Firecracker's: no header, so `cmp`, `dd` and sparse-file tools work on it.
 *
 *   Full: every page that may be non-zero is written; zero pages are left as holes (RAM is mostly
 *         untouched, so a 256 MiB guest's file takes a few tens of MiB on disk).
 *   Diff: only the pages written since the previous snapshot (or restore) of this VM, zero or not; every
 *         other page is a hole. A diff is meaningless alone: it is laid over its base, either at restore
 *         (snap_mem__map with several layers) or merged into the base file (snap_mem__merge, Firecracker's
 *         rebase-snap: copy the diff's data extents into the base).
 *
 * Restore maps the file MAP_PRIVATE over the guest RAM range: pages load lazily from the page cache on
 * first touch and are shared by every clone of the snapshot; a guest write copies the page privately.
 */
#ifndef WISP_SNAPSHOT_MEMFILE_H
#define WISP_SNAPSHOT_MEMFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"

#define SNAP_MAX_LAYERS 16
/* Beyond this many data extents in a diff layer, the layer is read in instead of mapped (one mapping per
 * extent would exhaust vm.max_map_count). */
#define SNAP_MAX_EXTENTS 8192

struct snap_mem_stats {
	uint64_t pages_scanned; /* pages examined */
	uint64_t pages_written; /* pages with data in the file */
	uint64_t bytes_written;
	bool diff; /* written as a Diff (a Diff asked for before any tracking is written as a Full) */
};

/*
 * Write the guest RAM of paused machine m to path (created or truncated; write to a new file and rename it,
 * as snapshot.c does, so that a file backing a running clone is never modified in place). Diff writes the
 * pages set in m->bus.dirty; without a dirty bitmap (no snapshot or restore yet) a Diff is written as a
 * Full. 0, or -1 with the reason.
 */
int snap_mem__write(struct machine *m, bool diff, const char *path, struct snap_mem_stats *st, char *err,
		    size_t n);

/* Check that a memory file can back this RAM: a regular file of exactly ram_size bytes. */
int snap_mem__check(const char *path, uint64_t ram_size, char *err, size_t n);

/*
 * Map layers[0] (a Full memory file or one merged with its diffs) over m's RAM, MAP_PRIVATE, then lay each
 * further layer's data extents (Diff files, oldest first) over it. Records which pages come from files in
 * m->ram_file_pages. *last_pages = data pages in the last layer (for a sanity check against the state file).
 * On failure RAM may be partly replaced: the caller throws the machine away.
 */
int snap_mem__map(struct machine *m, const char *const *layers, unsigned nlayers, uint64_t *last_pages,
		  char *err, size_t n);

/* Merge diff into base in place: copy the diff's data extents to the same offsets. Never run this on a
 * file that backs a running clone (its unmodified pages would change under the guest). */
int snap_mem__merge(const char *base, const char *diff, char *err, size_t n);

/*
 * Start dirty-page tracking afresh: allocate m->bus.dirty on first use, clear it, and flush the harts'
 * TLBs so the next write to every page goes through a TLB fill that marks it. The harts must not be
 * running (paused or not started).
 */
int snap_mem__reset_dirty(struct machine *m);

#endif
