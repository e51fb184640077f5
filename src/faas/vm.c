/*
 * Function microVMs as wisp processes (see vm.h). Everything here talks to wisp only through its command line,
 * its API socket and the vsock Unix socket; nothing of the VMM is linked.
 */
#include "faas/vm.h"
#include "faas/vmapi.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PORT_INVOKE	1024
#define PORT_READY	1025
#define GUEST_CID	3
#define BOOT_TIMEOUT_MS 300000

/* Unix socket addresses hold 107 bytes: paths under the state directory must fit. */
static int sun_set(struct sockaddr_un *a, const char *path)
{
	size_t l = strlen(path);
	if (l >= sizeof(a->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(a->sun_path, path, l + 1);
	return 0;
}

static int handshake(struct faas_vm *vm, long long deadline, enum vm_outcome *rc);
static int send_frame(int s, char type, const void *data, uint32_t len);
static int recv_until(int s, void *p, size_t n, long long deadline);

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int vm__check_handler(const char *path, char *err, size_t n)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(err, n, "executable %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
		snprintf(err, n, "executable %s is not an executable regular file", path);
		return -1;
	}
	unsigned char h[64] = { 0 };
	FILE *f = fopen(path, "rb");
	size_t got = f ? fread(h, 1, sizeof(h), f) : 0;
	if (f)
		fclose(f);
	if (got >= 2 && h[0] == '#' && h[1] == '!')
		return 0;
	if (got < sizeof(Elf64_Ehdr) || memcmp(h, ELFMAG, SELFMAG)) {
		snprintf(err, n, "executable %s is neither an ELF program nor a #! script", path);
		return -1;
	}
	uint16_t machine = (uint16_t)(h[18] | h[19] << 8);
	if (h[EI_CLASS] != ELFCLASS64 || h[EI_DATA] != ELFDATA2LSB || machine != EM_RISCV) {
		snprintf(err, n, "executable %s is not a 64-bit RISC-V ELF (class %u, machine %u)", path, h[EI_CLASS],
			 machine);
		return -1;
	}
	return 0;
}

/* Run argv (no shell), wait; 0 when it exited with 0. Its output goes to LOG (or stays ours if NULL). */
static int run(char *const argv[], const char *log, char *err, size_t n)
{
	pid_t p = fork();
	if (p < 0) {
		snprintf(err, n, "fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		int fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		if (log) {
			int l = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
			dup2(l, 1);
			dup2(l, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(err, n, "%s failed (status %d)", argv[0], st);
		return -1;
	}
	return 0;
}

static int copy_file(const char *from, const char *to, mode_t mode, off_t *total, char *err, size_t n)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(err, n, "file %s: %s", from, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, n, "file %s is not a regular file", from);
		close(in);
		return -1;
	}
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		snprintf(err, n, "%s: %s", to, strerror(errno));
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t r;
	int rc = 0;
	while ((r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)r) != r) {
			rc = -1;
			break;
		}
	if (r < 0 || rc < 0) {
		snprintf(err, n, "copying %s: %s", from, strerror(errno));
		rc = -1;
	}
	*total += st.st_size;
	close(in);
	close(out);
	return rc;
}

int vm__make_drive(const char *fndir, const char *executable, const char *const *files, size_t nfiles, char *err,
		   size_t n)
{
	char stage[VM_PATH_MAX + 16], p[2 * VM_PATH_MAX], img[VM_PATH_MAX + 16];
	snprintf(stage, sizeof(stage), "%s/files", fndir);
	snprintf(img, sizeof(img), "%s/fn.ext4", fndir);
	if (mkdir(stage, 0755) < 0 && errno != EEXIST) {
		snprintf(err, n, "%s: %s", stage, strerror(errno));
		return -1;
	}
	off_t total = 0;
	snprintf(p, sizeof(p), "%s/handler", stage);
	if (copy_file(executable, p, 0755, &total, err, n) < 0)
		return -1;
	for (size_t i = 0; i < nfiles; i++) {
		char tmp[VM_PATH_MAX];
		snprintf(tmp, sizeof(tmp), "%s", files[i]);
		snprintf(p, sizeof(p), "%s/%s", stage, basename(tmp));
		struct stat st;
		if (stat(files[i], &st) < 0) {
			snprintf(err, n, "file %s: %s", files[i], strerror(errno));
			return -1;
		}
		if (copy_file(files[i], p, st.st_mode & 0777, &total, err, n) < 0)
			return -1;
	}
	/* ext4 with room for metadata: twice the content plus 4 MiB, in KiB blocks. */
	char size[32];
	snprintf(size, sizeof(size), "%lldk", (long long)(total * 2 / 1024 + 4096));
	char *argv[] = { "mkfs.ext4", "-q", "-F", "-L", "wispfn", "-d", stage, img, size, NULL };
	return run(argv, NULL, err, n);
}

