/*
 * The built-in allow-lists, one per thread kind, built from groups. This is the one place to add a system call
 * a thread needs: find the thread's kind in build() at the bottom, add the call to one of its groups (or a new
 * group), give it a comment saying who needs it, and run the tests (`wisp --seccomp-trap` names a forbidden
 * call instead of just dying). docs/seccomp.md lists every kind's calls (`wisp --seccomp-print-filter`).
 *
 * Arguments are checked where it matters: ioctl requests, mmap/mprotect protections (PROT_EXEC only as
 * PROT_READ|PROT_EXEC, for the translator's code cache, on the threads that build a machine), clone flags
 * (threads only, no new process or namespace), socket domains, futex operations.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "jail/seccomp_policy.h"

#define COND(a, o, m, v, q, what)                                                                                      \
	{                                                                                                              \
		.arg = (a), .op = (o), .mask = (m), .val = (v), .qword = (q), .comment = (what)                        \
	}
/* 32-bit comparisons ("dword"): the arguments checked here are ints, flags or ioctl numbers. */
#define EQ(a, v)	      COND(a, SC_EQ, 0, (uint64_t)(v), false, #v)
#define MASKED(a, m, v, what) COND(a, SC_MASKED_EQ, (uint64_t)(m), (uint64_t)(v), false, what)

#define RULE(name, why, ...)                                                                                           \
	{                                                                                                              \
		.syscall = #name, .comment = (why),                                                                    \
		.ncond = sizeof((struct sc_cond[]){ __VA_ARGS__ }) / sizeof(struct sc_cond), .cond = {                 \
			__VA_ARGS__                                                                                    \
		}                                                                                                      \
	}
#define CALL(name, why)                                                                                                \
	{                                                                                                              \
		.syscall = #name, .comment = (why)                                                                     \
	}
#define ERRNO_RULE(name, e, why)                                                                                       \
	{                                                                                                              \
		.syscall = #name, .comment = (why), .action = SCMP_ACT_ERRNO(e)                                        \
	}

/* glibc's own real-time signals, below the SIGRTMIN it reports. */
#define SIGCANCEL_GLIBC 32
#define SIGSETXID_GLIBC 33

#define NO_EXEC(a)     MASKED(a, PROT_EXEC, 0, "PROT_EXEC clear")
#define FUTEX_CMD(cmd) MASKED(1, FUTEX_CMD_MASK, cmd, #cmd " (any PRIVATE/CLOCK_REALTIME flags)")

/* Every thread: exit, locks and condition variables, the clock, log lines, malloc and abort(). */
static const struct sc_rule base[] = {
	CALL(exit, "thread exit"),
	CALL(exit_group, "process exit"),
	CALL(restart_syscall, "resuming a timed wait after SIGSTOP/SIGCONT"),
	CALL(rt_sigreturn, "return from a signal handler"),
	RULE(futex, "mutexes, condition variables, pthread_join", FUTEX_CMD(FUTEX_WAIT)),
	RULE(futex, "mutexes, condition variables, pthread_join", FUTEX_CMD(FUTEX_WAKE)),
	RULE(futex, "condition variables with a deadline", FUTEX_CMD(FUTEX_WAIT_BITSET)),
	CALL(clock_gettime, "the guest clock, log timestamps (when the vDSO cannot answer)"),
	CALL(write, "log lines, the serial console, eventfd notifications"),
	CALL(brk, "malloc"),
	RULE(mmap, "malloc, thread stacks, guest RAM, snapshot memory files: never executable", NO_EXEC(2)),
	RULE(mprotect, "malloc arenas, stack guards: never executable", NO_EXEC(2)),
	CALL(munmap, "free, thread stacks, guest RAM"),
	CALL(mremap, "realloc of large blocks"),
	RULE(madvise, "free, thread stack release", EQ(2, MADV_DONTNEED)),
	CALL(getpid, "abort()"),
	CALL(gettid, "abort()"),
	RULE(tgkill, "abort() raising SIGABRT", EQ(2, SIGABRT)),
	RULE(rt_sigaction, "abort() restoring SIGABRT's default", EQ(0, SIGABRT)),
	CALL(rt_sigprocmask, "abort(), thread start and exit"),
};

