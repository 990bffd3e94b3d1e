/*
 * What the boot-info and option parsers of the guest library (guests/lib/bootinfo.c,
 * options.c, also linked into nbvmm) need from the rest of it, for running them hosted: the
 * string functions from libc, and the port set-up nb_guest_init does as no-ops (the harnesses
 * call the parsers, not nb_guest_init).
 */
#include <string.h>

#include "guests/lib/nbkernel.h"

size_t nb_strnlen(const char *s, size_t max)
{
	return strnlen(s, max);
}

int nb_strncmp(const char *a, const char *b, size_t n)
{
	return strncmp(a, b, n);
}

void nb_console_set_port(uint16_t port)
{
	(void)port;
}

void nb_hc_set_port(uint16_t port)
{
	(void)port;
}

void nb_debug_exit_set_port(uint16_t port)
{
	(void)port;
}

void nb_trace_init(const struct nb_boot_info *bi)
{
	(void)bi;
}
