/*
 * Trace ingest rate: records per second from a filled trace ring, through nb_ring_drain and
 * nb_store_event, into a committed SQLite file. This is the host's share of tracing cost: a run
 * that records faster than this loses records (counted, never silent), so the figure says how
 * much tracing a scenario can afford.
 *
 *   bench/ingest [-n RECORDS] [-o RESULTS_DIR]
 *
 * Producing the records (filling the ring) is not timed; draining, storing and the final commit
 * are. Records are a realistic mix of kinds, levels and addresses, with about 200 distinct
 * instruction byte strings drawn with a skew (a few instructions dominate, as in real traces).
 * Prints a table and writes RESULTS_DIR/ingest.json (default bench/results).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "tracer/ring_reader.h"
#include "tracer/ring_writer.h"
#include "tracer/store.h"

#define RING_RECORDS 65536u
#define DISTINCT_INSNS 200
#define TARGET_RATE 400000.0

struct insn {
	uint8_t len;
	uint8_t bytes[15];
};

static struct insn insns[DISTINCT_INSNS];

/* Instructions a hypervisor traps on or a guest kernel writes page tables with. */
static const struct insn fixed_insns[] = {
	{ 2, { 0x0f, 0xa2 } },             /* cpuid */
	{ 2, { 0x0f, 0x32 } },             /* rdmsr */
	{ 2, { 0x0f, 0x30 } },             /* wrmsr */
	{ 1, { 0xee } },                   /* out dx, al */
	{ 1, { 0xec } },                   /* in al, dx */
	{ 1, { 0xef } },                   /* out dx, eax */
	{ 1, { 0xf4 } },                   /* hlt */
	{ 1, { 0xfa } },                   /* cli */
	{ 1, { 0xfb } },                   /* sti */
	{ 1, { 0x9c } },                   /* pushfq */
	{ 1, { 0x9d } },                   /* popfq */
	{ 2, { 0x48, 0xcf } },             /* iretq */
	{ 3, { 0x0f, 0x22, 0xd8 } },       /* mov cr3, rax */
	{ 3, { 0x0f, 0x20, 0xd8 } },       /* mov rax, cr3 */
	{ 3, { 0x0f, 0x20, 0xd0 } },       /* mov rax, cr2 */
	{ 3, { 0x0f, 0x22, 0xe0 } },       /* mov cr4, rax */
	{ 3, { 0x0f, 0x01, 0x38 } },       /* invlpg [rax] */
	{ 3, { 0x0f, 0x01, 0xd8 } },       /* vmrun */
	{ 3, { 0x0f, 0x01, 0xd9 } },       /* vmmcall */
	{ 3, { 0x0f, 0x01, 0xda } },       /* vmload */
	{ 3, { 0x0f, 0x01, 0xdb } },       /* vmsave */
	{ 3, { 0x0f, 0x01, 0x00 } },       /* sgdt [rax] */
	{ 3, { 0x0f, 0x01, 0x08 } },       /* sidt [rax] */
	{ 3, { 0x0f, 0x01, 0x10 } },       /* lgdt [rax] */
	{ 3, { 0x0f, 0x01, 0xe0 } },       /* smsw eax */
	{ 2, { 0x0f, 0x31 } },             /* rdtsc */
	{ 3, { 0x0f, 0x01, 0xf9 } },       /* rdtscp */
	{ 2, { 0x0f, 0x0b } },             /* ud2 */
	{ 2, { 0xcd, 0x80 } },             /* int 0x80 */
	{ 2, { 0x0f, 0x05 } },             /* syscall */
};

/* Templates whose last byte (a displacement or an immediate) varies, to reach 200 strings. */
static const struct insn templates[] = {
	{ 4, { 0x48, 0x89, 0x47 } },       /* mov [rdi + d8], rax: a page-table entry write */
	{ 4, { 0x48, 0x8b, 0x43 } },       /* mov rax, [rbx + d8] */
	{ 3, { 0x83, 0xc0 } },             /* add eax, imm8 */
	{ 2, { 0xe6 } },                   /* out imm8, al */
	{ 2, { 0xe4 } },                   /* in al, imm8 */
};

