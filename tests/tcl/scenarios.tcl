# The scenarios under tcl-scripts/scenarios/, run as a user runs them: tclsh SCRIPT, in a fresh
# process, from a scratch directory.
source [file join [file dirname [info script]] tap.tcl]

if {![tcltest::testConstraint kvm]} {
	tap::skip_all [dict get $tap::why kvm]
}
if {![tcltest::testConstraint hello]} {
	tap::skip_all [dict get $tap::why hello]
}
set tmp [tap::tmpdir]
set scenarios [file join $tap::srcdir tcl-scripts scenarios]

# Runs a scenario in $tmp/$dir, stopped after 300 s (status 124) where timeout(1) is installed;
# returns {exit-status output}.
proc scenario {dir script args} {
	file mkdir [file join $::tmp $dir]
	set here [pwd]
	cd [file join $::tmp $dir]
	set limit [expr {[auto_execok timeout] ne "" ? [list timeout 300] : {}}]
	try {
		set status [catch {exec {*}$limit $tap::tclsh [file join $::scenarios $script] {*}$args 2>@1} out opts]
		if {$status} {
			set status [lindex [dict get $opts -errorcode] 2]
		}
	} finally {
		cd $here
	}
	list $status $out
}

test scenarios-1.1 {each scenario begins by saying what question it answers} -body {
	lmap f {quickstart.tcl tracing-cost.tcl depths.tcl shadow-paging.tcl} {
		set ch [open [file join $scenarios $f]]
		set first [gets $ch]
		close $ch
		string match "# Question: *" $first
	}
} -result {1 1 1 1}

test scenarios-2.1 {quickstart boots hello and prints the summary tables} -body {
	lassign [scenario q1 quickstart.tcl] status out
	list $status [lmap p {{*Run 1: guest-exit, exit status 0*} {*Events by level and kind*L0*IO*L1*GUEST*}
		{*Traps by level and reason*IOIO*} {*L1> hello from nestbed level 1 (vm 1)*} {*Records lost: 0*}} {
		string match $p $out
	}]
} -result {0 {1 1 1 1 1}}

test scenarios-2.2 {quickstart writes ./nestbed-quickstart.db by default and says where it is} -body {
	lassign [scenario q2 quickstart.tcl] status out
	set db [file join $tmp q2 nestbed-quickstart.db]
	list [file exists $db] [string match "*Trace database: $db (run 1)*" $out]
} -result {1 1}

test scenarios-2.3 {quickstart takes the database path as its argument; runs add up} -body {
	# One run per depth this build supports (depth 1, and depth 2 when nbvmm is built).
	set per [expr {[dict get [nestbed::capabilities] max_depth] >= 2 ? 2 : 1}]
	scenario q3 quickstart.tcl $tmp/q3.db
	lassign [scenario q3 quickstart.tcl $tmp/q3.db] status out
	list $status [string match "*Trace database: $tmp/q3.db (run [expr {2 * $per}])*" $out]
} -result {0 1}

test scenarios-2.4 {quickstart works from a source tree with the build in ./build} -body {
	# A source tree of our own whose build/ is this build tree: the scenario must find the package
	# relative to its own location, with nothing in the environment pointing at it.
	file mkdir $tmp/tree/tcl-scripts
	file copy $scenarios $tmp/tree/tcl-scripts/scenarios
	file link -symbolic $tmp/tree/build $tap::builddir
	set saved $env(NB_TOP_BUILDDIR)
	unset env(NB_TOP_BUILDDIR)
	try {
		set status [catch {exec $tap::tclsh $tmp/tree/tcl-scripts/scenarios/quickstart.tcl $tmp/tree.db 2>@1} out]
	} finally {
		set env(NB_TOP_BUILDDIR) $saved
	}
	list $status [string match "*Trace database: $tmp/tree.db*" $out]
} -result {0 1}

test scenarios-2.5 {quickstart refuses more than one argument} -body {
	lindex [scenario q5 quickstart.tcl a b] 0
} -result 2

test scenarios-3.1 {tracing-cost compares tracing off, the store alone, and full tracing} -body {
	lassign [scenario tc tracing-cost.tcl -runs 1 -options records=50] status out
	list $status [regexp {\noff +[0-9.]+ +[0-9]+ +0 +0 +1\.00\n} $out] [regexp {\nstore +[0-9.]+ } $out] \
		[regexp {\nfull +[0-9.]+ } $out] [string match "*us per recorded event*" $out]
} -result {0 1 1 1 1}

test scenarios-3.2 {tracing-cost refuses a bad option with its usage} -body {
	lassign [scenario tc2 tracing-cost.tcl -runs none] status out
	list $status [string match "*not a positive integer*" $out]
} -result {2 1}

tap::constraint depth2 [expr {[dict get [nestbed::capabilities] max_depth] >= 2 && [tcltest::testConstraint ptest]}] \
	"depth 2 needs nbvmm and guests/ptest: [dict get [nestbed::capabilities] depth_limit]"
tap::constraint depth3 [expr {[dict get [nestbed::capabilities] max_depth] >= 3 && [tcltest::testConstraint ptest]}] \
	"depths 2 and 3 need nbvmm and guests/ptest: [dict get [nestbed::capabilities] depth_limit]"

# One run of depths.tcl to depth 3 (about a minute: ptest takes most of it), read by the tests below.
if {[tcltest::testConstraint depth3]} {
	lassign [scenario d depths.tcl -max 3] depths_status depths_out
}

