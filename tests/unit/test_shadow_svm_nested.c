/*
 * shadow/svm_nested: virtual SVM, checked against the AMD APM Vol 2 chapter 15 rules one by one.
 *   - VMRUN consistency checks (§15.5.1, §15.20, §15.25.4): a valid VMCB12 passes; each illegal
 *     state, set alone on top of it, is refused with its own reason; legal neighbours pass;
 *   - merging VMCB12's controls with nbvmm's own: intercept union and who asked for what;
 *   - exit routing: every intercept vector, the I/O permission map (§15.10.1) and the MSR
 *     permission map (§15.11) read from simulated guest memory;
 *   - #VMEXIT (§15.6) and VMLOAD/VMSAVE (§15.5.2): exactly the architectural fields move, byte
 *     for byte;
 *   - nested page walk (§15.25): page sizes, faults, and EXITINFO1 bits 32/33.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shadow/svm_nested.h"

#include "tests/unit/sim_mem.h"

/* ---------------------------------------------------------------------------------------------
 * Consistency checks.
 */

#define MAXPA 40

static const struct svm_nested_caps caps_default = {
	.maxphyaddr = MAXPA,
	.np = true,
	/* VME..OSXMMEXCPT (bits 10:0), FSGSBASE (16), OSXSAVE (18): LA57 (12) does not exist. */
	.cr4_valid = 0x7ffull | (1ull << 16) | (1ull << 18),
	/* No LMSLE, no TCE on this virtual CPU. */
	.efer_valid = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SVME |
		      X86_EFER_FFXSR,
};

/* A 64-bit nested guest as a nested hypervisor would set it up: passes every check. */
static void valid_vmcb(struct vmcb *v)
{
	memset(v, 0, sizeof(*v));
	v->save.efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SVME;
	v->save.cr0 = X86_CR0_PG | X86_CR0_WP | (1ull << 5) /* NE */ | (1ull << 4) /* ET */ |
		      (1ull << 1) /* MP */ | X86_CR0_PE;
	v->save.cr3 = 0x1000;
	v->save.cr4 = X86_CR4_PAE | (1ull << 7) /* PGE */ | (1ull << 9) /* OSFXSR */;
	v->save.dr6 = 0xffff0ff0;
	v->save.dr7 = 0x400;
	v->save.cs.selector = 0x08;
	v->save.cs.attrib = 0xb | VMCB_SEG_ATTR_S | VMCB_SEG_ATTR_P | VMCB_SEG_ATTR_L;
	v->save.cs.limit = 0xffffffff;
	v->save.rip = 0x400000;
	v->control.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT |
				     VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT |
				     VMCB_CTRL_INTERCEPT_MISC1_CPUID;
	v->control.intercept_misc2 = VMCB_CTRL_INTERCEPT_MISC2_VMRUN |
				     VMCB_CTRL_INTERCEPT_MISC2_VMMCALL;
	v->control.iopm_base_pa = 0x100000;
	v->control.msrpm_base_pa = 0x104000;
	v->control.asid = 1;
	v->control.nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	v->control.nested_cr3 = 0x200000;
	v->control.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID_ERR | 14;
	v->control.event_inj_err = 2;
}

/* Leaves long mode: a 32-bit protected-mode guest with PAE paging. */
static void to_legacy_pae(struct vmcb *v)
{
	v->save.efer &= ~(X86_EFER_LME | X86_EFER_LMA);
	v->save.cs.attrib = (uint16_t)(v->save.cs.attrib & ~VMCB_SEG_ATTR_L) | VMCB_SEG_ATTR_DB;
}

typedef void mutation(struct vmcb *v, struct svm_nested_caps *c);

#define MUT(name, ...) \
	static void name(struct vmcb *v, struct svm_nested_caps *c) \
	{ \
		(void)v; \
		(void)c; \
		__VA_ARGS__; \
	}

MUT(svme_clear, v->save.efer &= ~X86_EFER_SVME)
MUT(nw_without_cd, v->save.cr0 |= X86_CR0_NW)
MUT(cr0_bit32, v->save.cr0 |= 1ull << 32)
MUT(cr0_bit63, v->save.cr0 |= 1ull << 63)
MUT(cr3_at_maxpa, v->save.cr3 |= 1ull << MAXPA)
MUT(cr3_bit63, v->save.cr3 |= 1ull << 63)
MUT(cr3_legacy_pae_high, { to_legacy_pae(v); v->save.cr3 = (1ull << 32) | 0x1000; })
MUT(cr3_legacy_nopae_high, {
	to_legacy_pae(v);
	v->save.cr4 &= ~X86_CR4_PAE;
	v->save.cr3 = (1ull << 35) | 0x1000;
})
MUT(cr4_la57, v->save.cr4 |= 1ull << 12)
MUT(cr4_bit32, v->save.cr4 |= 1ull << 32)
MUT(dr6_high, v->save.dr6 |= 1ull << 32)
MUT(dr7_high, v->save.dr7 |= 1ull << 63)
MUT(efer_bit1, v->save.efer |= 1ull << 1)
MUT(efer_lmsle_absent, v->save.efer |= X86_EFER_LMSLE)
MUT(efer_lme_without_long_mode, c->efer_valid &= ~(X86_EFER_LME | X86_EFER_LMA))
MUT(long_without_pae, v->save.cr4 &= ~X86_CR4_PAE)
MUT(long_without_pe, v->save.cr0 &= ~X86_CR0_PE)
MUT(long_cs_l_and_d, v->save.cs.attrib |= VMCB_SEG_ATTR_DB)
MUT(no_vmrun_intercept, v->control.intercept_misc2 &= ~VMCB_CTRL_INTERCEPT_MISC2_VMRUN)
MUT(msrpm_last_page_beyond, v->control.msrpm_base_pa = (1ull << MAXPA) - 0x1000)
MUT(msrpm_far_beyond, v->control.msrpm_base_pa = 1ull << 60)
MUT(iopm_third_page_beyond, v->control.iopm_base_pa = (1ull << MAXPA) - 0x2000)
MUT(iopm_wraps, v->control.iopm_base_pa = ~0ull - 0xfff)
MUT(evtinj_type1, v->control.event_inj = SVM_EVTINJ_VALID | (1u << 8) | 32)
MUT(evtinj_type5, v->control.event_inj = SVM_EVTINJ_VALID | (5u << 8) | 32)
MUT(evtinj_type6, v->control.event_inj = SVM_EVTINJ_VALID | (6u << 8) | 32)
MUT(evtinj_type7, v->control.event_inj = SVM_EVTINJ_VALID | (7u << 8) | 32)
MUT(evtinj_nmi_as_exception, v->control.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | 2)
MUT(asid_zero, v->control.asid = 0)
MUT(np_not_offered, c->np = false)
MUT(ncr3_at_maxpa, v->control.nested_cr3 |= 1ull << MAXPA)

