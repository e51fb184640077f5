/* The microVM configuration: validation of each change against the whole, then commit. */
#include "vmm/resources.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/machine.h"
#include "mem/merge.h"

void resources__init(struct vm_resources *r)
{
	memset(r, 0, sizeof(*r));
	r->machine.vcpu_count = 1;
	r->machine.mem_size_mib = RES_DEFAULT_MEM_MIB;
}

bool resources__valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > RES_ID_MAX)
		return false;
	for (; *id; id++)
		if (!isalnum((unsigned char)*id) && *id != '_')
			return false;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int resources__parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void resources__format_mac(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* A readable regular file (kernel, initrd). */
static int check_image(const char *what, const char *path, char *err, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		snprintf(err, n, "The %s file cannot be opened: %s: %s", what, path, strerror(errno));
		return -1;
	}
	int r = fstat(fd, &st);
	close(fd);
	if (r < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, n, "The %s file cannot be opened: %s: not a regular file", what, path);
		return -1;
	}
	return 0;
}

int resources__set_boot_source(struct vm_resources *r, const struct boot_source_cfg *c, char *err, size_t n)
{
	if (!c->kernel_image_path[0]) {
		snprintf(err, n, "The kernel file cannot be opened: empty path");
		return -1;
	}
	if (check_image("kernel", c->kernel_image_path, err, n) < 0)
		return -1;
	if (c->initrd_path[0] && check_image("initrd", c->initrd_path, err, n) < 0)
		return -1;
	if (c->has_boot_args && strlen(c->boot_args) >= RES_CMDLINE_MAX) {
		snprintf(err, n, "Invalid kernel command line: longer than %d bytes", RES_CMDLINE_MAX - 1);
		return -1;
	}
	r->boot = *c;
	r->has_boot_source = true;
	return 0;
}

static const char *huge_pages_name(enum huge_pages h)
{
	return h == HUGE_PAGES_2M ? "2M" : h == HUGE_PAGES_TRANSPARENT ? "Transparent" : "None";
}

int resources__update_machine(struct vm_resources *r, const struct machine_cfg_update *u, bool full, char *err,
			      size_t n)
{
	struct machine_cfg m = r->machine;
	if (full) {
		/* PUT: what is not given takes its default. */
		memset(&m, 0, sizeof(m));
		m.vcpu_count = 1;
		m.mem_size_mib = RES_DEFAULT_MEM_MIB;
	}
	if (u->has_vcpu_count)
		m.vcpu_count = u->v.vcpu_count;
	if (u->has_mem_size_mib)
		m.mem_size_mib = u->v.mem_size_mib;
	if (u->has_smt)
		m.smt = u->v.smt;
	if (u->has_track_dirty_pages)
		m.track_dirty_pages = u->v.track_dirty_pages;
	if (u->has_huge_pages)
		m.huge_pages = u->v.huge_pages;
	if (u->has_cpu_template) {
		m.has_cpu_template = u->v.has_cpu_template;
		memcpy(m.cpu_template, u->v.cpu_template, sizeof(m.cpu_template));
	}
	if (u->has_cpu_backend) {
		m.has_cpu_backend = true;
		m.cpu_backend = u->v.cpu_backend;
	}
	if (u->has_mem_merge)
		m.mem_merge = u->v.mem_merge;

	if (m.vcpu_count < 1 || m.vcpu_count > MACHINE_MAX_CPUS) {
		snprintf(err, n, "The vCPU number is invalid: it must be 1..%d (got %u)", MACHINE_MAX_CPUS, m.vcpu_count);
		return -1;
	}
	if (m.mem_size_mib < MIN_MEM_MIB || m.mem_size_mib > MAX_MEM_MIB) {
		snprintf(err, n, "The memory size (MiB) is invalid: it must be %d..%d (got %llu)", MIN_MEM_MIB,
			 MAX_MEM_MIB, (unsigned long long)m.mem_size_mib);
		return -1;
	}
	if (m.smt) {
		snprintf(err, n, "Enabling simultaneous multithreading is not supported on RISC-V.");
		return -1;
	}
	if (m.huge_pages != HUGE_PAGES_NONE) {
		snprintf(err, n, "Huge pages (%s) are not supported by wisp yet.", huge_pages_name(m.huge_pages));
		return -1;
	}
	char why[128];
	if (m.mem_merge && !mem_merge__available(why, sizeof(why))) {
		snprintf(err, n, "Memory merging (mem_merge) is not available: %s.", why);
		return -1;
	}
	if (m.has_cpu_template && strcmp(m.cpu_template, "None") != 0) {
		snprintf(err, n, "CPU templates are not supported on RISC-V (got %s).", m.cpu_template);
		return -1;
	}
	r->machine = m;
	return 0;
}

