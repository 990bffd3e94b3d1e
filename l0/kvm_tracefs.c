/* KVM's own events as level 0 (see kvm_tracefs.h), through libtracefs and libtraceevent. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "l0/kvm_tracefs.h"

#ifndef HAVE_TRACEFS

int nb_kvm_trace_start(struct nb_kvm_trace **out, pid_t tid, char *why, size_t why_len)
{
	(void)tid;
	*out = NULL;
	snprintf(why, why_len, "nestbed was built without libtracefs (install libtracefs-dev and "
			       "libtraceevent-dev, then configure again)");
	return -1;
}

void nb_kvm_trace_boundary(struct nb_kvm_trace *kt, uint64_t ts)
{
	(void)kt, (void)ts;
}

int nb_kvm_trace_collect(struct nb_kvm_trace *kt, int64_t tsc_offset, nb_kvm_trace_sink sink,
			 void *ctx, uint64_t *lost)
{
	(void)kt, (void)tsc_offset, (void)sink, (void)ctx, (void)lost;
	return 0;
}

void nb_kvm_trace_stop(struct nb_kvm_trace *kt)
{
	(void)kt;
}

#else

#include <event-parse.h>
#include <tracefs.h>

/* Per-CPU buffer: at about a million emulated instructions a second and one drain every 100 ms
 * at least, 16 MiB holds a tick's worth with room to spare. */
#define KT_BUFFER_KB 16384

static const char *const kt_events[] = {"kvm_inj_exception", "kvm_pio", "kvm_mmio", "kvm_emulate_insn",
					 "kvm_exit"};
enum { KT_INJ, KT_PIO, KT_MMIO, KT_EMULATE, KT_EXIT, KT_COUNT };

struct nb_kvm_trace {
	struct tracefs_instance *inst;
	int hold;              /* a file of the instance, open while it is in use (see stale_instance) */
	struct tep_handle *tep;
	int id[KT_COUNT];      /* tep event ids, -1 when the host lacks the event */
	uint64_t *bound;       /* L1 trap timestamps not yet passed, ascending */
	size_t nbound, capbound, next;
	/* the run of emulated instructions being counted */
	uint64_t run_count, run_first, run_last, run_rip;
	/* collection in progress */
	int64_t offset;
	nb_kvm_trace_sink sink;
	void *ctx;
	int stop;
	uint64_t overruns;     /* the kernel's overrun count already reported */
};

/*
 * An instance left by a nestbed that was killed (SIGKILL gives it no chance to remove it) would
 * keep KT_BUFFER_KB of kernel memory per CPU for good: each run removes those whose process is
 * gone. A running nestbed holds a file of its instance open, and the kernel refuses to remove an
 * instance with open files (EBUSY), so a pid that names another process than its owner (another
 * PID namespace on the same kernel) costs nothing.
 */
static int stale_instance(const char *name, void *ctx)
{
	struct tracefs_instance *inst;
	char *end;
	long pid;

	(void)ctx;
	if (strncmp(name, "nestbed-", 8) != 0)
		return 0;
	pid = strtol(name + 8, &end, 10);
	if (*end || end == name + 8 || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 ||
	    errno != ESRCH)
		return 0;
	inst = tracefs_instance_alloc(NULL, name);
	if (inst) {
		tracefs_instance_destroy(inst);
		tracefs_instance_free(inst);
	}
	return 0;
}

