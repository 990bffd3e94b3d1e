# tests/unit: the replay engine and the what-if simulation (replay/), on hand-built traces.
check_PROGRAMS += tests/unit/test_replay
TESTS += tests/unit/test_replay

tests_unit_test_replay_SOURCES = tests/unit/test_replay.c
tests_unit_test_replay_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_replay_LDADD = replay/libnbreplay.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_whatif
TESTS += tests/unit/test_whatif

tests_unit_test_whatif_SOURCES = tests/unit/test_whatif.c
tests_unit_test_whatif_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_whatif_LDADD = replay/libnbreplay.la $(CMOCKA_LIBS)
