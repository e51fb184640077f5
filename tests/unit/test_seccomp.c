/*
 * The seccomp policy (src/jail): the built-in allow-lists compile for every thread kind, the JSON format reads
 * back what it prints and refuses bad files with a message, and the installed filters do what they say: each
 * case runs in a forked child (filters cannot be removed) that sets seccomp up as wisp's main thread does,
 * optionally starts a thread of another kind, makes one call, and reports; a forbidden call ends the child by
 * SIGSYS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "jail/seccomp_policy.h"

/* Sanitizer builds add the runtime's calls to the filters (seccomp_rules.c). */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/* ---- the policy as data ---- */

static void builtin_names_resolve(void **state)
{
	(void)state;
	struct sc_policy p;
	assert_int_equal(sc_policy__builtin(&p, SCMP_ACT_KILL_PROCESS), 0);
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++) {
		assert_true(p.f[k].nrules > 0);
		for (unsigned i = 0; i < p.f[k].nrules; i++) {
			if (seccomp_syscall_resolve_name(p.f[k].rules[i].syscall) == __NR_SCMP_ERROR)
				fail_msg("%s: unknown system call %s", seccomp__thread_name(k),
					 p.f[k].rules[i].syscall);
		}
	}
	sc_policy__free(&p);
}

static void kind_names(void **state)
{
	(void)state;
	for (int k = 0; k < SECCOMP_NTHREADS; k++)
		assert_int_equal(seccomp__thread_kind(seccomp__thread_name(k)), k);
	assert_int_equal(seccomp__thread_kind("gpu"), -1);
}

/* A thread that starts others allows what they need: the spawn relation has no cycle and reaches vcpu from vmm. */
static void spawns(void **state)
{
	(void)state;
	assert_true(sc_policy__spawns(SECCOMP_VMM) & (1u << SECCOMP_API));
	assert_true(sc_policy__spawns(SECCOMP_API) & (1u << SECCOMP_VCPU));
	assert_int_equal(sc_policy__spawns(SECCOMP_VCPU), 0);
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++)
		assert_false(sc_policy__spawns(k) & (1u << k));
}

static char *print_builtin(size_t *len)
{
	struct sc_policy p;
	assert_int_equal(sc_policy__builtin(&p, SCMP_ACT_KILL_PROCESS), 0);
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	assert_non_null(f);
	assert_int_equal(sc_policy__print_json(&p, f), 0);
	fclose(f);
	sc_policy__free(&p);
	return buf;
}

static void json_round_trip(void **state)
{
	(void)state;
	size_t len;
	char *text = print_builtin(&len);
	struct sc_policy a, b;
	char err[512];
	assert_int_equal(sc_policy__parse_json(&a, text, len, err, sizeof(err)), 0);
	assert_int_equal(sc_policy__builtin(&b, SCMP_ACT_KILL_PROCESS), 0);
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++) {
		assert_int_equal(a.f[k].default_action, b.f[k].default_action);
		assert_int_equal(a.f[k].filter_action, b.f[k].filter_action);
		assert_int_equal(a.f[k].nrules, b.f[k].nrules);
		for (unsigned i = 0; i < a.f[k].nrules; i++) {
			const struct sc_rule *x = &a.f[k].rules[i], *y = &b.f[k].rules[i];
			assert_string_equal(x->syscall, y->syscall);
			assert_int_equal(x->action, y->action);
			assert_int_equal(x->ncond, y->ncond);
			for (unsigned c = 0; c < x->ncond; c++) {
				assert_int_equal(x->cond[c].arg, y->cond[c].arg);
				assert_int_equal(x->cond[c].op, y->cond[c].op);
				assert_int_equal(x->cond[c].qword, y->cond[c].qword);
				assert_int_equal(x->cond[c].val & 0xffffffffu, y->cond[c].val & 0xffffffffu);
				if (x->cond[c].op == SC_MASKED_EQ)
					assert_int_equal(x->cond[c].mask & 0xffffffffu, y->cond[c].mask & 0xffffffffu);
			}
		}
	}
	sc_policy__free(&a);
	sc_policy__free(&b);
	free(text);
}

/* Every kind present, each an allow-all but for `vcpu` which gets `rule`. */
static char *policy_with(const char *vcpu_filter)
{
	static char buf[8192];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "{");
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++) {
		const char *f =
			k == SECCOMP_VCPU && vcpu_filter
				? vcpu_filter
				: "{\"default_action\": \"allow\", \"filter_action\": \"allow\", \"filter\": []}";
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\": %s", k ? ", " : "", seccomp__thread_name(k),
				      f);
	}
	snprintf(buf + n, sizeof(buf) - n, "}");
	return buf;
}

