/*
 * Exit routing. Every exit of the guest arrives here with the VMCB's exit code set as SVM would
 * set it. Shadow page faults are nbvmm's own business; privileged instructions are emulated;
 * everything else is the guest's, delivered through its own IDT.
 */
#include "l1-vmm/deliver.h"
#include "guests/lib/nbkernel.h"
#include "l0/nestbed.h"
#include "l1-vmm/exits.h"
#include "l1-vmm/guest_mem.h"
#include "l1-vmm/lapic.h"
#include "l1-vmm/nested_svm.h"
#include "l1-vmm/svm_engine.h"
#include "l1-vmm/trace.h"
#include "shadow/spt.h"

static void exit_pf(struct vcpu *v)
{
	struct vmcb_control *c = &v->vmcb.control;
	uint64_t cr2 = c->exit_info_2;
	/* The real error code always says "user" (the guest runs in ring 3): ask as the guest's
	 * own CPL would. Keep write and instruction-fetch. */
	unsigned access = (c->exit_info_1 & 0x12) | (vcpu_cpl(v) == 3 ? 0x4 : 0);
	struct spt_fault fault;
	int rc;

	if (cr2 == NBVMM_SYSCALL_TRAP && v->vmcb.save.rip == NBVMM_SYSCALL_TRAP) {
		emulate_syscall(v);
		return;
	}
	rc = spt_fill(&v->spt, cr2, access, &fault);
	switch (rc) {
	case SPT_FILLED:
		trace_exit(v, NB_ACT_SHADOW_FILL, 0, 0);
		break;
	case SPT_GUEST_PF:
		v->vmcb.save.cr2 = cr2;
		trace_exit(v, NB_ACT_DELIVERED, 0, 0);
		deliver_event(v, 14, true, fault.error_code, 0);
		break;
	case SPT_PT_WRITE:
		emulate_pt_write(v);
		break;
	case SPT_MMIO:
		/* For a nested guest, no memory of its hypervisor's there: a nested page fault. A
		 * write to a nested page table nbvmm composes from: emulated and reported. */
		if (v->parent)
			nested_svm_npf(v, fault.gpa, access, false);
		else if (nested_svm_npt_page(v, fault.gpa))
			emulate_pt_write(v);
		else
			emulate_mmio(v, fault.gpa);
		break;
	case -SHADOW_EFAULT:
		if (v->parent) {
			struct gpt_walk w;

			/* One of its own page tables is what the nested page table does not map. */
			gpt_walk(&nbvmm_shadow_ops, v, &v->spt.mode, cr2, access, 0, &w);
			nested_svm_npf(v, w.entry_gpa[w.leaf_level], access, true);
			break;
		}
		/* The guest's own tables lead outside its RAM: nothing answers there, so the walk
		 * finds no present entry, as KVM reports it at depth 1. */
		v->vmcb.save.cr2 = cr2;
		trace_exit(v, NB_ACT_DELIVERED, 0, 0);
		deliver_event(v, 14, true, access, 0);
		break;
	default:
		trace_exit(v, NB_ACT_STOPPED, 0, 0);
		vcpu_shutdown(v, rc == -SHADOW_ENOMEM ? "nbvmm ran out of memory for shadow page tables"
						      : "shadow page-table fill failed");
		break;
	}
}

