/*
 * x86 instruction decoder (see insn_decode.h). "Vol 3" is the AMD64 Architecture Programmer's
 * Manual Volume 3; "SDM" the Intel Software Developer's Manual Volume 2.
 *
 * An instruction is: legacy prefixes, REX (64-bit mode, last before the opcode), an opcode of one
 * to three bytes (or a VEX/EVEX prefix and one opcode byte), ModRM, SIB, displacement and
 * immediate (Vol 3 §1.1, Figure 1-1). Its length follows from the opcode's attributes in the
 * tables below (Vol 3 Appendix A), the operand size and the address size.
 */
#include "shadow/insn_decode.h"

/* Opcode attributes. */
#define F_M 0x0001     /* ModRM follows */
#define F_IB 0x0002    /* 8-bit immediate */
#define F_IW 0x0004    /* 16-bit immediate (with F_IB: ENTER's iw, ib) */
#define F_IZ 0x0008    /* 16- or 32-bit immediate, by operand size */
#define F_IV 0x0010    /* 16-, 32- or 64-bit immediate (MOV r, imm) */
#define F_JZ 0x0020    /* rel16 or rel32 by operand size (see insn_immediates) */
#define F_AP 0x0040    /* far pointer ptr16:16/32 */
#define F_MO 0x0080    /* moffs: an address-size offset (MOV A0-A3) */
#define F_I64 0x0100   /* invalid in 64-bit mode */
#define F_D64 0x0200   /* operand size defaults to 64 bits in 64-bit mode */
#define F_BAD 0x0400   /* undefined */
#define F_G3 0x0800    /* group 3: /0 and /1 (TEST) take an immediate of the operand's size */
#define F_SX 0x1000    /* the 8-bit immediate is sign-extended to the operand size */

#define M F_M
#define IB F_IB
#define IW F_IW
#define IZ F_IZ
#define IV F_IV
#define JZ F_JZ
#define AP F_AP
#define MO F_MO
#define X64 F_I64
#define D64 F_D64
#define BAD F_BAD
#define G3 F_G3
#define SX F_SX
#define PFX BAD /* prefixes and escapes never reach the table */
#define JB (F_IB | F_SX | F_D64) /* rel8 */
/* 0F 78, 0F 79: VMREAD/VMWRITE on Intel, AMD's SSE4a EXTRQ/INSERTQ (two byte immediates) under
 * 66/F2, #UD otherwise: the length depends on the vendor, so they are not sized. */
#define VND BAD

/* Primary opcode map (Vol 3 Table ). 40-4F are REX in 64-bit mode, handled earlier. */
static const uint16_t insn_primary[256] = {
	/* 00 */ M, M, M, M, IB, IZ, X64, X64, M, M, M, M, IB, IZ, X64, PFX,
	/* 10 */ M, M, M, M, IB, IZ, X64, X64, M, M, M, M, IB, IZ, X64, X64,
	/* 20 */ M, M, M, M, IB, IZ, PFX, X64, M, M, M, M, IB, IZ, PFX, X64,
	/* 30 */ M, M, M, M, IB, IZ, PFX, X64, M, M, M, M, IB, IZ, PFX, X64,
	/* 40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 50 */ D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64,
	/* 60 */ X64, X64, M | X64, M, PFX, PFX, PFX, PFX,
		 IZ | D64, M | IZ, IB | SX | D64, M | IB | SX, 0, 0, 0, 0,
	/* 70 */ JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB,
	/* 80 */ M | IB, M | IZ, M | IB | X64, M | IB | SX, M, M, M, M,
		 M, M, M, M, M, M, M, M | D64,
	/* 90 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, AP | X64, 0, D64, D64, 0, 0,
	/* A0 */ MO, MO, MO, MO, 0, 0, 0, 0, IB, IZ, 0, 0, 0, 0, 0, 0,
	/* B0 */ IB, IB, IB, IB, IB, IB, IB, IB, IV, IV, IV, IV, IV, IV, IV, IV,
	/* C0 */ M | IB, M | IB, IW | D64, D64, M | X64, M | X64, M | IB, M | IZ,
		 IW | IB | D64, D64, IW, 0, 0, IB, X64, 0,
	/* D0 */ M, M, M, M, IB | X64, IB | X64, X64, 0, M, M, M, M, M, M, M, M,
	/* E0 */ JB, JB, JB, JB, IB, IB, IB, IB, JZ | D64, JZ | D64, AP | X64, JB, 0, 0, 0, 0,
	/* F0 */ PFX, 0, PFX, PFX, 0, 0, M | G3, M | G3, 0, 0, 0, 0, 0, 0, M, M,
};

