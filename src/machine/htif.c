/*
 * HTIF, the host-target interface of bare-metal RISC-V test programs: the program writes a
 * command to the 64-bit `tohost` word. device 0: odd value = exit with status value >> 1, even
 * value = pointer to a syscall block (write and exit are served); device 1 command 1 = putchar.
 */
#include <stdio.h>
#include <string.h>

#include "machine/machine.h"

#define SYS_WRITE 64
#define SYS_EXIT 93

static void put_u64(struct machine *m, uint64_t pa, uint64_t v)
{
	uint8_t *p = bus__ram_ptr(&m->bus, pa, 8);
	if (p)
		memcpy(p, &v, 8);
}

static int64_t syscall_block(struct machine *m, uint64_t pa)
{
	uint64_t args[8];
	uint8_t *p = bus__ram_ptr(&m->bus, pa, sizeof(args));
	if (!p)
		return -14; /* EFAULT */
	memcpy(args, p, sizeof(args));
	switch (args[0]) {
	case SYS_WRITE: {
		uint8_t *buf = bus__ram_ptr(&m->bus, args[2], args[3]);
		if (!buf)
			return -14;
		if (args[1] != 1 && args[1] != 2)
			return -9; /* EBADF */
		for (uint64_t i = 0; i < args[3]; i++)
			m->console(m->console_opaque, buf[i]);
		return (int64_t)args[3];
	}
	case SYS_EXIT:
		machine__halt(m, (int)(args[1] & 0xff), "program exit");
		return 0;
	}
	return -38; /* ENOSYS */
}

bool htif__write(void *opaque, uint64_t paddr, unsigned size, uint64_t val)
{
	struct machine *m = opaque;
	if (!m->tohost || paddr < m->tohost || paddr >= m->tohost + 8)
		return true;
	if (size < 8) {
		/* A 32-bit program writes the low half first and the high half second. */
		uint8_t *p = bus__ram_ptr(&m->bus, m->tohost, 8);
		if (paddr != m->tohost + 4 && !(paddr == m->tohost && ((val >> 32) || size == 8)))
			return true;
		memcpy(&val, p, 8);
	}
	if (val == 0)
		return true;
	unsigned dev = (unsigned)(val >> 56), cmd = (unsigned)((val >> 48) & 0xff);
	uint64_t payload = val & ((1ull << 48) - 1);
	put_u64(m, m->tohost, 0);
	if (dev == 0 && cmd == 0) {
		if (payload & 1) {
			int code = (int)(payload >> 1);
			machine__halt(m, code > 255 ? 255 : code, code ? "test failed" : "test passed");
			return true;
		}
		int64_t r = syscall_block(m, payload);
		put_u64(m, payload, (uint64_t)r);
		if (m->fromhost)
			put_u64(m, m->fromhost, 1);
	} else if (dev == 1 && cmd == 1) {
		m->console(m->console_opaque, (uint8_t)payload);
		if (m->fromhost)
			put_u64(m, m->fromhost, (1ull << 56) | (1ull << 48));
	}
	return true;
}
