/*
 * MMDS on a network interface: the frames the guest sends to the MMDS address (ARP for it, IPv4 to it) are taken
 * off the interface's transmit path and never reach the TAP; libslirp (Debian's user-mode TCP/IP stack, in its
 * restricted mode with one guest forward) plays the server's ARP, IPv4 and TCP, and the bytes of each request
 * go to mmds__http. Answers go back into the interface's receive queue. Runs on the I/O thread.
 */
#ifndef WISP_MMDS_STACK_H
#define WISP_MMDS_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmds/mmds.h"
#include "virtio/ioloop.h"
#include "virtio/net.h"

struct mmds_stack {
	struct mmds *mmds;
	struct virtio_net *net;
	struct Slirp *slirp;
	uint32_t ip; /* host order */
	int timer_fd;
	uint64_t active_until_ns; /* slirp's TCP timers run while connections may be open */
	char req[MMDS_REQUEST_MAX];
	size_t req_len;
	char *resp; /* the answer being sent: resp[resp_off, resp_len) */
	size_t resp_len, resp_off;
	uint64_t frames_taken, frames_sent, frames_dropped, guest_errors;
};

/* A stack answering at ipv4 (host order) from m. -1 with a message. */
int mmds_stack__init(struct mmds_stack *s, struct mmds *m, uint32_t ipv4);
/* Take the MMDS frames of interface n; the stack's timer on loop l. */
int mmds_stack__attach(struct mmds_stack *s, struct virtio_net *n, struct ioloop *l);
void mmds_stack__exit(struct mmds_stack *s);
/* Would this frame (from the guest) go to MMDS? (exposed for the fuzz target) */
bool mmds_stack__wants(const struct mmds_stack *s, const uint8_t *frame, size_t len);

#endif
