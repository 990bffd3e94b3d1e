/* Polled 16550 console: output only, one port write per byte. */
#include "nestbed/ports.h"
#include "guests/lib/nbguest.h"

/*
 * Each LSR poll is a trap to the parent (~5 us here), so a bound of 1000 polls is a few
 * milliseconds: long enough for any UART model that drains, short enough that a parent whose
 * UART never reports an empty holding register does not hang the guest.
 */
#define CONSOLE_POLL_MAX 1000

static uint16_t console_port = NB_PORT_COM1;

void nb_console_set_port(uint16_t port)
{
	console_port = port;
}

void nb_putc(char c)
{
	unsigned polls;

	/* A real 16550 drops a byte written while its holding register is still full. */
	for (polls = 0; polls < CONSOLE_POLL_MAX; polls++)
		if (nb_inb(console_port + NB_UART_LSR) & NB_UART_LSR_THRE)
			break;
	nb_outb(console_port + NB_UART_THR, (uint8_t)c);
}

void nb_write(const char *s, size_t len)
{
	while (len--)
		nb_putc(*s++);
}

void nb_puts(const char *s)
{
	while (*s)
		nb_putc(*s++);
}