static const struct {
	const char *name;
	mutation *mut;
	int want;
} illegal[] = {
	{ "EFER.SVME clear", svme_clear, SVM_NESTED_EFER_SVME_CLEAR },
	{ "CR0.NW=1 with CR0.CD=0", nw_without_cd, SVM_NESTED_CR0_NW_WITHOUT_CD },
	{ "CR0 bit 32", cr0_bit32, SVM_NESTED_CR0_HIGH },
	{ "CR0 bit 63", cr0_bit63, SVM_NESTED_CR0_HIGH },
	{ "long-mode CR3 bit at MAXPHYADDR", cr3_at_maxpa, SVM_NESTED_CR3_MBZ },
	{ "long-mode CR3 bit 63", cr3_bit63, SVM_NESTED_CR3_MBZ },
	{ "legacy PAE CR3 bit 32", cr3_legacy_pae_high, SVM_NESTED_CR3_MBZ },
	{ "legacy non-PAE CR3 bit 35", cr3_legacy_nopae_high, SVM_NESTED_CR3_MBZ },
	{ "CR4.LA57 not offered", cr4_la57, SVM_NESTED_CR4_MBZ },
	{ "CR4 bit 32", cr4_bit32, SVM_NESTED_CR4_MBZ },
	{ "DR6 bit 32", dr6_high, SVM_NESTED_DR6_HIGH },
	{ "DR7 bit 63", dr7_high, SVM_NESTED_DR7_HIGH },
	{ "EFER reserved bit 1", efer_bit1, SVM_NESTED_EFER_MBZ },
	{ "EFER.LMSLE not offered", efer_lmsle_absent, SVM_NESTED_EFER_MBZ },
	{ "EFER.LME on a CPU without long mode", efer_lme_without_long_mode, SVM_NESTED_EFER_MBZ },
	{ "EFER.LME, CR0.PG, CR4.PAE=0", long_without_pae, SVM_NESTED_LONG_WITHOUT_PAE },
	{ "EFER.LME, CR0.PG, CR0.PE=0", long_without_pe, SVM_NESTED_LONG_WITHOUT_PE },
	{ "long mode with CS.L and CS.D", long_cs_l_and_d, SVM_NESTED_LONG_CS_L_AND_D },
	{ "VMRUN intercept clear", no_vmrun_intercept, SVM_NESTED_NO_VMRUN_INTERCEPT },
	{ "MSRPM second page at MAXPHYADDR", msrpm_last_page_beyond,
	  SVM_NESTED_MSRPM_BEYOND_MAXPHYADDR },
	{ "MSRPM at 2^60", msrpm_far_beyond, SVM_NESTED_MSRPM_BEYOND_MAXPHYADDR },
	{ "IOPM third page at MAXPHYADDR", iopm_third_page_beyond,
	  SVM_NESTED_IOPM_BEYOND_MAXPHYADDR },
	{ "IOPM at the top of the address space", iopm_wraps, SVM_NESTED_IOPM_BEYOND_MAXPHYADDR },
	{ "EVENTINJ type 1", evtinj_type1, SVM_NESTED_EVENTINJ_TYPE },
	{ "EVENTINJ type 5", evtinj_type5, SVM_NESTED_EVENTINJ_TYPE },
	{ "EVENTINJ type 6", evtinj_type6, SVM_NESTED_EVENTINJ_TYPE },
	{ "EVENTINJ type 7", evtinj_type7, SVM_NESTED_EVENTINJ_TYPE },
	{ "EVENTINJ exception vector 2", evtinj_nmi_as_exception,
	  SVM_NESTED_EVENTINJ_NMI_EXCEPTION },
	{ "ASID 0", asid_zero, SVM_NESTED_ASID_ZERO },
	{ "NP_ENABLE without NP offered", np_not_offered, SVM_NESTED_NP_UNSUPPORTED },
	{ "nCR3 bit at MAXPHYADDR", ncr3_at_maxpa, SVM_NESTED_NCR3_MBZ },
};

/* Neighbours of the rules: states that look close to illegal ones but are architectural. */
MUT(cd_and_nw, v->save.cr0 |= X86_CR0_CD | X86_CR0_NW)
MUT(cd_only, v->save.cr0 |= X86_CR0_CD)
MUT(long_cr3_below_maxpa, v->save.cr3 = (1ull << MAXPA) - 0x1000)
MUT(legacy_pae_low_cr3, { to_legacy_pae(v); v->save.cr3 = 0xfffff000; })
MUT(legacy_cs_l_and_d, { to_legacy_pae(v); v->save.cs.attrib |= VMCB_SEG_ATTR_L; })
MUT(lme_without_paging, {
	v->save.efer &= ~X86_EFER_LMA;
	v->save.cr0 &= ~(X86_CR0_PG | X86_CR0_PE);
	v->save.cr4 &= ~X86_CR4_PAE;
	v->save.cs.attrib |= VMCB_SEG_ATTR_DB;
})
MUT(msrpm_last_legal, v->control.msrpm_base_pa = (1ull << MAXPA) - 0x2000)
MUT(iopm_last_legal_low_bits, v->control.iopm_base_pa = (1ull << MAXPA) - 0x3000 + 0xfff)
MUT(msrpm_beyond_unused, {
	v->control.intercept_misc1 &= ~VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT;
	v->control.msrpm_base_pa = 1ull << 60;
})
MUT(iopm_beyond_unused, {
	v->control.intercept_misc1 &= ~VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT;
	v->control.iopm_base_pa = 1ull << 60;
})
MUT(evtinj_invalid_type_not_valid, v->control.event_inj = (5u << 8) | 2)
MUT(evtinj_nmi, v->control.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI | 2)
MUT(evtinj_soft, v->control.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_SOFT | 0x80)
MUT(evtinj_intr_vector_2, v->control.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR | 2)
MUT(np_off_not_offered, {
	c->np = false;
	v->control.nested_ctl = 0;
	v->control.nested_cr3 = ~0ull;
})
MUT(maxpa_52, { c->maxphyaddr = 52; v->save.cr3 = 1ull << 51; v->control.nested_cr3 = 1ull << 51; })

static const struct {
	const char *name;
	mutation *mut;
} legal[] = {
	{ "CR0.CD=1 NW=1", cd_and_nw },
	{ "CR0.CD=1 NW=0", cd_only },
	{ "long-mode CR3 just below MAXPHYADDR", long_cr3_below_maxpa },
	{ "legacy PAE with a 32-bit CR3", legacy_pae_low_cr3 },
	{ "CS.L and CS.D outside long mode", legacy_cs_l_and_d },
	{ "EFER.LME with paging off", lme_without_paging },
	{ "MSRPM ending at MAXPHYADDR", msrpm_last_legal },
	{ "IOPM ending at MAXPHYADDR, low bits ignored", iopm_last_legal_low_bits },
	{ "MSRPM out of range without MSR_PROT", msrpm_beyond_unused },
	{ "IOPM out of range without IOIO_PROT", iopm_beyond_unused },
	{ "reserved EVENTINJ type without V", evtinj_invalid_type_not_valid },
	{ "EVENTINJ NMI", evtinj_nmi },
	{ "EVENTINJ software interrupt", evtinj_soft },
	{ "EVENTINJ interrupt vector 2", evtinj_intr_vector_2 },
	{ "NP off where NP is not offered", np_off_not_offered },
	{ "52-bit MAXPHYADDR", maxpa_52 },
};

static void test_check_valid_vmcb_passes(void **state)
{
	struct vmcb v;
	const char *why = NULL;
	int r;

	(void)state;
	valid_vmcb(&v);
	r = svm_nested_check_vmcb(&v, &caps_default, &why);
	if (r != SVM_NESTED_VALID)
		fail_msg("valid VMCB refused: %d (%s)", r, why);
	assert_string_equal(why, "consistent");
	assert_int_equal(svm_nested_check_vmcb(&v, &caps_default, NULL), SVM_NESTED_VALID);
}

static void test_check_each_illegal_state_refused_with_its_reason(void **state)
{
	bool seen[SVM_NESTED_CHECK_COUNT] = { false };
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(illegal) / sizeof(illegal[0]); i++) {
		struct vmcb v;
		struct svm_nested_caps c = caps_default;
		const char *why = NULL;

		valid_vmcb(&v);
		illegal[i].mut(&v, &c);
		r = svm_nested_check_vmcb(&v, &c, &why);
		if (r != illegal[i].want)
			fail_msg("%s: expected reason %d (%s), got %d (%s)", illegal[i].name,
				 illegal[i].want, svm_nested_check_str(illegal[i].want), r,
				 why ? why : "(null)");
		if (why != svm_nested_check_str(r))
			fail_msg("%s: why is not the reason's string", illegal[i].name);
		seen[r] = true;
	}
	/* Every rule is exercised by at least one row. */
	for (r = 1; r < SVM_NESTED_CHECK_COUNT; r++)
		if (!seen[r])
			fail_msg("no test row refuses with reason %d (%s)", r, svm_nested_check_str(r));
}

static void test_check_legal_neighbours_pass(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(legal) / sizeof(legal[0]); i++) {
		struct vmcb v;
		struct svm_nested_caps c = caps_default;
		const char *why = NULL;
		int r;

		valid_vmcb(&v);
		legal[i].mut(&v, &c);
		r = svm_nested_check_vmcb(&v, &c, &why);
		if (r != SVM_NESTED_VALID)
			fail_msg("%s: expected a valid VMCB, refused with %d (%s)", legal[i].name, r,
				 why ? why : "(null)");
	}
}

static void test_check_halves_split_save_and_control(void **state)
{
	struct vmcb v;

	(void)state;
	valid_vmcb(&v);
	v.save.efer &= ~X86_EFER_SVME;
	v.control.asid = 0;
	/* The save area is checked first, as the list of §15.5.1 goes. */
	assert_int_equal(svm_nested_check_vmcb(&v, &caps_default, NULL),
			 SVM_NESTED_EFER_SVME_CLEAR);
	assert_int_equal(svm_nested_check_save(&v.save, &caps_default),
			 SVM_NESTED_EFER_SVME_CLEAR);
	assert_int_equal(svm_nested_check_controls(&v.control, &caps_default),
			 SVM_NESTED_ASID_ZERO);
}

