#!/bin/sh
# torture.sh --ossl LIBMCOSSL.so --srcdir TOP_SRCDIR --tests 'BIN...'
# --replays 'BIN...':
# `make check-torture`, run from a build directory configured with
# --enable-torture (and best also --enable-sanitizers, so that every run
# is checked for memory errors and leaks by ASan/LSan; TORTURE_VALGRIND=1
# runs each under valgrind instead).
#
# Unit tests (tests/spiffe/test_* and tests/ca/test_* among --tests):
#  - our allocations: re-run with MC_ALLOC_FAIL=N for N = 1, 2, ... until
#    a run passes whole (allocation N is then past the last one the tests
#    make; common/alloc.c fails the Nth and every later one);
#  - OpenSSL's and jansson's: the binary runs once with LIBMCOSSL.so preloaded to count
#    libcrypto's allocations, then with MC_OSSL_FAIL=N for
#    TORTURE_OSSL_RUNS values of N spread evenly over 1..count (default
#    200; TORTURE_OSSL_RUNS=all walks every N).
#  Test failures are expected when allocations fail. Not allowed: a
#  signal or abort (cmocka's "Test failed with exception" included), a
#  sanitizer report, a valgrind error, a timeout (TORTURE_TIMEOUT s,
#  default 60), or a leak in a run whose tests all passed. (A leak in a
#  run where a test failed, or a test helper gave up with exit(), is
#  counted as a warning only: cmocka leaves a failed test by longjmp, so
#  what the test itself held leaks too.)
#
# Corpus replays (the fuzz/fuzz_* binaries among --replays, built without
# libFuzzer): for each input file, every N from 1 to the number of our
# allocations that input makes (replay.c prints it), plus
# TORTURE_REPLAY_OSSL_RUNS (default 10) OpenSSL N's. The fuzz targets
# accept MESHCA_ERR_NOMEM and check every other invariant, so here any
# failure at all is a finding: an abort from FUZZ_CHECK (e.g. a parse
# error instead of "out of memory"), a crash, a leak.
#
# Each finding is printed with the command that reproduces it.
set -u

ossl=
srcdir=.
tests=
replays=
while [ $# -gt 0 ]; do
	case $1 in
	--ossl) ossl=$2; shift 2 ;;
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
pick_tests=
for t in $tests; do
	case $t in tests/spiffe/test_* | tests/ca/test_*) pick_tests="$pick_tests $t" ;; esac
done
pick_replays=
for r in $replays; do
	case $r in fuzz/fuzz_*) pick_replays="$pick_replays $r" ;; esac
done
tests=$pick_tests
replays=$pick_replays
if [ -n "$tests$replays" ]; then
	# shellcheck disable=SC2086
	${MAKE:-make} $tests $replays >/dev/null || exit 1
fi

