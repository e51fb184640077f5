/* Guest console on the host terminal: raw mode when stdin is a tty, Ctrl-A x quits as in QEMU. */
#include "vmm/console.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "machine/machine.h"

#define CTRL_A 0x01

void console__put(void *opaque, uint8_t ch)
{
	struct console *c = opaque;
	while (write(c->out_fd, &ch, 1) < 0 && errno == EINTR)
		;
}

/* Feed bytes to the UART, waiting while its FIFO is full. */
static void feed(struct console *c, const uint8_t *buf, size_t len)
{
	while (len && !atomic_load(&c->m->halted)) {
		unsigned n = uart__receive(&c->m->uart, buf, (unsigned)len);
		machine__kick(c->m);
		buf += n;
		len -= n;
		if (len)
			usleep(1000);
	}
}

static void *input_thread(void *opaque)
{
	struct console *c = opaque;
	uint8_t buf[256];
	seccomp__enter(SECCOMP_CONSOLE);
	while (!atomic_load(&c->m->halted)) {
		struct pollfd pfd = { .fd = c->in_fd, .events = POLLIN };
		int r = poll(&pfd, 1, 100);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(c->in_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* end of input: the guest keeps running */
		for (ssize_t i = 0; i < n; i++) {
			uint8_t ch = buf[i];
			if (c->raw && c->escape) {
				c->escape = false;
				if (ch == 'x' || ch == 'X') {
					fprintf(stderr, "\r\nwisp: terminated by Ctrl-A x\r\n");
					machine__halt(c->m, 0, "Ctrl-A x");
					return NULL;
				}
				if (ch != CTRL_A)
					continue;
			} else if (c->raw && ch == CTRL_A) {
				c->escape = true;
				continue;
			}
			feed(c, &ch, 1);
		}
	}
	return NULL;
}

int console__init(struct console *c, struct machine *m, int in_fd, int out_fd)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->m = m;
	if (in_fd >= 0 && isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios t = c->saved;
		cfmakeraw(&t);
		if (tcsetattr(in_fd, TCSANOW, &t) == 0)
			c->raw = true;
	}
	if (in_fd >= 0) {
		if (pthread_create(&c->thread, NULL, input_thread, c) != 0) {
			console__exit(c);
			return -1;
		}
		c->thread_started = true;
	}
	return 0;
}

void console__exit(struct console *c)
{
	if (c->thread_started) {
		pthread_join(c->thread, NULL);
		c->thread_started = false;
	}
	if (c->raw) {
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
		c->raw = false;
	}
}
