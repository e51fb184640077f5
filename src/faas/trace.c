/* Trace files: the Azure Functions 2019 format, read and generated (trace.h). */
#include "faas/trace.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct trace_app *find_app(struct trace *t, const char *name, bool *created)
{
	*created = false;
	for (size_t i = 0; i < t->n; i++) /* linear: traces of tests and demos have hundreds of apps */
		if (!strcmp(t->apps[i].name, name))
			return &t->apps[i];
	if (t->n == t->cap) {
		size_t c = t->cap ? 2 * t->cap : 64;
		struct trace_app *a = realloc(t->apps, c * sizeof(*a));
		if (!a)
			return NULL;
		t->apps = a;
		t->cap = c;
	}
	struct trace_app *a = &t->apps[t->n];
	memset(a, 0, sizeof(*a));
	a->name = strdup(name);
	if (!a->name)
		return NULL;
	t->n++;
	*created = true;
	return a;
}

static int add_count(struct trace_app *a, uint32_t minute, uint32_t count)
{
	if (a->n == a->cap) {
		size_t c = a->cap ? 2 * a->cap : 16;
		uint32_t *m = realloc(a->minute, c * sizeof(*m));
		if (!m)
			return -1;
		a->minute = m;
		uint32_t *k = realloc(a->count, c * sizeof(*k));
		if (!k)
			return -1;
		a->count = k;
		a->cap = c;
	}
	a->minute[a->n] = minute;
	a->count[a->n] = count;
	a->n++;
	a->invocations += count;
	return 0;
}

static void app_free(struct trace_app *a)
{
	free(a->name);
	free(a->minute);
	free(a->count);
}

void trace__free(struct trace *t)
{
	for (size_t i = 0; i < t->n; i++)
		app_free(&t->apps[i]);
	free(t->apps);
	memset(t, 0, sizeof(*t));
}

/* One day of one app while its file is read: dense per-minute counts. */
struct day_app {
	char *name;
	char trigger[16];
	uint32_t count[TRACE_MINUTES];
};

struct day {
	struct day_app **apps;
	size_t n, cap;
};

static struct day_app *day_app(struct day *d, const char *name, const char *trigger)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->apps[i]->name, name))
			return d->apps[i];
	if (d->n == d->cap) {
		size_t c = d->cap ? 2 * d->cap : 64;
		struct day_app **a = realloc(d->apps, c * sizeof(*a));
		if (!a)
			return NULL;
		d->apps = a;
		d->cap = c;
	}
	struct day_app *a = calloc(1, sizeof(*a));
	if (!a || !(a->name = strdup(name))) {
		free(a);
		return NULL;
	}
	snprintf(a->trigger, sizeof(a->trigger), "%s", trigger);
	d->apps[d->n++] = a;
	return a;
}

static void day_free(struct day *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->apps[i]->name);
		free(d->apps[i]);
	}
	free(d->apps);
}

/* Split a CSV line in place (no quoting in this format). Returns the number of fields. */
static size_t split(char *line, char **f, size_t max)
{
	size_t k = 0;
	char *p = line;
	for (;;) {
		if (k < max)
			f[k] = p;
		k++;
		char *c = strchr(p, ',');
		if (!c)
			break;
		*c = 0;
		p = c + 1;
	}
	return k;
}

int trace__read(struct trace *t, const char *path, char *err, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, n, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Parse into a scratch trace first, then merge: a bad file changes nothing. */
	struct day day = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	char **fld = malloc((TRACE_MINUTES + 8) * sizeof(char *));
	int rc = -1;
	if (!fld)
		goto out;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		size_t k = split(line, fld, TRACE_MINUTES + 8);
		if (lineno == 1) {
			bool ok = k == TRACE_MINUTES + 4 && !strcmp(fld[0], "HashOwner") &&
				  !strcmp(fld[1], "HashApp") && !strcmp(fld[2], "HashFunction") &&
				  !strcmp(fld[3], "Trigger");
			for (size_t i = 0; ok && i < TRACE_MINUTES; i++)
				ok = strtoul(fld[4 + i], NULL, 10) == i + 1;
			if (!ok) {
				snprintf(err, n,
					 "%s:1: the header must be HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440",
					 path);
				goto out;
			}
			continue;
		}
		if (!len)
			continue;
		if (k != TRACE_MINUTES + 4) {
			snprintf(err, n, "%s:%lu: %zu fields, expected %d", path, lineno, k, TRACE_MINUTES + 4);
			goto out;
		}
		if (!*fld[0] || !*fld[1]) {
			snprintf(err, n, "%s:%lu: empty HashOwner or HashApp", path, lineno);
			goto out;
		}
		char name[512];
		snprintf(name, sizeof(name), "%.250s/%.250s", fld[0], fld[1]);
		struct day_app *a = day_app(&day, name, fld[3]);
		if (!a) {
			snprintf(err, n, "out of memory");
			goto out;
		}
		for (uint32_t m = 0; m < TRACE_MINUTES; m++) {
			char *e;
			errno = 0;
			unsigned long c = strtoul(fld[4 + m], &e, 10);
			if (!*fld[4 + m] || *e || errno || c > UINT32_MAX / 2 || fld[4 + m][0] == '-') {
				snprintf(err, n, "%s:%lu: minute %u: \"%.20s\" is not an invocation count", path,
					 lineno, m + 1, fld[4 + m]);
				goto out;
			}
			if (c > UINT32_MAX / 2 - a->count[m]) {
				snprintf(err, n, "%s:%lu: minute %u: too many invocations", path, lineno, m + 1);
				goto out;
			}
			a->count[m] += (uint32_t)c;
		}
	}
	if (lineno == 0) {
		snprintf(err, n, "%s:1: empty file (no header)", path);
		goto out;
	}
	/* Merge the day. */
	for (size_t i = 0; i < day.n; i++) {
		bool created;
		struct trace_app *a = find_app(t, day.apps[i]->name, &created);
		if (!a) {
			snprintf(err, n, "out of memory");
			goto out;
		}
		if (created)
			memcpy(a->trigger, day.apps[i]->trigger, sizeof(a->trigger));
		for (uint32_t m = 0; m < TRACE_MINUTES; m++)
			if (day.apps[i]->count[m] &&
			    add_count(a, t->days * TRACE_MINUTES + m, day.apps[i]->count[m]) < 0) {
				snprintf(err, n, "out of memory");
				goto out;
			}
	}
	t->days++;
	rc = 0;
