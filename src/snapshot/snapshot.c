/* Snapshot create and load for one VMM: files, device configuration, dirty tracking, threads. */
#include "snapshot/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmds/mmds.h"
#include "snapshot/format.h"
#include "snapshot/state.h"

#define V_MEMORY 1
#define V_DEVCFG 3 /* 2 added vsock and balloon, 3 MMDS; older ones are read too */
#define MMDS_DOC_MAX (1u << 20)
#define DEV_PATH_MAX 4096
#define DEV_NAME_MAX 64

/* ---- the virtio devices' configuration ---- */

/*
 * The device configuration of a restored VM, with the strings it points at. struct vmm keeps a pointer to its
 * vmm_devices_config (a later snapshot records it again): the restored vmm owns this (devices_cfg_owned).
 */
struct devcfg_store {
	struct vmm_devices_config cfg;
	char blk_path[VIRTIO_SLOTS][DEV_PATH_MAX];
	char blk_id[VIRTIO_SLOTS][DEV_NAME_MAX];
	char tap[VIRTIO_SLOTS][DEV_NAME_MAX];
	char vsock_path[DEV_PATH_MAX];
	/* MMDS (version 3): its document and configuration, restored into the load's store. */
	bool has_mmds;
	uint8_t mmds_version, mmds_compat;
	uint32_t mmds_nets;
	char *mmds_doc;
};

static void save_limit(struct snap_writer *w, const struct ratelimit_cfg *l)
{
	const struct tbucket_cfg *b[2] = { &l->bandwidth, &l->ops };
	for (unsigned i = 0; i < 2; i++) {
		snap_w__u64(w, b[i]->size);
		snap_w__u64(w, b[i]->one_time_burst);
		snap_w__u64(w, b[i]->refill_time_ms);
	}
}

static void load_limit(struct snap_reader *r, struct ratelimit_cfg *l)
{
	struct tbucket_cfg *b[2] = { &l->bandwidth, &l->ops };
	for (unsigned i = 0; i < 2; i++) {
		b[i]->size = snap_r__u64(r);
		b[i]->one_time_burst = snap_r__u64(r);
		b[i]->refill_time_ms = snap_r__u64(r);
	}
}

static void save_devcfg(struct snap_writer *w, const struct vmm_devices_config *c)
{
	static const struct vmm_devices_config none;
	if (!c)
		c = &none;
	snap_w__begin(w, SNAP_SEC_DEVCFG, V_DEVCFG);
	snap_w__u32(w, c->nblock);
	for (unsigned i = 0; i < c->nblock; i++) {
		snap_w__str(w, c->block[i].path);
		snap_w__u8(w, c->block[i].read_only);
		snap_w__str(w, c->block[i].id);
	}
	snap_w__u32(w, c->nnet);
	for (unsigned i = 0; i < c->nnet; i++) {
		snap_w__str(w, c->net[i].tap);
		snap_w__u8(w, c->net[i].has_mac);
		snap_w__bytes(w, c->net[i].mac, 6);
	}
	snap_w__u8(w, c->rng);
	snap_w__u8(w, c->console);
	snap_w__u8(w, c->has_vsock);
	if (c->has_vsock) {
		snap_w__u64(w, c->vsock.guest_cid);
		snap_w__str(w, c->vsock.uds_path);
	}
	snap_w__u8(w, c->has_balloon);
	if (c->has_balloon) {
		const struct virtio_balloon_config *b = &c->balloon;
		snap_w__u32(w, b->amount_mib);
		snap_w__u8(w, b->deflate_on_oom);
		snap_w__u32(w, b->stats_interval_s);
		snap_w__u8(w, b->free_page_hinting);
		snap_w__u8(w, b->free_page_reporting);
	}
	/* Version 3: each drive's engine and rate limiter, each interface's and the entropy device's limiters. */
	for (unsigned i = 0; i < c->nblock; i++) {
		snap_w__u8(w, c->block[i].async);
		save_limit(w, &c->block[i].limit);
	}
	for (unsigned i = 0; i < c->nnet; i++) {
		save_limit(w, &c->net[i].rx_limit);
		save_limit(w, &c->net[i].tx_limit);
	}
	save_limit(w, &c->rng_limit);
	snap_w__u8(w, c->mmds != NULL);
	if (c->mmds) {
		uint32_t nets = 0;
		for (unsigned i = 0; i < c->nnet; i++)
			nets |= (uint32_t)c->net[i].mmds << i;
		char *doc = mmds__get(c->mmds);
		snap_w__u32(w, c->mmds_ipv4);
		snap_w__u8(w, (uint8_t)c->mmds->version);
		snap_w__u8(w, c->mmds->imds_compat);
		snap_w__u32(w, nets);
		snap_w__str(w, doc ? doc : "{}");
		free(doc);
	}
	snap_w__end(w);
}

