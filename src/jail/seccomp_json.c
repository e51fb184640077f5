/*
 * Policies as JSON, in Firecracker's seccompiler format (docs/seccompiler.md there) with wisp's thread kinds
 * as the top-level keys:
 *
 *   { "vcpu": { "default_action": "kill_process", "filter_action": "allow",
 *               "filter": [ { "syscall": "write", "comment": "..." },
 *                           { "syscall": "ioctl", "args": [ { "index": 1, "type": "dword", "op": "eq",
 *                                                             "val": 21505, "comment": "TCGETS" } ] } ] },
 *     "vmm": {...}, "api": {...}, "io": {...}, ... }
 *
 * Actions: "allow", "kill_process" (or "kill"), "kill_thread", "trap", "log", {"errno": N}, {"trace": N}.
 * Operators: "eq", "ne", "lt", "le", "gt", "ge", {"masked_eq": MASK}. wisp's one extension: a rule may carry
 * its own "action" (the built-in policy answers clone3 with {"errno": 38}).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "jail/seccomp_policy.h"

int sc_policy__add(struct sc_filter *f, const struct sc_rule *r)
{
	if (f->nrules == f->cap) {
		unsigned cap = f->cap ? f->cap * 2 : 32;
		struct sc_rule *n = realloc(f->rules, cap * sizeof(*n));
		if (!n)
			return -1;
		f->rules = n;
		f->cap = cap;
	}
	f->rules[f->nrules++] = *r;
	return 0;
}

void sc_policy__free(struct sc_policy *p)
{
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++)
		free(p->f[k].rules);
	cJSON_Delete(p->owner);
	memset(p, 0, sizeof(*p));
}

/* ---- reading ---- */

static const struct {
	const char *name;
	uint32_t action;
} simple_actions[] = {
	{ "allow", SCMP_ACT_ALLOW },	   { "kill_process", SCMP_ACT_KILL_PROCESS },
	{ "kill", SCMP_ACT_KILL_PROCESS }, { "kill_thread", SCMP_ACT_KILL_THREAD },
	{ "trap", SCMP_ACT_TRAP },	   { "log", SCMP_ACT_LOG },
};

static const char *const op_names[] = {
	[SC_EQ] = "eq", [SC_NE] = "ne", [SC_LT] = "lt", [SC_LE] = "le", [SC_GT] = "gt", [SC_GE] = "ge"
};

/* An integer from 0 to max (doubles hold integers exactly up to 2^53). */
static int get_uint(const cJSON *j, uint64_t max, uint64_t *out)
{
	if (!cJSON_IsNumber(j))
		return -1;
	double d = j->valuedouble;
	if (!(d >= 0) || d != floor(d) || d > 9007199254740992.0 || d > (double)max)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

static int parse_action(const cJSON *j, uint32_t *out, char *err, size_t n, const char *where)
{
	if (cJSON_IsString(j)) {
		for (size_t i = 0; i < sizeof(simple_actions) / sizeof(simple_actions[0]); i++)
			if (!strcmp(j->valuestring, simple_actions[i].name)) {
				*out = simple_actions[i].action;
				return 0;
			}
	} else if (cJSON_IsObject(j) && cJSON_GetArraySize(j) == 1) {
		const cJSON *v = j->child;
		uint64_t x;
		if (get_uint(v, 0xffff, &x) == 0 && !strcmp(v->string, "errno")) {
			*out = SCMP_ACT_ERRNO((uint32_t)x);
			return 0;
		}
		if (get_uint(v, 0xffff, &x) == 0 && !strcmp(v->string, "trace")) {
			*out = SCMP_ACT_TRACE((uint32_t)x);
			return 0;
		}
	}
	snprintf(err, n,
		 "%s: not an action (\"allow\", \"kill_process\", \"kill_thread\", \"trap\", \"log\", {\"errno\": N} "
		 "or {\"trace\": N})",
		 where);
	return -1;
}

/* Only these keys in an object. */
static int check_keys(const cJSON *obj, const char *const *keys, size_t nkeys, char *err, size_t n, const char *where)
{
	for (const cJSON *c = obj->child; c; c = c->next) {
		bool known = false;
		for (size_t i = 0; i < nkeys && !known; i++)
			known = !strcmp(c->string, keys[i]);
		if (!known) {
			snprintf(err, n, "%s: unknown field `%s`", where, c->string);
			return -1;
		}
	}
	return 0;
}

static const cJSON *either(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, a);
	return j ? j : cJSON_GetObjectItemCaseSensitive(obj, b);
}

