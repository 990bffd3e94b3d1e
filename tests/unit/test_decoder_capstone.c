/*
 * insn_decode against capstone, in 64-, 32- and 16-bit code. Encodings: every opcode of the
 * primary, 0F, 0F38 and 0F3A maps under a set of prefix combinations (legacy, REX, both orders)
 * with every ModRM byte for some of them and sampled ModRM bytes for the others; every SIB byte
 * under the memory forms of the instructions nbvmm emulates; and random byte strings. Wherever
 * capstone decodes and insn_decode claims to know the instruction, the lengths must be equal,
 * the first len-1 bytes must decode as truncated, and for the instructions nbvmm emulates the
 * operands (registers, memory base/index/scale/displacement, immediates) must agree.
 * Random part seeded by NB_TEST_SEED (fixed by default, so runs are reproducible).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>
#include <cmocka.h>

#include "shadow/insn_decode.h"

#define MAX_REPORTED 60

struct xcheck {
	csh cs;
	cs_insn *ci;
	unsigned mode;
	uint64_t rng;
	/* capstone register id -> general register number and size, or -1 */
	int8_t gpr_num[X86_REG_ENDING];
	uint8_t gpr_size[X86_REG_ENDING];
	unsigned long total, both, ours_only, cs_only, with_operands, failures, skipped;
	bool reported[4][256]; /* one report per opcode is enough to see what is wrong */
};

