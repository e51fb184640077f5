/*
 * Bare-metal CPU benchmark kernels, one per program (chosen with -DKERNEL=name): integer hashing,
 * sorting, a bytecode interpreter (branchy), pointer chasing and large copies (memory/TLB),
 * matrix multiply and n-body (floating point). Each returns 0 when its checksum is plausible.
 */
#include <stddef.h>
#include <stdint.h>

#ifndef SCALE
#define SCALE 1
#endif

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 1;
}

static uint32_t buf[1 << 16];
static uint32_t buf2[1 << 16];

static uint32_t k_hash(void)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < 1 << 14; i++)
		buf[i] = rnd();
	for (int r = 0; r < 100 * SCALE; r++)
		for (size_t i = 0; i < 1 << 14; i++) {
			uint32_t v = buf[i];
			for (int k = 0; k < 4; k++) {
				h ^= (v >> (8 * k)) & 0xff;
				h *= 16777619u;
			}
		}
	return h;
}

static void quicksort(uint32_t *a, long lo, long hi)
{
	while (lo < hi) {
		uint32_t p = a[(lo + hi) / 2];
		long i = lo, j = hi;
		while (i <= j) {
			while (a[i] < p)
				i++;
			while (a[j] > p)
				j--;
			if (i <= j) {
				uint32_t t = a[i];
				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (j - lo < hi - i) {
			quicksort(a, lo, j);
			lo = i;
		} else {
			quicksort(a, i, hi);
			hi = j;
		}
	}
}

static uint32_t k_sort(void)
{
	uint32_t s = 0;
	for (int r = 0; r < 12 * SCALE; r++) {
		for (size_t i = 0; i < 1 << 16; i++)
			buf[i] = rnd();
		quicksort(buf, 0, (1 << 16) - 1);
		for (size_t i = 1; i < 1 << 16; i++)
			if (buf[i - 1] > buf[i])
				return 1;
		s += buf[100];
	}
	return s;
}

/* A tiny stack-machine interpreter: the kind of branchy dispatch loop scripting languages run. */
static uint32_t k_interp(void)
{
	enum { PUSH, ADD, SUB, DUP, JNZ, SWAP, DROP, HALT };
	static const uint8_t prog[] = { PUSH, 0, PUSH, 200, /* acc, n */
					DUP, SWAP, DROP, SWAP, PUSH, 3, ADD, SWAP, PUSH, 1, SUB, DUP, JNZ, 4, DROP, HALT };
	uint32_t total = 0;
	for (int r = 0; r < 6000 * SCALE; r++) {
		uint32_t st[16];
		int sp = 0;
		size_t pc = 0;
		for (;;) {
			uint8_t op = prog[pc++];
			if (op == PUSH) {
				st[sp++] = prog[pc++];
			} else if (op == ADD) {
				sp--;
				st[sp - 1] += st[sp];
			} else if (op == SUB) {
				sp--;
				st[sp - 1] -= st[sp];
			} else if (op == DUP) {
				st[sp] = st[sp - 1];
				sp++;
			} else if (op == JNZ) {
				uint8_t t = prog[pc++];
				if (st[--sp])
					pc = t;
			} else if (op == SWAP) {
				uint32_t t = st[sp - 1];
				st[sp - 1] = st[sp - 2];
				st[sp - 2] = t;
			} else if (op == DROP) {
				sp--;
			} else {
				break;
			}
		}
		total += st[0];
	}
	return total;
}

static uint32_t k_chase(void)
{
	const size_t n = 1 << 16;
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint32_t)i;
	for (size_t i = n - 1; i > 0; i--) { /* one random cycle through the array */
		size_t j = rnd() % i;
		uint32_t t = buf[i];
		buf[i] = buf[j];
		buf[j] = t;
	}
	uint32_t p = 0, s = 0;
	for (long k = 0; k < 6000000L * SCALE; k++) {
		p = buf[p];
		s += p;
	}
	return s;
}

static uint32_t k_copy(void)
{
	uint32_t s = 0;
	for (size_t i = 0; i < 1 << 16; i++)
		buf[i] = rnd();
	for (int r = 0; r < 300 * SCALE; r++) {
		uint64_t *d = (uint64_t *)buf2, *src = (uint64_t *)buf;
		for (size_t i = 0; i < (1 << 16) / 2; i++)
			d[i] = src[i];
		s += buf2[r & 0xffff];
	}
	return s;
}

static double ma[48][48], mb[48][48], mc[48][48];

static uint32_t k_matmul(void)
{
	for (int i = 0; i < 48; i++)
		for (int j = 0; j < 48; j++) {
			ma[i][j] = (i + j) * 0.5;
			mb[i][j] = (i - j) * 0.25;
		}
	double t = 0;
	for (int r = 0; r < 60 * SCALE; r++) {
		for (int i = 0; i < 48; i++)
			for (int j = 0; j < 48; j++) {
				double s = 0;
				for (int k = 0; k < 48; k++)
					s += ma[i][k] * mb[k][j];
				mc[i][j] = s;
			}
		t += mc[r % 48][7];
	}
	return (uint32_t)t;
}

static double sqrt_d(double x)
{
	double r;
	__asm__("fsqrt.d %0, %1" : "=f"(r) : "f"(x));
	return r;
}

static uint32_t k_nbody(void)
{
	enum { N = 16 };
	double px[N], py[N], pz[N], vx[N], vy[N], vz[N], m[N];
	for (int i = 0; i < N; i++) {
		px[i] = (rnd() % 1000) * 0.01;
		py[i] = (rnd() % 1000) * 0.01;
		pz[i] = (rnd() % 1000) * 0.01;
		vx[i] = vy[i] = vz[i] = 0;
		m[i] = 1.0 + (rnd() % 10) * 0.1;
	}
	for (int step = 0; step < 4000 * SCALE; step++) {
		for (int i = 0; i < N; i++)
			for (int j = i + 1; j < N; j++) {
				double dx = px[i] - px[j], dy = py[i] - py[j], dz = pz[i] - pz[j];
				double d2 = dx * dx + dy * dy + dz * dz + 0.01;
				double mag = 0.001 / (d2 * sqrt_d(d2));
				vx[i] -= dx * m[j] * mag;
				vy[i] -= dy * m[j] * mag;
				vz[i] -= dz * m[j] * mag;
				vx[j] += dx * m[i] * mag;
				vy[j] += dy * m[i] * mag;
				vz[j] += dz * m[i] * mag;
			}
		for (int i = 0; i < N; i++) {
			px[i] += 0.001 * vx[i];
			py[i] += 0.001 * vy[i];
			pz[i] += 0.001 * vz[i];
		}
	}
	return (uint32_t)(px[0] * 1000);
}

#define CAT(a, b) a##b
#define RUN(k) CAT(k_, k)

int main(void)
{
	volatile uint32_t r = RUN(KERNEL)();
	(void)r;
	return 0;
}
