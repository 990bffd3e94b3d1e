/* The guest console: bytes from the UART, assembled into lines for stdout, callbacks and the store. */
#include <stdio.h>
#include <x86intrin.h>

#include "l0/machine.h"

void nb_console_line(struct nb_machine *m, int level, int vm_id, const char *text, size_t len)
{
	const struct nb_machine_config *cfg = m->cfg;
	struct nb_error e;

	if (cfg->console_stdout) {
		printf("[L%d] %.*s\n", level, (int)len, text);
		fflush(stdout);
	}
	if (cfg->console_fn)
		cfg->console_fn(cfg->console_ctx, level, text, len);
	if (m->store && !m->store_failed &&
	    nb_store_console(m->store, __rdtsc() + m->tsc_offset, level, vm_id, text, len, &e) < 0)
		nb_machine_store_failed(m, &e);
	m->res->console_lines++;
}

void nb_console_flush(struct nb_machine *m)
{
	if (m->line_len == 0)
		return;
	m->line[m->line_len] = '\0';
	nb_console_line(m, 1, 1, m->line, m->line_len);
	m->line_len = 0;
}

void nb_console_putc(struct nb_machine *m, uint8_t c)
{
	if (c == '\n') {
		/* An empty line is still a line the guest printed. */
		if (m->line_len == 0)
			m->line[m->line_len++] = ' ';
		nb_console_flush(m);
		return;
	}
	if (c == '\r')
		return;
	if (m->line_len >= sizeof(m->line) - 1)
		nb_console_flush(m);
	/* Keep the terminal and the database free of control characters a guest may emit. */
	m->line[m->line_len++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? (char)c : '?';
}