static uint64_t rnd64(struct xcheck *x)
{
	uint64_t z = (x->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Register names by size: [size index][number]; 1-byte names 16-19 are AH, CH, DH, BH. */
static const char *const gpr_names[4][20] = {
	{ "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b",
	  "r12b", "r13b", "r14b", "r15b", "ah", "ch", "dh", "bh" },
	{ "ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w",
	  "r13w", "r14w", "r15w" },
	{ "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d",
	  "r12d", "r13d", "r14d", "r15d" },
	{ "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
	  "r13", "r14", "r15" },
};
static const char *const seg_names[6] = { "es", "cs", "ss", "ds", "fs", "gs" };

static void map_registers(struct xcheck *x)
{
	unsigned id, s, n;

	for (id = 0; id < X86_REG_ENDING; id++) {
		const char *name = cs_reg_name(x->cs, id);
		x->gpr_num[id] = -1;
		for (s = 0; s < 4 && name; s++)
			for (n = 0; n < 20; n++)
				if (gpr_names[s][n] && strcmp(name, gpr_names[s][n]) == 0) {
					x->gpr_num[id] = (int8_t)n;
					x->gpr_size[id] = (uint8_t)(1u << s);
				}
	}
}

static void report(struct xcheck *x, const uint8_t *b, const struct insn *in, const char *what)
{
	char hex[3 * 16 + 1] = "";
	unsigned i;

	if (x->failures++ >= MAX_REPORTED || x->reported[in->map & 3][in->opcode])
		return;
	x->reported[in->map & 3][in->opcode] = true;
	for (i = 0; i < 15; i++)
		snprintf(hex + 3 * i, 4, "%02x ", b[i]);
	print_message("# %u-bit %s: %s; capstone: %u bytes \"%s %s\"; insn_decode: %u bytes %s\n",
		      x->mode, hex, what, x->ci->size, x->ci->mnemonic, x->ci->op_str, in->len,
		      insn_mnemonic_name(in->mnemonic));
}

static const cs_x86_op *find_op(const cs_x86 *d, x86_op_type type, unsigned skip)
{
	unsigned i;

	for (i = 0; i < d->op_count; i++)
		if (d->operands[i].type == type && skip-- == 0)
			return &d->operands[i];
	return NULL;
}

/* Is general register n (at `size` bytes, 0 = any size) among capstone's register operands? */
static bool has_gpr(const struct xcheck *x, const cs_x86 *d, const struct insn *in, unsigned n,
		    unsigned size)
{
	unsigned i;

	if (size == 1)
		n = insn_gpr8(in, n);
	for (i = 0; i < d->op_count; i++) {
		x86_reg r = d->operands[i].reg;
		if (d->operands[i].type == X86_OP_REG && x->gpr_num[r] == (int)n &&
		    (size == 0 || x->gpr_size[r] == size))
			return true;
	}
	return false;
}

static bool has_named_reg(const struct xcheck *x, const cs_x86 *d, const char *name)
{
	unsigned i;

	for (i = 0; i < d->op_count; i++)
		if (d->operands[i].type == X86_OP_REG &&
		    strcmp(cs_reg_name(x->cs, d->operands[i].reg), name) == 0)
			return true;
	return false;
}

static bool has_imm(const cs_x86 *d, uint64_t v, unsigned bytes)
{
	uint64_t mask = bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1;
	unsigned i;

	for (i = 0; i < d->op_count; i++)
		if (d->operands[i].type == X86_OP_IMM && ((uint64_t)d->operands[i].imm & mask) == (v & mask))
			return true;
	return false;
}

/* Base register as capstone names it: by address size, or rip / eip. */
static bool same_base(const struct xcheck *x, const struct insn *in, x86_reg r)
{
	if (in->mem.base == INSN_REG_NONE)
		return r == X86_REG_INVALID;
	if (in->mem.base == INSN_REG_RIP)
		return r == (in->addrsize == 8 ? X86_REG_RIP : X86_REG_EIP);
	return x->gpr_num[r] == in->mem.base && x->gpr_size[r] == in->addrsize;
}

static const char *check_mem(const struct xcheck *x, const cs_x86 *d, const struct insn *in)
{
	const cs_x86_op *m = find_op(d, X86_OP_MEM, 0);
	uint64_t mask = in->addrsize == 8 ? ~0ull : (1ull << (8 * in->addrsize)) - 1;

	if (!m)
		return "no memory operand in capstone";
	if (!same_base(x, in, m->mem.base))
		return "memory base differs";
	if (in->mem.index == INSN_REG_NONE ? m->mem.index != X86_REG_INVALID
				       : (x->gpr_num[m->mem.index] != in->mem.index ||
					  x->gpr_size[m->mem.index] != in->addrsize))
		return "memory index differs";
	if (in->mem.index != INSN_REG_NONE && m->mem.scale != in->mem.scale)
		return "memory scale differs";
	if (((uint64_t)m->mem.disp & mask) != ((uint64_t)in->mem.disp & mask))
		return "displacement differs";
	if (in->seg == INSN_SEG_FS || in->seg == INSN_SEG_GS) {
		if (m->mem.segment == X86_REG_INVALID ||
		    strcmp(cs_reg_name(x->cs, m->mem.segment), seg_names[in->seg]) != 0)
			return "segment override differs";
	}
	return NULL;
}

/* The r/m operand: memory, or general register rm at `size` bytes (0: any). */
static const char *check_rm(const struct xcheck *x, const cs_x86 *d, const struct insn *in,
			    unsigned size)
{
	if (in->has_mem)
		return check_mem(x, d, in);
	if (!has_gpr(x, d, in, in->rm, size))
		return "register operand differs";
	return NULL;
}

/* Operands of the instructions nbvmm emulates; NULL when they agree. */
static const char *check_operands(struct xcheck *x, const struct insn *in)
{
	const cs_x86 *d = &x->ci->detail->x86;
	char name[8];

	switch (in->mnemonic) {
	case INSN_MOV_FROM_CR:
	case INSN_MOV_TO_CR:
	case INSN_MOV_FROM_DR:
	case INSN_MOV_TO_DR:
		if (in->mnemonic <= INSN_MOV_TO_CR && (in->prefixes & INSN_P_LOCK))
			break; /* AMD's LOCK alias for CR8: capstone shows cr0 */
		snprintf(name, sizeof(name), "%s%u", in->mnemonic <= INSN_MOV_TO_CR ? "cr" : "dr", in->reg);
		if (!has_named_reg(x, d, name))
			return "control/debug register differs";
		return check_rm(x, d, in, in->opsize);
	case INSN_MOV:
		if (in->opcode < 0xc6 && !has_gpr(x, d, in, in->reg, in->opsize))
			return "register operand differs";
		if (in->imm_size && !has_imm(d, in->imm, in->opsize))
			return "immediate differs";
		return check_rm(x, d, in, in->opsize);
	case INSN_IN:
	case INSN_OUT:
		if (in->imm_size && !has_imm(d, in->imm, 1))
			return "port differs";
		break;
	case INSN_INT:
		if (!has_imm(d, in->imm, 1))
			return "vector differs";
		break;
	case INSN_RET_FAR:
		if (in->imm_size && !has_imm(d, in->imm, 2))
			return "immediate differs";
		break;
	case INSN_CALL_FAR:
	case INSN_JMP_FAR:
		if (in->has_mem)
			return check_mem(x, d, in);
		if (!has_imm(d, in->imm, in->imm_size) || !has_imm(d, in->imm2, 2))
			return "far pointer differs";
		break;
	case INSN_LGDT:
	case INSN_LIDT:
	case INSN_SGDT:
	case INSN_SIDT:
	case INSN_INVLPG:
		return check_mem(x, d, in);
	case INSN_LLDT:
	case INSN_LTR:
	case INSN_VERR:
	case INSN_VERW:
	case INSN_SLDT:
	case INSN_STR:
	case INSN_SMSW:
	case INSN_LMSW:
		return check_rm(x, d, in, 0);
	case INSN_LAR:
	case INSN_LSL:
		if (!has_gpr(x, d, in, in->reg, 0))
			return "register operand differs";
		return check_rm(x, d, in, 0);
	case INSN_MOV_TO_SREG:
	case INSN_MOV_FROM_SREG:
		if (!has_named_reg(x, d, seg_names[in->sreg]))
			return "segment register differs";
		return check_rm(x, d, in, 0);
	case INSN_PUSH_SREG:
	case INSN_POP_SREG:
		if (!has_named_reg(x, d, seg_names[in->sreg]))
			return "segment register differs";
		break;
	default:
		return NULL;
	}
	return NULL;
}

/*
 * Encodings where capstone 4.0 departs from the manuals (or the vendors disagree), left out of
 * the comparison and counted:
 *  - 66 on a near branch (E8, E9, 0F 80-8F) in 64-bit mode: AMD takes rel16, Intel ignores the
 *    prefix; capstone takes rel16 except when another prefix sits between 66 and the opcode,
 *    and also takes rel16 for 67 with REX.W (the address size has no say in it);
 *  - 66 together with F2 or F3 on an instruction whose immediate 66 shrinks (PUSH imm, CALL
 *    rel): capstone drops the 66 and reads a 32-bit immediate;
 *  - RET imm16 (C2) with REX.W: capstone counts four immediate bytes (and prints two).
 */
static bool capstone_deviates(const struct insn *in)
{
	bool near_branch = (in->map == INSN_MAP_PRIMARY && (in->opcode == 0xe8 || in->opcode == 0xe9)) ||
			   (in->map == INSN_MAP_0F && (in->opcode & 0xf0) == 0x80);

	if (((in->prefixes & INSN_P_OPSIZE) || (in->prefixes & INSN_P_ADDRSIZE)) && near_branch && in->mode == 64)
		return true;
	if (in->map == INSN_MAP_PRIMARY && (in->prefixes & INSN_P_OPSIZE) && (in->prefixes & (INSN_P_REP | INSN_P_REPNE)) &&
	    in->imm_size == 2 && (in->opcode == 0x68 || near_branch))
		return true;
	return in->map == INSN_MAP_PRIMARY && in->opcode == 0xc2 && (in->rex & 8);
}

/* One encoding (16 bytes available; at most 15 are looked at). */
static void check_one(struct xcheck *x, const uint8_t *b)
{
	const uint8_t *p = b;
	size_t size = 15;
	uint64_t addr = 0x1000;
	bool cs_ok = cs_disasm_iter(x->cs, &p, &size, &addr, x->ci);
	struct insn in, t;
	int r = insn_decode(b, 15, (enum insn_cpu_mode)x->mode, &in);
	const char *why;

	x->total++;
	if (r == 0 && cs_ok && capstone_deviates(&in)) {
		x->skipped++;
	} else if (r == 0 && cs_ok) {
		x->both++;
		if (in.len != x->ci->size) {
			report(x, b, &in, "lengths differ");
			return;
		}
		if (insn_decode(b, in.len - 1u, (enum insn_cpu_mode)x->mode, &t) != INSN_TRUNCATED) {
			report(x, b, &in, "the first len-1 bytes do not decode as truncated");
			return;
		}
		if (in.mnemonic != INSN_OTHER) {
			x->with_operands++;
			why = check_operands(x, &in);
			if (why)
				report(x, b, &in, why);
		}
	} else if (r == 0) {
		x->ours_only++;

	} else if (cs_ok) {
		x->cs_only++;

	}
}

static void fill_random(struct xcheck *x, uint8_t *b, unsigned from)
{
	unsigned i;

	for (i = from; i < 16; i++)
		b[i] = (uint8_t)rnd64(x);
}

/* Prefix combinations tried on every opcode; the first three with every ModRM byte. */
static const char *const prefix_sets64[] = {
	"", "\x48", "\x66", "\x67", "\xf3", "\xf2", "\xf0", "\x2e", "\x64", "\x65", "\x66\x67",
	"\xf3\x66", "\x41", "\x44", "\x42", "\x4f", "\x40", "\x66\x48", "\x48\x66", "\xf0\x44",
	"\x65\x67\x4c", "\xf2\x48",
};
static const char *const prefix_sets32[] = {
	"", "\x66", "\x67", "\xf3", "\xf2", "\xf0", "\x2e", "\x3e", "\x26", "\x36", "\x64",
	"\x65", "\x66\x67", "\xf3\x66", "\xf0\x66", "\x67\x66\xf2",
};

static void check_structured(struct xcheck *x)
{
	const char *const *sets = x->mode == 64 ? prefix_sets64 : prefix_sets32;
	unsigned nsets = x->mode == 64 ? sizeof(prefix_sets64) / sizeof(*prefix_sets64)
				       : sizeof(prefix_sets32) / sizeof(*prefix_sets32);
	unsigned map, op, s, m, i;
	uint8_t b[16];

	for (map = 0; map < 4; map++) {
		for (op = 0; op < 256; op++) {
			for (s = 0; s < nsets; s++) {
				uint8_t head[8];
				unsigned len = (unsigned)strlen(sets[s]);

				memcpy(head, sets[s], len);
				if (map > 0)
					head[len++] = 0x0f;
				if (map > 1)
					head[len++] = map == 2 ? 0x38 : 0x3a;
				head[len++] = (uint8_t)op;
				for (m = 0; m < (s < 3 ? 256u : 8u); m++) {
					memcpy(b, head, len);
					fill_random(x, b, len);
					if (s < 3)
						b[len] = (uint8_t)m;
					check_one(x, b);
				}
			}
		}
	}
	/* Every SIB byte under mod 0-2 of the memory forms nbvmm emulates. */
	{
		static const char *const ops[] = { "\x89", "\x8b", "\xc7", "\x0f\x01", "\x0f\xb1",
						   "\x87", "\x83", "\xff", "\x8e" };
		static const uint8_t regfield[] = { 0, 3, 0, 2, 1, 2, 1, 5, 3 };
		for (i = 0; i < sizeof(ops) / sizeof(*ops); i++) {
			unsigned olen = (unsigned)strlen(ops[i]);
			for (m = 0; m < 3 * 256; m++) {
				memcpy(b, ops[i], olen);
				fill_random(x, b, olen);
				b[olen] = (uint8_t)(((m / 256) << 6) | (regfield[i] << 3) | 4);
				b[olen + 1] = (uint8_t)m;
				check_one(x, b);
			}
		}
	}
}

/* Random strings, biased towards prefixes and escapes so that they reach past byte one. */
static void check_random(struct xcheck *x, unsigned n)
{
	static const uint8_t lead[] = { 0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x64, 0x65, 0x0f, 0x0f,
					0x48, 0x4c, 0x41, 0xc4, 0xc5, 0x62 };
	uint8_t b[16];
	unsigned i, k;

	for (i = 0; i < n; i++) {
		fill_random(x, b, 0);
		for (k = 0; k < 4 && (b[15] >> (2 * k) & 3) == 0; k++)
			b[k] = lead[rnd64(x) % sizeof(lead)];
		check_one(x, b);
	}
}

static void run_mode(unsigned mode)
{
	struct xcheck *x = calloc(1, sizeof(*x));
	cs_mode csm = mode == 64 ? CS_MODE_64 : mode == 32 ? CS_MODE_32 : CS_MODE_16;
	const char *e = getenv("NB_TEST_SEED");

	assert_non_null(x);
	assert_int_equal(cs_open(CS_ARCH_X86, csm, &x->cs), CS_ERR_OK);
	cs_option(x->cs, CS_OPT_DETAIL, CS_OPT_ON);
	x->ci = cs_malloc(x->cs);
	x->mode = mode;
	x->rng = (e && *e ? strtoull(e, NULL, 0) : 0x6e65737462656431ull) ^ mode;
	map_registers(x);
	check_structured(x);
	check_random(x, 300000);
	print_message("# %u-bit: %lu encodings; %lu decoded by both (lengths compared), %lu of them "
		      "with operands compared; %lu only by capstone, %lu only by insn_decode; "
		      "%lu skipped (known capstone deviations); %lu disagreements\n", mode, x->total,
		      x->both, x->with_operands, x->cs_only, x->ours_only, x->skipped, x->failures);
	cs_free(x->ci, 1);
	cs_close(&x->cs);
	if (x->failures)
		fail_msg("%lu disagreements with capstone in %u-bit code (first ones above)",
			 x->failures, mode);
	free(x);
}

static void test_decoder_agrees_with_capstone_64bit(void **state)
{
	(void)state;
	run_mode(64);
}

static void test_decoder_agrees_with_capstone_32bit(void **state)
{
	(void)state;
	run_mode(32);
}

static void test_decoder_agrees_with_capstone_16bit(void **state)
{
	(void)state;
	run_mode(16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoder_agrees_with_capstone_64bit),
		cmocka_unit_test(test_decoder_agrees_with_capstone_32bit),
		cmocka_unit_test(test_decoder_agrees_with_capstone_16bit),
	};

	return cmocka_run_group_tests_name("shadow: decoder against capstone", tests, NULL, NULL);
}