/* backend: WISP_CPU_BACKEND for the child (the command-line option would count as boot configuration and
 * forbid a snapshot load), NULL to leave the environment as it is. */
static pid_t spawn_wisp(const char *wisp, char *const extra[], const char *log, const char *backend)
{
	pid_t p = fork();
	if (p != 0)
		return p;
	int fd = open("/dev/null", O_RDWR);
	int l = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	dup2(fd, 0);
	dup2(l < 0 ? fd : l, 1);
	dup2(l < 0 ? fd : l, 2);
	setpgid(0, 0); /* a terminal's Ctrl-C goes to the daemon, which ends its VMs itself */
	if (backend)
		setenv("WISP_CPU_BACKEND", backend, 1);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* the daemon blocks SIGINT/SIGTERM for its sigwait */
	signal(SIGPIPE, SIG_DFL);
	char *argv[16];
	int a = 0;
	argv[a++] = (char *)wisp;
	for (int i = 0; extra[i] && a < 15; i++)
		argv[a++] = extra[i];
	argv[a] = NULL;
	execv(wisp, argv);
	_exit(127);
}

static void kill_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Listen on PATH (a Unix socket), accept one connection and read "READY\n" within timeout_ms. */
static int wait_ready(const char *path, pid_t pid, int timeout_ms, char *err, size_t n)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	unlink(path);
	int l = sun_set(&a, path) < 0 ? -1 : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0) {
		snprintf(err, n, "ready socket %s: %s", path, strerror(errno));
		if (l >= 0)
			close(l);
		return -1;
	}
	long long end = now_ms() + timeout_ms;
	int rc = -1;
	snprintf(err, n, "the guest agent did not report ready within %d s", timeout_ms / 1000);
	while (now_ms() < end) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			snprintf(err, n, "wisp ended while the guest booted (see its log)");
			break;
		}
		struct pollfd p = { .fd = l, .events = POLLIN };
		if (poll(&p, 1, 200) <= 0)
			continue;
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		char buf[16] = { 0 };
		size_t got = 0;
		while (got < 6) {
			struct pollfd q = { .fd = c, .events = POLLIN };
			if (poll(&q, 1, 5000) <= 0)
				break;
			ssize_t r = read(c, buf + got, 6 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		close(c);
		if (got == 6 && !memcmp(buf, "READY\n", 6)) {
			rc = 0;
			break;
		}
	}
	close(l);
	unlink(path);
	return rc;
}