# With nbvmm's default style, the level-2 nbvmm runs its guest with VMRUN: at depth 3 its guest's
# shadow fills are level 1's business, and it emulates no page-table write (nested paging).
test scenarios-4.1 {depths runs hello and ptest at depths 1 to 3, in one table with a trap column per level} -constraints depth3 -body {
	list $depths_status [lmap p {
		{\n *guest +depth +style +stop +wall_s +events +l0_exits +l1_traps +l2_traps +shadow_fills +pt_writes +lost +slowdown\n}
		{\nhello +1 +- +guest-exit 0 +[0-9.]+ +[0-9]+ +[1-9][0-9]* +0 +0 +0 +1\.0\n}
		{\nhello +2 +tande +guest-exit 0 +[0-9.]+ +[0-9]+ +[1-9][0-9]* +[1-9][0-9]* +[1-9][0-9]* +[0-9]+ +0 +[0-9.]+\n}
		{\nhello +3 +svm +guest-exit 0 +[0-9.]+ +[0-9]+ +[1-9][0-9]* +[1-9][0-9]* +[1-9][0-9]* +0 +0 +0 +[0-9.]+\n}
		{\nptest +1 +- +guest-exit 0 }
		{\nptest +3 +svm +guest-exit 0 +[0-9.]+ +[0-9]+ +[1-9][0-9]* +[1-9][0-9]* +[1-9][0-9]* +0 +0 +0 +[0-9.]+\n}
		{\nExit multiplication: [^\n]*\n[^\n]*\n  hello at depth 3 \(svm\): level 1 [0-9.]+\n  ptest at depth 3 \(svm\): level 1 [0-9.]+\n}
	} { regexp $p $depths_out }]
} -result {0 {1 1 1 1 1 1 1}}

test scenarios-4.2 {depths compares what the guests printed: ptest the same at every depth, hello where it prints its level} -constraints depth3 -body {
	list [regexp {ptest, depth 2 against depth 1: identical \([0-9]+ lines\)} $depths_out] \
		[regexp {ptest, depth 3 \(svm\) against depth 1: identical \([0-9]+ lines\)} $depths_out] \
		[regexp {hello, depth 3 \(svm\) against depth 1: [0-9]+ of [0-9]+ lines differ} $depths_out] \
		[string match "*depth 1: hello from nestbed level 1*depth 3: hello from nestbed level 3*" $depths_out]
} -result {1 1 1 1}

test scenarios-4.3 {depths says which depths it did not run, how to run them and how long depth 5 takes} -constraints depth3 -body {
	regexp {\nNot run: depths 4 to 5 \(-max 5 runs them\)\. One run of hello / ptest took\n[^\n]* at depth 4, [0-9]+ min / [^\n]* at depth 5\n} $depths_out
} -result 1

test scenarios-4.4 {depths takes -max: -max 1 runs depth 1 alone and skips nothing} -body {
	lassign [scenario d4 depths.tcl -max 1 -guests hello] status out
	list $status [regexp {\nhello +1 } $out] [regexp {\nhello +2 } $out] [string match *Skipped* $out]
} -result {0 1 0 0}

test scenarios-4.5 {depths refuses a bad -max with its usage} -body {
	lassign [scenario d5 depths.tcl -max 6] status out
	list $status [string match "*must be 1 to 5*" $out]
} -result {2 1}

# -style tande: svm=0 on every nbvmm, so the level-2 one traps-and-emulates hello at depth 3 and
# fills its shadow itself.
test scenarios-4.6 {depths -style tande runs every level by trap-and-emulate} -constraints depth3 -body {
	lassign [scenario d6 depths.tcl -max 3 -guests hello -style tande] status out
	list $status \
		[regexp {\nhello +3 +tande +guest-exit 0 +[0-9.]+ +[0-9]+ +[1-9][0-9]* +[1-9][0-9]* +[1-9][0-9]* +[1-9][0-9]* +[0-9]+ +0 +[0-9.]+\n} $out] \
		[regexp {\n  hello at depth 3 \(tande\): level 1 [0-9.]+\n} $out]
} -result {0 1 1}

test scenarios-4.7 {depths refuses a -style it does not know} -body {
	lassign [scenario d7 depths.tcl -style vmx] status out
	list $status [string match "*-style 'vmx': must be svm, tande or both*" $out]
} -result {2 1}

test scenarios-5.1 {shadow-paging runs ptest at depth 2 and reports from the trace} -constraints depth2 -body {
	lassign [scenario sp shadow-paging.tcl] status out
	list $status [lmap p {
		{Shadow paging for ptest at depth 2 .*\n  guest-exit 0 after }
		{\nTraps at level 1 by exit reason, and what nbvmm did with them\n +reason +traps +share_% +emulated +delivered +shadow_fill +other\n}
		{\n +EXCP_PF +[0-9]+ +[0-9.]+ +[0-9]+ +[0-9]+ +[1-9][0-9]* +0\n}
		{\n  - [1-9][0-9]* hidden \([0-9.]+%\)}
		{\nShadow fills: [1-9][0-9]* on [1-9][0-9]* guest-virtual pages; the top 10\.}
		{\n +guest_page +fills +frames\n(  0x[0-9a-f]{16} +[0-9]+ +[0-9]+\n){10}}
		{\n +table +writes +entries +changed +mapped +unmapped\n(?:  L[2-4] [^\n]*\n)*  +L1 +[1-9]}
		{\nCR3 switches: [1-9][0-9]* to [0-9]+ distinct address spaces; [1-9][0-9]* reused cached shadow roots}
		{\n +reason +zaps +entries +meaning\n +[a-z-]+ +[1-9]}
		{\nTrace database: .*nestbed-shadow-paging.db \(run 1\)}
	} { regexp $p $out }]
} -result {0 {1 1 1 1 1 1 1 1 1 1}}

test scenarios-5.2 {shadow-paging refuses a bad option with its usage} -body {
	lassign [scenario sp2 shadow-paging.tcl -top many] status out
	list $status [string match "*not a number of pages*" $out]
} -result {2 1}

tap::done
