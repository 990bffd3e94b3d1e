# tests/tcl: the Tcl package's tests (tcltest, reported in TAP by tests/tcl/tap.tcl), one file
# per area. They load the package from this build tree; those that boot guests need /dev/kvm
# and say so when they skip.
TESTS += tests/tcl/package.tcl tests/tcl/machine.tcl tests/tcl/run.tcl tests/tcl/depth2.tcl \
	tests/tcl/depth3.tcl tests/tcl/trace.tcl tests/tcl/scenarios.tcl tests/tcl/virtualizable.tcl
EXTRA_DIST += tests/tcl/tap.tcl $(filter tests/tcl/%.tcl,$(TESTS))
