/*
 * Instruction text for the trace: capstone, x86-64 mode. The store decodes each distinct byte
 * string once (see insn_cache.h) and keeps the text in its insns table.
 */
#ifndef NESTBED_TRACER_ANNOTATE_H
#define NESTBED_TRACER_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>
#include "l0/nestbed.h"

struct nb_annotator;

struct nb_insn_text {
	int decoded;        /* 0: the bytes are not an x86-64 instruction; text is "(bad)" */
	uint8_t length;     /* bytes the first instruction takes */
	unsigned cs_id;     /* capstone's instruction id (enum x86_insn), 0 when not decoded */
	char mnemonic[32];
	char op_str[160];
	char text[200];     /* "mnemonic op_str" */
	char groups[192];   /* capstone group names, space-separated ("privilege int") */
};

int nb_annotator_open(struct nb_annotator **out, struct nb_error *err);
void nb_annotator_close(struct nb_annotator *an);

/*
 * Decodes the first instruction of bytes[0..len) as if it were at address 0, so that the text
 * depends on the bytes alone and can be shared by every event with those bytes (relative branch
 * targets are shown as offsets from the instruction's start). Returns 0, or -1 when the bytes do
 * not decode (out still says "(bad)").
 */
int nb_annotate(struct nb_annotator *an, const uint8_t *bytes, size_t len, struct nb_insn_text *out);

#endif
