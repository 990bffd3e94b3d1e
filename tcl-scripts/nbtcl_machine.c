/*
 * Machine objects: `nestbed::machine create ?name? -image PATH ...` describes a machine tree (the
 * L1 image, and through -guests the guests L1 runs, each possibly a hypervisor with guests of its
 * own); the object command it returns has configure, cget, run and destroy, as Tk widgets and
 * sqlite3 connections do.
 *
 * A node with -guests is a hypervisor, at any level: it runs nbvmm, whose contract fixes the rest
 * of the tree (l1-vmm/main.c): its first module is the guest's image with the guest's options as
 * arguments, its other modules are handed to the guest, and its options say the guest's memory
 * and trace ring. So a hypervisor node may leave -image out (or give the word nbvmm) for the
 * built nbvmm, takes no -modules of its own, and its guest's options, memory and ring must fit
 * what a module and nbvmm's options can carry; all modules of a chain travel from L0 down, so
 * the deeper a guest, the fewer modules of its own it may have. nbtcl_run.c maps the tree onto
 * the machine L0 runs.
 *
 * Options are kept as the Tcl_Obj the script gave (cget returns them unchanged) and checked
 * when they are set, so that a typo fails at the line that made it rather than at run time:
 * the images must exist, sizes must parse, the tree must be well formed. What only this build
 * (how deep a tree and how many guests per hypervisor it runs) or libnestbed (memory limits, the
 * image's format) can judge is reported by the run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tcl-scripts/nbtcl.h"

enum machine_opt { OPT_IMAGE, OPT_MEMORY, OPT_OPTIONS, OPT_MODULES, OPT_GUESTS, OPT_RINGSIZE, OPT_KVM, OPT_COUNT };

static const char *const machine_opt_names[] = {"-image", "-memory", "-options", "-modules", "-guests",
						 "-ringsize", "-kvm", NULL};
static const char *const machine_opt_defaults[] = {"", "64M", "", "", "", "1M", "/dev/kvm"};

/* A guest in -guests takes the options that describe an image, not the host-side ones; its
 * -memory and -ringsize become its hypervisor's mem= and ring= options. */
enum guest_opt { GOPT_IMAGE, GOPT_MEMORY, GOPT_OPTIONS, GOPT_MODULES, GOPT_GUESTS, GOPT_RINGSIZE };
static const char *const guest_opt_names[] = {"-image", "-memory", "-options", "-modules", "-guests",
					       "-ringsize", NULL};

struct nbtcl_machine {
	Tcl_Interp *interp;
	Tcl_Command token;
	Tcl_Obj *opt[OPT_COUNT];
	uint64_t mem_bytes;
	uint64_t ring_bytes;
	int depth;
	int running;
};

TCL_DECLARE_MUTEX(name_mutex)
static unsigned long machine_counter;

/* "64M", "1G", "4096", "64MiB": the sizes the nestbed program accepts. */
static int check_size(Tcl_Interp *interp, const char *opt, Tcl_Obj *value, uint64_t *out)
{
	if (nb_size_parse(Tcl_GetString(value), out) < 0)
		return nbtcl_error(interp, NB_E_USAGE, "%s '%s': not a size (e.g. 64M, 1G)", opt, Tcl_GetString(value));
	return TCL_OK;
}

/* An image or module must be a readable regular file; what is inside is for the loader to judge. */
static int check_file(Tcl_Interp *interp, const char *what, Tcl_Obj *path)
{
	Tcl_StatBuf *st = Tcl_AllocStatBuf();
	const char *why = NULL;

	if (!Tcl_GetString(path)[0])
		why = "empty path";
	else if (Tcl_FSStat(path, st) != 0)
		why = Tcl_ErrnoMsg(Tcl_GetErrno());
	else if (!S_ISREG(Tcl_GetModeFromStat(st)))
		why = "not a regular file";
	else if (Tcl_FSAccess(path, R_OK) != 0)
		why = Tcl_ErrnoMsg(Tcl_GetErrno());
	Tcl_Free((char *)st);
	if (why)
		return nbtcl_error(interp, NB_E_IMAGE, "%s '%s': %s", what, Tcl_GetString(path), why);
	return TCL_OK;
}

