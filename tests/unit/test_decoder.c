/*
 * insn_decode: hand-picked encodings of every instruction nbvmm emulates, in 64-, 32- and
 * 16-bit code, with the operands it must report, plus truncated and invalid input.
 * (test_decoder_capstone cross-checks lengths and operands on millions of encodings.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shadow/insn_decode.h"

/* Decodes the bytes given as a string literal and checks length and operation. */
#define DECODE(mode, bytes, want_len, want_op) decode_ok(mode, (const uint8_t *)(bytes), \
							 sizeof(bytes) - 1, want_len, INSN_##want_op)

static struct insn decode_ok(unsigned mode, const uint8_t *b, unsigned n, int want_len,
			     unsigned want_op)
{
	struct insn in;
	int r = insn_decode(b, n, mode, &in);

	if (r != 0 || in.len != want_len || in.mnemonic != want_op) {
		char hex[64] = "";
		unsigned i;
		for (i = 0; i < n && i < 16; i++)
			snprintf(hex + 3 * i, 4, "%02x ", b[i]);
		fail_msg("%u-bit %s: expected length %d %s, got result %d length %d %s", mode, hex,
			 want_len, insn_mnemonic_name(want_op), r, in.len,
			 insn_mnemonic_name(in.mnemonic));
	}
	assert_int_equal(in.len, want_len);
	return in;
}

static void decode_fails(unsigned mode, const char *bytes, unsigned n, int want)
{
	struct insn in;

	assert_int_equal(insn_decode((const uint8_t *)bytes, n, mode, &in), want);
	assert_int_equal(in.len, 0);
}

static void test_decode_control_register_moves(void **state)
{
	struct insn in;

	(void)state;
	in = DECODE(64, "\x0f\x22\xd8", 3, MOV_TO_CR); /* mov cr3, rax */
	assert_int_equal(in.reg, 3);
	assert_int_equal(in.rm, 0);
	assert_int_equal(in.opsize, 8);
	in = DECODE(64, "\x44\x0f\x20\xc7", 4, MOV_FROM_CR); /* mov rdi, cr8 */
	assert_int_equal(in.reg, 8);
	assert_int_equal(in.rm, 7);
	in = DECODE(64, "\x41\x0f\x22\xe4", 4, MOV_TO_CR); /* mov cr4, r12 */
	assert_int_equal(in.reg, 4);
	assert_int_equal(in.rm, 12);
	in = DECODE(32, "\xf0\x0f\x20\xc0", 4, MOV_FROM_CR); /* AMD: lock mov eax, cr0 = cr8 */
	assert_int_equal(in.reg, 8);
	assert_int_equal(in.opsize, 4);
	/* mod is ignored: still a register operand, no displacement follows. */
	in = DECODE(32, "\x0f\x20\x03", 3, MOV_FROM_CR);
	assert_int_equal(in.rm, 3);
	assert_false(in.has_mem);
	in = DECODE(64, "\x0f\x23\xf9", 3, MOV_TO_DR); /* mov dr7, rcx */
	assert_int_equal(in.reg, 7);
	assert_int_equal(in.rm, 1);
	in = DECODE(16, "\x0f\x21\xf0", 3, MOV_FROM_DR); /* mov eax, dr6 */
	assert_int_equal(in.reg, 6);
	decode_fails(64, "\x0f\x22\xc8", 3, INSN_INVALID);     /* cr1 */
	decode_fails(64, "\x0f\x20\xe8", 3, INSN_INVALID);     /* cr5 */
	decode_fails(64, "\x44\x0f\x20\xc8", 4, INSN_INVALID); /* cr9 */
	decode_fails(64, "\x44\x0f\x21\xc0", 4, INSN_INVALID); /* dr8 */
	decode_fails(64, "\xf0\x0f\x22\xd8", 4, INSN_INVALID); /* lock mov cr3 */
}

