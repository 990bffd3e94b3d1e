/*
 * What L0 says when a guest stops abnormally: the exit reason, where the vCPU was, the
 * instruction there decoded by capstone in the vCPU's current mode, and the registers.
 */
#include <capstone/capstone.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "l0/crash_report.h"

struct report_buf {
	char *p;
	size_t left;
};

static void put(struct report_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct report_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->left <= 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p, b->left, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->left)
		n = (int)b->left - 1;
	b->p += n;
	b->left -= n;
}

static cs_mode mode_of(const struct kvm_sregs *s)
{
	if (s->cs.l && (s->efer & 0x400))
		return CS_MODE_64;
	return s->cs.db ? CS_MODE_32 : CS_MODE_16;
}

int nb_describe_insn(const uint8_t *bytes, size_t len, uint64_t addr, int mode_bits, char *out, size_t outlen)
{
	cs_mode mode = mode_bits == 64 ? CS_MODE_64 : mode_bits == 32 ? CS_MODE_32 : CS_MODE_16;
	csh h;
	cs_insn *insn;
	size_t n;
	int used = 0;

	if (len == 0 || cs_open(CS_ARCH_X86, mode, &h) != CS_ERR_OK) {
		snprintf(out, outlen, "(no instruction bytes)");
		return 0;
	}
	n = cs_disasm(h, bytes, len, addr, 1, &insn);
	if (n == 1) {
		snprintf(out, outlen, "%s %s", insn->mnemonic, insn->op_str);
		used = insn->size;
		cs_free(insn, n);
	} else {
		snprintf(out, outlen, "(bytes do not decode as an x86 instruction)");
	}
	cs_close(&h);
	return used;
}

void nb_crash_report(struct nb_kvm *k, const char *why, struct nb_trace_record *rec, char *out, size_t outlen)
{
	struct report_buf b = {out, outlen};
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t bytes[16];
	size_t n = 0, i;
	char text[160];
	int have_regs = ioctl(k->vcpu_fd, KVM_GET_REGS, &r) == 0;
	int have_sregs = nb_kvm_get_sregs(k, &s) == 0;
	int bits = 64;

	put(&b, "%s\n", why);
	if (!have_regs || !have_sregs) {
		put(&b, "  (registers unavailable)\n");
		return;
	}
	bits = mode_of(&s) == CS_MODE_64 ? 64 : mode_of(&s) == CS_MODE_32 ? 32 : 16;
	n = nb_kvm_read_linear(k, s.cs.base + r.rip, bytes, sizeof(bytes));
	put(&b, "  RIP %04x:%016llx (%d-bit mode, CPL %d)", s.cs.selector, (unsigned long long)r.rip, bits,
	    s.cs.selector & 3);
	if (n) {
		int used = nb_describe_insn(bytes, n, r.rip, bits, text, sizeof(text));

		put(&b, ": %s   [", text);
		for (i = 0; i < (used ? (size_t)used : n); i++)
			put(&b, "%s%02x", i ? " " : "", bytes[i]);
		put(&b, "]\n");
		if (rec) {
			rec->insn_len = (uint8_t)(used ? used : (int)n);
			memcpy(rec->insn, bytes, rec->insn_len);
		}
	} else {
		put(&b, ": (RIP is not mapped to guest memory)\n");
	}
	if (rec)
		rec->rip = r.rip;
	put(&b, "  RAX %016llx RBX %016llx RCX %016llx RDX %016llx\n", r.rax, r.rbx, r.rcx, r.rdx);
	put(&b, "  RSI %016llx RDI %016llx RBP %016llx RSP %016llx\n", r.rsi, r.rdi, r.rbp, r.rsp);
	put(&b, "  R8  %016llx R9  %016llx R10 %016llx R11 %016llx\n", r.r8, r.r9, r.r10, r.r11);
	put(&b, "  R12 %016llx R13 %016llx R14 %016llx R15 %016llx\n", r.r12, r.r13, r.r14, r.r15);
	put(&b, "  RFLAGS %016llx CR0 %016llx CR2 %016llx CR3 %016llx CR4 %016llx EFER %016llx\n",
	    r.rflags, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	put(&b, "  CS %04x SS %04x DS %04x GDT %016llx/%04x IDT %016llx/%04x TR %04x\n", s.cs.selector,
	    s.ss.selector, s.ds.selector, s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit, s.tr.selector);
}
