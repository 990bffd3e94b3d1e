/*
 * apic-timer: a 64-bit kernel that checks the local APIC it sees (xAPIC MMIO at 0xFEE00000,
 * reached through the boot identity map; SDM Vol. 3A chapter 11 "Advanced Programmable
 * Interrupt Controller", AMD APM Vol. 2 16.3-16.4): ID, version, the spurious-vector register,
 * the LVT timer in one-shot and periodic mode with the divide configuration, TPR (also as
 * CR8) and in-service priority, EOI, and the CPU's side of interrupt delivery: IF masking and
 * the interrupt shadow of STI. (MOV SS's shadow is left out: a test would need the interrupt
 * to become deliverable exactly at the MOV SS, and STI; MOV SS is not specified to work.)
 *
 * No check needs absolute time: the timer's rate is compared with itself (the number of
 * periodic interrupts in a window against the one-shot expiries that fit in it, and against
 * the current-count register's rate), with the TSC only as a common ruler. Nor does any check
 * need an interrupt to arrive promptly, except the STI-shadow ones, which say when it did not.
 */
#include "guests/fidelity/fid64.h"
#include "guests/fidelity/fidcheck.h"
#include "guests/fidelity/apic_timer.h"

#define MSR_APIC_BASE 0x1bu
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_ADDR_MASK 0xffffff000ull

#define APIC_ID 0x20
#define APIC_VERSION 0x30
#define APIC_TPR 0x80
#define APIC_PPR 0xa0
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ISR 0x100
#define APIC_IRR 0x200
#define APIC_ICR_LOW 0x300
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_CURRENT 0x390
#define APIC_TIMER_DIVIDE 0x3e0

#define SVR_ENABLE 0x100u
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define ICR_SELF (1u << 18) /* destination shorthand 01: self; fixed delivery */
#define DIVIDE_BY_2 0x0u    /* divide configuration register encodings (Vol. 3A 11.5.4) */
#define DIVIDE_BY_16 0x3u

#define ONESHOT_RUNS 5
/* The periodic count runs over 20.5 one-shot periods: 20 expiries, and no expiry at the
 * window's edge for small rate errors to move in or out. */
#define PERIODIC_WINDOW_HALVES 41
#define PERIODIC_TRIES 3
/* Periods tried for the rate: APIC_COUNT, then each PERIOD_SCALE times longer. */
#define PERIOD_SCALE 4
#define PERIOD_SCALES 3
#define RATE_TRIES 5
#define WAIT_LIMIT (1ull << 34) /* TSC cycles: some seconds at any clock rate */

static volatile uint32_t *const apic = (volatile uint32_t *)(uintptr_t)APIC_MMIO_BASE;

/* What the interrupt handler saw. */
static volatile uint32_t irq_count[256];
static volatile uint32_t ticks;
static volatile uint64_t irq_rip, irq_in_service, marker_at_irq;
static uint64_t oneshot_tsc; /* how long a one-shot of APIC_COUNT takes, in TSC cycles */
static int isr_tracked;      /* delivery set the vector's ISR bit */

#define RATE_ONESHOT "periodic: interrupts at the one-shot rate, within 10%"
#define RATE_PROGRAMMED "periodic: interrupts at the programmed count's rate, within 10%"
/* The checks that need the ISR bit set on delivery (Vol. 3A 11.8.4). */
static const char *const isr_lines[] = {
	"in its handler the vector's ISR bit is set",
	"EOI clears the ISR bit",
	"TPR 0: the higher vector in, the lower held by the in-service one",
	"EOI of the higher vector lets the lower one in",
};
static const char PVM_NO_ISR[] = "PVM: delivery leaves the ISR bit clear";

static uint32_t apic_read(unsigned reg)
{
	return apic[reg / 4];
}

static void apic_write(unsigned reg, uint32_t v)
{
	apic[reg / 4] = v;
}

static int vector_bit(unsigned base, unsigned vec)
{
	return (apic_read(base + (vec / 32) * 0x10) >> (vec % 32)) & 1;
}

static void eoi(void)
{
	apic_write(APIC_EOI, 0);
}

/* Interrupts (vectors 32 and up) are counted; the timer's are ended here with an EOI, the
 * self-IPIs' by the checks. The handler reads the ISR bit of its own vector: the APIC sets it
 * on delivery (Vol. 3A 11.8.4). */
