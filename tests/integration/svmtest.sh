#!/bin/sh
# svmtest (guests/svmtest), a minimal SVM hypervisor that checks its CPU against AMD APM vol. 2
# ch. 15. At depth 1, directly under L0, the CPU offers no SVM (KVM here has none to give): the
# kernel must say so with a SKIP line for every check and end with status 0. At depth 2, as a
# guest of nbvmm, which offers a virtual SVM, every line must PASS.
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
NBVMM="$NB_BUILD/l1-vmm/nbvmm.elf"
SVMTEST="$GUESTS/svmtest/svmtest.elf"

# results FILE: the PASS/FAIL/SKIP lines of a console, without the "[Ln] " prefix.
results() {
	sed -n -e 's/^\[L[0-9]\] //' -e '/^\(PASS\|FAIL\|SKIP\): /p' "$1"
}

run_nestbed d1 run "$SVMTEST" --timeout 60
check_eq "svmtest without SVM (depth 1) exits with status 0" 0 "$status"
results "$TMP/d1.out" >"$TMP/d1.lines"
lines=$(wc -l <"$TMP/d1.lines")
check_ge "svmtest names its checks at depth 1" 40 "$lines"
check_eq "svmtest SKIPs every check at depth 1" "$lines" "$(grep -c '^SKIP: ' "$TMP/d1.lines")"
check_match "svmtest says why it SKIPs at depth 1" \
	'^SKIP: .*\(CPUID 8000_0001 ECX\[2\] is clear: this CPU offers no SVM\)$' "$TMP/d1.lines"
check_match "svmtest's summary at depth 1" "^\\[L1\\] svmtest: 0 passed, 0 failed, $lines skipped\$" \
	"$TMP/d1.out"

# At depth 2 nbvmm runs in faithful mode: on these hosts CPUID and VMMCALL in ring 3 never trap
# (l1-vmm/NOTES.md), so only single-stepping lets nbvmm show svmtest its virtual CPU (SVM in
# CPUID) and honour the CPUID and VMMCALL intercepts svmtest sets for its own guests. About five
# minutes here.
run_nestbed d2 run "$NBVMM" --timeout 900 --memory 128M --options faithful=1 --db "$TMP/d2.db" \
	--module "svmtest=$SVMTEST"
check_eq "svmtest under nbvmm (depth 2) exits with status 0" 0 "$status"
results "$TMP/d2.out" >"$TMP/d2.lines"
check_eq "svmtest prints the same number of lines at depth 2 as at depth 1" "$lines" \
	"$(wc -l <"$TMP/d2.lines")"
check_no_match "svmtest has no FAIL or SKIP line at depth 2 (every check PASSes)" \
	'^(FAIL|SKIP): ' "$TMP/d2.lines"
check_match "svmtest's summary at depth 2" "^\\[L2\\] svmtest: $lines passed, 0 failed, 0 skipped\$" \
	"$TMP/d2.out"

# The trace: nbvmm records each nested VMRUN, each #VMEXIT it reflected to svmtest (with the
# level that handled it), and the malformed VMCBs it refused with VMEXIT_INVALID.
db="$TMP/d2.db"
check_ge "the trace has svmtest's VMRUNs of its guest (level 3)" 10 \
	"$(sql "$db" "SELECT count(*) FROM events WHERE kind = 3 AND rec_level = 1 AND guest_level = 3")"
check_ge "the trace has the exits reflected to svmtest, handled at level 2" 10 \
	"$(sql "$db" "SELECT count(*) FROM events WHERE kind = 2 AND rec_level = 1 AND guest_level = 3 AND aux = 2")"
check_eq "the trace has the three VMCBs refused with VMEXIT_INVALID" 3 \
	"$(sql "$db" "SELECT count(*) FROM events WHERE kind = 2 AND rec_level = 1 AND exit_code = -1")"
# svmtest edits its nested page table after each nested page fault (maps the hole, makes the
# read-only page writable): nbvmm, which walked those tables, write-protected them, so both
# edits trap and are recorded as NPT_WRITE, at svmtest's level, about its guest (level 3).
check_ge "svmtest's two edits of its nested page table are traced as NPT_WRITE" 2 \
	"$(sql "$db" "SELECT count(*) FROM v_events WHERE kind = 'NPT_WRITE' AND rec_level = 1 AND guest_level = 2 AND aux = 3 AND old_val != new_val")"
check_ge "one of them makes the read-only page writable (only W changes)" 1 \
	"$(sql "$db" "SELECT count(*) FROM events WHERE kind = 27 AND rec_level = 1 AND (old_val | 2) = new_val AND old_val & 1")"
# Then it maps that page past its RAM: level 1 finds no memory there and emulates the nested
# guest's two reads (all ones) and its write (dropped) as accesses to a bus where nothing answers.
check_eq "the nested guest's accesses past its hypervisor's RAM: two reads of all ones, one write" "2|1" \
	"$(sql "$db" "SELECT sum(aux & 256 = 0 AND old_val = -1) || '|' || sum(aux & 256 != 0) FROM events WHERE kind = 14 AND rec_level = 1 AND guest_level = 3")"
for exit in CPUID HLT IOIO MSR VMMCALL NPF; do
	check_ge "a reflected $exit exit is named in v_events" 1 \
		"$(sql "$db" "SELECT count(*) FROM v_events WHERE kind = 'EXIT_REFLECTED' AND exit_name = '$exit'")"
done
done_testing
