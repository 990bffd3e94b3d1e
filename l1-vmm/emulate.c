/*
 * Emulation of the instructions a deprivileged guest kernel cannot run itself. The guest runs in
 * ring 3, so each of them faults (#GP, or #UD where the host's emulator gives up, see
 * PLATFORM.md); nbvmm decodes the instruction at the guest's RIP, checks it against the guest's
 * virtual CPL as the CPU would, applies it to the virtual state in the VMCB and moves RIP on.
 * Anything that is not privileged-but-legal is delivered back to the guest as the exception
 * the real CPU raised, so a guest sees what it would see on bare metal.
 */
#include <string.h>

#include "guests/lib/nbguest.h"
#include "guests/lib/nbkernel.h"
#include "l1-vmm/cpu.h"
#include "l1-vmm/deliver.h"
#include "l1-vmm/exits.h"
#include "l1-vmm/guest_mem.h"
#include "l1-vmm/layout.h"
#include "l1-vmm/nested_svm.h"
#include "l1-vmm/page_alloc.h"
#include "l1-vmm/trace.h"
#include "l1-vmm/vlapic.h"
#include "shadow/insn_decode.h"

#define MSR_TSC 0x10
#define MSR_APIC_BASE 0x1b
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_PAT 0x277
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103
#define MSR_PLATFORM_INFO 0xce
#define MSR_MISC_FEATURES_ENABLES 0x140
#define PLATFORM_INFO_CPUID_FAULTING (1ull << 31)
#define MISC_FEATURES_CPUID_FAULT 1ull

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define EFER_SVME (1ull << 12)
#define CR0_PE (1ull << 0)
#define CR0_TS (1ull << 3)
#define CR0_PG (1ull << 31)
#define CR4_PCIDE (1ull << 17)
#define CR4_TSD (1ull << 2)

/* The emulator's working state for one trapped instruction. */
struct emu {
	struct vcpu *v;
	struct insn in;
	uint8_t bytes[INSN_MAX_LEN];
	unsigned nbytes;
};

static enum insn_cpu_mode code_mode(const struct vcpu *v)
{
	const struct vmcb_save_area *s = &v->vmcb.save;

	if ((s->efer & EFER_LMA) && (s->cs.attrib & VMCB_SEG_ATTR_L))
		return INSN_MODE_64;
	return (s->cs.attrib & VMCB_SEG_ATTR_DB) ? INSN_MODE_32 : INSN_MODE_16;
}

/* Reads the bytes of the instruction at RIP into e->bytes: guest_virt_access's result (0, 1 for
 * a #PF with pf_ec and pf_addr, negative outside guest memory). */
static int fetch_bytes(struct emu *e, uint32_t *pf_ec, uint64_t *pf_addr)
{
	struct vcpu *v = e->v;
	uint64_t rip = v->vmcb.save.cs.base + v->vmcb.save.rip;
	unsigned n = INSN_MAX_LEN;
	int rc;

	/* The instruction may end before a page the guest has not mapped: shorten and retry. */
	for (;;) {
		rc = guest_virt_access(v, rip, e->bytes, n, GUEST_ACC_FETCH, pf_ec, pf_addr);
		if (rc == 0 || n == 1)
			break;
		n = 4096 - (rip & 4095) < n ? 4096 - (rip & 4095) : n - 1;
	}
	e->nbytes = rc == 0 ? n : 0;
	return rc;
}

/* Fetches and decodes the instruction at RIP. 0, or 1 when an exception was delivered. */
static int fetch(struct emu *e)
{
	struct vcpu *v = e->v;
	uint64_t pf_addr;
	uint32_t pf_ec;
	int rc = fetch_bytes(e, &pf_ec, &pf_addr);

	if (rc == 1) {
		v->vmcb.save.cr2 = pf_addr;
		deliver_event(v, X86_VEC_PF, true, pf_ec, 0);
		return 1;
	}
	if (rc < 0 || insn_decode(e->bytes, e->nbytes, code_mode(v), &e->in) != 0) {
		deliver_event(v, X86_VEC_UD, false, 0, 0);
		return 1;
	}
	return 0;
}

static uint64_t reg_get(struct emu *e, unsigned r, unsigned size)
{
	uint64_t val;

	/* Without REX, byte registers 4-7 are AH, CH, DH, BH. */
	if (size == 1 && insn_gpr8(&e->in, r) >= 16)
		return (*vcpu_gpr(e->v, r - 4) >> 8) & 0xff;
	val = *vcpu_gpr(e->v, r);
	return size == 8 ? val : val & ((1ull << (size * 8)) - 1);
}

static void reg_set(struct emu *e, unsigned r, unsigned size, uint64_t val)
{
	uint64_t *p;

	if (size == 1 && insn_gpr8(&e->in, r) >= 16) {
		p = vcpu_gpr(e->v, r - 4);
		*p = (*p & ~0xff00ull) | ((val & 0xff) << 8);
		return;
	}
	p = vcpu_gpr(e->v, r);
	if (size == 8 || size == 4)
		*p = size == 4 ? (uint32_t)val : val; /* 32-bit writes zero-extend */
	else
		*p = (*p & ~((1ull << (size * 8)) - 1)) | (val & ((1ull << (size * 8)) - 1));
}

static uint64_t mem_addr(struct emu *e)
{
	const struct insn *in = &e->in;
	struct vmcb_save_area *s = &e->v->vmcb.save;
	uint64_t a = (uint64_t)in->mem.disp;

	if (in->mem.base == INSN_REG_RIP)
		a += s->rip + in->len;
	else if (in->mem.base != INSN_REG_NONE)
		a += *vcpu_gpr(e->v, (unsigned)in->mem.base);
	if (in->mem.index != INSN_REG_NONE)
		a += *vcpu_gpr(e->v, (unsigned)in->mem.index) * in->mem.scale;
	if (in->addrsize == 4)
		a = (uint32_t)a;
	else if (in->addrsize == 2)
		a = (uint16_t)a;
	/* In 64-bit mode only FS and GS have bases (APM vol. 2, 4.5.3); elsewhere every segment does. */
	if (in->mem.seg == INSN_SEG_FS)
		a += s->fs.base;
	else if (in->mem.seg == INSN_SEG_GS)
		a += s->gs.base;
	else if (in->mode != INSN_MODE_64) {
		const struct vmcb_seg *segs[4] = {&s->es, &s->cs, &s->ss, &s->ds};
		if (in->mem.seg < 4)
			a = (uint32_t)(a + segs[in->mem.seg]->base);
	}
	return a;
}

/* Guest-virtual access on behalf of the instruction; 1 when it faulted (#PF delivered). */
static int mem_access(struct emu *e, uint64_t gva, void *buf, unsigned len, unsigned acc)
{
	uint64_t pf_addr;
	uint32_t pf_ec;
	int rc = guest_virt_access(e->v, gva, buf, len, acc, &pf_ec, &pf_addr);

	if (rc == 1) {
		e->v->vmcb.save.cr2 = pf_addr;
		deliver_event(e->v, X86_VEC_PF, true, pf_ec, 0);
		return 1;
	}
	if (rc < 0) {
		vcpu_shutdown(e->v, "the guest's page tables point outside its memory");
		return 1;
	}
	return 0;
}

static void next(struct emu *e)
{
	e->v->vmcb.save.rip += e->in.len;
}

static void gp0(struct emu *e)
{
	deliver_event(e->v, X86_VEC_GP, true, 0, 0);
}

/* The stack pointer's width: 64-bit mode, else SS.B (APM vol. 2, 4.7.3). */
static unsigned stack_width(const struct vcpu *v)
{
	const struct vmcb_save_area *s = &v->vmcb.save;

	if (code_mode(v) == INSN_MODE_64)
		return 8;
	return (s->ss.attrib & VMCB_SEG_ATTR_DB) ? 4 : 2;
}

static uint64_t stack_address(const struct vcpu *v, uint64_t rsp)
{
	const struct vmcb_save_area *s = &v->vmcb.save;
	unsigned w = stack_width(v);

	return w == 8 ? rsp : (uint32_t)(s->ss.base + (w == 4 ? (uint32_t)rsp : (uint16_t)rsp));
}

