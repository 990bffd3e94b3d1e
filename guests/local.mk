# guests: build rules for this folder (included by the top Makefile.am).
#
# Guest kernels are freestanding: per-target CFLAGS replace AM_CFLAGS (hosted flags, sanitizers)
# with FREESTANDING_CFLAGS; AM_CPPFLAGS (the include paths) still applies. LIBS is empty, so
# nothing hosted is linked in.
#
noinst_LIBRARIES += guests/lib/libnbguest.a

# -fno-tree-loop-distribute-patterns: gcc must not turn memset's own loop into a call to memset.
GUESTS_CC_FLAGS = $(FREESTANDING_CFLAGS) -fno-tree-loop-distribute-patterns
GUESTS_LINK_FLAGS = $(FREESTANDING_LDFLAGS) -Wl,-T,$(top_srcdir)/guests/lib/kernel64.ld
GUESTS_LINKER_SCRIPT = guests/lib/kernel64.ld
GUESTS_LIB = guests/lib/libnbguest.a

# The part of the lib that also runs in 32-bit Multiboot kernels.
GUESTS_LIB_COMMON = \
	guests/lib/console.c \
	guests/lib/exit.c \
	guests/lib/format.c \
	guests/lib/options.c \
	guests/lib/string.c

guests_lib_libnbguest_a_SOURCES = \
	$(GUESTS_LIB_COMMON) \
	guests/lib/bootinfo.c \
	guests/lib/hypercall.c \
	guests/lib/trace.c \
	guests/lib/start64.S \
	guests/lib/io.h \
	guests/lib/nbguest.h \
	guests/lib/nbkernel.h
guests_lib_libnbguest_a_CFLAGS = $(GUESTS_CC_FLAGS)
# automake's default ARFLAGS (cru) makes binutils warn that 'u' is ignored.
guests_lib_libnbguest_a_AR = $(AR) cr
guests_lib_libnbguest_a_CCASFLAGS = $(GUESTS_CC_FLAGS)

noinst_PROGRAMS += guests/hello/hello.elf
guests_hello_hello_elf_SOURCES = guests/hello/hello.c
guests_hello_hello_elf_CFLAGS = $(GUESTS_CC_FLAGS)
guests_hello_hello_elf_LDFLAGS = $(GUESTS_LINK_FLAGS)
guests_hello_hello_elf_LDADD = $(GUESTS_LIB)
guests_hello_hello_elf_DEPENDENCIES = $(GUESTS_LIB) $(GUESTS_LINKER_SCRIPT)

noinst_PROGRAMS += guests/misbehave/misbehave.elf
guests_misbehave_misbehave_elf_SOURCES = guests/misbehave/misbehave.c
guests_misbehave_misbehave_elf_CFLAGS = $(GUESTS_CC_FLAGS)
guests_misbehave_misbehave_elf_LDFLAGS = $(GUESTS_LINK_FLAGS)
guests_misbehave_misbehave_elf_LDADD = $(GUESTS_LIB)
guests_misbehave_misbehave_elf_DEPENDENCIES = $(GUESTS_LIB) $(GUESTS_LINKER_SCRIPT)

# Multiboot kernels are 32-bit: the common lib sources are compiled again for them. gcc rejects
# -mcmodel in 32-bit mode, so it is filtered out of the freestanding flags (GNU make). Linking
# needs no 32-bit libc or libgcc: -nostdlib, and the code avoids 64-bit division.
GUESTS_MB_CC_FLAGS = $(filter-out -mcmodel=%,$(GUESTS_CC_FLAGS)) -m32
GUESTS_MB_LINK_FLAGS = $(FREESTANDING_LDFLAGS) -m32 -Wl,-m,elf_i386 \
	-Wl,-T,$(top_srcdir)/guests/mbhello/multiboot.ld
GUESTS_MB_FILES = \
	$(GUESTS_LIB_COMMON) \
	guests/mbhello/mbentry.S \
	guests/mbhello/mbhello.c \
	guests/mbhello/multiboot.h

noinst_PROGRAMS += guests/mbhello/mbhello.elf
guests_mbhello_mbhello_elf_SOURCES = $(GUESTS_MB_FILES)
guests_mbhello_mbhello_elf_CFLAGS = $(GUESTS_MB_CC_FLAGS)
guests_mbhello_mbhello_elf_CCASFLAGS = $(GUESTS_MB_CC_FLAGS)
guests_mbhello_mbhello_elf_LDFLAGS = $(GUESTS_MB_LINK_FLAGS)
guests_mbhello_mbhello_elf_DEPENDENCIES = guests/mbhello/multiboot.ld

