#!/bin/sh
# torture.sh: allocation-failure runs of meshca(1), by hand, from a build
# directory configured with --enable-torture --enable-sanitizers:
#
#   sh $top_srcdir/tests/cli/torture.sh [OSSL_STEP]
#
# Builds the contract-test PKI, then for a few commands walks
# MC_ALLOC_FAIL=N (our allocations) from 1 until the command succeeds,
# and MC_OSSL_FAIL=N (OpenSSL's, through tests/torture/libmcossl.so) over
# every OSSL_STEP-th allocation (default 25). Each failing run must exit
# 1, 2 or 3 with a message on stderr; a signal, a sanitizer report, a
# silent failure or a leak of ours is a finding. Leaks allocated by
# OpenSSL's one-time initialization (CRYPTO_THREAD_run_once), which a
# failed allocation leaves half done, are counted apart as OpenSSL's.
set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
step=${1:-25}
MESHCA=$builddir/cli/meshca
ossl=$builddir/tests/torture/libmcossl.so

if ! grep -q '^#define MC_TORTURE 1' "$builddir/config.h" 2>/dev/null; then
	echo "torture.sh: configure this build with --enable-torture" >&2
	exit 2
fi
${MAKE:-make} -C "$builddir" cli/meshca tests/torture/libmcossl.so \
    >/dev/null || exit 2

work=$(mktemp -d "${TMPDIR:-/tmp}/meshca-torture.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
sh "$srcdir/tests/cli/mkpki.sh" "$work/pki" >/dev/null 2>&1 || exit 2
P=$work/pki

ASAN_OPTIONS="exitcode=86:detect_leaks=1:verify_asan_link_order=0:fast_unwind_on_malloc=0"
UBSAN_OPTIONS="exitcode=87:print_stacktrace=1"
export ASAN_OPTIONS UBSAN_OPTIONS

findings=0
ossl_leaks=0
runs=0

# only_ossl_init_leaks FILE: every leak LeakSanitizer reports in FILE
# was allocated under CRYPTO_THREAD_run_once, i.e. by OpenSSL's one-time
# initialization that a failed allocation left half done.
only_ossl_init_leaks() {
	awk '/leak of/ { if (n++ && !ok) bad = 1; ok = 0 }
	    /CRYPTO_THREAD_run_once/ { ok = 1 }
	    END { if (n && !ok) bad = 1; exit bad || !n }' "$1"
}

# check ENV... -- ARGS: one run with the environment ENV; returns 0
# when it did what the run without failures did (same exit status and
# output), i.e. no allocation failed on its path.
check() {
	envs=
	while [ "$1" != -- ]; do
		envs="$envs $1"
		shift
	done
	shift
	runs=$((runs + 1))
	# shellcheck disable=SC2086
	env $envs "$MESHCA" "$@" >"$work/out" 2>"$work/err"
	rc=$?
	if [ $rc -eq "$base_rc" ] && cmp -s "$work/out" "$work/base.out" &&
	    cmp -s "$work/err" "$work/base.err"; then
		return 0
	fi
	if [ $rc -eq 86 ] && grep -q 'LeakSanitizer' "$work/err" &&
	    only_ossl_init_leaks "$work/err"; then
		ossl_leaks=$((ossl_leaks + 1))
	elif [ $rc -lt 1 ] || [ $rc -gt 3 ] || [ ! -s "$work/err" ] ||
	    grep -q -e Sanitizer -e 'runtime error' "$work/err"; then
		findings=$((findings + 1))
		echo "FINDING: $envs meshca $* -> exit $rc"
		sed 's/^/    /' "$work/err" | head -30
	fi
	return 1
}

walk() {
	"$MESHCA" "$@" >"$work/base.out" 2>"$work/base.err"
	base_rc=$?
	n=1
	while [ $n -lt 100000 ]; do
		check "MC_ALLOC_FAIL=$n" -- "$@" && break
		n=$((n + 1))
	done
	echo "MC_ALLOC_FAIL: meshca $*: $n allocations"
	LD_PRELOAD=$ossl MC_OSSL_COUNT_FILE=$work/count "$MESHCA" "$@" \
	    >/dev/null 2>&1
	count=$(cat "$work/count" 2>/dev/null || echo 0)
	n=1
	while [ "$n" -le "$count" ]; do
		check "LD_PRELOAD=$ossl" "MC_OSSL_FAIL=$n" -- "$@"
		n=$((n + step))
	done
	echo "MC_OSSL_FAIL: meshca $*: every ${step}th of $count allocations"
}

ID=spiffe://example.org/ns/a/sa/b
walk id "$ID"
walk --json id "$ID"
walk verify --bundle "$P/root.pem" --crl "$P/crls.pem" --id "$ID" \
    --at 2030-01-01T00:00:00Z "$P/good.pem"
if [ -f "$P/bundle.json" ]; then
	walk --json verify --bundle "$P/bundle.json" --trust-domain example.org \
	    "$P/good.pem"
fi
walk verify --bundle "$P/root.pem" --crl "$P/crls.pem" "$P/revoked.pem"

echo "$runs runs, $findings findings, $ossl_leaks leaks inside OpenSSL only"
[ "$findings" -eq 0 ]
