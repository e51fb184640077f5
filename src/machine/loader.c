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

/* Read a whole file (at most max bytes). Returns NULL with a message in err on error. */
static uint8_t *read_file(const char *what, const char *path, uint64_t max, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
		return NULL;
	}
	struct stat st;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s '%s' is not a regular file", what, path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s '%s' is %lld bytes, larger than the %llu bytes of guest memory for it", what,
			 path, (long long)st.st_size, (unsigned long long)max);
		goto out;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory reading %s '%s'", what, path);
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			snprintf(err, errlen, "error reading %s '%s'", what, path);
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

static int copy_to_ram(struct rv_bus *bus, const char *what, uint64_t pa, const void *src, uint64_t len, char *err,
		       size_t errlen)
{
	uint8_t *dst = bus__ram_ptr(bus, pa, len);
	if (!dst) {
		snprintf(err, errlen, "%s (%llu bytes at 0x%llx) does not fit in guest memory", what,
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
	uint32_t magic2, res3; /* res3: offset of the PE/COFF header when the kernel has an EFI stub */
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

/*
 * How many bytes the file itself must have, from what it says of itself (0 = it does not say). The Image is
 * shorter than image_size by its BSS, so image_size cannot tell a truncated file; two things can:
 *  - with an EFI stub ("MZ" at 0, a PE header at res3), the end of the last section's raw data;
 *  - the first instruction (at 0, or at 2 after the "MZ" c.li) is the jump to the kernel's entry code,
 *    which lies in the file.
 */
static uint64_t image_needs(const uint8_t *img, size_t len, const struct image_header *h, const char **what)
{
	bool mz = img[0] == 'M' && img[1] == 'Z';
	if (mz && h->res3 >= sizeof(*h) && h->res3 <= len && len - h->res3 >= 24 &&
	    !memcmp(img + h->res3, "PE\0\0", 4)) {
		*what = "PE/COFF sections reach";
		const uint8_t *coff = img + h->res3 + 4;
		unsigned nsec = le16(coff + 2), optsz = le16(coff + 16);
		uint64_t sec = (uint64_t)h->res3 + 24 + optsz, need = sec + (uint64_t)nsec * 40;
		if (nsec > 96 || need > len) {
			*what = "PE/COFF section table ends at";
			return need;
		}
		for (unsigned i = 0; i < nsec; i++) {
			const uint8_t *sh = img + sec + i * 40;
			uint64_t raw_end = (uint64_t)le32(sh + 20) + le32(sh + 16); /* PointerToRawData + SizeOfRawData */
			if (le32(sh + 16) && raw_end > need)
				need = raw_end;
		}
		return need;
	}
	*what = "first instruction jumps to";
	unsigned at = mz ? 2 : 0;
	uint32_t insn = le32(img + at);
	int64_t off;
	if ((insn & 0xfff) == 0x06f) { /* jal x0 */
		off = (int64_t)((insn >> 31) << 20 | ((insn >> 21) & 0x3ff) << 1 | ((insn >> 20) & 1) << 11 |
				((insn >> 12) & 0xff) << 12);
		off -= (insn >> 31) ? 1ll << 21 : 0;
	} else if ((insn & 0xe003) == 0xa001) { /* c.j */
		uint32_t c = insn & 0xffff;
		off = (int64_t)(((c >> 12) & 1) << 11 | ((c >> 11) & 1) << 4 | ((c >> 9) & 3) << 8 |
				((c >> 8) & 1) << 10 | ((c >> 7) & 1) << 6 | ((c >> 6) & 1) << 7 | ((c >> 3) & 7) << 1 |
				((c >> 2) & 1) << 5);
		off -= ((c >> 12) & 1) ? 1ll << 12 : 0;
	} else {
		return 0;
	}
	int64_t target = (int64_t)at + off;
	return target >= 0 ? (uint64_t)target + 2 : 0;
}

int loader__image(struct rv_bus *bus, const uint8_t *img, size_t len, const char *name, uint64_t top, uint64_t *addr,
		  uint64_t *end, char *err, size_t errlen)
{
	uint64_t pa = bus->ram_base + KERNEL_OFFSET;
	uint64_t ram_end = bus->ram_base + bus->ram_size;
	if (top > ram_end)
		top = ram_end;
	uint64_t avail = top > pa ? top - pa : 0;
	struct image_header h;
	if (len < sizeof(h)) {
		snprintf(err, errlen, "kernel '%s' is truncated (%zu bytes): not a RISC-V Linux Image", name, len);
		return -1;
	}
	memcpy(&h, img, sizeof(h));
	if (memcmp(h.magic, "RISCV\0\0\0", 8) != 0 && h.magic2 != 0x05435352) {
		snprintf(err, errlen, "kernel '%s' has no RISC-V Image header (magic \"RISCV\" / \"RSC\\x05\")", name);
		return -1;
	}
	const char *what = "";
	uint64_t needs = image_needs(img, len, &h, &what);
	if (needs > len) {
		snprintf(err, errlen, "kernel '%s' is truncated: %zu bytes, but its %s offset %llu (image_size %llu)",
			 name, len, what, (unsigned long long)needs, (unsigned long long)h.image_size);
		return -1;
	}
	uint64_t size = h.image_size ? h.image_size : len;
	if (size < len) {
		snprintf(err, errlen, "kernel '%s' is %zu bytes, more than the image_size of %llu its header gives", name,
			 len, (unsigned long long)size);
		return -1;
	}
	if (size > avail) {
		snprintf(err, errlen,
			 "kernel '%s' needs %llu bytes of memory at 0x%llx, only %llu are free there (up to 0x%llx): give "
			 "the microVM more memory",
			 name, (unsigned long long)size, (unsigned long long)pa, (unsigned long long)avail,
			 (unsigned long long)top);
		return -1;
	}
	if (copy_to_ram(bus, "kernel", pa, img, len, err, errlen) < 0)
		return -1;
	*addr = pa;
	*end = pa + size;
	return 0;
}

static int load_kernel(struct machine *m, uint64_t *end, char *err, size_t errlen)
{
	size_t len;
	uint64_t avail = m->bus.ram_size - KERNEL_OFFSET;
	uint8_t *img = read_file("kernel", m->cfg.kernel, avail, &len, err, errlen);
	if (!img)
		return -1;
	int ret = loader__image(&m->bus, img, len, m->cfg.kernel, m->dtb_addr, &m->kernel_addr, end, err, errlen);
	free(img);
	return ret;
}

int loader__firmware(struct rv_bus *bus, const uint8_t *img, size_t len, const char *name, char *err, size_t errlen)
{
	if (len > KERNEL_OFFSET) {
		snprintf(err, errlen, "%s '%s' is %lld bytes, larger than the %llu bytes of guest memory for it",
			"firmware", name, (long long)len, (unsigned long long)KERNEL_OFFSET);
		return -1;
	}
	if (len < 16) {
		snprintf(err, errlen, "firmware '%s' is truncated (%zu bytes)", name, len);
		return -1;
	}
	return copy_to_ram(bus, "firmware", bus->ram_base, img, len, err, errlen);
}

static int load_firmware(struct machine *m, char *err, size_t errlen)
{
	size_t len;
	uint8_t *fw = read_file("firmware", m->cfg.firmware, KERNEL_OFFSET, &len, err, errlen);
	if (!fw)
		return -1;
	int ret = loader__firmware(&m->bus, fw, len, m->cfg.firmware, err, errlen);
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

int loader__elf(struct rv_bus *bus, const uint8_t *img, size_t len, const char *path, struct loader_elf *out, char *err,
		size_t errlen)
{
	Elf64_Ehdr eh;
	if (len < sizeof(eh)) {
		snprintf(err, errlen, "'%s' is truncated: too short for an ELF header", path);
		return -1;
	}
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_RISCV) {
		snprintf(err, errlen, "'%s' is not a 64-bit little-endian RISC-V ELF file", path);
		return -1;
	}
	if (eh.e_type != ET_EXEC || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		snprintf(err, errlen, "'%s': not an executable or its program headers are outside the file", path);
		return -1;
	}
	unsigned loaded = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			snprintf(err, errlen, "'%s': segment %u lies outside the file", path, i);
			return -1;
		}
		uint8_t *dst = bus__ram_ptr(bus, ph.p_paddr, ph.p_memsz);
		if (!dst) {
			snprintf(err, errlen, "'%s': segment %u (0x%llx, %llu bytes) is outside guest RAM 0x%llx-0x%llx",
				path, i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz,
				(unsigned long long)bus->ram_base, (unsigned long long)(bus->ram_base + bus->ram_size));
			return -1;
		}
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		loaded++;
	}
	if (!loaded) {
		snprintf(err, errlen, "'%s' has no loadable segments", path);
		return -1;
	}
	out->entry = eh.e_entry;
	out->tohost = elf_symbol(img, len, &eh, "tohost");
	out->fromhost = elf_symbol(img, len, &eh, "fromhost");
	if (out->tohost && (!bus__ram_ptr(bus, out->tohost, 8) || (out->tohost & 7))) {
		snprintf(err, errlen, "'%s': tohost at 0x%llx is not an aligned RAM address", path,
			(unsigned long long)out->tohost);
		return -1;
	}
	return 0;
}

static int load_elf(struct machine *m, char *err, size_t errlen)
{
	size_t len;
	const char *path = m->cfg.elf;
	uint8_t *img = read_file("ELF program", path, 1ull << 32, &len, err, errlen);
	if (!img)
		return -1;
	struct loader_elf e;
	int ret = loader__elf(&m->bus, img, len, path, &e, err, errlen);
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
		   uint64_t top, uint64_t *start, char *err, size_t errlen)
{
	/* As high as possible below the device tree, page aligned, above the kernel. */
	uint64_t pa = ALIGN_DOWN(top - len, PAGE_SIZE);
	if (top < bus->ram_base || len > top - bus->ram_base || pa < kernel_end) {
		snprintf(err, errlen, "initrd '%s' (%zu bytes) does not fit in guest memory beside the kernel", name,
			len);
		return -1;
	}
	if (copy_to_ram(bus, "initrd", pa, img, len, err, errlen) < 0)
		return -1;
	*start = pa;
	return 0;
}

static int load_initrd(struct machine *m, uint64_t kernel_end, uint64_t top, char *err, size_t errlen)
{
	size_t len;
	uint8_t *rd = read_file("initrd", m->cfg.initrd, m->bus.ram_size, &len, err, errlen);
	if (!rd)
		return -1;
	int ret = loader__initrd(&m->bus, rd, len, m->cfg.initrd, kernel_end, top, &m->initrd_start, err, errlen);
	if (ret == 0)
		m->initrd_end = m->initrd_start + len;
	free(rd);
	return ret;
}

int loader__load(struct machine *m, char *err, size_t errlen)
{
	const struct machine_config *c = &m->cfg;
	uint64_t ram_end = m->bus.ram_base + m->bus.ram_size;
	uint64_t kernel_end = m->bus.ram_base;
	/* The device tree goes in the last 2 MiB-aligned block of RAM, as QEMU does. */
	m->dtb_addr = ALIGN_DOWN(ram_end - FDT_MAX, 0x200000);

	if (c->elf) {
		if (c->kernel || c->firmware || c->initrd) {
			snprintf(err, errlen, "--elf runs a bare program: it takes no --kernel, --initrd or --firmware");
			return -1;
		}
		if (load_elf(m, err, errlen) < 0)
			return -1;
	} else {
		if (!c->kernel) {
			snprintf(err, errlen, "nothing to boot: give --kernel IMAGE (or --elf PROGRAM)");
			return -1;
		}
		if (c->firmware && load_firmware(m, err, errlen) < 0)
			return -1;
		if (load_kernel(m, &kernel_end, err, errlen) < 0)
			return -1;
		m->entry = c->firmware ? m->bus.ram_base : m->kernel_addr;
		if (c->initrd && load_initrd(m, kernel_end, m->dtb_addr, err, errlen) < 0)
			return -1;
	}

	uint8_t *fdt = bus__ram_ptr(&m->bus, m->dtb_addr, FDT_MAX);
	int fdt_err = fdt ? fdt__build(m, fdt, FDT_MAX) : -1;
	if (fdt_err < 0) {
		snprintf(err, errlen, "cannot build the device tree (error %d)", fdt_err);
		return -1;
	}
	if (c->dump_dtb) {
		FILE *f = fopen(c->dump_dtb, "wb");
		size_t n = fdt_totalsize(fdt);
		bool ok = f && fwrite(fdt, 1, n, f) == n;
		if (f && fclose(f) != 0)
			ok = false;
		if (!ok) {
			snprintf(err, errlen, "cannot write device tree to '%s': %s", c->dump_dtb, strerror(errno));
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
			cpu__update_mmu(cpu);
		}
	}
	return 0;
}
