/* MMDS over libslirp: restricted mode, one guest forward (the MMDS address, port 80) whose bytes we answer. */
#include "mmds/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>


#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define MMDS_PORT 80
#define LINGER_NS (30ull * 1000000000ull) /* keep slirp's timers running this long after the last frame */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool mmds_stack__wants(const struct mmds_stack *s, const uint8_t *f, size_t len)
{
	if (len < ETH_HLEN)
		return false;
	uint16_t type = be16(f + 12);
	/*
	 * slirp's MACs are 52:55 + an IPv4 address: the MMDS address's, and its own (ip - 1, slirp's "host"),
	 * from which it asks the guest's MAC when it has none (after a restore the guest may not ask first).
	 */
	uint32_t mac_ip = be32(f + 2);
	bool to_us = f[0] == 0x52 && f[1] == 0x55 && (mac_ip == s->ip || mac_ip == s->ip - 1);
	if (type == ETH_P_ARP) {
		uint32_t target = len >= ETH_HLEN + 28 ? be32(f + ETH_HLEN + 24) : 0;
		return len >= ETH_HLEN + 28 && (target == s->ip || (to_us && target == s->ip - 1));
	}
	if (type == ETH_P_IP)
		return len >= ETH_HLEN + 20 && (f[ETH_HLEN] >> 4) == 4 && be32(f + ETH_HLEN + 16) == s->ip;
	return false;
}

/* ---- slirp's callbacks ----------------------------------------------------------------------------------- */

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
	struct mmds_stack *s = opaque;
	if (virtio_net__inject(s->net, buf, len))
		s->frames_sent++;
	return (ssize_t)len; /* a frame the guest had no room for is lost, as on a wire; TCP sends it again */
}

/* slirp's complaints about the guest's packets: counted (the guest is only hurting itself). */
static void guest_error(const char *msg, void *opaque)
{
	(void)msg;
	((struct mmds_stack *)opaque)->guest_errors++;
}

static int64_t clock_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)now_ns();
}

/* Timers are only for IPv6 router advertisements, which are off: a token object is enough. */
static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	(void)cb;
	(void)cb_opaque;
	return opaque;
}

static void timer_free(void *timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

static void timer_mod(void *timer, int64_t expire, void *opaque)
{
	(void)timer;
	(void)expire;
	(void)opaque;
}

static void poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void notify(void *opaque)
{
	(void)opaque;
}

static const SlirpCb callbacks = {
	.send_packet = send_packet,
	.guest_error = guest_error,
	.clock_get_ns = clock_ns,
	.timer_new = timer_new,
	.timer_free = timer_free,
	.timer_mod = timer_mod,
	.register_poll_fd = poll_fd,
	.unregister_poll_fd = poll_fd,
	.notify = notify,
};

/* The guest's bytes on an MMDS connection. */
static ssize_t from_guest(const void *buf, size_t len, void *opaque)
{
	struct mmds_stack *s = opaque;
	size_t room = sizeof(s->req) - s->req_len, n = len < room ? len : room;
	memcpy(s->req + s->req_len, buf, n);
	s->req_len += n;
	return (ssize_t)len; /* past MMDS_REQUEST_MAX the request is refused as too large anyway */
}

static struct in_addr addr(uint32_t host_order)
{
	return (struct in_addr){ htonl(host_order) };
}

/* Answer complete requests, send what the connection takes, keep slirp's timers going while needed. */
static void pump(struct mmds_stack *s)
{
	while (!s->resp && s->req_len) {
		size_t used = mmds__http(s->mmds, s->req, s->req_len, now_ns(), &s->resp, &s->resp_len);
		if (!used)
			break;
		memmove(s->req, s->req + used, s->req_len - used);
		s->req_len -= used;
		s->resp_off = 0;
	}
	while (s->resp) {
		size_t can = slirp_socket_can_recv(s->slirp, addr(s->ip), MMDS_PORT);
		size_t left = s->resp_len - s->resp_off, n = can < left ? can : left;
		if (!n)
			break;
		slirp_socket_recv(s->slirp, addr(s->ip), MMDS_PORT, (const uint8_t *)s->resp + s->resp_off, (int)n);
		s->resp_off += n;
		if (s->resp_off == s->resp_len) {
			free(s->resp);
			s->resp = NULL;
		}
	}
	uint32_t timeout = UINT32_MAX;
	slirp_pollfds_fill(s->slirp, &timeout, NULL, s);
	if (now_ns() < s->active_until_ns) {
		uint64_t ns = (uint64_t)(timeout ? timeout : 1) * 1000000ull;
		struct itimerspec its = { .it_value = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) } };
		timerfd_settime(s->timer_fd, 0, &its, NULL);
	}
}

