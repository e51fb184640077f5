/*
 * wisp: the command line. Three ways to describe a microVM, as in Firecracker:
 *   - the API: `wisp --api-sock PATH`, then HTTP requests on the socket (InstanceStart boots);
 *   - a configuration file: `wisp --config-file vm.json [--no-api]` boots at once;
 *   - wisp's own shortcut flags: `wisp --kernel Image --initrd ... [--api-sock PATH]` boots at once.
 * The API keeps serving (when enabled) while the guest runs; wisp exits when the guest stops.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/parse.h"
#include "api/router.h"
#include "api/server.h"
#include "cpu/jit/jit.h"
#include "jail/seccomp.h"
#include "log/log.h"
#include "log/metrics.h"
#include "machine/machine.h"
#include "vmm/controller.h"
#include "vmm/devices.h"
#include "snapshot/cli.h"

#define CLI_DEFAULT_MEM_MIB 256
#define CONFIG_FILE_MAX (1 << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: wisp [options]\n"
		"Boot a RISC-V RV64GC microVM without KVM. Firecracker-compatible API and configuration.\n\n"
		"Firecracker's options:\n"
		"  --api-sock PATH    serve the API on a Unix socket at PATH (must not exist; default %s\n"
		"                     unless the microVM is given by --kernel/--elf)\n"
		"  --config-file FILE configure the microVM from a Firecracker JSON document and boot it at once\n"
		"  --no-api           no API socket (needs --config-file)\n"
		"  --id ID            microVM id, 1..64 characters from [A-Za-z0-9-] (default anonymous-instance)\n"
		"  --boot-timer       add the boot timer device: the guest writes 123 to 0x%llx when booted and\n"
		"                     wisp logs Guest-boot-time (Info level)\n"
		"  --level LEVEL      log level: Error, Warning (default), Info, Debug, Trace, Off\n"
		"  --log-path PATH    write the log to PATH (file or FIFO) instead of standard error\n"
		"  --show-level       show the level in log lines\n"
		"  --show-log-origin  show the source file and line in log lines\n"
		"  --module PREFIX    only log lines from source files under PREFIX (e.g. api/, vmm/controller)\n"
		"  --metrics-path PATH  write metrics (JSON lines) to PATH every 60 s and on FlushMetrics\n"
		"  --http-api-max-payload-size N  largest request body in bytes (default %d)\n"
		"  --version          print the version\n"
		"  --help             this text\n\n"
		"wisp's shortcuts (boot at once; not with --config-file):\n"
		"  --kernel FILE      Linux Image to boot\n"
		"  --initrd FILE      initramfs for the kernel\n"
		"  --cmdline STR      kernel command line (default \"%s\")\n"
		"  --mem MIB          guest memory in MiB (default %d)\n"
		"  --cpus N           number of vCPUs (default 1)\n"
		"  --cpu-backend B    how guest code runs: jit (translated to x86-64, the default there) or interp\n"
		"  --mem-merge        offer guest memory to the host's KSM: identical pages of microVMs booted\n"
		"                     separately are shared (machine-config mem_merge; not with --restore)\n"
		"  --jit-dump         print every translated block, disassembled, on standard error\n"
		"  --jit-perf-map     write /tmp/perf-PID.map so perf names translated blocks\n"
		"  --firmware FILE    boot M-mode firmware (e.g. OpenSBI fw_jump.bin) instead of the built-in SBI\n"
		"  --elf FILE         run a bare-metal ELF program (HTIF tohost); exit status is the program's\n"
		"  --timeout SEC      stop the guest after SEC seconds (exit status 124)\n"
		"  --dump-dtb FILE    write the generated device tree blob to FILE\n"
		"  --drive PATH[,ro][,id=NAME]  virtio-blk disk backed by PATH (repeatable; the first is /dev/vda)\n"
		"  --net tap=NAME[,mac=MAC]     virtio-net on host TAP interface NAME (repeatable)\n"
		"  --rng              virtio-rng entropy device (/dev/hwrng), fed from getrandom\n"
		"  --vconsole         virtio-console (hvc0) on a new pseudo-terminal; its path is printed\n"
		"  --vsock CID,PATH   virtio-vsock for guest CID; host clients connect to PATH (\"CONNECT port\"),\n"
		"                     guest connections to host port P reach PATH_P\n"
		"  --balloon MIB[,deflate_on_oom][,stats=SEC][,hinting][,reporting]  virtio-balloon, target MIB\n\n"
		"The guest's serial console is wisp's standard input and output. In a terminal, Ctrl-A x quits.\n",
		API_DEFAULT_SOCKET, (unsigned long long)BOOTTIMER_BASE, API_MAX_PAYLOAD_DEFAULT, RES_DEFAULT_CMDLINE,
		CLI_DEFAULT_MEM_MIB);
	snapshot_cli__usage(f);
	seccomp_cli__usage(f);
	fprintf(f, "Set by wisp-jailer (Firecracker's jailer does the same):\n"
		   "  --start-time-us US, --start-time-cpu-us US  when the jailer started (monotonic clock, and its\n"
		   "                     CPU time), for the api_server process_startup_time metrics\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "wisp: cannot open the configuration file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
	bool err = ferror(f);
	fclose(f);
	if (!buf || err || n > CONFIG_FILE_MAX) {
		fprintf(stderr, "wisp: cannot read the configuration file %s%s\n", path,
			n > CONFIG_FILE_MAX ? ": larger than 1 MiB" : "");
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Signals end the microVM the way a guest poweroff does: the API socket is removed, the terminal restored. */
struct signals {
	sigset_t set;
	struct controller *c;
};