int fid_trap_hook(struct nb_trap_frame *f)
{
	unsigned v = (unsigned)f->vector;

	if (v < 32)
		return 0;
	irq_count[v]++;
	irq_rip = f->rip;
	irq_in_service = v != APIC_SPURIOUS_VECTOR && vector_bit(APIC_ISR, v);
	marker_at_irq = apic_marker;
	if (v == APIC_TIMER_VECTOR) {
		ticks++;
		eoi();
	}
	return 1;
}

static void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static void sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

static uint64_t read_cr8(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr8, %0" : "=r"(v));
	return v;
}

static void write_cr8(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr8" : : "r"(v) : "memory");
}

/* With interrupts on, spins until *count reaches target or WAIT_LIMIT TSC cycles pass. Spinning,
 * not HLT: a lost interrupt must end in a FAIL line, not a hang. */
static int wait_count(volatile uint32_t *count, uint32_t target)
{
	uint64_t start = nb_rdtsc();
	int ok;

	sti();
	while (*count < target && nb_rdtsc() - start < WAIT_LIMIT)
		__asm__ volatile("pause" : : : "memory");
	ok = *count >= target;
	cli();
	return ok;
}

/*
 * Lets cycles TSC cycles pass, with interrupts on or off as said. Returns the longest gap
 * between two TSC reads of the loop: time the vCPU did not run (or spent in a handler).
 */
static uint64_t spin(uint64_t cycles, int interrupts)
{
	uint64_t start = nb_rdtsc(), prev = start, now, gap = 0;

	if (interrupts)
		sti();
	while ((now = nb_rdtsc()) - start < cycles) {
		if (now - prev > gap)
			gap = now - prev;
		prev = now;
		__asm__ volatile("pause" : : : "memory");
	}
	cli();
	return gap;
}

/*
 * How long an interrupt that may come is given to come: two one-shot periods. Directly under
 * L0 on PVM an interrupt reaches emulated ring-0 code only some milliseconds after it is
 * pending, so nothing here expects it sooner (the shadow checks detect that case).
 */
static uint64_t window(void)
{
	return 2 * oneshot_tsc;
}

static void self_ipi(unsigned vec)
{
	apic_write(APIC_ICR_LOW, ICR_SELF | vec);
}

static void timer_stop(void)
{
	apic_write(APIC_TIMER_INITIAL, 0);
	apic_write(APIC_LVT_TIMER, LVT_MASKED | APIC_TIMER_VECTOR);
}

static void test_registers(void)
{
	uint64_t base = x86_rdmsr(MSR_APIC_BASE);
	uint32_t ver, lvt;

	{
		const struct fid_field f[] = {
			{ "base", APIC_MMIO_BASE, base & APIC_BASE_ADDR_MASK },
			{ "enable", APIC_BASE_ENABLE, base & APIC_BASE_ENABLE },
			{ "BSP", APIC_BASE_BSP, base & APIC_BASE_BSP },
		};

		fid_check_fields("IA32_APIC_BASE: enabled BSP at 0xFEE00000", FID_FIELDS(f));
	}
	/* The only CPU's APIC ID is 0, as KVM gives vCPU 0. (Not compared with CPUID 1
	 * EBX[31:24]: L0 hands the guest KVM_GET_SUPPORTED_CPUID's leaf 1 unchanged, whose
	 * EBX holds the APIC ID of whichever host CPU answered the ioctl.) */
	nb_check_u64("ID register: 0, the only CPU's", 0, apic_read(APIC_ID) >> 24);
	ver = apic_read(APIC_VERSION);
	{
		/* 0x1X: an integrated APIC; bits 23:16 hold the number of LVT entries minus 1
		 * (Vol. 3A 11.4.8); timer, LINT0, LINT1 and error are always there. */
		const struct fid_field f[] = {
			{ "integrated APIC (0x10-0x15)", 1,
			  (ver & 0xf0) == 0x10 && (ver & 0xff) <= 0x15 },
			{ "LVT entries >= 4", 1, ((ver >> 16) & 0xff) + 1 >= 4 },
		};

		fid_check_fields("version register: integrated APIC with its LVT", FID_FIELDS(f));
	}
	apic_write(APIC_SVR, SVR_ENABLE | APIC_SPURIOUS_VECTOR);
	nb_check_u64("SVR: software enable and spurious vector read back",
		     SVR_ENABLE | APIC_SPURIOUS_VECTOR, apic_read(APIC_SVR) & 0x1ff);
	/* Software-disabled, every LVT entry is masked and cannot be unmasked (11.4.7.2). */
	apic_write(APIC_SVR, APIC_SPURIOUS_VECTOR);
	apic_write(APIC_LVT_TIMER, APIC_TIMER_VECTOR);
	lvt = apic_read(APIC_LVT_TIMER);
	apic_write(APIC_SVR, SVR_ENABLE | APIC_SPURIOUS_VECTOR);
	nb_check_u64("SVR software disable keeps the LVT timer masked", LVT_MASKED,
		     lvt & LVT_MASKED);
	apic_write(APIC_TPR, 0x20);
	nb_check_u64("TPR reads back", 0x20, apic_read(APIC_TPR) & 0xff);
	/* CR8[3:0] is TPR[7:4] (Vol. 3A 11.8.6.1). */
	write_cr8(3);
	nb_check_u64("a CR8 write shows in TPR[7:4]", 0x30, apic_read(APIC_TPR) & 0xf0);
	apic_write(APIC_TPR, 0x50);
	nb_check_u64("a TPR write shows in CR8", 5, read_cr8());
	write_cr8(0);
}

