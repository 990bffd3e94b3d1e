# bench: benchmarks. Built by make, never run by make check (they take time and measure the
# machine); each prints a table and writes bench/results/<name>.json under the current directory.
noinst_PROGRAMS += bench/ingest
bench_ingest_SOURCES = bench/ingest.c l0/error.c
bench_ingest_CFLAGS = $(AM_CFLAGS)
bench_ingest_LDADD = tracer/libnbtracer.la

# bench/depth (a Tcl script) runs guests/nanobench at depth 1 and 2 under nestbed and nbvmm;
# bench/recursion runs it at depths 2 to 5 in both recursion styles (not part of bench/run: it
# takes about ten minutes, depth 5 by trap-and-emulate most of it);
# bench/run runs every benchmark in turn. Both are run from the build directory, where they find
# what they need; `make bench` builds that and runs them all.
EXTRA_DIST += bench/README.md bench/depth bench/recursion bench/run

bench: bench/ingest bench/boot l0/nestbed l1-vmm/nbvmm.elf guests/nanobench/nanobench.elf
	$(top_srcdir)/bench/run --build .
.PHONY: bench

# bench/boot: boot-to-first-instruction time through libnestbed.
noinst_PROGRAMS += bench/boot
bench_boot_SOURCES = bench/boot.c
bench_boot_LDADD = l0/libnestbed.la
