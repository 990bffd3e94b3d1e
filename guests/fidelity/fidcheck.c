/* Multi-field checks (fidcheck.h). */
#include "guests/lib/nbguest.h"
#include "guests/lib/check.h"
#include "guests/fidelity/fidcheck.h"

int fid_check_fields(const char *name, const struct fid_field *fields, unsigned n)
{
	char why[160];
	unsigned i;

	for (i = 0; i < n; i++) {
		if (fields[i].expected == fields[i].got)
			continue;
		nb_snprintf(why, sizeof(why), "%s expected 0x%llx got 0x%llx", fields[i].what,
			    (unsigned long long)fields[i].expected,
			    (unsigned long long)fields[i].got);
		nb_check_fail(name, why);
		return 0;
	}
	return nb_check_text(name, 1, "", "");
}

void fid_skip_lines(const char *prefix, const char *const *whats, unsigned n, const char *why)
{
	char name[160];
	unsigned i;

	for (i = 0; i < n; i++)
		nb_check_skip(prefix ? fid_name(name, sizeof(name), prefix, whats[i]) : whats[i], why);
}

void fid_check_trap(const struct fid_trap_expect *e, const struct fid_trap_seen *s,
		    const char *ip_reg)
{
	char name[160], what[32];

	nb_check_u64(fid_name(name, sizeof(name), e->name, "vector"), e->vector, s->vector);
	if (e->has_error)
		nb_check_u64(fid_name(name, sizeof(name), e->name, "error code"), e->error, s->error);
	nb_snprintf(what, sizeof(what), "saved %s", ip_reg);
	nb_check_u64(fid_name(name, sizeof(name), e->name, what), e->ip, s->ip);
	if (e->vector == FID_VEC_PF)
		nb_check_u64(fid_name(name, sizeof(name), e->name, "CR2"), e->cr2, s->cr2);
}

void fid_check_no_trap(const struct fid_trap_expect *e)
{
	nb_check_fail(e->name, "no exception");
}

void fid_skip_trap(const struct fid_trap_expect *e, const char *ip_reg, const char *frame,
		   const char *why)
{
	char ip[32];
	const char *whats[5];
	unsigned n = 0;

	nb_snprintf(ip, sizeof(ip), "saved %s", ip_reg);
	whats[n++] = "vector";
	if (e->has_error)
		whats[n++] = "error code";
	whats[n++] = ip;
	if (e->vector == FID_VEC_PF)
		whats[n++] = "CR2";
	whats[n++] = frame;
	fid_skip_lines(e->name, whats, n, why);
}

const char *fid_name(char *buf, unsigned size, const char *prefix, const char *what)
{
	nb_snprintf(buf, size, "%s: %s", prefix, what);
	return buf;
}
