/*
 * wisp-jailer's cgroups, v1 and v2 as Firecracker's jailer does them: each --cgroup FILE=VALUE names its
 * controller (the part of FILE before the first dot); the jailer creates <hierarchy>/<parent>/<id> in every
 * hierarchy those controllers live in (v1: one per controller mount; v2: the unified one, with the controllers
 * enabled in cgroup.subtree_control from the root down), writes the values, then moves itself in (its
 * children, the VMM's threads, follow). Undone on failure: back to the original cgroups, new directories
 * removed.
 */
#ifndef WISP_JAIL_CGROUP_H
#define WISP_JAIL_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JAIL_MAX_CGROUPS  32
#define JAIL_CGROUP_DEPTH 16

struct jail_cgroup_setting {
	const char *file, *value; /* "cpu.shares", "512" */
};

struct jail_cgroup_dir {
	char mount[PATH_MAX]; /* the hierarchy's mount point */
	char leaf[PATH_MAX];  /* <mount>/<parent>/<id> */
	char orig[PATH_MAX];  /* where the jailer was, to go back on failure */
	char made[JAIL_CGROUP_DEPTH][PATH_MAX];
	unsigned nmade;
	bool cpuset, joined;
};

struct jail_cgroups {
	int version;
	const struct jail_cgroup_setting *set;
	unsigned nset;
	struct jail_cgroup_dir dir[JAIL_MAX_CGROUPS];
	unsigned ndirs;
};

/* A FILE=VALUE argument's syntax (controller.name, no path, a value without newlines). */
bool jail_cgroup__valid_setting(const struct jail_cgroup_setting *s);
/* Find the hierarchies and check the controllers are there; nothing changes. -1 with a message. */
int jail_cgroups__plan(struct jail_cgroups *c, int version, const char *parent, const char *id,
		       const struct jail_cgroup_setting *set, unsigned nset, char *err, size_t n);
/* Create, write, join. On failure, undone already; -1 with a message. */
int jail_cgroups__apply(struct jail_cgroups *c, char *err, size_t n);
/* Leave the cgroups and remove what was created (the jail could not be completed). */
void jail_cgroups__undo(struct jail_cgroups *c);

#endif
