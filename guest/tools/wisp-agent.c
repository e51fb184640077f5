/*
 * wisp-agent: the guest side of wisp-faas (docs/faas.md). Started by /etc/rcS when the kernel command line
 * has wisp.agent=1. It mounts the function's drive (/dev/vda, ext4, read-only) on /fn, listens on vsock port
 * 1024, then tells the host it is ready by connecting to the host (CID 2) port 1025 and writing "READY\n".
 *
 * One invocation per connection, one connection at a time. Frames both ways: a type byte, a u32
 * little-endian length, that many bytes.
 *   host -> guest: 'I' stdin bytes (any number of frames), 'E' (length 0) end of stdin; or, alone, 'P' (length
 *                  0): a probe, answered with 'P' without running anything (the host's check after a restore)
 *   guest -> host: 'O' stdout bytes, 'R' stderr bytes, then 'X' with a u32 wait status, last
 * The handler is /fn/handler, run in /fn with stdin/stdout/stderr on pipes.
 *
 * A second drive, when there is one, is a runtime (Python, built by guest/python.sh): a root file system the
 * agent mounts on /rt, with /fn bind-mounted inside, and chroots each handler into. Its /etc/wisp-warmup runs once
 * before READY, so the snapshot taken then holds the runtime's files in the page cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h> /* after sys/socket.h: it needs struct sockaddr */
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORT_INVOKE 1024
#define PORT_READY  1025
#define HANDLER	    "/fn/handler"

#define ZYGOTE_SOCK "/rt/tmp/zygote.sock"

static int runtime; /* a runtime drive is mounted on /rt */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int frame(int s, char type, const void *data, uint32_t len)
{
	unsigned char h[5] = { (unsigned char)type, len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, len >> 24 };
	return write_all(s, h, 5) < 0 || (len && write_all(s, data, len) < 0) ? -1 : 0;
}

/*
 * A runtime's zygote (its /etc/wisp-zygote, e.g. guest/python.sh's Python one) is started before READY, so the
 * snapshot holds a runtime that has already started and imported its modules. Per invocation the agent passes it
 * the handler's stdin/stdout/stderr (SCM_RIGHTS) on /tmp/zygote.sock inside the runtime; it forks, runs
 * /fn/handler in the child and answers with the child's wait status (u32, little-endian) on the same connection.
 * Returns that connection, or -1 to fork and exec the handler here instead.
 */
static int zygote;

static int zygote_start(int in, int out, int err)
{
	if (!zygote)
		return -1;
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = ZYGOTE_SOCK };
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (c >= 0)
			close(c);
		return -1;
	}
	int fds[3] = { in, out, err };
	char ctl[CMSG_SPACE(sizeof(fds))] = { 0 };
	char one = 'F';
	struct iovec iov = { &one, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(c, &m, 0) != 1) {
		close(c);
		return -1;
	}
	return c;
}

/* Only a Python script goes to the Python zygote: "#!" and "python" on its first line. */
static int handler_is_python(void)
{
	char line[256] = { 0 };
	int fd = open(HANDLER, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, line, sizeof(line) - 1);
	if (fd >= 0)
		close(fd);
	if (n < 2 || line[0] != '#' || line[1] != '!')
		return 0;
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = 0;
	return strstr(line, "python") != NULL;
}

static void zygote_launch(void)
{
	if (access("/rt/etc/wisp-zygote", X_OK) < 0 || !handler_is_python())
		return;
	pid_t p = fork();
	if (p == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		if (chroot("/rt") < 0 || chdir("/") < 0)
			_exit(126);
		execl("/etc/wisp-zygote", "/etc/wisp-zygote", (char *)NULL);
		_exit(127);
	}
	if (p < 0)
		return;
	for (int i = 0; i < 6000; i++) { /* up to 60 s: an interpreter starting on an emulated CPU */
		if (access(ZYGOTE_SOCK, F_OK) == 0) {
			zygote = 1;
			return;
		}
		if (waitpid(p, NULL, WNOHANG) == p)
			break;
		usleep(10000);
	}
	fprintf(stderr, "wisp-agent: the runtime's zygote did not start; handlers run without it\n");
}

