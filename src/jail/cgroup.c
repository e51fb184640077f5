/* cgroups v1 and v2 for wisp-jailer. */
#include "jail/cgroup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jail/chroot.h"

bool jail_cgroup__valid_setting(const struct jail_cgroup_setting *s)
{
	const char *dot = strchr(s->file, '.');
	if (!dot || dot == s->file || !dot[1] || !*s->value || strchr(s->value, '\n'))
		return false;
	for (const char *p = s->file; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

/* "cpu" from "cpu.shares"; "" for the core "cgroup.*" files of v2. */
static void controller_of(const char *file, char *out, size_t size)
{
	size_t len = (size_t)(strchr(file, '.') - file);
	snprintf(out, size, "%.*s", (int)len, file);
	if (!strcmp(out, "cgroup"))
		out[0] = 0;
}

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k = fd < 0 ? -1 : read(fd, buf, size - 1);
	if (fd >= 0)
		close(fd);
	if (k < 0)
		return -1;
	buf[k] = 0;
	while (k && (buf[k - 1] == '\n' || buf[k - 1] == ' '))
		buf[--k] = 0;
	return 0;
}

static int write_str(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(value);
	ssize_t k = write(fd, value, len);
	int e = errno;
	close(fd);
	if (k != (ssize_t)len) {
		errno = k < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

static bool has_word(const char *list, const char *word, const char *seps)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save = NULL, *w = strtok_r(buf, seps, &save); w; w = strtok_r(NULL, seps, &save))
		if (!strcmp(w, word))
			return true;
	return false;
}

/* The jailer's current cgroup in the hierarchy that has ctrl (v1) or in the unified one (ctrl NULL). */
static int current_cgroup(const char *ctrl, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -1;
	char line[4096];
	int r = -1;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = 0;
		bool match = ctrl ? has_word(c1 + 1, ctrl, ",") : (!strcmp(line, "0") && c1[1] == 0);
		if (match) {
			snprintf(out, size, "%s", c2 + 1);
			r = 0;
		}
	}
	fclose(f);
	return r;
}

static struct jail_cgroup_dir *dir_for_mount(struct jail_cgroups *c, const char *mount, const char *parent,
					     const char *id, char *err, size_t n)
{
	for (unsigned i = 0; i < c->ndirs; i++)
		if (!strcmp(c->dir[i].mount, mount))
			return &c->dir[i];
	if (c->ndirs == JAIL_MAX_CGROUPS) {
		snprintf(err, n, "too many cgroup hierarchies");
		return NULL;
	}
	struct jail_cgroup_dir *d = &c->dir[c->ndirs];
	memset(d, 0, sizeof(*d));
	snprintf(d->mount, sizeof(d->mount), "%s", mount);
	if (snprintf(d->leaf, sizeof(d->leaf), "%s/%s/%s", mount, parent, id) >= (int)sizeof(d->leaf) - 64) {
		snprintf(err, n, "the cgroup path under %s is too long", mount);
		return NULL;
	}
	c->ndirs++;
	return d;
}

