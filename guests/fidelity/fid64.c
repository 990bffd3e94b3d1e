/* Start-up, trap recording and ring-3 runs shared by the 64-bit fidelity kernels (fid64.h). */
#include "guests/fidelity/fid64.h"

struct fid_trap fid_last;

static void fid_record(const struct nb_trap_frame *f)
{
	fid_last.count++;
	fid_last.vector = f->vector;
	fid_last.error = f->error;
	fid_last.rip = f->rip;
	fid_last.cs = f->cs;
	fid_last.rflags = f->rflags;
	fid_last.rsp = f->rsp;
	fid_last.ss = f->ss;
	fid_last.cr2 = f->vector == X86_VEC_PF ? x86_read_cr2() : 0;
	fid_last.frame_end = FID_ADDR(&f->ss + 1);
	fid_last.rax = f->rax;
	fid_last.rbx = f->rbx;
	fid_last.rcx = f->rcx;
	fid_last.rdx = f->rdx;
	fid_last.rsi = f->rsi;
	fid_last.rdi = f->rdi;
}

void ktrap(struct nb_trap_frame *f)
{
	fid_record(f);
	if (fid_trap_hook(f))
		return;
	if ((f->cs & 3) == 3)
		nb_trap_leave_user(1);
	/* The try's landing is C code: the ABI wants DF clear, and TF/AC set by a test must not
	 * follow it there. */
	f->rflags &= ~(uint64_t)(X86_RFLAGS_DF | X86_RFLAGS_TF | X86_RFLAGS_AC);
	if (nb_try_catch(f))
		return;
	nb_trap_panic(f);
}

int fid_init(struct nb_boot_info *bi, const char *name, const char *what)
{
	int err = nb_guest_init(bi);

	if (err) {
		nb_printf("%s: unusable boot info: %s\n", name, nb_boot_strerror(err));
		return NB_GUEST_EXIT_BAD_BOOT;
	}
	nb_printf("%s: %s\n", name, what);
	nb_frames_init(bi->free_start, bi->free_end);
	nb_cpu_init();
	return 0;
}

uint64_t fid_user_space(const struct nb_boot_info *bi)
{
	uint64_t root = nb_pt_kernel_space(bi->mem_size);

	nb_pt_map(root, FID_USER_STACK, nb_frame_alloc(), X86_PTE_U | X86_PTE_W);
	return root;
}

void fid_run_user(const void *entry, uint64_t rdi, uint64_t rsi, uint64_t rflags)
{
	struct nb_trap_frame f;

	nb_trap_user_frame(&f, FID_ADDR(entry), FID_USER_STACK_TOP);
	f.rdi = rdi;
	f.rsi = rsi;
	f.rflags |= rflags;
	nb_trap_run_user(&f);
}
