/*
 * The microVM's configuration before and after it is built (Firecracker's VmResources): boot source, machine
 * configuration, drives, network interfaces, entropy device, serial output, logger and metrics settings.
 *
 * Everything here is a plain value: the API layer (or the CLI, or a --config-file) fills a request struct,
 * a resources__* function validates it against the whole configuration and either commits it or leaves the
 * configuration untouched and explains why in `err`. Nothing here knows HTTP, JSON or device internals.
 */
#ifndef WISP_VMM_RESOURCES_H
#define WISP_VMM_RESOURCES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu.h"

#include "log/log.h"
#include "log/metrics.h"

#define RES_ID_MAX 64	      /* drive_id, iface_id: [A-Za-z0-9_]+ */
#define RES_PATH_MAX PATH_MAX /* host paths */
#define RES_CMDLINE_MAX 1024  /* the kernel command line with its NUL: COMMAND_LINE_SIZE on RISC-V */
#define RES_IFNAME_MAX 16     /* IFNAMSIZ: host TAP names are 1..15 bytes */
#define RES_MAX_DEVICES 8     /* virtio-mmio slots: drives + network interfaces + entropy + vsock + balloon */
#define RES_VSOCK_PATH_MAX 96 /* a sockaddr_un path with room for "_<port>" */
#define RES_DEFAULT_MEM_MIB 128
#define RES_DEFAULT_CMDLINE "console=ttyS0 earlycon=sbi panic=1"
#define RES_MAX_PROPS METRICS_MAX_PROPERTIES
#define RES_PROP_MAX 256

/* Token bucket / rate limiter: accepted and reported back, not enforced yet. */
struct token_bucket_cfg {
	bool present;
	uint64_t size, refill_time, one_time_burst;
	bool has_burst;
};

struct rate_limiter_cfg {
	bool present;
	struct token_bucket_cfg bandwidth, ops;
};

struct boot_source_cfg {
	char kernel_image_path[RES_PATH_MAX];
	char initrd_path[RES_PATH_MAX]; /* "" = none */
	bool has_boot_args;
	char boot_args[RES_CMDLINE_MAX];
};

enum huge_pages { HUGE_PAGES_NONE, HUGE_PAGES_TRANSPARENT, HUGE_PAGES_2M };

struct machine_cfg {
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	bool smt, track_dirty_pages;
	enum huge_pages huge_pages;
	bool has_cpu_template;
	char cpu_template[16];
	/* wisp extension: how guest code runs ("interp" or "jit"); the hart's default when not set. */
	bool has_cpu_backend;
	enum rv_backend cpu_backend;
	/* wisp extension: offer guest RAM to the host's KSM (page sharing across microVMs; docs/api.md). */
	bool mem_merge;
};

/* PUT replaces all fields (absent optional ones take their defaults); PATCH changes the `has_` ones. */
struct machine_cfg_update {
	bool has_vcpu_count, has_mem_size_mib, has_smt, has_track_dirty_pages, has_huge_pages, has_cpu_template;
	bool has_cpu_backend, has_mem_merge;
	struct machine_cfg v;
};

enum cache_type { CACHE_UNSAFE, CACHE_WRITEBACK };
enum io_engine { IO_ENGINE_SYNC, IO_ENGINE_ASYNC };

struct drive_cfg {
	char drive_id[RES_ID_MAX + 1];
	char path_on_host[RES_PATH_MAX];
	bool is_root_device, is_read_only;
	bool has_partuuid;
	char partuuid[64];
	enum cache_type cache_type;
	enum io_engine io_engine;
	struct rate_limiter_cfg rate_limiter;
};

struct drive_update {
	char drive_id[RES_ID_MAX + 1];
	bool has_path_on_host;
	char path_on_host[RES_PATH_MAX];
	struct rate_limiter_cfg rate_limiter;
};

struct net_cfg {
	char iface_id[RES_ID_MAX + 1];
	char host_dev_name[RES_IFNAME_MAX];
	bool has_guest_mac;
	uint8_t guest_mac[6];
	unsigned mtu; /* 0 = not advertised */
	struct rate_limiter_cfg rx_rate_limiter, tx_rate_limiter;
};

struct net_update {
	char iface_id[RES_ID_MAX + 1];
	struct rate_limiter_cfg rx_rate_limiter, tx_rate_limiter;
};

struct entropy_cfg {
	struct rate_limiter_cfg rate_limiter;
};

struct vsock_cfg {
	uint32_t guest_cid; /* >= 3 */
	char uds_path[RES_VSOCK_PATH_MAX + 1];
};