/* One invocation on connection s. Returns -1 when the connection broke. */
static int invoke(int s, const unsigned char first[5])
{
	int in[2], out[2], err[2];
	if (pipe(in) < 0 || pipe(out) < 0 || pipe(err) < 0)
		return -1;
	int z = zygote_start(in[0], out[1], err[1]);
	pid_t pid = z >= 0 ? 0 : fork();
	if (pid < 0)
		return -1;
	if (z < 0 && pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		for (int fd = 3; fd < 64; fd++)
			close(fd);
		if (runtime && (chroot("/rt") < 0 || chdir("/") < 0))
			_exit(126);
		if (chdir("/fn") < 0)
			_exit(126);
		execl(HANDLER, HANDLER, (char *)NULL);
		perror("wisp-agent: exec " HANDLER);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	/* stdin frames from s -> in[1]; out[0], err[0] -> frames on s. */
	char pend[65536];
	size_t plen = 0, poff = 0;
	uint32_t frame_left = 0;
	int in_open = 1, host_open = 1, outs = 2, broken = 0;
	if (first[0] == 'E')
		host_open = 0;
	else
		frame_left = first[1] | first[2] << 8 | first[3] << 16 | (uint32_t)first[4] << 24;
	while (outs > 0) {
		struct pollfd p[4] = { { .fd = -1 },
				       { .fd = -1 },
				       { .fd = out[0], .events = POLLIN },
				       { .fd = err[0], .events = POLLIN } };
		if (in_open && plen > poff)
			p[0] = (struct pollfd){ .fd = in[1], .events = POLLOUT };
		else if (host_open && !broken)
			p[1] = (struct pollfd){ .fd = s, .events = POLLIN };
		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t w = write(in[1], pend + poff, plen - poff);
			if (w > 0)
				poff += (size_t)w;
			else if (w < 0 && errno != EAGAIN) {
				close(in[1]);
				in_open = 0;
			}
		}
		if (p[1].revents) {
			if (!frame_left) {
				unsigned char h[5];
				if (read_all(s, h, 5) < 0) {
					broken = 1;
					host_open = 0;
				} else if (h[0] == 'E') {
					host_open = 0;
				} else {
					frame_left = h[1] | h[2] << 8 | h[3] << 16 | (uint32_t)h[4] << 24;
				}
				if (!host_open && in_open) {
					/* closed below once pending bytes are written */
				}
			} else {
				size_t want = frame_left < sizeof(pend) ? frame_left : sizeof(pend);
				ssize_t r = read(s, pend, want);
				if (r <= 0) {
					broken = 1;
					host_open = 0;
				} else {
					frame_left -= (uint32_t)r;
					plen = (size_t)r;
					poff = 0;
					if (!in_open)
						plen = poff = 0; /* the handler stopped reading: discard */
				}
			}
		}
		if (!host_open && in_open && poff >= plen) {
			close(in[1]);
			in_open = 0;
		}
		for (int i = 2; i < 4; i++) {
			if (!p[i].revents)
				continue;
			char buf[16384];
			ssize_t r = read(p[i].fd, buf, sizeof(buf));
			if (r > 0) {
				if (!broken && frame(s, i == 2 ? 'O' : 'R', buf, (uint32_t)r) < 0)
					broken = 1;
			} else {
				close(p[i].fd);
				if (i == 2)
					out[0] = -1;
				else
					err[0] = -1;
				outs--;
			}
		}
	}
	if (in_open)
		close(in[1]);
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	int st = 0;
	if (z >= 0) {
		unsigned char zb[4];
		st = read_all(z, zb, 4) < 0 ? 0x7f00 /* exit 127 */
					    : (int)(zb[0] | zb[1] << 8 | zb[2] << 16 | (uint32_t)zb[3] << 24);
		close(z);
	} else {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	uint32_t w = (uint32_t)st;
	unsigned char b[4] = { w & 0xff, (w >> 8) & 0xff, (w >> 16) & 0xff, w >> 24 };
	if (broken || frame(s, 'X', b, 4) < 0)
		return -1;
	return 0;
}

static void ready(void)
{
	for (int tries = 0; tries < 100; tries++) {
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = PORT_READY };
		int c = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0) {
			write_all(c, "READY\n", 6);
			char b;
			while (read(c, &b, 1) > 0) /* until the host closes: it has seen us */
				;
			close(c);
			return;
		}
		if (c >= 0)
			close(c);
		usleep(100000);
	}
	fprintf(stderr, "wisp-agent: the host never took the ready connection\n");
}

/* Mount the function's drive on /fn and a runtime drive on /rt: told apart by what they hold, not by order. */
static void mount_drives(void)
{
	static const char *const devs[] = { "/dev/vda", "/dev/vdb" };
	mkdir("/fn", 0755);
	mkdir("/rt", 0755);
	mkdir("/mnt", 0755);
	for (int i = 0; i < 2; i++) {
		if (access(devs[i], F_OK) < 0)
			continue;
		if (mount(devs[i], "/mnt", "ext4", MS_RDONLY, "noload") < 0) {
			fprintf(stderr, "wisp-agent: mount %s: %s\n", devs[i], strerror(errno));
			continue;
		}
		int fn = access("/mnt/handler", F_OK) == 0;
		if (mount("/mnt", fn ? "/fn" : "/rt", NULL, MS_MOVE, NULL) < 0)
			fprintf(stderr, "wisp-agent: move %s: %s\n", devs[i], strerror(errno));
		else if (!fn)
			runtime = 1;
	}
	if (!runtime)
		return;
	if (mount("/fn", "/rt/fn", NULL, MS_BIND, NULL) < 0 || mount("proc", "/rt/proc", "proc", 0, NULL) < 0 ||
	    mount("devtmpfs", "/rt/dev", "devtmpfs", 0, NULL) < 0 || mount("tmpfs", "/rt/tmp", "tmpfs", 0, NULL) < 0)
		fprintf(stderr, "wisp-agent: runtime mounts: %s\n", strerror(errno));
	if (access("/rt/etc/wisp-warmup", X_OK) == 0) {
		pid_t p = fork();
		if (p == 0) {
			if (chroot("/rt") < 0 || chdir("/") < 0)
				_exit(126);
			execl("/etc/wisp-warmup", "/etc/wisp-warmup", (char *)NULL);
			_exit(127);
		}
		int st;
		if (p > 0)
			waitpid(p, &st, 0);
	}
	zygote_launch();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mount_drives();
	int l = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = PORT_INVOKE };
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0) {
		perror("wisp-agent: vsock listen");
		return 1;
	}
	ready();
	for (;;) {
		int s = accept(l, NULL, NULL);
		if (s < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == ECONNRESET)
				continue;
			usleep(10000);
			continue;
		}
		unsigned char h[5];
		if (read_all(s, h, 5) == 0) {
			if (h[0] == 'P')
				frame(s, 'P', NULL, 0);
			else if (h[0] == 'I' || h[0] == 'E')
				invoke(s, h);
		}
		close(s);
	}
}