static unsigned devices_used(const struct vm_resources *r)
{
	return r->ndrives + r->nnets + (r->has_entropy ? 1 : 0) + (r->has_vsock ? 1 : 0) + (r->has_balloon ? 1 : 0);
}

static int check_slot(const struct vm_resources *r, const char *what, char *err, size_t n)
{
	if (devices_used(r) < RES_MAX_DEVICES)
		return 0;
	snprintf(err, n,
		 "Cannot add the %s: all %d virtio-mmio slots are taken by drives, network interfaces, "
		 "the entropy, vsock and balloon devices.",
		 what, RES_MAX_DEVICES);
	return -1;
}

const struct drive_cfg *resources__drive(const struct vm_resources *r, const char *id)
{
	for (unsigned i = 0; i < r->ndrives; i++)
		if (!strcmp(r->drives[i].drive_id, id))
			return &r->drives[i];
	return NULL;
}

const struct net_cfg *resources__net(const struct vm_resources *r, const char *id)
{
	for (unsigned i = 0; i < r->nnets; i++)
		if (!strcmp(r->nets[i].iface_id, id))
			return &r->nets[i];
	return NULL;
}

int resources__put_drive(struct vm_resources *r, const struct drive_cfg *d, char *err, size_t n)
{
	if (!resources__valid_id(d->drive_id)) {
		snprintf(err, n, "Invalid drive ID: it must be 1..%d characters from [A-Za-z0-9_].", RES_ID_MAX);
		return -1;
	}
	struct stat st;
	if (stat(d->path_on_host, &st) < 0 || access(d->path_on_host, R_OK | (d->is_read_only ? 0 : W_OK)) < 0) {
		snprintf(err, n, "Unable to open the block device backing file %s: %s", d->path_on_host,
			 strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, n, "Unable to open the block device backing file %s: not a file or block device",
			 d->path_on_host);
		return -1;
	}
	int at = -1;
	for (unsigned i = 0; i < r->ndrives; i++) {
		if (!strcmp(r->drives[i].drive_id, d->drive_id))
			at = (int)i;
		else if (d->is_root_device && r->drives[i].is_root_device) {
			snprintf(err, n, "A root block device already exists!");
			return -1;
		}
	}
	if (at < 0 && check_slot(r, "drive", err, n) < 0)
		return -1;
	if (at < 0)
		at = (int)r->ndrives++;
	r->drives[at] = *d;
	/* The root device goes first: it becomes /dev/vda, as in Firecracker. */
	if (d->is_root_device && at > 0) {
		struct drive_cfg root = r->drives[at];
		memmove(&r->drives[1], &r->drives[0], (size_t)at * sizeof(r->drives[0]));
		r->drives[0] = root;
	}
	return 0;
}

static bool valid_ifname(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len >= RES_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) || !isprint((unsigned char)*s))
			return false;
	return true;
}

int resources__put_net(struct vm_resources *r, const struct net_cfg *c, char *err, size_t n)
{
	if (!resources__valid_id(c->iface_id)) {
		snprintf(err, n, "Invalid network interface ID: it must be 1..%d characters from [A-Za-z0-9_].",
			 RES_ID_MAX);
		return -1;
	}
	if (!valid_ifname(c->host_dev_name)) {
		snprintf(err, n, "Invalid host_dev_name '%s': a TAP interface name of 1..%d characters.",
			 c->host_dev_name, RES_IFNAME_MAX - 1);
		return -1;
	}
	int at = -1;
	for (unsigned i = 0; i < r->nnets; i++) {
		const struct net_cfg *o = &r->nets[i];
		if (!strcmp(o->iface_id, c->iface_id)) {
			at = (int)i;
			continue;
		}
		if (!strcmp(o->host_dev_name, c->host_dev_name)) {
			snprintf(err, n, "The host device name %s is already in use by network interface %s.",
				 c->host_dev_name, o->iface_id);
			return -1;
		}
		if (c->has_guest_mac && o->has_guest_mac && !memcmp(o->guest_mac, c->guest_mac, 6)) {
			char mac[18];
			resources__format_mac(c->guest_mac, mac);
			snprintf(err, n, "The guest MAC address %s is already in use by network interface %s.", mac,
				 o->iface_id);
			return -1;
		}
	}
	if (at < 0 && check_slot(r, "network interface", err, n) < 0)
		return -1;
	if (at < 0)
		at = (int)r->nnets++;
	r->nets[at] = *c;
	return 0;
}

