/* nestbed replay: re-executes a trace database's shadow-paging events and checks them
 * (replay/replay.c does the work; replay/replay_db.c reads the events). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l0/nestbed.h"
#include "replay/replay.h"
#include "replay/replay_db.h"
#include "replay/whatif.h"

#define REPLAY_PRINT_MAX 100 /* mismatches printed per run; the count is always complete */

static void replay_usage(FILE *out)
{
	fputs("usage: nestbed replay RUN.db [--run N|all] [--what-if] [--json] [-q]\n"
	      "Re-executes each run's guest page-table writes, CR3 switches, INVLPGs, shadow fills and zaps\n"
	      "VM by VM, rebuilding the shadow state through the hosted shadow/ code, and checks every\n"
	      "recorded event against what the events before it imply: page-table writes against the\n"
	      "modelled guest entries, fills against the replayed shadow leaves, the guest's physical map\n"
	      "and the modelled guest walk, CR3 switches against the replayed root cache. The trace does\n"
	      "not record the guest's paging mode, so the root cache is replayed in each mode the events\n"
	      "still allow; a CR3 switch whose outcome depends on the mode counts as unchecked. Prints\n"
	      "each mismatch with its event id, then one summary line per run.\n"
	      "\n"
	      "options:\n"
	      "  -r, --run N|all          replay run N only (default: every run in the database)\n"
	      "  -w, --what-if            also replay the events under other shadow-paging policies (cached\n"
	      "                           roots per guest, dropping shadows on CR3 switches, unsynchronised\n"
	      "                           leaf tables) and print the fills, zaps and page-table-write traps\n"
	      "                           each would have cost beside the recorded run's\n"
	      "  -j, --json               print the results as one JSON object instead\n"
	      "  -q, --quiet              print only mismatches\n"
	      "  -h, --help               this text\n"
	      "\n"
	      "exit status: 0 no mismatches; 1 mismatches found; 2 bad usage; 125 the database could not\n"
	      "be read.\n",
	      out);
}

static int replay_fail(int code, const char *msg)
{
	fprintf(stderr, "nestbed: %s\n", msg);
	return code == NB_E_USAGE ? 2 : NB_STATUS_SETUP;
}

struct replay_out {
	int64_t run_id;
	int json, quiet, what_if;
	unsigned printed;
};

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void on_mismatch(void *opaque, const struct nb_replay_mismatch *m)
{
	struct replay_out *o = opaque;

	if (o->printed++ >= REPLAY_PRINT_MAX)
		return;
	if (o->json) {
		printf("%s\n    {\"event_id\": %lld, \"since_event_id\": %lld, \"rec_level\": %u, "
		       "\"guest_level\": %u, \"vm_id\": %u, \"check\": ",
		       o->printed > 1 ? "," : "", (long long)m->event_id, (long long)m->since_id, m->rec_level,
		       m->guest_level, m->vm_id);
		json_string(m->check);
		fputs(", \"detail\": ", stdout);
		json_string(m->detail);
		putchar('}');
		return;
	}
	printf("run %lld event %lld (L%u, vm %u at level %u): %s: %s", (long long)o->run_id,
	       (long long)m->event_id, m->rec_level, m->vm_id, m->guest_level, m->check, m->detail);
	if (m->since_id)
		printf(" [expected from event %lld]", (long long)m->since_id);
	putchar('\n');
}

struct replay_feed {
	struct nb_replay *r;
	struct nb_whatif *w; /* NULL without --what-if */
};

static int feed(void *opaque, int64_t id, const struct nb_trace_record *rec)
{
	struct replay_feed *f = opaque;

	if (nb_replay_event(f->r, id, rec) < 0 || (f->w && nb_whatif_event(f->w, rec) < 0))
		return -NB_E_NOMEM;
	return 0;
}

