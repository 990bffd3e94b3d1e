/*
 * bench/boot: how long L0 takes to put a guest's first instruction on the CPU.
 *
 * For guests/hello and for a one-instruction kernel (OUT to the debug-exit port at its entry),
 * runs each machine many times through libnestbed and reports, as medians: set-up (from the
 * call to the first KVM_RUN: KVM VM and vCPU, memory, loading, boot structures), first exit
 * (from the first KVM_RUN to the guest's first exit to L0: for the one-instruction kernel, that
 * is its first instruction), and the whole run, with and without a trace database.
 *
 *   bench/boot [-n RUNS] [-i hello.elf] [-o RESULTS_DIR]
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "l0/nestbed.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A 64-bit ELF whose entry is OUT %al, $0xf4: the guest exits with its first instruction. */
static int write_one_insn_elf(const char *path)
{
	static const uint8_t code[] = {0xe6, 0xf4};
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph;
		uint8_t code[sizeof(code)];
	} img;
	FILE *f;

	memset(&img, 0, sizeof(img));
	memcpy(img.eh.e_ident, ELFMAG, SELFMAG);
	img.eh.e_ident[EI_CLASS] = ELFCLASS64;
	img.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img.eh.e_ident[EI_VERSION] = EV_CURRENT;
	img.eh.e_type = ET_EXEC;
	img.eh.e_machine = EM_X86_64;
	img.eh.e_version = EV_CURRENT;
	img.eh.e_entry = 0x100000;
	img.eh.e_phoff = offsetof(__typeof__(img), ph);
	img.eh.e_ehsize = sizeof(Elf64_Ehdr);
	img.eh.e_phentsize = sizeof(Elf64_Phdr);
	img.eh.e_phnum = 1;
	img.ph.p_type = PT_LOAD;
	img.ph.p_flags = PF_R | PF_X;
	img.ph.p_offset = offsetof(__typeof__(img), code);
	img.ph.p_vaddr = img.ph.p_paddr = 0x100000;
	img.ph.p_filesz = img.ph.p_memsz = sizeof(code);
	img.ph.p_align = 0x1000;
	memcpy(img.code, code, sizeof(code));
	f = fopen(path, "wb");
	if (!f || fwrite(&img, sizeof(img), 1, f) != 1 || fclose(f) != 0)
		return -1;
	return 0;
}

struct row {
	const char *name;
	double setup, first, wall;
};

static int measure(const char *image, const char *db, int runs, struct row *r)
{
	double *setup = calloc(runs, sizeof(double)), *first = calloc(runs, sizeof(double)),
	       *wall = calloc(runs, sizeof(double));
	struct nb_machine_config cfg;
	struct nb_run_result res;
	struct nb_error err;
	int i, rc = 0;

	for (i = 0; i < runs && rc == 0; i++) {
		nb_machine_config_init(&cfg);
		cfg.image_path = image;
		cfg.db_path = db;
		cfg.timeout_s = 30;
		if (nb_machine_run(&cfg, &res, &err) < 0 || res.reason != NB_STOP_GUEST_EXIT) {
			fprintf(stderr, "bench/boot: %s: %s\n", image, err.msg);
			rc = -1;
			break;
		}
		setup[i] = res.setup_s;
		first[i] = res.first_exit_s;
		wall[i] = res.setup_s + res.wall_s;
	}
	if (rc == 0) {
		r->setup = median(setup, runs);
		r->first = median(first, runs);
		r->wall = median(wall, runs);
	}
	free(setup);
	free(first);
	free(wall);
	return rc;
}

int main(int argc, char **argv)
{
	const char *hello = "guests/hello/hello.elf", *outdir = "bench/results";
	char one[] = "/tmp/nestbed-boot-XXXXXX", dbpath[64], json[4200];
	struct row rows[4] = {{"one instruction", 0, 0, 0}, {"one instruction, traced", 0, 0, 0},
			      {"hello", 0, 0, 0}, {"hello, traced", 0, 0, 0}};
	int runs = 20, c, i, fd;
	FILE *f;

	while ((c = getopt(argc, argv, "n:i:o:")) != -1) {
		switch (c) {
		case 'n': runs = atoi(optarg); break;
		case 'i': hello = optarg; break;
		case 'o': outdir = optarg; break;
		default:
			fprintf(stderr, "usage: bench/boot [-n RUNS] [-i hello.elf] [-o RESULTS_DIR]\n");
			return 2;
		}
	}
	if (runs < 1) {
		fprintf(stderr, "bench/boot: -n must be at least 1\n");
		return 2;
	}
	fd = mkstemp(one);
	if (fd < 0 || close(fd) < 0 || write_one_insn_elf(one) < 0) {
		fprintf(stderr, "bench/boot: %s: %s\n", one, strerror(errno));
		return 1;
	}
	snprintf(dbpath, sizeof(dbpath), "%s.db", one);
	if (measure(one, NULL, runs, &rows[0]) || measure(one, dbpath, runs, &rows[1]) ||
	    measure(hello, NULL, runs, &rows[2]) || measure(hello, dbpath, runs, &rows[3])) {
		unlink(one);
		return 1;
	}
	unlink(one);
	unlink(dbpath);
	snprintf(json, sizeof(json), "%s-wal", dbpath);
	unlink(json);
	snprintf(json, sizeof(json), "%s-shm", dbpath);
	unlink(json);

	printf("boot to first instruction (medians of %d runs, milliseconds)\n", runs);
	printf("%-26s %10s %12s %10s\n", "guest", "set-up", "first exit", "whole run");
	for (i = 0; i < 4; i++)
		printf("%-26s %10.3f %12.3f %10.3f\n", rows[i].name, rows[i].setup * 1e3, rows[i].first * 1e3,
		       rows[i].wall * 1e3);

	mkdir(outdir, 0755);
	snprintf(json, sizeof(json), "%s/boot.json", outdir);
	f = fopen(json, "w");
	if (!f) {
		fprintf(stderr, "bench/boot: %s: %s\n", json, strerror(errno));
		return 1;
	}
	fprintf(f, "{\"benchmark\": \"boot\", \"runs\": %d, \"unit\": \"seconds\", \"rows\": [", runs);
	for (i = 0; i < 4; i++)
		fprintf(f, "%s\n  {\"guest\": \"%s\", \"setup\": %.6f, \"first_exit\": %.6f, \"whole_run\": %.6f}",
			i ? "," : "", rows[i].name, rows[i].setup, rows[i].first, rows[i].wall);
	fprintf(f, "\n]}\n");
	fclose(f);
	printf("results: %s\n", json);
	return 0;
}