int resources__set_entropy(struct vm_resources *r, const struct entropy_cfg *c, char *err, size_t n)
{
	if (!r->has_entropy && check_slot(r, "entropy device", err, n) < 0)
		return -1;
	r->entropy = *c;
	r->has_entropy = true;
	return 0;
}

int resources__set_mmds(struct vm_resources *r, const struct mmds_cfg *c, char *err, size_t n)
{
	if (!c->nifaces) {
		snprintf(err, n, "The list of network interface IDs that allow forwarding MMDS requests is empty.");
		return -1;
	}
	for (unsigned i = 0; i < c->nifaces; i++) {
		if (!resources__net(r, c->ifaces[i])) {
			snprintf(err, n, "The list of network interface IDs provided contains at least one ID that does "
					 "not correspond to any existing network interface: %s.",
				 c->ifaces[i]);
			return -1;
		}
		for (unsigned k = 0; k < i; k++) {
			if (!strcmp(c->ifaces[k], c->ifaces[i])) {
				snprintf(err, n, "The network interface %s is listed twice for MMDS.", c->ifaces[i]);
				return -1;
			}
		}
	}
	if ((c->ipv4 >> 16) != 0xa9fe || (c->ipv4 & 0xffff) == 0 || (c->ipv4 & 0xffff) == 0xffff) {
		snprintf(err, n, "The MMDS IPv4 address must be a link-local unicast address (169.254.0.1 .. "
				 "169.254.255.254).");
		return -1;
	}
	if (c->version != 1 && c->version != 2) {
		snprintf(err, n, "Invalid MMDS version.");
		return -1;
	}
	r->mmds = *c;
	r->has_mmds = true;
	return 0;
}

int resources__set_vsock(struct vm_resources *r, const struct vsock_cfg *c, char *err, size_t n)
{
	if (c->guest_cid < 3) {
		snprintf(err, n, "Invalid vsock guest CID %u: CIDs 0, 1 and 2 are reserved (the host is 2).", c->guest_cid);
		return -1;
	}
	size_t len = strlen(c->uds_path);
	if (len == 0 || len > RES_VSOCK_PATH_MAX) {
		snprintf(err, n, "Invalid vsock uds_path: it must be 1..%d bytes (a Unix socket path, with room for "
				 "\"_<port>\").",
			 RES_VSOCK_PATH_MAX);
		return -1;
	}
	struct stat st;
	if (lstat(c->uds_path, &st) == 0) {
		snprintf(err, n, "Cannot use the vsock uds_path %s: it already exists (remove it first).", c->uds_path);
		return -1;
	}
	char dir[RES_VSOCK_PATH_MAX + 1];
	snprintf(dir, sizeof(dir), "%s", c->uds_path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	else if (slash)
		dir[1] = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, n, "Cannot use the vsock uds_path %s: its directory %s does not exist.", c->uds_path, dir);
		return -1;
	}
	if (!r->has_vsock && check_slot(r, "vsock device", err, n) < 0)
		return -1;
	r->vsock = *c;
	r->has_vsock = true;
	return 0;
}

int resources__set_balloon(struct vm_resources *r, const struct balloon_cfg *c, char *err, size_t n)
{
	if (c->amount_mib > r->machine.mem_size_mib) {
		snprintf(err, n, "The balloon target (%u MiB) is larger than the guest memory (%llu MiB).", c->amount_mib,
			 (unsigned long long)r->machine.mem_size_mib);
		return -1;
	}
	if (c->stats_polling_interval_s > UINT16_MAX) {
		snprintf(err, n, "The balloon statistics interval must be 0..65535 seconds.");
		return -1;
	}
	if (!r->has_balloon && check_slot(r, "balloon device", err, n) < 0)
		return -1;
	r->balloon = *c;
	r->has_balloon = true;
	return 0;
}

