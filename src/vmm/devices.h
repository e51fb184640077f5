/*
 * The microVM's virtio devices: plain configs in, devices on virtio-mmio slots out, served by one I/O thread.
 * The CLI and the API fill a vmm_devices_config; the VMM instantiates it while the machine is built (before
 * its device tree), then starts the I/O thread with the vCPUs. Nothing here knows HTTP or JSON.
 */
#ifndef WISP_VMM_DEVICES_H
#define WISP_VMM_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/machine.h"
#include "mmds/stack.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/ioloop.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"

struct block_config {
	const char *path;
	bool read_only;
	const char *id; /* GET_ID string (at most 20 bytes used); NULL = the file name */
	bool async;	/* io_engine Async: io_uring, several requests in flight */
	struct ratelimit_cfg limit; /* zero = unlimited */
};

struct net_config {
	const char *tap; /* host TAP interface name */
	bool has_mac;
	uint8_t mac[6];
	struct ratelimit_cfg rx_limit, tx_limit; /* zero = unlimited */
	bool mmds;				 /* MMDS answers on this interface (vmm_devices_config.mmds) */
};

struct vsock_config {
	uint64_t guest_cid;   /* 3 .. 2^32-1 */
	const char *uds_path; /* wisp listens here; guest-initiated connections go to <uds_path>_<port> */
};

/* What to create. Strings are borrowed: they must outlive vmm__create. */
struct vmm_devices_config {
	struct block_config block[VIRTIO_SLOTS];
	unsigned nblock;
	struct net_config net[VIRTIO_SLOTS];
	unsigned nnet;
	bool rng;
	struct ratelimit_cfg rng_limit; /* zero = unlimited */
	struct mmds *mmds;		/* the metadata store for interfaces with .mmds (borrowed), or NULL */
	uint32_t mmds_ipv4;		/* its address, host order */
	bool console; /* virtio-console (hvc0) on a new pseudo-terminal */
	bool has_vsock;
	struct vsock_config vsock;
	bool has_balloon;
	struct virtio_balloon_config balloon;
};

/* Append a device; -1 (with a message) when all VIRTIO_SLOTS slots are taken or the config is invalid. */
int vmm_devices__add_block(struct vmm_devices_config *c, const struct block_config *b);
int vmm_devices__add_net(struct vmm_devices_config *c, const struct net_config *n);
int vmm_devices__add_rng(struct vmm_devices_config *c);
int vmm_devices__add_console(struct vmm_devices_config *c);
int vmm_devices__add_vsock(struct vmm_devices_config *c, const struct vsock_config *v);
int vmm_devices__add_balloon(struct vmm_devices_config *c, const struct virtio_balloon_config *b);

/*
 * Command-line forms: "PATH[,ro][,id=NAME]", "tap=NAME[,mac=xx:xx:xx:xx:xx:xx]", "CID,PATH" and
 * "MIB[,deflate_on_oom][,stats=SECONDS][,hinting][,reporting]". arg must stay alive.
 */
int vmm_devices__parse_drive(char *arg, struct block_config *b);
int vmm_devices__parse_net(char *arg, struct net_config *n);
int vmm_devices__parse_vsock(char *arg, struct vsock_config *v);
int vmm_devices__parse_balloon(char *arg, struct virtio_balloon_config *b);

/* One command-line option: "drive", "net", "vsock", "balloon" (arg as above), "rng" or "vconsole" (arg NULL).
 * -1 with a message. */
int vmm_devices__cli(struct vmm_devices_config *c, const char *option, char *arg);

/* The devices of one running microVM. */
struct vmm_devices {
	struct machine *m;
	struct ioloop loop;
	bool have_loop;
	unsigned nslots;
	struct virtio_blk *blk[VIRTIO_SLOTS];
	unsigned nblk;
	struct virtio_net *net[VIRTIO_SLOTS];
	struct mmds_stack *mmds[VIRTIO_SLOTS]; /* per interface, NULL where MMDS is not reachable */
	unsigned nnet;
	struct virtio_rng *rng;
	struct virtio_console *console;
	char console_path[64];
	struct virtio_vsock *vsock;
	struct virtio_balloon *balloon;
};

/*
 * Runtime updates of the block device and network interface at `index` (in the order configured): a new
 * backing file (path may be NULL: keep it) and limiter buckets (u, rx, tx may be NULL: keep them). The file is
 * opened and checked before anything changes. -1 with the reason in err.
 */
int vmm_devices__update_block(struct vmm_devices *d, unsigned index, const char *path, const struct ratelimit_update *u,
			      char *err, size_t errlen);
int vmm_devices__update_net(struct vmm_devices *d, unsigned index, const struct ratelimit_update *rx,
			    const struct ratelimit_update *tx, char *err, size_t errlen);

/* Create every configured device on machine m (before its device tree is built). -1 with a message in err. */
int vmm_devices__create(struct vmm_devices *d, struct machine *m, const struct vmm_devices_config *c, char *err,
			size_t errlen);
/* Start / stop the I/O thread. */
int vmm_devices__start(struct vmm_devices *d);
void vmm_devices__stop(struct vmm_devices *d);
/* Stop and free everything (safe on a zeroed or partly created struct). */
void vmm_devices__exit(struct vmm_devices *d);

#endif
