#!/bin/sh
# torture.sh --ossl LIBMCOSSL.so --srcdir TOP_SRCDIR --tests 'BIN...'
# --replays 'BIN...':
# `make check-torture`, run from a build directory configured with
# --enable-torture (and best also --enable-sanitizers, so that every run
# is checked for memory errors and leaks by ASan/LSan; TORTURE_VALGRIND=1
# runs each under valgrind instead).
#
# Unit tests (tests/spiffe/test_* and tests/ca/test_* among --tests) are
# tortured one cmocka test case at a time (LIBMCOSSL.so, preloaded, passes
# MC_TEST_FILTER to cmocka_set_test_filter()), so that a run failing
# allocation N re-runs only the case that reaches it:
#  - a clean run of the case counts our allocations (common/alloc.c,
#    MC_ALLOC_COUNT_FILE) and those of libcrypto, libssl and jansson (the
#    preloaded hook, MC_OSSL_COUNT_FILE);
#  - our allocations: the case re-runs with MC_ALLOC_FAIL=N, for every N
#    from 1 to its count (TORTURE_MC_RUNS=K: at most K, spread evenly);
#  - the libraries': with MC_OSSL_FAIL=N for at most TORTURE_OSSL_RUNS
#    N's spread over 1..count (default 50 per case; all walks every N;
#    sites fails the first allocation at each OpenSSL file:line and each
#    jansson call site, MC_OSSL_SITES_FILE).
#  Both fail allocation N and every later one (TORTURE_ONCE=1: N only,
#  so the code goes on after the failure and what it swallowed shows).
#  The N's are a function of the counts only, so two runs on the same
#  build try the same N's.
#  Test failures are expected when allocations fail. Not allowed: a
#  signal or abort (cmocka's "Test failed with exception" included), a
#  sanitizer report, a valgrind error, a timeout (TORTURE_TIMEOUT s,
#  default 60), a leak in a run whose tests all passed, or a leak found
#  at the moment a test failed. cmocka leaves a failed test by longjmp,
#  so what the test itself held leaks at exit too: the preloaded object
#  (MC_LEAK_AT_FAIL=1) runs LeakSanitizer's check just before that jump,
#  while the test's locals still hold their objects, and what nobody
#  holds then is a leak of the code under test. The leaks at exit of a
#  failed run (or of a test helper that gave up with exit()) are then
#  the test's own, and counted as warnings only.
#
# Corpus replays (the fuzz/fuzz_* binaries among --replays, built without
# libFuzzer): for each input file, every N from 1 to the number of our
# allocations that input makes (TORTURE_REPLAY_MC_RUNS=K: K of them),
# plus TORTURE_REPLAY_OSSL_RUNS (default 10) OpenSSL N's. The fuzz
# targets accept MESHCA_ERR_NOMEM and check every other invariant, so
# here any failure at all is a finding: an abort from FUZZ_CHECK (e.g. a
# parse error instead of "out of memory"), a crash, a leak.
#
# Runs go TORTURE_JOBS at a time (default: the number of processors).
# TORTURE_ONLY='GLOB' keeps the test binaries and fuzz targets whose path
# matches GLOB. The bounded pass CI runs (3204 runs, about 210 s of
# CPU: under two minutes on two idle cores; it walks every N of each
# test case with up to 64 allocations of ours, 33 to 64 spread N's of
# the bigger ones):
#   make check-torture TORTURE_MC_RUNS=64 TORTURE_OSSL_RUNS=4 \
#       TORTURE_REPLAY_MC_RUNS=4 TORTURE_REPLAY_OSSL_RUNS=1
#
# Each finding is printed with the command that reproduces it; the
# summary gives the runs per binary.
set -u

