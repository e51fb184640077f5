/* Virtio devices of the microVM: configs, slot assignment, interrupt wiring, the I/O thread. */
#include "vmm/devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned nconfigured(const struct vmm_devices_config *c)
{
	return c->nblock + c->nnet + c->rng + c->console + c->has_vsock + c->has_balloon;
}

static int slot_free(const struct vmm_devices_config *c, const char *what)
{
	if (nconfigured(c) < VIRTIO_SLOTS)
		return 0;
	fprintf(stderr, "wisp: no virtio slot left for %s (at most %d devices)\n", what, VIRTIO_SLOTS);
	return -1;
}

int vmm_devices__add_block(struct vmm_devices_config *c, const struct block_config *b)
{
	if (!b->path || !*b->path) {
		fprintf(stderr, "wisp: a drive needs a path\n");
		return -1;
	}
	if (slot_free(c, "a drive") < 0)
		return -1;
	c->block[c->nblock++] = *b;
	return 0;
}

int vmm_devices__add_net(struct vmm_devices_config *c, const struct net_config *n)
{
	if (!n->tap || !*n->tap) {
		fprintf(stderr, "wisp: a network interface needs tap=NAME\n");
		return -1;
	}
	if (slot_free(c, "a network interface") < 0)
		return -1;
	c->net[c->nnet++] = *n;
	return 0;
}

int vmm_devices__add_rng(struct vmm_devices_config *c)
{
	if (!c->rng && slot_free(c, "the entropy device") < 0)
		return -1;
	c->rng = true;
	return 0;
}

int vmm_devices__add_console(struct vmm_devices_config *c)
{
	if (!c->console && slot_free(c, "the virtio console") < 0)
		return -1;
	c->console = true;
	return 0;
}

int vmm_devices__add_vsock(struct vmm_devices_config *c, const struct vsock_config *v)
{
	if (v->guest_cid <= VIRTIO_VSOCK_HOST_CID || v->guest_cid > UINT32_MAX || !v->uds_path || !*v->uds_path ||
	    strlen(v->uds_path) > VIRTIO_VSOCK_PATH_MAX) {
		fprintf(stderr, "wisp: vsock needs a guest CID of 3..%u and a socket path of 1..%zu bytes\n", UINT32_MAX,
			(size_t)VIRTIO_VSOCK_PATH_MAX);
		return -1;
	}
	if (!c->has_vsock && slot_free(c, "the vsock device") < 0)
		return -1;
	c->vsock = *v;
	c->has_vsock = true;
	return 0;
}

