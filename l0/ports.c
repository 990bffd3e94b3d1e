/*
 * The port-I/O devices L0 offers its guest: a 16550-style UART (output only), QEMU's
 * isa-debug-exit, the nestbed hypercall port and harmless answers for ports nobody serves.
 * The legacy PIC and PIT are emulated inside KVM (in-kernel irqchip), so they never get here.
 */
#include <stdio.h>
#include <string.h>

#include "nestbed/hypercall.h"
#include "nestbed/ports.h"
#include "l0/machine.h"
#include "shadow/svm_exit.h"

static uint32_t data_value(const uint8_t *data, int size)
{
	uint32_t v = 0;
	memcpy(&v, data, size > 4 ? 4 : size);
	return v;
}

/* Interrupt identification: "no interrupt pending"; line status: transmitter always empty, so a
 * polling guest never waits. */
static uint8_t uart_read(struct nb_machine *m, unsigned reg)
{
	switch (reg) {
	case 2:
		return 0x01;
	case NB_UART_LSR:
		return NB_UART_LSR_THRE | NB_UART_LSR_TEMT;
	case 6:
		return 0xb0; /* modem status: CTS, DSR, DCD */
	default:
		return m->uart[reg];
	}
}

static void uart_write(struct nb_machine *m, unsigned reg, uint8_t v)
{
	int dlab = m->uart[3] & 0x80;

	if (reg == NB_UART_THR && !dlab)
		nb_console_putc(m, v);
	else
		m->uart[reg] = v;
}

/* Guest memory named by a hypercall argument: NULL unless [gpa, gpa + len) is inside RAM. */
static const char *guest_bytes(struct nb_machine *m, uint64_t gpa, uint64_t len)
{
	if (gpa >= m->kvm.mem_size || len > m->kvm.mem_size - gpa)
		return NULL;
	return (const char *)m->kvm.mem + gpa;
}

static int64_t hc_vm_add(struct nb_machine *m, uint64_t ids, uint64_t mem_bytes, uint64_t name_gpa)
{
	const char *name = guest_bytes(m, name_gpa, NB_HC_NAME_MAX);
	char image[NB_HC_NAME_MAX + 1];
	struct nb_error e;
	int level = (ids >> 16) & 0xffff;

	if (!name || level < 2)
		return NB_HC_EINVAL;
	memcpy(image, name, NB_HC_NAME_MAX);
	image[NB_HC_NAME_MAX] = '\0';
	if (level > m->res->levels)
		m->res->levels = level;
	if (m->store && !m->store_failed &&
	    nb_store_vm_add(m->store, (int)(ids & 0xffff), level, (int)((ids >> 32) & 0xffff), image, mem_bytes,
			    "", &e) < 0)
		nb_machine_store_failed(m, &e);
	return NB_HC_OK;
}

static int64_t hc_console(struct nb_machine *m, uint64_t gpa, uint64_t len, uint64_t ids)
{
	const char *text = len <= NB_HC_CONSOLE_MAX ? guest_bytes(m, gpa, len) : NULL;
	char line[NB_HC_CONSOLE_MAX];
	uint64_t i;

	if (!text || (ids & 0xffff) < 2)
		return NB_HC_EINVAL;
	/* As for L1's own console: no control characters reach the terminal or the store. */
	for (i = 0; i < len; i++)
		line[i] = (text[i] >= 0x20 && text[i] < 0x7f) || text[i] == '\t' ? text[i] : '?';
	nb_console_line(m, (int)(ids & 0xffff), (int)((ids >> 16) & 0xffff), line, len);
	return NB_HC_OK;
}

static int64_t hc_records_lost(struct nb_machine *m, uint64_t ids, uint64_t count)
{
	struct nb_error e;

	m->res->records_lost += count;
	if (m->store && !m->store_failed &&
	    nb_store_lost(m->store, (int)(ids & 0xffff), (int)((ids >> 16) & 0xffff), "child-ring", count, &e) < 0)
		nb_machine_store_failed(m, &e);
	return NB_HC_OK;
}

static void hypercall(struct nb_machine *m, struct nb_trace_record *rec)
{
	struct kvm_regs regs;
	int64_t result = NB_HC_OK;

	if (nb_kvm_get_regs(&m->kvm, &regs) < 0)
		return;
	rec->kind = NB_EV_HYPERCALL;
	rec->aux = regs.rax & 0xffffffffu;
	rec->addr = regs.rdi;
	rec->old_val = regs.rsi;
	rec->new_val = regs.rcx;
	switch (rec->aux) {
	case NB_HC_TRACE_FLUSH:
		nb_machine_drain_ring(m);
		break;
	case NB_HC_EXIT:
		m->res->reason = NB_STOP_GUEST_EXIT;
		m->res->guest_exited = 1;
		m->res->exit_status = (int)(regs.rdi & 0xff);
		m->stopping = 1;
		break;
	case NB_HC_VM_ADD:
		result = hc_vm_add(m, regs.rdi, regs.rsi, regs.rcx);
		break;
	case NB_HC_CONSOLE:
		result = hc_console(m, regs.rdi, regs.rsi, regs.rcx);
		break;
	case NB_HC_RECORDS_LOST:
		result = hc_records_lost(m, regs.rdi, regs.rsi);
		break;
	default:
		result = NB_HC_ENOSYS;
		break;
	}
	rec->exit_info2 = (uint64_t)result;
	regs.rax = (uint64_t)result;
	nb_kvm_set_regs(&m->kvm, &regs);
}

void nb_ports_io(struct nb_machine *m, uint16_t port, int out, int size, uint8_t *data, uint32_t count)
{
	struct nb_trace_record rec;
	uint32_t i;

	for (i = 0; i < count; i++, data += size) {
		uint32_t v = out ? data_value(data, size) : 0;

		nb_machine_event_init(m, &rec, NB_EV_IO, SVM_EXIT_IOIO);
		/* EXITINFO1 as SVM would report it: port, size and direction (APM vol. 2, 15.10.2). */
		rec.exit_info1 = ((uint64_t)port << 16) | ((uint64_t)size << 4) | (out ? 0 : 1);
		rec.addr = port;
		rec.aux = (unsigned)size | (out ? NB_IO_DIR_OUT : 0);

		if (port >= NB_PORT_COM1 && port < NB_PORT_COM1 + 8) {
			if (out)
				uart_write(m, port - NB_PORT_COM1, (uint8_t)v);
			else
				v = uart_read(m, port - NB_PORT_COM1);
		} else if (port == NB_PORT_DEBUG_EXIT && out) {
			m->res->reason = NB_STOP_GUEST_EXIT;
			m->res->guest_exited = 1;
			m->res->exit_status = (int)(((v << 1) | 1) & 0xff);
			m->stopping = 1;
		} else if (port == NB_PORT_HYPERCALL && out && size == 4) {
			hypercall(m, &rec);
		} else if (port == NB_PORT_PIC1_DATA || port == NB_PORT_PIC2_DATA) {
			v = out ? v : 0xff; /* all lines masked */
		} else {
			/* Nothing decodes this port: reads float high, as on a real bus. */
			if (!out)
				v = 0xffffffffu;
			if (m->cfg->verbose)
				fprintf(stderr, "nestbed: guest %s unassigned port 0x%x (size %d)\n",
					out ? "wrote" : "read", port, size);
		}
		if (out)
			rec.new_val = v;
		else {
			rec.old_val = v;
			memcpy(data, &v, size);
		}
		nb_machine_record(m, &rec);
	}
}
