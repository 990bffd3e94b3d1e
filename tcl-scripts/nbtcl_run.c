/*
 * `$m run ?-timeout s? ?-db path? ?-tracing bool? ?-console script?`: one run of a machine
 * through nb_machine_run, its outcome as a dict.
 *
 * A machine tree becomes the one machine L0 runs. Depth 1 is the image itself. Deeper, every
 * level but the last is nbvmm, and nbvmm's boot contract (l1-vmm/main.c) carries the rest: it
 * runs its module 0 as its guest, with the module's arguments as the guest's options, and hands
 * its other modules, names and arguments unchanged, to that guest. So L1 is nbvmm with modules
 * [level-2 image, level-3 image, ..., last level's image, the last level's own modules], each
 * image's arguments being that level's options; a hypervisor's options get mem=MIB and ring=KIB
 * from its guest's -memory and -ringsize.
 *
 * What the guest did is data, not an error: a guest that exits with 7, crashes or runs out of
 * time gives a dict (status 7, 126, 124 and the reason). A Tcl error means the run could not
 * take place or its trace could not be kept (-errorcode {NESTBED KVM|IMAGE|DB|USAGE|DEPTH ...}),
 * or the console callback failed, in which case the machine is stopped and the callback's own
 * error is the run's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l1-vmm/layout.h"
#include "nestbed/boot.h"
#include "tcl-scripts/nbtcl.h"

/* libnestbed keeps the running machine in process-wide state (its stop flag): one run at a time,
 * whichever interpreter or thread asks. */
TCL_DECLARE_MUTEX(run_mutex)
static int run_active;

struct run_options {
	double timeout_s;
	Tcl_Obj *db;        /* -db as given, or NULL for no trace store; normalized by the run */
	int tracing;
	Tcl_Obj *console;   /* callback prefix, or NULL */
};

/* The console callback's state, while nb_machine_run calls it on this thread. */
struct console_ctx {
	Tcl_Interp *interp;
	Tcl_Obj *script;
	Tcl_Obj *error_options; /* the callback's error, once it failed: the run's error */
	Tcl_Obj *error_result;
	int stopped;            /* the callback failed or returned break: no more calls */
};

static int parse_run_options(Tcl_Interp *interp, int objc, Tcl_Obj *const objv[], struct run_options *o)
{
	static const char *const names[] = {"-console", "-db", "-timeout", "-tracing", NULL};
	enum { RO_CONSOLE, RO_DB, RO_TIMEOUT, RO_TRACING };
	int i, idx, n;

	for (i = 0; i < objc; i += 2) {
		if (Tcl_GetIndexFromObj(interp, objv[i], names, "option", 0, &idx) != TCL_OK)
			return nbtcl_error(interp, NB_E_USAGE, "run: %s", Tcl_GetString(Tcl_GetObjResult(interp)));
		if (i + 1 >= objc)
			return nbtcl_error(interp, NB_E_USAGE, "run: option %s needs a value", names[idx]);
		switch (idx) {
		case RO_CONSOLE:
			/* A prefix to which level and line are appended: it must be a list. */
			if (Tcl_ListObjLength(NULL, objv[i + 1], &n) != TCL_OK)
				return nbtcl_error(interp, NB_E_USAGE, "run: -console '%s': not a command prefix (a list)",
						   Tcl_GetString(objv[i + 1]));
			o->console = n ? objv[i + 1] : NULL;
			break;
		case RO_DB:
			o->db = Tcl_GetString(objv[i + 1])[0] ? objv[i + 1] : NULL;
			break;
		case RO_TIMEOUT:
			if (Tcl_GetDoubleFromObj(NULL, objv[i + 1], &o->timeout_s) != TCL_OK || o->timeout_s < 0)
				return nbtcl_error(interp, NB_E_USAGE,
						   "run: -timeout '%s': not a number of seconds (0 for none)",
						   Tcl_GetString(objv[i + 1]));
			break;
		case RO_TRACING:
			if (Tcl_GetBooleanFromObj(NULL, objv[i + 1], &o->tracing) != TCL_OK)
				return nbtcl_error(interp, NB_E_USAGE, "run: -tracing '%s': not a boolean",
						   Tcl_GetString(objv[i + 1]));
			break;
		}
	}
	return TCL_OK;
}

