#!/bin/sh
# Crash safety of the trace store. L0 killed with SIGKILL in the middle of a run leaves a database
# that opens, passes PRAGMA integrity_check, holds every batch committed before the kill and says
# the run is unfinished. A disk that fills up during a run stops the run with one clear message
# and status 125, and what was committed before stays readable. A database that cannot be written
# is refused before the guest starts. The full disk and the read-only mount need root (a small
# tmpfs, a read-only bind mount, chattr +i); without root the read-only case uses file modes.
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
HELLO="$GUESTS/hello/hello.elf"
NBVMM="$NB_BUILD/l1-vmm/nbvmm.elf"
MOUNTS=
trap 'for m in $MOUNTS; do umount "$m" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# Queries wait for a writer's commit rather than fail on a busy database.
sql() { sqlite3 -batch -noheader -cmd ".timeout 5000" "$1" "$2"; }
skip() { ok "$1 # SKIP $2"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# lines_are_a_prefix DB: 1 when the stored "hello: line K of N" lines are lines 1..K, none
# missing and none twice.
lines_are_a_prefix() {
	sql "$1" "select count(*) = count(distinct k) and coalesce(max(k), 0) = count(*) from
		(select cast(substr(line, 13) as integer) as k from console where line like 'hello: line %')"
}

# ---------------------------------------------------------------------------------------------
# SIGKILL in the middle of a run. hello prints a million lines (about an hour of port exits):
# while it runs, a reader notes the last event and console line committed; then L0 is killed.

# kill_mid_run NAME MIN_EVENTS ARGS...: starts nestbed run ARGS with --db $TMP/NAME.db, waits until
# MIN_EVENTS events are committed, notes in $seen the largest committed event id, kills it with
# SIGKILL and leaves its exit status in $status.
kill_mid_run() {
	km_db=$TMP/$1.db km_min=$2
	shift 2
	"$NESTBED" run "$@" --db "$km_db" >"$TMP/killed.out" 2>"$TMP/killed.err" &
	km_pid=$!
	seen=0 km_tries=0
	while [ "$seen" -lt "$km_min" ] && [ "$km_tries" -lt 300 ] && kill -0 "$km_pid" 2>/dev/null; do
		sleep 0.1
		km_tries=$((km_tries + 1))
		seen=$(sql "$km_db" "select coalesce(max(event_id), 0) from events" 2>/dev/null || echo 0)
	done
	kill -KILL "$km_pid"
	wait "$km_pid" 2>/dev/null
	status=$?
}

DB=$TMP/killed.db
kill_mid_run killed 3000 --no-kvm-events "$HELLO" --options "print=1000000" --timeout 600
check_eq "nestbed is killed by SIGKILL in the middle of the run" 137 "$status"
check_ge "batches were committed before the kill" 3000 "$seen"
check_eq "the database passes PRAGMA integrity_check" ok "$(sql "$DB" 'pragma integrity_check')"
check_ge "every event committed before the kill is there" "$seen" \
	"$(sql "$DB" "select count(*) from events where event_id <= $seen")"
check_eq "the events form whole batches: no event id is missing" 1 \
	"$(sql "$DB" "select count(*) = max(event_id) from events")"
check_eq "the console lines are a prefix of what the guest printed" 1 "$(lines_are_a_prefix "$DB")"
check_ge "console lines were committed" 10 "$(sql "$DB" "select count(*) from console where line like 'hello: line %'")"
check_eq "the run row is there, not completed, with no end" "1|0|-|-" \
	"$(sql "$DB" "select count(*), max(completed), coalesce(max(ended_at), '-'), coalesce(max(stop_reason), '-') from runs")"
check_eq "v_run_summary calls the run unfinished" "unfinished" "$(sql "$DB" 'select outcome from v_run_summary')"
replay_trace run --db "$DB"
run_nestbed report report "$DB" -o "$TMP/killed.html"
check_eq "nestbed report reads the killed run's database" 0 "$status"
check_match "the report says the run is unfinished" 'badge bad">unfinished</span> no end recorded' "$TMP/killed.html"
run_nestbed again run "$HELLO" --db "$DB" --timeout 60
check_eq "a new run can be added to the killed run's database" 0 "$status"
check_eq "the new run completes beside the unfinished one" "1|unfinished 2|completed" \
	"$(sql "$DB" "select group_concat(run_id || '|' || outcome, ' ') from v_run_summary")"

# At depth 2 the events come through nbvmm's ring, and as root L0 also records KVM's own events
# from a tracefs instance, which the kill leaves behind: the next run removes it.
DB=$TMP/killed2.db
kill_mid_run killed2 2000 "$NBVMM" --memory 64M --module "hello=$HELLO,print=1000000" --timeout 600
killed_pid=$km_pid
check_eq "nestbed at depth 2 is killed by SIGKILL in the middle of the run" 137 "$status"
check_eq "the depth-2 database passes PRAGMA integrity_check" ok "$(sql "$DB" 'pragma integrity_check')"
check_ge "every event committed before the kill is there, both levels" "$seen" \
	"$(sql "$DB" "select count(*) from events where event_id <= $seen")"
check_ge "level-1 records drained from nbvmm's ring were committed" 1 \
	"$(sql "$DB" "select count(*) from events where rec_level = 1")"
check_eq "the depth-2 run is unfinished" "unfinished" "$(sql "$DB" 'select outcome from v_run_summary')"
TRACEFS=/sys/kernel/tracing/instances
if is_root && [ -d "$TRACEFS/nestbed-$killed_pid" ]; then
	NB_TEST_KVM_EVENTS=1
	run_nestbed after run "$HELLO" --timeout 60 --db "$TMP/after.db"
	NB_TEST_KVM_EVENTS=0
	if [ -d "$TRACEFS/nestbed-$killed_pid" ]; then
		not_ok "the next run removes the tracefs instance of the killed one" "still there: $TRACEFS/nestbed-$killed_pid"
	else
		ok "the next run removes the tracefs instance of the killed one"
	fi
else
	skip "the next run removes the tracefs instance of the killed one" "no tracefs instance was left (not root, or no tracefs)"
fi

# ---------------------------------------------------------------------------------------------
# A full disk: the database on a 1 MiB tmpfs, which the schema and a second of hello fill.
FULL=$TMP/full
mkdir -p "$FULL"
if ! is_root; then
	why="not root: mounting a small tmpfs needs root"
elif ! mount -t tmpfs -o size=1m nestbed-test "$FULL" 2>"$TMP/mount.err"; then
	why="cannot mount a tmpfs: $(cat "$TMP/mount.err")"
else
	why=
	MOUNTS="$MOUNTS $FULL"
fi
if [ -n "$why" ]; then
	for name in "a full disk stops the run with status 125" "the message names the database and the cause" \
		"what was committed before the disk filled up is readable"; do
		skip "$name" "$why"
	done
else
	DB=$FULL/t.db
	run_nestbed full run "$HELLO" --options "print=1000000" --db "$DB" --timeout 120
	check_eq "a full disk stops the run with status 125" 125 "$status"
	check_eq "one message on stderr" 1 "$(wc -l <"$TMP/full.err")"
	check_match "the message names the database and the cause" \
		"^nestbed: trace database '$DB': .*: database or disk is full; the run was stopped" "$TMP/full.err"
	check_no_match "the guest was stopped by L0, not reported as crashed" 'RIP|triple|timeout' "$TMP/full.err"
	check_no_match "the guest did not run to its end" 'line 1000000 of' "$TMP/full.out"
	check_eq "the full database passes PRAGMA integrity_check" ok "$(sql "$DB" 'pragma integrity_check')"
	check_ge "what was committed before the disk filled up is readable" 1000 "$(sql "$DB" 'select count(*) from events')"
	check_eq "its events have no gap" 1 "$(sql "$DB" "select count(*) = max(event_id) from events")"
	check_eq "its console lines are a prefix of what the guest printed" 1 "$(lines_are_a_prefix "$DB")"
	# Ending the run needs a few pages of the WAL; if even they could not be written, the run is
	# left unfinished, which says "not completed" as well.
	check_eq "the run is not completed, stopped by the store" "0|store-failed" \
		"$(sql "$DB" "select completed, coalesce(stop_reason, 'store-failed') from runs")"
	umount "$FULL"
	mount -t tmpfs -o size=100k nestbed-test "$FULL"
	run_nestbed tiny run "$HELLO" --db "$DB" --timeout 60
	check_eq "a disk too full for the schema is a set-up error" 125 "$status"
	check_match "which names the database and the cause" \
		"^nestbed: trace database '$DB': .*database or disk is full" "$TMP/tiny.err"
	check_eq "and the guest never ran" 0 "$(wc -c <"$TMP/tiny.out")"
fi

# ---------------------------------------------------------------------------------------------
# A database that cannot be written: refused with one message before the guest starts, the
# file left as it was.

# expect_refused NAME PATTERN DB: nestbed run hello --db DB gives status 125, one stderr line
# matching PATTERN, no guest output, and leaves DB (if it exists) unchanged.
expect_refused() {
	before=$( [ -e "$3" ] && cksum <"$3")
	run_nestbed ro run "$HELLO" --db "$3" --timeout 60
	after=$( [ -e "$3" ] && cksum <"$3")
	if [ "$status" = 125 ] && [ "$(wc -l <"$TMP/ro.err")" -eq 1 ] && grep -Eq -- "$2" "$TMP/ro.err" &&
		[ ! -s "$TMP/ro.out" ] && [ "$before" = "$after" ]; then
		ok "$1"
	else
		not_ok "$1" "expected status 125, one line matching: $2, no guest output, the file unchanged" \
			"got status $status, file $( [ "$before" = "$after" ] && echo unchanged || echo changed):" \
			"$(cat "$TMP/ro.err")" "$(head -3 "$TMP/ro.out")"
	fi
}

mkdir -p "$TMP/ro"
run_nestbed seed run "$HELLO" --db "$TMP/ro/t.db" --timeout 60
check_eq "a database to protect is written" "1|completed" "$(sql "$TMP/ro/t.db" 'select run_id, outcome from v_run_summary')"
if is_root; then
	if chattr +i "$TMP/ro/t.db" 2>/dev/null; then
		expect_refused "an immutable database file is refused" \
			"^nestbed: trace database '$TMP/ro/t.db': cannot write to it: Operation not permitted" "$TMP/ro/t.db"
		chattr -i "$TMP/ro/t.db"
	else
		skip "an immutable database file is refused" "chattr +i does not work in $TMP"
	fi
	mkdir -p "$TMP/ro-mount"
	if mount --bind -o ro "$TMP/ro" "$TMP/ro-mount" 2>/dev/null; then
		MOUNTS="$TMP/ro-mount $MOUNTS"
		expect_refused "a database on a read-only mount is refused" \
			"^nestbed: trace database '$TMP/ro-mount/t.db': cannot write to it: Read-only file system" "$TMP/ro-mount/t.db"
		expect_refused "a new database on a read-only mount is refused" \
			"^nestbed: trace database '$TMP/ro-mount/new.db': cannot create it: Read-only file system" "$TMP/ro-mount/new.db"
		umount "$TMP/ro-mount"
	else
		skip "a database on a read-only mount is refused" "cannot bind-mount read-only"
		skip "a new database on a read-only mount is refused" "cannot bind-mount read-only"
	fi
else
	chmod 0444 "$TMP/ro/t.db"
	expect_refused "a read-only database file is refused" \
		"^nestbed: trace database '$TMP/ro/t.db': cannot write to it: Permission denied" "$TMP/ro/t.db"
	chmod 0555 "$TMP/ro"
	expect_refused "a new database in a read-only folder is refused" \
		"^nestbed: trace database '$TMP/ro/new.db': cannot create it: Permission denied" "$TMP/ro/new.db"
	chmod 0755 "$TMP/ro"
fi
check_eq "the protected database still reads" "1|completed" "$(sql "$TMP/ro/t.db" 'select run_id, outcome from v_run_summary')"
done_testing
