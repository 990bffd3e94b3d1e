#!/bin/sh
# The fuzz harnesses in make check (TAP). For each harness: its committed corpus
# (tests/fuzz/corpus/H) replays without breaking an invariant, through the replay build; then,
# when configure found clang with libFuzzer, libFuzzer runs it for NB_FUZZ_SECONDS seconds (default
# 6) from that corpus. New inputs go to a scratch directory; a crash leaves its input as
# tests/fuzz/crash-H-* in the build tree, to add to the corpus once fixed (see tools/fuzz).
# Finally the committed corpus must still hold every seed tests/fuzz/seeds generates.
# NB_FUZZ_HARNESSES (space-separated) picks harnesses.
. "${NB_TOP_SRCDIR:?run through make check}/tests/integration/tap.sh"

harnesses=${NB_FUZZ_HARNESSES:-"insn_decode gpt_walk spt svm_nested boot_loader boot_info ring_reader tcl_args"}
seconds=${NB_FUZZ_SECONDS:-6}
fuzzdir="$NB_BUILD/tests/fuzz"
corpus="$NB_SRC/tests/fuzz/corpus"

for h in $harnesses; do
	n=$(ls "$corpus/$h" | wc -l)
	if "$fuzzdir/replay_$h" "$corpus/$h" > "$TMP/replay-$h.log" 2>&1; then
		ok "$h: the corpus replays ($n inputs, no invariant broken)"
	else
		not_ok "$h: the corpus replays ($n inputs)" "$(tail -n 20 "$TMP/replay-$h.log")" \
			"again, one by one: NB_FUZZ_VERBOSE=1 $fuzzdir/replay_$h $corpus/$h"
	fi
	if [ ! -x "$fuzzdir/fuzz_$h" ]; then
		echo "ok $((tap_n += 1)) - $h: libFuzzer # SKIP no libFuzzer build: configure found no clang with libFuzzer (install clang and libclang-rt-14-dev, then configure again), or --enable-sanitizers (the corpus replays under them instead)"
		continue
	fi
	mkdir -p "$TMP/new-$h"
	if "$fuzzdir/fuzz_$h" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$fuzzdir/crash-$h-" "$TMP/new-$h" "$corpus/$h" > "$TMP/fuzz-$h.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$TMP/fuzz-$h.log")
		ok "$h: $seconds s of libFuzzer, ${runs:-?} inputs, no crash"
	else
		not_ok "$h: $seconds s of libFuzzer" "$(grep -v '^#\|^INFO\|NEW_FUNC\|^ *$' "$TMP/fuzz-$h.log" | head -n 30)" \
			"the input is $(ls "$fuzzdir"/crash-"$h"-* 2>/dev/null | tail -n 1): replay it with $fuzzdir/replay_$h FILE"
	fi
done

if "$fuzzdir/seeds" "$TMP/seeds" > "$TMP/seeds.log" 2>&1; then
	missing=
	for f in "$TMP"/seeds/*/*; do
		rel=${f#"$TMP/seeds/"}
		cmp -s "$f" "$corpus/$rel" || missing="$missing $rel"
	done
	check_eq "the committed corpus holds the generated seeds (tools/fuzz --seeds)" "" "$missing"
else
	not_ok "tests/fuzz/seeds writes the seeds" "$(cat "$TMP/seeds.log")"
fi

echo "1..$tap_n"
[ "$tap_failed" -eq 0 ]
