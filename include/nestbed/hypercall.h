/*
 * The nestbed hypercall ABI. A guest makes a hypercall with a 32-bit OUT to NB_PORT_HYPERCALL:
 *   EAX = hypercall number (the value written), DX = the port, RDI, RSI, RCX = arguments;
 *   the result is returned in RAX (0 or a negative NB_HC_E* code).
 * Port I/O is used rather than VMMCALL because it traps identically at every level.
 */
#ifndef NESTBED_HYPERCALL_H
#define NESTBED_HYPERCALL_H

#define NB_HC_TRACE_FLUSH 1 /* drain this guest's trace ring now; no arguments */
#define NB_HC_EXIT 2        /* stop the machine; RDI = exit status (0..255) */
/* Numbers 3 and up are reserved for later hypercalls (VM registration, console with level...). */

#define NB_HC_OK 0
#define NB_HC_ENOSYS (-38) /* unknown hypercall number */
#define NB_HC_EINVAL (-22) /* bad argument */

#endif
