/* The snapshot command-line options: save on a signal or a timer, restore without the API, merge. */
#include "snapshot/cli.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "log/log.h"
#include "snapshot/snapshot.h"
#include "vmm/controller.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void snapshot_cli__usage(FILE *f)
{
	fprintf(f, "Snapshots (without the API):\n"
		   "  --snapshot-save STATE,MEM[,diff]  on SIGUSR1 (or --snapshot-after) pause the guest, write a Full\n"
		   "                     (or Diff) snapshot to the state file STATE and memory file MEM, and resume;\n"
		   "                     %%n in the paths is the snapshot's number (1, 2, ...): a chain of Diffs\n"
		   "  --snapshot-after SEC  take that snapshot SEC seconds after the guest starts\n"
		   "  --snapshot-exit    stop wisp (status 0) once the snapshot is written\n"
		   "  --restore STATE,MEM[,DIFF...]  run the microVM saved in STATE with guest memory MEM (and Diff\n"
		   "                     memory files laid over it, oldest first) instead of booting; --drive/--net/...\n"
		   "                     give the clone its own devices in place of the snapshot's (same kinds, same order)\n"
		   "  --snapshot-merge BASE,DIFF  copy a Diff memory file's pages into its base memory file, then exit\n\n");
}

/* Split "a,b,c" in place into at most max parts; returns the count, -1 on an empty part or too many. */
static int split(char *arg, char **parts, int max)
{
	int n = 0;
	for (char *save = NULL, *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return -1;
		parts[n++] = t;
	}
	return n;
}

static int merge(char *arg)
{
	char *parts[2];
	if (split(arg, parts, 2) != 2) {
		fprintf(stderr, "wisp: --snapshot-merge takes BASE,DIFF\n");
		return 2;
	}
	char err[1024];
	if (snap_mem__merge(parts[0], parts[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp: %s\n", err);
		return 1;
	}
	return 0;
}

int snapshot_cli__parse(struct snapshot_cli *s, int *argc, char **argv)
{
	memset(s, 0, sizeof(*s));
	s->start_ns = now_ns();
	static const char *const names[] = { "--snapshot-save", "--snapshot-after", "--snapshot-exit", "--restore",
					     "--snapshot-merge" };
	int out = 1;
	char *merge_arg = NULL;
	for (int i = 1; i < *argc; i++) {
		char *a = argv[i];
		if (!strcmp(a, "--")) { /* the rest is not ours */
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		int which = -1;
		char *val = NULL;
		for (int k = 0; k < 5 && which < 0; k++) {
			size_t len = strlen(names[k]);
			if (!strncmp(a, names[k], len) && (a[len] == 0 || a[len] == '=')) {
				which = k;
				val = a[len] == '=' ? a + len + 1 : NULL;
			}
		}
		if (which < 0) {
			argv[out++] = a;
			continue;
		}
		if (which == 2) {
			if (val) {
				fprintf(stderr, "wisp: --snapshot-exit takes no value\n");
				return 2;
			}
			s->save_exit = true;
			continue;
		}
		if (!val) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "wisp: %s needs a value\n", names[which]);
				return 2;
			}
			val = argv[++i];
		}
		char *parts[SNAP_MAX_LAYERS + 1];
		int np;
		switch (which) {
		case 0:
			np = split(val, parts, 3);
			if (np < 2 || (np == 3 && strcmp(parts[2], "diff") && strcmp(parts[2], "full"))) {
				fprintf(stderr, "wisp: --snapshot-save takes STATE,MEM[,diff]\n");
				return 2;
			}
			s->save_state = parts[0];
			s->save_mem = parts[1];
			s->save_diff = np == 3 && !strcmp(parts[2], "diff");
			break;
		case 1: {
			char *end;
			s->save_after = strtod(val, &end);
			if (end == val || *end || !(s->save_after > 0) || s->save_after > 1e7) {
				fprintf(stderr, "wisp: --snapshot-after takes a positive number of seconds, not '%s'\n", val);
				return 2;
			}
			break;
		}
		case 3:
			np = split(val, parts, SNAP_MAX_LAYERS + 1);
			if (np < 2) {
				fprintf(stderr, "wisp: --restore takes STATE,MEM[,DIFF...] (at most %d memory files)\n",
					SNAP_MAX_LAYERS);
				return 2;
			}
			s->restore_state = parts[0];
			for (int k = 1; k < np; k++)
				s->restore_mem[k - 1] = parts[k];
			s->restore_nmem = (unsigned)np - 1;
			break;
		case 4:
			merge_arg = val;
			break;
		}
	}
	argv[out] = NULL;
	*argc = out;
	if (merge_arg)
		return merge(merge_arg);
	if ((s->save_after || s->save_exit) && !s->save_state) {
		fprintf(stderr, "wisp: --snapshot-after and --snapshot-exit need --snapshot-save STATE,MEM\n");
		return 2;
	}
	if (s->save_state) {
		/* SIGUSR1 is taken by the trigger thread with sigtimedwait: block it before any thread exists. */
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}
	return -1;
}