/*
 * nb_machine_run calls this on the interpreter's own thread, between two exits of the guest, so
 * the script can run right here. An error stops the machine and is kept for after the run;
 * break stops it too, as break ends a loop.
 */
static void console_line(void *ctxp, int level, const char *line, size_t len)
{
	struct console_ctx *ctx = ctxp;
	Tcl_Obj *cmd;
	int rc;

	if (ctx->stopped)
		return;
	cmd = Tcl_DuplicateObj(ctx->script);
	Tcl_IncrRefCount(cmd);
	Tcl_ListObjAppendElement(NULL, cmd, Tcl_NewIntObj(level));
	Tcl_ListObjAppendElement(NULL, cmd, Tcl_NewStringObj(line, (int)len));
	rc = Tcl_EvalObjEx(ctx->interp, cmd, TCL_EVAL_GLOBAL);
	Tcl_DecrRefCount(cmd);
	if (rc == TCL_ERROR) {
		ctx->error_options = Tcl_GetReturnOptions(ctx->interp, rc);
		Tcl_IncrRefCount(ctx->error_options);
		ctx->error_result = Tcl_GetObjResult(ctx->interp);
		Tcl_IncrRefCount(ctx->error_result);
	}
	if (rc == TCL_ERROR || rc == TCL_BREAK) {
		ctx->stopped = 1;
		nb_machine_stop();
	}
	Tcl_ResetResult(ctx->interp);
}

/* Copies a Tcl string into a fixed field of the config in the system encoding. */
static void copy_external(char *dst, size_t size, Tcl_Obj *s)
{
	Tcl_DString ds;

	Tcl_UtfToExternalDString(NULL, Tcl_GetString(s), -1, &ds);
	snprintf(dst, size, "%s", Tcl_DStringValue(&ds));
	Tcl_DStringFree(&ds);
}

/* Copies the -modules list into cfg->modules from slot `first` on. */
static void fill_modules(struct nb_machine_config *cfg, Tcl_Obj *modules, int first)
{
	Tcl_Obj **mv, **fv;
	int mc, fc, i;

	/* nbtcl_machine.c checked the shape and the sizes when the option was set. */
	Tcl_ListObjGetElements(NULL, modules, &mc, &mv);
	for (i = 0; i < mc && first + i < NB_MAX_MODULES; i++) {
		struct nb_module_spec *spec = &cfg->modules[first + i];

		Tcl_ListObjGetElements(NULL, mv[i], &fc, &fv);
		copy_external(spec->name, sizeof(spec->name), fv[0]);
		copy_external(spec->path, sizeof(spec->path), fv[1]);
		if (fc > 2)
			copy_external(spec->args, sizeof(spec->args), fv[2]);
	}
	cfg->module_count = first + i;
}

/* The value of -name in a guest's list of -option value pairs (the last one given), or NULL. */
static Tcl_Obj *guest_option(Tcl_Obj *guest, const char *name)
{
	Tcl_Obj **v, *found = NULL;
	int n, i;

	if (Tcl_ListObjGetElements(NULL, guest, &n, &v) != TCL_OK)
		return NULL;
	for (i = 0; i + 1 < n; i += 2)
		if (strcmp(Tcl_GetString(v[i]), name) == 0)
			found = v[i + 1];
	return found;
}

/*
 * The value of `key` in a "key=value ..." options string as nbvmm reads it (nb_opt_u64: words
 * split on spaces, the last one wins, decimal or 0x hex): 1 and *value when it is set.
 */