static void test_decode_descriptor_table_instructions(void **state)
{
	struct insn in;

	(void)state;
	in = DECODE(64, "\x0f\x01\x15\x10\x00\x00\x00", 7, LGDT); /* lgdt [rip+0x10] */
	assert_true(in.has_mem);
	assert_int_equal(in.mem.base, INSN_REG_RIP);
	assert_int_equal(in.mem.disp, 0x10);
	in = DECODE(32, "\x0f\x01\x5c\x24\xfc", 5, LIDT); /* lidt [esp-4] */
	assert_int_equal(in.mem.base, 4);
	assert_int_equal(in.mem.index, INSN_REG_NONE);
	assert_int_equal(in.mem.disp, -4);
	assert_int_equal(in.mem.seg, INSN_SEG_SS);
	DECODE(64, "\x0f\x01\x07", 3, SGDT);
	DECODE(64, "\x0f\x01\x0f", 3, SIDT);
	in = DECODE(64, "\x0f\x01\x3f", 3, INVLPG); /* invlpg [rdi] */
	assert_int_equal(in.mem.base, 7);
	in = DECODE(64, "\x0f\x00\xd8", 3, LTR); /* ltr ax */
	assert_int_equal(in.rm, 0);
	DECODE(64, "\x0f\x00\x10", 3, LLDT);
	in = DECODE(64, "\x0f\x00\xc8", 3, STR); /* str eax */
	assert_int_equal(in.opsize, 4);
	in = DECODE(64, "\x0f\x00\x00", 3, SLDT); /* sldt [rax]: 16 bits */
	assert_int_equal(in.opsize, 2);
	DECODE(64, "\x0f\x00\xe0", 3, VERR);
	DECODE(64, "\x0f\x00\x28", 3, VERW);
	in = DECODE(64, "\x48\x0f\x01\xe0", 4, SMSW); /* smsw rax */
	assert_int_equal(in.opsize, 8);
	in = DECODE(64, "\x0f\x01\xf3", 3, LMSW); /* lmsw bx */
	assert_int_equal(in.rm, 3);
	DECODE(64, "\x0f\x01\x30", 3, LMSW);
	in = DECODE(64, "\x0f\x02\xc1", 3, LAR);
	assert_int_equal(in.reg, 0);
	assert_int_equal(in.rm, 1);
	DECODE(64, "\x48\x0f\x03\x07", 4, LSL);
	decode_fails(64, "\x0f\x00\xf0", 3, INSN_INVALID); /* group 6 /6 */
}

static void test_decode_svm_and_system_instructions(void **state)
{
	(void)state;
	DECODE(64, "\x0f\x01\xd8", 3, VMRUN);
	DECODE(64, "\x0f\x01\xd9", 3, VMMCALL);
	DECODE(64, "\x0f\x01\xda", 3, VMLOAD);
	DECODE(64, "\x0f\x01\xdb", 3, VMSAVE);
	DECODE(64, "\x0f\x01\xdc", 3, STGI);
	DECODE(64, "\x0f\x01\xdd", 3, CLGI);
	DECODE(32, "\x0f\x01\xde", 3, SKINIT);
	DECODE(64, "\x67\x0f\x01\xdf", 4, INVLPGA);
	DECODE(64, "\x0f\x01\xf8", 3, SWAPGS);
	decode_fails(32, "\x0f\x01\xf8", 3, INSN_INVALID);
	DECODE(64, "\x0f\x01\xf9", 3, RDTSCP);
	DECODE(64, "\x0f\x01\xd0", 3, OTHER); /* xgetbv */
	DECODE(64, "\x0f\x31", 2, RDTSC);
	DECODE(64, "\x0f\x32", 2, RDMSR);
	DECODE(64, "\x0f\x30", 2, WRMSR);
	DECODE(64, "\x0f\xa2", 2, CPUID);
	DECODE(64, "\x0f\x06", 2, CLTS);
	DECODE(64, "\x0f\x08", 2, INVD);
	DECODE(64, "\x0f\x09", 2, WBINVD);
	DECODE(64, "\x0f\x0b", 2, UD2);
	DECODE(64, "\x0f\x05", 2, SYSCALL);
	assert_int_equal(DECODE(64, "\x48\x0f\x07", 3, SYSRET).opsize, 8);
	assert_int_equal(DECODE(64, "\x0f\x07", 2, SYSRET).opsize, 4);
	DECODE(32, "\xfa", 1, CLI);
	DECODE(32, "\xfb", 1, STI);
	DECODE(16, "\xf4", 1, HLT);
}

