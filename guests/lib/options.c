/* "key=value" option words, as in the boot info's options and a Multiboot command line. */
#include "guests/lib/nbguest.h"

const char *nb_opt_find(const char *opts, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *found = NULL, *p = opts;
	size_t flen = 0;

	if (!opts || klen == 0)
		return NULL;
	while (*p) {
		const char *word = p, *end;

		while (*p && *p != ' ')
			p++;
		end = p;
		while (*p == ' ')
			p++;
		if ((size_t)(end - word) < klen || nb_strncmp(word, key, klen) != 0)
			continue;
		if (word + klen == end) {
			found = end;
			flen = 0;
		} else if (word[klen] == '=') {
			found = word + klen + 1;
			flen = (size_t)(end - found);
		}
	}
	if (found && len)
		*len = flen;
	return found;
}

int nb_opt_is(const char *opts, const char *key, const char *value)
{
	size_t len;
	const char *v = nb_opt_find(opts, key, &len);

	return v && len == strlen(value) && nb_strncmp(v, value, len) == 0;
}

uint64_t nb_opt_u64(const char *opts, const char *key, uint64_t dflt)
{
	size_t len, i = 0;
	const char *v = nb_opt_find(opts, key, &len);
	unsigned base = 10;
	uint64_t n = 0;

	if (!v || len == 0)
		return dflt;
	if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		i = 2;
	}
	for (; i < len; i++) {
		char c = v[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return dflt;
		n = n * base + d;
	}
	return n;
}
