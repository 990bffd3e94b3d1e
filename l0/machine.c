/*
 * nb_machine_run: one machine from start to finish. Sets up KVM, loads the image, runs the vCPU,
 * serves its exits, drains its trace ring and records everything, and keeps what was recorded
 * whatever way the run ends.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "l0/boot_loader.h"
#include "l0/crash_report.h"
#include "l0/machine.h"
#include "shadow/svm_exit.h"

/* The run loop's periodic wake-up: checks the timeout and a guest halted for good, drains the
 * ring and commits the store, so a crash of L0 loses at most one tick of events. */
#define TICK_NS 100000000L

static __thread struct kvm_run *tl_run;
static volatile sig_atomic_t stop_requested;

static void kick_handler(int sig)
{
	(void)sig;
	if (tl_run)
		tl_run->immediate_exit = 1;
}

void nb_machine_stop(void)
{
	stop_requested = 1;
	kick_handler(0);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void nb_machine_store_failed(struct nb_machine *m, const struct nb_error *e)
{
	if (!m->store_failed)
		*m->err = *e;
	m->store_failed = 1;
	m->stopping = 1;
}

void nb_machine_event_init(struct nb_machine *m, struct nb_trace_record *rec, uint16_t kind, uint64_t exit_code)
{
	memset(rec, 0, sizeof(*rec));
	rec->tsc = __rdtsc() + m->tsc_offset;
	rec->kind = kind;
	rec->rec_level = 0;
	rec->guest_level = 1;
	rec->vm_id = 1;
	rec->exit_code = exit_code;
	rec->rip = m->exit_rip;
	rec->insn_len = m->exit_insn_len;
	memcpy(rec->insn, m->exit_insn, sizeof(rec->insn));
}

void nb_machine_record(struct nb_machine *m, struct nb_trace_record *rec)
{
	struct nb_error e;

	m->res->levels = m->res->levels ? m->res->levels : 1;
	if (!m->store || m->store_failed)
		return;
	if (nb_store_event(m->store, rec, &e) < 0)
		nb_machine_store_failed(m, &e);
}

static int ring_sink(void *ctx, const struct nb_trace_record *rec)
{
	struct nb_machine *m = ctx;
	struct nb_error e;

	if (rec->guest_level > m->res->levels)
		m->res->levels = rec->guest_level;
	if (rec->rec_level == 1 && (rec->kind == NB_EV_TRAP || rec->kind == NB_EV_EXIT_REFLECTED))
		nb_kvm_trace_boundary(m->kvm_trace, rec->tsc);
	if (!m->store)
		return 0;
	if (nb_store_event(m->store, rec, &e) < 0) {
		nb_machine_store_failed(m, &e);
		return -1;
	}
	return 0;
}

static int kvm_trace_sink(void *ctx, struct nb_trace_record *rec)
{
	struct nb_machine *m = ctx;
	struct nb_error e;

	if (nb_store_event(m->store, rec, &e) < 0) {
		nb_machine_store_failed(m, &e);
		return -1;
	}
	return 0;
}

/* KVM's events up to now, after L1's ring: the L1 trap records that cut the counts of emulated
 * instructions are known by then (the vCPU is stopped while L0 runs). */
static void kvm_trace_collect(struct nb_machine *m)
{
	uint64_t lost = 0;
	struct nb_error e;

	if (!m->kvm_trace || !m->store || m->store_failed)
		return;
	nb_kvm_trace_collect(m->kvm_trace, m->tsc_offset, kvm_trace_sink, m, &lost);
	if (lost && !m->store_failed && nb_store_lost(m->store, 0, 1, "tracefs-overrun", lost, &e) < 0)
		nb_machine_store_failed(m, &e);
}

void nb_machine_drain_ring(struct nb_machine *m)
{
	struct nb_ring_reader *rd = &m->ring;
	uint64_t before[4] = {rd->lost_reported, rd->torn, rd->invalid, rd->overrun};
	static const char *const reasons[4] = {"ring-full", "torn", "invalid", "overrun"};
	uint64_t after[4], lost = 0;
	struct nb_error e;
	int i;

	if (!m->have_ring || m->store_failed) {
		kvm_trace_collect(m);
		return;
	}
	nb_ring_drain(rd, ring_sink, m, &lost);
	after[0] = rd->lost_reported;
	after[1] = rd->torn;
	after[2] = rd->invalid;
	after[3] = rd->overrun;
	m->res->records_lost += lost;
	for (i = 0; i < 4 && m->store && !m->store_failed; i++)
		if (after[i] > before[i] && nb_store_lost(m->store, 1, 1, reasons[i], after[i] - before[i], &e) < 0)
			nb_machine_store_failed(m, &e);
	kvm_trace_collect(m);
}

/* Length of an IN/OUT/INS/OUTS instruction for `port` starting at b (n bytes), or 0. */
static int io_insn_len(const uint8_t *b, size_t n, uint16_t port)
{
	size_t i = 0;

	while (i < n && i < 3 && (b[i] == 0x66 || b[i] == 0xf3 || b[i] == 0xf2))
		i++;
	if (i >= n)
		return 0;
	if (b[i] >= 0xe4 && b[i] <= 0xe7)
		return i + 1 < n && b[i + 1] == (port & 0xff) ? (int)i + 2 : 0;
	if ((b[i] >= 0xec && b[i] <= 0xef) || (b[i] >= 0x6c && b[i] <= 0x6f))
		return (int)i + 1;
	return 0;
}

/*
 * KVM completes a port I/O instruction before it exits to user space, so RIP already points
 * past it (measured on these machines). Find the instruction that ends at RIP; if none does, the
 * instruction has not completed yet and starts at RIP. CS is flat in every mode nestbed boots.
 */
static void locate_io_insn(struct nb_machine *m, uint64_t rip, uint16_t port)
{
	uint8_t b[8];
	size_t n;
	int start, len;

	m->exit_rip = rip;
	m->exit_insn_len = 0;
	if (rip >= 4 && nb_kvm_read_linear(&m->kvm, rip - 4, b, 4) == 4) {
		for (start = 0; start < 4; start++) {
			len = io_insn_len(b + start, 4 - start, port);
			if (len == 4 - start) {
				m->exit_rip = rip - len;
				m->exit_insn_len = len;
				memcpy(m->exit_insn, b + start, len);
				return;
			}
		}
	}
	n = nb_kvm_read_linear(&m->kvm, rip, b, sizeof(b));
	len = io_insn_len(b, n, port);
	if (len > 0) {
		m->exit_insn_len = len;
		memcpy(m->exit_insn, b, len);
	}
}

static void locate_insn_at_rip(struct nb_machine *m, uint64_t rip, int bits)
{
	uint8_t b[16];
	char text[128];
	size_t n = nb_kvm_read_linear(&m->kvm, rip, b, sizeof(b));
	int len = nb_describe_insn(b, n, rip, bits, text, sizeof(text));

	m->exit_rip = rip;
	m->exit_insn_len = len;
	memcpy(m->exit_insn, b, len);
}

static void stop_with_report(struct nb_machine *m, enum nb_stop_reason reason, uint16_t kind, uint64_t exit_code,
			     const char *why)
{
	struct nb_trace_record rec;

	m->exit_insn_len = 0;
	nb_machine_event_init(m, &rec, kind, exit_code);
	nb_crash_report(&m->kvm, why, &rec, m->res->report, sizeof(m->res->report));
	/* A timeout is L0's decision, not something the guest did: reported, not an event. */
	if (kind != NB_EV_NONE)
		nb_machine_record(m, &rec);
	m->res->reason = reason;
	m->stopping = 1;
}

static void handle_mmio(struct nb_machine *m)
{
	struct kvm_run *run = m->kvm.run;
	struct nb_trace_record rec;
	struct kvm_regs regs;
	uint64_t v = 0;

	if (nb_kvm_get_regs(&m->kvm, &regs) == 0)
		locate_insn_at_rip(m, regs.rip, 64);
	nb_machine_event_init(m, &rec, NB_EV_MMIO, SVM_EXIT_NB_MMIO);
	rec.addr = run->mmio.phys_addr;
	rec.aux = run->mmio.len | (run->mmio.is_write ? NB_IO_DIR_OUT : 0);
	memcpy(&v, run->mmio.data, run->mmio.len > 8 ? 8 : run->mmio.len);
	/* Nothing is mapped there: reads see all ones, writes vanish, as on a real bus. */
	if (run->mmio.is_write) {
		rec.new_val = v;
	} else {
		memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		rec.old_val = ~0ull;
	}
	if (m->cfg->verbose)
		fprintf(stderr, "nestbed: guest %s unassigned physical address 0x%llx (size %u) at RIP 0x%llx\n",
			run->mmio.is_write ? "wrote" : "read", (unsigned long long)run->mmio.phys_addr,
			run->mmio.len, (unsigned long long)regs.rip);
	nb_machine_record(m, &rec);
}

static void handle_exit(struct nb_machine *m)
{
	struct kvm_run *run = m->kvm.run;
	char why[256];

	m->res->exits++;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		locate_io_insn(m, m->kvm.sync_regs ? run->s.regs.regs.rip : 0, run->io.port);
		nb_ports_io(m, run->io.port, run->io.direction == KVM_EXIT_IO_OUT, run->io.size,
			    (uint8_t *)run + run->io.data_offset, run->io.count);
		break;
	case KVM_EXIT_MMIO:
		handle_mmio(m);
		break;
	case KVM_EXIT_HLT:
		stop_with_report(m, NB_STOP_HALTED, NB_EV_HLT, SVM_EXIT_HLT, "guest halted (HLT exit)");
		break;
	case KVM_EXIT_SHUTDOWN:
		stop_with_report(m, NB_STOP_SHUTDOWN, NB_EV_SHUTDOWN, SVM_EXIT_SHUTDOWN,
				 "guest triple fault (KVM_EXIT_SHUTDOWN)");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		snprintf(why, sizeof(why), "guest system event %u (shutdown or reset)", run->system_event.type);
		stop_with_report(m, NB_STOP_SHUTDOWN, NB_EV_SHUTDOWN, SVM_EXIT_SHUTDOWN, why);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error, suberror %u%s", run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (instruction emulation failed)" : "");
		stop_with_report(m, NB_STOP_INTERNAL_ERROR, NB_EV_EMULATION_ERROR, SVM_EXIT_NB_INTERNAL_ERROR, why);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "KVM could not enter the guest (hardware entry failure reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		stop_with_report(m, NB_STOP_FAIL_ENTRY, NB_EV_EMULATION_ERROR, SVM_EXIT_NB_FAIL_ENTRY, why);
		break;
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit reason %u", run->exit_reason);
		stop_with_report(m, NB_STOP_BAD_EXIT, NB_EV_EMULATION_ERROR, SVM_EXIT_NB_INTERNAL_ERROR, why);
		break;
	}
}