# The a.out-kludge variant, shipped as a flat binary so a loader cannot take the ELF path.
noinst_PROGRAMS += guests/mbhello/mbkludge.elf
guests_mbhello_mbkludge_elf_SOURCES = $(GUESTS_MB_FILES)
guests_mbhello_mbkludge_elf_CPPFLAGS = $(AM_CPPFLAGS) -DNB_MB_KLUDGE
guests_mbhello_mbkludge_elf_CFLAGS = $(GUESTS_MB_CC_FLAGS)
guests_mbhello_mbkludge_elf_CCASFLAGS = $(GUESTS_MB_CC_FLAGS)
guests_mbhello_mbkludge_elf_LDFLAGS = $(GUESTS_MB_LINK_FLAGS)
guests_mbhello_mbkludge_elf_DEPENDENCIES = guests/mbhello/multiboot.ld

GUESTS_OBJCOPY = objcopy
noinst_DATA += guests/mbhello/mbkludge.bin
CLEANFILES += guests/mbhello/mbkludge.bin
guests/mbhello/mbkludge.bin: guests/mbhello/mbkludge.elf
	$(AM_V_GEN)$(GUESTS_OBJCOPY) -O binary $< $@

EXTRA_DIST += guests/lib/kernel64.ld guests/mbhello/multiboot.ld

# Kernels with their own descriptor tables, page tables and ring-3 processes (ptest, sysarch,
# hostile) share these lib parts; kernels that do not call them link none of it.
guests_lib_libnbguest_a_SOURCES += \
	guests/lib/check.c \
	guests/lib/check.h \
	guests/lib/cpu.c \
	guests/lib/paging.c \
	guests/lib/paging.h \
	guests/lib/trap.c \
	guests/lib/trap.h \
	guests/lib/traps.S \
	guests/lib/x86.h guests/lib/x86_desc.h

# user.ld gathers .user.text/.user.rodata into pages the kernel maps for ring 3. It augments
# kernel64.ld (INSERT AFTER .text), so ld must read it first.
GUESTS_USER_LINK_FLAGS = $(FREESTANDING_LDFLAGS) -Wl,-T,$(top_srcdir)/guests/lib/user.ld \
	-Wl,-T,$(top_srcdir)/guests/lib/kernel64.ld
GUESTS_USER_LD_DEPS = $(GUESTS_LINKER_SCRIPT) guests/lib/user.ld
# No jump tables: a switch in ring-3 code would read a table from kernel-only .rodata.
GUESTS_USER_CC_FLAGS = $(GUESTS_CC_FLAGS) -fno-jump-tables

noinst_PROGRAMS += guests/ptest/ptest.elf
guests_ptest_ptest_elf_SOURCES = \
	guests/ptest/abi.h \
	guests/ptest/kernel_checks.c \
	guests/ptest/kprobes.S \
	guests/ptest/process.c \
	guests/ptest/ptest.c \
	guests/ptest/ptest.h \
	guests/ptest/results.c \
	guests/ptest/syscall.c \
	guests/ptest/traps.c \
	guests/ptest/user.c \
	guests/ptest/user_trouble.S
guests_ptest_ptest_elf_CFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_ptest_ptest_elf_CCASFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_ptest_ptest_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_ptest_ptest_elf_LDADD = $(GUESTS_LIB)
guests_ptest_ptest_elf_DEPENDENCIES = $(GUESTS_LIB) $(GUESTS_USER_LD_DEPS)

EXTRA_DIST += guests/lib/user.ld

noinst_PROGRAMS += guests/sysarch/sysarch.elf
guests_sysarch_sysarch_elf_SOURCES = \
	guests/sysarch/lstar.S \
	guests/sysarch/sysarch.c \
	guests/sysarch/sysarch.h \
	guests/sysarch/traps.c \
	guests/sysarch/user.S
guests_sysarch_sysarch_elf_CFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_sysarch_sysarch_elf_CCASFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_sysarch_sysarch_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_sysarch_sysarch_elf_LDADD = $(GUESTS_LIB)
guests_sysarch_sysarch_elf_DEPENDENCIES = $(GUESTS_LIB) $(GUESTS_USER_LD_DEPS)

noinst_PROGRAMS += guests/hostile/hostile.elf
guests_hostile_hostile_elf_SOURCES = \
	guests/hostile/fatal.c \
	guests/hostile/hostile.c \
	guests/hostile/hostile.h \
	guests/hostile/outcome.c \
	guests/hostile/paging_attacks.c \
	guests/hostile/privileged.c
guests_hostile_hostile_elf_CFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_hostile_hostile_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_hostile_hostile_elf_LDADD = $(GUESTS_LIB)
guests_hostile_hostile_elf_DEPENDENCIES = $(GUESTS_LIB) $(GUESTS_USER_LD_DEPS)

nb_images += guests/hello/hello.elf guests/misbehave/misbehave.elf guests/mbhello/mbhello.elf \
	guests/mbhello/mbkludge.bin guests/ptest/ptest.elf guests/sysarch/sysarch.elf guests/hostile/hostile.elf

include $(srcdir)/guests/nanobench/local.mk
include $(srcdir)/guests/fidelity/local.mk
include $(srcdir)/guests/probes/local.mk
include $(srcdir)/guests/svmtest/local.mk
