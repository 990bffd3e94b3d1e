# tests/tcl: build rules (included from tcl/local.mk).
