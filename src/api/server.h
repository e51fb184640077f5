/*
 * The API's HTTP/1.1 transport: libmicrohttpd on a Unix socket wisp creates itself (refusing a path that
 * already exists, as Firecracker does), served by one thread of wisp's own (so that it runs under the API's
 * seccomp filter) that runs libmicrohttpd's epoll loop and serves requests one at a time. Bodies are
 * collected up to max_payload bytes (Firecracker's --http-api-max-payload-size, 51200 by default) and
 * handed to the router. libmicrohttpd is loaded (dlopen) only when a server starts.
 */
#ifndef WISP_API_SERVER_H
#define WISP_API_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/router.h"

#define API_MAX_PAYLOAD_DEFAULT 51200
#define API_DEFAULT_SOCKET "/run/wisp.socket"
#define API_DRAIN_FACTOR 16 /* bodies up to 16x the limit are read (and dropped) before the 400 */

struct MHD_Daemon;
struct api_mhd;

struct api_server {
	struct MHD_Daemon *daemon;
	struct api_mhd *mhd; /* libmicrohttpd, opened by api_server__start */
	struct api_router *router;
	size_t max_payload;
	char path[108];
	pthread_t thread;
	int stop_fd; /* an eventfd: wakes the thread to stop */
	/* Firecracker's api_server startup metrics: process start to serving, wall and CPU. */
	atomic_uint_fast64_t startup_us, startup_cpu_us;
};

/* Create the socket at `path` and start serving. -1 with a message in err on failure. */
/* Open libmicrohttpd now (before the process's seccomp filters, which forbid loading code); start does
 * it itself otherwise. */
int api_server__load(struct api_server *s, char *err, size_t n);
int api_server__start(struct api_server *s, const char *path, size_t max_payload, struct api_router *router, char *err,
		      size_t n);
/* Stop serving (waits for the request in progress), close and remove the socket. */
void api_server__stop(struct api_server *s);

#endif