/* New RSP after moving it by delta, within the stack's width. */
static uint64_t stack_move(const struct vcpu *v, int64_t delta)
{
	uint64_t rsp = v->vmcb.save.rsp, moved = rsp + (uint64_t)delta;
	unsigned w = stack_width(v);

	if (w == 8)
		return moved;
	return w == 4 ? (uint32_t)moved : (rsp & ~0xffffull) | (uint16_t)moved;
}

/* Operand size of PUSH, POP, PUSHF, POPF: 64 bits by default in 64-bit mode, 16 with a 66
 * prefix (APM vol. 3, 1.2.5); elsewhere as decoded. */
static unsigned stack_opsize(const struct emu *e)
{
	if (e->in.mode == INSN_MODE_64)
		return (e->in.prefixes & INSN_P_OPSIZE) ? 2 : 8;
	return e->in.opsize;
}

/* PUSH of size bytes on the guest's stack; 1 when it faulted (#PF delivered). */
static int stack_push(struct emu *e, uint64_t val, unsigned size)
{
	uint64_t rsp = stack_move(e->v, -(int64_t)size);

	if (mem_access(e, stack_address(e->v, rsp), &val, size, GUEST_ACC_WRITE))
		return 1;
	e->v->vmcb.save.rsp = rsp;
	return 0;
}

/* Privileged instructions need virtual CPL 0; elsewhere they raise #GP(0), as on hardware. */
static int cpl0(struct emu *e)
{
	if (vcpu_cpl(e->v) == 0)
		return 1;
	gp0(e);
	return 0;
}

static void mode_changed(struct vcpu *v)
{
	v->tlb_gen++;
	struct gpt_mode m;
	struct vmcb_save_area *s = &v->vmcb.save;

	gpt_mode_from_regs(&m, s->cr0, s->cr3, s->cr4, s->efer, v->maxphyaddr);
	cpu_use_own_tables();
	spt_set_mode(&v->spt, &m);
}

static int write_cr(struct emu *e, unsigned cr, uint64_t val)
{
	struct vmcb_save_area *s = &e->v->vmcb.save;
	uint64_t old;

	e->v->tlb_gen++; /* CR0.WP, CR4.SMEP... change what a walk allows */

	switch (cr) {
	case 0:
		old = s->cr0;
		if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)))
			return -1;
		s->cr0 = val | 0x10; /* ET is hardwired */
		if ((val & CR0_PG) && (s->efer & EFER_LME))
			s->efer |= EFER_LMA;
		else if (!(val & CR0_PG))
			s->efer &= ~EFER_LMA;
		if ((old ^ s->cr0) & (CR0_PG | CR0_PE | (1ull << 16)))
			mode_changed(e->v);
		return 0;
	case 2:
		s->cr2 = val;
		return 0;
	case 3:
		/* Address bits above MAXPHYADDR are reserved (bit 63 means "no flush" with PCIDE). */
		if ((s->efer & EFER_LMA) &&
		    (val & ~((1ull << e->v->maxphyaddr) - 1) & ~((s->cr4 & CR4_PCIDE) ? 1ull << 63 : 0)))
			return -1;
		s->cr3 = val;
		cpu_use_own_tables();
		spt_cr3_switch(&e->v->spt, val);
		return 0;
	case 4:
		if (val & ~NBVMM_CR4_VALID)
			return -1;
		old = s->cr4;
		s->cr4 = val;
		if ((old ^ val) & 0xb0) /* PSE, PAE, PGE */
			mode_changed(e->v);
		return 0;
	case 8:
		if (val > 15)
			return -1;
		e->v->vmcb.control.int_ctl = (e->v->vmcb.control.int_ctl & ~V_TPR_MASK) | (uint32_t)val;
		return 0;
	default:
		return -1;
	}
}

static int read_cr(struct emu *e, unsigned cr, uint64_t *val)
{
	struct vmcb_save_area *s = &e->v->vmcb.save;

	switch (cr) {
	case 0: *val = s->cr0; return 0;
	case 2: *val = s->cr2; return 0;
	case 3: *val = s->cr3; return 0;
	case 4: *val = s->cr4; return 0;
	case 8: *val = e->v->vmcb.control.int_ctl & V_TPR_MASK; return 0;
	default: return -1;
	}
}

static int rdmsr(struct emu *e, uint32_t msr, uint64_t *val)
{
	struct vmcb_save_area *s = &e->v->vmcb.save;

	switch (msr) {
	case MSR_TSC: *val = nb_rdtsc() + e->v->vmcb.control.tsc_offset; return 0;
	case MSR_APIC_BASE: *val = 0xfee00900ull; return 0; /* enabled, bootstrap processor */
	case MSR_SYSENTER_CS: *val = s->sysenter_cs; return 0;
	case MSR_SYSENTER_ESP: *val = s->sysenter_esp; return 0;
	case MSR_SYSENTER_EIP: *val = s->sysenter_eip; return 0;
	case MSR_PAT: *val = s->g_pat; return 0;
	case MSR_EFER: *val = s->efer; return 0;
	case MSR_STAR: *val = s->star; return 0;
	case MSR_LSTAR: *val = s->lstar; return 0;
	case MSR_CSTAR: *val = s->cstar; return 0;
	case MSR_SFMASK: *val = s->sfmask; return 0;
	case MSR_FS_BASE: *val = s->fs.base; return 0;
	case MSR_GS_BASE: *val = s->gs.base; return 0;
	case MSR_KERNEL_GS_BASE: *val = s->kernel_gs_base; return 0;
	case MSR_TSC_AUX: *val = e->v->tsc_aux; return 0;
	case MSR_VM_CR: *val = 0; return 0; /* SVM not disabled, not locked */
	case MSR_VM_HSAVE_PA: *val = e->v->vm_hsave_pa; return 0;
	/* CPUID faulting (bit 31) is offered only in faithful mode, where nbvmm sees every CPUID
	 * before it runs: on these hosts CPUID faulting has no effect in ring 3 (NOTES.md). */
	case MSR_PLATFORM_INFO: *val = e->v->faithful ? PLATFORM_INFO_CPUID_FAULTING : 0; return 0;
	case MSR_MISC_FEATURES_ENABLES: *val = e->v->cpuid_faulting ? MISC_FEATURES_CPUID_FAULT : 0; return 0;
	default: return -1; /* unknown MSRs raise #GP, as on hardware */
	}
}

static int canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static int wrmsr(struct emu *e, uint32_t msr, uint64_t val)
{
	struct vmcb_save_area *s = &e->v->vmcb.save;
	uint64_t old;

	switch (msr) {
	case MSR_TSC: e->v->vmcb.control.tsc_offset = val - nb_rdtsc(); return 0;
	case MSR_APIC_BASE: return val == 0xfee00900ull ? 0 : -1; /* relocation is not emulated */
	case MSR_SYSENTER_CS: s->sysenter_cs = val; return 0;
	case MSR_SYSENTER_ESP: s->sysenter_esp = val; return 0;
	case MSR_SYSENTER_EIP: s->sysenter_eip = val; return 0;
	case MSR_PAT: s->g_pat = val; return 0;
	case MSR_EFER:
		/* Setting an undefined bit is #GP; SVME exists (virtual SVM). LMA is read-only;
		 * LME may not change while paging is on. */
		if (val & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME))
			return -1;
		if ((s->cr0 & CR0_PG) && ((val ^ s->efer) & EFER_LME))
			return -1;
		old = s->efer;
		s->efer = (val & ~EFER_LMA) | (s->efer & EFER_LMA);
		if ((old ^ s->efer) & EFER_NXE)
			mode_changed(e->v);
		return 0;
	case MSR_STAR: s->star = val; return 0;
	case MSR_LSTAR: if (!canonical(val)) return -1; s->lstar = val; return 0;
	case MSR_CSTAR: if (!canonical(val)) return -1; s->cstar = val; return 0;
	case MSR_SFMASK: s->sfmask = (uint32_t)val; return 0;
	case MSR_FS_BASE:
		if (!canonical(val))
			return -1;
		s->fs.base = val;
		cpu_wrmsr(MSR_FS_BASE, val); /* the guest's ring-3 code uses the real one */
		return 0;
	case MSR_GS_BASE:
		if (!canonical(val))
			return -1;
		s->gs.base = val;
		cpu_wrmsr(MSR_GS_BASE, val);
		return 0;
	case MSR_KERNEL_GS_BASE: if (!canonical(val)) return -1; s->kernel_gs_base = val; return 0;
	case MSR_VM_CR: return val ? -1 : 0; /* nothing to disable or lock here */
	case MSR_VM_HSAVE_PA:
		/* Page-aligned and inside the physical address space (APM vol. 2, 15.30.4). nbvmm
		 * keeps the host state privately; the page is only checked, never written. */
		if ((val & 0xfff) || (val >> e->v->maxphyaddr))
			return -1;
		e->v->vm_hsave_pa = val;
		return 0;
	case MSR_MISC_FEATURES_ENABLES:
		if (val & ~(e->v->faithful ? MISC_FEATURES_CPUID_FAULT : 0))
			return -1;
		e->v->cpuid_faulting = val != 0;
		return 0;
	case MSR_TSC_AUX:
		e->v->tsc_aux = (uint32_t)val;
		/* RDTSCP reads it natively in ring 3; where the host refuses the MSR (PVM does),
		 * RDTSCP in the guest shows the host's value: a measured deviation. */
		nbvmm_wrmsr_safe(MSR_TSC_AUX, (uint32_t)val);
		return 0;
	default: return -1;
	}
}