int nb_kvm_trace_start(struct nb_kvm_trace **out, pid_t tid, char *why, size_t why_len)
{
	static const char *const systems[] = {"kvm", NULL};
	struct nb_kvm_trace *kt;
	char name[64], pid[32];
	int i, any = 0;

	*out = NULL;
	if (geteuid() != 0) {
		snprintf(why, why_len, "not root (KVM's own events need tracefs)");
		return -1;
	}
	if (!tracefs_tracing_dir()) {
		snprintf(why, why_len, "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)");
		return -1;
	}
	kt = calloc(1, sizeof(*kt));
	if (!kt) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	kt->hold = -1;
	tracefs_instances_walk(stale_instance, NULL);
	snprintf(name, sizeof(name), "nestbed-%d", (int)getpid());
	kt->inst = tracefs_instance_create(name);
	kt->tep = tracefs_local_events_system(NULL, systems);
	if (kt->inst) {
		char *path = tracefs_instance_get_file(kt->inst, "tracing_on");
		kt->hold = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		tracefs_put_tracing_file(path);
	}
	if (!kt->inst || !kt->tep || kt->hold < 0) {
		snprintf(why, why_len, "cannot create tracefs instance %s or read the kvm event formats: %s", name,
			 strerror(errno));
		nb_kvm_trace_stop(kt);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%d", (int)tid);
	if (tracefs_instance_file_write(kt->inst, "tracing_on", "0") < 0 ||
	    tracefs_instance_file_write(kt->inst, "trace_clock", "x86-tsc") < 0 ||
	    tracefs_instance_file_write(kt->inst, "options/event-fork", "0") < 0 ||
	    tracefs_instance_file_write(kt->inst, "set_event_pid", pid) < 0 ||
	    tracefs_instance_set_buffer_size(kt->inst, KT_BUFFER_KB, -1) < 0) {
		snprintf(why, why_len, "cannot set up tracefs instance %s: %s", name, strerror(errno));
		nb_kvm_trace_stop(kt);
		return -1;
	}
	for (i = 0; i < KT_COUNT; i++) {
		struct tep_event *ev = tep_find_event_by_name(kt->tep, "kvm", kt_events[i]);
		kt->id[i] = -1;
		if (ev && tracefs_event_enable(kt->inst, "kvm", kt_events[i]) == 0) {
			kt->id[i] = ev->id;
			any = 1;
		}
	}
	if (!any || tracefs_trace_on(kt->inst) < 0) {
		snprintf(why, why_len, "cannot enable the kvm events in tracefs instance %s", name);
		nb_kvm_trace_stop(kt);
		return -1;
	}
	*out = kt;
	return 0;
}

void nb_kvm_trace_boundary(struct nb_kvm_trace *kt, uint64_t ts)
{
	if (!kt)
		return;
	if (kt->nbound == kt->capbound) {
		size_t cap = kt->capbound ? kt->capbound * 2 : 1024;
		uint64_t *g = realloc(kt->bound, cap * sizeof(*g));
		if (!g)
			return; /* a lost cut only merges two counts */
		kt->bound = g;
		kt->capbound = cap;
	}
	kt->bound[kt->nbound++] = ts;
}

static uint64_t field(struct tep_event *ev, struct tep_record *r, const char *name)
{
	unsigned long long v = 0;

	tep_get_field_val(NULL, ev, name, r, &v, 0);
	return v;
}

static void emit(struct nb_kvm_trace *kt, struct nb_trace_record *rec)
{
	rec->rec_level = 0;
	rec->guest_level = 1;
	rec->vm_id = 1;
	if (!kt->stop && kt->sink(kt->ctx, rec))
		kt->stop = 1;
}

static void flush_run(struct nb_kvm_trace *kt)
{
	struct nb_trace_record rec;

	if (!kt->run_count)
		return;
	memset(&rec, 0, sizeof(rec));
	rec.kind = NB_EV_KVM_EMULATED;
	rec.tsc = kt->run_first;
	rec.exit_info2 = kt->run_last;
	rec.rip = kt->run_rip;
	rec.aux = kt->run_count;
	kt->run_count = 0;
	emit(kt, &rec);
}

static int on_event(struct tep_event *ev, struct tep_record *r, int cpu, void *ctx)
{
	struct nb_kvm_trace *kt = ctx;
	struct nb_trace_record rec;
	uint64_t ts = r->ts + (uint64_t)kt->offset;
	int dir;

	(void)cpu;
	/* An L1 trap record between the run and this event ends the run. */
	if (kt->next < kt->nbound && kt->bound[kt->next] <= ts) {
		flush_run(kt);
		while (kt->next < kt->nbound && kt->bound[kt->next] <= ts)
			kt->next++;
	}
	if (ev->id == kt->id[KT_EMULATE]) {
		if (!kt->run_count) {
			kt->run_first = ts;
			kt->run_rip = field(ev, r, "rip");
		}
		kt->run_last = ts;
		kt->run_count++;
		return kt->stop;
	}
	flush_run(kt);
	memset(&rec, 0, sizeof(rec));
	rec.tsc = ts;
	if (ev->id == kt->id[KT_INJ]) {
		rec.kind = NB_EV_KVM_INJ_EXCEPTION;
		rec.aux = field(ev, r, "exception");
		rec.exit_info1 = field(ev, r, "error_code");
		rec.exit_info2 = field(ev, r, "has_error");
	} else if (ev->id == kt->id[KT_PIO]) {
		rec.kind = NB_EV_KVM_PIO;
		rec.addr = field(ev, r, "port");
		rec.new_val = field(ev, r, "val");
		rec.exit_info1 = field(ev, r, "count");
		dir = field(ev, r, "rw") ? NB_IO_DIR_OUT : 0; /* KVM_PIO_OUT = 1 */
		rec.aux = field(ev, r, "size") | (uint64_t)dir;
	} else if (ev->id == kt->id[KT_MMIO]) {
		rec.kind = NB_EV_KVM_MMIO;
		rec.addr = field(ev, r, "gpa");
		rec.new_val = field(ev, r, "val");
		rec.exit_info1 = field(ev, r, "type");
		dir = rec.exit_info1 == 2 ? NB_IO_DIR_OUT : 0; /* KVM_TRACE_MMIO_WRITE */
		rec.aux = field(ev, r, "len") | (uint64_t)dir;
	} else if (ev->id == kt->id[KT_EXIT]) {
		rec.kind = NB_EV_KVM_EXIT;
		rec.exit_code = field(ev, r, "exit_reason");
		rec.exit_info1 = field(ev, r, "info1");
		rec.exit_info2 = field(ev, r, "info2");
		rec.rip = field(ev, r, "guest_rip");
	} else {
		return kt->stop;
	}
	emit(kt, &rec);
	return kt->stop;
}

/* Events the kernel dropped from the instance's buffers since the last call. */
static uint64_t overruns(struct nb_kvm_trace *kt)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF), c;
	uint64_t total = 0;

	for (c = 0; c < cpus; c++) {
		char path[64], *text, *p;
		snprintf(path, sizeof(path), "per_cpu/cpu%ld/stats", c);
		text = tracefs_instance_file_read(kt->inst, path, NULL);
		if (!text)
			continue;
		p = strstr(text, "overrun: ");
		if (p)
			total += strtoull(p + 9, NULL, 10);
		free(text);
	}
	return total;
}

