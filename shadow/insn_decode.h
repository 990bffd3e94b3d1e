/*
 * x86 instruction decoder for the instructions nbvmm emulates.
 *
 * A guest that runs deprivileged traps on privileged and sensitive instructions (#GP, #UD), on
 * port I/O and on writes to its own page tables (#PF on a write-protected frame). To emulate
 * them nbvmm must know which instruction sits at the guest's RIP, how long it is (to step over
 * it) and what its operands are. This decoder names those instructions and sizes the other
 * instructions of the primary, 0F, 0F38 and 0F3A maps, VEX and EVEX ones included, as
 * INSN_OTHER. References: AMD64 Architecture Programmer's Manual Volume 3, chapter 1
 * "Instruction Encoding" and Appendix A "Opcode and Operand Encodings"; Intel SDM Volume 2,
 * chapter 2 and Appendix A.
 *
 * It reads only the bytes it is given; no libc, no globals (the opcode tables are const).
 */
#ifndef NESTBED_SHADOW_INSN_DECODE_H
#define NESTBED_SHADOW_INSN_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#define INSN_MAX_LEN 15 /* a longer instruction raises #GP (APM Vol 3 §1.1) */

/*
 * The instructions told apart: X(name, "text"). MOV is the plain move to or from r/m (88, 89,
 * 8A, 8B, C6 /0, C7 /0), the usual way a kernel writes a page-table entry.
 */
#define INSN_MNEMONICS(X)                                                                     \
	X(OTHER, "other") X(CLI, "cli") X(STI, "sti") X(HLT, "hlt")                          \
	X(IN, "in") X(OUT, "out") X(INS, "ins") X(OUTS, "outs")                              \
	X(MOV_FROM_CR, "mov from cr") X(MOV_TO_CR, "mov to cr")                              \
	X(MOV_FROM_DR, "mov from dr") X(MOV_TO_DR, "mov to dr")                              \
	X(LGDT, "lgdt") X(LIDT, "lidt") X(LTR, "ltr") X(LLDT, "lldt")                        \
	X(SGDT, "sgdt") X(SIDT, "sidt") X(SLDT, "sldt") X(STR, "str")                        \
	X(SMSW, "smsw") X(LMSW, "lmsw") X(RDMSR, "rdmsr") X(WRMSR, "wrmsr")                  \
	X(CPUID, "cpuid") X(INVLPG, "invlpg") X(SWAPGS, "swapgs") X(IRET, "iret")            \
	X(RET_FAR, "ret far") X(CALL_FAR, "call far") X(JMP_FAR, "jmp far")                  \
	X(MOV_TO_SREG, "mov to sreg") X(MOV_FROM_SREG, "mov from sreg")                      \
	X(POP_SREG, "pop sreg") X(PUSH_SREG, "push sreg") X(WBINVD, "wbinvd")                \
	X(INVD, "invd") X(SYSCALL, "syscall") X(SYSRET, "sysret") X(INT, "int")              \
	X(INT3, "int3") X(INTO, "into") X(INT1, "int1") X(PUSHF, "pushf") X(POPF, "popf")   \
	X(LAR, "lar") X(LSL, "lsl") X(VERR, "verr") X(VERW, "verw") X(RDTSC, "rdtsc")        \
	X(RDTSCP, "rdtscp") X(CLTS, "clts") X(VMRUN, "vmrun") X(VMLOAD, "vmload")            \
	X(VMSAVE, "vmsave") X(VMMCALL, "vmmcall") X(STGI, "stgi") X(CLGI, "clgi")            \
	X(INVLPGA, "invlpga") X(SKINIT, "skinit") X(UD2, "ud2") X(MOV, "mov")

enum insn_mnemonic {
#define INSN_MNEMONIC_ENUM(name, text) INSN_##name,
	INSN_MNEMONICS(INSN_MNEMONIC_ENUM)
#undef INSN_MNEMONIC_ENUM
	INSN_MNEMONIC_COUNT
};

/* Code-segment size the bytes are decoded for, in bits: CS.L=1 (64), else CS.D (32 or 16). */
enum insn_cpu_mode {
	INSN_MODE_16 = 16,
	INSN_MODE_32 = 32,
	INSN_MODE_64 = 64,
};

/* Opcode maps (APM Vol 3 Appendix A.1, A.2). VEX and EVEX instructions keep the map they name. */
enum insn_map {
	INSN_MAP_PRIMARY = 0,
	INSN_MAP_0F = 1,
	INSN_MAP_0F38 = 2,
	INSN_MAP_0F3A = 3,
};

