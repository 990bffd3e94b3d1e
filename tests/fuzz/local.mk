# tests/fuzz: fuzz harnesses (libFuzzer's LLVMFuzzerTestOneInput, see tests/fuzz/fuzz.h) for the
# code that reads what a guest or a user controls. Each is built twice:
#   - tests/fuzz/replay_H: the project's compiler and flags (and sanitizers with
#     --enable-sanitizers) with a standalone driver that replays the committed corpus
#     tests/fuzz/corpus/H, everywhere;
#   - tests/fuzz/fuzz_H: clang with libFuzzer, ASan and UBSan, when configure found them
#     (HAVE_LIBFUZZER); the code under test is compiled with it, so that coverage guides the
#     fuzzer. tests/fuzz/fuzz.sh runs each for a few seconds in make check; tools/fuzz runs them
#     longer.
fuzz_harnesses = insn_decode gpt_walk spt svm_nested boot_loader boot_info ring_reader tcl_args

fuzz_common = tests/fuzz/fuzz.h tests/fuzz/standalone.c
fuzz_replay_cflags = $(AM_CFLAGS)
check_PROGRAMS += tests/fuzz/replay_insn_decode tests/fuzz/replay_gpt_walk tests/fuzz/replay_spt \
	tests/fuzz/replay_svm_nested tests/fuzz/replay_boot_loader tests/fuzz/replay_boot_info \
	tests/fuzz/replay_ring_reader tests/fuzz/replay_tcl_args tests/fuzz/seeds
TESTS += tests/fuzz/fuzz.sh
EXTRA_DIST += tests/fuzz/fuzz.sh tests/fuzz/corpus

tests_fuzz_replay_insn_decode_SOURCES = tests/fuzz/insn_decode.c $(fuzz_common)
tests_fuzz_replay_insn_decode_CFLAGS = $(fuzz_replay_cflags)
tests_fuzz_replay_insn_decode_LDADD = shadow/libnbshadow.la

tests_fuzz_replay_gpt_walk_SOURCES = tests/fuzz/gpt_walk.c $(fuzz_common)
tests_fuzz_replay_gpt_walk_CFLAGS = $(fuzz_replay_cflags)
tests_fuzz_replay_gpt_walk_LDADD = shadow/libnbshadow.la

# The property tests' machine and engine, driven by the fuzzer's bytes.
tests_fuzz_replay_spt_SOURCES = tests/fuzz/spt.c tests/unit/spt_sim.c tests/unit/spt_sim.h $(fuzz_common)
tests_fuzz_replay_spt_CFLAGS = $(fuzz_replay_cflags)
tests_fuzz_replay_spt_LDADD = shadow/libnbshadow.la

tests_fuzz_replay_svm_nested_SOURCES = tests/fuzz/svm_nested.c $(fuzz_common)
tests_fuzz_replay_svm_nested_CFLAGS = $(fuzz_replay_cflags)
tests_fuzz_replay_svm_nested_LDADD = shadow/libnbshadow.la

# The guest library's boot-info check (also nbvmm's), hosted, judges what the loader wrote.
fuzz_guest_lib = tests/fuzz/guest_lib_hosted.c guests/lib/bootinfo.c
tests_fuzz_replay_boot_loader_SOURCES = tests/fuzz/boot_loader.c $(fuzz_guest_lib) $(fuzz_common)
tests_fuzz_replay_boot_loader_CFLAGS = $(fuzz_replay_cflags)
tests_fuzz_replay_boot_loader_LDADD = l0/libnestbed.la

tests_fuzz_replay_boot_info_SOURCES = tests/fuzz/boot_info.c $(fuzz_guest_lib) guests/lib/options.c \
	$(fuzz_common)
tests_fuzz_replay_boot_info_CFLAGS = $(fuzz_replay_cflags)

tests_fuzz_replay_ring_reader_SOURCES = tests/fuzz/ring_reader.c l0/error.c $(fuzz_common)
tests_fuzz_replay_ring_reader_CFLAGS = $(fuzz_replay_cflags) $(CAPSTONE_CFLAGS)
tests_fuzz_replay_ring_reader_LDADD = tracer/libnbtracer.la $(CAPSTONE_LIBS)

# The extension's sources linked straight into the program, against libtcl rather than its stubs:
# the harness creates its own interpreters.
fuzz_tcl_sources = tcl-scripts/nbtcl_init.c tcl-scripts/nbtcl_images.c tcl-scripts/nbtcl_machine.c \
	tcl-scripts/nbtcl_run.c
