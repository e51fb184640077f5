/*
 * The wisp-faas daemon (daemon.h): a registry of functions, each with its cold-start snapshot and its instances
 * (wisp processes, vm.h), the keep-alive policy (policy.h) applied by a reaper thread, and the HTTP API on
 * libmicrohttpd with a thread per connection (an invocation blocks its connection's thread).
 */
#include "faas/daemon.h"
#include "faas/vm.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_LEN	63
#define LAT_RING	4096
#define DEPLOY_BODY_MAX (64 * 1024)

struct inst {
	struct faas_vm vm;
	unsigned id;
	bool busy;
	double expires; /* ms, monotonic: unload when idle past it */
	struct inst *next;
};

struct fn {
	char name[NAME_MAX_LEN + 1];
	char dir[VM_PATH_MAX];
	char *config; /* the deploy body as accepted (JSON) */
	unsigned mem_mib, timeout_s, max_instances;
	struct inst *insts;
	unsigned live;	   /* instances, including those starting */
	unsigned inflight; /* invocations holding the function */
	unsigned waiting;
	bool deleting;
	uint64_t invocations, cold, warm, errors, timeouts, rejected, prewarms, unloads;
	double lat[LAT_RING];
	unsigned lat_n;
	struct policy_app pol;
	double prewarm_at, prewarm_until; /* ms; 0: none planned */
	double deploy_ms;
	struct fn *next;
};

struct faas {
	struct faas_opts o;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fn *fns;
	unsigned mem_used_mib;
	unsigned next_id;
	bool stop;
	uint64_t http_requests;
};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static struct fn *find(struct faas *f, const char *name)
{
	for (struct fn *x = f->fns; x; x = x->next)
		if (!strcmp(x->name, name) && !x->deleting)
			return x;
	return NULL;
}

/* ---- instances (called with f->mu held unless said otherwise) ---- */

static void inst_unlink(struct fn *fn, struct inst *in)
{
	for (struct inst **p = &fn->insts; *p; p = &(*p)->next)
		if (*p == in) {
			*p = in->next;
			return;
		}
}

/* Remove an instance: kill its wisp, free its memory share. Called with the lock held (kill + reap are quick). */
static void inst_destroy(struct faas *f, struct fn *fn, struct inst *in)
{
	inst_unlink(fn, in);
	vm__destroy(&in->vm);
	fn->live--;
	f->mem_used_mib -= fn->mem_mib;
	free(in);
	pthread_cond_broadcast(&f->cv);
}

/* Make room for mem_mib in the budget by unloading idle instances of other functions, oldest expiry first. */
static bool make_room(struct faas *f, unsigned mem_mib)
{
	while (f->mem_used_mib + mem_mib > f->o.memory_budget_mib) {
		struct fn *vf = NULL;
		struct inst *victim = NULL;
		for (struct fn *x = f->fns; x; x = x->next)
			for (struct inst *i = x->insts; i; i = i->next)
				if (!i->busy && i->vm.pid > 0 && (!victim || i->expires < victim->expires)) {
					victim = i;
					vf = x;
				}
		if (!victim)
			return false;
		vf->unloads++;
		inst_destroy(f, vf, victim);
	}
	return true;
}

