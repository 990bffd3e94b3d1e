/* Machine configuration: defaults and the --module syntax. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l0/nestbed.h"

void nb_machine_config_init(struct nb_machine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kvm_path = "/dev/kvm";
	cfg->mem_bytes = 64ull << 20;
	cfg->ring_bytes = 1ull << 20;
	cfg->tracing = 1;
	cfg->options = "";
}

int nb_module_spec_parse(const char *spec, struct nb_module_spec *out, struct nb_error *err)
{
	const char *eq = strchr(spec, '=');
	const char *comma;
	size_t name_len, path_len;

	memset(out, 0, sizeof(*out));
	if (!eq)
		return nb_error_set(err, NB_E_USAGE, "module '%s': expected name=path[,args]", spec);
	name_len = (size_t)(eq - spec);
	comma = strchr(eq + 1, ',');
	path_len = comma ? (size_t)(comma - eq - 1) : strlen(eq + 1);
	if (name_len == 0)
		return nb_error_set(err, NB_E_USAGE, "module '%s': empty name (expected name=path[,args])", spec);
	if (name_len >= sizeof(out->name))
		return nb_error_set(err, NB_E_USAGE, "module '%s': name longer than %zu characters", spec,
				    sizeof(out->name) - 1);
	if (path_len == 0)
		return nb_error_set(err, NB_E_USAGE, "module '%s': empty path (expected name=path[,args])", spec);
	if (path_len >= sizeof(out->path))
		return nb_error_set(err, NB_E_USAGE, "module '%s': path too long", spec);
	if (comma && strlen(comma + 1) >= sizeof(out->args))
		return nb_error_set(err, NB_E_USAGE, "module '%s': arguments longer than %zu characters", spec,
				    sizeof(out->args) - 1);
	memcpy(out->name, spec, name_len);
	memcpy(out->path, eq + 1, path_len);
	if (comma)
		snprintf(out->args, sizeof(out->args), "%s", comma + 1);
	return 0;
}

const char *nb_stop_reason_name(int reason)
{
	static const char *const names[] = {
		[NB_STOP_NONE] = "none",
		[NB_STOP_GUEST_EXIT] = "guest-exit",
		[NB_STOP_TIMEOUT] = "timeout",
		[NB_STOP_SHUTDOWN] = "triple-fault",
		[NB_STOP_INTERNAL_ERROR] = "internal-error",
		[NB_STOP_FAIL_ENTRY] = "fail-entry",
		[NB_STOP_BAD_EXIT] = "bad-exit",
		[NB_STOP_HALTED] = "halted-forever",
		[NB_STOP_INTERRUPTED] = "interrupted",
		[NB_STOP_STORE_FAILED] = "store-failed",
	};

	if (reason >= 0 && (size_t)reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "unknown";
}

int nb_size_parse(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || s[0] == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end || (shift && v > (~0ull >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}
