/*
 * virtio-vsock (src/virtio/vsock.c) through its registers and a fake guest memory, with real Unix sockets on
 * the host side: host- and guest-initiated connections, data both ways, shutdown and RST, credit in both
 * directions (a guest that ignores ours is reset), hostile packets, a connection flood, device reset, and
 * the transport reset event after a snapshot restore. The I/O thread's work runs synchronously.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "snapshot/state.h"
#include "virtio/vsock.h"
#include "virtio_fake.h"

#define F_V1 (1ull << VIRTIO_F_VERSION_1)
#define ALIVE (VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK)
#define RXQ 0
#define TXQ 1
#define EVQ 2
#define CID 3
#define NUM 64
#define RX_SIZE 4096			    /* receive buffers at G_BUF + slot * RX_SIZE, NUM of them */
#define TX_HDR (G_BUF + NUM * RX_SIZE)	    /* transmit headers, 64 bytes apart */
#define TX_DATA (TX_HDR + 0x2000)	    /* one transmit payload at a time */
#define TX_DATA_MAX (G_BASE + G_SIZE - TX_DATA) /* room for it */
#define EV_BUF (TX_HDR + 0x1000)

struct vfix {
	struct fake_guest *g;
	struct virtio_vsock v;
	char path[80];
	uint16_t rx_slot, tx_slot, rx_seen;
};

static char tmpdir[64];

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wisp-test-vsock-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int vfix_setup(void **state)
{
	static unsigned seq;
	struct vfix *f = calloc(1, sizeof(*f));
	f->g = fake_guest__new();
	f->g->num = NUM;
	snprintf(f->path, sizeof(f->path), "%s/v%u.sock", tmpdir, seq++);
	if (virtio_vsock__init(&f->v, &f->g->bus, fake_guest__irq(f->g), CID, f->path) < 0)
		return -1;
	if (drv_init(f->g, &f->v.vdev, F_V1) != ALIVE)
		return -1;
	*state = f;
	return 0;
}

static int vfix_teardown(void **state)
{
	struct vfix *f = *state;
	virtio_vsock__exit(&f->v);
	assert_int_equal(access(f->path, F_OK), -1); /* the listening socket is removed */
	fake_guest__free(f->g);
	free(f);
	return 0;
}

/* ---- the guest's side ---- */

static struct vsock_hdr hdr(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t len)
{
	return (struct vsock_hdr){ .src_cid = CID, .dst_cid = VIRTIO_VSOCK_HOST_CID, .src_port = src_port,
				   .dst_port = dst_port, .len = len, .type = VSOCK_TYPE_STREAM, .op = op,
				   .buf_alloc = 1 << 20 };
}

static void rx_offer(struct vfix *f, unsigned n, uint32_t size)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t s = f->rx_slot++ % NUM;
		put_desc(f->g, G_DESC(RXQ), s, G_BUF + (uint64_t)s * RX_SIZE, size, VIRTQ_DESC_F_WRITE, 0);
		offer(f->g, RXQ, s);
	}
	kick(&f->v.vdev, RXQ);
}

/* The next packet the device gave the guest: its header and payload (at most RX_SIZE). */
static bool rx_next(struct vfix *f, struct vsock_hdr *h, uint8_t *payload)
{
	if (used_idx(f->g, RXQ) == f->rx_seen)
		return false;
	uint32_t id, len;
	used_elem(f->g, RXQ, f->rx_seen++, &id, &len);
	assert_true(id < NUM && len >= sizeof(*h) && len <= RX_SIZE);
	const uint8_t *b = gptr(f->g, G_BUF + (uint64_t)id * RX_SIZE);
	memcpy(h, b, sizeof(*h));
	assert_int_equal(h->src_cid, VIRTIO_VSOCK_HOST_CID);
	assert_int_equal(h->dst_cid, CID);
	assert_int_equal(h->type, VSOCK_TYPE_STREAM);
	assert_int_equal(len, sizeof(*h) + h->len);
	if (payload)
		memcpy(payload, b + sizeof(*h), h->len);
	return true;
}

