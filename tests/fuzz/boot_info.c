/*
 * Fuzz harness: the boot-info checks and the option parser every guest kernel and nbvmm run on
 * what their parent handed them (guests/lib/bootinfo.c, guests/lib/options.c). For nbvmm at
 * level 2 and deeper the parent is itself a guest, so the boot info is untrusted input.
 *
 * Input: the bytes of a struct nb_boot_info (zero-filled where the input is shorter), with a
 * flag byte first that can make the header valid so that the fuzzer gets past the magic. Checked:
 *   - nb_boot_check returns one of its codes, and nb_boot_strerror names it;
 *   - a boot info it accepts has NUL-terminated strings, at most NB_BOOT_MAX_MODULES modules,
 *     each inside RAM, the free range inside RAM, the ring inside RAM;
 *   - nb_boot_module finds each module by its name (the first one of that name);
 *   - in the options, nb_opt_find returns a value inside the options string and ending at a
 *     space or its end, the last word for the key; nb_opt_is agrees with it; nb_opt_u64 gives
 *     the number (decimal or 0x-hex, modulo 2^64), or the default when the value is absent or
 *     not a number.
 */
#include <string.h>

#include "guests/lib/nbkernel.h"
#include "tests/fuzz/fuzz.h"

static const char *const keys[] = { "mem", "ring", "timeout", "audit", "faithful", "svm", "records",
				     "do", "exit", "flood", "m", "" };

/* The value of the last word `key` or `key=...` of opts, by a second reading of the rule. */
static const char *ref_find(const char *opts, const char *key, size_t *len)
{
	size_t klen = strlen(key), n = strlen(opts), i = 0;
	const char *found = NULL;

	if (klen == 0)
		return NULL;
	while (i < n) {
		size_t j = i;
		while (j < n && opts[j] != ' ')
			j++;
		if (j - i == klen && memcmp(opts + i, key, klen) == 0) {
			found = opts + j;
			*len = 0;
		} else if (j - i > klen && memcmp(opts + i, key, klen) == 0 && opts[i + klen] == '=') {
			found = opts + i + klen + 1;
			*len = j - i - klen - 1;
		}
		while (j < n && opts[j] == ' ')
			j++;
		i = j;
	}
	return found;
}

static void check_options(const char *opts)
{
	size_t olen = strlen(opts), k;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t len = 0, rlen = 0, i;
		const char *v = nb_opt_find(opts, keys[k], &len), *rv = ref_find(opts, keys[k], &rlen);
		uint64_t d = 0x1234567890abcdefull, u = nb_opt_u64(opts, keys[k], d);
		bool number = v && len > 0, hex;
		uint64_t n;
		char value[NB_BOOT_OPTIONS_LEN + 1];

		FUZZ_CHECK(v == rv && (!v || len == rlen), "key '%s' in '%s': value at %td (%zu), expected %td (%zu)",
			   keys[k], opts, v ? v - opts : -1, len, rv ? rv - opts : -1, rlen);
		if (!v) {
			FUZZ_CHECK(u == d, "key '%s' absent but nb_opt_u64 gives %llu", keys[k], (unsigned long long)u);
			continue;
		}
		FUZZ_CHECK(v >= opts && v + len <= opts + olen && (v[len] == ' ' || v[len] == 0),
			   "key '%s': value outside the options or not at a word's end", keys[k]);
		memcpy(value, v, len);
		value[len] = 0;
		FUZZ_CHECK(nb_opt_is(opts, keys[k], value), "nb_opt_is(%s, %s) is false", keys[k], value);
		hex = len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
		for (i = hex ? 2 : 0, n = 0; i < len && number; i++) {
			char c = v[i];
			unsigned digit = c >= '0' && c <= '9' ? (unsigned)(c - '0')
					 : hex && c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
					 : hex && c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 99;
			number = digit < 99;
			n = n * (hex ? 16 : 10) + digit;
		}
		FUZZ_CHECK(u == (number ? n : d), "key '%s' value '%s': nb_opt_u64 gives %llu, expected %llu",
			   keys[k], value, (unsigned long long)u, (unsigned long long)(number ? n : d));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nb_boot_info bi;
	struct fuzz_in in = fuzz_in(data, size);
	uint8_t f = fuzz_u8(&in);
	const char *s;
	uint32_t i;
	int r;

	fuzz_copy(&in, &bi, sizeof(bi));
	if (f & 1) {
		bi.magic = NB_BOOT_MAGIC;
		bi.version = NB_BOOT_VERSION;
		bi.size = sizeof(bi);
	}
	if (f & 2)
		bi.options[NB_BOOT_OPTIONS_LEN - 1] = 0;
	if (f & 4)
		bi.module_count %= NB_BOOT_MAX_MODULES + 1;

	r = nb_boot_check(&bi);
	FUZZ_CHECK(r <= NB_BOOT_OK && r >= NB_BOOT_ERING, "nb_boot_check gives %d", r);
	s = nb_boot_strerror(r);
	FUZZ_CHECK(s && strcmp(s, "unknown error") != 0, "no message for %d", r);
	if (nb_strnlen(bi.options, NB_BOOT_OPTIONS_LEN) < NB_BOOT_OPTIONS_LEN)
		check_options(bi.options);
	if (r != NB_BOOT_OK)
		return 0;
	FUZZ_CHECK(bi.module_count <= NB_BOOT_MAX_MODULES, "%u modules accepted", bi.module_count);
	FUZZ_CHECK(bi.free_start <= bi.free_end && bi.free_end <= bi.mem_size, "free range outside RAM");
	FUZZ_CHECK(!bi.trace_ring_addr || (bi.trace_ring_addr <= bi.mem_size &&
					   bi.trace_ring_size <= bi.mem_size - bi.trace_ring_addr),
		   "ring outside RAM");
	for (i = 0; i < bi.module_count; i++) {
		const struct nb_boot_module *m = &bi.modules[i], *found;

		FUZZ_CHECK(memchr(m->name, 0, sizeof(m->name)) && memchr(m->args, 0, sizeof(m->args)),
			   "module %u: string without NUL", i);
		FUZZ_CHECK(m->addr <= bi.mem_size && m->size <= bi.mem_size - m->addr, "module %u outside RAM", i);
		found = nb_boot_module(&bi, m->name);
		FUZZ_CHECK(found && found <= m && strcmp(found->name, m->name) == 0,
			   "module %u '%s' not found by its name", i, m->name);
	}
	return 0;
}
