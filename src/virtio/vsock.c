/*
 * virtio-vsock: the guest's stream connections multiplexed over one queue pair, each backed by a host Unix
 * socket. Guest packets are checked (size, CIDs, type, op, the connection they name, the credit they use);
 * host sockets are non-blocking, edge-triggered and read straight into the guest's receive buffers.
 */
#include "virtio/vsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "snapshot/format.h"

#define QUEUE_SIZE 256
#define RXQ 0
#define TXQ 1
#define EVQ 2
#define NBUCKETS 1024
#define HOST_PORT_FIRST (1u << 30) /* host ports handed to host-initiated connections */
#define CREDIT_UPDATE_STEP (VIRTIO_VSOCK_BUF_ALLOC / 4)
#define HANDSHAKE_MAX 32 /* "CONNECT 4294967295\n" and some slack */
#define EVENTS_PER_ROUND 64

_Static_assert(sizeof(struct vsock_hdr) == VIRTIO_VSOCK_HDR_SIZE, "virtio_vsock_hdr is 44 bytes");

enum conn_state {
	ST_HANDSHAKE,  /* host-initiated: waiting for "CONNECT <port>\n" */
	ST_CONNECTING, /* host-initiated: REQUEST (to be) sent to the guest, waiting for its RESPONSE */
	ST_ESTABLISHED,
};

/* Control packets a connection owes the guest. */
enum { P_REQUEST = 1, P_RESPONSE = 2, P_CREDIT_UPDATE = 4, P_CREDIT_REQUEST = 8 };

struct vsock_conn {
	int fd;
	enum conn_state state;
	uint32_t host_port, guest_port;
	unsigned pending;
	bool in_table, queued, dead;
	bool announced; /* the guest knows of it: a RST is owed when it goes */
	bool readable;	/* the host socket may have data or EOF (edge-triggered: until read says EAGAIN) */
	bool host_eof, host_wr_shut, guest_no_send, guest_no_rcv;
	bool credit_asked; /* a CREDIT_REQUEST went out since the guest's credit last changed */
	/* The guest's credit, and what we sent it (5.10.6.3). */
	uint32_t peer_buf_alloc, peer_fwd_cnt, rx_cnt;
	/* What the guest sent us, what the host socket took, and the fwd_cnt the guest last heard of. */
	uint32_t tx_cnt, fwd_cnt, fwd_cnt_sent;
	/* Guest data the host socket has not taken yet: a ring of VIRTIO_VSOCK_BUF_ALLOC bytes while needed. */
	uint8_t *buf;
	uint32_t buf_start, buf_len;
	uint64_t deadline_ms;
	struct vsock_conn *hnext;	   /* hash chain */
	struct vsock_conn *pprev, *pnext; /* pending list */
	struct vsock_conn *aprev, *anext; /* every connection */
	struct vsock_conn *dnext;	   /* killed during this batch */
};

/* Tags for the epoll entries that are not connections. */
static char tag_listener, tag_timer, tag_wake;

