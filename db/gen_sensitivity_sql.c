/*
 * Prints the Popek-Goldberg classification of shadow/sensitivity.c as SQL (nb_sens_sql), for
 * db/local.mk to append to the embedded schema: the C table stays the one source of the rows
 * of insn_classes, insn_capstone, host_features and insn_traps.
 */
#include <stdio.h>
#include <stdlib.h>

#include "shadow/sensitivity.h"

int main(void)
{
	size_t n = nb_sens_sql(NULL, 0);
	char *sql = malloc(n + 1);

	if (!sql) {
		fprintf(stderr, "gen_sensitivity_sql: out of memory\n");
		return 1;
	}
	nb_sens_sql(sql, n + 1);
	if (fputs(sql, stdout) == EOF || fflush(stdout) == EOF) {
		perror("gen_sensitivity_sql");
		free(sql);
		return 1;
	}
	free(sql);
	return 0;
}
