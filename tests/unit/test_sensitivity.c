/*
 * shadow/sensitivity.c: the Popek-Goldberg classification is consistent with itself (privileged
 * implies trapping everywhere and sensitive; the feature traps are exactly the manuals' sets),
 * with capstone (each entry's ids are what capstone 4.0 calls a canonical encoding of it, and its
 * operand glob singles it out) and with our decoder (the decoder names the same encoding as the
 * entry says), and nb_sens_sql writes what it promises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fnmatch.h>

#include <capstone/capstone.h>
#include <cmocka.h>

#include "shadow/insn_decode.h"
#include "shadow/sensitivity.h"

/* A canonical 64-bit encoding of each entry (SDM Vol. 2 / APM Vol. 3 opcode tables). */
static const struct {
	unsigned id;
	uint8_t len, bytes[8];
} encodings[] = {
	{ NB_SENS_HLT, 1, { 0xf4 } }, { NB_SENS_CLI, 1, { 0xfa } }, { NB_SENS_STI, 1, { 0xfb } },
	{ NB_SENS_IN, 1, { 0xec } }, { NB_SENS_OUT, 2, { 0xe6, 0x80 } }, { NB_SENS_INS, 1, { 0x6c } },
	{ NB_SENS_OUTS, 1, { 0x6e } }, { NB_SENS_MOV_TO_CR, 3, { 0x0f, 0x22, 0xd8 } },
	{ NB_SENS_MOV_FROM_CR, 3, { 0x0f, 0x20, 0xd8 } }, { NB_SENS_MOV_TO_DR, 3, { 0x0f, 0x23, 0xc0 } },
	{ NB_SENS_MOV_FROM_DR, 3, { 0x0f, 0x21, 0xc0 } }, { NB_SENS_LGDT, 3, { 0x0f, 0x01, 0x10 } },
	{ NB_SENS_LIDT, 3, { 0x0f, 0x01, 0x18 } }, { NB_SENS_LLDT, 3, { 0x0f, 0x00, 0xd0 } },
	{ NB_SENS_LTR, 3, { 0x0f, 0x00, 0xd8 } }, { NB_SENS_LMSW, 3, { 0x0f, 0x01, 0xf0 } },
	{ NB_SENS_CLTS, 2, { 0x0f, 0x06 } }, { NB_SENS_RDMSR, 2, { 0x0f, 0x32 } },
	{ NB_SENS_WRMSR, 2, { 0x0f, 0x30 } }, { NB_SENS_INVLPG, 3, { 0x0f, 0x01, 0x38 } },
	{ NB_SENS_INVD, 2, { 0x0f, 0x08 } }, { NB_SENS_WBINVD, 2, { 0x0f, 0x09 } },
	{ NB_SENS_SWAPGS, 3, { 0x0f, 0x01, 0xf8 } }, { NB_SENS_SYSRET, 2, { 0x0f, 0x07 } },
	{ NB_SENS_RDPMC, 2, { 0x0f, 0x33 } }, { NB_SENS_VMRUN, 3, { 0x0f, 0x01, 0xd8 } },
	{ NB_SENS_VMLOAD, 3, { 0x0f, 0x01, 0xda } }, { NB_SENS_VMSAVE, 3, { 0x0f, 0x01, 0xdb } },
	{ NB_SENS_VMMCALL, 3, { 0x0f, 0x01, 0xd9 } }, { NB_SENS_STGI, 3, { 0x0f, 0x01, 0xdc } },
	{ NB_SENS_CLGI, 3, { 0x0f, 0x01, 0xdd } }, { NB_SENS_INVLPGA, 3, { 0x0f, 0x01, 0xdf } },
	{ NB_SENS_SKINIT, 3, { 0x0f, 0x01, 0xde } }, { NB_SENS_SGDT, 3, { 0x0f, 0x01, 0x00 } },
	{ NB_SENS_SIDT, 3, { 0x0f, 0x01, 0x08 } }, { NB_SENS_SLDT, 3, { 0x0f, 0x00, 0xc0 } },
	{ NB_SENS_STR, 3, { 0x0f, 0x00, 0xc8 } }, { NB_SENS_SMSW, 3, { 0x0f, 0x01, 0xe0 } },
	{ NB_SENS_PUSHF, 1, { 0x9c } }, { NB_SENS_POPF, 1, { 0x9d } },
	{ NB_SENS_LAR, 3, { 0x0f, 0x02, 0xc7 } }, { NB_SENS_LSL, 3, { 0x0f, 0x03, 0xc7 } },
	{ NB_SENS_VERR, 3, { 0x0f, 0x00, 0xe7 } }, { NB_SENS_VERW, 3, { 0x0f, 0x00, 0xef } },
	{ NB_SENS_MOV_FROM_SREG, 2, { 0x8c, 0xca } }, { NB_SENS_PUSH_SREG, 2, { 0x0f, 0xa0 } },
	{ NB_SENS_MOV_TO_SREG, 2, { 0x8e, 0xd8 } }, { NB_SENS_POP_SREG, 2, { 0x0f, 0xa1 } },
	{ NB_SENS_CALL_FAR, 2, { 0xff, 0x18 } }, { NB_SENS_JMP_FAR, 2, { 0xff, 0x28 } },
	{ NB_SENS_RET_FAR, 1, { 0xcb } }, { NB_SENS_IRET, 2, { 0x48, 0xcf } },
	{ NB_SENS_INT, 2, { 0xcd, 0x80 } }, { NB_SENS_INT3, 1, { 0xcc } },
	{ NB_SENS_SYSCALL, 2, { 0x0f, 0x05 } }, { NB_SENS_CPUID, 2, { 0x0f, 0xa2 } },
	{ NB_SENS_RDTSC, 2, { 0x0f, 0x31 } }, { NB_SENS_RDTSCP, 3, { 0x0f, 0x01, 0xf9 } },
	{ NB_SENS_UD2, 2, { 0x0f, 0x0b } }, { NB_SENS_MOV, 3, { 0x48, 0x89, 0xc8 } },
	{ NB_SENS_NOP, 1, { 0x90 } },
};

