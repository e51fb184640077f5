/*
 * virtio-balloon: inflate and deflate queues of page frame numbers, the statistics queue (one buffer the
 * device holds and hands back at each poll), free page hinting and free page reporting queues of page
 * ranges. Queues exist by negotiated feature, in that order (Linux numbers only those it uses).
 */
#include "virtio/balloon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "snapshot/format.h"

#define QUEUE_SIZE 256
#define PFN_BATCH 256
#define MAX_PFNS_PER_CHAIN 4096 /* Linux sends at most 256; a longer chain is cut short */
#define STAT_SIZE 10		/* u16 tag, u64 value, packed */
#define MAX_STATS 64
#define BPAGE (1ull << VIRTIO_BALLOON_PAGE_SHIFT)

enum role { R_INFLATE, R_DEFLATE, R_STATS, R_HINT, R_REPORT, R_NONE };

static bool offered(const struct virtio_balloon *b, unsigned bit)
{
	return (b->vdev.host_features >> bit) & 1;
}

/* Queue q's job under the negotiated features: the optional queues take the next numbers in turn. */
static enum role role_of(const struct virtio_balloon *b, unsigned q)
{
	static const struct {
		unsigned bit;
		enum role r;
	} optional[] = { { VIRTIO_BALLOON_F_STATS_VQ, R_STATS },
			 { VIRTIO_BALLOON_F_FREE_PAGE_HINT, R_HINT },
			 { VIRTIO_BALLOON_F_REPORTING, R_REPORT } };
	if (q < 2)
		return q == 0 ? R_INFLATE : R_DEFLATE;
	unsigned i = 2;
	for (unsigned k = 0; k < 3; k++) {
		if (!virtio_dev__has(&b->vdev, optional[k].bit))
			continue;
		if (q == i)
			return optional[k].r;
		i++;
	}
	return R_NONE;
}

static int queue_of(const struct virtio_balloon *b, enum role r)
{
	for (unsigned q = 0; q < b->vdev.nqueues; q++)
		if (role_of(b, q) == r)
			return (int)q;
	return -1;
}

static void put32(struct virtio_balloon *b, unsigned off, uint32_t v)
{
	memcpy(b->config + off, &v, sizeof(v));
}

static uint32_t get32(const struct virtio_balloon *b, unsigned off)
{
	uint32_t v;
	memcpy(&v, b->config + off, sizeof(v));
	return v;
}

/* ---- giving pages back ---------------------------------------------------------------------------- */

static bool in_ram(const struct rv_bus *bus, uint64_t gpa, uint64_t len)
{
	return gpa >= bus->ram_base && len <= bus->ram_size && gpa - bus->ram_base <= bus->ram_size - len;
}

