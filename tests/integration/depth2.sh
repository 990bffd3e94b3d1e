#!/bin/sh
# nbvmm at L1 running test kernels at L2: the same console output and status as at depth 1, and
# level-1 traps, shadow fills and page-table writes in the trace.
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
NBVMM="$NB_BUILD/l1-vmm/nbvmm.elf"

# strip_levels FILE: the console without the "[Ln] " prefixes and nbvmm's own lines.
strip_levels() { sed -e 's/^\[L[0-9]\] //' "$1" | grep -v '^nbvmm: '; }

run_nestbed d1 run "$GUESTS/hello/hello.elf" --timeout 120 --options "records=4 exit=5"
run_nestbed d2 run "$NBVMM" --db "$TMP/d2.db" --timeout 300 --memory 128M \
	--module "hello=$GUESTS/hello/hello.elf,records=4 exit=5"
check_eq "hello exits with its own status at depth 2" 5 "$status"
check_match "hello's console is prefixed with level 2" '^\[L2\] hello from nestbed level 2 \(vm 2\)' "$TMP/d2.out"
check_match "nbvmm says what it runs" '^\[L1\] nbvmm: level 1 running .hello. as level 2' "$TMP/d2.out"
check_eq "the store knows the level-2 VM" "2|2|1" "$(sql "$TMP/d2.db" 'select vm_id, level, parent_vm_id from vms where level = 2')"
check_ge "nbvmm traced its shadow fills" 5 \
	"$(sql "$TMP/d2.db" "select count(*) from events where rec_level = 1 and kind = 5")"
check_ge "nbvmm traced the port I/O it emulated, as IOIO traps of level 2" 20 \
	"$(sql "$TMP/d2.db" "select count(*) from events where rec_level = 1 and guest_level = 2 and kind = 1 and exit_code = 123")"
check_eq "hello's own records reached the store through both rings" 4 \
	"$(sql "$TMP/d2.db" "select count(*) from events where kind = 12 and rec_level = 2")"

run_nestbed audit run "$NBVMM" --db "$TMP/audit.db" --timeout 300 --memory 128M --options audit=1 \
	--module "hello=$GUESTS/hello/hello.elf"
check_eq "hello runs in audit mode (its kernel single-stepped by nbvmm)" 0 "$status"
check_eq "audit mode records the CPUID and RDTSC its kernel ran without trapping, with the instructions" \
	"cpuid|62 rdtsc|63" \
	"$(sql "$TMP/audit.db" "select group_concat(m || '|' || aux, ' ') from (select distinct i.mnemonic as m, e.aux from events e join insns i using (insn_id) where e.kind = 11 and e.rec_level = 1 order by e.aux)")"

printf 'initrd-bytes' >"$TMP/initrd"
run_nestbed mb2 run "$NBVMM" --timeout 120 --memory 128M \
	--module "mbhello=$GUESTS/mbhello/mbhello.elf,console=ttyS0" --module "initrd=$TMP/initrd,rootfs"
check_eq "a Multiboot kernel passes its entry checks at depth 2 (32-bit code in compatibility mode)" 1 "$status"
check_match "nbvmm hands its other modules to the guest" '^\[L2\] module 0: .*string "initrd rootfs"' "$TMP/mb2.out"

for k in ptest sysarch; do
	img="$GUESTS/$k/$k.elf"
	[ -f "$img" ] || continue
	run_nestbed "${k}1" run "$img" --timeout 120
	s1=$status
	run_nestbed "${k}2" run "$NBVMM" --db "$TMP/$k.db" --timeout 600 --memory 128M --module "$k=$img"
	check_eq "$k gives the same status at depth 2 as at depth 1" "$s1" "$status"
	strip_levels "$TMP/${k}1.out" >"$TMP/${k}1.txt"
	strip_levels "$TMP/${k}2.out" >"$TMP/${k}2.txt"
	if [ "$k" = ptest ]; then
		if cmp -s "$TMP/${k}1.txt" "$TMP/${k}2.txt"; then ok "$k prints the same at depth 2 as at depth 1"
		else not_ok "$k prints the same at depth 2 as at depth 1" "$(diff "$TMP/${k}1.txt" "$TMP/${k}2.txt" | head -20)"; fi
		check_ge "$k's page-table writes are traced with old and new values" 1 \
			"$(sql "$TMP/$k.db" "select count(*) from events where kind = 4 and rec_level = 1 and old_val != new_val")"
		check_ge "$k's CR3 switches are traced" 1 "$(sql "$TMP/$k.db" "select count(*) from events where kind = 7")"
	else
		check_no_match "$k passes its architectural checks at depth 2" '^FAIL' "$TMP/${k}2.txt"
	fi
done
done_testing
