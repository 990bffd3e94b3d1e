# tests: each suite's fragment is owned by the part it tests.
include $(srcdir)/tests/unit/tracer.mk
include $(srcdir)/tests/unit/loader.mk
include $(srcdir)/tests/unit/shadow.mk
include $(srcdir)/tests/fuzz/local.mk
include $(srcdir)/tests/integration/integration.mk
include $(srcdir)/tests/tcl/tcl.mk
include $(srcdir)/tests/unit/sensitivity.mk
include $(srcdir)/tests/unit/report.mk
