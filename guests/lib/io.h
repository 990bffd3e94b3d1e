/*
 * Port I/O for guest kernels. All guest-to-parent communication in nestbed is port I/O because it
 * traps the same way at every depth (see include/nestbed/ports.h). Usable in 32- and 64-bit code.
 */
#ifndef NESTBED_GUESTS_IO_H
#define NESTBED_GUESTS_IO_H

#include <stdint.h>

static inline uint8_t nb_inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "d"(port));
	return v;
}

static inline void nb_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "d"(port));
}

static inline uint32_t nb_inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "d"(port));
	return v;
}

static inline void nb_outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "d"(port));
}

/* Stops this CPU for good: with interrupts off, HLT never wakes. */
__attribute__((noreturn)) static inline void nb_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

#endif