static int parse_devcfg(const struct snap_file *f, struct devcfg_store *d, char *err, size_t n)
{
	memset(d, 0, sizeof(*d));
	if (snap_file__count(f, SNAP_SEC_DEVCFG) != 1) {
		snprintf(err, n, "snapshot state file has no (or several) device configuration sections");
		return -1;
	}
	const struct snap_section *sec = snap_file__find(f, SNAP_SEC_DEVCFG, 0);
	if (sec->version < 1 || sec->version > V_DEVCFG) {
		snprintf(err, n, "snapshot device configuration has version %u, this wisp reads 1 to %u", sec->version,
			 V_DEVCFG);
		return -1;
	}
	struct snap_reader r;
	snap_r__init(&r, sec->data, sec->len);
	struct vmm_devices_config *c = &d->cfg;
	c->nblock = snap_r__u32(&r);
	if (c->nblock > VIRTIO_SLOTS)
		goto bad;
	for (unsigned i = 0; i < c->nblock; i++) {
		bool null_path, null_id;
		if (!snap_r__str(&r, d->blk_path[i], DEV_PATH_MAX, &null_path) || null_path)
			goto bad;
		uint8_t ro = snap_r__u8(&r);
		if (ro > 1 || !snap_r__str(&r, d->blk_id[i], DEV_NAME_MAX, &null_id))
			goto bad;
		c->block[i] = (struct block_config){ .path = d->blk_path[i], .read_only = ro,
						     .id = null_id ? NULL : d->blk_id[i] };
	}
	c->nnet = snap_r__u32(&r);
	if (c->nnet > VIRTIO_SLOTS - c->nblock)
		goto bad;
	for (unsigned i = 0; i < c->nnet; i++) {
		bool null_tap;
		if (!snap_r__str(&r, d->tap[i], DEV_NAME_MAX, &null_tap) || null_tap)
			goto bad;
		uint8_t has_mac = snap_r__u8(&r);
		c->net[i].tap = d->tap[i];
		c->net[i].has_mac = has_mac;
		snap_r__bytes(&r, c->net[i].mac, 6);
		if (has_mac > 1)
			goto bad;
	}
	uint8_t rng = snap_r__u8(&r), console = snap_r__u8(&r), vsock = 0, balloon = 0;
	c->rng = rng;
	c->console = console;
	if (sec->version >= 2) {
		vsock = snap_r__u8(&r);
		if (vsock == 1) {
			bool null_path;
			c->vsock.guest_cid = snap_r__u64(&r);
			if (!snap_r__str(&r, d->vsock_path, DEV_PATH_MAX, &null_path) || null_path ||
			    c->vsock.guest_cid <= 2 || c->vsock.guest_cid > UINT32_MAX)
				goto bad;
			c->vsock.uds_path = d->vsock_path;
		}
		balloon = snap_r__u8(&r);
		if (balloon == 1) {
			struct virtio_balloon_config *b = &c->balloon;
			b->amount_mib = snap_r__u32(&r);
			uint8_t oom = snap_r__u8(&r);
			b->stats_interval_s = snap_r__u32(&r);
			uint8_t hint = snap_r__u8(&r), report = snap_r__u8(&r);
			if (oom > 1 || hint > 1 || report > 1 || b->stats_interval_s > UINT16_MAX ||
			    b->amount_mib > UINT32_MAX / VIRTIO_BALLOON_PAGES_PER_MIB)
				goto bad;
			b->deflate_on_oom = oom;
			b->free_page_hinting = hint;
			b->free_page_reporting = report;
		}
	}
	c->has_vsock = vsock;
	c->has_balloon = balloon;
	uint8_t async_bad = 0;
	if (sec->version >= 3) {
		for (unsigned i = 0; i < c->nblock && i < VIRTIO_SLOTS; i++) {
			uint8_t a = snap_r__u8(&r);
			async_bad |= a > 1;
			c->block[i].async = a;
			load_limit(&r, &c->block[i].limit);
		}
		for (unsigned i = 0; i < c->nnet && i < VIRTIO_SLOTS; i++) {
			load_limit(&r, &c->net[i].rx_limit);
			load_limit(&r, &c->net[i].tx_limit);
		}
		load_limit(&r, &c->rng_limit);
	}
	if (async_bad)
		goto bad;
	uint8_t mmds = sec->version >= 3 ? snap_r__u8(&r) : 0;
	if (mmds == 1) {
		c->mmds_ipv4 = snap_r__u32(&r);
		d->mmds_version = snap_r__u8(&r);
		d->mmds_compat = snap_r__u8(&r);
		d->mmds_nets = snap_r__u32(&r);
		d->mmds_doc = malloc(MMDS_DOC_MAX);
		bool null_doc;
		if (!d->mmds_doc || !snap_r__str(&r, d->mmds_doc, MMDS_DOC_MAX, &null_doc) || null_doc ||
		    (d->mmds_version != MMDS_V1 && d->mmds_version != MMDS_V2) || d->mmds_compat > 1 ||
		    (d->mmds_nets >> c->nnet) != 0)
			goto bad;
		for (unsigned i = 0; i < c->nnet; i++)
			c->net[i].mmds = (d->mmds_nets >> i) & 1;
		d->has_mmds = true;
	}
	if (!snap_r__done(&r) || mmds > 1 || rng > 1 || console > 1 || vsock > 1 || balloon > 1 ||
	    c->nblock + c->nnet + rng + console + vsock + balloon > VIRTIO_SLOTS)
		goto bad;
	return 0;
bad:
	snprintf(err, n, "corrupt snapshot state file: bad device configuration section");
	return -1;
}

