#!/bin/sh
# Guests that misbehave: L0 stops them with a clear report and a non-zero status, and keeps what
# was recorded so far.
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
BAD="$GUESTS/misbehave/misbehave.elf"

run_nestbed triple run "$BAD" --db "$TMP/triple.db" --timeout 60 --options "do=triple"
check_eq "a triple fault ends the run with status 126" 126 "$status"
check_match "the report names the triple fault" 'triple fault' "$TMP/triple.err"
check_match "the report gives RIP and the decoded instruction" 'RIP 0008:0000000000[0-9a-f]+ \(64-bit mode, CPL 0\): ud2' "$TMP/triple.err"
check_match "the report shows the registers" 'RAX [0-9a-f]{16} RBX' "$TMP/triple.err"
check_eq "the stored run says triple fault, completed by L0" "1|126|triple-fault" \
	"$(sql "$TMP/triple.db" 'select completed, exit_status, stop_reason from runs')"
check_eq "the shutdown is an event with the instruction" "ud2" \
	"$(sql "$TMP/triple.db" "select i.mnemonic from events e join insns i using (insn_id) where e.kind = 16")"
check_ge "the console output before the crash was kept" 1 "$(sql "$TMP/triple.db" 'select count(*) from console')"

run_nestbed loop run "$BAD" --db "$TMP/loop.db" --timeout 1 --options "do=loop"
check_eq "an endless loop is ended by the timeout with status 124" 124 "$status"
check_match "the timeout is reported" 'timeout of 1 s' "$TMP/loop.err"
check_eq "the stored run says timeout" "timeout" "$(sql "$TMP/loop.db" 'select stop_reason from runs')"

run_nestbed hlt run "$BAD" --timeout 30 --options "do=cli-hlt"
check_eq "cli; hlt is reported as halted forever with status 126" 126 "$status"
check_match "the report says nothing can wake it" 'interrupts disabled' "$TMP/hlt.err"

run_nestbed port run "$BAD" --db "$TMP/port.db" --timeout 60 --options "do=unknown-port"
check_eq "a write to an unassigned port is harmless" 0 "$status"
check_eq "the unassigned port write and read are recorded, the read seeing all ones" "out|read 0xff" \
	"$(sql "$TMP/port.db" "select group_concat(case when aux & 256 then 'out' else 'read 0x' || printf('%x', old_val & 255) end, '|') from events where kind = 13 and addr = 4660")"

run_nestbed mmio run "$BAD" --db "$TMP/mmio.db" --timeout 60 --options "do=bad-mmio"
check_eq "a read of unassigned physical memory is harmless" 0 "$status"
check_ge "the MMIO access is recorded with its address" 1 \
	"$(sql "$TMP/mmio.db" "select count(*) from events where kind = 14 and addr = 3221225472")"

run_nestbed garbage run "$BAD" --db "$TMP/garbage.db" --timeout 60 --options "do=ring-garbage"
check_eq "a guest scribbling over its ring does not stop the host" 0 "$status"
check_ge "the rejected records are counted as lost" 1 "$(sql "$TMP/garbage.db" "select coalesce(sum(count), 0) from records_lost")"
check_eq "the run still completes" 1 "$(sql "$TMP/garbage.db" 'select completed from runs')"

run_nestbed flood run "$BAD" --db "$TMP/flood.db" --ring-size 8K --timeout 60 --options "do=ring-flood"
check_eq "a guest flooding its ring exits normally" 0 "$status"
check_ge "the flood's lost records are counted" 1 \
	"$(sql "$TMP/flood.db" "select coalesce(sum(count), 0) from records_lost where reason = 'ring-full'")"
done_testing