static struct vsock_conn **all_head(struct virtio_vsock *v)
{
	return &v->all;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned bucket(uint32_t host_port, uint32_t guest_port)
{
	return (host_port * 2654435761u ^ guest_port * 40503u) % NBUCKETS;
}

static struct vsock_conn *find(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (struct vsock_conn *c = v->table[bucket(host_port, guest_port)]; c; c = c->hnext)
		if (c->host_port == host_port && c->guest_port == guest_port)
			return c;
	return NULL;
}

static void table_add(struct virtio_vsock *v, struct vsock_conn *c)
{
	struct vsock_conn **b = &v->table[bucket(c->host_port, c->guest_port)];
	c->hnext = *b;
	*b = c;
	c->in_table = true;
}

static void table_remove(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (!c->in_table)
		return;
	for (struct vsock_conn **p = &v->table[bucket(c->host_port, c->guest_port)]; *p; p = &(*p)->hnext)
		if (*p == c) {
			*p = c->hnext;
			break;
		}
	c->in_table = false;
}

static void pend_add(struct virtio_vsock *v, struct vsock_conn *c)
{
	c->pnext = NULL;
	c->pprev = v->pend_tail;
	if (v->pend_tail)
		v->pend_tail->pnext = c;
	else
		v->pend_head = c;
	v->pend_tail = c;
	c->queued = true;
}

static void pend_remove(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (!c->queued)
		return;
	if (c->pprev)
		c->pprev->pnext = c->pnext;
	else
		v->pend_head = c->pnext;
	if (c->pnext)
		c->pnext->pprev = c->pprev;
	else
		v->pend_tail = c->pprev;
	c->queued = false;
}

static uint32_t credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool can_read(const struct vsock_conn *c)
{
	return c->state == ST_ESTABLISHED && c->readable && !c->host_eof && !c->guest_no_rcv && credit(c) > 0;
}

/* Put c on the pending list if it has anything for the guest. */
static void maybe_queue(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (!c->dead && !c->queued && (c->pending || can_read(c)))
		pend_add(v, c);
}

static void rst_push(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	unsigned cap = sizeof(v->rst) / sizeof(v->rst[0]);
	if (v->rst_len == cap) {
		v->stats.conn_event_fails++; /* the guest's socket times out instead */
		return;
	}
	unsigned i = (v->rst_head + v->rst_len++) % cap;
	v->rst[i].host_port = host_port;
	v->rst[i].guest_port = guest_port;
}

static void arm_timer(struct virtio_vsock *v)
{
	if (v->timer_armed)
		return;
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	if (timerfd_settime(v->timer_fd, 0, &its, NULL) == 0)
		v->timer_armed = true;
}

static void listener_events(struct virtio_vsock *v, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = &tag_listener };
	if (epoll_ctl(v->epfd, EPOLL_CTL_MOD, v->listen_fd, &ev) == 0)
		v->listen_paused = !on;
}

static struct vsock_conn *conn_new(struct virtio_vsock *v, int fd, enum conn_state st)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->state = st;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		return NULL;
	}
	struct vsock_conn **head = all_head(v);
	c->anext = *head;
	if (*head)
		(*head)->aprev = c;
	*head = c;
	v->nconns++;
	v->stats.conns_added++;
	return c;
}

/*
 * Drop a connection: its host socket closes at once, a RST goes to the guest if it knew of the connection
 * and `rst`, and the memory is freed at the end of the current batch (events for it may still be queued).
 */
static void conn_kill(struct virtio_vsock *v, struct vsock_conn *c, bool rst)
{
	if (c->dead)
		return;
	if (c->announced && rst)
		rst_push(v, c->host_port, c->guest_port);
	table_remove(v, c);
	pend_remove(v, c);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		*all_head(v) = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->dead = true;
	c->dnext = v->dead;
	v->dead = c;
	v->nconns--;
	v->stats.conns_removed++;
	if (rst)
		v->stats.conns_killed++;
	if (v->listen_paused && v->nconns < VIRTIO_VSOCK_MAX_CONNS)
		listener_events(v, true);
}

static void reap(struct virtio_vsock *v)
{
	while (v->dead) {
		struct vsock_conn *c = v->dead;
		v->dead = c->dnext;
		free(c);
	}
}

static void kill_all(struct virtio_vsock *v)
{
	while (*all_head(v))
		conn_kill(v, *all_head(v), false);
	reap(v);
	v->rst_head = v->rst_len = 0;
}

/* ---- towards the guest ---------------------------------------------------------------------------- */

static void header(struct vsock_hdr *h, const struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port,
		   uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VIRTIO_VSOCK_HOST_CID;
	h->dst_cid = v->guest_cid;
	h->src_port = host_port;
	h->dst_port = guest_port;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
}

/* The guest's sending and our receiving are both over, and the host socket has all the data: close. */
static void try_finish(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->dead || !c->guest_no_send || c->buf_len)
		return;
	if (!c->host_wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
	}
	if (c->guest_no_rcv || c->host_eof)
		conn_kill(v, c, true);
}

