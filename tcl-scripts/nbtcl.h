/*
 * The Tcl extension `nestbed`: declarations shared by its C files (private to tcl-scripts/).
 *
 * The C side holds what needs libnestbed: the machine objects, their runs and the search for
 * images. Everything that only reads the store (the trace objects, tables) is Tcl, in
 * nestbed.tcl, over the sqlite3 package.
 */
#ifndef NESTBED_TCL_H
#define NESTBED_TCL_H

#include <tcl.h>

#include "l0/nestbed.h"

/*
 * Leaves a Tcl error in interp whose -errorcode is {NESTBED <CODE> <message>}, CODE being
 * nb_error_name(code) (USAGE, KVM, IMAGE, DB...), so that scripts can `try ... trap {NESTBED
 * IMAGE}`. Returns TCL_ERROR.
 */
int nbtcl_error(Tcl_Interp *interp, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Tcl_WrongNumArgs with -errorcode {NESTBED USAGE ...}. */
int nbtcl_wrong_num_args(Tcl_Interp *interp, int objc, Tcl_Obj *const objv[], const char *msg);

/* The same for an error libnestbed reported. */
int nbtcl_nb_error(Tcl_Interp *interp, const struct nb_error *err);

/*
 * The path of the built image NAME (the guest hello, the hypervisor nbvmm...), looked up in
 * the directories of NESTBED_IMAGE_PATH, then the build tree, then the install directory; a new
 * object with refcount 0, or NULL with a NESTBED IMAGE error saying where it looked.
 */
Tcl_Obj *nbtcl_image_find(Tcl_Interp *interp, const char *name);

/* The word that names the built guest hypervisor in -image, rather than a path. */
#define NBTCL_VMM_NAME "nbvmm"

/* 1 when an -image value is the word nbvmm (resolved by nbtcl_image_resolve when the machine runs). */
int nbtcl_image_is_vmm_name(Tcl_Obj *image);

/*
 * The file a node of a machine tree runs: its -image, or the built nbvmm when -image is the word
 * nbvmm or is empty (a hypervisor node may leave it out). The object itself or a new one, or NULL
 * with a NESTBED IMAGE error.
 */
Tcl_Obj *nbtcl_image_resolve(Tcl_Interp *interp, Tcl_Obj *image);

/*
 * The deepest machine tree this build can run, and why deeper trees cannot run: a sentence for
 * error messages, a new object with refcount 0.
 */
int nbtcl_max_depth(Tcl_Interp *interp, Tcl_Obj **why);

/* Guests one hypervisor (nbvmm) runs: today one, the first module it is given. */
#define NBTCL_GUESTS_PER_VMM 1

/* The deepest tree nestbed stacks (L1 to L5): a deeper description is a mistake whatever the
 * build, and the build with nbvmm runs all of them (nbvmm runs nbvmm, one level each). */
#define NBTCL_DEPTH_LIMIT 5

/* A machine object: its options, and its run (console callback, errors). */
struct nbtcl_machine;

/* `$m run ?-timeout s? ?-db path? ?-tracing bool? ?-console script?` (nbtcl_run.c). */
int nbtcl_machine_run(Tcl_Interp *interp, struct nbtcl_machine *m, int objc, Tcl_Obj *const objv[]);

/* What nbtcl_run.c needs to know of a machine (nbtcl_machine.c). */
struct nbtcl_machine_view {
	Tcl_Obj *name;      /* the object command's fully-qualified name */
	Tcl_Obj *image;
	Tcl_Obj *memory;    /* as given, e.g. 64M */
	Tcl_Obj *options;
	Tcl_Obj *modules;   /* list of {name path ?args?} */
	Tcl_Obj *guests;    /* list of guests, each a list of -option value pairs */
	Tcl_Obj *kvm;       /* "" for the default */
	uint64_t mem_bytes;
	uint64_t ring_bytes;
	int depth;          /* of the tree of guests, 1 without -guests */
};
void nbtcl_machine_view(struct nbtcl_machine *m, struct nbtcl_machine_view *v);
/* While a machine runs its options cannot change: their strings are in the run's config. */
void nbtcl_machine_set_running(struct nbtcl_machine *m, int running);

/* Command procedures registered by Nestbed_Init. */
Tcl_ObjCmdProc nbtcl_machine_create_cmd;
Tcl_ObjCmdProc nbtcl_capabilities_cmd;
Tcl_ObjCmdProc nbtcl_image_cmd;

#endif