static void test_check_reason_strings_are_distinct(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < SVM_NESTED_CHECK_COUNT; i++) {
		const char *s = svm_nested_check_str(i);

		if (!s || !*s)
			fail_msg("reason %d has no string", i);
		for (j = 0; j < i; j++)
			if (strcmp(s, svm_nested_check_str(j)) == 0)
				fail_msg("reasons %d and %d share the string '%s'", j, i, s);
	}
	assert_null(svm_nested_check_str(SVM_NESTED_CHECK_COUNT));
	assert_null(svm_nested_check_str(-1));
}

/* ---------------------------------------------------------------------------------------------
 * Merge.
 */

static void test_merge_intercepts_are_the_union_with_origin(void **state)
{
	struct vmcb_control own, nested, out;
	struct svm_nested_origin o;

	(void)state;
	memset(&own, 0, sizeof(own));
	memset(&nested, 0, sizeof(nested));
	own.intercept_cr = VMCB_INTERCEPT_CR_READ(0) | VMCB_INTERCEPT_CR_WRITE(3);
	nested.intercept_cr = VMCB_INTERCEPT_CR_WRITE(3) | VMCB_INTERCEPT_CR_WRITE(4);
	own.intercept_dr = VMCB_INTERCEPT_DR_WRITE(7);
	nested.intercept_exceptions = VMCB_INTERCEPT_EXCEPTION(14) | VMCB_INTERCEPT_EXCEPTION(6);
	own.intercept_exceptions = VMCB_INTERCEPT_EXCEPTION(14) | VMCB_INTERCEPT_EXCEPTION(13);
	own.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_CPUID | VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT;
	nested.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_CPUID | VMCB_CTRL_INTERCEPT_MISC1_HLT;
	own.intercept_misc2 = VMCB_CTRL_INTERCEPT_MISC2_VMMCALL;
	nested.intercept_misc2 = VMCB_CTRL_INTERCEPT_MISC2_VMRUN | VMCB_CTRL_INTERCEPT_MISC2_VMMCALL;
	nested.intercept_misc3 = 1u << 2; /* INVPCID */

	memset(&o, 0xa5, sizeof(o));
	svm_nested_merge_controls(&own, &nested, &out, &o);

	assert_int_equal(out.intercept_cr, VMCB_INTERCEPT_CR_READ(0) | VMCB_INTERCEPT_CR_WRITE(3) |
						   VMCB_INTERCEPT_CR_WRITE(4));
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_CR].own_only, VMCB_INTERCEPT_CR_READ(0));
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_CR].nested_only, VMCB_INTERCEPT_CR_WRITE(4));
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_CR].both, VMCB_INTERCEPT_CR_WRITE(3));

	assert_int_equal(out.intercept_dr, VMCB_INTERCEPT_DR_WRITE(7));
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_DR].own_only, VMCB_INTERCEPT_DR_WRITE(7));
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_DR].nested_only, 0);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_DR].both, 0);

	assert_int_equal(out.intercept_exceptions, (1u << 6) | (1u << 13) | (1u << 14));
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_EXCEPTION].own_only, 1u << 13);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_EXCEPTION].nested_only, 1u << 6);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_EXCEPTION].both, 1u << 14);

	assert_int_equal(out.intercept_misc1, VMCB_CTRL_INTERCEPT_MISC1_CPUID |
						      VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT |
						      VMCB_CTRL_INTERCEPT_MISC1_HLT);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_MISC1].own_only,
			 VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_MISC1].nested_only,
			 VMCB_CTRL_INTERCEPT_MISC1_HLT);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_MISC1].both, VMCB_CTRL_INTERCEPT_MISC1_CPUID);

	assert_int_equal(out.intercept_misc2,
			 VMCB_CTRL_INTERCEPT_MISC2_VMRUN | VMCB_CTRL_INTERCEPT_MISC2_VMMCALL);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_MISC2].nested_only,
			 VMCB_CTRL_INTERCEPT_MISC2_VMRUN);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_MISC2].both, VMCB_CTRL_INTERCEPT_MISC2_VMMCALL);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_MISC2].own_only, 0);

	assert_int_equal(out.intercept_misc3, 1u << 2);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_MISC3].nested_only, 1u << 2);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_MISC3].own_only, 0);
	assert_int_equal(o.word[SVM_INTERCEPT_WORD_MISC3].both, 0);

	/* Who asked, per exit code. */
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_CR0_READ), SVM_ORIGIN_OWN);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_CR4_WRITE), SVM_ORIGIN_NESTED);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_CR3_WRITE), SVM_ORIGIN_BOTH);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_CR3_READ), SVM_ORIGIN_NONE);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_EXCP_GP), SVM_ORIGIN_OWN);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_EXCP_UD), SVM_ORIGIN_NESTED);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_HLT), SVM_ORIGIN_NESTED);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_IOIO), SVM_ORIGIN_OWN);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_VMRUN), SVM_ORIGIN_NESTED);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_VMMCALL), SVM_ORIGIN_BOTH);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_INVPCID), SVM_ORIGIN_NESTED);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_NPF), SVM_ORIGIN_NONE);
	assert_int_equal(svm_nested_exit_origin(&o, SVM_EXIT_INVALID), SVM_ORIGIN_NONE);
}

/* Property: on pseudo-random words the three origin masks partition the merged word, and each
 * lies in the right operand(s). */
static void test_merge_origin_partitions_random_words(void **state)
{
	struct vmcb_control own, nested, out;
	struct svm_nested_origin o;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned round, w;

	(void)state;
	for (round = 0; round < 200; round++) {
		uint32_t a[SVM_INTERCEPT_WORDS], b[SVM_INTERCEPT_WORDS], m[SVM_INTERCEPT_WORDS];

		for (w = 0; w < SVM_INTERCEPT_WORDS; w++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			a[w] = (uint32_t)x;
			b[w] = (uint32_t)(x >> 32);
		}
		memset(&own, 0, sizeof(own));
		memset(&nested, 0, sizeof(nested));
		own.intercept_cr = a[0], nested.intercept_cr = b[0];
		own.intercept_dr = a[1], nested.intercept_dr = b[1];
		own.intercept_exceptions = a[2], nested.intercept_exceptions = b[2];
		own.intercept_misc1 = a[3], nested.intercept_misc1 = b[3];
		own.intercept_misc2 = a[4], nested.intercept_misc2 = b[4];
		own.intercept_misc3 = a[5], nested.intercept_misc3 = b[5];
		svm_nested_merge_controls(&own, &nested, &out, &o);
		m[0] = out.intercept_cr, m[1] = out.intercept_dr, m[2] = out.intercept_exceptions;
		m[3] = out.intercept_misc1, m[4] = out.intercept_misc2, m[5] = out.intercept_misc3;
		for (w = 0; w < SVM_INTERCEPT_WORDS; w++) {
			const struct svm_intercept_origin *g = &o.word[w];

			if (m[w] != (a[w] | b[w]))
				fail_msg("word %u: merged %#x, expected %#x | %#x", w, m[w], a[w], b[w]);
			if ((g->own_only & g->nested_only) || (g->own_only & g->both) ||
			    (g->nested_only & g->both) ||
			    (g->own_only | g->nested_only | g->both) != m[w])
				fail_msg("word %u: origin %#x/%#x/%#x does not partition %#x", w,
					 g->own_only, g->nested_only, g->both, m[w]);
			if ((g->own_only & ~a[w]) || (g->own_only & b[w]) ||
			    (g->nested_only & ~b[w]) || (g->nested_only & a[w]) ||
			    (g->both & ~(a[w] & b[w])))
				fail_msg("word %u: origin %#x/%#x/%#x misattributes own %#x nested %#x",
					 w, g->own_only, g->nested_only, g->both, a[w], b[w]);
		}
	}
}