# One run, in a worker: "JOB ID KIND BIN ARG MODE N" (see the job list
# below); prints one line on stdout, in one write.
if [ "${1:-}" = --job ]; then
	id=$2 kind=$3 bin=$4 arg=$5 mode=$6 n=$7
	name=${bin##*/}
	out="$T_TMP/out.$id"
	envs=
	repro=
	cmd="./$bin"
	case $bin in fuzz/*) cmd="./$bin $arg" ;; esac
	case $kind in
	count)
		envs="$envs LD_PRELOAD=$T_LIB MC_OSSL_ONLY=$name"
		envs="$envs MC_ALLOC_COUNT_FILE=$T_TMP/mc.$id"
		envs="$envs MC_OSSL_COUNT_FILE=$T_TMP/os.$id"
		envs="$envs MC_OSSL_SITES_FILE=$T_TMP/si.$id"
		case $bin in fuzz/*) ;; *) envs="$envs MC_TEST_FILTER=$arg" ;; esac ;;
	test)
		repro="MC_TEST_ROUNDS=$MC_TEST_ROUNDS LD_PRELOAD=$T_LIB"
		repro="$repro MC_TEST_FILTER=$arg MC_LEAK_AT_FAIL=1"
		if [ "$mode" = mc ]; then
			repro="$repro MC_OSSL_ONLY=- MC_ALLOC_FAIL=$n"
		else
			repro="$repro MC_OSSL_ONLY=$name MC_OSSL_FAIL=$n"
		fi
		envs="$envs $T_ONCE $repro" ;;
	replay)
		if [ "$mode" = mc ]; then
			repro="MC_ALLOC_FAIL=$n"
		else
			repro="LD_PRELOAD=$T_LIB MC_OSSL_ONLY=$name MC_OSSL_FAIL=$n"
		fi
		envs="$envs $T_ONCE $repro" ;;
	esac
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	env $envs timeout -k 5 "$T_TIMEOUT" $T_WRAP $cmd >"$out" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	bad=
	# One pass over the output: the first error line, and whether
	# there was a leak report and a failed test.
	what=$(awk '
	/ERROR: AddressSanitizer|runtime error:|Test failed with exception|invariant broken|^==[0-9]*== Invalid|Conditional jump|ossl_fail: leak found/ {
		if (bad == "") bad = $0
	}
	/ERROR: LeakSanitizer|definitely lost/ { leak = 1 }
	/ossl_fail: no leak when the test failed/ { held = 1 }
	/^\[  FAILED  \]/ { failed = 1 }
	/^\[  PASSED  \]/ { passed = 1 }
	END {
		if (bad != "") print "bad " bad
		else if (leak && held && failed) print "leak-held"
		else if (leak) print (failed || !passed) ? "leak-failed" : "leak"
		else print "clean"
	}' "$out")
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		bad="timeout after ${T_TIMEOUT}s"
	elif [ $rc -ge 128 ]; then
		bad="killed by signal $((rc - 128))"
	elif [ "${what%% *}" = bad ]; then
		bad=${what#bad }
	elif [ "$what" = leak-held ] && [ "$kind" = test ]; then
		# The test failed, nothing leaked up to its failure: what
		# leaks at exit is what cmocka's longjmp took from it.
		rm -f "$out"
		printf 'held\t%s\t%s\n' "$id" "$ms"
		exit 0
	elif [ "$what" = leak-failed ] && [ "$kind" = test ]; then
		# No check at the failure (no LeakSanitizer, or a helper
		# that gave up with exit()): the leak may be the test's.
		rm -f "$out"
		printf 'warn\t%s\t%s\tleak in a failed test\t%s %s\n' "$id" \
			"$ms" "$envs" "$cmd"
		exit 0
	elif [ "${what%-failed}" = leak ]; then
		bad="leak: $(grep -m 1 -A 4 -e 'Direct leak' -e 'definitely lost' "$out" | tr '\n' ' ' | cut -c 1-300)"
	elif [ "$kind" != test ] && [ $rc -ne 0 ]; then
		bad="exit status $rc"
	fi
	if [ -n "$bad" ]; then
		bad=$(printf '%s' "$bad" | tr '\t\n' '  ' | cut -c 1-400)
		# Again with symbolized stacks for the log (symbolizing
		# every leak report of every run made them ten times slower).
		# shellcheck disable=SC2086
		ASAN_OPTIONS="$ASAN_OPTIONS:symbolize=1" env $envs \
			timeout -k 5 "$T_TIMEOUT" $T_WRAP $cmd \
			>"$T_LOGDIR/torture-finding-$id.log" 2>&1
		rm -f "$out"
		printf 'finding\t%s\t%s\t%s\tASAN_OPTIONS=%s%s %s %s\n' \
			"$id" "$ms" "$bad" verify_asan_link_order=0 "$envs" \
			"$T_WRAP" "$cmd"
		exit 0
	fi
	case $kind in
	list)
		# The cases, in the order cmocka ran them.
		printf 'list\t%s\t%s\n' "$bin" "$(sed -n \
			's/^\[ RUN      \] //p' "$out" | tr '\n' ' ')" ;;
	count)
		# Only the process under test: children (openssl(1), a
		# forked copy) append their own lines.
		m=$(awk -v p="$name" '$2 == p || $2 == "lt-" p { if ($1 > c) c = $1 } END { print c + 0 }' "$T_TMP/mc.$id" 2>/dev/null || echo 0)
		o=$(awk '{ if ($1 > c) c = $1 } END { print c + 0 }' "$T_TMP/os.$id" 2>/dev/null || echo 0)
		# Replays print their own count (with several inputs it is
		# their sum; one input here).
		case $bin in fuzz/*) m=$(sed -n 's/.*our allocations: \([0-9]*\).*/\1/p' "$out") ;; esac
		# The first N of each OpenSSL or jansson allocation site.
		si=$(cut -d ' ' -f 1 "$T_TMP/si.$id" 2>/dev/null | sort -n |
			tr '\n' ',')
		rm -f "$T_TMP/mc.$id" "$T_TMP/os.$id" "$T_TMP/si.$id"
		printf 'count\t%s\t%s\t%s\t%s\t%s\n' "$bin" "$arg" "${m:-0}" \
			"${o:-0}" "${si:-,}" ;;
	*)
		printf 'ok\t%s\t%s\n' "$id" "$ms" ;;
	esac
	rm -f "$out"
	exit 0
