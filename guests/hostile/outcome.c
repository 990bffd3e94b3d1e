/* Running one hostile operation with its exceptions caught, and checking what it did. */
#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/hostile/hostile.h"

#define TEXT_LEN 96

static void outcome_text(char *buf, const struct hostile_outcome *o)
{
	char v[16];

	if (!o->faulted)
		nb_snprintf(buf, TEXT_LEN, "no exception");
	else if (o->vector == X86_VEC_PF)
		nb_snprintf(buf, TEXT_LEN, "#PF error 0x%llx cr2 0x%llx",
			    (unsigned long long)o->error, (unsigned long long)o->cr2);
	else
		nb_snprintf(buf, TEXT_LEN, "%s error 0x%llx", nb_vector_name(o->vector, v),
			    (unsigned long long)o->error);
}

struct hostile_outcome hostile_try(void (*op)(uint64_t), uint64_t arg)
{
	struct hostile_outcome o = { 0, 0, 0, 0 };
	struct nb_try t;
	char text[TEXT_LEN];

	if (nb_try(&t) == 0) {
		op(arg);
		nb_try_end();
	} else {
		o.faulted = 1;
		o.vector = t.vector;
		o.error = t.error;
		o.cr2 = t.cr2;
	}
	outcome_text(text, &o);
	nb_printf("hostile:   observed %s\n", text);
	return o;
}

void hostile_check_fault(const char *name, const struct hostile_outcome *o, uint64_t vector,
			 uint64_t error, uint64_t cr2)
{
	struct hostile_outcome want = { 1, vector, error, vector == X86_VEC_PF ? cr2 : 0 };
	char w[TEXT_LEN], g[TEXT_LEN];
	int ok = o->faulted && o->vector == vector && o->error == error &&
		 (vector != X86_VEC_PF || o->cr2 == cr2);

	outcome_text(w, &want);
	outcome_text(g, o);
	nb_check_text(name, ok, w, g);
}

static volatile uint64_t read_back;

static void write_canary(uint64_t va)
{
	*(volatile uint64_t *)(uintptr_t)va = HOSTILE_CANARY;
}

static void read_word(uint64_t va)
{
	read_back = *(volatile uint64_t *)(uintptr_t)va;
}

void hostile_check_not_memory(const char *name, uint64_t va)
{
	struct hostile_outcome w, r;

	nb_printf("hostile:   write 0x%llx\n", (unsigned long long)HOSTILE_CANARY);
	w = hostile_try(write_canary, va);
	read_back = 0;
	nb_printf("hostile:   read it back\n");
	r = hostile_try(read_word, va);
	if (!r.faulted)
		nb_printf("hostile:   read 0x%llx\n", (unsigned long long)read_back);
	nb_check_text(name, w.faulted || r.faulted || read_back != HOSTILE_CANARY,
		      "a fault or not the value written", "the value written");
}
