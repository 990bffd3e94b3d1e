/* ptest's system calls (abi.h), entered by UD2 from ring 3 and decoded from RAX. */
#include "guests/lib/nbkernel.h"
#include "guests/lib/paging.h"
#include "guests/ptest/ptest.h"

#define UD2_LEN 2
#define WRITE_MAX 256
#define PTEST_EFAULT (-14)
#define PTEST_EINVAL (-22)

extern char __user_start[], __user_end[];

static int inside(uint64_t va, uint64_t len, uint64_t lo, uint64_t hi)
{
	return va >= lo && va <= hi && len <= hi - va;
}

/* Only pages every process has mapped: the kernel must not fault on a user's pointer. */
int ptest_user_range(uint64_t va, uint64_t len)
{
	return inside(va, len, PTEST_USER_DATA, PTEST_USER_DATA + X86_PAGE_SIZE) ||
	       inside(va, len, PTEST_USER_REMAP, PTEST_USER_REMAP + X86_PAGE_SIZE) ||
	       inside(va, len, PTEST_USER_STACK, PTEST_USER_STACK_TOP) ||
	       inside(va, len, (uint64_t)(uintptr_t)__user_start, (uint64_t)(uintptr_t)__user_end);
}

static uint64_t sys_write(uint64_t buf, uint64_t len)
{
	if (len > WRITE_MAX || !ptest_user_range(buf, len))
		return (uint64_t)PTEST_EFAULT;
	nb_write((const char *)(uintptr_t)buf, len);
	return len;
}

/* The page was read before, so its old translation may be cached: INVLPG drops it. */
static uint64_t sys_remap(struct proc *p)
{
	uint64_t *pte = nb_pt_entry(p->cr3, PTEST_USER_REMAP, 1, 0);

	*pte = p->remap_b_pa | X86_PTE_P | X86_PTE_U;
	x86_invlpg(PTEST_USER_REMAP);
	return 0;
}

static uint64_t sys_onfault(struct proc *p, uint64_t rip)
{
	if (!inside(rip, 1, (uint64_t)(uintptr_t)__user_start, (uint64_t)(uintptr_t)__user_end))
		return (uint64_t)PTEST_EINVAL;
	p->onfault = rip;
	return 0;
}

void ptest_syscall(struct nb_trap_frame *f)
{
	struct proc *p = proc_current();

	/* The call returns to the instruction after the UD2, whichever process runs next. */
	f->rip += UD2_LEN;
	switch (f->rax) {
	case PTEST_SYS_EXIT:
		p->exit_status = f->rdi;
		p->state = PROC_EXITED;
		proc_schedule(f);
		break;
	case PTEST_SYS_WRITE:
		f->rax = sys_write(f->rdi, f->rsi);
		break;
	case PTEST_SYS_GETPID:
		f->rax = p->pid;
		break;
	case PTEST_SYS_YIELD:
		f->rax = 0;
		proc_schedule(f);
		break;
	case PTEST_SYS_REMAP:
		f->rax = sys_remap(p);
		break;
	case PTEST_SYS_ONFAULT:
		f->rax = sys_onfault(p, f->rdi);
		break;
	default:
		f->rax = (uint64_t)PTEST_ENOSYS;
		break;
	}
}
