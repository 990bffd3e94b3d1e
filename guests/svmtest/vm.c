/*
 * The hypervisor's side of a guest (svmtest.h): the memory it hands the CPU, the VMCB it builds,
 * the world switch around VMRUN, and the check that every #VMEXIT gives it back its own state.
 */
#include "guests/svmtest/svmtest.h"

#define IDT_VECTORS 256
#define GATE_INTERRUPT 0x8e /* P, DPL 0, 64-bit interrupt gate */
#define ALL_EXCEPTIONS 0xffffffffu
/* DR6 and DR7 as after reset (APM vol. 2, ch. 13): their upper halves must be zero for VMRUN. */
#define DR6_RESET 0xffff0ff0ull
#define DR7_RESET 0x400ull

/*
 * Everything the hypervisor gives the CPU by physical address, each page-aligned as the APM
 * requires: the VMCB (§15.5.1), the host save area (§15.30.4), the I/O and MSR permission maps
 * (§15.10.1, §15.11). This kernel runs on an identity map, so an object's address is its
 * physical address. The guest's stack and IDT are here too: the guest reaches them through the
 * same identity map.
 */
static struct {
	struct vmcb vmcb;
	uint8_t hsave[X86_PAGE_SIZE];
	uint8_t iopm[SVM_IOPM_SIZE];
	uint8_t msrpm[SVM_MSRPM_SIZE];
	uint8_t guest_stack[X86_PAGE_SIZE];
	struct x86_idt_gate64 guest_idt[IDT_VECTORS];
} pages __attribute__((aligned(4096)));

_Static_assert(sizeof(pages.guest_idt) == X86_PAGE_SIZE, "the guest IDT fills a page");

uint64_t svt_hsave_pa(void)
{
	return SVT_ADDR(pages.hsave);
}

void svt_vm_describe(void)
{
	nb_printf("svmtest: VMCB 0x%llx, host save area 0x%llx, IOPM 0x%llx, MSRPM 0x%llx, "
		  "guest stack 0x%llx, guest IDT 0x%llx\n",
		  (unsigned long long)SVT_ADDR(&pages.vmcb), (unsigned long long)SVT_ADDR(pages.hsave),
		  (unsigned long long)SVT_ADDR(pages.iopm), (unsigned long long)SVT_ADDR(pages.msrpm),
		  (unsigned long long)SVT_ADDR(pages.guest_stack),
		  (unsigned long long)SVT_ADDR(pages.guest_idt));
}

static struct x86_desc_ptr read_gdtr(void)
{
	struct x86_desc_ptr p;

	__asm__ volatile("sgdt %0" : "=m"(p));
	return p;
}

static struct x86_desc_ptr read_idtr(void)
{
	struct x86_desc_ptr p;

	__asm__ volatile("sidt %0" : "=m"(p));
	return p;
}

void svt_guest_idt_set(unsigned vec, const void *handler)
{
	uint64_t h = SVT_ADDR(handler);
	struct x86_idt_gate64 *g = &pages.guest_idt[vec % IDT_VECTORS];

	g->offset_lo = (uint16_t)h;
	g->selector = NB_SEL_KCODE;
	g->ist = 0;
	g->type_attr = GATE_INTERRUPT;
	g->offset_mid = (uint16_t)(h >> 16);
	g->offset_hi = (uint32_t)(h >> 32);
	g->reserved = 0;
}

static void set_seg(struct vmcb_seg *seg, uint16_t selector, uint16_t attrib)
{
	seg->selector = selector;
	seg->attrib = attrib;
	seg->limit = 0xffffffffu;
	seg->base = 0;
}

