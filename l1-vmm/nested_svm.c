/* Virtual SVM (see nested_svm.h). Names follow the architecture's steps, as KVM's nested.c does. */
#include <stddef.h>
#include <string.h>

#include "guests/lib/nbguest.h"
#include "guests/lib/nbkernel.h"
#include "l0/nestbed.h"
#include "l1-vmm/cpu.h"
#include "l1-vmm/deliver.h"
#include "l1-vmm/exits.h"
#include "l1-vmm/guest_mem.h"
#include "l1-vmm/layout.h"
#include "l1-vmm/nested_svm.h"
#include "l1-vmm/page_alloc.h"
#include "l1-vmm/svm_engine.h"
#include "l1-vmm/trace.h"
#include "l1-vmm/vlapic.h"
#include "nestbed/hypercall.h"
#include "shadow/svm_nested.h"

#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define CPUID_SVM_ASIDS 16
/* 8000_000Ah EDX: what nbvmm really does for a nested hypervisor. */
#define CPUID_SVM_NP (1u << 0)
#define CPUID_SVM_NRIPS (1u << 3)

/*
 * The nested guest nbvmm runs for its guest hypervisor. One at a time: nbvmm has one vCPU, and
 * VMRUN does not return to the hypervisor until the nested guest exits.
 */
static struct {
	struct vcpu *guest;           /* its vCPU, allocated at the first VMRUN */
	struct vmcb *vmcb12;          /* the private copy VMRUN checks and runs: read once */
	uint64_t vmcb_gpa;            /* the hypervisor's VMCB ("VMCB12") */
	struct vmcb_control ctl;      /* its control area as checked at VMRUN: what it intercepts */
	struct vmcb_save_area host;   /* the hypervisor's state, restored by #VMEXIT (our HSAVE) */
	uint32_t asid;                /* what the nested guest's shadow was built for */
	uint64_t nested_ctl, ncr3;
	bool spt_ready, vm_added;
} ns;

/* The structural intercepts of nbvmm's own trap-and-emulate engine: what it must see of any
 * guest it runs, whatever that guest's hypervisor asks (the "own" side of the merge trace). */
static const struct vmcb_control own_needs = {
	.intercept_cr = VMCB_INTERCEPT_CR_READ(0) | VMCB_INTERCEPT_CR_READ(3) | VMCB_INTERCEPT_CR_READ(4) |
			VMCB_INTERCEPT_CR_WRITE(0) | VMCB_INTERCEPT_CR_WRITE(3) | VMCB_INTERCEPT_CR_WRITE(4),
	.intercept_exceptions = VMCB_INTERCEPT_EXCEPTION(X86_VEC_UD) | VMCB_INTERCEPT_EXCEPTION(X86_VEC_GP) |
				VMCB_INTERCEPT_EXCEPTION(X86_VEC_PF) | VMCB_INTERCEPT_EXCEPTION(11) |
				VMCB_INTERCEPT_EXCEPTION(12),
	.intercept_misc1 = VMCB_CTRL_INTERCEPT_MISC1_INTR | VMCB_CTRL_INTERCEPT_MISC1_HLT |
			   VMCB_CTRL_INTERCEPT_MISC1_IOIO_PROT | VMCB_CTRL_INTERCEPT_MISC1_MSR_PROT |
			   VMCB_CTRL_INTERCEPT_MISC1_INVLPG | VMCB_CTRL_INTERCEPT_MISC1_IRET |
			   VMCB_CTRL_INTERCEPT_MISC1_SHUTDOWN,
	.intercept_misc2 = VMCB_CTRL_INTERCEPT_MISC2_VMRUN | VMCB_CTRL_INTERCEPT_MISC2_VMMCALL |
			   VMCB_CTRL_INTERCEPT_MISC2_VMLOAD | VMCB_CTRL_INTERCEPT_MISC2_VMSAVE |
			   VMCB_CTRL_INTERCEPT_MISC2_STGI | VMCB_CTRL_INTERCEPT_MISC2_CLGI,
};

