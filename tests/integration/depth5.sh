#!/bin/sh
# Depth 5 with virtual SVM at every level (the default): L1 nbvmm runs the level-2 nbvmm by
# trap-and-emulate (L0's KVM offers no SVM here), and each nbvmm below finds the SVM its parent
# offers and runs the next level with VMRUN; hello at the bottom. (Trap-and-emulate at every level
# takes about 14 minutes at depth 5 here: depth3.sh runs that style at depths 3 and 4.)
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
NBVMM="$NB_BUILD/l1-vmm/nbvmm.elf"

run_nestbed d5 run "$NBVMM" --db "$TMP/d5.db" --timeout 1200 --memory 1024M \
	--module "nbvmm=$NBVMM,mem=512" --module "nbvmm=$NBVMM,mem=256" --module "nbvmm=$NBVMM,mem=64" \
	--module "hello=$GUESTS/hello/hello.elf,exit=7 records=3"
check_eq "hello runs at depth 5 and its exit status is the run's" 7 "$status"
for l in 2 3 4; do
	check_match "the level-$l nbvmm runs level $((l + 1)) with VMRUN and nested paging" \
		"^\\[L$l\\] nbvmm: level $l runs level $((l + 1)) with VMRUN and nested paging" "$TMP/d5.out"
done
check_match "hello's console comes out at level 5" '^\[L5\] hello from nestbed level 5 \(vm 5\)' "$TMP/d5.out"
check_match "hello wrote its records with nothing lost on the way" \
	'^\[L5\] trace: 3 written, 0 dropped, 1 flushes, ring lost 0' "$TMP/d5.out"
check_eq "each nbvmm registered the VM it runs, with its parent" "2|2|1 3|3|2 4|4|3 5|5|4" \
	"$(sql "$TMP/d5.db" "select group_concat(vm_id || '|' || level || '|' || parent_vm_id, ' ') from (select * from vms where level > 1 order by level)")"
check_eq "hello's own records come through five rings, at level 5 and vm 5" "3|5" \
	"$(sql "$TMP/d5.db" "select count(*) || '|' || min(vm_id) from events where kind = 12 and rec_level = 5")"
check_ge "level 3 reflects hello's port I/O to level 4 as #VMEXIT(IOIO), handled at level 4" 100 \
	"$(sql "$TMP/d5.db" "select count(*) from events where rec_level = 3 and kind = 2 and guest_level = 5 and exit_code = 123 and aux = 4")"
check_ge "level 4 traps for hello's port I/O, under VMRUN" 100 \
	"$(sql "$TMP/d5.db" "select count(*) from events where rec_level = 4 and kind = 1 and guest_level = 5 and exit_code = 123")"
check_eq "exit multiplication has rows for depths 2 to 5" "1 2 3 4" \
	"$(sql "$TMP/d5.db" "select group_concat(level, ' ') from (select distinct level from v_exit_multiplication order by level)")"
check_ge "each port I/O exit of hello costs more than one trap one level up, at every level" 1 \
	"$(sql "$TMP/d5.db" "select min(exits_per_trap) > 1 from v_exit_multiplication where exit_name = 'IOIO' and guest_level = 5")"
done_testing
