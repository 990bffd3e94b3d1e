# guests/probes: build rules (included from guests/local.mk).
#
# The Popek-Goldberg probes: one 64-bit kernel on the nestbed boot protocol that executes each
# sensitive instruction in kernel and user mode and reports its observations on the console and
# in the trace (see probes.c). It shares the fidelity kernels' start-up and ring-3 runs (fid64.c)
# and shadow/sensitivity.c's classification (names, ids, feature names).
noinst_PROGRAMS += guests/probes/probes.elf
guests_probes_probes_elf_SOURCES = \
	guests/fidelity/fid64.c \
	guests/fidelity/fid64.h \
	guests/probes/probes.c \
	guests/probes/probes_stubs.S \
	shadow/sensitivity.c \
	shadow/sensitivity.h
guests_probes_probes_elf_CFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_probes_probes_elf_CCASFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_probes_probes_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_probes_probes_elf_LDADD = $(GUESTS_LIB)
guests_probes_probes_elf_DEPENDENCIES = $(GUESTS_LIB) $(GUESTS_USER_LD_DEPS)

nb_images += guests/probes/probes.elf
