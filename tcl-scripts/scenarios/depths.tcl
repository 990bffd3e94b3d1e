# Question: how does the same guest fare at each depth of nesting, from 1 (under L0 directly) to
# 5 (under four stacked nbvmm hypervisors)? Wall time, exits to L0, events and traps per level,
# and the slowdown against depth 1, for every depth this build can run; the depths it cannot run
# are listed as skipped, with the reason.
#
# usage: tclsh tcl-scripts/scenarios/depths.tcl ?-max N? ?-guest NAME? ?-options STR? ?-db PATH?
source [file join [file dirname [info script]] common.tcl]

set opts [scenario::options {-max 5 -guest hello -options {records=100} -db nestbed-depths.db} \
	"usage: tclsh [info script] ?-max N? ?-guest NAME? ?-options STR? ?-db PATH?
  -max N         deepest depth to try, 1 to 5 (default 5)
  -guest NAME    the innermost guest (default hello)
  -options STR   its options (default {records=100})
  -db PATH       the trace database (default ./nestbed-depths.db)"]
set max [dict get $opts -max]
if {![string is integer -strict $max] || $max < 1 || $max > 5} {
	puts stderr "depths: -max '$max': must be 1 to 5"
	exit 2
}

# The machine that runs the guest at `depth`: the guest itself at depth 1, else nbvmm running
# the machine one level shallower.
proc machine_args {depth guest options} {
	if {$depth == 1} {
		return [list -image $guest -options $options]
	}
	list -image [nestbed::image nbvmm] -guests [list [machine_args [expr {$depth - 1}] $guest $options]]
}

set caps [nestbed::capabilities]
set rows {}
set skipped {}
try {
	set guest [nestbed::image [dict get $opts -guest]]
	for {set depth 1} {$depth <= $max} {incr depth} {
		if {$depth > [dict get $caps max_depth]} {
			lappend skipped $depth [dict get $caps depth_limit]
			continue
		}
		set m [nestbed::machine create {*}[machine_args $depth $guest [dict get $opts -options]]]
		set r [$m run -timeout 120 -db [dict get $opts -db]]
		$m destroy
		set t [nestbed::trace open [dict get $r db]]
		set traps [dict create]
		foreach row [$t traps -run [dict get $r run_id]] {
			dict incr traps L[dict get $row level] [dict get $row count]
		}
		$t close
		if {$depth == 1} {
			set base [dict get $r wall]
		}
		lappend rows [list $depth "[dict get $r reason] [dict get $r status]" \
			[format %.3f [expr {[dict get $r wall] * 1000}]] [dict get $r exits] [dict get $r events] \
			[join [lmap {k v} $traps {string cat $k = $v}] " "] [format %.2f [expr {[dict get $r wall] / $base}]]]
	}
} on error {msg erropts} {
	scenario::fail $msg $erropts
}

puts "[dict get $opts -guest] ([dict get $opts -options]) at depths 1 to $max on [info hostname]:"
puts ""
puts [nestbed::table {depth stop wall_ms exits events traps_by_level slowdown} $rows]
# Consecutive depths skipped for the same reason are said once.
set groups {}
foreach {depth why} $skipped {
	if {[llength $groups] && [lindex $groups end 2] eq $why && [lindex $groups end 1] == $depth - 1} {
		lset groups end 1 $depth
	} else {
		lappend groups [list $depth $depth $why]
	}
}
foreach g $groups {
	lassign $g from to why
	puts ""
	puts "Skipped [expr {$from == $to ? "depth $from" : "depths $from to $to"}]: $why"
}
puts ""
puts "Traces are in [file normalize [dict get $opts -db]]."
