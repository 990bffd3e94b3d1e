/*
 * ptest's ring-0 checks, run once its own GDT, IDT, TSS and page tables are loaded: kernel-mode
 * exceptions through its IDT, its page tables really in use (page 0 unmapped), a second mapping
 * of a frame, a remap made visible by INVLPG, write protection in ring 0, and port I/O.
 */
#include "nestbed/ports.h"
#include "guests/lib/nbkernel.h"
#include "guests/lib/check.h"
#include "guests/lib/paging.h"
#include "guests/ptest/ptest.h"

/* PML4 slot 2: kernel-only test mappings, away from the identity map and the user slot. */
#define KALIAS 0x0000010000000000ull
#define KALIAS_RO (KALIAS + X86_PAGE_SIZE)
#define MARKER_X 0x1111222233334444ull
#define MARKER_Y 0x5555666677778888ull

/* Runs probe(va, value) inside a try and records what it raised, if anything. */
static const struct ptest_fault *try_probe(ptest_kprobe *probe, uint64_t va, uint64_t value,
					   struct ptest_fault *out)
{
	struct nb_try t;

	if (nb_try(&t) == 0) {
		probe(va, value);
		nb_try_end();
		return NULL;
	}
	out->vector = t.vector;
	out->error = t.error;
	out->rip = t.rip_fault;
	out->cr2 = t.cr2;
	out->resumed = 1;
	return out;
}

static void check_kernel_exceptions(void)
{
	struct ptest_fault got;
	const struct ptest_fault want_ud = { X86_VEC_UD, 0, (uint64_t)(uintptr_t)ptest_kprobe_ud2,
					     0, 1 };
	/* Page 0 is the one page the identity map leaves out: a supervisor read, not present. */
	const struct ptest_fault want_pf = { X86_VEC_PF, 0, (uint64_t)(uintptr_t)ptest_kprobe_read,
					     0, 1 };

	ptest_check_fault("kernel ud2 raises #UD through the kernel's IDT", &want_ud,
			  try_probe(ptest_kprobe_ud2, 0, 0, &got));
	ptest_check_fault("kernel read of unmapped page 0 raises #PF (own page tables)", &want_pf,
			  try_probe(ptest_kprobe_read, 0, 0, &got));
}

/* A frame seen at a second address; then the PTE changed to another frame: without INVLPG the
 * TLB may keep the old translation (SDM Vol. 3A 4.10.4), with it the new frame must show. */
static void check_alias_and_invlpg(uint64_t root)
{
	uint64_t x = nb_frame_alloc(), y = nb_frame_alloc(), *pte;
	struct ptest_fault got;
	const struct ptest_fault want_wp = { X86_VEC_PF, X86_PF_P | X86_PF_W,
					     (uint64_t)(uintptr_t)ptest_kprobe_write, KALIAS_RO, 1 };

	*(volatile uint64_t *)(uintptr_t)x = MARKER_X;
	*(volatile uint64_t *)(uintptr_t)y = MARKER_Y;
	nb_pt_map(root, KALIAS, x, X86_PTE_W);
	nb_check_u64("kernel alias mapping shows the frame", MARKER_X,
		     *(volatile uint64_t *)(uintptr_t)KALIAS);

	pte = nb_pt_entry(root, KALIAS, 1, 0);
	*pte = y | X86_PTE_P | X86_PTE_W;
	x86_invlpg(KALIAS);
	nb_check_u64("kernel remap with invlpg shows the new frame", MARKER_Y,
		     *(volatile uint64_t *)(uintptr_t)KALIAS);

	/* CR0.WP (set by the boot protocol) makes read-only pages read-only for ring 0 too. */
	nb_pt_map(root, KALIAS_RO, x, 0);
	ptest_check_fault("kernel write to a read-only page raises #PF (CR0.WP)", &want_wp,
			  try_probe(ptest_kprobe_write, KALIAS_RO, 0, &got));
	nb_check_u64("read-only frame unchanged", MARKER_X, *(volatile uint64_t *)(uintptr_t)x);
}

/* The console is port I/O already; this reads the UART's line status, which a UART that
 * accepts bytes must show with the transmit holding register empty. */
static void check_port_io(uint16_t console_port)
{
	uint8_t lsr = nb_inb((uint16_t)(console_port + NB_UART_LSR));

	nb_check_u64("port i/o: uart lsr shows the transmit holding register empty",
		     NB_UART_LSR_THRE, lsr & NB_UART_LSR_THRE);
}

void ptest_kernel_checks(uint64_t kernel_root, uint16_t console_port)
{
	check_kernel_exceptions();
	check_alias_and_invlpg(kernel_root);
	check_port_io(console_port);
}