void svt_vm_init(struct svt_vm *vm, const void *entry)
{
	struct vmcb *vmcb = &pages.vmcb;
	struct vmcb_control *c = &vmcb->control;
	struct vmcb_save_area *s = &vmcb->save;
	struct x86_desc_ptr gdtr = read_gdtr();

	/* A zeroed VMCB has its clean bits clear: VMRUN loads every field afresh rather than
	 * trusting anything cached from an earlier VMRUN of this page (§15.15). */
	memset(vmcb, 0, sizeof(*vmcb));
	memset(&vm->gprs, 0, sizeof(vm->gprs));
	memset(pages.iopm, 0, sizeof(pages.iopm));
	memset(pages.msrpm, 0, sizeof(pages.msrpm));
	vm->vmcb = vmcb;

	/*
	 * Intercepts (§15.9 - §15.13). VMRUN's must be set, or VMRUN fails its consistency checks
	 * (§15.5.1). VMMCALL ends every guest piece. SHUTDOWN makes a guest's triple fault a
	 * #VMEXIT instead of a reset of the whole machine, and every exception vector is
	 * intercepted, so a guest that faults where no check expected it comes back to the
	 * hypervisor with the vector in the exit code instead of needing handlers of its own. The
	 * permission maps are only consulted when IOIO_PROT / MSR_PROT are set; they get valid
	 * addresses anyway.
	 */
	c->intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_SHUTDOWN;
	c->intercept_misc2 = VMCB_CTRL_INTERCEPT_MISC2_VMRUN | VMCB_CTRL_INTERCEPT_MISC2_VMMCALL;
	c->intercept_exceptions = ALL_EXCEPTIONS;
	c->iopm_base_pa = SVT_ADDR(pages.iopm);
	c->msrpm_base_pa = SVT_ADDR(pages.msrpm);
	/* The guest's TLB tag (§15.16): ASID 0 is the host's, and VMRUN refuses it. The checks
	 * change intercepts and nested tables between runs of the same ASID, so every VMRUN
	 * flushes the TLB: the simplest correct choice (a real hypervisor would rather flush by
	 * ASID, or hand out new ASIDs). */
	c->asid = 1;
	c->tlb_ctl = VMCB_TLB_CONTROL_FLUSH_ALL;

	/*
	 * The guest's state: this kernel's own 64-bit mode at CPL 0 (§15.5.1 lists what VMRUN
	 * loads). CS is a 64-bit code segment (L set, D clear: L and D both set with long mode on
	 * is a consistency failure), SS a writable data segment, DS and ES null, as 64-bit code
	 * needs no more. FS, GS, TR and LDTR are not VMRUN's: the guest keeps the host's, as
	 * nothing here VMLOADs guest values. The guest shares the host's GDT, control registers
	 * and page tables; its IDT is its own (event injection goes through it). EFER must keep
	 * SVME, or VMRUN fails.
	 */
	set_seg(&s->cs, NB_SEL_KCODE, VMCB_SEG_ATTR_G | VMCB_SEG_ATTR_L | VMCB_SEG_ATTR_P |
					      VMCB_SEG_ATTR_S | 0xb /* code, execute/read, accessed */);
	set_seg(&s->ss, NB_SEL_KDATA, VMCB_SEG_ATTR_G | VMCB_SEG_ATTR_DB | VMCB_SEG_ATTR_P |
					      VMCB_SEG_ATTR_S | 0x3 /* data, read/write, accessed */);
	s->gdtr.base = gdtr.base;
	s->gdtr.limit = gdtr.limit;
	s->idtr.base = SVT_ADDR(pages.guest_idt);
	s->idtr.limit = sizeof(pages.guest_idt) - 1;
	s->cpl = 0;
	s->efer = x86_rdmsr(X86_MSR_EFER);
	s->cr0 = x86_read_cr0();
	s->cr3 = x86_read_cr3();
	s->cr4 = x86_read_cr4();
	s->dr6 = DR6_RESET;
	s->dr7 = DR7_RESET;
	s->rflags = X86_RFLAGS_FIXED; /* IF clear: the guest takes no interrupts */
	s->rip = SVT_ADDR(entry);
	s->rsp = SVT_ADDR(pages.guest_stack + sizeof(pages.guest_stack));
	s->g_pat = x86_rdmsr(MSR_PAT); /* the guest's PAT under nested paging (§15.25) */
}

void svt_vm_skip(struct svt_vm *vm, unsigned len)
{
	/* With NRIPS, the CPU says where the intercepted instruction ends (§15.7.1); without it
	 * a hypervisor has to decode the instruction (here it knows its own guest's code). */
	if (svt_has(CPUID_SVM_EDX_NRIPS))
		vm->vmcb->save.rip = vm->vmcb->control.next_rip;
	else
		vm->vmcb->save.rip += len;
}

void svt_iopm_intercept(uint16_t port)
{
	pages.iopm[port / 8] |= (uint8_t)(1u << (port % 8));
}

