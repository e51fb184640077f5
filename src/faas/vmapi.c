/*
 * HTTP/1.1 requests to a wisp API socket. The requests are tiny and one per connection (Connection: close),
 * so the response is read to EOF and split at the blank line.
 */
#include "faas/vmapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int uds_connect(const char *sock)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(sock) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a.sun_path, sock);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

int vmapi__wait(const char *sock, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 2) {
		int s = uds_connect(sock);
		if (s >= 0) {
			close(s);
			return 0;
		}
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	return -1;
}

int vmapi__call(const char *sock, const char *method, const char *path, const char *body, char *resp, size_t n,
		char *err, size_t errn)
{
	int s = uds_connect(sock);
	if (s < 0) {
		snprintf(err, errn, "cannot connect to %s: %s", sock, strerror(errno));
		return -1;
	}
	size_t blen = body ? strlen(body) : 0;
	char head[512];
	int hl = snprintf(head, sizeof(head),
			  "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAccept: application/json\r\n"
			  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			  method, path, blen);
	if (hl < 0 || (size_t)hl >= sizeof(head) || send(s, head, (size_t)hl, MSG_NOSIGNAL) != hl ||
	    (blen && send(s, body, blen, MSG_NOSIGNAL) != (ssize_t)blen)) {
		snprintf(err, errn, "cannot send %s %s to %s", method, path, sock);
		close(s);
		return -1;
	}
	char buf[8192];
	size_t got = 0;
	ssize_t r;
	while (got < sizeof(buf) - 1 && (r = read(s, buf + got, sizeof(buf) - 1 - got)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)r;
	}
	close(s);
	buf[got] = 0;
	int status = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		snprintf(err, errn, "no HTTP response from %s to %s %s", sock, method, path);
		return -1;
	}
	char *b = strstr(buf, "\r\n\r\n");
	b = b ? b + 4 : buf + got;
	if (resp && n)
		snprintf(resp, n, "%s", b);
	if (status >= 300)
		snprintf(err, errn, "%s %s: HTTP %d %s", method, path, status, b);
	return status;
}