static void expect_refused(const char *text, const char *why)
{
	struct sc_policy p;
	char err[512] = "";
	if (sc_policy__parse_json(&p, text, strlen(text), err, sizeof(err)) == 0)
		fail_msg("accepted: %s", text);
	if (!strstr(err, why))
		fail_msg("message '%s' lacks '%s'", err, why);
}

static void json_errors(void **state)
{
	(void)state;
	struct sc_policy p;
	char err[512];
	const char *ok = policy_with(NULL);
	assert_int_equal(sc_policy__parse_json(&p, ok, strlen(ok), err, sizeof(err)), 0);
	sc_policy__free(&p);
	expect_refused("[1]", "an object of thread kinds");
	expect_refused("{\"vmm\": ", "not JSON");
	expect_refused("{\"gpu\": {}}", "unknown thread kind `gpu`");
	expect_refused("{\"vmm\": {\"default_action\": \"allow\", \"filter_action\": \"allow\", \"filter\": []}}",
		       "no filter for the `api` threads");
	char bad[4096];
	const struct {
		const char *filter, *why;
	} cases[] = {
		{ "{\"default_action\": \"explode\", \"filter_action\": \"allow\", \"filter\": []}", "not an action" },
		{ "{\"default_action\": {\"errno\": 1}, \"filter_action\": \"allow\", \"filter\": [], \"x\": 1}",
		  "unknown field `x`" },
		{ "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [{\"syscall\": "
		  "\"frobnicate\"}]}",
		  "not frobnicate" },
		{ "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [{\"syscall\": \"ioctl\", "
		  "\"args\": "
		  "[{\"index\": 6, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1}]}]}",
		  "`index` must be" },
		{ "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [{\"syscall\": \"ioctl\", "
		  "\"args\": "
		  "[{\"index\": 1, \"type\": \"word\", \"op\": \"eq\", \"val\": 1}]}]}",
		  "`type` must be" },
		{ "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [{\"syscall\": \"ioctl\", "
		  "\"args\": "
		  "[{\"index\": 1, \"type\": \"dword\", \"op\": \"between\", \"val\": 1}]}]}",
		  "`op` must be" },
		{ "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [{\"syscall\": \"ioctl\", "
		  "\"args\": "
		  "[{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", \"val\": 4294967296}]}]}",
		  "`val` must be" },
		{ "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": {}}",
		  "`filter` must be an array" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(bad, sizeof(bad), "%s", policy_with(cases[i].filter));
		expect_refused(bad, cases[i].why);
	}
}

/* ---- the filters, in forked children ---- */

/* The case tables below leave `locked` out where it is false. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct call {
	enum seccomp_thread kind; /* the thread that makes the call (VMM: the main thread itself) */
	long nr, a[6];
	bool locked; /* after seccomp__lock_exec */
};

static void *thread_call(void *opaque)
{
	const struct call *c = opaque;
	seccomp__enter(c->kind);
	if (c->locked)
		seccomp__lock_exec();
	long r = syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
	return (void *)(intptr_t)(r < 0 ? -errno : 0);
}

/* The child's fate: 0 (the call returned), -errno, or 1000 + the signal that ended it. */
static int run_case(const struct seccomp_options *o, const struct call *c)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[512];
		if (seccomp__setup(o, err, sizeof(err)) < 0) {
			fprintf(stderr, "setup: %s\n", err);
			_exit(99);
		}
		intptr_t r;
		if (c->kind == SECCOMP_VMM) {
			if (c->locked)
				seccomp__lock_exec();
			long k = syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
			r = k < 0 ? -errno : 0;
		} else {
			pthread_t t;
			void *ret;
			if (pthread_create(&t, NULL, thread_call, (void *)c) != 0 || pthread_join(t, &ret) != 0)
				_exit(98);
			r = (intptr_t)ret;
		}
		_exit(r == 0 ? 0 : (int)(-r & 0x7f) | 0x80);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	assert_true(WIFEXITED(status));
	int code = WEXITSTATUS(status);
	if (code == 99 || code == 98)
		fail_msg("the child could not set up (%d)", code);
	return code == 0 ? 0 : -(code & 0x7f);
}

static const struct seccomp_options on = { .level = SECCOMP_LEVEL_ADVANCED };
static const struct seccomp_options basic = { .level = SECCOMP_LEVEL_BASIC };
static const struct seccomp_options off = { .level = SECCOMP_LEVEL_OFF };