/* Two-byte map 0F xx (Vol 3 Table ). 0F 38 and 0F 3A lead to the three-byte maps. */
static const uint16_t insn_0f[256] = {
	/* 00 */ M, M, M, M, BAD, 0, 0, 0, 0, 0, BAD, 0, BAD, M, 0, M | IB,
	/* 10 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 20 */ M, M, M, M, BAD, BAD, BAD, BAD, M, M, M, M, M, M, M, M,
	/* 30 */ 0, 0, 0, 0, 0, 0, BAD, 0, PFX, BAD, PFX, BAD, BAD, BAD, BAD, BAD,
	/* 40 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 50 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 60 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 70 */ M | IB, M | IB, M | IB, M | IB, M, M, M, 0, VND, VND, BAD, BAD, M, M, M, M,
	/* 80 */ JZ | D64, JZ | D64, JZ | D64, JZ | D64, JZ | D64, JZ | D64, JZ | D64, JZ | D64,
		 JZ | D64, JZ | D64, JZ | D64, JZ | D64, JZ | D64, JZ | D64, JZ | D64, JZ | D64,
	/* 90 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* A0 */ D64, D64, 0, M, M | IB, M, BAD, BAD, D64, D64, 0, M, M | IB, M, M, M,
	/* B0 */ M, M, M, M, M, M, M, M, M, BAD, M | IB, M, M, M, M, M,
	/* C0 */ M, M, M | IB, M, M | IB, M | IB, M | IB, M, 0, 0, 0, 0, 0, 0, 0, 0,
	/* D0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* E0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* F0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, BAD,
};

#undef M
#undef IB
#undef IW
#undef IZ
#undef IV
#undef JZ
#undef AP
#undef MO
#undef X64
#undef D64
#undef BAD
#undef G3
#undef SX
#undef PFX
#undef JB
#undef VND

/* Opcodes of the three-byte maps without VEX (Intel SDM Vol 2 Tables; AMD Vol 3
 * Tables ), as inclusive ranges; the rest of those maps is undefined. */
static const uint8_t insn_0f38_defined[][2] = {
	{ 0x00, 0x0b }, { 0x10, 0x10 }, { 0x14, 0x15 }, { 0x17, 0x17 }, { 0x1c, 0x1e },
	{ 0x20, 0x25 }, { 0x28, 0x2b }, { 0x30, 0x35 }, { 0x37, 0x41 }, { 0x80, 0x82 },
	{ 0xc8, 0xcd }, { 0xcf, 0xcf }, { 0xdb, 0xdf }, { 0xf0, 0xf1 }, { 0xf5, 0xf6 },
	{ 0xf8, 0xf9 },
};
static const uint8_t insn_0f3a_defined[][2] = {
	{ 0x08, 0x0f }, { 0x14, 0x17 }, { 0x20, 0x22 }, { 0x40, 0x42 }, { 0x44, 0x44 },
	{ 0x60, 0x63 }, { 0xcc, 0xcc }, { 0xce, 0xcf }, { 0xdf, 0xdf },
};

static bool insn_in_ranges(const uint8_t (*r)[2], unsigned n, uint8_t op)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (op >= r[i][0] && op <= r[i][1])
			return true;
	return false;
}

/* The bytes being decoded and how far we are. */
struct insn_cursor {
	const uint8_t *code;
	unsigned avail, pos;
};

/* Next byte, without consuming it. Past 15 bytes the instruction is invalid whatever follows;
 * before that, running out of bytes only means more are needed. */
static int insn_peek(const struct insn_cursor *c, uint8_t *b)
{
	if (c->pos >= INSN_MAX_LEN)
		return INSN_INVALID;
	if (c->pos >= c->avail)
		return INSN_TRUNCATED;
	*b = c->code[c->pos];
	return 0;
}

/* Consumes n (0..8) bytes as a little-endian value. */
static int insn_take(struct insn_cursor *c, unsigned n, uint64_t *v)
{
	unsigned i;
	uint8_t b;
	int r;

	*v = 0;
	for (i = 0; i < n; i++) {
		r = insn_peek(c, &b);
		if (r < 0)
			return r;
		*v |= (uint64_t)b << (8 * i);
		c->pos++;
	}
	return 0;
}