static int option_value(const char *opts, const char *key, uint64_t *value)
{
	size_t klen = strlen(key);
	const char *p = opts;
	int found = 0;

	while (*p) {
		const char *word = p;

		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - word) >= klen && strncmp(word, key, klen) == 0 &&
		    (word + klen == p || word[klen] == '=')) {
			found = 1;
			*value = word + klen == p ? 0 : strtoull(word + klen + 1, NULL, 0);
		}
		while (*p == ' ')
			p++;
	}
	return found;
}

/* Appends the option word key=value to an options string. */
static void append_option(Tcl_Obj *options, const char *key, uint64_t value)
{
	char word[64];

	snprintf(word, sizeof(word), "%s%s=%llu", Tcl_GetCharLength(options) ? " " : "", key,
		 (unsigned long long)value);
	Tcl_AppendToObj(options, word, -1);
}

/* The name nbvmm gives its guest (in its messages and the store's vms table): the image's file
 * name without .elf. */
static void guest_name(char *dst, size_t size, Tcl_Obj *image)
{
	const char *path = Tcl_GetString(image), *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t len = strlen(base);
	Tcl_Obj *name;

	if (len > 4 && strcmp(base + len - 4, ".elf") == 0)
		len -= 4;
	name = Tcl_NewStringObj(base, (int)len);
	Tcl_IncrRefCount(name);
	copy_external(dst, size, name);
	Tcl_DecrRefCount(name);
}

/* What nbvmm does with its memory (l1-vmm/main.c): it keeps SHADOW_RESERVE for shadow page tables
 * when mem= does not say what its guest gets, and gives its guest a ring of 256 KiB when ring=
 * does not say. L0 or the nbvmm above loads an image from 1 MiB up, its modules after it, and
 * puts its ring at the top of its memory (l0/boot_loader.c). */
#define NBVMM_SHADOW_RESERVE (8ull << 20)
#define NBVMM_DEFAULT_RING_KIB 256
#define NBVMM_GUEST_ALIGN (2ull << 20)
/* The least memory a tree's guest gets when the tree does not say: libnestbed's least for L1. */
#define NBTCL_GUEST_MIN_MEM (4ull << 20)

/*
 * A tree as the chain of levels L0 runs: level 1 is the machine, each deeper level the one guest
 * of the level above; all but the last are nbvmm. Levels are numbered from 1 (level[0] unused).
 */
struct chain_level {
	Tcl_Obj *node;        /* the guest's list of -option value pairs; NULL for the machine */
	Tcl_Obj *image;       /* the file it runs (held) */
	Tcl_Obj *options;     /* its options; a hypervisor's with mem= and ring= for its guest (held) */
	uint64_t image_bytes; /* the image's size, and of the modules it carries (the levels below) */
	uint64_t carried_bytes;
	uint64_t mem;         /* its memory: as given, or what nbvmm above gives it by default */
	uint64_t ring;        /* its trace ring (0 without tracing) */
};

struct chain {
	struct chain_level level[NBTCL_DEPTH_LIMIT + 1];
	int depth;
};

static void chain_free(struct chain *c)
{
	int k;

	for (k = 1; k <= c->depth; k++) {
		if (c->level[k].image)
			Tcl_DecrRefCount(c->level[k].image);
		if (c->level[k].options)
			Tcl_DecrRefCount(c->level[k].options);
	}
}

/* An option of level k's node: for the machine its own option (-image, -options, -modules). */
static Tcl_Obj *level_option(const struct nbtcl_machine_view *v, const struct chain_level *l, const char *name)
{
	if (l->node)
		return guest_option(l->node, name);
	if (strcmp(name, "-image") == 0)
		return v->image;
	if (strcmp(name, "-options") == 0)
		return v->options;
	return strcmp(name, "-modules") == 0 ? v->modules : NULL;
}

