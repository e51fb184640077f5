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

#define NET_F_MAC 5
#define NET_F_STATUS 16
#define NET_S_LINK_UP 1

/* The header for frames to the guest: no checksum or segmentation work, one buffer. */
static const uint8_t rx_header[VIRTIO_NET_HDR_SIZE] = { [10] = 1 };
/* The header for frames to the backend: the guest's own is ignored (no offloads were offered). */
static const uint8_t tx_header[VIRTIO_NET_HDR_SIZE];

static bool deliver(struct virtio_net *n)
{
	struct virtq_chain *c = &n->chain;
	int r = virtio_dev__pop(&n->vdev, RXQ, c);
	if (r <= 0)
		return false;
	struct iovec *in = virtq_chain__in(c);
	if (c->in_len < n->rx_len) {
		virtq__unpop(&n->vdev.vq[RXQ]); /* the buffer stays for a frame that fits */
		n->stats.rx_dropped++;
		n->rx_len = 0;
		n->rx_paid = false;
		return true;
	}
	iov__write(in, c->nin, 0, rx_header, VIRTIO_NET_HDR_SIZE);
	iov__write(in, c->nin, VIRTIO_NET_HDR_SIZE, n->rx_frame + VIRTIO_NET_HDR_SIZE, n->rx_len - VIRTIO_NET_HDR_SIZE);
	virtq__push(&n->vdev.vq[RXQ], c, (uint32_t)n->rx_len);
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
	for (;;) {
		if (!n->rx_len && n->inject_count) { /* the filter's answers first */
			unsigned i = n->inject_head;
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
	iov[0] = (struct iovec){ (void *)tx_header, VIRTIO_NET_HDR_SIZE };
	unsigned k = iov__slice(c->iov, c->nout, VIRTIO_NET_HDR_SIZE, len, iov + 1, VIRTQ_MAX_SIZE);
	if (n->filter.tx && n->filter.tx(n->filter.opaque, iov + 1, k, len)) {
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