/* Start a clone of fn: reserves its slot under the lock, restores with the lock released. */
static struct inst *inst_start(struct faas *f, struct fn *fn, char *err, size_t n)
{
	struct inst *in = calloc(1, sizeof(*in));
	if (!in) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	in->id = ++f->next_id;
	in->busy = true;
	fn->live++;
	f->mem_used_mib += fn->mem_mib;
	char dir[VM_PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%s/i%u", fn->dir, in->id);
	pthread_mutex_unlock(&f->mu);
	int rc = vm__clone(f->o.wisp, f->o.cpu_backend, fn->dir, dir, &in->vm, err, n);
	pthread_mutex_lock(&f->mu);
	if (rc < 0) {
		fn->live--;
		f->mem_used_mib -= fn->mem_mib;
		free(in);
		pthread_cond_broadcast(&f->cv);
		return NULL;
	}
	in->next = fn->insts;
	fn->insts = in;
	return in;
}

/* ---- HTTP plumbing ---- */

struct conn {
	char *body;
	size_t len;
	bool too_big;
};

struct reply {
	unsigned status;
	char *body; /* malloc'ed */
	size_t len;
	const char *type;
	char start[8];
	double duration_ms;
};

static void reply_json(struct reply *r, unsigned status, cJSON *j)
{
	r->status = status;
	r->body = cJSON_PrintUnformatted(j);
	r->len = r->body ? strlen(r->body) : 0;
	r->type = "application/json";
	cJSON_Delete(j);
}

static void reply_error(struct reply *r, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reply_error(struct reply *r, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "error", msg);
	reply_json(r, status, j);
}

static bool valid_name(const char *s)
{
	size_t l = strlen(s);
	if (!l || l > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < l; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* ---- deploy ---- */

static int get_uint(const cJSON *j, const char *k, unsigned lo, unsigned hi, unsigned def, unsigned *out, char *err,
		    size_t n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
	if (!v || cJSON_IsNull(v)) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble || v->valuedouble < lo ||
	    v->valuedouble > hi) {
		snprintf(err, n, "\"%s\" must be an integer in %u..%u", k, lo, hi);
		return -1;
	}
	*out = (unsigned)v->valuedouble;
	return 0;
}

static void deploy(struct faas *f, const char *name, const char *body, size_t len, struct reply *r)
{
	char err[1024];
	if (!valid_name(name))
		return reply_error(r, 400, "function names are 1..%d of [A-Za-z0-9_-]", NAME_MAX_LEN);
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return reply_error(r, 400, "the body must be a JSON object");
	}
	static const char *const known[] = { "executable", "files",	    "memory_mib",
					     "timeout_s",  "max_instances", "runtime" };
	for (const cJSON *c = j->child; c; c = c->next) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= !strcmp(c->string, known[i]);
		if (!ok) {
			reply_error(r, 400, "unknown field \"%s\"", c->string);
			cJSON_Delete(j);
			return;
		}
	}
	const cJSON *exe = cJSON_GetObjectItemCaseSensitive(j, "executable");
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
	unsigned mem, tmo, maxi;
	const char *paths[64];
	size_t npaths = 0;
	if (!cJSON_IsString(exe) || !*exe->valuestring) {
		snprintf(err, sizeof(err), "\"executable\" (a path on the host) is required");
		goto bad;
	}
	if (files && !cJSON_IsNull(files)) {
		if (!cJSON_IsArray(files) || cJSON_GetArraySize(files) > 64) {
			snprintf(err, sizeof(err), "\"files\" must be an array of up to 64 paths");
			goto bad;
		}
		for (const cJSON *c = files->child; c; c = c->next) {
			if (!cJSON_IsString(c) || !*c->valuestring) {
				snprintf(err, sizeof(err), "\"files\" must hold path strings");
				goto bad;
			}
			const char *b = strrchr(c->valuestring, '/');
			b = b ? b + 1 : c->valuestring;
			if (!*b || !strcmp(b, "handler") || !strcmp(b, ".") || !strcmp(b, "..")) {
				snprintf(err, sizeof(err),
					 "file \"%s\": its base name must be a file name other than handler",
					 c->valuestring);
				goto bad;
			}
			for (size_t i = 0; i < npaths; i++) {
				const char *o = strrchr(paths[i], '/');
				if (!strcmp(o ? o + 1 : paths[i], b)) {
					snprintf(err, sizeof(err), "two files named \"%s\"", b);
					goto bad;
				}
			}
			struct stat st;
			if (stat(c->valuestring, &st) < 0 || !S_ISREG(st.st_mode)) {
				snprintf(err, sizeof(err), "file \"%s\" is not a readable regular file",
					 c->valuestring);
				goto bad;
			}
			paths[npaths++] = c->valuestring;
		}
	}
	const cJSON *rtj = cJSON_GetObjectItemCaseSensitive(j, "runtime");
	const char *runtime = NULL;
	if (rtj && !cJSON_IsNull(rtj)) {
		if (!cJSON_IsString(rtj) ||
		    (strcmp(rtj->valuestring, "python3") && strcmp(rtj->valuestring, "busybox"))) {
			snprintf(err, sizeof(err), "\"runtime\" is \"busybox\" (the default) or \"python3\"");
			goto bad;
		}
		if (!strcmp(rtj->valuestring, "python3")) {
			runtime = f->o.python_image;
			if (access(runtime, R_OK) < 0) {
				snprintf(err, sizeof(err),
					 "the python3 runtime needs %s (make guest-python, or --python-image)",
					 runtime);
				goto bad;
			}
		}
	}
	if (get_uint(j, "memory_mib", 32, 4096, 128, &mem, err, sizeof(err)) < 0 ||
	    get_uint(j, "timeout_s", 1, 900, 30, &tmo, err, sizeof(err)) < 0 ||
	    get_uint(j, "max_instances", 1, 256, 4, &maxi, err, sizeof(err)) < 0)
		goto bad;
	if (vm__check_handler(exe->valuestring, err, sizeof(err)) < 0)
		goto bad;
	if (mem > f->o.memory_budget_mib) {
		snprintf(err, sizeof(err), "memory_mib %u is above the memory budget (%u MiB)", mem,
			 f->o.memory_budget_mib);
		goto bad;
	}