static uint64_t insn_sext(uint64_t v, unsigned bytes)
{
	unsigned shift = 64 - 8 * bytes;

	return bytes >= 8 ? v : (uint64_t)((int64_t)(v << shift) >> shift);
}

/*
 * The memory operand of ModRM (Vol 3 §1.4, Tables 1-12 to 1-16): 16-bit forms with their fixed
 * base/index pairs, or 32/64-bit forms with an optional SIB byte. In 64-bit mode mod=00 rm=101
 * is RIP-relative; REX.B and REX.X extend base and index, except that the special encodings
 * (rm=100: SIB follows; base=101 with mod=00: no base; index=100: no index) look at the low
 * three bits only, so r12 and r13 need them too (Vol 3 §1.8.2, Table 1-17).
 */
static int insn_modrm_mem(struct insn_cursor *c, struct insn *in, unsigned rex_x, unsigned rex_b)
{
	static const int8_t base16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };  /* BX BX BP BP SI DI BP BX */
	static const int8_t index16[8] = { 6, 7, 6, 7, -1, -1, -1, -1 }; /* SI DI SI DI */
	unsigned rm = in->modrm & 7, dispsize = 0;
	uint64_t v;
	int r;

	in->has_mem = true;
	in->mem.scale = 1;
	if (in->addrsize == 2) {
		if (in->mod == 0 && rm == 6) {
			dispsize = 2;
		} else {
			in->mem.base = base16[rm];
			in->mem.index = index16[rm];
			dispsize = in->mod == 1 ? 1 : in->mod == 2 ? 2 : 0;
		}
	} else {
		if (rm == 4) {
			unsigned sib, idx;
			r = insn_take(c, 1, &v);
			if (r < 0)
				return r;
			sib = (unsigned)v;
			in->mem.scale = (uint8_t)(1u << (sib >> 6));
			idx = ((sib >> 3) & 7) | rex_x;
			in->mem.index = (int8_t)(idx == 4 ? INSN_REG_NONE : (int)idx);
			if ((sib & 7) == 5 && in->mod == 0)
				dispsize = 4;
			else
				in->mem.base = (int8_t)((sib & 7) | rex_b);
		} else if (rm == 5 && in->mod == 0) {
			if (in->mode == 64)
				in->mem.base = INSN_REG_RIP;
			dispsize = 4;
		} else {
			in->mem.base = (int8_t)in->rm;
		}
		if (in->mod == 1)
			dispsize = 1;
		else if (in->mod == 2)
			dispsize = 4;
	}
	r = insn_take(c, dispsize, &v);
	if (r < 0)
		return r;
	in->mem.disp = (int64_t)insn_sext(v, dispsize ? dispsize : 8);
	/* rBP and rSP as base select SS (Vol 3 §1.4.3; in 64-bit mode only FS/GS matter). */
	if (in->seg != INSN_SEG_NONE)
		in->mem.seg = in->seg;
	else
		in->mem.seg = (in->mem.base == 4 || in->mem.base == 5) ? INSN_SEG_SS : INSN_SEG_DS;
	return 0;
}

/*
 * VEX (C4, C5) and EVEX (62) encodings (SDM Vol 2 §2.3, §2.6): the prefix carries REX's
 * bits (inverted), the implied 66/F2/F3 and the opcode map; one opcode byte, a ModRM, and an
 * 8-bit immediate in map 0F3A and for the few 0F opcodes that take one.
 */