int vm__make_snapshot(const struct vm_spec *spec, const char *fndir, char *err, size_t n)
{
	char api[VM_PATH_MAX + 16], vs[VM_PATH_MAX + 16], ready[VM_PATH_MAX + 32], cfg[VM_PATH_MAX + 16],
	    log[VM_PATH_MAX + 16], drive[VM_PATH_MAX + 16], state[VM_PATH_MAX + 16], mem[VM_PATH_MAX + 16];
	snprintf(api, sizeof(api), "%s/origin.sock", fndir);
	snprintf(vs, sizeof(vs), "%s/origin.v", fndir);
	snprintf(ready, sizeof(ready), "%s_%d", vs, PORT_READY);
	snprintf(cfg, sizeof(cfg), "%s/origin.json", fndir);
	snprintf(log, sizeof(log), "%s/origin.log", fndir);
	snprintf(drive, sizeof(drive), "%s/fn.ext4", fndir);
	snprintf(state, sizeof(state), "%s/snap.state", fndir);
	snprintf(mem, sizeof(mem), "%s/snap.mem", fndir);

	cJSON *j = cJSON_CreateObject(), *b = cJSON_AddObjectToObject(j, "boot-source");
	cJSON_AddStringToObject(b, "kernel_image_path", spec->kernel);
	cJSON_AddStringToObject(b, "initrd_path", spec->initrd);
	cJSON_AddStringToObject(b, "boot_args", "console=ttyS0 panic=1 quiet wisp.agent=1");
	cJSON *m = cJSON_AddObjectToObject(j, "machine-config");
	cJSON_AddNumberToObject(m, "vcpu_count", 1);
	cJSON_AddNumberToObject(m, "mem_size_mib", spec->mem_mib);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "drive_id", "fn");
	cJSON_AddStringToObject(d, "path_on_host", drive);
	cJSON_AddBoolToObject(d, "is_root_device", 0);
	cJSON_AddBoolToObject(d, "is_read_only", 1);
	cJSON *drives = cJSON_AddArrayToObject(j, "drives");
	cJSON_AddItemToArray(drives, d);
	if (spec->runtime) {
		cJSON *rt = cJSON_CreateObject();
		cJSON_AddStringToObject(rt, "drive_id", "runtime");
		cJSON_AddStringToObject(rt, "path_on_host", spec->runtime);
		cJSON_AddBoolToObject(rt, "is_root_device", 0);
		cJSON_AddBoolToObject(rt, "is_read_only", 1);
		cJSON_AddItemToArray(drives, rt);
	}
	cJSON *v = cJSON_AddObjectToObject(j, "vsock");
	cJSON_AddNumberToObject(v, "guest_cid", GUEST_CID);
	cJSON_AddStringToObject(v, "uds_path", vs);
	char *txt = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	FILE *f = fopen(cfg, "w");
	int ok = f && txt && fputs(txt, f) >= 0;
	if (f && fclose(f))
		ok = 0;
	free(txt);
	if (!ok) {
		snprintf(err, n, "%s: %s", cfg, strerror(errno));
		return -1;
	}
	unlink(api);
	/* The ready listener must exist before the guest connects: bind it first, in wait_ready's socket... the
	 * agent retries for 10 s, so binding right after the spawn is early enough. */
	char *args[] = { "--seccomp-trap", "--api-sock", api, "--config-file", cfg, NULL };
	pid_t pid = spawn_wisp(spec->wisp, args, log, NULL);
	if (pid < 0) {
		snprintf(err, n, "cannot start %s: %s", spec->wisp, strerror(errno));
		return -1;
	}
	int rc = -1;
	char resp[1024], why[512] = "out of memory";
	if (wait_ready(ready, pid, BOOT_TIMEOUT_MS, err, n) < 0)
		goto out;
	if (vmapi__call(api, "PATCH", "/vm", "{\"state\": \"Paused\"}", resp, sizeof(resp), why, sizeof(why)) != 204) {
		snprintf(err, n, "pausing the origin: %s", why);
		goto out;
	}
	cJSON *sc = cJSON_CreateObject();
	cJSON_AddStringToObject(sc, "snapshot_type", "Full");
	cJSON_AddStringToObject(sc, "snapshot_path", state);
	cJSON_AddStringToObject(sc, "mem_file_path", mem);
	char *body = cJSON_PrintUnformatted(sc);
	cJSON_Delete(sc);
	int st = body ? vmapi__call(api, "PUT", "/snapshot/create", body, resp, sizeof(resp), why, sizeof(why)) : -1;
	free(body);
	if (st != 204) {
		snprintf(err, n, "snapshot of the origin: %s", why);
		goto out;
	}
	rc = 0;
out:
	kill_reap(pid);
	unlink(api);
	unlink(vs);
	return rc;
}