/* IRET, far RET (AMD APM vol. 3): a return to the same or an outer level, with a new CS from
 * the guest's GDT. 64-bit IRET always pops SS:RSP; otherwise only a change of level does. */
static void far_return(struct emu *e, int iret)
{
	struct vcpu *v = e->v;
	struct vmcb_save_area *s = &v->vmcb.save;
	unsigned w = e->in.opsize < 4 && iret ? 4 : e->in.opsize, n = iret ? 3 : 2, i;
	uint64_t raw[5] = {0}, rflags = s->rflags, release = e->in.imm_size ? e->in.imm : 0;
	uint8_t buf[40];
	struct vmcb_seg cs;
	unsigned new_cpl;
	int outer;

	if (mem_access(e, s->rsp, buf, n * w, 0))
		return;
	for (i = 0; i < n; i++)
		memcpy(&raw[i], buf + i * w, w);
	new_cpl = raw[1] & 3;
	if (new_cpl < s->cpl || guest_load_descriptor(v, (uint16_t)raw[1], &cs, 0) < 0 ||
	    !(cs.attrib & VMCB_SEG_ATTR_P)) {
		deliver_event(v, X86_VEC_GP, true, (uint32_t)raw[1] & 0xfffc, 0);
		return;
	}
	outer = new_cpl != s->cpl || (iret && code_mode(v) == INSN_MODE_64);
	if (outer) {
		if (mem_access(e, s->rsp + n * w + release, buf, 2 * w, 0))
			return;
		memcpy(&raw[3], buf, w);
		memcpy(&raw[4], buf + w, w);
	}
	if (iret) {
		/* IOPL changes only at CPL 0, IF only at CPL <= IOPL (APM vol. 3, IRET). */
		uint64_t keep = X86_RFLAGS_VM | X86_RFLAGS_FIXED;
		if (s->cpl != 0)
			keep |= X86_RFLAGS_IOPL;
		if (s->cpl > ((s->rflags >> 12) & 3))
			keep |= X86_RFLAGS_IF;
		rflags = (raw[2] & ~keep & 0x3f7fd7ull) | (s->rflags & keep) | X86_RFLAGS_FIXED;
	}
	if (outer) {
		s->rsp = raw[3] + release;
		s->ss.selector = (uint16_t)raw[4];
	} else {
		s->rsp += n * w + release; /* RET imm16 also releases the caller's parameters */
	}
	s->rip = (cs.attrib & VMCB_SEG_ATTR_L) ? raw[0] : (uint32_t)raw[0];
	s->cs = cs;
	s->cpl = (uint8_t)new_cpl;
	s->rflags = rflags;
	if (outer && guest_load_descriptor(v, s->ss.selector, &s->ss, 0) < 0)
		s->ss.selector = (uint16_t)raw[4]; /* a null SS (64-bit) has no descriptor */
	v->segs_dirty = true;
}

/* Far JMP and CALL (direct ptr16:32, or indirect m16:32/64) to a code segment at the same level:
 * how a guest enters 64-bit code from compatibility mode and back (APM vol. 2, 14.6.1). */
static void far_transfer(struct emu *e, int call)
{
	struct vcpu *v = e->v;
	struct vmcb_save_area *s = &v->vmcb.save;
	unsigned w = e->in.opsize;
	uint64_t off = 0, push[2];
	uint16_t sel;
	struct vmcb_seg cs;
	uint8_t buf[16];

	if (e->in.has_mem) {
		if (mem_access(e, mem_addr(e), buf, w + 2, 0))
			return;
		memcpy(&off, buf, w);
		memcpy(&sel, buf + w, 2);
	} else {
		off = e->in.imm;
		sel = e->in.imm2;
	}
	/* Code segment, present, non-conforming at the current level (or conforming at or below). */
	if (guest_load_descriptor(v, sel, &cs, 0) < 0 || !(cs.attrib & VMCB_SEG_ATTR_S) || !(cs.attrib & 0x8) ||
	    (!(cs.attrib & 0x4) && ((cs.attrib >> VMCB_SEG_ATTR_DPL_SHIFT) & 3) != s->cpl) ||
	    !(cs.attrib & VMCB_SEG_ATTR_P)) {
		deliver_event(v, X86_VEC_GP, true, sel & 0xfffc, 0);
		return;
	}
	if (call) {
		push[0] = s->rip + e->in.len;
		push[1] = s->cs.selector;
		memcpy(buf, &push[0], w);
		memcpy(buf + w, &push[1], w);
		if (mem_access(e, s->rsp - 2 * w, buf, 2 * w, GUEST_ACC_WRITE))
			return;
		s->rsp -= 2 * w;
	}
	s->cs = cs;
	s->cs.selector = (uint16_t)((sel & ~3u) | s->cpl);
	s->rip = (cs.attrib & VMCB_SEG_ATTR_L) && (s->efer & EFER_LMA) ? off : (uint32_t)off;
}

static void emulate_io(struct emu *e)
{
	struct vcpu *v = e->v;
	struct vmcb_save_area *s = &v->vmcb.save;
	const struct insn *in = &e->in;
	unsigned size = in->opsize > 4 ? 4 : in->opsize;
	/* E4-E7 name the port in an immediate; EC-EF and INS/OUTS take it from DX. */
	uint16_t port = in->opcode >= 0xe4 && in->opcode <= 0xe7 ? (uint16_t)in->imm : (uint16_t)*vcpu_gpr(v, 2);
	uint64_t count = 1, addr;
	uint32_t val;

	/* Port I/O needs CPL <= IOPL; nbvmm offers no I/O permission bitmap. */
	if (s->cpl > ((s->rflags >> 12) & 3)) {
		gp0(e);
		return;
	}
	v->vmcb.control.exit_info_1 = (uint64_t)port << SVM_IOIO_PORT_SHIFT | (size << 4) |
				      (in->mnemonic == INSN_IN || in->mnemonic == INSN_INS ? SVM_IOIO_TYPE_IN : 0);
	if (in->mnemonic == INSN_IN) {
		reg_set(e, 0, size, io_in(v, port, size));
	} else if (in->mnemonic == INSN_OUT) {
		io_out(v, port, size, (uint32_t)reg_get(e, 0, size));
	} else {
		int df = s->rflags & X86_RFLAGS_DF;
		if ((in->prefixes & (INSN_P_REP | INSN_P_REPNE)))
			count = reg_get(e, 1, in->addrsize);
		for (; count; count--) {
			if (in->mnemonic == INSN_OUTS) {
				addr = reg_get(e, 6, in->addrsize) + (in->seg == INSN_SEG_FS ? s->fs.base : in->seg == INSN_SEG_GS ? s->gs.base : 0);
				val = 0;
				if (mem_access(e, addr, &val, size, 0))
					return;
				io_out(v, port, size, val);
				reg_set(e, 6, in->addrsize, reg_get(e, 6, in->addrsize) + (df ? -size : size));
			} else {
				val = io_in(v, port, size);
				if (mem_access(e, reg_get(e, 7, in->addrsize), &val, size, GUEST_ACC_WRITE))
					return;
				reg_set(e, 7, in->addrsize, reg_get(e, 7, in->addrsize) + (df ? -size : size));
			}
			if ((in->prefixes & (INSN_P_REP | INSN_P_REPNE)))
				reg_set(e, 1, in->addrsize, count - 1);
		}
	}
	next(e);
}