/* Fill one receive chain with c's next packet; returns its length, 0 when c had nothing after all. */
static uint32_t conn_emit(struct virtio_vsock *v, struct vsock_conn *c, struct virtq_chain *ch)
{
	struct iovec *in = virtq_chain__in(ch);
	uint16_t op = VSOCK_OP_INVALID;
	uint32_t len = 0, flags = 0;
	if (c->pending & P_REQUEST) {
		op = VSOCK_OP_REQUEST;
		c->pending &= ~P_REQUEST;
		c->announced = true;
	} else if (c->pending & P_RESPONSE) {
		op = VSOCK_OP_RESPONSE;
		c->pending &= ~P_RESPONSE;
	} else if (can_read(c) && ch->in_len > VIRTIO_VSOCK_HDR_SIZE) {
		uint64_t room = ch->in_len - VIRTIO_VSOCK_HDR_SIZE;
		if (room > credit(c))
			room = credit(c);
		if (room > VIRTIO_VSOCK_MAX_PKT)
			room = VIRTIO_VSOCK_MAX_PKT;
		struct iovec seg[VIRTQ_MAX_SIZE];
		unsigned k = iov__slice(in, ch->nin, VIRTIO_VSOCK_HDR_SIZE, room, seg, VIRTQ_MAX_SIZE);
		ssize_t r;
		do
			r = readv(c->fd, seg, (int)k);
		while (r < 0 && errno == EINTR);
		if (r > 0) {
			op = VSOCK_OP_RW;
			len = (uint32_t)r;
			c->rx_cnt += len;
			v->stats.rx_bytes += len;
		} else if (r == 0) {
			op = VSOCK_OP_SHUTDOWN; /* the host side will send no more */
			flags = VSOCK_SHUTDOWN_SEND;
			c->host_eof = true;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->readable = false;
		} else {
			v->stats.rx_read_fails++;
			conn_kill(v, c, true);
			return 0;
		}
	}
	if (op == VSOCK_OP_INVALID && (c->pending & P_CREDIT_REQUEST))
		op = VSOCK_OP_CREDIT_REQUEST;
	if (op == VSOCK_OP_INVALID && (c->pending & P_CREDIT_UPDATE))
		op = VSOCK_OP_CREDIT_UPDATE;
	if (op == VSOCK_OP_INVALID)
		return 0;
	if (op == VSOCK_OP_CREDIT_REQUEST)
		c->pending &= ~P_CREDIT_REQUEST;
	struct vsock_hdr h;
	header(&h, v, c->host_port, c->guest_port, op);
	h.len = len;
	h.flags = flags;
	h.buf_alloc = VIRTIO_VSOCK_BUF_ALLOC;
	h.fwd_cnt = c->fwd_cnt; /* every packet carries our credit */
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~P_CREDIT_UPDATE;
	iov__write(in, ch->nin, 0, &h, sizeof(h));
	if (op == VSOCK_OP_SHUTDOWN)
		try_finish(v, c);
	return VIRTIO_VSOCK_HDR_SIZE + len;
}

static uint32_t emit_rst(struct virtio_vsock *v, struct virtq_chain *ch)
{
	unsigned cap = sizeof(v->rst) / sizeof(v->rst[0]);
	struct vsock_hdr h;
	header(&h, v, v->rst[v->rst_head].host_port, v->rst[v->rst_head].guest_port, VSOCK_OP_RST);
	v->rst_head = (v->rst_head + 1) % cap;
	v->rst_len--;
	iov__write(virtq_chain__in(ch), ch->nin, 0, &h, sizeof(h));
	return VIRTIO_VSOCK_HDR_SIZE;
}

/* Give the guest what the connections have for it, one packet per connection in turn, while it has buffers. */
static void rx_process(struct virtio_vsock *v)
{
	if (!virtio_dev__live(&v->vdev))
		return;
	struct virtq *vq = &v->vdev.vq[RXQ];
	struct virtq_chain *ch = &v->chain;
	bool any = false;
	while (v->rst_len || v->pend_head) {
		if (virtio_dev__pop(&v->vdev, RXQ, ch) <= 0)
			break;
		if (ch->in_len < VIRTIO_VSOCK_HDR_SIZE) {
			v->stats.bad_packets++; /* no room for a header: give it back empty */
			virtq__push(vq, ch, 0);
			any = true;
			continue;
		}
		uint32_t n = 0;
		for (unsigned tries = v->nconns + 1; !n && tries; tries--) {
			if (v->rst_len) {
				n = emit_rst(v, ch);
				break;
			}
			struct vsock_conn *c = v->pend_head;
			if (!c)
				break;
			pend_remove(v, c);
			n = conn_emit(v, c, ch);
			maybe_queue(v, c); /* to the back: every connection gets its turn */
		}
		if (!n && v->rst_len)
			n = emit_rst(v, ch);
		if (!n) {
			virtq__unpop(vq);
			break;
		}
		virtq__push(vq, ch, n);
		v->stats.rx_packets++;
		any = true;
	}
	if (any)
		virtio_dev__signal(&v->vdev, RXQ);
}

