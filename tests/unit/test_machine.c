/*
 * The board around the hart: the Linux Image checks of the loader (truncated files, kernels that do not fit
 * at their load address, messages returned rather than printed) and the hart run loop's detection of a hart
 * that can make no progress.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "machine/loader.h"
#include "machine/machine.h"

#define MEM (16ull << 20)
#define KERNEL_PA (RAM_BASE + LOADER_KERNEL_OFFSET)

/* ---- Linux Image checks ---- */

static struct rv_bus *new_bus(void)
{
	struct rv_bus *bus = calloc(1, sizeof(*bus));
	assert_non_null(bus);
	bus->ram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(bus->ram != MAP_FAILED);
	bus->ram_base = RAM_BASE;
	bus->ram_size = MEM;
	bus->watch_page = ~0ull;
	return bus;
}

static void free_bus(struct rv_bus *bus)
{
	munmap(bus->ram, MEM);
	free(bus);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* A file of len bytes with an Image header: first instruction code0, the given image_size (0 = none). */
static uint8_t *image(size_t len, uint32_t code0, uint64_t image_size)
{
	uint8_t *img = calloc(1, len);
	assert_non_null(img);
	put32(img, code0);
	put64(img + 8, LOADER_KERNEL_OFFSET);
	put64(img + 16, image_size);
	memcpy(img + 48, "RISCV\0\0\0", 8);
	memcpy(img + 56, "RSC\x05", 4);
	return img;
}

static int load(struct rv_bus *bus, const uint8_t *img, size_t len, uint64_t top, char *err, size_t n)
{
	uint64_t addr = 0, end = 0;
	err[0] = 0;
	int r = loader__image(bus, img, len, "k.img", top, &addr, &end, err, n);
	if (r == 0) {
		assert_true(addr == KERNEL_PA);
		assert_true(end >= addr + len);
		assert_memory_equal(bus->ram + LOADER_KERNEL_OFFSET, img, len);
	}
	return r;
}

#define JAL_X0(off)                                                                                                    \
	((((uint32_t)(off) >> 20) & 1) << 31 | (((uint32_t)(off) >> 1) & 0x3ff) << 21 |                                \
	 (((uint32_t)(off) >> 11) & 1) << 20 | (((uint32_t)(off) >> 12) & 0xff) << 12 | 0x6f)

static void test_image_minimal(void **state)
{
	(void)state;
	struct rv_bus *bus = new_bus();
	char err[256];
	/* A bare header says nothing about its length (the fuzz board boots such a file). */
	uint8_t *img = image(64, 0, 0);
	assert_int_equal(load(bus, img, 64, RAM_BASE + MEM, err, sizeof(err)), 0);
	free(img);
	/* Shorter than the header. */
	img = image(64, 0, 0);
	assert_int_equal(load(bus, img, 40, RAM_BASE + MEM, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "k.img"));
	assert_non_null(strstr(err, "truncated"));
	free(img);
	free_bus(bus);
}

/* `head -c N Image`: the entry jump (at 0) lands past the end of the file. */
static void test_image_truncated_jump(void **state)
{
	(void)state;
	struct rv_bus *bus = new_bus();
	char err[256];
	uint8_t *img = image(0x3000, JAL_X0(0x1000), 0x4000);
	assert_int_equal(load(bus, img, 0x1000, RAM_BASE + MEM, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "kernel 'k.img' is truncated: 4096 bytes"));
	assert_int_equal(load(bus, img, 0x1001, RAM_BASE + MEM, err, sizeof(err)), -1);
	/* The whole file (BSS beyond it is fine: image_size is larger). */
	assert_int_equal(load(bus, img, 0x3000, RAM_BASE + MEM, err, sizeof(err)), 0);
	free(img);
	/* A compressed c.j forward by 0x40. */
	img = image(0x100, 0xa081, 0);
	assert_int_equal(load(bus, img, 64, RAM_BASE + MEM, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(load(bus, img, 0x100, RAM_BASE + MEM, err, sizeof(err)), 0);
	free(img);
	/* A backward jump says nothing. */
	img = image(64, JAL_X0(-8), 0);
	assert_int_equal(load(bus, img, 64, RAM_BASE + MEM, err, sizeof(err)), 0);
	free(img);
	free_bus(bus);
}

/* An EFI-stub kernel ("MZ", a PE header at res3): its sections' raw data must be in the file. */
static void test_image_truncated_pe(void **state)
{
	(void)state;
	struct rv_bus *bus = new_bus();
	char err[256];
	size_t full = 0x3000;
	uint8_t *img = image(full, 0, 0x5000);
	img[0] = 'M';
	img[1] = 'Z';
	put32(img + 2, JAL_X0(0x40)); /* the jump after "MZ" */
	put32(img + 60, 0x40);	      /* res3: the PE header */
	uint8_t *pe = img + 0x40;
	memcpy(pe, "PE\0\0", 4);
	pe[4 + 2] = 2;	  /* two sections */
	pe[4 + 16] = 0xa0; /* optional header size */
	uint8_t *sec = pe + 24 + 0xa0;
	memcpy(sec, ".text", 5);
	put32(sec + 16, 0x1000); /* SizeOfRawData */
	put32(sec + 20, 0x1000); /* PointerToRawData */
	memcpy(sec + 40, ".data", 5);
	put32(sec + 40 + 16, 0x1000);
	put32(sec + 40 + 20, 0x2000);
	assert_int_equal(load(bus, img, full, RAM_BASE + MEM, err, sizeof(err)), 0);
	assert_int_equal(load(bus, img, full - 1, RAM_BASE + MEM, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "PE/COFF sections reach offset 12288"));
	/* Cut inside the section table. */
	assert_int_equal(load(bus, img, 0x100, RAM_BASE + MEM, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "section table"));
	free(img);
	free_bus(bus);
}

/* The kernel's footprint (image_size, BSS included) must fit at RAM + 2 MiB below the device tree. */
static void test_image_does_not_fit(void **state)
{
	(void)state;
	struct rv_bus *bus = new_bus();
	char err[256];
	uint64_t top = RAM_BASE + MEM - 0x200000; /* where a 16 MiB machine puts its device tree */
	uint64_t room = top - KERNEL_PA;
	uint8_t *img = image(4096, 0, room + 1);
	assert_int_equal(load(bus, img, 4096, top, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more memory"));
	put64(img + 16, room);
	assert_int_equal(load(bus, img, 4096, top, err, sizeof(err)), 0);
	/* An image_size smaller than the file itself is a broken header. */
	put64(img + 16, 100);
	assert_int_equal(load(bus, img, 4096, top, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "image_size"));
	free(img);
	free_bus(bus);
}

static void no_console(void *opaque, uint8_t c)
{
	(void)opaque;
	(void)c;
}

/* The same checks through machine__init, as the CLI and InstanceStart reach them: the message comes back. */
static void test_machine_init_message(void **state)
{
	(void)state;
	char path[] = "/tmp/wisp-test-image-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	uint8_t *img = image(4096, 0, 15ull << 20); /* 15 MiB of kernel in a 16 MiB machine */
	assert_int_equal(write(fd, img, 4096), 4096);
	close(fd);
	free(img);
	struct machine *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	struct machine_config cfg = { .mem_mib = 16, .cpus = 1, .kernel = path, .cmdline = "" };
	char err[512] = "";
	assert_int_equal(machine__init(m, &cfg, no_console, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "needs 15728640 bytes of memory at 0x80200000"));
	machine__exit(m);
	unlink(path);

	cfg.kernel = "/nonexistent/kernel";
	assert_int_equal(machine__init(m, &cfg, no_console, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open kernel '/nonexistent/kernel'"));
	machine__exit(m);
	free(m);
}

/* ---- the run loop: a hart that can make no progress ---- */

static struct machine *bare_machine(const uint32_t *code, unsigned n)
{
	struct machine *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	struct machine_config cfg = { .mem_mib = 16, .cpus = 1, .restore = true };
	assert_int_equal(machine__init(m, &cfg, no_console, NULL, NULL, 0), 0);
	memcpy(m->bus.ram, code, n * sizeof(*code));
	cpu__reset(m->harts[0], RAM_BASE); /* M-mode, mtvec = 0 */
	return m;
}

static void test_stuck_hart(void **state)
{
	(void)state;
	/* An illegal instruction with mtvec = 0: the handler's fetch faults, and so on forever. */
	static const uint32_t code[] = { 0x00000013 /* nop */, 0 };
	struct machine *m = bare_machine(code, 2);
	assert_int_equal(machine__run_hart(m, 0), MACHINE_EXIT_STUCK);
	assert_true(m->failed);
	assert_ptr_equal(m->exit_why, m->fault);
	assert_non_null(strstr(m->fault, "hart 0 can make no progress"));
	assert_non_null(strstr(m->fault, "instruction access fault (cause 1) at pc 0x0"));
	assert_non_null(strstr(m->fault, "M-mode whose trap vector is 0x0"));
	assert_non_null(strstr(m->fault, "the first: illegal instruction (cause 2) at pc 0x80000004"));
	assert_true(m->harts[0]->exceptions >= MACHINE_STUCK_EXCEPTIONS);
	machine__exit(m);
	free(m);

	/* Delegated to S-mode with stvec = 0 (a kernel's trap vector not set yet). */
	m = bare_machine(code, 2);
	struct rv_cpu *cpu = m->harts[0];
	cpu->priv = PRV_S;
	cpu->medeleg = 0xb1ff;
	cpu__update_mmu(cpu);
	assert_int_equal(machine__run_hart(m, 0), MACHINE_EXIT_STUCK);
	assert_non_null(strstr(m->fault, "S-mode whose trap vector is 0x0"));
	machine__exit(m);
	free(m);
}

/* Many exceptions whose handler runs (retires instructions) are progress: the guest powers off normally. */
static void test_exceptions_with_progress(void **state)
{
	(void)state;
	static const uint32_t code[] = {
		0x02800293, /* li t0, 40 */
		0x00000073, /* 1: ecall (M-mode: to the handler at 0x24) */
		0xfff28293, /* addi t0, t0, -1 */
		0xfe029ce3, /* bnez t0, 1b */
		0x00100337, /* lui t1, 0x100 (syscon) */
		0x000053b7, /* lui t2, 0x5 */
		0x55538393, /* addi t2, t2, 0x555 */
		0x00732023, /* sw t2, 0(t1): poweroff */
		0x0000006f, /* j . */
		0x34102e73, /* handler: csrr t3, mepc */
		0x004e0e13, /* addi t3, t3, 4 */
		0x341e1073, /* csrw mepc, t3 */
		0x30200073, /* mret */
	};
	struct machine *m = bare_machine(code, sizeof(code) / sizeof(code[0]));
	m->harts[0]->mtvec = RAM_BASE + 0x24;
	assert_int_equal(machine__run_hart(m, 0), 0);
	assert_false(m->failed);
	assert_string_equal(m->exit_why, "poweroff");
	assert_true(m->harts[0]->exceptions == 40);
	machine__exit(m);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_minimal),
		cmocka_unit_test(test_image_truncated_jump),
		cmocka_unit_test(test_image_truncated_pe),
		cmocka_unit_test(test_image_does_not_fit),
		cmocka_unit_test(test_machine_init_message),
		cmocka_unit_test(test_stuck_hart),
		cmocka_unit_test(test_exceptions_with_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
