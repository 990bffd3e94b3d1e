# l0: the host VMM library (libnestbed) and the nestbed program.
noinst_LTLIBRARIES += l0/libnestbed.la
l0_libnestbed_la_SOURCES =
l0_libnestbed_la_CFLAGS = $(AM_CFLAGS) $(CAPSTONE_CFLAGS) $(SQLITE_CFLAGS)
l0_libnestbed_la_LIBADD = tracer/libnbtracer.la $(CAPSTONE_LIBS) $(SQLITE_LIBS) -lpthread
include $(srcdir)/l0/loader.mk