	pthread_mutex_lock(&f->mu);
	bool exists = false;
	for (struct fn *x = f->fns; x; x = x->next)
		exists |= !strcmp(x->name, name);
	struct fn *fn = exists ? NULL : calloc(1, sizeof(*fn));
	if (fn) {
		snprintf(fn->name, sizeof(fn->name), "%s", name);
		snprintf(fn->dir, sizeof(fn->dir), "%s/f/%s", f->o.state_dir, name);
		fn->mem_mib = mem;
		fn->timeout_s = tmo;
		fn->max_instances = maxi;
		fn->deleting = true; /* invisible until its snapshot exists */
		fn->inflight = 1;
		policy__app_init(&fn->pol, &f->o.policy);
		fn->next = f->fns;
		f->fns = fn;
		/* the origin's memory counts while it boots (idle instances make room when they can) */
		make_room(f, mem);
		f->mem_used_mib += mem;
	}
	pthread_mutex_unlock(&f->mu);
	if (exists) {
		cJSON_Delete(j);
		return reply_error(r, 409, "function %s exists: DELETE it first", name);
	}
	if (!fn) {
		cJSON_Delete(j);
		return reply_error(r, 500, "out of memory");
	}
	double t0 = now_ms();
	struct vm_spec spec = { f->o.wisp, f->o.kernel, f->o.initrd, runtime, mem };
	int rc = -1;
	if (strlen(fn->dir) + 32 >= 108)
		snprintf(err, sizeof(err), "the state directory's path is too long for Unix sockets");
	else if (mkdir(fn->dir, 0755) < 0)
		snprintf(err, sizeof(err), "%s: %s", fn->dir, strerror(errno));
	else if (vm__make_drive(fn->dir, exe->valuestring, paths, npaths, err, sizeof(err)) == 0 &&
		 vm__make_snapshot(&spec, fn->dir, err, sizeof(err)) == 0)
		rc = 0;
	pthread_mutex_lock(&f->mu);
	f->mem_used_mib -= mem;
	fn->inflight = 0;
	if (rc == 0) {
		fn->deploy_ms = now_ms() - t0;
		fn->config = cJSON_PrintUnformatted(j);
		fn->deleting = false;
	} else {
		for (struct fn **p = &f->fns; *p; p = &(*p)->next)
			if (*p == fn) {
				*p = fn->next;
				break;
			}
	}
	pthread_mutex_unlock(&f->mu);
	cJSON_Delete(j);
	if (rc < 0) {
		vm__rmtree(fn->dir);
		free(fn);
		return reply_error(r, 500, "deploying %s: %s", name, err);
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "deploy_ms", fn->deploy_ms);
	reply_json(r, 201, o);
	return;
bad:
	cJSON_Delete(j);
	reply_error(r, 400, "%s", err);
}