/*
 * Arms a one-shot of count and polls the current count down to 0: the TSC cycles it took, or 0
 * when it never got there. The expiry lies between the start of the last read that still saw a
 * count and the end of the one that saw 0: the midpoint is returned, and that interval in
 * *resolution (under a hypervisor each read is a trap, so it can be milliseconds).
 */
static uint64_t oneshot_by_polling(uint32_t lvt, uint32_t count, uint64_t *resolution)
{
	uint64_t start, before, counting, end;

	apic_write(APIC_LVT_TIMER, lvt);
	start = nb_rdtsc();
	apic_write(APIC_TIMER_INITIAL, count);
	counting = start;
	for (;;) {
		before = nb_rdtsc();
		if (apic_read(APIC_TIMER_CURRENT) == 0)
			break;
		counting = before;
		if (before - start >= WAIT_LIMIT)
			return 0;
	}
	end = nb_rdtsc();
	if (resolution)
		*resolution = end - counting;
	return (counting + end) / 2 - start;
}

/* The one-shot of count measured most precisely of a few (0 when one never got to 0), and that
 * measurement's resolution. */
static uint64_t best_oneshot(uint32_t count, uint64_t *resolution)
{
	uint64_t best = 0, best_res = 0, t, res;
	unsigned i;

	for (i = 0; i < 3; i++) {
		t = oneshot_by_polling(LVT_MASKED | APIC_TIMER_VECTOR, count, &res);
		if (!t)
			return 0;
		if (!best || res < best_res) {
			best = t;
			best_res = res;
		}
	}
	*resolution = best_res;
	return best;
}

/* One-shot: counts down once, interrupts once, then the current count stays at 0 (Vol. 3A
 * 11.5.4). Its duration, polled, is the ruler for the rest: the shortest of a few runs, as a
 * poll can only see the zero late (when the vCPU was not running), never early. */
static void test_oneshot(void)
{
	uint64_t t;
	unsigned i, fired = 0, counted = 0;

	apic_write(APIC_TIMER_DIVIDE, DIVIDE_BY_16);
	for (i = 0; i < ONESHOT_RUNS; i++) {
		ticks = 0;
		t = oneshot_by_polling(APIC_TIMER_VECTOR, APIC_COUNT, NULL);
		counted += t != 0;
		if (t && (!oneshot_tsc || t < oneshot_tsc))
			oneshot_tsc = t;
		fired += wait_count(&ticks, 1);
	}
	nb_check_u64("one-shot: the current count reaches 0", ONESHOT_RUNS, counted);
	nb_check_u64("one-shot: each expiry interrupts", ONESHOT_RUNS, fired);
	if (counted != ONESHOT_RUNS || fired != ONESHOT_RUNS) {
		oneshot_tsc = 0;
		return;
	}
	spin(window(), 1);
	nb_check_u64("one-shot: no second interrupt", 1, ticks);
	nb_check_u64("one-shot: the current count stays at 0", 0, apic_read(APIC_TIMER_CURRENT));

	/* Masked, the timer still counts down but interrupts nobody (11.5.1). */
	ticks = 0;
	t = oneshot_by_polling(LVT_MASKED | APIC_TIMER_VECTOR, APIC_COUNT, NULL);
	spin(window(), 1);
	{
		const struct fid_field f[] = {
			{ "counted down", 1, t != 0 },
			{ "interrupts", 0, ticks },
		};

		fid_check_fields("masked one-shot: counts to 0 without an interrupt", FID_FIELDS(f));
	}
	timer_stop();
}

