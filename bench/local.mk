# bench: benchmarks. Built by make, never run by make check (they take time and measure the
# machine); each prints a table and writes bench/results/<name>.json under the current directory.
noinst_PROGRAMS += bench/ingest
bench_ingest_SOURCES = bench/ingest.c l0/error.c
bench_ingest_CFLAGS = $(AM_CFLAGS)
bench_ingest_LDADD = tracer/libnbtracer.la