/* The guest's GDT must not hold usable ring-3 descriptors where nbvmm's own are (layout.h):
 * reloading CS or SS through them would not trap. Say so if it does. */
static void check_guest_gdt(struct vcpu *v)
{
	uint16_t sel;
	struct vmcb_seg seg;

	for (sel = NBVMM_USER_CS32; sel <= NBVMM_USER_CS; sel += 8)
		if (guest_load_descriptor(v, sel, &seg, 0) == 0 && (seg.attrib & VMCB_SEG_ATTR_P) &&
		    ((seg.attrib >> VMCB_SEG_ATTR_DPL_SHIFT) & 3) == 3)
			nb_printf("nbvmm: warning: the guest's GDT entry 0x%x is a ring-3 segment where nbvmm's "
				  "own are; its privilege changes through it would go unseen\n", sel);
}

static void emulate_descriptor_table(struct emu *e)
{
	struct vmcb_save_area *s = &e->v->vmcb.save;
	struct vmcb_seg *t = e->in.mnemonic == INSN_LGDT || e->in.mnemonic == INSN_SGDT ? &s->gdtr : &s->idtr;
	unsigned base_size = code_mode(e->v) == INSN_MODE_64 ? 8 : 4;
	uint8_t buf[10] = {0};
	uint64_t addr = mem_addr(e), base = 0;

	if (e->in.mnemonic == INSN_LGDT || e->in.mnemonic == INSN_LIDT) {
		if (!cpl0(e) || mem_access(e, addr, buf, 2 + base_size, 0))
			return;
		memcpy(&base, buf + 2, base_size);
		if (base_size == 8 && !canonical(base)) {
			gp0(e);
			return;
		}
		t->limit = buf[0] | buf[1] << 8;
		t->base = base;
		if (e->in.mnemonic == INSN_LGDT)
			check_guest_gdt(e->v);
	} else {
		buf[0] = (uint8_t)t->limit;
		buf[1] = (uint8_t)(t->limit >> 8);
		memcpy(buf + 2, &t->base, base_size);
		if (mem_access(e, addr, buf, 2 + base_size, GUEST_ACC_WRITE))
			return;
	}
	next(e);
}

static uint64_t rm_value(struct emu *e, unsigned size, int *faulted)
{
	uint64_t v = 0;

	*faulted = 0;
	if (!e->in.has_mem)
		return reg_get(e, e->in.rm, size);
	*faulted = mem_access(e, mem_addr(e), &v, size, 0);
	return v;
}

static void emulate_ltr_lldt(struct emu *e)
{
	struct vmcb_save_area *s = &e->v->vmcb.save;
	int faulted, ltr = e->in.mnemonic == INSN_LTR;
	uint16_t sel;
	struct vmcb_seg seg;

	if (!cpl0(e))
		return;
	sel = (uint16_t)rm_value(e, 2, &faulted);
	if (faulted)
		return;
	if (!ltr && (sel & ~3u) == 0) {
		s->ldtr = (struct vmcb_seg){0};
		next(e);
		return;
	}
	if ((sel & 4) || guest_load_descriptor(e->v, sel, &seg, (s->efer & EFER_LMA) != 0) < 0 ||
	    (seg.attrib & 0x1f) != (ltr ? 0x09 : 0x02) || !(seg.attrib & VMCB_SEG_ATTR_P)) {
		deliver_event(e->v, X86_VEC_GP, true, sel & 0xfffc, 0);
		return;
	}
	if (ltr) {
		/* LTR marks the descriptor busy in the guest's GDT (type 9 -> 11). */
		uint8_t type = (uint8_t)((seg.attrib & 0xff) | 2);
		if (mem_access(e, s->gdtr.base + (sel & ~7u) + 5, &type, 1, GUEST_ACC_WRITE))
			return;
		seg.attrib |= 2;
		s->tr = seg;
	} else {
		s->ldtr = seg;
	}
	next(e);
}

static void emulate_mov_sreg(struct emu *e)
{
	struct vmcb_save_area *s = &e->v->vmcb.save;
	struct vmcb_seg *segs[6] = {&s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs};
	unsigned sr = e->in.sreg;
	int faulted = 0;
	uint16_t sel;
	struct vmcb_seg seg = {0};

	if (sr > 5 || sr == 1) {
		deliver_event(e->v, X86_VEC_UD, false, 0, 0);
		return;
	}
	if (e->in.mnemonic == INSN_POP_SREG) {
		uint64_t v = 0;
		unsigned w = e->in.opsize;
		if (mem_access(e, s->rsp, &v, w, 0))
			return;
		sel = (uint16_t)v;
		s->rsp += w;
	} else {
		sel = (uint16_t)rm_value(e, 2, &faulted);
		if (faulted)
			return;
	}
	/* A null selector is fine for data segments in 64-bit mode, never for SS at CPL 3. */
	if ((sel & ~3u) == 0) {
		if (sr == 2 && s->cpl == 3) {
			gp0(e);
			return;
		}
		seg.selector = sel;
	} else {
		unsigned dpl, rpl = sel & 3, type;

		if (guest_load_descriptor(e->v, sel, &seg, 0) < 0) {
			deliver_event(e->v, X86_VEC_GP, true, sel & 0xfffc, 0);
			return;
		}
		/* The checks of MOV Sreg (AMD APM vol. 3): SS needs a writable data segment at
		 * exactly CPL; the others a data or readable code segment no more privileged than
		 * CPL and RPL (unless conforming code). */
		dpl = (seg.attrib >> VMCB_SEG_ATTR_DPL_SHIFT) & 3;
		type = seg.attrib & 0xf;
		if (!(seg.attrib & VMCB_SEG_ATTR_S) ||
		    (sr == 2 ? ((type & 0xa) != 0x2 || rpl != s->cpl || dpl != s->cpl)
			     : ((type & 0xa) == 0x8 || (!((type & 0xc) == 0xc) && dpl < (rpl > s->cpl ? rpl : s->cpl))))) {
			deliver_event(e->v, X86_VEC_GP, true, sel & 0xfffc, 0);
			return;
		}
		if (!(seg.attrib & VMCB_SEG_ATTR_P)) {
			deliver_event(e->v, sr == 2 ? 12 : 11, true, sel & 0xfffc, 0); /* #SS or #NP */
			return;
		}
	}
	if (code_mode(e->v) == INSN_MODE_64 && (sr == 4 || sr == 5))
		seg.base = sr == 4 ? s->fs.base : s->gs.base; /* 64-bit bases come from the MSRs */
	*segs[sr] = seg;
	e->v->segs_dirty = true;
	next(e);
}

void emulate_syscall(struct vcpu *v)
{
	struct vmcb_save_area *s = &v->vmcb.save;
	struct nbvmm_frame *f = v->frame;
	uint64_t rflags;

	/* The real SYSCALL left RCX = the return RIP and R11 = the real RFLAGS; the guest must see
	 * its virtual RFLAGS there (APM vol. 3, SYSCALL). */
	rflags = (s->rflags & ~X86_RFLAGS_GUEST_REAL) | (f->r11 & X86_RFLAGS_GUEST_REAL);
	rflags &= ~X86_RFLAGS_RF;
	v->vmcb.control.exit_code = SVM_EXIT_EXCP_UD; /* traced as the trap that carried it */
	if (!(s->efer & EFER_SCE) || !(s->efer & EFER_LMA)) {
		s->rip = f->rcx - 2;
		trace_exit(v, NB_ACT_DELIVERED, (const uint8_t *)"\x0f\x05", 2);
		deliver_event(v, X86_VEC_UD, false, 0, 0);
		return;
	}
	s->rip = f->rcx - 2;
	trace_exit(v, NB_ACT_EMULATED, (const uint8_t *)"\x0f\x05", 2);
	f->r11 = rflags;
	s->rip = s->lstar;
	s->cs.selector = (uint16_t)((s->star >> 32) & 0xfffc);
	s->cs.attrib = VMCB_SEG_ATTR_P | VMCB_SEG_ATTR_S | VMCB_SEG_ATTR_L | VMCB_SEG_ATTR_G | 0xb;
	s->ss.selector = (uint16_t)(((s->star >> 32) + 8) & 0xfffc);
	s->cpl = 0;
	s->rflags = (rflags & ~s->sfmask & ~X86_RFLAGS_RF) | X86_RFLAGS_FIXED;
}