/* -modules {{name path ?args?} ...} of a node at `level`: the limits are those of struct
 * nb_module_spec, and L0 loads at most NB_MAX_MODULES modules into L1, of which the images of
 * levels 2 to `level` take one each (each nbvmm runs its first module and hands on the others). */
static int check_modules(Tcl_Interp *interp, Tcl_Obj *modules, int level)
{
	struct nb_module_spec spec;
	Tcl_Obj **mv, **fv;
	int mc, fc, i, max = NB_MAX_MODULES - (level - 1);
	char what[64];

	if (Tcl_ListObjGetElements(NULL, modules, &mc, &mv) != TCL_OK)
		return nbtcl_error(interp, NB_E_USAGE, "-modules '%s': not a list of {name path ?args?}",
				   Tcl_GetString(modules));
	if (mc > max && level == 2)
		return nbtcl_error(interp, NB_E_USAGE, "-modules: %d modules, at most %d (the hypervisor keeps one for the guest's image)",
				   mc, max);
	if (mc > max)
		return nbtcl_error(interp, NB_E_USAGE,
				   "-modules: %d modules, at most %d (the hypervisors above keep %d for the images of levels 2 to %d)",
				   mc, max, level - 1, level);
	for (i = 0; i < mc; i++) {
		if (Tcl_ListObjGetElements(NULL, mv[i], &fc, &fv) != TCL_OK || fc < 2 || fc > 3)
			return nbtcl_error(interp, NB_E_USAGE, "-modules: '%s' is not {name path ?args?}",
					   Tcl_GetString(mv[i]));
		if (!Tcl_GetString(fv[0])[0] || strlen(Tcl_GetString(fv[0])) >= sizeof(spec.name))
			return nbtcl_error(interp, NB_E_USAGE, "-modules: name '%s' must have 1 to %zu characters",
					   Tcl_GetString(fv[0]), sizeof(spec.name) - 1);
		if (strlen(Tcl_GetString(fv[1])) >= sizeof(spec.path))
			return nbtcl_error(interp, NB_E_USAGE, "-modules: path of '%s' is too long", Tcl_GetString(fv[0]));
		if (fc == 3 && strlen(Tcl_GetString(fv[2])) >= sizeof(spec.args))
			return nbtcl_error(interp, NB_E_USAGE, "-modules: arguments of '%s' longer than %zu characters",
					   Tcl_GetString(fv[0]), sizeof(spec.args) - 1);
		snprintf(what, sizeof(what), "module '%.40s'", Tcl_GetString(fv[0]));
		if (check_file(interp, what, fv[1]) != TCL_OK)
			return TCL_ERROR;
	}
	return TCL_OK;
}

/* The number of guests in a -guests value (checked to be a list where it was set). */
static int guest_count(Tcl_Obj *guests)
{
	int n;

	return Tcl_ListObjLength(NULL, guests, &n) == TCL_OK ? n : 0;
}

/* A node's -image: a file, or the word nbvmm, or nothing on a hypervisor node (one with guests). */
static int check_image(Tcl_Interp *interp, const char *what, Tcl_Obj *image, int has_guests)
{
	if (!Tcl_GetString(image)[0] && has_guests)
		return TCL_OK;
	if (!Tcl_GetString(image)[0])
		return nbtcl_error(interp, NB_E_USAGE, "%s: no image given (-image PATH)", what);
	if (nbtcl_image_is_vmm_name(image))
		return TCL_OK;
	return check_file(interp, "guest image", image);
}

/* nbvmm runs its guest from its first module: a hypervisor node has no modules of its own. */
static int check_vmm_modules(Tcl_Interp *interp, const char *what, Tcl_Obj *modules, int has_guests)
{
	if (has_guests && guest_count(modules) > 0)
		return nbtcl_error(interp, NB_E_USAGE,
				   "%s: a hypervisor (a node with -guests) takes no -modules of its own: give them to its guest",
				   what);
	return TCL_OK;
}

/* A guest's -memory and -ringsize become nbvmm's mem=MIB and ring=KIB: whole MiB and KiB. */
static int check_guest_size(Tcl_Interp *interp, int level, const char *opt, Tcl_Obj *value, uint64_t unit,
			    const char *unit_name)
{
	char what[64];
	uint64_t size;

	snprintf(what, sizeof(what), "-guests: level-%d guest: %s", level, opt);
	if (check_size(interp, what, value, &size) != TCL_OK)
		return TCL_ERROR;
	if (size == 0 || size % unit)
		return nbtcl_error(interp, NB_E_USAGE, "%s '%s': its hypervisor gives it a whole, non-zero number of %s",
				   what, Tcl_GetString(value), unit_name);
	return TCL_OK;
}