struct balloon_cfg {
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s; /* 0 = no statistics */
	bool free_page_hinting, free_page_reporting;
};

/* PUT /mmds/config: which interfaces reach MMDS, at which address, which version. */
struct mmds_cfg {
	unsigned version; /* 1 or 2 */
	unsigned nifaces;
	char ifaces[RES_MAX_DEVICES][RES_ID_MAX + 1];
	uint32_t ipv4; /* host order; link-local 169.254.0.0/16 */
	bool imds_compat;
};

struct serial_cfg {
	char serial_out_path[RES_PATH_MAX]; /* "" = wisp's stdout */
	bool has_rate_limiter;
};

struct logger_cfg {
	bool has_level;
	enum log_level level;
	bool has_log_path;
	char log_path[RES_PATH_MAX];
	bool has_show_level, show_level;
	bool has_show_log_origin, show_log_origin;
	bool has_module;
	char module[LOG_MODULE_MAX];
};

struct metrics_cfg {
	char metrics_path[RES_PATH_MAX];
	bool emit_id;
	unsigned nprops;
	char prop_keys[RES_MAX_PROPS][RES_PROP_MAX];
	char prop_values[RES_MAX_PROPS][RES_PROP_MAX];
};

struct vm_resources {
	bool has_boot_source;
	struct boot_source_cfg boot;
	struct machine_cfg machine;
	struct drive_cfg drives[RES_MAX_DEVICES];
	unsigned ndrives;
	struct net_cfg nets[RES_MAX_DEVICES];
	unsigned nnets;
	bool has_entropy;
	struct entropy_cfg entropy;
	bool has_vsock;
	struct vsock_cfg vsock;
	bool has_balloon;
	struct balloon_cfg balloon;
	bool has_mmds;
	struct mmds_cfg mmds;
	bool has_serial;
	struct serial_cfg serial;
	bool has_logger;
	struct logger_cfg logger;
	bool has_metrics;
	struct metrics_cfg metrics;
	bool boot_timer;
};

/* Defaults: 1 vCPU, 128 MiB (Firecracker's), nothing else. */
void resources__init(struct vm_resources *r);

/* Each validates against the whole configuration; on error returns -1, r unchanged, reason in err. */
int resources__set_boot_source(struct vm_resources *r, const struct boot_source_cfg *c, char *err, size_t n);
int resources__update_machine(struct vm_resources *r, const struct machine_cfg_update *u, bool full, char *err,
			      size_t n);
int resources__put_drive(struct vm_resources *r, const struct drive_cfg *d, char *err, size_t n);
int resources__put_net(struct vm_resources *r, const struct net_cfg *c, char *err, size_t n);
int resources__set_entropy(struct vm_resources *r, const struct entropy_cfg *c, char *err, size_t n);
int resources__set_serial(struct vm_resources *r, const struct serial_cfg *c, char *err, size_t n);
/* The vsock socket path must not exist yet and its directory must. */
int resources__set_vsock(struct vm_resources *r, const struct vsock_cfg *c, char *err, size_t n);
int resources__set_balloon(struct vm_resources *r, const struct balloon_cfg *c, char *err, size_t n);
/* Every listed interface must be configured (and listed once), the address link-local. */
int resources__set_mmds(struct vm_resources *r, const struct mmds_cfg *c, char *err, size_t n);
struct logger;
struct metrics;
/* Configure lg (the logger) or mx (the metrics registry) as c says, and remember c for GET /vm/config. */
int resources__set_logger(struct vm_resources *r, struct logger *lg, const struct logger_cfg *c, char *err, size_t n);
int resources__set_metrics(struct vm_resources *r, struct metrics *mx, const struct metrics_cfg *c,
			   const char *instance_id, char *err, size_t n);

/* Open (creating) a file or FIFO for output (serial_out_path); never blocks on a FIFO without a reader. */
int resources__open_output(const char *path, char *err, size_t n);

/* Lookups; NULL when absent. */
const struct drive_cfg *resources__drive(const struct vm_resources *r, const char *id);
const struct net_cfg *resources__net(const struct vm_resources *r, const char *id);

/* The kernel command line: boot_args (or the default) plus root= for a root drive. -1 if it does not fit. */
int resources__cmdline(const struct vm_resources *r, char *buf, size_t len);

/* Validators shared with the parsers. */
bool resources__valid_id(const char *id);
int resources__parse_mac(const char *s, uint8_t mac[6]);
void resources__format_mac(const uint8_t mac[6], char out[18]);

#endif
