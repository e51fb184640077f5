/*
 * wisp-echo: an echo server for the wisp guest's tests and benchmarks. Every byte a client sends comes
 * back; when the client stops sending (EOF) the rest is echoed, then the connection is shut down and closed.
 * Many clients at once (poll), over vsock by default or TCP with -t.
 *
 * usage: wisp-echo [-t] PORT      (prints "LISTENING <port>" once ready; runs until killed)
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h> /* after sys/socket.h: it needs struct sockaddr */
#include <unistd.h>

#define MAX_CLIENTS 1024
#define BUF 65536

struct client {
	int fd;
	char *buf;
	size_t len; /* bytes read, not yet written back */
	int eof;
};

static struct client cl[MAX_CLIENTS];
static struct pollfd pfd[MAX_CLIENTS + 1];

static void drop(int i)
{
	close(cl[i].fd);
	free(cl[i].buf);
	cl[i] = (struct client){ .fd = -1 };
}

int main(int argc, char **argv)
{
	int tcp = argc > 2 && !strcmp(argv[1], "-t");
	if (argc != 2 + tcp) {
		fprintf(stderr, "usage: wisp-echo [-t] PORT\n");
		return 2;
	}
	unsigned port = (unsigned)strtoul(argv[1 + tcp], NULL, 10);
	int s;
	if (tcp) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int one = 1;
		s = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("wisp-echo: bind");
			return 1;
		}
	} else {
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_port = port, .svm_cid = VMADDR_CID_ANY };
		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("wisp-echo: bind");
			return 1;
		}
	}
	if (listen(s, 256) < 0) {
		perror("wisp-echo: listen");
		return 1;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		cl[i].fd = -1;
	printf("LISTENING %u\n", port);
	fflush(stdout);
	for (;;) {
		int n = 0, map[MAX_CLIENTS];
		pfd[n++] = (struct pollfd){ .fd = s, .events = POLLIN };
		for (int i = 0; i < MAX_CLIENTS; i++) {
			if (cl[i].fd < 0)
				continue;
			short ev = 0;
			if (!cl[i].eof && cl[i].len < BUF)
				ev |= POLLIN;
			if (cl[i].len)
				ev |= POLLOUT;
			map[n - 1] = i;
			pfd[n++] = (struct pollfd){ .fd = cl[i].fd, .events = ev };
		}
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("wisp-echo: poll");
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept(s, NULL, NULL);
			int i = 0;
			while (fd >= 0 && i < MAX_CLIENTS && cl[i].fd >= 0)
				i++;
			if (fd >= 0 && i < MAX_CLIENTS) {
				if (tcp) {
					int one = 1;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				}
				cl[i] = (struct client){ .fd = fd, .buf = malloc(BUF) };
			} else if (fd >= 0) {
				close(fd);
			}
		}
		for (int k = 1; k < n; k++) {
			struct client *c = &cl[map[k - 1]];
			short re = pfd[k].revents;
			if (c->fd < 0 || !re)
				continue;
			if ((re & (POLLIN | POLLHUP | POLLERR)) && !c->eof && c->len < BUF) {
				ssize_t r = read(c->fd, c->buf + c->len, BUF - c->len);
				if (r > 0)
					c->len += (size_t)r;
				else if (r == 0 || errno != EAGAIN)
					c->eof = 1;
			}
			if (c->len && (re & (POLLOUT | POLLIN | POLLHUP | POLLERR))) {
				ssize_t w = write(c->fd, c->buf, c->len);
				if (w > 0) {
					memmove(c->buf, c->buf + w, c->len - (size_t)w);
					c->len -= (size_t)w;
				} else if (w < 0 && errno != EAGAIN) {
					drop(map[k - 1]);
					continue;
				}
			}
			if (c->eof && !c->len) {
				shutdown(c->fd, SHUT_WR);
				drop(map[k - 1]);
			}
		}
	}
}