static int insn_vex(struct insn_cursor *c, struct insn *in, uint8_t first)
{
	unsigned n = first == 0xc5 ? 1 : first == 0xc4 ? 2 : 3, map, rex_r, rex_x = 0, rex_b = 0;
	uint64_t p;
	uint8_t op;
	int r;

	/* 66, F2, F3, LOCK or REX before VEX is #UD (SDM Vol 2 §2.3.2-2.3.4). */
	if ((in->prefixes & (INSN_P_OPSIZE | INSN_P_REP | INSN_P_REPNE | INSN_P_LOCK)) || in->rex)
		return INSN_INVALID;
	c->pos++;
	r = insn_take(c, n, &p);
	if (r < 0)
		return r;
	in->prefixes |= INSN_P_VEX;
	rex_r = (p & 0x80) ? 0 : 8;
	if (first == 0xc5) {
		map = INSN_MAP_0F;
	} else {
		rex_x = (p & 0x40) ? 0 : 8;
		rex_b = (p & 0x20) ? 0 : 8;
		map = (unsigned)(p & (first == 0x62 ? 0x03 : 0x1f));
		if (first == 0x62 && (p & 0x0c))
			return INSN_INVALID; /* EVEX P0 bits 3:2 must be zero */
		if (in->mode == 64 && ((p >> 8) & 0x80))
			in->opsize = 8; /* W */
	}
	if (map < INSN_MAP_0F || map > INSN_MAP_0F3A)
		return INSN_INVALID;
	if (in->mode != 64)
		rex_r = rex_x = rex_b = 0;
	r = insn_peek(c, &op);
	if (r < 0)
		return r;
	c->pos++;
	in->map = (uint8_t)map;
	in->opcode = op;
	/* VZEROUPPER / VZEROALL (VEX 0F 77) are the only ones without ModRM. */
	if (!(map == INSN_MAP_0F && op == 0x77 && first != 0x62)) {
		uint64_t m;
		r = insn_take(c, 1, &m);
		if (r < 0)
			return r;
		in->has_modrm = true;
		in->modrm = (uint8_t)m;
		in->mod = (uint8_t)(m >> 6);
		in->reg = (uint8_t)(((m >> 3) & 7) | rex_r);
		in->rm = (uint8_t)((m & 7) | rex_b);
		if (in->mod != 3) {
			r = insn_modrm_mem(c, in, rex_x, rex_b);
			if (r < 0)
				return r;
		}
	}
	if (map == INSN_MAP_0F3A ||
	    (map == INSN_MAP_0F && ((op >= 0x70 && op <= 0x73) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6)))) {
		r = insn_take(c, 1, &in->imm);
		if (r < 0)
			return r;
		in->imm_size = 1;
	}
	return 0;
}

/* Sizes the immediate(s) an opcode with attributes f takes. */
static int insn_immediates(struct insn_cursor *c, struct insn *in, unsigned f)
{
	unsigned size = 0, size2 = 0;
	uint64_t v2;
	int r;

	if ((f & F_G3) && (in->reg & 7) < 2)
		f |= in->opcode == 0xf6 ? F_IB : F_IZ;
	if (f & F_IW)
		size = 2, size2 = (f & F_IB) ? 1 : 0; /* ENTER iw, ib */
	else if (f & F_IB)
		size = 1;
	else if (f & F_IZ)
		size = in->opsize == 2 ? 2 : 4;
	else if (f & F_IV)
		size = in->opsize;
	else if (f & F_JZ)
		/* In 64-bit mode near branches are 64-bit; AMD honours 66 (rel16), Intel ignores it
		 * (rel32). nbvmm models an AMD CPU. */
		size = in->opsize == 2 ? 2 : 4;
	else if (f & F_AP)
		size = in->opsize == 2 ? 2 : 4, size2 = 2;
	else if (f & F_MO)
		size = in->addrsize;
	r = insn_take(c, size, &in->imm);
	if (r < 0)
		return r;
	in->imm_size = (uint8_t)size;
	r = insn_take(c, size2, &v2);
	if (r < 0)
		return r;
	in->imm2 = (uint16_t)v2;
	/* Sign-extended immediates: ib of 6A/6B/83, relative branches, and iz at 64-bit operand
	 * size (the processor sign-extends them to the operand size). */
	if (f & (F_SX | F_JZ))
		in->imm = insn_sext(in->imm, size);
	else if ((f & F_IZ) && in->opsize == 8)
		in->imm = insn_sext(in->imm, 4);
	return 0;
}

/* Operand size of IN/OUT/INS/OUTS: a byte, else 16 or 32 bits (REX.W changes nothing). */
static uint8_t insn_io_size(const struct insn *in)
{
	if (!(in->opcode & 1))
		return 1;
	return in->opsize == 2 ? 2 : 4;
}

