#!/bin/sh
# check_quick.sh: runs every benchmark (each bench/bench_* program built)
# in --quick mode and checks that it succeeds and prints well-formed
# "BENCH name value unit" lines on stdout, so make check notices a
# benchmark that no longer builds, runs or reports. The figures of a
# quick run mean nothing and are not checked.
set -u
builddir=${top_builddir:-.}
status=0
n=0
for b in "$builddir"/bench/bench_*; do
	case $b in *.o | *.c | *.h) continue ;; esac
	[ -f "$b" ] && [ -x "$b" ] || continue
	name=${b##*/}
	out=$("$b" --quick 2>"$builddir/bench/$name.quick.err")
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: bench/$name --quick exited $rc"
		sed 's/^/    /' "$builddir/bench/$name.quick.err"
		status=1
		continue
	fi
	echo "$out"
	bad=$(echo "$out" | grep -Ev '^BENCH [a-z0-9_.]+ [0-9][0-9.e+-]* [a-z/]+$')
	if [ -n "$bad" ] || [ -z "$out" ]; then
		echo "FAIL: bench/$name: malformed output: $bad"
		status=1
	fi
	rm -f "$builddir/bench/$name.quick.err"
	n=$((n + 1))
done
# At least this module's two must have run.
[ "$n" -ge 2 ] || { echo "FAIL: only $n benchmark(s) found"; status=1; }
exit $status
