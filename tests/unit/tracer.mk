# tests/unit: the trace ring and the trace store (cmocka, TAP through CMOCKA_MESSAGE_OUTPUT).
# nb_error_set comes from l0/error.c itself, compiled into each test, so the tests need nothing
# else from libnestbed.
check_PROGRAMS += tests/unit/test_ring tests/unit/test_store
TESTS += tests/unit/test_ring tests/unit/test_store

tests_unit_test_ring_SOURCES = tests/unit/test_ring.c
tests_unit_test_ring_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_ring_LDADD = tracer/libnbtracer.la $(CMOCKA_LIBS)

tests_unit_test_store_SOURCES = tests/unit/test_store.c l0/error.c
tests_unit_test_store_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_store_LDADD = tracer/libnbtracer.la $(SQLITE_LIBS) $(CMOCKA_LIBS)

# The replayer's tests (replay/ is part of the trace tooling).
include $(srcdir)/tests/unit/replay.mk