static int parse_cond(const cJSON *j, struct sc_cond *c, char *err, size_t n, const char *where)
{
	static const char *const keys[] = { "index", "arg_index", "type", "arg_type", "op", "val", "comment" };
	if (!cJSON_IsObject(j)) {
		snprintf(err, n, "%s: a condition is an object", where);
		return -1;
	}
	if (check_keys(j, keys, sizeof(keys) / sizeof(keys[0]), err, n, where) < 0)
		return -1;
	const cJSON *idx = either(j, "index", "arg_index"), *type = either(j, "type", "arg_type");
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op"), *val = cJSON_GetObjectItemCaseSensitive(j, "val");
	const cJSON *comment = cJSON_GetObjectItemCaseSensitive(j, "comment");
	uint64_t arg;
	memset(c, 0, sizeof(*c));
	if (!idx || get_uint(idx, 5, &arg) < 0) {
		snprintf(err, n, "%s: `index` must be an argument number from 0 to 5", where);
		return -1;
	}
	c->arg = (unsigned)arg;
	if (!cJSON_IsString(type) || (strcmp(type->valuestring, "dword") && strcmp(type->valuestring, "qword"))) {
		snprintf(err, n, "%s: `type` must be \"dword\" or \"qword\"", where);
		return -1;
	}
	c->qword = !strcmp(type->valuestring, "qword");
	uint64_t max = c->qword ? UINT64_MAX : UINT32_MAX;
	if (!val || get_uint(val, max, &c->val) < 0) {
		snprintf(err, n, "%s: `val` must be an integer from 0 to %s", where,
			 c->qword ? "2^53 (JSON numbers are doubles)" : "2^32 - 1");
		return -1;
	}
	bool ok = false;
	if (cJSON_IsString(op)) {
		for (unsigned i = 0; i < sizeof(op_names) / sizeof(op_names[0]) && !ok; i++)
			if (!strcmp(op->valuestring, op_names[i])) {
				c->op = (enum sc_op)i;
				ok = true;
			}
	} else if (cJSON_IsObject(op) && cJSON_GetArraySize(op) == 1 && !strcmp(op->child->string, "masked_eq")) {
		c->op = SC_MASKED_EQ;
		ok = get_uint(op->child, max, &c->mask) == 0;
	}
	if (!ok) {
		snprintf(err, n,
			 "%s: `op` must be \"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or {\"masked_eq\": MASK}",
			 where);
		return -1;
	}
	if (comment && !cJSON_IsString(comment)) {
		snprintf(err, n, "%s: `comment` must be a string", where);
		return -1;
	}
	c->comment = comment ? comment->valuestring : NULL;
	return 0;
}

static int parse_rule(const cJSON *j, struct sc_rule *r, char *err, size_t n, const char *kind, unsigned i)
{
	static const char *const keys[] = { "syscall", "comment", "args", "action" };
	char where[96];
	snprintf(where, sizeof(where), "%s: filter[%u]", kind, i);
	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(j)) {
		snprintf(err, n, "%s: a rule is an object", where);
		return -1;
	}
	if (check_keys(j, keys, sizeof(keys) / sizeof(keys[0]), err, n, where) < 0)
		return -1;
	const cJSON *sys = cJSON_GetObjectItemCaseSensitive(j, "syscall");
	const cJSON *comment = cJSON_GetObjectItemCaseSensitive(j, "comment");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(j, "args");
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(j, "action");
	if (!cJSON_IsString(sys) || seccomp_syscall_resolve_name(sys->valuestring) == __NR_SCMP_ERROR) {
		snprintf(err, n, "%s: `syscall` must name a system call of this machine%s%s", where,
			 cJSON_IsString(sys) ? ", not " : "", cJSON_IsString(sys) ? sys->valuestring : "");
		return -1;
	}
	snprintf(where, sizeof(where), "%s: filter[%u] (%s)", kind, i, sys->valuestring);
	r->syscall = sys->valuestring;
	if (comment && !cJSON_IsString(comment)) {
		snprintf(err, n, "%s: `comment` must be a string", where);
		return -1;
	}
	r->comment = comment ? comment->valuestring : NULL;
	if (action && parse_action(action, &r->action, err, n, where) < 0)
		return -1;
	if (args) {
		if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) > SC_MAX_COND) {
			snprintf(err, n, "%s: `args` must be an array of at most %d conditions", where, SC_MAX_COND);
			return -1;
		}
		for (const cJSON *a = args->child; a; a = a->next)
			if (parse_cond(a, &r->cond[r->ncond++], err, n, where) < 0)
				return -1;
	}
	return 0;
}

static int parse_filter(const cJSON *j, struct sc_filter *f, char *err, size_t n, const char *kind)
{
	static const char *const keys[] = { "default_action", "filter_action", "filter" };
	if (!cJSON_IsObject(j)) {
		snprintf(err, n, "%s: a filter is an object", kind);
		return -1;
	}
	if (check_keys(j, keys, sizeof(keys) / sizeof(keys[0]), err, n, kind) < 0)
		return -1;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "default_action");
	const cJSON *fa = cJSON_GetObjectItemCaseSensitive(j, "filter_action");
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(j, "filter");
	char where[64];
	snprintf(where, sizeof(where), "%s: default_action", kind);
	if (!d || parse_action(d, &f->default_action, err, n, where) < 0)
		return -1;
	snprintf(where, sizeof(where), "%s: filter_action", kind);
	if (!fa || parse_action(fa, &f->filter_action, err, n, where) < 0)
		return -1;
	if (!cJSON_IsArray(rules)) {
		snprintf(err, n, "%s: `filter` must be an array of rules", kind);
		return -1;
	}
	unsigned i = 0;
	for (const cJSON *r = rules->child; r; r = r->next, i++) {
		struct sc_rule rule;
		if (parse_rule(r, &rule, err, n, kind, i) < 0)
			return -1;
		if (sc_policy__add(f, &rule) < 0) {
			snprintf(err, n, "out of memory");
			return -1;
		}
	}
	f->present = true;
	return 0;
}

