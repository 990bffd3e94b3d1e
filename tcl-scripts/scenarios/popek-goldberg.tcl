# Question: which x86 instructions break Popek and Goldberg's theorems on this machine, under which
# host features, and at which depth does equivalence stop holding? Runs the probe kernel
# (guests/probes) at depth 1 and under nbvmm at depth 2 with each feature set (none, UMIP, CPUID
# faulting, CR4.TSD, all three), then prints from the trace database: each sensitive instruction
# with its class, whether it traps at CPL 3 under each feature set (architecture/measured), and
# whether the probes' observations matched the architecture at depth 1 and depth 1's at depth 2;
# the theorems' verdicts; the time dilation per depth; and the first pieces of evidence.
# Depth 3 is not measured: it needs virtual SVM in nbvmm (nestbed::capabilities says why).
#
# usage: tclsh tcl-scripts/scenarios/popek-goldberg.tcl ?-features LIST? ?-depths LIST? ?-db PATH?
#            ?-timeout S? ?-report-only 0|1?
source [file join [file dirname [info script]] common.tcl]

set opts [scenario::options {-features {none umip cpuidf tsd umip+cpuidf+tsd} -depths {1 2} -db nestbed-popek-goldberg.db
	-timeout 600 -report-only 0} \
	"usage: tclsh [info script] ?-features LIST? ?-depths LIST? ?-db PATH? ?-timeout S? ?-report-only 0|1?
  -features LIST   feature sets to run (default: none umip cpuidf tsd umip+cpuidf+tsd)
  -depths LIST     depths to run (default: 1 2; depth 3 needs virtual SVM in nbvmm)
  -db PATH         the trace database (default ./nestbed-popek-goldberg.db); runs add up
  -timeout S       limit per run, in seconds (default 600)
  -report-only 1   run nothing: print the report from the runs already in the database"]
set db [dict get $opts -db]
set sets [lmap f [dict get $opts -features] {nestbed::probes features $f}]
lassign [nestbed::DepthLimit] maxdepth why

if {![dict get $opts -report-only]} {
	puts "Probe runs (depth, features: status, wall time):"
	foreach depth [dict get $opts -depths] {
		if {$depth > $maxdepth} {
			puts "  depth $depth: skipped: $why"
			continue
		}
		foreach f $sets {
			if {[catch {nestbed::probes run -depth $depth -features $f -db $db -timeout [dict get $opts -timeout]} r ro]} {
				scenario::fail $r $ro
			}
			puts [format "  depth %d, %-16s run %3d: %s status %d, %.1f s" $depth $f [dict get $r run_id] \
				[dict get $r reason] [dict get $r status] [dict get $r wall]]
		}
	}
	puts ""
}

set t [nestbed::trace open $db]

# y/n of a 0/1, "-" for NULL.
proc yn {v} {
	expr {$v eq "" ? "-" : ($v ? "y" : "n")}
}

# Equivalence at a depth over the chosen feature sets, for one instruction: "yes", "no (kernel,
# user)" naming the CPU modes that differed, "-" when nothing was measured.
proc equivalence {t insn depth sets} {
	set modes {}
	set measured 0
	set in [join [lmap s $sets {string cat ' $s '}] ,]
	$t eval "SELECT cpu_mode, min(faithful) AS ok FROM v_pg_equivalence
		WHERE insn = :insn AND depth = :depth AND mode = 'plain' AND feature_set IN ($in) AND faithful IS NOT NULL
		GROUP BY cpu_mode ORDER BY cpu_mode" {
		set measured 1
		if {!$ok} {
			lappend modes $cpu_mode
		}
	}
	if {!$measured} {
		return -
	}
	expr {[llength $modes] ? "no ([join $modes {, }])" : "yes"}
}