/* ---- from the guest ------------------------------------------------------------------------------- */

/* The host socket took `done` more bytes of the guest's data. */
static void forwarded(struct vsock_conn *c, uint32_t done)
{
	c->fwd_cnt += done;
	if (c->fwd_cnt - c->fwd_cnt_sent >= CREDIT_UPDATE_STEP)
		c->pending |= P_CREDIT_UPDATE;
}

/* writev on the host socket, without SIGPIPE when its peer is gone (the caller sees EPIPE). */
static ssize_t sock_writev(int fd, struct iovec *iov, size_t n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t w;
	do
		w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	return w;
}

/* Write what the ring holds to the host socket. */
static void flush(struct virtio_vsock *v, struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t first = VIRTIO_VSOCK_BUF_ALLOC - c->buf_start;
		if (first > c->buf_len)
			first = c->buf_len;
		struct iovec iov[2] = { { c->buf + c->buf_start, first }, { c->buf, c->buf_len - first } };
		ssize_t w = sock_writev(c->fd, iov, iov[1].iov_len ? 2 : 1);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			v->stats.tx_flush_fails++;
			conn_kill(v, c, true);
			return;
		}
		c->buf_start = (c->buf_start + (uint32_t)w) % VIRTIO_VSOCK_BUF_ALLOC;
		c->buf_len -= (uint32_t)w;
		forwarded(c, (uint32_t)w);
	}
	if (!c->buf_len) {
		free(c->buf); /* an idle connection holds no buffer */
		c->buf = NULL;
		c->buf_start = 0;
		try_finish(v, c);
	}
}

/* A RW packet's payload: straight to the host socket, the rest into the ring (the credit bounds it). */
static void conn_write(struct virtio_vsock *v, struct vsock_conn *c, const struct virtq_chain *ch, uint32_t len)
{
	struct iovec seg[VIRTQ_MAX_SIZE];
	unsigned k = iov__slice(ch->iov, ch->nout, VIRTIO_VSOCK_HDR_SIZE, len, seg, VIRTQ_MAX_SIZE);
	c->tx_cnt += len;
	v->stats.tx_bytes += len;
	size_t done = 0;
	if (!c->buf_len) {
		ssize_t w = sock_writev(c->fd, seg, k);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			v->stats.tx_write_fails++;
			conn_kill(v, c, true);
			return;
		}
		done = w > 0 ? (size_t)w : 0;
		forwarded(c, (uint32_t)done);
	}
	if (done == len)
		return;
	if (!c->buf && !(c->buf = malloc(VIRTIO_VSOCK_BUF_ALLOC))) {
		v->stats.tx_write_fails++;
		conn_kill(v, c, true);
		return;
	}
	/* The credit check before guarantees room: buf_len + len <= VIRTIO_VSOCK_BUF_ALLOC. */
	size_t left = len - done, off = done;
	while (left) {
		uint32_t at = (c->buf_start + c->buf_len) % VIRTIO_VSOCK_BUF_ALLOC;
		size_t k2 = VIRTIO_VSOCK_BUF_ALLOC - at < left ? VIRTIO_VSOCK_BUF_ALLOC - at : left;
		iov__read(seg, k, off, c->buf + at, k2);
		c->buf_len += (uint32_t)k2;
		off += k2;
		left -= k2;
	}
}

/* The guest connects to host port `h->dst_port`: the Unix socket <uds_path>_<port>. */
static void guest_connect(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1;
	if (v->nconns >= VIRTIO_VSOCK_MAX_CONNS ||
	    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->path, h->dst_port) >= (int)sizeof(sa.sun_path))
		goto refuse;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto refuse; /* nobody listens (or its backlog is full): the guest sees ECONNRESET */
	struct vsock_conn *c = conn_new(v, fd, ST_ESTABLISHED);
	if (!c)
		goto refuse;
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->announced = true;
	c->readable = true;
	c->pending = P_RESPONSE;
	table_add(v, c);
	maybe_queue(v, c);
	return;