/* Names the primary-map instructions nbvmm emulates; INSN_INVALID for undefined group members. */
static int insn_classify_primary(struct insn *in)
{
	unsigned op = in->opcode, ext = in->reg & 7;

	switch (op) {
	case 0xfa: in->mnemonic = INSN_CLI; break;
	case 0xfb: in->mnemonic = INSN_STI; break;
	case 0xf4: in->mnemonic = INSN_HLT; break;
	case 0xe4: case 0xe5: case 0xec: case 0xed:
		in->mnemonic = INSN_IN;
		in->opsize = insn_io_size(in);
		break;
	case 0xe6: case 0xe7: case 0xee: case 0xef:
		in->mnemonic = INSN_OUT;
		in->opsize = insn_io_size(in);
		break;
	case 0x6c: case 0x6d:
		in->mnemonic = INSN_INS;
		in->opsize = insn_io_size(in);
		break;
	case 0x6e: case 0x6f:
		in->mnemonic = INSN_OUTS;
		in->opsize = insn_io_size(in);
		break;
	case 0xcf: in->mnemonic = INSN_IRET; break;
	case 0xca: case 0xcb: in->mnemonic = INSN_RET_FAR; break;
	case 0x9a: in->mnemonic = INSN_CALL_FAR; break;
	case 0xea: in->mnemonic = INSN_JMP_FAR; break;
	case 0x8c: case 0x8e:
		/* Sreg is ModRM.reg; REX.R does not extend it. Loading CS is #UD. */
		in->sreg = (uint8_t)ext;
		if (ext > INSN_SEG_GS || (op == 0x8e && ext == INSN_SEG_CS))
			return INSN_INVALID;
		in->mnemonic = op == 0x8e ? INSN_MOV_TO_SREG : INSN_MOV_FROM_SREG;
		if (op == 0x8e || in->has_mem)
			in->opsize = 2;
		break;
	case 0x06: case 0x0e: case 0x16: case 0x1e:
		in->mnemonic = INSN_PUSH_SREG;
		in->sreg = (uint8_t)(op >> 3);
		break;
	case 0x07: case 0x17: case 0x1f:
		in->mnemonic = INSN_POP_SREG;
		in->sreg = (uint8_t)(op >> 3);
		break;
	case 0xcc: in->mnemonic = INSN_INT3; break;
	case 0xcd: in->mnemonic = INSN_INT; break;
	case 0xce: in->mnemonic = INSN_INTO; break;
	case 0xf1: in->mnemonic = INSN_INT1; break;
	case 0x9c: in->mnemonic = INSN_PUSHF; break;
	case 0x9d: in->mnemonic = INSN_POPF; break;
	case 0x88: case 0x89: case 0x8a: case 0x8b:
		in->mnemonic = INSN_MOV;
		if (!(op & 1))
			in->opsize = 1;
		break;
	case 0xc6: case 0xc7:
		if (ext == 0) {
			in->mnemonic = INSN_MOV;
			if (op == 0xc6)
				in->opsize = 1;
		} else if (in->modrm != 0xf8) { /* C6 F8 XABORT, C7 F8 XBEGIN */
			return INSN_INVALID;
		}
		break;
	case 0x8d: /* LEA of a register */
		if (!in->has_mem)
			return INSN_INVALID;
		break;
	case 0x8f: /* POP Ev is /0; the rest is XOP (sized nowhere here) */
		if (ext != 0)
			return INSN_INVALID;
		break;
	case 0xfe:
		if (ext > 1)
			return INSN_INVALID;
		break;
	case 0xff:
		if (ext == 7 || ((ext == 3 || ext == 5) && !in->has_mem))
			return INSN_INVALID;
		if (ext == 3 || ext == 5)
			in->mnemonic = ext == 3 ? INSN_CALL_FAR : INSN_JMP_FAR;
		break;
	}
	return 0;
}

/* Group 7, register forms (0F 01 C0-FF): Vol 3 Table A-7. */
static int insn_classify_0f01_reg(struct insn *in)
{
	static const uint8_t svm[8] = { INSN_VMRUN, INSN_VMMCALL, INSN_VMLOAD, INSN_VMSAVE,
					INSN_STGI, INSN_CLGI, INSN_SKINIT, INSN_INVLPGA };
	unsigned m = in->modrm;

	if (m >= 0xd8 && m <= 0xdf) {
		in->mnemonic = svm[m - 0xd8];
	} else if ((m & 0xf8) == 0xe0) {
		in->mnemonic = INSN_SMSW;
	} else if ((m & 0xf8) == 0xf0) {
		in->mnemonic = INSN_LMSW;
		in->opsize = 2;
	} else if (m == 0xf8) {
		if (in->mode != 64)
			return INSN_INVALID; /* SWAPGS exists only in 64-bit mode */
		in->mnemonic = INSN_SWAPGS;
	} else if (m == 0xf9) {
		in->mnemonic = INSN_RDTSCP;
	} else if (m >= 0xfe) {
		return INSN_INVALID;
	}
	return 0;
}

