/*
 * wisp-vsock: a vsock client for the wisp guest's tests. Connects to CID:PORT (the host is CID 2), writes
 * MESSAGE, shuts its sending side down and copies whatever comes back to standard output until the peer
 * closes. Exit status 0 when the peer answered something.
 *
 * usage: wisp-vsock CID PORT MESSAGE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h> /* after sys/socket.h: it needs struct sockaddr */
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: wisp-vsock CID PORT MESSAGE\n");
		return 2;
	}
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = (unsigned)strtoul(argv[1], NULL, 10),
				 .svm_port = (unsigned)strtoul(argv[2], NULL, 10) };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("wisp-vsock: connect");
		return 1;
	}
	size_t len = strlen(argv[3]);
	if (write(s, argv[3], len) != (ssize_t)len) {
		perror("wisp-vsock: write");
		return 1;
	}
	shutdown(s, SHUT_WR);
	char buf[4096];
	size_t got = 0;
	ssize_t r;
	while ((r = read(s, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)r, stdout);
		got += (size_t)r;
	}
	printf("\n");
	close(s);
	return got ? 0 : 1;
}
