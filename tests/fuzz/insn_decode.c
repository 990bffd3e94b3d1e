/*
 * Fuzz harness: the instruction decoder (shadow/insn_decode.c). The bytes at a guest's RIP are
 * the guest's to choose, and nbvmm decodes them on every trap it emulates.
 *
 * Input: one byte choosing the code-segment size (16, 32 or 64 bits), then the instruction
 * bytes. Checked, beyond "no crash and no read outside the bytes given":
 *   - the result is 0, INSN_INVALID or INSN_TRUNCATED, and len is 0 on failure;
 *   - a decoded instruction is 1..15 bytes, within the bytes given, and every field is in its
 *     range (mnemonic, map, operand and address sizes for the mode, registers, scale, segment);
 *   - the decoding depends only on the instruction's own bytes: decoding exactly len bytes gives
 *     the same result, and any shorter prefix is INSN_TRUNCATED;
 *   - 15 bytes or more are never "truncated": an instruction longer than that is invalid.
 */
#include <string.h>

#include "shadow/insn_decode.h"
#include "tests/fuzz/fuzz.h"

#define MAX_BYTES 32

static void check_fields(const struct insn *in, unsigned mode, unsigned avail)
{
	unsigned i;

	FUZZ_CHECK(in->len >= 1 && in->len <= INSN_MAX_LEN && in->len <= avail, "len %u of %u bytes",
		   in->len, avail);
	FUZZ_CHECK(in->mode == mode, "mode %u, decoded for %u", in->mode, mode);
	FUZZ_CHECK(in->mnemonic < INSN_MNEMONIC_COUNT && strcmp(insn_mnemonic_name(in->mnemonic), "?"),
		   "mnemonic %u", in->mnemonic);
	FUZZ_CHECK(in->map <= INSN_MAP_0F3A, "map %u", in->map);
	FUZZ_CHECK(in->opsize == 1 || in->opsize == 2 || in->opsize == 4 || in->opsize == 8,
		   "operand size %u", in->opsize);
	FUZZ_CHECK(mode == 64 ? (in->addrsize == 4 || in->addrsize == 8)
			      : (in->addrsize == 2 || in->addrsize == 4),
		   "address size %u in %u-bit mode", in->addrsize, mode);
	FUZZ_CHECK(mode == 64 || in->opsize != 8 || in->mnemonic == INSN_OTHER ||
			   in->mnemonic == INSN_MOV_FROM_CR || in->mnemonic == INSN_MOV_TO_CR ||
			   in->mnemonic == INSN_MOV_FROM_DR || in->mnemonic == INSN_MOV_TO_DR,
		   "8-byte operands for %s in %u-bit mode", insn_mnemonic_name(in->mnemonic), mode);
	FUZZ_CHECK(mode == 64 || in->rex == 0, "REX %#x outside 64-bit mode", in->rex);
	FUZZ_CHECK(in->seg <= INSN_SEG_GS || in->seg == INSN_SEG_NONE, "segment override %u", in->seg);
	FUZZ_CHECK(in->imm_size <= 8, "immediate of %u bytes", in->imm_size);
	FUZZ_CHECK(in->reg < 16 && in->rm < 16, "reg %u rm %u", in->reg, in->rm);
	FUZZ_CHECK(!in->has_mem || in->has_modrm, "memory operand without ModRM");
	if (in->has_modrm)
		FUZZ_CHECK(in->mod == in->modrm >> 6, "mod %u of ModRM %#x", in->mod, in->modrm);
	if (in->has_mem) {
		const struct insn_mem *m = &in->mem;

		FUZZ_CHECK(in->mod != 3, "memory operand with mod 3");
		FUZZ_CHECK(m->base == INSN_REG_NONE || (m->base >= 0 && m->base < 16) ||
				   (m->base == INSN_REG_RIP && mode == 64),
			   "base %d", m->base);
		FUZZ_CHECK(m->index == INSN_REG_NONE || (m->index >= 0 && m->index < 16 && m->index != 4) ||
				   (m->index == 4 && (in->rex & 2)),
			   "index %d", m->index);
		FUZZ_CHECK(m->scale == 1 || m->scale == 2 || m->scale == 4 || m->scale == 8, "scale %u",
			   m->scale);
		FUZZ_CHECK(m->seg <= INSN_SEG_GS, "memory segment %u", m->seg);
		FUZZ_CHECK(in->seg == INSN_SEG_NONE || m->seg == in->seg,
			   "memory segment %u, override %u", m->seg, in->seg);
	}
	for (i = 0; i < 16; i++)
		FUZZ_CHECK(insn_gpr8(in, i) < 20, "insn_gpr8(%u) = %u", i, insn_gpr8(in, i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned modes[3] = { INSN_MODE_16, INSN_MODE_32, INSN_MODE_64 };
	struct insn in, again;
	unsigned mode, avail, k;
	int r;

	if (size < 1)
		return 0;
	mode = modes[data[0] % 3];
	data++;
	avail = (unsigned)(size - 1 < MAX_BYTES ? size - 1 : MAX_BYTES);

	memset(&in, 0xa5, sizeof(in));
	r = insn_decode(data, avail, (enum insn_cpu_mode)mode, &in);
	FUZZ_CHECK(r == 0 || r == INSN_INVALID || r == INSN_TRUNCATED, "result %d", r);
	if (r != 0) {
		FUZZ_CHECK(in.len == 0, "len %u on result %d", in.len, r);
		FUZZ_CHECK(r != INSN_TRUNCATED || avail < INSN_MAX_LEN,
			   "%u bytes reported as truncated", avail);
		return 0;
	}
	check_fields(&in, mode, avail);

	/* The same instruction, given exactly its own bytes: the same decoding. */
	memset(&again, 0xa5, sizeof(again));
	r = insn_decode(data, in.len, (enum insn_cpu_mode)mode, &again);
	FUZZ_CHECK(r == 0 && memcmp(&in, &again, sizeof(in)) == 0,
		   "decoding %u of %u bytes gives %d, length %u", in.len, avail, r, again.len);
	/* Every shorter prefix: more bytes are needed. */
	for (k = 0; k < in.len; k++) {
		r = insn_decode(data, k, (enum insn_cpu_mode)mode, &again);
		FUZZ_CHECK(r == INSN_TRUNCATED && again.len == 0,
			   "the first %u bytes of a %u-byte instruction give %d", k, in.len, r);
	}
	return 0;
}
