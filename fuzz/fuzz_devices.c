/*
 * Fuzz target: everything a guest reaches besides the CPU and RAM, on a real board (machine__init with a
 * minimal Linux Image header, so the SBI inside the VMM is active): MMIO reads and writes of any size at
 * any address in and around the CLINT, PLIC, UART and syscon windows through the machine's bus dispatch,
 * interrupt lines, UART input, timer updates, SBI calls with arbitrary registers, and HTIF tohost writes
 * with arbitrary syscall blocks.
 *
 * Input: a list of operations (one kind byte, then its operands) until the input ends. Between inputs the
 * devices, the hart and the halt state are reset. Checked after each operation: the PLIC's and UART's state
 * stays within its bounds; ASan/UBSan catch the rest.
 */
#include "board.h"

#define MAX_OPS 256

static struct board board;
static struct machine *m;

int LLVMFuzzerInitialize(int *argc, char **argv[])
{
	(void)argc;
	(void)argv;
	board__create(&board);
	m = board.m;
	return 0;
}

/* Device windows to aim at (offsets go a little past each end); the last entry is "anywhere low".
 * The boot timer's window exists because board.h creates the machine with it. */
static const struct {
	uint64_t base, size;
} windows[] = {
	{ CLINT_BASE, CLINT_SIZE },
	{ PLIC_BASE, PLIC_SIZE },
	{ UART_BASE, UART_SIZE },
	{ SYSCON_BASE, SYSCON_SIZE },
	{ PLIC_BASE + 0x200000, 0x2000 }, /* the PLIC's context registers */
	{ CLINT_BASE + 0x4000, 0x100 },   /* mtimecmp */
	{ CLINT_BASE + 0xbff0, 0x10 },    /* mtime */
	{ BOOTTIMER_BASE, BOOTTIMER_SIZE },
	{ 0, 1ull << 32 },
};
#define NWINDOWS (sizeof(windows) / sizeof(windows[0]))

static uint64_t pick_addr(struct fz *f, unsigned *size)
{
	uint8_t b = fz__u8(f); /* bits 0-1: size, 2-5: window, 6: may be misaligned */
	*size = 1u << (b & 3);
	unsigned w = ((b >> 2) & 15) % NWINDOWS;
	uint64_t span = windows[w].size + 16;
	uint64_t off = fz__u32(f) % span;
	uint64_t addr = windows[w].base + off - (w == NWINDOWS - 1 ? 0 : 8);
	if (!(b & 0x40))
		addr &= ~(uint64_t)(*size - 1); /* mostly aligned: the bus refuses the rest */
	return addr;
}

/* SBI extension IDs worth hitting, plus whatever the input says. */
static const uint64_t sbi_exts[] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x10, 0x54494d45, 0x735049, 0x52464e43, 0x48534d, 0x53525354,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!m)
		LLVMFuzzerInitialize(NULL, NULL);
	struct fz f = { data, size };
	board__reset(&board);
	struct rv_cpu *cpu = m->harts[0];
	uint8_t *ram = m->bus.ram;
	/* A scratch page at the start of RAM for SBI hart masks and HTIF syscall blocks. */
	uint64_t scratch = RAM_BASE;
	memset(ram, 0, PAGE_SIZE);

	for (unsigned n = 0; n < MAX_OPS && fz__left(&f); n++) {
		uint8_t kind = fz__u8(&f);
		unsigned sz;
		uint64_t v, addr;
		switch (kind % 9) {
		case 0: /* MMIO read */
			addr = pick_addr(&f, &sz);
			v = 0xdeadbeef;
			if (m->bus.mmio_read(m->bus.opaque, addr, sz, &v) && sz < 8)
				FUZZ_CHECK(v >> (8 * sz) == 0); /* lbu/lhu/lwu use the value as it comes */
			break;
		case 1: /* MMIO write */
			addr = pick_addr(&f, &sz);
			m->bus.mmio_write(m->bus.opaque, addr, sz, fz__u64(&f));
			break;
		case 2: /* an interrupt line */
			v = fz__u8(&f);
			plic__set_irq(&m->plic, (unsigned)(v & 0x3f), v & 0x40);
			break;
		case 3: { /* host input to the UART */
			uint8_t buf[300];
			unsigned len = fz__u8(&f) + (kind & 0x80 ? 44u : 0u);
			len = (unsigned)fz__copy(&f, buf, len);
			uart__receive(&m->uart, buf, len);
			break;
		}
		case 4: /* time passes: the machine's timer update */
			clint__update(&m->clint, fz__u64(&f));
			break;
		case 5: { /* an SBI call from S-mode */
			uint8_t e = fz__u8(&f);
			cpu->x[17] = e < sizeof(sbi_exts) / sizeof(sbi_exts[0]) * 16 ? sbi_exts[e / 16] : fz__u64(&f);
			cpu->x[16] = fz__u8(&f) % 10;
			for (unsigned i = 10; i < 16; i++) {
				uint8_t b = fz__u8(&f);
				/* small values, scratch pointers or raw words */
				cpu->x[i] = b < 0x80 ? b : b < 0xc0 ? scratch + (b & 0x3f) * 8 : fz__u64(&f);
			}
			unsigned slot = fz__u8(&f) & 0x3f;
			uint64_t word = fz__u64(&f);
			memcpy(ram + 8 * slot, &word, 8); /* e.g. a legacy call's hart mask */
			bool handled = sbi__ecall(m, cpu);
			FUZZ_CHECK(handled);
			break;
		}
		case 6: { /* HTIF: a tohost write */
			m->tohost = scratch + PAGE_SIZE - 16;
			m->fromhost = (kind & 0x80) ? scratch + PAGE_SIZE - 8 : 0;
			/* A syscall block in the scratch page. */
			uint64_t blk[8];
			for (unsigned i = 0; i < 8; i++) {
				uint8_t b = fz__u8(&f);
				blk[i] = b < 0x40 ? b : b < 0x80 ? (b & 1 ? 64 : 93) : b < 0xc0 ? scratch + (b & 0x3f) * 16
											 : fz__u64(&f);
			}
			memcpy(ram + 256, blk, sizeof(blk));
			uint8_t how = fz__u8(&f);
			static const unsigned sizes[4] = { 8, 4, 2, 1 };
			sz = sizes[how & 3];
			addr = m->tohost + ((how >> 2) & 7);
			addr &= ~(uint64_t)(sz - 1);
			v = how & 0x20 ? fz__u64(&f) : (how & 0x40 ? scratch + 256 : (fz__u64(&f) << 1) | 1);
			memcpy(ram + (addr - RAM_BASE), &v, sz); /* the store itself, as the MMU's slow path does */
			htif__write(m, addr, sz, v);
			break;
		}
		case 7: /* the hart looks at its interrupts, as cpu__run does */
			cpu->mie = fz__u16(&f) & 0xaaa;
			cpu->mstatus ^= (fz__u8(&f) & 1) ? MSTATUS_SIE : 0;
			if (cpu__take_interrupt(cpu)) {
				cpu->priv = PRV_S;
				cpu__update_mmu(cpu);
			}
			break;
		case 8: /* S-mode paging on or off (legacy SBI hart masks are virtual addresses) */
			cpu->satp = (fz__u8(&f) & 1) ? (8ull << 60) | (fz__u64(&f) & ((1ull << 44) - 1)) : 0;
			mmu__flush(&cpu->mmu);
			break;
		}
		board__check(&board);
	}
	return 0;
}