set cols {none umip cpuidf tsd}
set rows {}
$t eval {SELECT sens_id, name, pg_class, user_sensitive, timing FROM insn_classes
	WHERE control_sensitive OR behaviour_sensitive ORDER BY privileged, sens_id} c {
	set row [list $c(name) [string map {-sensitive ""} $c(pg_class)][expr {$c(user_sensitive) ? ",user" : ""}][expr {$c(timing) ? ",time" : ""}]]
	foreach f $cols {
		$t eval {SELECT traps_arch, traps_measured FROM v_pg_insn_traps WHERE sens_id = $c(sens_id) AND feature_set = $f} {
			lappend row "[yn $traps_arch]/[yn $traps_measured]"
		}
	}
	lappend row [equivalence $t $c(name) 1 $sets] [equivalence $t $c(name) 2 $sets] "n/a: needs virtual SVM"
	lappend rows $row
}
puts "Sensitive instructions: traps at CPL 3 (architecture/measured) under each feature set, and equivalence"
puts "(depth 1: observation = the architecture's; depth 2: = depth 1's; over feature sets [join $sets {, }])"
puts [scenario::indent [nestbed::table [list instruction class {*}$cols "depth 1" "depth 2" "depth 3"] $rows]]
puts ""

puts "Verdicts (theory: architecture/this host; practice: per depth; y holds, n does not):"
set vrows {}
foreach v [nestbed::virtualizable -db $db -features $sets -mode plain -evidence 3] {
	set depths [dict get $v depths]
	set cells [lmap d {1 2 3} {
		expr {[dict exists $depths $d] ? ([dict get $depths $d holds] eq "n/a" ? "n/a" : [yn [dict get $depths $d holds]]) : "-"}
	}]
	lappend vrows [list [dict get $v features] "T[dict get $v theorem]" "[yn [dict get $v in_theory]]/[yn [dict get $v on_host]]" \
		{*}$cells [expr {[dict get $v stops_at] eq "" ? "-" : [dict get $v stops_at]}]]
	lappend evidence([dict get $v features],[dict get $v theorem]) {*}[dict get $v evidence]
}
puts [scenario::indent [nestbed::table {features theorem theory "depth 1" "depth 2" "depth 3" "stops at"} $vrows]]
puts "  depth 3: n/a: needs virtual SVM in nbvmm (not run by this scenario)"
puts ""

puts "Time (Theorem 2): the minimum cycles of each timed operation, and the dilation against depth 1:"
set trows {}
$t eval {SELECT depth, what, min(cycles) AS cycles, max(dilation) AS dilation FROM v_pg_timing
	WHERE mode = 'plain' GROUP BY depth, probe ORDER BY probe, depth} {
	lappend trows [list $what $depth $cycles [expr {$dilation eq "" ? "-" : "x$dilation"}]]
}
puts [scenario::indent [nestbed::table {operation depth cycles dilation} $trows]]
puts "  A guest that reads the TSC sees these dilations: time is not virtualized (RDTSC does not trap here)."
puts ""

puts "Evidence, feature set none (one row per instruction, CPU mode and depth; T = theorems it falsifies):"
set erows {}
# With min(), SQLite takes the bare columns from the row of the minimum: the first probe's.
$t eval {SELECT depth, insn, cpu_mode, min(probe * 4 + theorem), rip, disassembly AS dis, observed, expected,
	compared_with AS compared, group_concat(DISTINCT theorem) AS theorems
	FROM v_pg_evidence WHERE feature_set = 'none' AND mode = 'plain' AND kind <> 'time'
	GROUP BY depth, insn, cpu_mode ORDER BY depth, insn, cpu_mode} {
	lappend erows [list $depth $insn $cpu_mode $rip $dis $observed $expected $compared T[string map {, ""} $theorems]]
}
puts [scenario::indent [nestbed::table {depth insn mode rip disassembly observed expected "compared with" T} $erows]]
puts ""
puts "Trace database: [file normalize $db] (nestbed::virtualizable -db ... gives every piece of evidence)"
$t close
