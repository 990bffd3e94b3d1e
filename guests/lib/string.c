/*
 * The string functions gcc may emit calls to, plus the few the guests use. Ring-0 guest code is
 * emulated one instruction at a time on the build machines (shared/PLATFORM.md), so aligned
 * copies are one REP MOVSQ / REP STOSQ; the lib is built with
 * -fno-tree-loop-distribute-patterns so gcc does not turn these loops back into calls to
 * themselves.
 */
#include "guests/lib/nbguest.h"

typedef uint64_t __attribute__((may_alias)) nb_word;

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0 && n >= 8) {
#ifdef __x86_64__
		/* One REP MOVSQ is one instruction for KVM's emulator to decode, however long. */
		size_t words = n / 8;
		__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(words) : : "memory");
		n &= 7;
#else
		for (; n >= 8; n -= 8, d += 8, s += 8)
			*(nb_word *)d = *(const nb_word *)s;
#endif
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	/* Overlapping with dst above src: copy backwards. */
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	if (((uintptr_t)d & 7) == 0 && n >= 8) {
		nb_word w = (uint8_t)c * 0x0101010101010101ull;
#ifdef __x86_64__
		size_t words = n / 8;
		__asm__ volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(w) : "memory");
		n &= 7;
#else
		for (; n >= 8; n -= 8, d += 8)
			*(nb_word *)d = w;
#endif
	}
	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	const char *p = s;

	while (*p)
		p++;
	return (size_t)(p - s);
}

size_t nb_strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

int nb_strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (uint8_t)*a - (uint8_t)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

int nb_strcmp(const char *a, const char *b)
{
	return nb_strncmp(a, b, (size_t)-1);
}
