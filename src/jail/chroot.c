/* wisp-jailer's chroot tree: directories, the exec file and its libraries, device nodes; and its removal. */
#include "jail/chroot.h"

#include <elf.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIST_MAX (64 * 1024) /* the dynamic loader's --list output */

int jail__mkdir_p(const char *path, mode_t mode, char made[][PATH_MAX], unsigned max, unsigned *nmade)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		/* A concurrent jailer may remove an empty parent it made between our mkdirs: retry. */
		int r = -1;
		for (int tries = 0; tries < 3 && r < 0; tries++) {
			r = mkdir(p, mode);
			if (r == 0) {
				if (*nmade < max)
					memcpy(made[(*nmade)++], p, strlen(p) + 1);
			} else if (errno == EEXIST) {
				struct stat st;
				if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
					errno = ENOTDIR;
					return -1;
				}
				r = 0;
			} else if (errno != ENOENT) {
				return -1;
			}
		}
		if (r < 0)
			return -1;
		*s = c;
		if (!c)
			return 0;
	}
}

void jail__rmdir_made(char made[][PATH_MAX], unsigned *nmade)
{
	while (*nmade)
		rmdir(made[--*nmade]);
}

int jail_tree__plan(struct jail_tree *t, const char *base, const char *exec_file, const char *id, char *err, size_t n)
{
	memset(t, 0, sizeof(*t));
	const char *slash = strrchr(exec_file, '/');
	const char *name = slash ? slash + 1 : exec_file;
	if (!*name || strlen(name) > NAME_MAX) {
		snprintf(err, n, "--exec-file %s has no file name", exec_file);
		return -1;
	}
	snprintf(t->exec_name, sizeof(t->exec_name), "%s", name);
	size_t bl = strlen(base);
	while (bl > 1 && base[bl - 1] == '/')
		bl--;
	if (snprintf(t->instance, sizeof(t->instance), "%.*s/%s/%s", (int)bl, base, name, id) >=
		    (int)sizeof(t->instance) ||
	    snprintf(t->root, sizeof(t->root), "%s/root", t->instance) >= (int)sizeof(t->root) - 256) {
		snprintf(err, n, "the chroot path under %s is too long", base);
		return -1;
	}
	struct stat st;
	if (lstat(t->root, &st) == 0) {
		snprintf(err, n, "the chroot %s already exists (a jail with id %s; remove it first)", t->root, id);
		return -1;
	}
	return 0;
}

/* ---- copying files in ---- */

