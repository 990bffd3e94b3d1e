# TAP helpers for the shell integration tests (sourced). Each check prints "ok N - name" or
# "not ok N - name" followed by what was expected and what came instead.
NB_BUILD=${NB_TOP_BUILDDIR:?run through make check}
NB_SRC=${NB_TOP_SRCDIR:?run through make check}
NESTBED="$NB_BUILD/l0/nestbed"
GUESTS="$NB_BUILD/guests"
tap_n=0
tap_failed=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nestbed-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

need_kvm() {
	if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
		echo "1..0 # SKIP /dev/kvm is absent or not writable by $(id -un): integration tests need KVM"
		exit 0
	fi
}

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
not_ok() {
	tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $1"
	shift
	for line in "$@"; do echo "#   $line"; done
}

# check NAME EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "got:      $3"; fi
}
# check_match NAME PATTERN FILE: an extended regular expression must match a line of FILE
check_match() {
	if grep -Eq -- "$2" "$3"; then ok "$1"; else not_ok "$1" "expected a line matching: $2" "in $3:" "$(head -c 2000 "$3")"; fi
}
check_no_match() {
	if grep -Eq -- "$2" "$3"; then not_ok "$1" "expected no line matching: $2" "$(grep -E -- "$2" "$3" | head -5)"; else ok "$1"; fi
}
# check_ge NAME MIN ACTUAL
check_ge() {
	if [ "$3" -ge "$2" ] 2>/dev/null; then ok "$1"; else not_ok "$1" "expected at least: $2" "got: $3"; fi
}
# sql DB QUERY: one value
sql() { sqlite3 -batch -noheader "$1" "$2"; }

# run_nestbed NAME ARGS...: runs nestbed, stdout in $TMP/NAME.out, stderr in $TMP/NAME.err, status in $status.
# A `nestbed run` records KVM's own events (as root) only where a test sets NB_TEST_KVM_EVENTS=1:
# the tracepoint on every instruction KVM emulates makes a run half as slow again, and only
# replay.sh checks those events.
run_nestbed() {
	out_name=$1; shift
	if [ "$1" = run ] && [ "${NB_TEST_KVM_EVENTS:-0}" != 1 ]; then
		shift
		"$NESTBED" run --no-kvm-events "$@" >"$TMP/$out_name.out" 2>"$TMP/$out_name.err"
		status=$?
		replay_trace run "$@"
		return
	fi
	"$NESTBED" "$@" >"$TMP/$out_name.out" 2>"$TMP/$out_name.err"
	status=$?
	replay_trace "$@"
}

# replay_trace ARGS...: after `nestbed run ... --db PATH`, the trace must replay with no mismatch
# (nestbed replay: well under a second for the suite's traces, next to seconds for the run).
replay_trace() {
	[ "$1" = run ] || return 0
	rt_db= rt_prev=
	for rt_a in "$@"; do
		case "$rt_prev" in --db|-d) rt_db=$rt_a ;; esac
		case "$rt_a" in --db=*) rt_db=${rt_a#--db=} ;; esac
		rt_prev=$rt_a
	done
	[ -n "$rt_db" ] && [ -s "$rt_db" ] && [ "$(sql "$rt_db" "select count(*) from runs" 2>/dev/null)" -gt 0 ] 2>/dev/null ||
		return 0
	if "$NESTBED" replay -q "$rt_db" >"$TMP/replay-check.out" 2>&1; then
		ok "the trace in $(basename "$rt_db") replays with no mismatch"
	else
		not_ok "the trace in $(basename "$rt_db") replays with no mismatch" "$(head -20 "$TMP/replay-check.out")"
	fi
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
