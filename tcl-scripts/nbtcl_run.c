/*
 * `$m run ?-timeout s? ?-db path? ?-tracing bool? ?-console script?`: one run of a machine
 * through nb_machine_run, its outcome as a dict.
 *
 * A machine tree becomes the one machine L0 runs. Depth 1 is the image itself. At depth 2 the
 * image at L1 is nbvmm, and nbvmm's boot contract (l1-vmm/main.c) carries the rest: module 0 is
 * the guest's image with the guest's options as its arguments, modules 1..n are the guest's own
 * modules (nbvmm hands them down with their names and arguments), and nbvmm's options get
 * mem=MIB and ring=KIB from the guest's -memory and -ringsize.
 *
 * What the guest did is data, not an error: a guest that exits with 7, crashes or runs out of
 * time gives a dict (status 7, 126, 124 and the reason). A Tcl error means the run could not
 * take place or its trace could not be kept (-errorcode {NESTBED KVM|IMAGE|DB|USAGE|DEPTH ...}),
 * or the console callback failed, in which case the machine is stopped and the callback's own
 * error is the run's.
 */
#include <stdio.h>
#include <string.h>

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

/* 1 when a "key=value ..." options string sets `key`, as nbvmm reads it (words split on spaces). */
static int options_set(const char *opts, const char *key)
{
	size_t klen = strlen(key);
	const char *p = opts;

	while (*p) {
		const char *word = p;

		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - word) >= klen && strncmp(word, key, klen) == 0 &&
		    (word + klen == p || word[klen] == '='))
			return 1;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* Appends the option word key=value to an options string. */
static void append_option(Tcl_Obj *options, const char *key, uint64_t value)
{
	char word[64];

	snprintf(word, sizeof(word), "%s%s=%llu", Tcl_GetCharLength(options) ? " " : "", key,
		 (unsigned long long)value);
	Tcl_AppendToObj(options, word, -1);
}

/*
 * Adds `key=size/unit` to nbvmm's options for a guest's -memory or -ringsize, when it is given
 * (and `add`: 0 only checks); the hypervisor's own -options must not set the same thing.
 */
static int add_vmm_size(Tcl_Interp *interp, const struct nbtcl_machine_view *v, Tcl_Obj *options,
			Tcl_Obj *guest, const char *opt, const char *key, uint64_t unit, const char *what, int add)
{
	Tcl_Obj *value = guest_option(guest, opt);
	uint64_t size;

	if (!value)
		return TCL_OK;
	if (options_set(Tcl_GetString(v->options), key))
		return nbtcl_error(interp, NB_E_USAGE, "%s: both the guest's %s and %s= in the hypervisor's -options give %s: give one",
				   Tcl_GetString(v->name), opt, key, what);
	nb_size_parse(Tcl_GetString(value), &size);
	if (add)
		append_option(options, key, size / unit);
	return TCL_OK;
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

/*
 * The machine L0 runs for a tree (see the top of this file): its L1 image and options in *image
 * and *options, which the caller releases when they are not NULL (also after an error), and its
 * modules in cfg. Errors for what this build cannot run: more guests than a hypervisor takes,
 * a guest's memory that leaves nbvmm nothing, an nbvmm that is not built.
 */
static int map_tree(Tcl_Interp *interp, const struct nbtcl_machine_view *v, const struct run_options *o,
		    struct nb_machine_config *cfg, Tcl_Obj **image, Tcl_Obj **options)
{
	struct nb_module_spec *spec = &cfg->modules[0];
	Tcl_Obj **gv, *gimage, *gopts, *gmods, *gmem;
	uint64_t mem = 0;
	int gc;

	*options = Tcl_DuplicateObj(v->options);
	Tcl_IncrRefCount(*options);
	*image = nbtcl_image_resolve(interp, v->image);
	if (!*image)
		return TCL_ERROR;
	Tcl_IncrRefCount(*image);
	Tcl_ListObjGetElements(NULL, v->guests, &gc, &gv);
	if (gc == 0) {
		fill_modules(cfg, v->modules, 0);
		return TCL_OK;
	}
	if (gc > NBTCL_GUESTS_PER_VMM)
		return nbtcl_error(interp, NB_E_USAGE, "%s: level 1 has %d guests, but nbvmm runs %d guest per hypervisor",
				   Tcl_GetString(v->name), gc, NBTCL_GUESTS_PER_VMM);
	if ((gmem = guest_option(gv[0], "-memory")) && nb_size_parse(Tcl_GetString(gmem), &mem) == 0 &&
	    mem >= v->mem_bytes)
		return nbtcl_error(interp, NB_E_USAGE,
				   "%s: the guest's -memory %s leaves nothing of the machine's -memory %s for nbvmm and its shadow page tables",
				   Tcl_GetString(v->name), Tcl_GetString(gmem), Tcl_GetString(v->memory));
	if (add_vmm_size(interp, v, *options, gv[0], "-memory", "mem", 1ull << 20, "the guest's memory", 1) != TCL_OK ||
	    add_vmm_size(interp, v, *options, gv[0], "-ringsize", "ring", 1ull << 10, "its trace ring's size",
			 o->tracing) != TCL_OK)
		return TCL_ERROR;
	/* Without tracing the guest gets no ring either (nbvmm reads the last ring= given). */
	if (!o->tracing)
		append_option(*options, "ring", 0);

	/* nbtcl_machine.c made sure that a guest without guests has an -image. */
	gimage = nbtcl_image_resolve(interp, guest_option(gv[0], "-image"));
	if (!gimage)
		return TCL_ERROR;
	Tcl_IncrRefCount(gimage);
	guest_name(spec->name, sizeof(spec->name), gimage);
	copy_external(spec->path, sizeof(spec->path), gimage);
	Tcl_DecrRefCount(gimage);
	if ((gopts = guest_option(gv[0], "-options")))
		copy_external(spec->args, sizeof(spec->args), gopts);
	cfg->module_count = 1;
	if ((gmods = guest_option(gv[0], "-modules")))
		fill_modules(cfg, gmods, 1);
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
	Tcl_Obj *l1_image = NULL, *l1_options = NULL;
	int rc, code;

	nb_machine_config_init(&cfg);
	if (map_tree(interp, v, o, &cfg, &l1_image, &l1_options) != TCL_OK) {
		if (l1_image)
			Tcl_DecrRefCount(l1_image);
		if (l1_options)
			Tcl_DecrRefCount(l1_options);
		return TCL_ERROR;
	}
	cfg.image_path = Tcl_UtfToExternalDString(NULL, Tcl_GetString(l1_image), -1, &image);
	cfg.options = Tcl_UtfToExternalDString(NULL, Tcl_GetString(l1_options), -1, &options);
	Tcl_DecrRefCount(l1_image);
	Tcl_DecrRefCount(l1_options);
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