/* Threads that start threads (pthread_create) and the calls a new thread makes before its own filter. */
static const struct sc_rule threads[] = {
	RULE(clone, "pthread_create: a thread of this process, never a new process or namespace",
	     MASKED(0,
		    CLONE_THREAD | CLONE_VM | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
			    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET,
		    CLONE_THREAD | CLONE_VM, "CLONE_THREAD|CLONE_VM, no CLONE_NEW*")),
	ERRNO_RULE(clone3, ENOSYS, "its flags cannot be checked (they are in memory): glibc falls back to clone"),
	CALL(set_robust_list, "a new thread's start"),
	CALL(rseq, "a new thread's start"),
	RULE(prctl, "a new thread names itself", EQ(0, PR_SET_NAME)),
	RULE(seccomp, "a new thread installs its own (narrower) filter", EQ(0, SECCOMP_SET_MODE_FILTER), EQ(1, 0)),
	RULE(rt_sigaction, "glibc's first pthread_create installs its SIGSETXID handler", EQ(0, SIGSETXID_GLIBC)),
	RULE(rt_sigaction, "glibc's first pthread_create installs its SIGCANCEL handler", EQ(0, SIGCANCEL_GLIBC)),
};

/* Files: kernel and initrd, drives, logs and metrics, snapshots (what the snapshot trigger needs too). */
static const struct sc_rule files[] = {
	CALL(openat, "kernel, initrd, drives, log and metrics files, snapshots"),
	CALL(close, "file descriptors"),
	CALL(read, "files, eventfds"),
	CALL(pread64, "snapshot state files, /proc/self/pagemap"),
	CALL(pwrite64, "snapshot memory files"),
	CALL(lseek, "file sizes, holes in snapshot memory files"),
	CALL(fstat, "file types and sizes"),
	CALL(newfstatat, "stat of configured paths"),
	CALL(ftruncate, "snapshot memory files"),
	CALL(rename, "snapshot files written under a temporary name"),
	CALL(unlink, "temporary snapshot files, the API socket"),
};

/* Configuring: what checking and opening the configured resources needs beyond files. */
static const struct sc_rule config[] = {
	CALL(access, "drive permissions"),
	CALL(fcntl, "O_NONBLOCK on tap and pty file descriptors"),
	CALL(flock, "drive locks"),
	CALL(getrandom, "random MAC addresses"),
	CALL(copy_file_range, "--snapshot-merge"),
};

/*
 * Building a machine (InstanceStart, snapshot load, the CLI boot): its devices and the translator's code cache
 * (src/cpu/jit/cache.c): one MAP_SHARED|MAP_ANONYMOUS mapping, PROT_READ|PROT_WRITE (mmap in base), a second view
 * of it made by mremap (old size 0; base), and that view turned PROT_READ|PROT_EXEC by mprotect. Once the
 * machine is built the thread calls seccomp__lock_exec and can make nothing executable any more.
 */
static const struct sc_rule machine[] = {
	RULE(mprotect, "the translator's code cache: its second view readable and executable, never writable",
	     EQ(2, PROT_READ | PROT_EXEC)),
	CALL(eventfd2, "virtio queue notifications"),
	CALL(timerfd_create, "vsock credit updates, balloon statistics polling"),
	RULE(socket, "vsock: the listener on uds_path: AF_UNIX only", EQ(0, AF_UNIX)),
	CALL(bind, "vsock: the listener on uds_path"),
	CALL(listen, "vsock: the listener on uds_path"),
	CALL(timerfd_settime, "PATCH /balloon/statistics: a new polling interval"),
	CALL(epoll_create1, "the I/O thread's event loop"),
	CALL(epoll_ctl, "the I/O thread's event loop"),
	RULE(ioctl, "virtio-net: attach to the TAP interface", EQ(1, TUNSETIFF)),
	RULE(ioctl, "virtio-net: virtio-net header", EQ(1, TUNSETVNETHDRSZ)),
	RULE(ioctl, "virtio-net: no offloads", EQ(1, TUNSETOFFLOAD)),
	RULE(ioctl, "terminal attributes (isatty, raw mode, restore at exit)", EQ(1, TCGETS)),
	RULE(ioctl, "terminal raw mode and its restoration", EQ(1, TCSETS)),
	RULE(ioctl, "virtio-console: the pseudo-terminal's number", EQ(1, TIOCGPTN)),
	RULE(ioctl, "virtio-console: unlock the pseudo-terminal", EQ(1, TIOCSPTLCK)),
};

/* The API server: libmicrohttpd on the Unix socket. */
static const struct sc_rule http[] = {
	CALL(epoll_wait, "libmicrohttpd's event loop"),
	CALL(epoll_ctl, "libmicrohttpd's event loop"),
	CALL(poll, "the server loop: the socket and the stop eventfd"),
	CALL(accept4, "API connections"),
	CALL(recvfrom, "API requests"),
	CALL(sendto, "API responses"),
	CALL(sendmsg, "API responses"),
	CALL(shutdown, "closing API connections"),
	CALL(read, "the stop eventfd"),
	CALL(close, "API connections"),
};