static void test_decode_port_io(void **state)
{
	struct insn in;

	(void)state;
	in = DECODE(64, "\xe4\x60", 2, IN);
	assert_int_equal(in.imm, 0x60);
	assert_int_equal(in.opsize, 1);
	in = DECODE(64, "\x66\xe7\x80", 3, OUT);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(in.imm, 0x80);
	in = DECODE(64, "\x48\xed", 2, IN); /* REX.W does not make it 64-bit */
	assert_int_equal(in.opsize, 4);
	in = DECODE(16, "\xef", 1, OUT);
	assert_int_equal(in.opsize, 2);
	in = DECODE(64, "\xf3\x6e", 2, OUTS);
	assert_true(in.prefixes & INSN_P_REP);
	assert_int_equal(in.opsize, 1);
	in = DECODE(64, "\x64\xf3\x67\x6f", 4, OUTS);
	assert_int_equal(in.seg, INSN_SEG_FS);
	assert_int_equal(in.addrsize, 4);
	assert_int_equal(in.opsize, 4);
	in = DECODE(32, "\x66\xf3\x6d", 3, INS);
	assert_int_equal(in.opsize, 2);
}

static void test_decode_interrupts_and_far_transfers(void **state)
{
	struct insn in;

	(void)state;
	in = DECODE(64, "\xcd\x80", 2, INT);
	assert_int_equal(in.imm, 0x80);
	DECODE(64, "\xcc", 1, INT3);
	DECODE(64, "\xf1", 1, INT1);
	DECODE(32, "\xce", 1, INTO);
	decode_fails(64, "\xce", 1, INSN_INVALID);
	assert_int_equal(DECODE(64, "\x48\xcf", 2, IRET).opsize, 8);
	assert_int_equal(DECODE(64, "\xcf", 1, IRET).opsize, 4);
	assert_int_equal(DECODE(32, "\x66\xcf", 2, IRET).opsize, 2);
	DECODE(64, "\xcb", 1, RET_FAR);
	in = DECODE(64, "\x48\xca\x08\x00", 4, RET_FAR);
	assert_int_equal(in.imm, 8);
	assert_int_equal(in.opsize, 8);
	in = DECODE(32, "\xea\x78\x56\x34\x12\x08\x00", 7, JMP_FAR);
	assert_int_equal(in.imm, 0x12345678);
	assert_int_equal(in.imm2, 8);
	in = DECODE(16, "\x9a\x34\x12\x10\x00", 5, CALL_FAR);
	assert_int_equal(in.imm, 0x1234);
	assert_int_equal(in.imm2, 0x10);
	decode_fails(64, "\xea\x78\x56\x34\x12\x08\x00", 7, INSN_INVALID);
	in = DECODE(64, "\xff\x2d\x00\x01\x00\x00", 6, JMP_FAR); /* jmp far [rip+0x100] */
	assert_int_equal(in.mem.base, INSN_REG_RIP);
	DECODE(64, "\x48\xff\x1c\x24", 4, CALL_FAR); /* call far [rsp] (m16:64) */
	decode_fails(64, "\xff\xe8", 2, INSN_INVALID);     /* jmp far needs memory */
	in = DECODE(64, "\x9c", 1, PUSHF);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(DECODE(64, "\x66\x9d", 2, POPF).opsize, 2);
	assert_int_equal(DECODE(32, "\x9d", 1, POPF).opsize, 4);
}

static void test_decode_segment_registers(void **state)
{
	struct insn in;

	(void)state;
	in = DECODE(64, "\x8e\xd8", 2, MOV_TO_SREG); /* mov ds, ax */
	assert_int_equal(in.sreg, INSN_SEG_DS);
	assert_int_equal(in.rm, 0);
	assert_int_equal(in.opsize, 2);
	in = DECODE(64, "\x8c\xc8", 2, MOV_FROM_SREG); /* mov eax, cs */
	assert_int_equal(in.sreg, INSN_SEG_CS);
	in = DECODE(16, "\x8c\x1e\x34\x12", 4, MOV_FROM_SREG); /* mov [0x1234], ds */
	assert_int_equal(in.mem.disp, 0x1234);
	assert_int_equal(in.mem.base, INSN_REG_NONE);
	decode_fails(64, "\x8e\xc8", 2, INSN_INVALID); /* mov cs, ax */
	decode_fails(64, "\x8e\xf0", 2, INSN_INVALID); /* Sreg 6 */
	assert_int_equal(DECODE(32, "\x1f", 1, POP_SREG).sreg, INSN_SEG_DS);
	assert_int_equal(DECODE(32, "\x07", 1, POP_SREG).sreg, INSN_SEG_ES);
	assert_int_equal(DECODE(16, "\x0e", 1, PUSH_SREG).sreg, INSN_SEG_CS);
	assert_int_equal(DECODE(64, "\x0f\xa1", 2, POP_SREG).sreg, INSN_SEG_FS);
	in = DECODE(64, "\x0f\xa8", 2, PUSH_SREG);
	assert_int_equal(in.sreg, INSN_SEG_GS);
	assert_int_equal(in.opsize, 8);
	decode_fails(64, "\x1f", 1, INSN_INVALID);
}

