/* Trap helpers shared by the kernels' ktrap: caught exceptions (nb_try), names, panic. */
#include "guests/lib/nbkernel.h"
#include "guests/lib/trap.h"

/* The open try, or NULL; set by nb_try in traps.S. */
struct nb_try *nb_try_current;

void nb_try_landing(void); /* traps.S */

void nb_try_end(void)
{
	nb_try_current = NULL;
}

int nb_try_catch(struct nb_trap_frame *f)
{
	struct nb_try *t = nb_try_current;

	if (!t || (f->cs & 3) != 0)
		return 0;
	t->vector = f->vector;
	t->error = f->error;
	t->rip_fault = f->rip;
	t->cr2 = f->vector == X86_VEC_PF ? x86_read_cr2() : 0;
	nb_try_current = NULL;
	/* IRETQ to the landing, still at CPL 0; it restores nb_try's caller. */
	f->rip = (uint64_t)(uintptr_t)nb_try_landing;
	f->rdi = (uint64_t)(uintptr_t)t;
	return 1;
}

void nb_trap_user_frame(struct nb_trap_frame *f, uint64_t rip, uint64_t rsp)
{
	memset(f, 0, sizeof(*f));
	/* IRETQ to CPL 3 takes CS and SS with RPL 3 (SDM Vol. 2A IRET). */
	f->rip = rip;
	f->cs = NB_SEL_UCODE;
	f->rflags = X86_RFLAGS_FIXED;
	f->rsp = rsp;
	f->ss = NB_SEL_UDATA;
}

const char *nb_vector_name(uint64_t vector, char buf[16])
{
	static const char *const names[32] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", NULL,  "#TS", "#NP", "#SS", "#GP", "#PF", NULL,
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", NULL,  NULL,
		NULL,  NULL,  NULL,  NULL,  "#HV", "#VC", "#SX", NULL,
	};

	if (vector < 32 && names[vector])
		return names[vector];
	nb_snprintf(buf, 16, "vector %llu", (unsigned long long)vector);
	return buf;
}

void nb_trap_panic(const struct nb_trap_frame *f)
{
	char buf[16];

	nb_printf("FAIL: unexpected %s (error 0x%llx) at rip 0x%llx cpl %llu cr2 0x%llx\n",
		  nb_vector_name(f->vector, buf), (unsigned long long)f->error,
		  (unsigned long long)f->rip, (unsigned long long)(f->cs & 3),
		  (unsigned long long)x86_read_cr2());
	nb_hc_exit(NB_TRAP_EXIT_PANIC);
}