int jail_cgroups__plan(struct jail_cgroups *c, int version, const char *parent, const char *id,
		       const struct jail_cgroup_setting *set, unsigned nset, char *err, size_t n)
{
	memset(c, 0, sizeof(*c));
	c->version = version;
	c->set = set;
	c->nset = nset;
	if (!nset)
		return 0; /* as Firecracker: no --cgroup, no cgroups */
	FILE *mf = setmntent("/proc/mounts", "re");
	if (!mf) {
		snprintf(err, n, "cannot read /proc/mounts: %s", strerror(errno));
		return -1;
	}
	char unified[PATH_MAX] = "";
	struct {
		char ctrl[64], mount[PATH_MAX];
	} v1[64];
	unsigned nv1 = 0;
	for (struct mntent *m; (m = getmntent(mf));) {
		if (!strcmp(m->mnt_type, "cgroup2") && !unified[0])
			snprintf(unified, sizeof(unified), "%s", m->mnt_dir);
		if (strcmp(m->mnt_type, "cgroup"))
			continue;
		for (unsigned i = 0; i < nset && nv1 < 64; i++) {
			char ctrl[64];
			controller_of(set[i].file, ctrl, sizeof(ctrl));
			if (ctrl[0] && hasmntopt(m, ctrl)) {
				snprintf(v1[nv1].ctrl, sizeof(v1[nv1].ctrl), "%s", ctrl);
				snprintf(v1[nv1++].mount, PATH_MAX, "%s", m->mnt_dir);
			}
		}
	}
	endmntent(mf);
	for (unsigned i = 0; i < nset; i++) {
		char ctrl[64];
		controller_of(set[i].file, ctrl, sizeof(ctrl));
		struct jail_cgroup_dir *d = NULL;
		if (version == 1) {
			const char *mount = NULL;
			for (unsigned k = 0; k < nv1 && !mount; k++)
				if (!strcmp(v1[k].ctrl, ctrl))
					mount = v1[k].mount;
			if (!ctrl[0] || !mount) {
				snprintf(err, n,
					 "--cgroup %s: no cgroup v1 hierarchy has the %s controller (see /proc/mounts; "
					 "--cgroup-version 2 for the unified hierarchy)",
					 set[i].file, ctrl[0] ? ctrl : "(none)");
				return -1;
			}
			if (!(d = dir_for_mount(c, mount, parent, id, err, n)))
				return -1;
			d->cpuset |= !strcmp(ctrl, "cpuset");
			if (!d->orig[0] && current_cgroup(ctrl, d->orig, sizeof(d->orig)) < 0) {
				snprintf(err, n, "cannot tell wisp-jailer's own %s cgroup from /proc/self/cgroup",
					 ctrl);
				return -1;
			}
		} else {
			if (!unified[0]) {
				snprintf(err, n,
					 "--cgroup-version 2: no cgroup2 file system is mounted (see /proc/mounts)");
				return -1;
			}
			char path[PATH_MAX + 32], avail[4096];
			snprintf(path, sizeof(path), "%s/cgroup.controllers", unified);
			if (ctrl[0] && (read_small(path, avail, sizeof(avail)) < 0 || !has_word(avail, ctrl, " "))) {
				snprintf(err, n,
					 "--cgroup %s: the %s controller is not available in the cgroup v2 hierarchy "
					 "at %s "
					 "(its cgroup.controllers: \"%s\"; is it bound to a v1 hierarchy? "
					 "--cgroup-version 1)",
					 set[i].file, ctrl, unified, avail);
				return -1;
			}
			if (!(d = dir_for_mount(c, unified, parent, id, err, n)))
				return -1;
			if (!d->orig[0] && current_cgroup(NULL, d->orig, sizeof(d->orig)) < 0) {
				snprintf(err, n, "cannot tell wisp-jailer's own cgroup v2 from /proc/self/cgroup");
				return -1;
			}
		}
	}
	return 0;
}

