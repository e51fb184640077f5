/* virtio-net: receive queue fed from the backend, transmit queue drained into it; one frame per chain. */
#include "virtio/net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#define QUEUE_SIZE 256
#define RXQ 0
#define TXQ 1

#define NET_F_CSUM 0
#define NET_F_GUEST_CSUM 1
#define NET_F_MAC 5
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_GUEST_ECN 9
#define NET_F_HOST_TSO4 11
#define NET_F_HOST_TSO6 12
#define NET_F_HOST_ECN 13
#define NET_F_MRG_RXBUF 15
#define NET_F_STATUS 16
#define NET_S_LINK_UP 1

#define OFFLOAD_FEATURES                                                                                               \
	((1ull << NET_F_CSUM) | (1ull << NET_F_GUEST_CSUM) | (1ull << NET_F_GUEST_TSO4) | (1ull << NET_F_GUEST_TSO6) | \
	 (1ull << NET_F_GUEST_ECN) | (1ull << NET_F_HOST_TSO4) | (1ull << NET_F_HOST_TSO6) | (1ull << NET_F_HOST_ECN) |  \
	 (1ull << NET_F_MRG_RXBUF))

/* struct virtio_net_hdr_v1 (5.1.6): flags, gso_type, then little-endian u16s. */
#define HDR_FLAGS 0
#define HDR_GSO_TYPE 1
#define HDR_HDR_LEN 2
#define HDR_GSO_SIZE 4
#define HDR_CSUM_START 6
#define HDR_CSUM_OFFSET 8
#define HDR_NUM_BUFFERS 10
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define GSO_NONE 0
#define GSO_TCPV4 1
#define GSO_TCPV6 4
#define GSO_ECN 0x80

#define MRG_MAX 64 /* receive buffers one frame may span */

/* The header for frames to the guest without offloads: no checksum or segmentation work, one buffer. */
static const uint8_t rx_header[VIRTIO_NET_HDR_SIZE] = { [10] = 1 };
/* The header for frames to the backend without offloads: the guest's own is ignored. */
static const uint8_t tx_header[VIRTIO_NET_HDR_SIZE];

static uint16_t get16(const uint8_t *h, unsigned off)
{
	return (uint16_t)(h[off] | h[off + 1] << 8);
}

bool virtio_net__tx_header_ok(uint64_t features, const uint8_t *h, size_t frame_len)
{
	bool csum = (features >> NET_F_CSUM) & 1;
	uint8_t flags = h[HDR_FLAGS], gso = h[HDR_GSO_TYPE];
	if (flags & ~HDR_F_NEEDS_CSUM)
		return false;
	if (flags & HDR_F_NEEDS_CSUM) {
		uint32_t start = get16(h, HDR_CSUM_START), off = get16(h, HDR_CSUM_OFFSET);
		if (!csum || start + off + 2 > frame_len || off > 0xffff - 2)
			return false;
	}
	if ((gso & GSO_ECN) && !((features >> NET_F_HOST_ECN) & 1))
		return false;
	switch (gso & ~GSO_ECN) {
	case GSO_NONE:
		return !(gso & GSO_ECN);
	case GSO_TCPV4:
		if (!((features >> NET_F_HOST_TSO4) & 1))
			return false;
		break;
	case GSO_TCPV6:
		if (!((features >> NET_F_HOST_TSO6) & 1))
			return false;
		break;
	default: /* UDP (not offered) and unknown types */
		return false;
	}
	/* A segmented frame: its checksum is the device's to fill, its pieces smaller than it and non-empty. */
	uint16_t hdr_len = get16(h, HDR_HDR_LEN), gso_size = get16(h, HDR_GSO_SIZE);
	return (flags & HDR_F_NEEDS_CSUM) && gso_size && hdr_len <= frame_len && gso_size < frame_len;
}

/* What the TAP may hand us: what the driver can take (TUN_F_* bits, see tap.c). */
static unsigned wanted_offloads(const struct virtio_net *n)
{
	const struct virtio_dev *d = &n->vdev;
	if (!n->offloads || !virtio_dev__live(d) || !virtio_dev__has(d, NET_F_GUEST_CSUM))
		return 0;
	unsigned f = TAP_OFFLOAD_CSUM;
	if (virtio_dev__has(d, NET_F_GUEST_TSO4))
		f |= TAP_OFFLOAD_TSO4;
	if (virtio_dev__has(d, NET_F_GUEST_TSO6))
		f |= TAP_OFFLOAD_TSO6;
	if ((f & (TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6)) && virtio_dev__has(d, NET_F_GUEST_ECN))
		f |= TAP_OFFLOAD_ECN;
	return f;
}

