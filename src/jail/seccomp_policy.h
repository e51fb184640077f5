/*
 * A seccomp policy as data: one filter per thread kind, each a default action and a list of rules. The
 * built-in policy (seccomp_rules.c) and a --seccomp-filter JSON file (seccomp_json.c) both become one; the
 * compiler (seccomp.c) turns it into BPF with libseccomp.
 */
#ifndef WISP_JAIL_SECCOMP_POLICY_H
#define WISP_JAIL_SECCOMP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jail/seccomp.h"

#define SC_MAX_COND 6

enum sc_op { SC_EQ, SC_NE, SC_LT, SC_LE, SC_GT, SC_GE, SC_MASKED_EQ };

/* One condition on a system call argument: (arg & mask) OP val for SC_MASKED_EQ, else arg OP val. */
struct sc_cond {
	unsigned arg; /* 0..5 */
	enum sc_op op;
	bool qword; /* compare all 64 bits ("qword"); else the low 32 ("dword") */
	uint64_t mask, val;
	const char *comment;
};

/* Actions, in libseccomp's encoding (SCMP_ACT_*). 0 in a rule: the filter's filter_action. */
struct sc_rule {
	const char *syscall;
	const char *comment;
	uint32_t action;
	unsigned ncond; /* and-bound */
	struct sc_cond cond[SC_MAX_COND];
};

struct sc_filter {
	uint32_t default_action, filter_action;
	struct sc_rule *rules;
	unsigned nrules, cap;
	bool present; /* given (a JSON policy must give every kind) */
};

struct sc_policy {
	struct sc_filter f[SECCOMP_NTHREADS];
	void *owner; /* what the rules' strings point into (the JSON document), freed with the policy */
};

/* The kinds each kind starts (directly), as a bit mask of (1u << kind). */
unsigned sc_policy__spawns(enum seccomp_thread kind);

/* The built-in policy. kill: the default action of every filter (SCMP_ACT_KILL_PROCESS or SCMP_ACT_TRAP). */
int sc_policy__builtin(struct sc_policy *p, uint32_t default_action);
/* The filter seccomp__lock_exec installs: executable mappings answered with `action`, anything else allowed. */
int sc_policy__lock_exec(struct sc_filter *f, uint32_t action);
/* A JSON policy (Firecracker's seccompiler format, wisp's thread kinds). -1 with a message in err. */
/* text: NUL-terminated, len bytes before the NUL. */
int sc_policy__parse_json(struct sc_policy *p, const char *text, size_t len, char *err, size_t n);
/* The policy as JSON, in the format sc_policy__parse_json reads. */
int sc_policy__print_json(const struct sc_policy *p, FILE *out);
void sc_policy__free(struct sc_policy *p);
int sc_policy__add(struct sc_filter *f, const struct sc_rule *r);

/* Actions by name ("allow", "kill_process", "trap", {"errno": N}...): see seccomp_json.c. */
const char *sc_action__name(uint32_t action, char *buf, size_t n);

#endif