int nb_kvm_trace_collect(struct nb_kvm_trace *kt, int64_t tsc_offset, nb_kvm_trace_sink sink,
			 void *ctx, uint64_t *lost)
{
	uint64_t o;
	int rc;

	if (!kt)
		return 0;
	kt->offset = tsc_offset;
	kt->sink = sink;
	kt->ctx = ctx;
	kt->stop = 0;
	rc = tracefs_iterate_raw_events(kt->tep, kt->inst, NULL, 0, on_event, kt);
	flush_run(kt);
	/* Forget the cuts passed. */
	memmove(kt->bound, kt->bound + kt->next, (kt->nbound - kt->next) * sizeof(*kt->bound));
	kt->nbound -= kt->next;
	kt->next = 0;
	o = overruns(kt);
	if (o > kt->overruns) {
		*lost += o - kt->overruns;
		kt->overruns = o;
	}
	return rc < 0 || kt->stop ? -1 : 0;
}

void nb_kvm_trace_stop(struct nb_kvm_trace *kt)
{
	if (!kt)
		return;
	if (kt->hold >= 0)
		close(kt->hold);
	if (kt->inst) {
		tracefs_instance_file_write(kt->inst, "tracing_on", "0");
		tracefs_instance_destroy(kt->inst);
		tracefs_instance_free(kt->inst);
	}
	if (kt->tep)
		tep_free(kt->tep);
	free(kt->bound);
	free(kt);
}

#endif
