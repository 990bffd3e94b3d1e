# tests/unit: the Popek-Goldberg classification (shadow/sensitivity.c) against capstone and our
# decoder, and the verdict SQL of db/schema.sql on hand-built databases (cmocka, TAP).
check_PROGRAMS += tests/unit/test_sensitivity tests/unit/test_sensitivity_sql
TESTS += tests/unit/test_sensitivity tests/unit/test_sensitivity_sql

tests_unit_test_sensitivity_SOURCES = tests/unit/test_sensitivity.c
tests_unit_test_sensitivity_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CAPSTONE_CFLAGS)
tests_unit_test_sensitivity_LDADD = shadow/libnbshadow.la $(CAPSTONE_LIBS) $(CMOCKA_LIBS)

# The schema text (with the classification's rows) comes from the tracer library.
tests_unit_test_sensitivity_sql_SOURCES = tests/unit/test_sensitivity_sql.c
tests_unit_test_sensitivity_sql_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_sensitivity_sql_LDADD = tracer/libnbtracer.la $(SQLITE_LIBS) $(CMOCKA_LIBS)
