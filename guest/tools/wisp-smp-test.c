/*
 * wisp-smp-test: multiprocessor checks and a scaling benchmark for the guest (tests/e2e/smp.py,
 * bench/smp.py).
 *
 *   wisp-smp-test             one thread per online CPU (at least two), each pinned to its CPU:
 *                             atomic adds (AMOs), compare-and-swap loops (LR/SC), a mutex (futex waits and
 *                             wakes), barrier rounds, and a single-producer single-consumer ring with
 *                             acquire/release ordering; prints "SMP-TEST OK threads=N" or "FAIL: ...".
 *   wisp-smp-test bench W [T] T threads (default: online CPUs) share W million iterations of a private
 *                             integer loop; prints "SMP-BENCH threads=T ms=M result=R".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define ADDS 200000
#define CAS_ADDS 100000
#define LOCKED_ADDS 50000
#define ROUNDS 2000
#define RING_ITEMS 200000
#define RING_SIZE 64

static unsigned nthreads, ncpus;
static atomic_ulong amo_counter, cas_counter;
static unsigned long locked_counter;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t barrier;
static volatile unsigned slots[MAX_THREADS];
static atomic_int failed;

/* The ring: one producer (thread 0), one consumer (thread 1). */
static uint64_t ring[RING_SIZE];
static atomic_ulong head, tail;

static void fail(const char *what, unsigned long got, unsigned long want)
{
	if (!atomic_exchange(&failed, 1))
		printf("FAIL: %s: %lu, expected %lu\n", what, got, want);
}

static void pin(unsigned id)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(id % ncpus, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void ring_produce(void)
{
	for (uint64_t i = 1; i <= RING_ITEMS; i++) {
		unsigned long h = atomic_load_explicit(&head, memory_order_relaxed);
		while (h - atomic_load_explicit(&tail, memory_order_acquire) >= RING_SIZE)
			sched_yield();
		ring[h % RING_SIZE] = i * 2654435761u;
		atomic_store_explicit(&head, h + 1, memory_order_release);
	}
}

static void ring_consume(void)
{
	for (uint64_t i = 1; i <= RING_ITEMS; i++) {
		unsigned long t = atomic_load_explicit(&tail, memory_order_relaxed);
		while (atomic_load_explicit(&head, memory_order_acquire) == t)
			sched_yield();
		uint64_t v = ring[t % RING_SIZE];
		if (v != i * 2654435761u) {
			fail("ring item out of order or torn", (unsigned long)v, (unsigned long)(i * 2654435761u));
			return;
		}
		atomic_store_explicit(&tail, t + 1, memory_order_release);
	}
}

static void *check_thread(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	pin(id);
	for (unsigned i = 0; i < ADDS; i++)
		atomic_fetch_add_explicit(&amo_counter, 1, memory_order_relaxed);
	for (unsigned i = 0; i < CAS_ADDS; i++) {
		unsigned long v = atomic_load_explicit(&cas_counter, memory_order_relaxed);
		while (!atomic_compare_exchange_weak(&cas_counter, &v, v + 1))
			;
	}
	for (unsigned i = 0; i < LOCKED_ADDS; i++) {
		pthread_mutex_lock(&lock);
		locked_counter++;
		pthread_mutex_unlock(&lock);
	}
	for (unsigned r = 1; r <= ROUNDS && !atomic_load(&failed); r++) {
		slots[id] = r;
		pthread_barrier_wait(&barrier);
		for (unsigned k = 0; k < nthreads; k++)
			if (slots[k] != r)
				fail("barrier round saw a stale slot", slots[k], r);
		pthread_barrier_wait(&barrier);
	}
	if (id == 0)
		ring_produce();
	else if (id == 1)
		ring_consume();
	return NULL;
}

static int check(void)
{
	pthread_t t[MAX_THREADS];
	nthreads = ncpus < 2 ? 2 : ncpus > MAX_THREADS ? MAX_THREADS : ncpus;
	pthread_barrier_init(&barrier, NULL, nthreads);
	for (unsigned i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, check_thread, (void *)(uintptr_t)i)) {
			printf("FAIL: pthread_create\n");
			return 1;
		}
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	unsigned long n = nthreads;
	if (atomic_load(&amo_counter) != n * ADDS)
		fail("atomic adds", atomic_load(&amo_counter), n * ADDS);
	if (atomic_load(&cas_counter) != n * CAS_ADDS)
		fail("compare-and-swap adds", atomic_load(&cas_counter), n * CAS_ADDS);
	if (locked_counter != n * LOCKED_ADDS)
		fail("mutex adds", locked_counter, n * LOCKED_ADDS);
	if (atomic_load(&tail) != RING_ITEMS)
		fail("ring items consumed", atomic_load(&tail), RING_ITEMS);
	if (atomic_load(&failed))
		return 1;
	printf("SMP-TEST OK threads=%u\n", nthreads);
	return 0;
}

struct work {
	unsigned id;
	uint64_t iters, result;
};

static void *bench_thread(void *arg)
{
	struct work *w = arg;
	pin(w->id);
	uint64_t x = 0x9e3779b97f4a7c15ull + w->id, acc = 0;
	for (uint64_t i = 0; i < w->iters; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc += x % 1000003;
	}
	w->result = acc;
	return NULL;
}

static int bench(unsigned long millions, unsigned threads)
{
	pthread_t t[MAX_THREADS];
	struct work w[MAX_THREADS];
	uint64_t total = (uint64_t)millions * 1000000u, result = 0;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned i = 0; i < threads; i++) {
		w[i] = (struct work){ i, total / threads + (i < total % threads), 0 };
		if (pthread_create(&t[i], NULL, bench_thread, &w[i])) {
			printf("FAIL: pthread_create\n");
			return 1;
		}
	}
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		result += w[i].result;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	printf("SMP-BENCH threads=%u ms=%ld result=%llu\n", threads, ms, (unsigned long long)result);
	return 0;
}

int main(int argc, char **argv)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	ncpus = n < 1 ? 1 : (unsigned)n;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "bench")) {
		unsigned long w = strtoul(argv[2], NULL, 10);
		unsigned threads = argc >= 4 ? (unsigned)strtoul(argv[3], NULL, 10) : ncpus;
		if (!w || !threads || threads > MAX_THREADS) {
			fprintf(stderr, "usage: wisp-smp-test [bench MILLIONS [THREADS]]\n");
			return 2;
		}
		return bench(w, threads);
	}
	if (argc != 1) {
		fprintf(stderr, "usage: wisp-smp-test [bench MILLIONS [THREADS]]\n");
		return 2;
	}
	return check();
}
