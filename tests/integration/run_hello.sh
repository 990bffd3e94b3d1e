#!/bin/sh
# Boots guests/hello on /dev/kvm under L0 and checks its console, its exit status and the rows
# the run left in the trace database.
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
HELLO="$GUESTS/hello/hello.elf"
DB="$TMP/hello.db"
printf 'module-payload' >"$TMP/payload.txt"

run_nestbed hello run "$HELLO" --db "$DB" --timeout 60 --options "exit=0 records=5" \
	--module "payload=$TMP/payload.txt,alpha beta"
check_eq "hello exits with status 0" 0 "$status"
check_match "hello prints its greeting with the level prefix" '^\[L1\] hello from nestbed level 1 \(vm 1\)' "$TMP/hello.out"
check_match "hello sees its module name and arguments" 'payload.*alpha beta' "$TMP/hello.out"
check_match "hello sees the module content" 'module-payload' "$TMP/hello.out"
check_match "the summary names the database" "guest-exit, status 0.*in $DB, run 1" "$TMP/hello.err"

check_eq "the run is recorded as completed with the guest's status" "1|0|guest-exit" \
	"$(sql "$DB" 'select completed, exit_status, stop_reason from runs')"
check_eq "the VM table holds the level-1 guest" "1|1|67108864" \
	"$(sql "$DB" 'select vm_id, level, memory_bytes from vms')"
n=$(sql "$DB" "select count(*) from events where rec_level = 0 and kind = 13")
check_ge "L0 recorded its port I/O exits as level-0 events" 50 "$n"
check_eq "every level-0 port event has its instruction decoded" 0 \
	"$(sql "$DB" "select count(*) from events e left join insns i using (insn_id) where e.rec_level = 0 and e.kind = 13 and (i.mnemonic is null or i.mnemonic not in ('out','in','outsb','insb'))")"
check_match "console output is an OUT to port 0x3f8 in the decoded text" 'out +dx, al' \
	"$(f="$TMP/insn.txt"; sql "$DB" "select distinct i.text from events e join insns i using (insn_id) where e.rec_level = 0 and e.addr = 1016" >"$f"; echo "$f")"
check_eq "the guest's own trace records reached the store" 5 \
	"$(sql "$DB" "select count(*) from events where kind = 12 and rec_level = 1")"
check_eq "the exit hypercall is recorded with its number" 1 \
	"$(sql "$DB" "select count(*) from events where kind = 9 and aux = 2")"
check_ge "the console lines are stored" 3 "$(sql "$DB" "select count(*) from console where level = 1")"
check_eq "no records were lost" 0 "$(sql "$DB" "select coalesce(sum(count), 0) from records_lost")"

run_nestbed status run "$HELLO" --db "$DB" --timeout 60 --options "exit=7"
check_eq "the guest's exit status becomes nestbed's" 7 "$status"
check_eq "a second run goes into the same database" "2|7" "$(sql "$DB" 'select max(run_id), exit_status from runs where run_id = 2')"

run_nestbed notrace run "$HELLO" --no-trace --quiet --options "records=3"
check_eq "a guest without a ring still runs" 0 "$status"
check_eq "--quiet prints no console" "" "$(cat "$TMP/notrace.out")"

run_nestbed flood run "$HELLO" --db "$TMP/flood.db" --ring-size 8K --timeout 60 --options "records=500 flush=0"
check_eq "a guest that overflows its ring still exits 0" 0 "$status"
check_ge "records lost to a full ring are counted in the store" 400 \
	"$(sql "$TMP/flood.db" "select coalesce(sum(count), 0) from records_lost where reason = 'ring-full'")"
done_testing
