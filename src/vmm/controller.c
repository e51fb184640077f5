/* The microVM life cycle: configuration while not started, build and boot, pause/resume, exit. */
#include "vmm/controller.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "log/log.h"
#include "log/metrics.h"
#include "snapshot/snapshot.h"

bool controller__valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n < 1 || n > CONTROLLER_ID_MAX)
		return false;
	for (; *id; id++)
		if (!isalnum((unsigned char)*id) && *id != '-')
			return false;
	return true;
}

void controller__init(struct controller *c, const char *id, int console_in, int console_out, struct logger *log,
		      struct metrics *metrics)
{
	memset(c, 0, sizeof(*c));
	c->log = log;
	c->metrics = metrics;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, NULL);
	snprintf(c->id, sizeof(c->id), "%s", id ? id : "anonymous-instance");
	c->console_in = console_in;
	c->console_out = console_out;
	c->serial_fd = -1;
	mem_merge__init(&c->merge);
	wss__init(&c->wss, (uint64_t)(uintptr_t)c ^ (uint64_t)getpid() << 32);
	resources__init(&c->res);
	mmds__init(&c->mmds, 0);
}

static void unregister_metrics(struct controller *c)
{
	if (c->metrics_registered) {
		metrics__unregister(c->metrics, c);
		for (unsigned i = 0; i < MACHINE_MAX_CPUS; i++)
			metrics__unregister(c->metrics, &c->vcpu_refs[i]);
		c->metrics_registered = false;
	}
}

void controller__exit(struct controller *c)
{
	unregister_metrics(c);
	vmm__destroy(&c->vmm);
	mem_merge__exit(&c->merge);
	wss__exit(&c->wss);
	if (c->serial_fd >= 0)
		close(c->serial_fd);
	c->serial_fd = -1;
	mmds__exit(&c->mmds);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
}

const char *controller__state_name(enum vm_state s)
{
	switch (s) {
	case VM_NOT_STARTED:
		return "Not started";
	case VM_PAUSED:
		return "Paused";
	default:
		return "Running"; /* an exited VM is reported as it was last seen running */
	}
}

enum vm_state controller__state(struct controller *c)
{
	pthread_mutex_lock(&c->lock);
	enum vm_state s = c->state;
	pthread_mutex_unlock(&c->lock);
	return s;
}

void controller__get(struct controller *c, struct vm_resources *out, enum vm_state *state)
{
	pthread_mutex_lock(&c->lock);
	*out = c->res;
	if (state)
		*state = c->state;
	pthread_mutex_unlock(&c->lock);
}

/*
 * Run `apply` on the configuration only while the microVM has not started. `boot`: the resource is
 * boot-specific (a snapshot can no longer be loaded once one was configured).
 */
#define PRE_BOOT_(c, err, n, apply, boot)                                                                              \
	do {                                                                                                           \
		pthread_mutex_lock(&(c)->lock);                                                                        \
		int r_ = -1;                                                                                           \
		if ((c)->state != VM_NOT_STARTED)                                                                      \
			snprintf(err, n, "%s", MSG_STARTED);                                                           \
		else                                                                                                   \
			r_ = (apply);                                                                                  \
		if (r_ == 0 && (boot))                                                                                 \
			(c)->boot_configured = true;                                                                   \
		pthread_mutex_unlock(&(c)->lock);                                                                      \
		return r_;                                                                                             \
	} while (0)
#define PRE_BOOT(c, err, n, apply) PRE_BOOT_(c, err, n, apply, false)
#define BOOT_RESOURCE(c, err, n, apply) PRE_BOOT_(c, err, n, apply, true)

int controller__set_boot_source(struct controller *c, const struct boot_source_cfg *b, char *err, size_t n)
{
	BOOT_RESOURCE(c, err, n, resources__set_boot_source(&c->res, b, err, n));
}

int controller__update_machine(struct controller *c, const struct machine_cfg_update *u, bool full, char *err, size_t n)
{
	BOOT_RESOURCE(c, err, n, resources__update_machine(&c->res, u, full, err, n));
}

int controller__put_drive(struct controller *c, const struct drive_cfg *d, char *err, size_t n)
{
	BOOT_RESOURCE(c, err, n, resources__put_drive(&c->res, d, err, n));
}

int controller__put_net(struct controller *c, const struct net_cfg *nc, char *err, size_t n)
{
	BOOT_RESOURCE(c, err, n, resources__put_net(&c->res, nc, err, n));
}

int controller__set_entropy(struct controller *c, const struct entropy_cfg *e, char *err, size_t n)
{
	BOOT_RESOURCE(c, err, n, resources__set_entropy(&c->res, e, err, n));
}

int controller__set_serial(struct controller *c, const struct serial_cfg *s, char *err, size_t n)
{
	PRE_BOOT(c, err, n, resources__set_serial(&c->res, s, err, n));
}

int controller__set_logger(struct controller *c, const struct logger_cfg *l, char *err, size_t n)
{
	PRE_BOOT(c, err, n, resources__set_logger(&c->res, c->log, l, err, n));
}

int controller__set_metrics(struct controller *c, const struct metrics_cfg *m, char *err, size_t n)
{
	PRE_BOOT(c, err, n, resources__set_metrics(&c->res, c->metrics, m, c->id, err, n));
}

static int set_mmds_locked(struct controller *c, const struct mmds_cfg *m, char *err, size_t n)
{
	if (resources__set_mmds(&c->res, m, err, n) < 0)
		return -1;
	mmds__configure(&c->mmds, m->version == 2 ? MMDS_V2 : MMDS_V1, m->imds_compat);
	return 0;
}

int controller__set_mmds_config(struct controller *c, const struct mmds_cfg *m, char *err, size_t n)
{
	PRE_BOOT(c, err, n, set_mmds_locked(c, m, err, n));
}

