#!/bin/sh
# The Popek-Goldberg probes (guests/probes) at depth 1 and under nbvmm at depth 2: their
# observations reach the store (console lines and GUEST records agree), depth 1's kernel mode
# matches the architecture, UMIP makes the five store instructions fault at CPL 3, capstone names
# the probed instructions, and at depth 2 a sensitive unprivileged instruction (kernel-mode SGDT)
# shows the hypervisor's own table: Theorem 1 stops holding there, with the evidence in the
# verdict views, and the trap round trips are dilated (time is not virtualized).
# NB_TEST_NBVMM names another nbvmm image to run at level 1 (default: this build's).
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
NBVMM="${NB_TEST_NBVMM:-$NB_BUILD/l1-vmm/nbvmm.elf}"
PROBES="$GUESTS/probes/probes.elf"
DB="$TMP/probes.db"

run_nestbed none-1 run "$PROBES" --db "$DB" --timeout 120
check_eq "the probes end with status 0 at depth 1" 0 "$status"
check_eq "the set-up record says depth 1, feature set none" "1|1|none" \
	"$(sql "$DB" "select run_id, depth, feature_set from v_pg_probe_runs where run_id = 1")"
check_ge "depth 1 stored the observations" 60 \
	"$(sql "$DB" "select count(*) from v_pg_observations where run_id = 1")"
check_eq "one PROBE console line per stored record" \
	"$(sql "$DB" "select count(*) from v_pg_observations where run_id = 1")" \
	"$(grep -c '^\[L1\] PROBE ' "$TMP/none-1.out")"
check_eq "depth 1's kernel mode matches the architecture (KVM emulates ring 0)" 0 \
	"$(sql "$DB" "select count(*) from v_pg_observations where run_id = 1 and cpu_mode = 'kernel' and as_architecture = 0")"
check_eq "capstone names the probed instructions" "sgdt|pushfq|lar" \
	"$(sql "$DB" "select group_concat(m, '|') from (select distinct i.mnemonic as m from v_pg_observations o join insns i using (insn_id)
		where o.run_id = 1 and o.insn in ('sgdt', 'pushf', 'lar') order by o.sens_id)")"
check_eq "four timing records" 4 "$(sql "$DB" "select count(*) from v_pg_timing where run_id = 1")"

run_nestbed umip-1 run "$PROBES" --db "$DB" --timeout 120 --options "umip=1"
check_eq "the probes end with status 0 with UMIP" 0 "$status"
check_eq "UMIP took effect" 1 "$(sql "$DB" "select effective & 1 from v_pg_probe_runs where run_id = 2")"
check_eq "with UMIP, SGDT SIDT SLDT STR SMSW raise #GP at CPL 3 (vector 13)" "13|13|13|13|13" \
	"$(sql "$DB" "select group_concat(vector, '|') from (select vector from v_pg_observations where run_id = 2
		and cpu_mode = 'user' and insn in ('sgdt', 'sidt', 'sldt', 'str', 'smsw') order by sens_id)")"
check_eq "with UMIP they still run at CPL 0" 0 \
	"$(sql "$DB" "select count(*) from v_pg_observations where run_id = 2 and cpu_mode = 'kernel' and vector is not null")"

run_nestbed none-2 run "$NBVMM" --db "$DB" --timeout 300 --memory 128M --module "probes=$PROBES,"
check_eq "the probes end with status 0 at depth 2" 0 "$status"
check_eq "the set-up record says depth 2" "2|none" \
	"$(sql "$DB" "select depth, feature_set from v_pg_probe_runs where run_id = 3")"
check_eq "depth 2 stored as many observations as depth 1" \
	"$(sql "$DB" "select count(*) from v_pg_observations where run_id = 1")" \
	"$(sql "$DB" "select count(*) from v_pg_observations where run_id = 3")"
check_eq "kernel-mode SGDT at depth 2 does not trap and differs from depth 1's" "0|" \
	"$(sql "$DB" "select as_depth1, vector from v_pg_equivalence where run_id = 3 and insn = 'sgdt' and cpu_mode = 'kernel'")"
check_eq "Theorem 1 holds neither in theory nor in practice at depth 2" "0|0" \
	"$(sql "$DB" "select holds_in_theory, holds_in_practice from v_pg_verdicts where run_id = 3 and theorem = 1")"
check_ge "the evidence names SGDT in kernel mode against depth 1" 1 \
	"$(sql "$DB" "select count(*) from v_pg_evidence where run_id = 3 and theorem = 1 and insn = 'sgdt'
		and cpu_mode = 'kernel' and compared_with = 'depth 1 (run 1)'")"
check_eq "a user-mode UD2 round trip is more than twice as slow at depth 2: time is not virtualized" 1 \
	"$(sql "$DB" "select dilation > 2 from v_pg_timing where run_id = 3 and probe = 3")"
done_testing
