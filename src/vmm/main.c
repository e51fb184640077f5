/* wisp: command line, set-up and the vCPU loop. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/machine.h"
#include "vmm/vmm.h"

#define WISP_VERSION "0.1.0"
#define DEFAULT_CMDLINE "console=ttyS0 earlycon=sbi"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: wisp [options]\n"
		"Boot a RISC-V RV64GC microVM without KVM.\n\n"
		"  --kernel FILE      Linux Image to boot\n"
		"  --initrd FILE      initramfs for the kernel\n"
		"  --cmdline STR      kernel command line (default \"%s\")\n"
		"  --mem MIB          guest memory in MiB (default 256)\n"
		"  --cpus N           number of vCPUs (default 1)\n"
		"  --firmware FILE    boot M-mode firmware (e.g. OpenSBI fw_jump.bin) instead of the built-in SBI\n"
		"  --elf FILE         run a bare-metal ELF program (HTIF tohost); exit status is the program's\n"
		"  --timeout SEC      stop the guest after SEC seconds (exit status 124)\n"
		"  --dump-dtb FILE    write the generated device tree blob to FILE\n"
		"  --version          print the version\n"
		"  --help             this text\n\n"
		"In the console, Ctrl-A x quits.\n",
		DEFAULT_CMDLINE);
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

int main(int argc, char **argv)
{
	enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_MEM, OPT_CPUS, OPT_FIRMWARE, OPT_ELF, OPT_TIMEOUT,
	       OPT_DUMP_DTB, OPT_VERSION, OPT_HELP };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "firmware", required_argument, NULL, OPT_FIRMWARE },
		{ "elf", required_argument, NULL, OPT_ELF },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct machine_config cfg = { .mem_mib = 256, .cpus = 1, .cmdline = DEFAULT_CMDLINE };
	double timeout = 0;
	uint64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: cfg.kernel = optarg; break;
		case OPT_INITRD: cfg.initrd = optarg; break;
		case OPT_CMDLINE: cfg.cmdline = optarg; break;
		case OPT_FIRMWARE: cfg.firmware = optarg; break;
		case OPT_ELF: cfg.elf = optarg; break;
		case OPT_DUMP_DTB: cfg.dump_dtb = optarg; break;
		case OPT_MEM:
			if (parse_u64(optarg, MIN_MEM_MIB, MAX_MEM_MIB, &v) < 0) {
				fprintf(stderr, "wisp: --mem takes a size in MiB from %d to %d, not '%s'\n", MIN_MEM_MIB,
					MAX_MEM_MIB, optarg);
				return 2;
			}
			cfg.mem_mib = v;
			break;
		case OPT_CPUS:
			if (parse_u64(optarg, 1, CLINT_MAX_HARTS, &v) < 0) {
				fprintf(stderr, "wisp: --cpus takes 1..%d, not '%s'\n", CLINT_MAX_HARTS, optarg);
				return 2;
			}
			cfg.cpus = (unsigned)v;
			break;
		case OPT_TIMEOUT: {
			char *end;
			timeout = strtod(optarg, &end);
			if (end == optarg || *end || !(timeout > 0) || timeout > 1e7) {
				fprintf(stderr, "wisp: --timeout takes a positive number of seconds, not '%s'\n", optarg);
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

	signal(SIGPIPE, SIG_IGN);
	static struct vmm vmm;
	vmm.timeout = timeout;
	if (vmm__create(&vmm, &cfg, cfg.elf ? -1 : STDIN_FILENO, STDOUT_FILENO) < 0)
		return 1;
	if (vmm__start(&vmm) < 0) {
		vmm__destroy(&vmm);
		return 1;
	}
	int code = vmm__wait(&vmm);
	if (!cfg.elf && vmm.m.exit_why)
		fprintf(stderr, "\nwisp: guest stopped (%s)\n", vmm.m.exit_why);
	vmm__destroy(&vmm);
	return code;
}
