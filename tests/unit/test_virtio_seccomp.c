/*
 * virtio-balloon and virtio-vsock under the threads' real seccomp filters (src/jail): each case runs in a forked
 * child that sets seccomp up as wisp's main thread does (filters cannot be removed), builds the device and starts
 * the I/O thread from an "api" thread (InstanceStart's way), drives the device's registers from short "vcpu"
 * threads, and plays the host side of vsock on its main thread. A system call outside a thread's list ends the
 * child by SIGSYS (--seccomp-trap's report on stderr names it): the child must exit 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "virtio/balloon.h"
#include "virtio/ioloop.h"
#include "virtio/vsock.h"
#include "virtio_fake.h"

#define F_V1 (1ull << VIRTIO_F_VERSION_1)
#define ALIVE (VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK)
#define PG 4096ull
#define GPA(page) (G_BASE + (page) * PG)

/* In the child: a failed check exits with a message (cmocka cannot report from there). */
#define CHECK(c)                                                                                                       \
	do {                                                                                                           \
		if (!(c)) {                                                                                            \
			fprintf(stderr, "check failed at line %d: %s\n", __LINE__, #c);                               \
			_exit(91);                                                                                     \
		}                                                                                                      \
	} while (0)

/* Wait on the child's main thread until `c` holds; a hang is a failure after 30 s (never a measurement). */
#define WAIT_FOR(c)                                                                                                    \
	do {                                                                                                           \
		for (int w_ = 0; !(c); w_++) {                                                                         \
			CHECK(w_ < 30000);                                                                             \
			usleep(1000);                                                                                  \
		}                                                                                                      \
	} while (0)

struct step {
	enum seccomp_thread kind;
	void (*fn)(void);
};

static void *step_main(void *opaque)
{
	const struct step *s = opaque;
	seccomp__enter(s->kind);
	s->fn();
	return NULL;
}

/* Run fn on a new thread of this kind (under its filter, on top of the main thread's) and wait for it. */
static void on(enum seccomp_thread kind, void (*fn)(void))
{
	struct step s = { kind, fn };
	pthread_t t;
	CHECK(pthread_create(&t, NULL, step_main, &s) == 0);
	CHECK(pthread_join(t, NULL) == 0);
}

/* The child's fate: its exit status, or 1000 + the signal that ended it. */
static int in_child(void (*scenario)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct seccomp_options o = { .level = SECCOMP_LEVEL_ADVANCED, .trap = true };
		char err[512];
		if (seccomp__setup(&o, err, sizeof(err)) < 0) {
			fprintf(stderr, "setup: %s\n", err);
			_exit(99);
		}
		scenario();
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? 1000 + WTERMSIG(status) : WEXITSTATUS(status);
}

static struct fake_guest *g;
static struct ioloop loop;
static uint16_t next_desc[VIRTIO_MAX_QUEUES];

/* One buffer on queue q, then QueueNotify (a vCPU's part: the I/O thread serves it). */
static void post(struct virtio_dev *d, unsigned q, uint64_t gpa, uint32_t len, bool writable)
{
	uint16_t i = next_desc[q]++ % g->num;
	put_desc(g, G_DESC(q), i, gpa, len, writable ? VIRTQ_DESC_F_WRITE : 0, 0);
	offer(g, q, i);
	wr(d, R_QUEUE_NOTIFY, q);
}

static void new_guest(void)
{
	g = fake_guest__new();
	g->num = 16;
	/* page-aligned RAM: the balloon gives pages back with madvise and mmap */
	g->bus.ram = mmap(NULL, G_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(g->bus.ram != MAP_FAILED);
}

/* ---- the balloon ---- */

#define B_LIST G_BUF		       /* page frame numbers, a statistics buffer, a hinting command */
#define B_STATS (G_BUF + 0x1000)
#define B_CMD (G_BUF + 0x2000)
#define B_PAGE 160		       /* pages 160.. are free */
#define Q_INFLATE 0
#define Q_STATS 2
#define Q_HINT 3
#define Q_REPORT 4

static struct virtio_balloon b;
static uint64_t *file_pages;

static void b_build(void)
{
	struct virtio_balloon_config cfg = { .stats_interval_s = 1, .deflate_on_oom = true, .free_page_hinting = true,
					     .free_page_reporting = true };
	CHECK(virtio_balloon__init(&b, &g->bus, fake_guest__irq(g), &cfg, &file_pages) == 0);
	CHECK(ioloop__init(&loop) == 0);
	CHECK(virtio_balloon__attach(&b, &loop) == 0);
	CHECK(ioloop__start(&loop) == 0);
}

static void b_driver(void)
{
	uint64_t f = F_V1 | (1ull << VIRTIO_BALLOON_F_STATS_VQ) | (1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT) |
		     (1ull << VIRTIO_BALLOON_F_REPORTING) | (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	CHECK(drv_init(g, &b.vdev, f) == ALIVE); /* a reset first, then DRIVER_OK: the statistics timer starts */
	memset(gptr(g, B_STATS), 0, 10);
	post(&b.vdev, Q_STATS, B_STATS, 10, false);
	/* 256 page numbers (1 KiB: glibc's qsort then asks sysinfo how much memory there is), half of them
	 * backed by a "memory file" (replaced by anonymous memory), and a reported range. */
	uint32_t pfn[256];
	for (unsigned i = 0; i < 256; i++)
		pfn[i] = (uint32_t)(GPA(B_PAGE + i % 64) >> 12);
	memcpy(gptr(g, B_LIST), pfn, sizeof(pfn));
	post(&b.vdev, Q_INFLATE, B_LIST, sizeof(pfn), false);
	post(&b.vdev, Q_REPORT, GPA(B_PAGE + 64), 4 * PG, true);
}

static void b_runtime(void)
{
	virtio_balloon__set_target(&b, 1);
	virtio_balloon__set_stats_interval(&b, 1);
	virtio_balloon__hint_start(&b, true);
}

static void b_hint(void)
{
	uint32_t id = virtio_balloon__info(&b).host_cmd;
	memcpy(gptr(g, B_CMD), &id, sizeof(id));
	post(&b.vdev, Q_HINT, B_CMD, sizeof(id), false);
	post(&b.vdev, Q_HINT, GPA(B_PAGE + 80), PG, true);
}

static void b_reset(void)
{
	wr(&b.vdev, R_STATUS, 0);
}

static void b_teardown(void)
{
	ioloop__stop(&loop);
	virtio_balloon__exit(&b);
	ioloop__exit(&loop);
}

static void balloon_scenario(void)
{
	new_guest();
	file_pages = calloc((G_PAGES + 63) / 64, sizeof(uint64_t));
	CHECK(file_pages);
	for (unsigned p = B_PAGE; p < B_PAGE + 32; p++)
		file_pages[p / 64] |= 1ull << (p % 64);
	memset(gptr(g, GPA(B_PAGE)), 0xaa, 96 * PG);
	on(SECCOMP_API, b_build);
	on(SECCOMP_VCPU, b_driver);
	WAIT_FOR(used_idx(g, Q_INFLATE) == 1 && used_idx(g, Q_REPORT) == 1);
	WAIT_FOR(used_idx(g, Q_STATS) == 1); /* handed back at the first poll: the timer fired on the I/O thread */
	CHECK(((uint8_t *)gptr(g, GPA(B_PAGE)))[0] == 0 && ((uint8_t *)gptr(g, GPA(B_PAGE + 40)))[0] == 0);
	CHECK(((uint8_t *)gptr(g, GPA(B_PAGE + 65)))[0] == 0);
	on(SECCOMP_API, b_runtime);
	on(SECCOMP_VCPU, b_hint);
	WAIT_FOR(used_idx(g, Q_HINT) == 2);
	CHECK(virtio_balloon__stats(&b).free_page_hint_count == 1);
	on(SECCOMP_VCPU, b_reset);
	/* The statistics timer fires once more on the reset device and stops itself there. */
	uint64_t before = virtio_balloon__stats(&b).stats_updates;
	usleep(1500 * 1000);
	CHECK(virtio_balloon__stats(&b).stats_updates == before);
	on(SECCOMP_API, b_teardown);
}

static void balloon_under_filters(void **state)
{
	(void)state;
	assert_int_equal(in_child(balloon_scenario), 0);
}

/* ---- vsock ---- */

#define CID 3
#define RXQ 0
#define TXQ 1
#define RX_SIZE 4096
#define RX_BUFS 16 /* the whole ring: enough for the packets below */
#define TX_HDR (G_BUF + RX_BUFS * RX_SIZE)
#define TX_DATA (TX_HDR + 0x1000)

static struct virtio_vsock v;
static char path[108];
static uint16_t rx_seen;
static struct vsock_hdr sent;
static const char *sent_data;
static uint16_t tx_count;

static void v_build(void)
{
	CHECK(virtio_vsock__init(&v, &g->bus, fake_guest__irq(g), CID, path) == 0);
	CHECK(ioloop__init(&loop) == 0);
	CHECK(virtio_vsock__attach(&v, &loop) == 0);
	CHECK(ioloop__start(&loop) == 0);
}

static void v_driver(void)
{
	CHECK(drv_init(g, &v.vdev, F_V1) == ALIVE);
	for (unsigned i = 0; i < RX_BUFS; i++)
		post(&v.vdev, RXQ, G_BUF + i * RX_SIZE, RX_SIZE, true);
}

/* A packet from the guest (`sent`, with `sent_data` as its payload): header and payload in two descriptors. */
static void v_tx(void)
{
	uint16_t i = next_desc[TXQ]++ % (g->num / 2) * 2;
	memcpy(gptr(g, TX_HDR), &sent, sizeof(sent));
	if (sent.len) {
		memcpy(gptr(g, TX_DATA), sent_data, sent.len);
		put_desc(g, G_DESC(TXQ), i, TX_HDR, sizeof(sent), VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
		put_desc(g, G_DESC(TXQ), i + 1, TX_DATA, sent.len, 0, 0);
	} else {
		put_desc(g, G_DESC(TXQ), i, TX_HDR, sizeof(sent), 0, 0);
	}
	offer(g, TXQ, i);
	wr(&v.vdev, R_QUEUE_NOTIFY, TXQ);
}

static void guest_sends(uint32_t src, uint32_t dst, uint16_t op, uint32_t flags, const char *data)
{
	sent = (struct vsock_hdr){ .src_cid = CID, .dst_cid = VIRTIO_VSOCK_HOST_CID, .src_port = src, .dst_port = dst,
				   .len = data ? (uint32_t)strlen(data) : 0, .type = VSOCK_TYPE_STREAM, .op = op,
				   .flags = flags, .buf_alloc = 1 << 20 };
	sent_data = data;
	on(SECCOMP_VCPU, v_tx);
	tx_count++;
	WAIT_FOR(used_idx(g, TXQ) == tx_count); /* the header is read before the next one is written */
}

/* The next packet for the guest with this op (waited for; credit updates and the like are passed over). */
static struct vsock_hdr guest_gets(uint16_t op)
{
	for (;;) {
		WAIT_FOR(used_idx(g, RXQ) != rx_seen);
		uint32_t id, len;
		used_elem(g, RXQ, rx_seen++, &id, &len);
		CHECK(id < RX_BUFS);
		struct vsock_hdr h;
		memcpy(&h, gptr(g, G_BUF + (uint64_t)id * RX_SIZE), sizeof(h));
		if (h.op == op)
			return h;
	}
}

static void v_reset(void)
{
	wr(&v.vdev, R_STATUS, 0);
}

static void v_teardown(void)
{
	ioloop__stop(&loop);
	virtio_vsock__exit(&v);
	ioloop__exit(&loop);
}

static bool closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c[16];
	return poll(&p, 1, ms) == 1 && read(fd, c, sizeof(c)) <= 0;
}

static int unix_socket(const char *at, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", at);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	if (listening)
		CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0);
	else
		CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

static void vsock_scenario(void)
{
	new_guest();
	snprintf(path, sizeof(path), "/tmp/wisp-test-vsock-seccomp-%d.sock", (int)getpid());
	char side[128];
	snprintf(side, sizeof(side), "%s_5000", path);
	on(SECCOMP_API, v_build);
	on(SECCOMP_VCPU, v_driver);

	/* Host-initiated: CONNECT, the guest accepts, data both ways. */
	int c = unix_socket(path, false);
	CHECK(write(c, "CONNECT 52\n", 11) == 11);
	struct vsock_hdr h = guest_gets(VSOCK_OP_REQUEST);
	uint32_t hp = h.src_port;
	guest_sends(52, hp, VSOCK_OP_RESPONSE, 0, NULL);
	char line[64] = { 0 };
	CHECK(read(c, line, sizeof(line) - 1) > 3 && !strncmp(line, "OK ", 3));
	CHECK(write(c, "ping", 4) == 4);
	h = guest_gets(VSOCK_OP_RW);
	CHECK(h.len == 4);
	guest_sends(52, hp, VSOCK_OP_RW, 0, "pong");
	CHECK(read(c, line, 4) == 4 && !memcmp(line, "pong", 4));

	/* Guest-initiated: to a host program listening on <uds_path>_5000. */
	int l = unix_socket(side, true);
	guest_sends(1234, 5000, VSOCK_OP_REQUEST, 0, NULL);
	int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	CHECK(a >= 0);
	guest_gets(VSOCK_OP_RESPONSE);

	/* The guest shuts the host-initiated connection down: the host reads its end. */
	guest_sends(52, hp, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, NULL);
	CHECK(closed_within(c, 30000));

	/* The driver resets the device (a vCPU): the I/O thread closes what is left. */
	on(SECCOMP_VCPU, v_reset);
	CHECK(closed_within(a, 30000));
	close(a);
	close(c);
	close(l);
	unlink(side);
	on(SECCOMP_API, v_teardown);
}

static void vsock_under_filters(void **state)
{
	(void)state;
	assert_int_equal(in_child(vsock_scenario), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(balloon_under_filters),
		cmocka_unit_test(vsock_under_filters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
