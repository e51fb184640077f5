/* virtio-console: receiveq0 fed from the host stream, transmitq0 written to it. No multiport. */
#include "virtio/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#define QUEUE_SIZE 64
#define RXQ 0
#define TXQ 1

static bool deliver(struct virtio_console *c)
{
	struct virtq_chain *ch = &c->chain;
	if (virtio_dev__pop(&c->vdev, RXQ, ch) <= 0)
		return false;
	size_t n = iov__write(virtq_chain__in(ch), ch->nin, 0, c->rx_buf + c->rx_off, c->rx_len - c->rx_off);
	if (!n)
		c->stats.errors++; /* a receive buffer with no writable bytes */
	virtq__push(&c->vdev.vq[RXQ], ch, (uint32_t)n);
	c->rx_off += n;
	c->stats.rx_bytes += n;
	return true;
}

static void console_rx(struct virtio_console *c)
{
	bool any = false;
	for (;;) {
		if (c->rx_off == c->rx_len) {
			ssize_t r = read(c->in_fd, c->rx_buf, sizeof(c->rx_buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			c->rx_off = 0;
			c->rx_len = (size_t)r;
		}
		if (!deliver(c))
			break;
		any = true;
	}
	if (any)
		virtio_dev__signal(&c->vdev, RXQ);
}

static void write_out(struct virtio_console *c, const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left) {
			ssize_t r = write(c->out_fd, p, left);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				c->stats.tx_dropped += left; /* nobody reads the other side: drop, never block */
				break;
			}
			p += r;
			left -= (size_t)r;
			c->stats.tx_bytes += (size_t)r;
		}
	}
}

static void console_tx(struct virtio_console *c)
{
	bool any = false;
	while (virtio_dev__pop(&c->vdev, TXQ, &c->chain) > 0) {
		write_out(c, c->chain.iov, c->chain.nout);
		virtq__push(&c->vdev.vq[TXQ], &c->chain, 0);
		any = true;
	}
	if (any)
		virtio_dev__signal(&c->vdev, TXQ);
}

static void console_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_console *c = (struct virtio_console *)d;
	if (q == RXQ)
		console_rx(c);
	else if (q == TXQ)
		console_tx(c);
}

static void console_activate(struct virtio_dev *d)
{
	virtio_dev__kick(d, RXQ);
}

static const struct virtio_dev_ops console_ops = { .notify = console_notify, .activate = console_activate };

void virtio_console__rx_event(struct virtio_console *c)
{
	pthread_mutex_lock(&c->vdev.lock);
	if (virtio_dev__live(&c->vdev))
		console_rx(c);
	pthread_mutex_unlock(&c->vdev.lock);
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int virtio_console__init(struct virtio_console *c, const struct rv_bus *bus, struct irq_line irq, int in_fd,
			 int out_fd)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->hold_fd = -1;
	if (nonblock(in_fd) < 0 || nonblock(out_fd) < 0 ||
	    virtio_dev__init(&c->vdev, &console_ops, "virtio-console", VIRTIO_ID_CONSOLE, 2, QUEUE_SIZE,
			     VIRTIO_F_COMMON, c->config, sizeof(c->config), bus, irq) < 0) {
		fprintf(stderr, "wisp: cannot create virtio-console: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* A pty in raw mode; we keep its terminal side open so the master never sees a hang-up. */
static int open_pty(char *path, size_t size, int *hold)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 || ptsname_r(fd, path, size) != 0)
		goto fail;
	*hold = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;
	if (*hold < 0 || tcgetattr(*hold, &t) < 0)
		goto fail;
	cfmakeraw(&t);
	if (tcsetattr(*hold, TCSANOW, &t) < 0)
		goto fail;
	return fd;
fail:
	fprintf(stderr, "wisp: cannot create a pseudo-terminal: %s\n", strerror(errno));
	if (*hold >= 0)
		close(*hold);
	if (fd >= 0)
		close(fd);
	*hold = -1;
	return -1;
}

int virtio_console__init_pty(struct virtio_console *c, const struct rv_bus *bus, struct irq_line irq, char *path,
			     size_t path_size)
{
	int hold = -1;
	int fd = open_pty(path, path_size, &hold);
	if (fd < 0)
		return -1;
	if (virtio_console__init(c, bus, irq, fd, fd) < 0) {
		close(fd);
		close(hold);
		return -1;
	}
	c->hold_fd = hold;
	return 0;
}

void virtio_console__exit(struct virtio_console *c)
{
	virtio_dev__exit(&c->vdev);
	if (c->out_fd >= 0 && c->out_fd != c->in_fd)
		close(c->out_fd);
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->hold_fd >= 0)
		close(c->hold_fd);
	c->in_fd = c->out_fd = c->hold_fd = -1;
}

static void on_backend(void *opaque, uint32_t events)
{
	(void)events; /* a hang-up shows as a read of 0 */
	virtio_console__rx_event(opaque);
}

int virtio_console__attach(struct virtio_console *c, struct ioloop *l)
{
	if (virtio_dev__attach(&c->vdev, l) < 0 || ioloop__add(l, c->in_fd, EPOLLIN | EPOLLET, on_backend, c) < 0)
		return -1;
	return 0;
}

struct virtio_console_stats virtio_console__stats(struct virtio_console *c)
{
	pthread_mutex_lock(&c->vdev.lock);
	struct virtio_console_stats s = c->stats;
	pthread_mutex_unlock(&c->vdev.lock);
	return s;
}