static int mmds_usable(struct controller *c, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	bool gone = c->state == VM_EXITED;
	pthread_mutex_unlock(&c->lock);
	if (gone)
		snprintf(err, n, "The microVM has stopped.");
	return gone ? -1 : 0;
}

int controller__mmds_put(struct controller *c, const char *json, char *err, size_t n)
{
	return mmds_usable(c, err, n) < 0 ? -1 : mmds__put(&c->mmds, json, err, n);
}

int controller__mmds_patch(struct controller *c, const char *json, char *err, size_t n)
{
	return mmds_usable(c, err, n) < 0 ? -1 : mmds__patch(&c->mmds, json, err, n);
}

char *controller__mmds_get(struct controller *c, char *err, size_t n)
{
	char *s = mmds_usable(c, err, n) < 0 ? NULL : mmds__get(&c->mmds);
	if (!s && !*err)
		snprintf(err, n, "Out of memory.");
	return s;
}

int controller__set_vsock(struct controller *c, const struct vsock_cfg *v, char *err, size_t n)
{
	BOOT_RESOURCE(c, err, n, resources__set_vsock(&c->res, v, err, n));
}

int controller__set_balloon(struct controller *c, const struct balloon_cfg *b, char *err, size_t n)
{
	BOOT_RESOURCE(c, err, n, resources__set_balloon(&c->res, b, err, n));
}

#define MSG_NO_BALLOON "No balloon device is configured."

static int runtime_check_locked(struct controller *c, char *err, size_t n);

/* The running balloon, or NULL with the reason (lock held). */
static struct virtio_balloon *running_balloon(struct controller *c, char *err, size_t n)
{
	if (runtime_check_locked(c, err, n) < 0)
		return NULL;
	if (!c->vmm.devices.balloon)
		snprintf(err, n, MSG_NO_BALLOON);
	return c->vmm.devices.balloon;
}