/* The header the guest gets for the frame in rx_frame (the backend's, as far as the driver takes it). */
static void rx_fix_header(struct virtio_net *n)
{
	uint8_t *h = n->rx_frame;
	if (!n->offloads || !virtio_dev__has(&n->vdev, NET_F_GUEST_CSUM)) {
		memcpy(h, rx_header, VIRTIO_NET_HDR_SIZE);
		return;
	}
	h[HDR_FLAGS] &= HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID;
	h[HDR_NUM_BUFFERS] = 1;
	h[HDR_NUM_BUFFERS + 1] = 0;
}

/*
 * One frame into receive buffers: one chain, or with MRG_RXBUF as many as it takes (num_buffers in the
 * first's header), published together. false: not enough buffers yet (the frame waits).
 */
static bool deliver(struct virtio_net *n)
{
	struct virtq *vq = &n->vdev.vq[RXQ];
	bool mrg = virtio_dev__has(&n->vdev, NET_F_MRG_RXBUF);
	uint16_t heads[MRG_MAX];
	uint32_t lens[MRG_MAX];
	unsigned k = 0;
	size_t off = 0;
	rx_fix_header(n);
	while (off < n->rx_len) {
		struct virtq_chain *c = k ? &n->chain2 : &n->chain;
		int r = k < (mrg ? MRG_MAX : 1) ? virtio_dev__pop(&n->vdev, RXQ, c) : 0;
		if (r < 0)
			return false; /* the queue is broken (needs reset) */
		bool too_big = k == (mrg ? MRG_MAX : 1) || (r > 0 && !mrg && c->in_len < n->rx_len);
		if (r == 0 && !too_big) {
			while (k--)
				virtq__unpop(vq); /* the frame waits for more buffers */
			return false;
		}
		if (too_big || !c->in_len) {
			for (unsigned i = 0; i < k + (r > 0); i++)
				virtq__unpop(vq); /* the buffers stay for frames that fit */
			n->stats.rx_dropped++;
			n->rx_len = 0;
			n->rx_paid = false;
			return true;
		}
		size_t len = c->in_len < n->rx_len - off ? (size_t)c->in_len : n->rx_len - off;
		iov__write(virtq_chain__in(c), c->nin, 0, n->rx_frame + off, len);
		virtq__mark_written(vq, c, (uint32_t)len);
		heads[k] = c->head;
		lens[k++] = (uint32_t)len;
		off += len;
	}
	if (k > 1) { /* the first buffer's header learns how many there are */
		uint8_t nb[2] = { (uint8_t)k, 0 };
		iov__write(virtq_chain__in(&n->chain), n->chain.nin, HDR_NUM_BUFFERS, nb, 2);
	}
	virtq__push_many(vq, heads, lens, k);
	n->stats.rx_packets++;
	n->stats.rx_bytes += n->rx_len - VIRTIO_NET_HDR_SIZE;
	n->rx_len = 0;
	n->rx_paid = false;
	return true;
}

/* Move frames from the backend into receive buffers until one side runs dry (lock held). */
static void net_rx(struct virtio_net *n)
{
	bool any = false;
	unsigned want = wanted_offloads(n);
	if (want != n->tap_offloads && tap__set_offloads(n->fd, want) == 0)
		n->tap_offloads = want;
	for (;;) {
		if (!n->rx_len && n->inject_count) { /* the filter's answers first */
			unsigned i = n->inject_head;
			memset(n->rx_frame, 0, VIRTIO_NET_HDR_SIZE);
			memcpy(n->rx_frame + VIRTIO_NET_HDR_SIZE, n->inject[i], n->inject_len[i]);
			n->rx_len = VIRTIO_NET_HDR_SIZE + n->inject_len[i];
			free(n->inject[i]);
			n->inject[i] = NULL;
			n->inject_head = (i + 1) % VIRTIO_NET_INJECT_MAX;
			n->inject_count--;
		}
		if (!n->rx_len) {
			ssize_t r = read(n->fd, n->rx_frame, sizeof(n->rx_frame));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			if (r <= VIRTIO_NET_HDR_SIZE) {
				n->stats.errors++;
				continue;
			}
			n->rx_len = (size_t)r;
		}
		if (!n->rx_paid) {
			if (!ratelimit__consume(&n->rx_limiter, n->rx_len - VIRTIO_NET_HDR_SIZE))
				break; /* the frame waits in rx_frame for the limiter's timer */
			n->rx_paid = true;
		}
		if (!deliver(n))
			break;
		any = true;
	}
	if (any)
		virtio_dev__signal(&n->vdev, RXQ);
}

