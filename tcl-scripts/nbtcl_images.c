/*
 * Where the built images are (guest kernels, the guest hypervisor nbvmm), and so how deep a
 * machine tree this build can run.
 *
 * Scenarios name guests ("hello") rather than paths, so that the same script works from the build
 * tree and after make install. The build tree and the install directory are compiled in
 * (NBTCL_BUILDDIR, NBTCL_IMAGEDIR from tcl-scripts/local.mk); NESTBED_IMAGE_PATH, a
 * colon-separated list of directories, comes first so that a user can try their own builds.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tcl-scripts/nbtcl.h"
#include "tracer/store.h"

/* Without nbvmm L0 boots one kernel: depth 1. With nbvmm every level below L1 is a guest of the
 * nbvmm one level up, by trap-and-emulate with shadow paging, and may be nbvmm again (each level
 * relocates itself into its own PML4 slot): any depth up to NBTCL_DEPTH_LIMIT. */
#define NBTCL_DEPTH_WITHOUT_VMM 1

/* Appends to `candidates` the places NAME may be, in the order they are searched. */
static void image_candidates(const char *name, Tcl_Obj *candidates)
{
	const char *env = getenv("NESTBED_IMAGE_PATH");

	if (env && env[0]) {
		char *dirs = strdup(env), *save = NULL, *d;

		for (d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
			Tcl_ListObjAppendElement(NULL, candidates, Tcl_ObjPrintf("%s/%s.elf", d, name));
			Tcl_ListObjAppendElement(NULL, candidates, Tcl_ObjPrintf("%s/%s/%s.elf", d, name, name));
		}
		free(dirs);
	}
	Tcl_ListObjAppendElement(NULL, candidates, Tcl_ObjPrintf("%s/guests/%s/%s.elf", NBTCL_BUILDDIR, name, name));
	Tcl_ListObjAppendElement(NULL, candidates, Tcl_ObjPrintf("%s/l1-vmm/%s.elf", NBTCL_BUILDDIR, name));
	Tcl_ListObjAppendElement(NULL, candidates, Tcl_ObjPrintf("%s/%s.elf", NBTCL_IMAGEDIR, name));
}

Tcl_Obj *nbtcl_image_find(Tcl_Interp *interp, const char *name)
{
	Tcl_Obj *candidates = Tcl_NewListObj(0, NULL), **v, *found = NULL;
	Tcl_StatBuf *st = Tcl_AllocStatBuf();
	int n, i;

	Tcl_IncrRefCount(candidates);
	if (!name[0] || strchr(name, '/')) {
		nbtcl_error(interp, NB_E_USAGE, "image name '%s': expected a name such as hello or nbvmm, not a path",
			    name);
		goto out;
	}
	image_candidates(name, candidates);
	Tcl_ListObjGetElements(NULL, candidates, &n, &v);
	for (i = 0; i < n && !found; i++)
		if (Tcl_FSStat(v[i], st) == 0 && S_ISREG(Tcl_GetModeFromStat(st)))
			found = v[i];
	if (found)
		found = Tcl_DuplicateObj(found);
	else
		nbtcl_error(interp, NB_E_IMAGE, "image '%s' is not built: looked for %s", name,
			    Tcl_GetString(candidates));
out:
	Tcl_Free((char *)st);
	Tcl_DecrRefCount(candidates);
	return found;
}

int nbtcl_image_is_vmm_name(Tcl_Obj *image)
{
	return strcmp(Tcl_GetString(image), NBTCL_VMM_NAME) == 0;
}

Tcl_Obj *nbtcl_image_resolve(Tcl_Interp *interp, Tcl_Obj *image)
{
	if (Tcl_GetString(image)[0] && !nbtcl_image_is_vmm_name(image))
		return image;
	return nbtcl_image_find(interp, NBTCL_VMM_NAME);
}

int nbtcl_max_depth(Tcl_Interp *interp, Tcl_Obj **why)
{
	Tcl_Obj *vmm = nbtcl_image_find(interp, NBTCL_VMM_NAME);
	int depth;

	if (!vmm) {
		*why = Tcl_ObjPrintf("depth 2 and deeper need the guest hypervisor nbvmm, which is not built (%s)",
				     Tcl_GetString(Tcl_GetObjResult(interp)));
		depth = NBTCL_DEPTH_WITHOUT_VMM;
	} else {
		Tcl_IncrRefCount(vmm);
		*why = Tcl_ObjPrintf("nestbed stacks at most %d levels: nbvmm (%s) runs nbvmm, one level each, and "
				     "every level multiplies the cost of a trap by several hundred",
				     NBTCL_DEPTH_LIMIT, Tcl_GetString(vmm));
		Tcl_DecrRefCount(vmm);
		depth = NBTCL_DEPTH_LIMIT;
	}
	Tcl_ResetResult(interp);
	return depth;
}

/* nestbed::image NAME: the path of a built image. */
int nbtcl_image_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
	Tcl_Obj *path;

	(void)cd;
	if (objc != 2)
		return nbtcl_wrong_num_args(interp, 1, objv, "name");
	path = nbtcl_image_find(interp, Tcl_GetString(objv[1]));
	if (!path)
		return TCL_ERROR;
	Tcl_SetObjResult(interp, path);
	return TCL_OK;
}

/*
 * nestbed::capabilities: what this build and this host can do, as a dict: version, max_depth,
 * depth_limit (why deeper trees cannot run: a sentence for the user), max_guests (guests each
 * hypervisor of a tree runs), kvm (1 when /dev/kvm
 * can be opened for reading and writing), builddir and imagedir (where images are looked for),
 * schema_version (of the trace databases this build writes and reads).
 */
int nbtcl_capabilities_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
	Tcl_Obj *d, *why;
	int depth;

	(void)cd;
	if (objc != 1)
		return nbtcl_wrong_num_args(interp, 1, objv, NULL);
	depth = nbtcl_max_depth(interp, &why);
	d = Tcl_NewDictObj();
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("version", -1), Tcl_NewStringObj(NBTCL_VERSION, -1));
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("max_depth", -1), Tcl_NewIntObj(depth));
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("depth_limit", -1), why);
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("max_guests", -1), Tcl_NewIntObj(NBTCL_GUESTS_PER_VMM));
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("kvm", -1), Tcl_NewBooleanObj(access("/dev/kvm", R_OK | W_OK) == 0));
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("builddir", -1), Tcl_NewStringObj(NBTCL_BUILDDIR, -1));
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("imagedir", -1), Tcl_NewStringObj(NBTCL_IMAGEDIR, -1));
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("schema_version", -1), Tcl_NewIntObj(NB_STORE_SCHEMA_VERSION));
	Tcl_SetObjResult(interp, d);
	return TCL_OK;
}
