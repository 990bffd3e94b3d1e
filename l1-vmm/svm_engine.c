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
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
/* Nested page-table entries: every nested access is a user access (APM vol. 2, 15.25.5), and
 * accessed and dirty are preset so the walker never writes them. */
#define NPT_TABLE (PTE_P | PTE_W | PTE_U)
#define NPT_LEAF_2M (PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_PS)
#define NPT_LEAF_4K (PTE_P | PTE_W | PTE_U | PTE_A | PTE_D)
#define NPT_ADDR 0x000ffffffffff000ull

/*
 * What VMRUN and #VMEXIT leave alone (FS, GS, TR, LDTR, KernelGsBase and the system-call MSRs,
 * 15.5.2) stays the guest's in the CPU between its runs: nbvmm uses none of it itself while it
 * runs guests with VMRUN (no segment bases, no SYSCALL, no IST stacks), and every SVM instruction
 * is a trap into the level above here. So VMLOAD runs only when the CPU holds someone else's
 * state or nbvmm changed the VMCB's copy, and VMSAVE only before nbvmm reads it (an MSR exit);
 * GIF, clear after each #VMEXIT, is set only when nbvmm wants an interrupt of its own.
 *
 * A guest run with VMRUN may be a hypervisor too: nbvmm runs its nested guest by
 * trap-and-emulate (nested_svm.c), and that needs nbvmm's own TR (the ring-3 trap stack), its
 * SYSCALL trap in LSTAR and GIF set. svm_engine_leave puts them back, from the copy VMSAVE took
 * of nbvmm's own state at set-up.
 */
static struct vcpu *state_in_cpu; /* whose VMLOAD state the CPU holds; NULL: nbvmm's own */
static bool vmcb_copy_stale, vmcb_copy_changed, gif_clear;
static uint64_t own_state_pa;
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
	own_state_pa = page_alloc();
	iopm_pa = page_alloc_range(SVM_IOPM_SIZE, 4096);
	msrpm_pa = page_alloc_range(SVM_MSRPM_SIZE, 4096);
	if (!hsave || !own_state_pa || !iopm_pa || !msrpm_pa || nbvmm_wrmsr_safe(MSR_VM_HSAVE_PA, hsave) < 0 ||
	    !(ncr3 = build_nested_page_table(v))) {
		nbvmm_wrmsr_safe(MSR_EFER, efer);
		return false;
	}
	__asm__ volatile("vmsave %%rax" ::"a"(own_state_pa) : "memory");
	memset(phys_to_virt(iopm_pa), 0xff, SVM_IOPM_SIZE);
	memset(phys_to_virt(msrpm_pa), 0xff, SVM_MSRPM_SIZE);
	c->intercept_exceptions = 0; /* the guest's exceptions are its own, through its IDT */
	c->intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_INTR | VMCB_CTRL_INTERCEPT_MISC1_NMI |
			     VMCB_CTRL_INTERCEPT_MISC1_SHUTDOWN | VMCB_CTRL_INTERCEPT_MISC1_HLT |
			     VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT | VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT |
			     VMCB_CTRL_INTERCEPT_MISC1_INVD | VMCB_CTRL_INTERCEPT_MISC1_INVLPGA;
	/* The guest's SVM instructions are nbvmm's to emulate: it offers the guest virtual SVM, as
	 * to a guest it runs by trap-and-emulate (nested_svm.c). VMRUN must be intercepted
	 * anyway (15.5.1). */
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
	uint64_t guest_svme = s->efer & X86_EFER_SVME;

	request_interrupt_window(v);
	/* The CPU requires EFER.SVME in the guest's state (15.5.1); the guest sees its own. */
	s->efer |= X86_EFER_SVME;
	if (state_in_cpu != v || vmcb_copy_changed) {
		__asm__ volatile("vmload %%rax" ::"a"(virt_to_phys(&v->vmcb)) : "memory");
		state_in_cpu = v;
		vmcb_copy_changed = false;
	}
	nbvmm_svm_world_switch(v->frame, virt_to_phys(&v->vmcb));
	vmcb_copy_stale = true;
	gif_clear = true;
	s->efer = (s->efer & ~X86_EFER_SVME) | guest_svme;
	v->vmcb.control.tlb_ctl = VMCB_TLB_CONTROL_DO_NOTHING;
	v->exits++;
	/* The guest changed its tables and paging mode unseen: nbvmm's own walks (the emulator,
	 * interrupt delivery) start from its registers as they are now. */
	v->tlb_gen++;
	gpt_mode_from_regs(&v->spt.mode, s->cr0, s->cr3, s->cr4, s->efer, v->maxphyaddr);
}

void svm_engine_sync_state(struct vcpu *v)
{
	if (state_in_cpu == v && vmcb_copy_stale)
		__asm__ volatile("vmsave %%rax" ::"a"(virt_to_phys(&v->vmcb)) : "memory");
	vmcb_copy_stale = false;
	/* nbvmm may change it now: the next entry loads it again. */
	vmcb_copy_changed = true;
}

void svm_engine_allow_interrupts(void)
{
	__asm__ volatile("stgi" ::: "memory");
	gif_clear = false;
}

int svm_engine_write_protect(struct vcpu *v, uint64_t gpa)
{
	const uint64_t *l4 = phys_to_virt(v->vmcb.control.nested_cr3 & NPT_ADDR);
	const uint64_t *l3 = phys_to_virt(l4[0] & NPT_ADDR);
	uint64_t *l2, *l1;
	unsigned i;

	if (gpa >= v->mem_size)
		return -1;
	l2 = phys_to_virt(l3[gpa >> 30] & NPT_ADDR);
	i = (unsigned)(gpa >> 21) & 511;
	if (l2[i] & PTE_PS) {
		/* Its 2 MiB page becomes 512 small ones, so that one can be read-only. */
		uint64_t pt = page_alloc(), base = l2[i] & 0x000fffffffe00000ull;
		unsigned k;

		if (!pt)
			return -1;
		l1 = phys_to_virt(pt);
		for (k = 0; k < 512; k++)
			l1[k] = (base + ((uint64_t)k << 12)) | NPT_LEAF_4K;
		l2[i] = pt | NPT_TABLE;
	}
	l1 = phys_to_virt(l2[i] & NPT_ADDR);
	l1[(gpa >> 12) & 511] &= ~PTE_W;
	v->vmcb.control.tlb_ctl = VMCB_TLB_CONTROL_FLUSH_ASID;
	return 0;
}

void svm_engine_leave(struct vcpu *next)
{
	const struct vmcb *own = phys_to_virt(own_state_pa);

	if (state_in_cpu) {
		svm_engine_sync_state(state_in_cpu);
		__asm__ volatile("vmload %%rax" ::"a"(own_state_pa) : "memory");
		state_in_cpu = NULL;
		/* The next guest's own segment bases, which its ring-3 code uses for real (each
		 * WRMSR is a trap into the level above: only when they differ). */
		if (next->vmcb.save.fs.base != own->save.fs.base)
			cpu_wrmsr(MSR_FS_BASE, next->vmcb.save.fs.base);
		if (next->vmcb.save.gs.base != own->save.gs.base)
			cpu_wrmsr(MSR_GS_BASE, next->vmcb.save.gs.base);
	}
	if (gif_clear)
		svm_engine_allow_interrupts();
}