/* A halted vCPU with interrupts masked can never run again: say so instead of waiting forever. */
static int halted_forever(struct nb_machine *m)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;

	if (ioctl(m->kvm.vcpu_fd, KVM_GET_MP_STATE, &mp) < 0 || mp.mp_state != KVM_MP_STATE_HALTED)
		return 0;
	if (ioctl(m->kvm.vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	return !(regs.rflags & 0x200);
}

static void tick(struct nb_machine *m, double start)
{
	const struct nb_machine_config *cfg = m->cfg;
	struct nb_error e;

	if (stop_requested) {
		m->res->reason = NB_STOP_INTERRUPTED;
		m->stopping = 1;
		return;
	}
	if (cfg->timeout_s > 0 && now_s() - start >= cfg->timeout_s) {
		char why[128];
		snprintf(why, sizeof(why), "wall-clock timeout of %g s reached", cfg->timeout_s);
		stop_with_report(m, NB_STOP_TIMEOUT, NB_EV_NONE, 0, why);
		return;
	}
	if (halted_forever(m)) {
		stop_with_report(m, NB_STOP_HALTED, NB_EV_HLT, SVM_EXIT_HLT,
				 "guest halted with interrupts disabled: nothing can wake it");
		return;
	}
	nb_machine_drain_ring(m);
	if (m->store && !m->store_failed && nb_store_flush(m->store, &e) < 0)
		nb_machine_store_failed(m, &e);
}

static int start_ticker(timer_t *timer, struct nb_error *err)
{
	struct sigevent sev;
	struct sigaction sa;
	struct itimerspec its = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN + 4, &sa, NULL);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGRTMIN + 4;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, timer) < 0 || timer_settime(*timer, 0, &its, NULL) < 0)
		return nb_error_set(err, NB_E_INTERNAL, "run-loop timer: %s", strerror(errno));
	return 0;
}

