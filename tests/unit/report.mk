# tests/unit: the HTML report (cmocka, TAP through CMOCKA_MESSAGE_OUTPUT): its SVG charts, and the
# report of small traces the test builds with the store, so nothing here needs /dev/kvm.
# nb_error_set comes from l0/error.c itself, as in tracer.mk.
check_PROGRAMS += tests/unit/test_report
TESTS += tests/unit/test_report

tests_unit_test_report_SOURCES = tests/unit/test_report.c l0/error.c
tests_unit_test_report_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_report_LDADD = tracer/libnbtracer.la $(SQLITE_LIBS) $(CMOCKA_LIBS)
