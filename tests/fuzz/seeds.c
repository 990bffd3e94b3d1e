/*
 * Writes the seed corpus of every harness, deterministically: tests/fuzz/seeds DIR writes
 * DIR/<harness>/seed-<name> (tools/fuzz --seeds writes them into tests/fuzz/corpus). Each seed is
 * an input in the harness's own format, built to reach its interesting paths from the start:
 * the decoder's tests' encodings, page tables in every mode, a VMCB that passes the checks, small
 * valid ELF64, ELF32-Multiboot and a.out-kludge kernels, a valid boot info, honest and hostile
 * ring traffic, Tcl machine descriptions; and, for the shadow page tables, the byte streams of
 * the property tests' own random generator. make check verifies that the committed corpus holds
 * them unchanged.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nestbed/boot.h"
#include "shadow/gpt_walk.h"
#include "shadow/svm_exit.h"
#include "shadow/svm_nested.h"
#include "shadow/vmcb.h"
#include "tracer/trace_format.h"

static const char *outdir;

/* An input under construction. */
struct seed {
	uint8_t b[16384];
	size_t n;
};

static void put(struct seed *s, const void *p, size_t len)
{
	if (s->n + len > sizeof(s->b)) {
		fprintf(stderr, "seeds: a seed outgrew %zu bytes\n", sizeof(s->b));
		exit(1);
	}
	memcpy(s->b + s->n, p, len);
	s->n += len;
}

static void put_u8(struct seed *s, uint8_t v)
{
	put(s, &v, 1);
}

static void put_u16(struct seed *s, uint16_t v)
{
	put(s, &v, 2);
}

static void put_u32(struct seed *s, uint32_t v)
{
	put(s, &v, 4);
}

static void put_u64(struct seed *s, uint64_t v)
{
	put(s, &v, 8);
}

