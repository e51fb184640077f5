/*
 * The device I/O thread: one epoll loop that waits on the devices' notification eventfds and their backends
 * (TAP, pty), so disk and network work never runs on a vCPU thread.
 */
#ifndef WISP_VIRTIO_IOLOOP_H
#define WISP_VIRTIO_IOLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Called on the I/O thread with the epoll events that fired. */
typedef void (*ioloop_fn)(void *opaque, uint32_t events);

#define IOLOOP_MAX_HANDLERS 32

struct ioloop_handler {
	int fd;
	ioloop_fn fn;
	void *opaque;
};

struct ioloop {
	int epfd, stop_fd;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* handler table */
	struct ioloop_handler handlers[IOLOOP_MAX_HANDLERS];
};

int ioloop__init(struct ioloop *l);
void ioloop__exit(struct ioloop *l);
/* Watch fd for `events` (EPOLLIN, EPOLLOUT...). Thread-safe. */
int ioloop__add(struct ioloop *l, int fd, uint32_t events, ioloop_fn fn, void *opaque);
/* Change the events watched on fd (0 = none for now). Thread-safe. */
int ioloop__modify(struct ioloop *l, int fd, uint32_t events);
void ioloop__remove(struct ioloop *l, int fd);
int ioloop__start(struct ioloop *l);
/* Stop the thread and wait for it; handlers stay registered. */
void ioloop__stop(struct ioloop *l);

#endif
