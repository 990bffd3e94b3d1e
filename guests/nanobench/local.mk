# guests/nanobench: build rules (included from guests/local.mk).
#
# nanobench.elf, the kernel bench/depth runs at each depth: its own descriptor and page tables
# and a ring-3 program, as ptest has, so it links the same way.
noinst_PROGRAMS += guests/nanobench/nanobench.elf
guests_nanobench_nanobench_elf_SOURCES = \
	guests/nanobench/kops.c \
	guests/nanobench/nanobench.c \
	guests/nanobench/nanobench.h \
	guests/nanobench/traps.c \
	guests/nanobench/user.c
guests_nanobench_nanobench_elf_CFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_nanobench_nanobench_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_nanobench_nanobench_elf_LDADD = $(GUESTS_LIB)
guests_nanobench_nanobench_elf_DEPENDENCIES = $(GUESTS_LIB) $(GUESTS_USER_LD_DEPS)

nb_images += guests/nanobench/nanobench.elf
