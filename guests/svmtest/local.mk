# guests/svmtest: build rules (included from guests/local.mk).
#
# svmtest: a 64-bit kernel on the nestbed boot protocol that acts as a minimal SVM hypervisor
# (AMD APM vol. 2, ch. 15) and checks, with PASS/FAIL/SKIP lines, what a nested hypervisor
# relies on: intercepts, exit information, event injection, VMEXIT_INVALID, VMLOAD/VMSAVE and
# nested page faults. Without SVM it SKIPs every line. It shares the fidelity kernels' start-up,
# trap handling and ring-3 runs (fid64.c) and their multi-field checks (fidcheck.c); its
# VMCB layout and exit codes are shadow/vmcb.h's.
noinst_PROGRAMS += guests/svmtest/svmtest.elf
guests_svmtest_svmtest_elf_SOURCES = \
	guests/fidelity/fid64.c \
	guests/fidelity/fid64.h \
	guests/fidelity/fidcheck.c \
	guests/fidelity/fidcheck.h \
	guests/fidelity/fid_asm.h \
	guests/svmtest/guest.S \
	guests/svmtest/guest.h \
	guests/svmtest/intercepts.c \
	guests/svmtest/npt.c \
	guests/svmtest/svm.h \
	guests/svmtest/svm_insn.S \
	guests/svmtest/svmtest.c \
	guests/svmtest/svmtest.h \
	guests/svmtest/vm.c \
	shadow/svm_exit.h \
	shadow/svm_exit_codes.def \
	shadow/vmcb.h
guests_svmtest_svmtest_elf_CFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_svmtest_svmtest_elf_CCASFLAGS = $(GUESTS_USER_CC_FLAGS)
guests_svmtest_svmtest_elf_LDFLAGS = $(GUESTS_USER_LINK_FLAGS)
guests_svmtest_svmtest_elf_LDADD = $(GUESTS_LIB)
guests_svmtest_svmtest_elf_DEPENDENCIES = $(GUESTS_LIB) $(GUESTS_USER_LD_DEPS)

nb_images += guests/svmtest/svmtest.elf
