/*
 * Boot images: Linux `Image` (+ initrd), M-mode firmware (OpenSBI fw_jump), bare ELF programs.
 * Every image is checked before anything is copied into guest memory.
 */
#include <elf.h>
#include <libfdt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/loader.h"
#include "machine/machine.h"

#define KERNEL_OFFSET LOADER_KERNEL_OFFSET
#define FDT_MAX 0x10000ull
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))

/* Read a whole file (at most max bytes). Returns NULL with a message on error. */
static uint8_t *read_file(const char *what, const char *path, uint64_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "wisp: cannot open %s '%s': %s\n", what, path, strerror(errno));
		return NULL;
	}
	struct stat st;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "wisp: %s '%s' is not a regular file\n", what, path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		fprintf(stderr, "wisp: %s '%s' is %lld bytes, larger than the %llu bytes of guest memory for it\n",
			what, path, (long long)st.st_size, (unsigned long long)max);
		goto out;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		fprintf(stderr, "wisp: out of memory reading %s\n", what);
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			fprintf(stderr, "wisp: error reading %s '%s'\n", what, path);
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	*len = got;
out:
	close(fd);
	return buf;
}

static int copy_to_ram(struct rv_bus *bus, const char *what, uint64_t pa, const void *src, uint64_t len)
{
	uint8_t *dst = bus__ram_ptr(bus, pa, len);
	if (!dst) {
		fprintf(stderr, "wisp: %s (%llu bytes at 0x%llx) does not fit in guest memory\n", what,
			(unsigned long long)len, (unsigned long long)pa);
		return -1;
	}
	memcpy(dst, src, len);
	return 0;
}

/* Linux RISC-V Image header (Documentation/riscv/boot-image-header.rst). */
struct image_header {
	uint32_t code0, code1;
	uint64_t text_offset, image_size, flags;
	uint32_t version, res1;
	uint64_t res2;
	char magic[8];
	uint32_t magic2, res3;
};

int loader__image(struct rv_bus *bus, const uint8_t *img, size_t len, const char *name, uint64_t *addr,
		  uint64_t *end)
{
	uint64_t avail = bus->ram_size > KERNEL_OFFSET ? bus->ram_size - KERNEL_OFFSET : 0;
	struct image_header h;
	if (len < sizeof(h)) {
		fprintf(stderr, "wisp: kernel '%s' is truncated (%zu bytes): not a RISC-V Linux Image\n", name, len);
		return -1;
	}
	memcpy(&h, img, sizeof(h));
	if (memcmp(h.magic, "RISCV\0\0\0", 8) != 0 && h.magic2 != 0x05435352) {
		fprintf(stderr, "wisp: kernel '%s' has no RISC-V Image header (magic \"RISCV\" / \"RSC\\x05\")\n",
			name);
		return -1;
	}
	uint64_t size = h.image_size ? h.image_size : len;
	if (size < len || size > avail) {
		fprintf(stderr, "wisp: kernel '%s' needs %llu bytes of memory, %llu available\n", name,
			(unsigned long long)size, (unsigned long long)avail);
		return -1;
	}
	uint64_t pa = bus->ram_base + KERNEL_OFFSET;
	if (copy_to_ram(bus, "kernel", pa, img, len) < 0)
		return -1;
	*addr = pa;
	*end = pa + size;
	return 0;
}

static int load_kernel(struct machine *m, uint64_t *end)
{
	size_t len;
	uint64_t avail = m->bus.ram_size - KERNEL_OFFSET;
	uint8_t *img = read_file("kernel", m->cfg.kernel, avail, &len);
	if (!img)
		return -1;
	int ret = loader__image(&m->bus, img, len, m->cfg.kernel, &m->kernel_addr, end);
	free(img);
	return ret;
}

int loader__firmware(struct rv_bus *bus, const uint8_t *img, size_t len, const char *name)
{
	if (len > KERNEL_OFFSET) {
		fprintf(stderr, "wisp: %s '%s' is %lld bytes, larger than the %llu bytes of guest memory for it\n",
			"firmware", name, (long long)len, (unsigned long long)KERNEL_OFFSET);
		return -1;
	}
	if (len < 16) {
		fprintf(stderr, "wisp: firmware '%s' is truncated (%zu bytes)\n", name, len);
		return -1;
	}
	return copy_to_ram(bus, "firmware", bus->ram_base, img, len);
}