static int run_loop(struct nb_machine *m, double call_start, struct nb_error *err)
{
	double start = now_s();
	timer_t timer;
	int rc = 0;

	if (start_ticker(&timer, err) < 0)
		return -NB_E_INTERNAL;
	tl_run = m->kvm.run;
	m->res->setup_s = start - call_start;
	while (!m->stopping) {
		if (stop_requested) {
			tick(m, start);
			continue;
		}
		if (ioctl(m->kvm.vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				m->kvm.run->immediate_exit = 0;
				tick(m, start);
				continue;
			}
			rc = nb_error_set(err, NB_E_KVM, "KVM_RUN: %s", strerror(errno));
			break;
		}
		if (m->res->exits == 0)
			m->res->first_exit_s = now_s() - start;
		handle_exit(m);
	}
	tl_run = NULL;
	timer_delete(timer);
	m->res->wall_s = now_s() - start;
	return rc;
}

static void set_segment(struct kvm_segment *s, uint16_t sel, int code, int long_mode)
{
	*s = (struct kvm_segment){.base = 0, .limit = 0xffffffff, .selector = sel, .type = code ? 11 : 3,
				  .present = 1, .dpl = 0, .db = long_mode && code ? 0 : 1, .s = 1,
				  .l = long_mode && code, .g = 1};
}

