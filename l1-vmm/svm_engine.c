/* nbvmm's hardware VMRUN engine (see svm_engine.h). */
#include <string.h>

#include "guests/lib/nbguest.h"
#include "l1-vmm/cpu.h"
#include "l1-vmm/page_alloc.h"
#include "l1-vmm/svm_engine.h"
#include "shadow/gpt_walk.h"
#include "shadow/svm_nested.h"

#define MSR_EFER 0xc0000080
#define MSR_VM_HSAVE_PA 0xc0010117
/* Nested page-table entries: every nested access is a user access (APM vol. 2, 15.25.5), and
 * accessed and dirty are preset so the walker never writes them. */
#define NPT_TABLE (PTE_P | PTE_W | PTE_U)
#define NPT_LEAF_2M (PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_PS)

/*
 * What VMRUN and #VMEXIT leave alone (FS, GS, TR, LDTR, KernelGsBase and the system-call MSRs,
 * 15.5.2) stays the guest's in the CPU between its runs: nbvmm uses none of it itself (no
 * segment bases, no SYSCALL, no IST stacks), and every SVM instruction is a trap into the level
 * above here. So VMLOAD runs only when nbvmm changed the VMCB's copy, and VMSAVE only before
 * nbvmm reads it (an MSR exit); GIF, clear after each #VMEXIT, is set only when nbvmm wants an
 * interrupt of its own.
 */
static bool guest_state_in_cpu, vmcb_copy_stale;
/* Every port and every MSR intercepted: the guest's devices and MSRs are nbvmm's emulation.
 * (All from nbvmm's free pages, not its image, so that a level that does not use SVM stays
 * small.) */
static uint64_t iopm_pa, msrpm_pa;

/* entry.S: load the guest's general registers from f, VMRUN, store them back. */
void nbvmm_svm_world_switch(struct nbvmm_frame *f, uint64_t vmcb_pa);

/* The guest's RAM, guest-physical [0, mem_size), at nbvmm-physical mem_hpa onwards, in 2 MiB
 * pages; nothing else is mapped, so the local APIC page and any hole give a nested page fault
 * that nbvmm emulates as MMIO. The guest's own page tables sit on top, untouched by nbvmm. */
static uint64_t build_nested_page_table(const struct vcpu *v)
{
	uint64_t pml4 = page_alloc(), pdpt = page_alloc(), gpa;
	uint64_t *l4, *l3;

	if (!pml4 || !pdpt)
		return 0;
	l4 = phys_to_virt(pml4);
	l3 = phys_to_virt(pdpt);
	l4[0] = pdpt | NPT_TABLE;
	for (gpa = 0; gpa < v->mem_size; gpa += 2ull << 20) {
		unsigned i3 = (unsigned)(gpa >> 30), i2 = (unsigned)(gpa >> 21) & 511;
		uint64_t *l2;

		if (!(l3[i3] & PTE_P)) {
			uint64_t pd = page_alloc();

			if (!pd)
				return 0;
			l3[i3] = pd | NPT_TABLE;
		}
		l2 = phys_to_virt(l3[i3] & ~0xfffull);
		l2[i2] = (v->mem_hpa + gpa) | NPT_LEAF_2M;
	}
	return pml4;
}

