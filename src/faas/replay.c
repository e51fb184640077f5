/*
 * Live replay (replay.h): deploys the trace's busiest applications as functions, then sends each minute's
 * invocations at minute * 60 / speedup seconds, one thread per invocation, and prints a JSON line every ten
 * virtual minutes (invocations, cold and warm starts, latency, the daemon's memory) and a summary.
 */
#include "faas/replay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct target {
	struct sockaddr_in sa;
};

struct stats {
	pthread_mutex_t mu;
	uint64_t sent, ok, cold, warm, failed;
	double lat[65536];
	unsigned nlat;
};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* One request; the status, and in `start` the X-Wisp-Start header. body_out (optional) gets the body. */
static int http(const struct target *t, const char *method, const char *path, const char *body, char *start,
		char *body_out, size_t body_n)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (const struct sockaddr *)&t->sa, sizeof(t->sa)) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	char head[512];
	size_t bl = body ? strlen(body) : 0;
	int hl =
	    snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n", method, path, bl);
	if (send(s, head, (size_t)hl, MSG_NOSIGNAL) != hl || (bl && send(s, body, bl, MSG_NOSIGNAL) != (ssize_t)bl)) {
		close(s);
		return -1;
	}
	static __thread char buf[1 << 16];
	size_t got = 0;
	ssize_t r;
	while (got < sizeof(buf) - 1 && (r = read(s, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)r;
	close(s);
	buf[got] = 0;
	int status = -1;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	if (start) {
		char *h = strcasestr(buf, "\r\nX-Wisp-Start: ");
		snprintf(start, 8, "%.4s", h ? h + 16 : "");
	}
	if (body_out) {
		char *b = strstr(buf, "\r\n\r\n");
		snprintf(body_out, body_n, "%s", b ? b + 4 : "");
	}
	return status;
}

struct job {
	const struct target *t;
	struct stats *st;
	char path[128];
};

static void *one(void *arg)
{
	struct job *j = arg;
	char start[8] = "";
	double t0 = now_ms();
	int status = http(j->t, "POST", j->path, "replay", start, NULL, 0);
	double ms = now_ms() - t0;
	pthread_mutex_lock(&j->st->mu);
	if (status == 200) {
		j->st->ok++;
		if (!strcmp(start, "cold"))
			j->st->cold++;
		else
			j->st->warm++;
		j->st->lat[j->st->nlat++ % 65536] = ms;
	} else {
		j->st->failed++;
	}
	pthread_mutex_unlock(&j->st->mu);
	free(j);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The host's MemAvailable, MiB (replay runs on the daemon's host). */
static long mem_available_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb < 0 ? -1 : kb / 1024;
}

static void report(struct stats *st, const struct target *t, double minute, bool final)
{
	char body[65536];
	int s = http(t, "GET", "/functions", NULL, NULL, body, sizeof(body));
	const char *m = s == 200 ? strstr(body, "\"memory_used_mib\":") : NULL;
	unsigned mem = m ? (unsigned)atoi(m + 18) : 0;
	pthread_mutex_lock(&st->mu);
	unsigned n = st->nlat < 65536 ? st->nlat : 65536;
	double *v = malloc((n ? n : 1) * sizeof(double)), p50 = 0, p99 = 0;
	if (v && n) {
		memcpy(v, st->lat, n * sizeof(double));
		qsort(v, n, sizeof(double), cmp_double);
		p50 = v[(size_t)(0.5 * (n - 1) + 0.5)];
		p99 = v[(size_t)(0.99 * (n - 1) + 0.5)];
	}
	free(v);
	printf("{\"%s\": %.0f, \"sent\": %llu, \"ok\": %llu, \"cold\": %llu, \"warm\": %llu, \"failed\": %llu, "
	       "\"latency_ms\": {\"p50\": %.2f, \"p99\": %.2f}, \"memory_used_mib\": %u, \"host_mem_available_mib\": "
	       "%ld}\n",
	       final ? "minutes" : "minute", minute, (unsigned long long)st->sent, (unsigned long long)st->ok,
	       (unsigned long long)st->cold, (unsigned long long)st->warm, (unsigned long long)st->failed, p50, p99,
	       mem, mem_available_mib());
	fflush(stdout);
	pthread_mutex_unlock(&st->mu);
}

