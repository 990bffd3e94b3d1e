# Sourced by every scenario: finds the nestbed package and reads the scenario's arguments.
#
# The package is taken, in this order, from the build tree named by NB_TOP_BUILDDIR (as make
# check sets it), from build/ beside this source tree (where tools/bootstrap builds), and then
# from wherever tclsh finds installed packages (make install).

namespace eval ::scenario {
	# scenarios/ -> tcl-scripts/ -> the top of the source tree
	variable top [file dirname [file dirname [file dirname [file normalize [info script]]]]]
	# The scenario's name, for its messages.
	variable name [file rootname [file tail $::argv0]]
}

proc ::scenario::require_nestbed {} {
	variable top
	set dirs [list [file join $top build tcl-scripts]]
	if {[info exists ::env(NB_TOP_BUILDDIR)]} {
		set dirs [linsert $dirs 0 [file join $::env(NB_TOP_BUILDDIR) tcl-scripts]]
	}
	# Earlier entries of auto_path take precedence.
	set ::auto_path [concat $dirs $::auto_path]
	if {[catch {package require nestbed} msg]} {
		puts stderr "$::argv0: cannot load the Tcl package nestbed ($msg)."
		puts stderr "Build it first (tools/bootstrap builds into $top/build) or install it (make install)."
		exit 1
	}
}

# Reads -name value arguments against a dict of defaults and the help text; -h prints the help.
proc ::scenario::options {defaults usage} {
	variable name
	if {[lsearch -exact $::argv -h] >= 0 || [lsearch -exact $::argv --help] >= 0} {
		puts $usage
		exit 0
	}
	if {[catch {nestbed::Options $name $defaults $::argv} opts]} {
		puts stderr $opts
		puts stderr $usage
		exit 2
	}
	return $opts
}

# Indents every line of a text (a table under its heading) by two spaces.
proc ::scenario::indent {text} {
	join [lmap l [split $text \n] {string cat "  " $l}] \n
}

# Reports an error of the package the way a command-line tool would, and exits.
proc ::scenario::fail {msg opts} {
	variable name
	set code [dict get $opts -errorcode]
	puts stderr "$name: $msg"
	if {[lrange $code 0 1] eq {NESTBED KVM}} {
		puts stderr "$name: machines run on /dev/kvm: it must exist and be readable and writable by [exec id -un]"
	}
	exit 1
}

scenario::require_nestbed