void handle_exit(struct vcpu *v)
{
	uint64_t code = v->vmcb.control.exit_code;

	switch (code) {
	case SVM_EXIT_EXCP_PF:
		exit_pf(v);
		break;
	case SVM_EXIT_EXCP_GP:
	case SVM_EXIT_EXCP_UD:
	/* A guest selector names an empty slot of nbvmm's GDT: segment loads fault with #NP or
	 * #SS before any privilege check (see layout.h). */
	case SVM_EXIT_EXCP_NP:
	case SVM_EXIT_EXCP_SS:
		emulate_trapped_insn(v);
		break;
	case SVM_EXIT_EXCP_DB:
		if (v->lapic.int_shadow_step) {
			/* nbvmm's own single step over the instruction after STI: the interrupt it
			 * held back is delivered next (run_guest); the guest sees #DB only if it was
			 * stepping itself. */
			v->lapic.int_shadow_step = false;
			v->vmcb.save.rflags &= ~X86_RFLAGS_TF;
			trace_exit(v, NB_ACT_NONE, 0, 0);
			if (!v->step_tf_saved)
				break;
			v->vmcb.save.rflags |= X86_RFLAGS_TF;
		}
		trace_exit(v, NB_ACT_DELIVERED, 0, 0);
		/* DR6.BS: what the guest's handler reads to know it was a single step. */
		if (v->vmcb.save.rflags & X86_RFLAGS_TF)
			v->dr[6] |= 0x4000;
		deliver_event(v, X86_VEC_DB, false, 0, 0);
		break;
	case SVM_EXIT_EXCP_BP:
		/* INT3 reached nbvmm through its DPL-0 gate (these hosts deliver #BP anyway): it is a
		 * software interrupt, so the guest's gate DPL decides between #BP and #GP. */
		v->vmcb.save.rip -= 1;
		trace_exit(v, NB_ACT_DELIVERED, (const uint8_t *)"\xcc", 1);
		deliver_event(v, X86_VEC_BP, false, 0, 1);
		break;
	/* The intercepts of the hardware VMRUN engine (svm_engine.c): the instruction is at RIP,
	 * emulated as if it had trapped. */
	/* These read or write what the CPU holds of the guest (FS, GS, TR, LDTR, the system-call
	 * MSRs): VMRUN and VMSAVE copy it, VMLOAD replaces it, an MSR may be one of it. */
	case SVM_EXIT_MSR:
	case SVM_EXIT_VMRUN:
	case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE:
		svm_engine_sync_state(v);
		emulate_trapped_insn(v);
		break;
	case SVM_EXIT_IOIO:
	case SVM_EXIT_HLT:
	case SVM_EXIT_INVD:
	case SVM_EXIT_VMMCALL:
	case SVM_EXIT_STGI:
	case SVM_EXIT_CLGI:
	case SVM_EXIT_INVLPGA:
	case SVM_EXIT_SKINIT:
		emulate_trapped_insn(v);
		break;
	case SVM_EXIT_NPF:
		/* Nested paging maps all the guest's RAM: what faults is MMIO (its local APIC), or a
		 * write to a page nbvmm protected (a nested page table the guest gives its own guest). */
		if (nested_svm_npt_page(v, v->vmcb.control.exit_info_2) && (v->vmcb.control.exit_info_1 & PF_EC_W)) {
			emulate_pt_write(v);
			break;
		}
		if (v->vmcb.control.exit_info_2 < v->mem_size) {
			trace_exit(v, NB_ACT_STOPPED, 0, 0);
			vcpu_shutdown(v, "nested page fault inside the guest's RAM");
			break;
		}
		emulate_mmio(v, v->vmcb.control.exit_info_2);
		break;
	case SVM_EXIT_VINTR:
		/* The interrupt window svm_engine.c asked for: the run loop delivers now. */
		trace_exit(v, NB_ACT_NONE, 0, 0);
		break;
	case SVM_EXIT_SHUTDOWN:
		trace_exit(v, NB_ACT_STOPPED, 0, 0);
		vcpu_shutdown(v, "the guest shut down (a triple fault under VMRUN)");
		break;
	case SVM_EXIT_INVALID:
		trace_exit(v, NB_ACT_STOPPED, 0, 0);
		vcpu_stop(v, NB_STATUS_CRASH, "VMRUN refused the guest's state (VMEXIT_INVALID)");
		break;
	case SVM_EXIT_NMI:
		trace_exit(v, NB_ACT_NONE, 0, 0);
		break;
	case SVM_EXIT_INTR:
		/* nbvmm's own interrupt (its timer): taking the CPU back was the point. Under the
		 * hardware engine it is still pending: let it in (nbvmm_host_trap serves it). */
		if (v->svm_engine) {
			svm_engine_allow_interrupts();
			__asm__ volatile("sti; nop; cli" ::: "memory");
		}
		trace_exit(v, NB_ACT_NONE, 0, 0);
		if (v->vmcb.control.exit_info_1 == NBVMM_TIMER_VECTOR) {
			lapic_eoi();
			lapic_timer_fired();
		}
		if (v->deadline_tsc && nb_rdtsc() > v->deadline_tsc)
			vcpu_stop(v, NB_STATUS_TIMEOUT, "the guest ran past its time limit (nbvmm's timer)");
		break;
	default: {
		unsigned vector = (unsigned)(code - SVM_EXIT_EXCP_DE);

		trace_exit(v, NB_ACT_DELIVERED, 0, 0);
		deliver_event(v, vector, x86_vector_has_error_code(vector), (uint32_t)v->vmcb.control.exit_info_1,
			      false);
		break;
	}
	}
}