/* Only the main thread: the API socket. */
static const struct sc_rule vmm_own[] = {
	RULE(socket, "the API socket: AF_UNIX only", EQ(0, AF_UNIX)),
	CALL(bind, "the API socket"),
	CALL(listen, "the API socket"),
	CALL(getsockname, "libmicrohttpd's listening socket"),
	CALL(getsockopt, "libmicrohttpd's listening socket"),
};

/* The I/O thread: its event loop, disks, TAP, the virtio console's pty, entropy. */
static const struct sc_rule io[] = {
	CALL(epoll_wait, "the event loop"),
	CALL(epoll_ctl, "the event loop"),
	CALL(read, "eventfds, TAP frames, the pty"),
	CALL(writev, "TAP frames"),
	CALL(preadv, "virtio-blk reads"),
	CALL(pwritev, "virtio-blk writes"),
	CALL(fdatasync, "virtio-blk flushes"),
	CALL(getrandom, "virtio-rng"),
	/* virtio-vsock: host Unix sockets (listener on uds_path, connections both ways), its timers. */
	RULE(socket, "vsock: guest-initiated connections to <uds_path>_<port>: AF_UNIX only", EQ(0, AF_UNIX)),
	CALL(connect, "vsock: guest-initiated connections"),
	CALL(accept4, "vsock: host-initiated connections on uds_path"),
	CALL(recvfrom, "vsock: the CONNECT line, stream data"),
	CALL(readv, "vsock: stream data into guest buffers"),
	CALL(sendto, "vsock: the OK line"),
	CALL(sendmsg, "vsock: stream data (MSG_NOSIGNAL)"),
	CALL(shutdown, "vsock: the guest shut a direction down"),
	CALL(close, "vsock: a connection ends"),
	CALL(timerfd_settime, "vsock credit updates, balloon statistics polling"),
	CALL(sysinfo, "glibc's qsort sizing its buffer (balloon: sorting page frame numbers)"),
};

/* The serial console's input thread. */
static const struct sc_rule console[] = {
	CALL(poll, "wait for input"),
	CALL(read, "terminal input"),
	CALL(clock_nanosleep, "usleep while the UART's FIFO is full"),
};

/* Threads that wait for signals. */
static const struct sc_rule waiters[] = {
	CALL(rt_sigtimedwait, "sigwait, sigtimedwait"),
};

/*
 * Sanitizer builds (make test-san): what the ASan/UBSan/LSan runtime needs besides wisp, on every thread (its
 * allocator and thread set-up) and, on the main thread, for LeakSanitizer's check at exit (a tracer task that
 * ptraces the threads). Never in a normal build.
 */
#if defined(__SANITIZE_ADDRESS__)
#define WISP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WISP_SANITIZED 1
#endif
#endif
#ifdef WISP_SANITIZED
static const struct sc_rule sanitizer[] = {
	CALL(madvise, "sanitizer runtime: its allocator (MADV_DONTDUMP, MADV_NOHUGEPAGE...)"),
	CALL(sigaltstack, "sanitizer runtime: per-thread signal stacks"),
	CALL(sched_getaffinity, "sanitizer runtime: thread start"),
	CALL(sched_yield, "sanitizer runtime: spin locks"),
	CALL(getppid, "sanitizer runtime"),
	CALL(open, "sanitizer reports: /proc/self/maps"),
	CALL(openat, "sanitizer reports: /proc/self/maps"),
	CALL(read, "sanitizer reports: /proc/self/maps"),
	CALL(close, "sanitizer reports"),
	CALL(readlink, "sanitizer reports: /proc/self/exe"),
};
static const struct sc_rule sanitizer_exit[] = {
	CALL(clone, "LeakSanitizer: its tracer task (not a thread)"),
	CALL(ptrace, "LeakSanitizer: stopping the threads to scan them"),
	CALL(wait4, "LeakSanitizer: the tracer"),
	CALL(prctl, "LeakSanitizer: PR_SET_DUMPABLE, PR_SET_PTRACER, PR_SET_PDEATHSIG"),
	CALL(getdents, "LeakSanitizer: /proc/self/task"),
	CALL(getdents64, "LeakSanitizer: /proc/self/task"),
	CALL(rt_sigaction, "LeakSanitizer: the tracer's handlers"),
	CALL(kill, "LeakSanitizer: the tracer"),
};
#define SANITIZER      GROUP(sanitizer),
#define SANITIZER_EXIT GROUP(sanitizer_exit),
#else
#define SANITIZER
#define SANITIZER_EXIT
#endif