/* [gpa, gpa+len), page-aligned and inside RAM, back to the host; it reads as zeros from now on. */
static void discard(struct virtio_balloon *b, uint64_t gpa, uint64_t len)
{
	const struct rv_bus *bus = b->vdev.bus;
	uint8_t *host = bus->ram + (gpa - bus->ram_base);
	uint64_t *fp = b->file_pages ? *b->file_pages : NULL;
	if (fp) {
		/* Pages mapped from a memory file: a new anonymous mapping drops the private copy and the file. */
		uint64_t first = (gpa - bus->ram_base) / BPAGE, end = first + len / BPAGE;
		for (uint64_t p = first; p < end;) {
			if (!((fp[p / 64] >> (p % 64)) & 1)) {
				p++;
				continue;
			}
			uint64_t s = p;
			while (p < end && ((fp[p / 64] >> (p % 64)) & 1))
				p++;
			uint8_t *at = bus->ram + s * BPAGE;
			if (mmap(at, (p - s) * BPAGE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
				memset(at, 0, (p - s) * BPAGE); /* nothing saved, but the guest still sees zeros */
				b->stats.event_fails++;
				continue;
			}
			for (uint64_t k = s; k < p; k++)
				fp[k / 64] &= ~(1ull << (k % 64));
		}
	}
	if (madvise(host, len, MADV_DONTNEED) < 0) {
		memset(host, 0, len);
		b->stats.event_fails++;
	}
	bus__mark_dirty(bus, gpa, len);
}

/* A range the guest named (hinted or reported free): the whole pages inside it that lie in RAM. */
static uint64_t discard_range(struct virtio_balloon *b, uint64_t gpa, uint64_t len)
{
	uint64_t s = (gpa + BPAGE - 1) & ~(BPAGE - 1), e = (gpa + len) & ~(BPAGE - 1);
	if (gpa + len < gpa || e <= s || !in_ram(b->vdev.bus, s, e - s))
		return 0;
	discard(b, s, e - s);
	return e - s;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorted, deduplicated page frame numbers -> runs of consecutive pages, each discarded at once. */
static void discard_pfns(struct virtio_balloon *b, uint32_t *pfn, unsigned n)
{
	qsort(pfn, n, sizeof(*pfn), cmp_u32);
	for (unsigned i = 0; i < n;) {
		uint64_t gpa = (uint64_t)pfn[i] << VIRTIO_BALLOON_PAGE_SHIFT;
		unsigned j = i + 1;
		uint64_t run = 1;
		while (j < n && (pfn[j] == pfn[j - 1] || (uint64_t)pfn[j] == (uint64_t)pfn[i] + run)) {
			if (pfn[j] != pfn[j - 1])
				run++;
			j++;
		}
		if (in_ram(b->vdev.bus, gpa, run * BPAGE)) {
			discard(b, gpa, run * BPAGE);
			b->stats.inflated_pages += run;
		} else {
			b->stats.bad_pfns += run;
		}
		i = j;
	}
}

/* ---- queues --------------------------------------------------------------------------------------- */

static void inflate(struct virtio_balloon *b, struct virtq_chain *c)
{
	uint32_t pfn[PFN_BATCH];
	uint64_t total = c->out_len / 4;
	if (c->out_len % 4 || total > MAX_PFNS_PER_CHAIN)
		b->stats.event_fails++;
	if (total > MAX_PFNS_PER_CHAIN)
		total = MAX_PFNS_PER_CHAIN;
	for (uint64_t done = 0; done < total;) {
		unsigned k = total - done < PFN_BATCH ? (unsigned)(total - done) : PFN_BATCH;
		iov__read(c->iov, c->nout, done * 4, pfn, k * 4ull);
		discard_pfns(b, pfn, k);
		done += k;
	}
}

static void stats_buffer(struct virtio_balloon *b, struct virtq_chain *c, unsigned q)
{
	uint8_t buf[MAX_STATS * STAT_SIZE];
	size_t n = iov__read(c->iov, c->nout, 0, buf, sizeof(buf)) / STAT_SIZE;
	if (c->out_len % STAT_SIZE || c->out_len > sizeof(buf))
		b->stats.stats_update_fails++;
	for (size_t i = 0; i < n; i++) {
		uint16_t tag;
		uint64_t val;
		memcpy(&tag, buf + i * STAT_SIZE, 2);
		memcpy(&val, buf + i * STAT_SIZE + 2, 8);
		if (tag < VIRTIO_BALLOON_STAT_TAGS) {
			b->guest.val[tag] = val;
			b->guest.present |= 1u << tag;
		}
	}
	b->stats.stats_updates++;
	uint16_t head = c->head;
	if (b->stats_held) {
		/* A second buffer while we hold one: the driver broke the protocol; give the old one back. */
		b->stats.stats_update_fails++;
		c->head = b->stats_head;
		c->nin = 0;
		virtq__push(&b->vdev.vq[q], c, 0);
		virtio_dev__signal(&b->vdev, q);
	}
	b->stats_held = true;
	b->stats_head = head;
}

static void hint_buffer(struct virtio_balloon *b, struct virtq_chain *c)
{
	if (!c->nin) {
		/* The guest names the run it is reporting for, or STOP when it is done. */
		uint32_t id;
		if (c->out_len < sizeof(id)) {
			b->stats.free_page_hint_fails++;
			return;
		}
		iov__read(c->iov, c->nout, 0, &id, sizeof(id));
		b->guest_cmd = id;
		b->guest_cmd_valid = true;
		if (id == VIRTIO_BALLOON_CMD_STOP && b->ack_on_stop && b->host_cmd > VIRTIO_BALLOON_CMD_DONE) {
			b->host_cmd = VIRTIO_BALLOON_CMD_DONE;
			put32(b, 8, b->host_cmd);
			virtio_dev__config_changed(&b->vdev);
		}
		return;
	}
	/*
	 * Free pages the driver holds for the run (it frees them back to its allocator once the run is DONE).
	 * Hints for another run than the one asked for are stale: left alone.
	 */
	if (b->host_cmd <= VIRTIO_BALLOON_CMD_DONE || !b->guest_cmd_valid || b->guest_cmd != b->host_cmd) {
		b->stats.free_page_hint_fails++;
		return;
	}
	struct iovec *in = virtq_chain__in(c);
	for (unsigned i = 0; i < c->nin; i++)
		b->stats.free_page_hint_freed += discard_range(b, c->gpa[c->nout + i], in[i].iov_len);
	b->stats.free_page_hint_count++;
}

static void report_buffer(struct virtio_balloon *b, struct virtq_chain *c)
{
	struct iovec *in = virtq_chain__in(c);
	uint64_t freed = 0;
	for (unsigned i = 0; i < c->nin; i++)
		freed += discard_range(b, c->gpa[c->nout + i], in[i].iov_len);
	if (!c->nin || c->nout)
		b->stats.free_page_report_fails++;
	b->stats.free_page_report_freed += freed;
	b->stats.free_page_report_count++;
}

static void arm(struct virtio_balloon *b, bool now)
{
	struct itimerspec its = { 0 };
	if (b->stats_interval_s && virtio_dev__live(&b->vdev) && virtio_dev__has(&b->vdev, VIRTIO_BALLOON_F_STATS_VQ)) {
		its.it_interval.tv_sec = b->stats_interval_s;
		its.it_value.tv_sec = now ? 0 : b->stats_interval_s;
		its.it_value.tv_nsec = now ? 1 : 0;
	}
	timerfd_settime(b->timer_fd, 0, &its, NULL);
}

static void balloon_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_balloon *b = (struct virtio_balloon *)d;
	struct virtq_chain *c = &b->chain;
	if (b->arm_pending) {
		b->arm_pending = false;
		arm(b, false);
	}
	enum role r = role_of(b, q);
	if (r == R_NONE)
		return;
	if (r == R_INFLATE)
		b->stats.inflate_count++;
	else if (r == R_DEFLATE)
		b->stats.deflate_count++;
	bool any = false;
	while (virtio_dev__pop(d, q, c) > 0) {
		switch (r) {
		case R_INFLATE: inflate(b, c); break;
		case R_DEFLATE: b->stats.deflated_pages += c->out_len / 4; break; /* nothing to do: zero on touch */
		case R_STATS: stats_buffer(b, c, q); continue;			  /* held, not returned */
		case R_HINT: hint_buffer(b, c); break;
		case R_REPORT: report_buffer(b, c); break;
		case R_NONE: break;
		}
		virtq__push(&d->vq[q], c, 0);
		any = true;
	}
	if (any)
		virtio_dev__signal(d, q);
}

/*
 * DRIVER_OK. Linux offers its first statistics buffer (and may notify other queues) before it sets
 * DRIVER_OK, when notifications are not served yet: look at every queue now. Status writes come from a vCPU,
 * which makes no system call but the kick: the I/O thread starts the statistics timer when it serves them.
 */
static void balloon_activate(struct virtio_dev *d)
{
	((struct virtio_balloon *)d)->arm_pending = true;
	for (unsigned q = 0; q < d->nqueues; q++)
		virtio_dev__kick(d, q);
}

/* A vCPU resets the device: a running statistics timer stops itself when it next fires (on_timer). */
static void balloon_reset(struct virtio_dev *d)
{
	struct virtio_balloon *b = (struct virtio_balloon *)d;
	b->stats_held = false;
	b->guest_cmd_valid = false;
	b->arm_pending = false;
}

/* The driver writes `actual` (and `poison_val`, which is kept but not used: PAGE_POISON is not offered). */
static void balloon_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	struct virtio_balloon *b = (struct virtio_balloon *)d;
	for (uint32_t i = 0; i < len; i++) {
		uint32_t at = off + i;
		if ((at >= 4 && at < 8) || (at >= 12 && at < 16))
			b->config[at] = ((const uint8_t *)buf)[i];
	}
}

