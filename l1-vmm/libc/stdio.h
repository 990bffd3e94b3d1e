/* <stdio.h> for code shared with the host: formatting only, through the guest library. */
#ifndef NBVMM_LIBC_STDIO_H
#define NBVMM_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

int nb_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int nb_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
#define snprintf nb_snprintf
#define vsnprintf nb_vsnprintf

#endif