static void every_entry_has_a_unique_id_and_name_and_a_reason(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(nb_sens_count >= 50);
	for (i = 0; i < nb_sens_count; i++) {
		const struct nb_sens_insn *e = &nb_sens_table[i];

		assert_true(e->id != NB_SENS_NONE && e->id != NB_SENS_TIMING_PROBE);
		assert_non_null(e->name);
		assert_non_null(e->why);
		assert_ptr_equal(nb_sens_find(e->id), e);
		for (j = 0; j < i; j++) {
			if (nb_sens_table[j].id == e->id || strcmp(nb_sens_table[j].name, e->name) == 0)
				fail_msg("entries %zu and %zu share id %u or name '%s'", j, i, e->id, e->name);
		}
	}
	assert_null(nb_sens_find(NB_SENS_NONE));
}

/* Privileged implies sensitive and trapping under every feature set, by the architecture and as
 * measured; user-sensitive and timing imply sensitive; SVM instructions always trap at CPL 3;
 * measured behaviour differs from the architecture only where a note says what was measured. */
static void classification_is_consistent(void **state)
{
	size_t i;
	unsigned f;

	(void)state;
	for (i = 0; i < nb_sens_count; i++) {
		const struct nb_sens_insn *e = &nb_sens_table[i];
		int sensitive = nb_sens_is_sensitive(e);

		if (e->flags & NB_SENS_PRIVILEGED) {
			if (!sensitive || e->traps != NB_TRAP_ALWAYS || e->measured != NB_TRAP_ALWAYS)
				fail_msg("%s: privileged must be sensitive and always trap", e->name);
			assert_int_equal(nb_sens_class(e), NB_PG_PRIVILEGED);
		}
		if ((e->flags & (NB_SENS_USER | NB_SENS_TIMING)) && !sensitive)
			fail_msg("%s: user-sensitive or timing but not sensitive", e->name);
		if ((e->flags & NB_SENS_SVM) && !nb_sens_traps(e, 0, 0))
			fail_msg("%s: an SVM instruction that does not trap at CPL 3", e->name);
		if (!sensitive && nb_sens_class(e) != NB_PG_INNOCUOUS)
			fail_msg("%s: not sensitive but class %s", e->name, nb_pg_class_name(nb_sens_class(e)));
		if ((e->traps | e->measured) & ~(NB_TRAP_ALWAYS | NB_FEAT_UMIP | NB_FEAT_CPUID_FAULTING | NB_FEAT_TSD))
			fail_msg("%s: trap conditions name unknown features", e->name);
		for (f = 0; f < NB_FEAT_COUNT; f++) {
			if (nb_sens_traps(e, f, 0) != nb_sens_traps(e, f, 1) && !e->measured_note)
				fail_msg("%s: measured differs from the architecture under %s without a note", e->name,
					 nb_feat_name(f));
			/* A feature only adds traps. */
			if (nb_sens_traps(e, 0, 0) && !nb_sens_traps(e, f, 0))
				fail_msg("%s: traps without features but not under %s", e->name, nb_feat_name(f));
		}
	}
}