static int load_firmware(struct machine *m)
{
	size_t len;
	uint8_t *fw = read_file("firmware", m->cfg.firmware, KERNEL_OFFSET, &len);
	if (!fw)
		return -1;
	int ret = loader__firmware(&m->bus, fw, len, m->cfg.firmware);
	free(fw);
	return ret;
}

/*
 * Find a symbol's value in an ELF64 image already checked by loader__elf. Returns 0 if absent. Only the
 * first SHT_SYMTAB counts (an ELF file has at most one): scanning every section header that claims to be
 * one would make a crafted file cost (number of headers) x (symbols) steps.
 */
static uint64_t elf_symbol(const uint8_t *img, size_t len, const Elf64_Ehdr *eh, const char *name)
{
	if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > len ||
	    (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > len - eh->e_shoff)
		return 0;
	/* Copied out, not cast: the file's offsets need not be aligned. */
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		Elf64_Shdr sh, strs;
		memcpy(&sh, img + eh->e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= eh->e_shnum)
			continue;
		memcpy(&strs, img + eh->e_shoff + sh.sh_link * sizeof(strs), sizeof(strs));
		if (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset || strs.sh_offset > len ||
		    strs.sh_size > len - strs.sh_offset)
			return 0;
		const char *str = (const char *)(img + strs.sh_offset);
		for (size_t j = 0; j < sh.sh_size / sizeof(Elf64_Sym); j++) {
			Elf64_Sym sym;
			memcpy(&sym, img + sh.sh_offset + j * sizeof(sym), sizeof(sym));
			if (sym.st_name >= strs.sh_size)
				continue;
			const char *s = str + sym.st_name;
			size_t room = strs.sh_size - sym.st_name;
			if (strnlen(s, room) < room && strcmp(s, name) == 0)
				return sym.st_value;
		}
		break;
	}
	return 0;
}

int loader__elf(struct rv_bus *bus, const uint8_t *img, size_t len, const char *path, struct loader_elf *out)
{
	Elf64_Ehdr eh;
	if (len < sizeof(eh)) {
		fprintf(stderr, "wisp: '%s' is truncated: too short for an ELF header\n", path);
		return -1;
	}
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_RISCV) {
		fprintf(stderr, "wisp: '%s' is not a 64-bit little-endian RISC-V ELF file\n", path);
		return -1;
	}
	if (eh.e_type != ET_EXEC || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		fprintf(stderr, "wisp: '%s': not an executable or its program headers are outside the file\n", path);
		return -1;
	}
	unsigned loaded = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			fprintf(stderr, "wisp: '%s': segment %u lies outside the file\n", path, i);
			return -1;
		}
		uint8_t *dst = bus__ram_ptr(bus, ph.p_paddr, ph.p_memsz);
		if (!dst) {
			fprintf(stderr, "wisp: '%s': segment %u (0x%llx, %llu bytes) is outside guest RAM 0x%llx-0x%llx\n",
				path, i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz,
				(unsigned long long)bus->ram_base, (unsigned long long)(bus->ram_base + bus->ram_size));
			return -1;
		}
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		loaded++;
	}
	if (!loaded) {
		fprintf(stderr, "wisp: '%s' has no loadable segments\n", path);
		return -1;
	}
	out->entry = eh.e_entry;
	out->tohost = elf_symbol(img, len, &eh, "tohost");
	out->fromhost = elf_symbol(img, len, &eh, "fromhost");
	if (out->tohost && (!bus__ram_ptr(bus, out->tohost, 8) || (out->tohost & 7))) {
		fprintf(stderr, "wisp: '%s': tohost at 0x%llx is not an aligned RAM address\n", path,
			(unsigned long long)out->tohost);
		return -1;
	}
	return 0;
}

