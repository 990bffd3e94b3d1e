# Question: what does tracing cost? How much slower does the same guest run when nestbed records
# its trace, and how many events does that buy?
#
# Runs one guest, the same way, in three modes, several times each:
#   off    no trace ring for the guest and no database: the bare cost of running under L0
#   store  a database for L0's own events (every exit), still no guest ring
#   full   the guest's trace ring drained into the database as well
# and prints, per mode, the median wall time, exits, events, and the slowdown against "off".
#
# usage: tclsh tcl-scripts/scenarios/tracing-cost.tcl ?-runs N? ?-guest NAME? ?-options STR? ?-db PATH?
source [file join [file dirname [info script]] common.tcl]

set opts [scenario::options {-runs 5 -guest hello -options {records=2000 print=20} -db nestbed-tracing-cost.db} \
	"usage: tclsh [info script] ?-runs N? ?-guest NAME? ?-options STR? ?-db PATH?
  -runs N        runs per mode (default 5); the median is reported
  -guest NAME    the guest image (default hello)
  -options STR   the guest's options (default {records=2000 print=20})
  -db PATH       the database for the traced modes (default ./nestbed-tracing-cost.db)"]
set runs [dict get $opts -runs]
if {![string is integer -strict $runs] || $runs < 1} {
	puts stderr "tracing-cost: -runs '$runs': not a positive integer"
	exit 2
}

proc median {values} {
	set s [lsort -real $values]
	set n [llength $s]
	expr {$n % 2 ? [lindex $s [expr {$n / 2}]] : ([lindex $s [expr {$n / 2 - 1}]] + [lindex $s [expr {$n / 2}]]) / 2.0}
}

# mode -> the run options that make it
set modes [dict create \
	off   [list -tracing 0] \
	store [list -tracing 0 -db [dict get $opts -db]] \
	full  [list -tracing 1 -db [dict get $opts -db]]]

try {
	set m [nestbed::machine create -image [nestbed::image [dict get $opts -guest]] -options [dict get $opts -options]]
	# One run before measuring, so that no mode pays for a cold page cache or a cold KVM.
	$m run -timeout 60 -tracing 0
	dict for {mode runopts} $modes {
		set walls {}
		for {set i 0} {$i < $runs} {incr i} {
			set r [$m run -timeout 60 {*}$runopts]
			if {[dict get $r reason] ne "guest-exit"} {
				puts stderr "tracing-cost: mode $mode: the guest stopped with [dict get $r reason] (status [dict get $r status])"
				exit 1
			}
			lappend walls [dict get $r wall]
		}
		dict set result $mode [dict create wall [median $walls] exits [dict get $r exits] \
			events [dict get $r events] lost [dict get $r lost]]
	}
	$m destroy
} on error {msg erropts} {
	scenario::fail $msg $erropts
}

set base [dict get $result off wall]
set rows {}
dict for {mode v} $result {
	lappend rows [list $mode [format %.3f [expr {[dict get $v wall] * 1000}]] [dict get $v exits] \
		[dict get $v events] [dict get $v lost] [format %.2f [expr {[dict get $v wall] / $base}]]]
}
puts "Tracing cost of [dict get $opts -guest] ([dict get $opts -options]), median of $runs runs per mode, on [info hostname]:"
puts ""
puts [nestbed::table {mode wall_ms exits events lost slowdown} $rows]
set full [dict get $result full]
if {[dict get $full events] > 0} {
	puts ""
	puts [format "Full tracing costs %.2f us per recorded event (full minus off, over %d events)." \
		[expr {([dict get $full wall] - $base) * 1e6 / [dict get $full events]}] [dict get $full events]]
}
puts "Traced runs are in [file normalize [dict get $opts -db]]."