static void emulate_sysret(struct emu *e)
{
	struct vmcb_save_area *s = &e->v->vmcb.save;
	uint16_t base = (uint16_t)(s->star >> 48);

	if (!(s->efer & EFER_SCE)) {
		deliver_event(e->v, X86_VEC_UD, false, 0, 0);
		return;
	}
	if (!cpl0(e))
		return;
	s->rip = e->in.opsize == 8 ? e->v->frame->rcx : (uint32_t)e->v->frame->rcx;
	s->rflags = (e->v->frame->r11 & 0x3c7fd7ull & ~(X86_RFLAGS_RF | X86_RFLAGS_VM)) | X86_RFLAGS_FIXED;
	s->cs.selector = (uint16_t)((base + (e->in.opsize == 8 ? 16 : 0)) | 3);
	s->cs.attrib = VMCB_SEG_ATTR_P | VMCB_SEG_ATTR_S | (3 << VMCB_SEG_ATTR_DPL_SHIFT) | VMCB_SEG_ATTR_G | 0xb |
		       (e->in.opsize == 8 ? VMCB_SEG_ATTR_L : VMCB_SEG_ATTR_DB);
	s->ss.selector = (uint16_t)((base + 8) | 3);
	s->cpl = 3;
}

/* SYSENTER and SYSEXIT in legacy mode (AMD APM vol. 3): flat segments derived from
 * SYSENTER_CS, stack and entry point from the SYSENTER MSRs, or back to CPL 3 at EDX with ECX. */
static void emulate_sysenter_sysexit(struct emu *e, int enter)
{
	struct vmcb_save_area *s = &e->v->vmcb.save;
	uint16_t base = (uint16_t)s->sysenter_cs & 0xfffc;
	unsigned cpl = enter ? 0 : 3;
	uint16_t flat = VMCB_SEG_ATTR_P | VMCB_SEG_ATTR_S | VMCB_SEG_ATTR_DB | VMCB_SEG_ATTR_G |
			(uint16_t)(cpl << VMCB_SEG_ATTR_DPL_SHIFT);

	if (!(s->cr0 & CR0_PE) || base == 0 || (!enter && s->cpl != 0)) {
		gp0(e);
		return;
	}
	if (enter) {
		s->cs = (struct vmcb_seg){base, (uint16_t)(flat | 0xb), 0xffffffff, 0};
		s->ss = (struct vmcb_seg){(uint16_t)(base + 8), (uint16_t)(flat | 0x3), 0xffffffff, 0};
		s->rip = (uint32_t)s->sysenter_eip;
		s->rsp = (uint32_t)s->sysenter_esp;
		s->rflags &= ~(X86_RFLAGS_IF | X86_RFLAGS_VM | X86_RFLAGS_RF);
	} else {
		s->cs = (struct vmcb_seg){(uint16_t)((base + 16) | 3), (uint16_t)(flat | 0xb), 0xffffffff, 0};
		s->ss = (struct vmcb_seg){(uint16_t)((base + 24) | 3), (uint16_t)(flat | 0x3), 0xffffffff, 0};
		s->rip = (uint32_t)*vcpu_gpr(e->v, 2);
		s->rsp = (uint32_t)*vcpu_gpr(e->v, 1);
	}
	s->cpl = (uint8_t)cpl;
	e->v->segs_dirty = true;
}

/*
 * The virtual CPU's identity (CPUID traps with CPUID faulting, see cpu.c): the host's answers,
 * less what nbvmm does not emulate. Leaf 1: no x2APIC (ECX 21), no TSC-deadline timer (ECX 24),
 * no VMX (ECX 5), and the hypervisor bit (ECX 31) set; the SVM leaves say what virtual SVM
 * offers (nested_svm.c).
 */
static void cpuid_filter(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	if (leaf == 1)
		*c = (*c & ~((1u << 21) | (1u << 24) | (1u << 5))) | (1u << 31);
	nested_svm_cpuid(leaf, a, b, c, d);
}

/* The SVM instructions of a guest hypervisor, past their #UD and #GP checks (nested_svm.c). */
static void emulate_svm(struct emu *e)
{
	struct vcpu *v = e->v;
	int rc = 0;

	switch (e->in.mnemonic) {
	case INSN_VMRUN:
		/* RIP moves past VMRUN in the saved host state (or at once for VMEXIT_INVALID). */
		if (nested_svm_vmrun(v, e->in.len) < 0)
			gp0(e);
		return;
	case INSN_VMLOAD: rc = nested_svm_vmload(v); break;
	case INSN_VMSAVE: rc = nested_svm_vmsave(v); break;
	case INSN_STGI: v->gif = true; break;
	case INSN_CLGI: v->gif = false; break;
	default: nested_svm_invlpga(v); break;
	}
	if (rc < 0) {
		gp0(e);
		return;
	}
	next(e);
}