fi

ossl=
canary=
srcdir=.
tests=
replays=
while [ $# -gt 0 ]; do
	case $1 in
	--ossl) ossl=$2; shift 2 ;;
	--canary) canary=$2; shift 2 ;;
	--srcdir) srcdir=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--replays) replays=$2; shift 2 ;;
	*) echo "torture.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

if ! grep -q '^#define MC_TORTURE 1' config.h 2>/dev/null; then
	echo "check-torture: configure with --enable-torture" \
		"(and --enable-sanitizers) in this build directory" >&2
	exit 1
fi

# Build only what is tortured (check_PROGRAMS holds everyone's tests).
only=${TORTURE_ONLY:-*}
pick_tests=
for t in $tests; do
	# shellcheck disable=SC2254
	case $t in tests/spiffe/test_* | tests/ca/test_*) ;; *) continue ;; esac
	# shellcheck disable=SC2254
	case $t in $only) pick_tests="$pick_tests $t" ;; esac
done
pick_replays=
for r in $replays; do
	case $r in fuzz/fuzz_*) ;; *) continue ;; esac
	# shellcheck disable=SC2254
	case $r in $only) pick_replays="$pick_replays $r" ;; esac
done
tests=$pick_tests
replays=$pick_replays
if [ -n "$tests$replays" ]; then
	# shellcheck disable=SC2086
	${MAKE:-make} $tests $replays >/dev/null || exit 1
fi

