/*
 * Fuzz harness: the argument parsing of the Tcl package's commands (tcl-scripts/nbtcl_*.c):
 * `nestbed::machine create`, and a machine's configure, cget and run. A scenario script passes
 * them whatever its author typed; they must refuse what is wrong with a NESTBED error, never
 * crash, and never leave a machine half-configured.
 *
 * Input: up to three lines, each a Tcl list of words (a line that is not a list is one word):
 * the arguments of `nestbed::machine create`, of `$m configure`, of `$m run`. The run is given
 * -kvm pointing at a path that does not exist (and no -db), so it parses its options and maps
 * the machine tree onto L0's configuration but never starts a machine or writes a file.
 * Checked:
 *   - every error carries -errorcode {NESTBED CODE message} with a code libnestbed knows;
 *   - a created machine reports its seven options; a configure that fails leaves them as they
 *     were, one that succeeds is read back by cget;
 *   - the run fails (no KVM) with a NESTBED error.
 * The commands are called with Tcl_EvalObjv: the input is never evaluated as a script.
 */
#include <string.h>

#include "tcl-scripts/nbtcl.h"
#include "tests/fuzz/fuzz.h"

int Nestbed_Init(Tcl_Interp *interp);

static const char *const codes[] = { "USAGE", "KVM", "IMAGE", "DB", "NOMEM", "GUEST", "TIMEOUT", "DEPTH", "INTERNAL" };

static int call(Tcl_Interp *interp, Tcl_Obj *prefix, Tcl_Obj *words, const char *what)
{
	Tcl_Obj *cmd = Tcl_DuplicateObj(prefix), **v, *opts, *key, *ec = NULL, *code = NULL;
	int n, rc, i, known = 0;

	Tcl_IncrRefCount(cmd);
	if (words)
		Tcl_ListObjAppendList(NULL, cmd, words);
	Tcl_ListObjGetElements(NULL, cmd, &n, &v);
	rc = Tcl_EvalObjv(interp, n, v, TCL_EVAL_GLOBAL);
	Tcl_DecrRefCount(cmd);
	FUZZ_CHECK(rc == TCL_OK || rc == TCL_ERROR, "%s: return code %d", what, rc);
	if (rc == TCL_OK)
		return rc;
	opts = Tcl_GetReturnOptions(interp, rc);
	Tcl_IncrRefCount(opts);
	key = Tcl_NewStringObj("-errorcode", -1);
	Tcl_IncrRefCount(key);
	Tcl_DictObjGet(NULL, opts, key, &ec);
	FUZZ_CHECK(ec && Tcl_ListObjIndex(NULL, ec, 1, &code) == TCL_OK && code,
		   "%s: error without -errorcode: %s", what, Tcl_GetStringResult(interp));
	Tcl_ListObjIndex(NULL, ec, 0, &key);
	for (i = 0; i < (int)(sizeof(codes) / sizeof(codes[0])); i++)
		known |= strcmp(Tcl_GetString(code), codes[i]) == 0;
	FUZZ_CHECK(strcmp(Tcl_GetString(key), "NESTBED") == 0 && known, "%s: -errorcode %s (%s)", what,
		   Tcl_GetString(ec), Tcl_GetStringResult(interp));
	Tcl_DecrRefCount(opts);
	return rc;
}

/* A line as a list of words. */
static Tcl_Obj *words_of(const char *line, size_t len)
{
	Tcl_Obj *s = Tcl_NewStringObj(line, (int)len);
	int n;

	if (Tcl_ListObjLength(NULL, s, &n) != TCL_OK) {
		Tcl_DecrRefCount(s);
		s = Tcl_NewListObj(0, NULL);
		Tcl_ListObjAppendElement(NULL, s, Tcl_NewStringObj(line, (int)len));
	}
	return s;
}

/* The run's words without -db and its value: a fuzzer must not create files. */
static Tcl_Obj *without_db(Tcl_Obj *words)
{
	Tcl_Obj *out = Tcl_NewListObj(0, NULL), **v;
	int n, i;

	Tcl_ListObjGetElements(NULL, words, &n, &v);
	for (i = 0; i < n; i++) {
		if (strcmp(Tcl_GetString(v[i]), "-db") == 0) {
			i++;
			continue;
		}
		Tcl_ListObjAppendElement(NULL, out, v[i]);
	}
	return out;
}