/* A clone's own devices replace the recorded ones: same shape, copied into the store. */
static int override_devcfg(struct devcfg_store *d, const struct vmm_devices_config *o, char *err, size_t n)
{
	const struct vmm_devices_config *c = &d->cfg;
	if (o->nblock != c->nblock || o->nnet != c->nnet || o->rng != c->rng || o->console != c->console ||
	    o->has_vsock != c->has_vsock || o->has_balloon != c->has_balloon) {
		snprintf(err, n,
			 "the restored microVM's devices must be those of the snapshot: %u drives, %u network interfaces, "
			 "%s entropy device, %s virtio console, %s vsock device, %s balloon",
			 c->nblock, c->nnet, c->rng ? "an" : "no", c->console ? "a" : "no", c->has_vsock ? "a" : "no",
			 c->has_balloon ? "a" : "no");
		return -1;
	}
	if (o->has_vsock) {
		if (!o->vsock.uds_path || strlen(o->vsock.uds_path) >= DEV_PATH_MAX) {
			snprintf(err, n, "vsock socket path too long");
			return -1;
		}
		snprintf(d->vsock_path, DEV_PATH_MAX, "%s", o->vsock.uds_path);
		d->cfg.vsock = (struct vsock_config){ o->vsock.guest_cid, d->vsock_path };
	}
	if (o->has_balloon)
		d->cfg.balloon = o->balloon;
	for (unsigned i = 0; i < o->nblock; i++) {
		if (!o->block[i].path || strlen(o->block[i].path) >= DEV_PATH_MAX ||
		    (o->block[i].id && strlen(o->block[i].id) >= DEV_NAME_MAX)) {
			snprintf(err, n, "drive %u: path or id too long", i);
			return -1;
		}
		snprintf(d->blk_path[i], DEV_PATH_MAX, "%s", o->block[i].path);
		if (o->block[i].id)
			snprintf(d->blk_id[i], DEV_NAME_MAX, "%s", o->block[i].id);
		struct ratelimit_cfg limit = d->cfg.block[i].limit; /* the guest's limits and engine stay */
		bool async = d->cfg.block[i].async;
		d->cfg.block[i] = o->block[i];
		d->cfg.block[i].limit = limit;
		d->cfg.block[i].async = async || o->block[i].async;
		d->cfg.block[i].path = d->blk_path[i];
		d->cfg.block[i].id = o->block[i].id ? d->blk_id[i] : NULL;
	}
	for (unsigned i = 0; i < o->nnet; i++) {
		if (!o->net[i].tap || strlen(o->net[i].tap) >= DEV_NAME_MAX) {
			snprintf(err, n, "network interface %u: TAP name too long", i);
			return -1;
		}
		snprintf(d->tap[i], DEV_NAME_MAX, "%s", o->net[i].tap);
		struct ratelimit_cfg rx = d->cfg.net[i].rx_limit, tx = d->cfg.net[i].tx_limit;
		d->cfg.net[i] = o->net[i];
		d->cfg.net[i].rx_limit = rx;
		d->cfg.net[i].tx_limit = tx;
		d->cfg.net[i].tap = d->tap[i];
		d->cfg.net[i].mmds = (d->mmds_nets >> i) & 1; /* the guest's interfaces keep their MMDS */
	}
	return 0;
}

