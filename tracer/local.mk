# tracer: the ring reader, the SQLite store and capstone annotation, as a libtool convenience
# library linked into libnestbed (and so into the nestbed program and the Tcl extension).
noinst_LTLIBRARIES += tracer/libnbtracer.la
tracer_libnbtracer_la_SOURCES = \
	tracer/trace_format.h tracer/ring_writer.h \
	tracer/ring_reader.c tracer/ring_reader.h \
	tracer/names.c tracer/names.h \
	tracer/annotate.c tracer/annotate.h \
	tracer/insn_cache.c tracer/insn_cache.h \
	tracer/store.c tracer/store.h \
	tracer/report.c tracer/report.h tracer/report_internal.h tracer/report_run.c \
	tracer/report_charts.c tracer/report_svg.c tracer/report_svg.h \
	db/schema.h
# The schema text, generated from db/schema.sql by db/local.mk.
nodist_tracer_libnbtracer_la_SOURCES = db/schema_sql.c
tracer_libnbtracer_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CAPSTONE_CFLAGS)
tracer_libnbtracer_la_LIBADD = $(SQLITE_LIBS) $(CAPSTONE_LIBS)
