/* TAP backend for virtio-net: frames with a 12-byte virtio_net_hdr; offloads as the driver negotiated them. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "virtio/net.h"

static unsigned long tun_flags(unsigned f)
{
	return (f & TAP_OFFLOAD_CSUM ? TUN_F_CSUM : 0) | (f & TAP_OFFLOAD_TSO4 ? TUN_F_TSO4 : 0) |
	       (f & TAP_OFFLOAD_TSO6 ? TUN_F_TSO6 : 0) | (f & TAP_OFFLOAD_ECN ? TUN_F_TSO_ECN : 0);
}

int tap__set_offloads(int fd, unsigned flags)
{
	return ioctl(fd, TUNSETOFFLOAD, tun_flags(flags));
}

int tap__open(const char *name, bool *offloads)
{
	if (!name || strlen(name) >= IFNAMSIZ) {
		fprintf(stderr, "wisp: bad TAP interface name '%s'\n", name ? name : "");
		return -1;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "wisp: cannot open /dev/net/tun: %s\n", strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	int hdr = VIRTIO_NET_HDR_SIZE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "wisp: cannot attach to TAP '%s': %s\n", name, strerror(errno));
		goto fail;
	}
	*offloads = tap__set_offloads(fd, TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6 | TAP_OFFLOAD_ECN) == 0;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		fprintf(stderr, "wisp: cannot set up TAP '%s': %s\n", name, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}
