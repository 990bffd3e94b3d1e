/* The text of db/schema.sql, embedded at build time (db/local.mk generates db/schema_sql.c). */
#ifndef NESTBED_DB_SCHEMA_H
#define NESTBED_DB_SCHEMA_H

extern const char nb_store_schema_sql[];

#endif
