/*
 * Fuzz target: the virtio-mmio transport (src/virtio/mmio.c, virtio.c) and each device's request parser
 * (blk over a scratch file, read-write and read-only; rng; net over a socketpair standing in for the TAP fd;
 * console over pipes), driven the way a guest drives them: register reads and writes of every size, ring and
 * buffer contents in guest RAM, queue notifications, and host-side input (frames, console bytes). The I/O
 * thread's work runs synchronously (virtio_dev__process), as in the unit tests.
 *
 * Input: a device byte, then operations until the input ends (see the switch below). A "driver init"
 * operation performs the whole virtio 1.x handshake with input features and standard ring addresses, so
 * inputs reach live queues quickly; everything else is raw.
 * Checked: reads stay within their width, queue sizes within num_max, the interrupt line only ever reflects
 * the ISR; ASan/UBSan/LeakSanitizer catch the rest (descriptors pointing outside RAM, chains that loop).
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"

#define G_BASE 0x80000000ull
#define G_SIZE (256ull << 10)
#define G_DESC(q) (G_BASE + 0x8000ull * (q))
#define G_AVAIL(q) (G_DESC(q) + 0x2000)
#define G_USED(q) (G_DESC(q) + 0x4000)
#define DISK_BYTES (64u << 10)
#define MAX_OPS 96

static struct rv_bus bus;
static _Atomic uint64_t dirty[(G_SIZE / PAGE_SIZE + 63) / 64];
static char disk_path[64];
static bool irq_level;

static void irq_set(void *ctl, unsigned irq, bool level)
{
	(void)ctl;
	(void)irq;
	irq_level = level;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bus.ram = malloc(G_SIZE); /* exactly the guest's RAM: ASan sees any access past it */
	if (!bus.ram)
		abort();
	bus.ram_base = G_BASE;
	bus.ram_size = G_SIZE;
	bus.watch_page = ~0ull;
	bus.dirty = dirty;
	snprintf(disk_path, sizeof(disk_path), "/tmp/wisp-fuzz-disk-%d", (int)getpid());
	int fd = open(disk_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, DISK_BYTES) < 0)
		abort();
	close(fd);
	return 0;
}

__attribute__((destructor)) static void remove_disk(void)
{
	if (disk_path[0])
		unlink(disk_path);
}

/* NET_OFFLOAD: net offering checksum/TSO/mergeable buffers (hostile vnet headers, frames over many buffers);
 * BLK_ASYNC: blk with io_engine Async (io_uring; completions reaped after each notification). */
enum { DEV_BLK, DEV_BLK_RO, DEV_RNG, DEV_NET, DEV_CONSOLE, DEV_NET_OFFLOAD, DEV_BLK_ASYNC, DEV_COUNT };

struct devs {
	int kind;
	struct virtio_dev *d;
	union {
		struct virtio_blk blk;
		struct virtio_rng rng;
		struct virtio_net net;
		struct virtio_console con;
	} u;
	int peer;          /* net: the other end of the socketpair */
	int con_in, con_out; /* console: we write con_in, read con_out */
};

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

static void drain(int fd)
{
	uint8_t buf[4096];
	if (fd < 0)
		return;
	for (int i = 0; i < 64 && read(fd, buf, sizeof(buf)) > 0; i++)
		;
}

static void driver_init(struct devs *x, struct fz *f)
{
	struct virtio_dev *d = x->d;
	uint64_t features = fz__u64(f);
	uint16_t num = (uint16_t)(1u << (fz__u8(f) % 9));
	wr(d, 0x070, 0);
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE);
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(d, 0x024, 0);
	wr(d, 0x020, (uint32_t)features);
	wr(d, 0x024, 1);
	wr(d, 0x020, (uint32_t)(features >> 32));
	wr(d, 0x070, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
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

static int create(struct devs *x, int kind)
{
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->peer = x->con_in = x->con_out = -1;
	struct irq_line irq = { irq_set, NULL, 1 };
	int rc = -1;
	switch (kind) {
	case DEV_BLK:
	case DEV_BLK_RO:
	case DEV_BLK_ASYNC:
		rc = virtio_blk__init(&x->u.blk, &bus, irq, disk_path, kind == DEV_BLK_RO, "fuzz-disk");
		x->d = &x->u.blk.vdev;
		if (rc == 0 && kind == DEV_BLK_ASYNC && virtio_blk__use_async(&x->u.blk) < 0) {
			virtio_blk__exit(&x->u.blk);
			rc = -1;
		}
		break;
	case DEV_RNG:
		rc = virtio_rng__init(&x->u.rng, &bus, irq);
		x->d = &x->u.rng.vdev;
		break;
	case DEV_NET:
	case DEV_NET_OFFLOAD: {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			return -1;
		static const uint8_t mac[6] = { 0x06, 0, 0xac, 0x10, 0, 2 };
		rc = virtio_net__init(&x->u.net, &bus, irq, sv[0], mac);
		if (rc < 0)
			close(sv[0]);
		else if (kind == DEV_NET_OFFLOAD)
			virtio_net__enable_offloads(&x->u.net);
		x->peer = sv[1];
		x->d = &x->u.net.vdev;
		break;
	}
	case DEV_CONSOLE: {
		int in[2], out[2];
		if (pipe2(in, O_CLOEXEC | O_NONBLOCK) < 0)
			return -1;
		if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0) {
			close(in[0]);
			close(in[1]);
			return -1;
		}
		rc = virtio_console__init(&x->u.con, &bus, irq, in[0], out[1]);
		if (rc < 0) {
			close(in[0]);
			close(out[1]);
		}
		x->con_in = in[1];
		x->con_out = out[0];
		x->d = &x->u.con.vdev;
		break;
	}
	}
	return rc;
}