static void transmit(struct virtio_net *n, struct virtq_chain *c)
{
	struct iovec iov[1 + VIRTQ_MAX_SIZE];
	if (c->out_len <= VIRTIO_NET_HDR_SIZE || c->out_len > VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME) {
		n->stats.errors++;
		return;
	}
	size_t len = c->out_len - VIRTIO_NET_HDR_SIZE;
	uint8_t hdr[VIRTIO_NET_HDR_SIZE];
	iov[0] = (struct iovec){ (void *)tx_header, VIRTIO_NET_HDR_SIZE };
	if (n->offloads) { /* the guest's checksum and segmentation requests go to the TAP, checked first */
		iov__read(c->iov, c->nout, 0, hdr, sizeof(hdr));
		if (!virtio_net__tx_header_ok(n->vdev.driver_features, hdr, len)) {
			n->stats.bad_headers++;
			n->stats.tx_dropped++;
			return;
		}
		hdr[HDR_NUM_BUFFERS] = hdr[HDR_NUM_BUFFERS + 1] = 0;
		iov[0].iov_base = hdr;
	}
	unsigned k = iov__slice(c->iov, c->nout, VIRTIO_NET_HDR_SIZE, len, iov + 1, VIRTQ_MAX_SIZE);
	if (n->filter.tx && n->filter.tx(n->filter.opaque, iov[0].iov_base, iov + 1, k, len)) {
		n->stats.tx_filtered++;
		return;
	}
	ssize_t r;
	do
		r = writev(n->fd, iov, (int)k + 1);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		n->stats.tx_dropped++;
		return;
	}
	n->stats.tx_packets++;
	n->stats.tx_bytes += len;
}

static void net_tx(struct virtio_net *n)
{
	bool any = false;
	while (!n->tx_limiter.blocked && virtio_dev__pop(&n->vdev, TXQ, &n->chain) > 0) {
		uint64_t len = n->chain.out_len > VIRTIO_NET_HDR_SIZE ? n->chain.out_len - VIRTIO_NET_HDR_SIZE : 0;
		if (!ratelimit__consume(&n->tx_limiter, len)) {
			virtq__unpop(&n->vdev.vq[TXQ]); /* parked until the limiter's timer kicks the queue */
			break;
		}
		transmit(n, &n->chain);
		virtq__push(&n->vdev.vq[TXQ], &n->chain, 0);
		any = true;
	}
	if (any)
		virtio_dev__signal(&n->vdev, TXQ);
}

static void net_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_net *n = (struct virtio_net *)d;
	if (q == RXQ)
		net_rx(n);
	else if (q == TXQ)
		net_tx(n);
}

/* Frames that arrived before the driver was ready wait in the backend: look now. */
static void net_activate(struct virtio_dev *d)
{
	virtio_dev__kick(d, RXQ);
}

static void drop_injected(struct virtio_net *n)
{
	for (unsigned i = 0; i < VIRTIO_NET_INJECT_MAX; i++) {
		free(n->inject[i]);
		n->inject[i] = NULL;
	}
	n->inject_head = n->inject_count = 0;
}

void virtio_net__enable_offloads(struct virtio_net *n)
{
	n->offloads = true;
	n->vdev.host_features |= OFFLOAD_FEATURES;
}

void virtio_net__set_filter(struct virtio_net *n, const struct virtio_net_filter *f)
{
	pthread_mutex_lock(&n->vdev.lock);
	n->filter = *f;
	pthread_mutex_unlock(&n->vdev.lock);
}

bool virtio_net__inject(struct virtio_net *n, const void *frame, size_t len)
{
	uint8_t *copy = len && len <= VIRTIO_NET_MAX_FRAME && n->inject_count < VIRTIO_NET_INJECT_MAX ? malloc(len) : NULL;
	if (!copy) {
		n->stats.rx_dropped++;
		return false;
	}
	memcpy(copy, frame, len);
	unsigned i = (n->inject_head + n->inject_count++) % VIRTIO_NET_INJECT_MAX;
	n->inject[i] = copy;
	n->inject_len[i] = len;
	virtio_dev__kick(&n->vdev, RXQ);
	return true;
}

static void net_reset(struct virtio_dev *d)
{
	drop_injected((struct virtio_net *)d);
	((struct virtio_net *)d)->rx_len = 0;
	((struct virtio_net *)d)->rx_paid = false;
}

static const struct virtio_dev_ops net_ops = { .notify = net_notify, .activate = net_activate, .reset = net_reset };