static void test_decode_page_table_writes(void **state)
{
	struct insn in;

	(void)state;
	in = DECODE(64, "\x48\x89\x04\x24", 4, MOV); /* mov [rsp], rax */
	assert_int_equal(in.reg, 0);
	assert_int_equal(in.mem.base, 4);
	assert_int_equal(in.opsize, 8);
	in = DECODE(64, "\x4c\x89\x44\x8f\x08", 5, MOV); /* mov [rdi+rcx*4+8], r8 */
	assert_int_equal(in.reg, 8);
	assert_int_equal(in.mem.base, 7);
	assert_int_equal(in.mem.index, 1);
	assert_int_equal(in.mem.scale, 4);
	assert_int_equal(in.mem.disp, 8);
	in = DECODE(64, "\x43\x89\x04\xe5\x00\x10\x00\x00", 8, MOV); /* [r12*8+0x1000] */
	assert_int_equal(in.mem.base, INSN_REG_NONE);
	assert_int_equal(in.mem.index, 12);
	assert_int_equal(in.mem.scale, 8);
	assert_int_equal(in.mem.disp, 0x1000);
	in = DECODE(64, "\x41\x89\x45\x00", 4, MOV); /* [r13+0]: r13 needs a disp8 */
	assert_int_equal(in.mem.base, 13);
	assert_int_equal(in.mem.seg, INSN_SEG_DS);
	in = DECODE(64, "\x48\xc7\x07\xff\xff\xff\xff", 7, MOV); /* mov qword [rdi], -1 */
	assert_int_equal(in.imm, ~0ull);
	assert_int_equal(in.opsize, 8);
	in = DECODE(64, "\xc6\x00\xab", 3, MOV);
	assert_int_equal(in.opsize, 1);
	assert_int_equal(in.imm, 0xab);
	in = DECODE(16, "\x89\x47\x04", 3, MOV); /* mov [bx+4], ax */
	assert_int_equal(in.mem.base, 3);
	assert_int_equal(in.mem.index, INSN_REG_NONE);
	assert_int_equal(in.opsize, 2);
	in = DECODE(16, "\x66\x89\x02", 3, MOV); /* mov [bp+si], eax */
	assert_int_equal(in.mem.base, 5);
	assert_int_equal(in.mem.index, 6);
	assert_int_equal(in.mem.seg, INSN_SEG_SS);
	assert_int_equal(in.opsize, 4);
	in = DECODE(32, "\x67\x89\x06\x34\x12", 5, MOV); /* 16-bit address [0x1234] */
	assert_int_equal(in.addrsize, 2);
	assert_int_equal(in.mem.base, INSN_REG_NONE);
	in = DECODE(64, "\x8a\xe0", 2, MOV); /* mov ah, al */
	assert_int_equal(insn_gpr8(&in, (unsigned)in.reg), 16);
	in = DECODE(64, "\x40\x8a\xe0", 3, MOV); /* mov spl, al */
	assert_int_equal(insn_gpr8(&in, (unsigned)in.reg), 4);
	/* The locked updates kernels also use on page-table entries: sized, with their operands. */
	in = DECODE(64, "\xf0\x48\x0f\xb1\x17", 5, OTHER); /* lock cmpxchg [rdi], rdx */
	assert_true(in.prefixes & INSN_P_LOCK);
	assert_true(in.has_mem);
	assert_int_equal(in.reg, 2);
	assert_int_equal(in.opsize, 8);
	in = DECODE(64, "\xf0\x48\x83\x27\xfe", 5, OTHER); /* lock and qword [rdi], -2 */
	assert_int_equal(in.reg & 7, 4);
	assert_int_equal(in.imm, (uint64_t)-2);
	DECODE(64, "\xf0\x48\x87\x07", 4, OTHER); /* lock xchg [rdi], rax */
	/* LOCK needs a read-modify-write instruction with a memory destination. */
	decode_fails(64, "\xf0\x48\x87\xc7", 4, INSN_INVALID);
	decode_fails(64, "\xf0\x48\x89\x07", 4, INSN_INVALID);
	decode_fails(64, "\xf0\x48\x83\x3f\x01", 5, INSN_INVALID); /* lock cmp */
}