/* The current count and the TSC at (about) the same moment: of a few tries, the one whose two
 * TSC reads around the register read are closest. */
static uint32_t current_count_at(uint64_t *tsc)
{
	uint64_t best = ~0ull, t0, t1;
	uint32_t c, count = 0;
	unsigned i;

	*tsc = 0;
	for (i = 0; i < RATE_TRIES; i++) {
		t0 = nb_rdtsc();
		c = apic_read(APIC_TIMER_CURRENT);
		t1 = nb_rdtsc();
		if (t1 - t0 < best) {
			best = t1 - t0;
			*tsc = t0 + (t1 - t0) / 2;
			count = c;
		}
	}
	return count;
}

/* Counts per TSC cycle with the divider given, from two readings of the current count. */
static void count_rate(uint32_t divide, uint64_t *counts, uint64_t *tsc)
{
	uint64_t t0, t1;
	uint32_t c0, c1;

	apic_write(APIC_LVT_TIMER, LVT_MASKED | APIC_TIMER_VECTOR);
	apic_write(APIC_TIMER_DIVIDE, divide);
	apic_write(APIC_TIMER_INITIAL, 0xffffffffu);
	c0 = current_count_at(&t0);
	spin(oneshot_tsc, 0);
	c1 = current_count_at(&t1);
	*counts = c0 - c1;
	*tsc = t1 - t0;
	timer_stop();
}

/* within10(a, b): a within 10% of b. */
static int within10(uint64_t a, uint64_t b)
{
	return 10 * a >= 9 * b && 10 * a <= 11 * b;
}

static void test_rates(void)
{
	uint64_t c16, t16, c2, t2, expected, period = 0, resolution = 0, count = APIC_COUNT, scale;
	int reloaded = 0, steady = 0, precise;
	unsigned i, s;

	if (!oneshot_tsc) {
		nb_check_fail("timer rates", "no one-shot measurement to compare with");
		return;
	}
	count_rate(DIVIDE_BY_16, &c16, &t16);
	count_rate(DIVIDE_BY_2, &c2, &t2);
	nb_check_u64("current count decreases", 1, c16 > 0 && c2 > 0);
	if (!c16 || !c2)
		return;
	/* Divide by 2 counts 8 times as fast as divide by 16: c2/t2 = 8 c16/t16, within 10%. */
	nb_check_u64("divide configuration: by 2 counts 8 times as fast as by 16", 1,
		     within10(c2 * t16, 8 * c16 * t2));

	/*
	 * Periodic: the count reloads from the initial count at 0 (11.5.4). The interrupts are
	 * counted over PERIODIC_WINDOW_HALVES / 2 periods, from arming to stopping; those that
	 * expired in the window but arrive late (one at most, as IRR holds one) are let in before
	 * counting. Late delivery then moves no interrupt in or out of the count.
	 *
	 * The rate is a property of the timer, not of how fast the CPU takes an interrupt: when a
	 * window loses the CPU for half a period (the host was busy, or each interrupt costs the
	 * guest more than that, as under a trap-and-emulate hypervisor), or the one-shot ruler is
	 * not known to 5%, the period is made PERIOD_SCALE times longer and measured again, up to
	 * PERIOD_SCALES times.
	 */
	apic_write(APIC_TIMER_DIVIDE, DIVIDE_BY_16);
	for (scale = 1, s = 0; s < PERIOD_SCALES && !steady; s++, scale *= PERIOD_SCALE) {
		count = APIC_COUNT * scale;
		period = best_oneshot(count, &resolution);
		/* The ruler's error is at most half its resolution. A resolution that coarse also
		 * says each trap costs a good part of a period: a periodic timer that fast could
		 * keep the guest in its handler (a livelock, not a measurement), so try the next
		 * period - or, at the last, one window for the reload check alone. */
		precise = resolution * 10 <= period;
		if (!precise && s + 1 < PERIOD_SCALES)
			continue;
		for (i = 0; i < PERIODIC_TRIES && period; i++) {
			uint64_t gap;

			ticks = 0;
			apic_write(APIC_LVT_TIMER, LVT_TIMER_PERIODIC | APIC_TIMER_VECTOR);
			apic_write(APIC_TIMER_INITIAL, count);
			gap = spin(period * PERIODIC_WINDOW_HALVES / 2, 1);
			reloaded = apic_read(APIC_TIMER_CURRENT) != 0;
			timer_stop();
			spin(window(), 1);
			/* Not running for most of a period, the vCPU may have had expiries merged in
			 * IRR: a loss of the host's, not of the APIC model. Measure again. */
			steady = precise && gap < period / 2;
			if (steady || !precise)
				break;
		}
	}
	nb_check_u64("periodic: the current count reloads", 1, reloaded);
	if (!steady) {
		static const char *const lines[] = { RATE_ONESHOT, RATE_PROGRAMMED };

		fid_skip_lines(NULL, lines, 2,
			       "no period could be measured to 5% in windows that kept the CPU: host or hypervisor busy");
		ticks = 0;
		spin(window(), 1);
		nb_check_u64("an initial count of 0 stops the periodic timer", 0, ticks);
		return;
	}
	/* As many interrupts as one-shot expiries fit in the window, within 10%. */
	nb_check_u64(RATE_ONESHOT, 1, within10(ticks, PERIODIC_WINDOW_HALVES / 2));
	/* The count runs at c16/t16 counts per TSC cycle: the window holds
	 * window * c16 / (t16 * count) periods. */
	expected = period * PERIODIC_WINDOW_HALVES / 2 * c16 / (t16 * count);
	nb_check_u64(RATE_PROGRAMMED, 1, within10(ticks, expected));
	/* A zero initial count stops the timer. */
	ticks = 0;
	spin(window(), 1);
	nb_check_u64("an initial count of 0 stops the periodic timer", 0, ticks);
}

