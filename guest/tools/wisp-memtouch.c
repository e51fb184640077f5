/*
 * wisp-memtouch: touch guest memory for the balloon tests. Maps MIB MiB of anonymous memory, writes a
 * pattern into every page, reads it back (a mismatch means memory was lost: exit 1), prints
 * "TOUCHED <MIB> OK", then either frees it and exits, or with "hold" keeps it until standard input closes.
 *
 * usage: wisp-memtouch MIB [hold]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: wisp-memtouch MIB [hold]\n");
		return 2;
	}
	size_t mib = strtoul(argv[1], NULL, 10), len = mib << 20, page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("wisp-memtouch: mmap");
		return 1;
	}
	for (size_t off = 0; off < len; off += page)
		for (size_t k = 0; k < page; k += 64)
			*(uint64_t *)(p + off + k) = (off + k) ^ 0x5a5a5a5a5a5a5a5aull;
	for (size_t off = 0; off < len; off += page)
		for (size_t k = 0; k < page; k += 64)
			if (*(uint64_t *)(p + off + k) != ((off + k) ^ 0x5a5a5a5a5a5a5a5aull)) {
				printf("TOUCHED %zu MISMATCH at %zu\n", mib, off + k);
				return 1;
			}
	printf("TOUCHED %zu OK\n", mib);
	fflush(stdout);
	if (argc > 2 && !strcmp(argv[2], "hold")) {
		char c;
		while (read(0, &c, 1) > 0)
			;
	}
	munmap(p, len);
	return 0;
}
