/*
 * shadow/vmcb.h and shadow/svm_exit.h: the layout is pinned by _Static_asserts at compile time
 * (this file includes the header, so a wrong offset fails the build); here, the exit codes
 * generated from svm_exit_codes.def and the VMCB fields as a hypervisor uses them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shadow/vmcb.h"

static const struct {
	int64_t value;
	const char *name;
} exits[] = {
#define SVM_EXIT(value, name, desc) { (value), #name },
#include "shadow/svm_exit_codes.def"
#undef SVM_EXIT
};

static void test_svm_exit_codes_are_distinct_and_architectural(void **state)
{
	size_t i, j, n = sizeof(exits) / sizeof(exits[0]);

	(void)state;
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (exits[i].value == exits[j].value || strcmp(exits[i].name, exits[j].name) == 0)
				fail_msg("exit codes %s and %s collide", exits[i].name, exits[j].name);
	/* A few values from APM Vol 2 Appendix C. */
	assert_int_equal(SVM_EXIT_CR0_READ, 0x000);
	assert_int_equal(SVM_EXIT_EXCP_PF, 0x04e);
	assert_int_equal(SVM_EXIT_CPUID, 0x072);
	assert_int_equal(SVM_EXIT_IOIO, 0x07b);
	assert_int_equal(SVM_EXIT_VMRUN, 0x080);
	assert_int_equal(SVM_EXIT_NPF, 0x400);
	assert_int_equal(SVM_EXIT_CR0_WRITE + 3, SVM_EXIT_CR3_WRITE);
	assert_int_equal(SVM_EXIT_EXCP_DE + 13, SVM_EXIT_EXCP_GP);
}

static void test_vmcb_exit_code_holds_64_bit_codes(void **state)
{
	struct vmcb *v = calloc(1, sizeof(*v));

	(void)state;
	assert_non_null(v);
	v->control.exit_code = SVM_EXIT_INVALID;
	assert_true(v->control.exit_code == (uint64_t)-1);
	assert_true(v->control.exit_code == SVM_EXIT_INVALID);
	v->control.exit_code = SVM_EXIT_BUSY;
	assert_true(v->control.exit_code == 0xfffffffffffffffeull);
	/* The save area sits at 0x400: RIP at 0x578 of the page, as VMRUN reads it. */
	v->save.rip = 0x1122334455667788ull;
	assert_int_equal(*(uint64_t *)((uint8_t *)v + 0x578), 0x1122334455667788ull);
	v->control.intercept_cr = VMCB_INTERCEPT_CR_WRITE(3) | VMCB_INTERCEPT_CR_READ(0);
	assert_int_equal(v->control.intercept_cr, 0x00080001);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_svm_exit_codes_are_distinct_and_architectural),
		cmocka_unit_test(test_vmcb_exit_code_holds_64_bit_codes),
	};

	return cmocka_run_group_tests_name("shadow: VMCB layout and exit codes", tests, NULL, NULL);
}