static int copy_file(const char *src, const char *dst, mode_t mode, char *err, size_t n)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	int r = -1;
	if (in >= 0 && out >= 0) {
		for (;;) {
			ssize_t k = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
			if (k < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
				char buf[65536];
				k = read(in, buf, sizeof(buf));
				if (k > 0 && write(out, buf, (size_t)k) != k)
					k = -1;
			}
			if (k <= 0) {
				r = (int)k;
				break;
			}
		}
		if (r == 0 && fchmod(out, mode) < 0)
			r = -1;
	}
	if (r < 0)
		snprintf(err, n, "cannot copy %s to %s: %s", src, dst, strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

/* A shared library into the jail at the same path: a hard link where possible (no copy per jail), else a copy. */
static int add_library(struct jail_tree *t, const char *path, char *err, size_t n)
{
	char dst[PATH_MAX], dir[PATH_MAX];
	if (path[0] != '/' || strstr(path, "/../") ||
	    snprintf(dst, sizeof(dst), "%s%s", t->root, path) >= (int)sizeof(dst)) {
		snprintf(err, n, "cannot place the library %s in the jail", path);
		return -1;
	}
	struct stat st;
	if (lstat(dst, &st) == 0)
		return 0; /* listed twice */
	snprintf(dir, sizeof(dir), "%s", dst);
	*strrchr(dir, '/') = 0;
	char unused[1][PATH_MAX];
	unsigned nunused = 0;
	if (jail__mkdir_p(dir, 0755, unused, 0, &nunused) < 0) {
		snprintf(err, n, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (linkat(AT_FDCWD, path, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	return copy_file(path, dst, 0755, err, n);
}

/* The ELF interpreter an executable names (PT_INTERP), "" for a static one. */
static int elf_interp(const char *path, char *interp, size_t size, char *err, size_t n)
{
	interp[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || (eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr)) ||
	    eh.e_phnum > 256) {
		snprintf(err, n, "--exec-file %s is not a 64-bit ELF executable", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int r = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != sizeof(ph)) {
			r = -1;
			break;
		}
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz < 2 || ph.p_filesz > size ||
		    pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz ||
		    interp[ph.p_filesz - 1] || interp[0] != '/') {
			r = -1;
			interp[0] = 0;
		}
		break;
	}
	close(fd);
	if (r < 0)
		snprintf(err, n, "--exec-file %s: unreadable ELF program headers", path);
	return r;
}

/* What the host's dynamic loader would load for exec_file ("interp --list", which does not run it). */
static int list_libraries(const char *interp, const char *exec_file, char *out, size_t size, char *err, size_t n)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, n, "cannot list the libraries of %s: %s", exec_file, strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		char *argv[] = { (char *)interp, "--list", (char *)exec_file, NULL }, *envp[] = { NULL };
		execve(interp, argv, envp);
		_exit(127);
	}
	close(p[1]);
	size_t got = 0;
	ssize_t k = 1;
	while (pid > 0 && got < size - 1 && (k = read(p[0], out + got, size - 1 - got)) > 0)
		got += (size_t)k;
	close(p[0]);
	out[got] = 0;
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) || got >= size - 1) {
		snprintf(err, n, "%s --list %s failed: cannot tell which libraries it needs", interp, exec_file);
		return -1;
	}
	return 0;
}

/* Lines "\tname => /path (0x...)", "\t/path (0x...)" or "\tname => not found": into the jail. */
static int add_listed(struct jail_tree *t, const char *interp, const char *file, char *err, size_t n)
{
	char *list = malloc(LIST_MAX);
	if (!list || list_libraries(interp, file, list, LIST_MAX, err, n) < 0) {
		free(list);
		return -1;
	}
	int r = 0;
	for (char *save = NULL, *line = strtok_r(list, "\n", &save); line && r == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "=> not found")) {
			snprintf(err, n, "--exec-file needs a library the host does not have (for %s):%s", file, line);
			r = -1;
			break;
		}
		char *arrow = strstr(line, "=> ");
		char *path = arrow ? arrow + 3 : line + strspn(line, " \t");
		if (*path != '/')
			continue; /* the vDSO */
		char *end = strstr(path, " (");
		if (end)
			*end = 0;
		r = add_library(t, path, err, n);
	}
	free(list);
	return r;
}

/*
 * Libraries the exec file opens at run time (dlopen), named in its ".wisp.dlopen" section (NUL-separated
 * sonames; wisp loads its API server's library that way). Returns the section's bytes, NULL if none.
 */
static char *dlopen_names(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	char *out = NULL;
	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_shnum > 4096 || eh.e_shstrndx >= eh.e_shnum)
		goto out;
	Elf64_Shdr strsh;
	if (pread(fd, &strsh, sizeof(strsh), (off_t)(eh.e_shoff + eh.e_shstrndx * sizeof(strsh))) != sizeof(strsh) ||
	    strsh.sh_size > (1u << 20))
		goto out;
	char *names = malloc(strsh.sh_size + 1);
	if (!names || pread(fd, names, strsh.sh_size, (off_t)strsh.sh_offset) != (ssize_t)strsh.sh_size) {
		free(names);
		goto out;
	}
	names[strsh.sh_size] = 0;
	for (unsigned i = 0; i < eh.e_shnum && !out; i++) {
		Elf64_Shdr sh;
		if (pread(fd, &sh, sizeof(sh), (off_t)(eh.e_shoff + i * sizeof(sh))) != sizeof(sh) ||
		    sh.sh_name >= strsh.sh_size || strcmp(names + sh.sh_name, ".wisp.dlopen") || sh.sh_size > 4096)
			continue;
		out = calloc(1, sh.sh_size + 1);
		if (out && pread(fd, out, sh.sh_size, (off_t)sh.sh_offset) != (ssize_t)sh.sh_size) {
			free(out);
			out = NULL;
		}
		*len = sh.sh_size;
	}
	free(names);