out:
	free(fld);
	free(line);
	fclose(f);
	day_free(&day);
	return rc;
}

/* ---- synthetic traces ---- */

static uint64_t rnd(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

static uint32_t poisson(uint64_t *s, double lambda)
{
	if (lambda <= 0)
		return 0;
	if (lambda > 50) { /* normal approximation */
		double u1 = unif(s), u2 = unif(s);
		double z = sqrt(-2 * log(u1 > 0 ? u1 : 1e-300)) * cos(2 * M_PI * u2);
		double v = lambda + sqrt(lambda) * z;
		return v < 0 ? 0 : (uint32_t)(v + 0.5);
	}
	double l = exp(-lambda), p = 1;
	uint32_t k = 0;
	do {
		k++;
		p *= unif(s);
	} while (p > l);
	return k - 1;
}

enum shape { TIMER, POISSON, BURSTY };

struct gen_app {
	enum shape shape;
	double rate;	    /* invocations per minute (POISSON, BURSTY while on) */
	unsigned period;    /* TIMER: minutes */
	unsigned phase;	    /* TIMER */
	double on_p, off_p; /* BURSTY: per-minute probabilities of switching */
	unsigned funcs;
};

int trace__generate(const struct gen_opts *o, const char *prefix, char *err, size_t n)
{
	uint64_t s = o->seed ? o->seed : 1;
	struct gen_app *apps = calloc(o->apps, sizeof(*apps));
	uint32_t *row = malloc(TRACE_MINUTES * sizeof(uint32_t));
	bool on[TRACE_MINUTES], state = false;
	if (!apps || !row) {
		free(apps);
		free(row);
		snprintf(err, n, "out of memory");
		return -1;
	}
	static const unsigned periods[] = { 1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440 };
	for (unsigned i = 0; i < o->apps; i++) {
		struct gen_app *a = &apps[i];
		double u = unif(&s);
		/* The paper: about half of the apps have timers; the rest are HTTP, queue and event triggered with
		 * rates spanning 8 orders of magnitude and highly variable inter-arrival times. */
		a->shape = u < 0.5 ? TIMER : u < 0.75 ? POISSON : BURSTY;
		a->funcs = 1 + (unsigned)(unif(&s) * 3);
		/* log-uniform daily invocations from 0.1 to 10^7 */
		double per_day = pow(10.0, -1.0 + 8.0 * unif(&s));
		a->rate = per_day / TRACE_MINUTES;
		a->period = periods[rnd(&s) % (sizeof(periods) / sizeof(periods[0]))];
		a->phase = (unsigned)(rnd(&s) % a->period);
		a->on_p = 0.002 + 0.02 * unif(&s);
		a->off_p = 0.05 + 0.3 * unif(&s);
		if (a->shape == BURSTY)
			a->rate *= (a->on_p + a->off_p) / a->on_p; /* the same daily mean, concentrated in bursts */
	}
	int rc = 0;
	for (unsigned d = 0; d < o->days && !rc; d++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s.d%02u.csv", prefix, d + 1);
		FILE *f = fopen(path, "w");
		if (!f) {
			snprintf(err, n, "%s: %s", path, strerror(errno));
			rc = -1;
			break;
		}
		fputs("HashOwner,HashApp,HashFunction,Trigger", f);
		for (unsigned m = 1; m <= TRACE_MINUTES; m++)
			fprintf(f, ",%u", m);
		fputc('\n', f);
		for (unsigned i = 0; i < o->apps; i++) {
			struct gen_app *a = &apps[i];
			for (unsigned m = 0; m < TRACE_MINUTES; m++) /* BURSTY: one on/off pattern per app */
				on[m] = state = state ? unif(&s) >= a->off_p : unif(&s) < a->on_p;
			for (unsigned fn = 0; fn < a->funcs; fn++) {
				for (unsigned m = 0; m < TRACE_MINUTES; m++) {
					uint32_t c = 0;
					unsigned t = d * TRACE_MINUTES + m;
					if (a->shape == TIMER) {
						/* one function holds the timer; the others see rare HTTP calls */
						c = fn == 0 ? (t % a->period == a->phase) : poisson(&s, 0.0005);
					} else if (a->shape == POISSON) {
						c = poisson(&s, a->rate / a->funcs);
					} else {
						c = on[m] ? poisson(&s, a->rate / a->funcs) : 0;
					}
					row[m] = c;
				}
				fprintf(f, "owner%04u,app%04u,func%u,%s", i, i, fn,
					a->shape == TIMER     ? "timer"
					: a->shape == POISSON ? "http"
							      : "queue");
				for (unsigned m = 0; m < TRACE_MINUTES; m++)
					fprintf(f, ",%u", row[m]);
				fputc('\n', f);
			}
		}
		if (fclose(f)) {
			snprintf(err, n, "%s: %s", path, strerror(errno));
			rc = -1;
		}
	}
	free(apps);
	free(row);
	return rc;
}