/* ---- create ---- */

static int tmp_name(char *buf, size_t size, const char *path)
{
	return snprintf(buf, size, "%s.tmp.%ld", path, (long)getpid()) < (int)size ? 0 : -1;
}

int snapshot__create(struct vmm *v, const struct snapshot_params *p, char *err, size_t n)
{
	struct machine *m = &v->m;
	if (!v->created || !v->started || atomic_load(&m->halted)) {
		snprintf(err, n, "there is no running microVM to snapshot");
		return -1;
	}
	if (!machine__paused(m)) {
		snprintf(err, n, "the microVM must be paused before a snapshot is taken");
		return -1;
	}
	if (!p->state_path || !*p->state_path || !p->mem_path || !*p->mem_path) {
		snprintf(err, n, "a snapshot needs a state file path and a memory file path");
		return -1;
	}
	if (!strcmp(p->state_path, p->mem_path)) {
		snprintf(err, n, "the state file and the memory file must be different files");
		return -1;
	}
	char state_tmp[4096], mem_tmp[4096];
	if (tmp_name(state_tmp, sizeof(state_tmp), p->state_path) < 0 ||
	    tmp_name(mem_tmp, sizeof(mem_tmp), p->mem_path) < 0) {
		snprintf(err, n, "snapshot path too long");
		return -1;
	}

	/*
	 * The vCPUs are parked; the device I/O thread must stop too, so that no request is half-processed and
	 * no device writes guest memory while the devices and RAM are saved. It restarts (and finds whatever
	 * arrived meanwhile: its epoll is level-triggered) when the snapshot is written, unless it was already
	 * stopped (PATCH /vm Paused stops it: a paused VM stays quiet until it is resumed).
	 */
	bool io_running = v->devices.have_loop && v->devices.loop.running;
	vmm_devices__stop(&v->devices);
	/* The board's state first: it refuses devices without snapshot support before any file exists. */
	struct snap_writer w, board;
	snap_w__init(&w);
	snap_w__init(&board);
	int rc = -1;
	if (snap_state__save(m, &board, err, n) < 0)
		goto out;

	bool diff = p->type == SNAPSHOT_DIFF && m->bus.dirty;
	struct snap_mem_stats st;
	if (snap_mem__write(m, diff, mem_tmp, &st, err, n) < 0) {
		unlink(mem_tmp);
		goto out;
	}

	snap_w__start_file(&w);
	snap_w__begin(&w, SNAP_SEC_MEMORY, V_MEMORY);
	snap_w__u32(&w, diff ? SNAPSHOT_DIFF : SNAPSHOT_FULL);
	snap_w__u32(&w, (uint32_t)PAGE_SIZE);
	snap_w__u64(&w, m->bus.ram_size);
	snap_w__u64(&w, st.pages_written);
	snap_w__end(&w);
	save_devcfg(&w, v->devices_cfg);
	snap_w__bytes(&w, board.buf, board.len);
	if (snap_w__finish_file(&w) < 0) {
		snprintf(err, n, "out of memory while writing the snapshot state");
		unlink(mem_tmp);
		goto out;
	}
	if (snap__write_file(state_tmp, w.buf, w.len, err, n) < 0) {
		unlink(state_tmp);
		unlink(mem_tmp);
		goto out;
	}
	/* Both files are complete: put them in place (a file backing a running clone keeps its old inode). */
	if (rename(mem_tmp, p->mem_path) < 0 || rename(state_tmp, p->state_path) < 0) {
		snprintf(err, n, "cannot put the snapshot files in place: %s", strerror(errno));
		unlink(state_tmp);
		unlink(mem_tmp);
		goto out;
	}
	/* From now on a Diff is relative to this snapshot. */
	if (snap_mem__reset_dirty(m) < 0) {
		snprintf(err, n, "snapshot written, but dirty-page tracking could not start: out of memory");
		goto out;
	}
	if (p->stats)
		*p->stats = st;
	rc = 0;
out:
	snap_w__free(&w);
	snap_w__free(&board);
	if (io_running && vmm_devices__start(&v->devices) < 0 && rc == 0) {
		snprintf(err, n, "snapshot written, but the device I/O thread could not restart");
		rc = -1;
	}
	return rc;
}