static int check_guests(Tcl_Interp *interp, Tcl_Obj *guests, int level, int *depth);

/* One guest of -guests: {?-image PATH? ?-memory SIZE? ?-options STR? ?-modules LIST? ?-ringsize SIZE?
 * ?-guests LIST?}. */
static int check_guest(Tcl_Interp *interp, Tcl_Obj *guest, int level, int *depth)
{
	struct nb_module_spec spec;
	Tcl_Obj **v, *image = NULL, *modules = NULL;
	int n, i, idx, has_guests = 0;
	char what[64];

	if (Tcl_ListObjGetElements(NULL, guest, &n, &v) != TCL_OK || n % 2)
		return nbtcl_error(interp, NB_E_USAGE, "-guests: level-%d guest '%s' is not a list of -option value pairs",
				   level, Tcl_GetString(guest));
	for (i = 0; i < n; i += 2) {
		if (Tcl_GetIndexFromObj(interp, v[i], guest_opt_names, "guest option", 0, &idx) != TCL_OK)
			return nbtcl_error(interp, NB_E_USAGE, "-guests: level-%d guest: %s", level,
					   Tcl_GetString(Tcl_GetObjResult(interp)));
		switch ((enum guest_opt)idx) {
		case GOPT_IMAGE:
			image = v[i + 1];
			break;
		case GOPT_MEMORY:
			if (check_guest_size(interp, level, "-memory", v[i + 1], 1ull << 20, "MiB") != TCL_OK)
				return TCL_ERROR;
			break;
		case GOPT_RINGSIZE:
			if (check_guest_size(interp, level, "-ringsize", v[i + 1], 1ull << 10, "KiB") != TCL_OK)
				return TCL_ERROR;
			break;
		case GOPT_OPTIONS:
			/* The hypervisor passes them as the arguments of the guest image's module. */
			if (strlen(Tcl_GetString(v[i + 1])) >= sizeof(spec.args))
				return nbtcl_error(interp, NB_E_USAGE, "-guests: level-%d guest: -options longer than %zu characters",
						   level, sizeof(spec.args) - 1);
			break;
		case GOPT_MODULES:
			modules = v[i + 1];
			if (check_modules(interp, modules, level) != TCL_OK)
				return TCL_ERROR;
			break;
		case GOPT_GUESTS:
			if (check_guests(interp, v[i + 1], level + 1, depth) != TCL_OK)
				return TCL_ERROR;
			has_guests = guest_count(v[i + 1]) > 0;
			break;
		}
	}
	snprintf(what, sizeof(what), "-guests: level-%d guest", level);
	if (modules && check_vmm_modules(interp, what, modules, has_guests) != TCL_OK)
		return TCL_ERROR;
	if (!image && !has_guests)
		return nbtcl_error(interp, NB_E_USAGE, "-guests: level-%d guest '%s' has no -image", level,
				   Tcl_GetString(guest));
	return image ? check_image(interp, what, image, has_guests) : TCL_OK;
}

/* Guests at `level`; *depth becomes the deepest level seen. */
static int check_guests(Tcl_Interp *interp, Tcl_Obj *guests, int level, int *depth)
{
	Tcl_Obj **v;
	int n, i;

	if (Tcl_ListObjGetElements(NULL, guests, &n, &v) != TCL_OK)
		return nbtcl_error(interp, NB_E_USAGE, "-guests '%s': not a list of guests", Tcl_GetString(guests));
	if (n > 0 && level > NBTCL_DEPTH_LIMIT)
		return nbtcl_error(interp, NB_E_DEPTH, "-guests: a guest at level %d: nestbed stacks at most %d levels",
				   level, NBTCL_DEPTH_LIMIT);
	if (n > 0 && level > *depth)
		*depth = level;
	for (i = 0; i < n; i++)
		if (check_guest(interp, v[i], level, depth) != TCL_OK)
			return TCL_ERROR;
	return TCL_OK;
}