/*
 * A checksum the guest left to the device (VIRTIO_NET_HDR_F_NEEDS_CSUM, offloads on): the ones' complement sum
 * from csum_start to the end, where the guest put the pseudo-header's sum, stored at csum_start + csum_offset
 * (in bounds: virtio_net__tx_header_ok checked it).
 */
static void complete_checksum(uint8_t *f, size_t len, const uint8_t *hdr)
{
	size_t start = (size_t)(hdr[6] | hdr[7] << 8), at = start + (size_t)(hdr[8] | hdr[9] << 8);
	uint32_t sum = 0;
	for (size_t i = start; i + 1 < len; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	if ((len - start) & 1)
		sum += (uint32_t)f[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	f[at] = (uint8_t)(c >> 8);
	f[at + 1] = (uint8_t)c;
}

/* The interface's transmit path (I/O thread, device lock held): take the frames for MMDS. */
static bool filter_tx(void *opaque, const uint8_t *hdr, const struct iovec *iov, unsigned n, size_t len)
{
	struct mmds_stack *s = opaque;
	uint8_t head[ETH_HLEN + 28];
	size_t h = iov__read(iov, n, 0, head, len < sizeof(head) ? len : sizeof(head));
	if (!mmds_stack__wants(s, head, h))
		return false;
	/* A segmented frame (TSO: a request longer than slirp's MSS, 1460 bytes) is dropped: no segmentation here. */
	if (hdr[1] != 0) {
		s->frames_dropped++;
		return true;
	}
	if (len <= 65536) {
		uint8_t *frame = malloc(len);
		if (frame) {
			iov__read(iov, n, 0, frame, len);
			if (hdr[0] & 1)
				complete_checksum(frame, len, hdr);
			s->frames_taken++;
			s->active_until_ns = now_ns() + LINGER_NS;
			slirp_input(s->slirp, frame, (int)len);
			free(frame);
			pump(s);
		}
	}
	return true; /* never to the TAP, even when dropped */
}

static void on_timer(void *opaque, uint32_t events)
{
	(void)events;
	struct mmds_stack *s = opaque;
	uint64_t v;
	if (read(s->timer_fd, &v, sizeof(v)) < 0) {
		/* Spurious: nothing to do but the poll below. */
	}
	pthread_mutex_lock(&s->net->vdev.lock);
	slirp_pollfds_poll(s->slirp, 0, NULL, s);
	pump(s);
	pthread_mutex_unlock(&s->net->vdev.lock);
}

int mmds_stack__init(struct mmds_stack *s, struct mmds *m, uint32_t ipv4)
{
	memset(s, 0, sizeof(*s));
	s->mmds = m;
	s->ip = ipv4;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0) {
		fprintf(stderr, "wisp: MMDS: cannot create a timer: %s\n", strerror(errno));
		return -1;
	}
	/*
	 * Every address is "inside" slirp's network (mask 0), so whatever address the guest has, its packets to
	 * MMDS are local ones; restricted: nothing but the guest forward is reachable; no DHCP, DNS or IPv6.
	 */
	SlirpConfig cfg = {
		.version = 4,
		.restricted = 1,
		.in_enabled = true,
		.vnetwork = addr(0),
		.vnetmask = addr(0),
		.vhost = addr(ipv4 - 1), /* slirp's own address: see mmds_stack__wants */
		.vdhcp_start = addr(ipv4 - 3),
		.vnameserver = addr(ipv4 - 2),
		.disable_host_loopback = true,
		.disable_dns = true,
		.disable_dhcp = true,
	};
	s->slirp = slirp_new(&cfg, &callbacks, s);
	struct in_addr a = addr(ipv4);
	if (!s->slirp || slirp_add_guestfwd(s->slirp, from_guest, s, &a, MMDS_PORT) < 0) {
		fprintf(stderr, "wisp: MMDS: cannot set up its network stack (libslirp)\n");
		mmds_stack__exit(s);
		return -1;
	}
	return 0;
}

int mmds_stack__attach(struct mmds_stack *s, struct virtio_net *n, struct ioloop *l)
{
	s->net = n;
	if (ioloop__add(l, s->timer_fd, EPOLLIN, on_timer, s) < 0)
		return -1;
	virtio_net__set_filter(n, &(struct virtio_net_filter){ filter_tx, s });
	return 0;
}

void mmds_stack__exit(struct mmds_stack *s)
{
	if (s->slirp)
		slirp_cleanup(s->slirp);
	s->slirp = NULL;
	free(s->resp);
	s->resp = NULL;
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	s->timer_fd = -1;
}