static int load_elf(struct machine *m)
{
	size_t len;
	const char *path = m->cfg.elf;
	uint8_t *img = read_file("ELF program", path, 1ull << 32, &len);
	if (!img)
		return -1;
	struct loader_elf e;
	int ret = loader__elf(&m->bus, img, len, path, &e);
	free(img);
	if (ret < 0)
		return -1;
	m->entry = e.entry;
	m->tohost = e.tohost;
	m->fromhost = e.fromhost;
	if (m->tohost)
		m->bus.watch_page = m->tohost & PAGE_MASK;
	return 0;
}

int loader__initrd(struct rv_bus *bus, const uint8_t *img, size_t len, const char *name, uint64_t kernel_end,
		   uint64_t top, uint64_t *start)
{
	/* As high as possible below the device tree, page aligned, above the kernel. */
	uint64_t pa = ALIGN_DOWN(top - len, PAGE_SIZE);
	if (top < bus->ram_base || len > top - bus->ram_base || pa < kernel_end) {
		fprintf(stderr, "wisp: initrd '%s' (%zu bytes) does not fit in guest memory beside the kernel\n", name,
			len);
		return -1;
	}
	if (copy_to_ram(bus, "initrd", pa, img, len) < 0)
		return -1;
	*start = pa;
	return 0;
}

static int load_initrd(struct machine *m, uint64_t kernel_end, uint64_t top)
{
	size_t len;
	uint8_t *rd = read_file("initrd", m->cfg.initrd, m->bus.ram_size, &len);
	if (!rd)
		return -1;
	int ret = loader__initrd(&m->bus, rd, len, m->cfg.initrd, kernel_end, top, &m->initrd_start);
	if (ret == 0)
		m->initrd_end = m->initrd_start + len;
	free(rd);
	return ret;
}

int loader__load(struct machine *m)
{
	const struct machine_config *c = &m->cfg;
	uint64_t ram_end = m->bus.ram_base + m->bus.ram_size;
	uint64_t kernel_end = m->bus.ram_base;
	/* The device tree goes in the last 2 MiB-aligned block of RAM, as QEMU does. */
	m->dtb_addr = ALIGN_DOWN(ram_end - FDT_MAX, 0x200000);

	if (c->elf) {
		if (c->kernel || c->firmware || c->initrd) {
			fprintf(stderr, "wisp: --elf runs a bare program: it takes no --kernel, --initrd or --firmware\n");
			return -1;
		}
		if (load_elf(m) < 0)
			return -1;
	} else {
		if (!c->kernel) {
			fprintf(stderr, "wisp: nothing to boot: give --kernel IMAGE (or --elf PROGRAM)\n");
			return -1;
		}
		if (c->firmware && load_firmware(m) < 0)
			return -1;
		if (load_kernel(m, &kernel_end) < 0)
			return -1;
		m->entry = c->firmware ? m->bus.ram_base : m->kernel_addr;
		if (c->initrd && load_initrd(m, kernel_end, m->dtb_addr) < 0)
			return -1;
	}

	uint8_t *fdt = bus__ram_ptr(&m->bus, m->dtb_addr, FDT_MAX);
	int err = fdt ? fdt__build(m, fdt, FDT_MAX) : -1;
	if (err < 0) {
		fprintf(stderr, "wisp: cannot build the device tree (error %d)\n", err);
		return -1;
	}
	if (c->dump_dtb) {
		FILE *f = fopen(c->dump_dtb, "wb");
		size_t n = fdt_totalsize(fdt);
		if (!f || fwrite(fdt, 1, n, f) != n || fclose(f) != 0) {
			fprintf(stderr, "wisp: cannot write device tree to '%s': %s\n", c->dump_dtb, strerror(errno));
			return -1;
		}
	}

	for (unsigned i = 0; i < m->nharts; i++) {
		struct rv_cpu *cpu = m->harts[i];
		cpu__reset(cpu, m->entry);
		cpu->x[10] = i;           /* a0: hart id */
		cpu->x[11] = m->dtb_addr; /* a1: device tree */
		if (m->sbi) {
			/* What firmware would leave behind: S-mode, traps and interrupts delegated, counters open. */
			cpu->priv = PRV_S;
			cpu->medeleg = 0xb1ff;
			cpu->mideleg = MIP_SSIP | MIP_STIP | MIP_SEIP;
			cpu->mcounteren = 0xffffffff;
			mmu__update_ctx(cpu);
		}
	}
	return 0;
}
