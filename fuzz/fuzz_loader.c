/*
 * Fuzz target: the boot image checks (loader.h) on arbitrary bytes: bare-metal ELF programs, Linux Images,
 * M-mode firmware and initrds, loaded into a 16 MiB guest RAM (the smallest a machine has) mapped once,
 * with an inaccessible guard page on each side so a copy past either end faults at once.
 *
 * Input: one selector byte (which loader; for the initrd also where the kernel ends), then the image.
 * Checked: a successful load reports addresses inside guest RAM (entry aside: a program may jump anywhere)
 * and a tohost that is aligned and in RAM; an initrd lands intact between the kernel and the device tree.
 */
#include <sys/mman.h>

#include "fuzz.h"

#include "machine/loader.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (16ull << 20)

static struct rv_bus bus;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	uint8_t *p = mmap(NULL, RAM_SIZE + 2 * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED || mprotect(p + PAGE_SIZE, RAM_SIZE, PROT_READ | PROT_WRITE) < 0)
		abort();
	bus = (struct rv_bus){ .ram = p + PAGE_SIZE, .ram_base = RAM_BASE, .ram_size = RAM_SIZE, .watch_page = ~0ull };
	return 0;
}

static bool in_ram(uint64_t pa, uint64_t len)
{
	return bus__ram_ptr(&bus, pa, len) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!bus.ram)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	size_t len = size - 1;
	/* A buffer of its own, as read_file() gives the loaders: malloc-aligned and exactly the image's size. */
	uint8_t *img = malloc(len ? len : 1);
	if (!img)
		return 0;
	memcpy(img, data + 1, len);
	char err[512];
	switch (sel & 3) {
	case 0: {
		struct loader_elf e = { 0 };
		if (loader__elf(&bus, img, len, "fuzz.elf", &e, err, sizeof(err)) == 0) {
			if (e.tohost)
				FUZZ_CHECK(in_ram(e.tohost, 8) && (e.tohost & 7) == 0);
		}
		break;
	}
	case 1: {
		uint64_t addr = 0, end = 0;
		if (loader__image(&bus, img, len, "fuzz.Image", RAM_BASE + RAM_SIZE, &addr, &end, err, sizeof(err)) == 0)
			FUZZ_CHECK(addr == RAM_BASE + LOADER_KERNEL_OFFSET && end >= addr + len &&
				   end <= RAM_BASE + RAM_SIZE && in_ram(addr, len));
		break;
	}
	case 2:
		loader__firmware(&bus, img, len, "fuzz.bin", err, sizeof(err));
		break;
	case 3: {
		/* Kernel end and top (the device tree) as a machine would have them, or anywhere. */
		uint64_t kend = RAM_BASE + ((uint64_t)(sel >> 2) << 18);
		uint64_t top = (sel & 0x80) ? RAM_BASE + RAM_SIZE - 0x200000 : RAM_BASE + RAM_SIZE - ((sel >> 2) & 7) * PAGE_SIZE;
		uint64_t start = 0;
		if (loader__initrd(&bus, img, len, "fuzz.cpio", kend, top, &start, err, sizeof(err)) == 0)
			FUZZ_CHECK(start >= kend && start % PAGE_SIZE == 0 && start + len <= top && in_ram(start, len) &&
				   memcmp(bus.ram + (start - RAM_BASE), img, len) == 0);
		break;
	}
	}
	free(img);
	return 0;
}