/*
 * Sets options from -name value pairs: every value is checked before any is applied, so a
 * failed configure leaves the machine as it was. `what` names the command in messages.
 */
static int machine_configure(Tcl_Interp *interp, struct nbtcl_machine *m, const char *what, int objc,
			     Tcl_Obj *const objv[])
{
	Tcl_Obj *val[OPT_COUNT] = {0};
	uint64_t mem = m->mem_bytes, ring = m->ring_bytes;
	int depth = m->depth, i, idx, has_guests, tree_changed;

	if (m->running)
		return nbtcl_error(interp, NB_E_USAGE, "machine %s is running: its options cannot change until the run ends",
				   Tcl_GetCommandName(interp, m->token));
	for (i = 0; i < objc; i += 2) {
		if (Tcl_GetIndexFromObj(interp, objv[i], machine_opt_names, "option", 0, &idx) != TCL_OK)
			return nbtcl_error(interp, NB_E_USAGE, "%s", Tcl_GetString(Tcl_GetObjResult(interp)));
		if (i + 1 >= objc)
			return nbtcl_error(interp, NB_E_USAGE, "option %s needs a value", machine_opt_names[idx]);
		val[idx] = objv[i + 1];
	}
	if (val[OPT_MEMORY] && check_size(interp, "-memory", val[OPT_MEMORY], &mem) != TCL_OK)
		return TCL_ERROR;
	if (val[OPT_RINGSIZE] && check_size(interp, "-ringsize", val[OPT_RINGSIZE], &ring) != TCL_OK)
		return TCL_ERROR;
	if (val[OPT_MODULES] && check_modules(interp, val[OPT_MODULES], 1) != TCL_OK)
		return TCL_ERROR;
	if (val[OPT_GUESTS]) {
		depth = 1;
		if (check_guests(interp, val[OPT_GUESTS], 2, &depth) != TCL_OK)
			return TCL_ERROR;
	}
	if (val[OPT_KVM] && !Tcl_GetString(val[OPT_KVM])[0])
		return nbtcl_error(interp, NB_E_USAGE, "-kvm: empty path (the default is /dev/kvm)");
	/* What depends on several options is checked on the machine as it will be; the image file only
	 * when it or the tree is set (a run reports an image that has gone since). */
	tree_changed = val[OPT_IMAGE] || val[OPT_GUESTS] || !m->token;
	for (i = 0; i < OPT_COUNT; i++)
		if (!val[i])
			val[i] = m->opt[i];
	has_guests = guest_count(val[OPT_GUESTS]) > 0;
	if (tree_changed && check_image(interp, what, val[OPT_IMAGE], has_guests) != TCL_OK)
		return TCL_ERROR;
	if (check_vmm_modules(interp, what, val[OPT_MODULES], has_guests) != TCL_OK)
		return TCL_ERROR;
	for (i = 0; i < OPT_COUNT; i++) {
		Tcl_IncrRefCount(val[i]);
		Tcl_DecrRefCount(m->opt[i]);
		m->opt[i] = val[i];
	}
	m->mem_bytes = mem;
	m->ring_bytes = ring;
	m->depth = depth;
	return TCL_OK;
}

static int machine_cget(Tcl_Interp *interp, struct nbtcl_machine *m, Tcl_Obj *name)
{
	int idx;

	if (Tcl_GetIndexFromObj(interp, name, machine_opt_names, "option", 0, &idx) != TCL_OK)
		return nbtcl_error(interp, NB_E_USAGE, "%s", Tcl_GetString(Tcl_GetObjResult(interp)));
	Tcl_SetObjResult(interp, m->opt[idx]);
	return TCL_OK;
}

/* configure with no arguments: every option and its value, as a dict. */
static int machine_options(Tcl_Interp *interp, struct nbtcl_machine *m)
{
	Tcl_Obj *d = Tcl_NewDictObj();
	int i;

	for (i = 0; i < OPT_COUNT; i++)
		Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(machine_opt_names[i], -1), m->opt[i]);
	Tcl_SetObjResult(interp, d);
	return TCL_OK;
}

