#!/bin/sh
# nestbed report: the HTML report of a database holding a depth-1 run (hello) and a depth-2 run
# (ptest under nbvmm) is one well-formed, self-contained file with every chart drawn, renders in
# headless Chromium with its charts, and bad input gets one clear message and status 125 (2 for
# bad usage). Chromium is optional (Debian package chromium): without it that part is skipped,
# saying so, unless NB_REQUIRE_CHROMIUM=1.
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
NBVMM="$NB_BUILD/l1-vmm/nbvmm.elf"
DB="$TMP/report.db"
HTML="$TMP/report.html"

# marks FILE ID: the data marks (bars, lines, points) drawn in the chart <svg id="ID">. The report
# writes one SVG element per line, and Chromium's serialised DOM keeps those lines.
marks() {
	awk -v id="id=\"$2\"" '
		index($0, "<svg") && index($0, id) { inside = 1 }
		inside && /class="mark"/ { n++ }
		inside && /<\/svg>/ { inside = 0 }
		END { print n + 0 }' "$1"
}

# chart_checks FILE WHERE: every chart of the ptest run is there and drawn, the empty ones of the
# hello run are there and say they are empty.
chart_checks() {
	for spec in traps-over-time:60 exit-reasons:5 exit-multiplication:2 pt-writes:1 shadow-fills:5 slow-paths:2; do
		chart=${spec%%:*} min=${spec#*:}
		check_ge "$2: the depth-2 run's $chart chart draws at least $min marks" "$min" "$(marks "$1" "run2-$chart")"
	done
	check_ge "$2: the depth-1 run's exits over time are drawn" 60 "$(marks "$1" run1-traps-over-time)"
	check_match "$2: the depth-1 run's exit multiplication chart is there and says why it is empty" \
		'id="run1-exit-multiplication" class="chart empty"' "$1"
}

# expect_error NAME STATUS PATTERN ARGS...: exit status and exactly one stderr line matching PATTERN
expect_error() {
	name=$1 want=$2 pattern=$3; shift 3
	run_nestbed err report "$@"
	lines=$(wc -l <"$TMP/err.err")
	if [ "$status" = "$want" ] && [ "$lines" -eq 1 ] && grep -Eq -- "$pattern" "$TMP/err.err"; then
		ok "$name"
	else
		not_ok "$name" "expected status $want and one line matching: $pattern" \
			"got status $status and $lines lines:" "$(cat "$TMP/err.err")"
	fi
}

run_nestbed hello run "$GUESTS/hello/hello.elf" --db "$DB" --timeout 120 --quiet
check_eq "hello runs at depth 1 into the database" 0 "$status"
run_nestbed ptest run "$NBVMM" --db "$DB" --timeout 600 --memory 128M --quiet \
	--module "ptest=$GUESTS/ptest/ptest.elf"
check_eq "ptest runs at depth 2 into the same database" 0 "$status"

run_nestbed report report "$DB" -o "$HTML"
check_eq "nestbed report succeeds" 0 "$status"
check_match "it says where the report went" "report of 2 runs of '.*' written to $HTML" "$TMP/report.err"
check_ge "the report is not trivially small" 20000 "$(wc -c <"$HTML" 2>/dev/null || echo 0)"

if command -v xmllint >/dev/null 2>&1; then
	if xmllint --noout "$HTML" 2>"$TMP/xmllint.err"; then ok "the report is well-formed (xmllint)"
	else not_ok "the report is well-formed (xmllint)" "$(head -5 "$TMP/xmllint.err")"; fi
else
	tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP xmllint is not installed (Debian package libxml2-utils)"
fi
check_no_match "the report is self-contained: no script, no external resource" \
	'<script|<link|<img|<iframe|src=|href="(https?:)?//|url\(|@import' "$HTML"
check_eq "each run has its section" 2 "$(grep -c '<section class="run" id="run-' "$HTML")"
check_match "the header names the command line" '<h2>Run 2: <code>nestbed run .*nbvmm.elf' "$HTML"
check_match "the VM tree shows the level-2 guest under nbvmm" '<b>L2</b> vm 2 <code>ptest</code>' "$HTML"
check_match "the KVM flavour is named" 'KVM flavour</dt><dd>(pvm|intel|amd|unknown)</dd>' "$HTML"
check_match "records lost are reported" 'No records were lost|<th>reason</th>' "$HTML"
check_match "the console is there, collapsed" '<details id="run2-console"><summary>Console: [0-9]+ lines' "$HTML"
check_match "the longest trap paths name their instruction" '<td><code>(in|out|mov|cpuid|iretq|hlt)[^<]*</code></td>' "$HTML"
check_eq "exit multiplication comes from the database's view" 1 \
	"$(sql "$DB" "SELECT count(*) > 0 FROM v_exit_multiplication WHERE run_id = 2 AND level = 1 AND guest_level = 2")"
chart_checks "$HTML" "source"

run_nestbed one report "$DB" --run 2 -o "$TMP/one.html" --quiet
check_eq "--run 2 reports run 2 alone" "0 1 0" \
	"$status $(grep -c 'id="run-2"' "$TMP/one.html") $(grep -c 'id="run-1"' "$TMP/one.html")"
run_nestbed stdout report "$DB" --run all -o -
check_match "-o - writes the report to standard output" '^</html>$' "$TMP/stdout.out"

expect_error "a missing database is named" 125 "^nestbed: trace database '$TMP/none.db': No such file or directory$" \
	"$TMP/none.db" -o "$TMP/never.html"
if [ -e "$TMP/never.html" ]; then not_ok "no report is left behind by a failed one"; else ok "no report is left behind by a failed one"; fi
if [ -e "$TMP/none.db" ]; then not_ok "a report does not create the database it was given"; else ok "a report does not create the database it was given"; fi
printf 'not a database at all, but long enough to have a header of sorts\n' >"$TMP/text.db"
expect_error "a file that is not SQLite is refused" 125 "trace database '$TMP/text.db': not an SQLite database" \
	"$TMP/text.db" -o "$TMP/never.html"
sqlite3 "$TMP/other.db" 'CREATE TABLE t (x)'
expect_error "an SQLite file that is not a trace is refused" 125 "trace database '$TMP/other.db': not a nestbed trace database" \
	"$TMP/other.db" -o "$TMP/never.html"
expect_error "a run the database does not hold is named" 125 "trace database '$DB': has no run 9" "$DB" --run 9 -o "$TMP/never.html"
expect_error "an unwritable output is named" 125 "^nestbed: report '/proc/nestbed-report.html': " "$DB" -o /proc/nestbed-report.html
expect_error "a bad run id is a usage error" 2 "--run 'two': not a run id" "$DB" --run two
expect_error "no database is a usage error" 2 "no trace database given"

if command -v chromium >/dev/null 2>&1; then
	profile=$(mktemp -d "$TMP/chromium.XXXXXX")
	# Flags: no sandbox (tests may run as root), no GPU, and nothing that talks to the network.
	set -- --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
		--disable-sync --no-first-run --user-data-dir="$profile"
	timeout 120 chromium "$@" --dump-dom "file://$HTML" >"$TMP/dom.html" 2>"$TMP/chromium.err"
	check_eq "headless Chromium renders the report" 0 "$?"
	chart_checks "$TMP/dom.html" "chromium"
	timeout 120 chromium "$@" --hide-scrollbars --window-size=1100,4000 --screenshot="$TMP/report.png" "file://$HTML" \
		>/dev/null 2>>"$TMP/chromium.err"
	check_eq "Chromium takes a screenshot of it" "0 PNG" "$? $(head -c 4 "$TMP/report.png" 2>/dev/null | tail -c 3)"
	check_ge "the screenshot is not blank (a blank page compresses to a few kB)" 50000 \
		"$(wc -c <"$TMP/report.png" 2>/dev/null || echo 0)"
elif [ "${NB_REQUIRE_CHROMIUM:-0}" = 1 ]; then
	not_ok "headless Chromium renders the report" "NB_REQUIRE_CHROMIUM=1 but chromium is not installed (Debian package chromium)"
else
	tap_n=$((tap_n + 1))
	echo "ok $tap_n # SKIP chromium is not installed (Debian package chromium): the report was not rendered in a browser"
fi
done_testing
