/* virtio-blk: one request queue served from a host file with preadv/pwritev straight into guest memory. */
#include "virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512ull
#define RES_ERR_MAX 4352 /* a message naming a path */
#define QUEUE_SIZE 256

#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9

#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8

#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2

struct blk_req_header {
	uint32_t type, reserved;
	uint64_t sector;
};

/* io_engine Async (the end of this file): one slot per request in flight. */
#define ASYNC_SLOTS 64 /* requests in flight per queue */

struct blk_slot {
	struct virtq_chain chain;
	struct iovec iov[VIRTQ_MAX_SIZE];
	uint64_t expect; /* bytes a read or write must move */
	uint32_t type, gen;
	bool busy;
};

struct blk_async {
	struct io_uring ring;
	int efd;	   /* completions */
	unsigned inflight; /* submitted, not reaped */
	uint32_t gen;	   /* bumped by a device reset */
	bool starved;	   /* the queue stopped for want of a slot: go on when one is free */
	struct blk_slot slot[ASYNC_SLOTS];
};

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Read or write all of iov at file offset off; false on error or end of file. */
static bool rw_full(int fd, struct iovec *iov, unsigned n, uint64_t off, bool write)
{
	while (n) {
		ssize_t r = write ? pwritev(fd, iov, (int)n, (off_t)off) : preadv(fd, iov, (int)n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		off += (uint64_t)r;
		while (n && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return true;
}

static bool in_range(const struct virtio_blk *b, uint64_t sector, uint64_t len)
{
	return len % SECTOR == 0 && sector <= b->sectors && len / SECTOR <= b->sectors - sector;
}

/* IN or OUT: the data is the writable part before the status byte, or the readable part after the header. */
static uint8_t do_rw(struct virtio_blk *b, struct virtq_chain *c, const struct blk_req_header *h, uint32_t *written)
{
	bool out = h->type == BLK_T_OUT;
	uint64_t len = out ? c->out_len - sizeof(*h) : c->in_len - 1;
	struct iovec iov[VIRTQ_MAX_SIZE];
	if (out && b->read_only)
		return BLK_S_IOERR;
	if (!in_range(b, h->sector, len))
		return BLK_S_IOERR;
	unsigned n = out ? iov__slice(c->iov, c->nout, sizeof(*h), len, iov, VIRTQ_MAX_SIZE)
			 : iov__slice(virtq_chain__in(c), c->nin, 0, len, iov, VIRTQ_MAX_SIZE);
	if (!rw_full(b->fd, iov, n, h->sector * SECTOR, out))
		return BLK_S_IOERR;
	if (out) {
		b->stats.writes++;
		b->stats.write_bytes += len;
	} else {
		b->stats.reads++;
		b->stats.read_bytes += len;
		*written = (uint32_t)len;
	}
	return BLK_S_OK;
}

static uint8_t do_get_id(struct virtio_blk *b, struct virtq_chain *c, uint32_t *written)
{
	uint64_t room = c->in_len - 1;
	size_t n = room < VIRTIO_BLK_ID_BYTES ? (size_t)room : VIRTIO_BLK_ID_BYTES;
	*written = (uint32_t)iov__write(virtq_chain__in(c), c->nin, 0, b->id, n);
	b->stats.get_ids++;
	return BLK_S_OK;
}

static uint8_t do_request(struct virtio_blk *b, struct virtq_chain *c, const struct blk_req_header *h,
			  uint32_t *written)
{
	switch (h->type) {
	case BLK_T_IN:
	case BLK_T_OUT:
		return do_rw(b, c, h, written);
	case BLK_T_FLUSH:
		b->stats.flushes++;
		return b->read_only || fdatasync(b->fd) == 0 ? BLK_S_OK : BLK_S_IOERR;
	case BLK_T_GET_ID:
		return do_get_id(b, c, written);
	default:
		b->stats.unsupported++;
		return BLK_S_UNSUPP;
	}
}

/* Complete a request: the status byte (the last writable byte) after `written` data bytes. */
static void finish(struct virtio_blk *b, struct virtq_chain *c, uint8_t status, uint32_t written)
{
	if (status != BLK_S_OK) {
		b->stats.errors++;
		written = 0;
	}
	iov__write(virtq_chain__in(c), c->nin, c->in_len - 1, &status, 1);
	virtq__push(&b->vdev.vq[0], c, written + 1);
}

/* A chain with room for a header and a status byte; else it is failed silently (nowhere to say why). */
static bool well_formed(struct virtio_blk *b, struct virtq_chain *c, struct blk_req_header *h)
{
	if (c->out_len < sizeof(*h) || c->in_len < 1 || c->in_len > UINT32_MAX) {
		b->stats.errors++;
		virtq__push(&b->vdev.vq[0], c, 0);
		return false;
	}
	iov__read(c->iov, c->nout, 0, h, sizeof(*h));
	return true;
}

/* One request: header (readable), data, status byte (the last writable byte). */
static void handle(struct virtio_blk *b, struct virtq_chain *c)
{
	struct blk_req_header h;
	uint32_t written = 0;
	if (!well_formed(b, c, &h))
		return;
	uint8_t status = do_request(b, c, &h, &written);
	finish(b, c, status, written);
}

/* What the rate limiter charges a request: its data bytes (reads and writes) and one operation. */
static uint64_t request_bytes(const struct virtq_chain *c)
{
	struct blk_req_header h;
	if (c->out_len < sizeof(h) || c->in_len < 1)
		return 0;
	iov__read(c->iov, c->nout, 0, &h, sizeof(h));
	if (h.type == BLK_T_IN)
		return c->in_len - 1;
	if (h.type == BLK_T_OUT)
		return c->out_len - sizeof(h);
	return 0;
}

static void notify_async(struct virtio_blk *b);

static void blk_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_blk *b = (struct virtio_blk *)d;
	if (b->aio) {
		notify_async(b);
		return;
	}
	bool any = false;
	while (!b->limiter.blocked && virtio_dev__pop(d, q, &b->chain) > 0) {
		if (!ratelimit__consume(&b->limiter, request_bytes(&b->chain))) {
			virtq__unpop(&d->vq[q]); /* parked: the limiter's timer kicks the queue again */
			break;
		}
		handle(b, &b->chain);
		any = true;
	}
	if (any)
		virtio_dev__signal(d, q);
}

/* Snapshot restore: the guest knows the disk's size; a clone's drive must have the same. */
static int blk_check_config(struct virtio_dev *d, const uint8_t *saved, char *err, size_t n)
{
	struct virtio_blk *b = (struct virtio_blk *)d;
	uint64_t sectors;
	memcpy(&sectors, saved, sizeof(sectors)); /* config offset 0: capacity, little-endian */
	if (sectors != b->sectors) {
		snprintf(err, n, "the drive has %llu sectors of 512 bytes, the snapshot's drive had %llu",
			 (unsigned long long)b->sectors, (unsigned long long)sectors);
		return -1;
	}
	return 0;
}

static void drain_async(struct virtio_blk *b);

/* Device reset: requests still in flight complete into nothing (their generation is old). */
static void blk_reset(struct virtio_dev *d);

/* Snapshot: nothing may be in flight when the queues are saved, or the guest would wait forever after restore. */
static void blk_quiesce(struct virtio_dev *d)
{
	drain_async((struct virtio_blk *)d);
}

static const struct virtio_dev_ops blk_ops = {
	.notify = blk_notify, .reset = blk_reset, .quiesce = blk_quiesce, .check_config = blk_check_config
};

/* Open, lock and size a backing file: its fd (and *sectors), or -1 with the reason in err. */
static int open_disk(const char *path, bool read_only, uint64_t *sectors, char *err, size_t n)
{
	int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	struct stat st;
	off_t size = -1;
	if (fd < 0 || fstat(fd, &st) < 0)
		snprintf(err, n, "cannot open drive '%s': %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		snprintf(err, n, "drive '%s' is not a file or block device", path);
	else if (flock(fd, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
		snprintf(err, n, "drive '%s' is in use by another process", path);
	else if ((size = S_ISBLK(st.st_mode) ? lseek(fd, 0, SEEK_END) : st.st_size) < 0)
		snprintf(err, n, "cannot size drive '%s': %s", path, strerror(errno));
	if (size < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*sectors = (uint64_t)size / SECTOR;
	return fd;
}

static void set_id(struct virtio_blk *b, const char *path, const char *id)
{
	if (!id) {
		const char *slash = strrchr(path, '/');
		id = slash ? slash + 1 : path;
	}
	memset(b->id, 0, sizeof(b->id));
	memcpy(b->id, id, strnlen(id, sizeof(b->id)));
}

int virtio_blk__init(struct virtio_blk *b, const struct rv_bus *bus, struct irq_line irq, const char *path,
		     bool read_only, const char *id)
{
	memset(b, 0, sizeof(*b));
	b->read_only = read_only;
	b->limiter.timer_fd = -1;
	char why[RES_ERR_MAX];
	b->fd = open_disk(path, read_only, &b->sectors, why, sizeof(why));
	if (b->fd < 0) {
		fprintf(stderr, "wisp: %s\n", why);
		goto fail;
	}
	if (ratelimit__init(&b->limiter, NULL) < 0) {
		fprintf(stderr, "wisp: cannot create the drive's rate limiter timer: %s\n", strerror(errno));
		goto fail;
	}
	set_id(b, path, id);
	put64(b->config + 0, b->sectors);
	put32(b->config + 12, QUEUE_SIZE - 2); /* seg_max */
	put32(b->config + 20, SECTOR);          /* blk_size */
	uint64_t features = VIRTIO_F_COMMON | (1ull << BLK_F_SEG_MAX) | (1ull << BLK_F_BLK_SIZE) | (1ull << BLK_F_FLUSH);
	if (read_only)
		features |= 1ull << BLK_F_RO;
	if (virtio_dev__init(&b->vdev, &blk_ops, "virtio-blk", VIRTIO_ID_BLOCK, 1, QUEUE_SIZE, features, b->config,
			     sizeof(b->config), bus, irq) < 0) {
		fprintf(stderr, "wisp: cannot create virtio-blk: %s\n", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	ratelimit__exit(&b->limiter);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	return -1;
}

static void exit_async(struct virtio_blk *b);

void virtio_blk__exit(struct virtio_blk *b)
{
	exit_async(b);
	virtio_dev__exit(&b->vdev);
	ratelimit__exit(&b->limiter);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/* The limiter's timer: the parked queue may go on. */
static void on_limiter(void *opaque, uint32_t events)
{
	(void)events;
	struct virtio_blk *b = opaque;
	pthread_mutex_lock(&b->vdev.lock);
	bool was = ratelimit__timer_fired(&b->limiter);
	pthread_mutex_unlock(&b->vdev.lock);
	if (was)
		virtio_dev__kick(&b->vdev, 0);
}

static void on_complete(void *opaque, uint32_t events);

int virtio_blk__attach(struct virtio_blk *b, struct ioloop *l)
{
	if (virtio_dev__attach(&b->vdev, l) < 0 || ioloop__add(l, b->limiter.timer_fd, EPOLLIN, on_limiter, b) < 0)
		return -1;
	if (b->aio && ioloop__add(l, b->aio->efd, EPOLLIN, on_complete, b) < 0)
		return -1;
	return 0;
}

void virtio_blk__update_limiter(struct virtio_blk *b, const struct ratelimit_update *u)
{
	pthread_mutex_lock(&b->vdev.lock);
	bool kick = ratelimit__update(&b->limiter, u);
	pthread_mutex_unlock(&b->vdev.lock);
	if (kick)
		virtio_dev__kick(&b->vdev, 0);
}

int virtio_blk__set_backing(struct virtio_blk *b, const char *path, char *err, size_t n)
{
	uint64_t sectors;
	int fd = open_disk(path, b->read_only, &sectors, err, n);
	if (fd < 0)
		return -1;
	pthread_mutex_lock(&b->vdev.lock); /* no synchronous request in flight once we hold it */
	drain_async(b);			   /* nor an io_uring one */
	int old = b->fd;
	b->fd = fd;
	b->sectors = sectors;
	put64(b->config + 0, sectors);
	virtio_dev__config_changed(&b->vdev);
	pthread_mutex_unlock(&b->vdev.lock);
	close(old);
	return 0;
}

struct virtio_blk_stats virtio_blk__stats(struct virtio_blk *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	struct virtio_blk_stats s = b->stats;
	s.throttled = b->limiter.stats.throttled;
	pthread_mutex_unlock(&b->vdev.lock);
	return s;
}

/* ---- io_engine Async: io_uring ---------------------------------------------------------------------------- */

static struct blk_slot *free_slot(struct blk_async *a)
{
	for (unsigned i = 0; i < ASYNC_SLOTS; i++)
		if (!a->slot[i].busy)
			return &a->slot[i];
	return NULL;
}

/* Start one request: false if it completed at once (errors, GET_ID), true if it went to the ring. */
static bool start_async(struct virtio_blk *b, struct blk_slot *s)
{
	struct blk_async *a = b->aio;
	struct virtq_chain *c = &s->chain;
	struct blk_req_header h;
	uint32_t written = 0;
	if (!well_formed(b, c, &h))
		return false;
	bool rw = h.type == BLK_T_IN || h.type == BLK_T_OUT, out = h.type == BLK_T_OUT;
	if (!(rw && !(out && b->read_only)) && !(h.type == BLK_T_FLUSH && !b->read_only)) {
		finish(b, c, do_request(b, c, &h, &written), written); /* refused, GET_ID, unsupported */
		return false;
	}
	uint64_t len = !rw ? 0 : out ? c->out_len - sizeof(h) : c->in_len - 1;
	struct io_uring_sqe *sqe = NULL;
	if ((rw && !in_range(b, h.sector, len)) || !(sqe = io_uring_get_sqe(&a->ring))) {
		finish(b, c, BLK_S_IOERR, 0); /* (a full ring cannot happen: it has a place for every slot) */
		return false;
	}
	if (rw) {
		unsigned n = out ? iov__slice(c->iov, c->nout, sizeof(h), len, s->iov, VIRTQ_MAX_SIZE)
				 : iov__slice(virtq_chain__in(c), c->nin, 0, len, s->iov, VIRTQ_MAX_SIZE);
		if (out)
			io_uring_prep_writev(sqe, b->fd, s->iov, n, h.sector * SECTOR);
		else
			io_uring_prep_readv(sqe, b->fd, s->iov, n, h.sector * SECTOR);
		s->expect = len;
	} else {
		/* A flush covers every write completed before it; DRAIN also waits for those still in flight. */
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_IO_DRAIN;
		b->stats.flushes++;
		s->expect = 0;
	}
	io_uring_sqe_set_data(sqe, s);
	s->type = h.type;
	s->gen = a->gen;
	s->busy = true;
	a->inflight++;
	return true;
}

static void notify_async(struct virtio_blk *b)
{
	struct blk_async *a = b->aio;
	struct virtio_dev *d = &b->vdev;
	bool any = false, submit = false;
	while (!b->limiter.blocked) {
		struct blk_slot *s = free_slot(a);
		if (!s) {
			a->starved = true;
			break;
		}
		if (virtio_dev__pop(d, 0, &s->chain) <= 0)
			break;
		if (!ratelimit__consume(&b->limiter, request_bytes(&s->chain))) {
			virtq__unpop(&d->vq[0]);
			break;
		}
		if (start_async(b, s))
			submit = true;
		else
			any = true;
	}
	if (submit && io_uring_submit(&a->ring) < 0)
		b->stats.errors++; /* the requests stay in the ring for the next submit */
	if (any)
		virtio_dev__signal(d, 0);
}

/* One completion: the status for the guest (a request from before a reset is dropped). True if pushed. */
static bool complete_one(struct virtio_blk *b, struct blk_slot *s, int res)
{
	struct blk_async *a = b->aio;
	if (!s)
		return false; /* a no-op */
	a->inflight--;
	s->busy = false;
	if (s->gen != a->gen)
		return false;
	uint8_t status = res >= 0 && (uint64_t)res == s->expect ? BLK_S_OK : BLK_S_IOERR;
	uint32_t written = 0;
	if (status == BLK_S_OK && s->type == BLK_T_IN) {
		b->stats.reads++;
		b->stats.read_bytes += s->expect;
		written = (uint32_t)s->expect;
	} else if (status == BLK_S_OK && s->type == BLK_T_OUT) {
		b->stats.writes++;
		b->stats.write_bytes += s->expect;
	}
	finish(b, &s->chain, status, written);
	return true;
}

/* Reap what completed (lock held): push the answers, interrupt, and go on with a starved queue if asked. */
static void reap(struct virtio_blk *b, bool go_on)
{
	struct blk_async *a = b->aio;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	bool any = false;
	io_uring_for_each_cqe(&a->ring, head, cqe)
	{
		any |= complete_one(b, io_uring_cqe_get_data(cqe), cqe->res);
		n++;
	}
	io_uring_cq_advance(&a->ring, n);
	if (!virtio_dev__live(&b->vdev))
		return;
	if (any)
		virtio_dev__signal(&b->vdev, 0);
	if (go_on && a->starved && a->inflight < ASYNC_SLOTS) {
		a->starved = false;
		notify_async(b);
	}
}

static void on_complete(void *opaque, uint32_t events)
{
	(void)events;
	struct virtio_blk *b = opaque;
	uint64_t v;
	if (read(b->aio->efd, &v, sizeof(v)) < 0) {
		/* Spurious: the completion queue says what there is. */
	}
	pthread_mutex_lock(&b->vdev.lock);
	reap(b, true);
	pthread_mutex_unlock(&b->vdev.lock);
}

/* Wait for every request in flight and answer it (lock held); a starved queue goes on at the next kick. */
static void drain_async(struct virtio_blk *b)
{
	if (!b->aio)
		return;
	while (b->aio->inflight) {
		struct io_uring_cqe *cqe;
		if (io_uring_wait_cqe(&b->aio->ring, &cqe) < 0 && io_uring_submit(&b->aio->ring) < 0)
			break;
		reap(b, false); /* nothing new starts: the guest could keep the queue full forever */
	}
}

static void blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *b = (struct virtio_blk *)d;
	if (b->aio) {
		b->aio->gen++;
		b->aio->starved = false;
	}
}

static void exit_async(struct virtio_blk *b)
{
	if (!b->aio)
		return;
	io_uring_queue_exit(&b->aio->ring); /* cancels and waits for what is in flight */
	close(b->aio->efd);
	free(b->aio);
	b->aio = NULL;
}

int virtio_blk__use_async(struct virtio_blk *b)
{
	struct blk_async *a = calloc(1, sizeof(*a));
	if (!a) {
		fprintf(stderr, "wisp: io_engine Async: out of memory\n");
		return -1;
	}
	int r = io_uring_queue_init(ASYNC_SLOTS, &a->ring, 0);
	if (r < 0) {
		fprintf(stderr, "wisp: io_engine Async: io_uring is not available: %s\n", strerror(-r));
		free(a);
		errno = -r;
		return -1;
	}
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd < 0 || (r = io_uring_register_eventfd(&a->ring, a->efd)) < 0) {
		int e = a->efd < 0 ? errno : -r;
		fprintf(stderr, "wisp: io_engine Async: cannot watch io_uring completions: %s\n", strerror(e));
		if (a->efd >= 0)
			close(a->efd);
		io_uring_queue_exit(&a->ring);
		free(a);
		errno = e;
		return -1;
	}
	b->aio = a;
	return 0;
}

void virtio_blk__async_wait(struct virtio_blk *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	drain_async(b);
	pthread_mutex_unlock(&b->vdev.lock);
}