/* SDM Vol. 3A 2.5: UMIP covers exactly SGDT SIDT SLDT SMSW STR; TSD exactly RDTSC and RDTSCP;
 * CPUID faulting (Vol. 4 table 2-2) exactly CPUID. On these machines (PLATFORM.md) UMIP works
 * and the other two have no effect on ring-3 code. */
static void feature_traps_are_the_manuals_sets(void **state)
{
	size_t i;
	unsigned umip = 0, tsd = 0, cpuidf = 0;

	(void)state;
	for (i = 0; i < nb_sens_count; i++) {
		const struct nb_sens_insn *e = &nb_sens_table[i];

		if (e->traps & NB_FEAT_UMIP) {
			umip++;
			assert_true(e->id >= NB_SENS_SGDT && e->id <= NB_SENS_SMSW);
			assert_true(nb_sens_traps(e, NB_FEAT_UMIP, 1));
			assert_false(nb_sens_traps(e, 0, 0));
		}
		if (e->traps & NB_FEAT_TSD) {
			tsd++;
			assert_true(e->id == NB_SENS_RDTSC || e->id == NB_SENS_RDTSCP);
			assert_true(e->flags & NB_SENS_TIMING);
			assert_false(nb_sens_traps(e, NB_FEAT_TSD, 1));
		}
		if (e->traps & NB_FEAT_CPUID_FAULTING) {
			cpuidf++;
			assert_int_equal(e->id, NB_SENS_CPUID);
			assert_false(nb_sens_traps(e, NB_FEAT_CPUID_FAULTING, 1));
		}
	}
	assert_int_equal(umip, 5);
	assert_int_equal(tsd, 2);
	assert_int_equal(cpuidf, 1);
	/* The classic failures of Theorem 1 never trap, whatever the features. */
	assert_false(nb_sens_traps(nb_sens_find(NB_SENS_PUSHF), NB_FEAT_COUNT - 1, 0));
	assert_false(nb_sens_traps(nb_sens_find(NB_SENS_POPF), NB_FEAT_COUNT - 1, 0));
	assert_false(nb_sens_traps(nb_sens_find(NB_SENS_LAR), NB_FEAT_COUNT - 1, 0));
}

/* Every entry has an encoding here, and capstone decodes it to one of the entry's ids with
 * operands its glob accepts, and to no other entry's id and glob (the most specific wins). */
