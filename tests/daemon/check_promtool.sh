#!/bin/sh
# check_promtool.sh: meshcad's exposition, with a sample of every kind of
# value, must pass `promtool check metrics` (Prometheus' own parser and
# linter). Skips (77) when promtool is not installed (Debian package
# prometheus).
command -v promtool >/dev/null 2>&1 || { echo "promtool not found: skip"; exit 77; }
: "${top_builddir:=.}"
dump="$top_builddir/tests/daemon/dump_metrics"
[ -x "$dump" ] || { echo "$dump not built"; exit 99; }
out=$("$dump") || exit 1
printf '%s\n' "$out" | promtool check metrics
rc=$?
[ $rc -eq 0 ] || { echo "promtool check metrics failed ($rc)"; exit 1; }
echo "promtool check metrics: ok"
