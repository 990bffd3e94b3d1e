# l0: the host VMM library (libnestbed) and the nestbed program.
noinst_LTLIBRARIES += l0/libnestbed.la
l0_libnestbed_la_SOURCES = l0/error.c l0/config.c l0/kvm.c l0/kvm.h l0/machine.c l0/machine.h \
	l0/console.c l0/ports.c l0/crash_report.c l0/crash_report.h l0/nestbed.h l0/boot_loader.h \
	l0/kvm_tracefs.c l0/kvm_tracefs.h
l0_libnestbed_la_CFLAGS = $(AM_CFLAGS) $(CAPSTONE_CFLAGS) $(SQLITE_CFLAGS) $(TRACEFS_CFLAGS)
l0_libnestbed_la_LIBADD = tracer/libnbtracer.la $(CAPSTONE_LIBS) $(SQLITE_LIBS) $(TRACEFS_LIBS) -lpthread -lrt
include $(srcdir)/l0/loader.mk

bin_PROGRAMS += l0/nestbed
l0_nestbed_SOURCES = l0/main.c l0/cmd_report.c l0/cmd_replay.c
l0_nestbed_CPPFLAGS = $(AM_CPPFLAGS) -DPACKAGE_VERSION='"$(PACKAGE_VERSION)"'
l0_nestbed_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
l0_nestbed_LDADD = l0/libnestbed.la replay/libnbreplay.la