static void make_insns(void)
{
	size_t ntemplates = sizeof(templates) / sizeof(templates[0]);
	size_t n = 0, i;

	for (i = 0; i < sizeof(fixed_insns) / sizeof(fixed_insns[0]); i++)
		insns[n++] = fixed_insns[i];
	for (i = 0; n < DISTINCT_INSNS; i++, n++) {
		insns[n] = templates[i % ntemplates];
		insns[n].bytes[insns[n].len - 1] = (uint8_t)(i / ntemplates * 8);
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void make_record(struct nb_trace_record *r, uint64_t i)
{
	static const uint64_t trap_codes[] = { 0x72, 0x7b, 0x7c, 0x4e, 0x4d, 0x80, 0x78, 0x13, 0x46, 0x67 };
	uint64_t x = rng();
	unsigned k = x % 100, level = 1 + (unsigned)(x >> 8) % 3;
	/* Squaring a uniform index skews it: the first instructions are drawn far more often. */
	uint64_t u = (x >> 16) % DISTINCT_INSNS;
	const struct insn *in = &insns[u * u / DISTINCT_INSNS];

	memset(r, 0, sizeof(*r));
	r->tsc = 1000000 + i * 1500;
	r->rec_level = (uint8_t)level;
	r->guest_level = (uint8_t)(level + 1);
	r->vm_id = (uint16_t)(level + 1);
	r->rip = 0xffffffff81000000ull + ((x >> 24) & 0xfffff);
	if (k < 40) {
		r->kind = NB_EV_TRAP;
		r->action = NB_ACT_EMULATED;
		r->exit_code = trap_codes[(x >> 40) % 10];
		r->exit_info1 = (x >> 44) & 0xffff;
	} else if (k < 50) {
		r->kind = NB_EV_EXIT_REFLECTED;
		r->exit_code = trap_codes[(x >> 40) % 10];
		r->exit_info2 = x & 0x7ffffffff000ull;
	} else if (k < 70) {
		r->kind = NB_EV_PT_WRITE;
		r->addr = 0x200000 + ((x >> 20) & 0x3ff8);
		r->old_val = (x & 0xfffff000ull) | 0x63;
		r->new_val = ((x >> 12) & 0xfffff000ull) | 0x8000000000000063ull;
		r->aux = 1 + (x >> 60) % 4;
	} else if (k < 85) {
		r->kind = NB_EV_SHADOW_FILL;
		r->action = NB_ACT_SHADOW_FILL;
		r->addr = 0x7f0000000000ull + ((x >> 12) & 0xffffff000ull);
		r->new_val = ((x >> 12) & 0xfffff000ull) | 0x67;
		r->aux = 1;
	} else if (k < 90) {
		r->kind = NB_EV_CR3_SWITCH;
		r->old_val = (x & 0xff000) | 0x1000000;
		r->new_val = ((x >> 20) & 0xff000) | 0x1000000;
	} else if (k < 95) {
		r->kind = NB_EV_INVLPG;
		r->addr = 0x7f0000000000ull + ((x >> 12) & 0xffffff000ull);
	} else {
		r->kind = NB_EV_IO;
		r->action = NB_ACT_FORWARDED;
		r->addr = 0x3f8;
		r->new_val = x & 0xff;
		r->aux = 1 | NB_IO_DIR_OUT;
	}
	if (k < 95) {
		r->insn_len = in->len;
		memcpy(r->insn, in->bytes, in->len);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sink_ctx {
	struct nb_store *st;
	struct nb_error err;
};

static int sink_store(void *ctx, const struct nb_trace_record *rec)
{
	struct sink_ctx *c = ctx;

	return nb_store_event(c->st, rec, &c->err);
}

static int sink_none(void *ctx, const struct nb_trace_record *rec)
{
	(void)ctx;
	(void)rec;
	return 0;
}

struct result {
	const char *config;
	uint64_t records;
	double seconds;
	double rate;
	uint64_t db_bytes;
};

/* annotate < 0: drain into a sink that stores nothing (the reader's own cost). */
static int run_config(const char *dir, const char *name, int annotate, uint64_t total, struct result *res)
{
	uint64_t size = NB_RING_HEADER_SIZE + (uint64_t)RING_RECORDS * sizeof(struct nb_trace_record);
	struct nb_store_options opt = { .annotate = annotate > 0 };
	struct sink_ctx ctx = { 0 };
	struct nb_ring_reader rd;
	struct nb_trace_record rec;
	char path[512];
	uint64_t done = 0, lost, i;
	double elapsed = 0, t0;
	struct stat sb;
	void *ring;
	int64_t n;

	ring = malloc(size);
	if (!ring || nb_ring_reader_init(&rd, ring, size, 1) < 0) {
		fprintf(stderr, "ingest: cannot allocate a %llu-byte ring\n", (unsigned long long)size);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	if (annotate >= 0) {
		if (nb_store_open(path, &opt, &ctx.st, &ctx.err) < 0 ||
		    nb_store_run_begin(ctx.st, &(struct nb_run_info){ "bench/ingest", NULL, "none", 0 }, NULL,
				       &ctx.err) < 0) {
			fprintf(stderr, "%s\n", ctx.err.msg);
			return -1;
		}
	}
	rng_state = 0x9e3779b97f4a7c15ull;
	while (done < total) {
		uint64_t batch = total - done < RING_RECORDS ? total - done : RING_RECORDS;

		for (i = 0; i < batch; i++) {
			make_record(&rec, done + i);
			nb_ring_push(ring, &rec);
		}
		t0 = now_s();
		n = nb_ring_drain(&rd, annotate >= 0 ? sink_store : sink_none, &ctx, &lost);
		elapsed += now_s() - t0;
		if (n != (int64_t)batch || lost) {
			fprintf(stderr, "ingest: drained %lld of %llu records (%llu lost): %s\n", (long long)n,
				(unsigned long long)batch, (unsigned long long)lost, ctx.err.msg);
			return -1;
		}
		done += batch;
	}
	res->db_bytes = 0;
	if (annotate >= 0) {
		t0 = now_s();
		if (nb_store_run_end(ctx.st, 1, 0, "bench", NULL, &ctx.err) < 0) {
			fprintf(stderr, "%s\n", ctx.err.msg);
			return -1;
		}
		nb_store_close(ctx.st);
		elapsed += now_s() - t0;
		if (stat(path, &sb) == 0)
			res->db_bytes = (uint64_t)sb.st_size;
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.db-wal", dir, name);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.db-shm", dir, name);
		unlink(path);
	}
	free(ring);
	res->config = name;
	res->records = total;
	res->seconds = elapsed;
	res->rate = (double)total / elapsed;
	return 0;
}

static void machine_info(char *cpu, size_t cpu_len, struct utsname *un)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(cpu, cpu_len, "unknown");
	uname(un);
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(cpu, cpu_len, "%s", colon + 2);
			cpu[strcspn(cpu, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
}

static int mkdir_p(const char *dir)
{
	char buf[512];
	char *p;

	snprintf(buf, sizeof(buf), "%s", dir);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0777) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0777) < 0 && errno != EEXIST ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *out_dir = "bench/results";
	uint64_t total = 2000000;
	struct result res[3];
	const char *tmp = getenv("TMPDIR");
	char dir[512], json[600], cpu[128];
	struct utsname un;
	FILE *f;
	int opt, i, ok = 1;

	while ((opt = getopt(argc, argv, "n:o:")) != -1) {
		if (opt == 'n')
			total = strtoull(optarg, NULL, 0);
		else if (opt == 'o')
			out_dir = optarg;
		else {
			fprintf(stderr, "usage: %s [-n RECORDS] [-o RESULTS_DIR]\n", argv[0]);
			return 2;
		}
	}
	make_insns();
	snprintf(dir, sizeof(dir), "%s/nb-ingest-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "ingest: cannot create a directory in %s: %s\n", tmp ? tmp : "/tmp", strerror(errno));
		return 1;
	}
	if (run_config(dir, "drain-only", -1, total, &res[0]) < 0 ||
	    run_config(dir, "store-annotate-off", 0, total, &res[1]) < 0 ||
	    run_config(dir, "store-annotate-on", 1, total, &res[2]) < 0) {
		rmdir(dir);
		return 1;
	}
	rmdir(dir);

	machine_info(cpu, sizeof(cpu), &un);
	printf("trace ingest, %llu records per configuration, %d distinct instructions, on %s (%s, %ld cores, Linux %s)\n",
	       (unsigned long long)total, DISTINCT_INSNS, un.nodename, cpu, sysconf(_SC_NPROCESSORS_ONLN), un.release);
	printf("%-20s %12s %10s %14s %10s\n", "configuration", "records", "seconds", "records/s", "db MiB");
	for (i = 0; i < 3; i++)
		printf("%-20s %12llu %10.3f %14.0f %10.1f\n", res[i].config, (unsigned long long)res[i].records,
		       res[i].seconds, res[i].rate, (double)res[i].db_bytes / (1 << 20));
	for (i = 1; i < 3; i++)
		if (res[i].rate < TARGET_RATE)
			ok = 0;
	printf("target %.0f records/s with the store: %s\n", TARGET_RATE, ok ? "met" : "NOT met");

	if (mkdir_p(out_dir) < 0) {
		fprintf(stderr, "ingest: cannot create '%s': %s\n", out_dir, strerror(errno));
		return 1;
	}
	snprintf(json, sizeof(json), "%s/ingest.json", out_dir);
	f = fopen(json, "w");
	if (!f) {
		fprintf(stderr, "ingest: cannot write '%s': %s\n", json, strerror(errno));
		return 1;
	}
	fprintf(f, "{\n  \"benchmark\": \"trace ingest\",\n");
	fprintf(f, "  \"machine\": {\"host\": \"%s\", \"cpu\": \"%s\", \"cores\": %ld, \"kernel\": \"%s\"},\n",
		un.nodename, cpu, sysconf(_SC_NPROCESSORS_ONLN), un.release);
	fprintf(f, "  \"distinct_instructions\": %d,\n  \"batch\": %d,\n  \"target_records_per_s\": %.0f,\n",
		DISTINCT_INSNS, NB_STORE_BATCH, TARGET_RATE);
	fprintf(f, "  \"results\": [\n");
	for (i = 0; i < 3; i++)
		fprintf(f, "    {\"config\": \"%s\", \"records\": %llu, \"seconds\": %.6f, \"records_per_s\": %.0f,"
			   " \"db_bytes\": %llu}%s\n",
			res[i].config, (unsigned long long)res[i].records, res[i].seconds, res[i].rate,
			(unsigned long long)res[i].db_bytes, i < 2 ? "," : "");
	fprintf(f, "  ]\n}\n");
	fclose(f);
	printf("results: %s\n", json);
	return 0;
}