/* ---- invoke ---- */

static void record_latency(struct fn *fn, double ms)
{
	fn->lat[fn->lat_n++ % LAT_RING] = ms;
}

static void invoke(struct faas *f, const char *name, const char *body, size_t len, struct reply *r)
{
	double t0 = now_ms();
	char err[1024];
	pthread_mutex_lock(&f->mu);
	struct fn *fn = find(f, name);
	if (!fn) {
		pthread_mutex_unlock(&f->mu);
		return reply_error(r, 404, "no function %s", name);
	}
	fn->inflight++;
	struct inst *in = NULL;
	bool cold = false, queued = false;
	double give_up = t0 + fn->timeout_s * 1000.0;
	for (;;) {
		for (struct inst *i = fn->insts; i; i = i->next)
			if (!i->busy) {
				in = i;
				break;
			}
		if (in) {
			in->busy = true;
			break;
		}
		if (fn->deleting || f->stop) {
			fn->inflight--;
			if (queued)
				fn->waiting--;
			pthread_cond_broadcast(&f->cv);
			pthread_mutex_unlock(&f->mu);
			return reply_error(r, 404, "function %s is being deleted", name);
		}
		if (fn->live < fn->max_instances && make_room(f, fn->mem_mib)) {
			cold = true;
			in = inst_start(f, fn, err, sizeof(err));
			break;
		}
		if (!queued && fn->waiting >= f->o.queue_max)
			break;
		if (now_ms() >= give_up)
			break;
		if (!queued) {
			queued = true;
			fn->waiting++;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
	}
	if (queued)
		fn->waiting--;
	if (!in) {
		bool failed_start = cold;
		fn->inflight--;
		if (!failed_start)
			fn->rejected++;
		else
			fn->errors++;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		if (failed_start)
			return reply_error(r, 502, "cannot start an instance of %s: %s", name, err);
		return reply_error(r, 429, "function %s is saturated (%u instances, %u MiB budget)", name,
				   fn->max_instances, f->o.memory_budget_mib);
	}
	unsigned timeout_ms = fn->timeout_s * 1000;
	double start_min = t0 / f->o.minute_ms;
	pthread_mutex_unlock(&f->mu);

	struct vm_result res;
	double left = timeout_ms - (now_ms() - t0);
	enum vm_outcome oc = vm__invoke(&in->vm, body, len, left > 1 ? (int)left : 1, &res);

	pthread_mutex_lock(&f->mu);
	double t1 = now_ms();
	fn->invocations++;
	if (cold)
		fn->cold++;
	else
		fn->warm++;
	record_latency(fn, t1 - t0);
	struct policy_window w = policy__invoked(&fn->pol, start_min, t1 / f->o.minute_ms);
	snprintf(r->start, sizeof(r->start), "%s", cold ? "cold" : "warm");
	r->duration_ms = t1 - t0;
	if (oc != VM_OK) {
		/* A timed-out or broken instance is never reused. */
		if (oc == VM_TIMEOUT)
			fn->timeouts++;
		else
			fn->errors++;
		inst_destroy(f, fn, in);
	} else if (w.prewarm > 0 && !fn->waiting) {
		fn->unloads++;
		inst_destroy(f, fn, in);
	} else {
		in->busy = false; /* with a pre-warm window it stays only because invocations wait for it */
		in->expires = t1 + w.keepalive * f->o.minute_ms;
	}
	if (w.prewarm > 0) {
		fn->prewarm_at = t1 + w.prewarm * f->o.minute_ms;
		fn->prewarm_until = fn->prewarm_at + w.keepalive * f->o.minute_ms;
	} else {
		fn->prewarm_at = 0;
	}
	if (oc == VM_OK && (!WIFEXITED(res.status) || WEXITSTATUS(res.status)))
		fn->errors++;
	fn->inflight--;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);

	if (oc == VM_TIMEOUT) {
		reply_error(r, 504, "function %s timed out after %u s; its instance was destroyed", name,
			    timeout_ms / 1000);
	} else if (oc != VM_OK) {
		reply_error(r, 502, "the instance of %s failed; it was destroyed", name);
	} else if (res.truncated) {
		reply_error(r, 502, "function %s wrote more than %u bytes", name, VM_OUTPUT_MAX);
	} else if (!WIFEXITED(res.status) || WEXITSTATUS(res.status)) {
		r->status = 502;
		r->type = "text/plain";
		r->body = res.err;
		r->len = res.err_len;
		res.err = NULL;
	} else {
		r->status = 200;
		r->type = "application/octet-stream";
		r->body = res.out;
		r->len = res.out_len;
		res.out = NULL;
	}
	vm__result_free(&res);
}

