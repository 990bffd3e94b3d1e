/*
 * A small printf: enough to report boot info, addresses and counters. Output goes to the
 * console byte by byte, or into a buffer.
 */
#include "guests/lib/nbguest.h"

struct sink {
	char *buf;   /* NULL: write to the console */
	size_t size; /* buffer size, including the NUL */
	size_t len;  /* characters produced so far */
};

static void sink_putc(struct sink *o, char c)
{
	if (!o->buf)
		nb_putc(c);
	else if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void sink_pad(struct sink *o, char c, int n)
{
	while (n-- > 0)
		sink_putc(o, c);
}

/*
 * v /= 10, returning the remainder. 32-bit kernels (mbhello) link no libgcc, so a 64-bit
 * division there would be an unresolved call to __udivdi3: divide in two 32-bit steps instead.
 */
static unsigned divmod10(uint64_t *v)
{
#ifdef __x86_64__
	unsigned r = (unsigned)(*v % 10);

	*v /= 10;
	return r;
#else
	uint32_t hi = (uint32_t)(*v >> 32), lo = (uint32_t)*v, qlo, r;

	r = hi % 10;
	hi /= 10;
	/* r < 10, so (r:lo) / 10 fits in 32 bits and DIVL cannot fault. */
	__asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "r"((uint32_t)10));
	*v = (uint64_t)hi << 32 | qlo;
	return r;
#endif
}

struct spec {
	int left, zero, width, prec;
};

static void emit_str(struct sink *o, const char *s, const struct spec *sp)
{
	size_t n = sp->prec >= 0 ? nb_strnlen(s, (size_t)sp->prec) : strlen(s);
	int pad = sp->width - (int)n;

	if (!sp->left)
		sink_pad(o, ' ', pad);
	while (n--)
		sink_putc(o, *s++);
	if (sp->left)
		sink_pad(o, ' ', pad);
}

static void emit_num(struct sink *o, uint64_t v, unsigned base, int upper, int neg,
		     const char *prefix, const struct spec *sp)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, plen = (int)strlen(prefix) + neg, pad;

	do {
		if (base == 16) {
			tmp[n++] = digits[v & 15];
			v >>= 4;
		} else {
			tmp[n++] = digits[divmod10(&v)];
		}
	} while (v);
	pad = sp->width - n - plen;
	if (!sp->left && !sp->zero)
		sink_pad(o, ' ', pad);
	if (neg)
		sink_putc(o, '-');
	while (*prefix)
		sink_putc(o, *prefix++);
	if (!sp->left && sp->zero)
		sink_pad(o, '0', pad);
	while (n)
		sink_putc(o, tmp[--n]);
	if (sp->left)
		sink_pad(o, ' ', pad);
}

static int format(struct sink *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		struct spec sp = { 0, 0, 0, -1 };
		int lng = 0;
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			sink_putc(o, *fmt);
			continue;
		}
		for (fmt++;; fmt++) {
			if (*fmt == '-')
				sp.left = 1;
			else if (*fmt == '0')
				sp.zero = 1;
			else
				break;
		}
		if (*fmt == '*') {
			sp.width = va_arg(ap, int);
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			sp.width = sp.width * 10 + (*fmt - '0');
		if (*fmt == '.') {
			sp.prec = 0;
			if (*++fmt == '*') {
				sp.prec = va_arg(ap, int);
				fmt++;
			}
			for (; *fmt >= '0' && *fmt <= '9'; fmt++)
				sp.prec = sp.prec * 10 + (*fmt - '0');
		}
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng = *fmt == 'z' ? (sizeof(size_t) == 8 ? 2 : 0) : lng + 1;
		switch (*fmt) {
		case 'c':
			sink_pad(o, ' ', sp.left ? 0 : sp.width - 1);
			sink_putc(o, (char)va_arg(ap, int));
			sink_pad(o, ' ', sp.left ? sp.width - 1 : 0);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			emit_str(o, str ? str : "(null)", &sp);
			break;
		}
		case 'd':
		case 'i':
			if (lng >= 2)
				s = va_arg(ap, long long);
			else if (lng == 1)
				s = va_arg(ap, long);
			else
				s = va_arg(ap, int);
			/* Negate as unsigned so INT64_MIN does not overflow. */
			emit_num(o, s < 0 ? -(uint64_t)s : (uint64_t)s, 10, 0, s < 0, "", &sp);
			break;
		case 'u':
		case 'x':
		case 'X':
			if (lng >= 2)
				u = va_arg(ap, unsigned long long);
			else if (lng == 1)
				u = va_arg(ap, unsigned long);
			else
				u = va_arg(ap, unsigned int);
			emit_num(o, u, *fmt == 'u' ? 10 : 16, *fmt == 'X', 0, "", &sp);
			break;
		case 'p':
			emit_num(o, (uintptr_t)va_arg(ap, void *), 16, 0, 0, "0x", &sp);
			break;
		case '%':
			sink_putc(o, '%');
			break;
		case '\0':
			/* A lone '%' at the end: print it rather than read past the string. */
			sink_putc(o, '%');
			return (int)o->len;
		default:
			sink_putc(o, '%');
			sink_putc(o, *fmt);
			break;
		}
	}
	return (int)o->len;
}

int nb_vprintf(const char *fmt, va_list ap)
{
	struct sink o = { NULL, 0, 0 };

	return format(&o, fmt, ap);
}

int nb_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = nb_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int nb_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	static char dummy;
	struct sink o = { size ? buf : &dummy, size, 0 };
	int n = format(&o, fmt, ap);

	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return n;
}

int nb_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = nb_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* Text with \n, \r and \t escaped, so the first bytes of a text file still read as text. */
static int preview_is_text(const uint8_t *p, size_t n)
{
	for (; n; n--, p++)
		if ((*p < 0x20 || *p > 0x7e) && *p != '\n' && *p != '\r' && *p != '\t')
			return 0;
	return 1;
}

void nb_print_preview(const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t i;

	if (!preview_is_text(p, n)) {
		nb_puts("bytes");
		for (i = 0; i < n; i++)
			nb_printf(" %02x", p[i]);
		return;
	}
	nb_putc('"');
	for (i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\r' || p[i] == '\t' || p[i] == '"' || p[i] == '\\') {
			nb_putc('\\');
			nb_putc(p[i] == '\n' ? 'n' : p[i] == '\r' ? 'r' : p[i] == '\t' ? 't' : (char)p[i]);
		} else {
			nb_putc((char)p[i]);
		}
	}
	nb_putc('"');
}
