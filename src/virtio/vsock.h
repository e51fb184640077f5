/*
 * virtio-vsock (virtio 1.2, 5.10) with Firecracker's host side: the guest's stream sockets become Unix
 * sockets on the host.
 *   - Host-initiated: wisp listens on `uds_path`; a client connects and writes "CONNECT <port>\n"; wisp
 *     asks the guest for a connection to <port> and, once the guest accepts, answers "OK <host_port>\n";
 *     from then on the Unix socket carries the stream.
 *   - Guest-initiated: a guest connect() to CID 2 (the host), port P, becomes a connection to the Unix
 *     socket `<uds_path>_<P>`, where a host program listens.
 *
 * One queue pair multiplexes every connection. Credit-based flow control (5.10.6.3) both ways: the guest's
 * credit bounds what wisp reads from a host socket (read straight into the guest's receive buffers), and
 * wisp's own VIRTIO_VSOCK_BUF_ALLOC per connection bounds what the guest may send before the host socket
 * took it, so a slow host reader stalls its own connection only and host memory stays bounded
 * (VIRTIO_VSOCK_MAX_CONNS connections of at most VIRTIO_VSOCK_BUF_ALLOC buffered bytes each). A guest that
 * ignores the credit, names unknown connections or sends malformed packets gets RST on that connection.
 * Host sockets are non-blocking and watched by the device's own epoll set (one entry in the I/O thread's
 * loop for any number of connections); the I/O thread never waits on a peer.
 */
#ifndef WISP_VIRTIO_VSOCK_H
#define WISP_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "virtio/ioloop.h"
#include "virtio/virtio.h"

#define VIRTIO_VSOCK_HOST_CID 2
#define VIRTIO_VSOCK_HDR_SIZE 44
#define VIRTIO_VSOCK_MAX_PKT 65536	     /* largest payload in one packet, either way */
#define VIRTIO_VSOCK_BUF_ALLOC (128u << 10) /* what each connection may hold for a slow host reader */
#define VIRTIO_VSOCK_MAX_CONNS 512
#define VIRTIO_VSOCK_CONNECT_TIMEOUT_MS 10000 /* CONNECT line, and the guest's answer to a request */
/* uds_path plus "_<port>" must fit a sockaddr_un. */
#define VIRTIO_VSOCK_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 12)

/* Packet types and operations (5.10.6). */
#define VSOCK_TYPE_STREAM 1
enum vsock_op {
	VSOCK_OP_INVALID,
	VSOCK_OP_REQUEST,
	VSOCK_OP_RESPONSE,
	VSOCK_OP_RST,
	VSOCK_OP_SHUTDOWN,
	VSOCK_OP_RW,
	VSOCK_OP_CREDIT_UPDATE,
	VSOCK_OP_CREDIT_REQUEST,
};
#define VSOCK_SHUTDOWN_RCV 1
#define VSOCK_SHUTDOWN_SEND 2
#define VSOCK_EVENT_TRANSPORT_RESET 0

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

/* Firecracker's vsock metrics; rx is towards the guest, tx from it. */
struct virtio_vsock_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_queue_events, tx_queue_events;
	uint64_t conns_added, conns_killed, conns_removed;
	uint64_t rx_read_fails, tx_write_fails, tx_flush_fails;
	uint64_t muxer_event_fails, conn_event_fails, bad_packets;
};

struct vsock_conn;

struct virtio_vsock {
	struct virtio_dev vdev;
	uint8_t config[8]; /* guest_cid, little-endian */
	uint64_t guest_cid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, epfd, timer_fd, wake_fd; /* wake_fd: a vCPU reset the device (reset_pending) */
	bool listen_paused, timer_armed, reset_event, reset_pending;
	/* Connections: a hash on (host port, guest port), a list of all, the ones with something for the guest
	 * (in turn), and those killed during the current batch of events (freed at its end). */
	struct vsock_conn **table, *all;
	struct vsock_conn *pend_head, *pend_tail, *dead;
	unsigned nconns;
	uint32_t next_port;
	/* RST packets for connections that no longer exist (or never did): host port, guest port. */
	struct {
		uint32_t host_port, guest_port;
	} rst[2 * VIRTIO_VSOCK_MAX_CONNS];
	unsigned rst_head, rst_len;
	struct virtq_chain chain;
	struct virtio_vsock_stats stats;
};

/*
 * Create the device for guest_cid (3 .. 2^32-1) and listen on uds_path (which must not exist; removed
 * again by virtio_vsock__exit). Prints a message and returns -1 on error.
 */
int virtio_vsock__init(struct virtio_vsock *v, const struct rv_bus *bus, struct irq_line irq, uint64_t guest_cid,
		       const char *uds_path);
void virtio_vsock__exit(struct virtio_vsock *v);
/* Have the I/O thread serve the queues and the host sockets. */
int virtio_vsock__attach(struct virtio_vsock *v, struct ioloop *l);
/* Host sockets have news (I/O thread; exposed for tests and fuzzing: handles whatever is ready, never waits). */
void virtio_vsock__event(struct virtio_vsock *v);
struct virtio_vsock_stats virtio_vsock__stats(struct virtio_vsock *v);
unsigned virtio_vsock__connections(struct virtio_vsock *v);

#endif
