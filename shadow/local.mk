# shadow: the portable core (VMCB layout, guest page walker, shadow page tables, instruction
# decoder). The same sources are built twice: hosted, into this convenience library for the unit
# tests and the replayer; and freestanding, by l1-vmm/local.mk into nbvmm. They call no library
# function and use no globals, so neither build needs anything else.
shadow_sources = shadow/gpt_walk.c shadow/spt.c shadow/insn_decode.c shadow/sensitivity.c \
	shadow/svm_nested.c
shadow_headers = shadow/shadow_ops.h shadow/gpt_walk.h shadow/spt.h shadow/insn_decode.h \
	shadow/vmcb.h shadow/svm_exit.h shadow/svm_exit_codes.def shadow/sensitivity.h \
	shadow/svm_nested.h

noinst_LTLIBRARIES += shadow/libnbshadow.la
shadow_libnbshadow_la_SOURCES = $(shadow_sources) $(shadow_headers)
shadow_libnbshadow_la_CFLAGS = $(AM_CFLAGS)