/* A file's size rounded up to pages, as a loader lays it out; 0 when it cannot be read (the run
 * then reports it). */
static uint64_t file_pages_bytes(Tcl_Obj *path)
{
	Tcl_StatBuf *st = Tcl_AllocStatBuf();
	uint64_t size = 0;

	if (Tcl_FSStat(path, st) == 0)
		size = ((uint64_t)Tcl_GetSizeFromStat(st) + 4095) & ~4095ull;
	Tcl_Free((char *)st);
	return size;
}

/* The levels of the tree, one guest per hypervisor; their images resolved and measured. */
static int chain_walk(Tcl_Interp *interp, const struct nbtcl_machine_view *v, struct chain *c)
{
	Tcl_Obj *guests = v->guests, **gv, *image, *mods, **mv, **fv;
	uint64_t below = 0;
	int gc, mc, fc, k, i;

	memset(c, 0, sizeof(*c));
	c->depth = 1;
	/* nbtcl_machine.c keeps trees within NBTCL_DEPTH_LIMIT levels. */
	while (guests && c->depth < NBTCL_DEPTH_LIMIT && Tcl_ListObjGetElements(NULL, guests, &gc, &gv) == TCL_OK &&
	       gc > 0) {
		if (gc > NBTCL_GUESTS_PER_VMM)
			return nbtcl_error(interp, NB_E_USAGE, "%s: level %d has %d guests, but nbvmm runs %d guest per hypervisor",
					   Tcl_GetString(v->name), c->depth, gc, NBTCL_GUESTS_PER_VMM);
		c->level[++c->depth].node = gv[0];
		guests = guest_option(gv[0], "-guests");
	}
	for (k = 1; k <= c->depth; k++) {
		/* A hypervisor may leave -image out; nbtcl_machine.c made sure the last level has one. */
		image = level_option(v, &c->level[k], "-image");
		image = image ? nbtcl_image_resolve(interp, image) : nbtcl_image_find(interp, NBTCL_VMM_NAME);
		if (!image)
			return TCL_ERROR;
		Tcl_IncrRefCount(image);
		c->level[k].image = image;
		c->level[k].image_bytes = file_pages_bytes(image);
	}
	if ((mods = level_option(v, &c->level[c->depth], "-modules")) &&
	    Tcl_ListObjGetElements(NULL, mods, &mc, &mv) == TCL_OK)
		for (i = 0; i < mc; i++)
			if (Tcl_ListObjGetElements(NULL, mv[i], &fc, &fv) == TCL_OK && fc >= 2)
				below += file_pages_bytes(fv[1]);
	for (k = c->depth; k >= 1; k--) {
		c->level[k].carried_bytes = below;
		below += c->level[k].image_bytes;
	}
	return TCL_OK;
}

/* What nbvmm at level k gives its guest when mem= does not say: the memory it has below its
 * ring (and below the 2 GiB it maps), less its image, the modules it carries and its reserve for
 * shadow page tables, rounded down to 2 MiB as boot_guest in l1-vmm/main.c does. */
static uint64_t vmm_default_guest_mem(const struct chain_level *l)
{
	uint64_t top = l->mem > l->ring ? l->mem - l->ring : 0;
	uint64_t used = NB_BOOT_KERNEL_MIN + l->image_bytes + l->carried_bytes, free;

	if (top > NBVMM_MAX_PHYS)
		top = NBVMM_MAX_PHYS;
	free = top > used ? top - used : 0;
	return free > 2 * NBVMM_SHADOW_RESERVE ? (free - NBVMM_SHADOW_RESERVE) & ~(NBVMM_GUEST_ALIGN - 1) : 0;
}

/*
 * Adds `key=size/unit` to the options of the hypervisor at level k for its guest's -memory or
 * -ringsize, when the guest gives it (and `add`: 0 only checks); the hypervisor's own -options
 * must not set the same thing. *size is the size, or 0 when the guest does not give it.
 */
