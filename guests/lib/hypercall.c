/* Hypercalls (include/nestbed/hypercall.h): port I/O, because it traps alike at every level. */
#include "nestbed/hypercall.h"
#include "nestbed/ports.h"
#include "guests/lib/nbkernel.h"

static uint16_t hc_port = NB_PORT_HYPERCALL;

void nb_hc_set_port(uint16_t port)
{
	hc_port = port;
}

int64_t nb_hc3(uint32_t nr, uint64_t arg0, uint64_t arg1, uint64_t arg2)
{
	uint64_t rax = nr;

	/* The parent reads RDI/RSI/RCX at the OUT exit and writes the result into RAX before
	 * resuming. */
	__asm__ volatile("outl %%eax, %%dx"
			 : "+a"(rax)
			 : "d"(hc_port), "D"(arg0), "S"(arg1), "c"(arg2)
			 : "memory");
	return (int64_t)rax;
}

int64_t nb_hc(uint32_t nr, uint64_t arg0, uint64_t arg1)
{
	return nb_hc3(nr, arg0, arg1, 0);
}

int64_t nb_hc_trace_flush(void)
{
	return nb_hc(NB_HC_TRACE_FLUSH, 0, 0);
}

void nb_hc_exit(int status)
{
	nb_hc(NB_HC_EXIT, (uint64_t)(status & 0xff), 0);
	/* Only reached when the parent does not implement the hypercall. */
	nb_debug_exit((uint32_t)(status & 0xff));
}
