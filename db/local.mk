# db: the trace store's schema, embedded into the tracer library as a C string at build time so
# that the program and the SQL can never disagree about which schema a database gets.
# Each line of db/schema.sql becomes one string literal (backslashes and quotes escaped).
db/schema_sql.c: $(top_srcdir)/db/schema.sql $(top_srcdir)/db/local.mk
	$(AM_V_GEN)$(MKDIR_P) db && { \
	  echo '/* Generated from db/schema.sql by db/local.mk: edit the SQL, not this file. */'; \
	  echo '#include "db/schema.h"'; \
	  echo 'const char nb_store_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $(top_srcdir)/db/schema.sql; \
	  echo ';'; \
	} > $@-t && mv $@-t $@
BUILT_SOURCES += db/schema_sql.c
CLEANFILES += db/schema_sql.c db/schema_sql.c-t
EXTRA_DIST += db/schema.sql db/README.md