#define KILLED (1000 + SIGSYS)

static void forbidden_calls_kill(void **state)
{
	(void)state;
	const struct call cases[] = {
		/* socket: the main thread (the API) and the I/O thread (vsock), AF_UNIX only. */
		{ SECCOMP_VCPU, SYS_socket, { AF_UNIX, SOCK_STREAM } },
		{ SECCOMP_IO, SYS_socket, { AF_INET, SOCK_STREAM } },
		{ SECCOMP_CONSOLE, SYS_socket, { AF_UNIX, SOCK_STREAM } },
		{ SECCOMP_TIMEOUT, SYS_socket, { AF_UNIX, SOCK_STREAM } },
		{ SECCOMP_METRICS, SYS_socket, { AF_UNIX, SOCK_STREAM } },
		{ SECCOMP_SIGNALS, SYS_socket, { AF_UNIX, SOCK_STREAM } },
		{ SECCOMP_SNAPSHOT, SYS_socket, { AF_INET, SOCK_STREAM } }, /* it restarts the I/O thread: AF_UNIX passes */
		{ SECCOMP_CONSOLE, SYS_epoll_create1, { 0 } },
		{ SECCOMP_VCPU, SYS_ioctl, { 0, TUNSETIFF, 0 } },
		{ SECCOMP_IO, SYS_ioctl, { 0, TCSETS, 0 } },
#ifndef SANITIZED /* the sanitizer runtime opens and reads files for its reports */
		{ SECCOMP_VCPU, SYS_openat, { AT_FDCWD, (long)"/etc/hostname", O_RDONLY } },
		{ SECCOMP_IO, SYS_openat, { AT_FDCWD, (long)"/etc/hostname", O_RDONLY } },
		{ SECCOMP_METRICS, SYS_openat, { AT_FDCWD, (long)"/etc/hostname", O_RDONLY } },
		{ SECCOMP_TIMEOUT, SYS_read, { 0, 0, 0 } },
		{ SECCOMP_SIGNALS, SYS_read, { 0, 0, 0 } },
#endif
		{ SECCOMP_API, SYS_socket, { AF_INET, SOCK_STREAM } }, /* AF_UNIX: the vsock listener it builds */
		{ SECCOMP_API, SYS_execve, { (long)"/bin/true", 0, 0 } },
		{ SECCOMP_VMM, SYS_execve, { (long)"/bin/true", 0, 0 } },
#ifndef SANITIZED /* LeakSanitizer's check at exit needs both */
		{ SECCOMP_VMM, SYS_ptrace, { 0 } },
		{ SECCOMP_VMM, SYS_clone, { SIGCHLD } }, /* a new process, not a thread */
#endif
		{ SECCOMP_VMM, SYS_socket, { AF_INET, SOCK_STREAM } },
		{ SECCOMP_VMM, SYS_ioctl, { 0, FIONREAD, 0 } },
		/* Writable and executable memory: never, on any thread. */
		{ SECCOMP_VMM,
		  SYS_mmap,
		  { 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1 } },
		{ SECCOMP_API,
		  SYS_mmap,
		  { 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1 } },
		{ SECCOMP_VMM, SYS_mprotect, { 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC } },
		/* Executable memory comes only from mprotect (the code cache's second view), never from mmap. */
		{ SECCOMP_VMM, SYS_mmap, { 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1 } },
		{ SECCOMP_VMM, SYS_memfd_create, { (long)"x", 0 } },
		/* Executable memory at all on a thread that does not build machines. */
		{ SECCOMP_VCPU, SYS_mmap, { 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1 } },
		{ SECCOMP_VCPU, SYS_mprotect, { 0, 4096, PROT_READ | PROT_EXEC } },
		{ SECCOMP_IO, SYS_mmap, { 0, 4096, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1 } },
		{ SECCOMP_VCPU, SYS_memfd_create, { (long)"x", 0 } },
		/* Once the machine is built (seccomp__lock_exec), not even the code cache's way. */
		{ SECCOMP_VMM, SYS_mprotect, { 0, 4096, PROT_READ | PROT_EXEC }, true },
		{ SECCOMP_API, SYS_mprotect, { 0, 4096, PROT_READ | PROT_EXEC }, true },
		{ SECCOMP_API, SYS_pkey_mprotect, { 0, 4096, PROT_READ | PROT_EXEC, 0 }, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = run_case(&on, &cases[i]);
		if (r != KILLED)
			fail_msg("case %zu (%s thread, call %ld): %d, not killed by SIGSYS", i,
				 seccomp__thread_name(cases[i].kind), cases[i].nr, r);
	}
}

static void allowed_calls_pass(void **state)
{
	(void)state;
	int fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	const struct call cases[] = {
		{ SECCOMP_VCPU,
		  SYS_write,
		  { fd, 0, 0 } }, /* EBADF on a read-only fd: allowed, then refused by the kernel */
		{ SECCOMP_VCPU, SYS_mmap, { 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1 } },
		{ SECCOMP_IO, SYS_getrandom, { 0, 0, 0 } },
		{ SECCOMP_IO, SYS_socket, { AF_UNIX, SOCK_STREAM } }, /* vsock: guest-initiated connections */
		{ SECCOMP_VMM, SYS_openat, { AT_FDCWD, (long)"/dev/null", O_RDONLY } },
		{ SECCOMP_VMM, SYS_socket, { AF_UNIX, SOCK_STREAM } },
		{ SECCOMP_VMM, SYS_ioctl, { fd, TUNSETIFF, 0 } },
		/* The translator's code cache, on the threads that build a machine: a shared mapping, a second view
		 * of it (mremap, old size 0), that view made readable and executable. */
		{ SECCOMP_VMM, SYS_mmap, { 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1 } },
		{ SECCOMP_VMM, SYS_mremap, { 0, 0, 4096, MREMAP_MAYMOVE } },
		{ SECCOMP_VMM, SYS_mprotect, { 0, 4096, PROT_READ | PROT_EXEC } },
		{ SECCOMP_API, SYS_mprotect, { 0, 4096, PROT_READ | PROT_EXEC } },
		/* After the lock, memory that is not executable is still fine. */
		{ SECCOMP_API, SYS_mmap, { 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1 }, true },
		{ SECCOMP_VMM, SYS_mprotect, { 0, 4096, PROT_READ }, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = run_case(&on, &cases[i]);
		if (r >= 1000)
			fail_msg("case %zu (%s thread, call %ld) killed by signal %d", i,
				 seccomp__thread_name(cases[i].kind), cases[i].nr, r - 1000);
	}
	/* clone3 is answered ENOSYS (glibc then uses clone, whose flags the filter checks). */
	const struct call clone3 = { SECCOMP_VMM, SYS_clone3, { 0, 0 } };
	assert_int_equal(run_case(&on, &clone3), -ENOSYS);
	close(fd);
}

static void levels(void **state)
{
	(void)state;
	const struct call rwx = { SECCOMP_VMM,
				  SYS_mmap,
				  { 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1 } };
	const struct call vcpu_open = { SECCOMP_VCPU, SYS_socket, { AF_UNIX, SOCK_STREAM } };
	/* Level 1 checks calls, not arguments; level 0 checks nothing. */
	assert_true(run_case(&basic, &rwx) < 1000);
	assert_int_equal(run_case(&basic, &vcpu_open), KILLED);
	assert_true(run_case(&off, &rwx) < 1000);
	assert_true(run_case(&off, &vcpu_open) < 1000);
}

static void custom_filter(void **state)
{
	(void)state;
	char path[] = "/tmp/wisp-test-seccomp-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	/* Only the vCPU is filtered, and it may not write. */
	const char *text = policy_with("{\"default_action\": \"allow\", \"filter_action\": {\"errno\": 1}, "
				       "\"filter\": [{\"syscall\": \"getppid\"}, {\"syscall\": \"socket\", \"action\": "
				       "\"kill_process\"}]}");
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct seccomp_options o = { .level = SECCOMP_LEVEL_ADVANCED, .filter_file = path };
	const struct call ppid = { SECCOMP_VCPU, SYS_getppid, { 0 } };
	const struct call open = { SECCOMP_VCPU, SYS_socket, { AF_UNIX, SOCK_STREAM } };
	const struct call vmm_ppid = { SECCOMP_VMM, SYS_getppid, { 0 } };
	assert_int_equal(run_case(&o, &ppid), -EPERM);
	assert_int_equal(run_case(&o, &open), KILLED);
	assert_int_equal(run_case(&o, &vmm_ppid), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builtin_names_resolve),
		cmocka_unit_test(kind_names),
		cmocka_unit_test(spawns),
		cmocka_unit_test(json_round_trip),
		cmocka_unit_test(json_errors),
		cmocka_unit_test(forbidden_calls_kill),
		cmocka_unit_test(allowed_calls_pass),
		cmocka_unit_test(levels),
		cmocka_unit_test(custom_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
