#!/bin/sh
# run.sh TOP_SRCDIR SECONDS FUZZ_BINARY...: `make check-fuzz`. Runs each
# libFuzzer target for SECONDS, one after the other, starting from its
# seed corpus fuzz/corpus/NAME/ (read-only) plus what earlier runs in this
# build directory found (fuzz/work/NAME/, kept so local runs accumulate).
# Optional per-target files beside the corpus: NAME.dict (a libFuzzer
# dictionary), NAME.options (extra libFuzzer flags, one line).
# Prints executions per target; exits 1 if any target found a crash, a
# leak, a timeout or an out-of-memory, naming the saved input under
# fuzz/artifacts/NAME/ and the command that replays it.
set -u

top=$1
secs=$2
shift 2

case $secs in
'' | *[!0-9]*) echo "run.sh: FUZZ_SECONDS must be a number" >&2; exit 2 ;;
esac

failed=0
total_runs=0
printf '%-24s %10s %8s %8s  %s\n' target runs exec/s corpus result
for bin in "$@"; do
	name=${bin##*/}
	name=${name#fuzz_}
	seeds=$top/fuzz/corpus/$name
	work=fuzz/work/$name
	art=fuzz/artifacts/$name
	log=fuzz/logs/$name.log
	mkdir -p "$work" "$art" fuzz/logs
	stamp=fuzz/logs/$name.start
	: >"$stamp"
	extra=""
	[ -f "$top/fuzz/corpus/$name.dict" ] && extra="-dict=$top/fuzz/corpus/$name.dict"
	[ -f "$top/fuzz/corpus/$name.options" ] && extra="$extra $(cat "$top/fuzz/corpus/$name.options")"
	# -timeout: one input may take 10 s; -rss_limit_mb: a malloc storm
	# is a finding; ASan's leak check runs after every input.
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" $extra \
		"$work" "$seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	size=$(find "$work" -type f | wc -l)
	found=$(find "$art" -type f -newer "$stamp" 2>/dev/null)
	if [ $rc -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc, see $log)"
		failed=$((failed + 1))
	fi
	printf '%-24s %10s %8s %8s  %s\n' "$name" "${runs:-?}" "${rate:-?}" \
		"$size" "$result"
	total_runs=$((total_runs + ${runs:-0}))
	if [ $rc -ne 0 ]; then
		grep -m 3 -E 'ERROR: |invariant broken|runtime error|SUMMARY' "$log" | sed 's/^/    /'
		for f in $found; do
			echo "    input: $f  (replay: $bin $f)"
		done
	fi
done
echo "check-fuzz: $# target(s), $total_runs executions, $failed failed"
[ $failed -eq 0 ]
