# db: the trace store's schema, embedded into the tracer library as a C string at build time so
# that the program and the SQL can never disagree about which schema a database gets.
# Each line of db/schema.sql becomes one string literal (backslashes and quotes escaped), and
# after it the rows of the Popek-Goldberg classification, which db/gen_sensitivity_sql prints
# from the C table in shadow/sensitivity.c (their one source).
noinst_PROGRAMS += db/gen_sensitivity_sql
db_gen_sensitivity_sql_SOURCES = db/gen_sensitivity_sql.c
db_gen_sensitivity_sql_LDADD = shadow/libnbshadow.la

db/sensitivity_rows.sql: db/gen_sensitivity_sql$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) db && ./db/gen_sensitivity_sql$(EXEEXT) > $@-t && mv $@-t $@

db/schema_sql.c: $(top_srcdir)/db/schema.sql db/sensitivity_rows.sql $(top_srcdir)/db/local.mk
	$(AM_V_GEN)$(MKDIR_P) db && { \
	  echo '/* Generated from db/schema.sql by db/local.mk: edit the SQL, not this file. */'; \
	  echo '#include "db/schema.h"'; \
	  echo 'const char nb_store_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $(top_srcdir)/db/schema.sql \
	    db/sensitivity_rows.sql; \
	  echo ';'; \
	} > $@-t && mv $@-t $@
BUILT_SOURCES += db/schema_sql.c
CLEANFILES += db/schema_sql.c db/schema_sql.c-t db/sensitivity_rows.sql db/sensitivity_rows.sql-t
EXTRA_DIST += db/schema.sql db/README.md