static int insn_classify_0f(struct insn *in)
{
	static const uint8_t grp6[6] = { INSN_SLDT, INSN_STR, INSN_LLDT, INSN_LTR, INSN_VERR,
					 INSN_VERW };
	static const uint8_t grp7[8] = { INSN_SGDT, INSN_SIDT, INSN_LGDT, INSN_LIDT, INSN_SMSW,
					 INSN_OTHER, INSN_LMSW, INSN_INVLPG };
	unsigned op = in->opcode, ext = in->reg & 7;

	switch (op) {
	case 0x00:
		if (ext > 5)
			return INSN_INVALID;
		in->mnemonic = grp6[ext];
		if (ext > 1 || in->has_mem)
			in->opsize = 2;
		break;
	case 0x01:
		if (!in->has_mem)
			return insn_classify_0f01_reg(in);
		in->mnemonic = grp7[ext];
		if (in->mnemonic == INSN_SMSW || in->mnemonic == INSN_LMSW)
			in->opsize = 2;
		break;
	case 0x02: in->mnemonic = INSN_LAR; break;
	case 0x03: in->mnemonic = INSN_LSL; break;
	case 0x05: in->mnemonic = INSN_SYSCALL; break;
	case 0x06: in->mnemonic = INSN_CLTS; break;
	case 0x07: in->mnemonic = INSN_SYSRET; break;
	case 0x08: in->mnemonic = INSN_INVD; break;
	case 0x09: in->mnemonic = INSN_WBINVD; break;
	case 0x0b: in->mnemonic = INSN_UD2; break;
	case 0x20: case 0x22:
		/* CR8 is reachable with REX.R, or from any mode with AMD's LOCK MOV CR0 alias
		 * (Vol 3 "MOV CRn"); CR1, CR5-7, CR9-15 are #UD. */
		if (in->prefixes & INSN_P_LOCK) {
			if (in->reg != 0)
				return INSN_INVALID;
			in->reg = 8;
		}
		if (in->reg == 1 || (in->reg > 4 && in->reg != 8))
			return INSN_INVALID;
		in->mnemonic = op == 0x20 ? INSN_MOV_FROM_CR : INSN_MOV_TO_CR;
		break;
	case 0x21: case 0x23:
		if (in->reg > 7 || (in->prefixes & INSN_P_LOCK))
			return INSN_INVALID;
		in->mnemonic = op == 0x21 ? INSN_MOV_FROM_DR : INSN_MOV_TO_DR;
		break;
	case 0x30: in->mnemonic = INSN_WRMSR; break;
	case 0x31: in->mnemonic = INSN_RDTSC; break;
	case 0x32: in->mnemonic = INSN_RDMSR; break;
	case 0xa2: in->mnemonic = INSN_CPUID; break;
	case 0xa0: case 0xa8: in->mnemonic = INSN_PUSH_SREG; in->sreg = op == 0xa0 ? 4 : 5; break;
	case 0xa1: case 0xa9: in->mnemonic = INSN_POP_SREG; in->sreg = op == 0xa1 ? 4 : 5; break;
	case 0xb2: case 0xb4: case 0xb5: /* LSS, LFS, LGS need memory */
		if (!in->has_mem)
			return INSN_INVALID;
		break;
	case 0xb8: /* POPCNT with F3; without it JMPE, an IA-64 instruction */
		if (!(in->prefixes & INSN_P_REP))
			return INSN_INVALID;
		break;
	}
	return 0;
}

/*
 * LOCK is allowed only on read-modify-write instructions with a memory destination (Vol 3
 * §1.2.5): ADD, ADC, AND, BTC, BTR, BTS, CMPXCHG, CMPXCHG8B/16B, DEC, INC, NEG, NOT, OR, SBB,
 * SUB, XADD, XCHG, XOR; and on MOV CR0 as AMD's alias of CR8. Anywhere else it is #UD.
 */
