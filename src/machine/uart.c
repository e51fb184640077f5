/* NS16550A: 8 registers, a receive FIFO and the interrupts Linux's 8250 driver uses. */
#include "machine/uart.h"

#include <string.h>

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDA 0x01
#define IER_THRE 0x02
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10
#define IIR_NONE 0x01
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_FIFO 0xc0

void uart__init(struct uart *u, struct irq_line irq, void (*tx)(void *, uint8_t), void *opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->irq = irq;
	u->tx = tx;
	u->tx_opaque = opaque;
	u->lcr = 0x03;
}

void uart__destroy(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}

static uint8_t iir(const struct uart *u)
{
	uint8_t fifo = (u->fcr & 1) ? IIR_FIFO : 0;
	if ((u->ier & IER_RDA) && u->rx_count)
		return IIR_RDA | fifo;
	if ((u->ier & IER_THRE) && u->thre_pending)
		return IIR_THRE | fifo;
	return IIR_NONE | fifo;
}

static void update_irq(struct uart *u)
{
	irq_line__set(&u->irq, !(iir(u) & IIR_NONE));
}

static void push_rx(struct uart *u, uint8_t c)
{
	if (u->rx_count < UART_FIFO) {
		u->rx[(u->rx_head + u->rx_count) % UART_FIFO] = c;
		u->rx_count++;
		u->rx_bytes++;
	}
}

unsigned uart__receive(struct uart *u, const uint8_t *buf, unsigned len)
{
	pthread_mutex_lock(&u->lock);
	unsigned n = 0;
	while (n < len && u->rx_count < UART_FIFO)
		push_rx(u, buf[n++]);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

unsigned uart__rx_space(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	unsigned n = UART_FIFO - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return n;
}

static uint64_t uart_read(void *dev, uint64_t off, unsigned size)
{
	struct uart *u = dev;
	uint8_t v = 0;
	(void)size;
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB) {
			v = u->dll;
		} else if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO;
			u->rx_count--;
		}
		break;
	case IER:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case IIR_FCR:
		v = iir(u);
		if ((v & 0x0f) == IIR_THRE)
			u->thre_pending = false;
		break;
	case LCR:
		v = u->lcr;
		break;
	case MCR:
		v = u->mcr;
		break;
	case LSR:
		v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
		break;
	case MSR:
		/* Loopback: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. Otherwise DCD, DSR and CTS asserted. */
		if (u->mcr & MCR_LOOP)
			v = (uint8_t)(((u->mcr & 2) ? 0x10 : 0) | ((u->mcr & 1) ? 0x20 : 0) | ((u->mcr & 0x0c) << 4));
		else
			v = 0xb0;
		break;
	case SCR:
		v = u->scr;
		break;
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return v;
}

static void uart_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct uart *u = dev;
	uint8_t v = (uint8_t)val;
	(void)size;
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			if (u->mcr & MCR_LOOP) {
				push_rx(u, v);
			} else {
				u->tx_bytes++;
				u->tx(u->tx_opaque, v);
			}
			u->thre_pending = true; /* transmitted at once: THR is empty again */
		}
		break;
	case IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			if ((v & IER_THRE) && !(u->ier & IER_THRE))
				u->thre_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case IIR_FCR:
		u->fcr = v & 0xc9;
		if (v & 0x02) { /* clear receive FIFO */
			u->rx_head = 0;
			u->rx_count = 0;
		}
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
		u->mcr = v & 0x1f;
		break;
	case SCR:
		u->scr = v;
		break;
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

const struct mmio_ops uart__ops = { uart_read, uart_write };
