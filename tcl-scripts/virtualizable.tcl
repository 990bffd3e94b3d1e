# When does (recursive) virtualizability hold? The Tcl side of the Popek-Goldberg audit:
# nestbed::probes runs the probe kernel (guests/probes) at a depth under one host feature set and
# records the run's mode; nestbed::virtualizable reads the verdicts back from the store's views
# (db/schema.sql: v_pg_theory, v_pg_verdicts, v_pg_evidence) for a run or a set of runs.
# Sourced by nestbed.tcl; see tcl-scripts/README.md.

namespace eval ::nestbed::probes {
	namespace export run features
	namespace ensemble create
	# Feature words in the order of their bits (shadow/sensitivity.h NB_FEAT_*).
	variable words {umip cpuidf tsd}
}

# The canonical name of a feature set ("none", "umip+tsd"...) from a name or a list of words;
# an unknown word is {NESTBED USAGE}.
proc ::nestbed::probes::features {spec} {
	variable words
	set have {}
	foreach w [split [string map {+ " "} $spec]] {
		if {$w in {"" none}} {
			continue
		}
		if {$w ni $words} {
			::nestbed::Error USAGE "feature set '$spec': unknown feature '$w': must be none or a + list of [join $words {, }]"
		}
		lappend have $w
	}
	set name [join [lmap w $words {expr {$w in $have ? $w : [continue]}}] +]
	expr {$name eq "" ? "none" : $name}
}

# nestbed::probes run ?-depth N? ?-features SET? ?-mode M? ?-db PATH? ?-timeout S? ?-memory SIZE?
#     ?-hypervisor PATH? ?-hvoptions STR? ?-console PREFIX?
# Runs the probes at depth N (1: under L0; 2: under nbvmm; deeper: as the build allows, else
# {NESTBED DEPTH}) with the feature set turned on first, and records the run's mode in pg_runs.
# Returns the run's dict (as $m run) plus depth, features and mode.
proc ::nestbed::probes::run {args} {
	set o [::nestbed::Options "probes run" {-depth 1 -features none -mode plain -db {} -timeout 600
		-memory 64M -hypervisor nbvmm -hvoptions {} -console {}} $args]
	set depth [::nestbed::Integer "probes run -depth" [dict get $o -depth]]
	if {$depth < 1} {
		::nestbed::Error USAGE "probes run: -depth $depth: must be 1 or more"
	}
	set mode [dict get $o -mode]
	if {$mode ni {plain audit faithful}} {
		::nestbed::Error USAGE "probes run: -mode '$mode': must be plain, audit or faithful"
	}
	set features [features [dict get $o -features]]
	set options [lmap w [split $features +] {expr {$w eq "none" ? [continue] : "$w=1"}}]
	if {![regexp {^([0-9]+)M$} [dict get $o -memory] -> mib]} {
		::nestbed::Error USAGE "probes run: -memory '[dict get $o -memory]': give it in MiB (64M)"
	}
	# Audit mode is nbvmm's (audit=1: it single-steps the guest's kernel and records each
	# sensitive instruction that ran without trapping); plain runs the probes as they are.
	set hvoptions [dict get $o -hvoptions]
	if {$mode eq "audit"} {
		lappend hvoptions audit=1
	}
	# The probe itself at depth 1; each hypervisor level above it gets 64 MiB more.
	set node [list -image [::nestbed::image probes] -options [join $options] -memory ${mib}M]
	for {set d $depth} {$d > 1} {incr d -1} {
		incr mib 64
		set node [list -image [dict get $o -hypervisor] -options [join $hvoptions] \
			-guests [list $node] -memory ${mib}M]
	}
	set m [::nestbed::machine create {*}$node]
	try {
		set runargs [list -timeout [dict get $o -timeout]]
		if {[dict get $o -db] ne ""} {
			lappend runargs -db [dict get $o -db]
		}
		if {[dict get $o -console] ne ""} {
			lappend runargs -console [dict get $o -console]
		}
		set r [$m run {*}$runargs]
	} finally {
		$m destroy
	}
	if {[dict get $r run_id] > 0} {
		set t [::nestbed::trace open [dict get $r db] -readonly 0]
		try {
			set run [dict get $r run_id]
			set label "probes depth $depth $features"
			$t eval {INSERT OR REPLACE INTO pg_runs (run_id, mode, label) VALUES ($run, $mode, $label)}
		} finally {
			$t close
		}
	}
	dict set r depth $depth
	dict set r features $features
	dict set r mode $mode
	return $r
}

# The deepest depth a verdict can talk about, and why deeper ones are not measured.
proc ::nestbed::DepthLimit {} {
	set c [capabilities]
	list [dict get $c max_depth] [dict get $c depth_limit]
}