/* ---- delete, get, metrics ---- */

static void remove_fn(struct faas *f, const char *name, struct reply *r)
{
	pthread_mutex_lock(&f->mu);
	struct fn *fn = find(f, name);
	if (!fn) {
		pthread_mutex_unlock(&f->mu);
		return reply_error(r, 404, "no function %s", name);
	}
	fn->deleting = true;
	pthread_cond_broadcast(&f->cv);
	/* In-flight invocations finish first (each bounded by the function's timeout). */
	while (fn->inflight)
		pthread_cond_wait(&f->cv, &f->mu);
	while (fn->insts)
		inst_destroy(f, fn, fn->insts);
	for (struct fn **p = &f->fns; *p; p = &(*p)->next)
		if (*p == fn) {
			*p = fn->next;
			break;
		}
	pthread_mutex_unlock(&f->mu);
	vm__rmtree(fn->dir);
	free(fn->config);
	free(fn);
	r->status = 204;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void percentiles(const struct fn *fn, double *p50, double *p99)
{
	unsigned n = fn->lat_n < LAT_RING ? fn->lat_n : LAT_RING;
	*p50 = *p99 = 0;
	if (!n)
		return;
	double *v = malloc(n * sizeof(double));
	if (!v)
		return;
	memcpy(v, fn->lat, n * sizeof(double));
	qsort(v, n, sizeof(double), cmp_double);
	*p50 = v[(size_t)(0.50 * (n - 1) + 0.5)];
	*p99 = v[(size_t)(0.99 * (n - 1) + 0.5)];
	free(v);
}

static cJSON *describe(const struct faas *f, const struct fn *fn)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", fn->name);
	cJSON *cfg = cJSON_Parse(fn->config ? fn->config : "{}");
	cJSON_AddItemToObject(o, "config", cfg ? cfg : cJSON_CreateObject());
	cJSON_AddNumberToObject(o, "memory_mib", fn->mem_mib);
	cJSON_AddNumberToObject(o, "timeout_s", fn->timeout_s);
	cJSON_AddNumberToObject(o, "max_instances", fn->max_instances);
	cJSON_AddNumberToObject(o, "deploy_ms", fn->deploy_ms);
	cJSON_AddNumberToObject(o, "invocations", (double)fn->invocations);
	cJSON_AddNumberToObject(o, "cold", (double)fn->cold);
	cJSON_AddNumberToObject(o, "warm", (double)fn->warm);
	cJSON_AddNumberToObject(o, "errors", (double)fn->errors);
	cJSON_AddNumberToObject(o, "timeouts", (double)fn->timeouts);
	cJSON_AddNumberToObject(o, "rejected", (double)fn->rejected);
	cJSON_AddNumberToObject(o, "prewarms", (double)fn->prewarms);
	cJSON_AddNumberToObject(o, "unloads", (double)fn->unloads);
	double p50, p99;
	percentiles(fn, &p50, &p99);
	cJSON *l = cJSON_AddObjectToObject(o, "latency_ms");
	cJSON_AddNumberToObject(l, "p50", p50);
	cJSON_AddNumberToObject(l, "p99", p99);
	unsigned idle = 0, live = 0;
	cJSON *pids = cJSON_CreateArray();
	for (const struct inst *i = fn->insts; i; i = i->next) {
		live++;
		idle += !i->busy;
		cJSON_AddItemToArray(pids, cJSON_CreateNumber(i->vm.pid));
	}
	cJSON_AddNumberToObject(o, "live_instances", live);
	cJSON_AddNumberToObject(o, "idle_instances", idle);
	cJSON_AddItemToObject(o, "instance_pids", pids);
	cJSON *p = cJSON_AddObjectToObject(o, "policy");
	char pn[32];
	policy__name(&f->o.policy, pn, sizeof(pn));
	cJSON_AddStringToObject(p, "name", pn);
	cJSON_AddNumberToObject(p, "prewarm_min", fn->pol.w.prewarm);
	cJSON_AddNumberToObject(p, "keepalive_min", fn->pol.w.keepalive);
	cJSON_AddBoolToObject(p, "fallback", fn->pol.w.fallback);
	cJSON_AddNumberToObject(p, "idle_time_samples", fn->pol.n_in + fn->pol.n_oob);
	return o;
}

