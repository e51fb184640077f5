/*
 * Function microVMs: each is a `wisp` process driven through its API socket. The origin of a function boots
 * its guest with the agent, waits for READY on vsock, pauses and writes a Full snapshot (the cold-start
 * image); a clone is a new wisp loading that snapshot with its own vsock socket. Invocations speak the
 * agent's framed protocol (guest/tools/wisp-agent.c) through Firecracker's vsock handshake.
 */
#ifndef WISP_FAAS_VM_H
#define WISP_FAAS_VM_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define VM_PATH_MAX 256

struct vm_spec {
	const char *wisp; /* the wisp binary */
	const char *kernel, *initrd;
	const char *runtime; /* a runtime drive (guest/python.sh's python.ext4), or NULL for busybox only */
	unsigned mem_mib;
};

struct faas_vm {
	pid_t pid;
	char dir[VM_PATH_MAX]; /* the instance's own directory: api.sock, v.sock, vm.log */
	char api[VM_PATH_MAX + 16], vsock[VM_PATH_MAX + 16];
};

struct vm_result {
	char *out, *err; /* malloc'ed, NUL-terminated */
	size_t out_len, err_len;
	bool truncated; /* more than VM_OUTPUT_MAX of either */
	int status;	/* wait status from the guest */
};
#define VM_OUTPUT_MAX (6u << 20)

enum vm_outcome { VM_OK = 0, VM_BROKEN = -1, VM_TIMEOUT = -2 };

/* Check that PATH can be a handler: executable, and a RISC-V 64-bit ELF or a "#!" script. */
int vm__check_handler(const char *path, char *err, size_t n);
/* Build FNDIR/fn.ext4 holding EXECUTABLE as "handler" and FILES by their base names. */
int vm__make_drive(const char *fndir, const char *executable, const char *const *files, size_t nfiles, char *err,
		   size_t n);
/* Boot the origin in FNDIR, wait for the agent, write FNDIR/snap.state and snap.mem, end the origin. */
int vm__make_snapshot(const struct vm_spec *spec, const char *fndir, char *err, size_t n);
/* A clone of FNDIR's snapshot in directory DIR (created); backend: wisp's --cpu-backend, or NULL for its default. */
int vm__clone(const char *wisp, const char *backend, const char *fndir, const char *dir, struct faas_vm *vm, char *err,
	      size_t n);
/* One invocation; stdin IN. timeout_ms bounds the whole exchange. */
enum vm_outcome vm__invoke(struct faas_vm *vm, const void *in, size_t in_len, int timeout_ms, struct vm_result *r);
void vm__result_free(struct vm_result *r);
/* Kill the process, reap it, remove its directory. */
void vm__destroy(struct faas_vm *vm);
/* Remove a directory tree (the function's state). */
int vm__rmtree(const char *dir);

#endif
