/*
 * Boot image checks on images already in host memory (loader.c). loader__load() reads the files named by
 * the machine config and hands their bytes to these; the fuzz targets call them directly on arbitrary bytes.
 * Each validates everything before it writes guest RAM; on error it writes one message to err (naming the
 * image `name`, e.g. its path) and returns -1. It never allocates and never prints.
 */
#ifndef WISP_MACHINE_LOADER_H
#define WISP_MACHINE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "mmu/mmu.h"

#define LOADER_KERNEL_OFFSET 0x200000ull /* RV64 kernels load 2 MiB into RAM; firmware lives below */

struct loader_elf {
	uint64_t entry;
	uint64_t tohost, fromhost; /* HTIF symbols, 0 when absent */
};

/* A bare-metal RV64 ELF executable: copy its PT_LOAD segments to RAM, find tohost/fromhost. */
int loader__elf(struct rv_bus *bus, const uint8_t *img, size_t len, const char *name, struct loader_elf *out, char *err,
		size_t errlen);
/*
 * A RISC-V Linux Image: check its header, that the file is complete (the PE/COFF sections of an EFI stub, or
 * the entry jump, lie inside it) and that its whole footprint (image_size) fits at ram_base + 2 MiB below
 * `top` (the device tree); copy it there. *end = end of its memory footprint.
 */
int loader__image(struct rv_bus *bus, const uint8_t *img, size_t len, const char *name, uint64_t top, uint64_t *addr,
		  uint64_t *end, char *err, size_t errlen);
/* M-mode firmware (OpenSBI fw_jump.bin): copied to ram_base, at most 2 MiB. */
int loader__firmware(struct rv_bus *bus, const uint8_t *img, size_t len, const char *name, char *err, size_t errlen);
/* An initrd: placed as high as possible below `top`, page aligned, above kernel_end. */
int loader__initrd(struct rv_bus *bus, const uint8_t *img, size_t len, const char *name, uint64_t kernel_end,
		   uint64_t top, uint64_t *start, char *err, size_t errlen);

#endif
