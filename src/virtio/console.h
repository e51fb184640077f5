/*
 * virtio-console (virtio 1.2, 5.3): one port, the guest's hvc0, connected to a host byte stream
 * (by default a pseudo-terminal whose path is printed at start-up).
 */
#ifndef WISP_VIRTIO_CONSOLE_H
#define WISP_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/ioloop.h"
#include "virtio/virtio.h"

#define VIRTIO_CONSOLE_CONFIG_SIZE 12
#define VIRTIO_CONSOLE_RX_BUF 4096

struct virtio_console_stats {
	uint64_t rx_bytes, tx_bytes, tx_dropped, errors;
};

struct virtio_console {
	struct virtio_dev vdev;
	int in_fd, out_fd;
	int hold_fd; /* our own handle on the pty's terminal side, so it never hangs up; -1 if none */
	uint8_t config[VIRTIO_CONSOLE_CONFIG_SIZE];
	uint8_t rx_buf[VIRTIO_CONSOLE_RX_BUF];
	size_t rx_off, rx_len;
	struct virtq_chain chain;
	struct virtio_console_stats stats;
};

/* Over a pair of host fds (they may be the same; made non-blocking; owned from now on). */
int virtio_console__init(struct virtio_console *c, const struct rv_bus *bus, struct irq_line irq, int in_fd,
			 int out_fd);
/* Over a new pseudo-terminal; its path (/dev/pts/N) goes to `path`. */
int virtio_console__init_pty(struct virtio_console *c, const struct rv_bus *bus, struct irq_line irq, char *path,
			     size_t path_size);
void virtio_console__exit(struct virtio_console *c);
int virtio_console__attach(struct virtio_console *c, struct ioloop *l);
/* The host side has bytes for the guest (I/O thread; exposed for tests). */
void virtio_console__rx_event(struct virtio_console *c);
struct virtio_console_stats virtio_console__stats(struct virtio_console *c);

#endif
