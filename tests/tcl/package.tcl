# package require nestbed: from the build tree (TCLLIBPATH, auto_path) and from an installed
# layout, in a fresh tclsh each time; what the package puts in the interpreter.
source [file join [file dirname [info script]] tap.tcl]

set tmp [tap::tmpdir]
set pkgdir [file join $tap::builddir tcl-scripts]

# Runs a Tcl script in a fresh tclsh with the given environment variables (and none of those
# that point at a build tree); returns its output.
proc fresh {script {vars {}}} {
	set names {TCLLIBPATH NB_TOP_BUILDDIR}
	set saved [array get ::env TCLLIBPATH]
	lappend saved {*}[array get ::env NB_TOP_BUILDDIR]
	foreach name $names {
		unset -nocomplain ::env($name)
	}
	array set ::env $vars
	try {
		exec $tap::tclsh << $script 2>@1
	} finally {
		foreach name $names {
			unset -nocomplain ::env($name)
		}
		array set ::env $saved
	}
}

test package-1.1 {the build tree is a package directory for TCLLIBPATH} -body {
	fresh {puts [package require nestbed]} [list TCLLIBPATH $tap::builddir]
} -result [dict get [nestbed::capabilities] version]

test package-1.2 {auto_path pointing at build/tcl-scripts finds it too} -body {
	fresh "lappend auto_path [list $pkgdir]; puts \[package require nestbed\]"
} -result [dict get [nestbed::capabilities] version]

test package-1.3 {from the build tree the extension comes from .libs and nestbed.tcl from the sources} -body {
	fresh {
		package require nestbed
		puts [lindex [lsearch -inline -index 1 [info loaded] Nestbed] 0]
		puts [namespace which nestbed::summary]
	} [list TCLLIBPATH $tap::builddir]
} -result "[file join $pkgdir .libs libnestbedtcl[info sharedlibextension]]\n::nestbed::summary"

test package-1.4 {an installed layout loads: extension, nestbed.tcl and the index side by side} -body {
	# What make install puts into tclpkgdir, without touching the system.
	set inst [file join $tmp lib nestbed]
	file mkdir $inst
	file copy [file join $pkgdir .libs libnestbedtcl[info sharedlibextension]] $inst
	file copy [file join $tap::srcdir tcl-scripts nestbed.tcl] [file join $tap::srcdir tcl-scripts virtualizable.tcl] \
		[file join $pkgdir pkgIndex.tcl] $inst
	fresh {
		puts [package require nestbed]
		puts [file dirname [lindex [lsearch -inline -index 1 [info loaded] Nestbed] 0]]
		puts [llength [info commands nestbed::trace]]
	} [list TCLLIBPATH [file join $tmp lib]]
} -result "[dict get [nestbed::capabilities] version]\n[file join $tmp lib nestbed]\n1"

test package-1.5 {the package needs sqlite3 and nothing else outside Tcl} -body {
	fresh {package require nestbed; puts [lsort [package names]]} [list TCLLIBPATH $tap::builddir]
} -match glob -result {*nestbed*sqlite3*}

test package-2.1 {the namespace exports the public commands but trace and image, which would hide Tcl's and Tk's} -body {
	lsort [namespace eval ::nestbed {namespace export}]
} -result {capabilities hex machine s64 summary table u64}

test package-2.2 {machine and trace are ensembles} -body {
	list [namespace ensemble exists ::nestbed::machine] [namespace ensemble exists ::nestbed::trace]
} -result {1 1}

test package-2.3 {a wrong subcommand of an ensemble is an error listing the subcommands} -body {
	catch {nestbed::machine build} msg
	set msg
} -result {unknown or ambiguous subcommand "build": must be create}

test package-2.4 {capabilities takes no arguments} -body {
	tap::code { nestbed::capabilities now }
} -result {NESTBED USAGE}

test package-2.5 {nestbed::image needs one name} -body {
	tap::code { nestbed::image }
} -result {NESTBED USAGE}

test package-2.6 {the package can be imported into the global namespace} -body {
	fresh {
		package require nestbed
		namespace import nestbed::*
		puts [hex 255]
	} [list TCLLIBPATH $tap::builddir]
} -result 0x00000000000000ff

tap::done