int vm__clone(const char *wisp, const char *backend, const char *fndir, const char *dir, struct faas_vm *vm, char *err,
	      size_t n)
{
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->dir, sizeof(vm->dir), "%s", dir);
	snprintf(vm->api, sizeof(vm->api), "%s/api.sock", dir);
	snprintf(vm->vsock, sizeof(vm->vsock), "%s/v.sock", dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, n, "%s: %s", dir, strerror(errno));
		return -1;
	}
	char log[VM_PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/vm.log", dir);
	char *args[] = { "--seccomp-trap", "--api-sock", vm->api, NULL };
	vm->pid = spawn_wisp(wisp, args, log, backend);
	if (vm->pid < 0) {
		snprintf(err, n, "cannot start %s: %s", wisp, strerror(errno));
		return -1;
	}
	char why[512] = "out of memory", resp[1024];
	if (vmapi__wait(vm->api, 30000) < 0) {
		snprintf(err, n, "the clone's API socket %s never appeared", vm->api);
		goto fail;
	}
	char state[VM_PATH_MAX + 16], mem[VM_PATH_MAX + 16];
	snprintf(state, sizeof(state), "%s/snap.state", fndir);
	snprintf(mem, sizeof(mem), "%s/snap.mem", fndir);
	cJSON *l = cJSON_CreateObject(), *mb = cJSON_AddObjectToObject(l, "mem_backend");
	cJSON_AddStringToObject(l, "snapshot_path", state);
	cJSON_AddStringToObject(mb, "backend_type", "File");
	cJSON_AddStringToObject(mb, "backend_path", mem);
	cJSON_AddBoolToObject(l, "resume_vm", 1);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(l, "vsock_override"), "uds_path", vm->vsock);
	char *body = cJSON_PrintUnformatted(l);
	cJSON_Delete(l);
	int st = body ? vmapi__call(vm->api, "PUT", "/snapshot/load", body, resp, sizeof(resp), why, sizeof(why)) : -1;
	free(body);
	if (st != 204) {
		snprintf(err, n, "loading the snapshot: %s", why);
		goto fail;
	}
	/* A probe round trip: the restored guest first handles the transport reset of the load, which breaks
	 * connections made meanwhile; an invocation must not be one of them. A clone that died is seen at once
	 * (waitpid); a live one on a loaded host (or a sanitizer build) gets a minute. */
	long long deadline = now_ms() + 60000;
	for (;;) {
		enum vm_outcome oc;
		int s = handshake(vm, deadline, &oc);
		unsigned char h[5];
		bool ok =
		    s >= 0 && send_frame(s, 'P', NULL, 0) == 0 && recv_until(s, h, 5, deadline) == 0 && h[0] == 'P';
		if (s >= 0)
			close(s);
		if (ok)
			return 0;
		if (now_ms() >= deadline || waitpid(vm->pid, NULL, WNOHANG) == vm->pid) {
			snprintf(err, n, "the restored agent does not answer");
			goto fail;
		}
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
fail:
	vm__destroy(vm);
	return -1;
}

