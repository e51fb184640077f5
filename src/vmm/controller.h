/*
 * The controller: one microVM's life cycle as the API, a --config-file or the command line drive it.
 * It owns the configuration (vm_resources), the state (Not started -> Running <-> Paused -> exited) and
 * the vmm that runs the guest. Every request is one call here; pre-boot requests are refused once the
 * microVM has started and runtime requests before it has, with Firecracker's messages. Calls are
 * serialised by one lock; the API thread, the main thread and the signal thread may all call in.
 */
#ifndef WISP_VMM_CONTROLLER_H
#define WISP_VMM_CONTROLLER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "mmds/mmds.h"
#include "mem/merge.h"
#include "mem/usage.h"
#include "mem/wss.h"
#include "vmm/devices.h"
#include "vmm/resources.h"
#include "vmm/vmm.h"

#define WISP_VERSION "0.1.0"
#define CONTROLLER_ID_MAX 64

#define MSG_NOT_STARTED "The requested operation is not supported before starting the microVM."
#define MSG_STARTED "The requested operation is not supported after starting the microVM."

enum vm_state { VM_NOT_STARTED, VM_RUNNING, VM_PAUSED, VM_EXITED };

/* Command-line only settings that have no place in Firecracker's configuration. */
struct controller_extras {
	const char *firmware; /* M-mode firmware instead of the built-in SBI */
	const char *elf;      /* bare-metal ELF instead of a kernel */
	const char *dump_dtb;
	double timeout;				  /* seconds, 0 = none */
	unsigned metrics_period_ms;		  /* 0 = METRICS_PERIOD_MS */
	const struct vmm_devices_config *devices; /* from --drive/--net/...: attached before the API's */
};

struct snapshot_create_cfg {
	char snapshot_path[RES_PATH_MAX];
	char mem_file_path[RES_PATH_MAX];
	bool diff;
};

struct snapshot_load_cfg {
	char snapshot_path[RES_PATH_MAX];
	char mem_path[RES_PATH_MAX];
	bool mem_uffd; /* mem_backend.backend_type == Uffd */
	bool resume_vm, track_dirty_pages;
	bool has_vsock_override;
	char vsock_uds_path[RES_VSOCK_PATH_MAX + 1]; /* vsock_override.uds_path */
};

struct controller {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	enum vm_state state;
	bool quit;
	int quit_code;
	char id[CONTROLLER_ID_MAX + 1];
	int console_in, console_out, serial_fd;
	struct controller_extras extras;
	struct vm_resources res;
	/* Built at InstanceStart from res (strings borrowed from res, which no longer changes). */
	char cmdline[RES_CMDLINE_MAX];
	struct vmm_devices_config devices;
	struct vmm vmm;
	struct logger *log;
	struct metrics *metrics;
	struct mmds mmds; /* the metadata store: any time through the API; its guest side at InstanceStart */
	struct mem_merge merge; /* KSM on the guest's RAM (machine-config mem_merge) */
	struct mem_wss wss;	/* working-set samples (GET /memory) */
	bool metrics_registered;
	/* The per-vCPU metrics' handles (group "vcpuN"). */
	struct controller_vcpu_ref {
		struct controller *c;
		unsigned hart;
	} vcpu_refs[MACHINE_MAX_CPUS];
	/* A boot-specific resource was configured (boot source, machine, drive, network, entropy): from then on
	 * the microVM boots, and a snapshot load is refused, as in Firecracker. */
	bool boot_configured;
};

/* Id: 1..64 characters from [A-Za-z0-9-] (Firecracker's rule). */
bool controller__valid_id(const char *id);
/* log and metrics: the owner's (main's) logger and metrics registry, used for this microVM's lines and values. */
void controller__init(struct controller *c, const char *id, int console_in, int console_out, struct logger *log,
		      struct metrics *metrics);
void controller__exit(struct controller *c);

enum vm_state controller__state(struct controller *c);
const char *controller__state_name(enum vm_state s); /* "Not started", "Running", "Paused" */
/* A consistent copy of the configuration and the state. */
void controller__get(struct controller *c, struct vm_resources *out, enum vm_state *state);

/* Pre-boot configuration: 0, or -1 with the reason in err (and nothing changed). */
int controller__set_boot_source(struct controller *c, const struct boot_source_cfg *b, char *err, size_t n);
int controller__update_machine(struct controller *c, const struct machine_cfg_update *u, bool full, char *err,
			       size_t n);
