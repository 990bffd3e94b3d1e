/*
 * misbehave: a kernel on the nestbed boot protocol that does one bad thing, chosen by option
 * do=..., so the host's tests can check that every level survives and reports it.
 *
 *   do=triple        empty IDT (limit 0), then UD2: #UD, #DF and the shutdown all fail to
 *                    deliver, so the CPU triple-faults
 *   do=loop          spins forever with interrupts off: only a timeout stops it
 *   do=spin          spins forever with interrupts on (and nothing to interrupt it but a
 *                    hypervisor's own timer)
 *   do=cli-hlt       CLI; HLT: can never wake (in-kernel irqchip: blocks inside KVM_RUN)
 *   do=unknown-port  writes to port 0x1234, which no level serves, then exits 0
 *   do=ring-garbage  forges its trace ring (records with wrong seq, head far beyond tail,
 *                    a corrupt header), flushing after each step, then exits 0
 *   do=ring-flood    writes 10x the ring's capacity without flushing (flood=N to choose the
 *                    count), then flushes and exits 0: the loss must be counted
 *   do=bad-mmio      reads guest-physical 0xC0000000 (mmio=ADDR to choose), above RAM but
 *                    inside the boot identity map, then exits 0
 *   do=emulation     executes POPCNT, which KVM's emulator cannot handle in ring 0 (PVM hosts)
 * Anything else prints the list and exits with status 2.
 */
#include "tracer/trace_format.h"
#include "guests/lib/nbkernel.h"

#define MISBEHAVE_EXIT_USAGE 2
#define UNKNOWN_PORT 0x1234
#define BAD_MMIO_DEFAULT 0xC0000000ull

static void do_triple(void)
{
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} empty_idt = { 0, 0 };

	nb_printf("misbehave: empty IDT, then ud2 (expect a triple fault)\n");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
}

static void do_loop(void)
{
	nb_printf("misbehave: spinning with interrupts off\n");
	__asm__ volatile("cli\n1:\tjmp 1b");
}

static void do_spin(void)
{
	nb_printf("misbehave: spinning with interrupts on\n");
	__asm__ volatile("sti\n1:\tjmp 1b");
}

static void do_cli_hlt(void)
{
	nb_printf("misbehave: cli; hlt\n");
	__asm__ volatile("cli\n\thlt");
	nb_printf("misbehave: woke from cli; hlt\n");
}

static void do_unknown_port(void)
{
	nb_printf("misbehave: outb 0x5a to port 0x%x\n", UNKNOWN_PORT);
	nb_outb(UNKNOWN_PORT, 0x5a);
	nb_printf("misbehave: inb port 0x%x = 0x%x\n", UNKNOWN_PORT, nb_inb(UNKNOWN_PORT));
}

static void print_ring(const char *when, const struct nb_ring *r)
{
	nb_printf("misbehave: %s: head %llu tail %llu lost %llu\n", when,
		  (unsigned long long)r->head, (unsigned long long)r->tail,
		  (unsigned long long)r->lost);
}

/*
 * Forges a record in the next slot by hand, the way a buggy or hostile producer would: the
 * consumer must count and skip records whose seq does not match their index.
 */
static void forge_record(struct nb_ring *r, uint64_t seq, uint64_t aux)
{
	struct nb_trace_record *slot = nb_ring_records(r) + (r->head & (r->capacity - 1));

	memset(slot, 0xa5, sizeof(*slot));
	slot->kind = NB_EV_GUEST;
	slot->aux = aux;
	slot->seq = seq;
	r->head++;
}

static void do_ring_garbage(void)
{
	struct nb_ring *r = nb_trace_ring();
	uint64_t h;

	if (!r) {
		nb_printf("misbehave: no trace ring to scribble on\n");
		return;
	}
	/* Step 1: two good records around three forged ones (seq 0, seq of another slot, junk). */
	nb_trace_guest(1, 0, NULL, 0);
	h = r->head;
	forge_record(r, 0, 2);
	forge_record(r, h, 3);
	forge_record(r, 0xdeadbeefcafef00dull, 4);
	nb_trace_guest(5, 0, NULL, 0);
	print_ring("forged 3 of 5 records", r);
	nb_trace_flush();
	print_ring("after flush", r);

	/* Step 2: head far beyond tail, as if 2^40 records had been written into the ring. */
	r->head = r->tail + (1ull << 40);
	print_ring("forged head", r);
	nb_trace_flush();
	print_ring("after flush", r);

	/* Step 3: a header that lies about its size and format. */
	r->capacity = 0xffffffffu;
	r->record_size = 7;
	r->magic = 0x45424147u; /* "GABE" */
	r->head = r->tail + 3;
	nb_printf("misbehave: corrupted ring header (capacity 0x%x)\n", r->capacity);
	nb_trace_flush();
	print_ring("after flush", r);
}