fuzz_tcl_cppflags = $(TCL_INCLUDE_SPEC) -DNBTCL_VERSION='"$(PACKAGE_VERSION)"' \
	-DNBTCL_BUILDDIR='"$(abs_top_builddir)"' -DNBTCL_IMAGEDIR='"$(pkglibdir)"'
tests_fuzz_replay_tcl_args_SOURCES = tests/fuzz/tcl_args.c $(fuzz_tcl_sources) $(fuzz_common)
tests_fuzz_replay_tcl_args_CPPFLAGS = $(AM_CPPFLAGS) $(fuzz_tcl_cppflags)
tests_fuzz_replay_tcl_args_CFLAGS = $(fuzz_replay_cflags)
tests_fuzz_replay_tcl_args_LDADD = l0/libnestbed.la $(TCL_LIB_SPEC)

# Writes the seed corpus (tools/fuzz --seeds); fuzz.sh checks the committed one holds it.
tests_fuzz_seeds_SOURCES = tests/fuzz/seeds.c
tests_fuzz_seeds_CFLAGS = $(AM_CFLAGS)

if HAVE_LIBFUZZER
fuzz_programs = $(fuzz_harnesses:%=tests/fuzz/fuzz_%)
check_DATA += $(fuzz_programs)
CLEANFILES += $(fuzz_programs)
fuzz_headers = tests/fuzz/fuzz.h $(shadow_headers) tracer/trace_format.h include/nestbed/boot.h
FUZZ_COMPILE = $(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN_CFLAGS) -std=gnu11 $(DEFS) $(AM_CPPFLAGS) $(CPPFLAGS)
# Every C prerequisite is compiled and linked in one step.
fuzz_link = $(AM_V_CCLD)$(MKDIR_P) tests/fuzz && $(FUZZ_COMPILE) -o $@ $(filter %.c,$^)
fuzz_l0_loader = l0/boot_loader.c l0/boot_cpu_state.c l0/boot_info.c l0/elf_loader.c \
	l0/multiboot_loader.c l0/error.c

tests/fuzz/fuzz_insn_decode: tests/fuzz/insn_decode.c shadow/insn_decode.c $(fuzz_headers)
	$(fuzz_link)
tests/fuzz/fuzz_gpt_walk: tests/fuzz/gpt_walk.c shadow/gpt_walk.c shadow/svm_nested.c $(fuzz_headers)
	$(fuzz_link)
tests/fuzz/fuzz_spt: tests/fuzz/spt.c tests/unit/spt_sim.c shadow/spt.c shadow/gpt_walk.c \
		tests/unit/spt_sim.h $(fuzz_headers)
	$(fuzz_link)
tests/fuzz/fuzz_svm_nested: tests/fuzz/svm_nested.c shadow/svm_nested.c shadow/gpt_walk.c $(fuzz_headers)
	$(fuzz_link)
tests/fuzz/fuzz_boot_loader: tests/fuzz/boot_loader.c $(fuzz_guest_lib) $(fuzz_l0_loader) \
		l0/boot_internal.h l0/boot_loader.h $(fuzz_headers)
	$(fuzz_link)
tests/fuzz/fuzz_boot_info: tests/fuzz/boot_info.c $(fuzz_guest_lib) guests/lib/options.c $(fuzz_headers)
	$(fuzz_link)
tests/fuzz/fuzz_ring_reader: tests/fuzz/ring_reader.c tracer/ring_reader.c tracer/names.c \
		tracer/annotate.c tracer/insn_cache.c l0/error.c tracer/ring_writer.h $(fuzz_headers)
	$(fuzz_link) $(CAPSTONE_CFLAGS) $(CAPSTONE_LIBS)
# libnestbed itself (KVM, the store) is linked as built: only the extension's parsing is fuzzed.
tests/fuzz/fuzz_tcl_args: tests/fuzz/tcl_args.c $(fuzz_tcl_sources) tcl-scripts/nbtcl.h \
		l0/libnestbed.la $(fuzz_headers)
	$(AM_V_CCLD)$(MKDIR_P) tests/fuzz && $(LIBTOOL) $(AM_V_lt) --tag=CC --mode=link $(FUZZ_COMPILE) \
		$(fuzz_tcl_cppflags) -o $@ $(filter %.c,$^) l0/libnestbed.la $(TCL_LIB_SPEC)
endif