void nbtcl_machine_view(struct nbtcl_machine *m, struct nbtcl_machine_view *v)
{
	v->name = Tcl_NewObj();
	Tcl_GetCommandFullName(m->interp, m->token, v->name);
	v->image = m->opt[OPT_IMAGE];
	v->memory = m->opt[OPT_MEMORY];
	v->options = m->opt[OPT_OPTIONS];
	v->modules = m->opt[OPT_MODULES];
	v->guests = m->opt[OPT_GUESTS];
	v->kvm = m->opt[OPT_KVM];
	v->mem_bytes = m->mem_bytes;
	v->ring_bytes = m->ring_bytes;
	v->depth = m->depth;
}

void nbtcl_machine_set_running(struct nbtcl_machine *m, int running)
{
	m->running = running;
}

static int machine_object_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
	static const char *const subcommands[] = {"cget", "configure", "destroy", "run", NULL};
	enum { SUB_CGET, SUB_CONFIGURE, SUB_DESTROY, SUB_RUN };
	struct nbtcl_machine *m = cd;
	int idx;

	if (objc < 2)
		return nbtcl_wrong_num_args(interp, 1, objv, "subcommand ?arg ...?");
	if (Tcl_GetIndexFromObj(interp, objv[1], subcommands, "subcommand", 0, &idx) != TCL_OK)
		return nbtcl_error(interp, NB_E_USAGE, "%s", Tcl_GetString(Tcl_GetObjResult(interp)));
	switch (idx) {
	case SUB_CGET:
		if (objc != 3)
			return nbtcl_wrong_num_args(interp, 2, objv, "option");
		return machine_cget(interp, m, objv[2]);
	case SUB_CONFIGURE:
		if (objc == 2)
			return machine_options(interp, m);
		if (objc == 3)
			return machine_cget(interp, m, objv[2]);
		return machine_configure(interp, m, Tcl_GetString(objv[0]), objc - 2, objv + 2);
	case SUB_DESTROY:
		if (objc != 2)
			return nbtcl_wrong_num_args(interp, 2, objv, NULL);
		Tcl_DeleteCommandFromToken(interp, m->token);
		return TCL_OK;
	default:
		return nbtcl_machine_run(interp, m, objc - 2, objv + 2);
	}
}

static void machine_free(char *cd)
{
	struct nbtcl_machine *m = (struct nbtcl_machine *)cd;
	int i;

	for (i = 0; i < OPT_COUNT; i++)
		Tcl_DecrRefCount(m->opt[i]);
	Tcl_Free(cd);
}

/* The command is gone (destroy, rename to "", interp deleted); a run in progress keeps the
 * machine alive (Tcl_Preserve) until it returns. */
static void machine_deleted(ClientData cd)
{
	Tcl_EventuallyFree(cd, machine_free);
}

/* nestbed::machine create ?name? ?-image PATH? ?option value ...? (-image or -guests) */
int nbtcl_machine_create_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
	struct nbtcl_machine *m;
	Tcl_Obj *name;
	int i, first = 1;

	(void)cd;
	if (objc >= 2 && Tcl_GetString(objv[1])[0] != '-') {
		name = objv[1];
		first = 2;
	} else {
		Tcl_MutexLock(&name_mutex);
		name = Tcl_ObjPrintf("::nestbed::machine%lu", ++machine_counter);
		Tcl_MutexUnlock(&name_mutex);
	}
	Tcl_IncrRefCount(name);
	m = (struct nbtcl_machine *)Tcl_Alloc(sizeof(*m));
	memset(m, 0, sizeof(*m));
	m->interp = interp;
	m->depth = 1;
	for (i = 0; i < OPT_COUNT; i++) {
		m->opt[i] = Tcl_NewStringObj(machine_opt_defaults[i], -1);
		Tcl_IncrRefCount(m->opt[i]);
	}
	nb_size_parse(machine_opt_defaults[OPT_MEMORY], &m->mem_bytes);
	nb_size_parse(machine_opt_defaults[OPT_RINGSIZE], &m->ring_bytes);
	if (machine_configure(interp, m, "machine create", objc - first, objv + first) != TCL_OK) {
		machine_free((char *)m);
		Tcl_DecrRefCount(name);
		return TCL_ERROR;
	}
	m->token = Tcl_CreateObjCommand(interp, Tcl_GetString(name), machine_object_cmd, m, machine_deleted);
	Tcl_DecrRefCount(name);
	name = Tcl_NewObj();
	Tcl_GetCommandFullName(interp, m->token, name);
	Tcl_SetObjResult(interp, name);
	return TCL_OK;
}