void nested_svm_cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	switch (leaf) {
	case 0x80000000:
		if (*a < 0x8000000a)
			*a = 0x8000000a;
		break;
	case 0x80000001:
		*c |= 1u << 2; /* SVM */
		break;
	case 0x8000000a:
		/* Revision 1, the ASIDs a nested hypervisor may use, and the features nbvmm
		 * emulates (APM vol. 3, CPUID Fn8000_000A). */
		*a = 1;
		*b = CPUID_SVM_ASIDS;
		*c = 0;
		*d = CPUID_SVM_NP | CPUID_SVM_NRIPS;
		break;
	default:
		break;
	}
}

static void caps_of(const struct vcpu *v, struct svm_nested_caps *caps)
{
	*caps = (struct svm_nested_caps){
		.maxphyaddr = v->maxphyaddr,
		.np = true,
		.cr4_valid = NBVMM_CR4_VALID,
		.efer_valid = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SVME,
	};
}

/* nested_svm.c's trace records are about the nested guest (g) or its hypervisor (v). */
static void trace_svm(struct vcpu *about, uint16_t kind, uint64_t code, uint64_t info1, uint64_t info2, uint64_t addr,
		      uint64_t old_val, uint64_t new_val, uint64_t aux)
{
	struct nb_trace_record rec = {0};

	rec.kind = kind;
	rec.exit_code = code;
	rec.exit_info1 = info1;
	rec.exit_info2 = info2;
	rec.addr = addr;
	rec.old_val = old_val;
	rec.new_val = new_val;
	rec.aux = aux;
	trace_guest_event(about, &rec);
}

/*
 * Nested translations nbvmm made, per 4 KiB page: every access nbvmm makes for the nested guest
 * (each entry of its page tables, each byte it emulates) goes through the nested page table,
 * a 4-level walk in the hypervisor's memory. They stay valid until the hypervisor flushes its
 * TLB (nested_svm_load_paging), as a CPU's would.
 */
#define NPT_TLB_ENTRIES 64
static struct {
	uint64_t page, hpage, gen; /* guest-physical page, the hypervisor's page, validity */
	bool writable;
} npt_tlb[NPT_TLB_ENTRIES];
static uint64_t npt_tlb_gen = 1;

/*
 * The nested page table's own pages, in the hypervisor's memory, once nbvmm has walked them:
 * write-protected where the hypervisor runs (its shadow, or, under the VMRUN engine, its nested
 * page table), so that each write it makes to them traps, is emulated, traced (NPT_WRITE) and
 * drops what nbvmm derived from them (the NPT TLB above and the nested guest's shadow). A CPU may
 * use cached translations until the hypervisor flushes (15.16), and nbvmm's flush rules alone
 * keep the nested guest right; this makes the hypervisor's edits visible and takes effect at once.
 * Bounded: past NPT_WP_PAGES pages, further ones are only flushed, not watched.
 */
#define NPT_WP_PAGES 256
#define NPT_WP_SLOTS 512 /* open addressing, at most half full */
static struct {
	uint64_t page[NPT_WP_SLOTS]; /* gpa >> 12, plus 1 (0: empty) */
	unsigned count;
} npt_wp;

static unsigned npt_wp_slot(uint64_t key)
{
	unsigned i = (unsigned)(key * 0x9e3779b97f4a7c15ull >> 55) % NPT_WP_SLOTS;

	while (npt_wp.page[i] && npt_wp.page[i] != key)
		i = (i + 1) % NPT_WP_SLOTS;
	return i;
}

bool nested_svm_npt_page(const struct vcpu *v, uint64_t gpa)
{
	if (!npt_wp.count || v->parent)
		return false;
	return npt_wp.page[npt_wp_slot((gpa >> 12) + 1)] != 0;
}

