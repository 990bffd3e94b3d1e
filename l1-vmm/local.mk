# l1-vmm: nbvmm, the guest hypervisor, a freestanding image on the nestbed boot protocol.
#
# It is a static PIE (see nbvmm.ld) and links its own copies of the portable parts it shares
# with the host and the guests: shadow/ (walker, shadow tables, decoder), the trace-ring
# reader, the boot loader of l0/ (so every level boots the next the same way) and the guest
# library (console, formatting, hypercalls). l1-vmm/libc supplies the few <string.h> and
# <stdio.h> names the host-side code uses.
noinst_PROGRAMS += l1-vmm/nbvmm.elf
NBVMM_CFLAGS = $(filter-out -mcmodel=small -fno-pic -fno-pie,$(FREESTANDING_CFLAGS)) -fpie \
	-fvisibility=hidden -fno-tree-loop-distribute-patterns -I$(top_srcdir)/l1-vmm/libc
l1_vmm_nbvmm_elf_CPPFLAGS = -I$(top_srcdir)/l1-vmm/libc $(AM_CPPFLAGS)
l1_vmm_nbvmm_elf_CFLAGS = $(NBVMM_CFLAGS)
l1_vmm_nbvmm_elf_CCASFLAGS = $(NBVMM_CFLAGS)
l1_vmm_nbvmm_elf_LDFLAGS = $(filter-out -static -no-pie,$(FREESTANDING_LDFLAGS)) -static-pie \
	-Wl,-T,$(top_srcdir)/l1-vmm/nbvmm.ld
l1_vmm_nbvmm_elf_DEPENDENCIES = l1-vmm/nbvmm.ld
l1_vmm_nbvmm_elf_SOURCES = \
	l1-vmm/boot.S l1-vmm/entry.S l1-vmm/main.c l1-vmm/cpu.c l1-vmm/cpu.h l1-vmm/vmrun.c \
	l1-vmm/vcpu.h l1-vmm/frame.h l1-vmm/layout.h l1-vmm/exits.c l1-vmm/exits.h l1-vmm/emulate.c \
	l1-vmm/deliver.c l1-vmm/deliver.h l1-vmm/io.c l1-vmm/guest_mem.c l1-vmm/guest_mem.h \
	l1-vmm/page_alloc.c l1-vmm/page_alloc.h l1-vmm/trace.c l1-vmm/trace.h l1-vmm/lapic.c l1-vmm/lapic.h l1-vmm/vlapic.c l1-vmm/vlapic.h l1-vmm/audit.c l1-vmm/audit.h \
	l1-vmm/nested_svm.c l1-vmm/nested_svm.h l1-vmm/svm_engine.c l1-vmm/svm_engine.h \
	l1-vmm/libc/string.h l1-vmm/libc/stdio.h \
	shadow/gpt_walk.c shadow/spt.c shadow/insn_decode.c shadow/sensitivity.c shadow/svm_nested.c \
	tracer/ring_reader.c tracer/names.c \
	l0/error.c l0/boot_loader.c l0/boot_cpu_state.c l0/boot_info.c l0/elf_loader.c l0/multiboot_loader.c \
	$(GUESTS_LIB_COMMON) guests/lib/bootinfo.c guests/lib/hypercall.c guests/lib/trace.c
EXTRA_DIST += l1-vmm/nbvmm.ld
nb_images += l1-vmm/nbvmm.elf