static void test_merge_fields_come_from_the_documented_side(void **state)
{
	struct vmcb_control own, nested, out;
	const uint32_t nested_int = V_TPR_MASK | V_IRQ_MASK | V_INTR_PRIO_MASK | V_IGN_TPR_MASK |
				    V_INTR_MASKING_MASK;
	size_t i;

	(void)state;
	memset(&own, 0, sizeof(own));
	memset(&nested, 0, sizeof(nested));
	own.iopm_base_pa = 0x111000;
	nested.iopm_base_pa = 0x999000;
	own.msrpm_base_pa = 0x222000;
	nested.msrpm_base_pa = 0x888000;
	own.tsc_offset = 1000;
	nested.tsc_offset = (uint64_t)-300; /* offsets are signed: the sum wraps */
	own.asid = 7;
	nested.asid = 1;
	own.int_ctl = V_GIF_MASK | V_GIF_ENABLE_MASK | 0x3; /* V_TPR 3 */
	nested.int_ctl = V_IRQ_MASK | (5u << V_INTR_PRIO_SHIFT) | V_IGN_TPR_MASK |
			 V_INTR_MASKING_MASK | 0xa | AVIC_ENABLE_MASK;
	nested.int_vector = 0x30;
	own.int_vector = 0x99;
	nested.int_state = SVM_INTERRUPT_SHADOW_MASK;
	nested.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR | 0x41;
	nested.event_inj_err = 0x1234;
	own.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI | 2;
	nested.next_rip = 0x401002;
	own.next_rip = 0x5555;
	own.nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	own.nested_cr3 = 0x7000;
	nested.nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	nested.nested_cr3 = 0x3000;
	own.virt_ext = 0;
	nested.virt_ext = 3;
	nested.clean = 0xffffffff;
	own.clean = 0xffffffff;
	nested.exit_code = SVM_EXIT_HLT;
	nested.exit_info_1 = 5;
	own.pause_filter_count = 10;
	nested.pause_filter_count = 3000;

	memset(&out, 0xcc, sizeof(out));
	svm_nested_merge_controls(&own, &nested, &out, NULL);

	assert_int_equal(out.iopm_base_pa, 0x111000);
	assert_int_equal(out.msrpm_base_pa, 0x222000);
	assert_int_equal(out.tsc_offset, 700);
	assert_int_equal(out.asid, 7);
	assert_int_equal(out.int_ctl & nested_int, nested.int_ctl & nested_int);
	assert_int_equal(out.int_ctl & ~nested_int, V_GIF_MASK | V_GIF_ENABLE_MASK);
	assert_int_equal(out.int_vector, 0x30);
	assert_int_equal(out.int_state, SVM_INTERRUPT_SHADOW_MASK);
	assert_int_equal(out.event_inj, nested.event_inj);
	assert_int_equal(out.event_inj_err, 0x1234);
	assert_int_equal(out.next_rip, 0x401002);
	assert_int_equal(out.nested_ctl, SVM_NESTED_CTL_NP_ENABLE);
	assert_int_equal(out.nested_cr3, 0x7000);
	assert_int_equal(out.virt_ext, 0);
	assert_int_equal(out.clean, 0);
	assert_int_equal(out.exit_code, 0);
	assert_int_equal(out.exit_info_1, 0);
	assert_int_equal(out.exit_info_2, 0);
	assert_int_equal(out.exit_int_info, 0);
	assert_int_equal(out.insn_len, 0);
	for (i = 0; i < sizeof(out.insn_bytes); i++)
		assert_int_equal(out.insn_bytes[i], 0);
	/* PAUSE not intercepted by the nested hypervisor: nbvmm's filter. */
	assert_int_equal(out.pause_filter_count, 10);
	nested.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_PAUSE;
	svm_nested_merge_controls(&own, &nested, &out, NULL);
	assert_int_equal(out.pause_filter_count, 3000);
}

static void test_merge_tlb_control_takes_the_stronger_flush(void **state)
{
	static const struct {
		uint8_t own, nested, want;
	} rows[] = {
		{ VMCB_TLB_CONTROL_DO_NOTHING, VMCB_TLB_CONTROL_DO_NOTHING,
		  VMCB_TLB_CONTROL_DO_NOTHING },
		{ VMCB_TLB_CONTROL_DO_NOTHING, VMCB_TLB_CONTROL_FLUSH_ASID,
		  VMCB_TLB_CONTROL_FLUSH_ASID },
		{ VMCB_TLB_CONTROL_FLUSH_ASID, VMCB_TLB_CONTROL_DO_NOTHING,
		  VMCB_TLB_CONTROL_FLUSH_ASID },
		{ VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL, VMCB_TLB_CONTROL_FLUSH_ASID,
		  VMCB_TLB_CONTROL_FLUSH_ASID },
		{ VMCB_TLB_CONTROL_FLUSH_ASID, VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL,
		  VMCB_TLB_CONTROL_FLUSH_ASID },
		{ VMCB_TLB_CONTROL_FLUSH_ASID, VMCB_TLB_CONTROL_FLUSH_ALL,
		  VMCB_TLB_CONTROL_FLUSH_ALL },
		{ VMCB_TLB_CONTROL_FLUSH_ALL, VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL,
		  VMCB_TLB_CONTROL_FLUSH_ALL },
		{ VMCB_TLB_CONTROL_DO_NOTHING, VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL,
		  VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL },
		{ VMCB_TLB_CONTROL_FLUSH_ASID, 2 /* reserved: counts as all */, 2 },
	};
	struct vmcb_control own, nested, out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&own, 0, sizeof(own));
		memset(&nested, 0, sizeof(nested));
		own.tlb_ctl = rows[i].own;
		nested.tlb_ctl = rows[i].nested;
		svm_nested_merge_controls(&own, &nested, &out, NULL);
		if (out.tlb_ctl != rows[i].want)
			fail_msg("TLB_CONTROL own %u nested %u: expected %u, got %u", rows[i].own,
				 rows[i].nested, rows[i].want, out.tlb_ctl);
	}
}

/* ---------------------------------------------------------------------------------------------
 * Exit routing.
 */

static bool wanted(const struct vmcb_control *n, uint64_t code, uint64_t info1, uint32_t ecx,
		   struct mem *m)
{
	return svm_nested_exit_wanted(n, code, info1, ecx, &ops, m);
}