# nestbed::virtualizable ?-db PATH? ?-run IDS? ?-features SETS? ?-mode MODES? ?-evidence N?
# For the probe runs selected (default: all in the file), grouped by feature set and mode: one
# dict per group and theorem, with
#   features, mode, theorem, statement,
#   in_theory (0/1: from the architecture's trap conditions), failing_in_theory (instructions),
#   on_host (0/1: from this host's measured trap conditions), failing_on_host,
#   depths: {depth {holds 0/1 runs {ids} evidence N} ...} for each depth run, and for the depths
#     this build cannot run, {depth {holds n/a why TEXT}} up to depth max+1,
#   holds_in_practice (at every depth run), stops_at (the shallowest depth where it does not
#     hold in practice, "" if none),
#   evidence: up to N (10) dicts {run depth kind insn cpu_mode rip disassembly observed expected
#     compared_with}, shallowest depth first.
proc ::nestbed::virtualizable {args} {
	set o [Options virtualizable {-db nestbed-popek-goldberg.db -run all -features {} -mode {} -evidence 10} $args]
	set limit [Integer "virtualizable -evidence" [dict get $o -evidence]]
	set t [trace open [dict get $o -db]]
	try {
		set where {}
		if {[dict get $o -run] ne "all"} {
			set ids [lmap r [dict get $o -run] {Integer "virtualizable -run" $r}]
			lappend where "p.run_id IN ([join $ids ,])"
		}
		if {[dict get $o -features] ne ""} {
			set sets [lmap f [dict get $o -features] {probes features $f}]
			lappend where "p.feature_set IN ([join [lmap s $sets {string cat ' $s '}] ,])"
		}
		if {[dict get $o -mode] ne ""} {
			foreach m [dict get $o -mode] {
				if {$m ni {plain audit faithful}} {
					Error USAGE "virtualizable: -mode '$m': must be plain, audit or faithful"
				}
			}
			lappend where "p.mode IN ([join [lmap m [dict get $o -mode] {string cat ' $m '}] ,])"
		}
		set runs [$t eval "SELECT p.run_id, p.depth, p.features, p.feature_set, p.mode FROM v_pg_probe_runs p
			[Where $where] ORDER BY p.features, p.mode, p.depth, p.run_id"]
		if {[llength $runs] == 0} {
			Error USAGE "virtualizable: no probe runs in '[dict get $o -db]' match"
		}
		set groups [dict create]
		foreach {run depth features name mode} $runs {
			dict lappend groups [list $features $name $mode] $run $depth
		}
		lassign [DepthLimit] maxdepth why
		set result {}
		dict for {key members} $groups {
			lassign $key features name mode
			foreach theorem {1 2 3} {
				lappend result [Verdict $t $features $name $mode $theorem $members $maxdepth $why $limit]
			}
		}
		return $result
	} finally {
		$t close
	}
}

proc ::nestbed::TheoremStatement {theorem} {
	dict get {
		1 "every sensitive instruction (timing aside) traps: a VMM can be built (Theorem 1)"
		2 "Theorem 1 and no timing dependency: the machine is recursively virtualizable (Theorem 2)"
		3 "every user-sensitive instruction (timing aside) traps: a hybrid VMM can be built (Theorem 3)"
	} $theorem
}

proc ::nestbed::Verdict {t features name mode theorem members maxdepth why limit} {
	# Bound as integers: SQLite compares a text '1' unequal to the integer 1 in the views' columns
	# that have no affinity.
	set theorem [expr {int($theorem)}]
	set features [expr {int($features)}]
	set limit [expr {int($limit)}]
	set v [dict create features $name mode $mode theorem $theorem statement [TheoremStatement $theorem]]
	foreach basis {architecture measured} key {in_theory on_host} {
		$t eval {SELECT holds, failing FROM v_pg_theory WHERE features = $features AND theorem = $theorem
			AND basis = $basis} {
			dict set v $key $holds
			dict set v failing_$key [split [string map {", " ,} $failing] ,]
		}
	}
	set depths [dict create]
	set runs {}
	foreach {run depth} $members {
		lappend runs $run
		set n [$t eval {SELECT evidence FROM v_pg_verdicts WHERE run_id = $run AND theorem = $theorem}]
		if {[dict exists $depths $depth]} {
			dict with depths $depth {
				lappend runs_at $run
				set holds [expr {$holds && $n == 0}]
				incr evidence $n
			}
		} else {
			dict set depths $depth [dict create holds [expr {$n == 0}] runs_at [list $run] evidence $n]
		}
	}
	set deepest [tcl::mathfunc::max {*}[dict keys $depths]]
	for {set d [expr {$deepest + 1}]} {$d <= max($maxdepth, $deepest) + 1} {incr d} {
		if {$d > $maxdepth} {
			dict set depths $d [dict create holds n/a why $why]
		} else {
			dict set depths $d [dict create holds n/a why "not run"]
		}
	}
	# Rename runs_at to runs in the result (runs_at avoids dict with's clash with the local).
	dict for {d info} $depths {
		if {[dict exists $info runs_at]} {
			dict set info runs [dict get $info runs_at]
			dict unset info runs_at
			dict set depths $d $info
		}
	}
	dict set v depths [lsort -integer -stride 2 -index 0 $depths]
	set stops {}
	foreach d [lsort -integer [dict keys $depths]] {
		if {[dict get $depths $d holds] eq "0"} {
			set stops $d
			break
		}
	}
	dict set v holds_in_practice [expr {$stops eq ""}]
	dict set v stops_at $stops
	set evidence {}
	set ids [join $runs ,]
	$t eval "SELECT run_id, depth, kind, insn, cpu_mode, rip, disassembly, observed, expected, compared_with
		FROM v_pg_evidence WHERE theorem = :theorem AND run_id IN ($ids) ORDER BY depth, run_id, kind, insn
		LIMIT :limit" row {
		lappend evidence [dict create run $row(run_id) depth $row(depth) kind $row(kind) insn $row(insn) \
			cpu_mode $row(cpu_mode) rip $row(rip) disassembly $row(disassembly) observed $row(observed) \
			expected $row(expected) compared_with $row(compared_with)]
	}
	dict set v evidence $evidence
	return $v
}
