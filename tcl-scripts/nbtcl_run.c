/*
 * `$m run ?-timeout s? ?-db path? ?-tracing bool? ?-console script?`: one run of a machine
 * through nb_machine_run, its outcome as a dict.
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

static void fill_modules(struct nb_machine_config *cfg, Tcl_Obj *modules)
{
	Tcl_Obj **mv, **fv;
	int mc, fc, i;

	/* nbtcl_machine.c checked the shape and the sizes when the option was set. */
	Tcl_ListObjGetElements(NULL, modules, &mc, &mv);
	for (i = 0; i < mc && i < NB_MAX_MODULES; i++) {
		struct nb_module_spec *spec = &cfg->modules[i];

		Tcl_ListObjGetElements(NULL, mv[i], &fc, &fv);
		copy_external(spec->name, sizeof(spec->name), fv[0]);
		copy_external(spec->path, sizeof(spec->path), fv[1]);
		if (fc > 2)
			copy_external(spec->args, sizeof(spec->args), fv[2]);
	}
	cfg->module_count = i;
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
	Tcl_ListObjAppendElement(NULL, create, Tcl_NewStringObj("-image", -1));
	Tcl_ListObjAppendElement(NULL, create, v->image);
	Tcl_ListObjAppendElement(NULL, create, Tcl_NewStringObj("-memory", -1));
	Tcl_ListObjAppendElement(NULL, create, v->memory);
	Tcl_ListObjAppendElement(NULL, create, Tcl_NewStringObj("-options", -1));
	Tcl_ListObjAppendElement(NULL, create, v->options);
	if (Tcl_GetString(v->modules)[0]) {
		Tcl_ListObjAppendElement(NULL, create, Tcl_NewStringObj("-modules", -1));
		Tcl_ListObjAppendElement(NULL, create, v->modules);
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
	int rc, code;

	nb_machine_config_init(&cfg);
	cfg.image_path = Tcl_UtfToExternalDString(NULL, Tcl_GetString(v->image), -1, &image);
	cfg.options = Tcl_UtfToExternalDString(NULL, Tcl_GetString(v->options), -1, &options);
	cfg.kvm_path = Tcl_UtfToExternalDString(NULL, Tcl_GetString(v->kvm), -1, &kvm);
	cfg.command_line = Tcl_UtfToExternalDString(NULL, Tcl_GetString(command_line), -1, &cmdline);
	Tcl_DStringInit(&db);
	if (o->db)
		cfg.db_path = Tcl_UtfToExternalDString(NULL, Tcl_GetString(o->db), -1, &db);
	fill_modules(&cfg, v->modules);
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
