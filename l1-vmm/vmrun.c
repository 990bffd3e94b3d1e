/*
 * The software VMRUN (AMD APM vol. 2, 15.5): load the guest's state from its VMCB into the real
 * CPU (its registers into the frame, its shadow root into CR3), run it in ring 3 until something
 * traps, and write the state back with the exit code SVM would have produced. Every line here
 * runs on every exit, emulated by KVM on these machines: it stays short.
 */
#include "l1-vmm/cpu.h"
#include "l1-vmm/layout.h"
#include "l1-vmm/svm_engine.h"
#include "l1-vmm/vcpu.h"

uint64_t *vcpu_gpr(struct vcpu *v, unsigned n)
{
	struct nbvmm_frame *f = v->frame;

	switch (n & 15) {
	case 0: return &v->vmcb.save.rax;
	case 1: return &f->rcx;
	case 2: return &f->rdx;
	case 3: return &f->rbx;
	case 4: return &v->vmcb.save.rsp;
	case 5: return &f->rbp;
	case 6: return &f->rsi;
	case 7: return &f->rdi;
	case 8: return &f->r8;
	case 9: return &f->r9;
	case 10: return &f->r10;
	case 11: return &f->r11;
	case 12: return &f->r12;
	case 13: return &f->r13;
	case 14: return &f->r14;
	default: return &f->r15;
	}
}

void vcpu_run(struct vcpu *v)
{
	struct vmcb_save_area *s = &v->vmcb.save;
	struct vmcb_control *c = &v->vmcb.control;
	struct nbvmm_frame *f = v->frame;
	uint64_t root;

	if (v->svm_engine) {
		svm_engine_run(v);
		return;
	}
	/* The nested guest of a hypervisor nbvmm runs with VMRUN: nbvmm's own CPU state first. */
	if (v->parent && v->parent->svm_engine)
		svm_engine_leave(v);
	root = spt_root_hpa(&v->spt, s->cpl == 3 ? SPT_ROOT_USER : SPT_ROOT_KERNEL);
	f->rip = s->rip;
	f->rsp = s->rsp;
	f->rax = s->rax;
	/* The real IF is the guest's virtual IF: PUSHF in ring 3 then shows the guest what it
	 * believes, and a guest with interrupts off is not preempted, as on hardware (so only L0's
	 * timeout ends a loop with interrupts off). IOPL stays 0 so every CLI, STI, IN and OUT
	 * traps, and POPF cannot change IF behind nbvmm's back. */
	f->rflags = (s->rflags & (X86_RFLAGS_GUEST_REAL | X86_RFLAGS_IF)) | X86_RFLAGS_FIXED |
		    (v->audit_step ? X86_RFLAGS_TF : 0);
	/* A guest in 32-bit protected mode runs its code in compatibility mode (APM vol. 2, 1.2.3):
	 * the real CPU stays in long mode, under nbvmm's shadow tables. */
	if (s->cs.attrib & VMCB_SEG_ATTR_L) {
		f->cs = NBVMM_USER_CS;
		f->ss = NBVMM_USER_DS;
	} else {
		/* Compatibility mode honours segment bases and limits: run the guest on mirrors of
		 * its own DS, ES and SS, refreshed when it reloads them (every load traps). */
		if (v->segs_dirty) {
			uint16_t ds = NBVMM_USER_GDS, es = NBVMM_USER_GES;

			cpu_set_guest_data_segment(NBVMM_USER_GDS, &s->ds);
			cpu_set_guest_data_segment(NBVMM_USER_GES, &s->es);
			cpu_set_guest_data_segment(NBVMM_USER_GSS, &s->ss);
			__asm__ volatile("mov %0, %%ds; mov %1, %%es" ::"r"(ds), "r"(es));
			v->segs_dirty = false;
		}
		f->cs = NBVMM_USER_CS32;
		f->ss = NBVMM_USER_GSS;
	}
	if (root != cpu_cr3 || spt_take_tlb_flush(&v->spt))
		cpu_write_cr3(root);

	nbvmm_world_switch(f);

	s->rip = f->rip;
	s->rsp = f->rsp;
	s->rax = f->rax;
	s->rflags = (s->rflags & ~X86_RFLAGS_GUEST_REAL) | (f->rflags & X86_RFLAGS_GUEST_REAL);
	if (f->vector < 32) {
		c->exit_code = SVM_EXIT_EXCP_DE + f->vector;
		c->exit_info_1 = f->error_code;
		c->exit_info_2 = f->vector == 14 ? cpu_read_cr2() : 0;
	} else {
		c->exit_code = SVM_EXIT_INTR;
		c->exit_info_1 = f->vector;
		c->exit_info_2 = 0;
	}
	v->exits++;
}
