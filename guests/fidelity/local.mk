# guests/fidelity: build rules (included from guests/local.mk).
#
# Fidelity kernels: each checks one area of the machine against the architecture and prints
# PASS/FAIL/SKIP lines (guests/lib/check.h), so that tests/integration/fidelity.sh can require
# the same lines at depth 1 and at depth 2. The 64-bit ones are on the nestbed boot protocol and
# link user.ld (some run ring-3 code); the mb-* ones are Multiboot kernels entered in 32-bit
# protected mode, with mbhello's entry stub and link map.
FIDELITY_64_FILES = \
	guests/fidelity/fid64.c \
	guests/fidelity/fid64.h \
	guests/fidelity/fidcheck.c \
	guests/fidelity/fidcheck.h \
	guests/fidelity/fid_asm.h
FIDELITY_64_CC_FLAGS = $(GUESTS_USER_CC_FLAGS)
FIDELITY_64_DEPS = $(GUESTS_LIB) $(GUESTS_USER_LD_DEPS)

noinst_PROGRAMS += guests/fidelity/exceptions.elf
guests_fidelity_exceptions_elf_SOURCES = $(FIDELITY_64_FILES) \
	guests/fidelity/exceptions.c \
	guests/fidelity/exceptions.h \
	guests/fidelity/exceptions_asm.S
guests_fidelity_exceptions_elf_CFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_exceptions_elf_CCASFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_exceptions_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_fidelity_exceptions_elf_LDADD = $(GUESTS_LIB)
guests_fidelity_exceptions_elf_DEPENDENCIES = $(FIDELITY_64_DEPS)

noinst_PROGRAMS += guests/fidelity/paging.elf
guests_fidelity_paging_elf_SOURCES = $(FIDELITY_64_FILES) \
	guests/fidelity/paging.c \
	guests/fidelity/paging_user.S
guests_fidelity_paging_elf_CFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_paging_elf_CCASFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_paging_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_fidelity_paging_elf_LDADD = $(GUESTS_LIB)
guests_fidelity_paging_elf_DEPENDENCIES = $(FIDELITY_64_DEPS)

noinst_PROGRAMS += guests/fidelity/cpuid-msr.elf
guests_fidelity_cpuid_msr_elf_SOURCES = $(FIDELITY_64_FILES) \
	guests/fidelity/cpuid_msr.c \
	guests/fidelity/cpuid_msr_user.S
guests_fidelity_cpuid_msr_elf_CFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_cpuid_msr_elf_CCASFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_cpuid_msr_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_fidelity_cpuid_msr_elf_LDADD = $(GUESTS_LIB)
guests_fidelity_cpuid_msr_elf_DEPENDENCIES = $(FIDELITY_64_DEPS)

noinst_PROGRAMS += guests/fidelity/fpu.elf
guests_fidelity_fpu_elf_SOURCES = $(FIDELITY_64_FILES) \
	guests/fidelity/fpu.c \
	guests/fidelity/fpu.h \
	guests/fidelity/fpu_user.S
guests_fidelity_fpu_elf_CFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_fpu_elf_CCASFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_fpu_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_fidelity_fpu_elf_LDADD = $(GUESTS_LIB)
guests_fidelity_fpu_elf_DEPENDENCIES = $(FIDELITY_64_DEPS)

noinst_PROGRAMS += guests/fidelity/apic-timer.elf
guests_fidelity_apic_timer_elf_SOURCES = $(FIDELITY_64_FILES) \
	guests/fidelity/apic_shadow.S \
	guests/fidelity/apic_timer.c \
	guests/fidelity/apic_timer.h
guests_fidelity_apic_timer_elf_CFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_apic_timer_elf_CCASFLAGS = $(FIDELITY_64_CC_FLAGS)
guests_fidelity_apic_timer_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_fidelity_apic_timer_elf_LDADD = $(GUESTS_LIB)
guests_fidelity_apic_timer_elf_DEPENDENCIES = $(FIDELITY_64_DEPS)

# The 32-bit Multiboot kernels: the common lib and check.c compiled again with -m32.
FIDELITY_MB_FILES = \
	$(GUESTS_LIB_COMMON) \
	guests/lib/check.c \
	guests/lib/check.h \
	guests/mbhello/mbentry.S \
	guests/mbhello/multiboot.h \
	guests/fidelity/fidcheck.c \
	guests/fidelity/fidcheck.h \
	guests/fidelity/fid_asm.h \
	guests/fidelity/mb32.c \
	guests/fidelity/mb32.h \
	guests/fidelity/mb32_entry.S

noinst_PROGRAMS += guests/fidelity/mb-exceptions.elf
guests_fidelity_mb_exceptions_elf_SOURCES = $(FIDELITY_MB_FILES) \
	guests/fidelity/mb_exceptions.c \
	guests/fidelity/mb_exceptions.h \
	guests/fidelity/mb_exceptions_asm.S
guests_fidelity_mb_exceptions_elf_CFLAGS = $(GUESTS_MB_CC_FLAGS)
guests_fidelity_mb_exceptions_elf_CCASFLAGS = $(GUESTS_MB_CC_FLAGS)
guests_fidelity_mb_exceptions_elf_LDFLAGS = $(GUESTS_MB_LINK_FLAGS)
guests_fidelity_mb_exceptions_elf_DEPENDENCIES = guests/mbhello/multiboot.ld

noinst_PROGRAMS += guests/fidelity/mb-modes.elf
guests_fidelity_mb_modes_elf_SOURCES = $(FIDELITY_MB_FILES) \
	guests/fidelity/mb_modes.c \
	guests/fidelity/mb_modes.h \
	guests/fidelity/mb_modes_asm.S
guests_fidelity_mb_modes_elf_CFLAGS = $(GUESTS_MB_CC_FLAGS)
guests_fidelity_mb_modes_elf_CCASFLAGS = $(GUESTS_MB_CC_FLAGS)
guests_fidelity_mb_modes_elf_LDFLAGS = $(GUESTS_MB_LINK_FLAGS)
guests_fidelity_mb_modes_elf_DEPENDENCIES = guests/mbhello/multiboot.ld

nb_images += guests/fidelity/exceptions.elf guests/fidelity/paging.elf \
	guests/fidelity/cpuid-msr.elf guests/fidelity/fpu.elf guests/fidelity/apic-timer.elf \
	guests/fidelity/mb-exceptions.elf guests/fidelity/mb-modes.elf
