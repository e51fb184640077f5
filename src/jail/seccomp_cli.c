/* wisp's seccomp options (Firecracker's --no-seccomp, --seccomp-filter and --seccomp-level, and two of wisp's). */
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "jail/seccomp.h"
#include "jail/seccomp_policy.h"

void seccomp_cli__usage(FILE *f)
{
	fprintf(f,
		"Seccomp (per-thread system call filters, on by default; docs/seccomp.md):\n"
		"  --no-seccomp       no filters (not for production)\n"
		"  --seccomp-filter FILE  the filters from FILE (JSON: Firecracker's seccompiler format, one filter\n"
		"                     per wisp thread kind) instead of the built-in ones\n"
		"  --seccomp-level N  0: no filters, 1: system calls only, 2 (default): also their arguments\n"
		"  --seccomp-trap     report a forbidden system call (thread, name, number) on standard error\n"
		"                     before dying of SIGSYS, instead of dying silently\n"
		"  --seccomp-print-filter  print the built-in filters as a --seccomp-filter file and exit\n\n");
}

int seccomp_cli__parse(struct seccomp_options *o, int *argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	o->level = SECCOMP_LEVEL_ADVANCED;
	bool no_seccomp = false, has_level = false;
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		const char *val = NULL;
		bool takes = false, is_filter = false;
		if (!strcmp(a, "--no-seccomp")) {
			no_seccomp = true;
		} else if (!strcmp(a, "--seccomp-trap")) {
			o->trap = true;
		} else if (!strcmp(a, "--seccomp-print-filter")) {
			o->print = true;
		} else if (!strncmp(a, "--seccomp-filter", 16) && (a[16] == 0 || a[16] == '=')) {
			takes = is_filter = true;
			val = a[16] ? a + 17 : NULL;
		} else if (!strncmp(a, "--seccomp-level", 15) && (a[15] == 0 || a[15] == '=')) {
			takes = true;
			val = a[15] ? a + 16 : NULL;
		} else {
			argv[out++] = a;
			continue;
		}
		if (!takes)
			continue;
		if (!val) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "wisp: %s needs a value\n", a);
				return 2;
			}
			val = argv[++i];
		}
		if (is_filter) {
			if (!*val) {
				fprintf(stderr, "wisp: --seccomp-filter needs a file\n");
				return 2;
			}
			o->filter_file = val;
		} else {
			if (strlen(val) != 1 || val[0] < '0' || val[0] > '2') {
				fprintf(stderr, "wisp: --seccomp-level takes 0, 1 or 2, not '%s'\n", val);
				return 2;
			}
			o->level = (enum seccomp_level)(val[0] - '0');
			has_level = true;
		}
	}
	argv[out] = NULL;
	*argc = out;
	if (no_seccomp && (o->filter_file || has_level || o->trap)) {
		fprintf(stderr, "wisp: --no-seccomp cannot be combined with --seccomp-filter, --seccomp-level or "
				"--seccomp-trap\n");
		return 2;
	}
	if (no_seccomp)
		o->level = SECCOMP_LEVEL_OFF;
	if (o->level == SECCOMP_LEVEL_OFF && (o->filter_file || o->trap)) {
		fprintf(stderr, "wisp: --seccomp-level 0 cannot be combined with --seccomp-filter or --seccomp-trap\n");
		return 2;
	}
	if (o->print) {
		struct sc_policy p;
		if (sc_policy__builtin(&p, o->trap ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS) < 0)
			return 1;
		int r = sc_policy__print_json(&p, stdout);
		sc_policy__free(&p);
		return r < 0 ? 1 : 0;
	}
	return -1;
}