static int add_vmm_size(Tcl_Interp *interp, const struct nbtcl_machine_view *v, struct chain *c, int k,
			const char *opt, const char *key, uint64_t unit, const char *what, int add, uint64_t *size)
{
	Tcl_Obj *value = guest_option(c->level[k + 1].node, opt), *own = level_option(v, &c->level[k], "-options");
	uint64_t ignored;

	*size = 0;
	if (!value)
		return TCL_OK;
	if (own && option_value(Tcl_GetString(own), key, &ignored))
		return nbtcl_error(interp, NB_E_USAGE,
				   "%s: both the level-%d guest's %s and %s= in its hypervisor's -options give %s: give one",
				   Tcl_GetString(v->name), k + 1, opt, key, what);
	nb_size_parse(Tcl_GetString(value), size);
	if (add)
		append_option(c->level[k].options, key, *size / unit);
	return TCL_OK;
}

/*
 * The options of the hypervisor at level k, and the memory and ring of its guest at level k + 1:
 * the guest's -memory and -ringsize, or mem= and ring= in the hypervisor's -options, or what nbvmm
 * chooses. Memory must shrink with depth: what the guest is given must fit in what nbvmm has.
 */
static int chain_map_vmm(Tcl_Interp *interp, const struct nbtcl_machine_view *v, const struct run_options *o,
			 struct chain *c, int k)
{
	struct chain_level *l = &c->level[k], *g = &c->level[k + 1];
	struct nb_module_spec spec;
	Tcl_Obj *own = level_option(v, l, "-options");
	char said[96];
	uint64_t mem, ring, most = vmm_default_guest_mem(l);
	const char *own_s = own ? Tcl_GetString(own) : "";

	l->options = own ? Tcl_DuplicateObj(own) : Tcl_NewObj();
	Tcl_IncrRefCount(l->options);
	if (add_vmm_size(interp, v, c, k, "-memory", "mem", 1ull << 20, "the guest's memory", 1, &mem) != TCL_OK ||
	    add_vmm_size(interp, v, c, k, "-ringsize", "ring", 1ull << 10, "its trace ring's size", o->tracing,
			 &ring) != TCL_OK)
		return TCL_ERROR;
	/* Without tracing no level gets a ring (nbvmm reads the last ring= given). */
	if (!o->tracing)
		append_option(l->options, "ring", 0);
	if (k > 1 && strlen(Tcl_GetString(l->options)) >= sizeof(spec.args))
		return nbtcl_error(interp, NB_E_USAGE,
				   "%s: the level-%d hypervisor's options with its guest's memory and ring, '%s', are longer than %zu characters (the arguments of its image's module)",
				   Tcl_GetString(v->name), k, Tcl_GetString(l->options), sizeof(spec.args) - 1);

	if (!ring) {
		ring = NBVMM_DEFAULT_RING_KIB;
		option_value(own_s, "ring", &ring);
		ring <<= 10;
	}
	g->ring = o->tracing ? ring : 0;

	said[0] = 0;
	if (mem) {
		snprintf(said, sizeof(said), "-memory %.40s", Tcl_GetString(guest_option(g->node, "-memory")));
	} else if (option_value(own_s, "mem", &mem) && mem) {
		snprintf(said, sizeof(said), "mem=%llu in its hypervisor's -options", (unsigned long long)mem);
		mem <<= 20;
	}
	if (said[0]) {
		if (mem > most)
			return nbtcl_error(interp, NB_E_USAGE,
					   "%s: the level-%d guest's %s does not fit in its hypervisor at level %d: of its %llu MiB, "
					   "after its trace ring, its image, the modules it carries and the %llu MiB nbvmm keeps for "
					   "shadow page tables, about %llu MiB are left (memory shrinks with depth)",
					   Tcl_GetString(v->name), k + 1, said, k, (unsigned long long)(l->mem >> 20),
					   NBVMM_SHADOW_RESERVE >> 20, (unsigned long long)(most >> 20));
	} else if ((mem = most) < NBTCL_GUEST_MIN_MEM) {
		return nbtcl_error(interp, NB_E_USAGE,
				   "%s: the level-%d guest gets what nbvmm at level %d leaves it of its %llu MiB: about %llu MiB, "
				   "less than the %llu MiB a guest needs (each level keeps its trace ring, the images below it "
				   "and %llu MiB for shadow page tables): give the machine more -memory",
				   Tcl_GetString(v->name), k + 1, k, (unsigned long long)(l->mem >> 20),
				   (unsigned long long)(mem >> 20), NBTCL_GUEST_MIN_MEM >> 20, NBVMM_SHADOW_RESERVE >> 20);
	}
	g->mem = mem;
	return TCL_OK;
}

