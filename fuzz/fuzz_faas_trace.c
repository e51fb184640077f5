/*
 * Fuzz target: wisp-faas's trace reader (src/faas/trace.c, the Azure Functions CSV format) and the simulator on
 * what it accepts. Trace files come from anyone: whatever they hold must give a clear error or a well-formed
 * trace, never a crash.
 *
 * Input: a mode byte, then the file's bytes; bit 0: a valid header (HashOwner,...,1440) is written first, so
 * most inputs reach the rows. The file is read twice (two days). Checked: a failed read changes nothing; a
 * trace's minutes ascend, fall within its days and have counts; the simulator runs both policies on it and its
 * cold starts never exceed the invocations.
 */
#include "fuzz.h"

#include "faas/policy.h"
#include "faas/sim.h"
#include "faas/trace.h"

#include <sys/mman.h>
#include <unistd.h>

static void check(const struct trace *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct trace_app *a = &t->apps[i];
		uint64_t sum = 0;
		for (size_t k = 0; k < a->n; k++) {
			if (!a->count[k] || a->minute[k] >= t->days * TRACE_MINUTES ||
			    (k && a->minute[k] <= a->minute[k - 1]))
				abort();
			sum += a->count[k];
		}
		if (sum != a->invocations)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	int fd = memfd_create("trace", 0);
	if (fd < 0)
		return 0;
	if (data[0] & 1) {
		char h[8192];
		int n = snprintf(h, sizeof(h), "HashOwner,HashApp,HashFunction,Trigger");
		for (int m = 1; m <= TRACE_MINUTES; m++)
			n += snprintf(h + n, sizeof(h) - (size_t)n, ",%d", m);
		h[n++] = '\n';
		if (write(fd, h, (size_t)n) != n)
			abort();
	}
	if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	char path[64], err[1024];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct trace t = { 0 };
	for (int day = 0; day < 2; day++) {
		unsigned days = t.days;
		size_t apps = t.n;
		if (trace__read(&t, path, err, sizeof(err)) < 0) {
			if (t.days != days || t.n != apps || !err[0])
				abort();
			break;
		}
		check(&t);
	}
	struct policy p[2] = { { POLICY_FIXED, 10 }, { POLICY_HYBRID, POLICY_FALLBACK_MIN } };
	for (int i = 0; i < 2; i++) {
		struct sim_result r;
		if (sim__run(&t, &p[i], 128, &r) == 0 && r.cold_starts > r.invocations)
			abort();
	}
	trace__free(&t);
	close(fd);
	return 0;
}
