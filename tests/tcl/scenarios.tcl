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

# Runs a scenario in $tmp/$dir; returns {exit-status output}.
proc scenario {dir script args} {
	file mkdir [file join $::tmp $dir]
	set here [pwd]
	cd [file join $::tmp $dir]
	try {
		set status [catch {exec $tap::tclsh [file join $::scenarios $script] {*}$args 2>@1} out opts]
		if {$status} {
			set status [lindex [dict get $opts -errorcode] 2]
		}
	} finally {
		cd $here
	}
	list $status $out
}

test scenarios-1.1 {each scenario begins by saying what question it answers} -body {
	lmap f {quickstart.tcl tracing-cost.tcl depths.tcl} {
		set ch [open [file join $scenarios $f]]
		set first [gets $ch]
		close $ch
		string match "# Question: *" $first
	}
} -result {1 1 1}

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
	scenario q3 quickstart.tcl $tmp/q3.db
	lassign [scenario q3 quickstart.tcl $tmp/q3.db] status out
	list $status [string match "*Trace database: $tmp/q3.db (run 2)*" $out]
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

test scenarios-4.1 {depths runs depth 1 and says which depths it skipped and why} -body {
	lassign [scenario d depths.tcl] status out
	set skipped [dict get [nestbed::capabilities] depth_limit]
	list $status [regexp {\n +1 +guest-exit 0 } $out] [string match "*Skipped depths 2 to 5: $skipped*" $out]
} -result {0 1 1}

test scenarios-4.2 {depths takes -max} -body {
	lassign [scenario d2 depths.tcl -max 1] status out
	list $status [string match *Skipped* $out]
} -result {0 0}

tap::done