int vmm_devices__add_balloon(struct vmm_devices_config *c, const struct virtio_balloon_config *b)
{
	if (b->amount_mib > UINT32_MAX / VIRTIO_BALLOON_PAGES_PER_MIB || b->stats_interval_s > UINT16_MAX) {
		fprintf(stderr, "wisp: balloon target or statistics interval out of range\n");
		return -1;
	}
	if (!c->has_balloon && slot_free(c, "the balloon device") < 0)
		return -1;
	c->balloon = *b;
	c->has_balloon = true;
	return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (!*s || *s == '-')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int vmm_devices__parse_vsock(char *arg, struct vsock_config *v)
{
	memset(v, 0, sizeof(*v));
	char *comma = strchr(arg, ',');
	if (!comma || !comma[1]) {
		fprintf(stderr, "wisp: --vsock takes CID,PATH (e.g. 3,/tmp/v.sock)\n");
		return -1;
	}
	*comma = 0;
	if (parse_uint(arg, UINT32_MAX, &v->guest_cid) < 0 || v->guest_cid <= VIRTIO_VSOCK_HOST_CID) {
		fprintf(stderr, "wisp: --vsock: the guest CID must be 3..%u, not '%s'\n", UINT32_MAX, arg);
		return -1;
	}
	v->uds_path = comma + 1;
	return 0;
}

int vmm_devices__parse_balloon(char *arg, struct virtio_balloon_config *b)
{
	memset(b, 0, sizeof(*b));
	char *save = NULL;
	char *mib = strtok_r(arg, ",", &save);
	uint64_t v;
	if (!mib || parse_uint(mib, UINT32_MAX / VIRTIO_BALLOON_PAGES_PER_MIB, &v) < 0) {
		fprintf(stderr, "wisp: --balloon takes MIB[,deflate_on_oom][,stats=SECONDS][,hinting][,reporting]\n");
		return -1;
	}
	b->amount_mib = (uint32_t)v;
	for (char *opt; (opt = strtok_r(NULL, ",", &save));) {
		if (!strcmp(opt, "deflate_on_oom")) {
			b->deflate_on_oom = true;
		} else if (!strcmp(opt, "hinting")) {
			b->free_page_hinting = true;
		} else if (!strcmp(opt, "reporting")) {
			b->free_page_reporting = true;
		} else if (!strncmp(opt, "stats=", 6) && parse_uint(opt + 6, UINT16_MAX, &v) == 0) {
			b->stats_interval_s = (uint32_t)v;
		} else {
			fprintf(stderr, "wisp: --balloon: bad option '%s' (deflate_on_oom, stats=SECONDS, hinting, "
					"reporting)\n",
				opt);
			return -1;
		}
	}
	return 0;
}

int vmm_devices__parse_drive(char *arg, struct block_config *b)
{
	memset(b, 0, sizeof(*b));
	char *save = NULL;
	b->path = strtok_r(arg, ",", &save);
	for (char *opt; (opt = strtok_r(NULL, ",", &save));) {
		if (!strcmp(opt, "ro")) {
			b->read_only = true;
		} else if (!strcmp(opt, "rw")) {
			b->read_only = false;
		} else if (!strncmp(opt, "id=", 3) && opt[3]) {
			b->id = opt + 3;
		} else if (!strcmp(opt, "async")) {
			b->async = true;
		} else {
			fprintf(stderr, "wisp: --drive: unknown option '%s' (PATH[,ro][,id=NAME][,async])\n", opt);
			return -1;
		}
	}
	if (!b->path) {
		fprintf(stderr, "wisp: --drive needs a path\n");
		return -1;
	}
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6 ||
	    strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return (mac[0] & 1) ? -1 : 0; /* a multicast address cannot be a station's */
}

int vmm_devices__parse_net(char *arg, struct net_config *n)
{
	memset(n, 0, sizeof(*n));
	char *save = NULL;
	for (char *opt = strtok_r(arg, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (!strncmp(opt, "tap=", 4) && opt[4]) {
			n->tap = opt + 4;
		} else if (!strncmp(opt, "mac=", 4) && parse_mac(opt + 4, n->mac) == 0) {
			n->has_mac = true;
		} else {
			fprintf(stderr, "wisp: --net: bad option '%s' (tap=NAME[,mac=xx:xx:xx:xx:xx:xx])\n", opt);
			return -1;
		}
	}
	if (!n->tap) {
		fprintf(stderr, "wisp: --net needs tap=NAME\n");
		return -1;
	}
	return 0;
}

int vmm_devices__cli(struct vmm_devices_config *c, const char *option, char *arg)
{
	if (!strcmp(option, "drive")) {
		struct block_config b;
		return vmm_devices__parse_drive(arg, &b) < 0 ? -1 : vmm_devices__add_block(c, &b);
	}
	if (!strcmp(option, "net")) {
		struct net_config n;
		return vmm_devices__parse_net(arg, &n) < 0 ? -1 : vmm_devices__add_net(c, &n);
	}
	if (!strcmp(option, "vsock")) {
		struct vsock_config v;
		return vmm_devices__parse_vsock(arg, &v) < 0 ? -1 : vmm_devices__add_vsock(c, &v);
	}
	if (!strcmp(option, "balloon")) {
		struct virtio_balloon_config b;
		return vmm_devices__parse_balloon(arg, &b) < 0 ? -1 : vmm_devices__add_balloon(c, &b);
	}
	if (!strcmp(option, "rng"))
		return vmm_devices__add_rng(c);
	if (!strcmp(option, "vconsole"))
		return vmm_devices__add_console(c);
	return -1;
}

/* A virtio interrupt line: the PLIC input, then wake a hart sleeping in WFI. */
static void irq_set(void *ctl, unsigned irq, bool level)
{
	struct machine *m = ctl;
	plic__set_irq(&m->plic, irq, level);
	if (level)
		machine__kick(m);
}

/* The next free slot: its interrupt line; the window is registered by add_window. */
static struct irq_line next_irq(struct vmm_devices *d)
{
	return (struct irq_line){ irq_set, d->m, VIRTIO_IRQ0 + d->nslots };
}

static int add_window(struct vmm_devices *d, struct virtio_dev *vdev)
{
	uint64_t base = VIRTIO_BASE + d->nslots * VIRTIO_STRIDE;
	if (machine__add_mmio(d->m, base, VIRTIO_MMIO_SIZE, &virtio_mmio__ops, vdev, vdev->name) < 0) {
		fprintf(stderr, "wisp: cannot map %s at 0x%llx\n", vdev->name, (unsigned long long)base);
		return -1;
	}
	d->nslots++;
	return 0;
}

/* A whole new limiter: both buckets replaced (a zero bucket is no limit). */
static struct ratelimit_update set_all(const struct ratelimit_cfg *c)
{
	return (struct ratelimit_update){ TBUCKET_SET, TBUCKET_SET, *c };
}

static int create_block(struct vmm_devices *d, const struct block_config *c)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b || virtio_blk__init(b, &d->m->bus, next_irq(d), c->path, c->read_only, c->id) < 0) {
		free(b);
		return -1;
	}
	d->blk[d->nblk++] = b;
	struct ratelimit_update u = set_all(&c->limit);
	virtio_blk__update_limiter(b, &u);
	if (c->async && virtio_blk__use_async(b) < 0)
		return -1;
	return add_window(d, &b->vdev) < 0 || virtio_blk__attach(b, &d->loop) < 0 ? -1 : 0;
}