refuse:
	if (fd >= 0)
		close(fd);
	rst_push(v, h->dst_port, h->src_port);
}

static void guest_response(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->state != ST_CONNECTING || !c->announced) {
		conn_kill(v, c, true);
		return;
	}
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
	if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		conn_kill(v, c, true);
		return;
	}
	c->state = ST_ESTABLISHED;
	c->readable = true; /* the client may have written right after its CONNECT line */
}

static void guest_shutdown(struct virtio_vsock *v, struct vsock_conn *c, uint32_t flags)
{
	if (flags & VSOCK_SHUTDOWN_RCV)
		c->guest_no_rcv = true;
	if (flags & VSOCK_SHUTDOWN_SEND)
		c->guest_no_send = true;
	try_finish(v, c);
}

static void tx_packet(struct virtio_vsock *v, const struct virtq_chain *ch)
{
	struct vsock_hdr h;
	if (ch->out_len < VIRTIO_VSOCK_HDR_SIZE) {
		v->stats.bad_packets++;
		return;
	}
	iov__read(ch->iov, ch->nout, 0, &h, sizeof(h));
	if (h.src_cid != v->guest_cid || h.dst_cid != VIRTIO_VSOCK_HOST_CID) {
		v->stats.bad_packets++; /* not a packet of this guest to the host: dropped */
		return;
	}
	struct vsock_conn *c = find(v, h.dst_port, h.src_port);
	bool bad = h.type != VSOCK_TYPE_STREAM || h.len > ch->out_len - VIRTIO_VSOCK_HDR_SIZE ||
		   h.len > VIRTIO_VSOCK_MAX_PKT || (h.len && h.op != VSOCK_OP_RW);
	if (bad) {
		v->stats.bad_packets++;
		if (c)
			conn_kill(v, c, true);
		else if (h.op != VSOCK_OP_RST)
			rst_push(v, h.dst_port, h.src_port);
		return;
	}
	if (!c) {
		if (h.op == VSOCK_OP_REQUEST)
			guest_connect(v, &h);
		else if (h.op != VSOCK_OP_RST)
			rst_push(v, h.dst_port, h.src_port); /* no such connection */
		return;
	}
	if (h.buf_alloc != c->peer_buf_alloc || h.fwd_cnt != c->peer_fwd_cnt)
		c->credit_asked = false;
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case VSOCK_OP_RESPONSE:
		guest_response(v, c);
		break;
	case VSOCK_OP_RST:
		conn_kill(v, c, false);
		break;
	case VSOCK_OP_SHUTDOWN:
		if (c->state != ST_ESTABLISHED)
			conn_kill(v, c, true);
		else
			guest_shutdown(v, c, h.flags);
		break;
	case VSOCK_OP_RW:
		if (c->state != ST_ESTABLISHED || c->guest_no_send) {
			conn_kill(v, c, true);
		} else if (c->buf_len + h.len > VIRTIO_VSOCK_BUF_ALLOC) {
			v->stats.bad_packets++; /* more than the credit we gave */
			conn_kill(v, c, true);
		} else if (h.len) {
			conn_write(v, c, ch, h.len);
		}
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break; /* taken above */
	case VSOCK_OP_CREDIT_REQUEST:
		c->pending |= P_CREDIT_UPDATE;
		break;
	default: /* REQUEST on a connection that exists, unknown ops */
		v->stats.bad_packets++;
		conn_kill(v, c, true);
		return;
	}
	maybe_queue(v, c);
}

static void tx_process(struct virtio_vsock *v)
{
	bool any = false;
	while (virtio_dev__pop(&v->vdev, TXQ, &v->chain) > 0) {
		tx_packet(v, &v->chain);
		virtq__push(&v->vdev.vq[TXQ], &v->chain, 0);
		v->stats.tx_packets++;
		any = true;
	}
	if (any)
		virtio_dev__signal(&v->vdev, TXQ);
}