static bool insn_lock_ok(const struct insn *in)
{
	unsigned op = in->opcode, ext = in->reg & 7;

	if (in->map == INSN_MAP_0F && (op == 0x20 || op == 0x22))
		return true;
	if (!in->has_mem)
		return false;
	if (in->map == INSN_MAP_PRIMARY) {
		if (op < 0x38 && (op & 7) < 2 && (op & 0x38) != 0x38) /* ALU r/m, reg (not CMP) */
			return true;
		if (op >= 0x80 && op <= 0x83)
			return ext != 7; /* not CMP */
		if (op == 0x86 || op == 0x87)
			return true;
		if (op == 0xf6 || op == 0xf7)
			return ext == 2 || ext == 3; /* NOT, NEG */
		if (op == 0xfe || op == 0xff)
			return ext < 2; /* INC, DEC */
		return false;
	}
	if (in->map == INSN_MAP_0F) {
		switch (op) {
		case 0xab: case 0xb3: case 0xbb: /* BTS, BTR, BTC */
		case 0xb0: case 0xb1: case 0xc0: case 0xc1: /* CMPXCHG, XADD */
			return true;
		case 0xba:
			return ext >= 5;
		case 0xc7:
			return ext == 1; /* CMPXCHG8B / CMPXCHG16B */
		}
	}
	return false;
}