static void test_decode_prefix_rules(void **state)
{
	struct insn in;

	(void)state;
	/* A REX prefix counts only right before the opcode. */
	in = DECODE(64, "\x48\x66\x89\xc0", 4, MOV);
	assert_int_equal(in.rex, 0);
	assert_int_equal(in.opsize, 2);
	in = DECODE(64, "\x66\x48\x89\xc0", 4, MOV);
	assert_int_equal(in.opsize, 8);
	/* 40-4F are INC/DEC outside 64-bit mode. */
	DECODE(32, "\x48", 1, OTHER);
	/* 66 makes iz 16 bits; 67 changes the address size, not the immediate. */
	assert_int_equal(DECODE(64, "\x66\xc7\x00\x34\x12", 5, MOV).imm_size, 2);
	DECODE(64, "\x67\xc7\x00\x78\x56\x34\x12", 7, MOV);
	/* moffs is address-size wide: 8 bytes in 64-bit mode. */
	DECODE(64, "\xa1\x00\x00\x00\x00\x00\x00\x00\x00", 9, OTHER);
	DECODE(64, "\x67\xa1\x00\x00\x00\x00", 6, OTHER);
	DECODE(64, "\x48\xb8\x01\x02\x03\x04\x05\x06\x07\x08", 10, OTHER); /* mov rax, imm64 */
	DECODE(64, "\xc8\x10\x00\x01", 4, OTHER);                          /* enter 16, 1 */
	DECODE(64, "\xc5\xf8\x77", 3, OTHER);                              /* vzeroupper */
	DECODE(64, "\xc4\xe3\x79\x0f\xc1\x08", 6, OTHER);                  /* vpalignr */
	DECODE(32, "\xc5\x00", 2, OTHER);                                  /* lds (mod != 11) */
	/* Up to 15 bytes; 14 prefixes and a one-byte opcode are fine, 15 are not. */
	DECODE(64, "\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x90", 15, OTHER);
	decode_fails(64, "\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x90", 16,
		     INSN_INVALID);
}

static void test_decode_truncated_and_invalid_input(void **state)
{
	(void)state;
	decode_fails(64, "", 0, INSN_TRUNCATED);
	decode_fails(64, "\x66", 1, INSN_TRUNCATED);
	decode_fails(64, "\x0f", 1, INSN_TRUNCATED);
	decode_fails(64, "\x0f\x01", 2, INSN_TRUNCATED);
	decode_fails(64, "\x48\x8b\x04", 3, INSN_TRUNCATED);          /* SIB missing */
	decode_fails(64, "\xc7\x04\x25\x00\x10", 5, INSN_TRUNCATED); /* disp and imm missing */
	decode_fails(64, "\xcd", 1, INSN_TRUNCATED);
	decode_fails(64, "\x0f\x04", 2, INSN_INVALID);
	decode_fails(64, "\x06", 1, INSN_INVALID); /* push es */
	decode_fails(64, "\xff\xff", 2, INSN_INVALID);
	decode_fails(64, "\x8f\xc8\x00\x00\x00", 5, INSN_INVALID); /* XOP: not sized here */
	decode_fails(64, "\x66\xc5\xf8\x77", 4, INSN_INVALID);    /* 66 before VEX */
	decode_fails(64, "\x8d\xc0", 2, INSN_INVALID);            /* lea of a register */
	decode_fails(0, "\x90", 1, INSN_INVALID);                 /* bad mode */
	assert_string_equal(insn_mnemonic_name(INSN_MOV_TO_CR), "mov to cr");
	assert_string_equal(insn_mnemonic_name(INSN_MNEMONIC_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_control_register_moves),
		cmocka_unit_test(test_decode_descriptor_table_instructions),
		cmocka_unit_test(test_decode_svm_and_system_instructions),
		cmocka_unit_test(test_decode_port_io),
		cmocka_unit_test(test_decode_interrupts_and_far_transfers),
		cmocka_unit_test(test_decode_segment_registers),
		cmocka_unit_test(test_decode_page_table_writes),
		cmocka_unit_test(test_decode_prefix_rules),
		cmocka_unit_test(test_decode_truncated_and_invalid_input),
	};

	return cmocka_run_group_tests_name("shadow: instruction decoder", tests, NULL, NULL);
}
