# Question: does a guest boot and run under nestbed on this machine, and what did it do?
#
# Boots the demo guest (guests/hello) on /dev/kvm under L0, records its trace into an SQLite
# database, and prints a summary from that database: events by level and kind, traps by level
# and reason, what the guest printed, records lost, and where the file is.
#
# usage: tclsh tcl-scripts/scenarios/quickstart.tcl ?DB?
#   DB  the trace database (default ./nestbed-quickstart.db); each run adds a run to the file.
source [file join [file dirname [info script]] common.tcl]

if {$argc > 1 || [lindex $argv 0] in {-h --help}} {
	puts "usage: tclsh [info script] ?DB?  (default DB: ./nestbed-quickstart.db)"
	exit [expr {$argc > 1 ? 2 : 0}]
}
set db [expr {$argc ? [lindex $argv 0] : "nestbed-quickstart.db"}]

try {
	set m [nestbed::machine create -image [nestbed::image hello] -options {records=5}]
	puts "Booting guests/hello under L0 on /dev/kvm, tracing into $db ..."
	set r [$m run -timeout 60 -db $db]
	$m destroy
	puts ""
	puts [nestbed::summary [dict get $r db] -run [dict get $r run_id]]
	puts [format "The run took %.3f s of wall-clock time for %d exits to L0." [dict get $r wall] [dict get $r exits]]
	puts "Query it: sqlite3 [dict get $r db] 'SELECT * FROM v_run_summary'"
	puts "      or: tclsh, then package require nestbed; set t \[nestbed::trace open [dict get $r db]\]; \$t traps"
	if {[dict get [nestbed::capabilities] max_depth] >= 2} {
		puts "Next: tclsh [file join [file dirname [info script]] depths.tcl] runs the same guest one level deeper,"
		puts "      under the guest hypervisor nbvmm, and compares."
	}
} on error {msg opts} {
	scenario::fail $msg $opts
}
exit [dict get $r status]