void virtio_net__rx_event(struct virtio_net *n)
{
	pthread_mutex_lock(&n->vdev.lock);
	if (virtio_dev__live(&n->vdev))
		net_rx(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

int virtio_net__init(struct virtio_net *n, const struct rv_bus *bus, struct irq_line irq, int fd,
		     const uint8_t *mac)
{
	memset(n, 0, sizeof(*n));
	n->fd = fd;
	n->rx_limiter.timer_fd = n->tx_limiter.timer_fd = -1;
	if (ratelimit__init(&n->rx_limiter, NULL) < 0 || ratelimit__init(&n->tx_limiter, NULL) < 0) {
		fprintf(stderr, "wisp: cannot create virtio-net's rate limiter timers: %s\n", strerror(errno));
		ratelimit__exit(&n->rx_limiter);
		return -1;
	}
	if (mac) {
		memcpy(n->config, mac, 6);
	} else if (getrandom(n->config, 6, 0) == 6) {
		n->config[0] = (uint8_t)((n->config[0] & 0xfe) | 0x02); /* unicast, locally administered */
	} else {
		memcpy(n->config, (uint8_t[6]){ 0x02, 0x77, 0x69, 0x73, 0x70, 0x01 }, 6);
	}
	n->config[6] = NET_S_LINK_UP;
	uint64_t features = VIRTIO_F_COMMON | (1ull << NET_F_MAC) | (1ull << NET_F_STATUS);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    virtio_dev__init(&n->vdev, &net_ops, "virtio-net", VIRTIO_ID_NET, 2, QUEUE_SIZE, features, n->config,
			     sizeof(n->config), bus, irq) < 0) {
		fprintf(stderr, "wisp: cannot create virtio-net: %s\n", strerror(errno));
		ratelimit__exit(&n->rx_limiter);
		ratelimit__exit(&n->tx_limiter);
		return -1;
	}
	return 0;
}

void virtio_net__exit(struct virtio_net *n)
{
	drop_injected(n);
	virtio_dev__exit(&n->vdev);
	ratelimit__exit(&n->rx_limiter);
	ratelimit__exit(&n->tx_limiter);
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

static void on_backend(void *opaque, uint32_t events)
{
	(void)events;
	virtio_net__rx_event(opaque);
}

static void limiter_fired(struct virtio_net *n, struct ratelimit *l, unsigned q)
{
	pthread_mutex_lock(&n->vdev.lock);
	bool was = ratelimit__timer_fired(l);
	pthread_mutex_unlock(&n->vdev.lock);
	if (was)
		virtio_dev__kick(&n->vdev, q);
}

static void on_rx_limiter(void *opaque, uint32_t events)
{
	(void)events;
	struct virtio_net *n = opaque;
	limiter_fired(n, &n->rx_limiter, RXQ);
}

static void on_tx_limiter(void *opaque, uint32_t events)
{
	(void)events;
	struct virtio_net *n = opaque;
	limiter_fired(n, &n->tx_limiter, TXQ);
}

int virtio_net__attach(struct virtio_net *n, struct ioloop *l)
{
	if (virtio_dev__attach(&n->vdev, l) < 0 || ioloop__add(l, n->fd, EPOLLIN | EPOLLET, on_backend, n) < 0 ||
	    ioloop__add(l, n->rx_limiter.timer_fd, EPOLLIN, on_rx_limiter, n) < 0 ||
	    ioloop__add(l, n->tx_limiter.timer_fd, EPOLLIN, on_tx_limiter, n) < 0)
		return -1;
	return 0;
}

void virtio_net__update_limiters(struct virtio_net *n, const struct ratelimit_update *rx,
				 const struct ratelimit_update *tx)
{
	pthread_mutex_lock(&n->vdev.lock);
	bool kick_rx = rx && ratelimit__update(&n->rx_limiter, rx);
	bool kick_tx = tx && ratelimit__update(&n->tx_limiter, tx);
	pthread_mutex_unlock(&n->vdev.lock);
	if (kick_rx)
		virtio_dev__kick(&n->vdev, RXQ);
	if (kick_tx)
		virtio_dev__kick(&n->vdev, TXQ);
}

struct virtio_net_stats virtio_net__stats(struct virtio_net *n)
{
	pthread_mutex_lock(&n->vdev.lock);
	struct virtio_net_stats s = n->stats;
	s.rx_throttled = n->rx_limiter.stats.throttled;
	s.tx_throttled = n->tx_limiter.stats.throttled;
	pthread_mutex_unlock(&n->vdev.lock);
	return s;
}
