/*
 * wisp-jailer's chroot: <base>/<exec-name>/<id>/root with the exec file copied in, the shared libraries and
 * dynamic loader it needs (wisp is dynamically linked; Firecracker's jailer expects a static binary), the
 * device nodes wisp may open (/dev/net/tun, /dev/urandom; no /dev/kvm) and /run for the API socket, owned by
 * the jailed uid:gid. Everything it made is removed again if the jail cannot be completed.
 */
#ifndef WISP_JAIL_CHROOT_H
#define WISP_JAIL_CHROOT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JAIL_TREE_MAX_MADE 16

struct jail_tree {
	char instance[PATH_MAX]; /* <base>/<exec-name>/<id> */
	char root[PATH_MAX];	 /* <instance>/root: the jail's / */
	char exec_name[NAME_MAX + 1];
	/* Directories this run created above root, outermost first (removed innermost first). */
	char made[JAIL_TREE_MAX_MADE][PATH_MAX];
	unsigned nmade;
	bool root_made;
};

/* Work out the paths; refuse a chroot that already exists. -1 with a message in err. */
int jail_tree__plan(struct jail_tree *t, const char *base, const char *exec_file, const char *id, char *err, size_t n);
/* Create the tree, copy exec_file and what it needs to run, make the device nodes, hand / and /run to uid:gid. */
int jail_tree__build(struct jail_tree *t, const char *exec_file, uid_t uid, gid_t gid, char *err, size_t n);
/* Remove what jail_tree__build (or a later step) made. Host paths: call from the host's mount namespace. */
void jail_tree__remove(struct jail_tree *t);

/* mkdir -p that records the directories it created (in made[], *nmade updated); -1 with errno. */
int jail__mkdir_p(const char *path, mode_t mode, char made[][PATH_MAX], unsigned max, unsigned *nmade);
/* rmdir the recorded directories, innermost first (those still empty). */
void jail__rmdir_made(char made[][PATH_MAX], unsigned *nmade);

#endif
