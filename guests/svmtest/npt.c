/*
 * Nested paging (APM vol. 2, §15.25). With NP_ENABLE set in the VMCB, the guest's own page
 * tables translate its virtual addresses to guest-physical ones (its CR3 is guest-physical too),
 * and a second set of tables, rooted at nCR3, translates every guest-physical address to a
 * host-physical one. nCR3's tables have the host's format (4-level here, as the host is in long
 * mode), and the CPU walks them as user-mode accesses, so every entry needs U.
 *
 * A guest-physical access nCR3's tables refuse is a nested page fault: #VMEXIT with code 0x400
 * (VMEXIT_NPF), EXITINFO2 the guest-physical address, EXITINFO1 a #PF-style error code (P, W,
 * U - always set -, RSVD, I) plus bit 32 when the fault was on the access's final address, or
 * bit 33 when it was on the guest's own page-table walk.
 *
 * Here nCR3 identity-maps RAM, so guest-physical = host-physical and the guest can run this
 * kernel's code on this kernel's page tables unchanged; one page is left out and one is mapped
 * read-only.
 */
#include "guests/svmtest/svmtest.h"

#define NPT_FLAGS (X86_PTE_P | X86_PTE_W | X86_PTE_U)

enum { NPF_READ, NPF_READ_DONE, NPF_WRITE, NPF_WRITE_DONE, NPT_OUTSIDE };
static const char *const npt_lines[] = {
	[NPF_READ] = "NPF: a read of a page nCR3 leaves unmapped: exit 0x400, "
		"EXITINFO1 0x100000004, EXITINFO2 the GPA",
	[NPF_READ_DONE] = "NPF: once the hypervisor maps the page the read completes",
	[NPF_WRITE] = "NPF: a write to a page nCR3 maps read-only: exit 0x400, "
		"EXITINFO1 0x100000007, EXITINFO2 the GPA",
	[NPF_WRITE_DONE] = "NPF: once the hypervisor makes the page writable the write lands",
	[NPT_OUTSIDE] = "nCR3 mapping a page past the host's RAM: reads see all ones, writes land "
		"nowhere, no exit",
};

/* A host-physical address with no RAM behind it (nor the local APIC): past RAM, 1 GiB-aligned. */
static uint64_t outside_ram(void)
{
	return (svt_mem_size + (1ull << 30)) & ~((1ull << 30) - 1);
}

/* The page nCR3 leaves out, and the page it maps read-only: RAM, as the guest sees it. */
static uint8_t hole[X86_PAGE_SIZE] __attribute__((aligned(4096)));
static uint8_t read_only[X86_PAGE_SIZE] __attribute__((aligned(4096)));

#define HOLE_VALUE 0x656c6f682d504e00ull      /* what the hypervisor puts in the page first */
#define READ_ONLY_VALUE 0x796c6e6f2d504e00ull

/* Builds nCR3's tables (frames from guests/lib/paging.c): 2 MiB pages, 4 KiB ones in the
 * 2 MiB regions that hold the test pages, so that those can be changed alone. */
static uint64_t npt_build(void)
{
	uint64_t root = nb_frame_alloc(), c, a;
	const uint64_t region = ~(X86_LARGE_PAGE_SIZE - 1);

	for (c = 0; c < svt_mem_size; c += X86_LARGE_PAGE_SIZE) {
		if (c + X86_LARGE_PAGE_SIZE <= svt_mem_size && c != (SVT_ADDR(hole) & region) &&
		    c != (SVT_ADDR(read_only) & region)) {
			*nb_pt_entry(root, c, 2, NPT_FLAGS) = c | NPT_FLAGS | X86_PTE_PS;
			continue;
		}
		for (a = c; a < c + X86_LARGE_PAGE_SIZE && a < svt_mem_size; a += X86_PAGE_SIZE)
			nb_pt_map(root, a, a, X86_PTE_U | X86_PTE_W);
	}
	return root;
}

/* The nested-paging guest (svt_g_npf) under nCR3 `root`, reading at `rbx` and `rcx` and writing
 * at `rcx`. */
static struct vmcb_control *npt_vm_init(struct svt_vm *vm, uint64_t root, uint64_t rbx, uint64_t rcx)
{
	struct vmcb_control *c;

