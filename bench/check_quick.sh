#!/bin/sh
# check_quick.sh: runs every benchmark in --quick mode and checks that it
# succeeds and prints only well-formed "BENCH name value unit" lines, so
# make check notices a benchmark that no longer builds, runs or reports.
# The figures of a quick run mean nothing and are not checked.
set -u
builddir=${top_builddir:-.}
status=0
n=0
for b in bench_verify bench_handshake; do
	out=$("$builddir/bench/$b" --quick) || {
		echo "FAIL: bench/$b --quick exited $?"
		status=1
		continue
	}
	echo "$out"
	bad=$(echo "$out" | grep -Ev '^BENCH [a-z0-9_.]+ [0-9][0-9.e+-]* [a-z/]+$')
	if [ -n "$bad" ] || [ -z "$out" ]; then
		echo "FAIL: bench/$b: malformed output: $bad"
		status=1
	fi
	n=$((n + 1))
done
[ "$n" -eq 2 ] || status=1
exit $status