void svt_msrpm_intercept(uint32_t msr, int read, int write)
{
	static const uint32_t range_first[] = { 0x00000000u, 0xc0000000u, 0xc0010000u };
	unsigned r;

	for (r = 0; r < FID_COUNT(range_first); r++) {
		uint32_t bit;

		if (msr - range_first[r] >= SVM_MSRPM_RANGE_MSRS)
			continue;
		/* Two bits per MSR: the read intercept, then the write intercept. */
		bit = r * SVM_MSRPM_RANGE_BYTES * 8 + (msr - range_first[r]) * 2;
		if (read)
			pages.msrpm[bit / 8] |= (uint8_t)(1u << (bit % 8));
		if (write)
			pages.msrpm[(bit + 1) / 8] |= (uint8_t)(1u << ((bit + 1) % 8));
	}
}

/* The host's state as every #VMEXIT must give it back (§15.6), and the first time it did not. */
static struct {
	uint64_t cr0, cr3, cr4, efer;
	struct x86_desc_ptr gdtr, idtr;
} host;

static struct {
	char during[96];
	const char *what;
	uint64_t expected, got;
	uint64_t exits;
} host_bad;

void svt_host_snapshot(void)
{
	host.cr0 = x86_read_cr0();
	host.cr3 = x86_read_cr3();
	host.cr4 = x86_read_cr4();
	host.efer = x86_rdmsr(X86_MSR_EFER);
	host.gdtr = read_gdtr();
	host.idtr = read_idtr();
}

static void host_compare(const char *what, uint64_t expected, uint64_t got)
{
	if (expected == got || host_bad.what)
		return;
	host_bad.what = what;
	host_bad.expected = expected;
	host_bad.got = got;
	nb_snprintf(host_bad.during, sizeof(host_bad.during), "%s", svt_line_name());
}

static void host_check(uint64_t vmcb_pa)
{
	struct x86_desc_ptr gdtr = read_gdtr(), idtr = read_idtr();

	host_bad.exits++;
	host_compare("RSP", svt_world_switch.rsp_before, svt_world_switch.rsp_after);
	host_compare("RAX (the VMCB address)", vmcb_pa, svt_world_switch.rax_after);
	host_compare("CR0", host.cr0, x86_read_cr0());
	host_compare("CR3", host.cr3, x86_read_cr3());
	host_compare("CR4", host.cr4, x86_read_cr4());
	host_compare("EFER", host.efer, x86_rdmsr(X86_MSR_EFER));
	host_compare("GDTR base", host.gdtr.base, gdtr.base);
	host_compare("GDTR limit", host.gdtr.limit, gdtr.limit);
	host_compare("IDTR base", host.idtr.base, idtr.base);
	host_compare("IDTR limit", host.idtr.limit, idtr.limit);
}

uint64_t svt_vm_run(struct svt_vm *vm)
{
	uint64_t pa = SVT_ADDR(vm->vmcb);
	char name[16];

	/* GIF (§15.17): CLGI holds off interrupts and NMIs from here on; VMRUN sets GIF for the
	 * guest and #VMEXIT clears it, so the host gets back with nothing able to interrupt it
	 * until it has taken what it needs from the exit; STGI then lets events in again. (This
	 * kernel runs with IF clear; the sequence is what a hypervisor does.) An exception in
	 * either is unexpected here: the area's guard reports it. */
	__asm__ volatile("clgi" ::: "memory");
	if (svt_vmrun(pa, &vm->gprs)) {
		__asm__ volatile("stgi" ::: "memory");
		nb_printf("svmtest: %s: VMRUN raised %s (error code 0x%llx)\n", svt_line_name(),
			  nb_vector_name(svt_fault.vector, name), (unsigned long long)svt_fault.error);
		return SVT_EXIT_VMRUN_RAISED;
	}
	__asm__ volatile("stgi" ::: "memory");
	host_check(pa);
	return vm->vmcb->control.exit_code;
}

void svt_host_report(unsigned line_state, unsigned line_rip)
{
	char why[256];
	const struct fid_field rip[] = {
		{ "VMRUNs that went on after the instruction", svt_world_switch.entries,
		  svt_world_switch.resumes },
	};

	if (host_bad.exits == 0) {
		svt_fail(line_state, "no #VMEXIT happened");
	} else if (host_bad.what) {
		nb_snprintf(why, sizeof(why), "after a #VMEXIT in '%s': %s expected 0x%llx got 0x%llx",
			    host_bad.during, host_bad.what, (unsigned long long)host_bad.expected,
			    (unsigned long long)host_bad.got);
		svt_fail(line_state, why);
	} else {
		svt_check(line_state, NULL, 0);
	}
	svt_check(line_rip, rip, FID_COUNT(rip));
}