static void event_process(struct virtio_vsock *v)
{
	if (!v->reset_event)
		return;
	struct virtq_chain *ch = &v->chain;
	while (v->reset_event && virtio_dev__pop(&v->vdev, EVQ, ch) > 0) {
		uint32_t id = VSOCK_EVENT_TRANSPORT_RESET, n = 0;
		if (ch->in_len >= sizeof(id)) {
			iov__write(virtq_chain__in(ch), ch->nin, 0, &id, sizeof(id));
			n = sizeof(id);
			v->reset_event = false;
		}
		virtq__push(&v->vdev.vq[EVQ], ch, n);
		virtio_dev__signal(&v->vdev, EVQ);
	}
}

/* ---- host sockets --------------------------------------------------------------------------------- */

static uint32_t alloc_host_port(struct virtio_vsock *v, uint32_t guest_port)
{
	for (;;) {
		uint32_t p = v->next_port++;
		if (v->next_port < HOST_PORT_FIRST)
			v->next_port = HOST_PORT_FIRST;
		if (!find(v, p, guest_port))
			return p;
	}
}

/* "CONNECT <port>\n": exactly that, port in decimal. */
static bool parse_connect(const char *line, uint32_t *port)
{
	if (strncmp(line, "CONNECT ", 8) != 0)
		return false;
	const char *p = line + 8;
	uint64_t v = 0;
	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || p - line > 8 + 9)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*port = (uint32_t)v;
	return true;
}

static void handshake(struct virtio_vsock *v, struct vsock_conn *c)
{
	char line[HANDSHAKE_MAX + 1];
	ssize_t r = recv(c->fd, line, HANDSHAKE_MAX, MSG_PEEK);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) {
		conn_kill(v, c, false);
		return;
	}
	char *nl = memchr(line, '\n', (size_t)r);
	if (!nl) {
		if (r == HANDSHAKE_MAX)
			conn_kill(v, c, false); /* no line of a sensible length */
		return;			 /* the rest of the line comes with the next edge */
	}
	size_t n = (size_t)(nl - line) + 1;
	if (recv(c->fd, line, n, 0) != (ssize_t)n) {
		conn_kill(v, c, false);
		return;
	}
	line[n - 1] = 0;
	uint32_t port;
	if (!parse_connect(line, &port)) {
		conn_kill(v, c, false);
		return;
	}
	c->guest_port = port;
	c->host_port = alloc_host_port(v, port);
	c->state = ST_CONNECTING;
	c->pending = P_REQUEST;
	c->deadline_ms = now_ms() + VIRTIO_VSOCK_CONNECT_TIMEOUT_MS;
	table_add(v, c);
	maybe_queue(v, c);
}

static void accept_all(struct virtio_vsock *v)
{
	while (v->nconns < VIRTIO_VSOCK_MAX_CONNS) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				v->stats.muxer_event_fails++; /* out of descriptors: try again on the timer */
				listener_events(v, false);
				arm_timer(v);
			}
			return;
		}
		struct vsock_conn *c = conn_new(v, fd, ST_HANDSHAKE);
		if (!c) {
			v->stats.muxer_event_fails++;
			close(fd);
			continue;
		}
		c->deadline_ms = now_ms() + VIRTIO_VSOCK_CONNECT_TIMEOUT_MS;
		arm_timer(v);
		handshake(v, c); /* the line may be there already */
	}
	listener_events(v, false); /* full: new clients wait in the backlog until a connection goes */
}

static void wake_read(struct virtio_vsock *v)
{
	uint64_t n;
	if (read(v->wake_fd, &n, sizeof(n)) < 0) {
		/* spurious */
	}
}