static void print_what_if(const struct replay_out *o, struct nb_whatif *w)
{
	struct nb_whatif_result res[16], rec;
	unsigned i, n = nb_whatif_policy_count < 16 ? nb_whatif_policy_count : 16;

	nb_whatif_results(w, res, &rec);
	if (o->json) {
		printf(",\n   \"what_if\": [{\"policy\": \"recorded run\", \"fills\": %llu, \"zaps\": %llu, "
		       "\"pt_write_traps\": %llu, \"cr3_hits\": %llu, \"cr3_misses\": %llu}",
		       (unsigned long long)rec.fills, (unsigned long long)rec.zaps,
		       (unsigned long long)rec.pt_write_traps, (unsigned long long)rec.cr3_hits,
		       (unsigned long long)rec.cr3_misses);
		for (i = 0; i < n; i++) {
			fputs(",\n     {\"policy\": ", stdout);
			json_string(nb_whatif_policies[i].name);
			printf(", \"fills\": %llu, \"zaps\": %llu, \"pt_write_traps\": %llu, \"cr3_hits\": %llu, "
			       "\"cr3_misses\": %llu}",
			       (unsigned long long)res[i].fills, (unsigned long long)res[i].zaps,
			       (unsigned long long)res[i].pt_write_traps, (unsigned long long)res[i].cr3_hits,
			       (unsigned long long)res[i].cr3_misses);
		}
		putchar(']');
		return;
	}
	printf("run %lld what-if: the recorded shadow-paging events under other policies\n", (long long)o->run_id);
	printf("  %-30s %10s %8s %15s %16s\n", "policy", "fills", "zaps", "PT-write traps", "CR3 hits/misses");
	printf("  %-30s %10llu %8llu %15llu %9llu/%llu\n", "recorded run", (unsigned long long)rec.fills,
	       (unsigned long long)rec.zaps, (unsigned long long)rec.pt_write_traps,
	       (unsigned long long)rec.cr3_hits, (unsigned long long)rec.cr3_misses);
	for (i = 0; i < n; i++)
		printf("  %-30s %10llu %8llu %15llu %9llu/%llu\n", nb_whatif_policies[i].name,
		       (unsigned long long)res[i].fills, (unsigned long long)res[i].zaps,
		       (unsigned long long)res[i].pt_write_traps, (unsigned long long)res[i].cr3_hits,
		       (unsigned long long)res[i].cr3_misses);
}

/* Replays one run; 0, or a negative error code with err set. *mismatches gets the count. */
static int replay_run(sqlite3 *db, int64_t run_id, struct replay_out *o, int first, uint64_t *mismatches,
		      struct nb_error *err)
{
	struct nb_replay *r = nb_replay_new(on_mismatch, o);
	struct nb_whatif *w = o->what_if ? nb_whatif_new(nb_whatif_policies, nb_whatif_policy_count) : NULL;
	struct replay_feed f = {r, w};
	const struct nb_replay_stats *st;
	int rc;

	if (!r || (o->what_if && !w)) {
		nb_replay_free(r);
		nb_whatif_free(w);
		return nb_error_set(err, NB_E_NOMEM, "out of memory");
	}
	o->run_id = run_id;
	o->printed = 0;
	if (o->json)
		printf("%s\n  {\"run_id\": %lld, \"mismatch_list\": [", first ? "" : ",", (long long)run_id);
	rc = nb_replay_db_feed(db, run_id, feed, &f, err);
	if (rc < 0) {
		if (rc == -NB_E_NOMEM)
			nb_error_set(err, NB_E_NOMEM, "out of memory replaying run %lld", (long long)run_id);
		nb_replay_free(r);
		nb_whatif_free(w);
		return rc;
	}
	st = nb_replay_stats(r);
	*mismatches = st->mismatches;
	if (o->json) {
		printf("],\n   \"events\": %llu, \"vms\": %llu, \"fills\": %llu, \"fills_leaf_checked\": %llu, "
		       "\"fills_walked\": %llu, \"fills_unwalkable\": %llu, \"fills_mode_unknown\": %llu, "
		       "\"walks\": %llu, \"walk_entries_checked\": %llu, "
		       "\"pt_writes\": %llu, \"pt_writes_checked\": %llu, \"cr3_switches\": %llu, "
		       "\"cr3_checked\": %llu, \"cr3_unchecked\": %llu, "
		       "\"invlpgs\": %llu, \"zaps\": %llu, \"mismatches\": %llu",
		       (unsigned long long)st->events, (unsigned long long)st->vms, (unsigned long long)st->fills,
		       (unsigned long long)st->fills_leaf_checked, (unsigned long long)st->fills_walked,
		       (unsigned long long)st->fills_unwalkable, (unsigned long long)st->fills_mode_unknown,
		       (unsigned long long)st->walks, (unsigned long long)st->walk_entries_checked,
		       (unsigned long long)st->pt_writes, (unsigned long long)st->pt_writes_checked,
		       (unsigned long long)st->cr3_switches, (unsigned long long)st->cr3_checked,
		       (unsigned long long)st->cr3_unchecked, (unsigned long long)st->invlpgs,
		       (unsigned long long)st->zaps, (unsigned long long)st->mismatches);
		if (w)
			print_what_if(o, w);
		putchar('}');
	} else {
		if (o->printed > REPLAY_PRINT_MAX)
			printf("run %lld: ... and %u more mismatches\n", (long long)run_id,
			       o->printed - REPLAY_PRINT_MAX);
		if (!o->quiet || st->mismatches)
			printf("run %lld: replayed %llu shadow-paging events of %llu VM%s: %llu fills (%llu old "
			       "leaves checked, %llu re-walked, %llu through unknown guest entries, %llu in an "
			       "unknown paging mode), %llu guest walks (%llu entries checked against the "
			       "modelled ones), %llu page-table writes (%llu old values checked), %llu CR3 "
			       "switches (%llu checked against the replayed root cache, %llu unchecked as their "
			       "outcome depends on the paging mode), %llu INVLPGs, %llu zaps: %llu mismatch%s\n",
			       (long long)run_id, (unsigned long long)st->events, (unsigned long long)st->vms,
			       st->vms == 1 ? "" : "s", (unsigned long long)st->fills,
			       (unsigned long long)st->fills_leaf_checked, (unsigned long long)st->fills_walked,
			       (unsigned long long)st->fills_unwalkable, (unsigned long long)st->fills_mode_unknown,
			       (unsigned long long)st->walks, (unsigned long long)st->walk_entries_checked,
			       (unsigned long long)st->pt_writes, (unsigned long long)st->pt_writes_checked,
			       (unsigned long long)st->cr3_switches, (unsigned long long)st->cr3_checked,
			       (unsigned long long)st->cr3_unchecked, (unsigned long long)st->invlpgs,
			       (unsigned long long)st->zaps, (unsigned long long)st->mismatches,
			       st->mismatches == 1 ? "" : "es");
		if (w)
			print_what_if(o, w);
	}
	nb_replay_free(r);
	nb_whatif_free(w);
	return 0;
}