static void capstone_ids_name_the_entries(void **state)
{
	csh cs;
	size_t i, k;

	(void)state;
	assert_int_equal(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
	assert_int_equal(sizeof(encodings) / sizeof(encodings[0]), nb_sens_count);
	for (i = 0; i < nb_sens_count; i++) {
		const struct nb_sens_insn *e = nb_sens_find(encodings[i].id);
		cs_insn *ci = NULL;
		int found = 0;
		size_t best_len = 0;
		unsigned best = 0;

		assert_non_null(e);
		for (k = 0; k < NB_SENS_CS_IDS && e->cs_ids[k]; k++)
			if (!cs_insn_name(cs, e->cs_ids[k]))
				fail_msg("%s: capstone id %u has no name", e->name, e->cs_ids[k]);
		if (cs_disasm(cs, encodings[i].bytes, encodings[i].len, 0, 1, &ci) != 1)
			fail_msg("%s: capstone does not decode the encoding", e->name);
		assert_int_equal(ci->size, encodings[i].len);
		for (k = 0; k < NB_SENS_CS_IDS && e->cs_ids[k]; k++)
			found |= e->cs_ids[k] == ci->id;
		if (!found)
			fail_msg("%s: capstone says %s (id %u), not one of the entry's ids", e->name, ci->mnemonic, ci->id);
		/* Which entry would the store's insn_capstone pick? */
		for (k = 0; k < nb_sens_count; k++) {
			const struct nb_sens_insn *o = &nb_sens_table[k];
			size_t m, glen = o->cs_op_glob ? strlen(o->cs_op_glob) : 0;

			for (m = 0; m < NB_SENS_CS_IDS && o->cs_ids[m]; m++) {
				if (o->cs_ids[m] != ci->id)
					continue;
				if (o->cs_op_glob && fnmatch(o->cs_op_glob, ci->op_str, 0) != 0)
					continue;
				if (!best || glen > best_len) {
					best = o->id;
					best_len = glen;
				}
			}
		}
		if (best != e->id)
			fail_msg("%s: capstone's '%s %s' maps to entry %u, not %u", e->name, ci->mnemonic, ci->op_str,
				 best, e->id);
		cs_free(ci, 1);
	}
	cs_close(&cs);
}

/* The decoder names each encoding as the entry's decoder column says (INSN_OTHER when NULL). */
static void decoder_mnemonics_match(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nb_sens_count; i++) {
		const struct nb_sens_insn *e = nb_sens_find(encodings[i].id);
		struct insn in;

		assert_int_equal(insn_decode(encodings[i].bytes, encodings[i].len, INSN_MODE_64, &in), 0);
		assert_int_equal(in.len, encodings[i].len);
		if (strcmp(insn_mnemonic_name(in.mnemonic), e->decoder ? e->decoder : "other") != 0)
			fail_msg("%s: the decoder says '%s', the table '%s'", e->name, insn_mnemonic_name(in.mnemonic),
				 e->decoder ? e->decoder : "(none)");
	}
}

static void feature_names(void **state)
{
	(void)state;
	assert_string_equal(nb_feat_name(0), "none");
	assert_string_equal(nb_feat_name(NB_FEAT_UMIP | NB_FEAT_TSD), "umip+tsd");
	assert_string_equal(nb_feat_name(NB_FEAT_COUNT - 1), "umip+cpuidf+tsd");
	assert_null(nb_feat_name(NB_FEAT_COUNT));
	assert_string_equal(nb_pg_class_name(NB_PG_BEHAVIOUR), "behaviour-sensitive");
}

/* nb_sens_sql: sized like snprintf, NUL-terminated when cut, one row per table entry. */
static void sql_text_is_sized_and_complete(void **state)
{
	size_t n = nb_sens_sql(NULL, 0), rows = 0;
	char *sql = malloc(n + 1), small[64];
	const char *p;

	(void)state;
	assert_non_null(sql);
	assert_int_equal(nb_sens_sql(sql, n + 1), n);
	assert_int_equal(strlen(sql), n);
	assert_int_equal(nb_sens_sql(small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, sql, sizeof(small) - 1);
	for (p = sql; (p = strstr(p, "INTO insn_classes ")); p++)
		rows++;
	assert_int_equal(rows, nb_sens_count);
	rows = 0;
	for (p = sql; (p = strstr(p, "INTO insn_traps ")); p++)
		rows++;
	assert_int_equal(rows, nb_sens_count * NB_FEAT_COUNT);
	/* Quotes in the reasons are doubled. */
	assert_null(strstr(sql, "guest's own descriptors"));
	assert_non_null(strstr(sql, "guest''s own descriptors"));
	free(sql);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_entry_has_a_unique_id_and_name_and_a_reason),
		cmocka_unit_test(classification_is_consistent),
		cmocka_unit_test(feature_traps_are_the_manuals_sets),
		cmocka_unit_test(capstone_ids_name_the_entries),
		cmocka_unit_test(decoder_mnemonics_match),
		cmocka_unit_test(feature_names),
		cmocka_unit_test(sql_text_is_sized_and_complete),
	};

	return cmocka_run_group_tests_name("sensitivity", tests, NULL, NULL);
}
