/*
 * libnbguest, the part that runs in both 32-bit (Multiboot) and 64-bit guest kernels: polled
 * console, printf-like formatting, the string functions gcc emits calls to, "key=value" option
 * parsing and isa-debug-exit. The 64-bit nestbed-protocol part is in nbkernel.h.
 */
#ifndef NESTBED_GUESTS_NBGUEST_H
#define NESTBED_GUESTS_NBGUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "guests/lib/io.h"

/* Console: a 16550 at COM1 unless told otherwise (the boot info names the port). */
void nb_console_set_port(uint16_t port);
void nb_putc(char c);
void nb_write(const char *s, size_t len);
void nb_puts(const char *s); /* no newline appended */

/*
 * Formatting: %c %s %d %i %u %x %X %p %%, flags '-' and '0', a width, a precision for %s
 * (so fixed-size fields that may lack a NUL can be printed), length modifiers l, ll, z.
 * Return the length of the full output (snprintf: as if the buffer were large enough).
 */
int nb_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int nb_vprintf(const char *fmt, va_list ap);
int nb_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int nb_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
/* Prints n bytes as a quoted string (\n, \r, \t, \" and \\ escaped) when they are text, else as
 * "bytes xx xx ...". No newline. For previews of module contents. */
void nb_print_preview(const void *data, size_t n);

/* gcc emits calls to these even with -fno-builtin (struct copies, large initialisers). */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t nb_strnlen(const char *s, size_t max);
int nb_strcmp(const char *a, const char *b);
int nb_strncmp(const char *a, const char *b, size_t n);

/*
 * Options: a space-separated string of "key=value" words and bare "key" words. When a key
 * appears more than once the last one wins, as on a command line. nb_opt_find returns the value
 * (not NUL-terminated; its length in *len) or NULL when the key is absent; a bare key has the
 * empty value. nb_opt_u64 parses decimal or 0x-hex and returns dflt when the key is absent or
 * its value is not a number.
 */
const char *nb_opt_find(const char *opts, const char *key, size_t *len);
int nb_opt_is(const char *opts, const char *key, const char *value);
uint64_t nb_opt_u64(const char *opts, const char *key, uint64_t dflt);

/* isa-debug-exit: the machine stops with process status (value << 1) | 1. */
void nb_debug_exit_set_port(uint16_t port);
__attribute__((noreturn)) void nb_debug_exit(uint32_t value);

#endif
