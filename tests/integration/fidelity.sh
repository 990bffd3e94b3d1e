#!/bin/sh
# The fidelity kernels (guests/fidelity), each checking one area of the machine against the
# architecture: at depth 1 every one must end with its own status 0 (for a Multiboot kernel,
# debug-exit status (0 << 1) | 1) and print no FAIL line; those in DEPTH2_READY must print the
# same PASS/FAIL/SKIP lines, in the same order, at depth 2 under nbvmm as at depth 1 - except
# that a check depth 1 SKIPs for a quirk of PVM may PASS at depth 2 (the kernels give such a
# SKIP line the name of the PASS line it stands for).
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
NBVMM="$NB_BUILD/l1-vmm/nbvmm.elf"
FIDELITY="$GUESTS/fidelity"

KERNELS="mb-modes mb-exceptions exceptions paging apic-timer cpuid-msr fpu"
# The kernels whose lines nbvmm reproduces at depth 2 (exceptions and fpu exactly; mb-modes,
# mb-exceptions, paging and apic-timer PASS there what PVM makes depth 1 SKIP: legacy paging,
# 1 GiB pages, 32-bit INT3/INTO, the ISR bit, the STI shadow). apic-timer's periodic-rate check
# lengthens its period until an interrupt's cost at depth 2 is small beside it.
DEPTH2_READY="mb-modes mb-exceptions exceptions paging fpu apic-timer"
# Kernels that run at depth 2 with nbvmm options: cpuid-msr needs faithful mode, as CPUID and
# RDTSCP run natively in ring 3 on these machines (CPUID faulting has no effect there, see
# l1-vmm/NOTES.md), so only single-stepping lets nbvmm show the guest its virtual CPU.
nbvmm_options() {
	case $1 in
	cpuid-msr) echo "faithful=1" ;;
	*) echo "" ;;
	esac
}
DEPTH2_READY="$DEPTH2_READY cpuid-msr"

# results FILE: the PASS/FAIL/SKIP lines of a console, without the "[Ln] " prefix.
results() {
	sed -n -e 's/^\[L[0-9]\] //' -e '/^\(PASS\|FAIL\|SKIP\): /p' "$1"
}

# compare_lines DEPTH1 DEPTH2: the lines where depth 2's results differ from depth 1's, where
# "SKIP: <name> (<why>)" at depth 1 is matched by "PASS: <name>" at depth 2 too.
compare_lines() {
	awk 'FILENAME == ARGV[1] { d1[FNR] = $0; n1 = FNR; next }
	{
		n2 = FNR; a = d1[FNR]; b = $0
		if (a == b || (a ~ /^SKIP: / && b ~ /^PASS: / && index(a, "SKIP: " substr(b, 7) " (") == 1))
			next
		printf "line %d: depth 1: %s\n         depth 2: %s\n", FNR, a, b
	}
	END { if (n1 != n2) printf "depth 1 gave %d lines, depth 2 %d\n", n1, n2 }' "$1" "$2"
}

# The status a kernel that passes ends with.
passing_status() {
	case $1 in
	mb-*) echo 1 ;;
	*) echo 0 ;;
	esac
}

for k in $KERNELS; do
	run_nestbed "$k-1" run "$FIDELITY/$k.elf" --timeout 60
	check_eq "$k passes at depth 1 (status)" "$(passing_status "$k")" "$status"
	results "$TMP/$k-1.out" >"$TMP/$k-1.lines"
	check_ge "$k prints its PASS lines at depth 1" 1 "$(grep -c '^PASS: ' "$TMP/$k-1.lines")"
	check_no_match "$k has no FAIL line at depth 1" '^FAIL' "$TMP/$k-1.lines"
done

for k in $DEPTH2_READY; do
	run_nestbed "$k-2" run "$NBVMM" --timeout 300 --memory 128M --db "$TMP/$k-2.db" \
		--options "$(nbvmm_options "$k")" --module "$k=$FIDELITY/$k.elf"
	check_eq "$k passes at depth 2 (status)" "$(passing_status "$k")" "$status"
	results "$TMP/$k-2.out" >"$TMP/$k-2.lines"
	compare_lines "$TMP/$k-1.lines" "$TMP/$k-2.lines" >"$TMP/$k.diff"
	if [ ! -s "$TMP/$k.diff" ]; then
		ok "$k prints the same PASS/FAIL/SKIP lines at depth 2 as at depth 1"
	else
		not_ok "$k prints the same PASS/FAIL/SKIP lines at depth 2 as at depth 1" \
			"where depth 2 differs (first lines):"
		sed -n '1,20s/^/#     /p' "$TMP/$k.diff"
	fi
done
# The trace shows what the guest did to its virtual APIC and every interrupt nbvmm delivered.
db="$TMP/apic-timer-2.db"
check_ge "apic-timer at depth 2: the trace has its timer interrupts" 20 \
	"$(sql "$db" "SELECT coalesce(sum(deliveries), 0) FROM v_interrupts WHERE rec_level = 1 AND vector = 64")"
check_ge "apic-timer at depth 2: the trace has its EOIs" 20 \
	"$(sql "$db" "SELECT coalesce(sum(accesses), 0) FROM v_apic_accesses WHERE rec_level = 1 AND register = 'EOI'")"
check_ge "apic-timer at depth 2: the trace has its timer programming" 1 \
	"$(sql "$db" "SELECT coalesce(sum(accesses), 0) FROM v_apic_accesses WHERE rec_level = 1 AND register = 'TIMER_INITIAL' AND access = 'write'")"
done_testing