/* Each named intercept bit of vmcb.h against the exit code of svm_exit_codes.def it causes. */
static const struct {
	uint64_t code;
	int word; /* 3 = misc1, 4 = misc2 */
	uint32_t bit;
} named[] = {
	{ SVM_EXIT_INTR, 3, VMCB_CTRL_INTERCEPT_MISC1_INTR },
	{ SVM_EXIT_NMI, 3, VMCB_CTRL_INTERCEPT_MISC1_NMI },
	{ SVM_EXIT_SMI, 3, VMCB_CTRL_INTERCEPT_MISC1_SMI },
	{ SVM_EXIT_INIT, 3, VMCB_CTRL_INTERCEPT_MISC1_INIT },
	{ SVM_EXIT_VINTR, 3, VMCB_CTRL_INTERCEPT_MISC1_VINTR },
	{ SVM_EXIT_CR0_SEL_WRITE, 3, VMCB_CTRL_INTERCEPT_MISC1_CR0_SEL_WRITE },
	{ SVM_EXIT_IDTR_READ, 3, VMCB_CTRL_INTERCEPT_MISC1_IDTR_READ },
	{ SVM_EXIT_GDTR_READ, 3, VMCB_CTRL_INTERCEPT_MISC1_GDTR_READ },
	{ SVM_EXIT_LDTR_READ, 3, VMCB_CTRL_INTERCEPT_MISC1_LDTR_READ },
	{ SVM_EXIT_TR_READ, 3, VMCB_CTRL_INTERCEPT_MISC1_TR_READ },
	{ SVM_EXIT_IDTR_WRITE, 3, VMCB_CTRL_INTERCEPT_MISC1_IDTR_WRITE },
	{ SVM_EXIT_GDTR_WRITE, 3, VMCB_CTRL_INTERCEPT_MISC1_GDTR_WRITE },
	{ SVM_EXIT_LDTR_WRITE, 3, VMCB_CTRL_INTERCEPT_MISC1_LDTR_WRITE },
	{ SVM_EXIT_TR_WRITE, 3, VMCB_CTRL_INTERCEPT_MISC1_TR_WRITE },
	{ SVM_EXIT_RDTSC, 3, VMCB_CTRL_INTERCEPT_MISC1_RDTSC },
	{ SVM_EXIT_RDPMC, 3, VMCB_CTRL_INTERCEPT_MISC1_RDPMC },
	{ SVM_EXIT_PUSHF, 3, VMCB_CTRL_INTERCEPT_MISC1_PUSHF },
	{ SVM_EXIT_POPF, 3, VMCB_CTRL_INTERCEPT_MISC1_POPF },
	{ SVM_EXIT_CPUID, 3, VMCB_CTRL_INTERCEPT_MISC1_CPUID },
	{ SVM_EXIT_RSM, 3, VMCB_CTRL_INTERCEPT_MISC1_RSM },
	{ SVM_EXIT_IRET, 3, VMCB_CTRL_INTERCEPT_MISC1_IRET },
	{ SVM_EXIT_SWINT, 3, VMCB_CTRL_INTERCEPT_MISC1_INTN },
	{ SVM_EXIT_INVD, 3, VMCB_CTRL_INTERCEPT_MISC1_INVD },
	{ SVM_EXIT_PAUSE, 3, VMCB_CTRL_INTERCEPT_MISC1_PAUSE },
	{ SVM_EXIT_HLT, 3, VMCB_CTRL_INTERCEPT_MISC1_HLT },
	{ SVM_EXIT_INVLPG, 3, VMCB_CTRL_INTERCEPT_MISC1_INVLPG },
	{ SVM_EXIT_INVLPGA, 3, VMCB_CTRL_INTERCEPT_MISC1_INVLPGA },
	{ SVM_EXIT_TASK_SWITCH, 3, VMCB_CTRL_INTERCEPT_MISC1_TASK_SWITCH },
	{ SVM_EXIT_FERR_FREEZE, 3, VMCB_CTRL_INTERCEPT_MISC1_FERR_FREEZE },
	{ SVM_EXIT_SHUTDOWN, 3, VMCB_CTRL_INTERCEPT_MISC1_SHUTDOWN },
	{ SVM_EXIT_VMRUN, 4, VMCB_CTRL_INTERCEPT_MISC2_VMRUN },
	{ SVM_EXIT_VMMCALL, 4, VMCB_CTRL_INTERCEPT_MISC2_VMMCALL },
	{ SVM_EXIT_VMLOAD, 4, VMCB_CTRL_INTERCEPT_MISC2_VMLOAD },
	{ SVM_EXIT_VMSAVE, 4, VMCB_CTRL_INTERCEPT_MISC2_VMSAVE },
	{ SVM_EXIT_STGI, 4, VMCB_CTRL_INTERCEPT_MISC2_STGI },
	{ SVM_EXIT_CLGI, 4, VMCB_CTRL_INTERCEPT_MISC2_CLGI },
	{ SVM_EXIT_SKINIT, 4, VMCB_CTRL_INTERCEPT_MISC2_SKINIT },
	{ SVM_EXIT_RDTSCP, 4, VMCB_CTRL_INTERCEPT_MISC2_RDTSCP },
	{ SVM_EXIT_ICEBP, 4, VMCB_CTRL_INTERCEPT_MISC2_ICEBP },
	{ SVM_EXIT_WBINVD, 4, VMCB_CTRL_INTERCEPT_MISC2_WBINVD },
	{ SVM_EXIT_MONITOR, 4, VMCB_CTRL_INTERCEPT_MISC2_MONITOR },
	{ SVM_EXIT_MWAIT, 4, VMCB_CTRL_INTERCEPT_MISC2_MWAIT },
	{ SVM_EXIT_MWAIT_CONDITIONAL, 4, VMCB_CTRL_INTERCEPT_MISC2_MWAIT_COND },
	{ SVM_EXIT_XSETBV, 4, VMCB_CTRL_INTERCEPT_MISC2_XSETBV },
	{ SVM_EXIT_RDPRU, 4, VMCB_CTRL_INTERCEPT_MISC2_RDPRU },
	{ SVM_EXIT_EFER_WRITE_TRAP, 4, VMCB_CTRL_INTERCEPT_MISC2_EFER_WRITE_TRAP },
	{ SVM_EXIT_CR0_WRITE_TRAP, 4, VMCB_CTRL_INTERCEPT_MISC2_CR_WRITE_TRAP(0) },
	{ SVM_EXIT_CR3_WRITE_TRAP, 4, VMCB_CTRL_INTERCEPT_MISC2_CR_WRITE_TRAP(3) },
	{ SVM_EXIT_CR4_WRITE_TRAP, 4, VMCB_CTRL_INTERCEPT_MISC2_CR_WRITE_TRAP(4) },
	{ SVM_EXIT_CR8_WRITE_TRAP, 4, VMCB_CTRL_INTERCEPT_MISC2_CR_WRITE_TRAP(8) },
};

static void test_exit_misc_intercepts_follow_their_bits(void **state)
{
	struct mem *m = *state;
	struct vmcb_control n;
	size_t i;

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		uint32_t *word;

		memset(&n, 0, sizeof(n));
		word = named[i].word == 3 ? &n.intercept_misc1 : &n.intercept_misc2;
		if (wanted(&n, named[i].code, 0, 0, m))
			fail_msg("exit %#llx reflected with no intercept set",
				 (unsigned long long)named[i].code);
		*word = named[i].bit;
		if (!wanted(&n, named[i].code, 0, 0, m))
			fail_msg("exit %#llx not reflected with its intercept bit %#x set",
				 (unsigned long long)named[i].code, named[i].bit);
		memset(&n, 0xff, sizeof(n));
		n.nested_ctl = 0;
		*word = ~named[i].bit;
		if (wanted(&n, named[i].code, 0, 0, m))
			fail_msg("exit %#llx reflected with every intercept but its own",
				 (unsigned long long)named[i].code);
	}
}

static void test_exit_cr_dr_reads_and_writes(void **state)
{
	struct mem *m = *state;
	struct vmcb_control n;
	unsigned r;

	memset(&n, 0, sizeof(n));
	n.intercept_cr = VMCB_INTERCEPT_CR_WRITE(3) | VMCB_INTERCEPT_CR_READ(0);
	n.intercept_dr = VMCB_INTERCEPT_DR_READ(7);
	assert_true(wanted(&n, SVM_EXIT_CR3_WRITE, 0, 0, m));
	assert_false(wanted(&n, SVM_EXIT_CR3_READ, 0, 0, m));
	assert_true(wanted(&n, SVM_EXIT_CR0_READ, 0, 0, m));
	assert_false(wanted(&n, SVM_EXIT_CR0_WRITE, 0, 0, m));
	assert_true(wanted(&n, SVM_EXIT_DR7_READ, 0, 0, m));
	assert_false(wanted(&n, SVM_EXIT_DR7_WRITE, 0, 0, m));
	/* The DR vector is not the CR vector: DR0 read is bit 0 of 0x004, not of 0x000. */
	assert_false(wanted(&n, SVM_EXIT_DR0_READ, 0, 0, m));
	/* Every register, both directions. */
	for (r = 0; r < 16; r++) {
		memset(&n, 0, sizeof(n));
		n.intercept_cr = VMCB_INTERCEPT_CR_READ(r);
		n.intercept_dr = VMCB_INTERCEPT_DR_WRITE(r);
		if (!wanted(&n, SVM_EXIT_CR0_READ + r, 0, 0, m) ||
		    wanted(&n, SVM_EXIT_CR0_WRITE + r, 0, 0, m) ||
		    !wanted(&n, SVM_EXIT_DR0_WRITE + r, 0, 0, m) ||
		    wanted(&n, SVM_EXIT_DR0_READ + r, 0, 0, m))
			fail_msg("CR%u/DR%u routing wrong", r, r);
	}
}

static void test_exit_exceptions_one_bit_per_vector(void **state)
{
	struct mem *m = *state;
	struct vmcb_control n;
	unsigned v, u;

	memset(&n, 0, sizeof(n));
	for (v = 0; v < 32; v++) {
		n.intercept_exceptions = VMCB_INTERCEPT_EXCEPTION(v);
		for (u = 0; u < 32; u++)
			if (wanted(&n, SVM_EXIT_EXCP_DE + u, 0, 0, m) != (u == v))
				fail_msg("exception %u with only vector %u intercepted: expected %s",
					 u, v, u == v ? "reflect" : "keep");
	}
	n.intercept_exceptions = VMCB_INTERCEPT_EXCEPTION(14);
	assert_true(wanted(&n, SVM_EXIT_EXCP_PF, 0, 0, m));
	assert_false(wanted(&n, SVM_EXIT_EXCP_GP, 0, 0, m));
}

#define IOPM 0x10000u
#define MSRPM 0x20000u

static uint64_t io_info(unsigned port, unsigned size, bool in)
{
	uint64_t sz = size == 4 ? SVM_IOIO_SIZE32 : size == 2 ? SVM_IOIO_SIZE16 : SVM_IOIO_SIZE8;

	return ((uint64_t)port << SVM_IOIO_PORT_SHIFT) | sz | (in ? SVM_IOIO_TYPE_IN : 0) |
	       SVM_IOIO_ADDR64;
}

