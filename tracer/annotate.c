#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "tracer/annotate.h"

struct nb_annotator {
	csh cs;
	cs_insn *insn; /* one buffer reused by cs_disasm_iter, so decoding allocates nothing */
};

int nb_annotator_open(struct nb_annotator **out, struct nb_error *err)
{
	struct nb_annotator *an;
	cs_err rc;

	*out = NULL;
	an = calloc(1, sizeof(*an));
	if (!an)
		return nb_error_set(err, NB_E_NOMEM, "capstone: out of memory");
	rc = cs_open(CS_ARCH_X86, CS_MODE_64, &an->cs);
	if (rc != CS_ERR_OK) {
		free(an);
		return nb_error_set(err, NB_E_INTERNAL, "capstone: cannot open x86-64 disassembler: %s",
				    cs_strerror(rc));
	}
	/* Details are needed only for the instruction groups (privilege, int, jump...). */
	cs_option(an->cs, CS_OPT_DETAIL, CS_OPT_ON);
	an->insn = cs_malloc(an->cs);
	if (!an->insn) {
		cs_close(&an->cs);
		free(an);
		return nb_error_set(err, NB_E_NOMEM, "capstone: out of memory");
	}
	*out = an;
	return 0;
}

void nb_annotator_close(struct nb_annotator *an)
{
	if (!an)
		return;
	cs_free(an->insn, 1);
	cs_close(&an->cs);
	free(an);
}

static void nb_annotate_groups(struct nb_annotator *an, const cs_insn *insn, char *buf, size_t size)
{
	size_t used = 0;
	uint8_t i;

	buf[0] = '\0';
	for (i = 0; insn->detail && i < insn->detail->groups_count; i++) {
		const char *name = cs_group_name(an->cs, insn->detail->groups[i]);
		int n;

		if (!name)
			continue;
		n = snprintf(buf + used, size - used, "%s%s", used ? " " : "", name);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

int nb_annotate(struct nb_annotator *an, const uint8_t *bytes, size_t len, struct nb_insn_text *out)
{
	const uint8_t *code = bytes;
	uint64_t address = 0;
	cs_insn *insn = an->insn;

	memset(out, 0, sizeof(*out));
	if (len == 0 || !cs_disasm_iter(an->cs, &code, &len, &address, insn)) {
		snprintf(out->mnemonic, sizeof(out->mnemonic), "(bad)");
		snprintf(out->text, sizeof(out->text), "(bad)");
		return -1;
	}
	out->decoded = 1;
	out->length = (uint8_t)insn->size;
	out->cs_id = insn->id;
	snprintf(out->mnemonic, sizeof(out->mnemonic), "%s", insn->mnemonic);
	snprintf(out->op_str, sizeof(out->op_str), "%s", insn->op_str);
	snprintf(out->text, sizeof(out->text), "%s%s%s", insn->mnemonic, insn->op_str[0] ? " " : "",
		 insn->op_str);
	nb_annotate_groups(an, insn, out->groups, sizeof(out->groups));
	return 0;
}
