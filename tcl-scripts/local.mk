# tcl-scripts: the Tcl package nestbed (included by the top Makefile.am).
#
# A loadable Tcl module built against the stubs library, so that it loads into any tclsh 8.6,
# with libnestbed linked in (a convenience library: the module needs no other nestbed file).
# Installed into tclpkgdir (configure --with-tcl-package-dir) beside nestbed.tcl and pkgIndex.tcl.
tclpkg_LTLIBRARIES = tcl-scripts/libnestbedtcl.la
tcl_scripts_libnestbedtcl_la_SOURCES = tcl-scripts/nbtcl.h tcl-scripts/nbtcl_init.c \
	tcl-scripts/nbtcl_images.c tcl-scripts/nbtcl_machine.c tcl-scripts/nbtcl_run.c
# Images are looked for in the build tree, then where make install would put them.
tcl_scripts_libnestbedtcl_la_CPPFLAGS = $(AM_CPPFLAGS) $(TCL_INCLUDE_SPEC) -DUSE_TCL_STUBS \
	-DNBTCL_VERSION='"$(PACKAGE_VERSION)"' -DNBTCL_BUILDDIR='"$(abs_top_builddir)"' \
	-DNBTCL_IMAGEDIR='"$(pkglibdir)"'
tcl_scripts_libnestbedtcl_la_LDFLAGS = -module -avoid-version -shared
tcl_scripts_libnestbedtcl_la_LIBADD = l0/libnestbed.la $(TCL_STUB_LIB_SPEC)

dist_tclpkg_DATA = tcl-scripts/nestbed.tcl tcl-scripts/virtualizable.tcl
nodist_tclpkg_DATA = tcl-scripts/pkgIndex.tcl

# The package index is generated so that the build tree is a package directory too:
# TCLLIBPATH=build (or lappend auto_path build/tcl-scripts) finds it.
tcl-scripts/pkgIndex.tcl: $(srcdir)/tcl-scripts/pkgIndex.tcl.in $(srcdir)/tcl-scripts/local.mk
	$(AM_V_GEN)$(MKDIR_P) tcl-scripts && \
	sed -e 's|%VERSION%|$(PACKAGE_VERSION)|g' -e 's|%SRCDIR%|$(abs_top_srcdir)/tcl-scripts|g' \
		$(srcdir)/tcl-scripts/pkgIndex.tcl.in > $@-t && mv $@-t $@
CLEANFILES += tcl-scripts/pkgIndex.tcl tcl-scripts/pkgIndex.tcl-t

EXTRA_DIST += tcl-scripts/pkgIndex.tcl.in tcl-scripts/README.md tcl-scripts/scenarios/common.tcl \
	tcl-scripts/scenarios/quickstart.tcl tcl-scripts/scenarios/tracing-cost.tcl \
	tcl-scripts/scenarios/depths.tcl tcl-scripts/scenarios/shadow-paging.tcl tcl-scripts/scenarios/popek-goldberg.tcl