/* ---- the trigger: SIGUSR1 or a timer ---- */

/* A --snapshot-save path with every "%n" replaced by the snapshot's number (1, 2, ...). */
static int subst(const char *tmpl, unsigned seq, char *out, size_t size)
{
	size_t o = 0;
	for (const char *p = tmpl; *p; p++) {
		int w;
		if (p[0] == '%' && p[1] == 'n') {
			w = snprintf(out + o, size - o, "%u", seq);
			p++;
		} else {
			w = snprintf(out + o, size - o, "%c", *p);
		}
		if (w < 0 || (size_t)w >= size - o)
			return -1;
		o += (size_t)w;
	}
	if (!o)
		out[0] = 0;
	return 0;
}

static void take(struct snapshot_trigger *t)
{
	struct snapshot_cli *s = t->s;
	struct vmm *v = t->c ? &t->c->vmm : t->v;
	char err[1024], state[4096], mem[4096];
	unsigned seq = ++s->seq;
	if (subst(s->save_state, seq, state, sizeof(state)) < 0 || subst(s->save_mem, seq, mem, sizeof(mem)) < 0) {
		fprintf(stderr, "wisp: snapshot: path too long\n");
		return;
	}
	uint64_t t0 = now_ns();
	if (t->c) {
		if (controller__pause(t->c, err, sizeof(err)) < 0) {
			fprintf(stderr, "wisp: snapshot: %s\n", err);
			return;
		}
	} else {
		vmm__pause(v);
	}
	uint64_t t1 = now_ns();
	struct snap_mem_stats st;
	struct snapshot_params p = { s->save_diff ? SNAPSHOT_DIFF : SNAPSHOT_FULL, state, mem, &st };
	int rc = snapshot__create(v, &p, err, sizeof(err));
	uint64_t t2 = now_ns();
	if (rc == 0) {
		fprintf(stderr, "\r\nwisp: snapshot written: %s + %s (%s, %llu pages, %.1f MiB) in %.1f ms (pause %.1f ms)\r\n",
			state, mem, st.diff ? "diff" : "full", (unsigned long long)st.pages_written,
			(double)st.bytes_written / (1 << 20), (double)(t2 - t1) / 1e6, (double)(t2 - t0) / 1e6);
		pr_info(s->log, "Snapshot written to %s and %s", state, mem);
	} else {
		fprintf(stderr, "\r\nwisp: snapshot failed: %s\r\n", err);
		pr_err(s->log, "Snapshot failed: %s", err);
	}
	if (rc == 0 && s->save_exit) {
		if (t->c)
			controller__request_exit(t->c, 0, "snapshot taken");
		else
			machine__halt(&v->m, 0, "snapshot taken"); /* parked harts see the halt and end */
		return;
	}
	if (t->c)
		controller__resume(t->c, err, sizeof(err));
	else
		vmm__resume(v);
}

