/* Compile a policy into one BPF program per thread kind with libseccomp; install them, thread by thread. */
#include "jail/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "jail/seccomp_policy.h"

#define CONFIG_FILE_MAX (1 << 20)
#define NAMES_MAX	512 /* system call numbers named by --seccomp-trap's report */

static const char *const kind_names[SECCOMP_NTHREADS] = {
	[SECCOMP_VMM] = "vmm",	       [SECCOMP_API] = "api",	      [SECCOMP_VCPU] = "vcpu",
	[SECCOMP_IO] = "io",	       [SECCOMP_CONSOLE] = "console", [SECCOMP_TIMEOUT] = "timeout",
	[SECCOMP_METRICS] = "metrics", [SECCOMP_SIGNALS] = "signals", [SECCOMP_SNAPSHOT] = "snapshot",
};

/*
 * The process's seccomp configuration. Written once by seccomp__setup on the main thread before any other
 * thread exists, read-only afterwards (like the process's filters themselves); the SIGSYS handler needs it
 * too, which is why it cannot live in a struct handed around.
 */
static struct {
	bool configured, on;
	struct sock_fprog prog[SECCOMP_NTHREADS];
	struct sock_fprog lock;	      /* seccomp__lock_exec's; .len 0 = none (level 1) */
	const char *names[NAMES_MAX]; /* --seccomp-trap: system call names, resolved before any filter */
#ifdef WISP_TEST_HOOKS
	int selftest_kind; /* WISP_SECCOMP_SELFTEST=KIND:SYSCALL[:ARG...]: that thread makes that call */
	long selftest_nr, selftest_args[6];
#endif
} g;

static _Thread_local int current_kind = -1;
static _Thread_local bool exec_locked;

const char *seccomp__thread_name(enum seccomp_thread kind)
{
	return (unsigned)kind < SECCOMP_NTHREADS ? kind_names[kind] : "?";
}