/*
 * The machine L0 runs for a tree (see the top of this file): the L1 image and options in the
 * chain's level 1, which the caller frees with chain_free (also after an error), and the modules
 * in cfg: the image of each level below L1 with its options as the module's arguments, then the
 * last level's own modules. Errors for what this build cannot run: more guests than a hypervisor
 * takes, memory that does not shrink with depth, an nbvmm that is not built.
 */
static int map_tree(Tcl_Interp *interp, const struct nbtcl_machine_view *v, const struct run_options *o,
		    struct nb_machine_config *cfg, struct chain *c)
{
	struct chain_level *leaf;
	Tcl_Obj *mods, *opts;
	int k;

	if (chain_walk(interp, v, c) != TCL_OK)
		return TCL_ERROR;
	c->level[1].mem = v->mem_bytes;
	c->level[1].ring = o->tracing ? v->ring_bytes : 0;
	for (k = 1; k < c->depth; k++)
		if (chain_map_vmm(interp, v, o, c, k) != TCL_OK)
			return TCL_ERROR;
	leaf = &c->level[c->depth];
	opts = level_option(v, leaf, "-options");
	leaf->options = opts ? Tcl_DuplicateObj(opts) : Tcl_NewObj();
	Tcl_IncrRefCount(leaf->options);
	for (k = 2; k <= c->depth; k++) {
		struct nb_module_spec *spec = &cfg->modules[k - 2];

		guest_name(spec->name, sizeof(spec->name), c->level[k].image);
		copy_external(spec->path, sizeof(spec->path), c->level[k].image);
		copy_external(spec->args, sizeof(spec->args), c->level[k].options);
	}
	cfg->module_count = c->depth - 1;
	if ((mods = level_option(v, leaf, "-modules")))
		fill_modules(cfg, mods, c->depth - 1);
	return TCL_OK;
}

static void dict_put(Tcl_Obj *d, const char *key, Tcl_Obj *value)
{
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(key, -1), value);
}

static Tcl_Obj *result_dict(const struct nb_run_result *res, const struct run_options *o)
{
	Tcl_Obj *d = Tcl_NewDictObj();

	dict_put(d, "status", Tcl_NewIntObj(res->exit_status));
	dict_put(d, "reason", Tcl_NewStringObj(nb_stop_reason_name(res->reason), -1));
	dict_put(d, "guest_exited", Tcl_NewBooleanObj(res->guest_exited));
	dict_put(d, "levels", Tcl_NewIntObj(res->levels));
	dict_put(d, "exits", Tcl_NewWideIntObj((Tcl_WideInt)res->exits));
	dict_put(d, "events", Tcl_NewWideIntObj((Tcl_WideInt)res->events));
	dict_put(d, "lost", Tcl_NewWideIntObj((Tcl_WideInt)res->records_lost));
	dict_put(d, "console_lines", Tcl_NewWideIntObj((Tcl_WideInt)res->console_lines));
	dict_put(d, "db", o->db ? o->db : Tcl_NewObj());
	dict_put(d, "run_id", Tcl_NewWideIntObj(res->run_id));
	dict_put(d, "wall", Tcl_NewDoubleObj(res->wall_s));
	dict_put(d, "report", Tcl_NewStringObj(res->report, -1));
	return d;
}

