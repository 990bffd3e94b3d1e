# Question: is the same guest still the same machine one level deeper, and what does each level
# of nesting cost it? Runs each guest directly under L0 (depth 1) and under a chain of nbvmm
# (depths 2 to 4 by default, 5 with -max 5), then prints per run: status, wall time, events, the
# traps each level took (level-0 exits to L0, then each nbvmm's traps, so that exit multiplication
# shows), what the guest's own hypervisor did for it (shadow fills, page-table writes it emulated),
# and the wall time against depth 1; then whether the guest printed the same lines at every depth.
# Depths the build cannot run are listed as skipped, with the reason. -style picks the recursion
# style of every nbvmm below level 1: svm (nbvmm's default: VMRUN on the SVM the level above
# offers), tande (svm=0: trap-and-emulate), or both (depths 3 and deeper run once in each).
#
# usage: tclsh tcl-scripts/scenarios/depths.tcl ?-max N? ?-guests LIST? ?-style svm|tande|both?
#            ?-memory SIZE? ?-timeout S? ?-db PATH?
source [file join [file dirname [info script]] common.tcl]

# What one run took (hello / ptest) on the 2-CPU KVM host this was written on, other jobs running,
# to say before a long one. The whole default run (depths 1 to 4) took 7 minutes there.
set expected {1 {0.1 s / 0.2 s} 2 {2 s / 5 s} 3 {12 s / 36 s} 4 {41 s / 5.5 min} 5 {14 min / not measured (much longer)}}