/* A vCPU's extras: the translator's debugging output (--jit-perf-map, --jit-dump) on that thread. */
static const struct sc_rule vcpu[] = {
	RULE(newfstatat, "stdio sizing the buffer of --jit-perf-map's file: fstat of an open descriptor",
	     EQ(3, AT_EMPTY_PATH)),
	CALL(sysinfo, "qsort in --jit-dump's disassembler (capstone)"),
};

#define GROUP(g)                                                                                                       \
	{                                                                                                              \
		g, sizeof(g) / sizeof(g[0])                                                                            \
	}
struct group {
	const struct sc_rule *rules;
	unsigned n;
};

/* Each kind: its groups (at most 10). */
static const struct {
	struct group g[10];
} kinds[SECCOMP_NTHREADS] = {
	[SECCOMP_VMM] = { { GROUP(base), GROUP(threads), GROUP(files), GROUP(config), GROUP(machine), GROUP(http),
			    GROUP(vmm_own), SANITIZER SANITIZER_EXIT } },
	[SECCOMP_API] = { { GROUP(base), GROUP(threads), GROUP(files), GROUP(config), GROUP(machine), GROUP(http),
			    SANITIZER } },
	[SECCOMP_VCPU] = { { GROUP(base), GROUP(vcpu), SANITIZER } },
	[SECCOMP_IO] = { { GROUP(base), GROUP(io), SANITIZER } },
	[SECCOMP_CONSOLE] = { { GROUP(base), GROUP(console), SANITIZER } },
	[SECCOMP_TIMEOUT] = { { GROUP(base), SANITIZER } },
	[SECCOMP_METRICS] = { { GROUP(base), SANITIZER } },
	[SECCOMP_SIGNALS] = { { GROUP(base), GROUP(waiters), SANITIZER } },
	[SECCOMP_SNAPSHOT] = { { GROUP(base), GROUP(waiters), GROUP(threads), GROUP(files), SANITIZER } },
};

#define BIT(k) (1u << (k))

/*
 * Who starts whom. The main thread starts every kind (the API server, signals, and for a --config-file or CLI
 * boot the machine's threads); the API thread starts a machine's threads (InstanceStart, snapshot load,
 * resume); the snapshot trigger restarts the I/O thread when it resumes the guest.
 */
unsigned sc_policy__spawns(enum seccomp_thread kind)
{
	const unsigned machine_threads = BIT(SECCOMP_VCPU) | BIT(SECCOMP_IO) | BIT(SECCOMP_CONSOLE) |
					 BIT(SECCOMP_TIMEOUT) | BIT(SECCOMP_METRICS);
	switch (kind) {
	case SECCOMP_VMM: return machine_threads | BIT(SECCOMP_API) | BIT(SECCOMP_SIGNALS) | BIT(SECCOMP_SNAPSHOT);
	case SECCOMP_API: return machine_threads;
	case SECCOMP_SNAPSHOT: return BIT(SECCOMP_IO);
	default: return 0;
	}
}

/* seccomp__lock_exec's filter: executable memory no more (everything else is left to the thread's own filter). */
static const struct sc_rule lock_exec[] = {
	RULE(mmap, "executable memory, after the machine was built", MASKED(2, PROT_EXEC, PROT_EXEC, "PROT_EXEC set")),
	RULE(mprotect, "executable memory, after the machine was built",
	     MASKED(2, PROT_EXEC, PROT_EXEC, "PROT_EXEC set")),
	CALL(pkey_mprotect, "executable memory, after the machine was built"),
	CALL(memfd_create, "code to map, after the machine was built"),
};

int sc_policy__lock_exec(struct sc_filter *f, uint32_t action)
{
	memset(f, 0, sizeof(*f));
	f->default_action = SCMP_ACT_ALLOW;
	f->filter_action = action;
	f->present = true;
	for (unsigned i = 0; i < sizeof(lock_exec) / sizeof(lock_exec[0]); i++)
		if (sc_policy__add(f, &lock_exec[i]) < 0) {
			free(f->rules);
			return -1;
		}
	return 0;
}

int sc_policy__builtin(struct sc_policy *p, uint32_t default_action)
{
	memset(p, 0, sizeof(*p));
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++) {
		struct sc_filter *f = &p->f[k];
		f->default_action = default_action;
		f->filter_action = SCMP_ACT_ALLOW;
		f->present = true;
		for (unsigned g = 0; g < 10 && kinds[k].g[g].rules; g++)
			for (unsigned i = 0; i < kinds[k].g[g].n; i++)
				if (sc_policy__add(f, &kinds[k].g[g].rules[i]) < 0) {
					sc_policy__free(p);
					return -1;
				}
	}
	return 0;
}
