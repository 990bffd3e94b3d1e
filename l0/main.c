/* nestbed: the command-line front end of the L0 host VMM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l0/nestbed.h"

static void usage(FILE *out)
{
	fputs("usage: nestbed run IMAGE [options]\n"
	      "Runs IMAGE (a 64-bit ELF on the nestbed boot protocol, or a Multiboot v1 kernel) in a KVM\n"
	      "virtual machine until it exits, and records its trace. The exit status is the guest's.\n"
	      "\n"
	      "options:\n"
	      "  -m, --memory SIZE        guest RAM, e.g. 64M or 1G (default 64M)\n"
	      "      --module NAME=PATH[,ARGS]\n"
	      "                           load PATH as module NAME with ARGS (repeatable, up to 16)\n"
	      "  -a, --options STRING     options passed to the guest (boot info / multiboot command line)\n"
	      "  -d, --db PATH            write the trace into the SQLite database PATH\n"
	      "  -t, --timeout SECONDS    stop the guest after this much wall-clock time\n"
	      "      --ring-size SIZE     trace ring in guest memory (default 1M)\n"
	      "      --no-trace           give the guest no trace ring\n"
	      "      --no-kvm-events      do not record KVM's own events as level 0 (recorded as root with\n"
	      "                           --db: injected exceptions, port and MMIO accesses, emulated\n"
	      "                           instructions; costs about 2x run time on PVM hosts)\n"
	      "      --kvm PATH           KVM device (default /dev/kvm)\n"
	      "  -q, --quiet              do not print the guest console or the summary\n"
	      "  -v, --verbose            report unassigned ports and addresses the guest touches\n"
	      "  -h, --help               this text\n"
	      "\n"
	      "exit status: the guest's own (debug-exit port: (value << 1) | 1; exit hypercall: its\n"
	      "argument); 124 timeout; 126 the guest crashed (triple fault, emulation failure, halted\n"
	      "with interrupts off); 130 interrupted; 2 bad usage; 125 other set-up errors, or a trace\n"
	      "database that could not be written during the run (disk full: the run is stopped).\n"
	      "\n"
	      "usage: nestbed report RUN.db [-o FILE] [--run N|all]\n"
	      "Writes an HTML report of a trace database ('nestbed report --help' says more).\n"
	      "\n"
	      "usage: nestbed replay RUN.db [--run N|all] [--json]\n"
	      "Replays a trace database's shadow-paging events and checks them ('nestbed replay --help').\n",
	      out);
}

/* nestbed report: l0/cmd_report.c. */
int nb_cmd_report(int argc, char **argv);
/* nestbed replay: l0/cmd_replay.c. */
int nb_cmd_replay(int argc, char **argv);

static void on_signal(int sig)
{
	(void)sig;
	nb_machine_stop();
}

static int fail(int code, const char *msg)
{
	fprintf(stderr, "nestbed: %s\n", msg);
	return code == NB_E_USAGE ? 2 : NB_STATUS_SETUP;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"memory", required_argument, NULL, 'm'}, {"module", required_argument, NULL, 'M'},
		{"options", required_argument, NULL, 'a'}, {"db", required_argument, NULL, 'd'},
		{"timeout", required_argument, NULL, 't'}, {"ring-size", required_argument, NULL, 'R'},
		{"no-trace", no_argument, NULL, 'N'},	  {"kvm", required_argument, NULL, 'K'},
		{"no-kvm-events", no_argument, NULL, 'E'},
		{"quiet", no_argument, NULL, 'q'},	  {"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	struct nb_machine_config cfg;
	struct nb_run_result res;
	struct nb_error err = {0};
	struct sigaction sa;
	char msg[NB_ERRMSG_LEN + 64], *end;
	int c, quiet = 0, rc;

	nb_machine_config_init(&cfg);
	cfg.console_stdout = 1;
	cfg.kvm_events = 1;
	optind = 1;
	opterr = 0; /* one message of our own per error, not getopt's */
	while ((c = getopt_long(argc, argv, ":m:a:d:t:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (nb_size_parse(optarg, &cfg.mem_bytes) < 0) {
				snprintf(msg, sizeof(msg), "--memory '%s': not a size (e.g. 64M, 1G)", optarg);
				return fail(NB_E_USAGE, msg);
			}
			break;
		case 'R':
			if (nb_size_parse(optarg, &cfg.ring_bytes) < 0) {
				snprintf(msg, sizeof(msg), "--ring-size '%s': not a size (e.g. 1M)", optarg);
				return fail(NB_E_USAGE, msg);
			}
			break;
		case 'M':
			if (cfg.module_count >= NB_MAX_MODULES)
				return fail(NB_E_USAGE, "too many --module options (at most 16)");
			if (nb_module_spec_parse(optarg, &cfg.modules[cfg.module_count], &err) < 0)
				return fail(err.code, err.msg);
			cfg.module_count++;
			break;
		case 'a': cfg.options = optarg; break;
		case 'd': cfg.db_path = optarg; break;
		case 't':
			errno = 0;
			cfg.timeout_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || cfg.timeout_s <= 0) {
				snprintf(msg, sizeof(msg), "--timeout '%s': not a positive number of seconds", optarg);
				return fail(NB_E_USAGE, msg);
			}
			break;
		case 'N': cfg.tracing = 0; break;
		case 'E': cfg.kvm_events = 0; break;
		case 'K': cfg.kvm_path = optarg; break;
		case 'q': quiet = 1; cfg.console_stdout = 0; break;
		case 'v': cfg.verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case ':':
			snprintf(msg, sizeof(msg), "run: option '%s' needs a value (try 'nestbed --help')", argv[optind - 1]);
			return fail(NB_E_USAGE, msg);
		default:
			snprintf(msg, sizeof(msg), "run: unknown option '%s' (try 'nestbed --help')", argv[optind - 1]);
			return fail(NB_E_USAGE, msg);
		}
	}
	if (optind != argc - 1)
		return fail(NB_E_USAGE, optind >= argc ? "run: no guest image given (try 'nestbed --help')"
						       : "run: more than one guest image given (try 'nestbed --help')");
	cfg.image_path = argv[optind];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = nb_machine_run(&cfg, &res, &err);
	fflush(stdout);
	if (res.report[0])
		fprintf(stderr, "nestbed: %s", res.report);
	if (rc < 0) {
		fprintf(stderr, "nestbed: %s\n", err.msg);
		return err.code == NB_E_USAGE ? 2 : res.exit_status ? res.exit_status : NB_STATUS_SETUP;
	}
	if (!quiet) {
		fprintf(stderr, "nestbed: %s, status %d, after %.3f s; %llu exits",
			nb_stop_reason_name(res.reason), res.exit_status, res.wall_s, (unsigned long long)res.exits);
		if (cfg.db_path)
			fprintf(stderr, "; %llu events (%llu lost) in %s, run %lld", (unsigned long long)res.events,
				(unsigned long long)res.records_lost, cfg.db_path, (long long)res.run_id);
		fputc('\n', stderr);
	}
	return res.exit_status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "report"))
		return nb_cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "replay"))
		return nb_cmd_replay(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("nestbed %s\n", PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "nestbed: unknown command '%s' (try 'nestbed --help')\n", argv[1]);
	return 2;
}
