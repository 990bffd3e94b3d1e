/*
 * The devices nbvmm offers its guest, the same ones L0 offers nbvmm (include/nestbed/ports.h):
 * a 16550 whose output goes to L0 a line at a time with the guest's level, the debug-exit port,
 * the hypercall port, and harmless answers elsewhere. A nested hypervisor's hypercalls carry
 * addresses in its memory: they are translated into nbvmm's before being passed up.
 */
#include "guests/lib/nbkernel.h"
#include "l1-vmm/exits.h"
#include "l1-vmm/guest_mem.h"
#include "l1-vmm/page_alloc.h"
#include "l1-vmm/trace.h"
#include "nestbed/hypercall.h"
#include "nestbed/ports.h"

static char line[NB_HC_CONSOLE_MAX];
static unsigned line_len;
static uint8_t uart_regs[8];

static void console_flush(struct vcpu *v)
{
	if (line_len == 0)
		return;
	nb_hc3(NB_HC_CONSOLE, virt_to_phys(line), line_len, v->level | (uint64_t)v->vm_id << 16);
	line_len = 0;
}

static void console_putc(struct vcpu *v, uint8_t c)
{
	if (c == '\r')
		return;
	if (c == '\n') {
		if (line_len == 0)
			line[line_len++] = ' ';
		console_flush(v);
		return;
	}
	if (line_len == sizeof(line))
		console_flush(v);
	line[line_len++] = (char)c;
}

static void guest_stop(struct vcpu *v, int status)
{
	console_flush(v);
	v->stopped = true;
	v->exit_status = status & 0xff;
}

/* The guest-physical range [gpa, gpa + len) as an address in nbvmm's own physical memory. */
static uint64_t translate_arg(struct vcpu *v, uint64_t gpa, uint64_t len)
{
	return guest_phys_ptr(v, gpa, len) ? v->mem_hpa + gpa : 0;
}

static int64_t hypercall(struct vcpu *v, uint32_t nr)
{
	struct nbvmm_frame *f = v->frame;
	uint64_t addr;

	switch (nr) {
	case NB_HC_TRACE_FLUSH:
		trace_child_drain(v);
		return NB_HC_OK;
	case NB_HC_EXIT:
		guest_stop(v, (int)f->rdi);
		return NB_HC_OK;
	case NB_HC_VM_ADD:
		addr = translate_arg(v, f->rcx, NB_HC_NAME_MAX);
		return addr ? nb_hc3(NB_HC_VM_ADD, f->rdi, f->rsi, addr) : NB_HC_EINVAL;
	case NB_HC_CONSOLE:
		console_flush(v);
		addr = f->rsi <= NB_HC_CONSOLE_MAX ? translate_arg(v, f->rdi, f->rsi) : 0;
		return addr ? nb_hc3(NB_HC_CONSOLE, addr, f->rsi, f->rcx) : NB_HC_EINVAL;
	case NB_HC_RECORDS_LOST:
		return nb_hc(NB_HC_RECORDS_LOST, f->rdi, f->rsi);
	default:
		return NB_HC_ENOSYS;
	}
}

uint32_t io_in(struct vcpu *v, uint16_t port, unsigned size)
{
	(void)v;
	(void)size;
	if (port >= NB_PORT_COM1 && port < NB_PORT_COM1 + 8) {
		switch (port - NB_PORT_COM1) {
		case 2:
			return 0x01;
		case NB_UART_LSR:
			return NB_UART_LSR_THRE | NB_UART_LSR_TEMT;
		case 6:
			return 0xb0;
		default:
			return uart_regs[port - NB_PORT_COM1];
		}
	}
	/* PIC masks read all-masked; nothing else decodes, so the bus floats high. */
	return 0xffffffffu;
}

void io_out(struct vcpu *v, uint16_t port, unsigned size, uint32_t value)
{
	if (port >= NB_PORT_COM1 && port < NB_PORT_COM1 + 8) {
		if (port == NB_PORT_COM1 + NB_UART_THR && !(uart_regs[3] & 0x80))
			console_putc(v, (uint8_t)value);
		else
			uart_regs[port - NB_PORT_COM1] = (uint8_t)value;
	} else if (port == NB_PORT_DEBUG_EXIT) {
		guest_stop(v, (int)((value << 1) | 1));
	} else if (port == NB_PORT_HYPERCALL && size == 4) {
		v->vmcb.save.rax = (uint64_t)hypercall(v, value);
	}
}
