/*
 * nbvmm: the guest hypervisor. Booted by L0 (or by a parent nbvmm) on the nestbed boot protocol,
 * it runs the kernel given as its first module as its own guest, one level deeper, in hardware
 * ring 3, with shadow page tables, and traces every trap through its ring.
 *
 * Options (nbvmm's boot-info options): mem=SIZE_MIB for the guest's RAM (default: what is free
 * less a reserve for shadow tables), ring=KIB for the guest's trace ring (default 256),
 * timeout=SECONDS to stop a guest that runs longer (nbvmm's own timer; default none),
 * svm=0 to run the guest by trap-and-emulate even where the CPU offers SVM (by default nbvmm
 * then runs it with VMRUN and nested paging, svm_engine.c),
 * audit=1 to single-step the guest's kernel and record the sensitive instructions it ran
 * without trapping, faithful=1 to single-step the guest and emulate those instructions instead
 * (audit.c).
 * Modules: the first is the guest kernel, its arguments the guest's options; the others are
 * passed to the guest as its modules, with their names and arguments.
 */
#include <string.h>

#include "guests/lib/nbguest.h"
#include "guests/lib/nbkernel.h"
#include "l0/boot_loader.h"
#include "l1-vmm/cpu.h"
#include "l1-vmm/exits.h"
#include "l1-vmm/guest_mem.h"
#include "l1-vmm/audit.h"
#include "l1-vmm/lapic.h"
#include "l1-vmm/nested_svm.h"
#include "l1-vmm/svm_engine.h"
#include "l1-vmm/vlapic.h"
#include "l1-vmm/page_alloc.h"
#include "l1-vmm/trace.h"
#include "nestbed/hypercall.h"

#define SHADOW_RESERVE (8ull << 20) /* kept back for shadow tables when mem= is not given */

static struct nbvmm_frame guest_frame;
static struct vcpu vcpu0 __attribute__((aligned(4096)));