void virtio_balloon__poll_stats(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	int q = queue_of(b, R_STATS);
	if (q >= 0 && b->stats_held && virtio_dev__live(&b->vdev)) {
		struct virtq_chain *c = &b->chain;
		c->head = b->stats_head;
		c->nin = c->nout = 0;
		virtq__push(&b->vdev.vq[q], c, 0);
		virtio_dev__signal(&b->vdev, (unsigned)q);
		b->stats_held = false;
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct virtio_balloon *b = opaque;
	uint64_t ticks;
	(void)events;
	if (read(b->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* spurious wake-up */
	}
	pthread_mutex_lock(&b->vdev.lock);
	bool polling = b->stats_interval_s && virtio_dev__live(&b->vdev) &&
		       virtio_dev__has(&b->vdev, VIRTIO_BALLOON_F_STATS_VQ);
	if (!polling)
		arm(b, false); /* reset (or never set up): the timer stops */
	pthread_mutex_unlock(&b->vdev.lock);
	if (polling)
		virtio_balloon__poll_stats(b);
}

/* ---- snapshots ------------------------------------------------------------------------------------ */

/* u32 interval | u8 held | u16 head | u32 present | u64 val[16] | u32 host_cmd | u32 guest_cmd |
 * u8 guest_cmd_valid | u8 ack_on_stop | u32 next_cmd. Target and actual are in the config space. */
static void balloon_save(struct virtio_dev *d, struct snap_writer *w)
{
	struct virtio_balloon *b = (struct virtio_balloon *)d;
	snap_w__u32(w, b->stats_interval_s);
	snap_w__u8(w, b->stats_held);
	snap_w__u16(w, b->stats_head);
	snap_w__u32(w, b->guest.present);
	for (unsigned i = 0; i < VIRTIO_BALLOON_STAT_TAGS; i++)
		snap_w__u64(w, b->guest.val[i]);
	snap_w__u32(w, b->host_cmd);
	snap_w__u32(w, b->guest_cmd);
	snap_w__u8(w, b->guest_cmd_valid);
	snap_w__u8(w, b->ack_on_stop);
	snap_w__u32(w, b->next_cmd);
}

static int balloon_load(struct virtio_dev *d, struct snap_reader *r, char *err, size_t n)
{
	struct virtio_balloon *b = (struct virtio_balloon *)d;
	uint32_t interval = snap_r__u32(r);
	uint8_t held = snap_r__u8(r);
	uint16_t head = snap_r__u16(r);
	struct virtio_balloon_guest_stats g;
	g.present = snap_r__u32(r);
	for (unsigned i = 0; i < VIRTIO_BALLOON_STAT_TAGS; i++)
		g.val[i] = snap_r__u64(r);
	uint32_t host_cmd = snap_r__u32(r), guest_cmd = snap_r__u32(r);
	uint8_t valid = snap_r__u8(r), ack = snap_r__u8(r);
	uint32_t next_cmd = snap_r__u32(r);
	int q = queue_of(b, R_STATS);
	const char *why = NULL;
	if (!snap_r__done(r))
		why = "truncated or oversized balloon state";
	else if (held > 1 || valid > 1 || ack > 1 || next_cmd <= VIRTIO_BALLOON_CMD_DONE ||
		 (g.present >> VIRTIO_BALLOON_STAT_TAGS))
		why = "corrupt balloon state";
	else if (!interval != !offered(b, VIRTIO_BALLOON_F_STATS_VQ))
		why = "the balloon's statistics setting differs from the snapshot's";
	else if (held && (q < 0 || !b->vdev.vq[q].ready || head >= b->vdev.vq[q].num))
		why = "the balloon holds a statistics buffer its queue cannot have";
	if (why) {
		snprintf(err, n, "%s", why);
		return -1;
	}
	b->stats_interval_s = interval;
	b->stats_held = held;
	b->stats_head = head;
	b->guest = g;
	b->host_cmd = host_cmd;
	b->guest_cmd = guest_cmd;
	b->guest_cmd_valid = valid;
	b->ack_on_stop = ack;
	b->next_cmd = next_cmd;
	arm(b, false);
	return 0;
}

static const struct virtio_dev_ops balloon_ops = {
	.notify = balloon_notify,
	.activate = balloon_activate,
	.reset = balloon_reset,
	.config_write = balloon_config_write,
	.save = balloon_save,
	.load = balloon_load,
};

/* ---- the device ----------------------------------------------------------------------------------- */

int virtio_balloon__init(struct virtio_balloon *b, const struct rv_bus *bus, struct irq_line irq,
			 const struct virtio_balloon_config *cfg, uint64_t *const *file_pages)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	b->file_pages = file_pages;
	b->stats_interval_s = cfg->stats_interval_s;
	b->next_cmd = VIRTIO_BALLOON_CMD_DONE + 1;
	put32(b, 0, cfg->amount_mib * VIRTIO_BALLOON_PAGES_PER_MIB);
	uint64_t features = VIRTIO_F_COMMON;
	unsigned nq = 2;
	if (cfg->deflate_on_oom)
		features |= 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	static const unsigned queue_bits[] = { VIRTIO_BALLOON_F_STATS_VQ, VIRTIO_BALLOON_F_FREE_PAGE_HINT,
					       VIRTIO_BALLOON_F_REPORTING };
	bool want[] = { cfg->stats_interval_s > 0, cfg->free_page_hinting, cfg->free_page_reporting };
	for (unsigned i = 0; i < 3; i++) {
		if (want[i]) {
			features |= 1ull << queue_bits[i];
			nq++;
		}
	}
	if (cfg->amount_mib > UINT32_MAX / VIRTIO_BALLOON_PAGES_PER_MIB) {
		fprintf(stderr, "wisp: virtio-balloon: a target of %u MiB is too large\n", cfg->amount_mib);
		return -1;
	}
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->timer_fd < 0 || virtio_dev__init(&b->vdev, &balloon_ops, "virtio-balloon", VIRTIO_ID_BALLOON, nq,
						QUEUE_SIZE, features, b->config, sizeof(b->config), bus, irq) < 0) {
		fprintf(stderr, "wisp: cannot create virtio-balloon: %s\n", strerror(errno));
		if (b->timer_fd >= 0)
			close(b->timer_fd);
		b->timer_fd = -1;
		return -1;
	}
	return 0;
}

