/* CPU benchmark kernels for bare-metal runs (--elf): integer hashing, sorting, pointer chasing, FP. */
#include <stdint.h>

#define N 4096
static uint32_t data[N];
static uint32_t next_idx[N];
static double ma[32][32], mb[32][32], mc[32][32];

static uint32_t fnv(const uint32_t *p, int n)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < n; i++) {
		uint32_t v = p[i];
		for (int k = 0; k < 4; k++) {
			h ^= (v >> (8 * k)) & 0xff;
			h *= 16777619u;
		}
	}
	return h;
}

static void isort(uint32_t *a, int n)
{
	for (int i = 1; i < n; i++) {
		uint32_t v = a[i];
		int j = i - 1;
		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

static uint32_t chase(int steps)
{
	uint32_t i = 0, s = 0;
	for (int k = 0; k < steps; k++) {
		i = next_idx[i];
		s += i;
	}
	return s;
}

static double matmul(void)
{
	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 32; j++) {
			double s = 0;
			for (int k = 0; k < 32; k++)
				s += ma[i][k] * mb[k][j];
			mc[i][j] = s;
		}
	return mc[7][9];
}

int main(void)
{
	uint32_t x = 12345, acc = 0;
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = x;
		next_idx[i] = (uint32_t)((i * 2654435761u + 7) % N);
	}
	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 32; j++) {
			ma[i][j] = (i + j) * 0.5;
			mb[i][j] = (i - j) * 0.25;
		}
	for (int r = 0; r < 400; r++)
		acc += fnv(data, N);
	for (int r = 0; r < 10; r++) {
		uint32_t tmp[1024];
		for (int i = 0; i < 1024; i++)
			tmp[i] = data[(i * 7 + r) % N];
		isort(tmp, 1024);
		acc += tmp[17];
	}
	acc += chase(20000000);
	for (int r = 0; r < 300; r++)
		acc += (uint32_t)matmul();
	return acc == 0xdeadbeef; /* 0 (pass) unless the checksum is that exact value */
}
