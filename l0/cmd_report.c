/* nestbed report: the HTML report of a trace database (tracer/report.c does the work). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l0/nestbed.h"
#include "tracer/report.h"

static void report_usage(FILE *out)
{
	fputs("usage: nestbed report RUN.db [-o FILE] [--run N|all] [-q]\n"
	      "Writes one self-contained HTML file (inline CSS and SVG, no script) with, for each run of the\n"
	      "trace database: what ran and how it ended, the tree of VMs, traps per level over time, exit\n"
	      "reasons by level, exit multiplication by depth, page-table writes and shadow fills per page,\n"
	      "the longest trap paths, virtualizability verdicts (when recorded), records lost and the console.\n"
	      "\n"
	      "options:\n"
	      "  -o, --output FILE        write the report to FILE ('-': standard output; default report.html)\n"
	      "  -r, --run N|all          report run N only (default: every run in the database)\n"
	      "  -q, --quiet              do not say where the report went\n"
	      "  -h, --help               this text\n"
	      "\n"
	      "exit status: 0 written; 2 bad usage; 125 the database or the output could not be used.\n",
	      out);
}

static int report_fail(int code, const char *msg)
{
	fprintf(stderr, "nestbed: %s\n", msg);
	return code == NB_E_USAGE ? 2 : NB_STATUS_SETUP;
}

/* nestbed report RUN.db [options]; argv[0] is "report". */
int nb_cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"run", required_argument, NULL, 'r'},
		{"quiet", no_argument, NULL, 'q'},	  {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct nb_report_options opt = {.run_id = 0, .out_path = "report.html"};
	struct nb_error err = {0};
	char msg[NB_ERRMSG_LEN + 64], *end;
	int c, quiet = 0, runs = 0;
	long long id;

	optind = 1;
	opterr = 0; /* one message of our own per error, not getopt's */
	while ((c = getopt_long(argc, argv, ":o:r:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': opt.out_path = optarg; break;
		case 'r':
			if (!strcmp(optarg, "all")) {
				opt.run_id = 0;
				break;
			}
			errno = 0;
			id = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || id <= 0) {
				snprintf(msg, sizeof(msg), "report: --run '%s': not a run id (a positive number, or 'all')",
					 optarg);
				return report_fail(NB_E_USAGE, msg);
			}
			opt.run_id = id;
			break;
		case 'q': quiet = 1; break;
		case 'h': report_usage(stdout); return 0;
		case ':':
			snprintf(msg, sizeof(msg), "report: option '%s' needs a value (try 'nestbed report --help')",
				 argv[optind - 1]);
			return report_fail(NB_E_USAGE, msg);
		default:
			snprintf(msg, sizeof(msg), "report: unknown option '%s' (try 'nestbed report --help')",
				 argv[optind - 1]);
			return report_fail(NB_E_USAGE, msg);
		}
	}
	if (optind != argc - 1)
		return report_fail(NB_E_USAGE, optind >= argc ? "report: no trace database given (try 'nestbed report --help')"
							      : "report: more than one trace database given");
	if (nb_report_write(argv[optind], &opt, &runs, &err) < 0)
		return report_fail(err.code, err.msg);
	if (!quiet && strcmp(opt.out_path, "-"))
		fprintf(stderr, "nestbed: report of %d run%s of '%s' written to %s\n", runs, runs == 1 ? "" : "s",
			argv[optind], opt.out_path);
	return 0;
}