/* The runs table's command_line: how this run was asked for, in Tcl. */
static Tcl_Obj *describe_run(const struct nbtcl_machine_view *v, int objc, Tcl_Obj *const objv[])
{
	Tcl_Obj *create = Tcl_NewStringObj("nestbed::machine create", -1), *cmd, *run;

	Tcl_IncrRefCount(create);
	if (Tcl_GetString(v->image)[0]) {
		Tcl_ListObjAppendElement(NULL, create, Tcl_NewStringObj("-image", -1));
		Tcl_ListObjAppendElement(NULL, create, v->image);
	}
	Tcl_ListObjAppendElement(NULL, create, Tcl_NewStringObj("-memory", -1));
	Tcl_ListObjAppendElement(NULL, create, v->memory);
	Tcl_ListObjAppendElement(NULL, create, Tcl_NewStringObj("-options", -1));
	Tcl_ListObjAppendElement(NULL, create, v->options);
	if (Tcl_GetString(v->modules)[0]) {
		Tcl_ListObjAppendElement(NULL, create, Tcl_NewStringObj("-modules", -1));
		Tcl_ListObjAppendElement(NULL, create, v->modules);
	}
	if (Tcl_GetString(v->guests)[0]) {
		Tcl_ListObjAppendElement(NULL, create, Tcl_NewStringObj("-guests", -1));
		Tcl_ListObjAppendElement(NULL, create, v->guests);
	}
	run = Tcl_NewListObj(objc, objv);
	Tcl_IncrRefCount(run);
	cmd = Tcl_ObjPrintf("tcl: %s; $m run %s", Tcl_GetString(create), Tcl_GetString(run));
	Tcl_DecrRefCount(create);
	Tcl_DecrRefCount(run);
	return cmd;
}

static int run_machine(Tcl_Interp *interp, const struct nbtcl_machine_view *v, const struct run_options *o,
		       Tcl_Obj *command_line)
{
	struct console_ctx ctx = {.interp = interp, .script = o->console};
	struct nb_machine_config cfg;
	struct nb_run_result res;
	struct nb_error err = {0};
	Tcl_DString image, options, db, kvm, cmdline;
	struct chain chain;
	int rc, code;

	nb_machine_config_init(&cfg);
	if (map_tree(interp, v, o, &cfg, &chain) != TCL_OK) {
		chain_free(&chain);
		return TCL_ERROR;
	}
	cfg.image_path = Tcl_UtfToExternalDString(NULL, Tcl_GetString(chain.level[1].image), -1, &image);
	cfg.options = Tcl_UtfToExternalDString(NULL, Tcl_GetString(chain.level[1].options), -1, &options);
	chain_free(&chain);
	cfg.kvm_path = Tcl_UtfToExternalDString(NULL, Tcl_GetString(v->kvm), -1, &kvm);
	cfg.command_line = Tcl_UtfToExternalDString(NULL, Tcl_GetString(command_line), -1, &cmdline);
	Tcl_DStringInit(&db);
	if (o->db)
		cfg.db_path = Tcl_UtfToExternalDString(NULL, Tcl_GetString(o->db), -1, &db);
	cfg.mem_bytes = v->mem_bytes;
	cfg.ring_bytes = v->ring_bytes;
	cfg.tracing = o->tracing;
	cfg.timeout_s = o->timeout_s;
	if (ctx.script) {
		Tcl_IncrRefCount(ctx.script);
		cfg.console_fn = console_line;
		cfg.console_ctx = &ctx;
	}

	rc = nb_machine_run(&cfg, &res, &err);

	if (ctx.error_options) {
		/* The callback's error, as it was raised, so that `try ... trap` sees its own -errorcode. */
		code = Tcl_SetReturnOptions(interp, ctx.error_options);
		Tcl_SetObjResult(interp, ctx.error_result);
		Tcl_AppendObjToErrorInfo(interp, Tcl_ObjPrintf("\n    (console callback of %s; the machine was stopped)",
							       Tcl_GetString(v->name)));
		Tcl_DecrRefCount(ctx.error_options);
		Tcl_DecrRefCount(ctx.error_result);
	} else if (rc < 0) {
		code = nbtcl_nb_error(interp, &err);
	} else {
		Tcl_SetObjResult(interp, result_dict(&res, o));
		code = TCL_OK;
	}
	if (ctx.script)
		Tcl_DecrRefCount(ctx.script);
	Tcl_DStringFree(&image);
	Tcl_DStringFree(&options);
	Tcl_DStringFree(&kvm);
	Tcl_DStringFree(&cmdline);
	Tcl_DStringFree(&db);
	return code;
}