static Tcl_Obj *options_of(Tcl_Interp *interp, Tcl_Obj *machine)
{
	Tcl_Obj *sub = Tcl_NewStringObj("configure", -1), *d;
	Tcl_Obj *objv[2] = { machine, sub };
	int n;

	Tcl_IncrRefCount(sub);
	FUZZ_CHECK(Tcl_EvalObjv(interp, 2, objv, TCL_EVAL_GLOBAL) == TCL_OK, "configure: %s",
		   Tcl_GetStringResult(interp));
	Tcl_DecrRefCount(sub);
	d = Tcl_GetObjResult(interp);
	FUZZ_CHECK(Tcl_DictObjSize(NULL, d, &n) == TCL_OK && n == 7, "configure gives %s", Tcl_GetString(d));
	return Tcl_DuplicateObj(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	Tcl_Obj *line[3] = { NULL, NULL, NULL }, *prefix, *machine, *before, *after;
	Tcl_Interp *interp;
	int i;

	if (memchr(data, 0, size))
		return 0; /* Tcl strings hold no NUL in their UTF-8 form */
	interp = Tcl_CreateInterp();
	FUZZ_CHECK(Nestbed_Init(interp) == TCL_OK, "Nestbed_Init: %s", Tcl_GetStringResult(interp));
	for (i = 0; i < 3; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		line[i] = words_of(p, (size_t)((nl ? nl : end) - p));
		Tcl_IncrRefCount(line[i]);
		p = nl ? nl + 1 : end;
	}
	prefix = Tcl_NewListObj(0, NULL);
	Tcl_IncrRefCount(prefix);
	Tcl_ListObjAppendElement(NULL, prefix, Tcl_NewStringObj("::nestbed::machine", -1));
	Tcl_ListObjAppendElement(NULL, prefix, Tcl_NewStringObj("create", -1));
	if (call(interp, prefix, line[0], "create") == TCL_OK) {
		machine = Tcl_DuplicateObj(Tcl_GetObjResult(interp));
		Tcl_IncrRefCount(machine);
		before = options_of(interp, machine);
		Tcl_IncrRefCount(before);
		Tcl_SetListObj(prefix, 1, &machine);
		Tcl_ListObjAppendElement(NULL, prefix, Tcl_NewStringObj("configure", -1));
		if (call(interp, prefix, line[1], "configure") != TCL_OK) {
			after = options_of(interp, machine);
			FUZZ_CHECK(strcmp(Tcl_GetString(before), Tcl_GetString(after)) == 0,
				   "a failed configure changed the machine: %s -> %s", Tcl_GetString(before),
				   Tcl_GetString(after));
			Tcl_DecrRefCount(after);
		}
		Tcl_SetListObj(prefix, 1, &machine);
		Tcl_ListObjAppendElement(NULL, prefix, Tcl_NewStringObj("configure", -1));
		Tcl_ListObjAppendElement(NULL, prefix, Tcl_NewStringObj("-kvm", -1));
		Tcl_ListObjAppendElement(NULL, prefix, Tcl_NewStringObj("/nonexistent/nestbed-fuzz/kvm", -1));
		FUZZ_CHECK(call(interp, prefix, NULL, "configure -kvm") == TCL_OK, "configure -kvm");
		Tcl_SetListObj(prefix, 1, &machine);
		Tcl_ListObjAppendElement(NULL, prefix, Tcl_NewStringObj("run", -1));
		FUZZ_CHECK(call(interp, prefix, without_db(line[2]), "run") == TCL_ERROR,
			   "a run without KVM succeeded");
		Tcl_SetListObj(prefix, 1, &machine);
		Tcl_ListObjAppendElement(NULL, prefix, Tcl_NewStringObj("destroy", -1));
		FUZZ_CHECK(call(interp, prefix, NULL, "destroy") == TCL_OK, "destroy");
		Tcl_DecrRefCount(before);
		Tcl_DecrRefCount(machine);
	}
	Tcl_DecrRefCount(prefix);
	for (i = 0; i < 3; i++)
		Tcl_DecrRefCount(line[i]);
	Tcl_DeleteInterp(interp);
	return 0;
}
