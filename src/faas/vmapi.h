/* A client of one wisp process's Firecracker API on its Unix socket (what an orchestrator does). */
#ifndef WISP_FAAS_VMAPI_H
#define WISP_FAAS_VMAPI_H
#include <stddef.h>

/* METHOD PATH with a JSON body (or NULL) on the API socket SOCK. Returns the HTTP status, or -1 when the
 * socket cannot be reached (err says why). resp gets the response body, NUL-terminated (may be NULL). */
int vmapi__call(const char *sock, const char *method, const char *path, const char *body, char *resp, size_t n,
		char *err, size_t errn);

/* Wait until SOCK accepts connections, up to timeout_ms. 0 when it does, -1 on timeout. */
int vmapi__wait(const char *sock, int timeout_ms);

#endif