static void npt_wp_add(struct vcpu *v, uint64_t table_gpa)
{
	uint64_t key = (table_gpa >> 12) + 1;
	unsigned i;

	if (npt_wp.count >= NPT_WP_PAGES || table_gpa >= v->mem_size)
		return;
	i = npt_wp_slot(key);
	if (npt_wp.page[i])
		return;
	if (v->svm_engine) {
		if (svm_engine_write_protect(v, table_gpa & ~0xfffull) < 0)
			return;
	}
	npt_wp.page[i] = key;
	npt_wp.count++;
	/* From now on its physical map says read-only (guest_mem.c); no writable leaf is left. */
	if (!v->svm_engine)
		spt_write_protect_gpa(&v->spt, table_gpa);
}

/* The tables a nested walk read, from the top down to where it stopped. */
static void npt_wp_walk(struct vcpu *v, const struct gpt_walk *w)
{
	unsigned l;

	for (l = w->top_level; l >= w->leaf_level && l >= 1; l--)
		if (w->entry_gpa[l])
			npt_wp_add(v, w->entry_gpa[l]);
}

void nested_svm_npt_write(struct vcpu *v, uint64_t gpa, uint64_t old, uint64_t new_val)
{
	struct nb_trace_record rec = {0};

	rec.kind = NB_EV_NPT_WRITE;
	rec.addr = gpa;
	rec.old_val = old;
	rec.new_val = new_val;
	rec.aux = v->level + 1;
	trace_guest_event(v, &rec);
	npt_tlb_gen++;
	if (ns.spt_ready) {
		/* Under the VMRUN engine the CPU may still be on the nested guest's shadow root. */
		cpu_use_own_tables();
		spt_zap_all(&ns.guest->spt);
		ns.guest->tlb_gen++;
	}
}

int nested_svm_npt_gpa(struct vcpu *g, uint64_t gpa, bool write, uint64_t *out, bool *writable)
{
	unsigned i = (unsigned)(gpa >> 12) % NPT_TLB_ENTRIES;
	struct gpt_walk w;
	uint64_t info1;
	struct vcpu *v = g->parent;

	if (npt_tlb[i].gen == npt_tlb_gen && npt_tlb[i].page == gpa >> 12 && (!write || npt_tlb[i].writable)) {
		*out = npt_tlb[i].hpage | (gpa & 0xfff);
		if (writable)
			*writable = npt_tlb[i].writable;
		return 0;
	}
	/* Nested walks are user accesses (APM vol. 2, 15.25.5); the host's EFER.NXE decides NX. */
	if (svm_npt_translate(&nbvmm_shadow_ops, v, g->ncr3, (ns.host.efer & X86_EFER_NXE) != 0, v->maxphyaddr, gpa,
			      write ? PF_EC_W : 0, false, &w, &info1) != 0)
		return -1;
	npt_wp_walk(v, &w);
	npt_tlb[i].page = gpa >> 12;
	npt_tlb[i].hpage = w.gpa & ~0xfffull;
	npt_tlb[i].writable = w.writable;
	npt_tlb[i].gen = npt_tlb_gen;
	*out = w.gpa;
	if (writable)
		*writable = w.writable;
	return 0;
}

/*
 * The nested guest's shadow paging at VMRUN. Its own page tables are write-protected in its
 * shadow, so its edits are seen; but the hypervisor may edit them, or the nested page table,
 * without nbvmm seeing it (they are ordinary memory of the hypervisor's). The architecture makes
 * the hypervisor flush the TLB for such changes to take effect (APM vol. 2, 15.16: TLB_CONTROL,
 * a new ASID, INVLPGA), and nbvmm's shadow is that TLB: dropped when TLB_CONTROL asks, when the
 * ASID or the nested page table changes, kept otherwise.
 */
static bool same_paging(const struct gpt_mode *a, const struct gpt_mode *b)
{
	return a->paging == b->paging && a->cr3 == b->cr3 && a->cr0_wp == b->cr0_wp && a->cr4_pse == b->cr4_pse &&
	       a->efer_nxe == b->efer_nxe && a->maxphyaddr == b->maxphyaddr;
}