static void test_exit_ioio_uses_every_port_bit_of_the_access(void **state)
{
	struct mem *m = *state;
	struct vmcb_control n;

	memset(m->bytes + IOPM, 0, SVM_IOPM_SIZE);
	memset(&n, 0, sizeof(n));
	n.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT;
	n.iopm_base_pa = IOPM | 0xabc; /* bits 11:0 are ignored */
	m->bytes[IOPM + 0x400 / 8] = 1u << (0x400 % 8); /* port 0x400 only */

	/* A 2-byte IN at 0x3ff touches 0x3ff and 0x400: the second byte of the map decides. */
	assert_true(wanted(&n, SVM_EXIT_IOIO, io_info(0x3ff, 2, true), 0, m));
	assert_false(wanted(&n, SVM_EXIT_IOIO, io_info(0x3ff, 1, true), 0, m));
	assert_true(wanted(&n, SVM_EXIT_IOIO, io_info(0x400, 1, false), 0, m));
	assert_false(wanted(&n, SVM_EXIT_IOIO, io_info(0x3fc, 4, false), 0, m));
	assert_true(wanted(&n, SVM_EXIT_IOIO, io_info(0x3fd, 4, false), 0, m));
	assert_false(wanted(&n, SVM_EXIT_IOIO, io_info(0x401, 4, true), 0, m));
	/* Inside one byte: port 0x3f9, 4 bytes covers 0x3f9-0x3fc, none set. */
	m->bytes[IOPM + 0x3f8 / 8] = 1u << 5; /* port 0x3fd */
	assert_false(wanted(&n, SVM_EXIT_IOIO, io_info(0x3f9, 4, true), 0, m));
	assert_true(wanted(&n, SVM_EXIT_IOIO, io_info(0x3fa, 4, true), 0, m));
	/* Port 0xffff, 4 bytes: bits 0x10000-0x10002 in the map's third page. */
	assert_false(wanted(&n, SVM_EXIT_IOIO, io_info(0xffff, 4, true), 0, m));
	m->bytes[IOPM + 0x10000 / 8] = 1u << 2; /* "port" 0x10002 */
	assert_true(wanted(&n, SVM_EXIT_IOIO, io_info(0xffff, 4, true), 0, m));
	assert_false(wanted(&n, SVM_EXIT_IOIO, io_info(0xffff, 2, true), 0, m));
	/* Without IOIO_PROT the map is not consulted. */
	n.intercept_misc1 = ~VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT;
	assert_false(wanted(&n, SVM_EXIT_IOIO, io_info(0x400, 1, false), 0, m));
	/* A map the nested hypervisor placed outside its memory intercepts. */
	n.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT;
	n.iopm_base_pa = 0x40000000;
	assert_true(wanted(&n, SVM_EXIT_IOIO, io_info(0x80, 1, false), 0, m));
}

static void test_exit_msr_uses_the_three_msrpm_ranges(void **state)
{
	struct mem *m = *state;
	struct vmcb_control n;

	memset(m->bytes + MSRPM, 0, SVM_MSRPM_SIZE);
	memset(&n, 0, sizeof(n));
	n.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT;
	n.msrpm_base_pa = MSRPM;
	/* Offsets worked out by hand from §15.11: byte = range base + (msr - start) * 2 / 8. */
	m->bytes[MSRPM + 0x004] = 1u << 0;  /* MSR 0x10 (TSC): read bit */
	m->bytes[MSRPM + 0x820] = 1u << 1;  /* MSR c000_0080 (EFER): write bit */
	m->bytes[MSRPM + 0x1045] = 1u << 6; /* MSR c001_0117 (VM_HSAVE_PA): read bit */
	m->bytes[MSRPM + 0x7ff] = 1u << 7;  /* MSR 1fff: write bit, last of range 0 */

	assert_true(wanted(&n, SVM_EXIT_MSR, 0, 0x10, m));
	assert_false(wanted(&n, SVM_EXIT_MSR, 1, 0x10, m));
	assert_false(wanted(&n, SVM_EXIT_MSR, 0, 0x11, m));
	assert_false(wanted(&n, SVM_EXIT_MSR, 0, 0xc0000080, m));
	assert_true(wanted(&n, SVM_EXIT_MSR, 1, 0xc0000080, m));
	assert_true(wanted(&n, SVM_EXIT_MSR, 0, 0xc0010117, m));
	assert_false(wanted(&n, SVM_EXIT_MSR, 1, 0xc0010117, m));
	assert_true(wanted(&n, SVM_EXIT_MSR, 1, 0x1fff, m));
	assert_false(wanted(&n, SVM_EXIT_MSR, 0, 0x1fff, m));
	/* Outside every range: always the nested hypervisor's, whatever the map says. */
	assert_true(wanted(&n, SVM_EXIT_MSR, 0, 0x2000, m));
	assert_true(wanted(&n, SVM_EXIT_MSR, 1, 0xc0002000, m));
	assert_true(wanted(&n, SVM_EXIT_MSR, 0, 0xc0012000, m));
	assert_true(wanted(&n, SVM_EXIT_MSR, 0, 0x40000000, m));
	assert_true(wanted(&n, SVM_EXIT_MSR, 0, 0xbfffffff, m));
	/* Without MSR_PROT nothing is intercepted, not even outside the ranges. */
	n.intercept_misc1 = ~VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT;
	assert_false(wanted(&n, SVM_EXIT_MSR, 0, 0x10, m));
	assert_false(wanted(&n, SVM_EXIT_MSR, 0, 0x40000000, m));
	/* An unreadable map intercepts. */
	n.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT;
	n.msrpm_base_pa = 0x40000000;
	assert_true(wanted(&n, SVM_EXIT_MSR, 0, 0x11, m));
}

static void test_exit_npf_and_special_codes(void **state)
{
	struct mem *m = *state;
	struct vmcb_control n;

	memset(&n, 0xff, sizeof(n)); /* every intercept bit set */
	n.nested_ctl = 0;
	assert_false(wanted(&n, SVM_EXIT_NPF, 0x100000004ull, 0, m));
	n.nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	assert_true(wanted(&n, SVM_EXIT_NPF, 0x100000004ull, 0, m));
	/* Features the nested hypervisor was not given and nestbed's host codes stay nbvmm's. */
	assert_false(wanted(&n, SVM_EXIT_AVIC_NOACCEL, 0, 0, m));
	assert_false(wanted(&n, SVM_EXIT_VMGEXIT, 0, 0, m));
	assert_false(wanted(&n, SVM_EXIT_NB_HYPERCALL, 0, 0, m));
	assert_false(wanted(&n, 0xc0, 0, 0, m));
	/* A failed VMRUN goes back to whoever ran it, whatever the intercepts say. */
	memset(&n, 0, sizeof(n));
	assert_true(wanted(&n, SVM_EXIT_INVALID, 0, 0, m));
	assert_true(wanted(&n, SVM_EXIT_BUSY, 0, 0, m));
	assert_false(wanted(&n, SVM_EXIT_SHUTDOWN, 0, 0, m));
	/* Vector 5 (misc3): INVLPGB, INVPCID, TLBSYNC. */
	n.intercept_misc3 = (1u << 0) | (1u << 4);
	assert_true(wanted(&n, SVM_EXIT_INVLPGB, 0, 0, m));
	assert_false(wanted(&n, SVM_EXIT_INVPCID, 0, 0, m));
	assert_true(wanted(&n, SVM_EXIT_TLBSYNC, 0, 0, m));
}

/* ---------------------------------------------------------------------------------------------
 * #VMEXIT, VMLOAD, VMSAVE: byte-exact comparisons.
 */

struct field {
	size_t off, len;
};

#define SAVE(f) { offsetof(struct vmcb, save.f), sizeof(((struct vmcb *)0)->save.f) }

/* Reports the first byte where got and want differ, with the field it lies in. */
static void expect_same_bytes(const void *got, const void *want, size_t n, const char *what)
{
	const uint8_t *g = got, *w = want;
	size_t i;

	for (i = 0; i < n; i++)
		if (g[i] != w[i])
			fail_msg("%s: byte at VMCB offset %#zx is %#x, expected %#x", what, i, g[i],
				 w[i]);
}

