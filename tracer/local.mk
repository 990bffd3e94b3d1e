# tracer: the ring reader, the SQLite store and capstone annotation, as a libtool convenience
# library linked into libnestbed (and so into the nestbed program and the Tcl extension).
noinst_LTLIBRARIES += tracer/libnbtracer.la
tracer_libnbtracer_la_SOURCES =
tracer_libnbtracer_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CAPSTONE_CFLAGS)
tracer_libnbtracer_la_LIBADD = $(SQLITE_LIBS) $(CAPSTONE_LIBS)
