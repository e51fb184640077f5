/* NS16550A UART: the guest's serial console. */
#ifndef WISP_MACHINE_UART_H
#define WISP_MACHINE_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine/devices.h"

#define UART_BASE 0x10000000ull
#define UART_SIZE 0x100ull
#define UART_IRQ 10
#define UART_FIFO 256

struct uart {
	pthread_mutex_t lock;
	struct irq_line irq;
	/* Where transmitted bytes go. */
	void (*tx)(void *opaque, uint8_t c);
	void *tx_opaque;
	uint8_t rx[UART_FIFO];
	unsigned rx_head, rx_count;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thre_pending; /* THR-empty interrupt armed, cleared by reading IIR or writing THR */
	uint64_t tx_bytes, rx_bytes;
};

extern const struct mmio_ops uart__ops;

void uart__init(struct uart *u, struct irq_line irq, void (*tx)(void *, uint8_t), void *opaque);
void uart__destroy(struct uart *u);
/* Queue bytes from the host side; returns how many fit. Thread-safe. */
unsigned uart__receive(struct uart *u, const uint8_t *buf, unsigned len);
/* Free space in the receive FIFO. */
unsigned uart__rx_space(struct uart *u);

#endif