/* ---- load ---- */

struct mem_info {
	enum snapshot_type type;
	uint64_t mem_size, pages_written;
};

static int parse_memory(const struct snap_file *f, struct mem_info *mi, char *err, size_t n)
{
	if (snap_file__count(f, SNAP_SEC_MEMORY) != 1) {
		snprintf(err, n, "snapshot state file has no (or several) memory sections");
		return -1;
	}
	const struct snap_section *sec = snap_file__find(f, SNAP_SEC_MEMORY, 0);
	if (sec->version != V_MEMORY) {
		snprintf(err, n, "snapshot memory section has version %u, this wisp reads %u", sec->version, V_MEMORY);
		return -1;
	}
	struct snap_reader r;
	snap_r__init(&r, sec->data, sec->len);
	uint32_t type = snap_r__u32(&r), page = snap_r__u32(&r);
	mi->mem_size = snap_r__u64(&r);
	mi->pages_written = snap_r__u64(&r);
	mi->type = type == SNAPSHOT_DIFF ? SNAPSHOT_DIFF : SNAPSHOT_FULL;
	if (!snap_r__done(&r) || type > SNAPSHOT_DIFF || page != PAGE_SIZE || mi->pages_written > mi->mem_size / PAGE_SIZE) {
		snprintf(err, n, "corrupt snapshot state file: bad memory section");
		return -1;
	}
	return 0;
}

static void *alloc_state(void)
{
	return calloc(1, sizeof(struct snap_state));
}