int sc_policy__parse_json(struct sc_policy *p, const char *text, size_t len, char *err, size_t n)
{
	memset(p, 0, sizeof(*p));
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, true); /* text is NUL-terminated */
	if (!root) {
		snprintf(err, n, "not JSON (near byte %zu)", end ? (size_t)(end - text) : 0);
		return -1;
	}
	p->owner = root;
	if (!cJSON_IsObject(root)) {
		snprintf(err, n, "the policy is an object of thread kinds");
		goto fail;
	}
	for (const cJSON *c = root->child; c; c = c->next) {
		int k = seccomp__thread_kind(c->string);
		if (k < 0) {
			snprintf(err, n,
				 "unknown thread kind `%s` (wisp's are vmm, api, vcpu, io, console, timeout, metrics, "
				 "signals, snapshot)",
				 c->string);
			goto fail;
		}
		if (p->f[k].present) {
			snprintf(err, n, "duplicate thread kind `%s`", c->string);
			goto fail;
		}
		if (parse_filter(c, &p->f[k], err, n, c->string) < 0)
			goto fail;
	}
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++)
		if (!p->f[k].present) {
			snprintf(err, n,
				 "no filter for the `%s` threads (every kind needs one; an empty allow-all is "
				 "{\"default_action\": \"allow\", \"filter_action\": \"allow\", \"filter\": []})",
				 seccomp__thread_name(k));
			goto fail;
		}
	return 0;
fail:
	sc_policy__free(p);
	return -1;
}

/* ---- writing ---- */

const char *sc_action__name(uint32_t action, char *buf, size_t n)
{
	for (size_t i = 0; i < sizeof(simple_actions) / sizeof(simple_actions[0]); i++)
		if (simple_actions[i].action == action && strcmp(simple_actions[i].name, "kill"))
			return simple_actions[i].name;
	if ((action & 0xffff0000u) == SCMP_ACT_ERRNO(0))
		snprintf(buf, n, "errno");
	else
		snprintf(buf, n, "trace");
	return buf;
}

static cJSON *action_json(uint32_t action)
{
	char buf[16];
	const char *name = sc_action__name(action, buf, sizeof(buf));
	if (name != buf)
		return cJSON_CreateString(name);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, name, action & 0xffffu);
	return o;
}

int sc_policy__print_json(const struct sc_policy *p, FILE *out)
{
	cJSON *root = cJSON_CreateObject();
	for (unsigned k = 0; k < SECCOMP_NTHREADS; k++) {
		const struct sc_filter *f = &p->f[k];
		cJSON *jf = cJSON_AddObjectToObject(root, seccomp__thread_name(k));
		cJSON_AddItemToObject(jf, "default_action", action_json(f->default_action));
		cJSON_AddItemToObject(jf, "filter_action", action_json(f->filter_action));
		cJSON *rules = cJSON_AddArrayToObject(jf, "filter");
		for (unsigned i = 0; i < f->nrules; i++) {
			const struct sc_rule *r = &f->rules[i];
			cJSON *jr = cJSON_CreateObject();
			cJSON_AddStringToObject(jr, "syscall", r->syscall);
			if (r->action)
				cJSON_AddItemToObject(jr, "action", action_json(r->action));
			if (r->ncond) {
				cJSON *args = cJSON_AddArrayToObject(jr, "args");
				for (unsigned c = 0; c < r->ncond; c++) {
					const struct sc_cond *sc = &r->cond[c];
					cJSON *a = cJSON_CreateObject();
					cJSON_AddNumberToObject(a, "index", sc->arg);
					cJSON_AddStringToObject(a, "type", sc->qword ? "qword" : "dword");
					if (sc->op == SC_MASKED_EQ)
						cJSON_AddNumberToObject(
							cJSON_AddObjectToObject(a, "op"), "masked_eq",
							(double)(sc->qword ? sc->mask : (uint32_t)sc->mask));
					else
						cJSON_AddStringToObject(a, "op", op_names[sc->op]);
					cJSON_AddNumberToObject(a, "val",
								(double)(sc->qword ? sc->val : (uint32_t)sc->val));
					if (sc->comment)
						cJSON_AddStringToObject(a, "comment", sc->comment);
					cJSON_AddItemToArray(args, a);
				}
			}
			if (r->comment)
				cJSON_AddStringToObject(jr, "comment", r->comment);
			cJSON_AddItemToArray(rules, jr);
		}
	}
	char *s = cJSON_Print(root);
	cJSON_Delete(root);
	if (!s)
		return -1;
	int r = fprintf(out, "%s\n", s) < 0 ? -1 : 0;
	free(s);
	return r;
}
