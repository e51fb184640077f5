/*
 * HTTP on a Unix socket with libmicrohttpd. The library (and the TLS stack it pulls in: gnutls, nettle,
 * p11-kit, ... whose loading and constructors cost about as much as the rest of wisp's start) is opened
 * with dlopen when the API starts, so --no-api, --restore and --elf runs never load it.
 */
#include "api/server.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "log/log.h"
#include "log/metrics.h"

#ifndef WISP_MHD_SONAME
#define WISP_MHD_SONAME "libmicrohttpd.so.12"
#endif

/* Libraries wisp opens at run time, for tools that must bring them along (wisp-jailer's chroot). */
__attribute__((section(".wisp.dlopen"), used)) static const char dlopen_libs[] = WISP_MHD_SONAME;

/* The libmicrohttpd functions wisp calls, resolved from the library opened at api_server__start. */
struct api_mhd {
	void *lib;
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
	__typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
	__typeof__(&MHD_add_response_header) add_response_header;
	__typeof__(&MHD_queue_response) queue_response;
	__typeof__(&MHD_destroy_response) destroy_response;
	__typeof__(&MHD_lookup_connection_value) lookup_connection_value;
	__typeof__(&MHD_get_daemon_info) get_daemon_info;
	__typeof__(&MHD_get_timeout) get_timeout;
	__typeof__(&MHD_run) run;
};

/*
 * Open the library and resolve every function, or say why not. The library stays loaded: unloading the TLS
 * stack's global state buys nothing, and dlopen counts references itself.
 */
static struct api_mhd *mhd_open(char *err, size_t n)
{
	struct api_mhd *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	m->lib = dlopen(WISP_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!m->lib) {
		snprintf(err, n, "Cannot load %s for the API server: %s", WISP_MHD_SONAME, dlerror());
		free(m);
		return NULL;
	}
	struct {
		void **fn;
		const char *name;
	} syms[] = {
		{ (void **)&m->start_daemon, "MHD_start_daemon" },
		{ (void **)&m->stop_daemon, "MHD_stop_daemon" },
		{ (void **)&m->create_response_from_buffer, "MHD_create_response_from_buffer" },
		{ (void **)&m->add_response_header, "MHD_add_response_header" },
		{ (void **)&m->queue_response, "MHD_queue_response" },
		{ (void **)&m->destroy_response, "MHD_destroy_response" },
		{ (void **)&m->lookup_connection_value, "MHD_lookup_connection_value" },
		{ (void **)&m->get_daemon_info, "MHD_get_daemon_info" },
		{ (void **)&m->get_timeout, "MHD_get_timeout" },
		{ (void **)&m->run, "MHD_run" },
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].fn = dlsym(m->lib, syms[i].name);
		if (!*syms[i].fn) {
			snprintf(err, n, "Cannot load the API server: %s has no %s", WISP_MHD_SONAME, syms[i].name);
			free(m);
			return NULL;
		}
	}
	return m;
}

/* One request in progress on a connection. */
struct pending {
	char *body;
	size_t len, cap;
	size_t received; /* all body bytes seen, kept or not */
	bool too_big;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct api_server *s = cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	pr_warn(s->router->log, "API server: %s", msg);
}

static enum MHD_Result send_response(const struct api_mhd *mhd, struct MHD_Connection *conn,
				     struct api_response *resp)
{
	size_t len = resp->body ? strlen(resp->body) : 0;
	struct MHD_Response *r = mhd->create_response_from_buffer(len, resp->body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		api_response__free(resp);
		return MHD_NO;
	}
	resp->body = NULL; /* owned by MHD now */
	mhd->add_response_header(r, MHD_HTTP_HEADER_SERVER, "wisp API");
	if (len)
		mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result ret = mhd->queue_response(conn, (unsigned)resp->status, r);
	mhd->destroy_response(r);
	return ret;
}