static void get_fn(struct faas *f, const char *name, struct reply *r)
{
	pthread_mutex_lock(&f->mu);
	struct fn *fn = find(f, name);
	cJSON *o = fn ? describe(f, fn) : NULL;
	pthread_mutex_unlock(&f->mu);
	if (!o)
		return reply_error(r, 404, "no function %s", name);
	reply_json(r, 200, o);
}

static void list_fns(struct faas *f, struct reply *r)
{
	cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "functions");
	pthread_mutex_lock(&f->mu);
	for (struct fn *x = f->fns; x; x = x->next)
		if (!x->deleting)
			cJSON_AddItemToArray(a, describe(f, x));
	cJSON_AddNumberToObject(o, "memory_used_mib", f->mem_used_mib);
	cJSON_AddNumberToObject(o, "memory_budget_mib", f->o.memory_budget_mib);
	pthread_mutex_unlock(&f->mu);
	reply_json(r, 200, o);
}

static void metrics(struct faas *f, struct reply *r)
{
	size_t cap = 4096, len = 0;
	char *b = malloc(cap);
#define OUT(...)                                                                                                       \
	do {                                                                                                           \
		int k_ = snprintf(b + len, cap - len, __VA_ARGS__);                                                    \
		if (k_ > 0 && (size_t)k_ >= cap - len) {                                                               \
			cap = 2 * cap + (size_t)k_;                                                                    \
			char *nb_ = realloc(b, cap);                                                                   \
			if (!nb_)                                                                                      \
				break;                                                                                 \
			b = nb_;                                                                                       \
			k_ = snprintf(b + len, cap - len, __VA_ARGS__);                                                \
		}                                                                                                      \
		if (k_ > 0)                                                                                            \
			len += (size_t)k_;                                                                             \
	} while (0)
	if (!b)
		return reply_error(r, 500, "out of memory");
	pthread_mutex_lock(&f->mu);
	OUT("# HELP wisp_faas_memory_used_mib Memory of live instances.\n# TYPE wisp_faas_memory_used_mib gauge\n");
	OUT("wisp_faas_memory_used_mib %u\n", f->mem_used_mib);
	OUT("# TYPE wisp_faas_memory_budget_mib gauge\nwisp_faas_memory_budget_mib %u\n", f->o.memory_budget_mib);
	OUT("# HELP wisp_faas_invocations_total Invocations by start kind.\n"
	    "# TYPE wisp_faas_invocations_total counter\n");
	for (struct fn *x = f->fns; x; x = x->next)
		if (!x->deleting) {
			OUT("wisp_faas_invocations_total{function=\"%s\",start=\"cold\"} %llu\n", x->name,
			    (unsigned long long)x->cold);
			OUT("wisp_faas_invocations_total{function=\"%s\",start=\"warm\"} %llu\n", x->name,
			    (unsigned long long)x->warm);
		}
	static const char *const names[] = { "errors", "timeouts", "rejected", "prewarms", "unloads" };
	for (int k = 0; k < 5; k++) {
		OUT("# TYPE wisp_faas_%s_total counter\n", names[k]);
		for (struct fn *x = f->fns; x; x = x->next) {
			if (x->deleting)
				continue;
			uint64_t v = k == 0   ? x->errors
				     : k == 1 ? x->timeouts
				     : k == 2 ? x->rejected
				     : k == 3 ? x->prewarms
					      : x->unloads;
			OUT("wisp_faas_%s_total{function=\"%s\"} %llu\n", names[k], x->name, (unsigned long long)v);
		}
	}
	OUT("# TYPE wisp_faas_instances gauge\n");
	for (struct fn *x = f->fns; x; x = x->next)
		if (!x->deleting)
			OUT("wisp_faas_instances{function=\"%s\"} %u\n", x->name, x->live);
	OUT("# TYPE wisp_faas_latency_ms summary\n");
	for (struct fn *x = f->fns; x; x = x->next) {
		if (x->deleting)
			continue;
		double p50, p99;
		percentiles(x, &p50, &p99);
		OUT("wisp_faas_latency_ms{function=\"%s\",quantile=\"0.5\"} %.3f\n", x->name, p50);
		OUT("wisp_faas_latency_ms{function=\"%s\",quantile=\"0.99\"} %.3f\n", x->name, p99);
	}
	pthread_mutex_unlock(&f->mu);
#undef OUT
	r->status = 200;
	r->type = "text/plain; version=0.0.4";
	r->body = b;
	r->len = len;
}