int controller__get_balloon(struct controller *c, struct balloon_cfg *out, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = -1;
	if (!c->res.has_balloon && !(c->state != VM_NOT_STARTED && c->vmm.devices.balloon)) {
		snprintf(err, n, MSG_NO_BALLOON);
	} else {
		*out = c->res.balloon;
		struct virtio_balloon *b = c->state != VM_NOT_STARTED ? c->vmm.devices.balloon : NULL;
		if (b) {
			const struct virtio_balloon_config *bc = &b->cfg;
			struct virtio_balloon_info i = virtio_balloon__info(b);
			*out = (struct balloon_cfg){ i.target_pages / VIRTIO_BALLOON_PAGES_PER_MIB, bc->deflate_on_oom,
						     i.stats_interval_s, bc->free_page_hinting,
						     bc->free_page_reporting };
		}
		r = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__update_balloon(struct controller *c, uint32_t amount_mib, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = -1;
	if (c->state == VM_NOT_STARTED) {
		struct balloon_cfg b = c->res.balloon;
		b.amount_mib = amount_mib;
		if (!c->res.has_balloon)
			snprintf(err, n, MSG_NO_BALLOON);
		else
			r = resources__set_balloon(&c->res, &b, err, n);
	} else {
		struct virtio_balloon *b = running_balloon(c, err, n);
		uint64_t mem_mib = c->vmm.m.bus.ram_size >> 20;
		if (b && amount_mib > mem_mib) {
			snprintf(err, n, "The balloon target (%u MiB) is larger than the guest memory (%llu MiB).",
				 amount_mib, (unsigned long long)mem_mib);
		} else if (b) {
			virtio_balloon__set_target(b, amount_mib);
			c->res.balloon.amount_mib = amount_mib;
			r = 0;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__update_balloon_stats(struct controller *c, uint32_t interval_s, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = -1;
	if (c->state == VM_NOT_STARTED) {
		struct balloon_cfg b = c->res.balloon;
		b.stats_polling_interval_s = interval_s;
		if (!c->res.has_balloon)
			snprintf(err, n, MSG_NO_BALLOON);
		else
			r = resources__set_balloon(&c->res, &b, err, n);
	} else {
		struct virtio_balloon *b = running_balloon(c, err, n);
		if (b && (interval_s == 0) != (b->cfg.stats_interval_s == 0)) {
			snprintf(err, n, "Balloon statistics cannot be %s after boot.",
				 interval_s ? "enabled (they were off at boot)" : "disabled");
		} else if (b && interval_s > UINT16_MAX) {
			snprintf(err, n, "The balloon statistics interval must be 0..65535 seconds.");
		} else if (b) {
			virtio_balloon__set_stats_interval(b, interval_s);
			c->res.balloon.stats_polling_interval_s = interval_s;
			r = 0;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__memory(struct controller *c, struct controller_memory *out, char *err, size_t n)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	int r = runtime_check_locked(c, err, n);
	if (r == 0) {
		struct machine *m = &c->vmm.m;
		out->ram_kib = m->bus.ram_size >> 10;
		out->has_usage = mem__usage(m->bus.ram, &out->usage) == 0;
		out->merge = c->merge.on;
		mem_merge__stats(&c->merge, &out->merged);
		wss__rotate(&c->wss, m, &out->wss);
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__balloon_stats(struct controller *c, struct virtio_balloon_info *out, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = -1;
	struct virtio_balloon *b = running_balloon(c, err, n);
	if (b && !b->cfg.stats_interval_s) {
		snprintf(err, n, "Balloon statistics are not enabled (stats_polling_interval_s was 0 at boot).");
	} else if (b) {
		*out = virtio_balloon__info(b);
		r = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Hinting requests need a running balloon configured with free_page_hinting (lock held). */
static struct virtio_balloon *hinting_balloon(struct controller *c, char *err, size_t n)
{
	struct virtio_balloon *b = running_balloon(c, err, n);
	if (b && !b->cfg.free_page_hinting) {
		snprintf(err, n, "Free page hinting was not enabled when the balloon was configured.");
		return NULL;
	}
	return b;
}

int controller__balloon_hinting(struct controller *c, bool start, bool acknowledge_on_stop, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	struct virtio_balloon *b = hinting_balloon(c, err, n);
	if (b && start)
		virtio_balloon__hint_start(b, acknowledge_on_stop);
	else if (b)
		virtio_balloon__hint_stop(b);
	pthread_mutex_unlock(&c->lock);
	return b ? 0 : -1;
}

int controller__balloon_hinting_status(struct controller *c, struct virtio_balloon_info *out, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	struct virtio_balloon *b = hinting_balloon(c, err, n);
	if (b)
		*out = virtio_balloon__info(b);
	pthread_mutex_unlock(&c->lock);
	return b ? 0 : -1;
}

void controller__set_boot_timer(struct controller *c, bool on)
{
	pthread_mutex_lock(&c->lock);
	c->res.boot_timer = on;
	pthread_mutex_unlock(&c->lock);
}

static int runtime_check_locked(struct controller *c, char *err, size_t n)
{
	if (c->state == VM_NOT_STARTED) {
		snprintf(err, n, "%s", MSG_NOT_STARTED);
		return -1;
	}
	if (c->state == VM_EXITED) {
		snprintf(err, n, "The microVM has stopped.");
		return -1;
	}
	return 0;
}

/* The API's rate limiter (Firecracker's fields) as the devices take it: an absent bucket is no limit. */
static struct tbucket_cfg bucket_of(const struct token_bucket_cfg *t)
{
	if (!t->present)
		return (struct tbucket_cfg){ 0 };
	return (struct tbucket_cfg){ t->size, t->has_burst ? t->one_time_burst : 0, t->refill_time };
}

static struct ratelimit_cfg limit_of(const struct rate_limiter_cfg *r)
{
	if (!r->present)
		return (struct ratelimit_cfg){ 0 };
	return (struct ratelimit_cfg){ bucket_of(&r->bandwidth), bucket_of(&r->ops) };
}

/* A PATCH: the buckets given replace the old ones (size or refill_time 0 turns one off), the others stay. */
static struct ratelimit_update update_of(const struct rate_limiter_cfg *r)
{
	return (struct ratelimit_update){ r->bandwidth.present ? TBUCKET_SET : TBUCKET_KEEP,
					  r->ops.present ? TBUCKET_SET : TBUCKET_KEEP, limit_of(r) };
}

/* What GET /vm/config reports after a PATCH. */
static void merge_limiter(struct rate_limiter_cfg *into, const struct rate_limiter_cfg *u)
{
	if (!u->present)
		return;
	into->present = true;
	if (u->bandwidth.present)
		into->bandwidth = u->bandwidth;
	if (u->ops.present)
		into->ops = u->ops;
}

/* The device index of an API drive or interface: configured ones follow the command line's (build_devices). */
static int block_index(const struct controller *c, const char *id)
{
	for (unsigned k = c->devices.nblock; k-- > 0;)
		if (c->devices.block[k].id && !strcmp(c->devices.block[k].id, id))
			return (int)k;
	return -1;
}

int controller__update_drive(struct controller *c, const struct drive_update *u, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = runtime_check_locked(c, err, n);
	struct drive_cfg *d = (struct drive_cfg *)resources__drive(&c->res, u->drive_id);
	int k = r == 0 && d ? block_index(c, u->drive_id) : -1;
	if (r == 0 && (!d || k < 0)) {
		snprintf(err, n, "Invalid block device ID: %s", u->drive_id);
		r = -1;
	} else if (r == 0) {
		struct ratelimit_update lu = update_of(&u->rate_limiter);
		char why[RES_PATH_MAX + 64];
		r = vmm_devices__update_block(&c->vmm.devices, (unsigned)k, u->has_path_on_host ? u->path_on_host : NULL,
					      u->rate_limiter.present ? &lu : NULL, why, sizeof(why));
		if (r < 0) {
			snprintf(err, n, "Unable to patch the block device: %s", why);
		} else {
			if (u->has_path_on_host)
				snprintf(d->path_on_host, sizeof(d->path_on_host), "%s", u->path_on_host);
			merge_limiter(&d->rate_limiter, &u->rate_limiter);
			c->devices.block[k].limit = limit_of(&d->rate_limiter); /* what a snapshot records */
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__update_net(struct controller *c, const struct net_update *u, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = runtime_check_locked(c, err, n);
	struct net_cfg *nc = (struct net_cfg *)resources__net(&c->res, u->iface_id);
	int k = -1;
	for (unsigned i = c->devices.nnet; nc && i-- > 0;)
		if (c->devices.net[i].tap == nc->host_dev_name)
			k = (int)i;
	if (r == 0 && (!nc || k < 0)) {
		snprintf(err, n, "Invalid network interface ID: %s", u->iface_id);
		r = -1;
	} else if (r == 0) {
		struct ratelimit_update rx = update_of(&u->rx_rate_limiter), tx = update_of(&u->tx_rate_limiter);
		char why[128];
		r = vmm_devices__update_net(&c->vmm.devices, (unsigned)k, u->rx_rate_limiter.present ? &rx : NULL,
					    u->tx_rate_limiter.present ? &tx : NULL, why, sizeof(why));
		if (r < 0) {
			snprintf(err, n, "Unable to patch the network interface: %s", why);
		} else {
			merge_limiter(&nc->rx_rate_limiter, &u->rx_rate_limiter);
			merge_limiter(&nc->tx_rate_limiter, &u->tx_rate_limiter);
			c->devices.net[k].rx_limit = limit_of(&nc->rx_rate_limiter);
			c->devices.net[k].tx_limit = limit_of(&nc->tx_rate_limiter);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Metrics read straight from the running machine and its devices. */
static uint64_t m_uart_tx(void *opaque)
{
	struct uart *u = &((struct controller *)opaque)->vmm.m.uart;
	pthread_mutex_lock(&u->lock);
	uint64_t v = u->tx_bytes;
	pthread_mutex_unlock(&u->lock);
	return v;
}

static uint64_t m_uart_rx(void *opaque)
{
	struct uart *u = &((struct controller *)opaque)->vmm.m.uart;
	pthread_mutex_lock(&u->lock);
	uint64_t v = u->rx_bytes;
	pthread_mutex_unlock(&u->lock);
	return v;
}

/* Guest console output dropped because nobody read it (Firecracker's uart.missed_write_count). */
static uint64_t m_uart_dropped(void *opaque)
{
	return console__dropped(&((struct controller *)opaque)->vmm.con);
}

static uint64_t m_instructions(void *opaque)
{
	struct machine *m = &((struct controller *)opaque)->vmm.m;
	uint64_t sum = 0;
	for (unsigned i = 0; i < m->nharts; i++)
		sum += __atomic_load_n(&m->harts[i]->retired, __ATOMIC_RELAXED);
	return sum;
}

static uint64_t m_boot_time(void *opaque)
{
	return atomic_load(&((struct controller *)opaque)->vmm.m.boottimer.boot_us);
}

static uint64_t m_ksm_merging_pages(void *opaque)
{
	struct mem_merge_stats s;
	mem_merge__stats(&((struct controller *)opaque)->merge, &s);
	return s.merging_pages;
}

static uint64_t m_ksm_zero_pages(void *opaque)
{
	struct mem_merge_stats s;
	mem_merge__stats(&((struct controller *)opaque)->merge, &s);
	return s.zero_pages;
}

static uint64_t m_wss_active_kib(void *opaque)
{
	return wss__last(&((struct controller *)opaque)->wss).active_kib;
}

#define BLK_STAT(field)                                                                                                \
	static uint64_t m_blk_##field(void *opaque)                                                                    \
	{                                                                                                              \
		struct vmm_devices *d = &((struct controller *)opaque)->vmm.devices;                                   \
		uint64_t sum = 0;                                                                                      \
		for (unsigned i = 0; i < d->nblk; i++)                                                                 \
			sum += virtio_blk__stats(d->blk[i]).field;                                                     \
		return sum;                                                                                            \
	}
BLK_STAT(reads)
BLK_STAT(writes)
BLK_STAT(flushes)
BLK_STAT(read_bytes)
BLK_STAT(write_bytes)
BLK_STAT(errors)
BLK_STAT(throttled)

#define NET_STAT(field)                                                                                                \
	static uint64_t m_net_##field(void *opaque)                                                                    \
	{                                                                                                              \
		struct vmm_devices *d = &((struct controller *)opaque)->vmm.devices;                                   \
		uint64_t sum = 0;                                                                                      \
		for (unsigned i = 0; i < d->nnet; i++)                                                                 \
			sum += virtio_net__stats(d->net[i]).field;                                                     \
		return sum;                                                                                            \
	}
NET_STAT(rx_packets)
NET_STAT(rx_bytes)
NET_STAT(rx_dropped)
NET_STAT(tx_packets)
NET_STAT(tx_bytes)
NET_STAT(tx_dropped)
NET_STAT(rx_throttled)
NET_STAT(tx_throttled)

#define VSOCK_STAT(field)                                                                                              \
	static uint64_t m_vsock_##field(void *opaque)                                                                  \
	{                                                                                                              \
		struct vmm_devices *d = &((struct controller *)opaque)->vmm.devices;                                   \
		return d->vsock ? virtio_vsock__stats(d->vsock).field : 0;                                             \
	}
VSOCK_STAT(rx_packets)
VSOCK_STAT(rx_bytes)
VSOCK_STAT(tx_packets)
VSOCK_STAT(tx_bytes)
VSOCK_STAT(rx_queue_events)
VSOCK_STAT(tx_queue_events)
VSOCK_STAT(conns_added)
VSOCK_STAT(conns_killed)
VSOCK_STAT(conns_removed)
VSOCK_STAT(rx_read_fails)
VSOCK_STAT(tx_write_fails)
VSOCK_STAT(tx_flush_fails)
VSOCK_STAT(muxer_event_fails)
VSOCK_STAT(conn_event_fails)
VSOCK_STAT(bad_packets)

#define BALLOON_STAT(field)                                                                                            \
	static uint64_t m_balloon_##field(void *opaque)                                                                \
	{                                                                                                              \
		struct vmm_devices *d = &((struct controller *)opaque)->vmm.devices;                                   \
		return d->balloon ? virtio_balloon__stats(d->balloon).field : 0;                                       \
	}
BALLOON_STAT(inflate_count)
BALLOON_STAT(deflate_count)
BALLOON_STAT(stats_updates)
BALLOON_STAT(stats_update_fails)
BALLOON_STAT(event_fails)
BALLOON_STAT(free_page_report_count)
BALLOON_STAT(free_page_report_freed)
BALLOON_STAT(free_page_report_fails)
BALLOON_STAT(free_page_hint_count)
BALLOON_STAT(free_page_hint_freed)
BALLOON_STAT(free_page_hint_fails)

#define RNG_STAT(field)                                                                                                \
	static uint64_t m_rng_##field(void *opaque)                                                                    \
	{                                                                                                              \
		struct vmm_devices *d = &((struct controller *)opaque)->vmm.devices;                                   \
		return d->rng ? virtio_rng__stats(d->rng).field : 0;                                                   \
	}
RNG_STAT(requests)
RNG_STAT(bytes)
RNG_STAT(errors)
RNG_STAT(throttled)

/* Per vCPU ("vcpu0", "vcpu1", ...): what it retired, why its runs ended, what it asked of the others. */
static const char *const vcpu_groups[MACHINE_MAX_CPUS] = {
	"vcpu0",  "vcpu1",  "vcpu2",  "vcpu3",  "vcpu4",  "vcpu5",  "vcpu6",  "vcpu7",  "vcpu8",  "vcpu9",  "vcpu10",
	"vcpu11", "vcpu12", "vcpu13", "vcpu14", "vcpu15", "vcpu16", "vcpu17", "vcpu18", "vcpu19", "vcpu20", "vcpu21",
	"vcpu22", "vcpu23", "vcpu24", "vcpu25", "vcpu26", "vcpu27", "vcpu28", "vcpu29", "vcpu30", "vcpu31",
};
_Static_assert(MACHINE_MAX_CPUS == 32, "one metrics group name per vCPU");

static struct rv_cpu *ref_cpu(void *opaque)
{
	struct controller_vcpu_ref *r = opaque;
	return r->c->vmm.m.harts[r->hart];
}

static struct hart_ctl *ref_ctl(void *opaque)
{
	struct controller_vcpu_ref *r = opaque;
	return &r->c->vmm.m.hctl[r->hart];
}

static uint64_t m_vcpu_instructions(void *opaque)
{
	return __atomic_load_n(&ref_cpu(opaque)->retired, __ATOMIC_RELAXED);
}

static uint64_t m_vcpu_exceptions(void *opaque)
{
	return __atomic_load_n(&ref_cpu(opaque)->exceptions, __ATOMIC_RELAXED);
}

static uint64_t m_vcpu_interrupts(void *opaque)
{
	return __atomic_load_n(&ref_cpu(opaque)->interrupts, __ATOMIC_RELAXED);
}

#define VCPU_CTL(field, scale)                                                                                         \
	static uint64_t m_vcpu_##field(void *opaque)                                                                   \
	{                                                                                                              \
		return atomic_load(&ref_ctl(opaque)->field) / (scale);                                                 \
	}
VCPU_CTL(exits_budget, 1)
VCPU_CTL(exits_wfi, 1)
VCPU_CTL(exits_halt, 1)
VCPU_CTL(ipis_sent, 1)
VCPU_CTL(remote_fences, 1)
VCPU_CTL(wfi_ns, 1000)

static void register_vcpu_metrics(struct controller *c)
{
	static const struct {
		const char *name;
		metric_read_fn read;
	} table[] = {
		{ "instructions", m_vcpu_instructions },
		{ "exceptions", m_vcpu_exceptions },
		{ "interrupts", m_vcpu_interrupts },
		{ "exit_budget", m_vcpu_exits_budget },
		{ "exit_wfi", m_vcpu_exits_wfi },
		{ "exit_halt", m_vcpu_exits_halt },
		{ "ipis_sent", m_vcpu_ipis_sent },
		{ "remote_fences", m_vcpu_remote_fences },
		{ "wfi_time_us", m_vcpu_wfi_ns },
	};
	for (unsigned h = 0; h < c->vmm.m.nharts && h < MACHINE_MAX_CPUS; h++) {
		c->vcpu_refs[h] = (struct controller_vcpu_ref){ c, h };
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
			metrics__register(c->metrics, vcpu_groups[h], table[i].name, METRIC_COUNTER, table[i].read, &c->vcpu_refs[h]);
	}
}

static void register_metrics(struct controller *c)
{
	static const struct {
		const char *group, *name;
		enum metric_kind kind;
		metric_read_fn read;
	} table[] = {
		{ "uart", "write_count", METRIC_COUNTER, m_uart_tx },
		{ "uart", "read_count", METRIC_COUNTER, m_uart_rx },
		{ "uart", "missed_write_count", METRIC_COUNTER, m_uart_dropped },
		{ "vcpu", "instructions", METRIC_COUNTER, m_instructions },
		{ "vmm", "guest_boot_time_us", METRIC_GAUGE, m_boot_time },
		{ "block", "read_count", METRIC_COUNTER, m_blk_reads },
		{ "block", "write_count", METRIC_COUNTER, m_blk_writes },
		{ "block", "flush_count", METRIC_COUNTER, m_blk_flushes },
		{ "block", "read_bytes", METRIC_COUNTER, m_blk_read_bytes },
		{ "block", "write_bytes", METRIC_COUNTER, m_blk_write_bytes },
		{ "block", "execute_fails", METRIC_COUNTER, m_blk_errors },
		{ "block", "rate_limiter_throttled_events", METRIC_COUNTER, m_blk_throttled },
		{ "net", "rx_packets_count", METRIC_COUNTER, m_net_rx_packets },
		{ "net", "rx_bytes_count", METRIC_COUNTER, m_net_rx_bytes },
		{ "net", "rx_dropped_count", METRIC_COUNTER, m_net_rx_dropped },
		{ "net", "tx_packets_count", METRIC_COUNTER, m_net_tx_packets },
		{ "net", "tx_bytes_count", METRIC_COUNTER, m_net_tx_bytes },
		{ "net", "tx_dropped_count", METRIC_COUNTER, m_net_tx_dropped },
		{ "net", "rx_rate_limiter_throttled", METRIC_COUNTER, m_net_rx_throttled },
		{ "net", "tx_rate_limiter_throttled", METRIC_COUNTER, m_net_tx_throttled },
		{ "entropy", "entropy_event_count", METRIC_COUNTER, m_rng_requests },
		{ "entropy", "entropy_bytes", METRIC_COUNTER, m_rng_bytes },
		{ "entropy", "host_rng_fails", METRIC_COUNTER, m_rng_errors },
		{ "entropy", "entropy_rate_limiter_throttled", METRIC_COUNTER, m_rng_throttled },
		{ "vsock", "rx_packets_count", METRIC_COUNTER, m_vsock_rx_packets },
		{ "vsock", "rx_bytes_count", METRIC_COUNTER, m_vsock_rx_bytes },
		{ "vsock", "tx_packets_count", METRIC_COUNTER, m_vsock_tx_packets },
		{ "vsock", "tx_bytes_count", METRIC_COUNTER, m_vsock_tx_bytes },
		{ "vsock", "rx_queue_event_count", METRIC_COUNTER, m_vsock_rx_queue_events },
		{ "vsock", "tx_queue_event_count", METRIC_COUNTER, m_vsock_tx_queue_events },
		{ "vsock", "conns_added", METRIC_COUNTER, m_vsock_conns_added },
		{ "vsock", "conns_killed", METRIC_COUNTER, m_vsock_conns_killed },
		{ "vsock", "conns_removed", METRIC_COUNTER, m_vsock_conns_removed },
		{ "vsock", "rx_read_fails", METRIC_COUNTER, m_vsock_rx_read_fails },
		{ "vsock", "tx_write_fails", METRIC_COUNTER, m_vsock_tx_write_fails },
		{ "vsock", "tx_flush_fails", METRIC_COUNTER, m_vsock_tx_flush_fails },
		{ "vsock", "muxer_event_fails", METRIC_COUNTER, m_vsock_muxer_event_fails },
		{ "vsock", "conn_event_fails", METRIC_COUNTER, m_vsock_conn_event_fails },
		{ "vsock", "bad_packets", METRIC_COUNTER, m_vsock_bad_packets },
		{ "memory", "ksm_merging_pages", METRIC_GAUGE, m_ksm_merging_pages },
		{ "memory", "estimated_active_kib", METRIC_GAUGE, m_wss_active_kib },
		{ "memory", "ksm_zero_pages", METRIC_GAUGE, m_ksm_zero_pages },
		{ "balloon", "inflate_count", METRIC_COUNTER, m_balloon_inflate_count },
		{ "balloon", "deflate_count", METRIC_COUNTER, m_balloon_deflate_count },
		{ "balloon", "stats_updates_count", METRIC_COUNTER, m_balloon_stats_updates },
		{ "balloon", "stats_update_fails", METRIC_COUNTER, m_balloon_stats_update_fails },
		{ "balloon", "event_fails", METRIC_COUNTER, m_balloon_event_fails },
		{ "balloon", "free_page_report_count", METRIC_COUNTER, m_balloon_free_page_report_count },
		{ "balloon", "free_page_report_freed", METRIC_COUNTER, m_balloon_free_page_report_freed },
		{ "balloon", "free_page_report_fails", METRIC_COUNTER, m_balloon_free_page_report_fails },
		{ "balloon", "free_page_hint_count", METRIC_COUNTER, m_balloon_free_page_hint_count },
		{ "balloon", "free_page_hint_freed", METRIC_COUNTER, m_balloon_free_page_hint_freed },
		{ "balloon", "free_page_hint_fails", METRIC_COUNTER, m_balloon_free_page_hint_fails },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		metrics__register(c->metrics, table[i].group, table[i].name, table[i].kind, table[i].read, c);
	register_vcpu_metrics(c);
	c->metrics_registered = true;
}

/* The virtio devices: those given on the command line, then the configured drives (root first), network
 * interfaces and the entropy device. */
static int build_devices(struct controller *c, char *err, size_t n)
{
	struct vm_resources *r = &c->res;
	for (unsigned i = 0; i < r->ndrives; i++) {
		const struct drive_cfg *d = &r->drives[i];
		struct block_config b = { .path = d->path_on_host,
					  .read_only = d->is_read_only,
					  .id = d->drive_id,
					  .async = d->io_engine == IO_ENGINE_ASYNC,
					  .limit = limit_of(&d->rate_limiter) };
		if (vmm_devices__add_block(&c->devices, &b) < 0) {
			snprintf(err, n, "Cannot attach drive %s: no free virtio-mmio slot", d->drive_id);
			return -1;
		}
	}
	for (unsigned i = 0; i < r->nnets; i++) {
		const struct net_cfg *nc = &r->nets[i];
		bool mmds = false;
		for (unsigned k = 0; r->has_mmds && k < r->mmds.nifaces; k++)
			mmds |= !strcmp(r->mmds.ifaces[k], nc->iface_id);
		struct net_config nd = { .tap = nc->host_dev_name,
					 .has_mac = nc->has_guest_mac,
					 .mmds = mmds,
					 .rx_limit = limit_of(&nc->rx_rate_limiter),
					 .tx_limit = limit_of(&nc->tx_rate_limiter) };
		memcpy(nd.mac, nc->guest_mac, sizeof(nd.mac));
		if (vmm_devices__add_net(&c->devices, &nd) < 0) {
			snprintf(err, n, "Cannot attach network interface %s: no free virtio-mmio slot", nc->iface_id);
			return -1;
		}
	}
	c->devices.rng_limit = limit_of(&r->entropy.rate_limiter);
	if (r->has_mmds) {
		c->devices.mmds = &c->mmds;
		c->devices.mmds_ipv4 = r->mmds.ipv4;
	}
	if (r->has_entropy && vmm_devices__add_rng(&c->devices) < 0) {
		snprintf(err, n, "Cannot attach the entropy device: no free virtio-mmio slot");
		return -1;
	}
	if (r->has_vsock) {
		struct vsock_config v = { r->vsock.guest_cid, r->vsock.uds_path };
		if (vmm_devices__add_vsock(&c->devices, &v) < 0) {
			snprintf(err, n, "Cannot attach the vsock device: no free virtio-mmio slot");
			return -1;
		}
	}
	if (r->has_balloon) {
		const struct balloon_cfg *b = &r->balloon;
		struct virtio_balloon_config bc = { b->amount_mib, b->deflate_on_oom, b->stats_polling_interval_s,
						    b->free_page_hinting, b->free_page_reporting };
		if (b->amount_mib > r->machine.mem_size_mib) {
			snprintf(err, n, "The balloon target (%u MiB) is larger than the guest memory (%llu MiB).",
				 b->amount_mib, (unsigned long long)r->machine.mem_size_mib);
			return -1;
		}
		if (vmm_devices__add_balloon(&c->devices, &bc) < 0) {
			snprintf(err, n, "Cannot attach the balloon device: no free virtio-mmio slot");
			return -1;
		}
	}
	return 0;
}

static int start_locked(struct controller *c, char *err, size_t n)
{
	struct vm_resources *r = &c->res;
	if (c->state != VM_NOT_STARTED) {
		snprintf(err, n, "%s", MSG_STARTED);
		return -1;
	}
	if (c->quit) { /* a signal came first: do not start a microVM nobody will stop */
		snprintf(err, n, "wisp is shutting down.");
		return -1;
	}
	if (!r->has_boot_source && !c->extras.elf) {
		snprintf(err, n, "Cannot start microvm without kernel configuration.");
		return -1;
	}
	if (resources__cmdline(r, c->cmdline, sizeof(c->cmdline)) < 0) {
		snprintf(err, n, "Invalid kernel command line: longer than %d bytes with root=", RES_CMDLINE_MAX - 1);
		return -1;
	}
	if (c->extras.devices)
		c->devices = *c->extras.devices;
	else
		memset(&c->devices, 0, sizeof(c->devices));
	if (build_devices(c, err, n) < 0) {
		memset(&c->devices, 0, sizeof(c->devices));
		return -1;
	}
	int out = c->console_out;
	if (r->has_serial && r->serial.serial_out_path[0]) {
		char why[RES_PATH_MAX + 64];
		c->serial_fd = resources__open_output(r->serial.serial_out_path, why, sizeof(why));
		if (c->serial_fd < 0) {
			snprintf(err, n, "Cannot open the serial output: %s", why);
			memset(&c->devices, 0, sizeof(c->devices));
			return -1;
		}
		out = c->serial_fd;
	}
	struct machine_config mc = {
		.mem_mib = r->machine.mem_size_mib,
		.cpus = r->machine.vcpu_count,
		.kernel = r->has_boot_source ? r->boot.kernel_image_path : NULL,
		.initrd = r->has_boot_source && r->boot.initrd_path[0] ? r->boot.initrd_path : NULL,
		.cmdline = c->cmdline,
		.firmware = c->extras.firmware,
		.elf = c->extras.elf,
		.dump_dtb = c->extras.dump_dtb,
		.boot_timer = r->boot_timer,
		.log = c->log,
		.has_cpu_backend = r->machine.has_cpu_backend,
		.cpu_backend = r->machine.cpu_backend,
	};
	c->vmm.timeout = c->extras.timeout;
	c->vmm.devices_cfg = &c->devices;
	pr_info(c->log, "Starting the microVM: %u vCPU, %llu MiB, kernel %s", mc.cpus, (unsigned long long)mc.mem_mib,
		mc.elf ? mc.elf : mc.kernel);
	char why[1024];
	if (vmm__create(&c->vmm, &mc, mc.elf ? -1 : c->console_in, out, why, sizeof(why)) < 0) {
		snprintf(err, n, "Failed to start the microVM: %s", why);
		goto fail;
	}
	if (r->machine.mem_merge &&
	    mem_merge__enable(&c->merge, c->vmm.m.bus.ram, c->vmm.m.bus.ram_size, why, sizeof(why)) < 0) {
		snprintf(err, n, "Failed to start the microVM: %s", why);
		vmm__destroy(&c->vmm);
		goto fail;
	}
	register_metrics(c);
	if (vmm__start(&c->vmm) < 0) {
		snprintf(err, n, "Failed to start the microVM: cannot start its threads.");
		unregister_metrics(c);
		vmm__destroy(&c->vmm);
		goto fail;
	}
	c->state = VM_RUNNING;
	pthread_cond_broadcast(&c->cv);
	metrics__start_periodic(c->metrics, c->extras.metrics_period_ms);
	seccomp__lock_exec(); /* the code cache exists: this thread makes nothing executable any more */
	pr_info(c->log, "Successfully started the microVM");
	return 0;
fail:
	memset(&c->devices, 0, sizeof(c->devices));
	if (c->serial_fd >= 0)
		close(c->serial_fd);
	c->serial_fd = -1;
	return -1;
}

int controller__start(struct controller *c, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = start_locked(c, err, n);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__pause(struct controller *c, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = runtime_check_locked(c, err, n);
	if (r == 0 && c->state == VM_RUNNING) {
		vmm__pause(&c->vmm);
		if (!atomic_load(&c->vmm.m.halted))
			c->state = VM_PAUSED;
		pr_info(c->log, "The microVM is paused");
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__resume(struct controller *c, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = runtime_check_locked(c, err, n);
	if (r == 0 && c->state == VM_PAUSED) {
		vmm__resume(&c->vmm);
		c->state = VM_RUNNING;
		pr_info(c->log, "The microVM is resumed");
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__flush_metrics(struct controller *c, char *err, size_t n)
{
	(void)c;
	if (metrics__flush(c->metrics) < 0) {
		snprintf(err, n, "Failed to write metrics.");
		return -1;
	}
	return 0;
}

int controller__send_ctrl_alt_del(struct controller *c, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = runtime_check_locked(c, err, n);
	if (r == 0) {
		/*
		 * Firecracker presses Ctrl+Alt+Del on an i8042 keyboard (x86) or a gpio-keys power button (arm64).
		 * The RISC-V virt board has neither, and SBI has no host-to-guest shutdown request, so there is no
		 * way to ask the guest politely yet. Refuse rather than pretend.
		 */
		snprintf(err, n,
			 "SendCtrlAltDel is not supported on RISC-V: the wisp machine has no keyboard "
			 "controller or power button to deliver it; shut the guest down from inside (poweroff).");
		r = -1;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__snapshot_create(struct controller *c, const struct snapshot_create_cfg *s, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = runtime_check_locked(c, err, n);
	if (r == 0 && c->state != VM_PAUSED) {
		snprintf(err, n, "Create snapshot only allowed while paused: pause the microVM first (PATCH /vm).");
		r = -1;
	} else if (r == 0) {
		struct snapshot_params p = { s->diff ? SNAPSHOT_DIFF : SNAPSHOT_FULL, s->snapshot_path, s->mem_file_path,
					     NULL };
		char why[1024];
		r = snapshot__create(&c->vmm, &p, why, sizeof(why));
		if (r < 0) {
			snprintf(err, n, "Create snapshot error: %s", why);
			pr_err(c->log, "Create snapshot error: %s", why);
		} else {
			pr_info(c->log, "Snapshot written to %s and %s", s->snapshot_path, s->mem_file_path);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

static int load_locked(struct controller *c, const struct snapshot_load_cfg *s, char *err, size_t n)
{
	/* The serial output set by PUT /serial (which is not boot-specific), else wisp's standard output. */
	int out = c->console_out, serial_fd = -1;
	if (c->res.has_serial && c->res.serial.serial_out_path[0]) {
		char why[RES_PATH_MAX + 64];
		serial_fd = resources__open_output(c->res.serial.serial_out_path, why, sizeof(why));
		if (serial_fd < 0) {
			snprintf(err, n, "Load snapshot error: cannot open the serial output: %s", why);
			return -1;
		}
		out = serial_fd;
	}
	/* Devices given on the command line (--drive, --net...) replace the snapshot's. */
	const struct vmm_devices_config *own = c->extras.devices;
	bool has_own = own && (own->nblock || own->nnet || own->rng || own->console || own->has_vsock ||
			       own->has_balloon);
	struct snapshot_load_params p = {
		.state_path = s->snapshot_path,
		.mem = { s->mem_path },
		.nmem = 1,
		.resume = s->resume_vm,
		.console_in = c->console_in,
		.console_out = out,
		.timeout = c->extras.timeout,
		.devices = has_own ? own : NULL,
		.vsock_uds_path = s->has_vsock_override ? s->vsock_uds_path : NULL,
		.log = c->log,
		.mmds = &c->mmds,
	};
	char why[2048];
	if (snapshot__load(&c->vmm, &p, why, sizeof(why)) < 0) {
		snprintf(err, n, "Load snapshot error: %s", why);
		pr_err(c->log, "Load snapshot error: %s", why);
		if (serial_fd >= 0)
			close(serial_fd);
		return -1;
	}
	c->serial_fd = serial_fd;
	/* What GET /machine-config and /vm/config can tell of the restored microVM; tracking is on (Diff). */
	c->res.machine.vcpu_count = c->vmm.m.nharts;
	c->res.machine.mem_size_mib = c->vmm.m.bus.ram_size >> 20;
	c->res.machine.track_dirty_pages = true;
	register_metrics(c);
	c->state = s->resume_vm ? VM_RUNNING : VM_PAUSED;
	pthread_cond_broadcast(&c->cv);
	metrics__start_periodic(c->metrics, c->extras.metrics_period_ms);
	seccomp__lock_exec();
	pr_info(c->log, "Loaded the snapshot %s (memory %s): the microVM is %s", s->snapshot_path, s->mem_path,
		s->resume_vm ? "running" : "paused");
	return 0;
}

int controller__snapshot_load(struct controller *c, const struct snapshot_load_cfg *s, char *err, size_t n)
{
	pthread_mutex_lock(&c->lock);
	int r = -1;
	if (c->state != VM_NOT_STARTED)
		snprintf(err, n, "%s", MSG_STARTED);
	else if (c->boot_configured)
		snprintf(err, n, "Loading a microVM snapshot not allowed after configuring boot-specific resources.");
	else if (s->mem_uffd)
		snprintf(err, n,
			 "Load snapshot error: the Uffd memory backend is not supported by wisp; use \"backend_type\": "
			 "\"File\" (the memory file is mapped lazily, page by page, all the same).");
	else
		r = load_locked(c, s, err, n);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int controller__run(struct controller *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->state == VM_NOT_STARTED && !c->quit)
		pthread_cond_wait(&c->cv, &c->lock);
	if (c->state == VM_NOT_STARTED) {
		int code = c->quit_code;
		pthread_mutex_unlock(&c->lock);
		return code;
	}
	pthread_mutex_unlock(&c->lock);
	/* Only this thread joins the vCPUs; the API may still pause or resume meanwhile. */
	int code = vmm__wait(&c->vmm);
	pthread_mutex_lock(&c->lock);
	c->state = VM_EXITED;
	pthread_mutex_unlock(&c->lock);
	metrics__stop_periodic(c->metrics);
	metrics__flush(c->metrics);
	/* A failure goes to the log when it has a file of its own (wisp's caller prints it on stderr). */
	if (c->vmm.m.failed && c->res.has_logger && c->res.logger.has_log_path)
		pr_err(c->log, "The microVM stopped: %s; exit status %d", c->vmm.m.exit_why, code);
	else if (!c->vmm.m.failed)
		pr_info(c->log, "The microVM stopped (%s), exit status %d", c->vmm.m.exit_why ? c->vmm.m.exit_why : "?", code);
	return code;
}

void controller__request_exit(struct controller *c, int code, const char *why)
{
	pthread_mutex_lock(&c->lock);
	if (c->state == VM_RUNNING || c->state == VM_PAUSED) {
		machine__halt(&c->vmm.m, code, why);
	} else if (c->state == VM_NOT_STARTED) {
		c->quit = true;
		c->quit_code = code;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->lock);
}

int controller__quit_code(struct controller *c)
{
	pthread_mutex_lock(&c->lock);
	int code = c->quit ? c->quit_code : -1;
	pthread_mutex_unlock(&c->lock);
	return code;
}

const char *controller__exit_reason(struct controller *c)
{
	return c->vmm.created ? c->vmm.m.exit_why : NULL;
}

bool controller__exit_failed(struct controller *c)
{
	return c->vmm.created && c->vmm.m.failed;
}