int snapshot__load(struct vmm *v, const struct snapshot_load_params *p, char *err, size_t n)
{
	if (v->created) {
		snprintf(err, n, "a microVM already exists in this process: a snapshot loads only before one is started");
		return -1;
	}
	if (!p->state_path || !*p->state_path || p->nmem < 1 || p->nmem > SNAP_MAX_LAYERS || !p->mem[0]) {
		snprintf(err, n, "a snapshot load needs a state file and 1 to %d memory files", SNAP_MAX_LAYERS);
		return -1;
	}
	struct snap_file f;
	struct snap_state *s = alloc_state();
	struct devcfg_store *dev = calloc(1, sizeof(*dev));
	int rc = -1;
	bool have_file = false;
	if (!s || !dev) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	if (snap_file__read(&f, p->state_path, err, n) < 0)
		goto out;
	have_file = true;

	/* Everything in the files is checked before anything is built. */
	struct mem_info mi;
	char why[512];
	if (parse_memory(&f, &mi, why, sizeof(why)) < 0 || snap_state__parse(s, &f, why, sizeof(why)) < 0 ||
	    parse_devcfg(&f, dev, why, sizeof(why)) < 0) {
		snprintf(err, n, "%s: %s", p->state_path, why);
		goto out;
	}
	if (mi.mem_size != s->info.ram_size) {
		snprintf(err, n, "%s: corrupt snapshot state file: memory sizes disagree", p->state_path);
		goto out;
	}
	if (p->devices && override_devcfg(dev, p->devices, err, n) < 0)
		goto out;
	if (p->vsock_uds_path) {
		if (!dev->cfg.has_vsock) {
			snprintf(err, n, "vsock_override: the snapshot has no vsock device");
			goto out;
		}
		if (!*p->vsock_uds_path || strlen(p->vsock_uds_path) > VIRTIO_VSOCK_PATH_MAX) {
			snprintf(err, n, "vsock_override: bad uds_path");
			goto out;
		}
		snprintf(dev->vsock_path, DEV_PATH_MAX, "%s", p->vsock_uds_path);
		dev->cfg.vsock.uds_path = dev->vsock_path;
	}
	if (mi.type == SNAPSHOT_FULL && p->nmem > 1) {
		snprintf(err, n, "%s is a Full snapshot: its memory file takes no Diff layers", p->state_path);
		goto out;
	}
	for (unsigned i = 0; i < p->nmem; i++)
		if (!p->mem[i] || snap_mem__check(p->mem[i], s->info.ram_size, err, n) < 0)
			goto out;

	/* MMDS comes back in the load's store (none given, e.g. --restore: the interfaces come back without it). */
	if (dev->has_mmds && p->mmds) {
		dev->cfg.mmds = p->mmds;
	} else {
		dev->cfg.mmds = NULL;
	}

	/* Build the machine as it was, with nothing loaded. */
	struct machine_config mc = {
		.mem_mib = s->info.ram_size >> 20,
		.cpus = s->info.nharts,
		.boot_timer = s->info.flags & SNAP_M_BOOT_TIMER,
		.log = p->log,
		.restore = true,
	};
	/* Point the config's strings at the store's copies. */
	for (unsigned i = 0; i < dev->cfg.nblock; i++) {
		dev->cfg.block[i].path = dev->blk_path[i];
		if (dev->cfg.block[i].id)
			dev->cfg.block[i].id = dev->blk_id[i];
	}
	for (unsigned i = 0; i < dev->cfg.nnet; i++)
		dev->cfg.net[i].tap = dev->tap[i];
	if (dev->cfg.has_vsock)
		dev->cfg.vsock.uds_path = dev->vsock_path;
	v->timeout = p->timeout;
	v->devices_cfg = &dev->cfg;
	if (vmm__create(v, &mc, p->console_in, p->console_out, why, sizeof(why)) < 0) {
		snprintf(err, n, "cannot build the microVM from the snapshot: %s", why);
		goto out;
	}
	struct machine *m = &v->m;
	uint64_t last_pages = 0;
	if (snap_mem__map(m, p->mem, p->nmem, &last_pages, err, n) < 0)
		goto fail;
	if (mi.type == SNAPSHOT_DIFF && p->nmem > 1 && last_pages != mi.pages_written) {
		snprintf(err, n, "diff memory file %s has %" PRIu64 " pages of data, its snapshot wrote %" PRIu64
				 ": not the memory file of %s",
			 p->mem[p->nmem - 1], last_pages, mi.pages_written, p->state_path);
		goto fail;
	}
	if (snap_state__apply(s, &f, m, why, sizeof(why)) < 0) {
		snprintf(err, n, "%s: %s", p->state_path, why);
		goto fail;
	}
	/* Diffs taken from here on are relative to this snapshot. */
	if (snap_mem__reset_dirty(m) < 0) {
		snprintf(err, n, "out of memory");
		goto fail;
	}
	/*
	 * Guest time is frozen at the snapshot's. To resume, start it before the harts exist (no lock to fight
	 * them for); otherwise the harts start parked and the machine is paused as after PATCH /vm Paused.
	 */
	if (p->resume)
		machine__resume(m);
	else
		atomic_store(&m->pause_req, true);
	if (vmm__start(v) < 0) {
		snprintf(err, n, "cannot start the restored microVM's threads");
		goto fail;
	}
	if (!p->resume)
		vmm__pause(v); /* returns once the harts are parked */
	if (dev->cfg.mmds) {
		mmds__configure(dev->cfg.mmds, dev->mmds_version == 2 ? MMDS_V2 : MMDS_V1, dev->mmds_compat);
		if (mmds__put(dev->cfg.mmds, dev->mmds_doc, why, sizeof(why)) < 0)
			fprintf(stderr, "wisp: the snapshot's MMDS document is not restored: %s\n", why);
	}
	free(dev->mmds_doc); /* in the store now */
	dev->mmds_doc = NULL;
	rc = 0;
	v->devices_cfg_owned = dev; /* the vmm's from now on */
	dev = NULL;
	goto out;
fail:
	vmm__destroy(v);
out:
	if (have_file)
		snap_file__free(&f);
	free(s);
	if (dev)
		free(dev->mmds_doc);
	free(dev);
	return rc;
}

int snapshot__inspect(const char *state_path, struct snapshot_summary *sum, char *err, size_t n)
{
	struct snap_file f;
	if (snap_file__read(&f, state_path, err, n) < 0)
		return -1;
	struct mem_info mi;
	struct snap_state *s = alloc_state();
	char why[512];
	int rc = -1;
	if (!s)
		snprintf(err, n, "out of memory");
	else if (parse_memory(&f, &mi, why, sizeof(why)) < 0 || snap_state__parse(s, &f, why, sizeof(why)) < 0)
		snprintf(err, n, "%s: %s", state_path, why);
	else {
		*sum = (struct snapshot_summary){ mi.type, mi.mem_size, mi.pages_written, s->ticks, s->info.nharts };
		rc = 0;
	}
	free(s);
	snap_file__free(&f);
	return rc;
}
