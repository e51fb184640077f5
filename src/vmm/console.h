/* The host terminal side of the guest console: raw mode, input thread, Ctrl-A escapes. */
#ifndef WISP_VMM_CONSOLE_H
#define WISP_VMM_CONSOLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <termios.h>

struct machine;

#define CONSOLE_OUT_BUF (64 * 1024)

/*
 * Guest output on its way to out_fd. A hart never waits for the reader: bytes go into a bounded ring that a
 * writer thread empties through a non-blocking description of out_fd. When the ring is full, the hart waits
 * only while the writer is getting bytes out; once out_fd is full too (nobody reads), bytes are dropped and
 * counted, so pausing and snapshots never wait on the console.
 */
struct console_out {
	pthread_mutex_t lock;
	pthread_cond_t cv;    /* the writer: data, or stop */
	pthread_cond_t space; /* harts waiting for room in a full ring */
	bool blocked;	      /* out_fd took nothing on the last try (the reader is not keeping up) */
	size_t head, len;
	int fd;		/* where the writer writes: a non-blocking description of out_fd, or out_fd itself */
	bool own_fd;	/* fd was opened here (a reopened pipe, FIFO or terminal) */
	bool sock;	/* out_fd is a socket: send() with MSG_DONTWAIT */
	int orig_flags; /* out_fd's file status flags when O_NONBLOCK had to be set on it, else -1 */
	int wake;	/* eventfd: wakes the writer from poll() to stop */
	bool stop, started;
	pthread_t thread;
	atomic_uint_fast64_t dropped; /* bytes the guest wrote that never reached out_fd */
	uint8_t buf[CONSOLE_OUT_BUF];
};

struct console {
	int in_fd, out_fd;
	bool raw;
	struct termios saved;
	bool escape; /* Ctrl-A seen */
	pthread_t thread;
	bool thread_started;
	int in_wake; /* eventfd: wakes the input thread from poll() to stop (it never polls on a timer) */
	struct machine *m;
	struct console_out out;
};

int console__init(struct console *c, struct machine *m, int in_fd, int out_fd);
/* Stop the input thread, write out what the guest printed (what cannot be written soon is dropped), give the
 * terminal back exactly as it was. Idempotent. */
void console__exit(struct console *c);
/* Output one guest byte (machine console callback). Never blocks on the reader. */
void console__put(void *opaque, uint8_t ch);
/* Guest output bytes dropped so far (the reader did not keep up). */
uint64_t console__dropped(struct console *c);

#endif