/* Once a second while something waits: handshakes and requests that took too long, a paused listener. */
static void on_timer(struct virtio_vsock *v)
{
	uint64_t ticks;
	if (read(v->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* spurious */
	}
	uint64_t now = now_ms();
	bool waiting = false;
	for (struct vsock_conn *c = *all_head(v), *next; c; c = next) {
		next = c->anext;
		if (c->state == ST_ESTABLISHED)
			continue;
		if (now >= c->deadline_ms)
			conn_kill(v, c, true);
		else
			waiting = true;
	}
	if (v->listen_paused && v->nconns < VIRTIO_VSOCK_MAX_CONNS)
		listener_events(v, true);
	if (!waiting && !v->listen_paused) {
		struct itimerspec off = { 0 };
		timerfd_settime(v->timer_fd, 0, &off, NULL);
		v->timer_armed = false;
	}
}

static void conn_event(struct virtio_vsock *v, struct vsock_conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if (c->state == ST_HANDSHAKE) {
		handshake(v, c);
		return;
	}
	if (events & EPOLLERR) {
		v->stats.conn_event_fails++;
		conn_kill(v, c, true);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
		c->readable = true;
	/* Host data waits for credit: ask once (the guest normally sends updates as it reads). */
	if (c->state == ST_ESTABLISHED && c->readable && !c->host_eof && !c->guest_no_rcv && !credit(c) &&
	    !c->credit_asked) {
		c->pending |= P_CREDIT_REQUEST;
		c->credit_asked = true;
	}
	if (events & (EPOLLOUT | EPOLLHUP))
		flush(v, c);
	if (!c->dead)
		maybe_queue(v, c);
}

/* A reset the driver asked for (on a vCPU, which makes no system call but the kick): its connections go now. */
static void finish_reset(struct virtio_vsock *v)
{
	if (v->reset_pending) {
		v->reset_pending = false;
		kill_all(v);
	}
}

void virtio_vsock__event(struct virtio_vsock *v)
{
	struct epoll_event evs[EVENTS_PER_ROUND];
	pthread_mutex_lock(&v->vdev.lock);
	finish_reset(v);
	for (int round = 0; round < 16; round++) {
		int n = epoll_wait(v->epfd, evs, EVENTS_PER_ROUND, 0);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &tag_listener)
				accept_all(v);
			else if (p == &tag_timer)
				on_timer(v);
			else if (p == &tag_wake)
				wake_read(v);
			else
				conn_event(v, p, evs[i].events);
		}
	}
	rx_process(v);
	reap(v);
	pthread_mutex_unlock(&v->vdev.lock);
}

/* ---- the device ----------------------------------------------------------------------------------- */

static void vsock_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_vsock *v = (struct virtio_vsock *)d;
	finish_reset(v);
	if (q == RXQ) {
		v->stats.rx_queue_events++;
		rx_process(v);
	} else if (q == TXQ) {
		v->stats.tx_queue_events++;
		tx_process(v);
		rx_process(v); /* replies, credit updates, data the new credit lets through */
	} else if (q == EVQ) {
		event_process(v);
	}
	reap(v);
}

/* DRIVER_OK: buffers offered before it (notifications are not served until then) are looked at now. */
static void vsock_activate(struct virtio_dev *d)
{
	for (unsigned q = 0; q < d->nqueues; q++)
		virtio_dev__kick(d, q);
}

/*
 * The driver reset the device: its connections are gone with it. A vCPU writes the status: the I/O thread
 * closes them (finish_reset), woken through wake_fd, before it serves anything else of the device.
 */
static void vsock_reset(struct virtio_dev *d)
{
	struct virtio_vsock *v = (struct virtio_vsock *)d;
	v->reset_pending = true;
	v->reset_event = false;
	uint64_t one = 1;
	if (write(v->wake_fd, &one, sizeof(one)) < 0) {
		/* saturated: a wake-up is pending anyway */
	}
}

static int vsock_check_config(struct virtio_dev *d, const uint8_t *saved, char *err, size_t n)
{
	struct virtio_vsock *v = (struct virtio_vsock *)d;
	uint64_t cid;
	memcpy(&cid, saved, sizeof(cid));
	if (cid != v->guest_cid) {
		snprintf(err, n, "the snapshot's vsock device has guest CID %llu, this one %llu", (unsigned long long)cid,
			 (unsigned long long)v->guest_cid);
		return -1;
	}
	return 0;
}

/* Nothing of a connection survives a snapshot: on restore the guest is told to reset them (5.10.6.6). */
static int vsock_load(struct virtio_dev *d, struct snap_reader *r, char *err, size_t n)
{
	struct virtio_vsock *v = (struct virtio_vsock *)d;
	if (!snap_r__done(r)) {
		snprintf(err, n, "unexpected vsock state");
		return -1;
	}
	kill_all(v);
	v->reset_pending = false;
	v->reset_event = true;
	if (virtio_dev__live(d))
		virtio_dev__kick(d, EVQ);
	return 0;
}