static int set_boot_state(struct nb_kvm *k, const struct nb_boot_plan *p, struct nb_error *err)
{
	int lm = p->mode == NB_BOOT_MODE_LONG64;
	struct kvm_sregs s;
	struct kvm_regs r;

	if (nb_kvm_get_sregs(k, &s) < 0)
		return nb_error_set(err, NB_E_KVM, "KVM_GET_SREGS: %s", strerror(errno));
	set_segment(&s.cs, p->cs, 1, lm);
	set_segment(&s.ds, p->ds, 0, lm);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.gdt.base = p->gdt_base;
	s.gdt.limit = p->gdt_limit;
	s.cr0 = p->cr0;
	s.cr3 = p->cr3;
	s.cr4 = p->cr4;
	s.efer = p->efer;
	if (ioctl(k->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return nb_error_set(err, NB_E_KVM, "KVM_SET_SREGS (%s entry state): %s",
				    lm ? "long mode" : "protected mode", strerror(errno));
	memset(&r, 0, sizeof(r));
	r.rip = p->rip;
	r.rsp = p->rsp;
	r.rflags = p->rflags;
	r.rax = p->rax;
	r.rbx = p->rbx;
	r.rdi = p->rdi;
	if (ioctl(k->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return nb_error_set(err, NB_E_KVM, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

static void default_command_line(const struct nb_machine_config *cfg, char *buf, size_t len)
{
	int i, n = snprintf(buf, len, "nestbed run %s --memory %lluM", cfg->image_path,
			    (unsigned long long)(cfg->mem_bytes >> 20));

	for (i = 0; i < cfg->module_count && n > 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - n, " --module %s=%s%s%s", cfg->modules[i].name, cfg->modules[i].path,
			      cfg->modules[i].args[0] ? "," : "", cfg->modules[i].args);
}

struct loaded_files {
	uint8_t *image;
	size_t image_len;
	uint8_t *module_data[NB_MAX_MODULES];
	struct nb_boot_module_data modules[NB_MAX_MODULES];
};

static int load_files(const struct nb_machine_config *cfg, struct loaded_files *f, struct nb_error *err)
{
	char what[64];
	int i, rc;

	rc = nb_file_read(cfg->image_path, "guest image", &f->image, &f->image_len, err);
	for (i = 0; rc == 0 && i < cfg->module_count; i++) {
		snprintf(what, sizeof(what), "module '%s'", cfg->modules[i].name);
		rc = nb_file_read(cfg->modules[i].path, what, &f->module_data[i], &f->modules[i].len, err);
		f->modules[i].name = cfg->modules[i].name;
		f->modules[i].args = cfg->modules[i].args;
		f->modules[i].data = f->module_data[i];
	}
	return rc;
}

static void free_files(struct loaded_files *f)
{
	int i;

	free(f->image);
	for (i = 0; i < NB_MAX_MODULES; i++)
		free(f->module_data[i]);
}

static int check_config(const struct nb_machine_config *cfg, struct nb_error *err)
{
	if (!cfg->image_path || !cfg->image_path[0])
		return nb_error_set(err, NB_E_USAGE, "no guest image given");
	if (cfg->mem_bytes < (4ull << 20) || cfg->mem_bytes > (3ull << 30))
		return nb_error_set(err, NB_E_USAGE,
				    "guest memory of %llu bytes: must be between 4 MiB and 3 GiB (the top GiB of "
				    "the 32-bit space holds the APIC and I/O APIC)",
				    (unsigned long long)cfg->mem_bytes);
	if (cfg->mem_bytes & 0xfff)
		return nb_error_set(err, NB_E_USAGE, "guest memory of %llu bytes: not a multiple of 4 KiB",
				    (unsigned long long)cfg->mem_bytes);
	if (cfg->module_count < 0 || cfg->module_count > NB_MAX_MODULES)
		return nb_error_set(err, NB_E_USAGE, "%d modules: at most %d", cfg->module_count, NB_MAX_MODULES);
	if (cfg->tracing && (cfg->ring_bytes < 4096 || cfg->ring_bytes > cfg->mem_bytes / 2))
		return nb_error_set(err, NB_E_USAGE, "trace ring of %llu bytes: must be at least 4 KiB and at most half of memory",
				    (unsigned long long)cfg->ring_bytes);
	if (cfg->timeout_s < 0)
		return nb_error_set(err, NB_E_USAGE, "timeout %g s: must not be negative", cfg->timeout_s);
	return 0;
}

static int begin_store(struct nb_machine *m, const struct nb_boot_plan *plan, struct nb_error *err)
{
	const struct nb_machine_config *cfg = m->cfg;
	struct nb_run_info info;
	struct utsname u;
	char kernel[256], cmd[8192];
	int rc;

	uname(&u);
	snprintf(kernel, sizeof(kernel), "%s %s %s", u.sysname, u.release, u.version);
	if (!cfg->command_line)
		default_command_line(cfg, cmd, sizeof(cmd));
	info = (struct nb_run_info){.command_line = cfg->command_line ? cfg->command_line : cmd,
				    .host_kernel = kernel,
				    .kvm_flavour = m->kvm.flavour,
				    .tsc_khz = nb_kvm_tsc_khz(&m->kvm)};
	rc = nb_store_run_begin(m->store, &info, &m->res->run_id, err);
	if (rc == 0)
		rc = nb_store_vm_add(m->store, 1, 1, 0, cfg->image_path, cfg->mem_bytes, cfg->options, err);
	(void)plan;
	return rc;
}

static void set_exit_status(struct nb_run_result *res)
{
	switch (res->reason) {
	case NB_STOP_GUEST_EXIT:
		break;
	case NB_STOP_STORE_FAILED:
		res->exit_status = NB_STATUS_SETUP;
		break;
	case NB_STOP_TIMEOUT:
		res->exit_status = NB_STATUS_TIMEOUT;
		break;
	case NB_STOP_INTERRUPTED:
		res->exit_status = NB_STATUS_INTERRUPTED;
		break;
	default:
		res->exit_status = NB_STATUS_CRASH;
		break;
	}
}

/* The store's error (which names the database and the cause), and what became of the run. */
static int store_failure_message(struct nb_error *err)
{
	char cause[NB_ERRMSG_LEN];

	snprintf(cause, sizeof(cause), "%s", err->msg);
	return nb_error_set(err, err->code, "%s; the run was stopped, and what was committed before stays in the"
			    " database", cause);
}

int nb_machine_run(const struct nb_machine_config *cfg, struct nb_run_result *res, struct nb_error *err)
{
	struct nb_machine m = {.cfg = cfg, .res = res, .err = err};
	struct loaded_files files = {0};
	struct nb_boot_request req;
	struct nb_boot_plan plan;
	struct nb_guest_mem gm;
	struct nb_error e2;
	double call_start = now_s();
	int rc;

	memset(res, 0, sizeof(*res));
	m.kvm.kvm_fd = m.kvm.vm_fd = m.kvm.vcpu_fd = -1;
	stop_requested = 0;
	rc = check_config(cfg, err);
	if (rc == 0)
		rc = load_files(cfg, &files, err);
	if (rc == 0)
		rc = nb_kvm_open(&m.kvm, cfg->kvm_path ? cfg->kvm_path : "/dev/kvm", err);
	if (rc == 0 && cfg->db_path)
		rc = nb_store_open(cfg->db_path, NULL, &m.store, err);
	if (rc == 0)
		rc = nb_kvm_create_machine(&m.kvm, cfg->mem_bytes, err);
	if (rc == 0) {
		gm = (struct nb_guest_mem){.host = m.kvm.mem, .size = m.kvm.mem_size};
		req = (struct nb_boot_request){.image_name = cfg->image_path,
					       .image = files.image,
					       .image_len = files.image_len,
					       .modules = files.modules,
					       .module_count = cfg->module_count,
					       .options = cfg->options ? cfg->options : "",
					       .ring_bytes = cfg->tracing ? cfg->ring_bytes : 0,
					       .level = 1,
					       .vm_id = 1,
					       .tsc_khz = (uint32_t)nb_kvm_tsc_khz(&m.kvm)};
		rc = nb_boot_prepare(&gm, &req, &plan, err);
	}
	if (rc == 0)
		rc = set_boot_state(&m.kvm, &plan, err);
	if (rc == 0 && plan.ring_addr) {
		if (nb_ring_reader_init(&m.ring, m.kvm.mem + plan.ring_addr, plan.ring_size, 1) < 0)
			rc = nb_error_set(err, NB_E_USAGE, "trace ring of %llu bytes is too small",
					  (unsigned long long)plan.ring_size);
		m.have_ring = rc == 0;
	}
	if (rc == 0) {
		m.tsc_offset = nb_kvm_tsc_offset(&m.kvm);
		if (m.store)
			rc = begin_store(&m, &plan, err);
	}
	if (rc == 0 && m.store && cfg->kvm_events) {
		/* This thread runs the vCPU: KVM's events are filtered to it. */
		char why[256];
		if (nb_kvm_trace_start(&m.kvm_trace, (pid_t)syscall(SYS_gettid), why, sizeof(why)) < 0)
			fprintf(stderr, "nestbed: level 0 is limited to exits that reach userspace: %s\n", why);
	}
	if (rc == 0) {
		rc = run_loop(&m, call_start, err);
		nb_console_flush(&m);
		nb_machine_drain_ring(&m);
		if (m.store_failed && res->reason == NB_STOP_NONE)
			res->reason = NB_STOP_STORE_FAILED;
		set_exit_status(res);
		if (m.store_failed)
			rc = store_failure_message(err);
		if (m.store) {
			/* A run whose trace could not be written whole is ended but not completed. */
			int end = nb_store_run_end(m.store, !m.store_failed, res->exit_status,
						   nb_stop_reason_name(res->reason), res->report, &e2);
			if (end < 0 && rc == 0) {
				*err = e2;
				rc = end;
			}
			res->events = nb_store_event_count(m.store);
		}
	}
	nb_kvm_trace_stop(m.kvm_trace);
	if (m.store)
		nb_store_close(m.store);
	nb_kvm_close(&m.kvm);
	free_files(&files);
	if (rc < 0 && res->exit_status == 0)
		res->exit_status = NB_STATUS_SETUP;
	return rc;
}