static void copy_fields(struct vmcb *to, const struct vmcb *from, const struct field *f,
			size_t nf)
{
	size_t i;

	for (i = 0; i < nf; i++)
		memcpy((uint8_t *)to + f[i].off, (const uint8_t *)from + f[i].off, f[i].len);
}

/* §15.6: what #VMEXIT saves. */
static const struct field vmexit_saved[] = {
	SAVE(es), SAVE(cs), SAVE(ss), SAVE(ds), SAVE(gdtr), SAVE(idtr), SAVE(efer), SAVE(cr0),
	SAVE(cr2), SAVE(cr3), SAVE(cr4), SAVE(rflags), SAVE(rip), SAVE(rsp), SAVE(rax), SAVE(dr6),
	SAVE(dr7), SAVE(cpl),
};

/* §15.5.2: what VMLOAD and VMSAVE move. */
static const struct field vmloadsave[] = {
	SAVE(fs), SAVE(gs), SAVE(tr), SAVE(ldtr), SAVE(kernel_gs_base), SAVE(star), SAVE(lstar),
	SAVE(cstar), SAVE(sfmask), SAVE(sysenter_cs), SAVE(sysenter_esp), SAVE(sysenter_eip),
};

static void test_vmexit_fill_copies_exactly_the_saved_fields(void **state)
{
	struct vmcb *nested = malloc(sizeof(*nested)), *cur = malloc(sizeof(*cur));
	struct vmcb *want = malloc(sizeof(*want));
	const uint32_t tpr_irq = V_TPR_MASK | V_IRQ_MASK;

	(void)state;
	assert_non_null(nested);
	assert_non_null(cur);
	assert_non_null(want);
	memset(nested, 0x11, sizeof(*nested));
	memset(cur, 0x6e, sizeof(*cur));
	nested->control.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | 14;
	cur->control.int_ctl = 0x2f6; /* V_IRQ clear, V_TPR 6 */
	cur->control.int_state = SVM_INTERRUPT_SHADOW_MASK | 0xf0;
	memcpy(want, nested, sizeof(*want));

	svm_nested_vmexit_fill(nested, cur, SVM_EXIT_IOIO, 0x3f80211, 0x401005, 0x8000030e,
			       0x55, 0x401005);

	copy_fields(want, cur, vmexit_saved, sizeof(vmexit_saved) / sizeof(vmexit_saved[0]));
	want->control.exit_code = SVM_EXIT_IOIO;
	want->control.exit_info_1 = 0x3f80211;
	want->control.exit_info_2 = 0x401005;
	want->control.exit_int_info = 0x8000030e;
	want->control.exit_int_info_err = 0x55;
	want->control.next_rip = 0x401005;
	want->control.event_inj = SVM_EVTINJ_TYPE_EXEPT | 14;
	want->control.int_ctl = (0x11111111u & ~tpr_irq) | (0x2f6u & tpr_irq);
	want->control.int_state = (0x11111111u & ~3u) | SVM_INTERRUPT_SHADOW_MASK;
	expect_same_bytes(nested, want, sizeof(*want), "#VMEXIT into VMCB12");

	/* Spelled out for the fields VMSAVE owns: the guest's values did not leak into VMCB12. */
	assert_int_equal(nested->save.fs.base, 0x1111111111111111ull);
	assert_int_equal(nested->save.kernel_gs_base, 0x1111111111111111ull);
	assert_int_equal(nested->save.lstar, 0x1111111111111111ull);
	assert_int_equal(nested->save.sysenter_eip, 0x1111111111111111ull);
	assert_int_equal(nested->save.tr.selector, 0x1111);
	assert_int_equal(nested->save.g_pat, 0x1111111111111111ull);
	assert_int_equal(nested->save.rip, 0x6e6e6e6e6e6e6e6eull);
	assert_int_equal(nested->control.event_inj & SVM_EVTINJ_VALID, 0);
	free(nested);
	free(cur);
	free(want);
}

static void test_vmload_vmsave_move_exactly_their_fields(void **state)
{
	struct vmcb *cpu = malloc(sizeof(*cpu)), *mem = malloc(sizeof(*mem));
	struct vmcb *want = malloc(sizeof(*want));
	size_t nf = sizeof(vmloadsave) / sizeof(vmloadsave[0]);

	(void)state;
	assert_non_null(cpu);
	assert_non_null(mem);
	assert_non_null(want);

	memset(cpu, 0x33, sizeof(*cpu));
	memset(mem, 0x44, sizeof(*mem));
	memcpy(want, cpu, sizeof(*want));
	copy_fields(want, mem, vmloadsave, nf);
	svm_vmload_fields(&cpu->save, &mem->save);
	expect_same_bytes(cpu, want, sizeof(*want), "VMLOAD");
	assert_int_equal(cpu->save.ldtr.base, 0x4444444444444444ull); /* hidden state too */
	assert_int_equal(cpu->save.cs.base, 0x3333333333333333ull);
	assert_int_equal(cpu->save.rax, 0x3333333333333333ull);

	memset(cpu, 0x55, sizeof(*cpu));
	memset(mem, 0x66, sizeof(*mem));
	memcpy(want, mem, sizeof(*want));
	copy_fields(want, cpu, vmloadsave, nf);
	svm_vmsave_fields(&mem->save, &cpu->save);
	expect_same_bytes(mem, want, sizeof(*want), "VMSAVE");
	assert_int_equal(mem->save.star, 0x5555555555555555ull);
	assert_int_equal(mem->save.cr3, 0x6666666666666666ull);
	free(cpu);
	free(mem);
	free(want);
}

/* ---------------------------------------------------------------------------------------------
 * Nested page walk.
 */

#define RWU (PTE_P | PTE_W | PTE_U)
#define NCR3 0x1000u
#define PDPT 0x2000u
#define PD 0x3000u
#define PT 0x4000u
#define PDPT_HI 0x5000u
#define PT_SUP 0x7000u

/*
 * nCR3 -> PML4[0] -> PDPT; PDPT[1] -> PD (ngpa 0x4000_0000); PD[1] -> PT (0x4020_0000).
 *   PT[1] 0x123000 RW, PT[2] 0x124000 read-only, PT[3] 0x125000 NX, PT[4] bit 50 set,
 *   PT[5] not present; PD[2] a 2 MiB page at 0x4000_0000; PD[3] not present; PD[4] a table
 *   with U=0; PDPT[2] a 1 GiB page at 0x1_c000_0000; PDPT[5] a PD outside memory;
 *   PML4[256] (ngpa bit 47) -> PDPT_HI, whose entry 0 is a 1 GiB page at 0x8000_0000.
 */
static void build_npt(struct mem *m)
{
	memset(m->bytes, 0, 0x10000);
	put64(m, NCR3 + 0 * 8, PDPT | RWU);
	put64(m, NCR3 + 256 * 8, PDPT_HI | RWU);
	put64(m, PDPT + 1 * 8, PD | RWU);
	put64(m, PDPT + 2 * 8, 0x1c0000000ull | PTE_PS | RWU);
	put64(m, PDPT + 5 * 8, 0x200000ull | RWU);
	put64(m, PDPT_HI + 0 * 8, 0x80000000ull | PTE_PS | RWU);
	put64(m, PD + 1 * 8, PT | RWU);
	put64(m, PD + 2 * 8, 0x40000000ull | PTE_PS | RWU);
	put64(m, PD + 4 * 8, PT_SUP | PTE_P | PTE_W);
	put64(m, PT_SUP + 0 * 8, 0x99000 | RWU);
	put64(m, PT + 1 * 8, 0x123000 | RWU);
	put64(m, PT + 2 * 8, 0x124000 | PTE_P | PTE_U);
	put64(m, PT + 3 * 8, 0x125000 | RWU | PTE_NX);
	put64(m, PT + 4 * 8, 0x126000 | RWU | (1ull << 50));
}

static struct gpt_walk npt_ok(struct mem *m, uint64_t ngpa, unsigned access, uint64_t want)
{
	struct gpt_walk w;
	uint64_t info1 = 0xdead;
	int r = svm_npt_translate(&ops, m, NCR3, true, 48, ngpa, access, false, &w, &info1);

	if (r != 0)
		fail_msg("ngpa %#llx: expected a translation, got %d (EXITINFO1 %#llx)",
			 (unsigned long long)ngpa, r, (unsigned long long)info1);
	if (w.gpa != want)
		fail_msg("ngpa %#llx: expected %#llx, got %#llx", (unsigned long long)ngpa,
			 (unsigned long long)want, (unsigned long long)w.gpa);
	assert_int_equal(info1, 0xdead);
	return w;
}

