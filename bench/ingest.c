/*
 * Trace ingest rate: records per second from a filled trace ring, through nb_ring_drain and
 * nb_store_event, into a committed SQLite file. This is the host's share of tracing cost: a run
 * that records faster than this loses records (counted, never silent), so the figure says how
 * much tracing a scenario can afford.
 *
 *   bench/ingest [-n RECORDS] [-r REPEAT] [-o RESULTS_DIR]
 *
 * Producing the records (filling the ring) is not timed; draining, storing and the final commit
 * are, REPEAT times per configuration (the median is reported). Records are a realistic mix of
 * kinds, levels and addresses, with about 200 distinct instruction byte strings drawn with a skew
 * (a few instructions dominate, as in real traces).
 * Prints a table and writes RESULTS_DIR/ingest.json (default bench/results).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* Wall time, and the CPU time this process used: the machine is shared, and CPU time shows what
 * the ingest path itself costs when other work steals the cores. */
struct clock_pair {
	double wall;
	double cpu;
};

static struct clock_pair clock_now(void)
{
	struct clock_pair c;
	struct timespec ts;
	struct rusage ru;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	getrusage(RUSAGE_SELF, &ru);
	c.wall = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	c.cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	return c;
}

static void clock_add_since(struct clock_pair *sum, struct clock_pair start)
{
	struct clock_pair end = clock_now();

	sum->wall += end.wall - start.wall;
	sum->cpu += end.cpu - start.cpu;
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
	struct clock_pair spent;
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
	char path[600];
	uint64_t done = 0, lost, i;
	struct clock_pair t0;
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
	memset(res, 0, sizeof(*res));
	rng_state = 0x9e3779b97f4a7c15ull;
	while (done < total) {
		uint64_t batch = total - done < RING_RECORDS ? total - done : RING_RECORDS;

		for (i = 0; i < batch; i++) {
			make_record(&rec, done + i);
			nb_ring_push(ring, &rec);
		}
		t0 = clock_now();
		n = nb_ring_drain(&rd, annotate >= 0 ? sink_store : sink_none, &ctx, &lost);
		clock_add_since(&res->spent, t0);
		if (n != (int64_t)batch || lost) {
			fprintf(stderr, "ingest: drained %lld of %llu records (%llu lost): %s\n", (long long)n,
				(unsigned long long)batch, (unsigned long long)lost, ctx.err.msg);
			return -1;
		}
		done += batch;
	}
	if (annotate >= 0) {
		t0 = clock_now();
		if (nb_store_run_end(ctx.st, 1, 0, "bench", NULL, &ctx.err) < 0) {
			fprintf(stderr, "%s\n", ctx.err.msg);
			return -1;
		}
		nb_store_close(ctx.st);
		clock_add_since(&res->spent, t0);
		if (stat(path, &sb) == 0)
			res->db_bytes = (uint64_t)sb.st_size;
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.db-wal", dir, name);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.db-shm", dir, name);
		unlink(path);
	}
	free(ring);
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

static int by_wall(const void *a, const void *b)
{
	double x = ((const struct result *)a)->spent.wall, y = ((const struct result *)b)->spent.wall;

	return (x > y) - (x < y);
}

#define MAX_REPEAT 15

