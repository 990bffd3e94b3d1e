/*
 * Checking and reading the boot info (include/nestbed/boot.h). The boot info is the parent's
 * memory handed over to us, so it is only read: a bad one is reported, never repaired.
 */
#include "nestbed/ports.h"
#include "guests/lib/nbkernel.h"

/* Is [addr, addr + size) inside [0, limit)? Written so that no sum can wrap. */
static int range_inside(uint64_t addr, uint64_t size, uint64_t limit)
{
	return addr <= limit && size <= limit - addr;
}

int nb_boot_check(const struct nb_boot_info *bi)
{
	uint32_t i;

	if (!bi)
		return NB_BOOT_ENULL;
	if (bi->magic != NB_BOOT_MAGIC)
		return NB_BOOT_EMAGIC;
	if (bi->version != NB_BOOT_VERSION)
		return NB_BOOT_EVERSION;
	/* A larger size is a newer writer of the same version: the fields we know are there. */
	if (bi->size < sizeof(*bi))
		return NB_BOOT_ESIZE;
	if (nb_strnlen(bi->options, NB_BOOT_OPTIONS_LEN) == NB_BOOT_OPTIONS_LEN)
		return NB_BOOT_ESTRING;
	if (bi->module_count > NB_BOOT_MAX_MODULES)
		return NB_BOOT_EMODULE;
	for (i = 0; i < bi->module_count; i++) {
		const struct nb_boot_module *m = &bi->modules[i];

		if (nb_strnlen(m->name, NB_BOOT_NAME_LEN) == NB_BOOT_NAME_LEN ||
		    nb_strnlen(m->args, NB_BOOT_ARGS_LEN) == NB_BOOT_ARGS_LEN)
			return NB_BOOT_ESTRING;
		if (!range_inside(m->addr, m->size, bi->mem_size))
			return NB_BOOT_EMODULE;
	}
	if (bi->free_start > bi->free_end || bi->free_end > bi->mem_size)
		return NB_BOOT_ELAYOUT;
	if (bi->trace_ring_addr && !range_inside(bi->trace_ring_addr, bi->trace_ring_size, bi->mem_size))
		return NB_BOOT_ERING;
	return NB_BOOT_OK;
}

const char *nb_boot_strerror(int err)
{
	switch (err) {
	case NB_BOOT_OK: return "ok";
	case NB_BOOT_ENULL: return "no boot info pointer";
	case NB_BOOT_EMAGIC: return "bad magic";
	case NB_BOOT_EVERSION: return "unsupported version";
	case NB_BOOT_ESIZE: return "boot info smaller than this kernel's";
	case NB_BOOT_ESTRING: return "string field without NUL";
	case NB_BOOT_EMODULE: return "bad module table";
	case NB_BOOT_ELAYOUT: return "free range outside RAM";
	case NB_BOOT_ERING: return "trace ring outside RAM";
	default: return "unknown error";
	}
}

const struct nb_boot_module *nb_boot_module(const struct nb_boot_info *bi, const char *name)
{
	uint32_t i;

	for (i = 0; i < bi->module_count && i < NB_BOOT_MAX_MODULES; i++)
		if (nb_strncmp(bi->modules[i].name, name, NB_BOOT_NAME_LEN) == 0)
			return &bi->modules[i];
	return NULL;
}

int nb_guest_init(struct nb_boot_info *bi)
{
	int err = nb_boot_check(bi);

	if (err)
		return err;
	nb_console_set_port(bi->console_port);
	nb_hc_set_port(bi->hypercall_port);
	nb_debug_exit_set_port(bi->exit_port);
	nb_trace_init(bi);
	return 0;
}