bool svm_engine_init(struct vcpu *v)
{
	struct vmcb_control *c = &v->vmcb.control;
	uint64_t efer = cpu_rdmsr(MSR_EFER), ncr3, hsave;

	/* Whether the CPU has SVM: EFER.SVME can be set only where it does (15.4; elsewhere the bit
	 * is reserved and the WRMSR is #GP). CPUID would say it too, but in ring 3 on these hosts,
	 * where a deeper nbvmm runs, CPUID is not the virtual CPU's (l1-vmm/NOTES.md). */
	if (nbvmm_wrmsr_safe(MSR_EFER, efer | X86_EFER_SVME) < 0)
		return false;
	hsave = page_alloc();
	iopm_pa = page_alloc_range(SVM_IOPM_SIZE, 4096);
	msrpm_pa = page_alloc_range(SVM_MSRPM_SIZE, 4096);
	if (!hsave || !iopm_pa || !msrpm_pa || nbvmm_wrmsr_safe(MSR_VM_HSAVE_PA, hsave) < 0 ||
	    !(ncr3 = build_nested_page_table(v))) {
		nbvmm_wrmsr_safe(MSR_EFER, efer);
		return false;
	}
	memset(phys_to_virt(iopm_pa), 0xff, SVM_IOPM_SIZE);
	memset(phys_to_virt(msrpm_pa), 0xff, SVM_MSRPM_SIZE);
	c->intercept_exceptions = 0; /* the guest's exceptions are its own, through its IDT */
	c->intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_INTR | VMCB_CTRL_INTERCEPT_MISC1_NMI |
			     VMCB_CTRL_INTERCEPT_MISC1_SHUTDOWN | VMCB_CTRL_INTERCEPT_MISC1_HLT |
			     VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT | VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT |
			     VMCB_CTRL_INTERCEPT_MISC1_INVD;
	/* The guest is offered no SVM: each of its SVM instructions exits, to be #UD. */
	c->intercept_misc2 = VMCB_CTRL_INTERCEPT_MISC2_VMRUN | VMCB_CTRL_INTERCEPT_MISC2_VMMCALL |
			     VMCB_CTRL_INTERCEPT_MISC2_VMLOAD | VMCB_CTRL_INTERCEPT_MISC2_VMSAVE |
			     VMCB_CTRL_INTERCEPT_MISC2_STGI | VMCB_CTRL_INTERCEPT_MISC2_CLGI |
			     VMCB_CTRL_INTERCEPT_MISC2_SKINIT;
	c->iopm_base_pa = iopm_pa;
	c->msrpm_base_pa = msrpm_pa;
	c->asid = 1;
	c->tlb_ctl = VMCB_TLB_CONTROL_FLUSH_ASID;
	c->nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	c->nested_cr3 = ncr3;
	/* Physical interrupts (nbvmm's timer) exit whatever the guest's IF; the guest's IF masks
	 * only what nbvmm delivers to it (15.21.1). */
	c->int_ctl |= V_INTR_MASKING_MASK;
	v->svm_engine = true;
	return true;
}

/*
 * An interrupt the guest's APIC holds but the guest cannot take yet (IF clear, or in an STI or
 * MOV SS shadow): a virtual interrupt request with the VINTR intercept makes the CPU exit as
 * soon as it can (15.21.4), and nbvmm then delivers it through the guest's IDT.
 */
static void request_interrupt_window(struct vcpu *v)
{
	struct vmcb_control *c = &v->vmcb.control;
	const uint32_t *irr = v->lapic.irr;
	bool want = (irr[0] | irr[1] | irr[2] | irr[3] | irr[4] | irr[5] | irr[6] | irr[7]) != 0;

	if (want) {
		c->int_ctl |= V_IRQ_MASK | V_IGN_TPR_MASK | V_INTR_PRIO_MASK;
		c->intercept_misc1 |= VMCB_CTRL_INTERCEPT_MISC1_VINTR;
	} else {
		c->int_ctl &= ~(V_IRQ_MASK | V_IGN_TPR_MASK | V_INTR_PRIO_MASK);
		c->intercept_misc1 &= ~VMCB_CTRL_INTERCEPT_MISC1_VINTR;
	}
}

void svm_engine_run(struct vcpu *v)
{
	struct vmcb_save_area *s = &v->vmcb.save;

	request_interrupt_window(v);
	/* The CPU requires EFER.SVME in the guest's state (15.5.1); the guest never sees it. */
	s->efer |= X86_EFER_SVME;
	if (!guest_state_in_cpu) {
		__asm__ volatile("vmload %%rax" ::"a"(virt_to_phys(&v->vmcb)) : "memory");
		guest_state_in_cpu = true;
	}
	nbvmm_svm_world_switch(v->frame, virt_to_phys(&v->vmcb));
	vmcb_copy_stale = true;
	s->efer &= ~X86_EFER_SVME;
	v->vmcb.control.tlb_ctl = VMCB_TLB_CONTROL_DO_NOTHING;
	v->exits++;
	/* The guest changed its tables and paging mode unseen: nbvmm's own walks (the emulator,
	 * interrupt delivery) start from its registers as they are now. */
	v->tlb_gen++;
	gpt_mode_from_regs(&v->spt.mode, s->cr0, s->cr3, s->cr4, s->efer, v->maxphyaddr);
}

void svm_engine_sync_state(struct vcpu *v)
{
	if (vmcb_copy_stale)
		__asm__ volatile("vmsave %%rax" ::"a"(virt_to_phys(&v->vmcb)) : "memory");
	vmcb_copy_stale = false;
	/* nbvmm may change it now: the next entry loads it again. */
	guest_state_in_cpu = false;
}

void svm_engine_allow_interrupts(void)
{
	__asm__ volatile("stgi" ::: "memory");
}
