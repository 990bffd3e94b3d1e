/* PASS/FAIL/SKIP lines and their totals (check.h). */
#include "guests/lib/nbguest.h"
#include "guests/lib/check.h"

/* Below this, a value reads better in decimal (counts, statuses, small selectors). */
#define CHECK_DECIMAL_MAX 0xffffu

static unsigned passed, failed, skipped;

static void print_value(uint64_t v)
{
	if (v <= CHECK_DECIMAL_MAX)
		nb_printf("%llu", (unsigned long long)v);
	else
		nb_printf("0x%llx", (unsigned long long)v);
}

int nb_check_u64(const char *name, uint64_t expected, uint64_t got)
{
	if (expected == got) {
		passed++;
		nb_printf("PASS: %s\n", name);
		return 1;
	}
	failed++;
	nb_printf("FAIL: %s: expected ", name);
	print_value(expected);
	nb_printf(" got ");
	print_value(got);
	nb_printf("\n");
	return 0;
}

int nb_check_text(const char *name, int ok, const char *expected, const char *got)
{
	if (ok) {
		passed++;
		nb_printf("PASS: %s\n", name);
		return 1;
	}
	failed++;
	nb_printf("FAIL: %s: expected %s got %s\n", name, expected, got);
	return 0;
}

void nb_check_skip(const char *name, const char *why)
{
	skipped++;
	nb_printf("SKIP: %s (%s)\n", name, why);
}

void nb_check_fail(const char *name, const char *why)
{
	failed++;
	nb_printf("FAIL: %s: %s\n", name, why);
}

int nb_check_summary(const char *prog)
{
	nb_printf("%s: %u passed, %u failed, %u skipped\n", prog, passed, failed, skipped);
	return failed ? 1 : 0;
}
