/*
 * The API's request router: (method, path, body) -> validated request -> controller call -> response.
 * Knows Firecracker's paths, bodies, status codes and fault messages; knows nothing of HTTP transport
 * (server.c) or of devices (the controller). Requests are handled one at a time.
 */
#ifndef WISP_API_ROUTER_H
#define WISP_API_ROUTER_H

#include <stdatomic.h>
#include <stddef.h>

#include "vmm/controller.h"

struct api_response {
	int status; /* 200 with a body, 204 without, 400 with {"fault_message": ...} */
	char *body; /* malloc'd JSON, or NULL */
};

/* Request counters, reported under get_/put_/patch_api_requests like Firecracker's. */
enum api_counter {
	CNT_GET_INSTANCE_INFO,
	CNT_GET_VERSION,
	CNT_GET_MACHINE_CFG,
	CNT_GET_VM_CONFIG,
	CNT_PUT_ACTIONS,
	CNT_PUT_ACTIONS_FAILS,
	CNT_PUT_BOOT_SOURCE,
	CNT_PUT_BOOT_SOURCE_FAILS,
	CNT_PUT_DRIVE,
	CNT_PUT_DRIVE_FAILS,
	CNT_PUT_LOGGER,
	CNT_PUT_LOGGER_FAILS,
	CNT_PUT_MACHINE_CFG,
	CNT_PUT_MACHINE_CFG_FAILS,
	CNT_PUT_METRICS,
	CNT_PUT_METRICS_FAILS,
	CNT_PUT_NETWORK,
	CNT_PUT_NETWORK_FAILS,
	CNT_PUT_ENTROPY,
	CNT_PUT_ENTROPY_FAILS,
	CNT_PUT_SERIAL,
	CNT_PUT_SERIAL_FAILS,
	CNT_PUT_SNAPSHOT,
	CNT_PUT_SNAPSHOT_FAILS,
	CNT_PUT_VSOCK,
	CNT_PUT_VSOCK_FAILS,
	CNT_PUT_BALLOON,
	CNT_PUT_BALLOON_FAILS,
	CNT_PATCH_BALLOON,
	CNT_PATCH_BALLOON_FAILS,
	CNT_PATCH_DRIVE,
	CNT_PATCH_DRIVE_FAILS,
	CNT_PATCH_NETWORK,
	CNT_PATCH_NETWORK_FAILS,
	CNT_PATCH_MACHINE_CFG,
	CNT_PATCH_MACHINE_CFG_FAILS,
	CNT_PATCH_VM,
	CNT_PATCH_VM_FAILS,
	CNT_BAD_REQUESTS, /* unknown paths, unsupported resources, malformed bodies */
	CNT_MAX
};

struct api_router {
	struct controller *c;
	struct logger *log;      /* the controller's */
	struct metrics *metrics; /* the controller's: the request counters, the server's startup figures */
	atomic_uint_fast64_t counters[CNT_MAX];
};

/* Registers the request counters with the metrics. */
void api_router__init(struct api_router *r, struct controller *c);
void api_router__exit(struct api_router *r);

/* Handle one request. `body` may be NULL (len 0 means no body). Never fails: errors are responses. */
void api_router__handle(struct api_router *r, const char *method, const char *path, const char *body, size_t len,
			struct api_response *out);
void api_response__free(struct api_response *resp);

/* A 400 response carrying `msg` (also used by the transport for its own errors). */
void api_response__fault(struct api_response *out, int status, const char *msg);

#endif
