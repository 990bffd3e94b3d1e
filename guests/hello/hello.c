/*
 * hello: the smallest useful kernel on the nestbed boot protocol. It says where it is, shows
 * what the boot info gave it, writes a few trace records of its own and exits.
 *
 * Options (boot info options string):
 *   exit=N     exit status (default 0), through the exit hypercall
 *   records=N  NB_EV_GUEST records to write (default 3); the first three carry the RIP and
 *              bytes of a CPUID, an RDTSC and an OUT this kernel executed, aux = 1, 2, 3
 *   flush=0    never ask for a drain while writing, so a large records=N overflows the ring
 *              and the loss is counted (the ring is still flushed once before exit)
 *   print=N    N extra console lines, for console tests
 */
#include "nestbed/ports.h"
#include "guests/lib/nbkernel.h"

/* Each probe executes one instruction at a label and reports the label, to trace it by RIP. */
static uint64_t probe_cpuid(uint32_t leaf, uint32_t *eax_out)
{
	uint64_t rip;
	uint32_t a, b, c, d;

	__asm__ volatile("lea 1f(%%rip), %4\n1:\tcpuid"
			 : "=a"(a), "=b"(b), "=c"(c), "=d"(d), "=&r"(rip)
			 : "0"(leaf), "2"(0));
	*eax_out = a;
	return rip;
}

static uint64_t probe_rdtsc(uint64_t *tsc)
{
	uint64_t rip;
	uint32_t lo, hi;

	__asm__ volatile("lea 1f(%%rip), %2\n1:\trdtsc" : "=a"(lo), "=d"(hi), "=&r"(rip));
	*tsc = (uint64_t)hi << 32 | lo;
	return rip;
}

/* Ends the greeting line with an OUT of our own (after the usual THRE wait). */
static uint64_t probe_out_newline(uint16_t port)
{
	uint64_t rip;

	while (!(nb_inb(port + NB_UART_LSR) & NB_UART_LSR_THRE))
		;
	__asm__ volatile("lea 1f(%%rip), %0\n1:\toutb %%al, %%dx"
			 : "=&r"(rip)
			 : "a"((uint8_t)'\n'), "d"((uint16_t)(port + NB_UART_THR)));
	return rip;
}

static void print_modules(const struct nb_boot_info *bi)
{
	uint32_t i;

	nb_printf("modules: %u\n", bi->module_count);
	for (i = 0; i < bi->module_count; i++) {
		const struct nb_boot_module *m = &bi->modules[i];
		const void *data = (const void *)(uintptr_t)m->addr;

		nb_printf("module %u: name \"%s\" addr 0x%llx size %llu args \"%s\"\n", i, m->name,
			  (unsigned long long)m->addr, (unsigned long long)m->size, m->args);
		nb_printf("module %u: data ", i);
		nb_print_preview(data, m->size < 16 ? m->size : 16);
		nb_printf("\n");
	}
}

static void print_boot_info(const struct nb_boot_info *bi)
{
	const struct nb_ring *ring = nb_trace_ring();

	nb_printf("boot info: version %u size %u\n", bi->version, bi->size);
	nb_printf("memory: %llu KiB (0x%llx bytes)\n", (unsigned long long)(bi->mem_size >> 10),
		  (unsigned long long)bi->mem_size);
	nb_printf("free: 0x%llx-0x%llx\n", (unsigned long long)bi->free_start,
		  (unsigned long long)bi->free_end);
	nb_printf("ports: console 0x%x hypercall 0x%x exit 0x%x\n", bi->console_port,
		  bi->hypercall_port, bi->exit_port);
	nb_printf("ring: 0x%llx size 0x%llx capacity %u%s\n", (unsigned long long)bi->trace_ring_addr,
		  (unsigned long long)bi->trace_ring_size, ring ? ring->capacity : 0,
		  ring ? "" : " (no usable ring)");
	nb_printf("options: \"%s\"\n", bi->options);
	print_modules(bi);
}

static void write_records(uint64_t count, uint64_t out_rip)
{
	uint32_t leaf0_eax;
	uint64_t tsc, rip, i;

	rip = probe_cpuid(0, &leaf0_eax);
	if (count > 0)
		nb_trace_guest(1, rip, (const void *)(uintptr_t)rip, 2);
	rip = probe_rdtsc(&tsc);
	if (count > 1)
		nb_trace_guest(2, rip, (const void *)(uintptr_t)rip, 2);
	if (count > 2)
		nb_trace_guest(3, out_rip, (const void *)(uintptr_t)out_rip, 1);
	/* Beyond the three probes, records only need to be distinct and cheap to make. */
	for (i = 3; i < count; i++)
		nb_trace_guest(i + 1, 0, NULL, 0);
}

int kmain(struct nb_boot_info *bi)
{
	const struct nb_ring *ring;
	const struct nb_trace_stats *st;
	uint64_t records, extra, i, out_rip;
	int status, err = nb_guest_init(bi);

	if (err) {
		nb_printf("hello: unusable boot info at %p: %s\n", (void *)bi, nb_boot_strerror(err));
		return NB_GUEST_EXIT_BAD_BOOT;
	}
	records = nb_opt_u64(bi->options, "records", 3);
	extra = nb_opt_u64(bi->options, "print", 0);
	status = (int)nb_opt_u64(bi->options, "exit", 0);
	nb_trace_set_autoflush(nb_opt_u64(bi->options, "flush", 1) != 0);

	nb_printf("hello from nestbed level %u (vm %u)", bi->level, bi->vm_id);
	out_rip = probe_out_newline(bi->console_port);
	print_boot_info(bi);
	for (i = 0; i < extra; i++)
		nb_printf("hello: line %llu of %llu\n", (unsigned long long)i + 1,
			  (unsigned long long)extra);

	write_records(records, out_rip);
	nb_trace_flush();

	st = nb_trace_stats();
	ring = nb_trace_ring();
	nb_printf("trace: %llu written, %llu dropped, %llu flushes, ring lost %llu\n",
		  (unsigned long long)st->pushed, (unsigned long long)st->dropped,
		  (unsigned long long)st->flushes, (unsigned long long)(ring ? ring->lost : 0));
	nb_printf("hello: exit %d\n", status);
	return status;
}
