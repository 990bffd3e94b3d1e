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
/*
 * A hypervisor announces a guest it runs: RDI = vm_id | level << 16 | parent vm_id << 32,
 * RSI = the guest's memory in bytes, RCX = caller-physical address of its image name
 * (NUL-terminated, at most NB_HC_NAME_MAX bytes). Recorded in the store's vms table.
 */
#define NB_HC_VM_ADD 3
/*
 * One line of a deeper guest's console: RDI = caller-physical address of the text (no newline),
 * RSI = its length (at most NB_HC_CONSOLE_MAX), RCX = level | vm_id << 16. L0 prints it with
 * that level's prefix. A hypervisor forwarding its guest's line translates the address.
 */
#define NB_HC_CONSOLE 4
/* Records a guest's ring lost (full, torn, invalid) as its hypervisor counted them:
 * RDI = level | vm_id << 16, RSI = count. */
#define NB_HC_RECORDS_LOST 5

#define NB_HC_NAME_MAX 64
#define NB_HC_CONSOLE_MAX 1024

#define NB_HC_OK 0
#define NB_HC_ENOSYS (-38) /* unknown hypercall number */
#define NB_HC_EINVAL (-22) /* bad argument */

#endif