out:
	if (fd >= 0)
		close(fd);
	return out;
}

static int add_libraries(struct jail_tree *t, const char *exec_file, char *err, size_t n)
{
	char interp[PATH_MAX];
	if (elf_interp(exec_file, interp, sizeof(interp), err, n) < 0)
		return -1;
	if (!interp[0])
		return 0; /* static: nothing else to bring */
	int r = add_library(t, interp, err, n);
	if (r == 0)
		r = add_listed(t, interp, exec_file, err, n);
	size_t len = 0;
	char *sonames = r == 0 ? dlopen_names(exec_file, &len) : NULL;
	for (size_t at = 0; sonames && at < len && r == 0; at += strlen(sonames + at) + 1) {
		const char *soname = sonames + at;
		if (!*soname || strchr(soname, '/'))
			continue;
		/* Where the host's loader finds it, and what it needs in turn. */
		void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
		struct link_map *lm = NULL;
		if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm) < 0 || !lm || !lm->l_name || lm->l_name[0] != '/') {
			snprintf(err, n, "--exec-file %s loads %s at run time, which the host does not have", exec_file,
				 soname);
			r = -1;
		} else {
			r = add_library(t, lm->l_name, err, n);
			if (r == 0)
				r = add_listed(t, interp, lm->l_name, err, n);
		}
		if (h)
			dlclose(h);
	}
	free(sonames);
	return r;
}

/* ---- the tree ---- */

static int node(const char *root, const char *path, unsigned major, unsigned minor, uid_t uid, gid_t gid, char *err,
		size_t n)
{
	char p[PATH_MAX + NAME_MAX + 16];
	snprintf(p, sizeof(p), "%s%s", root, path);
	if (mknod(p, S_IFCHR | 0600, makedev(major, minor)) < 0 || chown(p, uid, gid) < 0) {
		snprintf(err, n, "cannot create the device node %s: %s", p, strerror(errno));
		return -1;
	}
	return 0;
}

int jail_tree__build(struct jail_tree *t, const char *exec_file, uid_t uid, gid_t gid, char *err, size_t n)
{
	if (jail__mkdir_p(t->instance, 0755, t->made, JAIL_TREE_MAX_MADE, &t->nmade) < 0) {
		snprintf(err, n, "cannot create %s: %s", t->instance, strerror(errno));
		return -1;
	}
	if (mkdir(t->root, 0755) < 0) {
		snprintf(err, n, "cannot create the chroot %s: %s", t->root,
			 errno == EEXIST ? "it already exists" : strerror(errno));
		return -1;
	}
	t->root_made = true;
	char p[PATH_MAX + NAME_MAX + 16];
	snprintf(p, sizeof(p), "%s/%s", t->root, t->exec_name);
	if (copy_file(exec_file, p, 0755, err, n) < 0 || add_libraries(t, exec_file, err, n) < 0)
		return -1;
	static const char *const dirs[] = { "/dev", "/dev/net", "/run" };
	for (unsigned i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", t->root, dirs[i]);
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			snprintf(err, n, "cannot create %s: %s", p, strerror(errno));
			return -1;
		}
	}
	if (node(t->root, "/dev/net/tun", 10, 200, uid, gid, err, n) < 0 ||
	    node(t->root, "/dev/urandom", 1, 9, uid, gid, err, n) < 0)
		return -1;
	/* The jailed process owns its / (as with Firecracker) and /run, where the API socket goes by default. */
	snprintf(p, sizeof(p), "%s/run", t->root);
	if (chown(p, uid, gid) < 0 || chown(t->root, uid, gid) < 0) {
		snprintf(err, n, "cannot hand %s to %u:%u: %s", t->root, (unsigned)uid, (unsigned)gid, strerror(errno));
		return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void jail_tree__remove(struct jail_tree *t)
{
	if (t->root_made)
		nftw(t->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	t->root_made = false;
	jail__rmdir_made(t->made, &t->nmade);
}
