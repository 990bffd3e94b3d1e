/*
 * The nestbed boot info (nestbed/boot.h): what a kernel on the nestbed protocol learns about its
 * machine, written at NB_BOOT_INFO_ADDR and passed in RDI.
 */
#include <string.h>

#include "nestbed/ports.h"
#include "l0/boot_internal.h"

_Static_assert(NB_BOOT_INFO_ADDR + sizeof(struct nb_boot_info) <= NB_BOOT_MBI_ADDR,
	       "the boot info fits below the Multiboot area");
_Static_assert(sizeof(struct nb_boot_info) <= UINT16_MAX, "the boot info's size field holds its size");

int nb_boot_info_write(const struct nb_boot_ctx *ctx, struct nb_boot_plan *plan)
{
	const struct nb_boot_request *req = ctx->req;
	size_t options_len = req->options ? strlen(req->options) : 0;
	struct nb_boot_info bi;
	int i;

	if (options_len >= NB_BOOT_OPTIONS_LEN)
		return nb_error_set(ctx->err, NB_E_USAGE,
				    "options for guest image '%s' are %zu characters long, at most %d",
				    ctx->name, options_len, NB_BOOT_OPTIONS_LEN - 1);
	/* Built on the host and copied, so that padding and unused module slots are zero. */
	memset(&bi, 0, sizeof(bi));
	bi.magic = NB_BOOT_MAGIC;
	bi.version = NB_BOOT_VERSION;
	bi.size = sizeof(bi);
	bi.mem_size = ctx->mem->size;
	bi.free_start = plan->free_start;
	bi.free_end = plan->free_end;
	bi.level = req->level;
	bi.vm_id = req->vm_id;
	bi.console_port = NB_PORT_COM1;
	bi.hypercall_port = NB_PORT_HYPERCALL;
	bi.exit_port = NB_PORT_DEBUG_EXIT;
	bi.trace_ring_addr = plan->ring_addr;
	bi.trace_ring_size = plan->ring_size;
	memcpy(bi.options, req->options ? req->options : "", options_len);
	bi.module_count = (uint32_t)req->module_count;
	bi.tsc_khz = req->tsc_khz;
	/* Name and argument lengths were checked by nb_boot_prepare; the memset left the NULs. */
	for (i = 0; i < req->module_count; i++) {
		const struct nb_boot_module_data *m = &req->modules[i];

		bi.modules[i].addr = plan->module_addr[i];
		bi.modules[i].size = m->len;
		memcpy(bi.modules[i].name, m->name, strlen(m->name));
		if (m->args)
			memcpy(bi.modules[i].args, m->args, strlen(m->args));
	}
	nb_guest_write(ctx->mem, NB_BOOT_INFO_ADDR, &bi, sizeof(bi));
	plan->rdi = NB_BOOT_INFO_ADDR;
	return 0;
}
