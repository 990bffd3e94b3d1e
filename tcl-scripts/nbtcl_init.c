/*
 * The Tcl package nestbed: loading the extension, and the error convention every command follows.
 *
 * pkgIndex.tcl loads this library (Nestbed_Init) and then sources nestbed.tcl, which adds the
 * commands written in Tcl (trace objects, summary tables) to the same namespace.
 */
#include <stdarg.h>
#include <stdio.h>

#include "tcl-scripts/nbtcl.h"
#include "tracer/store.h"

int nbtcl_error(Tcl_Interp *interp, int code, const char *fmt, ...)
{
	char msg[NB_ERRMSG_LEN + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	Tcl_SetObjResult(interp, Tcl_NewStringObj(msg, -1));
	Tcl_SetErrorCode(interp, "NESTBED", nb_error_name(code), msg, (char *)NULL);
	return TCL_ERROR;
}

int nbtcl_wrong_num_args(Tcl_Interp *interp, int objc, Tcl_Obj *const objv[], const char *msg)
{
	Tcl_WrongNumArgs(interp, objc, objv, msg);
	Tcl_SetErrorCode(interp, "NESTBED", "USAGE", Tcl_GetString(Tcl_GetObjResult(interp)), (char *)NULL);
	return TCL_ERROR;
}

int nbtcl_nb_error(Tcl_Interp *interp, const struct nb_error *err)
{
	return nbtcl_error(interp, err->code ? err->code : NB_E_INTERNAL, "%s",
			   err->msg[0] ? err->msg : "unknown error in libnestbed");
}

/* ::nestbed::UpgradeTrace PATH: brings a trace database of an older schema version up to this
 * one, as the store does whenever it opens one (trace objects call it on older files). */
static int upgrade_trace_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
	struct nb_store_options opt = {.annotate = 0};
	struct nb_store *st = NULL;
	struct nb_error err = {0};

	(void)cd;
	if (objc != 2)
		return nbtcl_wrong_num_args(interp, 1, objv, "path");
	if (nb_store_open(Tcl_GetString(objv[1]), &opt, &st, &err) < 0)
		return nbtcl_nb_error(interp, &err);
	nb_store_close(st);
	return TCL_OK;
}

/* Builds the ensemble ::nestbed::machine (create) the way Tcl's own ensembles are built: the
 * exported commands of the namespace of the same name. */
static int create_machine_ensemble(Tcl_Interp *interp)
{
	Tcl_Namespace *ns = Tcl_CreateNamespace(interp, "::nestbed::machine", NULL, NULL);

	if (!ns)
		return TCL_ERROR;
	Tcl_CreateObjCommand(interp, "::nestbed::machine::create", nbtcl_machine_create_cmd, NULL, NULL);
	if (Tcl_Export(interp, ns, "create", 0) != TCL_OK)
		return TCL_ERROR;
	return Tcl_CreateEnsemble(interp, "::nestbed::machine", ns, TCL_ENSEMBLE_PREFIX) ? TCL_OK : TCL_ERROR;
}

/* Tcl's entry point, named after the package (load ... Nestbed). */
int Nestbed_Init(Tcl_Interp *interp)
{
	if (!Tcl_InitStubs(interp, "8.6", 0))
		return TCL_ERROR;
	/* nestbed.tcl says which commands the namespace exports. */
	if (!Tcl_CreateNamespace(interp, "::nestbed", NULL, NULL) || create_machine_ensemble(interp) != TCL_OK)
		return TCL_ERROR;
	Tcl_CreateObjCommand(interp, "::nestbed::capabilities", nbtcl_capabilities_cmd, NULL, NULL);
	Tcl_CreateObjCommand(interp, "::nestbed::image", nbtcl_image_cmd, NULL, NULL);
	Tcl_CreateObjCommand(interp, "::nestbed::UpgradeTrace", upgrade_trace_cmd, NULL, NULL);
	return Tcl_PkgProvide(interp, "nestbed", NBTCL_VERSION);
}