static const struct virtio_dev_ops vsock_ops = {
	.notify = vsock_notify,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.check_config = vsock_check_config,
	.load = vsock_load,
};

int virtio_vsock__init(struct virtio_vsock *v, const struct rv_bus *bus, struct irq_line irq, uint64_t guest_cid,
		       const char *uds_path)
{
	memset(v, 0, sizeof(*v));
	v->listen_fd = v->epfd = v->timer_fd = v->wake_fd = -1;
	v->guest_cid = guest_cid;
	v->next_port = HOST_PORT_FIRST;
	memcpy(v->config, &guest_cid, sizeof(v->config));
	if (guest_cid <= VIRTIO_VSOCK_HOST_CID || guest_cid > UINT32_MAX || !uds_path || !*uds_path ||
	    strlen(uds_path) > VIRTIO_VSOCK_PATH_MAX) {
		fprintf(stderr, "wisp: vsock needs a guest CID of 3..%u and a socket path of 1..%zu bytes\n", UINT32_MAX,
			(size_t)VIRTIO_VSOCK_PATH_MAX);
		return -1;
	}
	snprintf(v->path, sizeof(v->path), "%s", uds_path);
	v->table = calloc(NBUCKETS, sizeof(*v->table));
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	v->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!v->table || v->epfd < 0 || v->timer_fd < 0 || v->wake_fd < 0 || v->listen_fd < 0) {
		fprintf(stderr, "wisp: cannot create vsock: %s\n", strerror(errno));
		goto fail;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds_path);
	if (bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "wisp: vsock: cannot listen on %s: %s\n", uds_path, strerror(errno));
		goto fail;
	}
	struct epoll_event el = { .events = EPOLLIN, .data.ptr = &tag_listener };
	struct epoll_event et = { .events = EPOLLIN, .data.ptr = &tag_timer };
	struct epoll_event ew = { .events = EPOLLIN, .data.ptr = &tag_wake };
	if (listen(v->listen_fd, 128) < 0 || epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &el) < 0 ||
	    epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->timer_fd, &et) < 0 ||
	    epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->wake_fd, &ew) < 0) {
		fprintf(stderr, "wisp: vsock: cannot listen on %s: %s\n", uds_path, strerror(errno));
		unlink(uds_path);
		goto fail;
	}
	if (virtio_dev__init(&v->vdev, &vsock_ops, "virtio-vsock", VIRTIO_ID_VSOCK, 3, QUEUE_SIZE, VIRTIO_F_COMMON,
			     v->config, sizeof(v->config), bus, irq) < 0) {
		fprintf(stderr, "wisp: cannot create virtio-vsock: %s\n", strerror(errno));
		unlink(uds_path);
		goto fail;
	}
	return 0;
fail:
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	if (v->wake_fd >= 0)
		close(v->wake_fd);
	free(v->table);
	v->table = NULL;
	v->listen_fd = v->epfd = v->timer_fd = v->wake_fd = -1;
	return -1;
}

void virtio_vsock__exit(struct virtio_vsock *v)
{
	if (v->table)
		kill_all(v);
	free(v->table);
	v->table = NULL;
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->path);
	}
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	if (v->wake_fd >= 0)
		close(v->wake_fd);
	v->listen_fd = v->epfd = v->timer_fd = v->wake_fd = -1;
	virtio_dev__exit(&v->vdev);
}

static void on_mux(void *opaque, uint32_t events)
{
	(void)events;
	virtio_vsock__event(opaque);
}

int virtio_vsock__attach(struct virtio_vsock *v, struct ioloop *l)
{
	if (virtio_dev__attach(&v->vdev, l) < 0 || ioloop__add(l, v->epfd, EPOLLIN, on_mux, v) < 0)
		return -1;
	return 0;
}

struct virtio_vsock_stats virtio_vsock__stats(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->vdev.lock);
	struct virtio_vsock_stats s = v->stats;
	pthread_mutex_unlock(&v->vdev.lock);
	return s;
}

unsigned virtio_vsock__connections(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->vdev.lock);
	unsigned n = v->nconns;
	pthread_mutex_unlock(&v->vdev.lock);
	return n;
}