static int create_net(struct vmm_devices *d, const struct net_config *c, struct mmds *mmds, uint32_t mmds_ip)
{
	bool offloads = false;
	int fd = tap__open(c->tap, &offloads);
	if (fd < 0)
		return -1;
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n || virtio_net__init(n, &d->m->bus, next_irq(d), fd, c->has_mac ? c->mac : NULL) < 0) {
		free(n);
		close(fd);
		return -1;
	}
	d->net[d->nnet++] = n;
	if (offloads)
		virtio_net__enable_offloads(n);
	struct ratelimit_update rx = set_all(&c->rx_limit), tx = set_all(&c->tx_limit);
	virtio_net__update_limiters(n, &rx, &tx);
	if (add_window(d, &n->vdev) < 0 || virtio_net__attach(n, &d->loop) < 0)
		return -1;
	if (!c->mmds || !mmds)
		return 0;
	struct mmds_stack *s = calloc(1, sizeof(*s));
	if (!s || mmds_stack__init(s, mmds, mmds_ip) < 0) {
		free(s);
		return -1;
	}
	d->mmds[d->nnet - 1] = s;
	return mmds_stack__attach(s, n, &d->loop);
}

static int create_rng(struct vmm_devices *d, const struct ratelimit_cfg *limit)
{
	d->rng = calloc(1, sizeof(*d->rng));
	if (!d->rng || virtio_rng__init(d->rng, &d->m->bus, next_irq(d)) < 0) {
		free(d->rng);
		d->rng = NULL;
		return -1;
	}
	struct ratelimit_update u = set_all(limit);
	virtio_rng__update_limiter(d->rng, &u);
	return add_window(d, &d->rng->vdev) < 0 || virtio_rng__attach(d->rng, &d->loop) < 0 ? -1 : 0;
}

static int create_console(struct vmm_devices *d)
{
	d->console = calloc(1, sizeof(*d->console));
	if (!d->console || virtio_console__init_pty(d->console, &d->m->bus, next_irq(d), d->console_path,
						    sizeof(d->console_path)) < 0) {
		free(d->console);
		d->console = NULL;
		return -1;
	}
	fprintf(stderr, "wisp: virtio console (hvc0) on %s\n", d->console_path);
	return add_window(d, &d->console->vdev) < 0 || virtio_console__attach(d->console, &d->loop) < 0 ? -1 : 0;
}

/* A device failed: name it, with the system's reason (the device may have printed more on stderr). */
static int failed(char *err, size_t errlen, const char *what, const char *name)
{
	int e = errno;
	snprintf(err, errlen, "cannot attach %s%s%s%s: %s", what, name ? " '" : "", name ? name : "", name ? "'" : "",
		 e ? strerror(e) : "error");
	return -1;
}

static int create_vsock(struct vmm_devices *d, const struct vsock_config *c)
{
	d->vsock = calloc(1, sizeof(*d->vsock));
	if (!d->vsock || virtio_vsock__init(d->vsock, &d->m->bus, next_irq(d), c->guest_cid, c->uds_path) < 0) {
		free(d->vsock);
		d->vsock = NULL;
		return -1;
	}
	return add_window(d, &d->vsock->vdev) < 0 || virtio_vsock__attach(d->vsock, &d->loop) < 0 ? -1 : 0;
}