/* Open (creating) a host file or FIFO for writing, without blocking on a FIFO that has no reader. */
int resources__open_output(const char *path, char *err, size_t n)
{
	struct stat st;
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
		flags = O_RDWR | O_CLOEXEC;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, n, "%s is a directory", path);
		return -1;
	}
	int fd = open(path, flags, 0644);
	if (fd < 0)
		snprintf(err, n, "cannot open %s: %s", path, strerror(errno));
	return fd;
}

int resources__set_serial(struct vm_resources *r, const struct serial_cfg *c, char *err, size_t n)
{
	if (c->has_rate_limiter) {
		snprintf(err, n, "Serial output rate limiting is not supported by wisp yet.");
		return -1;
	}
	if (c->serial_out_path[0]) {
		char why[RES_PATH_MAX + 64];
		int fd = resources__open_output(c->serial_out_path, why, sizeof(why));
		if (fd < 0) {
			snprintf(err, n, "Cannot use the serial output path: %s", why);
			return -1;
		}
		close(fd);
	}
	r->serial = *c;
	r->has_serial = true;
	return 0;
}

int resources__set_logger(struct vm_resources *r, struct logger *lg, const struct logger_cfg *c, char *err, size_t n)
{
	struct log_config lc = {
		.set_level = c->has_level,
		.level = c->level,
		.path = c->has_log_path ? c->log_path : NULL,
		.set_show_level = c->has_show_level,
		.show_level = c->show_level,
		.set_show_origin = c->has_show_log_origin,
		.show_origin = c->show_log_origin,
		.module = c->has_module ? c->module : NULL,
	};
	char why[RES_PATH_MAX + 64];
	if (log__configure(lg, &lc, why, sizeof(why)) < 0) {
		snprintf(err, n, "Cannot configure the logger: %s", why);
		return -1;
	}
	/* Remember the merged settings. */
	struct logger_cfg *m = &r->logger;
	if (c->has_level)
		m->has_level = true, m->level = c->level;
	if (c->has_log_path)
		m->has_log_path = true, memcpy(m->log_path, c->log_path, sizeof(m->log_path));
	if (c->has_show_level)
		m->has_show_level = true, m->show_level = c->show_level;
	if (c->has_show_log_origin)
		m->has_show_log_origin = true, m->show_log_origin = c->show_log_origin;
	if (c->has_module)
		m->has_module = true, memcpy(m->module, c->module, sizeof(m->module));
	r->has_logger = true;
	return 0;
}

int resources__set_metrics(struct vm_resources *r, struct metrics *mx, const struct metrics_cfg *c, const char *instance_id, char *err,
			   size_t n)
{
	struct metrics_config mc = { .path = c->metrics_path, .emit_id = c->emit_id, .nprops = c->nprops };
	for (unsigned i = 0; i < c->nprops && i < RES_MAX_PROPS; i++) {
		mc.prop_keys[i] = c->prop_keys[i];
		mc.prop_values[i] = c->prop_values[i];
	}
	char why[RES_PATH_MAX + 64];
	if (metrics__configure(mx, &mc, instance_id, why, sizeof(why)) < 0) {
		snprintf(err, n, "Cannot configure the metrics: %s", why);
		return -1;
	}
	r->metrics = *c;
	r->has_metrics = true;
	return 0;
}

int resources__cmdline(const struct vm_resources *r, char *buf, size_t len)
{
	const char *base = r->has_boot_source && r->boot.has_boot_args ? r->boot.boot_args : RES_DEFAULT_CMDLINE;
	int w = snprintf(buf, len, "%s", base);
	for (unsigned i = 0; w >= 0 && (size_t)w < len && i < r->ndrives; i++) {
		const struct drive_cfg *d = &r->drives[i];
		if (!d->is_root_device)
			continue;
		if (d->has_partuuid)
			w += snprintf(buf + w, len - (size_t)w, " root=PARTUUID=%s", d->partuuid);
		else
			w += snprintf(buf + w, len - (size_t)w, " root=/dev/vda");
		if ((size_t)w < len)
			w += snprintf(buf + w, len - (size_t)w, " %s", d->is_read_only ? "ro" : "rw");
	}
	return w >= 0 && (size_t)w < len ? 0 : -1;
}
