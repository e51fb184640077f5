/*
 * Fuzz target: virtio-vsock (src/virtio/vsock.c) as a hostile guest and odd host peers drive it. The device
 * listens on a scratch Unix socket; a host listener stands for <uds_path>_90 (guest-initiated connections);
 * up to 8 host clients connect, send CONNECT lines, bytes, half-close and close. The I/O thread's work runs
 * synchronously (virtio_dev__process, virtio_vsock__event).
 *
 * Input: operations until the input ends (see the switch). "driver init" does the virtio handshake with
 * input features; "packet" writes a whole vsock header (fields from the input, ports and CIDs mostly
 * plausible) plus payload on the transmit queue and notifies; "rx buffers" offers receive buffers.
 * Checked: the connection count never passes VIRTIO_VSOCK_MAX_CONNS, the RST backlog its capacity, the
 * interrupt line follows the ISR; ASan/UBSan/LeakSanitizer catch the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"

#include "virtio/vsock.h"

#define G_BASE 0x80000000ull
#define G_SIZE (256ull << 10)
#define G_DESC(q) (G_BASE + 0x4000ull * (q))
#define G_AVAIL(q) (G_DESC(q) + 0x1000)
#define G_USED(q) (G_DESC(q) + 0x2000)
#define G_RX (G_BASE + 0x10000ull)  /* receive buffers: 16 of 4 KiB */
#define G_TX (G_BASE + 0x20000ull)  /* transmit header, then payload */
#define G_EV (G_BASE + 0x3f000ull)
#define MAX_OPS 128
#define CLIENTS 8

static struct rv_bus bus;
static _Atomic uint64_t dirty[(G_SIZE / PAGE_SIZE + 63) / 64];
static char sock_path[96], peer_path[108];
static int peer_listener = -1;
static bool irq_level;

static void irq_set(void *ctl, unsigned irq, bool level)
{
	(void)ctl;
	(void)irq;
	irq_level = level;
}