static int create_balloon(struct vmm_devices *d, const struct virtio_balloon_config *c)
{
	d->balloon = calloc(1, sizeof(*d->balloon));
	if (!d->balloon || virtio_balloon__init(d->balloon, &d->m->bus, next_irq(d), c, &d->m->ram_file_pages) < 0) {
		free(d->balloon);
		d->balloon = NULL;
		return -1;
	}
	return add_window(d, &d->balloon->vdev) < 0 || virtio_balloon__attach(d->balloon, &d->loop) < 0 ? -1 : 0;
}

int vmm_devices__create(struct vmm_devices *d, struct machine *m, const struct vmm_devices_config *c, char *err,
			size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->m = m;
	/* Every virtio device can be snapshotted: its state handler must be known before any snapshot. */
	if (virtio_snap__register() < 0) {
		snprintf(err, errlen, "cannot register the virtio snapshot handler");
		return -1;
	}
	if (!c || !nconfigured(c))
		return 0;
	errno = 0;
	if (ioloop__init(&d->loop) < 0)
		return failed(err, errlen, "the I/O thread's event loop", NULL);
	d->have_loop = true;
	for (unsigned i = 0; i < c->nblock; i++) {
		errno = 0;
		if (create_block(d, &c->block[i]) < 0)
			return failed(err, errlen, "the drive", c->block[i].path);
	}
	for (unsigned i = 0; i < c->nnet; i++) {
		errno = 0;
		if (create_net(d, &c->net[i], c->mmds, c->mmds_ipv4) < 0)
			return failed(err, errlen, "the network interface on TAP", c->net[i].tap);
	}
	errno = 0;
	if (c->rng && create_rng(d, &c->rng_limit) < 0)
		return failed(err, errlen, "the entropy device", NULL);
	errno = 0;
	if (c->console && create_console(d) < 0)
		return failed(err, errlen, "the virtio console", NULL);
	if (c->has_vsock && create_vsock(d, &c->vsock) < 0)
		return failed(err, errlen, "the virtio vsock device", c->vsock.uds_path);
	if (c->has_balloon && create_balloon(d, &c->balloon) < 0)
		return failed(err, errlen, "the virtio balloon", NULL);
	return 0;
}

int vmm_devices__update_block(struct vmm_devices *d, unsigned index, const char *path, const struct ratelimit_update *u,
			      char *err, size_t errlen)
{
	if (index >= d->nblk) {
		snprintf(err, errlen, "no block device %u", index);
		return -1;
	}
	if (path && virtio_blk__set_backing(d->blk[index], path, err, errlen) < 0)
		return -1;
	if (u)
		virtio_blk__update_limiter(d->blk[index], u);
	return 0;
}

int vmm_devices__update_net(struct vmm_devices *d, unsigned index, const struct ratelimit_update *rx,
			    const struct ratelimit_update *tx, char *err, size_t errlen)
{
	if (index >= d->nnet) {
		snprintf(err, errlen, "no network interface %u", index);
		return -1;
	}
	virtio_net__update_limiters(d->net[index], rx, tx);
	return 0;
}

int vmm_devices__start(struct vmm_devices *d)
{
	if (!d->have_loop)
		return 0;
	if (ioloop__start(&d->loop) < 0) {
		fprintf(stderr, "wisp: cannot start the I/O thread\n");
		return -1;
	}
	return 0;
}

void vmm_devices__stop(struct vmm_devices *d)
{
	if (d->have_loop)
		ioloop__stop(&d->loop);
}

void vmm_devices__exit(struct vmm_devices *d)
{
	vmm_devices__stop(d);
	for (unsigned i = 0; i < d->nblk; i++) {
		virtio_blk__exit(d->blk[i]);
		free(d->blk[i]);
	}
	for (unsigned i = 0; i < d->nnet; i++) {
		if (d->mmds[i])
			mmds_stack__exit(d->mmds[i]);
		free(d->mmds[i]);
		virtio_net__exit(d->net[i]);
		free(d->net[i]);
	}
	if (d->rng)
		virtio_rng__exit(d->rng);
	free(d->rng);
	if (d->console)
		virtio_console__exit(d->console);
	free(d->console);
	if (d->vsock)
		virtio_vsock__exit(d->vsock);
	free(d->vsock);
	if (d->balloon)
		virtio_balloon__exit(d->balloon);
	free(d->balloon);
	if (d->have_loop)
		ioloop__exit(&d->loop);
	memset(d, 0, sizeof(*d));
}
