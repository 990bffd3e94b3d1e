#!/bin/sh
# Recursion in both styles. By default an nbvmm that finds SVM on its CPU (every level below L1:
# the SVM the nbvmm above offers) runs its guest with VMRUN and nested paging; svm=0 makes it
# trap-and-emulate. Depth 3 and 4 in each style and both in one stack: each level's trace reaches
# L0 with its level and VM id, each nbvmm registers the VM it runs, and ptest prints at depth 3
# what it prints at depth 1. (Depth 5: depth5.sh.)
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
NBVMM="$NB_BUILD/l1-vmm/nbvmm.elf"

strip_levels() { sed -e 's/^\[L[0-9]\] //' "$1" | grep -v '^nbvmm: '; }

run_nestbed d3 run "$NBVMM" --db "$TMP/d3.db" --timeout 600 --memory 256M \
	--module "nbvmm=$NBVMM,mem=64" --module "hello=$GUESTS/hello/hello.elf,exit=3 records=2"
check_eq "hello exits with its own status at depth 3" 3 "$status"
check_match "hello's console comes out at level 3" '^\[L3\] hello from nestbed level 3 \(vm 3\)' "$TMP/d3.out"
check_eq "each nbvmm registered the VM it runs, with its parent" "2|2|1 3|3|2" \
	"$(sql "$TMP/d3.db" "select group_concat(vm_id || '|' || level || '|' || parent_vm_id, ' ') from (select * from vms where level > 1 order by level)")"
check_ge "the level-2 nbvmm's traps of its guest reach L0 through both rings" 100 \
	"$(sql "$TMP/d3.db" "select count(*) from events where rec_level = 2 and guest_level = 3 and kind = 1")"
check_ge "L1 traps many times for each trap of the level-2 nbvmm (exit multiplication)" 2 \
	"$(sql "$TMP/d3.db" "select (select count(*) from events where rec_level = 1 and kind = 1) / (select count(*) from events where rec_level = 2 and kind = 1)")"
check_eq "hello's own records come through three rings" 2 \
	"$(sql "$TMP/d3.db" "select count(*) from events where kind = 12 and rec_level = 3")"

run_nestbed p1 run "$GUESTS/ptest/ptest.elf" --timeout 120
run_nestbed p3 run "$NBVMM" --timeout 900 --memory 256M --module "nbvmm=$NBVMM,svm=0 mem=64" \
	--module "ptest=$GUESTS/ptest/ptest.elf"
check_eq "ptest passes at depth 3 by trap-and-emulate (svm=0)" 0 "$status"
check_no_match "with svm=0 the level-2 nbvmm uses trap-and-emulate" '^\[L2\] nbvmm: level 2 runs level 3 with VMRUN' "$TMP/p3.out"
strip_levels "$TMP/p1.out" >"$TMP/p1.txt"
strip_levels "$TMP/p3.out" >"$TMP/p3.txt"
if cmp -s "$TMP/p1.txt" "$TMP/p3.txt"; then ok "ptest prints the same at depth 3 as at depth 1"
else not_ok "ptest prints the same at depth 3 as at depth 1" "$(diff "$TMP/p1.txt" "$TMP/p3.txt" | head -20)"; fi

# Recursion with virtual SVM (the default): the level-2 nbvmm finds the SVM its parent offers and
# runs ptest with VMRUN and nested paging; level 1 runs ptest for it, composing ptest's page tables
# with the nested page table, and reflects to level 2 only the exits it intercepts.
run_nestbed s3 run "$NBVMM" --db "$TMP/s3.db" --timeout 900 --memory 256M \
	--module "nbvmm=$NBVMM,mem=64" --module "ptest=$GUESTS/ptest/ptest.elf"
check_eq "ptest passes at depth 3 under virtual SVM" 0 "$status"
check_match "the level-2 nbvmm uses VMRUN and nested paging" \
	'^\[L2\] nbvmm: level 2 runs level 3 with VMRUN and nested paging' "$TMP/s3.out"
strip_levels "$TMP/s3.out" >"$TMP/s3.txt"
if cmp -s "$TMP/p1.txt" "$TMP/s3.txt"; then ok "ptest prints the same under virtual SVM at depth 3 as at depth 1"
else not_ok "ptest prints the same under virtual SVM at depth 3 as at depth 1" "$(diff "$TMP/p1.txt" "$TMP/s3.txt" | head -20)"; fi
check_ge "level 1 records the level-2 nbvmm's VMRUNs of ptest" 100 \
	"$(sql "$TMP/s3.db" "select count(*) from events where rec_level = 1 and kind = 3 and guest_level = 3")"
check_ge "level 1 reflects ptest's port I/O to level 2 as #VMEXIT(IOIO)" 100 \
	"$(sql "$TMP/s3.db" "select count(*) from events where rec_level = 1 and kind = 2 and guest_level = 3 and exit_code = 123 and aux = 2")"
check_ge "level 1 handles ptest's shadow fills itself, unseen by level 2" 50 \
	"$(sql "$TMP/s3.db" "select count(*) from events where rec_level = 1 and kind = 5 and guest_level = 3")"
