#!/bin/sh
# bench_meshcad.sh [--quick]: meshcad's benchmarks against the Kubernetes
# API emulator, each a figure of the same run (bench/soak/bench.py does
# the work; it explains each step):
#   BENCH meshcad.reconcile_10k_vs_floor  cold reconcile of 10,000
#         accounts over max(bare-client Secret creates, in-process mint)
#   BENCH meshcad.reconcile_seconds       the reconcile itself
#   BENCH meshcad.idle_cpu_pct            CPU, % of a core, while idle
#   BENCH meshcad.crl_bytes_10k           the CRL after 10% deleted
#   BENCH meshcad.rss_mib                 peak RSS (VmHWM) of meshcad
# Knobs: BENCH_ACCOUNTS (10000), IDLE_SECONDS (60), SAMPLE (200 Secrets
# checked in full), KEEP_LOGS=1 keeps the scratch directory, TMPDIR
# (/tmp) holds it: TMPDIR=/dev/shm puts the ledger on tmpfs (no fsync
# cost), which tells the ledger's share of the reconcile time.
# --quick: 300 accounts, 3 s idle, ratios meaningless; for make check.
# Everything listens on 127.0.0.1 and is killed on exit.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
PY=${PYTHON3:-/usr/bin/python3}
for tool in openssl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "skip: $tool not found"
		exit 77
	}
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshcad-bench.XXXXXX")
export top_srcdir top_builddir WORK PYTHON3="$PY"
"$PY" "$top_srcdir/bench/soak/bench.py" "$@"
rc=$?
if [ $rc -ne 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
	for f in "$WORK"/*.log; do
		[ -f "$f" ] || continue
		echo "# --- tail of $(basename "$f")" >&2
		tail -n 10 "$f" | sed 's/^/# /' >&2
	done
fi
if [ -n "${KEEP_LOGS:-}" ]; then
	echo "# logs kept in $WORK" >&2
else
	rm -rf "$WORK"
fi
exit $rc