static void __attribute__((noreturn)) fail(const char *what)
{
	nb_printf("nbvmm: %s\n", what);
	trace_flush();
	nb_hc_exit(NB_STATUS_CRASH);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void vcpu_load_plan(struct vcpu *v, const struct nb_boot_plan *p)
{
	struct vmcb_save_area *s = &v->vmcb.save;
	int lm = p->mode == NB_BOOT_MODE_LONG64;
	uint16_t code_attr = VMCB_SEG_ATTR_P | VMCB_SEG_ATTR_S | 0xb | VMCB_SEG_ATTR_G |
			     (lm ? VMCB_SEG_ATTR_L : VMCB_SEG_ATTR_DB);
	uint16_t data_attr = VMCB_SEG_ATTR_P | VMCB_SEG_ATTR_S | 0x3 | VMCB_SEG_ATTR_G | VMCB_SEG_ATTR_DB;

	s->cs = (struct vmcb_seg){p->cs, code_attr, 0xffffffff, 0};
	s->ds = (struct vmcb_seg){p->ds, data_attr, 0xffffffff, 0};
	s->es = s->ss = s->fs = s->gs = s->ds;
	s->gdtr = (struct vmcb_seg){0, 0, p->gdt_limit, p->gdt_base};
	s->cpl = 0;
	s->cr0 = p->cr0;
	s->cr3 = p->cr3;
	s->cr4 = p->cr4;
	s->efer = p->efer;
	s->rip = p->rip;
	s->rsp = p->rsp;
	s->rflags = p->rflags;
	s->rax = p->rax;
	s->g_pat = 0x0007040600070406ull; /* the PAT's power-on value */
	v->frame->rbx = p->rbx;
	v->frame->rdi = p->rdi;
	v->segs_dirty = true;
}

static uint64_t option_u64(const struct nb_boot_info *bi, const char *key, uint64_t dflt)
{
	return nb_opt_u64(bi->options, key, dflt);
}

static void boot_guest(struct vcpu *v, const struct nb_boot_info *bi)
{
	struct nb_boot_module_data mods[NB_BOOT_MAX_MODULES];
	const struct nb_boot_module *image = &bi->modules[0];
	struct nb_boot_request req;
	struct nb_boot_plan plan;
	struct nb_guest_mem gm;
	struct nb_error err;
	struct gpt_mode mode;
	uint64_t free = page_alloc_free_bytes(), mem;
	char name[NB_HC_NAME_MAX];
	uint32_t i;

	if (bi->module_count == 0)
		fail("no guest kernel: give it as the first module (--module guest=PATH[,OPTIONS])");
	mem = option_u64(bi, "mem", 0) << 20;
	if (!mem)
		mem = free > 2 * SHADOW_RESERVE ? (free - SHADOW_RESERVE) & ~0x1fffffull : 0;
	v->mem_hpa = mem ? page_alloc_range(mem, 2ull << 20) : 0;
	if (!v->mem_hpa) {
		nb_printf("nbvmm: %llu MiB of guest memory do not fit in the %llu MiB free\n",
			  (unsigned long long)(mem >> 20), (unsigned long long)(free >> 20));
		fail("not enough memory for the guest");
	}
	v->mem_size = mem;
	v->level = bi->level + 1;
	v->vm_id = bi->vm_id + 1;

	for (i = 1; i < bi->module_count; i++)
		mods[i - 1] = (struct nb_boot_module_data){bi->modules[i].name, bi->modules[i].args,
							   phys_to_virt(bi->modules[i].addr), bi->modules[i].size};
	gm = (struct nb_guest_mem){.host = phys_to_virt(v->mem_hpa), .size = mem};
	req = (struct nb_boot_request){.image_name = image->name,
				       .image = phys_to_virt(image->addr),
				       .image_len = image->size,
				       .modules = mods,
				       .module_count = (int)bi->module_count - 1,
				       .options = image->args,
				       .ring_bytes = option_u64(bi, "ring", 256) << 10,
				       .level = v->level,
				       .vm_id = v->vm_id,
				       .tsc_khz = bi->tsc_khz};
	if (nb_boot_prepare(&gm, &req, &plan, &err) < 0) {
		nb_printf("nbvmm: %s\n", err.msg);
		fail("cannot boot the guest");
	}
	vcpu_load_plan(v, &plan);
	if (plan.ring_addr)
		trace_child_init(v, plan.ring_addr, plan.ring_size);

	v->maxphyaddr = cpu_maxphyaddr();
	gpt_mode_from_regs(&mode, v->vmcb.save.cr0, v->vmcb.save.cr3, v->vmcb.save.cr4, v->vmcb.save.efer,
			   v->maxphyaddr);
	if (spt_init(&v->spt, &nbvmm_shadow_ops, v, &mode) < 0 ||
	    spt_map_host_slot(&v->spt, nbvmm_slot, virt_to_phys(nbvmm_pdpt)) < 0)
		fail("out of memory for shadow page tables");

	memset(name, 0, sizeof(name));
	memcpy(name, image->name, nb_strnlen(image->name, sizeof(name) - 1));
	nb_hc3(NB_HC_VM_ADD, v->vm_id | (uint64_t)v->level << 16 | (uint64_t)bi->vm_id << 32, mem,
	       virt_to_phys(name));
	nb_printf("nbvmm: level %u running '%s' as level %u (vm %u, %llu MiB)\n", bi->level, image->name, v->level,
		  v->vm_id, (unsigned long long)(mem >> 20));
}

static uint64_t tick_tsc, next_tick;

/* Aims nbvmm's timer at the guest's next timer expiry or nbvmm's own 10 ms tick (which bounds
 * how long a guest that never traps keeps nbvmm from its time limit), whichever comes first. */
static void arm_timer(uint64_t guest_next)
{
	uint64_t now = nb_rdtsc();

	if (now >= next_tick)
		next_tick = now + tick_tsc;
	lapic_timer_arm(guest_next && guest_next < next_tick ? guest_next : next_tick);
}

void vcpu_halt(struct vcpu *v)
{
	/* HLT resumes only when an interrupt is delivered (APM vol. 3, HLT): sleep until the
	 * guest's APIC has one it accepts, waking on nbvmm's own timer to check its time limit. */
	/* A nested guest halts until its hypervisor's machine has an interrupt (which then exits
	 * to the hypervisor, or waits for it). */
	struct vcpu *machine = v->parent ? v->parent : v;

	for (;;) {
		uint64_t guest_next = vlapic_poll_timer(machine);

		if (vlapic_pending(machine) >= 0 || (v->parent && (v->vmcb.control.int_ctl & V_IRQ_MASK)))
			return;
		if (v->deadline_tsc && nb_rdtsc() > v->deadline_tsc)
			return; /* the next exit's check stops the guest */
		arm_timer(guest_next);
		if (machine->svm_engine)
			svm_engine_allow_interrupts();
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
}

/*
 * The VMRUN loop. Before each entry: the guest's timer expiries become requests, a request the
 * guest can take now is delivered, and nbvmm's own timer is aimed at what comes next.
 */
static void run_guest(struct vcpu *v, uint64_t tsc_khz)
{
	tick_tsc = tsc_khz * 10;
	next_tick = nb_rdtsc() + tick_tsc;
	while (!v->stopped) {
		uint64_t guest_next = vlapic_poll_timer(v);
		/* The vCPU to enter: the guest's, or, while the guest (a hypervisor) has VMRUN its
		 * own guest, that nested guest's (nested_svm.c). Interrupts and the timer are the
		 * guest's machine's either way. */
		struct vcpu *cur = nested_svm_prepare_entry(v);

		if (cur == v)
			vlapic_inject(v);
		arm_timer(guest_next);
		if (audit_before_entry(cur))
			continue;
		vcpu_run(cur);
		if (!audit_after_exit(cur))
			handle_exit(cur);
		if (cur != v)
			nested_svm_after_exit(cur);
	}
}

int nbvmm_main(struct nb_boot_info *bi)
{
	struct vcpu *v = &vcpu0;
	int rc;

	nb_console_set_port(bi->console_port);
	nb_hc_set_port(bi->hypercall_port);
	nb_debug_exit_set_port(bi->exit_port);
	rc = nb_boot_check(bi);
	if (rc < 0)
		fail(nb_boot_strerror(rc));
	trace_init(bi);
	v->frame = &guest_frame;
	cpu_init(&guest_frame);
	page_alloc_init(bi->free_start, bi->free_end < NBVMM_MAX_PHYS ? bi->free_end : NBVMM_MAX_PHYS);
	boot_guest(v, bi);
	lapic_init(bi->tsc_khz);
	vlapic_init(v, bi->tsc_khz);
	audit_init(v, option_u64(bi, "audit", 0) != 0, option_u64(bi, "faithful", 0) != 0);
	v->gif = true;
	/* Where the CPU offers SVM (an nbvmm above offers its virtual one), run the guest with
	 * VMRUN and nested paging, unless svm=0 forces trap-and-emulate; the single-stepping modes
	 * need trap-and-emulate. */
	if (option_u64(bi, "svm", 1) && !v->audit && !v->faithful && svm_engine_init(v))
		nb_printf("nbvmm: level %u runs level %u with VMRUN and nested paging\n", bi->level, v->level);
	if (option_u64(bi, "timeout", 0) && bi->tsc_khz)
		v->deadline_tsc = nb_rdtsc() + option_u64(bi, "timeout", 0) * bi->tsc_khz * 1000;
	run_guest(v, bi->tsc_khz ? bi->tsc_khz : 1000000);
	trace_child_drain(v);
	trace_flush();
	nb_hc_exit(v->exit_status);
	return v->exit_status;
}