case $ossl in /*) ;; *) ossl=$(pwd)/$ossl ;; esac
mc_runs=${TORTURE_MC_RUNS:-all}
ossl_runs=${TORTURE_OSSL_RUNS:-50}
replay_mc_runs=${TORTURE_REPLAY_MC_RUNS:-all}
replay_ossl_runs=${TORTURE_REPLAY_OSSL_RUNS:-10}
jobs=${TORTURE_JOBS:-$(nproc 2>/dev/null || echo 2)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torture.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# ASan exits 86 on an error; leaks are checked at exit. The preloaded
# hook is not instrumented, so ASan must not insist on coming first.
ASAN_OPTIONS="exitcode=86:detect_leaks=1:verify_asan_link_order=0:abort_on_error=0:symbolize=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="print_stacktrace=1:exitcode=87${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
if [ "${TORTURE_VALGRIND:-0}" = 1 ]; then
	T_WRAP="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect"
else
	T_WRAP=
fi
T_TMP=$tmp T_LIB=$ossl T_TIMEOUT=${TORTURE_TIMEOUT:-60} T_LOGDIR=$(pwd)
T_ONCE=
[ "${TORTURE_ONCE:-0}" = 1 ] && T_ONCE="MC_ALLOC_ONCE=1 MC_OSSL_ONCE=1"
export ASAN_OPTIONS UBSAN_OPTIONS T_WRAP T_TMP T_LIB T_TIMEOUT T_LOGDIR T_ONCE
# Tests that repeat one operation many times (test_svid's reload race)
# do it fewer times here: each N re-runs the whole case.
MC_TEST_ROUNDS=${MC_TEST_ROUNDS:-20}
export MC_TEST_ROUNDS
rm -f torture-finding-*.log

self=$0
case $self in /*) ;; *) self=$(pwd)/$self ;; esac

# pool < JOBS > RESULTS: runs each job line through a worker, $jobs at
# a time.
pool() {
	xargs -r -P "$jobs" -L 1 sh "$self" --job
}

# points COUNT RUNS [SITES]: the N's to try: all when COUNT <= RUNS,
# else 1 and every S-th after it, S the smallest power of two that
# makes them at most RUNS (at least RUNS/2); RUNS=sites: the N's in
# SITES (comma-separated), the first allocation at each site.
points() {
	if [ "$2" = sites ]; then
		printf '%s\n' "${3:-}" | tr ',' '\n' | grep .
	elif [ "$2" = all ] || [ "$1" -le "$2" ]; then
		[ "$1" -gt 0 ] && seq 1 "$1"
	elif [ "$2" -le 1 ]; then
		echo 1
	else
		# Counts move a little from run to run (threads, OpenSSL's
		# random nonces and primes), so the step is a power of two:
		# the N's change only when COUNT crosses one.
		awk -v c="$1" -v r="$2" 'BEGIN {
			for (s = 1; s * r < c; s *= 2)
				;
			for (n = 1; n <= c; n += s)
				print n
		}'
	fi
}

start=$(date +%s)
findings=0
warnings=0
held=0

# run_jobs FILE: runs the jobs in FILE through the pool, prints each
# finding as it comes, and leaves the results in $tmp/res.
run_jobs() {
	: >"$tmp/res"
	pool <"$1" | while IFS= read -r line; do
		printf '%s\n' "$line" >>"$tmp/res"
		case $line in
		warn*)
			echo "  warning: $(printf '%s' "$line" | cut -f 4):" \
				"$(printf '%s' "$line" | cut -f 5)"
			continue ;;
		finding*) ;;
		*) continue ;;
		esac
		echo "  FINDING: $(printf '%s' "$line" | cut -f 4)"
		echo "    reproduce: $(printf '%s' "$line" | cut -f 5)"
		echo "    output: $T_LOGDIR/torture-finding-$(printf '%s' \
			"$line" | cut -f 2).log"
	done
	findings=$((findings + $(grep -c '^finding' "$tmp/res")))
	warnings=$((warnings + $(grep -c '^warn' "$tmp/res")))
	held=$((held + $(grep -c '^held' "$tmp/res")))
}

# 0. The canary (tests/torture/canary.c): the leak check at a test's
# failure finds a leak on an error path, and not a block the failed test
# still holds. It needs LeakSanitizer; under valgrind the leaks of
# failed runs stay warnings only.
canary_run() {
	env LD_PRELOAD="$ossl" MC_OSSL_ONLY=- MC_LEAK_AT_FAIL=1 \
		MC_TEST_FILTER="$1" "$canary" 2>&1
}
if [ -z "$canary" ] || [ "${TORTURE_VALGRIND:-0}" = 1 ]; then
	:
elif ! "$canary" --has-lsan; then
	echo "check-torture: no LeakSanitizer in this build (configure" \
		"--enable-sanitizers): leaks in failed runs are warnings only"
elif ! canary_run leak_then_fail | grep -q 'ossl_fail: leak found' ||
    canary_run held_then_fail | grep -q 'ossl_fail: leak found'; then
	echo "  FINDING: the canary: the leak check at a test's failure" \
		"misses a leak on an error path, or reports what the test" \
		"holds (see tests/torture/canary.c)"
	echo "    reproduce: LD_PRELOAD=$ossl MC_OSSL_ONLY=- MC_LEAK_AT_FAIL=1" \
		"MC_TEST_FILTER=leak_then_fail ASAN_OPTIONS=$ASAN_OPTIONS $canary"
	findings=$((findings + 1))
fi

# 1. Each test binary runs whole once, clean: it must pass, and names
# its cases.
id=0
for t in $tests; do
	[ -x "$t" ] || { echo "$t: not built"; continue; }
	id=$((id + 1))
	echo "$id list $t - - 0"
done >"$tmp/jobs"
run_jobs "$tmp/jobs"
: >"$tmp/cases"
for t in $tests; do
	[ -x "$t" ] || continue
	line=$(grep "^list	$t	" "$tmp/res")
	if [ -z "$line" ]; then
		echo "$t: fails without injected failures; not tortured"
		warnings=$((warnings + 1))
		continue
	fi
	for c in $(printf '%s\n' "$line" | cut -f 3); do
		echo "$t $c" >>"$tmp/cases"
	done
done

# 2. Each case alone, and each corpus input, once clean, counting.
id=0
while read -r t c; do
	id=$((id + 1))
	echo "$id count $t $c - 0"
done <"$tmp/cases" >"$tmp/jobs"
for r in $replays; do
	[ -x "$r" ] || { echo "$r: not built"; continue; }
	for f in "$srcdir/fuzz/corpus/${r##*/fuzz_}"/*; do
		[ -f "$f" ] || continue
		id=$((id + 1))
		echo "$id count $r $f - 0"
	done