static void npt_fault(struct mem *m, bool nxe, uint64_t ngpa, unsigned access, bool table,
		      uint64_t want_info1)
{
	struct gpt_walk w;
	uint64_t info1 = 0;
	int r = svm_npt_translate(&ops, m, NCR3, nxe, 48, ngpa, access, table, &w, &info1);

	if (r != SVM_NPT_FAULT || info1 != want_info1)
		fail_msg("ngpa %#llx access %#x%s: expected NPF with EXITINFO1 %#llx, got %d "
			 "EXITINFO1 %#llx", (unsigned long long)ngpa, access,
			 table ? " (guest table)" : "", (unsigned long long)want_info1, r,
			 (unsigned long long)info1);
}

static void test_npt_4k_translation_sets_accessed_dirty_and_names_entries(void **state)
{
	struct mem *m = *state;
	struct gpt_walk w;

	build_npt(m);
	w = npt_ok(m, 0x40201234, 0, 0x123234);
	assert_int_equal(w.page_shift, 12);
	assert_int_equal(w.leaf_level, 1);
	assert_int_equal(w.entry_gpa[4], NCR3 + 0);
	assert_int_equal(w.entry_gpa[3], PDPT + 8);
	assert_int_equal(w.entry_gpa[2], PD + 8);
	assert_int_equal(w.entry_gpa[1], PT + 8);
	assert_int_equal(get64(m, PT + 8), 0x123000 | RWU | PTE_A);
	assert_int_equal(get64(m, PD + 8), PT | RWU | PTE_A);
	w = npt_ok(m, 0x40201ff8, PF_EC_W, 0x123ff8);
	assert_int_equal(get64(m, PT + 8), 0x123000 | RWU | PTE_A | PTE_D);
	assert_int_equal(w.ad_set[1], PTE_D);
	/* A fetch from an executable page. */
	npt_ok(m, 0x40201000, PF_EC_ID, 0x123000);
}

static void test_npt_large_pages(void **state)
{
	struct mem *m = *state;
	struct gpt_walk w;

	build_npt(m);
	w = npt_ok(m, 0x40412345, PF_EC_W, 0x40012345);
	assert_int_equal(w.page_shift, 21);
	assert_int_equal(w.leaf_level, 2);
	w = npt_ok(m, 0x81234567, 0, 0x1c1234567ull);
	assert_int_equal(w.page_shift, 30);
	assert_int_equal(w.leaf_level, 3);
	assert_int_equal(w.entry_gpa[3], PDPT + 16);
	/* Bit 47 of the guest-physical address selects PML4 entry 256, as any other bit would. */
	w = npt_ok(m, 0x800000345678ull, 0, 0x80345678ull);
	assert_int_equal(w.entry_gpa[4], NCR3 + 256 * 8);
}

static void test_npt_faults_report_error_code_and_final_gpa_bit(void **state)
{
	struct mem *m = *state;
	const uint64_t fin = SVM_NPF_FINAL_GPA;

	build_npt(m);
	/* Not present, at the PTE and at the PDE: P=0, and always U (§15.25.5). */
	npt_fault(m, true, 0x40205000, 0, false, fin | PF_EC_U);
	npt_fault(m, true, 0x40205000, PF_EC_W, false, fin | PF_EC_W | PF_EC_U);
	npt_fault(m, true, 0x40600000, 0, false, fin | PF_EC_U);
	/* Write to a read-only page; reading it is fine. */
	npt_fault(m, true, 0x40202010, PF_EC_W, false, fin | PF_EC_P | PF_EC_W | PF_EC_U);
	npt_ok(m, 0x40202010, 0, 0x124010);
	/* Fetch from a no-execute page: ID reported because NXE is on. Reading it is fine. */
	npt_fault(m, true, 0x40203000, PF_EC_ID, false, fin | PF_EC_P | PF_EC_U | PF_EC_ID);
	npt_ok(m, 0x40203000, 0, 0x125000);
	/* Without NXE the NX bit is reserved: RSVD, and no ID bit. */
	npt_fault(m, false, 0x40203000, PF_EC_ID, false, fin | PF_EC_P | PF_EC_U | PF_EC_RSVD);
	/* Address bit 50 above a 48-bit MAXPHYADDR. */
	npt_fault(m, true, 0x40204000, 0, false, fin | PF_EC_P | PF_EC_U | PF_EC_RSVD);
	/* A nested entry with U/S=0 refuses every nested access: they are all user accesses. */
	npt_fault(m, true, 0x40800000, 0, false, fin | PF_EC_P | PF_EC_U);
}

static void test_npt_guest_table_access_sets_bit_33_and_counts_as_write(void **state)
{
	struct mem *m = *state;
	struct gpt_walk w;
	uint64_t info1 = 0;
	const uint64_t tab = SVM_NPF_GUEST_TABLE;

	build_npt(m);
	/* The guest's page walk reads an entry in a frame the nested tables do not map. */
	npt_fault(m, true, 0x40205000, 0, true, tab | PF_EC_W | PF_EC_U);
	/* ...or map read-only: the walk may set A/D, so it is a write. */
	npt_fault(m, true, 0x40202008, 0, true, tab | PF_EC_P | PF_EC_W | PF_EC_U);
	/* The same read by the guest's instruction (final translation) is allowed. */
	npt_ok(m, 0x40202008, 0, 0x124008);
	/* A guest table in a no-execute frame is fine: table reads are not fetches. */
	assert_int_equal(svm_npt_translate(&ops, m, NCR3, true, 48, 0x40203008, PF_EC_ID, true,
					   &w, &info1), 0);
	assert_int_equal(w.gpa, 0x125008);
	assert_true(get64(m, PT + 3 * 8) & PTE_D);
	/* Bits 32 and 33 never both. */
	npt_fault(m, true, 0x40600000, PF_EC_W, true, tab | PF_EC_W | PF_EC_U);
	npt_fault(m, true, 0x40600000, PF_EC_W, false, SVM_NPF_FINAL_GPA | PF_EC_W | PF_EC_U);
}

static void test_npt_errors_outside_the_walk(void **state)
{
	struct mem *m = *state;
	struct gpt_walk w;
	uint64_t info1 = 0x77;

	build_npt(m);
	/* The PD named by PDPT[5] lies outside the nested hypervisor's memory. */
	assert_int_equal(svm_npt_translate(&ops, m, NCR3, true, 48, 5ull << 30, 0, false, &w,
					   &info1), -SHADOW_EFAULT);
	assert_int_equal(w.entry_gpa[2], 0x200000);
	/* Beyond what four levels translate. */
	assert_int_equal(svm_npt_translate(&ops, m, NCR3, true, 52, 1ull << 48, 0, false, &w,
					   &info1), -SHADOW_EINVAL);
	assert_int_equal(info1, 0x77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_valid_vmcb_passes),
		cmocka_unit_test(test_check_each_illegal_state_refused_with_its_reason),
		cmocka_unit_test(test_check_legal_neighbours_pass),
		cmocka_unit_test(test_check_halves_split_save_and_control),
		cmocka_unit_test(test_check_reason_strings_are_distinct),
		cmocka_unit_test(test_merge_intercepts_are_the_union_with_origin),
		cmocka_unit_test(test_merge_origin_partitions_random_words),
		cmocka_unit_test(test_merge_fields_come_from_the_documented_side),
		cmocka_unit_test(test_merge_tlb_control_takes_the_stronger_flush),
		cmocka_unit_test_setup_teardown(test_exit_misc_intercepts_follow_their_bits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exit_cr_dr_reads_and_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_exceptions_one_bit_per_vector, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exit_ioio_uses_every_port_bit_of_the_access,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_msr_uses_the_three_msrpm_ranges, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exit_npf_and_special_codes, setup, teardown),
		cmocka_unit_test(test_vmexit_fill_copies_exactly_the_saved_fields),
		cmocka_unit_test(test_vmload_vmsave_move_exactly_their_fields),
		cmocka_unit_test_setup_teardown(
			test_npt_4k_translation_sets_accessed_dirty_and_names_entries, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_npt_large_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_npt_faults_report_error_code_and_final_gpa_bit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_npt_guest_table_access_sets_bit_33_and_counts_as_write, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_npt_errors_outside_the_walk, setup, teardown),
	};

	return cmocka_run_group_tests_name("shadow: virtual SVM (nested VMCB)", tests, NULL, NULL);
}