/* Expect exactly one packet with this op and ports; returns it. */
static struct vsock_hdr rx_expect(struct vfix *f, uint16_t op, uint8_t *payload)
{
	struct vsock_hdr h;
	if (!rx_next(f, &h, payload))
		fail_msg("no packet for the guest (wanted op %u)", op);
	if (h.op != op)
		fail_msg("op %u for the guest, wanted %u", h.op, op);
	return h;
}

/* A packet from the guest: header in one descriptor, payload in the next (split at `split` bytes if given). */
static void tx_split(struct vfix *f, struct vsock_hdr h, const void *payload, uint32_t plen, unsigned split)
{
	uint16_t s = (uint16_t)(f->tx_slot++ % (NUM / 2));
	uint64_t ha = TX_HDR + 64ull * s;
	memcpy(gptr(f->g, ha), &h, sizeof(h));
	unsigned d = 2u * s;
	if (split) {
		put_desc(f->g, G_DESC(TXQ), d, ha, split, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
		put_desc(f->g, G_DESC(TXQ), d + 1, ha + split, sizeof(h) - split, 0, 0);
	} else if (plen) {
		assert_true(plen <= TX_DATA_MAX);
		memcpy(gptr(f->g, TX_DATA), payload, plen);
		put_desc(f->g, G_DESC(TXQ), d, ha, sizeof(h), VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
		put_desc(f->g, G_DESC(TXQ), d + 1, TX_DATA, plen, 0, 0);
	} else {
		put_desc(f->g, G_DESC(TXQ), d, ha, sizeof(h), 0, 0);
	}
	offer(f->g, TXQ, (uint16_t)d);
	kick(&f->v.vdev, TXQ);
}

static void tx(struct vfix *f, struct vsock_hdr h, const void *payload, uint32_t plen)
{
	tx_split(f, h, payload, plen, 0);
}

/* ---- the host's side ---- */

static int uds_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int uds_listen(const char *path, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

/* The device closed its end: end of stream, or a reset when it left our bytes unread. */
static bool closed(int fd)
{
	char b[64];
	ssize_t r = read(fd, b, sizeof(b));
	return r == 0 || (r < 0 && errno == ECONNRESET);
}

static void put_str(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* A host-initiated connection to guest port `port`, accepted by the guest; returns the host port. */
static uint32_t host_connect(struct vfix *f, int fd, uint32_t port)
{
	char line[32];
	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	put_str(fd, line);
	virtio_vsock__event(&f->v);
	rx_offer(f, 1, RX_SIZE);
	struct vsock_hdr h = rx_expect(f, VSOCK_OP_REQUEST, NULL);
	assert_int_equal(h.dst_port, port);
	assert_true(h.src_port >= 1u << 30);
	assert_int_equal(h.buf_alloc, VIRTIO_VSOCK_BUF_ALLOC);
	tx(f, hdr(port, h.src_port, VSOCK_OP_RESPONSE, 0), NULL, 0);
	char ok[32] = { 0 };
	snprintf(line, sizeof(line), "OK %u\n", h.src_port);
	assert_int_equal(read(fd, ok, sizeof(ok) - 1), (ssize_t)strlen(line));
	assert_string_equal(ok, line);
	return h.src_port;
}

/* ---- tests ---- */

static void test_config_and_identity(void **state)
{
	struct vfix *f = *state;
	assert_int_equal(rd(&f->v.vdev, 0x008), VIRTIO_ID_VSOCK);
	assert_int_equal(virtio_mmio__ops.read(&f->v.vdev, 0x100, 8), CID);
	struct virtio_vsock bad;
	assert_int_equal(virtio_vsock__init(&bad, &f->g->bus, fake_guest__irq(f->g), 2, "/tmp/x"), -1);
	assert_int_equal(virtio_vsock__init(&bad, &f->g->bus, fake_guest__irq(f->g), 5, f->path), -1); /* in use */
}

static void test_host_initiated(void **state)
{
	struct vfix *f = *state;
	int c = uds_connect(f->path);
	uint32_t hp = host_connect(f, c, 52);
	assert_int_equal(virtio_vsock__connections(&f->v), 1);
	char buf[RX_SIZE];
	/* Host to guest. */
	put_str(c, "ping");
	virtio_vsock__event(&f->v);
	rx_offer(f, 2, RX_SIZE);
	struct vsock_hdr h = rx_expect(f, VSOCK_OP_RW, (uint8_t *)buf);
	assert_int_equal(h.len, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(h.src_port, hp);
	assert_int_equal(h.dst_port, 52);
	/* Guest to host. */
	tx(f, hdr(52, hp, VSOCK_OP_RW, 4), "pong", 4);
	assert_int_equal(read(c, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
	/* The host stops sending: the guest hears SHUTDOWN(SEND). */
	shutdown(c, SHUT_WR);
	virtio_vsock__event(&f->v);
	h = rx_expect(f, VSOCK_OP_SHUTDOWN, NULL);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	/* The guest may still send. */
	tx(f, hdr(52, hp, VSOCK_OP_RW, 3), "end", 3);
	assert_int_equal(read(c, buf, sizeof(buf)), 3);
	/* The guest closes: the host sees the end, the guest gets the RST that completes its close. */
	tx(f, hdr(52, hp, VSOCK_OP_SHUTDOWN, 0), NULL, 0); /* flags 0: nothing shut yet */
	struct vsock_hdr sd = hdr(52, hp, VSOCK_OP_SHUTDOWN, 0);
	sd.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
	tx(f, sd, NULL, 0);
	assert_int_equal(read(c, buf, sizeof(buf)), 0);
	rx_offer(f, 1, RX_SIZE);
	rx_expect(f, VSOCK_OP_RST, NULL);
	assert_int_equal(virtio_vsock__connections(&f->v), 0);
	struct virtio_vsock_stats s = virtio_vsock__stats(&f->v);
	assert_int_equal(s.conns_added, 1);
	assert_int_equal(s.conns_removed, 1);
	assert_int_equal(s.tx_bytes, 7);
	assert_int_equal(s.rx_bytes, 4);
	assert_int_equal(s.bad_packets, 0);
	close(c);
}

static void test_handshake(void **state)
{
	struct vfix *f = *state;
	char buf[64];
	static const char *const bad[] = { "CONNECT x\n", "HELLO 52\n", "CONNECT \n", "CONNECT 99999999999\n",
					   "CONNECT 5 6\n", "connect 5\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int c = uds_connect(f->path);
		put_str(c, bad[i]);
		virtio_vsock__event(&f->v);
		assert_true(closed(c)); /* closed, nothing said */
		close(c);
	}
	/* No line after 32 bytes: closed. */
	int c = uds_connect(f->path);
	put_str(c, "CONNECT 1234567890123456789012345678901234567890");
	virtio_vsock__event(&f->v);
	assert_true(closed(c));
	close(c);
	rx_offer(f, 4, RX_SIZE);
	assert_false(rx_next(f, &(struct vsock_hdr){ 0 }, NULL)); /* the guest heard of none of them */
	/* A line in pieces, with data right behind it. */
	c = uds_connect(f->path);
	put_str(c, "CONN");
	virtio_vsock__event(&f->v);
	put_str(c, "ECT 7\nearly");
	virtio_vsock__event(&f->v);
	struct vsock_hdr h = rx_expect(f, VSOCK_OP_REQUEST, NULL);
	assert_int_equal(h.dst_port, 7);
	tx(f, hdr(7, h.src_port, VSOCK_OP_RESPONSE, 0), NULL, 0);
	uint8_t p[RX_SIZE];
	h = rx_expect(f, VSOCK_OP_RW, p); /* the bytes after the line were kept */
	assert_int_equal(h.len, 5);
	assert_memory_equal(p, "early", 5);
	/* The guest refuses a connection: the client is closed. */
	int d = uds_connect(f->path);
	put_str(d, "CONNECT 8\n");
	virtio_vsock__event(&f->v);
	h = rx_expect(f, VSOCK_OP_REQUEST, NULL);
	tx(f, hdr(8, h.src_port, VSOCK_OP_RST, 0), NULL, 0);
	assert_int_equal(read(d, buf, sizeof(buf)), 0);
	close(d);
	close(c);
}

static void test_guest_initiated(void **state)
{
	struct vfix *f = *state;
	char path[120], buf[RX_SIZE];
	snprintf(path, sizeof(path), "%s_77", f->path);
	int l = uds_listen(path, 4);
	rx_offer(f, 4, RX_SIZE);
	tx(f, hdr(1000, 77, VSOCK_OP_REQUEST, 0), NULL, 0);
	int a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	struct vsock_hdr h = rx_expect(f, VSOCK_OP_RESPONSE, NULL);
	assert_int_equal(h.src_port, 77);
	assert_int_equal(h.dst_port, 1000);
	tx(f, hdr(1000, 77, VSOCK_OP_RW, 2), "hi", 2);
	assert_int_equal(read(a, buf, sizeof(buf)), 2);
	put_str(a, "yo");
	virtio_vsock__event(&f->v);
	h = rx_expect(f, VSOCK_OP_RW, (uint8_t *)buf);
	assert_memory_equal(buf, "yo", 2);
	/* Nobody listens on port 78: RST. */
	tx(f, hdr(1001, 78, VSOCK_OP_REQUEST, 0), NULL, 0);
	h = rx_expect(f, VSOCK_OP_RST, NULL);
	assert_int_equal(h.src_port, 78);
	assert_int_equal(h.dst_port, 1001);
	/* The guest resets its connection: the host side is closed. */
	tx(f, hdr(1000, 77, VSOCK_OP_RST, 0), NULL, 0);
	assert_int_equal(read(a, buf, sizeof(buf)), 0);
	assert_false(rx_next(f, &h, NULL)); /* no answer to a RST */
	assert_int_equal(virtio_vsock__connections(&f->v), 0);
	close(a);
	close(l);
	unlink(path);
}

/* A guest-initiated connection on port 90 whose host end is returned; the guest advertises buf_alloc. */
static int guest_conn(struct vfix *f, int l, uint32_t guest_port, uint32_t buf_alloc)
{
	struct vsock_hdr r = hdr(guest_port, 90, VSOCK_OP_REQUEST, 0);
	r.buf_alloc = buf_alloc;
	tx(f, r, NULL, 0);
	int a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	rx_expect(f, VSOCK_OP_RESPONSE, NULL);
	return a;
}

static void test_credit_towards_guest(void **state)
{
	struct vfix *f = *state;
	char path[120];
	uint8_t buf[RX_SIZE];
	snprintf(path, sizeof(path), "%s_90", f->path);
	int l = uds_listen(path, 4);
	rx_offer(f, 8, RX_SIZE);
	int a = guest_conn(f, l, 5000, 100);
	memset(buf, 'x', 1000);
	assert_int_equal(write(a, buf, 1000), 1000);
	virtio_vsock__event(&f->v);
	struct vsock_hdr h;
	uint32_t got = 0;
	while (rx_next(f, &h, buf)) {
		assert_int_equal(h.op, VSOCK_OP_RW);
		got += h.len;
	}
	assert_int_equal(got, 100); /* exactly the guest's credit */
	/* The guest read 100 bytes: 100 more. */
	struct vsock_hdr cu = hdr(5000, 90, VSOCK_OP_CREDIT_UPDATE, 0);
	cu.buf_alloc = 100;
	cu.fwd_cnt = 100;
	tx(f, cu, NULL, 0);
	got = 0;
	while (rx_next(f, &h, buf))
		got += h.len;
	assert_int_equal(got, 100);
	/* A guest claiming to have read more than it was sent gets nothing. */
	cu.fwd_cnt = 5000;
	tx(f, cu, NULL, 0);
	assert_false(rx_next(f, &h, buf));
	/* A larger buffer: the rest comes. */
	cu.fwd_cnt = 200;
	cu.buf_alloc = 1000;
	tx(f, cu, NULL, 0);
	rx_offer(f, 8, RX_SIZE);
	got = 0;
	while (rx_next(f, &h, buf))
		got += h.len;
	assert_int_equal(got, 800);
	/* A credit request is answered with our credit. */
	struct vsock_hdr cr = hdr(5000, 90, VSOCK_OP_CREDIT_REQUEST, 0);
	cr.buf_alloc = 1000;
	cr.fwd_cnt = 1000;
	tx(f, cr, NULL, 0);
	rx_offer(f, 2, RX_SIZE);
	h = rx_expect(f, VSOCK_OP_CREDIT_UPDATE, NULL);
	assert_int_equal(h.buf_alloc, VIRTIO_VSOCK_BUF_ALLOC);
	assert_int_equal(h.fwd_cnt, 0);
	close(a);
	close(l);
	unlink(path);
}

/* A slow host reader: what the guest sends waits in the connection up to our credit; past it, RST. */
static void test_credit_from_guest(void **state)
{
	struct vfix *f = *state;
	char path[120];
	snprintf(path, sizeof(path), "%s_90", f->path);
	int l = uds_listen(path, 4);
	rx_offer(f, 8, RX_SIZE);
	int a = guest_conn(f, l, 5001, 1 << 20);
	uint8_t *chunk = malloc(VIRTIO_VSOCK_MAX_PKT);
	memset(chunk, 'g', VIRTIO_VSOCK_MAX_PKT);
	uint64_t sent = 0;
	struct vsock_hdr h = { 0 };
	bool reset = false;
	for (int i = 0; i < 64 && !reset; i++) {
		tx(f, hdr(5001, 90, VSOCK_OP_RW, VIRTIO_VSOCK_MAX_PKT), chunk, VIRTIO_VSOCK_MAX_PKT);
		sent += VIRTIO_VSOCK_MAX_PKT;
		while (rx_next(f, &h, NULL))
			reset |= h.op == VSOCK_OP_RST;
		rx_offer(f, 1, RX_SIZE);
		while (rx_next(f, &h, NULL))
			reset |= h.op == VSOCK_OP_RST;
	}
	assert_true(reset);
	assert_int_equal(virtio_vsock__connections(&f->v), 0);
	assert_true(virtio_vsock__stats(&f->v).bad_packets >= 1);
	/* What the host socket got before: everything up to the violation, in order, nothing beyond it. */
	uint64_t got = 0;
	ssize_t r;
	while ((r = read(a, chunk, VIRTIO_VSOCK_MAX_PKT)) > 0) {
		for (ssize_t k = 0; k < r; k++)
			assert_int_equal(chunk[k], 'g');
		got += (uint64_t)r;
	}
	assert_true(got < sent);
	assert_true(got + VIRTIO_VSOCK_BUF_ALLOC + 2 * VIRTIO_VSOCK_MAX_PKT >= sent);
	free(chunk);
	close(a);
	close(l);
	unlink(path);
}

static void test_hostile_packets(void **state)
{
	struct vfix *f = *state;
	struct vsock_hdr h;
	rx_offer(f, 16, RX_SIZE);
	/* Too short for a header; a foreign source CID; not for the host: dropped without a word. */
	put_desc(f->g, G_DESC(TXQ), 60, TX_HDR + 0x800, 10, 0, 0);
	offer(f->g, TXQ, 60);
	kick(&f->v.vdev, TXQ);
	struct vsock_hdr foreign = hdr(1, 2, VSOCK_OP_REQUEST, 0);
	foreign.src_cid = 9;
	tx(f, foreign, NULL, 0);
	foreign = hdr(1, 2, VSOCK_OP_REQUEST, 0);
	foreign.dst_cid = 7;
	tx(f, foreign, NULL, 0);
	assert_false(rx_next(f, &h, NULL));
	assert_int_equal(virtio_vsock__stats(&f->v).bad_packets, 3);
	/* A packet for no connection: RST (but never for a RST). */
	tx(f, hdr(11, 12, VSOCK_OP_RW, 3), "abc", 3);
	h = rx_expect(f, VSOCK_OP_RST, NULL);
	assert_int_equal(h.src_port, 12);
	assert_int_equal(h.dst_port, 11);
	tx(f, hdr(11, 12, VSOCK_OP_RST, 0), NULL, 0);
	assert_false(rx_next(f, &h, NULL));
	/* Another type, a length beyond the payload, payload on a control packet, an unknown op: RST. */
	struct vsock_hdr t = hdr(13, 14, VSOCK_OP_REQUEST, 0);
	t.type = 2;
	tx(f, t, NULL, 0);
	rx_expect(f, VSOCK_OP_RST, NULL);
	tx(f, hdr(13, 14, VSOCK_OP_RW, 100), "abc", 3);
	rx_expect(f, VSOCK_OP_RST, NULL);
	tx(f, hdr(13, 14, VSOCK_OP_REQUEST, 3), "abc", 3);
	rx_expect(f, VSOCK_OP_RST, NULL);
	tx(f, hdr(13, 14, 42, 0), NULL, 0);
	rx_expect(f, VSOCK_OP_RST, NULL);
	/* An unknown op on a live connection resets it. */
	char path[120];
	snprintf(path, sizeof(path), "%s_90", f->path);
	int l = uds_listen(path, 4);
	int a = guest_conn(f, l, 6000, 1 << 20);
	tx(f, hdr(6000, 90, 42, 0), NULL, 0);
	rx_expect(f, VSOCK_OP_RST, NULL);
	char buf[8];
	assert_int_equal(read(a, buf, sizeof(buf)), 0);
	close(a);
	/* A RESPONSE nobody asked for, a duplicate REQUEST: RST. */
	tx(f, hdr(6001, 90, VSOCK_OP_RESPONSE, 0), NULL, 0);
	rx_expect(f, VSOCK_OP_RST, NULL);
	a = guest_conn(f, l, 6002, 1 << 20);
	tx(f, hdr(6002, 90, VSOCK_OP_REQUEST, 0), NULL, 0);
	rx_expect(f, VSOCK_OP_RST, NULL);
	assert_int_equal(read(a, buf, sizeof(buf)), 0);
	close(a);
	/* A header split across two descriptors is fine. */
	tx_split(f, hdr(6003, 90, VSOCK_OP_REQUEST, 0), NULL, 0, 10);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	rx_expect(f, VSOCK_OP_RESPONSE, NULL);
	close(a);
	/* Its host end closed: the guest hears SHUTDOWN(SEND) when the device sees the end. */
	virtio_vsock__event(&f->v);
	h = rx_expect(f, VSOCK_OP_SHUTDOWN, NULL);
	assert_int_equal(h.dst_port, 6003);
	close(l);
	unlink(path);
	assert_int_equal(virtio_vsock__connections(&f->v), 1);
}

static void test_small_rx_buffer(void **state)
{
	struct vfix *f = *state;
	tx(f, hdr(20, 21, VSOCK_OP_RW, 1), "z", 1); /* a RST waits for a buffer */
	uint16_t s = f->rx_slot++ % NUM;
	put_desc(f->g, G_DESC(RXQ), s, G_BUF + (uint64_t)s * RX_SIZE, 20, VIRTQ_DESC_F_WRITE, 0);
	offer(f->g, RXQ, s);
	kick(&f->v.vdev, RXQ);
	uint32_t id, len;
	assert_int_equal(used_idx(f->g, RXQ), 1);
	used_elem(f->g, RXQ, 0, &id, &len);
	assert_int_equal(len, 0);
	f->rx_seen = 1;
	rx_offer(f, 1, RX_SIZE);
	rx_expect(f, VSOCK_OP_RST, NULL);
}

/* Hundreds of connections: the first VIRTIO_VSOCK_MAX_CONNS are served, the rest refused; reset ends all. */
static void test_flood_and_reset(void **state)
{
	struct vfix *f = *state;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rlim_t want = 2 * VIRTIO_VSOCK_MAX_CONNS + 256;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		skip();
	char path[120];
	snprintf(path, sizeof(path), "%s_91", f->path);
	int l = uds_listen(path, 2 * VIRTIO_VSOCK_MAX_CONNS);
	unsigned responses = 0, resets = 0, total = VIRTIO_VSOCK_MAX_CONNS + 88;
	struct vsock_hdr h;
	for (unsigned i = 0; i < total; i++) {
		tx(f, hdr(10000 + i, 91, VSOCK_OP_REQUEST, 0), NULL, 0);
		if (i % 32 == 31 || i == total - 1) {
			rx_offer(f, 32, RX_SIZE);
			while (rx_next(f, &h, NULL)) {
				responses += h.op == VSOCK_OP_RESPONSE;
				resets += h.op == VSOCK_OP_RST;
			}
		}
	}
	assert_int_equal(responses, VIRTIO_VSOCK_MAX_CONNS);
	assert_int_equal(resets, 88);
	assert_int_equal(virtio_vsock__connections(&f->v), VIRTIO_VSOCK_MAX_CONNS);
	int a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	/* The driver resets the device (a vCPU: no system call but the wake-up): the I/O thread closes them all. */
	wr(&f->v.vdev, R_STATUS, 0);
	assert_int_equal(virtio_vsock__connections(&f->v), VIRTIO_VSOCK_MAX_CONNS);
	virtio_vsock__event(&f->v);
	assert_int_equal(virtio_vsock__connections(&f->v), 0);
	char buf[4];
	assert_int_equal(read(a, buf, sizeof(buf)), 0);
	close(a);
	close(l);
	unlink(path);
}

/* After a restore the guest is told its connections are gone (TRANSPORT_RESET on the event queue). */
static void test_snapshot_reset_event(void **state)
{
	struct vfix *f = *state;
	int c = uds_connect(f->path);
	host_connect(f, c, 52);
	put_desc(f->g, G_DESC(EVQ), 0, EV_BUF, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(f->g, EVQ, 0);
	memset(gptr(f->g, EV_BUF), 0xee, 4);
	kick(&f->v.vdev, EVQ);
	assert_int_equal(used_idx(f->g, EVQ), 0); /* nothing to say while running */

	struct snap_writer w;
	char err[256] = "";
	snap_w__init(&w);
	assert_int_equal(virtio_snap__ops.save(&f->v.vdev, &w, err, sizeof(err)), 0);
	struct fake_guest *g2 = fake_guest__new();
	memcpy(g2->bus.ram, f->g->bus.ram, G_SIZE);
	g2->num = NUM;
	struct virtio_vsock *b = calloc(1, sizeof(*b));
	char path[120];
	snprintf(path, sizeof(path), "%s.clone", f->path);
	assert_int_equal(virtio_vsock__init(b, &g2->bus, fake_guest__irq(g2), CID, path), 0);
	struct snap_reader r;
	snap_r__init(&r, w.buf, w.len);
	assert_int_equal(virtio_snap__ops.load(&b->vdev, virtio_snap__ops.version, &r, err, sizeof(err)), 0);
	virtio_dev__process(&b->vdev);
	assert_int_equal(used_idx(g2, EVQ), 1);
	uint32_t ev;
	memcpy(&ev, (uint8_t *)gptr(g2, EV_BUF), 4);
	assert_int_equal(ev, VSOCK_EVENT_TRANSPORT_RESET);
	assert_int_equal(virtio_vsock__connections(b), 0);
	/* A clone with another guest CID is refused. */
	struct virtio_vsock *o = calloc(1, sizeof(*o));
	snprintf(path, sizeof(path), "%s.other", f->path);
	assert_int_equal(virtio_vsock__init(o, &g2->bus, fake_guest__irq(g2), CID + 1, path), 0);
	snap_r__init(&r, w.buf, w.len);
	assert_int_equal(virtio_snap__ops.load(&o->vdev, virtio_snap__ops.version, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "guest CID"));
	virtio_vsock__exit(o);
	free(o);
	virtio_vsock__exit(b);
	free(b);
	fake_guest__free(g2);
	snap_w__free(&w);
	close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_and_identity, vfix_setup, vfix_teardown),
		cmocka_unit_test_setup_teardown(test_host_initiated, vfix_setup, vfix_teardown),
		cmocka_unit_test_setup_teardown(test_handshake, vfix_setup, vfix_teardown),
		cmocka_unit_test_setup_teardown(test_guest_initiated, vfix_setup, vfix_teardown),
		cmocka_unit_test_setup_teardown(test_credit_towards_guest, vfix_setup, vfix_teardown),
		cmocka_unit_test_setup_teardown(test_credit_from_guest, vfix_setup, vfix_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_packets, vfix_setup, vfix_teardown),
		cmocka_unit_test_setup_teardown(test_small_rx_buffer, vfix_setup, vfix_teardown),
		cmocka_unit_test_setup_teardown(test_flood_and_reset, vfix_setup, vfix_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_reset_event, vfix_setup, vfix_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