/* ---- routing ---- */

static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    r->len, r->body ? r->body : "", r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	if (r->type)
		MHD_add_response_header(resp, "Content-Type", r->type);
	if (*r->start) {
		char d[32];
		snprintf(d, sizeof(d), "%.3f", r->duration_ms);
		MHD_add_response_header(resp, "X-Wisp-Start", r->start);
		MHD_add_response_header(resp, "X-Wisp-Duration-Ms", d);
	}
	enum MHD_Result rc = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	(void)version;
	struct faas *f = cls;
	struct conn *cn = *ctx;
	if (!cn) {
		cn = calloc(1, sizeof(*cn));
		if (!cn)
			return MHD_NO;
		*ctx = cn;
		return MHD_YES;
	}
	bool is_invoke = !strcmp(method, "POST");
	size_t limit = is_invoke ? f->o.max_body : DEPLOY_BODY_MAX;
	if (*upload_size) {
		if (!cn->too_big && cn->len + *upload_size <= limit) {
			char *b = realloc(cn->body, cn->len + *upload_size + 1);
			if (b) {
				memcpy(b + cn->len, upload, *upload_size);
				cn->body = b;
				cn->len += *upload_size;
				b[cn->len] = 0;
			} else {
				cn->too_big = true;
			}
		} else {
			cn->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	struct reply r = { 0 };
	__atomic_add_fetch(&f->http_requests, 1, __ATOMIC_RELAXED);
	char name[NAME_MAX_LEN + 2] = { 0 };
	const char *rest = NULL;
	if (!strncmp(url, "/functions/", 11)) {
		const char *s = url + 11, *slash = strchr(s, '/');
		size_t l = slash ? (size_t)(slash - s) : strlen(s);
		if (l <= NAME_MAX_LEN) {
			memcpy(name, s, l);
			rest = slash ? slash : "";
		}
	}
	if (cn->too_big) {
		reply_error(&r, 413, "the body is larger than %zu bytes", limit);
	} else if (!strcmp(url, "/functions") && !strcmp(method, "GET")) {
		list_fns(f, &r);
	} else if (!strcmp(url, "/metrics") && !strcmp(method, "GET")) {
		metrics(f, &r);
	} else if (rest && !*rest && !strcmp(method, "PUT")) {
		deploy(f, name, cn->body ? cn->body : "", cn->len, &r);
	} else if (rest && !*rest && !strcmp(method, "GET")) {
		get_fn(f, name, &r);
	} else if (rest && !*rest && !strcmp(method, "DELETE")) {
		remove_fn(f, name, &r);
	} else if (rest && !strcmp(rest, "/invoke") && is_invoke) {
		invoke(f, name, cn->body ? cn->body : "", cn->len, &r);
	} else {
		reply_error(&r, rest || !strcmp(url, "/functions") || !strcmp(url, "/metrics") ? 405 : 404,
			    "no route for %s %s", method, url);
	}
	return send_reply(c, &r);
}

static void done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct conn *cn = *ctx;
	if (cn) {
		free(cn->body);
		free(cn);
	}
	*ctx = NULL;
}