/* v1 cpuset: a new cgroup has no CPUs or memory nodes, and no task may join it until it has: inherit them. */
static int inherit_cpuset(const char *dir, char *err, size_t n)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (unsigned i = 0; i < 2; i++) {
		char path[PATH_MAX + 32], parent[PATH_MAX + 32], val[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (read_small(path, val, sizeof(val)) == 0 && val[0])
			continue;
		snprintf(parent, sizeof(parent), "%s", dir);
		*strrchr(parent, '/') = 0;
		snprintf(parent + strlen(parent), sizeof(parent) - strlen(parent), "/%s", files[i]);
		if (read_small(parent, val, sizeof(val)) < 0 || write_str(path, val) < 0) {
			snprintf(err, n, "cannot give %s its parent's %s: %s", dir, files[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* v2: the controllers the settings need, enabled in cgroup.subtree_control from the root to the leaf's parent. */
static int enable_controllers(struct jail_cgroups *c, struct jail_cgroup_dir *d, char *err, size_t n)
{
	for (unsigned i = 0; i < c->nset; i++) {
		char ctrl[64];
		controller_of(c->set[i].file, ctrl, sizeof(ctrl));
		if (!ctrl[0])
			continue;
		char level[PATH_MAX];
		snprintf(level, sizeof(level), "%s", d->mount);
		const char *rest = d->leaf + strlen(d->mount);
		for (;;) {
			char path[PATH_MAX + 32], on[4096], plus[80];
			snprintf(path, sizeof(path), "%s/cgroup.subtree_control", level);
			snprintf(plus, sizeof(plus), "+%s", ctrl);
			if (read_small(path, on, sizeof(on)) < 0 ||
			    (!has_word(on, ctrl, " ") && write_str(path, plus) < 0)) {
				snprintf(err, n, "cannot enable the %s controller in %s: %s", ctrl, path,
					 strerror(errno));
				return -1;
			}
			const char *next = strchr(rest + 1, '/');
			if (!next)
				break; /* level is the leaf's parent */
			snprintf(level + strlen(level), sizeof(level) - strlen(level), "%.*s", (int)(next - rest),
				 rest);
			rest = next;
		}
	}
	return 0;
}

static struct jail_cgroup_dir *dir_for_setting(struct jail_cgroups *c, const struct jail_cgroup_setting *s)
{
	if (c->version == 2)
		return &c->dir[0];
	char ctrl[64];
	controller_of(s->file, ctrl, sizeof(ctrl));
	FILE *mf = setmntent("/proc/mounts", "re");
	struct jail_cgroup_dir *d = NULL;
	for (struct mntent *m; mf && !d && (m = getmntent(mf));)
		if (!strcmp(m->mnt_type, "cgroup") && hasmntopt(m, ctrl))
			for (unsigned i = 0; i < c->ndirs && !d; i++)
				if (!strcmp(c->dir[i].mount, m->mnt_dir))
					d = &c->dir[i];
	if (mf)
		endmntent(mf);
	return d;
}

int jail_cgroups__apply(struct jail_cgroups *c, char *err, size_t n)
{
	for (unsigned i = 0; i < c->ndirs; i++) {
		struct jail_cgroup_dir *d = &c->dir[i];
		if (jail__mkdir_p(d->leaf, 0755, d->made, JAIL_CGROUP_DEPTH, &d->nmade) < 0) {
			snprintf(err, n, "cannot create the cgroup %s: %s", d->leaf, strerror(errno));
			goto fail;
		}
		for (unsigned k = 0; d->cpuset && k < d->nmade; k++)
			if (inherit_cpuset(d->made[k], err, n) < 0)
				goto fail;
		if (c->version == 2 && enable_controllers(c, d, err, n) < 0)
			goto fail;
	}
	for (unsigned i = 0; i < c->nset; i++) {
		const struct jail_cgroup_setting *s = &c->set[i];
		struct jail_cgroup_dir *d = dir_for_setting(c, s);
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", d ? d->leaf : "?", s->file);
		if (!d || write_str(path, s->value) < 0) {
			snprintf(err, n, "cannot write \"%s\" to the cgroup file %s: %s", s->value, path,
				 strerror(errno));
			goto fail;
		}
	}
	char pid[24];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (unsigned i = 0; i < c->ndirs; i++) {
		struct jail_cgroup_dir *d = &c->dir[i];
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/%s", d->leaf, c->version == 1 ? "tasks" : "cgroup.procs");
		if (write_str(path, pid) < 0) {
			snprintf(err, n, "cannot move wisp-jailer into the cgroup %s: %s", d->leaf, strerror(errno));
			goto fail;
		}
		d->joined = true;
	}
	return 0;
fail:
	jail_cgroups__undo(c);
	return -1;
}

void jail_cgroups__undo(struct jail_cgroups *c)
{
	char pid[24];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (unsigned i = 0; i < c->ndirs; i++) {
		struct jail_cgroup_dir *d = &c->dir[i];
		if (d->joined) {
			char path[2 * PATH_MAX];
			snprintf(path, sizeof(path), "%s%s/cgroup.procs", d->mount, d->orig);
			write_str(path, pid);
			d->joined = false;
		}
		jail__rmdir_made(d->made, &d->nmade);
	}
}
