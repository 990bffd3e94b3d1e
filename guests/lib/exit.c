/* isa-debug-exit, the way QEMU's test kernels stop a machine; also works before any boot info. */
#include "nestbed/ports.h"
#include "guests/lib/nbguest.h"

static uint16_t exit_port = NB_PORT_DEBUG_EXIT;

void nb_debug_exit_set_port(uint16_t port)
{
	exit_port = port;
}

void nb_debug_exit(uint32_t value)
{
	nb_outl(exit_port, value);
	/* A parent without the device lets the OUT complete: stop here rather than run on. */
	nb_halt_forever();
}