/* ---- the reaper: keep-alive expiry and pre-warming ---- */

static void *reaper(void *arg)
{
	struct faas *f = arg;
	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		double now = now_ms();
		for (struct fn *fn = f->fns; fn; fn = fn->next) {
			if (fn->deleting)
				continue;
			for (struct inst *i = fn->insts, *nx; i; i = nx) {
				nx = i->next;
				if (!i->busy && i->expires <= now) {
					fn->unloads++;
					inst_destroy(f, fn, i);
				}
			}
			if (fn->prewarm_at && now >= fn->prewarm_at) {
				double until = fn->prewarm_until;
				fn->prewarm_at = 0;
				if (!fn->live && until > now && make_room(f, fn->mem_mib)) {
					char err[512];
					fn->inflight++;
					struct inst *in = inst_start(f, fn, err, sizeof(err));
					fn->inflight--;
					if (in) {
						in->busy = false;
						in->expires = until;
						fn->prewarms++;
					} else {
						fprintf(stderr, "wisp-faas: pre-warming %s: %s\n", fn->name, err);
					}
					pthread_cond_broadcast(&f->cv);
					break; /* the list may have changed while unlocked */
				}
			}
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

int faas__serve(const struct faas_opts *o)
{
	struct faas *f = calloc(1, sizeof(*f));
	if (!f)
		return 1;
	f->o = *o;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	char host[64] = "127.0.0.1";
	unsigned port = 0;
	const char *colon = strrchr(o->listen, ':');
	if (!colon || (size_t)(colon - o->listen) >= sizeof(host) || sscanf(colon + 1, "%u", &port) != 1 ||
	    port > 65535) {
		fprintf(stderr, "wisp-faas: --listen wants HOST:PORT, not %s\n", o->listen);
		return 1;
	}
	memcpy(host, o->listen, (size_t)(colon - o->listen));
	host[colon - o->listen] = 0;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "wisp-faas: --listen: %s is not an IPv4 address\n", host);
		return 1;
	}
	char fdir[VM_PATH_MAX];
	snprintf(fdir, sizeof(fdir), "%s/f", o->state_dir);
	mkdir(o->state_dir, 0755);
	vm__rmtree(fdir); /* functions do not outlive the daemon */
	if (mkdir(fdir, 0755) < 0) {
		fprintf(stderr, "wisp-faas: state directory %s: %s\n", fdir, strerror(errno));
		return 1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread started below inherits the mask */
	signal(SIGPIPE, SIG_IGN);
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
			     NULL, NULL, handle, f, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, done, f,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "wisp-faas: cannot listen on %s\n", o->listen);
		return 1;
	}
	pthread_t rt;
	pthread_create(&rt, NULL, reaper, f);
	char pn[32];
	policy__name(&o->policy, pn, sizeof(pn));
	fprintf(stderr, "wisp-faas: listening on http://%s (policy %s, memory budget %u MiB, state %s)\n", o->listen,
		pn, o->memory_budget_mib, o->state_dir);
	int sig;
	sigwait(&set, &sig);
	fprintf(stderr, "wisp-faas: signal %d: stopping\n", sig);
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(rt, NULL);
	MHD_stop_daemon(d);
	pthread_mutex_lock(&f->mu);
	while (f->fns) {
		struct fn *fn = f->fns;
		while (fn->insts)
			inst_destroy(f, fn, fn->insts);
		f->fns = fn->next;
		free(fn->config);
		free(fn);
	}
	pthread_mutex_unlock(&f->mu);
	vm__rmtree(fdir);
	free(f);
	return 0;
}