/* Prefix bits (APM Vol 3 §1.2). Of F2 and F3 the last one counts, as of segment overrides. */
#define INSN_P_LOCK 0x01     /* F0 */
#define INSN_P_REPNE 0x02    /* F2 */
#define INSN_P_REP 0x04      /* F3 */
#define INSN_P_OPSIZE 0x08   /* 66 */
#define INSN_P_ADDRSIZE 0x10 /* 67 */
#define INSN_P_VEX 0x20      /* VEX (C4, C5) or EVEX (62) encoded */

/* Segment registers in the order of their encoding (the Sreg field, APM Vol 3 §1.4.2). */
enum insn_seg {
	INSN_SEG_ES = 0,
	INSN_SEG_CS = 1,
	INSN_SEG_SS = 2,
	INSN_SEG_DS = 3,
	INSN_SEG_FS = 4,
	INSN_SEG_GS = 5,
	INSN_SEG_NONE = 7,
};

/*
 * General-purpose registers by encoding: 0 rAX, 1 rCX, 2 rDX, 3 rBX, 4 rSP, 5 rBP, 6 rSI, 7 rDI,
 * 8-15 r8-r15. With 1-byte operands and no REX prefix, 4-7 mean AH, CH, DH, BH (insn_gpr8).
 */
#define INSN_REG_NONE (-1)
#define INSN_REG_RIP 16 /* base of a RIP-relative memory operand */

/* A memory operand: seg:[base + index * scale + disp], truncated to the address size. */
struct insn_mem {
	int8_t base;   /* register number, INSN_REG_RIP or INSN_REG_NONE */
	int8_t index;  /* register number or INSN_REG_NONE */
	uint8_t scale; /* 1, 2, 4 or 8 */
	uint8_t seg;   /* segment used (enum insn_seg): the override, else SS for an rBP or rSP
			* base, else DS */
	int64_t disp;  /* sign-extended displacement, 0 if none */
};

struct insn {
	uint8_t len;       /* bytes, prefixes included */
	uint8_t mode;      /* enum insn_cpu_mode decoded for */
	uint16_t mnemonic; /* enum insn_mnemonic */
	uint8_t map;       /* enum insn_map */
	uint8_t opcode;    /* opcode byte within its map */
	uint8_t opsize;    /* operand size in bytes: 1, 2, 4 or 8 */
	uint8_t addrsize;  /* address size in bytes: 2, 4 or 8 */
	uint8_t prefixes;  /* INSN_P_* */
	uint8_t seg;       /* segment override prefix (enum insn_seg), INSN_SEG_NONE if none */
	uint8_t rex;       /* the REX prefix in effect (64-bit mode), 0 if none */
	bool has_modrm;
	uint8_t modrm;
	uint8_t mod;       /* ModRM.mod */
	uint8_t reg;       /* ModRM.reg + 8 * REX.R: a register, or an opcode extension (reg & 7);
			    * for MOV CR/DR the control or debug register (LOCK MOV CR0: CR8) */
	uint8_t rm;        /* ModRM.rm + 8 * REX.B: the register operand when has_mem is false
			    * (MOV CR/DR ignore mod and always have one) */
	bool has_mem;      /* the r/m operand is memory, described by mem */
	struct insn_mem mem;
	uint8_t imm_size;  /* bytes of the immediate (the offset of a far pointer), 0 if none */
	uint64_t imm;      /* sign-extended to 64 bits where the instruction sign-extends it,
			    * else zero-extended (an I/O port, an interrupt vector...) */
	uint16_t imm2;     /* ENTER's nesting level, or the selector of a far pointer */
	uint8_t sreg;      /* MOV/PUSH/POP Sreg: the segment register (enum insn_seg) */
};

/* Return values of insn_decode besides 0. */
#define INSN_INVALID (-1)   /* not a valid instruction: #UD (or one this decoder cannot size) */
#define INSN_TRUNCATED (-2) /* the bytes end inside the instruction: fetch more and retry */

/*
 * Decodes the instruction at code[0 .. avail) for a code segment of `mode`. Returns 0 with *in
 * filled, or INSN_INVALID / INSN_TRUNCATED with in->len = 0.
 */
int insn_decode(const uint8_t *code, unsigned avail, enum insn_cpu_mode mode, struct insn *in);

/* Text of a mnemonic ("mov to cr"), "?" when out of range. */
const char *insn_mnemonic_name(unsigned mnemonic);

/* A 1-byte register operand n as 0-15, or 16-19 for AH, CH, DH, BH (n = 4-7 without REX). */
unsigned insn_gpr8(const struct insn *in, unsigned n);

#endif
