# The Popek-Goldberg audit: nestbed::probes (feature sets, runs at a depth with their mode
# recorded) and nestbed::virtualizable (verdicts per feature set, mode and theorem, from a
# real probe run and from hand-written probe records: holds, fails only at depth 2, evidence).
source [file join [file dirname [info script]] tap.tcl]

package require sqlite3
set tmp [tap::tmpdir]
::tap::constraint probes [file exists [file join $::tap::builddir guests probes probes.elf]] \
	"guests/probes/probes.elf is not built"

test virtualizable-1.1 {feature sets are named canonically, in bit order, from names or word lists} -body {
	lmap f {none {} umip tsd+umip {tsd cpuidf umip} umip+none} {nestbed::probes features $f}
} -result {none none umip umip+tsd umip+cpuidf+tsd umip}

test virtualizable-1.2 {an unknown feature is a usage error that names the known ones} -body {
	tap::errorcode {nestbed::probes features {umip smep}}
} -result {NESTBED USAGE {feature set 'umip smep': unknown feature 'smep': must be none or a + list of umip, cpuidf, tsd}}

test virtualizable-1.3 {probes run checks its options before anything boots} -body {
	list [lindex [tap::errorcode {nestbed::probes run -mode fast}] 1] \
		[lindex [tap::errorcode {nestbed::probes run -depth 0}] 1] \
		[lindex [tap::errorcode {nestbed::probes run -memory 1G}] 1] \
		[lindex [tap::errorcode {nestbed::probes run -bogus 1}] 1]
} -result {USAGE USAGE USAGE USAGE}

test virtualizable-1.4 {a depth beyond the build's is {NESTBED DEPTH}, before anything boots} -constraints probes -body {
	set depth [expr {[dict get [nestbed::capabilities] max_depth] + 1}]
	lrange [tap::errorcode [list nestbed::probes run -depth $depth]] 0 1
} -result {NESTBED DEPTH}

# A database of the current schema with one probe run at depth 1 (umip), for the tests below.
if {[tcltest::testConstraint kvm] && [tcltest::testConstraint probes]} {
	set r1 [nestbed::probes run -features umip -db $tmp/real.db -timeout 120]
}

test virtualizable-2.1 {probes run returns the run's dict with depth, features and mode, and records the mode} -constraints {kvm probes} -body {
	sqlite3 raw $tmp/real.db -readonly 1
	set row [raw eval {SELECT mode, label FROM pg_runs WHERE run_id = 1}]
	set obs [raw eval {SELECT count(*) FROM v_pg_observations WHERE run_id = 1 AND depth = 1}]
	set setup [raw eval {SELECT feature_set, effective & 1 FROM v_pg_probe_runs WHERE run_id = 1}]
	raw close
	list [dict filter $r1 key status depth features mode run_id] $row [expr {$obs >= 40}] $setup
} -result {{status 0 run_id 1 depth 1 features umip mode plain} {plain {probes depth 1 umip}} 1 {umip 1}}

test virtualizable-2.2 {the verdicts of a real run: one dict per theorem; x86 fails Theorem 1 in theory, PUSHF among the culprits} -constraints {kvm probes} -body {
	set v [nestbed::virtualizable -db $tmp/real.db]
	list [llength $v] [lmap d $v {dict get $d theorem}] [lsort -unique [lmap d $v {dict get $d features}]] \
		[dict get [lindex $v 0] in_theory] [expr {"pushf" in [dict get [lindex $v 0] failing_in_theory]}] \
		[expr {"sgdt" in [dict get [lindex $v 0] failing_in_theory]}] \
		[lsort [dict keys [lindex $v 0]]]
} -result {3 {1 2 3} umip 0 1 0 {depths evidence failing_in_theory failing_on_host features holds_in_practice in_theory mode on_host statement stops_at theorem}}

test virtualizable-2.3 {Theorem 2's evidence names time: RDTSC ran at CPL 3 without trapping} -constraints {kvm probes} -body {
	set v [lindex [nestbed::virtualizable -db $tmp/real.db -evidence 100] 1]
	lsort -unique [lmap e [dict get $v evidence] {
		expr {[dict get $e kind] eq "time" ? [list [dict get $e insn] [dict get $e observed]] : [continue]}
	}]
} -result {{rdtsc {ran without trapping}}}