static void write_seed(const char *harness, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static struct seed cur;

/* Writes `cur` as DIR/harness/seed-NAME and starts a new one. */
static void write_seed(const char *harness, const char *fmt, ...)
{
	char name[128], path[4096];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", outdir, harness);
	if (mkdir(path, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, harness, name);
	f = fopen(path, "wb");
	if (!f || fwrite(cur.b, 1, cur.n, f) != cur.n || fclose(f) != 0) {
		fprintf(stderr, "seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	cur.n = 0;
}

/* ---- insn_decode: the decoder tests' encodings, in their modes ---------------------------- */

static const struct {
	unsigned mode;
	const char *bytes;
	unsigned len;
} insns[] = {
	{ 64, "\x0f\x22\xd8", 3 },
	{ 64, "\x44\x0f\x20\xc7", 4 },
	{ 64, "\x41\x0f\x22\xe4", 4 },
	{ 32, "\xf0\x0f\x20\xc0", 4 },
	{ 32, "\x0f\x20\x03", 3 },
	{ 64, "\x0f\x23\xf9", 3 },
	{ 16, "\x0f\x21\xf0", 3 },
	{ 64, "\x0f\x01\x15\x10\x00\x00\x00", 7 },
	{ 32, "\x0f\x01\x5c\x24\xfc", 5 },
	{ 64, "\x0f\x01\x07", 3 },
	{ 64, "\x0f\x01\x0f", 3 },
	{ 64, "\x0f\x01\x3f", 3 },
	{ 64, "\x0f\x00\xd8", 3 },
	{ 64, "\x0f\x00\x10", 3 },
	{ 64, "\x0f\x00\xc8", 3 },
	{ 64, "\x0f\x00\x00", 3 },
	{ 64, "\x0f\x00\xe0", 3 },
	{ 64, "\x0f\x00\x28", 3 },
	{ 64, "\x48\x0f\x01\xe0", 4 },
	{ 64, "\x0f\x01\xf3", 3 },
	{ 64, "\x0f\x01\x30", 3 },
	{ 64, "\x0f\x02\xc1", 3 },
	{ 64, "\x48\x0f\x03\x07", 4 },
	{ 64, "\x0f\x01\xd8", 3 },
	{ 64, "\x0f\x01\xd9", 3 },
	{ 64, "\x0f\x01\xda", 3 },
	{ 64, "\x0f\x01\xdb", 3 },
	{ 64, "\x0f\x01\xdc", 3 },
	{ 64, "\x0f\x01\xdd", 3 },
	{ 32, "\x0f\x01\xde", 3 },
	{ 64, "\x67\x0f\x01\xdf", 4 },
	{ 64, "\x0f\x01\xf8", 3 },
	{ 64, "\x0f\x01\xf9", 3 },
	{ 64, "\x0f\x01\xd0", 3 },
	{ 64, "\x0f\x31", 2 },
	{ 64, "\x0f\x32", 2 },
	{ 64, "\x0f\x30", 2 },
	{ 64, "\x0f\xa2", 2 },
	{ 64, "\x0f\x06", 2 },
	{ 64, "\x0f\x08", 2 },
	{ 64, "\x0f\x09", 2 },
	{ 64, "\x0f\x0b", 2 },
	{ 64, "\x0f\x05", 2 },
	{ 64, "\x48\x0f\x07", 3 },
	{ 64, "\x0f\x07", 2 },
	{ 32, "\xfa", 1 },
	{ 32, "\xfb", 1 },
	{ 16, "\xf4", 1 },
	{ 64, "\xe4\x60", 2 },
	{ 64, "\x66\xe7\x80", 3 },
	{ 64, "\x48\xed", 2 },
	{ 16, "\xef", 1 },
	{ 64, "\xf3\x6e", 2 },
	{ 64, "\x64\xf3\x67\x6f", 4 },
	{ 32, "\x66\xf3\x6d", 3 },
	{ 64, "\xcd\x80", 2 },
	{ 64, "\xcc", 1 },
	{ 64, "\xf1", 1 },
	{ 32, "\xce", 1 },
	{ 64, "\x48\xcf", 2 },
	{ 64, "\xcf", 1 },
	{ 32, "\x66\xcf", 2 },
	{ 64, "\xcb", 1 },
	{ 64, "\x48\xca\x08\x00", 4 },
	{ 32, "\xea\x78\x56\x34\x12\x08\x00", 7 },
	{ 16, "\x9a\x34\x12\x10\x00", 5 },
	{ 64, "\xff\x2d\x00\x01\x00\x00", 6 },
	{ 64, "\x48\xff\x1c\x24", 4 },
	{ 64, "\x9c", 1 },
	{ 64, "\x66\x9d", 2 },
	{ 32, "\x9d", 1 },
	{ 64, "\x8e\xd8", 2 },
	{ 64, "\x8c\xc8", 2 },
	{ 16, "\x8c\x1e\x34\x12", 4 },
	{ 32, "\x1f", 1 },
	{ 32, "\x07", 1 },
	{ 16, "\x0e", 1 },
	{ 64, "\x0f\xa1", 2 },
	{ 64, "\x0f\xa8", 2 },
	{ 64, "\x48\x89\x04\x24", 4 },
	{ 64, "\x4c\x89\x44\x8f\x08", 5 },
	{ 64, "\x43\x89\x04\xe5\x00\x10\x00\x00", 8 },
	{ 64, "\x41\x89\x45\x00", 4 },
	{ 64, "\x48\xc7\x07\xff\xff\xff\xff", 7 },
	{ 64, "\xc6\x00\xab", 3 },
	{ 16, "\x89\x47\x04", 3 },
	{ 16, "\x66\x89\x02", 3 },
	{ 32, "\x67\x89\x06\x34\x12", 5 },
	{ 64, "\x8a\xe0", 2 },
	{ 64, "\x40\x8a\xe0", 3 },
	{ 64, "\xf0\x48\x0f\xb1\x17", 5 },
	{ 64, "\xf0\x48\x83\x27\xfe", 5 },
	{ 64, "\xf0\x48\x87\x07", 4 },
	{ 64, "\x48\x66\x89\xc0", 4 },
	{ 64, "\x66\x48\x89\xc0", 4 },
	{ 32, "\x48", 1 },
	{ 64, "\x66\xc7\x00\x34\x12", 5 },
	{ 64, "\x67\xc7\x00\x78\x56\x34\x12", 7 },
	{ 64, "\xa1\x00\x00\x00\x00\x00\x00\x00\x00", 9 },
	{ 64, "\x67\xa1\x00\x00\x00\x00", 6 },
	{ 64, "\x48\xb8\x01\x02\x03\x04\x05\x06\x07\x08", 10 },
	{ 64, "\xc8\x10\x00\x01", 4 },
	{ 64, "\xc5\xf8\x77", 3 },
	{ 64, "\xc4\xe3\x79\x0f\xc1\x08", 6 },
	{ 32, "\xc5\x00", 2 },
	{ 64, "\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x90", 15 },
};

static void seeds_insn_decode(void)
{
	size_t i;

	for (i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
		put_u8(&cur, insns[i].mode == 16 ? 0 : insns[i].mode == 32 ? 1 : 2);
		put(&cur, insns[i].bytes, insns[i].len);
		write_seed("insn_decode", "%03zu", i);
	}
}

/* ---- gpt_walk: a chain of tables in each mode, walks and nested walks --------------------- */

static void gw_store(uint64_t gpa, uint64_t v)
{
	put_u8(&cur, 0);
	put_u16(&cur, (uint16_t)(gpa / 4));
	put_u64(&cur, v);
}

static void gw_walk(uint64_t gva, uint8_t flags)
{
	put_u8(&cur, 1);
	put_u64(&cur, gva);
	put_u8(&cur, flags);
}

static void gw_mode(uint8_t f, uint64_t cr3)
{
	put_u8(&cur, f);
	put_u8(&cur, 8); /* MAXPHYADDR 40 */
	put_u64(&cur, cr3);
}

static void seeds_gpt_walk(void)
{
	static const uint8_t accesses[] = { 0, PF_EC_W, PF_EC_U, PF_EC_W | PF_EC_U, PF_EC_ID, 0x40 | PF_EC_W };
	const uint8_t wp = 4, pse = 8, nxe = 16;
	size_t i;

	/* Long mode: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000 -> frames 5-8; a 2 MiB page
	 * and a 1 GiB page; the last PT entry maps the PT itself. */
	gw_mode(GPT_PAGING_LONG | wp | nxe, 0x1000);
	gw_store(0x1000, 0x2000 | PTE_P | PTE_W | PTE_U);
	gw_store(0x2000, 0x3000 | PTE_P | PTE_W | PTE_U);
	gw_store(0x2008, 0x40000000 | PTE_P | PTE_W | PTE_PS);
	gw_store(0x3000, 0x4000 | PTE_P | PTE_W | PTE_U);
	gw_store(0x3008, 0x200000 | PTE_P | PTE_U | PTE_PS | PTE_NX);
	for (i = 0; i < 4; i++)
		gw_store(0x4000 + 8 * i, (0x5000 + 0x1000 * i) | PTE_P | (i & 1 ? PTE_W : 0) | PTE_U |
					  (i == 3 ? PTE_NX : 0));
	gw_store(0x4ff8, 0x4000 | PTE_P | PTE_W);
	for (i = 0; i < sizeof(accesses); i++) {
		gw_walk(0x1000 * (i % 4) + 0x123, accesses[i]);
		gw_walk(0x200456, accesses[i]);
		gw_walk(0x40000789, accesses[i]);
	}
	gw_walk(0x1ff000, PF_EC_W | 0x40);
	gw_walk(0x800000000000ull, 0); /* not canonical */
	/* The same tables as nested page tables. */
	put_u8(&cur, 2);
	put_u8(&cur, 1);
	put_u64(&cur, 0x1abc);
	put_u8(&cur, PF_EC_W);
	put_u8(&cur, 2);
	put_u8(&cur, 1);
	put_u64(&cur, 0x3000);
	put_u8(&cur, 0x80);
	write_seed("gpt_walk", "long");

	/* Legacy PAE: PDPT at 0x1000 (4 entries) -> PD 0x2000 -> PT 0x3000; a 2 MiB page. */
	gw_mode(GPT_PAGING_PAE | nxe, 0x1000);
	gw_store(0x1000, 0x2000 | PTE_P);
	gw_store(0x2000, 0x3000 | PTE_P | PTE_W | PTE_U);
	gw_store(0x2008, 0x400000 | PTE_P | PTE_W | PTE_PS);
	gw_store(0x3000, 0x6000 | PTE_P | PTE_W | PTE_U);
	gw_store(0x3008, 0x7000 | PTE_P | PTE_U | PTE_NX);
	for (i = 0; i < sizeof(accesses); i++) {
		gw_walk(0x123 + 0x1000 * (i % 2), accesses[i]);
		gw_walk(0x200abc, accesses[i]);
	}
	write_seed("gpt_walk", "pae");

	/* 32-bit paging with PSE: PD 0x1000 -> PT 0x2000; a 4 MiB page with PSE-40 high bits. */
	gw_mode(GPT_PAGING_32 | pse, 0x1000);
	gw_store(0x1000, (uint64_t)(0x400000 | PTE_P | PTE_PS | PTE_U) << 32 | (0x2000 | PTE_P | PTE_W | PTE_U));
	gw_store(0x2000, (uint64_t)(0x6000 | PTE_P | PTE_U) << 32 | (0x5000 | PTE_P | PTE_W | PTE_U));
	for (i = 0; i < sizeof(accesses); i++) {
		gw_walk(0x123 + 0x1000 * (i % 2), accesses[i]);
		gw_walk(0x400abc, accesses[i]);
	}
	write_seed("gpt_walk", "32bit");

	gw_mode(GPT_PAGING_NONE, 0);
	gw_walk(0x123456789ull, 0);
	write_seed("gpt_walk", "no-paging");
}

/* ---- spt: the property tests' own random streams ------------------------------------------ */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void seeds_spt(void)
{
	static const char *const modes[3] = { "long", "pae", "32bit" };
	unsigned m, k, i;

	for (m = 0; m < 3; m++) {
		for (k = 0; k < 3; k++) {
			uint64_t x = 0x5eed0000u + 16 * m + k;
			put_u8(&cur, (uint8_t)m);
			for (i = 0; i < 3000 / 8; i++)
				put_u64(&cur, splitmix(&x));
			write_seed("spt", "%s-%u", modes[m], k);
		}
	}
}

/* ---- svm_nested: a VMCB VMRUN accepts, its exits, and a few one-rule breakages ------------- */

static void svm_vmcb(unsigned breakage)
{
	struct vmcb own, v12, cur_state;
	static const struct {
		uint16_t code;
		uint64_t info1;
		uint32_t ecx;
	} exits[] = {
		{ SVM_EXIT_IOIO, (0x3f8ull << SVM_IOIO_PORT_SHIFT) | SVM_IOIO_SIZE8, 0 },
		{ SVM_EXIT_IOIO, (0xffffull << SVM_IOIO_PORT_SHIFT) | SVM_IOIO_SIZE32 | SVM_IOIO_TYPE_IN, 0 },
		{ SVM_EXIT_MSR, 0, 0xc0000080u },
		{ SVM_EXIT_MSR, 1, 0x10 },
		{ SVM_EXIT_MSR, 1, 0x40000000u },
		{ SVM_EXIT_CPUID, 0, 0 },
		{ SVM_EXIT_HLT, 0, 0 },
		{ SVM_EXIT_NPF, 0x100000006ull, 0 },
		{ 0xffff, 0, 0 }, /* VMEXIT_INVALID */
		{ 0x40 + 14, 2, 0 }, /* #PF */
		{ 0x10, 0, 0 },      /* CR0 write */
	};
	size_t i;

	memset(&own, 0, sizeof(own));
	memset(&v12, 0, sizeof(v12));
	memset(&cur_state, 0, sizeof(cur_state));
	own.control.intercept_exceptions = 1u << 14;
	own.control.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT | VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT |
				      VMCB_CTRL_INTERCEPT_MISC1_HLT | VMCB_CTRL_INTERCEPT_MISC1_INTR;
	own.control.intercept_misc2 = VMCB_CTRL_INTERCEPT_MISC2_VMRUN | VMCB_CTRL_INTERCEPT_MISC2_VMMCALL;
	own.control.asid = 1;
	own.control.tlb_ctl = VMCB_TLB_CONTROL_FLUSH_ASID;
	own.control.int_ctl = V_GIF_MASK;
	own.control.tsc_offset = 1000;

	v12.control.intercept_cr = 1u << 16;
	v12.control.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT | VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT |
				      VMCB_CTRL_INTERCEPT_MISC1_CPUID | VMCB_CTRL_INTERCEPT_MISC1_PAUSE;
	v12.control.intercept_misc2 = VMCB_CTRL_INTERCEPT_MISC2_VMRUN;
	v12.control.iopm_base_pa = 0x4000;
	v12.control.msrpm_base_pa = 0x8000;
	v12.control.pause_filter_count = 100;
	v12.control.asid = 2;
	v12.control.tlb_ctl = VMCB_TLB_CONTROL_FLUSH_ALL;
	v12.control.int_ctl = V_IRQ_MASK | V_INTR_MASKING_MASK | 5;
	v12.control.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID_ERR | 13;
	v12.control.nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	v12.control.nested_cr3 = 0x1000;
	v12.control.next_rip = 0x401000;
	v12.save.efer = X86_EFER_SVME | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	v12.save.cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_WP;
	v12.save.cr3 = 0x7000;
	v12.save.cr4 = X86_CR4_PAE;
	v12.save.cs.attrib = VMCB_SEG_ATTR_L | VMCB_SEG_ATTR_P | VMCB_SEG_ATTR_S | 0xb;
	v12.save.rip = 0x400000;
	v12.save.fs.base = 0x1234;
	v12.save.star = 0x0023001000000000ull;
	switch (breakage) {
	case 1:
		v12.save.efer &= ~X86_EFER_SVME;
		break;
	case 2:
		v12.control.intercept_misc2 = 0;
		break;
	case 3:
		v12.control.asid = 0;
		break;
	case 4:
		v12.control.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | 2;
		break;
	case 5:
		v12.save.cr4 = 0;
		break;
	}
	cur_state.save = v12.save;
	cur_state.save.rip = 0x400123;
	cur_state.save.cr2 = 0xdead000;
	cur_state.save.fs.base = 0x5678;

	put_u8(&cur, 3); /* nested paging offered; permission maps inside the memory */
	put_u8(&cur, 8); /* MAXPHYADDR 40 */
	put_u64(&cur, 0x3fffffull);
	put_u64(&cur, X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SVME);
	put(&cur, &own.control, offsetof(struct vmcb_control, reserved_0e0));
	put(&cur, &v12.control, offsetof(struct vmcb_control, reserved_0e0));
	put(&cur, &v12.save, sizeof(v12.save));
	put(&cur, &cur_state.save, sizeof(cur_state.save));
	put_u32(&cur, V_TPR_MASK);
	put_u32(&cur, SVM_INTERRUPT_SHADOW_MASK);
	for (i = 0; i < sizeof(exits) / sizeof(exits[0]); i++) {
		put_u16(&cur, exits[i].code);
		put_u64(&cur, exits[i].info1);
		put_u32(&cur, exits[i].ecx);
		if (i == 0)
			put_u64(&cur, 0x4242);
	}
	write_seed("svm_nested", "vmcb-%u", breakage);
}

static void seeds_svm_nested(void)
{
	unsigned b;

	for (b = 0; b <= 5; b++)
		svm_vmcb(b);
}

/* ---- boot_loader: small kernels of each format -------------------------------------------- */

#define KERNEL_AT 0x100000u

static void bl_request(uint8_t mem, uint8_t ring, uint8_t modules, uint8_t options)
{
	unsigned i;

	put_u8(&cur, mem);
	put_u8(&cur, ring);
	put_u8(&cur, modules);
	put_u8(&cur, options);
	for (i = 0; i < (modules & 3u); i++)
		put_u16(&cur, (uint16_t)(0x10 * (i + 1) | i));
}

static void bl_elf64(void)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	uint8_t code[64];

	memset(&eh, 0, sizeof(eh));
	memset(ph, 0, sizeof(ph));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = KERNEL_AT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph[0]);
	eh.e_phnum = 2;
	ph[0].p_type = PT_LOAD;
	ph[0].p_flags = PF_R | PF_X;
	ph[0].p_offset = sizeof(eh) + sizeof(ph);
	ph[0].p_paddr = ph[0].p_vaddr = KERNEL_AT;
	ph[0].p_filesz = sizeof(code);
	ph[0].p_memsz = sizeof(code);
	ph[1].p_type = PT_LOAD;
	ph[1].p_flags = PF_R | PF_W;
	ph[1].p_offset = sizeof(eh) + sizeof(ph);
	ph[1].p_paddr = ph[1].p_vaddr = KERNEL_AT + 0x1000;
	ph[1].p_filesz = 16;
	ph[1].p_memsz = 0x2000; /* bss */
	memset(code, 0xf4, sizeof(code)); /* hlt */
	put(&cur, &eh, sizeof(eh));
	put(&cur, ph, sizeof(ph));
	put(&cur, code, sizeof(code));
}

static void mb_header(uint32_t flags, const uint32_t addr[5])
{
	put_u32(&cur, 0x1badb002u);
	put_u32(&cur, flags);
	put_u32(&cur, (uint32_t)-(0x1badb002u + flags));
	if (addr) {
		unsigned i;
		for (i = 0; i < 5; i++)
			put_u32(&cur, addr[i]);
	}
}

static void bl_elf32_multiboot(void)
{
	Elf32_Ehdr eh;
	Elf32_Phdr ph;
	uint8_t code[32];

	memset(&eh, 0, sizeof(eh));
	memset(&ph, 0, sizeof(ph));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_386;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0xc0100000u + 12; /* virtual, after the Multiboot header */
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	ph.p_type = PT_LOAD;
	ph.p_flags = PF_R | PF_X;
	ph.p_offset = sizeof(eh) + sizeof(ph);
	ph.p_vaddr = 0xc0100000u;
	ph.p_paddr = KERNEL_AT;
	ph.p_filesz = 12 + sizeof(code);
	ph.p_memsz = 0x3000;
	memset(code, 0xf4, sizeof(code));
	put(&cur, &eh, sizeof(eh));
	put(&cur, &ph, sizeof(ph));
	mb_header(0x3, NULL);
	put(&cur, code, sizeof(code));
}

static void bl_aout_kludge(void)
{
	/* The header at file offset 16, loaded at header_addr = load_addr + 16. */
	const uint32_t addr[5] = { KERNEL_AT + 16, KERNEL_AT, KERNEL_AT + 16 + 32 + 64, KERNEL_AT + 0x4000,
				   KERNEL_AT + 16 + 32 };
	uint8_t pad[16], code[64];

	memset(pad, 0x90, sizeof(pad));
	memset(code, 0xf4, sizeof(code));
	put(&cur, pad, sizeof(pad));
	mb_header(0x10003, addr);
	put(&cur, code, sizeof(code));
}

static void seeds_boot_loader(void)
{
	bl_request(0, 0, 0, 0);
	bl_elf64();
	write_seed("boot_loader", "elf64");
	bl_request(1, 3, 2 | 0x40, 20);
	bl_elf64();
	write_seed("boot_loader", "elf64-ring-modules");
	bl_request(0, 0, 1, 0);
	bl_elf32_multiboot();
	write_seed("boot_loader", "elf32-multiboot");
	bl_request(2, 0, 3, 40);
	bl_aout_kludge();
	write_seed("boot_loader", "aout-kludge");
}

/* ---- boot_info: a boot info as L0 writes it ----------------------------------------------- */

static void seeds_boot_info(void)
{
	static const char *const options[3] = { "mem=64 ring=0x100 timeout=30 audit=1 do=loop",
						 "svm=1 mem=0x40 mem=32 faithful records",
						 "  flood=12x exit=0X1f  m=" };
	struct nb_boot_info bi;
	unsigned k;

	for (k = 0; k < 3; k++) {
		memset(&bi, 0, sizeof(bi));
		bi.magic = NB_BOOT_MAGIC;
		bi.version = NB_BOOT_VERSION;
		bi.size = sizeof(bi);
		bi.mem_size = 64ull << 20;
		bi.free_start = 0x200000;
		bi.free_end = bi.mem_size - 0x40000;
		bi.level = 2;
		bi.vm_id = 3;
		bi.trace_ring_addr = bi.free_end;
		bi.trace_ring_size = 0x40000;
		snprintf(bi.options, sizeof(bi.options), "%s", options[k]);
		bi.module_count = k + 1;
		snprintf(bi.modules[0].name, sizeof(bi.modules[0].name), "nbvmm");
		snprintf(bi.modules[0].args, sizeof(bi.modules[0].args), "mem=16");
		bi.modules[0].addr = 0x150000;
		bi.modules[0].size = 0x30000;
		if (k >= 1) {
			snprintf(bi.modules[1].name, sizeof(bi.modules[1].name), "hello");
			bi.modules[1].addr = 0x180000;
			bi.modules[1].size = 0x1000;
		}
		if (k >= 2) {
			snprintf(bi.modules[2].name, sizeof(bi.modules[2].name), "hello");
			bi.modules[2].addr = 0x181000;
		}
		put_u8(&cur, 0);
		put(&cur, &bi, sizeof(bi));
		write_seed("boot_info", "%u", k);
	}
}

/* ---- ring_reader: honest traffic, then a hostile guest ------------------------------------ */

static void rr_push(uint8_t op, uint8_t kind, uint8_t insn_len)
{
	unsigned i;

	put_u8(&cur, op);
	put_u8(&cur, kind);
	put_u8(&cur, 1);
	put_u8(&cur, insn_len);
	for (i = 0; i < insn_len; i++)
		put_u8(&cur, (uint8_t)(i == 0 ? 0x0f : i == 1 ? 0x01 : 0xd8 + i));
}

static void seeds_ring_reader(void)
{
	unsigned i;

	/* 8 records, min level 1; the ring fills, drains, wraps around. */
	put_u16(&cur, 8 * 128);
	put_u8(&cur, 1);
	for (i = 0; i < 12; i++)
		rr_push(i % 2 ? 0x80 : 0, (uint8_t)(i % 25), (uint8_t)(i % 4 ? 3 : 0));
	put_u8(&cur, 4);
	for (i = 0; i < 5; i++)
		rr_push(0x40, 1, 2);
	put_u8(&cur, 4 | (2 << 3)); /* the sink refuses the second record */
	put_u8(&cur, 4);
	write_seed("ring_reader", "honest");

	put_u16(&cur, 4 * 128 + 100);
	put_u8(&cur, 2);
	for (i = 0; i < 3; i++)
		rr_push(0, 5, 15);
	put_u8(&cur, 2); /* garbage over the second record's seq */
	put_u16(&cur, 64 + 128);
	put_u64(&cur, 77);
	put_u8(&cur, 3); /* head a little ahead */
	put_u8(&cur, 9);
	put_u8(&cur, 4);
	put_u8(&cur, 3 | 0x80); /* head far ahead */
	put_u64(&cur, ~0ull - 3);
	put_u8(&cur, 4);
	write_seed("ring_reader", "hostile");
}

/* ---- tcl_args: machine descriptions, good and bad ----------------------------------------- */

static const char *const tcl_seeds[] = {
	"-image nbvmm -memory 64M -options {a=1 b=2}\n-memory 128M -ringsize 256K\n-timeout 5 -tracing 0",
	"m1 -guests {{-image nbvmm -memory 32M -guests {{-image /etc/hostname -options x}}}}\n\n-timeout 1",
	"-image /etc/hostname -modules {{mod /etc/hostname {args here}} {m2 /etc/passwd}}\n-kvm /dev/null\n",
	"-guests {{-memory 1.5M}} -ringsize 12\n-bogus\n-console {puts hi} -db x",
	"-image {} -memory 99999999999999999999G\n-image nbvmm -guests {{-guests {{-guests {{-guests {{-guests {{-image x}}}}}}}}}}\n",
};

static void seeds_tcl_args(void)
{
	size_t i;

	for (i = 0; i < sizeof(tcl_seeds) / sizeof(tcl_seeds[0]); i++) {
		put(&cur, tcl_seeds[i], strlen(tcl_seeds[i]));
		write_seed("tcl_args", "%zu", i);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR: writes the seed corpus of every harness into DIR/<harness>\n",
			argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "seeds: %s: %s\n", outdir, strerror(errno));
		return 1;
	}
	seeds_insn_decode();
	seeds_gpt_walk();
	seeds_spt();
	seeds_svm_nested();
	seeds_boot_loader();
	seeds_boot_info();
	seeds_ring_reader();
	seeds_tcl_args();
	return 0;
}