static void do_ring_flood(const struct nb_boot_info *bi)
{
	struct nb_ring *r = nb_trace_ring();
	struct nb_trace_record rec = { 0 };
	uint64_t i, count;

	if (!r) {
		nb_printf("misbehave: no trace ring to flood\n");
		return;
	}
	count = nb_opt_u64(bi->options, "flood", 10ull * r->capacity);
	nb_printf("misbehave: writing %llu records into a ring of %u without flushing\n",
		  (unsigned long long)count, r->capacity);
	nb_trace_set_autoflush(0);
	rec.kind = NB_EV_GUEST;
	for (i = 0; i < count; i++) {
		rec.aux = i + 1;
		nb_trace_emit(&rec);
	}
	print_ring("flooded", r);
	nb_trace_flush();
	print_ring("after flush", r);
}

static void do_bad_mmio(const struct nb_boot_info *bi)
{
	uint64_t gpa = nb_opt_u64(bi->options, "mmio", BAD_MMIO_DEFAULT);
	uint32_t v;

	nb_printf("misbehave: reading 0x%llx (RAM ends at 0x%llx)\n", (unsigned long long)gpa,
		  (unsigned long long)bi->mem_size);
	v = *(volatile uint32_t *)(uintptr_t)gpa;
	nb_printf("misbehave: read 0x%x\n", v);
}

/*
 * Every ring-0 instruction is emulated on PVM hosts (shared/PLATFORM.md), so one the emulator
 * does not know is enough: POPCNT has no entry in KVM's emulator tables and KVM_RUN returns
 * KVM_EXIT_INTERNAL_ERROR (KVM_INTERNAL_ERROR_EMULATION). On a VMX/SVM host it simply runs.
 */
static void do_emulation(void)
{
	uint64_t in = 0xf0f0, out;

	nb_printf("misbehave: popcnt in ring 0 (not in KVM's emulator)\n");
	__asm__ volatile("popcnt %1, %0" : "=r"(out) : "r"(in));
	nb_printf("misbehave: popcnt returned %llu\n", (unsigned long long)out);
}

int kmain(struct nb_boot_info *bi)
{
	const char *opts;
	int err = nb_guest_init(bi);

	if (err) {
		nb_printf("misbehave: unusable boot info at %p: %s\n", (void *)bi,
			  nb_boot_strerror(err));
		return NB_GUEST_EXIT_BAD_BOOT;
	}
	opts = bi->options;
	if (nb_opt_is(opts, "do", "triple"))
		do_triple();
	else if (nb_opt_is(opts, "do", "loop"))
		do_loop();
	else if (nb_opt_is(opts, "do", "spin"))
		do_spin();
	else if (nb_opt_is(opts, "do", "cli-hlt"))
		do_cli_hlt();
	else if (nb_opt_is(opts, "do", "unknown-port"))
		do_unknown_port();
	else if (nb_opt_is(opts, "do", "ring-garbage"))
		do_ring_garbage();
	else if (nb_opt_is(opts, "do", "ring-flood"))
		do_ring_flood(bi);
	else if (nb_opt_is(opts, "do", "bad-mmio"))
		do_bad_mmio(bi);
	else if (nb_opt_is(opts, "do", "emulation"))
		do_emulation();
	else {
		nb_printf("misbehave: options \"%s\": want do=triple|loop|spin|cli-hlt|unknown-port|"
			  "ring-garbage|ring-flood|bad-mmio|emulation\n", opts);
		return MISBEHAVE_EXIT_USAGE;
	}
	nb_printf("misbehave: exit 0\n");
	return 0;
}