__attribute__((destructor)) static void cleanup(void)
{
	if (peer_path[0])
		unlink(peer_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bus.ram = malloc(G_SIZE);
	if (!bus.ram)
		abort();
	bus.ram_base = G_BASE;
	bus.ram_size = G_SIZE;
	bus.watch_page = ~0ull;
	bus.dirty = dirty;
	snprintf(sock_path, sizeof(sock_path), "/tmp/wisp-fuzz-vsock-%d.sock", (int)getpid());
	snprintf(peer_path, sizeof(peer_path), "%s_90", sock_path);
	unlink(peer_path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", peer_path);
	peer_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (peer_listener < 0 || bind(peer_listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(peer_listener, 64) < 0)
		abort();
	return 0;
}

static uint32_t rd(struct virtio_dev *d, uint64_t off, unsigned size)
{
	uint64_t v = virtio_mmio__ops.read(d, off, size);
	FUZZ_CHECK(size == 8 || v >> (8 * size) == 0);
	return (uint32_t)v;
}

static void wr(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio__ops.write(d, off, 4, v);
}

static void put_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc dsc = { addr, len, flags, next };
	memcpy(bus.ram + (G_DESC(q) - G_BASE) + 16u * (i % 64), &dsc, sizeof(dsc));
}

static void offer(struct virtio_dev *d, unsigned q, uint16_t head)
{
	uint16_t *avail = (uint16_t *)(bus.ram + (G_AVAIL(q) - G_BASE));
	uint16_t num = d->vq[q].num ? d->vq[q].num : 1;
	uint16_t idx = avail[1];
	avail[2 + idx % num] = head;
	avail[1] = (uint16_t)(idx + 1);
	wr(d, 0x050, q);
	virtio_dev__process(d);
}

static void driver_init(struct virtio_dev *d, struct fz *f)
{
	uint64_t features = fz__u64(f);
	uint16_t num = (uint16_t)(1u << (fz__u8(f) % 7));
	wr(d, 0x070, 0);
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE);
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(d, 0x024, 0);
	wr(d, 0x020, (uint32_t)features);
	wr(d, 0x024, 1);
	wr(d, 0x020, (uint32_t)(features >> 32));
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	for (unsigned q = 0; q < 3; q++) {
		wr(d, 0x030, q);
		wr(d, 0x038, num);
		wr(d, 0x080, (uint32_t)G_DESC(q));
		wr(d, 0x084, 0);
		wr(d, 0x090, (uint32_t)G_AVAIL(q));
		wr(d, 0x094, 0);
		wr(d, 0x0a0, (uint32_t)G_USED(q));
		wr(d, 0x0a4, 0);
		wr(d, 0x044, 1);
	}
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
}

/* Ports the guest is likely to name: its own, the peer listener's, a host-initiated one. */
static uint32_t port(struct fz *f)
{
	static const uint32_t ports[] = { 1000, 1001, 52, 90, 1u << 30, (1u << 30) + 1, 7, 0xffffffff };
	uint8_t b = fz__u8(f);
	return b < 0xf0 ? ports[b % 8] : fz__u32(f);
}

static void packet(struct virtio_vsock *v, struct fz *f, unsigned slot)
{
	uint8_t how = fz__u8(f);
	struct vsock_hdr h = {
		.src_cid = how & 1 ? fz__u64(f) : 3,
		.dst_cid = how & 2 ? fz__u64(f) : VIRTIO_VSOCK_HOST_CID,
		.src_port = port(f),
		.dst_port = port(f),
		.type = how & 4 ? fz__u16(f) : VSOCK_TYPE_STREAM,
		.op = fz__u8(f) % 9,
		.flags = fz__u8(f) & 7,
		.buf_alloc = how & 8 ? fz__u32(f) : 1u << 18,
		.fwd_cnt = how & 16 ? fz__u32(f) : 0,
	};
	uint32_t plen = fz__u16(f) % 0x8000;
	h.len = how & 32 ? fz__u32(f) : plen;
	memcpy(bus.ram + (G_TX - G_BASE), &h, sizeof(h));
	size_t k = fz__copy(f, bus.ram + (G_TX - G_BASE) + sizeof(h), plen < 64 ? plen : 64);
	(void)k;
	unsigned d = 2 * (slot % 32);
	if (how & 64) { /* the header split across two descriptors */
		put_desc(1, d, G_TX, 20, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
		put_desc(1, d + 1, G_TX + 20, (uint32_t)sizeof(h) - 20 + plen, 0, 0);
	} else {
		put_desc(1, d, G_TX, sizeof(h), plen ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(d + 1));
		put_desc(1, d + 1, G_TX + sizeof(h), plen, 0, 0);
	}
	offer(&v->vdev, 1, (uint16_t)d);
}

static int client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

FUZZ_NO_COVERAGE static void drain(int fd)
{
	uint8_t buf[4096];
	for (int i = 0; fd >= 0 && i < 64 && read(fd, buf, sizeof(buf)) > 0; i++)
		;
}

static void check(struct virtio_vsock *v)
{
	FUZZ_CHECK(v->nconns <= VIRTIO_VSOCK_MAX_CONNS);
	FUZZ_CHECK(v->rst_len <= sizeof(v->rst) / sizeof(v->rst[0]));
	FUZZ_CHECK(irq_level == (v->vdev.isr != 0) && (v->vdev.isr & ~3u) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!bus.ram)
		LLVMFuzzerInitialize(NULL, NULL);
	struct fz f = { data, size };
	memset(bus.ram, 0, G_SIZE);
	irq_level = false;
	static struct virtio_vsock v;
	unlink(sock_path);
	struct irq_line irq = { irq_set, NULL, 1 };
	if (virtio_vsock__init(&v, &bus, irq, 3, sock_path) < 0)
		abort();
	int cl[CLIENTS], acc[CLIENTS];
	for (int i = 0; i < CLIENTS; i++)
		cl[i] = acc[i] = -1;
	unsigned slot = 0;
	uint8_t buf[512];
	for (unsigned n = 0; n < MAX_OPS && fz__left(&f); n++) {
		uint8_t op = fz__u8(&f);
		unsigned sz = 1u << ((op >> 4) & 3), who = (op >> 4) % CLIENTS;
		switch ((op & 15) % 12) {
		case 0: /* register read */
			rd(&v.vdev, fz__u16(&f) % VIRTIO_MMIO_SIZE & ~(uint64_t)(sz - 1), sz);
			break;
		case 1: { /* register write */
			uint64_t off = fz__u16(&f) % VIRTIO_MMIO_SIZE & ~(uint64_t)(sz - 1);
			virtio_mmio__ops.write(&v.vdev, off, sz, fz__u32(&f));
			break;
		}
		case 2:
			driver_init(&v.vdev, &f);
			break;
		case 3: { /* raw guest RAM (rings, descriptors, headers) */
			uint32_t off = fz__u32(&f) % (G_SIZE - 16);
			fz__copy(&f, bus.ram + off, 1 + (op >> 4));
			break;
		}
		case 4: /* a transmit packet */
			packet(&v, &f, slot++);
			break;
		case 5: { /* receive buffers: count and size from the input */
			unsigned cnt = 1 + (op >> 4) % 8;
			uint32_t len = fz__u16(&f) % 4097;
			for (unsigned k = 0; k < cnt; k++) {
				unsigned i = 32 + (slot++ % 16);
				put_desc(0, i, G_RX + 0x1000ull * (i - 32), len, VIRTQ_DESC_F_WRITE, 0);
				offer(&v.vdev, 0, (uint16_t)i);
			}
			break;
		}
		case 6: /* an event buffer */
			put_desc(2, 0, G_EV, fz__u8(&f) % 8, VIRTQ_DESC_F_WRITE, 0);
			offer(&v.vdev, 2, 0);
			break;
		case 7: /* a host client connects, maybe with a CONNECT line */
			if (cl[who] < 0)
				cl[who] = client_connect();
			if (cl[who] >= 0 && (op & 0x80)) {
				int k = snprintf((char *)buf, sizeof(buf), "CONNECT %u\n", port(&f));
				if (send(cl[who], buf, (size_t)k, MSG_NOSIGNAL) < 0) {
					/* full or gone */
				}
			}
			break;
		case 8: { /* a host client writes, half-closes or closes */
			uint8_t what = fz__u8(&f);
			size_t len = fz__copy(&f, buf, fz__u8(&f) % sizeof(buf));
			if (cl[who] < 0)
				break;
			if (what % 4 == 0 && send(cl[who], buf, len, MSG_NOSIGNAL) < 0) {
				/* full or gone */
			} else if (what % 4 == 1) {
				shutdown(cl[who], SHUT_WR);
			} else if (what % 4 == 2) {
				close(cl[who]);
				cl[who] = -1;
			} else {
				drain(cl[who]);
			}
			break;
		}
		case 9: /* the host side's events */
			virtio_vsock__event(&v);
			break;
		case 10: { /* the host program behind <uds_path>_90 accepts and answers */
			if (acc[who] < 0)
				acc[who] = accept4(peer_listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			size_t len = fz__copy(&f, buf, fz__u8(&f) % 64);
			if (acc[who] >= 0 && len && send(acc[who], buf, len, MSG_NOSIGNAL) < 0) {
				close(acc[who]);
				acc[who] = -1;
			}
			drain(acc[who]);
			break;
		}
		case 11: /* interrupt acknowledge */
			wr(&v.vdev, 0x064, rd(&v.vdev, 0x060, 4));
			break;
		}
		check(&v);
	}
	virtio_vsock__exit(&v);
	for (int i = 0; i < CLIENTS; i++) {
		if (cl[i] >= 0)
			close(cl[i]);
		if (acc[i] >= 0)
			close(acc[i]);
	}
	int fd;
	while ((fd = accept4(peer_listener, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	return 0;
}