timeout_s=${TORTURE_TIMEOUT:-60}
ossl_runs=${TORTURE_OSSL_RUNS:-200}
replay_ossl_runs=${TORTURE_REPLAY_OSSL_RUNS:-10}
max_n=${TORTURE_MAX:-100000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torture.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# ASan exits 86 on an error; leaks are checked at exit. The preloaded
# hook is not instrumented, so ASan must not insist on coming first.
ASAN_OPTIONS="exitcode=86:detect_leaks=1:verify_asan_link_order=0:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="print_stacktrace=1:exitcode=87${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS
if [ "${TORTURE_VALGRIND:-0}" = 1 ]; then
	wrap="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect"
else
	wrap=
fi

findings=0
warnings=0
runs=0

# run ENV... -- CMD...: runs once; sets rc and leaves the output in $tmp/out.
run() {
	envs=
	while [ "$1" != -- ]; do envs="$envs $1"; shift; done
	shift
	runs=$((runs + 1))
	# shellcheck disable=SC2086
	env $envs timeout -k 5 "$timeout_s" $wrap "$@" >"$tmp/out" 2>&1
	rc=$?
}

# verdict KIND REPRO: classifies the last run; KIND is "test" or "replay".
verdict() {
	bad=
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		bad="timeout after ${timeout_s}s"
	elif [ $rc -ge 128 ]; then
		bad="killed by signal $((rc - 128))"
	elif grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
		-e 'Test failed with exception' -e 'invariant broken' \
		-e '^==[0-9]*== Invalid' -e 'Conditional jump' "$tmp/out"; then
		bad=$(grep -m 1 -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
			-e 'Test failed with exception' -e 'invariant broken' \
			-e '^==[0-9]*== Invalid' -e 'Conditional jump' "$tmp/out")
	elif grep -q -e 'ERROR: LeakSanitizer' -e 'definitely lost' "$tmp/out"; then
		# A leak counts only where every test passed: a failed test
		# (or a helper that gave up with exit()) leaks what it held.
		if [ "$1" = test ] && { grep -q '^\[  FAILED  \]' "$tmp/out" ||
		    ! grep -q '^\[  PASSED  \]' "$tmp/out"; }; then
			warnings=$((warnings + 1))
			return 0
		fi
		bad="leak: $(grep -m 1 -A 4 -e 'Direct leak' -e 'definitely lost' "$tmp/out" | tr '\n' ' ' | cut -c 1-300)"
	elif [ "$1" = replay ] && [ $rc -ne 0 ]; then
		bad="exit status $rc"
	fi
	[ -z "$bad" ] && return 0
	findings=$((findings + 1))
	echo "  FINDING: $bad"
	echo "    reproduce: $2"
	cp "$tmp/out" "torture-finding-$findings.log"
	echo "    output: $(pwd)/torture-finding-$findings.log"
	return 1
}

# ossl_points COUNT RUNS: the N's to try, spread over 1..COUNT.
ossl_points() {
	if [ "$2" = all ] || [ "$1" -le "$2" ]; then
		seq 1 "$1"
	else
		awk -v c="$1" -v r="$2" 'BEGIN { for (i = 0; i < r; i++) printf "%d\n", 1 + int(i * c / r) }'
	fi
}

ossl_count() { # CMD...: how many OpenSSL allocations one clean run makes
	rm -f "$tmp/count"
	run LD_PRELOAD="$ossl" MC_OSSL_ONLY="${1##*/}" \
		MC_OSSL_COUNT_FILE="$tmp/count" -- "$@"
	awk '{ if ($1 > n) n = $1 } END { print n + 0 }' "$tmp/count" 2>/dev/null || echo 0
}

start=$(date +%s)
for t in $tests; do
	case $t in
	tests/spiffe/test_* | tests/ca/test_*) ;;
	*) continue ;;
	esac
	[ -x "$t" ] || { echo "$t: not built"; continue; }
	run -- "./$t"
	if [ $rc -ne 0 ]; then
		echo "$t: fails without injected failures; not tortured"
		warnings=$((warnings + 1))
		continue
	fi
	n=1
	while [ $n -le "$max_n" ]; do
		run MC_ALLOC_FAIL=$n -- "./$t"
		verdict test "MC_ALLOC_FAIL=$n ./$t"
		[ $rc -eq 0 ] && break
		n=$((n + 1))
	done
	mc=$((n - 1))
	oc=$(ossl_count "./$t")
	tried=0
	for n in $(ossl_points "$oc" "$ossl_runs"); do
		run LD_PRELOAD="$ossl" MC_OSSL_ONLY="${t##*/}" MC_OSSL_FAIL=$n -- "./$t"
		verdict test "LD_PRELOAD=$ossl MC_OSSL_ONLY=${t##*/} MC_OSSL_FAIL=$n ./$t"
		tried=$((tried + 1))
	done
	echo "$t: mc allocations 1..$mc failed in turn; OpenSSL $tried of $oc"
done

for r in $replays; do
	case $r in fuzz/fuzz_*) ;; *) continue ;; esac
	[ -x "$r" ] || { echo "$r: not built"; continue; }
	name=${r##*/fuzz_}
	files=0
	total=0
	for f in "$srcdir/fuzz/corpus/$name"/*; do
		[ -f "$f" ] || continue
		files=$((files + 1))
		run -- "./$r" "$f"
		c=$(sed -n 's/.*our allocations: \([0-9]*\).*/\1/p' "$tmp/out")
		verdict replay "./$r $f" || continue
		n=1
		while [ $n -le "${c:-0}" ] && [ $n -le "$max_n" ]; do
			run MC_ALLOC_FAIL=$n -- "./$r" "$f"
			verdict replay "MC_ALLOC_FAIL=$n ./$r $f"
			n=$((n + 1))
		done
		total=$((total + ${c:-0}))
		oc=$(ossl_count "./$r" "$f")
		for n in $(ossl_points "$oc" "$replay_ossl_runs"); do
			run LD_PRELOAD="$ossl" MC_OSSL_ONLY="${r##*/}" MC_OSSL_FAIL=$n -- "./$r" "$f"
			verdict replay "LD_PRELOAD=$ossl MC_OSSL_ONLY=${r##*/} MC_OSSL_FAIL=$n ./$r $f"
		done
	done
	echo "$r: $files input(s), every one of $total mc allocations failed in turn"
done

echo "check-torture: $runs runs in $(($(date +%s) - start)) s," \
	"$findings finding(s), $warnings warning(s)"
[ $findings -eq 0 ]
