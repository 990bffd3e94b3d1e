/* Error reporting shared by every part of the host side: one message, one code. */
#include <stdarg.h>
#include <stdio.h>

#include "l0/nestbed.h"

int nb_error_set(struct nb_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -code;
}

const char *nb_error_name(int code)
{
	static const char *const names[] = {
		[NB_OK] = "OK",		    [NB_E_USAGE] = "USAGE",   [NB_E_KVM] = "KVM",
		[NB_E_IMAGE] = "IMAGE",	    [NB_E_DB] = "DB",	      [NB_E_NOMEM] = "NOMEM",
		[NB_E_GUEST] = "GUEST",	    [NB_E_TIMEOUT] = "TIMEOUT", [NB_E_DEPTH] = "DEPTH",
		[NB_E_INTERNAL] = "INTERNAL",
	};

	if (code < 0)
		code = -code;
	if ((unsigned)code < sizeof(names) / sizeof(names[0]) && names[code])
		return names[code];
	return "INTERNAL";
}