static int insn_decode_at(struct insn_cursor *c, unsigned mode, struct insn *in)
{
	const uint16_t *table = insn_primary;
	unsigned f, rex_r, rex_x, rex_b;
	uint8_t b, next;
	int r;

	in->len = 0;
	in->mode = (uint8_t)mode;
	in->mnemonic = INSN_OTHER;
	in->map = INSN_MAP_PRIMARY;
	in->opcode = 0;
	in->prefixes = 0;
	in->seg = INSN_SEG_NONE;
	in->rex = 0;
	in->has_modrm = false;
	in->modrm = in->mod = in->reg = in->rm = 0;
	in->has_mem = false;
	in->mem.base = in->mem.index = INSN_REG_NONE;
	in->mem.scale = 1;
	in->mem.seg = INSN_SEG_NONE;
	in->mem.disp = 0;
	in->sreg = INSN_SEG_NONE;
	in->imm_size = 0;
	in->imm = 0;
	in->imm2 = 0;
	if (mode != 16 && mode != 32 && mode != 64)
		return INSN_INVALID;

	/* Legacy prefixes in any order, then REX, which counts only right before the opcode
	 * (a legacy prefix after it cancels it: Vol 3 §1.8). */
	for (;; c->pos++) {
		r = insn_peek(c, &b);
		if (r < 0)
			return r;
		if (mode == 64 && (b & 0xf0) == 0x40) {
			in->rex = b;
			continue;
		}
		switch (b) {
		case 0xf0: in->prefixes |= INSN_P_LOCK; break;
		case 0xf2: in->prefixes = (in->prefixes & ~INSN_P_REP) | INSN_P_REPNE; break;
		case 0xf3: in->prefixes = (in->prefixes & ~INSN_P_REPNE) | INSN_P_REP; break;
		case 0x26: case 0x2e: case 0x36: case 0x3e: in->seg = (b >> 3) & 3; break;
		case 0x64: case 0x65: in->seg = (uint8_t)(b - 0x60); break;
		case 0x66: in->prefixes |= INSN_P_OPSIZE; break;
		case 0x67: in->prefixes |= INSN_P_ADDRSIZE; break;
		default:
			goto opcode;
		}
		in->rex = 0;
	}
opcode:
	/* Operand size: 16 or 32 by CS.D, 66 switches, REX.W makes 64 (Vol 3 §1.2.2, Table 1-3).
	 * Address size: 64-bit mode 64 (67: 32), else by CS.D with 67 switching (Table 1-4). */
	in->opsize = mode == 16 ? 2 : 4;
	if (in->prefixes & INSN_P_OPSIZE)
		in->opsize = (uint8_t)(6 - in->opsize);
	if (in->rex & 8)
		in->opsize = 8;
	in->addrsize = (uint8_t)(mode / 8);
	if (in->prefixes & INSN_P_ADDRSIZE)
		in->addrsize = mode == 32 ? 2 : 4;
	rex_r = (in->rex & 4) ? 8 : 0;
	rex_x = (in->rex & 2) ? 8 : 0;
	rex_b = (in->rex & 1) ? 8 : 0;

	if (b == 0xc4 || b == 0xc5 || b == 0x62) {
		/* Outside 64-bit mode these are LES, LDS, BOUND unless ModRM.mod would be 11. */
		bool vex = mode == 64;
		if (!vex) {
			c->pos++;
			r = insn_peek(c, &next);
			c->pos--;
			if (r < 0)
				return r;
			vex = (next >> 6) == 3;
		}
		/* EVEX in 16-bit code: #UD in real mode, of no use to the guests nbvmm runs, and
		 * sized differently by the tools we check against: not sized. */
		if (vex && b == 0x62 && mode == 16)
			return INSN_INVALID;
		if (vex) {
			r = insn_vex(c, in, b);
			if (r < 0)
				return r;
			in->len = (uint8_t)c->pos;
			return 0;
		}
	}
	c->pos++;
	in->opcode = b;
	if (b == 0x0f) {
		r = insn_peek(c, &b);
		if (r < 0)
			return r;
		c->pos++;
		table = insn_0f;
		in->map = INSN_MAP_0F;
		in->opcode = b;
		if (b == 0x38 || b == 0x3a) {
			in->map = b == 0x38 ? INSN_MAP_0F38 : INSN_MAP_0F3A;
			r = insn_peek(c, &b);
			if (r < 0)
				return r;
			c->pos++;
			in->opcode = b;
		}
	}
	if (in->map == INSN_MAP_0F38)
		f = insn_in_ranges(insn_0f38_defined, sizeof(insn_0f38_defined) / 2, in->opcode)
			    ? F_M : F_BAD;
	else if (in->map == INSN_MAP_0F3A)
		f = insn_in_ranges(insn_0f3a_defined, sizeof(insn_0f3a_defined) / 2, in->opcode)
			    ? F_M | F_IB : F_BAD;
	else
		f = table[in->opcode];
	if ((f & F_BAD) || ((f & F_I64) && mode == 64))
		return INSN_INVALID;
	if ((f & F_D64) && mode == 64)
		in->opsize = ((in->prefixes & INSN_P_OPSIZE) && !(in->rex & 8)) ? 2 : 8;

	if (f & F_M) {
		uint64_t m;
		r = insn_take(c, 1, &m);
		if (r < 0)
			return r;
		in->has_modrm = true;
		in->modrm = (uint8_t)m;
		in->mod = (uint8_t)(m >> 6);
		in->reg = (uint8_t)(((m >> 3) & 7) | rex_r);
		in->rm = (uint8_t)((m & 7) | rex_b);
		/* MOV CR/DR ignore mod: always a register operand (Vol 3 "MOV CRn", "MOV DRn"). */
		if (in->mod != 3 &&
		    !(in->map == INSN_MAP_0F && in->opcode >= 0x20 && in->opcode <= 0x23)) {
			r = insn_modrm_mem(c, in, rex_x, rex_b);
			if (r < 0)
				return r;
		}
	}
	r = insn_immediates(c, in, f);
	if (r < 0)
		return r;
	if ((in->prefixes & INSN_P_LOCK) && !insn_lock_ok(in))
		return INSN_INVALID;
	if (in->map == INSN_MAP_PRIMARY)
		r = insn_classify_primary(in);
	else if (in->map == INSN_MAP_0F)
		r = insn_classify_0f(in);
	if (r < 0)
		return r;
	if (in->map == INSN_MAP_0F && in->opcode >= 0x20 && in->opcode <= 0x23)
		in->opsize = mode == 64 ? 8 : 4; /* control and debug registers move 64 / 32 bits */
	in->len = (uint8_t)c->pos;
	return 0;
}

int insn_decode(const uint8_t *code, unsigned avail, enum insn_cpu_mode mode, struct insn *in)
{
	struct insn_cursor c = { code, avail, 0 };
	int r = insn_decode_at(&c, mode, in);

	if (r < 0)
		in->len = 0;
	return r;
}

const char *insn_mnemonic_name(unsigned mnemonic)
{
	static const char *const names[] = {
#define INSN_MNEMONIC_NAME(name, text) text,
		INSN_MNEMONICS(INSN_MNEMONIC_NAME)
#undef INSN_MNEMONIC_NAME
	};

	return mnemonic < INSN_MNEMONIC_COUNT ? names[mnemonic] : "?";
}

unsigned insn_gpr8(const struct insn *in, unsigned n)
{
	return (!in->rex && n >= 4 && n < 8) ? n + 12 : n;
}