/* IF clear holds an interrupt pending in IRR; with IF set it is delivered (Vol. 3A 6.8.1). */
static void test_if_masking(void)
{
	uint32_t before = irq_count[APIC_LOW_VECTOR];

	apic_write(APIC_TPR, 0);
	self_ipi(APIC_LOW_VECTOR);
	spin(window(), 0);
	{
		const struct fid_field f[] = {
			{ "delivered", 0, irq_count[APIC_LOW_VECTOR] - before },
			{ "IRR bit", 1, (uint64_t)vector_bit(APIC_IRR, APIC_LOW_VECTOR) },
		};

		fid_check_fields("IF clear: a self-IPI stays pending in IRR", FID_FIELDS(f));
	}
	nb_check_u64("IF set: the pending interrupt is delivered", 1,
		     (uint64_t)wait_count(&irq_count[APIC_LOW_VECTOR], before + 1));
	isr_tracked = irq_in_service != 0;
	if (!isr_tracked) {
		fid_skip_lines(NULL, isr_lines, 2, PVM_NO_ISR);
		eoi();
		return;
	}
	nb_check_u64(isr_lines[0], 1, irq_in_service);
	eoi();
	nb_check_u64(isr_lines[1], 0, (uint64_t)vector_bit(APIC_ISR, APIC_LOW_VECTOR));
}

/*
 * Priority: an interrupt is delivered only when its class (vector[7:4]) is above the
 * processor priority, the larger of TPR[7:4] and the class of the highest in-service vector
 * (Vol. 3A 11.8.3.1).
 */
static void test_priority(void)
{
	uint32_t low = irq_count[APIC_LOW_VECTOR], high = irq_count[APIC_HIGH_VECTOR];

	write_cr8(APIC_LOW_VECTOR >> 4);
	self_ipi(APIC_LOW_VECTOR);
	spin(window(), 1);
	{
		const struct fid_field f[] = {
			{ "delivered", 0, irq_count[APIC_LOW_VECTOR] - low },
			{ "IRR bit", 1, (uint64_t)vector_bit(APIC_IRR, APIC_LOW_VECTOR) },
			{ "PPR", APIC_LOW_VECTOR & 0xf0, apic_read(APIC_PPR) & 0xf0 },
		};

		fid_check_fields("CR8 at the vector's class: the interrupt stays pending",
				 FID_FIELDS(f));
	}
	write_cr8((APIC_LOW_VECTOR >> 4) - 1);
	nb_check_u64("CR8 below the class: the interrupt is delivered", 1,
		     (uint64_t)wait_count(&irq_count[APIC_LOW_VECTOR], low + 1));
	eoi();
	write_cr8(0);
	low = irq_count[APIC_LOW_VECTOR];

	/* The same through the TPR register, and an in-service vector blocking lower classes. */
	apic_write(APIC_TPR, APIC_HIGH_VECTOR & 0xf0);
	self_ipi(APIC_LOW_VECTOR);
	self_ipi(APIC_HIGH_VECTOR);
	spin(window(), 1);
	nb_check_u64("TPR at the higher class: both stay pending", 0,
		     irq_count[APIC_LOW_VECTOR] - low + irq_count[APIC_HIGH_VECTOR] - high);
	apic_write(APIC_TPR, 0);
	if (!isr_tracked) {
		wait_count(&irq_count[APIC_HIGH_VECTOR], high + 1);
		wait_count(&irq_count[APIC_LOW_VECTOR], low + 1);
		fid_skip_lines(NULL, isr_lines + 2, 2, PVM_NO_ISR);
		eoi();
		eoi();
		return;
	}
	wait_count(&irq_count[APIC_HIGH_VECTOR], high + 1);
	spin(window(), 1);
	{
		const struct fid_field f[] = {
			{ "higher delivered", 1, irq_count[APIC_HIGH_VECTOR] - high },
			{ "lower delivered", 0, irq_count[APIC_LOW_VECTOR] - low },
			{ "lower in IRR", 1, (uint64_t)vector_bit(APIC_IRR, APIC_LOW_VECTOR) },
		};

		fid_check_fields(isr_lines[2], FID_FIELDS(f));
	}
	eoi();
	nb_check_u64(isr_lines[3], 1,
		     (uint64_t)wait_count(&irq_count[APIC_LOW_VECTOR], low + 1));
	eoi();
}

