# Sourced by every Tcl test file: tcltest runs the tests, this layer reports them in TAP so that
# automake's TAP driver counts test cases (Makefile.am: TCL_LOG_DRIVER). Each test file:
#
#   source [file join [file dirname [info script]] tap.tcl]
#   test name-1.1 {what it checks} -body {...} -result ...   ;# tcltest::test, plus a TAP line
#   tap::done
#
# tcltest's own report (the body, the expected and actual results of a failure, the totals) goes
# to stderr, which the driver keeps in the test's .log file beside the TAP lines.
#
# The package is taken from the build tree named by NB_TOP_BUILDDIR (make check exports it), never
# from an installed copy: the tests check what was just built.

package require Tcl 8.6
package require tcltest 2.5

namespace eval ::tap {
	variable n 0
	variable failed 0
	# Why each constraint may be false, for the "# SKIP" of the tests it skips.
	variable why [dict create]
	variable builddir
	variable srcdir
	variable tclsh [info nameofexecutable]
}

tcltest::configure -verbose {body error}
tcltest::outputChannel stderr
tcltest::errorChannel stderr

foreach {var name} {builddir NB_TOP_BUILDDIR srcdir NB_TOP_SRCDIR} {
	if {![info exists env($name)]} {
		puts "Bail out! $name is not set: run the Tcl tests through make check"
		exit 1
	}
	set ::tap::$var $env($name)
}
if {[info exists env(NB_TCLSH)]} {
	set ::tap::tclsh $env(NB_TCLSH)
}
set auto_path [linsert $auto_path 0 [file join $::tap::builddir tcl-scripts]]
if {[catch {package require nestbed} msg]} {
	puts "Bail out! cannot load the nestbed package from $::tap::builddir/tcl-scripts: $msg"
	exit 1
}

# Declares a constraint with the reason it may be false.
proc ::tap::constraint {name value reason} {
	tcltest::testConstraint $name $value
	dict set ::tap::why $name $reason
}

# Skips the whole file (TAP "1..0 # SKIP").
proc ::tap::skip_all {reason} {
	puts "1..0 # SKIP $reason"
	exit 0
}

# tcltest::test, evaluated in the caller's scope as if called directly, then one TAP line.
proc test {name description args} {
	set failed $tcltest::numTests(Failed)
	set skipped $tcltest::numTests(Skipped)
	uplevel 1 [list tcltest::test $name $description {*}$args]
	set line "$name [string map {\n " " # \\#} $description]"
	incr ::tap::n
	if {$tcltest::numTests(Failed) > $failed} {
		incr ::tap::failed
		puts "not ok $::tap::n - $line"
		puts "# see the .log file for the expected and actual results"
	} elseif {$tcltest::numTests(Skipped) > $skipped} {
		set reasons {}
		if {[dict exists $args -constraints]} {
			foreach c [dict get $args -constraints] {
				if {![tcltest::testConstraint $c]} {
					lappend reasons [expr {[dict exists $::tap::why $c] ? [dict get $::tap::why $c] : $c}]
				}
			}
		}
		puts "ok $::tap::n - $line # SKIP [join $reasons {; }]"
	} else {
		puts "ok $::tap::n - $line"
	}
	flush stdout
}

# Ends the file: the TAP plan, tcltest's totals (on stderr), the temporary directory removed, and
# a failing exit status if any test failed.
proc ::tap::done {} {
	puts "1..$::tap::n"
	flush stdout
	tcltest::cleanupTests
	if {[info exists ::tap::tmp]} {
		file delete -force $::tap::tmp
	}
	exit [expr {$::tap::failed > 0}]
}

# A fresh temporary directory for this file, removed by done.
proc ::tap::tmpdir {} {
	variable tmp
	if {![info exists tmp]} {
		set base [expr {[info exists ::env(TMPDIR)] ? $::env(TMPDIR) : "/tmp"}]
		set tmp [file join $base nestbed-tcltest-[pid]-[clock clicks]]
		file mkdir $tmp
	}
	return $tmp
}

# The error code of a script's error, or "no error".
proc ::tap::errorcode {script} {
	if {[catch {uplevel 1 $script} msg opts]} {
		return [dict get $opts -errorcode]
	}
	return "no error"
}

# The first two elements of a script's error code ({NESTBED IMAGE}), or "no error".
proc ::tap::code {script} {
	lrange [uplevel 1 [list ::tap::errorcode $script]] 0 1
}

# Console callbacks run at global level: tap::collect appends {level line} to the global list
# ::lines, tap::at_level gives the lines the callback saw at one level.
proc ::tap::collect {level line} {
	lappend ::lines [list $level $line]
}

proc ::tap::at_level {level} {
	lmap l $::lines {if {[lindex $l 0] == $level} {lindex $l 1} else continue}
}

# The options of nestbed::machine create for a chain of `depth` levels: nbvmm at every level but
# the last, whose node is `leaf` (its -option value pairs).
proc ::tap::chain {depth leaf} {
	set node $leaf
	for {set d $depth} {$d > 2} {incr d -1} {
		set node [list -guests [list $node]]
	}
	list -guests [list $node]
}

# KVM, and the guests and the hypervisor the integration tests boot.
if {[info exists ::env(NB_TEST_HOSTED)]} {
	::tap::constraint kvm 0 "NB_TEST_HOSTED is set (make check-hosted): runs are left to make check"
} else {
	::tap::constraint kvm [dict get [nestbed::capabilities] kvm] \
		"/dev/kvm is absent or not writable by [exec id -un]: runs need KVM"
}
foreach guest {hello misbehave ptest} {
	::tap::constraint $guest [file exists [file join $::tap::builddir guests $guest $guest.elf]] \
		"guests/$guest/$guest.elf is not built"
}
::tap::constraint nbvmm [file exists [file join $::tap::builddir l1-vmm nbvmm.elf]] "l1-vmm/nbvmm.elf is not built"