	svt_vm_init(vm, svt_g_npf);
	c = &vm->vmcb->control;
	c->nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	c->nested_cr3 = root;
	vm->gprs.rbx = rbx;
	vm->gprs.rcx = rcx;
	return c;
}

static void npt_run(void)
{
	uint64_t root = npt_build(), exit;
	uint64_t *hole_pte = nb_pt_entry(root, SVT_ADDR(hole), 1, 0);
	uint64_t *ro_pte = nb_pt_entry(root, SVT_ADDR(read_only), 1, 0);
	uint64_t gpa_read = SVT_ADDR(hole) + SVT_G_NPF_OFFSET;
	volatile uint64_t *ro_word = (volatile uint64_t *)read_only;
	struct svt_vm vm;
	struct vmcb_control *c;

	*(volatile uint64_t *)(hole + SVT_G_NPF_OFFSET) = HOLE_VALUE;
	*ro_word = READ_ONLY_VALUE;
	*hole_pte = 0;
	*ro_pte &= ~X86_PTE_W;

	c = npt_vm_init(&vm, root, SVT_ADDR(hole), SVT_ADDR(read_only));
	exit = svt_vm_run(&vm);
	{
		const struct fid_field f[] = {
			{ "exit code", SVM_EXIT_NPF, exit },
			{ "EXITINFO1", SVM_NPF_FINAL_GPA | X86_PF_U, c->exit_info_1 },
			{ "EXITINFO2 (GPA)", gpa_read, c->exit_info_2 },
			{ "RIP", SVT_ADDR(svt_g_npf_read), vm.vmcb->save.rip },
		};

		if (!svt_check(NPF_READ, FID_FIELDS(f)))
			return;
	}
	/* Map the page, and run the read again (RIP has not moved; every VMRUN flushes the TLB,
	 * svt_vm_init). */
	*hole_pte = SVT_ADDR(hole) | NPT_FLAGS;
	exit = svt_vm_run(&vm);
	{
		const struct fid_field f[] = {
			{ "what the read got", HOLE_VALUE, vm.gprs.r8 },
			{ "what a read of the read-only page got", READ_ONLY_VALUE, vm.gprs.r9 },
		};

		svt_check(NPF_READ_DONE, FID_FIELDS(f));
	}
	{
		const struct fid_field f[] = {
			{ "exit code", SVM_EXIT_NPF, exit },
			{ "EXITINFO1", SVM_NPF_FINAL_GPA | X86_PF_U | X86_PF_W | X86_PF_P, c->exit_info_1 },
			{ "EXITINFO2 (GPA)", SVT_ADDR(read_only), c->exit_info_2 },
			{ "RIP", SVT_ADDR(svt_g_npf_write), vm.vmcb->save.rip },
			{ "the page", READ_ONLY_VALUE, *ro_word },
		};

		if (!svt_check(NPF_WRITE, FID_FIELDS(f)))
			return;
	}
	*ro_pte |= X86_PTE_W;
	exit = svt_vm_run(&vm);
	{
		const struct fid_field f[] = {
			{ "exit code", SVM_EXIT_VMMCALL, exit },
			{ "the page", SVT_G_NPF_WRITTEN, *ro_word },
		};

		if (!svt_check(NPF_WRITE_DONE, FID_FIELDS(f)))
			return;
	}
	/* The page at `hole` now maps past RAM: the guest's reads of it and its write go to no
	 * memory at all, as on a bus where nothing answers, and this kernel's page is untouched. */
	*hole_pte = outside_ram() | NPT_FLAGS;
	c = npt_vm_init(&vm, root, SVT_ADDR(hole), SVT_ADDR(hole));
	exit = svt_vm_run(&vm);
	{
		const struct fid_field f[] = {
			{ "exit code", SVM_EXIT_VMMCALL, exit },
			{ "what the read got", ~0ull, vm.gprs.r8 },
			{ "what a second read got", ~0ull, vm.gprs.r9 },
			{ "the host's own page", HOLE_VALUE, *(volatile uint64_t *)(hole + SVT_G_NPF_OFFSET) },
			{ "the host's own page where the guest wrote", 0, *(volatile uint64_t *)hole },
		};

		svt_check(NPT_OUTSIDE, FID_FIELDS(f));
	}
}

const struct svt_area svt_area_npt = SVT_AREA(npt_lines, CPUID_SVM_EDX_NP,
					      "CPUID 8000_000A EDX[0] is clear: no nested paging", npt_run);
