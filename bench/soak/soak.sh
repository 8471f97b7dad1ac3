#!/bin/sh
# soak.sh: meshcad's churn-and-fault soak (bench/soak/soak.py says what
# it does and which invariants it checks). Two replicas and the
# Kubernetes API emulator on 127.0.0.1 in a scratch directory; every
# process is killed on exit. Prints "# " notes, every violation, and one
# summary line "SOAK seconds=... operations=... faults=... settles=...
# settles_failed=... violations=...
# max_convergence_s=... rss_kib=START/END fds=START/END"; exits 1 on any
# violation.
#
# Knobs (environment):
#   SOAK_SECONDS   length of the run (default 300)
#   CHURN_SECONDS  length of each churn phase between settles (20)
#   SETTLE_LIMIT   seconds the invariants may take to hold (10)
#   FLAT_AFTER     seconds of samples before RSS/fds must be flat (60;
#                  1e9 turns the check off, e.g. for a sanitizer build,
#                  whose allocator quarantine grows RSS by design)
#   SOAK_NAMESPACES, SOAK_ACCOUNTS  fleet bounds (6 namespaces, 12 each)
#   SOAK_CERT_TTL  meshcad --cert-ttl (2m: rotation happens in the run)
#   SOAK_SEED      the driver's random seed (printed at start)
#   SOAK_KILL      random (default, --quick too): SIGKILL the leader at
#                  any moment; quiet: only once settled, and the churn
#                  resumes when a leader is back; none: never (RSS and
#                  fds of two processes over the whole run)
#   SOAK_LEASE_FAULTS  1 (default): faults also hit the Lease and every
#                  path; 0: never
#   SOAK_LEASE     meshcad --lease-duration,--renew-deadline (3s,2s)
#   KEEP_LOGS=1    keep the scratch directory (logs, ledgers)
# --quick: the bounded variant for make check (about 35 s), printing
# cmocka-style lines so the test summary counts it.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
PY=${PYTHON3:-/usr/bin/python3}
for tool in openssl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "skip: $tool not found"
		exit 77
	}
done
[ -x "$top_builddir/daemon/meshcad" ] && [ -x "$top_builddir/cli/meshca" ] || {
	echo "skip: daemon/meshcad or cli/meshca not built"
	exit 77
}
quick=
if [ "${1:-}" = --quick ]; then
	quick=1
	: "${SOAK_SECONDS:=30}" "${CHURN_SECONDS:=8}"
	: "${SOAK_NAMESPACES:=4}" "${SOAK_ACCOUNTS:=8}" "${SOAK_KILL:=random}"
	: "${SOAK_LEASE_FAULTS:=1}" "${SOAK_LEASE:=3s,2s}"
	# make check runs tests in parallel: more time to settle than the
	# 10 s the full soak holds meshcad to (it settles in 1-3 s alone)
	: "${SETTLE_LIMIT:=20}"
	export SOAK_SECONDS CHURN_SECONDS SOAK_NAMESPACES SOAK_ACCOUNTS \
	    SOAK_KILL SOAK_LEASE_FAULTS SOAK_LEASE SETTLE_LIMIT
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshcad-soak.XXXXXX")
export top_srcdir top_builddir WORK PYTHON3="$PY"
"$PY" "$top_srcdir/bench/soak/soak.py"
rc=$?
if [ $rc -ne 0 ]; then
	for f in "$WORK"/*.log; do
		[ -f "$f" ] || continue
		echo "# --- tail of $(basename "$f")"
		tail -n 15 "$f" | sed 's/^/# /'
	done
	if [ -s "$WORK/violations.txt" ]; then
		echo "# --- the violations, again"
		sed 's/^/# /' "$WORK/violations.txt"
	fi
fi
if [ -n "${KEEP_LOGS:-}" ] || { [ $rc -ne 0 ] && [ -z "$quick" ]; }; then
	echo "# logs kept in $WORK"
else
	rm -rf "$WORK"
fi
if [ -n "$quick" ]; then
	echo "[==========] 1 test(s) run."
	if [ $rc -eq 0 ]; then
		echo "[       OK ] soak_quick"
		echo "[  PASSED  ] 1 test(s)."
	else
		echo "[  FAILED  ] soak_quick: violations above"
		echo "[  PASSED  ] 0 test(s)."
		echo "[  FAILED  ] 1 test(s)."
	fi
fi
exit $rc
