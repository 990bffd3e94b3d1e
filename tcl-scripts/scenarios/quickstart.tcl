# Question: do nested levels boot and run under nestbed on this machine, and what did they do?
#
# Boots the demo guest (guests/hello) on /dev/kvm directly under L0 (depth 1) and then under the
# guest hypervisor nbvmm (depth 2, when it is built), records both traces into one SQLite
# database, and prints a summary of each run from that database: events by level and kind,
# traps by level and reason, what the guests printed, records lost, and where the file is.
#
# usage: tclsh tcl-scripts/scenarios/quickstart.tcl ?DB?
#   DB  the trace database (default ./nestbed-quickstart.db); each run adds a run to the file.
source [file join [file dirname [info script]] common.tcl]

if {$argc > 1 || [lindex $argv 0] in {-h --help}} {
	puts "usage: tclsh [info script] ?DB?  (default DB: ./nestbed-quickstart.db)"
	exit [expr {$argc > 1 ? 2 : 0}]
}
set db [expr {$argc ? [lindex $argv 0] : "nestbed-quickstart.db"}]

proc quickstart_run {db label args} {
	set m [nestbed::machine create {*}$args]
	puts "Booting $label, tracing into $db ..."
	set r [$m run -timeout 120 -db $db]
	$m destroy
	puts ""
	puts [nestbed::summary [dict get $r db] -run [dict get $r run_id]]
	puts [format "The run took %.3f s of wall-clock time for %d exits to L0." [dict get $r wall] [dict get $r exits]]
	puts ""
	return $r
}

try {
	set r [quickstart_run $db "guests/hello under L0 on /dev/kvm (depth 1)" \
		-image [nestbed::image hello] -options {records=5}]
	set status [dict get $r status]
	if {[dict get [nestbed::capabilities] max_depth] >= 2} {
		set r [quickstart_run $db "guests/hello under nbvmm under L0 (depth 2)" \
			-memory 128M -guests [list [list -image [nestbed::image hello] -options {records=5}]]]
		if {$status == 0} { set status [dict get $r status] }
	}
	puts "Query it: sqlite3 [dict get $r db] 'SELECT * FROM v_run_summary'"
	puts "      or: tclsh, then package require nestbed; set t \[nestbed::trace open [dict get $r db]\]; \$t traps -run all"
	puts "More: tclsh [file join [file dirname [info script]] depths.tcl] compares guests at every depth;"
	puts "      shadow-paging.tcl shows what shadow paging costs a guest."
} on error {msg opts} {
	scenario::fail $msg $opts
}
exit $status
