/* The `virt`-compatible board: RAM, CLINT, PLIC, UART, syscon, the SBI and the boot loaders. */
#ifndef WISP_MACHINE_H
#define WISP_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "machine/boottimer.h"
#include "machine/clint.h"
#include "machine/devices.h"
#include "machine/plic.h"
#include "machine/syscon.h"
#include "machine/uart.h"

#define RAM_BASE 0x80000000ull
#define VIRTIO_BASE 0x10001000ull
#define VIRTIO_STRIDE 0x1000ull
#define VIRTIO_SLOTS 8
#define VIRTIO_IRQ0 1
#define TIMEBASE_HZ 10000000ull
#define MAX_MMIO 32
#define MIN_MEM_MIB 16
#define MAX_MEM_MIB (64 * 1024)
#define MACHINE_MAX_CPUS CLINT_MAX_HARTS

/* SBI HSM hart states (the values hart_get_status returns). */
enum hart_status {
	HART_STARTED = 0,
	HART_STOPPED = 1,
	HART_START_PENDING = 2,
	HART_STOP_PENDING = 3,
	HART_SUSPENDED = 4,
};

/* One hart's thread and life cycle (guarded by machine.lock). */
struct hart_ctl {
	enum hart_status status;
	uint64_t start_addr, start_opaque; /* for HART_START_PENDING */
	pthread_cond_t wake;               /* the hart's thread sleeps on it (stopped, WFI, parked) */
	/* Metrics. */
	_Atomic uint64_t wfi_ns, exits_budget, exits_wfi, exits_halt;
	_Atomic uint64_t ipis_sent, remote_fences; /* SBI IPIs and remote fences this hart asked for */
};

struct machine;

struct machine_config {
	uint64_t mem_mib;
	unsigned cpus;
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	const char *firmware; /* M-mode firmware (OpenSBI fw_jump); NULL = SBI inside the VMM */
	const char *elf;      /* bare-metal ELF with HTIF tohost; replaces kernel */
	const char *dump_dtb;
	bool boot_timer; /* add the boot timer device (--boot-timer) */
	struct logger *log; /* the VMM's logger (the boot timer's line); may be NULL */
	bool has_cpu_backend; /* else every hart runs cpu__init's default */
	enum rv_backend cpu_backend;
	/*
	 * Called once the board exists and before the device tree is built: the VMM adds its own devices
	 * (virtio-mmio slots) here with machine__add_mmio. Optional; returns -1 with a message in err to fail
	 * machine__init.
	 */
	int (*attach_devices)(struct machine *m, void *opaque, char *err, size_t errlen);
	void *attach_opaque;
	/* Snapshot restore (src/snapshot): load nothing; RAM, harts and devices come from the snapshot. */
	bool restore;
};

struct mmio_region {
	uint64_t base, size;
	const struct mmio_ops *ops;
	void *dev;
	const char *name;
};

struct machine {
	struct machine_config cfg;
	struct rv_bus bus;
	struct rv_cpu *harts[CLINT_MAX_HARTS];
	unsigned nharts;
	struct mmio_region mmio[MAX_MMIO];
	unsigned nmmio;
	struct clint clint;
	struct plic plic;
	struct uart uart;
	struct syscon syscon;
	struct boottimer boottimer;

	/* The SBI inside the VMM: per-hart supervisor timer deadline. */
	bool sbi;
	uint64_t sbi_timecmp[CLINT_MAX_HARTS];
	/* HTIF (bare ELF programs). */
	uint64_t tohost, fromhost;

	/* Guest time: ticks of TIMEBASE_HZ since start, frozen while paused. */
	uint64_t clock_start_ns;
	uint64_t paused_at_ns; /* when the current pause began (clock frozen), 0 when running */

	/* Pause protocol: a controller sets pause_req; each hart parks (or, stopped, waits) and counts itself
	 * in `quiet`; the controller waits on `wake` until every hart is quiet. */
	atomic_bool pause_req;
	unsigned quiet;
	struct hart_ctl hctl[CLINT_MAX_HARTS];

	pthread_mutex_t lock;
	pthread_cond_t wake; /* for threads waiting on the machine (pause, halt, timeout) */
	atomic_bool halted;
	int exit_code;
	const char *exit_why;
	/* A hart could make no progress (see machine__run_hart): exit_why points to fault, which says why. */
	bool failed;
	char fault[320];

	/* Console output (UART transmit, SBI putchar, HTIF). */
	void (*console)(void *opaque, uint8_t c);
	void *console_opaque;

	/* Boot layout, for the device tree and reports. */
	uint64_t entry, dtb_addr, initrd_start, initrd_end, kernel_addr;

	/* Snapshots (src/snapshot): RAM pages mapped from memory files (bitmap; NULL = anonymous RAM). Freed,
	 * with bus.dirty, by machine__exit. */
	uint64_t *ram_file_pages;
};

/* Create the board and load images per cfg. On error writes a message to err and returns -1. */
int machine__init(struct machine *m, const struct machine_config *cfg, void (*console)(void *, uint8_t),
		  void *console_opaque, char *err, size_t errlen);
void machine__exit(struct machine *m);

/* Register a device window. Returns -1 if full or overlapping. */
int machine__add_mmio(struct machine *m, uint64_t base, uint64_t size, const struct mmio_ops *ops, void *dev,
		      const char *name);

/* Guest time in timebase ticks. */
uint64_t machine__ticks(struct machine *m);

/*
 * Run hart `id` until the machine halts; returns the exit code. A hart that takes MACHINE_STUCK_EXCEPTIONS
 * exceptions in a row without retiring an instruction in between (its trap vector faults, e.g. mtvec/stvec
 * 0 where there is no memory) can never make progress: the machine halts with MACHINE_EXIT_STUCK, failed
 * set and the pc and cause of the first and last exceptions in fault.
 */
#define MACHINE_STUCK_EXCEPTIONS 32
#define MACHINE_EXIT_STUCK 1
int machine__run_hart(struct machine *m, unsigned id);

/*
 * Pause all harts between instructions and freeze guest time; returns once every hart is parked
 * (or the machine halted). Resume restarts them. Thread-safe; not for use from a hart thread.
 */
void machine__pause(struct machine *m);
void machine__resume(struct machine *m);
bool machine__paused(struct machine *m);

/* Stop the machine (poweroff, reboot, HTIF exit, timeout) with an exit code. Thread-safe. */
void machine__halt(struct machine *m, int code, const char *why);
/* Wake harts sleeping in WFI after an interrupt line changed. Thread-safe. */
void machine__kick(struct machine *m);

/* SBI HSM: start a stopped hart at addr (S-mode, a0 = id, a1 = opaque): 0, 1 if it is not stopped, -1 if
 * there is no such hart. Stop the calling hart id. The state of hart id. Thread-safe. */
int machine__hart_start(struct machine *m, unsigned id, uint64_t addr, uint64_t opaque);
void machine__hart_stop(struct machine *m, unsigned id);
enum hart_status machine__hart_status(struct machine *m, unsigned id);

/* Pieces in their own files. */
int fdt__build(struct machine *m, void *buf, size_t bufsize);
bool sbi__ecall(void *opaque, struct rv_cpu *cpu);
int loader__load(struct machine *m, char *err, size_t errlen);
bool htif__write(void *opaque, uint64_t paddr, unsigned size, uint64_t val);

#endif