static int send_frame(int s, char type, const void *data, uint32_t len)
{
	unsigned char h[5] = { (unsigned char)type, len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, len >> 24 };
	if (send(s, h, 5, MSG_NOSIGNAL) != 5)
		return -1;
	const char *c = data;
	while (len) {
		ssize_t w = send(s, c, len, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		c += w;
		len -= (uint32_t)w;
	}
	return 0;
}

/* Read exactly n bytes before the deadline: 0, VM_BROKEN or VM_TIMEOUT. */
static int recv_until(int s, void *p, size_t n, long long deadline)
{
	char *c = p;
	while (n) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return VM_TIMEOUT;
		struct pollfd q = { .fd = s, .events = POLLIN };
		int pr = poll(&q, 1, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno != EINTR)
			return VM_BROKEN;
		if (pr <= 0)
			continue;
		ssize_t r = recv(s, c, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return VM_BROKEN;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int append(char **buf, size_t *len, const char *data, size_t n, bool *trunc)
{
	if (*len + n > VM_OUTPUT_MAX) {
		*trunc = true;
		n = VM_OUTPUT_MAX - *len;
	}
	char *b = realloc(*buf, *len + n + 1);
	if (!b)
		return -1;
	memcpy(b + *len, data, n);
	*len += n;
	b[*len] = 0;
	*buf = b;
	return 0;
}

/* Connect to the instance's vsock socket and do Firecracker's "CONNECT port" / "OK port" exchange. */
static int handshake(struct faas_vm *vm, long long deadline, enum vm_outcome *rc)
{
	*rc = VM_BROKEN;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (sun_set(&a, vm->vsock) < 0)
		return -1;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	char line[32];
	int ll = snprintf(line, sizeof(line), "CONNECT %d\n", PORT_INVOKE);
	if (send(s, line, (size_t)ll, MSG_NOSIGNAL) != ll)
		goto fail;
	size_t got = 0;
	for (;;) {
		int e = recv_until(s, line + got, 1, deadline);
		if (e) {
			*rc = e;
			goto fail;
		}
		if (line[got] == '\n')
			break;
		if (++got >= sizeof(line) - 1)
			goto fail;
	}
	if (strncmp(line, "OK ", 3))
		goto fail;
	return s;
fail:
	close(s);
	return -1;
}

enum vm_outcome vm__invoke(struct faas_vm *vm, const void *in, size_t in_len, int timeout_ms, struct vm_result *r)
{
	memset(r, 0, sizeof(*r));
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	long long deadline = now_ms() + timeout_ms;
	int s = -1;
	enum vm_outcome rc = VM_BROKEN;
	/* The handshake may be refused right after a restore, while the guest handles the transport reset that
	 * a snapshot load sends: nothing ran yet, so try again for a while. */
	for (int attempt = 0; attempt < 200; attempt++) {
		if (attempt)
			nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
		s = handshake(vm, deadline, &rc);
		if (s >= 0 || rc == VM_TIMEOUT)
			break;
		if (waitpid(vm->pid, NULL, WNOHANG) == vm->pid) {
			vm->pid = 0; /* reaped: the instance died */
			break;
		}
	}
	if (s < 0)
		return rc;
	rc = VM_BROKEN;
	/* stdin in frames of up to 64 KiB, then the end mark. The agent drains it while the handler runs. */
	const char *c = in;
	for (size_t off = 0; off < in_len;) {
		uint32_t k = (uint32_t)(in_len - off > 65536 ? 65536 : in_len - off);
		if (send_frame(s, 'I', c + off, k) < 0)
			goto out;
		off += k;
	}
	if (send_frame(s, 'E', NULL, 0) < 0)
		goto out;
	char *buf = malloc(65536);
	if (!buf)
		goto out;
	for (;;) {
		unsigned char h[5];
		int e = recv_until(s, h, 5, deadline);
		if (e) {
			rc = e;
			break;
		}
		uint32_t len = h[1] | h[2] << 8 | h[3] << 16 | (uint32_t)h[4] << 24;
		if (h[0] == 'X') {
			unsigned char st[4];
			if (len != 4 || (e = recv_until(s, st, 4, deadline))) {
				rc = e ? e : VM_BROKEN;
				break;
			}
			r->status = (int)(st[0] | st[1] << 8 | st[2] << 16 | (uint32_t)st[3] << 24);
			rc = VM_OK;
			break;
		}
		if ((h[0] != 'O' && h[0] != 'R') || len > 65536)
			break; /* a guest that breaks the protocol breaks its own instance */
		if ((e = recv_until(s, buf, len, deadline))) {
			rc = e;
			break;
		}
		if (h[0] == 'O' ? append(&r->out, &r->out_len, buf, len, &r->truncated)
				: append(&r->err, &r->err_len, buf, len, &r->truncated))
			break;
	}
	free(buf);
out:
	close(s);
	return rc;
}

void vm__result_free(struct vm_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

void vm__destroy(struct faas_vm *vm)
{
	kill_reap(vm->pid);
	vm->pid = 0;
	if (*vm->dir)
		vm__rmtree(vm->dir);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

int vm__rmtree(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT ? -1 : 0;
}