check_eq "ptest's page-table writes reach no level-2 trap (nested paging)" 0 \
	"$(sql "$TMP/s3.db" "select count(*) from events where rec_level = 2 and kind = 4")"

run_nestbed d4 run "$NBVMM" --timeout 900 --memory 512M --module "nbvmm=$NBVMM,svm=0 mem=256" \
	--module "nbvmm=$NBVMM,svm=0 mem=64" --module "hello=$GUESTS/hello/hello.elf"
check_eq "hello runs at depth 4 by trap-and-emulate at every level" 0 "$status"
check_match "hello's console comes out at level 4" '^\[L4\] hello from nestbed level 4 \(vm 4\)' "$TMP/d4.out"
check_no_match "no nbvmm uses VMRUN with svm=0" '^\[L[0-9]\] nbvmm: level [0-9] runs level [0-9] with VMRUN' "$TMP/d4.out"

# Virtual SVM at every level: the level-2 nbvmm runs the level-3 one with VMRUN and offers it
# SVM in turn; the level-3 nbvmm runs hello with VMRUN, which the level-2 one carries out by
# running hello itself (trap-and-emulate, composing hello's tables with both nested page tables).
run_nestbed s4 run "$NBVMM" --db "$TMP/s4.db" --timeout 900 --memory 512M \
	--module "nbvmm=$NBVMM,mem=256" --module "nbvmm=$NBVMM,mem=64" --module "hello=$GUESTS/hello/hello.elf,exit=5"
check_eq "hello runs at depth 4 with virtual SVM at every level, its own status" 5 "$status"
check_match "the level-2 nbvmm uses VMRUN" '^\[L2\] nbvmm: level 2 runs level 3 with VMRUN and nested paging' "$TMP/s4.out"
check_match "the level-3 nbvmm, offered SVM by a VMRUN-style hypervisor, uses VMRUN too" \
	'^\[L3\] nbvmm: level 3 runs level 4 with VMRUN and nested paging' "$TMP/s4.out"
check_match "hello's console comes out at level 4" '^\[L4\] hello from nestbed level 4 \(vm 4\)' "$TMP/s4.out"
check_eq "each nbvmm registered the VM it runs, with its parent" "2|2|1 3|3|2 4|4|3" \
	"$(sql "$TMP/s4.db" "select group_concat(vm_id || '|' || level || '|' || parent_vm_id, ' ') from (select * from vms where level > 1 order by level)")"
check_ge "level 2 records the level-3 nbvmm's VMRUNs of hello" 100 \
	"$(sql "$TMP/s4.db" "select count(*) from events where rec_level = 2 and kind = 3 and guest_level = 4")"
check_ge "level 2 reflects hello's port I/O to level 3 as #VMEXIT(IOIO), handled at level 3" 100 \
	"$(sql "$TMP/s4.db" "select count(*) from events where rec_level = 2 and kind = 2 and guest_level = 4 and exit_code = 123 and aux = 3")"
check_ge "level 3 traps for hello's port I/O (its own intercepts, under VMRUN)" 100 \
	"$(sql "$TMP/s4.db" "select count(*) from events where rec_level = 3 and kind = 1 and guest_level = 4 and exit_code = 123")"
check_eq "exit multiplication has rows for depths 2, 3 and 4" "1 2 3" \
	"$(sql "$TMP/s4.db" "select group_concat(level, ' ') from (select distinct level from v_exit_multiplication order by level)")"
check_eq "hello's own records come through four rings" 3 \
	"$(sql "$TMP/s4.db" "select count(*) from events where kind = 12 and rec_level = 4")"

# Both styles in one stack: the level-2 nbvmm on virtual SVM, the level-3 nbvmm forced to
# trap-and-emulate (svm=0), hello at depth 4.
run_nestbed m4 run "$NBVMM" --db "$TMP/m4.db" --timeout 900 --memory 512M \
	--module "nbvmm=$NBVMM,mem=256" --module "nbvmm=$NBVMM,svm=0 mem=64" --module "hello=$GUESTS/hello/hello.elf"
check_eq "hello runs at depth 4 below a level-2 nbvmm on virtual SVM" 0 "$status"
check_match "the level-2 nbvmm uses VMRUN" \
	'^\[L2\] nbvmm: level 2 runs level 3 with VMRUN and nested paging' "$TMP/m4.out"
check_no_match "the level-3 nbvmm with svm=0 uses trap-and-emulate" \
	'^\[L3\] nbvmm: level 3 runs level 4 with VMRUN' "$TMP/m4.out"
check_match "hello's console comes out at level 4" '^\[L4\] hello from nestbed level 4 \(vm 4\)' "$TMP/m4.out"
check_ge "the level-3 nbvmm's traps of hello reach L0 through three rings" 10 \
	"$(sql "$TMP/m4.db" "select count(*) from events where rec_level = 3 and guest_level = 4 and kind = 1")"
done_testing
