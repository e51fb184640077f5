/* The device I/O thread: epoll over eventfds and backend file descriptors. */
#include "virtio/ioloop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "jail/seccomp.h"

#define MAX_EVENTS 16

int ioloop__init(struct ioloop *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	for (unsigned i = 0; i < IOLOOP_MAX_HANDLERS; i++)
		l->handlers[i].fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->epfd < 0 || l->stop_fd < 0)
		goto fail;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev) < 0)
		goto fail;
	return 0;
fail:
	ioloop__exit(l);
	return -1;
}

void ioloop__exit(struct ioloop *l)
{
	ioloop__stop(l);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	l->epfd = l->stop_fd = -1;
	pthread_mutex_destroy(&l->lock);
}

int ioloop__add(struct ioloop *l, int fd, uint32_t events, ioloop_fn fn, void *opaque)
{
	pthread_mutex_lock(&l->lock);
	struct ioloop_handler *h = NULL;
	for (unsigned i = 0; i < IOLOOP_MAX_HANDLERS && !h; i++)
		if (l->handlers[i].fd < 0)
			h = &l->handlers[i];
	int r = -1;
	if (h) {
		*h = (struct ioloop_handler){ fd, fn, opaque };
		struct epoll_event ev = { .events = events, .data.ptr = h };
		r = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
		if (r < 0)
			h->fd = -1;
	} else {
		errno = ENOSPC;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

static struct ioloop_handler *find(struct ioloop *l, int fd)
{
	for (unsigned i = 0; i < IOLOOP_MAX_HANDLERS; i++)
		if (l->handlers[i].fd == fd)
			return &l->handlers[i];
	return NULL;
}

int ioloop__modify(struct ioloop *l, int fd, uint32_t events)
{
	pthread_mutex_lock(&l->lock);
	struct ioloop_handler *h = find(l, fd);
	struct epoll_event ev = { .events = events, .data.ptr = h };
	int r = h ? epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) : -1;
	pthread_mutex_unlock(&l->lock);
	return r;
}

/* Not while the thread runs: a handler could be in flight. */
void ioloop__remove(struct ioloop *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	struct ioloop_handler *h = find(l, fd);
	if (h) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		h->fd = -1;
	}
	pthread_mutex_unlock(&l->lock);
}

static void *loop(void *opaque)
{
	struct ioloop *l = opaque;
	struct epoll_event evs[MAX_EVENTS];
	seccomp__enter(SECCOMP_IO);
	for (;;) {
		int n = epoll_wait(l->epfd, evs, MAX_EVENTS, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			struct ioloop_handler *h = evs[i].data.ptr;
			if (!h)
				return NULL; /* stop_fd */
			h->fn(h->opaque, evs[i].events);
		}
	}
	return NULL;
}

int ioloop__start(struct ioloop *l)
{
	if (l->running)
		return 0;
	uint64_t v;
	while (read(l->stop_fd, &v, sizeof(v)) > 0)
		;
	if (pthread_create(&l->thread, NULL, loop, l) != 0)
		return -1;
	l->running = true;
	return 0;
}

void ioloop__stop(struct ioloop *l)
{
	if (!l->running)
		return;
	uint64_t one = 1;
	if (write(l->stop_fd, &one, sizeof(one)) < 0) {
		/* Cannot fail short of a saturated counter, which also wakes the thread. */
	}
	pthread_join(l->thread, NULL);
	l->running = false;
}
