/* The transport-independent part of a virtio device: reset, queue access for device code, interrupts. */
#include "virtio/virtio.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int virtio_dev__init(struct virtio_dev *d, const struct virtio_dev_ops *ops, const char *name, uint32_t device_id,
		     unsigned nqueues, uint16_t queue_max, uint64_t features, void *config, uint32_t config_size,
		     const struct rv_bus *bus, struct irq_line irq)
{
	memset(d, 0, sizeof(*d));
	if (nqueues > VIRTIO_MAX_QUEUES) {
		errno = EINVAL;
		return -1;
	}
	d->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->notify_fd < 0)
		return -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->irq_lock, NULL);
	d->ops = ops;
	d->name = name;
	d->device_id = device_id;
	d->nqueues = nqueues;
	d->host_features = features | (1ull << VIRTIO_F_VERSION_1);
	d->config = config;
	d->config_size = config_size;
	d->bus = bus;
	d->irq = irq;
	for (unsigned i = 0; i < nqueues; i++)
		virtq__init(&d->vq[i], bus, queue_max);
	return 0;
}

void virtio_dev__exit(struct virtio_dev *d)
{
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
	pthread_mutex_destroy(&d->irq_lock);
	pthread_mutex_destroy(&d->lock);
}

bool virtio_dev__live(const struct virtio_dev *d)
{
	return (d->status & (VIRTIO_S_DRIVER_OK | VIRTIO_S_NEEDS_RESET | VIRTIO_S_FAILED)) == VIRTIO_S_DRIVER_OK;
}

bool virtio_dev__has(const struct virtio_dev *d, unsigned feature)
{
	return (d->driver_features >> feature) & 1;
}

static void raise_irq(struct virtio_dev *d, uint32_t bit)
{
	pthread_mutex_lock(&d->irq_lock);
	d->isr |= bit;
	irq_line__set(&d->irq, true);
	pthread_mutex_unlock(&d->irq_lock);
	d->stats.interrupts++;
}

int virtio_dev__pop(struct virtio_dev *d, unsigned q, struct virtq_chain *c)
{
	int r = virtq__pop(&d->vq[q], c);
	if (r < 0)
		virtio_dev__needs_reset(d);
	return r;
}

void virtio_dev__signal(struct virtio_dev *d, unsigned q)
{
	if (virtq__should_signal(&d->vq[q]))
		raise_irq(d, VIRTIO_INT_USED);
}

void virtio_dev__config_changed(struct virtio_dev *d)
{
	atomic_fetch_add(&d->config_gen, 1);
	if (d->status & VIRTIO_S_DRIVER_OK)
		raise_irq(d, VIRTIO_INT_CONFIG);
}

void virtio_dev__needs_reset(struct virtio_dev *d)
{
	d->stats.queue_errors++;
	if (d->status & VIRTIO_S_NEEDS_RESET)
		return;
	d->status |= VIRTIO_S_NEEDS_RESET;
	if (d->status & VIRTIO_S_DRIVER_OK)
		raise_irq(d, VIRTIO_INT_CONFIG);
}

void virtio_dev__kick(struct virtio_dev *d, unsigned q)
{
	uint64_t one = 1;
	atomic_fetch_or(&d->pending, 1u << q);
	if (write(d->notify_fd, &one, sizeof(one)) < 0) {
		/* The counter is saturated: the I/O thread has a wake-up pending anyway. */
	}
}

void virtio_dev__process(struct virtio_dev *d)
{
	uint64_t count;
	if (read(d->notify_fd, &count, sizeof(count)) < 0) {
		/* Spurious wake-up: pending may still hold work from an earlier one. */
	}
	uint32_t mask = atomic_exchange(&d->pending, 0);
	pthread_mutex_lock(&d->lock);
	for (unsigned q = 0; q < d->nqueues; q++) {
		if (!((mask >> q) & 1) || !virtio_dev__live(d))
			continue;
		d->stats.notifies++;
		d->ops->notify(d, q);
	}
	pthread_mutex_unlock(&d->lock);
}

struct virtio_stats virtio_dev__stats(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	struct virtio_stats s = d->stats;
	pthread_mutex_unlock(&d->lock);
	return s;
}

static void on_notify(void *opaque, uint32_t events)
{
	(void)events;
	virtio_dev__process(opaque);
}

int virtio_dev__attach(struct virtio_dev *d, struct ioloop *l)
{
	return ioloop__add(l, d->notify_fd, EPOLLIN, on_notify, d);
}