static int nested_svm_load_paging(struct vcpu *g, const struct vmcb_control *c)
{
	struct gpt_mode mode;
	bool flush = c->tlb_ctl != VMCB_TLB_CONTROL_DO_NOTHING || c->asid != ns.asid || c->nested_ctl != ns.nested_ctl ||
		     c->nested_cr3 != ns.ncr3;

	ns.asid = c->asid;
	ns.nested_ctl = c->nested_ctl;
	ns.ncr3 = c->nested_cr3;
	gpt_mode_from_regs(&mode, g->vmcb.save.cr0, g->vmcb.save.cr3, g->vmcb.save.cr4, g->vmcb.save.efer,
			   g->maxphyaddr);
	if (!ns.spt_ready) {
		if (spt_init(&g->spt, &nbvmm_shadow_ops, g, &mode) < 0 ||
		    spt_map_host_slot(&g->spt, nbvmm_slot, virt_to_phys(nbvmm_pdpt)) < 0)
			return -1;
		ns.spt_ready = true;
		return 0;
	}
	if (flush)
		npt_tlb_gen++;
	/* Under the VMRUN engine the CPU stays on the nested guest's shadow root while its
	 * hypervisor runs: off it before spt may free it. */
	if (g->parent->svm_engine && (flush || !same_paging(&mode, &g->spt.mode)))
		cpu_use_own_tables();
	if (spt_set_mode(&g->spt, &mode) < 0)
		return -1;
	if (flush)
		spt_zap_all(&g->spt);
	return 0;
}

/* EVENTINJ: the event VMRUN delivers into the nested guest before its first instruction (APM
 * vol. 2, 15.20). Injected events are not intercepted: they go straight through its IDT. */
