# tests: each suite's fragment is owned by the part it tests.
include $(srcdir)/tests/unit/tracer.mk
include $(srcdir)/tests/unit/loader.mk
include $(srcdir)/tests/unit/shadow.mk
include $(srcdir)/tests/fuzz/local.mk
include $(srcdir)/tests/integration/integration.mk
include $(srcdir)/tests/tcl/tcl.mk
include $(srcdir)/tests/unit/sensitivity.mk
include $(srcdir)/tests/unit/report.mk

# The suites that need no /dev/kvm, built and run alone: `make check-hosted` builds only what
# they use (no guest images, no nbvmm) and runs the unit tests, the fuzz harnesses and the Tcl
# tests that boot nothing (NB_TEST_HOSTED skips their runs). tools/test runs it in a sanitizer
# build (configure --enable-sanitizers): the fuzz harnesses then replay their corpus under ASan and
# UBSan, and tclsh, which is not built with them, gets their runtimes preloaded for the extension.
hosted_tests = $(filter tests/unit/% tests/fuzz/%,$(TESTS)) tests/tcl/package.tcl tests/tcl/machine.tcl \
	tests/tcl/trace.tcl tests/tcl/virtualizable.tcl
hosted_tclsh = $(if $(SAN_CFLAGS),env LD_PRELOAD="`$(CC) -print-file-name=libasan.so`:`$(CC) -print-file-name=libubsan.so`" \
	ASAN_OPTIONS=detect_leaks=0 $(TCLSH),$(TCLSH))
check-hosted: tcl-scripts/libnestbedtcl.la tcl-scripts/pkgIndex.tcl
	NB_TEST_HOSTED=1 $(MAKE) $(AM_MAKEFLAGS) check-TESTS TESTS='$(hosted_tests)' TCL_LOG_COMPILER='$(hosted_tclsh)'
.PHONY: check-hosted
