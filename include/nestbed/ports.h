/*
 * Port numbers of the devices every level offers its guest. Port I/O traps the same way at every
 * depth (at L1 it leaves KVM for L0; deeper, the parent intercepts it), which is why all
 * guest-to-host communication in nestbed is port I/O.
 */
#ifndef NESTBED_PORTS_H
#define NESTBED_PORTS_H

#define NB_PORT_COM1 0x3f8      /* 16550-style UART; output only */
#define NB_PORT_DEBUG_EXIT 0xf4 /* QEMU isa-debug-exit: status = (value << 1) | 1 */
#define NB_PORT_HYPERCALL 0x500 /* 32-bit OUT of the hypercall number; see hypercall.h */
#define NB_PORT_PIC1_CMD 0x20
#define NB_PORT_PIC1_DATA 0x21
#define NB_PORT_PIC2_CMD 0xa0
#define NB_PORT_PIC2_DATA 0xa1

/* 16550 register offsets and line-status bits a polling guest needs. */
#define NB_UART_THR 0
#define NB_UART_LSR 5
#define NB_UART_LSR_THRE 0x20 /* transmit holding register empty */
#define NB_UART_LSR_TEMT 0x40 /* transmitter empty */

#endif
