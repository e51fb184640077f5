/*
 * wisp-jailer: Firecracker's jailer for wisp (docs/jailer.md). It validates everything, closes inherited file
 * descriptors, builds the chroot (chroot.c), sets resource limits, puts itself in its cgroups (cgroup.c), joins
 * the network namespace, enters a new mount namespace and pivot_roots into the chroot, optionally a new PID
 * namespace and a new session, drops to uid:gid and execs the VMM with --id and the start times, then the
 * arguments after "--". A failure at any step undoes the earlier ones: no half-built jail is left behind.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail/cgroup.h"
#include "jail/chroot.h"

#define ID_MAX		64
#define MAX_LIMITS	8
#define DEFAULT_NO_FILE 2048 /* Firecracker's bound when no --resource-limit is given */

struct args {
	const char *id, *exec_file, *chroot_base, *netns, *parent_cgroup;
	uid_t uid;
	gid_t gid;
	bool has_uid, has_gid, daemonize, new_pid_ns;
	int cgroup_version;
	struct jail_cgroup_setting cgroups[JAIL_MAX_CGROUPS];
	unsigned ncgroups;
	struct {
		int resource;
		rlim_t value;
	} limits[MAX_LIMITS];
	unsigned nlimits;
	char **vmm_argv;
	int vmm_argc;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: wisp-jailer --id ID --exec-file FILE --uid UID --gid GID [options] [-- VMM ARGUMENTS]\n"
		"Run a VMM (wisp) jailed, as Firecracker's jailer runs Firecracker (docs/jailer.md).\n\n"
		"  --id ID              the microVM id: 1..%d characters from [A-Za-z0-9-]\n"
		"  --exec-file FILE     the VMM binary; copied into the jail with the libraries it needs\n"
		"  --uid UID, --gid GID the ids the VMM runs as\n"
		"  --chroot-base-dir DIR  where jails are built (default /srv/jailer): DIR/<exec name>/<id>/root\n"
		"  --netns PATH         join the network namespace at PATH (e.g. /var/run/netns/NAME)\n"
		"  --daemonize          new session, standard input and output on /dev/null\n"
		"  --new-pid-ns         run the VMM as PID 1 of a new PID namespace (its pid in <chroot>/<exec "
		"name>.pid)\n"
		"  --cgroup-version 1|2 the cgroup hierarchy for --cgroup (default 1)\n"
		"  --cgroup FILE=VALUE  write VALUE to FILE (e.g. cpuset.cpus=0, memory.limit_in_bytes=256M) in the\n"
		"                       VMM's cgroup <hierarchy>/<parent>/<id> (repeatable)\n"
		"  --parent-cgroup PATH the parent of that cgroup, relative to the hierarchy (default: the exec name)\n"
		"  --resource-limit fsize=BYTES|no-file=N  a resource limit (repeatable; default no-file=%d)\n"
		"  --help, --version\n"
		"The VMM is started as <exec name> --id ID --start-time-us US --start-time-cpu-us US [VMM ARGUMENTS];\n"
		"the paths it is given (API socket, kernel, drives) are inside the jail.\n",
		ID_MAX, DEFAULT_NO_FILE);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "wisp-jailer: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || !isdigit((unsigned char)s[0]) || v >= UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n < 1 || n > ID_MAX)
		return false;
	for (; *id; id++)
		if (!isalnum((unsigned char)*id) && *id != '-')
			return false;
	return true;
}

/* An absolute path without "." or ".." components (so the jail is where it says). */
static bool clean_absolute(const char *p)
{
	if (p[0] != '/')
		return false;
	for (const char *s = p; (s = strchr(s, '/')); s++)
		if ((s[1] == '.' && (s[2] == '/' || !s[2])) || (s[1] == '.' && s[2] == '.' && (s[3] == '/' || !s[3])))
			return false;
	return true;
}