static void emulate(struct emu *e)
{
	struct vcpu *v = e->v;
	struct vmcb_save_area *s = &v->vmcb.save;
	const struct insn *in = &e->in;
	uint64_t val, tmp;
	int faulted;

	switch (in->mnemonic) {
	case INSN_CLI:
	case INSN_STI:
		if (s->cpl > ((s->rflags >> 12) & 3)) {
			gp0(e);
			return;
		}
		if (in->mnemonic == INSN_CLI) {
			s->rflags &= ~X86_RFLAGS_IF;
		} else {
			int was_off = !(s->rflags & X86_RFLAGS_IF);

			s->rflags |= X86_RFLAGS_IF;
			/* STI holds interrupts off for one more instruction (the STI shadow, APM vol. 3
			 * STI): with one pending, step that instruction before delivering it. */
			if (was_off && vlapic_pending(v) >= 0) {
				v->lapic.int_shadow_step = true;
				v->step_tf_saved = (s->rflags & X86_RFLAGS_TF) != 0;
				s->rflags |= X86_RFLAGS_TF;
			}
		}
		next(e);
		return;
	case INSN_HLT:
		if (!cpl0(e))
			return;
		next(e);
		if (!(s->rflags & X86_RFLAGS_IF)) {
			vcpu_shutdown(v, "HLT with interrupts disabled: nothing can wake the guest");
			return;
		}
		vcpu_halt(v);
		return;
	case INSN_IN:
	case INSN_OUT:
	case INSN_INS:
	case INSN_OUTS:
		emulate_io(e);
		return;
	case INSN_MOV_FROM_CR:
	case INSN_MOV_TO_CR:
		if (!cpl0(e))
			return;
		if (in->mnemonic == INSN_MOV_TO_CR) {
			if (write_cr(e, in->reg, *vcpu_gpr(v, in->rm)) < 0) {
				gp0(e);
				return;
			}
		} else {
			if (read_cr(e, in->reg, &val) < 0) {
				deliver_event(v, X86_VEC_UD, false, 0, 0);
				return;
			}
			*vcpu_gpr(v, in->rm) = val;
		}
		next(e);
		return;
	case INSN_MOV_FROM_DR:
	case INSN_MOV_TO_DR:
		if (!cpl0(e))
			return;
		if (in->mnemonic == INSN_MOV_TO_DR)
			v->dr[in->reg & 7] = *vcpu_gpr(v, in->rm);
		else
			*vcpu_gpr(v, in->rm) = v->dr[in->reg & 7];
		next(e);
		return;
	case INSN_CLTS:
		if (!cpl0(e))
			return;
		s->cr0 &= ~CR0_TS;
		next(e);
		return;
	case INSN_LMSW:
		if (!cpl0(e))
			return;
		val = rm_value(e, 2, &faulted);
		if (faulted)
			return;
		/* LMSW sets PE but never clears it (APM vol. 3, LMSW). */
		write_cr(e, 0, (s->cr0 & ~0xeull) | (val & 0xf) | (s->cr0 & CR0_PE));
		next(e);
		return;
	case INSN_SMSW:
	case INSN_STR:
	case INSN_SLDT:
		/* These trap only with UMIP: answer with the guest's own values. */
		val = in->mnemonic == INSN_SMSW ? s->cr0 : in->mnemonic == INSN_STR ? s->tr.selector : s->ldtr.selector;
		if (in->has_mem) {
			if (mem_access(e, mem_addr(e), &val, 2, GUEST_ACC_WRITE))
				return;
		} else {
			reg_set(e, in->rm, in->opsize, val);
		}
		next(e);
		return;
	case INSN_LGDT:
	case INSN_LIDT:
	case INSN_SGDT:
	case INSN_SIDT:
		emulate_descriptor_table(e);
		return;
	case INSN_LTR:
	case INSN_LLDT:
		emulate_ltr_lldt(e);
		return;
	case INSN_RDMSR:
	case INSN_WRMSR:
		if (!cpl0(e))
			return;
		tmp = (uint32_t)*vcpu_gpr(v, 1);
		if (in->mnemonic == INSN_RDMSR) {
			if (rdmsr(e, (uint32_t)tmp, &val) < 0) {
				gp0(e);
				return;
			}
			*vcpu_gpr(v, 0) = (uint32_t)val;
			*vcpu_gpr(v, 2) = val >> 32;
		} else {
			val = (uint32_t)*vcpu_gpr(v, 0) | (*vcpu_gpr(v, 2) << 32);
			if (wrmsr(e, (uint32_t)tmp, val) < 0) {
				gp0(e);
				return;
			}
		}
		next(e);
		return;
	case INSN_CPUID: {
		uint32_t leaf = (uint32_t)*vcpu_gpr(v, 0), a = leaf, b, c = (uint32_t)*vcpu_gpr(v, 1), d;

		if (v->cpuid_faulting && vcpu_cpl(v) > 0) {
			gp0(e);
			return;
		}
		__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
		cpuid_filter(leaf, &a, &b, &c, &d);
		*vcpu_gpr(v, 0) = a;
		*vcpu_gpr(v, 3) = b;
		*vcpu_gpr(v, 1) = c;
		*vcpu_gpr(v, 2) = d;
		next(e);
		return;
	}
	case INSN_PUSHF:
		/* The guest's own flags: its virtual IF and IOPL; VM and RF read as 0 (APM vol. 3). */
		if (stack_push(e, (s->rflags & ~(X86_RFLAGS_VM | X86_RFLAGS_RF)) | X86_RFLAGS_FIXED, stack_opsize(e)))
			return;
		next(e);
		return;
	case INSN_POPF: {
		uint64_t keep = X86_RFLAGS_VM | X86_RFLAGS_FIXED | (1ull << 19) | (1ull << 20), raw = 0;

		if (mem_access(e, stack_address(v, s->rsp), &raw, stack_opsize(e), 0))
			return;
		/* IOPL changes only at CPL 0, IF only at CPL <= IOPL; VIF, VIP and VM never (APM
		 * vol. 3, POPF); a 16-bit POPF leaves the upper flags alone. */
		if (s->cpl != 0)
			keep |= X86_RFLAGS_IOPL;
		if (s->cpl > ((s->rflags >> 12) & 3))
			keep |= X86_RFLAGS_IF;
		if (stack_opsize(e) == 2)
			keep |= ~0xffffull;
		s->rsp = stack_move(v, stack_opsize(e));
		s->rflags = (raw & ~keep & 0x3f7fd7ull) | (s->rflags & keep) | X86_RFLAGS_FIXED;
		next(e);
		return;
	}
	case INSN_MOV_FROM_SREG:
	case INSN_PUSH_SREG: {
		const struct vmcb_seg *segs[6] = {&s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs};

		/* The guest's own selectors, not the ring-3 ones nbvmm runs it on. */
		if (in->sreg >= 6) {
			deliver_event(v, X86_VEC_UD, false, 0, 0);
			return;
		}
		val = segs[in->sreg]->selector;
		if (in->mnemonic == INSN_PUSH_SREG) {
			if (stack_push(e, val, stack_opsize(e)))
				return;
		} else if (in->has_mem) {
			if (mem_access(e, mem_addr(e), &val, 2, GUEST_ACC_WRITE))
				return;
		} else {
			reg_set(e, in->rm, in->opsize == 2 ? 2 : 4, val);
		}
		next(e);
		return;
	}
	case INSN_RDTSC:
	case INSN_RDTSCP:
		/* CR4.TSD restricts both to CPL 0 (APM vol. 3, RDTSC); RDTSCP also reads TSC_AUX. */
		if ((s->cr4 & CR4_TSD) && !cpl0(e))
			return;
		val = nb_rdtsc() + v->vmcb.control.tsc_offset;
		*vcpu_gpr(v, 0) = (uint32_t)val;
		*vcpu_gpr(v, 2) = val >> 32;
		if (in->mnemonic == INSN_RDTSCP)
			*vcpu_gpr(v, 1) = v->tsc_aux;
		next(e);
		return;
	case INSN_VMRUN:
	case INSN_VMLOAD:
	case INSN_VMSAVE:
	case INSN_STGI:
	case INSN_CLGI:
	case INSN_INVLPGA:
		/* SVM instructions: #UD without EFER.SVME, #GP(0) outside CPL 0 (APM vol. 3). */
		if (!(s->efer & EFER_SVME)) {
			deliver_event(v, X86_VEC_UD, false, 0, 0);
			return;
		}
		if (!cpl0(e))
			return;
		emulate_svm(e);
		return;
	case INSN_VMMCALL:
		/* Not intercepted by anyone above the guest: #UD (APM vol. 3, VMMCALL). */
		deliver_event(v, X86_VEC_UD, false, 0, 0);
		return;
	case INSN_INVLPG:
		if (!cpl0(e))
			return;
		spt_invlpg(&v->spt, mem_addr(e));
		next(e);
		return;
	case INSN_INVD:
	case INSN_WBINVD:
		/* Caches are coherent for a guest: nothing to do but check the privilege. */
		if (!cpl0(e))
			return;
		next(e);
		return;
	case INSN_SWAPGS:
		if (code_mode(v) != INSN_MODE_64) {
			deliver_event(v, X86_VEC_UD, false, 0, 0);
			return;
		}
		if (!cpl0(e))
			return;
		tmp = s->gs.base;
		s->gs.base = s->kernel_gs_base;
		s->kernel_gs_base = tmp;
		cpu_wrmsr(MSR_GS_BASE, s->gs.base);
		next(e);
		return;
	case INSN_IRET:
		far_return(e, 1);
		return;
	case INSN_RET_FAR:
		far_return(e, 0);
		return;
	case INSN_JMP_FAR:
	case INSN_CALL_FAR:
		far_transfer(e, in->mnemonic == INSN_CALL_FAR);
		return;
	case INSN_MOV_TO_SREG:
	case INSN_POP_SREG:
		emulate_mov_sreg(e);
		return;
	case INSN_SYSRET:
		emulate_sysret(e);
		return;
	case INSN_SYSCALL:
		/* On a host where SYSCALL from ring 3 raises #UD (EFER.SCE clear in the real CPU). */
		v->frame->rcx = s->rip + in->len;
		v->frame->r11 = s->rflags;
		emulate_syscall(v);
		return;
	case INSN_INT:
	case INSN_INT3:
	case INSN_INTO:
	case INSN_INT1:
		/* On these machines INT n from ring 3 arrives as #UD at the instruction. */
		if (in->mnemonic == INSN_INTO && !(s->rflags & 0x800)) {
			next(e);
			return;
		}
		/* INT1 (ICEBP) is delivered as a debug exception, without the DPL check. */
		if (in->mnemonic == INSN_INT1) {
			next(e);
			deliver_event(v, X86_VEC_DB, false, 0, 0);
			return;
		}
		deliver_event(v, in->mnemonic == INSN_INT ? (unsigned)in->imm & 0xff : in->mnemonic == INSN_INT3 ? 3 : 4,
			      false, 0, in->len);
		return;
	case INSN_OTHER:
		/* SYSENTER (0F 34) and SYSEXIT (0F 35): the decoder sizes them; in long mode the
		 * real CPU rejects them (#UD), so a 32-bit guest's fast system calls come here. */
		if (in->map == INSN_MAP_0F && (in->opcode == 0x34 || in->opcode == 0x35) && !(s->efer & EFER_LMA)) {
			emulate_sysenter_sysexit(e, in->opcode == 0x34);
			return;
		}
		/* fall through */
	default:
		/* Not an instruction nbvmm emulates: the guest gets what the CPU raised. */
		tmp = v->vmcb.control.exit_code - SVM_EXIT_EXCP_DE;
		deliver_event(v, (unsigned)tmp, x86_vector_has_error_code((unsigned)tmp),
			      (uint32_t)v->vmcb.control.exit_info_1, 0);
		return;
	}
}

