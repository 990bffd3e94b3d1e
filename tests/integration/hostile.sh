#!/bin/sh
# The hostile guest kernel tries to escape at depth 1 (contained by KVM and L0) and at depth 2
# (contained by nbvmm): every attempt is reported, nothing reaches the level that runs it, and
# the fatal ones end in a reported triple fault or a timeout.
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
NBVMM="$NB_BUILD/l1-vmm/nbvmm.elf"
HOSTILE="$GUESTS/hostile/hostile.elf"

run_nestbed h1 run "$HOSTILE" --timeout 120 --memory 116M
check_eq "the non-fatal escapes are contained at depth 1" 0 "$status"
run_nestbed h2 run "$NBVMM" --db "$TMP/h2.db" --timeout 300 --memory 128M --module "hostile=$HOSTILE"
check_eq "the non-fatal escapes are contained at depth 2" 0 "$status"
check_match "every check passes at depth 2" '^\[L2\] hostile: [0-9]+ passed, 0 failed' "$TMP/h2.out"
check_ge "nbvmm traced the guest's page-table writes through its alias" 1 \
	"$(sql "$TMP/h2.db" "select count(*) from events where kind = 4 and rec_level = 1 and guest_level = 2")"
check_ge "the access past the end of RAM is an MMIO event of level 1" 1 \
	"$(sql "$TMP/h2.db" "select count(*) from events where kind = 14 and rec_level = 1 and addr = 121634816")"
check_ge "nbvmm delivered the #GP of each bad privileged instruction" 5 \
	"$(sql "$TMP/h2.db" "select count(*) from events where kind = 18 and rec_level = 1 and aux = 13")"

for attempt in cr3-beyond-ram idt-limit0 idt-unmapped; do
	run_nestbed "$attempt" run "$NBVMM" --timeout 120 --memory 128M --module "hostile=$HOSTILE,do=$attempt"
	check_eq "do=$attempt: nbvmm stops the guest with a triple fault, status 126" 126 "$status"
	check_match "do=$attempt: nbvmm reports the shutdown and the guest's state" \
		'^\[L1\] nbvmm: level 2 guest stopped: shut down \(triple fault\)' "$TMP/$attempt.out"
done
run_nestbed spin run "$NBVMM" --timeout 120 --options timeout=2 --memory 128M \
	--module "misbehave=$GUESTS/misbehave/misbehave.elf,do=spin"
check_eq "an endless loop with interrupts on is ended by nbvmm's own timer (status 124)" 124 "$status"
check_match "nbvmm reports the time limit and where the guest was" \
	'^\[L1\] nbvmm: level 2 guest stopped: the guest ran past its time limit' "$TMP/spin.out"
run_nestbed loop run "$NBVMM" --timeout 3 --options timeout=1 --memory 128M --module "hostile=$HOSTILE,do=loop"
check_eq "a loop with interrupts off cannot be preempted, as on hardware: L0's timeout ends it (124)" 124 "$status"
check_match "L0 reports its timeout" 'timeout of 3 s' "$TMP/loop.err"
done_testing