/* A relative cgroup path: components of [A-Za-z0-9._-], no "." or "..". */
static bool valid_parent_cgroup(const char *p)
{
	if (!*p || p[0] == '/' || strlen(p) > 1024)
		return false;
	for (const char *s = p; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-/", *s))
			return false;
	char buf[1100];
	snprintf(buf, sizeof(buf), "%s", p);
	for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (!strcmp(c, ".") || !strcmp(c, ".."))
			return false;
	return !strstr(p, "//") && p[strlen(p) - 1] != '/';
}

/* 0: go on; else the exit status (2 for a bad argument). */
static int parse_args(struct args *a, int argc, char **argv)
{
	enum {
		O_ID = 256,
		O_EXEC,
		O_UID,
		O_GID,
		O_BASE,
		O_NETNS,
		O_DAEMON,
		O_PIDNS,
		O_CGV,
		O_CG,
		O_PARENT,
		O_LIMIT,
		O_HELP,
		O_VERSION
	};
	static const struct option opts[] = {
		{ "id", required_argument, NULL, O_ID },
		{ "exec-file", required_argument, NULL, O_EXEC },
		{ "uid", required_argument, NULL, O_UID },
		{ "gid", required_argument, NULL, O_GID },
		{ "chroot-base-dir", required_argument, NULL, O_BASE },
		{ "netns", required_argument, NULL, O_NETNS },
		{ "daemonize", no_argument, NULL, O_DAEMON },
		{ "new-pid-ns", no_argument, NULL, O_PIDNS },
		{ "cgroup-version", required_argument, NULL, O_CGV },
		{ "cgroup", required_argument, NULL, O_CG },
		{ "parent-cgroup", required_argument, NULL, O_PARENT },
		{ "resource-limit", required_argument, NULL, O_LIMIT },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	memset(a, 0, sizeof(*a));
	a->chroot_base = "/srv/jailer";
	a->cgroup_version = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		uint32_t v;
		switch (c) {
		case O_ID: a->id = optarg; break;
		case O_EXEC: a->exec_file = optarg; break;
		case O_UID:
		case O_GID:
			if (parse_u32(optarg, &v) < 0) {
				fail("--%s takes a number from 0 to 4294967294, not '%s'", c == O_UID ? "uid" : "gid",
				     optarg);
				return 2;
			}
			if (c == O_UID) {
				a->uid = v;
				a->has_uid = true;
			} else {
				a->gid = v;
				a->has_gid = true;
			}
			break;
		case O_BASE: a->chroot_base = optarg; break;
		case O_NETNS: a->netns = optarg; break;
		case O_DAEMON: a->daemonize = true; break;
		case O_PIDNS: a->new_pid_ns = true; break;
		case O_CGV:
			if (strcmp(optarg, "1") && strcmp(optarg, "2")) {
				fail("--cgroup-version takes 1 or 2, not '%s'", optarg);
				return 2;
			}
			a->cgroup_version = optarg[0] - '0';
			break;
		case O_CG: {
			char *eq = strchr(optarg, '=');
			if (a->ncgroups == JAIL_MAX_CGROUPS) {
				fail("at most %d --cgroup settings", JAIL_MAX_CGROUPS);
				return 2;
			}
			struct jail_cgroup_setting *s = &a->cgroups[a->ncgroups];
			if (eq) {
				*eq = 0;
				*s = (struct jail_cgroup_setting){ optarg, eq + 1 };
			}
			if (!eq || !jail_cgroup__valid_setting(s)) {
				if (eq)
					*eq = '=';
				fail("--cgroup takes FILE=VALUE with FILE a controller's file such as cpu.shares or "
				     "cpuset.cpus, not '%s'",
				     optarg);
				return 2;
			}
			a->ncgroups++;
			break;
		}
		case O_PARENT:
			if (!valid_parent_cgroup(optarg)) {
				fail("--parent-cgroup takes a relative path of [A-Za-z0-9._-] components, not '%s'",
				     optarg);
				return 2;
			}
			a->parent_cgroup = optarg;
			break;
		case O_LIMIT: {
			char *eq = strchr(optarg, '=');
			int res = -1;
			if (eq && !strncmp(optarg, "fsize", (size_t)(eq - optarg)) && eq - optarg == 5)
				res = RLIMIT_FSIZE;
			else if (eq && !strncmp(optarg, "no-file", (size_t)(eq - optarg)) && eq - optarg == 7)
				res = RLIMIT_NOFILE;
			char *end = NULL;
			errno = 0;
			unsigned long long v = eq ? strtoull(eq + 1, &end, 10) : 0;
			if (res < 0 || errno || !isdigit((unsigned char)eq[1]) || *end || a->nlimits == MAX_LIMITS) {
				fail("--resource-limit takes fsize=BYTES or no-file=N, not '%s'", optarg);
				return 2;
			}
			a->limits[a->nlimits].resource = res;
			a->limits[a->nlimits++].value = (rlim_t)v;
			break;
		}
		case O_HELP: usage(stdout); return 1;
		case O_VERSION: printf("wisp-jailer 0.1.0\n"); return 1;
		default:
			if (optopt && optopt < 256)
				fail("unknown option '-%c'", optopt);
			else
				fail("unknown option or missing value: '%s'", argv[optind - 1]);
			fprintf(stderr, "Try wisp-jailer --help.\n");
			return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--")) {
		fail("unexpected argument '%s' (the VMM's own arguments go after --)", argv[optind]);
		return 2;
	}
	a->vmm_argv = argv + optind;
	a->vmm_argc = argc - optind;
	const char *missing = !a->id	      ? "--id"
			      : !a->exec_file ? "--exec-file"
			      : !a->has_uid   ? "--uid"
			      : !a->has_gid   ? "--gid"
					      : NULL;
	if (missing) {
		fail("%s is required. Try wisp-jailer --help.", missing);
		return 2;
	}
	if (!valid_id(a->id)) {
		fail("--id takes 1..%d characters from [A-Za-z0-9-], not '%s'", ID_MAX, a->id);
		return 2;
	}
	if (!clean_absolute(a->chroot_base)) {
		fail("--chroot-base-dir takes an absolute path without . or .. components, not '%s'", a->chroot_base);
		return 2;
	}
	return 0;
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Everything that can be checked without changing anything. */
static int validate(const struct args *a, int *netns_fd)
{
	if (geteuid() != 0) {
		fail("must run as root (it builds a chroot, device nodes and cgroups, and drops to --uid/--gid)");
		return -1;
	}
	struct stat st;
	if (stat(a->exec_file, &st) < 0) {
		fail("--exec-file %s: %s", a->exec_file, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
		fail("--exec-file %s is not an executable file", a->exec_file);
		return -1;
	}
	if (stat(a->chroot_base, &st) == 0 && !S_ISDIR(st.st_mode)) {
		fail("--chroot-base-dir %s is not a directory", a->chroot_base);
		return -1;
	}
	if (a->netns) {
		*netns_fd = open(a->netns, O_RDONLY | O_CLOEXEC);
		if (*netns_fd < 0) {
			fail("--netns %s: %s", a->netns, strerror(errno));
			return -1;
		}
		if (ioctl(*netns_fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
			fail("--netns %s is not a network namespace (ip netns add NAME makes /var/run/netns/NAME)",
			     a->netns);
			return -1;
		}
	}
	if (a->daemonize && !a->new_pid_ns && getpgrp() == getpid()) {
		fail("--daemonize: wisp-jailer leads its process group, so it cannot start a new session; start it "
		     "from a process that does not make it a group leader (or add --new-pid-ns)");
		return -1;
	}
	return 0;
}

static int set_limits(const struct args *a)
{
	bool nofile = false;
	for (unsigned i = 0; i < a->nlimits; i++) {
		struct rlimit rl = { a->limits[i].value, a->limits[i].value };
		nofile |= a->limits[i].resource == RLIMIT_NOFILE;
		if (setrlimit(a->limits[i].resource, &rl) < 0) {
			fail("cannot set the %s limit to %llu: %s",
			     a->limits[i].resource == RLIMIT_NOFILE ? "no-file" : "fsize",
			     (unsigned long long)a->limits[i].value, strerror(errno));
			return -1;
		}
	}
	struct rlimit rl = { DEFAULT_NO_FILE, DEFAULT_NO_FILE };
	if (!nofile && setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fail("cannot set the no-file limit: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* A new mount namespace whose root is the chroot (Firecracker's sequence: private, bind, pivot_root, detach). */
static int enter_jail(const char *root)
{
	const char *step = "unshare(CLONE_NEWNS)";
	if (unshare(CLONE_NEWNS) < 0)
		goto fail;
	step = "making mounts private";
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL) < 0)
		goto fail;
	step = "bind-mounting the chroot";
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		goto fail;
	step = "chdir into the chroot";
	if (chdir(root) < 0)
		goto fail;
	step = "creating old_root";
	if (mkdir("old_root", 0700) < 0)
		goto fail;
	step = "pivot_root";
	if (syscall(SYS_pivot_root, ".", "old_root") < 0)
		goto fail;
	step = "detaching the old root";
	if (umount2("old_root", MNT_DETACH) < 0 || rmdir("old_root") < 0)
		goto fail;
	step = "chroot";
	if (chdir("/") < 0 || chroot(".") < 0)
		goto fail;
	return 0;
fail:
	fail("cannot enter the jail at %s (%s): %s", root, step, strerror(errno));
	return -1;
}

/* Back to the host's mount namespace (from inside the jail) and remove what was made. */
static void undo(int host_mnt_fd, struct jail_cgroups *cg, struct jail_tree *t)
{
	if (host_mnt_fd >= 0 && setns(host_mnt_fd, CLONE_NEWNS) < 0)
		fail("cannot return to the host's mount namespace to clean up: %s (remove %s by hand)", strerror(errno),
		     t->root);
	jail_cgroups__undo(cg);
	jail_tree__remove(t);
}

static char **vmm_argv(const struct args *a, const struct jail_tree *t, uint64_t start_us, uint64_t start_cpu_us)
{
	static char exec_path[NAME_MAX + 2], sus[24], scpu[24];
	char **v = calloc((size_t)a->vmm_argc + 8, sizeof(*v));
	if (!v)
		return NULL;
	snprintf(exec_path, sizeof(exec_path), "/%s", t->exec_name);
	snprintf(sus, sizeof(sus), "%" PRIu64, start_us);
	snprintf(scpu, sizeof(scpu), "%" PRIu64, start_cpu_us);
	int k = 0;
	v[k++] = exec_path;
	v[k++] = "--id";
	v[k++] = (char *)a->id;
	v[k++] = "--start-time-us";
	v[k++] = sus;
	v[k++] = "--start-time-cpu-us";
	v[k++] = scpu;
	for (int i = 0; i < a->vmm_argc; i++)
		v[k++] = a->vmm_argv[i];
	return v;
}

/* Drop to uid:gid and exec. Returns the exec's errno (privileges regained) if it failed. */
static int drop_and_exec(const struct args *a, char **argv)
{
	char *envp[] = { NULL }; /* nothing inherited */
	if (setgroups(0, NULL) < 0 || setresgid(a->gid, a->gid, a->gid) < 0 ||
	    /* The saved uid stays 0 until execve replaces it, so a failed exec can still clean up. */
	    setresuid(a->uid, a->uid, 0) < 0) {
		int e = errno;
		fail("cannot drop to %u:%u: %s", (unsigned)a->uid, (unsigned)a->gid, strerror(e));
		return e;
	}
	execve(argv[0], argv, envp);
	int e = errno;
	if (setresuid(0, 0, 0) < 0 || setresgid(0, 0, 0) < 0)
		fail("cannot regain root to clean up: %s", strerror(errno));
	fail("cannot exec %s inside the jail: %s", argv[0], strerror(e));
	return e;
}

static void daemonize(int devnull)
{
	setsid();
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(devnull, STDERR_FILENO);
	close(devnull);
}

int main(int argc, char **argv)
{
	uint64_t start_us = clock_us(CLOCK_MONOTONIC), start_cpu_us = clock_us(CLOCK_PROCESS_CPUTIME_ID);
	static struct args a;
	int r = parse_args(&a, argc, argv);
	if (r)
		return r == 1 ? 0 : r;
	/* Nothing inherited reaches the VMM: only 0, 1 and 2 stay open (ours are all O_CLOEXEC). */
	if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	int netns_fd = -1, host_mnt = -1, devnull = -1;
	if (validate(&a, &netns_fd) < 0)
		return 1;
	static struct jail_tree tree;
	static struct jail_cgroups cg;
	char err[2 * PATH_MAX];
	if (jail_tree__plan(&tree, a.chroot_base, a.exec_file, a.id, err, sizeof(err)) < 0 ||
	    jail_cgroups__plan(&cg, a.cgroup_version, a.parent_cgroup ? a.parent_cgroup : tree.exec_name, a.id,
			       a.cgroups, a.ncgroups, err, sizeof(err)) < 0) {
		fail("%s", err);
		return 1;
	}
	char **vargv = vmm_argv(&a, &tree, start_us, start_cpu_us);
	if (!vargv) {
		fail("out of memory");
		return 1;
	}
	/* From here on, every failure undoes what was done. */
	if (jail_tree__build(&tree, a.exec_file, a.uid, a.gid, err, sizeof(err)) < 0) {
		fail("%s", err);
		goto fail;
	}
	if (set_limits(&a) < 0)
		goto fail;
	if (jail_cgroups__apply(&cg, err, sizeof(err)) < 0) {
		fail("%s", err);
		goto fail;
	}
	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) {
		fail("cannot join the network namespace %s: %s", a.netns, strerror(errno));
		goto fail;
	}
	if (a.daemonize && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		fail("cannot open /dev/null: %s", strerror(errno));
		goto fail;
	}
	host_mnt = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (host_mnt < 0) {
		fail("cannot open /proc/self/ns/mnt: %s", strerror(errno));
		goto fail;
	}
	if (enter_jail(tree.root) < 0)
		goto fail;
	if (!a.new_pid_ns) {
		if (a.daemonize)
			daemonize(devnull);
		drop_and_exec(&a, vargv);
		goto fail;
	}
	/*
	 * --new-pid-ns: the child is PID 1 of a new namespace and execs the VMM; this process learns whether the
	 * exec worked (the pipe closes on exec, or carries its errno), writes the child's pid and exits.
	 */
	int p[2];
	if (unshare(CLONE_NEWPID) < 0 || pipe2(p, O_CLOEXEC) < 0) {
		fail("cannot create a PID namespace: %s", strerror(errno));
		goto fail;
	}
	pid_t child = fork();
	if (child < 0) {
		fail("cannot fork into the PID namespace: %s", strerror(errno));
		goto fail;
	}
	if (child == 0) {
		close(p[0]);
		if (a.daemonize)
			daemonize(devnull);
		int e = drop_and_exec(&a, vargv);
		if (write(p[1], &e, sizeof(e)) < 0) {
			/* the parent sees the child exit before its exec anyway */
		}
		_exit(1);
	}
	close(p[1]);
	int e = 0;
	ssize_t k;
	while ((k = read(p[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(p[0]);
	if (k != 0) {
		waitpid(child, NULL, 0);
		undo(host_mnt, &cg, &tree);
		return 1;
	}
	char pidfile[NAME_MAX + 8], pid[24];
	snprintf(pidfile, sizeof(pidfile), "/%s.pid", tree.exec_name);
	int fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)child);
	if (fd < 0 || write(fd, pid, (size_t)len) != len) {
		fail("cannot write %s in the jail: %s (the VMM runs as pid %d)", pidfile, strerror(errno), (int)child);
		_exit(1);
	}
	close(fd);
	/* Still inside the jail, without /proc: no exit handlers (a sanitizer build's leak check needs /proc). */
	_exit(0);
fail:
	undo(host_mnt, &cg, &tree);
	return 1;
}