set opts [scenario::options {-max 4 -guests {{hello records=100} ptest} -style svm -memory 64M -timeout 3600
	-db nestbed-depths.db} \
	"usage: tclsh [info script] ?-max N? ?-guests LIST? ?-style svm|tande|both? ?-memory SIZE? ?-timeout S? ?-db PATH?
  -max N          deepest depth to run, 1 to 5 (default 4: depth 5 takes long, see below)
  -guests LIST    the guests, each NAME or {NAME OPTIONS} (default {{hello records=100} ptest})
  -style S        how each nbvmm below level 1 runs its guest: svm (default: with VMRUN on the
                  virtual SVM of the level above), tande (svm=0: trap-and-emulate), or both
  -memory SIZE    the guest's memory at every depth (default 64M); each hypervisor gets 64M more
  -timeout S      the limit for each run, in seconds (default 3600)
  -db PATH        the trace database (default ./nestbed-depths.db)

Each level multiplies the cost of a trap by several hundred. One run, hello / ptest, measured:
[join [lmap {d t} $expected {string cat "depth $d: $t"}] {, }]
(the default run, depths 1 to 4, about 7 minutes)."]
set max [dict get $opts -max]
if {![string is integer -strict $max] || $max < 1 || $max > 5} {
	puts stderr "depths: -max '$max': must be 1 to 5"
	exit 2
}
if {![dict exists {svm 1 tande 1 both 1} [dict get $opts -style]]} {
	puts stderr "depths: -style '[dict get $opts -style]': must be svm, tande or both"
	exit 2
}
set styles [dict get {svm svm tande tande both {svm tande}} [dict get $opts -style]]

# The machine that runs `guest` at `depth`: the guest itself at depth 1; else nbvmm (the package
# fills it in for a node with -guests) running the machine one level shallower, with svm=0 in
# style tande. The guest gets the same memory at every depth, each hypervisor 64M more for itself
# and its shadow tables.
proc machine_args {depth guest options memory style} {
	set node [list -image $guest -options $options -memory $memory]
	set mib [MiB $memory]
	for {set d $depth} {$d > 1} {incr d -1} {
		incr mib 64
		set node [list -guests [list $node] -memory ${mib}M {*}[expr {$style eq "tande" ? {-options svm=0} : {}}]]
	}
	return $node
}

# The styles a depth runs in: L1 has no SVM to use (KVM offers none here), so depth 2 is
# trap-and-emulate whatever is asked; depth 1 has no hypervisor of nestbed's.
proc depth_styles {depth styles} {
	expr {$depth == 1 ? "-" : $depth == 2 ? "tande" : $styles}
}

proc MiB {size} {
	if {![regexp {^([0-9]+)M$} $size -> n]} {
		puts stderr "depths: -memory '$size': give it in MiB (e.g. 64M)"
		exit 2
	}
	return $n
}

# Traps by the level that took them: level 0's exits (the machine's exits to L0), then each
# nbvmm's traps of its guest (handled or reflected), as db/schema.sql's v_traps_by_level_reason.
proc traps_by_level {t run} {
	set traps [dict create]
	$t eval {SELECT level, sum(count) AS n FROM v_traps_by_level_reason WHERE run_id = $run GROUP BY level} {
		dict set traps $level $n
	}
	return $traps
}

# Events the guest's own hypervisor (level depth - 1) recorded for it, by kind name.
proc hypervisor_kinds {t run depth} {
	set counts [dict create]
	set level [expr {$depth - 1}]
	$t eval {SELECT k.name AS kind, count(*) AS n FROM events e JOIN event_kinds k ON k.kind = e.kind
		WHERE e.run_id = $run AND e.rec_level = $level AND e.guest_level = $depth GROUP BY k.name} {
		dict set counts $kind $n
	}
	return $counts
}

proc count {counts key} {
	expr {[dict exists $counts $key] ? [dict get $counts $key] : 0}
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
if {$deepest >= 5} {
	puts "Depth 5 runs too: it takes many minutes per guest ([dict get $expected 5] for hello / ptest"
	puts "on the machine this scenario was written on)."
	puts ""
	flush stdout
}
set runs {}
set verdicts {}
set faithful 1
try {
	foreach spec [dict get $opts -guests] {
		lassign $spec name options
		set guest [nestbed::image $name]
		set statuses {}
		set ran {}
		for {set depth 1} {$depth <= $deepest} {incr depth} {
			foreach style [depth_styles $depth $styles] {
				set m [nestbed::machine create {*}[machine_args $depth $guest $options [dict get $opts -memory] $style]]
				set r [$m run -timeout [dict get $opts -timeout] -db [dict get $opts -db]]
				$m destroy
				set run [dict get $r run_id]
				set t [nestbed::trace open [dict get $r db]]
				set traps [traps_by_level $t $run]
				set k [hypervisor_kinds $t $run $depth]
				# What the guest printed, whichever level it ran at (each nbvmm's own lines are at its level).
				set lines($depth,$style) [lmap c [$t console -run $run -level $depth] {dict get $c line}]
				$t close
				if {$depth == 1} {
					set base [dict get $r wall]
				}
				lappend statuses [dict get $r status]
				lappend ran [list $depth $style]
				lappend runs [dict create name $name depth $depth style $style r $r traps $traps kinds $k \
					slowdown [expr {[dict get $r wall] / $base}]]
			}
		}
		if {[llength [lsort -unique $statuses]] > 1} {
			set faithful 0
			lappend verdicts "  $name: exit statuses differ by depth: $statuses"
		}
		foreach ds [lrange $ran 1 end] {
			lassign $ds depth style
			lassign [compare_lines $lines(1,-) $lines($depth,$style) 1 $depth] said shown
			set how [expr {$depth >= 3 ? " ($style)" : ""}]
			lappend verdicts "  $name, depth $depth$how against depth 1: $said ([llength $lines($depth,$style)] lines)" {*}$shown
		}
	}
} on error {msg erropts} {
	scenario::fail $msg $erropts
}

# One trap column per level that can trap: level 0 (L0) and each hypervisor above the deepest guest.
set headers [list guest depth style stop wall_s events l0_exits]
for {set l 1} {$l < $deepest} {incr l} {
	lappend headers l${l}_traps
}
lappend headers shadow_fills pt_writes lost slowdown
set rows {}
set ratios {}
foreach run $runs {
	dict with run {
		set row [list $name $depth $style "[dict get $r reason] [dict get $r status]" [format %.3f [dict get $r wall]] \
			[dict get $r events]]
		for {set l 0} {$l < $deepest} {incr l} {
			lappend row [expr {$l < $depth ? [count $traps $l] : ""}]
		}
		lappend rows [list {*}$row [count $kinds SHADOW_FILL] [count $kinds PT_WRITE] [dict get $r lost] \
			[format %.1f $slowdown]]
		# Traps a level took per trap of the level below, hypervisor by hypervisor.
		set per {}
		for {set l 1} {$l < $depth - 1} {incr l} {
			set below [count $traps [expr {$l + 1}]]
			lappend per "level $l [expr {$below ? [format %.1f [expr {double([count $traps $l]) / $below}]] : "-"}]"
		}
		if {[llength $per]} {
			lappend ratios "  $name at depth $depth ($style): [join $per {, }]"
		}
	}
}

puts "The same guests at [expr {$deepest == 1 ? "depth 1" : "depths 1 to $deepest"}] on [info hostname] (guest memory [dict get $opts -memory]):"
puts ""
puts [nestbed::table $headers $rows]
puts ""
puts "  style: how each nbvmm below level 1 ran its guest (svm: VMRUN on the SVM the level above"
puts "  offers; tande: trap-and-emulate; level 1 always traps-and-emulates here, KVM offers it no SVM)."
puts "  l0_exits: the machine's exits to L0 (those KVM did not handle in the kernel). lN_traps: the"
puts "  traps nbvmm at level N took from its guest at level N+1 (at depth 1 the guest is level 1 and"
puts "  traps to no one). shadow_fills, pt_writes: what the guest's own hypervisor (level depth-1) did"
puts "  for it. lost: trace records lost. slowdown: wall time against depth 1."
if {[llength $ratios]} {
	puts ""
	puts "Exit multiplication: traps each nbvmm took per trap of the nbvmm below it (an nbvmm runs in"
	puts "ring 3 of the one above, so its own work for one trap of its guest traps again one level up):"
	puts [join $ratios \n]
}
if {[llength $verdicts]} {
	puts ""
	puts "What the guests printed, depth by depth (a guest that prints its level, memory or ring"
	puts "address differs by design; one that does not should print the same lines):"
	puts [join $verdicts \n]
}
if {$deepest < $max} {
	puts ""
	puts "Skipped [expr {$deepest + 1 == $max ? "depth $max" : "depths [expr {$deepest + 1}] to $max"}]: [dict get $caps depth_limit]."
} elseif {$deepest < [dict get $caps max_depth]} {
	puts ""
	puts "Not run: [expr {$deepest + 1 == 5 ? "depth 5 (-max 5 runs it)" : "depths [expr {$deepest + 1}] to 5 (-max 5 runs them)"}]. One run of hello / ptest took"
	puts "[join [lmap {d t} $expected {expr {$d > $deepest ? "$t at depth $d" : [continue]}}] {, }]"
	puts "on the machine this scenario was written on."
}
puts ""
puts "Traces are in [file normalize [dict get $opts -db]]."
exit [expr {!$faithful}]