/*
 * The exit code SVM would have given, had the instruction been intercepted (APM vol. 2,
 * Appendix C), so traces of trap-and-emulate and of virtual SVM name exits alike. Instructions
 * SVM has no intercept for (CLI, STI, SWAPGS, SYSRET...) keep the exception that carried them.
 */
uint64_t emulate_svm_exit_code(const struct insn *in, uint64_t trapped)
{
	switch (in->mnemonic) {
	case INSN_HLT: return SVM_EXIT_HLT;
	case INSN_IN: case INSN_OUT: case INSN_INS: case INSN_OUTS: return SVM_EXIT_IOIO;
	case INSN_MOV_FROM_CR: return SVM_EXIT_CR0_READ + in->reg;
	case INSN_MOV_TO_CR: return SVM_EXIT_CR0_WRITE + in->reg;
	case INSN_MOV_FROM_DR: return SVM_EXIT_DR0_READ + in->reg;
	case INSN_MOV_TO_DR: return SVM_EXIT_DR0_WRITE + in->reg;
	case INSN_LGDT: return SVM_EXIT_GDTR_WRITE;
	case INSN_LIDT: return SVM_EXIT_IDTR_WRITE;
	case INSN_LLDT: return SVM_EXIT_LDTR_WRITE;
	case INSN_LTR: return SVM_EXIT_TR_WRITE;
	case INSN_SGDT: return SVM_EXIT_GDTR_READ;
	case INSN_SIDT: return SVM_EXIT_IDTR_READ;
	case INSN_SLDT: return SVM_EXIT_LDTR_READ;
	case INSN_STR: return SVM_EXIT_TR_READ;
	case INSN_SMSW: return SVM_EXIT_CR0_READ;
	case INSN_LMSW: case INSN_CLTS: return SVM_EXIT_CR0_WRITE;
	case INSN_RDMSR: case INSN_WRMSR: return SVM_EXIT_MSR;
	case INSN_CPUID: return SVM_EXIT_CPUID;
	case INSN_INVLPG: return SVM_EXIT_INVLPG;
	case INSN_INVD: return SVM_EXIT_INVD;
	case INSN_WBINVD: return SVM_EXIT_WBINVD;
	case INSN_IRET: return SVM_EXIT_IRET;
	case INSN_INT: return SVM_EXIT_SWINT;
	case INSN_RDTSC: return SVM_EXIT_RDTSC;
	case INSN_RDTSCP: return SVM_EXIT_RDTSCP;
	case INSN_PUSHF: return SVM_EXIT_PUSHF;
	case INSN_POPF: return SVM_EXIT_POPF;
	case INSN_VMRUN: return SVM_EXIT_VMRUN;
	case INSN_VMMCALL: return SVM_EXIT_VMMCALL;
	case INSN_VMLOAD: return SVM_EXIT_VMLOAD;
	case INSN_VMSAVE: return SVM_EXIT_VMSAVE;
	case INSN_STGI: return SVM_EXIT_STGI;
	case INSN_CLGI: return SVM_EXIT_CLGI;
	case INSN_INVLPGA: return SVM_EXIT_INVLPGA;
	default: return trapped;
	}
}

void emulate_trapped_insn(struct vcpu *v)
{
	struct emu e = {.v = v};
	uint64_t trapped = v->vmcb.control.exit_code;

	if (fetch(&e)) {
		trace_exit(v, NB_ACT_DELIVERED, 0, 0);
		return;
	}
	/* A nested guest's instruction its hypervisor intercepts: a #VMEXIT, not an emulation. */
	if (v->parent && nested_svm_route_insn(v, &e.in))
		return;
	v->vmcb.control.exit_code = emulate_svm_exit_code(&e.in, trapped);
	/* Traced before emulating: the record carries the state the guest trapped with. */
	trace_exit(v, e.in.mnemonic == INSN_OTHER || e.in.mnemonic == INSN_UD2 ? NB_ACT_DELIVERED : NB_ACT_EMULATED, e.bytes,
		   e.in.len);
	v->vmcb.control.exit_code = trapped;
	/* The instruction after STI trapped instead of completing its single step: once it is
	 * emulated the STI shadow is over, and the held-back interrupt may come (run_guest). */
	if (v->lapic.int_shadow_step) {
		v->lapic.int_shadow_step = false;
		v->vmcb.save.rflags = (v->vmcb.save.rflags & ~X86_RFLAGS_TF) | (v->step_tf_saved ? X86_RFLAGS_TF : 0);
	}
	emulate(&e);
}

/*
 * REP MOVS and REP STOS, done by nbvmm in faithful mode: single-stepping them would trap after
 * every iteration (APM vol. 2, 13.1.4: TF with a repeated string instruction), thousands of
 * traps for one memset. Only the common form: 64-bit code, addresses 64-bit, DF clear, no
 * segment override other than none. true when done; false leaves the rest to be stepped (a
 * fault midway stops after the last whole chunk, with RCX, RSI and RDI where the CPU would
 * have them).
 */
static bool emulate_rep_string(struct emu *e)
{
	struct vcpu *v = e->v;
	const struct insn *in = &e->in;
	unsigned size = (in->opcode & 1) ? in->opsize : 1;
	bool movs = in->opcode == 0xa4 || in->opcode == 0xa5;
	uint64_t *rcx = vcpu_gpr(v, 1), *rsi = vcpu_gpr(v, 6), *rdi = vcpu_gpr(v, 7), pf_addr;
	uint8_t buf[512];
	uint32_t pf_ec;

	if (in->mode != INSN_MODE_64 || in->addrsize != 8 || in->seg != INSN_SEG_NONE ||
	    (v->vmcb.save.rflags & X86_RFLAGS_DF))
		return false;
	while (*rcx) {
		/* A chunk ends at a page boundary of either side, so a fault is never midway. */
		uint64_t n = *rcx * size, room = 4096 - (*rdi & 4095);

		if (movs && 4096 - (*rsi & 4095) < room)
			room = 4096 - (*rsi & 4095);
		if (room < size)
			return false; /* an element across a page boundary: let the CPU do it */
		n = n < room ? n : room;
		n = (n < sizeof(buf) ? n : sizeof(buf)) / size * size;
		if (movs) {
			if (guest_virt_access(v, *rsi, buf, n, 0, &pf_ec, &pf_addr) != 0)
				return false;
		} else {
			uint64_t val = *vcpu_gpr(v, 0);
			unsigned i;

			for (i = 0; i < n; i += size)
				memcpy(buf + i, &val, size);
		}
		if (guest_virt_access(v, *rdi, buf, n, GUEST_ACC_WRITE, &pf_ec, &pf_addr) != 0)
			return false;
		*rdi += n;
		if (movs)
			*rsi += n;
		*rcx -= n / size;
	}
	next(e);
	return true;
}

/*
 * Faithful mode's instructions: those x86 lets a deprivileged guest run without a trap although
 * their result depends on the privileged state they cannot see (Popek and Goldberg's sensitive
 * but unprivileged instructions, shadow/sensitivity.c). Emulated, they show the virtual CPU:
 * the guest's own flags, descriptor tables, selectors, CR0 and CPUID. RDTSC runs natively (the
 * guest's TSC is the real one) except when the guest's CR4.TSD makes it fault. LAR, LSL, VERR
 * and VERW are not emulated: they still see nbvmm's GDT slots (audit mode records them).
 */
