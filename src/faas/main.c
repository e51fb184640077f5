/*
 * wisp-faas: the function platform's command line (docs/faas.md).
 *   wisp-faas [--listen H:P] [--state-dir D] [--memory-budget MIB] [--policy P] [--wisp PATH] ...   the daemon
 *   wisp-faas simulate --trace FILE... --policy P... [--memory-mib M] [--plot OUT.png]
 *   wisp-faas gen-trace --out PREFIX [--apps N] [--days D] [--seed S]
 *   wisp-faas replay --trace FILE --speedup K --url URL --executable PATH [--apps N] [--per-minute N]
 */
#include "faas/daemon.h"
#include "faas/policy.h"
#include "faas/replay.h"
#include "faas/sim.h"
#include "faas/trace.h"

#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *o)
{
	fprintf(o,
		"usage: wisp-faas [options]                 the daemon\n"
		"  --listen HOST:PORT      HTTP API (default 127.0.0.1:8080)\n"
		"  --state-dir DIR         snapshots, drives, instance sockets (default /tmp/wisp-faas)\n"
		"  --memory-budget MIB     memory of all live instances (default 2048)\n"
		"  --policy P              fixed:MINUTES or hybrid (default hybrid)\n"
		"  --wisp PATH             the wisp binary (default: next to wisp-faas)\n"
		"  --kernel PATH, --initrd PATH   the platform's guest (default: guest/ next to wisp-faas)\n"
		"  --python-image PATH     the python3 runtime's drive (default: guest/python.ext4 next to wisp-faas)\n"
		"  --cpu-backend jit|interp   the instances' CPU backend (WISP_CPU_BACKEND for their wisp)\n"
		"  --minute-ms MS          length of the policy's minute (default 60000; less compresses time)\n"
		"  --queue N               invocations waiting per function before 429 (default 64)\n"
		"  --max-body BYTES        largest invocation body (default 6291456)\n"
		"wisp-faas simulate --trace FILE... --policy P... [--memory-mib M] [--plot OUT.png]\n"
		"wisp-faas gen-trace --out PREFIX [--apps N] [--days D] [--seed S]   (writes PREFIX.dNN.csv)\n"
		"wisp-faas replay --trace FILE... --speedup K --url http://HOST:PORT --executable PATH [--apps N]\n"
		"                 [--per-minute N]\n");
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out, const char *what)
{
	char *e;
	unsigned long v = strtoul(s, &e, 10);
	if (!*s || *e || v < lo || v > hi || *s == '-') {
		fprintf(stderr, "wisp-faas: %s must be an integer in %lu..%lu, not \"%s\"\n", what, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int read_traces(struct trace *t, char **files, int n)
{
	char err[1024];
	for (int i = 0; i < n; i++)
		if (trace__read(t, files[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "wisp-faas: %s\n", err);
			return -1;
		}
	if (!n) {
		fprintf(stderr, "wisp-faas: --trace FILE is required\n");
		return -1;
	}
	return 0;
}

/* --plot: 75th-percentile app cold-start % against wasted memory; fixed 5..120 min and hybrid. */
static int plot(const struct trace *t, double mem, const char *out)
{
	char data[] = "/tmp/wisp-faas-plot-XXXXXX";
	int fd = mkstemp(data);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	static const double mins[] = { 5, 10, 15, 20, 30, 45, 60, 90, 120 };
	struct sim_result r;
	for (size_t i = 0; i < sizeof(mins) / sizeof(mins[0]); i++) {
		struct policy p = { POLICY_FIXED, mins[i] };
		sim__run(t, &p, mem, &r);
		fprintf(f, "fixed %g %f %f\n", mins[i], r.wasted_gb_s, r.cold_pct[1]);
	}
	struct policy h = { POLICY_HYBRID, POLICY_FALLBACK_MIN };
	sim__run(t, &h, mem, &r);
	fprintf(f, "hybrid 0 %f %f\n", r.wasted_gb_s, r.cold_pct[1]);
	fclose(f);
	char cmd[8192];
	snprintf(
	    cmd, sizeof(cmd),
	    "python3 -c '\nimport sys\nimport matplotlib\nmatplotlib.use(\"Agg\")\nimport matplotlib.pyplot as plt\n"
	    "rows=[l.split() for l in open(sys.argv[1])]\nfx=[r for r in rows if r[0]==\"fixed\"]\n"
	    "hy=[r for r in rows if r[0]==\"hybrid\"]\n"
	    "plt.plot([float(r[2]) for r in fx],[float(r[3]) for r in fx],\"o-\",label=\"fixed keep-alive\")\n"
	    "[plt.annotate(r[1]+\" min\",(float(r[2]),float(r[3]))) for r in fx]\n"
	    "plt.plot([float(r[2]) for r in hy],[float(r[3]) for r in hy],\"r*\",markersize=14,label=\"hybrid\")\n"
	    "plt.xlabel(\"wasted memory (GB-s)\")\nplt.ylabel(\"75th-percentile app cold starts (%%)\")\n"
	    "plt.legend()\nplt.savefig(sys.argv[2],dpi=100)\n' %s '%s' 2>/dev/null || gnuplot -e \"set terminal png; "
	    "set output '%s'; set xlabel 'wasted memory (GB-s)'; set ylabel 'p75 app cold starts (%%)'; plot '%s' "
	    "using 3:(strcol(1) eq 'fixed' ? \\$4 : 1/0) with linespoints title 'fixed', '' using 3:(strcol(1) eq "
	    "'hybrid' ? \\$4 : 1/0) with points pt 3 ps 3 title 'hybrid'\"",
	    data, out, out, data);
	int rc = system(cmd);
	unlink(data);
	if (rc != 0) {
		fprintf(stderr, "wisp-faas: --plot needs python3-matplotlib or gnuplot\n");
		return -1;
	}
	fprintf(stderr, "wisp-faas: wrote %s\n", out);
	return 0;
}

static int cmd_simulate(int argc, char **argv)
{
	char *traces[256];
	int nt = 0, np = 0;
	struct policy pol[64];
	double mem = 128;
	const char *plot_out = NULL;
	char err[512];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--trace")) {
			while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) && nt < 256)
				traces[nt++] = argv[++i];
		} else if (!strcmp(a, "--policy") && i + 1 < argc && np < 64) {
			if (policy__parse(argv[++i], &pol[np++], err, sizeof(err)) < 0) {
				fprintf(stderr, "wisp-faas: %s\n", err);
				return 2;
			}
		} else if (!strcmp(a, "--memory-mib") && i + 1 < argc) {
			unsigned long m;
			if (parse_uint(argv[++i], 1, 1 << 20, &m, "--memory-mib") < 0)
				return 2;
			mem = (double)m;
		} else if (!strcmp(a, "--plot") && i + 1 < argc) {
			plot_out = argv[++i];
		} else {
			fprintf(stderr, "wisp-faas simulate: unknown or incomplete option %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!np && !plot_out) {
		fprintf(stderr, "wisp-faas simulate: --policy P is required (fixed:MINUTES or hybrid)\n");
		return 2;
	}
	struct trace t = { 0 };
	if (read_traces(&t, traces, nt) < 0)
		return 1;
	for (int k = 0; k < np; k++) {
		struct sim_result r;
		if (sim__run(&t, &pol[k], mem, &r) < 0) {
			fprintf(stderr, "wisp-faas: out of memory\n");
			return 1;
		}
		sim__print(&r);
	}
	int rc = plot_out && plot(&t, mem, plot_out) < 0 ? 1 : 0;
	trace__free(&t);
	return rc;
}

static int cmd_gen(int argc, char **argv)
{
	struct gen_opts o = { 200, 1, 1 };
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		unsigned long v;
		if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--apps") && i + 1 < argc) {
			if (parse_uint(argv[++i], 1, 1000000, &v, "--apps") < 0)
				return 2;
			o.apps = (unsigned)v;
		} else if (!strcmp(argv[i], "--days") && i + 1 < argc) {
			if (parse_uint(argv[++i], 1, 14, &v, "--days") < 0)
				return 2;
			o.days = (unsigned)v;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (parse_uint(argv[++i], 0, ULONG_MAX, &v, "--seed") < 0)
				return 2;
			o.seed = v;
		} else {
			fprintf(stderr, "wisp-faas gen-trace: unknown or incomplete option %s\n", argv[i]);
			return 2;
		}
	}
	if (!out) {
		fprintf(stderr, "wisp-faas gen-trace: --out PREFIX is required\n");
		return 2;
	}
	char err[512];
	if (trace__generate(&o, out, err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp-faas: %s\n", err);
		return 1;
	}
	for (unsigned d = 1; d <= o.days; d++)
		printf("%s.d%02u.csv\n", out, d);
	return 0;
}

static int cmd_replay(int argc, char **argv)
{
	struct replay_opts o = { .speedup = 60, .apps = 4, .per_minute = 8 };
	char *traces[64];
	int nt = 0;
	for (int i = 1; i < argc; i++) {
		unsigned long v;
		if (!strcmp(argv[i], "--trace")) {
			while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) && nt < 64)
				traces[nt++] = argv[++i];
		} else if (!strcmp(argv[i], "--speedup") && i + 1 < argc) {
			if (parse_uint(argv[++i], 1, 60000, &v, "--speedup") < 0)
				return 2;
			o.speedup = (double)v;
		} else if (!strcmp(argv[i], "--url") && i + 1 < argc) {
			o.url = argv[++i];
		} else if (!strcmp(argv[i], "--executable") && i + 1 < argc) {
			o.executable = argv[++i];
		} else if (!strcmp(argv[i], "--apps") && i + 1 < argc) {
			if (parse_uint(argv[++i], 1, 64, &v, "--apps") < 0)
				return 2;
			o.apps = (unsigned)v;
		} else if (!strcmp(argv[i], "--per-minute") && i + 1 < argc) {
			if (parse_uint(argv[++i], 1, 1000, &v, "--per-minute") < 0)
				return 2;
			o.per_minute = (unsigned)v;
		} else {
			fprintf(stderr, "wisp-faas replay: unknown or incomplete option %s\n", argv[i]);
			return 2;
		}
	}
	if (!o.url || !o.executable) {
		fprintf(stderr, "wisp-faas replay: --url and --executable are required\n");
		return 2;
	}
	struct trace t = { 0 };
	if (read_traces(&t, traces, nt) < 0)
		return 1;
	int rc = replay__run(&t, &o);
	trace__free(&t);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "simulate"))
		return cmd_simulate(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "gen-trace"))
		return cmd_gen(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "replay"))
		return cmd_replay(argc - 1, argv + 1);

	char self[PATH_MAX], here[PATH_MAX], wisp[PATH_MAX + 16], kernel[PATH_MAX + 32], initrd[PATH_MAX + 32],
	    python[PATH_MAX + 32];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[sl > 0 ? sl : 0] = 0;
	snprintf(here, sizeof(here), "%s", dirname(self));
	snprintf(wisp, sizeof(wisp), "%s/wisp", here);
	snprintf(kernel, sizeof(kernel), "%s/guest/Image", here);
	snprintf(initrd, sizeof(initrd), "%s/guest/initrd.cpio.gz", here);
	snprintf(python, sizeof(python), "%s/guest/python.ext4", here);
	struct faas_opts o = { .listen = "127.0.0.1:8080",
			       .state_dir = "/tmp/wisp-faas",
			       .wisp = wisp,
			       .kernel = kernel,
			       .initrd = initrd,
			       .python_image = python,
			       .memory_budget_mib = 2048,
			       .policy = { POLICY_HYBRID, POLICY_FALLBACK_MIN },
			       .minute_ms = 60000,
			       .queue_max = 64,
			       .max_body = 6u << 20 };
	enum {
		O_LISTEN = 1,
		O_STATE,
		O_BUDGET,
		O_POLICY,
		O_WISP,
		O_KERNEL,
		O_INITRD,
		O_MINUTE,
		O_QUEUE,
		O_BODY,
		O_PYTHON,
		O_BACKEND,
		O_HELP
	};
	static const struct option opts[] = { { "listen", required_argument, NULL, O_LISTEN },
					      { "state-dir", required_argument, NULL, O_STATE },
					      { "memory-budget", required_argument, NULL, O_BUDGET },
					      { "policy", required_argument, NULL, O_POLICY },
					      { "wisp", required_argument, NULL, O_WISP },
					      { "kernel", required_argument, NULL, O_KERNEL },
					      { "initrd", required_argument, NULL, O_INITRD },
					      { "minute-ms", required_argument, NULL, O_MINUTE },
					      { "queue", required_argument, NULL, O_QUEUE },
					      { "max-body", required_argument, NULL, O_BODY },
					      { "python-image", required_argument, NULL, O_PYTHON },
					      { "cpu-backend", required_argument, NULL, O_BACKEND },
					      { "help", no_argument, NULL, O_HELP },
					      { 0 } };
	int c;
	unsigned long v;
	char err[512];
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN: o.listen = optarg; break;
		case O_STATE: o.state_dir = optarg; break;
		case O_BUDGET:
			if (parse_uint(optarg, 32, 1 << 22, &v, "--memory-budget") < 0)
				return 2;
			o.memory_budget_mib = (unsigned)v;
			break;
		case O_POLICY:
			if (policy__parse(optarg, &o.policy, err, sizeof(err)) < 0) {
				fprintf(stderr, "wisp-faas: %s\n", err);
				return 2;
			}
			break;
		case O_WISP: o.wisp = optarg; break;
		case O_KERNEL: o.kernel = optarg; break;
		case O_INITRD: o.initrd = optarg; break;
		case O_PYTHON: o.python_image = optarg; break;
		case O_BACKEND:
			if (strcmp(optarg, "jit") && strcmp(optarg, "interp")) {
				fprintf(stderr, "wisp-faas: --cpu-backend takes jit or interp, not %s\n", optarg);
				return 2;
			}
			o.cpu_backend = optarg;
			break;
		case O_MINUTE:
			if (parse_uint(optarg, 1, 3600000, &v, "--minute-ms") < 0)
				return 2;
			o.minute_ms = (double)v;
			break;
		case O_QUEUE:
			if (parse_uint(optarg, 0, 100000, &v, "--queue") < 0)
				return 2;
			o.queue_max = (unsigned)v;
			break;
		case O_BODY:
			if (parse_uint(optarg, 1, 1u << 30, &v, "--max-body") < 0)
				return 2;
			o.max_body = v;
			break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "wisp-faas: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	for (const char *const *p = (const char *const[]){ o.wisp, o.kernel, o.initrd, NULL }; *p; p++)
		if (access(*p, R_OK) < 0) {
			fprintf(stderr, "wisp-faas: %s is missing (make wisp guest, or --wisp/--kernel/--initrd)\n",
				*p);
			return 1;
		}
	return faas__serve(&o);
}