static void destroy(struct devs *x, bool created)
{
	if (created) {
		switch (x->kind) {
		case DEV_BLK:
		case DEV_BLK_RO:
		case DEV_BLK_ASYNC: virtio_blk__exit(&x->u.blk); break;
		case DEV_RNG: virtio_rng__exit(&x->u.rng); break;
		case DEV_NET:
		case DEV_NET_OFFLOAD: virtio_net__exit(&x->u.net); break;
		case DEV_CONSOLE: virtio_console__exit(&x->u.con); break;
		}
	}
	if (x->peer >= 0)
		close(x->peer);
	if (x->con_in >= 0)
		close(x->con_in);
	if (x->con_out >= 0)
		close(x->con_out);
}

static void check(const struct devs *x)
{
	const struct virtio_dev *d = x->d;
	for (unsigned q = 0; q < d->nqueues; q++) {
		const struct virtq *vq = &d->vq[q];
		FUZZ_CHECK(vq->num_max <= VIRTQ_MAX_SIZE);
		if (vq->ready)
			FUZZ_CHECK(vq->num >= 1 && vq->num <= vq->num_max && !(vq->num & (vq->num - 1)));
	}
	FUZZ_CHECK(irq_level == (d->isr != 0) && (d->isr & ~3u) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!bus.ram)
		LLVMFuzzerInitialize(NULL, NULL);
	struct fz f = { data, size };
	memset(bus.ram, 0, G_SIZE);
	irq_level = false;
	static struct devs x; /* large (chains, frames): not on the stack */
	int kind = fz__u8(&f) % DEV_COUNT;
	bool ok = create(&x, kind) == 0;
	if (!ok) {
		destroy(&x, false);
		return 0;
	}
	struct virtio_dev *d = x.d;
	uint8_t buf[2048];
	for (unsigned n = 0; n < MAX_OPS && fz__left(&f); n++) {
		uint8_t op = fz__u8(&f);
		/* Low nibble: the operation; high nibble: its parameter (width, queue, length). */
		unsigned sz = 1u << ((op >> 4) & 3);
		switch ((op & 15) % 10) {
		case 0: /* register read, any width, anywhere in the window */
			rd(d, fz__u16(&f) % VIRTIO_MMIO_SIZE & ~(uint64_t)(sz - 1), sz);
			break;
		case 1: { /* register write, any width */
			uint64_t off = fz__u16(&f) % VIRTIO_MMIO_SIZE & ~(uint64_t)(sz - 1);
			virtio_mmio__ops.write(d, off, sz, fz__u32(&f));
			break;
		}
		case 2: /* the driver's whole handshake */
			driver_init(&x, &f);
			break;
		case 3: { /* guest RAM: 1..16 bytes anywhere (descriptors, rings, request headers) */
			uint32_t off = fz__u32(&f) % (G_SIZE - 16);
			fz__copy(&f, bus.ram + off, 1 + (op >> 4));
			break;
		}
		case 4: { /* a descriptor in queue q's table (standard layout); bit 7: raw address */
			unsigned q = (op >> 4) & 3, i = fz__u8(&f);
			struct virtq_desc dsc;
			uint32_t where = fz__u16(&f);
			dsc.addr = (op & 0x80) ? fz__u64(&f) : G_BASE + 0x20000 + where * 8ull % (G_SIZE - 0x20000);
			dsc.len = fz__u16(&f);
			dsc.flags = fz__u8(&f);
			dsc.next = fz__u8(&f);
			memcpy(bus.ram + (G_DESC(q) - G_BASE) + 16u * i, &dsc, sizeof(dsc));
			break;
		}
		case 5: { /* offer head h on queue q and notify */
			unsigned q = (op >> 4) & 3;
			uint16_t *avail = (uint16_t *)(bus.ram + (G_AVAIL(q) - G_BASE));
			uint16_t num = d->vq[q].num ? d->vq[q].num : 1;
			uint16_t idx = avail[1];
			avail[2 + idx % num] = fz__u8(&f);
			avail[1] = (uint16_t)(idx + 1);
			wr(d, 0x050, q);
			virtio_dev__process(d);
			if (kind == DEV_BLK_ASYNC)
				virtio_blk__async_wait(&x.u.blk);
			break;
		}
		case 6: /* notify any queue number, then let the I/O thread run */
			wr(d, 0x050, fz__u16(&f));
			virtio_dev__process(d);
			if (kind == DEV_BLK_ASYNC)
				virtio_blk__async_wait(&x.u.blk);
			break;
		case 7: { /* host input: a frame for net, bytes for the console */
			size_t len = fz__copy(&f, buf, fz__u16(&f) % sizeof(buf));
			if (kind == DEV_NET || kind == DEV_NET_OFFLOAD) {
				if (len && send(x.peer, buf, len, MSG_DONTWAIT) < 0)
					break;
				virtio_net__rx_event(&x.u.net);
			} else if (kind == DEV_CONSOLE) {
				if (len && write(x.con_in, buf, len) < 0)
					break;
				virtio_console__rx_event(&x.u.con);
			}
			break;
		}
		case 8: /* interrupt acknowledge, as the driver's handler does */
			wr(d, 0x064, rd(d, 0x060, 4));
			break;
		case 9: /* config space, any width */
			rd(d, 0x100 + fz__u8(&f) % 0x40 / sz * sz, sz);
			break;
		}
		drain(x.peer);
		drain(x.con_out);
		check(&x);
	}
	destroy(&x, true);
	return 0;
}