static bool faithful_emulates(const struct vcpu *v, const struct insn *in)
{
	switch (in->mnemonic) {
	case INSN_SGDT: case INSN_SIDT: case INSN_SLDT: case INSN_STR: case INSN_SMSW:
	case INSN_PUSHF: case INSN_POPF: case INSN_MOV_FROM_SREG: case INSN_PUSH_SREG:
	case INSN_CPUID: case INSN_RDTSCP:
	/* VMMCALL in ring 3 never reaches nbvmm here: these hosts' KVM takes it as a hypercall of
	 * its own (NOTES.md). */
	case INSN_VMMCALL:
		return true;
	case INSN_RDTSC:
		return (v->vmcb.save.cr4 & CR4_TSD) && vcpu_cpl(v) > 0;
	default:
		return false;
	}
}

bool emulate_sensitive_at_rip(struct vcpu *v)
{
	struct emu e = {.v = v};
	uint64_t pf_addr, trapped = v->vmcb.control.exit_code;
	uint32_t pf_ec;

	/* An instruction that cannot be fetched or decoded here runs (and faults) for real. */
	if (fetch_bytes(&e, &pf_ec, &pf_addr) != 0 || insn_decode(e.bytes, e.nbytes, code_mode(v), &e.in) != 0)
		return false;
	if (e.in.map == INSN_MAP_PRIMARY && (e.in.prefixes & INSN_P_REP) &&
	    (e.in.opcode == 0xa4 || e.in.opcode == 0xa5 || e.in.opcode == 0xaa || e.in.opcode == 0xab))
		return emulate_rep_string(&e);
	if (!faithful_emulates(v, &e.in))
		return false;
	/* A nested guest's hypervisor may intercept it: a #VMEXIT, as for a trapped one. */
	if (v->parent && nested_svm_route_insn(v, &e.in))
		return true;
	/* Traced as the intercept SVM would have taken for it. */
	v->vmcb.control.exit_code = emulate_svm_exit_code(&e.in, trapped);
	trace_exit(v, NB_ACT_EMULATED, e.bytes, e.in.len);
	v->vmcb.control.exit_code = trapped;
	emulate(&e);
	return true;
}

/* The store a page-table write may be made with (guests update PTEs with MOV, XCHG, CMPXCHG
 * and locked OR/AND for accessed and dirty bits). */
enum pt_store { PT_MOV, PT_XCHG, PT_CMPXCHG, PT_OR, PT_AND, PT_UNKNOWN };

static enum pt_store pt_store_kind(const struct insn *in)
{
	unsigned ext = in->reg & 7;

	if (!in->has_mem)
		return PT_UNKNOWN;
	if (in->map == INSN_MAP_0F)
		return in->opcode == 0xb0 || in->opcode == 0xb1 ? PT_CMPXCHG : PT_UNKNOWN;
	if (in->map != INSN_MAP_PRIMARY)
		return PT_UNKNOWN;
	switch (in->opcode) {
	case 0x88: case 0x89: return PT_MOV;
	case 0xc6: case 0xc7: return ext == 0 ? PT_MOV : PT_UNKNOWN;
	case 0x86: case 0x87: return PT_XCHG;
	case 0x08: case 0x09: return PT_OR;
	case 0x20: case 0x21: return PT_AND;
	case 0x80: case 0x81: case 0x83: return ext == 1 ? PT_OR : ext == 4 ? PT_AND : PT_UNKNOWN;
	default: return PT_UNKNOWN;
	}
}

void emulate_pt_write(struct vcpu *v)
{
	struct emu e = {.v = v};
	const struct insn *in = &e.in;
	uint64_t val = 0, old = 0, addr;
	/* Register operand: ModRM.reg for the reg-to-memory forms, none for the immediate ones. */
	int from_reg;
	enum pt_store kind;

	if (fetch(&e)) {
		trace_exit(v, NB_ACT_DELIVERED, 0, 0);
		return;
	}
	trace_exit(v, NB_ACT_EMULATED, e.bytes, in->len);
	kind = pt_store_kind(in);
	from_reg = in->imm_size == 0;
	addr = mem_addr(&e);
	if (kind == PT_UNKNOWN) {
		vcpu_shutdown(v, "a write to a page table by an instruction nbvmm cannot emulate");
		return;
	}
	if (kind != PT_MOV && mem_access(&e, addr, &old, in->opsize, 0))
		return;
	val = from_reg ? reg_get(&e, in->reg, in->opsize) : in->imm;
	switch (kind) {
	case PT_XCHG:
		reg_set(&e, in->reg, in->opsize, old);
		break;
	case PT_CMPXCHG:
		if (old != reg_get(&e, 0, in->opsize)) {
			reg_set(&e, 0, in->opsize, old);
			v->vmcb.save.rflags &= ~0x40ull; /* ZF */
			next(&e);
			return;
		}
		v->vmcb.save.rflags |= 0x40;
		break;
	case PT_OR:
		val |= old;
		break;
	case PT_AND:
		val &= old;
		break;
	default:
		break;
	}
	if (mem_access(&e, addr, &val, in->opsize, GUEST_ACC_WRITE))
		return;
	next(&e);
}

/* A device-register access: the forms of MOV guests use on MMIO (and MOVZX loads). */
struct mmio_access {
	int load;
	int reg;            /* the register loaded or stored, INSN_REG_NONE for an immediate store */
	unsigned size;      /* bytes of memory accessed */
	unsigned dest_size; /* bytes written to the register by a load (MOVZX widens) */
};

static int mmio_access_kind(const struct insn *in, struct mmio_access *acc)
{
	unsigned byte_op = !(in->opcode & 1);

	acc->reg = in->reg;
	acc->size = acc->dest_size = byte_op ? 1 : in->opsize;
	if (in->map == INSN_MAP_0F && (in->opcode == 0xb6 || in->opcode == 0xb7)) {
		acc->load = 1;
		acc->size = in->opcode == 0xb6 ? 1 : 2;
		acc->dest_size = in->opsize;
		return 0;
	}
	if (in->map != INSN_MAP_PRIMARY)
		return -1;
	switch (in->opcode) {
	case 0x8a: case 0x8b: acc->load = 1; return 0;
	case 0x88: case 0x89: acc->load = 0; return 0;
	case 0xc6: case 0xc7:
		acc->load = 0;
		acc->reg = INSN_REG_NONE;
		return (in->reg & 7) == 0 ? 0 : -1;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3: /* MOV AL/eAX to or from moffs */
		acc->load = in->opcode < 0xa2;
		acc->reg = 0;
		return 0;
	default:
		return -1;
	}
}

void emulate_mmio(struct vcpu *v, uint64_t gpa)
{
	struct emu e = {.v = v};
	const struct insn *in = &e.in;
	struct nb_trace_record rec = {0};
	/* A nested guest reaches no device of its hypervisor's machine (nbvmm maps none into it):
	 * what is not RAM is a bus where nothing answers. */
	int apic = !v->parent && gpa >= VLAPIC_BASE && gpa < VLAPIC_BASE + VLAPIC_SIZE;
	struct mmio_access acc;
	uint64_t val;

	if (fetch(&e)) {
		trace_exit(v, NB_ACT_DELIVERED, 0, 0);
		return;
	}
	trace_exit(v, NB_ACT_EMULATED, e.bytes, in->len);
	if (mmio_access_kind(in, &acc) < 0) {
		vcpu_shutdown(v, "an access to guest-physical memory outside its RAM by an instruction nbvmm "
				 "cannot emulate");
		return;
	}
	rec.kind = apic ? NB_EV_APIC : NB_EV_MMIO;
	rec.addr = apic ? gpa - VLAPIC_BASE : gpa;
	rec.aux = acc.size | (acc.load ? 0 : NB_IO_DIR_OUT);
	if (acc.load) {
		/* Nothing answers outside the APIC: reads see all ones, as on a real bus and at L0. */
		val = apic ? vlapic_read(v, (unsigned)(gpa - VLAPIC_BASE)) : ~0ull;
		if (acc.size < 8)
			val &= (1ull << (8 * acc.size)) - 1;
		reg_set(&e, acc.reg, acc.dest_size, val);
		rec.old_val = val;
	} else {
		val = acc.reg == INSN_REG_NONE ? in->imm : reg_get(&e, (unsigned)acc.reg, acc.size);
		if (apic)
			vlapic_write(v, (unsigned)(gpa - VLAPIC_BASE), (uint32_t)val);
		rec.new_val = val;
	}
	trace_guest_event(v, &rec);
	next(&e);
}