int replay__run(const struct trace *tr, const struct replay_opts *o)
{
	struct target t = { .sa = { .sin_family = AF_INET } };
	char host[64];
	unsigned port;
	if (sscanf(o->url, "http://%63[^:]:%u", host, &port) != 2 || port > 65535 ||
	    inet_pton(AF_INET, host, &t.sa.sin_addr) != 1) {
		fprintf(stderr, "wisp-faas replay: --url must be http://IPV4:PORT\n");
		return 2;
	}
	t.sa.sin_port = htons((uint16_t)port);
	/* The busiest apps by invocation minutes. */
	unsigned na = o->apps < tr->n ? o->apps : (unsigned)tr->n;
	size_t *pick = calloc(na ? na : 1, sizeof(size_t));
	bool *used = calloc(tr->n ? tr->n : 1, sizeof(bool));
	struct stats *st = calloc(1, sizeof(*st));
	if (!pick || !used || !st)
		return 1;
	pthread_mutex_init(&st->mu, NULL);
	for (unsigned k = 0; k < na; k++) {
		size_t best = 0;
		bool found = false;
		for (size_t i = 0; i < tr->n; i++)
			if (!used[i] && (!found || tr->apps[i].n > tr->apps[best].n)) {
				best = i;
				found = true;
			}
		used[best] = true;
		pick[k] = best;
	}
	char body[4096], resp[4096];
	for (unsigned k = 0; k < na; k++) {
		char path[64];
		snprintf(path, sizeof(path), "/functions/replay%u", k);
		http(&t, "DELETE", path, NULL, NULL, NULL, 0);
		snprintf(body, sizeof(body), "{\"executable\": \"%s\", \"memory_mib\": 64, \"max_instances\": 4}",
			 o->executable);
		int s = http(&t, "PUT", path, body, NULL, resp, sizeof(resp));
		if (s != 201) {
			fprintf(stderr, "wisp-faas replay: deploying %s: HTTP %d %s\n", path, s, resp);
			return 1;
		}
		fprintf(stderr, "wisp-faas replay: %s = app %s (%zu active minutes)\n", path, tr->apps[pick[k]].name,
			tr->apps[pick[k]].n);
	}
	size_t *pos = calloc(na ? na : 1, sizeof(size_t));
	double t0 = now_ms(), ms_per_min = 60000.0 / o->speedup;
	uint32_t last = tr->days * TRACE_MINUTES;
	for (uint32_t m = 0; m < last; m++) {
		double due = t0 + m * ms_per_min, w = due - now_ms();
		if (w > 0)
			usleep((useconds_t)(w * 1000));
		for (unsigned k = 0; k < na; k++) {
			const struct trace_app *a = &tr->apps[pick[k]];
			if (pos[k] >= a->n || a->minute[pos[k]] != m)
				continue;
			uint32_t c = a->count[pos[k]++];
			if (c > o->per_minute)
				c = o->per_minute;
			for (uint32_t i = 0; i < c; i++) {
				struct job *j = malloc(sizeof(*j));
				if (!j)
					continue;
				j->t = &t;
				j->st = st;
				snprintf(j->path, sizeof(j->path), "/functions/replay%u/invoke", k);
				pthread_t th;
				pthread_mutex_lock(&st->mu);
				st->sent++;
				pthread_mutex_unlock(&st->mu);
				if (pthread_create(&th, NULL, one, j) == 0)
					pthread_detach(th);
				else
					free(j);
			}
		}
		if (m % 10 == 9)
			report(st, &t, m + 1, false);
	}
	/* Let the last invocations finish. */
	for (int i = 0; i < 600; i++) {
		pthread_mutex_lock(&st->mu);
		bool done = st->ok + st->failed >= st->sent;
		pthread_mutex_unlock(&st->mu);
		if (done)
			break;
		usleep(100000);
	}
	report(st, &t, last, true);
	for (unsigned k = 0; k < na; k++) {
		char path[64];
		snprintf(path, sizeof(path), "/functions/replay%u", k);
		http(&t, "DELETE", path, NULL, NULL, NULL, 0);
	}
	free(pos);
	free(pick);
	free(used);
	return 0;
}
