# tests/unit: shadow/ (cmocka, TAP through CMOCKA_MESSAGE_OUTPUT). The property tests take a seed
# from NB_TEST_SEED (printed on every run and in every failure) and a time budget in seconds from
# NB_TEST_BUDGET.
check_PROGRAMS += tests/unit/test_shadow_walk tests/unit/test_shadow_spt tests/unit/test_shadow_vmcb \
	tests/unit/test_shadow_svm_nested
TESTS += tests/unit/test_shadow_walk tests/unit/test_shadow_spt tests/unit/test_shadow_vmcb \
	tests/unit/test_shadow_svm_nested

tests_unit_test_shadow_walk_SOURCES = tests/unit/test_shadow_walk.c tests/unit/sim_mem.h
tests_unit_test_shadow_walk_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_shadow_walk_LDADD = shadow/libnbshadow.la $(CMOCKA_LIBS)

tests_unit_test_shadow_spt_SOURCES = tests/unit/test_shadow_spt.c tests/unit/spt_sim.c \
	tests/unit/spt_sim.h
tests_unit_test_shadow_spt_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_shadow_spt_LDADD = shadow/libnbshadow.la $(CMOCKA_LIBS)

tests_unit_test_shadow_vmcb_SOURCES = tests/unit/test_shadow_vmcb.c
tests_unit_test_shadow_vmcb_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_shadow_vmcb_LDADD = $(CMOCKA_LIBS)

tests_unit_test_shadow_svm_nested_SOURCES = tests/unit/test_shadow_svm_nested.c tests/unit/sim_mem.h
tests_unit_test_shadow_svm_nested_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_shadow_svm_nested_LDADD = shadow/libnbshadow.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_decoder tests/unit/test_decoder_capstone
TESTS += tests/unit/test_decoder tests/unit/test_decoder_capstone

tests_unit_test_decoder_SOURCES = tests/unit/test_decoder.c
tests_unit_test_decoder_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_decoder_LDADD = shadow/libnbshadow.la $(CMOCKA_LIBS)

tests_unit_test_decoder_capstone_SOURCES = tests/unit/test_decoder_capstone.c
tests_unit_test_decoder_capstone_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CAPSTONE_CFLAGS)
tests_unit_test_decoder_capstone_LDADD = shadow/libnbshadow.la $(CAPSTONE_LIBS) $(CMOCKA_LIBS)
