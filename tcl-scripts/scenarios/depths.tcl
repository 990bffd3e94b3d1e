# Question: is the same guest still the same machine one level deeper, and what does each level
# of nesting cost it? Runs each guest directly under L0 (depth 1) and under nbvmm (depth 2, and
# deeper when the build can), then prints per run: status, wall time, events, the traps level 1
# took, its shadow fills and the guest page-table writes it emulated, and the wall time against
# depth 1; then whether the guest printed the same lines at every depth. Depths the build cannot
# run are listed as skipped, with the reason.
#
# usage: tclsh tcl-scripts/scenarios/depths.tcl ?-max N? ?-guests LIST? ?-memory SIZE? ?-timeout S? ?-db PATH?
source [file join [file dirname [info script]] common.tcl]

set opts [scenario::options {-max 5 -guests {{hello records=100} ptest} -memory 64M -timeout 300 -db nestbed-depths.db} \
	"usage: tclsh [info script] ?-max N? ?-guests LIST? ?-memory SIZE? ?-timeout S? ?-db PATH?
  -max N          deepest depth to try, 1 to 5 (default 5)
  -guests LIST    the guests, each NAME or {NAME OPTIONS} (default {{hello records=100} ptest})
  -memory SIZE    the guest's memory at every depth (default 64M); each hypervisor gets 64M more
  -timeout S      the limit for each run, in seconds (default 300)
  -db PATH        the trace database (default ./nestbed-depths.db)"]
set max [dict get $opts -max]
if {![string is integer -strict $max] || $max < 1 || $max > 5} {
	puts stderr "depths: -max '$max': must be 1 to 5"
	exit 2
}

# The machine that runs `guest` at `depth`: the guest itself at depth 1; else nbvmm (the package
# fills it in for a node with -guests) running the machine one level shallower. The guest gets
# the same memory at every depth, each hypervisor 64M more for itself and its shadow tables.
proc machine_args {depth guest options memory} {
	set node [list -image $guest -options $options -memory $memory]
	for {set d $depth} {$d > 1} {incr d -1} {
		set node [list -guests [list $node] -memory [expr {[MiB $memory] + 64}]M]
	}
	return $node
}

proc MiB {size} {
	if {![regexp {^([0-9]+)M$} $size -> n]} {
		puts stderr "depths: -memory '$size': give it in MiB (e.g. 64M)"
		exit 2
	}
	return $n
}

# Events level 1 recorded in a run, by kind name: TRAP, SHADOW_FILL, PT_WRITE...
proc level1_kinds {t run} {
	set counts [dict create]
	$t eval {SELECT k.name AS kind, count(*) AS n FROM events e JOIN event_kinds k ON k.kind = e.kind
		WHERE e.run_id = $run AND e.rec_level = 1 GROUP BY k.name} {
		dict set counts $kind $n
	}
	return $counts
}

proc count {counts kind} {
	expr {[dict exists $counts $kind] ? [dict get $counts $kind] : 0}
}

# How the lines of `b` differ from those of `a`: "identical", or how many differ and the first few.
proc compare_lines {a b da db} {
	if {$a eq $b} {
		return [list identical {}]
	}
	set n [expr {max([llength $a], [llength $b])}]
	set diffs {}
	for {set i 0} {$i < $n} {incr i} {
		if {[lindex $a $i] ne [lindex $b $i]} {
			lappend diffs [list $i [lindex $a $i] [lindex $b $i]]
		}
	}
	set shown {}
	foreach d [lrange $diffs 0 2] {
		lassign $d i la lb
		lappend shown "      line [expr {$i + 1}]: depth $da: $la" "      [string repeat { } [string length [expr {$i + 1}]]]       depth $db: $lb"
	}
	list "[llength $diffs] of $n lines differ" $shown
}

set caps [nestbed::capabilities]
set deepest [expr {min($max, [dict get $caps max_depth])}]
set rows {}
set verdicts {}
set faithful 1
try {
	foreach spec [dict get $opts -guests] {
		lassign $spec name options
		set guest [nestbed::image $name]
		set statuses {}
		for {set depth 1} {$depth <= $deepest} {incr depth} {
			set m [nestbed::machine create {*}[machine_args $depth $guest $options [dict get $opts -memory]]]
			set r [$m run -timeout [dict get $opts -timeout] -db [dict get $opts -db]]
			$m destroy
			set run [dict get $r run_id]
			set t [nestbed::trace open [dict get $r db]]
			set k [level1_kinds $t $run]
			# What the guest printed, whichever level it ran at (nbvmm's own lines are at level 1).
			set lines($depth) [lmap c [$t console -run $run -level $depth] {dict get $c line}]
			$t close
			if {$depth == 1} {
				set base [dict get $r wall]
			}
			lappend statuses [dict get $r status]
			lappend rows [list $name $depth "[dict get $r reason] [dict get $r status]" \
				[format %.1f [expr {[dict get $r wall] * 1000}]] [dict get $r events] \
				[expr {[count $k TRAP] + [count $k EXIT_REFLECTED]}] [count $k SHADOW_FILL] [count $k PT_WRITE] \
				[format %.1f [expr {[dict get $r wall] / $base}]]]
		}
		if {[llength [lsort -unique $statuses]] > 1} {
			set faithful 0
			lappend verdicts "  $name: exit statuses differ by depth: $statuses"
		}
		for {set depth 2} {$depth <= $deepest} {incr depth} {
			lassign [compare_lines $lines(1) $lines($depth) 1 $depth] said shown
			lappend verdicts "  $name, depth $depth against depth 1: $said ([llength $lines($depth)] lines)" {*}$shown
		}
	}
} on error {msg erropts} {
	scenario::fail $msg $erropts
}

puts "The same guests at [expr {$deepest == 1 ? "depth 1" : "depths 1 to $deepest"}] on [info hostname] (guest memory [dict get $opts -memory]):"
puts ""
puts [nestbed::table {guest depth stop wall_ms events l1_traps shadow_fills pt_writes slowdown} $rows]
puts ""
puts "  slowdown: wall time against depth 1. l1_traps, shadow_fills, pt_writes: what level 1"
puts "  recorded; at depth 1 level 1 is the guest itself, at depth 2 it is nbvmm, trapping and"
puts "  emulating for the guest at level 2 and keeping its shadow page tables."
if {[llength $verdicts]} {
	puts ""
	puts "What the guests printed, depth by depth (a guest that prints its level, memory or ring"
	puts "address differs by design; one that does not should print the same lines):"
	puts [join $verdicts \n]
}
if {$deepest < $max} {
	puts ""
	puts "Skipped [expr {$deepest + 1 == $max ? "depth $max" : "depths [expr {$deepest + 1}] to $max"}]: [dict get $caps depth_limit]."
}
puts ""
puts "Traces are in [file normalize [dict get $opts -db]]."
exit [expr {!$faithful}]
