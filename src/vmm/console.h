/* The host terminal side of the guest console: raw mode, input thread, Ctrl-A escapes. */
#ifndef WISP_VMM_CONSOLE_H
#define WISP_VMM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <termios.h>

struct machine;

struct console {
	int in_fd, out_fd;
	bool raw;
	struct termios saved;
	bool escape; /* Ctrl-A seen */
	pthread_t thread;
	bool thread_started;
	struct machine *m;
};

int console__init(struct console *c, struct machine *m, int in_fd, int out_fd);
void console__exit(struct console *c);
/* Output one guest byte (machine console callback). */
void console__put(void *opaque, uint8_t ch);

#endif