/* nestbed replay RUN.db [options]; argv[0] is "replay". */
int nb_cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{"run", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
		{"what-if", no_argument, NULL, 'w'},
		{"quiet", no_argument, NULL, 'q'},     {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct replay_out o = {0};
	struct nb_error err = {0};
	char msg[NB_ERRMSG_LEN + 64], *end;
	int64_t run_id = 0, *ids = NULL;
	uint64_t total = 0, n_mis = 0;
	size_t n = 0, i;
	sqlite3 *db;
	int c, rc = 0;

	optind = 1;
	opterr = 0; /* one message of our own per error, not getopt's */
	while ((c = getopt_long(argc, argv, ":r:wjqh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!strcmp(optarg, "all")) {
				run_id = 0;
				break;
			}
			errno = 0;
			run_id = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || run_id <= 0) {
				snprintf(msg, sizeof(msg), "replay: --run '%s': not a run id (a positive number, or 'all')",
					 optarg);
				return replay_fail(NB_E_USAGE, msg);
			}
			break;
		case 'j': o.json = 1; break;
		case 'w': o.what_if = 1; break;
		case 'q': o.quiet = 1; break;
		case 'h': replay_usage(stdout); return 0;
		case ':':
			snprintf(msg, sizeof(msg), "replay: option '%s' needs a value (try 'nestbed replay --help')",
				 argv[optind - 1]);
			return replay_fail(NB_E_USAGE, msg);
		default:
			snprintf(msg, sizeof(msg), "replay: unknown option '%s' (try 'nestbed replay --help')",
				 argv[optind - 1]);
			return replay_fail(NB_E_USAGE, msg);
		}
	}
	if (optind != argc - 1)
		return replay_fail(NB_E_USAGE, optind >= argc ? "replay: no trace database given (try 'nestbed replay --help')"
							      : "replay: more than one trace database given");
	if (nb_replay_db_open(argv[optind], &db, &err) < 0)
		return replay_fail(err.code, err.msg);
	if (run_id) {
		ids = malloc(sizeof(*ids));
		if (ids) {
			ids[0] = run_id;
			n = 1;
		}
	} else if (nb_replay_db_runs(db, &ids, &n, &err) < 0) {
		sqlite3_close(db);
		return replay_fail(err.code, err.msg);
	}
	if (o.json) {
		fputs("{\"database\": ", stdout);
		json_string(argv[optind]);
		fputs(", \"runs\": [", stdout);
	}
	for (i = 0; i < n && rc == 0; i++) {
		rc = replay_run(db, ids[i], &o, i == 0, &n_mis, &err);
		total += n_mis;
	}
	if (o.json)
		printf("\n], \"mismatches\": %llu}\n", (unsigned long long)total);
	free(ids);
	sqlite3_close(db);
	if (rc < 0)
		return replay_fail(err.code, err.msg);
	if (!n)
		return replay_fail(NB_E_DB, "replay: the database holds no runs");
	return total ? 1 : 0;
}