static void *signal_thread(void *opaque)
{
	struct signals *s = opaque;
	seccomp__enter(SECCOMP_SIGNALS);
	log__set_thread_name("signals");
	for (;;) {
		int sig;
		if (sigwait(&s->set, &sig) != 0)
			continue;
		pr_warn(s->c->log, "Shutting down on signal %d", sig);
		controller__request_exit(s->c, 128 + sig, "signal");
	}
	return NULL;
}

static void ignore_signal(int sig)
{
	(void)sig;
}

struct cli {
	const char *api_sock, *config_file, *id, *level, *log_path, *metrics_path, *module;
	bool no_api, boot_timer, show_level, show_origin;
	uint64_t max_payload;
	uint64_t start_us, start_cpu_us; /* from wisp-jailer */
	bool has_start_us, has_start_cpu_us;
	/* Shortcut flags. */
	const char *kernel, *initrd, *cmdline, *firmware, *elf, *dump_dtb;
	uint64_t mem_mib, cpus;
	bool has_mem, has_cpus, has_backend, mem_merge;
	enum rv_backend backend;
	double timeout;
	struct vmm_devices_config devices;
};

static int parse_args(int argc, char **argv, struct cli *o)
{
	enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_MEM, OPT_CPUS, OPT_FIRMWARE, OPT_ELF, OPT_TIMEOUT,
	       OPT_DUMP_DTB, OPT_VERSION, OPT_HELP, OPT_DRIVE, OPT_NET, OPT_RNG, OPT_VCONSOLE, OPT_API_SOCK,
	       OPT_CONFIG_FILE, OPT_NO_API, OPT_ID, OPT_BOOT_TIMER, OPT_LEVEL, OPT_LOG_PATH, OPT_SHOW_LEVEL,
	       OPT_SHOW_ORIGIN, OPT_METRICS_PATH, OPT_MAX_PAYLOAD, OPT_MODULE, OPT_CPU_BACKEND, OPT_JIT_DUMP,
	       OPT_JIT_PERF_MAP, OPT_START_TIME_US, OPT_START_TIME_CPU_US, OPT_VSOCK, OPT_BALLOON,
	       OPT_MEM_MERGE };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "cpu-backend", required_argument, NULL, OPT_CPU_BACKEND },
		{ "mem-merge", no_argument, NULL, OPT_MEM_MERGE },
		{ "jit-dump", no_argument, NULL, OPT_JIT_DUMP },
		{ "jit-perf-map", no_argument, NULL, OPT_JIT_PERF_MAP },
		{ "firmware", required_argument, NULL, OPT_FIRMWARE },
		{ "elf", required_argument, NULL, OPT_ELF },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "drive", required_argument, NULL, OPT_DRIVE },
		{ "net", required_argument, NULL, OPT_NET },
		{ "rng", no_argument, NULL, OPT_RNG },
		{ "vconsole", no_argument, NULL, OPT_VCONSOLE },
		{ "vsock", required_argument, NULL, OPT_VSOCK },
		{ "balloon", required_argument, NULL, OPT_BALLOON },
		{ "api-sock", required_argument, NULL, OPT_API_SOCK },
		{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
		{ "no-api", no_argument, NULL, OPT_NO_API },
		{ "id", required_argument, NULL, OPT_ID },
		{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "log-path", required_argument, NULL, OPT_LOG_PATH },
		{ "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
		{ "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
		{ "module", required_argument, NULL, OPT_MODULE },
		{ "metrics-path", required_argument, NULL, OPT_METRICS_PATH },
		{ "http-api-max-payload-size", required_argument, NULL, OPT_MAX_PAYLOAD },
		{ "start-time-us", required_argument, NULL, OPT_START_TIME_US },
		{ "start-time-cpu-us", required_argument, NULL, OPT_START_TIME_CPU_US },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: o->kernel = optarg; break;
		case OPT_INITRD: o->initrd = optarg; break;
		case OPT_CMDLINE: o->cmdline = optarg; break;
		case OPT_FIRMWARE: o->firmware = optarg; break;
		case OPT_ELF: o->elf = optarg; break;
		case OPT_DUMP_DTB: o->dump_dtb = optarg; break;
		case OPT_API_SOCK: o->api_sock = optarg; break;
		case OPT_CONFIG_FILE: o->config_file = optarg; break;
		case OPT_NO_API: o->no_api = true; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_BOOT_TIMER: o->boot_timer = true; break;
		case OPT_LEVEL: o->level = optarg; break;
		case OPT_LOG_PATH: o->log_path = optarg; break;
		case OPT_SHOW_LEVEL: o->show_level = true; break;
		case OPT_SHOW_ORIGIN: o->show_origin = true; break;
		case OPT_MODULE: o->module = optarg; break;
		case OPT_METRICS_PATH: o->metrics_path = optarg; break;
		case OPT_DRIVE:
			if (vmm_devices__cli(&o->devices, "drive", optarg) < 0)
				return 2;
			break;
		case OPT_NET:
			if (vmm_devices__cli(&o->devices, "net", optarg) < 0)
				return 2;
			break;
		case OPT_VSOCK:
		case OPT_BALLOON:
			if (vmm_devices__cli(&o->devices, c == OPT_VSOCK ? "vsock" : "balloon", optarg) < 0)
				return 2;
			break;
		case OPT_RNG:
		case OPT_VCONSOLE:
			if (vmm_devices__cli(&o->devices, c == OPT_RNG ? "rng" : "vconsole", NULL) < 0)
				return 2;
			break;
		case OPT_MEM:
			if (parse_u64(optarg, MIN_MEM_MIB, MAX_MEM_MIB, &o->mem_mib) < 0) {
				fprintf(stderr, "wisp: --mem takes a size in MiB from %d to %d, not '%s'\n",
					MIN_MEM_MIB, MAX_MEM_MIB, optarg);
				return 2;
			}
			o->has_mem = true;
			break;
		case OPT_CPUS:
			if (parse_u64(optarg, 1, CLINT_MAX_HARTS, &o->cpus) < 0) {
				fprintf(stderr, "wisp: --cpus takes 1..%d, not '%s'\n", CLINT_MAX_HARTS, optarg);
				return 2;
			}
			o->has_cpus = true;
			break;
		case OPT_CPU_BACKEND:
			if (cpu__parse_backend(optarg, &o->backend) < 0) {
				fprintf(stderr, "wisp: --cpu-backend takes interp or jit, not '%s'\n", optarg);
				return 2;
			}
			o->has_backend = true;
			break;
		case OPT_MEM_MERGE:
			o->mem_merge = true;
			break;
		case OPT_JIT_DUMP: /* read by the translator when a hart starts it (docs/translator.md) */
			setenv("WISP_JIT_DUMP", "1", 1);
			break;
		case OPT_JIT_PERF_MAP:
			setenv("WISP_JIT_PERF_MAP", "1", 1);
			break;
		case OPT_MAX_PAYLOAD:
			if (parse_u64(optarg, 1, 1 << 30, &o->max_payload) < 0) {
				fprintf(stderr, "wisp: --http-api-max-payload-size takes a size in bytes, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case OPT_START_TIME_US:
		case OPT_START_TIME_CPU_US: {
			bool cpu = c == OPT_START_TIME_CPU_US;
			if (parse_u64(optarg, 0, UINT64_MAX, cpu ? &o->start_cpu_us : &o->start_us) < 0) {
				fprintf(stderr, "wisp: --start-time%s-us takes a number of microseconds, not '%s'\n",
					cpu ? "-cpu" : "", optarg);
				return 2;
			}
			*(cpu ? &o->has_start_cpu_us : &o->has_start_us) = true;
			break;
		}
		case OPT_TIMEOUT: {
			char *end;
			o->timeout = strtod(optarg, &end);
			if (end == optarg || *end || !(o->timeout > 0) || o->timeout > 1e7) {
				fprintf(stderr, "wisp: --timeout takes a positive number of seconds, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		}
		case OPT_VERSION:
			printf("wisp %s\n", WISP_VERSION);
			return 0;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "wisp: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	bool shortcut = o->kernel || o->initrd || o->cmdline || o->elf || o->has_mem || o->has_cpus;
	if (o->no_api && !o->config_file) {
		fprintf(stderr, "wisp: --no-api needs --config-file (nothing could configure the microVM)\n");
		return 2;
	}
	if (o->config_file && shortcut) {
		fprintf(stderr, "wisp: --config-file describes the whole microVM: drop --kernel, --initrd, --cmdline, "
				"--elf, --mem and --cpus\n");
		return 2;
	}
	if ((o->initrd || o->cmdline) && !o->kernel) {
		fprintf(stderr, "wisp: --initrd and --cmdline need --kernel\n");
		return 2;
	}
	enum log_level level;
	if (o->level && log__parse_level(o->level, &level) < 0) {
		fprintf(stderr, "wisp: invalid --level '%s': Error, Warning, Info, Debug, Trace or Off\n", o->level);
		return 2;
	}
	if (o->id && !controller__valid_id(o->id)) {
		fprintf(stderr, "wisp: --id takes 1..%d characters from [A-Za-z0-9-], not '%s'\n", CONTROLLER_ID_MAX,
			o->id);
		return 2;
	}
	return -1; /* go on */
}

/* --level, --log-path, --show-level, --show-log-origin and --metrics-path, as PUT /logger and /metrics. */
static int setup_logging(struct controller *ctl, const struct cli *o)
{
	char err[RES_PATH_MAX + 128];
	struct logger_cfg *l = calloc(1, sizeof(*l));
	if (!l)
		return -1;
	l->has_level = o->level && log__parse_level(o->level, &l->level) == 0; /* checked by parse_args */
	l->has_show_level = o->show_level;
	l->show_level = o->show_level;
	l->has_show_log_origin = o->show_origin;
	l->show_log_origin = o->show_origin;
	if (o->module) {
		if (strlen(o->module) >= sizeof(l->module)) {
			fprintf(stderr, "wisp: --module is too long\n");
			free(l);
			return -1;
		}
		l->has_module = true;
		snprintf(l->module, sizeof(l->module), "%s", o->module);
	}
	if (o->log_path) {
		l->has_log_path = true;
		snprintf(l->log_path, sizeof(l->log_path), "%s", o->log_path);
	}
	int r = 0;
	if ((o->level || o->log_path || o->show_level || o->show_origin || o->module) &&
	    controller__set_logger(ctl, l, err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp: %s\n", err);
		r = -1;
	}
	free(l);
	if (r == 0 && o->metrics_path) {
		struct metrics_cfg *m = calloc(1, sizeof(*m));
		if (!m)
			return -1;
		snprintf(m->metrics_path, sizeof(m->metrics_path), "%s", o->metrics_path);
		if (controller__set_metrics(ctl, m, err, sizeof(err)) < 0) {
			fprintf(stderr, "wisp: %s\n", err);
			r = -1;
		}
		free(m);
	}
	return r;
}

/* The shortcut flags as a boot source and machine configuration. */
static int configure_shortcut(struct controller *ctl, const struct cli *o)
{
	char err[RES_PATH_MAX + 128];
	struct machine_cfg_update u = { .has_vcpu_count = true, .has_mem_size_mib = true };
	u.v.vcpu_count = o->has_cpus ? (unsigned)o->cpus : 1;
	u.v.mem_size_mib = o->has_mem ? o->mem_mib : CLI_DEFAULT_MEM_MIB;
	u.has_cpu_backend = o->has_backend;
	u.v.cpu_backend = o->backend;
	u.has_mem_merge = o->mem_merge;
	u.v.mem_merge = o->mem_merge;
	if (controller__update_machine(ctl, &u, true, err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp: %s\n", err);
		return -1;
	}
	if (!o->kernel)
		return 0;
	struct boot_source_cfg *b = calloc(1, sizeof(*b));
	if (!b)
		return -1;
	int r = 0;
	if (strlen(o->kernel) >= sizeof(b->kernel_image_path) ||
	    (o->initrd && strlen(o->initrd) >= sizeof(b->initrd_path)) ||
	    (o->cmdline && strlen(o->cmdline) >= sizeof(b->boot_args))) {
		fprintf(stderr, "wisp: --kernel, --initrd or --cmdline is too long\n");
		r = -1;
	} else {
		snprintf(b->kernel_image_path, sizeof(b->kernel_image_path), "%s", o->kernel);
		snprintf(b->initrd_path, sizeof(b->initrd_path), "%s", o->initrd ? o->initrd : "");
		b->has_boot_args = o->cmdline != NULL;
		snprintf(b->boot_args, sizeof(b->boot_args), "%s", o->cmdline ? o->cmdline : "");
		if (controller__set_boot_source(ctl, b, err, sizeof(err)) < 0) {
			fprintf(stderr, "wisp: %s\n", err);
			r = -1;
		}
	}
	free(b);
	return r;
}

/* A reason to give up: on stderr, and in the log too when the log goes to a file. */
static void fatal(struct controller *c, const char *msg)
{
	fprintf(stderr, "wisp: %s\n", msg);
	if (c->res.has_logger && c->res.logger.has_log_path)
		pr_err(c->log, "%s", msg);
}

int main(int argc, char **argv)
{
	static struct cli o;
	static struct snapshot_cli snap; /* --snapshot-save, --restore...: taken out of argv first */
	static struct seccomp_options sec; /* --no-seccomp, --seccomp-filter...: likewise */
	int r = seccomp_cli__parse(&sec, &argc, argv);
	if (r >= 0)
		return r;
	r = snapshot_cli__parse(&snap, &argc, argv);
	if (r >= 0)
		return r;
	r = parse_args(argc, argv, &o);
	if (r >= 0)
		return r;
	/* The process's logger and metrics registry: everything below logs and registers through these. */
	static struct logger log;
	static struct metrics metrics;
	logger__init(&log);
	metrics__init(&metrics, &log);
	snap.log = &log;
	if (o.has_start_us)
		log.start_us = o.start_us;
	if (o.has_start_cpu_us)
		log.start_cpu_us = o.start_cpu_us;
	log__set_thread_name("main");
	log__set_instance_id(&log, o.id ? o.id : "anonymous-instance");
	bool shortcut = o.kernel || o.elf;
	bool api = !o.no_api && (o.api_sock || !shortcut) && !snapshot_cli__restoring(&snap);
	const char *sock = o.api_sock ? o.api_sock : API_DEFAULT_SOCKET;

	/* Signals are taken by one thread (sigwait); every thread started from here inherits the mask. */
	static struct signals sigs;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs.set);
	sigaddset(&sigs.set, SIGINT);
	sigaddset(&sigs.set, SIGTERM);
	sigaddset(&sigs.set, SIGHUP);
	sigaddset(&sigs.set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &sigs.set, NULL);
	/* A handler, though sigwait takes them: as PID 1 of a PID namespace (wisp-jailer --new-pid-ns) wisp would
	 * otherwise never receive signals whose action is the default. */
	struct sigaction sa = { .sa_handler = ignore_signal };
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&sigs.set, sig))
			sigaction(sig, &sa, NULL);
	/* Every thread from here on runs under its seccomp filter, this one first. */
	char serr[512];
	/* The API server's library is loaded before the filters go on: they allow no new code. */
	static struct api_server server;
	if (api && api_server__load(&server, serr, sizeof(serr)) < 0) {
		fprintf(stderr, "wisp: %s\n", serr);
		return 1;
	}
	jit__preload(); /* --jit-dump's disassembler, for the same reason */
	if (seccomp__setup(&sec, serr, sizeof(serr)) < 0) {
		fprintf(stderr, "wisp: %s\n", serr);
		return 1;
	}

	static struct controller ctl;
	/* A --restore without logger or metrics options never uses the controller: its ~140 KiB of bss stay
	 * untouched, which every clone of a snapshot saves (issue 18). */
	bool restoring = snapshot_cli__restoring(&snap);
	if (!restoring || o.level || o.log_path || o.show_level || o.show_origin || o.module || o.metrics_path) {
		controller__init(&ctl, o.id, o.elf ? -1 : STDIN_FILENO, STDOUT_FILENO, &log, &metrics);
		ctl.extras = (struct controller_extras){
			.firmware = o.firmware,
			.elf = o.elf,
			.dump_dtb = o.dump_dtb,
			.timeout = o.timeout,
			.devices = &o.devices,
		};
		controller__set_boot_timer(&ctl, o.boot_timer);
		if (setup_logging(&ctl, &o) < 0)
			return 1;
	}
	pr_info(&log, "Running wisp v%s", WISP_VERSION);
	if (restoring) {
		if (shortcut || o.config_file || o.api_sock || o.has_mem || o.has_cpus || o.mem_merge) {
			fprintf(stderr, "wisp: --restore takes the microVM from the snapshot: drop --kernel, --elf, "
					"--config-file, --api-sock, --mem, --cpus and --mem-merge\n");
			return 2;
		}
		/* The restored harts take the backend the way cpu__init picks its default. */
		if (o.has_backend)
			setenv("WISP_CPU_BACKEND", cpu__backend_name(o.backend), 1);
		return snapshot_cli__restore(&snap, o.timeout, &o.devices);
	}

	if (shortcut && configure_shortcut(&ctl, &o) < 0)
		return 1;
	if (o.config_file) {
		size_t len;
		char err[2048], *text = read_file(o.config_file, &len);
		if (!text)
			return 1;
		r = api_config__apply(&ctl, text, len, err, sizeof(err));
		free(text);
		if (r < 0) {
			char msg[2600];
			snprintf(msg, sizeof(msg), "invalid configuration file %s: %s", o.config_file, err);
			fatal(&ctl, msg);
			return 1;
		}
	}
	if ((o.has_backend || o.mem_merge) && !shortcut) {
		char err[256];
		struct machine_cfg_update u = { .has_cpu_backend = o.has_backend,
						.v.cpu_backend = o.backend,
						.has_mem_merge = o.mem_merge,
						.v.mem_merge = o.mem_merge };
		if (controller__update_machine(&ctl, &u, false, err, sizeof(err)) < 0) {
			fatal(&ctl, err);
			return 1;
		}
	}

	sigs.c = &ctl;
	pthread_t sig_thread;
	if (pthread_create(&sig_thread, NULL, signal_thread, &sigs) == 0)
		pthread_detach(sig_thread);

	static struct api_router router;
	if (api) {
		char err[512];
		api_router__init(&router, &ctl);
		if (api_server__start(&server, sock, o.max_payload, &router, err, sizeof(err)) < 0) {
			fatal(&ctl, err);
			return 1;
		}
	}
	if (shortcut || o.config_file) {
		char err[2048];
		if (controller__start(&ctl, err, sizeof(err)) < 0) {
			int code = controller__quit_code(&ctl); /* a signal during start-up: its status */
			if (code < 0)
				fatal(&ctl, err);
			code = code < 0 ? 1 : code;
			api_server__stop(&server);
			controller__exit(&ctl);
			return code;
		}
	}
	snapshot_cli__arm(&snap, &ctl);
	seccomp__lock_exec(); /* this thread builds no machine from here on (the API thread may, under its own) */
	int code = controller__run(&ctl);
	api_server__stop(&server);
	if (api)
		api_router__exit(&router);
	const char *why = controller__exit_reason(&ctl);
	if (why && (!o.elf || controller__exit_failed(&ctl)))
		fprintf(stderr, "\nwisp: guest stopped (%s)\n", why);
	controller__exit(&ctl);
	return code;
}
