/*
 * The board's state in a snapshot: harts, CLINT, PLIC, UART, the in-VMM SBI's timers, guest time, and the
 * state of every other device window through registered snapshot_device_ops (the virtio devices plug in
 * there). Saving needs a paused machine; restoring is parse (check everything, touch nothing) then apply.
 */
#ifndef WISP_SNAPSHOT_STATE_H
#define WISP_SNAPSHOT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"
#include "snapshot/format.h"

/*
 * The extension point for devices outside the fixed board (virtio-mmio slots and anything added later with
 * machine__add_mmio). A handler owns every window whose mmio ops are `mmio`; the window's `dev` pointer is
 * what save/load receive. Snapshot creation is refused while a window has no handler, so a device can
 * never be silently left out of a snapshot.
 *
 * save: append the device's state with snap_w__* (the machine is paused; the handler must also make sure
 *       no device thread touches the device or guest memory while the snapshot is taken).
 * load: the device was just created again from the same configuration (same slot, same backing files or
 *       the clone's own) and the guest's RAM is in place; read the state back with snap_r__*. `version` is
 *       the `version` the saving wisp's handler had; refuse versions you do not know. Return -1 with a
 *       message in err on any inconsistency: the whole restore is then abandoned and the machine torn down.
 */
struct snapshot_device_ops {
	const char *kind;            /* stable name stored in the file, e.g. "virtio-mmio" (< 64 bytes) */
	uint32_t version;            /* layout of the payload this handler writes */
	const struct mmio_ops *mmio; /* device windows with these ops belong to this handler */
	int (*save)(void *dev, struct snap_writer *w, char *err, size_t n);
	int (*load)(void *dev, uint32_t version, struct snap_reader *r, char *err, size_t n);
};

#define SNAPSHOT_MAX_DEVICE_OPS 16
/* Register a handler (at start-up, before any snapshot). -1 when the table is full or mmio is taken. */
int snapshot__register_device(const struct snapshot_device_ops *ops);

/* Board flags in SNAP_SEC_MACHINE. */
#define SNAP_M_SBI 1u        /* the SBI is inside the VMM (no M-mode firmware) */
#define SNAP_M_BOOT_TIMER 2u /* the boot timer device exists */
#define SNAP_M_FIRMWARE 4u   /* booted through M-mode firmware */
#define SNAP_M_ELF 8u        /* a bare-metal ELF program (HTIF) */

struct snap_machine_info {
	uint64_t ram_base, ram_size;
	uint32_t nharts, flags;
	uint64_t tohost, fromhost, watch_page;
	uint64_t entry, dtb_addr, initrd_start, initrd_end, kernel_addr;
};

struct snap_hart {
	uint64_t x[32], f[32];
	uint32_t fflags, frm, priv;
	uint64_t pc, mstatus, misa, medeleg, mideleg, mie, mtvec, mscratch, mepc, mcause, mtval;
	uint64_t mcounteren, scounteren, menvcfg, senvcfg, mcountinhibit;
	uint64_t stvec, sscratch, sepc, scause, stval, satp, mhartid;
	uint64_t retired, instret_offset;
	uint64_t pmpcfg[16], pmpaddr[64];
	uint64_t mip_sw; /* software-set bits, the pending IPI injections folded in */
	bool msip;       /* the CLINT's msip bit (lives in mip_hw) */
	uint32_t hsm;    /* enum hart_status: started, stopped, or start pending with the two below */
	uint64_t start_addr, start_opaque;
};

/* Everything a state file says about the board, checked and ready to apply. */
struct snap_state {
	struct snap_machine_info info;
	uint64_t ticks; /* guest time at the snapshot */
	struct snap_hart hart[CLINT_MAX_HARTS];
	struct {
		uint64_t mtimecmp[CLINT_MAX_HARTS];
		int64_t offset;
	} clint;
	struct {
		uint32_t ncontexts;
		uint32_t priority[PLIC_NDEV + 1];
		uint32_t level, pending, claimed;
		uint32_t enable[PLIC_MAX_CONTEXTS], threshold[PLIC_MAX_CONTEXTS];
	} plic;
	struct {
		uint8_t rx[UART_FIFO];
		uint32_t rx_count;
		uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
		bool thre_pending;
		uint64_t tx_bytes, rx_bytes;
	} uart;
	uint64_t sbi_timecmp[CLINT_MAX_HARTS];
};

/* Append the board's sections (machine, time, harts, CLINT, PLIC, UART, SBI, devices). m must be paused. */
int snap_state__save(struct machine *m, struct snap_writer *w, char *err, size_t n);

/* Parse and check the board sections of f (the file's device sections are checked by apply). */
int snap_state__parse(struct snap_state *s, const struct snap_file *f, char *err, size_t n);

/*
 * Check that m (built from s->info, nothing loaded, harts not running) matches the snapshot, then load
 * every hart and device and set guest time to s->ticks, frozen as if paused (machine__resume starts it).
 * Checks come first: on a mismatch nothing is changed. A device handler's load failing leaves m partly
 * restored: the caller must then throw m away.
 */
int snap_state__apply(const struct snap_state *s, const struct snap_file *f, struct machine *m, char *err,
		      size_t n);

#endif