static void *trigger_thread(void *opaque)
{
	struct snapshot_trigger *t = opaque;
	struct vmm *v = t->c ? &t->c->vmm : t->v;
	seccomp__enter(SECCOMP_SNAPSHOT);
	log__set_thread_name("snapshot");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	uint64_t deadline = t->s->save_after > 0 ? now_ns() + (uint64_t)(t->s->save_after * 1e9) : 0;
	while (!atomic_load(&v->m.halted)) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGUSR1 || (deadline && now_ns() >= deadline)) {
			deadline = 0;
			if (!atomic_load(&v->m.halted))
				take(t);
		}
	}
	return NULL;
}

static int start_trigger(struct snapshot_cli *s, struct controller *c, struct vmm *v)
{
	s->trigger = (struct snapshot_trigger){ s, c, v };
	pthread_t th;
	if (pthread_create(&th, NULL, trigger_thread, &s->trigger) != 0) {
		fprintf(stderr, "wisp: cannot start the snapshot thread\n");
		return -1;
	}
	pthread_detach(th);
	return 0;
}

int snapshot_cli__arm(struct snapshot_cli *s, struct controller *c)
{
	return s->save_state ? start_trigger(s, c, NULL) : 0;
}

/* ---- --restore ---- */

static void *signal_thread(void *opaque)
{
	struct snapshot_cli *s = opaque;
	sigset_t *set = &s->sigs;
	seccomp__enter(SECCOMP_SIGNALS);
	log__set_thread_name("signals");
	for (;;) {
		int sig;
		if (sigwait(set, &sig) != 0)
			continue;
		pr_warn(s->log, "Shutting down on signal %d", sig);
		machine__halt(&s->restored->m, 128 + sig, "signal");
	}
	return NULL;
}

int snapshot_cli__restore(struct snapshot_cli *s, double timeout, const struct vmm_devices_config *devices)
{
	bool own = devices && (devices->nblock || devices->nnet || devices->rng || devices->console ||
			      devices->has_vsock || devices->has_balloon);
	struct snapshot_load_params p = {
		.state_path = s->restore_state,
		.nmem = s->restore_nmem,
		.resume = true,
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		.timeout = timeout,
		.devices = own ? devices : NULL,
		.log = s->log,
	};
	memcpy(p.mem, s->restore_mem, sizeof(p.mem));
	char err[2048];
	struct vmm *restored = s->restored = calloc(1, sizeof(*restored));
	if (!restored || snapshot__load(restored, &p, err, sizeof(err)) < 0) {
		if (!restored)
			snprintf(err, sizeof(err), "out of memory");
		fprintf(stderr, "wisp: cannot restore the snapshot: %s\n", err);
		pr_err(s->log, "Cannot restore the snapshot: %s", err);
		free(restored);
		s->restored = NULL;
		return 1;
	}
	double ms = (double)(now_ns() - s->start_ns) / 1e6;
	struct timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	double cpu_ms = (double)cpu.tv_sec * 1e3 + (double)cpu.tv_nsec / 1e6;
	fprintf(stderr, "wisp: restored %s: guest running %.3f ms after wisp started (process CPU time %.3f ms)\n",
		s->restore_state, ms, cpu_ms);
	pr_info(s->log, "Restored %s: guest running %.3f ms after start", s->restore_state, ms);

	sigemptyset(&s->sigs);
	sigaddset(&s->sigs, SIGINT);
	sigaddset(&s->sigs, SIGTERM);
	sigaddset(&s->sigs, SIGHUP);
	sigaddset(&s->sigs, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &s->sigs, NULL);
	pthread_t th;
	if (pthread_create(&th, NULL, signal_thread, s) == 0)
		pthread_detach(th);
	if (s->save_state)
		start_trigger(s, NULL, restored);
	seccomp__lock_exec(); /* the machine is built */
	/* What start-up freed (filter compilation, snapshot parsing) goes back to the host: a clone idles for long. */
	malloc_trim(0);

	int code = vmm__wait(restored);
	const char *why = restored->m.exit_why;
	fprintf(stderr, "\nwisp: guest stopped (%s)\n", why ? why : "?");
	vmm__destroy(restored);
	/* The signal thread may still look at it: the process ends now anyway (main returns code). */
	return code;
}
