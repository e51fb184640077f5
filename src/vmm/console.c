/* Guest console on the host terminal: raw mode when stdin is a tty, Ctrl-A x quits as in QEMU. */
#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jail/seccomp.h"
#include "machine/machine.h"

#define CTRL_A 0x01
/* At exit, how long the writer waits for a reader that does not take the rest of the output. */
#define DRAIN_GRACE_MS 1000

void console__put(void *opaque, uint8_t ch)
{
	struct console *c = opaque;
	struct console_out *o = &c->out;
	if (!o->started) { /* before console__init (nothing prints then) or without a writer */
		while (write(c->out_fd, &ch, 1) < 0 && errno == EINTR)
			;
		return;
	}
	pthread_mutex_lock(&o->lock);
	while (o->len == CONSOLE_OUT_BUF && !o->blocked && !o->stop)
		pthread_cond_wait(&o->space, &o->lock); /* the writer is moving: a matter of one write() */
	if (o->len < CONSOLE_OUT_BUF) {
		o->buf[(o->head + o->len) % CONSOLE_OUT_BUF] = ch;
		if (o->len++ == 0)
			pthread_cond_signal(&o->cv);
	} else {
		atomic_fetch_add(&o->dropped, 1);
	}
	pthread_mutex_unlock(&o->lock);
}

uint64_t console__dropped(struct console *c)
{
	return atomic_load(&c->out.dropped);
}