int seccomp__thread_kind(const char *name)
{
	for (int k = 0; k < SECCOMP_NTHREADS; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	return -1;
}

/* ---- compiling ---- */

static unsigned descendants(enum seccomp_thread kind)
{
	unsigned all = 0, next = sc_policy__spawns(kind);
	while (next & ~all) {
		all |= next;
		for (unsigned k = 0; k < SECCOMP_NTHREADS; k++)
			if (all & (1u << k))
				next |= sc_policy__spawns(k);
	}
	return all;
}

static struct scmp_arg_cmp to_cmp(const struct sc_cond *c)
{
	static const enum scmp_compare ops[] = { [SC_EQ] = SCMP_CMP_EQ,
						 [SC_NE] = SCMP_CMP_NE,
						 [SC_LT] = SCMP_CMP_LT,
						 [SC_LE] = SCMP_CMP_LE,
						 [SC_GT] = SCMP_CMP_GT,
						 [SC_GE] = SCMP_CMP_GE,
						 [SC_MASKED_EQ] = SCMP_CMP_MASKED_EQ };
	if (c->qword)
		return (struct scmp_arg_cmp){ c->arg, ops[c->op], c->op == SC_MASKED_EQ ? c->mask : c->val, c->val };
	/* "dword": only the low 32 bits of the argument count (the upper half of an int argument is undefined). */
	if (c->op == SC_EQ)
		return (struct scmp_arg_cmp){ c->arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, (uint32_t)c->val };
	if (c->op == SC_MASKED_EQ)
		return (struct scmp_arg_cmp){ c->arg, SCMP_CMP_MASKED_EQ, (uint32_t)c->mask,
					      (uint32_t)c->mask & c->val };
	return (struct scmp_arg_cmp){ c->arg, ops[c->op], (uint32_t)c->val, 0 };
}

/*
 * Add f's rules to a filter whose default action is dflt. A descendant's rules (allow_only) go in only where they
 * allow a call: what the descendant refuses is its own filter's business.
 */
static int add_rules(scmp_filter_ctx ctx, uint32_t dflt, const struct sc_filter *f, bool allow_only,
		     enum seccomp_level level, const char *kind, char *err, size_t n)
{
	for (unsigned i = 0; i < f->nrules; i++) {
		const struct sc_rule *r = &f->rules[i];
		int nr = seccomp_syscall_resolve_name(r->syscall);
		if (nr == __NR_SCMP_ERROR) {
			snprintf(err, n, "%s: unknown system call '%s'", kind, r->syscall);
			return -1;
		}
		uint32_t action = r->action ? r->action : f->filter_action;
		if (action == dflt || (allow_only && action != SCMP_ACT_ALLOW && action != SCMP_ACT_LOG))
			continue; /* changes nothing (and libseccomp refuses it), or not for this filter */
		struct scmp_arg_cmp cmp[SC_MAX_COND];
		unsigned nc = level == SECCOMP_LEVEL_BASIC ? 0 : r->ncond;
		for (unsigned c = 0; c < nc; c++)
			cmp[c] = to_cmp(&r->cond[c]);
		int rc = seccomp_rule_add_exact_array(ctx, action, nr, nc, cmp);
		if (rc == -EEXIST)
			continue;
		if (rc < 0) {
			snprintf(err, n, "%s: cannot add the rule for %s: %s", kind, r->syscall, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *out, char *err, size_t n)
{
	int fd = memfd_create("wisp-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		snprintf(err, n, "cannot export the filter: %s", strerror(errno));
		return -1;
	}
	int rc = seccomp_export_bpf(ctx, fd);
	off_t size = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
	if (rc < 0 || size <= 0 || size % sizeof(struct sock_filter) ||
	    size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		snprintf(err, n, "cannot export the filter%s", size > 0 ? ": too large" : "");
		close(fd);
		return -1;
	}
	struct sock_filter *prog = malloc((size_t)size);
	ssize_t got = prog ? pread(fd, prog, (size_t)size, 0) : -1;
	close(fd);
	if (got != size) {
		free(prog);
		snprintf(err, n, "cannot export the filter");
		return -1;
	}
	out->filter = prog;
	out->len = (unsigned short)(size / sizeof(struct sock_filter));
	return 0;
}

static int compile_filter(const struct sc_filter *f, const char *name, enum seccomp_level level, struct sock_fprog *out,
			  char *err, size_t n);

static int compile(const struct sc_policy *p, enum seccomp_thread kind, enum seccomp_level level,
		   struct sock_fprog *out, char *err, size_t n)
{
	const struct sc_filter *f = &p->f[kind];
	scmp_filter_ctx ctx = seccomp_init(f->default_action);
	if (!ctx) {
		snprintf(err, n, "%s: cannot create the filter (bad default action?)", kind_names[kind]);
		return -1;
	}
	int r = -1;
	/* NO_NEW_PRIVS is set once for the process (seccomp__setup); badly encoded calls end it. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
		snprintf(err, n, "%s: cannot set the filter's attributes", kind_names[kind]);
		goto out;
	}
	if (add_rules(ctx, f->default_action, f, false, level, kind_names[kind], err, n) < 0)
		goto out;
	unsigned kids = descendants(kind);
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++)
		if ((kids & (1u << k)) &&
		    add_rules(ctx, f->default_action, &p->f[k], true, level, kind_names[k], err, n) < 0)
			goto out;
	if (export_bpf(ctx, out, err, n) < 0)
		goto out;
	r = 0;
out:
	seccomp_release(ctx);
	return r;
}

static int compile_filter(const struct sc_filter *f, const char *name, enum seccomp_level level, struct sock_fprog *out,
			  char *err, size_t n)
{
	scmp_filter_ctx ctx = seccomp_init(f->default_action);
	if (!ctx) {
		snprintf(err, n, "%s: cannot create the filter", name);
		return -1;
	}
	int r = -1;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) == 0 &&
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) == 0 &&
	    add_rules(ctx, f->default_action, f, false, level, name, err, n) == 0 && export_bpf(ctx, out, err, n) == 0)
		r = 0;
	seccomp_release(ctx);
	return r;
}

static char *read_policy(const char *path, size_t *len, char *err, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, n, "cannot open the seccomp filter %s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t got = 0;
	ssize_t r = 1;
	while (buf && got <= CONFIG_FILE_MAX && (r = read(fd, buf + got, CONFIG_FILE_MAX + 1 - got)) > 0)
		got += (size_t)r;
	close(fd);
	if (!buf || r < 0 || got > CONFIG_FILE_MAX) {
		snprintf(err, n, "cannot read the seccomp filter %s%s", path,
			 got > CONFIG_FILE_MAX ? ": over 1 MiB" : "");
		free(buf);
		return NULL;
	}
	buf[got] = 0;
	*len = got;
	return buf;
}

/* ---- --seccomp-trap: say what was refused, then die of SIGSYS all the same ---- */

static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long v)
{
	char tmp[24];
	int k = 0;
	unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
	do
		tmp[k++] = (char)('0' + u % 10);
	while ((u /= 10) && k < 23);
	if (v < 0 && at < cap)
		buf[at++] = '-';
	while (k && at < cap)
		buf[at++] = tmp[--k];
	return at;
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	char msg[256];
	size_t at = put_str(msg, 0, sizeof(msg), "\nwisp: seccomp: the ");
	at = put_str(msg, at, sizeof(msg), current_kind >= 0 ? kind_names[current_kind] : "unnamed");
	at = put_str(msg, at, sizeof(msg), " thread made a system call its filter forbids: ");
	int nr = si->si_syscall;
	at = put_str(msg, at, sizeof(msg), nr >= 0 && nr < NAMES_MAX && g.names[nr] ? g.names[nr] : "?");
	at = put_str(msg, at, sizeof(msg), " (");
	at = put_num(msg, at, sizeof(msg), nr);
	at = put_str(msg, at, sizeof(msg), "); see docs/seccomp.md\n");
	if (write(STDERR_FILENO, msg, at) < 0) {
		/* Nothing else to tell it with. */
	}
	/*
	 * Make the same call again: the filter refuses it again, and as SIGSYS is blocked in its own handler the
	 * kernel now delivers it with the default action, so the process ends by SIGSYS as it would without trap.
	 */
#ifdef __x86_64__
	const greg_t *r = ((const ucontext_t *)ucv)->uc_mcontext.gregs;
	syscall(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]);
#else
	(void)ucv;
	syscall(nr, 0, 0, 0, 0, 0, 0);
#endif
	_exit(128 + SIGSYS);
}

static int arm_trap(char *err, size_t n)
{
	for (int nr = 0; nr < NAMES_MAX; nr++)
		g.names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr); /* kept for the process's life */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(err, n, "cannot handle SIGSYS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the test hook ---- */

#ifdef WISP_TEST_HOOKS
static int parse_selftest(const char *spec, char *err, size_t n)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *save = NULL, *kind = strtok_r(buf, ":", &save), *call = strtok_r(NULL, ":", &save);
	/* "locked": the first thread to lock executable memory makes the call right after. */
	g.selftest_kind = !kind ? -1 : !strcmp(kind, "locked") ? SECCOMP_NTHREADS : seccomp__thread_kind(kind);
	g.selftest_nr = call ? seccomp_syscall_resolve_name(call) : __NR_SCMP_ERROR;
	for (unsigned i = 0; i < 6; i++) {
		char *a = strtok_r(NULL, ":", &save);
		g.selftest_args[i] = a ? strtol(a, NULL, 0) : 0;
	}
	if (g.selftest_kind < 0 || g.selftest_nr == __NR_SCMP_ERROR) {
		snprintf(err, n, "WISP_SECCOMP_SELFTEST takes KIND:SYSCALL[:ARG...], not '%s'", spec);
		g.selftest_kind = -1;
		return -1;
	}
	return 0;
}

static void selftest(enum seccomp_thread kind)
{
	int want = (int)kind;
	if (!__atomic_compare_exchange_n(&g.selftest_kind, &want, -1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return; /* not this kind, or done already: once per process */
	const long *a = g.selftest_args;
	long r = syscall(g.selftest_nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	char msg[160];
	int len = snprintf(msg, sizeof(msg), "wisp: seccomp self-test: the %s thread's call %ld returned %ld\n",
			   kind < SECCOMP_NTHREADS ? kind_names[kind] : "locked", g.selftest_nr, r);
	if (write(STDERR_FILENO, msg, (size_t)len) < 0) {
		/* only a report */
	}
}
#else
static void selftest(enum seccomp_thread kind)
{
	(void)kind;
}
#endif

/* ---- installing ---- */

static int install(enum seccomp_thread kind)
{
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &g.prog[kind]);
}

void seccomp__lock_exec(void)
{
	if (!g.on || !g.lock.len || exec_locked)
		return;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &g.lock) < 0) {
		char msg[128];
		int len = snprintf(msg, sizeof(msg), "wisp: cannot lock executable memory: %s\n", strerror(errno));
		if (write(STDERR_FILENO, msg, (size_t)len) < 0) {
			/* exiting anyway */
		}
		_exit(1);
	}
	exec_locked = true;
	selftest(SECCOMP_NTHREADS);
}

void seccomp__enter(enum seccomp_thread kind)
{
	if (!g.configured || (unsigned)kind >= SECCOMP_NTHREADS)
		return;
	current_kind = (int)kind;
	prctl(PR_SET_NAME, kind_names[kind], 0, 0, 0);
	if (!g.on)
		return;
	if (install(kind) < 0) {
		char msg[160];
		int len = snprintf(msg, sizeof(msg), "wisp: cannot install the seccomp filter of the %s thread: %s\n",
				   kind_names[kind], strerror(errno));
		if (write(STDERR_FILENO, msg, (size_t)len) < 0) {
			/* exiting anyway */
		}
		_exit(1); /* never run a thread unfiltered */
	}
	selftest(kind);
}

int seccomp__setup(const struct seccomp_options *o, char *err, size_t n)
{
	if (g.configured) {
		snprintf(err, n, "seccomp is already set up");
		return -1;
	}
#ifdef WISP_TEST_HOOKS
	g.selftest_kind = -1;
	const char *spec = getenv("WISP_SECCOMP_SELFTEST");
	if (spec && *spec && parse_selftest(spec, err, n) < 0)
		return -1;
#endif
	if (o->level == SECCOMP_LEVEL_OFF) {
		g.configured = true;
		return 0;
	}
	uint32_t dflt = o->trap ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS;
	struct sc_policy p;
	if (o->filter_file) {
		size_t len;
		char *text = read_policy(o->filter_file, &len, err, n);
		if (!text)
			return -1;
		char why[512];
		int r = sc_policy__parse_json(&p, text, len, why, sizeof(why));
		free(text);
		if (r < 0) {
			snprintf(err, n, "invalid seccomp filter %s: %s", o->filter_file, why);
			return -1;
		}
		/* --seccomp-trap turns the file's kills into reports too. */
		for (unsigned k = 0; o->trap && k < SECCOMP_NTHREADS; k++)
			if (p.f[k].default_action == SCMP_ACT_KILL_PROCESS ||
			    p.f[k].default_action == SCMP_ACT_KILL_THREAD)
				p.f[k].default_action = SCMP_ACT_TRAP;
	} else if (sc_policy__builtin(&p, dflt) < 0) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	bool trap = false;
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++) {
		trap |= p.f[k].default_action == SCMP_ACT_TRAP;
		if (compile(&p, k, o->level, &g.prog[k], err, n) < 0) {
			sc_policy__free(&p);
			for (unsigned j = 0; j < k; j++)
				free(g.prog[j].filter);
			memset(g.prog, 0, sizeof(g.prog));
			return -1;
		}
	}
	sc_policy__free(&p);
	struct sc_filter lock;
	if (o->level == SECCOMP_LEVEL_ADVANCED) {
		if (sc_policy__lock_exec(&lock, trap ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS) < 0) {
			snprintf(err, n, "out of memory");
			return -1;
		}
		int r = compile_filter(&lock, "lock", o->level, &g.lock, err, n);
		free(lock.rules);
		if (r < 0)
			return -1;
	}
	/* Lazy initialisations that would otherwise make calls from filtered threads. */
	tzset();
	if (trap && arm_trap(err, n) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, n, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	g.configured = g.on = true;
	current_kind = SECCOMP_VMM;
	if (install(SECCOMP_VMM) < 0) {
		snprintf(err, n, "cannot install the seccomp filter: %s", strerror(errno));
		g.on = false;
		return -1;
	}
	selftest(SECCOMP_VMM);
	return 0;
}