static const struct config {
	const char *name;
	int annotate;
} configs[] = {
	{ "drain-only", -1 },
	{ "store-annotate-off", 0 },
	{ "store-annotate-on", 1 },
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

int main(int argc, char **argv)
{
	const char *out_dir = "bench/results";
	const char *tmp = getenv("TMPDIR");
	uint64_t total = 2000000;
	int repeat = 3, opt, ok = 1;
	struct result res[NCONFIGS][MAX_REPEAT], *median[NCONFIGS];
	char dir[512], json[600], cpu[128];
	struct utsname un;
	size_t c;
	FILE *f;

	while ((opt = getopt(argc, argv, "n:r:o:")) != -1) {
		if (opt == 'n')
			total = strtoull(optarg, NULL, 0);
		else if (opt == 'r')
			repeat = atoi(optarg);
		else if (opt == 'o')
			out_dir = optarg;
		else
			repeat = 0;
	}
	if (total == 0 || repeat < 1 || repeat > MAX_REPEAT || optind != argc) {
		fprintf(stderr, "usage: %s [-n RECORDS] [-r REPEAT (1..%d)] [-o RESULTS_DIR]\n", argv[0], MAX_REPEAT);
		return 2;
	}
	make_insns();
	snprintf(dir, sizeof(dir), "%s/nb-ingest-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "ingest: cannot create a directory in %s: %s\n", tmp ? tmp : "/tmp", strerror(errno));
		return 1;
	}
	for (c = 0; c < NCONFIGS; c++) {
		int r;

		for (r = 0; r < repeat; r++) {
			if (run_config(dir, configs[c].name, configs[c].annotate, total, &res[c][r]) < 0) {
				rmdir(dir);
				return 1;
			}
		}
		qsort(res[c], (size_t)repeat, sizeof(res[c][0]), by_wall);
		median[c] = &res[c][repeat / 2];
	}
	rmdir(dir);

	machine_info(cpu, sizeof(cpu), &un);
	printf("trace ingest: %llu records per run, %d runs per configuration (median shown), %d distinct"
	       " instructions, batches of %d\n", (unsigned long long)total, repeat, DISTINCT_INSNS, NB_STORE_BATCH);
	printf("machine: %s, %s, %ld cores, Linux %s\n", un.nodename, cpu, sysconf(_SC_NPROCESSORS_ONLN), un.release);
	printf("%-20s %10s %12s %20s %14s %8s\n", "configuration", "wall s", "records/s", "(slowest..fastest)",
	       "records/cpu-s", "db MiB");
	for (c = 0; c < NCONFIGS; c++) {
		char range[64];

		snprintf(range, sizeof(range), "(%.0f..%.0f)", (double)total / res[c][repeat - 1].spent.wall,
			 (double)total / res[c][0].spent.wall);
		printf("%-20s %10.3f %12.0f %20s %14.0f %8.1f\n", configs[c].name, median[c]->spent.wall,
		       (double)total / median[c]->spent.wall, range, (double)total / median[c]->spent.cpu,
		       (double)median[c]->db_bytes / (1 << 20));
		if (configs[c].annotate >= 0 && (double)total / median[c]->spent.wall < TARGET_RATE)
			ok = 0;
	}
	printf("target %.0f records/s (median wall time, with the store): %s\n", TARGET_RATE, ok ? "met" : "NOT met");

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
	fprintf(f, "  \"records_per_run\": %llu,\n  \"runs_per_config\": %d,\n", (unsigned long long)total, repeat);
	fprintf(f, "  \"distinct_instructions\": %d,\n  \"batch\": %d,\n  \"target_records_per_s\": %.0f,\n",
		DISTINCT_INSNS, NB_STORE_BATCH, TARGET_RATE);
	fprintf(f, "  \"target_met\": %s,\n  \"results\": [\n", ok ? "true" : "false");
	for (c = 0; c < NCONFIGS; c++) {
		int r;

		fprintf(f, "    {\"config\": \"%s\", \"median_wall_s\": %.6f, \"median_cpu_s\": %.6f,"
			   " \"records_per_s\": %.0f, \"records_per_cpu_s\": %.0f, \"db_bytes\": %llu, \"runs_records_per_s\": [",
			configs[c].name, median[c]->spent.wall, median[c]->spent.cpu, (double)total / median[c]->spent.wall,
			(double)total / median[c]->spent.cpu, (unsigned long long)median[c]->db_bytes);
		for (r = 0; r < repeat; r++)
			fprintf(f, "%s%.0f", r ? ", " : "", (double)total / res[c][r].spent.wall);
		fprintf(f, "]}%s\n", c + 1 < NCONFIGS ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "ingest: cannot write '%s': %s\n", json, strerror(errno));
		return 1;
	}
	printf("results: %s\n", json);
	return 0;
}