done >>"$tmp/jobs"
run_jobs "$tmp/jobs"

# 3. The walk.
id=100000
grep '^count' "$tmp/res" | sort -u >"$tmp/counts"
while IFS='	' read -r _ bin arg mc oc si; do
	case $bin in
	fuzz/*) kind=replay m=$replay_mc_runs o=$replay_ossl_runs ;;
	*) kind=test m=$mc_runs o=$ossl_runs ;;
	esac
	for n in $(points "$mc" "$m"); do
		id=$((id + 1))
		echo "$id $kind $bin $arg mc $n"
	done
	for n in $(points "$oc" "$o" "$si"); do
		id=$((id + 1))
		echo "$id $kind $bin $arg ossl $n"
	done
done <"$tmp/counts" >"$tmp/jobs"
total=$(wc -l <"$tmp/jobs")
echo "check-torture: $total runs, $jobs at a time" \
	"(TORTURE_MC_RUNS=$mc_runs TORTURE_OSSL_RUNS=$ossl_runs" \
	"TORTURE_REPLAY_MC_RUNS=$replay_mc_runs" \
	"TORTURE_REPLAY_OSSL_RUNS=$replay_ossl_runs)"
run_jobs "$tmp/jobs"

# Per binary: cases or inputs, N's of ours and of the libraries' walked
# out of how many allocations, and the time its runs took (summed over
# the parallel runs, so more than the wall-clock share).
awk '
FILENAME ~ /counts$/ {
	b = $2; k[b]++; mct[b] += $4; oct[b] += $5; next
}
FILENAME ~ /jobs$/ {
	split($0, f, " "); bin[f[1]] = f[3]
	if (f[5] == "mc") mr[f[3]]++; else lr[f[3]]++
	next
}
{ ms[bin[$2]] += $3 }
END {
	for (b in k)
		printf "%s: %d %s; our allocations: %d N of %d; " \
		    "OpenSSL and jansson: %d N of %d; %.0f s\n", b, k[b],
		    b ~ /^fuzz/ ? "input(s)" : "case(s)", mr[b], mct[b],
		    lr[b], oct[b], ms[b] / 1000
}' FS='\t' "$tmp/counts" "$tmp/jobs" "$tmp/res" | sort

echo "check-torture: $total runs in $(($(date +%s) - start)) s," \
	"$findings finding(s), $warnings warning(s)"
echo "check-torture: $held failed run(s) leaked at exit only what the" \
	"test held (no leak when it failed)"
[ $findings -eq 0 ]