int controller__put_drive(struct controller *c, const struct drive_cfg *d, char *err, size_t n);
int controller__put_net(struct controller *c, const struct net_cfg *nc, char *err, size_t n);
int controller__set_entropy(struct controller *c, const struct entropy_cfg *e, char *err, size_t n);
int controller__set_serial(struct controller *c, const struct serial_cfg *s, char *err, size_t n);
int controller__set_logger(struct controller *c, const struct logger_cfg *l, char *err, size_t n);
int controller__set_metrics(struct controller *c, const struct metrics_cfg *m, char *err, size_t n);
void controller__set_boot_timer(struct controller *c, bool on);
int controller__set_vsock(struct controller *c, const struct vsock_cfg *v, char *err, size_t n);
int controller__set_balloon(struct controller *c, const struct balloon_cfg *b, char *err, size_t n);

/*
 * The balloon, before or after boot: its configuration (the target as set last), a new target, a new
 * statistics interval (after boot statistics can be neither turned on nor off), and after boot its
 * statistics and free page hinting runs (Firecracker's PATCH /balloon/hinting/start|stop, GET .../status).
 */
int controller__get_balloon(struct controller *c, struct balloon_cfg *out, char *err, size_t n);
int controller__update_balloon(struct controller *c, uint32_t amount_mib, char *err, size_t n);
int controller__update_balloon_stats(struct controller *c, uint32_t interval_s, char *err, size_t n);
/* GET /memory (wisp extension): what guest memory costs the host, and the working-set estimate (a sample ends
 * and the next begins with each call). Runtime only. */
struct controller_memory {
	uint64_t ram_kib;
	bool has_usage;
	struct mem_usage usage;
	bool merge;
	struct mem_merge_stats merged;
	struct mem_wss_estimate wss;
};
int controller__memory(struct controller *c, struct controller_memory *out, char *err, size_t n);
int controller__balloon_stats(struct controller *c, struct virtio_balloon_info *out, char *err, size_t n);
int controller__balloon_hinting(struct controller *c, bool start, bool acknowledge_on_stop, char *err, size_t n);
int controller__balloon_hinting_status(struct controller *c, struct virtio_balloon_info *out, char *err, size_t n);

/*
 * MMDS: its configuration (pre-boot; interfaces, address, version), and its document at any time before the
 * microVM stops (PUT replaces, PATCH merges, GET returns it malloc'd; NULL with the reason).
 */
int controller__set_mmds_config(struct controller *c, const struct mmds_cfg *m, char *err, size_t n);
int controller__mmds_put(struct controller *c, const char *json, char *err, size_t n);
int controller__mmds_patch(struct controller *c, const char *json, char *err, size_t n);
char *controller__mmds_get(struct controller *c, char *err, size_t n);

/* Runtime updates (post-boot only). */
int controller__update_drive(struct controller *c, const struct drive_update *u, char *err, size_t n);
int controller__update_net(struct controller *c, const struct net_update *u, char *err, size_t n);

/* Actions. */
int controller__start(struct controller *c, char *err, size_t n); /* InstanceStart */
int controller__pause(struct controller *c, char *err, size_t n);
int controller__resume(struct controller *c, char *err, size_t n);
int controller__flush_metrics(struct controller *c, char *err, size_t n);
int controller__send_ctrl_alt_del(struct controller *c, char *err, size_t n);
/*
 * Snapshots (src/snapshot/snapshot.h). Create: only while Paused. Load: only before anything boot-specific
 * was configured and before InstanceStart; a failed load leaves the process as it was (still Not started).
 * The loaded microVM gets the devices recorded in the snapshot, or those given on wisp's command line
 * (extras.devices, same kinds and order), the serial output configured by PUT /serial, and is Running or
 * Paused per resume_vm.
 */
int controller__snapshot_create(struct controller *c, const struct snapshot_create_cfg *s, char *err, size_t n);
int controller__snapshot_load(struct controller *c, const struct snapshot_load_cfg *s, char *err, size_t n);

/*
 * Wait until the microVM has run and stopped (or an exit was requested before it started); returns wisp's
 * exit status: the guest's (0 after poweroff) or the one given to controller__request_exit.
 */
int controller__run(struct controller *c);
/* Stop (a signal): halts a running guest, or ends controller__run before start. Thread-safe. */
void controller__request_exit(struct controller *c, int code, const char *why);
/* The status given to controller__request_exit before the microVM started, or -1. */
int controller__quit_code(struct controller *c);
/* Why the guest stopped, NULL if unknown. */
const char *controller__exit_reason(struct controller *c);
/* The guest stopped because it could make no progress (controller__exit_reason says where). */
bool controller__exit_failed(struct controller *c);

#endif