/* A tree deeper than this build runs is refused before anything starts. */
static int check_depth(Tcl_Interp *interp, const struct nbtcl_machine_view *v)
{
	Tcl_Obj *why;
	int max_depth, code = TCL_OK;

	if (v->depth == 1)
		return TCL_OK;
	max_depth = nbtcl_max_depth(interp, &why);
	Tcl_IncrRefCount(why);
	if (v->depth > max_depth)
		code = nbtcl_error(interp, NB_E_DEPTH, "%s: a machine tree %d levels deep, but this build runs at most %d: %s",
				   Tcl_GetString(v->name), v->depth, max_depth, Tcl_GetString(why));
	Tcl_DecrRefCount(why);
	return code;
}

/* Takes the process's one run slot; 0 when another run holds it. */
static int claim_run(int claim)
{
	int was;

	Tcl_MutexLock(&run_mutex);
	was = run_active;
	if (claim)
		run_active = 1;
	else
		run_active = 0;
	Tcl_MutexUnlock(&run_mutex);
	return !claim || !was;
}

int nbtcl_machine_run(Tcl_Interp *interp, struct nbtcl_machine *m, int objc, Tcl_Obj *const objv[])
{
	struct run_options o = {.tracing = 1};
	struct nbtcl_machine_view v;
	Tcl_Obj *command_line, *given;
	int code;

	if (parse_run_options(interp, objc, objv, &o) != TCL_OK)
		return TCL_ERROR;
	if (o.db) {
		/* Absolute, so that the result says where the file is whatever the current directory. */
		given = o.db;
		o.db = Tcl_FSGetNormalizedPath(interp, given);
		if (!o.db)
			return nbtcl_error(interp, NB_E_DB, "run: -db '%s': not a usable path", Tcl_GetString(given));
		Tcl_IncrRefCount(o.db);
	}
	nbtcl_machine_view(m, &v);
	Tcl_IncrRefCount(v.name);
	code = check_depth(interp, &v);
	if (code == TCL_OK && !claim_run(1))
		code = nbtcl_error(interp, NB_E_USAGE, "%s: another machine is running in this process (one run at a time)",
				   Tcl_GetString(v.name));
	if (code == TCL_OK) {
		command_line = describe_run(&v, objc, objv);
		Tcl_IncrRefCount(command_line);
		/* The console callback may destroy the machine or delete commands: the machine and the
		 * interpreter stay allocated until the run is over. */
		Tcl_Preserve(interp);
		Tcl_Preserve(m);
		nbtcl_machine_set_running(m, 1);
		code = run_machine(interp, &v, &o, command_line);
		nbtcl_machine_set_running(m, 0);
		Tcl_Release(m);
		Tcl_Release(interp);
		Tcl_DecrRefCount(command_line);
		claim_run(0);
	}
	if (o.db)
		Tcl_DecrRefCount(o.db);
	Tcl_DecrRefCount(v.name);
	return code;
}