# Hand-written probe records (shadow/sensitivity.h's layout) in a copy of that database's schema:
# depth 1 faithful; depth 2 shows another GDT base to kernel-mode SGDT.
proc add_obs {db run depth mode id value expected {vector 0}} {
	set value [expr {$value}]
	set aux [expr {0x5047 << 48 | 4 << 32 | $mode << 24 | $id}]
	set info2 [expr {$expected eq "" ? 0 : 1}]
	set expected [expr {$expected eq "" ? 0 : $expected}]
	$db eval {INSERT INTO events (run_id, ts, rec_level, guest_level, vm_id, vcpu, kind, action, exit_code,
		exit_info1, exit_info2, rip, addr, old_val, new_val, aux)
		VALUES ($run, 0, $depth, $depth, $depth, 0, 12, 0, 0, $vector, $info2, 4096 + $id, 0, $value, $expected, $aux)}
}
proc add_run {db run depth sgdt} {
	$db eval {INSERT INTO runs (run_id, started_at) VALUES ($run, 'now')}
	add_obs $db $run $depth 0 0 4 4
	add_obs $db $run $depth 0 40 $sgdt 4096
	add_obs $db $run $depth 1 45 0 0
	add_obs $db $run $depth 1 65 0 1 14
}

test virtualizable-3.1 {hand-built runs: Theorem 1 stops holding at depth 2, Theorem 3 holds, depth 3 is n/a with the reason} -constraints {kvm probes} -body {
	file copy -force $tmp/real.db $tmp/hand.db
	sqlite3 raw $tmp/hand.db
	raw eval {DELETE FROM events; DELETE FROM pg_runs; DELETE FROM runs}
	add_run raw 1 1 4096
	add_run raw 2 2 0xfffff000
	raw close
	set v [nestbed::virtualizable -db $tmp/hand.db -features tsd]
	set t1 [lindex $v 0]
	set t3 [lindex $v 2]
	set d3 [dict get [dict get $t1 depths] 3]
	list [dict get $t1 features] [dict get $t1 stops_at] [dict get $t1 holds_in_practice] \
		[dict filter [dict get [dict get $t1 depths] 1] key holds runs] \
		[dict get [dict get $t1 depths] 2 holds] [dict get $d3 holds] \
		[expr {[dict get $d3 why] eq [dict get [nestbed::capabilities] depth_limit] || [dict get $d3 why] eq "not run"}] \
		[dict get $t3 stops_at] [dict get $t3 holds_in_practice]
} -result {tsd 2 0 {holds 1 runs 1} 0 n/a 1 {} 1}

test virtualizable-3.2 {the evidence: instruction, mode, RIP, observed against depth 1's} -constraints {kvm probes} -body {
	set e [lindex [dict get [lindex [nestbed::virtualizable -db $tmp/hand.db -run {1 2}] 0] evidence] 0]
	dict filter $e key depth kind insn cpu_mode rip observed expected compared_with
} -result {depth 2 kind observation insn sgdt cpu_mode kernel rip 0x0000000000001028 observed {0xfffff000 0x0} expected {0x1000 0x0} compared_with {depth 1 (run 1)}}

test virtualizable-3.3 {-mode filters, and a filter that leaves no run is a usage error} -constraints {kvm probes} -body {
	list [lindex [tap::errorcode {nestbed::virtualizable -db $tmp/hand.db -mode audit}] 1] \
		[lindex [tap::errorcode {nestbed::virtualizable -db $tmp/hand.db -mode sloppy}] 1] \
		[llength [nestbed::virtualizable -db $tmp/hand.db -mode plain]]
} -result {USAGE USAGE 3}

test virtualizable-4.1 {popek-goldberg.tcl says its question and prints its tables from a database (-report-only)} -constraints {kvm probes} -body {
	set script [file join $tap::srcdir tcl-scripts scenarios popek-goldberg.tcl]
	set ch [open $script]
	set first [gets $ch]
	close $ch
	set out [exec $tap::tclsh $script -db $tmp/hand.db -features tsd -report-only 1 2>@1]
	list [string match "# Question: *" $first] \
		[regexp {\n  sgdt +behaviour,user +n/n +y/y +n/n +n/n +yes +no \(kernel\) +n/a: needs virtual SVM\n} $out] \
		[regexp {\n  tsd +T1 +n/n +y +n +(n/a|-) +2\n} $out] [string match "*Trace database: $tmp/hand.db*" $out]
} -result {1 1 1 1}

tap::done
