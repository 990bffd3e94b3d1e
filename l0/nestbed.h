/*
 * libnestbed: the L0 host VMM as a library. The `nestbed` program and the Tcl extension are thin
 * front ends over this header; neither shells out to the other.
 *
 * One call runs one machine: nb_machine_run() opens /dev/kvm, creates a VM with the in-kernel
 * interrupt controller and timer, loads the image (a 64-bit ELF on the nestbed boot protocol, or
 * a Multiboot v1 kernel), runs its vCPU until the guest stops, and records everything into the
 * trace store when a database path is given.
 */
#ifndef NESTBED_L0_H
#define NESTBED_L0_H

#include <stddef.h>
#include <stdint.h>

#define NB_MAX_MODULES 16
#define NB_ERRMSG_LEN 512

/* Error codes: functions return 0 or one of these, negated. */
enum nb_error_code {
	NB_OK = 0,
	NB_E_USAGE = 1,   /* bad option or argument */
	NB_E_KVM = 2,     /* /dev/kvm missing, not KVM, or an ioctl failed */
	NB_E_IMAGE = 3,   /* image or module unreadable or malformed */
	NB_E_DB = 4,      /* trace database cannot be created or written */
	NB_E_NOMEM = 5,   /* host out of memory, or guest memory too small for what was asked */
	NB_E_GUEST = 6,   /* the guest misbehaved (triple fault, emulation failure...) */
	NB_E_TIMEOUT = 7, /* the wall-clock timeout ended the run */
	NB_E_DEPTH = 8,   /* a machine tree deeper than the images available */
	NB_E_INTERNAL = 9,
};

/* A clear message saying what went wrong and where, and the code for scripts to test. */
struct nb_error {
	int code; /* enum nb_error_code */
	char msg[NB_ERRMSG_LEN];
};

/* printf-style: fills err (if not NULL) and returns -code. */
int nb_error_set(struct nb_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Short name of an error code ("KVM", "IMAGE"...), for -errorcode lists. */
const char *nb_error_name(int code);

struct nb_module_spec {
	char name[32];
	char path[4096];
	char args[128];
};

/* Parses "name=path[,args]" as given to --module. */
int nb_module_spec_parse(const char *spec, struct nb_module_spec *out, struct nb_error *err);

/* Console output of the guest, one line at a time (without the newline). */
typedef void (*nb_console_fn)(void *ctx, int level, const char *line, size_t len);

struct nb_machine_config {
	const char *kvm_path;    /* NULL: "/dev/kvm" */
	const char *image_path;  /* the L1 image */
	uint64_t mem_bytes;      /* 0: 64 MiB */
	struct nb_module_spec modules[NB_MAX_MODULES];
	int module_count;
	const char *options;     /* options string passed to the guest (boot info / multiboot cmdline) */
	const char *db_path;     /* NULL: no trace store */
	double timeout_s;        /* wall-clock limit; 0: none */
	uint64_t ring_bytes;     /* trace ring size in guest memory; 0: 1 MiB */
	int tracing;             /* 0 turns the guest's trace ring off (ring address 0 in boot info) */
	int kvm_events;          /* record KVM's own events as level 0 when root (needs db_path; default 0,
				  * the nestbed program turns it on) */
	int console_stdout;      /* print the console on stdout with a "[L1] " prefix */
	int verbose;             /* progress and exit counts on stderr */
	nb_console_fn console_fn;/* NULL: none */
	void *console_ctx;
	const char *command_line;/* recorded in the runs table; NULL: built from the config */
};

/* Parses a size as users write it: "64M", "1G", "512KiB", "4096". 0, or -1 when it is not one. */
int nb_size_parse(const char *s, uint64_t *out);

/* Defaults for every field. */
void nb_machine_config_init(struct nb_machine_config *cfg);

enum nb_stop_reason {
	NB_STOP_NONE = 0,
	NB_STOP_GUEST_EXIT = 1,    /* the guest wrote the debug-exit port or made the exit hypercall */
	NB_STOP_TIMEOUT = 2,
	NB_STOP_SHUTDOWN = 3,      /* triple fault */
	NB_STOP_INTERNAL_ERROR = 4,/* KVM internal error, including emulation failure */
	NB_STOP_FAIL_ENTRY = 5,
	NB_STOP_BAD_EXIT = 6,      /* an exit L0 does not handle (unknown MMIO, unknown port...) */
	NB_STOP_HALTED = 7,        /* halted with interrupts disabled: can never wake up */
	NB_STOP_INTERRUPTED = 8,   /* the host asked it to stop (SIGINT, SIGTERM, nb_machine_stop) */
	NB_STOP_STORE_FAILED = 9,  /* the trace database could not be written (disk full, I/O error) */
};

const char *nb_stop_reason_name(int reason);

/* Process exit statuses when the guest did not choose one (as timeout(1) and shells do). */
#define NB_STATUS_TIMEOUT 124
#define NB_STATUS_SETUP 125       /* nestbed could not set the run up (bad input, no KVM...) or write its trace */
#define NB_STATUS_CRASH 126       /* triple fault, emulation failure, halted forever, bad exit */
#define NB_STATUS_INTERRUPTED 130

struct nb_run_result {
	enum nb_stop_reason reason;
	int exit_status;         /* process exit status: the guest's, or non-zero when it did not exit */
	int guest_exited;        /* 1 when the guest chose its exit status */
	int64_t run_id;          /* in the trace store, 0 if none */
	uint64_t exits;          /* userspace exits L0 handled */
	uint64_t events;         /* events stored (all levels) */
	uint64_t records_lost;   /* records lost from rings (full or torn) */
	uint64_t console_lines;
	int levels;              /* deepest level that recorded anything */
	double wall_s;           /* from the first KVM_RUN to the end of the run */
	double setup_s;          /* from the call to the first KVM_RUN: KVM set-up, loading, store */
	double first_exit_s;     /* from the first KVM_RUN to the guest's first exit to L0 */
	char report[4096];       /* for crashes: exit reason, RIP, decoded instruction, registers */
};

/*
 * Runs the machine to completion. Returns 0 when the run took place (whatever the guest did;
 * see result->reason and exit_status), or a negative error when it could not be set up or its
 * trace could not be written; err says what and where. The trace recorded so far is kept.
 */
int nb_machine_run(const struct nb_machine_config *cfg, struct nb_run_result *result,
		   struct nb_error *err);

/* Asks the machine running in this process to stop at its next exit (async-signal-safe). */
void nb_machine_stop(void);

#endif