static ssize_t out_write(struct console_out *o, const uint8_t *p, size_t n)
{
	return o->sock ? send(o->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(o->fd, p, n);
}

/*
 * Wait until fd takes output again: while running, for as long as it takes or until told to stop; when
 * stopping, at most DRAIN_GRACE_MS (false if that passed: the reader is not there).
 */
static bool wait_writable(struct console_out *o, bool stopping)
{
	struct pollfd p[2] = { { .fd = o->fd, .events = POLLOUT }, { .fd = o->wake, .events = POLLIN } };
	return poll(p, stopping ? 1 : 2, stopping ? DRAIN_GRACE_MS : -1) != 0;
}

static void *writer_thread(void *opaque)
{
	struct console_out *o = opaque;
	seccomp__enter(SECCOMP_CONSOLE); /* writes the console's output: the console threads' list */
	pthread_mutex_lock(&o->lock);
	for (;;) {
		while (!o->len && !o->stop)
			pthread_cond_wait(&o->cv, &o->lock);
		if (!o->len)
			break;
		/* Only this thread consumes: [head, head + n) stays put while the lock is dropped. */
		size_t n = o->len < CONSOLE_OUT_BUF - o->head ? o->len : CONSOLE_OUT_BUF - o->head;
		const uint8_t *p = o->buf + o->head;
		bool stopping = o->stop;
		pthread_mutex_unlock(&o->lock);
		ssize_t w = out_write(o, p, n);
		int e = errno;
		bool gone = false;
		if (w < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
			/* Full: harts waiting for room drop their bytes instead, until the reader comes back. */
			pthread_mutex_lock(&o->lock);
			o->blocked = true;
			pthread_cond_broadcast(&o->space);
			pthread_mutex_unlock(&o->lock);
			gone = !wait_writable(o, stopping);
		} else if (w < 0 && e != EINTR) {
			gone = true; /* no reader any more (EPIPE), or an error: nothing will get through */
		}
		pthread_mutex_lock(&o->lock);
		if (w > 0) {
			o->blocked = false;
			o->head = (o->head + (size_t)w) % CONSOLE_OUT_BUF;
			o->len -= (size_t)w;
		} else if (gone) {
			atomic_fetch_add(&o->dropped, o->len);
			o->head = (o->head + o->len) % CONSOLE_OUT_BUF;
			o->len = 0;
			o->blocked = true; /* and so will what follows */
		}
		pthread_cond_broadcast(&o->space);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

/*
 * A description of out_fd the writer can use without ever blocking: a regular file never blocks (used as it
 * is); a pipe, FIFO or terminal is opened again through /proc with O_NONBLOCK, so the flags of the
 * description wisp was given (shared with the shell) stay untouched; a socket takes MSG_DONTWAIT. Failing
 * that, O_NONBLOCK is set on out_fd itself and its flags are restored at exit.
 */
static int out_open(struct console_out *o, int out_fd)
{
	struct stat st;
	o->fd = out_fd;
	o->orig_flags = -1;
	if (fstat(out_fd, &st) < 0)
		return -1;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return 0;
	if (S_ISSOCK(st.st_mode)) {
		o->sock = true;
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", out_fd);
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		o->fd = fd;
		o->own_fd = true;
		return 0;
	}
	int fl = fcntl(out_fd, F_GETFL);
	if (fl < 0 || fcntl(out_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	o->orig_flags = fl;
	return 0;
}

static int out_start(struct console_out *o, int out_fd)
{
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cv, NULL);
	pthread_cond_init(&o->space, NULL);
	o->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (o->wake < 0 || out_open(o, out_fd) < 0 || pthread_create(&o->thread, NULL, writer_thread, o) != 0) {
		if (o->wake >= 0)
			close(o->wake);
		if (o->own_fd)
			close(o->fd);
		if (o->orig_flags >= 0)
			fcntl(out_fd, F_SETFL, o->orig_flags);
		pthread_cond_destroy(&o->cv);
		pthread_cond_destroy(&o->space);
		pthread_mutex_destroy(&o->lock);
		return -1;
	}
	o->started = true;
	return 0;
}

static void out_stop(struct console_out *o, int out_fd)
{
	if (!o->started)
		return;
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_signal(&o->cv);
	pthread_cond_broadcast(&o->space);
	pthread_mutex_unlock(&o->lock);
	uint64_t one = 1;
	if (write(o->wake, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow here; the writer also wakes within DRAIN_GRACE_MS */
	}
	pthread_join(o->thread, NULL);
	o->started = false;
	close(o->wake);
	if (o->own_fd)
		close(o->fd);
	if (o->orig_flags >= 0)
		fcntl(out_fd, F_SETFL, o->orig_flags);
	pthread_cond_destroy(&o->cv);
	pthread_cond_destroy(&o->space);
	pthread_mutex_destroy(&o->lock);
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
		/* No timeout: an idle microVM's console thread sleeps until input comes or console__exit wakes it. */
		struct pollfd pfd[2] = { { .fd = c->in_fd, .events = POLLIN }, { .fd = c->in_wake, .events = POLLIN } };
		int r = poll(pfd, 2, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || pfd[1].revents)
			break;
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
					fprintf(stderr, "\nwisp: terminated by Ctrl-A x\n");
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
	c->in_wake = -1;
	if (out_fd >= 0 && out_start(&c->out, out_fd) < 0)
		return -1;
	if (in_fd >= 0 && isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios t = c->saved;
		cfmakeraw(&t);
		/*
		 * Keys go to the guest untouched, but output processing stays on (as QEMU's stdio does): wisp's own
		 * lines (log, messages) end in "\n" and still start in column 0; the guest's "\r\n" is harmless.
		 */
		t.c_oflag |= OPOST | ONLCR;
		if (tcsetattr(in_fd, TCSANOW, &t) == 0)
			c->raw = true;
	}
	if (in_fd >= 0) {
		c->in_wake = eventfd(0, EFD_CLOEXEC);
		if (c->in_wake < 0 || pthread_create(&c->thread, NULL, input_thread, c) != 0) {
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
		uint64_t one = 1;
		if (write(c->in_wake, &one, sizeof(one)) < 0) {
			/* cannot fail on a fresh eventfd counter */
		}
		pthread_join(c->thread, NULL);
		c->thread_started = false;
	}
	if (c->in_wake >= 0) {
		close(c->in_wake);
		c->in_wake = -1;
	}
	out_stop(&c->out, c->out_fd);
	if (c->raw) {
		/* Exactly the settings found at start (TCSANOW: a terminal stopped by XOFF must not hang wisp). */
		while (tcsetattr(c->in_fd, TCSANOW, &c->saved) < 0 && errno == EINTR)
			;
		c->raw = false;
	}
}