static enum MHD_Result too_big(struct logger *lg, const struct api_mhd *mhd, struct MHD_Connection *conn, size_t size,
			       size_t limit)
{
	char msg[160];
	struct api_response resp;
	snprintf(msg, sizeof(msg), "Request payload with size %zu is larger than the limit of %zu allowed by server.",
		 size, limit);
	pr_warn(lg, "API request refused: %s", msg);
	api_response__fault(&resp, 400, msg);
	return send_response(mhd, conn, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	struct api_server *s = cls;
	struct pending *p = *ctx;
	(void)version;
	log__set_thread_name("api");
	if (!p) {
		/*
		 * First call: headers only. A body over the limit is refused; a moderately large one is read and
		 * dropped first, so clients that send it without waiting (no Expect: 100-continue) still get the
		 * answer rather than a reset connection. A huge declared length is answered at once.
		 */
		p = calloc(1, sizeof(*p));
		if (!p)
			return MHD_NO;
		*ctx = p;
		const char *cl = s->mhd->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(cl, &end, 10);
			if (!errno && *end == 0 && v > s->max_payload) {
				p->too_big = true;
				if (v > (unsigned long long)s->max_payload * API_DRAIN_FACTOR)
					return too_big(s->router->log, s->mhd, conn, (size_t)v, s->max_payload);
			}
		}
		return MHD_YES;
	}
	if (*upload_size) {
		p->received += *upload_size;
		if (!p->too_big && p->len + *upload_size > s->max_payload) {
			p->too_big = true;
			free(p->body);
			p->body = NULL;
			p->len = p->cap = 0;
		}
		if (!p->too_big) {
			if (p->len + *upload_size + 1 > p->cap) {
				size_t cap = p->len + *upload_size + 1;
				char *b = realloc(p->body, cap);
				if (!b)
					return MHD_NO;
				p->body = b;
				p->cap = cap;
			}
			memcpy(p->body + p->len, upload, *upload_size);
			p->len += *upload_size;
			p->body[p->len] = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (p->too_big)
		return too_big(s->router->log, s->mhd, conn, p->received, s->max_payload);
	struct api_response resp;
	api_router__handle(s->router, method, url, p->body, p->len, &resp);
	return send_response(s->mhd, conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx, enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)conn;
	(void)why;
	struct pending *p = *ctx;
	if (p) {
		free(p->body);
		free(p);
		*ctx = NULL;
	}
}

/* The API thread: libmicrohttpd's epoll descriptor and the stop eventfd; MHD_run does the work. */
static void *serve(void *opaque)
{
	struct api_server *s = opaque;
	seccomp__enter(SECCOMP_API);
	log__set_thread_name("api");
	const union MHD_DaemonInfo *info = s->mhd->get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	struct pollfd pfd[2] = { { .fd = info ? info->epoll_fd : -1, .events = POLLIN },
				 { .fd = s->stop_fd, .events = POLLIN } };
	for (;;) {
		MHD_UNSIGNED_LONG_LONG ms;
		int timeout = s->mhd->get_timeout(s->daemon, &ms) == MHD_YES ? (ms > 60000 ? 60000 : (int)ms) : -1;
		int r = poll(pfd, 2, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		s->mhd->run(s->daemon);
	}
	return NULL;
}

int api_server__load(struct api_server *s, char *err, size_t n)
{
	if (!s->mhd)
		s->mhd = mhd_open(err, n);
	return s->mhd ? 0 : -1;
}

int api_server__start(struct api_server *s, const char *path, size_t max_payload, struct api_router *router, char *err,
		      size_t n)
{
	struct api_mhd *loaded = s->mhd; /* api_server__load may have opened the library already */
	memset(s, 0, sizeof(*s));
	s->mhd = loaded;
	s->stop_fd = -1;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path) || !*path) {
		snprintf(err, n, "Failed to open the API socket %s: the path must be 1..%zu bytes", path,
			 sizeof(addr.sun_path) - 1);
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		snprintf(err, n, "Failed to open the API socket %s: the path already exists (remove it first)", path);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	struct api_mhd *mhd = s->mhd ? s->mhd : mhd_open(err, n);
	if (!mhd)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0) {
		snprintf(err, n, "Failed to open the API socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(mhd);
		return -1;
	}
	s->mhd = mhd;
	s->router = router;
	s->max_payload = max_payload ? max_payload : API_MAX_PAYLOAD_DEFAULT;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->daemon = mhd->start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
				      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_LISTEN_SOCKET, fd,
				      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	s->stop_fd = s->daemon ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
	if (!s->daemon || s->stop_fd < 0 || pthread_create(&s->thread, NULL, serve, s) != 0) {
		snprintf(err, n, "Failed to start the API server on %s", path);
		if (s->daemon)
			mhd->stop_daemon(s->daemon); /* closes fd */
		else
			close(fd);
		if (s->stop_fd >= 0)
			close(s->stop_fd);
		s->daemon = NULL;
		s->stop_fd = -1;
		unlink(path);
		free(mhd);
		s->mhd = NULL;
		return -1;
	}
	/* Firecracker's api_server startup metrics: time from process start to serving. */
	struct logger *lg = router->log;
	uint64_t t0 = lg ? lg->start_us : log__process_start_us(), cpu0 = lg ? lg->start_cpu_us : 0;
	atomic_store(&s->startup_us, log__now_us() - t0);
	uint64_t cpu = log__cpu_now_us();
	atomic_store(&s->startup_cpu_us, cpu > cpu0 ? cpu - cpu0 : cpu);
	metrics__register_value(router->metrics, "api_server", "process_startup_time_us", METRIC_GAUGE, &s->startup_us);
	metrics__register_value(router->metrics, "api_server", "process_startup_time_cpu_us", METRIC_GAUGE,
				&s->startup_cpu_us);
	pr_info(lg, "API server started on %s", path);
	return 0;
}

void api_server__stop(struct api_server *s)
{
	if (!s->daemon)
		return;
	uint64_t one = 1;
	if (write(s->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail on a fresh eventfd */
	}
	pthread_join(s->thread, NULL); /* after the request in progress */
	close(s->stop_fd);
	s->stop_fd = -1;
	s->mhd->stop_daemon(s->daemon); /* also closes the listening socket */
	s->daemon = NULL;
	free(s->mhd);
	s->mhd = NULL;
	unlink(s->path);
	metrics__unregister(s->router->metrics, &s->startup_us);
	metrics__unregister(s->router->metrics, &s->startup_cpu_us);
}