static void nested_svm_inject_event(struct vcpu *g, uint32_t inj, uint32_t err)
{
	unsigned vector = inj & SVM_EVTINJ_VEC_MASK;

	if (!(inj & SVM_EVTINJ_VALID))
		return;
	if ((inj & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_NMI)
		vector = 2;
	deliver_event_idt(g, vector, (inj & SVM_EVTINJ_VALID_ERR) != 0, err, 0);
}

/* VMRUN (APM vol. 2, 15.5): save the host's state, load the guest's from the VMCB, honour
 * its control area, run the guest until an intercepted event. */
/* The nested guest's vCPU and the VMCB copy, from nbvmm's free pages (not its image: a guest
 * that never runs VMRUN costs nothing, and every level's image stays small). */
static int nested_svm_alloc(void)
{
	uint64_t g = ns.guest ? 0 : page_alloc_range((sizeof(struct vcpu) + 4095) & ~4095ull, 4096);
	uint64_t c = ns.vmcb12 ? 0 : page_alloc();

	if (g)
		ns.guest = phys_to_virt(g);
	if (c)
		ns.vmcb12 = phys_to_virt(c);
	return ns.guest && ns.vmcb12 ? 0 : -1;
}

int nested_svm_vmrun(struct vcpu *v, unsigned len)
{
	struct vcpu *g;
	struct vmcb *vmcb12;
	struct svm_nested_origin origin;
	struct svm_nested_caps caps;
	struct vmcb_control merged;
	uint64_t gpa = v->vmcb.save.rax;
	const char *why = "";
	struct vmcb *mem;
	int reason;

	if ((gpa & 0xfff) || !(mem = guest_phys_ptr(v, gpa, sizeof(struct vmcb))))
		return -1;
	if (nested_svm_alloc() < 0) {
		vcpu_stop(v, NB_STATUS_CRASH, "nbvmm has no memory left for a nested guest");
		return 0;
	}
	g = ns.guest;
	vmcb12 = ns.vmcb12;
	/* One copy: what is checked is what runs, whatever the hypervisor writes meanwhile. */
	memcpy(&vmcb12->control, &mem->control, offsetof(struct vmcb_control, reserved_0e0));
	memcpy(&vmcb12->save, &mem->save, sizeof(vmcb12->save));
	caps_of(v, &caps);
	reason = svm_nested_check_vmcb(vmcb12, &caps, &why);
	if (reason) {
		/* An illegal guest state: VMRUN "exits" at once with VMEXIT_INVALID and the host
		 * goes on after its VMRUN (15.5.1). */
		mem->control.exit_code = SVM_EXIT_INVALID;
		mem->control.exit_info_1 = mem->control.exit_info_2 = 0;
		trace_svm(v, NB_EV_EXIT_REFLECTED, SVM_EXIT_INVALID, (uint64_t)reason, 0, gpa, 0, 0, v->level);
		nb_printf("nbvmm: level %u VMRUN of VMCB %llx refused (VMEXIT_INVALID): %s\n", v->level - 1,
			  (unsigned long long)gpa, why);
		v->vmcb.save.rip += len;
		return 0;
	}
	ns.vmcb_gpa = gpa;
	ns.ctl = vmcb12->control;
	ns.host = v->vmcb.save;
	ns.host.rip += len;

	/* The nested guest's vCPU: its state from the VMCB; what VMLOAD covers (FS, GS, TR, LDTR and
	 * the system-call MSRs) stays as the hypervisor left it in the CPU; the general registers
	 * other than RAX and RSP are the CPU's own, shared (15.5.1). */
	g->vmcb.control.exit_code = g->vmcb.control.exit_info_1 = g->vmcb.control.exit_info_2 = 0;
	g->vmcb.control.int_state = vmcb12->control.int_state;
	g->vmcb.save = vmcb12->save;
	svm_vmload_fields(&g->vmcb.save, &v->vmcb.save);
	g->vmcb.control.int_ctl = vmcb12->control.int_ctl;
	g->vmcb.control.int_vector = vmcb12->control.int_vector;
	g->vmcb.control.tsc_offset = v->vmcb.control.tsc_offset + vmcb12->control.tsc_offset;
	g->frame = v->frame;
	g->mem_hpa = v->mem_hpa;
	g->mem_size = v->mem_size;
	g->level = v->level + 1;
	g->vm_id = v->vm_id + 1;
	g->maxphyaddr = v->maxphyaddr;
	g->tsc_aux = v->tsc_aux;
	memcpy(g->dr, v->dr, sizeof(g->dr));
	g->deadline_tsc = v->deadline_tsc;
	g->parent = v;
	/* Faithful mode covers the nested guest too: on these hosts its CPUID and VMMCALL reach
	 * nbvmm, to be routed to its hypervisor, only when nbvmm steps it (l1-vmm/NOTES.md). */
	g->faithful = v->faithful;
	g->npt = (vmcb12->control.nested_ctl & SVM_NESTED_CTL_NP_ENABLE) != 0;
	g->ncr3 = vmcb12->control.nested_cr3;
	g->gif = true;
	g->stopped = false;
	g->segs_dirty = true;
	g->tlb_gen++;
	g->lapic.int_shadow_step = false;
	if (nested_svm_load_paging(g, &vmcb12->control) < 0) {
		vcpu_stop(v, NB_STATUS_CRASH, "nbvmm ran out of memory for the nested guest's shadow page tables");
		return 0;
	}
	if (!ns.vm_added) {
		static const char name[NB_HC_NAME_MAX] = "nested-guest";

		nb_hc3(NB_HC_VM_ADD, g->vm_id | (uint64_t)g->level << 16 | (uint64_t)v->vm_id << 32, v->mem_size,
		       virt_to_phys(name));
		ns.vm_added = true;
	}

	/* Traced with where each intercept came from: nbvmm's engine, the hypervisor, or both. */
	svm_nested_merge_controls(&own_needs, &vmcb12->control, &merged, &origin);
	trace_svm(g, NB_EV_VMRUN, 0,
		  origin.word[SVM_INTERCEPT_WORD_EXCEPTION].nested_only |
			  (uint64_t)origin.word[SVM_INTERCEPT_WORD_EXCEPTION].own_only << 32,
		  vmcb12->control.nested_ctl, gpa,
		  origin.word[SVM_INTERCEPT_WORD_MISC1].own_only | (uint64_t)origin.word[SVM_INTERCEPT_WORD_MISC2].own_only << 32,
		  origin.word[SVM_INTERCEPT_WORD_MISC1].nested_only |
			  (uint64_t)origin.word[SVM_INTERCEPT_WORD_MISC2].nested_only << 32,
		  v->level);

	v->gif = true; /* VMRUN sets GIF (15.17) */
	v->nested = g;
	nested_svm_inject_event(g, vmcb12->control.event_inj, vmcb12->control.event_inj_err);
	return 0;
}

/* #VMEXIT (APM vol. 2, 15.6): the guest's state and the exit's cause into the hypervisor's VMCB,
 * the hypervisor's own state back into the CPU, GIF clear. */
static void nested_svm_vmexit(struct vcpu *g, uint64_t code, uint64_t info1, uint64_t info2, uint64_t next_rip)
{
	struct vcpu *v = g->parent;
	struct vmcb *mem = guest_phys_ptr(v, ns.vmcb_gpa, sizeof(struct vmcb));

	trace_svm(g, NB_EV_EXIT_REFLECTED, code, info1, info2, ns.vmcb_gpa, 0, next_rip, v->level);
	if (mem)
		svm_nested_vmexit_fill(mem, &g->vmcb, code, info1, info2, 0, 0, next_rip);
	v->vmcb.save = ns.host;
	svm_vmload_fields(&v->vmcb.save, &g->vmcb.save);
	v->vmcb.save.cpl = 0;
	v->vmcb.save.dr7 = 0x400;
	v->gif = false;
	v->nested = NULL;
	v->segs_dirty = true;
	v->tlb_gen++;
	/* Under the VMRUN engine the hypervisor's VMLOAD loads them. */
	if (!v->svm_engine) {
		cpu_wrmsr(MSR_FS_BASE, v->vmcb.save.fs.base);
		cpu_wrmsr(MSR_GS_BASE, v->vmcb.save.gs.base);
	}
}

/* VMLOAD and VMSAVE (15.5.2): the state VMRUN and #VMEXIT leave alone, to and from a VMCB. */
int nested_svm_vmload(struct vcpu *v)
{
	const struct vmcb *mem;

	if ((v->vmcb.save.rax & 0xfff) || !(mem = guest_phys_ptr(v, v->vmcb.save.rax, sizeof(struct vmcb))))
		return -1;
	svm_vmload_fields(&v->vmcb.save, &mem->save);
	/* Under the VMRUN engine the CPU gets them with the guest's next entry. */
	if (!v->svm_engine) {
		cpu_wrmsr(MSR_FS_BASE, v->vmcb.save.fs.base);
		cpu_wrmsr(MSR_GS_BASE, v->vmcb.save.gs.base);
	}
	v->segs_dirty = true;
	return 0;
}

int nested_svm_vmsave(struct vcpu *v)
{
	struct vmcb *mem;

	if ((v->vmcb.save.rax & 0xfff) || !(mem = guest_phys_ptr(v, v->vmcb.save.rax, sizeof(struct vmcb))))
		return -1;
	svm_vmsave_fields(&mem->save, &v->vmcb.save);
	return 0;
}

/* INVLPGA (15.16.2): drop the nested guest's translation of RAX in ASID ECX. Every VMRUN starts
 * the nested guest afresh anyway; between two, nothing of it runs. */
void nested_svm_invlpga(struct vcpu *v)
{
	if (ns.spt_ready && (uint32_t)*vcpu_gpr(v, 1) == ns.ctl.asid) {
		spt_invlpg(&ns.guest->spt, v->vmcb.save.rax);
		npt_tlb_gen++;
	}
}

struct vcpu *nested_svm_prepare_entry(struct vcpu *v)
{
	struct vcpu *g = v->nested;

	if (!g)
		return v;
	/* A physical interrupt of the hypervisor's machine (its APIC is nbvmm's vlapic of v) with
	 * GIF set and, under V_INTR_MASKING, the host's IF (15.21.1): #VMEXIT(INTR) when
	 * intercepted. Otherwise it waits for the hypervisor (nbvmm does not deliver the
	 * hypervisor's interrupts into its guest). */
	if (v->gif && (ns.ctl.intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_INTR) && vlapic_pending(v) >= 0) {
		nested_svm_vmexit(g, SVM_EXIT_INTR, 0, 0, 0);
		return v;
	}
	/* V_IRQ: the virtual interrupt the hypervisor posted, taken when the guest's IF and
	 * priority allow (15.21.4), or a #VMEXIT(VINTR) when that is intercepted. */
	if ((g->vmcb.control.int_ctl & V_IRQ_MASK) && (g->vmcb.save.rflags & X86_RFLAGS_IF) &&
	    !g->lapic.int_shadow_step &&
	    ((g->vmcb.control.int_ctl & V_IGN_TPR_MASK) ||
	     ((g->vmcb.control.int_ctl & V_INTR_PRIO_MASK) >> V_INTR_PRIO_SHIFT) > (g->vmcb.control.int_ctl & V_TPR_MASK))) {
		if (ns.ctl.intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_VINTR) {
			nested_svm_vmexit(g, SVM_EXIT_VINTR, 0, 0, 0);
			return v;
		}
		g->vmcb.control.int_ctl &= ~V_IRQ_MASK;
		deliver_event_idt(g, g->vmcb.control.int_vector & V_INTR_VECTOR_MASK, false, 0, 0);
	}
	return g;
}

/* EXITINFO1 of an IOIO intercept (15.10.2). */
static uint64_t ioio_info(struct vcpu *g, const struct insn *in)
{
	bool str = in->mnemonic == INSN_INS || in->mnemonic == INSN_OUTS;
	unsigned size = in->opcode & 1 ? (in->opsize == 2 ? 2 : 4) : 1;
	uint64_t port = in->imm_size ? in->imm & 0xff : *vcpu_gpr(g, 2) & 0xffff;
	uint64_t info = port << SVM_IOIO_PORT_SHIFT;

	if (in->mnemonic == INSN_IN || in->mnemonic == INSN_INS)
		info |= SVM_IOIO_TYPE_IN;
	if (str)
		info |= SVM_IOIO_STR | ((uint64_t)(in->seg == INSN_SEG_NONE ? INSN_SEG_DS : in->seg) << SVM_IOIO_SEG_SHIFT);
	if (in->prefixes & INSN_P_REP)
		info |= SVM_IOIO_REP;
	info |= size == 1 ? SVM_IOIO_SIZE8 : size == 2 ? SVM_IOIO_SIZE16 : SVM_IOIO_SIZE32;
	info |= in->addrsize == 2 ? SVM_IOIO_ADDR16 : in->addrsize == 4 ? SVM_IOIO_ADDR32 : SVM_IOIO_ADDR64;
	return info;
}

/* Instructions that raise #GP at CPL > 0 before any intercept is checked. */
static bool needs_cpl0(unsigned m)
{
	switch (m) {
	case INSN_HLT: case INSN_MOV_FROM_CR: case INSN_MOV_TO_CR: case INSN_MOV_FROM_DR: case INSN_MOV_TO_DR:
	case INSN_LGDT: case INSN_LIDT: case INSN_LLDT: case INSN_LTR: case INSN_RDMSR: case INSN_WRMSR:
	case INSN_INVLPG: case INSN_INVD: case INSN_WBINVD: case INSN_CLTS: case INSN_LMSW:
	case INSN_VMRUN: case INSN_VMLOAD: case INSN_VMSAVE: case INSN_STGI: case INSN_CLGI: case INSN_INVLPGA:
	case INSN_SKINIT:
		return true;
	default:
		return false;
	}
}

bool nested_svm_route_insn(struct vcpu *g, const struct insn *in)
{
	const struct vmcb_save_area *s = &g->vmcb.save;
	uint64_t code = emulate_svm_exit_code(in, 0), info1 = 0, info2 = 0;
	uint32_t ecx = (uint32_t)*vcpu_gpr(g, 1);

	if (!code || (needs_cpl0(in->mnemonic) && s->cpl != 0))
		return false;
	switch (in->mnemonic) {
	case INSN_IN: case INSN_OUT: case INSN_INS: case INSN_OUTS:
		if (s->cpl > ((s->rflags >> 12) & 3))
			return false; /* the TSS permission check comes first and raises #GP */
		info1 = ioio_info(g, in);
		info2 = s->rip + in->len; /* the RIP after the IN or OUT (15.10.2) */
		break;
	case INSN_WRMSR:
		info1 = 1;
		break;
	case INSN_MOV_TO_CR:
		/* Without the CR0 write intercept, the selective one catches writes that change
		 * more than TS and MP (15.9.2). */
		if (in->reg == 0 && !(ns.ctl.intercept_cr & VMCB_INTERCEPT_CR_WRITE(0)) &&
		    ((*vcpu_gpr(g, in->rm) ^ s->cr0) & ~0xaull))
			code = SVM_EXIT_CR0_SEL_WRITE;
		break;
	default:
		break;
	}
	if (!svm_nested_exit_wanted(&ns.ctl, code, info1, ecx, &nbvmm_shadow_ops, g->parent))
		return false;
	/* The exit happens before the instruction: RIP at it, next RIP after it (NRIPS). */
	nested_svm_vmexit(g, code, info1, info2, s->rip + in->len);
	return true;
}

bool nested_svm_route_exception(struct vcpu *g, unsigned vector, uint32_t err)
{
	if (vector >= 32 || !(ns.ctl.intercept_exceptions & (1u << vector)))
		return false;
	nested_svm_vmexit(g, SVM_EXIT_EXCP_DE + vector, x86_vector_has_error_code(vector) ? err : 0,
			  vector == X86_VEC_PF ? g->vmcb.save.cr2 : 0, 0);
	return true;
}

void nested_svm_npf(struct vcpu *g, uint64_t gpa, unsigned access, bool guest_table)
{
	struct vcpu *v = g->parent;
	struct gpt_walk w;
	uint64_t info1 = 0;

	if (g->npt && svm_npt_translate(&nbvmm_shadow_ops, v, g->ncr3, (ns.host.efer & X86_EFER_NXE) != 0, v->maxphyaddr,
					gpa, access, guest_table, &w, &info1) == SVM_NPT_FAULT) {
		/* The tables the fault was found in: the hypervisor's fix will be seen. */
		npt_wp_walk(v, &w);
		nested_svm_vmexit(g, SVM_EXIT_NPF, info1, gpa, 0);
		return;
	}
	/* Mapped, but past the hypervisor's RAM: no memory of nbvmm's (nor anyone's) answers there.
	 * Reads see all ones and writes go nowhere, as on a bus (emulate_mmio); the guest's own
	 * tables there cannot be walked, which is a shutdown. */
	if (guest_table) {
		vcpu_shutdown(g, "the nested guest's page tables lie outside its hypervisor's memory");
		return;
	}
	emulate_mmio(g, gpa);
}

void nested_svm_after_exit(struct vcpu *g)
{
	struct vcpu *v = g->parent;

	if (!g->stopped)
		return;
	g->stopped = false;
	if (g->exit_status != NB_STATUS_CRASH) {
		/* nbvmm stopped it (its time limit): the whole machine stops. */
		v->nested = NULL;
		vcpu_stop(v, g->exit_status, "stopped while running its nested guest");
		return;
	}
	if (ns.ctl.intercept_misc1 & VMCB_CTRL_INTERCEPT_MISC1_SHUTDOWN) {
		nested_svm_vmexit(g, SVM_EXIT_SHUTDOWN, 0, 0, 0);
		return;
	}
	/* Not intercepted, a shutdown of the guest is one of the machine (15.12). */
	v->nested = NULL;
	vcpu_shutdown(v, "its nested guest shut down, and it does not intercept SHUTDOWN");
}