static const char PVM_LATE_INTERRUPT[] =
	"PVM: a pending interrupt reaches ring-0 code milliseconds late";

/*
 * The interrupt shadow: after STI (when IF was clear), interrupts are recognised only after
 * the next instruction (Vol. 3A 6.8.3; Vol. 2B STI). With a self-IPI pending, probe (in
 * apic_shadow.S) executes STI and one more instruction; the interrupt must come right after
 * that one, with RIP = after and apic_marker as the probe left it.
 */
static void check_pending_at_sti(const char *name, void (*probe)(void), const char *after,
				 uint64_t marker)
{
	uint32_t before = irq_count[APIC_LOW_VECTOR];

	self_ipi(APIC_LOW_VECTOR);
	apic_marker = 0;
	probe();
	if (irq_count[APIC_LOW_VECTOR] == before) {
		nb_check_skip(name, PVM_LATE_INTERRUPT);
		wait_count(&irq_count[APIC_LOW_VECTOR], before + 1);
	} else {
		const struct fid_field f[] = {
			{ "delivered", 1, irq_count[APIC_LOW_VECTOR] - before },
			{ "RIP", FID_ADDR(after), irq_rip },
			{ "marker at the interrupt", marker, marker_at_irq },
		};

		fid_check_fields(name, FID_FIELDS(f));
	}
	eoi();
}

static void test_shadows(void)
{
	apic_write(APIC_TPR, 0);
	check_pending_at_sti("STI: a pending interrupt waits for the next instruction",
			     apic_sti_shadow, apic_sti_shadow_after, 1);
	/* HLT is the instruction in the shadow: it wakes at once, the interrupt after it. */
	check_pending_at_sti("STI; HLT with an interrupt pending: wakes, RIP after the HLT",
			     apic_sti_hlt, apic_sti_hlt_after, 0);
	/* STI; HLT with the timer armed: HLT sleeps until the one-shot fires. */
	ticks = 0;
	apic_write(APIC_TIMER_DIVIDE, DIVIDE_BY_16);
	apic_write(APIC_LVT_TIMER, APIC_TIMER_VECTOR);
	apic_write(APIC_TIMER_INITIAL, APIC_COUNT);
	apic_sti_hlt();
	nb_check_u64("STI; HLT sleeps until the one-shot timer fires", 1, ticks);
	timer_stop();
}

int kmain(struct nb_boot_info *bi)
{
	int rc = fid_init(bi, "apic-timer", "local APIC, timer modes and rates, TPR, EOI, shadows");

	if (rc)
		return rc;
	/* The boot identity map covers the APIC page; the vectors get interrupt gates. */
	nb_idt_set_gate(APIC_TIMER_VECTOR, 0);
	nb_idt_set_gate(APIC_LOW_VECTOR, 0);
	nb_idt_set_gate(APIC_HIGH_VECTOR, 0);
	nb_idt_set_gate(APIC_SPURIOUS_VECTOR, 0);
	test_registers();
	test_oneshot();
	test_rates();
	test_if_masking();
	test_priority();
	test_shadows();
	nb_check_u64("no spurious interrupts", 0, irq_count[APIC_SPURIOUS_VECTOR]);
	return nb_check_summary("apic-timer");
}
