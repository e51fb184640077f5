/* virtio-blk: one request queue served from a host file with preadv/pwritev straight into guest memory. */
#include "virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
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

/* One request: header (readable), data, status byte (the last writable byte). */
static void handle(struct virtio_blk *b, struct virtq_chain *c)
{
	struct blk_req_header h;
	uint32_t written = 0;
	if (c->out_len < sizeof(h) || c->in_len < 1 || c->in_len > UINT32_MAX) {
		b->stats.errors++; /* no room for the status: fail it silently */
		virtq__push(&b->vdev.vq[0], c, 0);
		return;
	}
	iov__read(c->iov, c->nout, 0, &h, sizeof(h));
	uint8_t status = do_request(b, c, &h, &written);
	if (status != BLK_S_OK) {
		b->stats.errors++;
		written = 0;
	}
	iov__write(virtq_chain__in(c), c->nin, c->in_len - 1, &status, 1);
	virtq__push(&b->vdev.vq[0], c, written + 1);
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

static void blk_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_blk *b = (struct virtio_blk *)d;
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

static const struct virtio_dev_ops blk_ops = { .notify = blk_notify, .check_config = blk_check_config };

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

void virtio_blk__exit(struct virtio_blk *b)
{
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

int virtio_blk__attach(struct virtio_blk *b, struct ioloop *l)
{
	if (virtio_dev__attach(&b->vdev, l) < 0 || ioloop__add(l, b->limiter.timer_fd, EPOLLIN, on_limiter, b) < 0)
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
	pthread_mutex_lock(&b->vdev.lock); /* no request in flight on the old file once we hold it */
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

int virtio_blk__use_async(struct virtio_blk *b)
{
	(void)b;
	fprintf(stderr, "wisp: io_engine Async is not built yet\n");
	errno = ENOSYS;
	return -1;
}