void virtio_balloon__exit(struct virtio_balloon *b)
{
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	b->timer_fd = -1;
	virtio_dev__exit(&b->vdev);
}

int virtio_balloon__attach(struct virtio_balloon *b, struct ioloop *l)
{
	if (virtio_dev__attach(&b->vdev, l) < 0 || ioloop__add(l, b->timer_fd, EPOLLIN, on_timer, b) < 0)
		return -1;
	return 0;
}

void virtio_balloon__set_target(struct virtio_balloon *b, uint32_t amount_mib)
{
	pthread_mutex_lock(&b->vdev.lock);
	put32(b, 0, amount_mib * VIRTIO_BALLOON_PAGES_PER_MIB);
	virtio_dev__config_changed(&b->vdev);
	pthread_mutex_unlock(&b->vdev.lock);
}

void virtio_balloon__set_stats_interval(struct virtio_balloon *b, uint32_t seconds)
{
	pthread_mutex_lock(&b->vdev.lock);
	b->stats_interval_s = seconds;
	arm(b, true);
	pthread_mutex_unlock(&b->vdev.lock);
}

void virtio_balloon__hint_start(struct virtio_balloon *b, bool acknowledge_on_stop)
{
	pthread_mutex_lock(&b->vdev.lock);
	b->host_cmd = b->next_cmd;
	b->next_cmd = b->next_cmd == UINT32_MAX ? VIRTIO_BALLOON_CMD_DONE + 1 : b->next_cmd + 1;
	b->ack_on_stop = acknowledge_on_stop;
	put32(b, 8, b->host_cmd);
	virtio_dev__config_changed(&b->vdev);
	pthread_mutex_unlock(&b->vdev.lock);
}

void virtio_balloon__hint_stop(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	b->host_cmd = VIRTIO_BALLOON_CMD_DONE;
	put32(b, 8, b->host_cmd);
	virtio_dev__config_changed(&b->vdev);
	pthread_mutex_unlock(&b->vdev.lock);
}

struct virtio_balloon_info virtio_balloon__info(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	struct virtio_balloon_info i = {
		.target_pages = get32(b, 0),
		.actual_pages = get32(b, 4),
		.stats_interval_s = b->stats_interval_s,
		.guest = b->guest,
		.host_cmd = b->host_cmd,
		.guest_cmd = b->guest_cmd,
		.guest_cmd_valid = b->guest_cmd_valid,
	};
	pthread_mutex_unlock(&b->vdev.lock);
	return i;
}

struct virtio_balloon_stats virtio_balloon__stats(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	struct virtio_balloon_stats s = b->stats;
	pthread_mutex_unlock(&b->vdev.lock);
	return s;
}
