#!/bin/sh
# summary.sh [--why] LOG...: prints "N passed, N failed" over the test logs
# the automake harness wrote. A cmocka log counts its "[  PASSED  ] N
# test(s)." and "[  FAILED  ] N test(s)" lines; any other test counts as
# one, by the result in its .trs file. Exits 1 when anything failed.
# --why: first, for each failing test, its failed cases and the last
# lines of its log (what a CI report that keeps only the tail shows).
why=
if [ "${1:-}" = --why ]; then
	why=1
	shift
fi
passed=0
failed=0
for log in "$@"; do
	trs=${log%.log}.trs
	[ -f "$log" ] || continue
	res=$(sed -n 's/^:test-result: //p' "$trs" 2>/dev/null | head -1)
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	if [ "$p" -gt 0 ] || [ "$f" -gt 0 ]; then
		# a cmocka binary that crashed after its summary still fails
		if [ "$f" -eq 0 ] && [ -n "$res" ] && [ "$res" != PASS ] && [ "$res" != SKIP ]; then
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
	else
		case $res in
		PASS | SKIP) f=0 ;;
		*) f=1 ;;
		esac
		[ "$res" = PASS ] && passed=$((passed + 1))
		failed=$((failed + f))
	fi
	if [ -n "$why" ] && [ "$f" -gt 0 ]; then
		echo "---- $log: ${res:-no result}"
		grep -a '^\[  FAILED  \] [^0-9]\|^# VIOLATION\|^not ok' "$log" | head -n 20
		echo "---- last lines of $log"
		tail -n 25 "$log"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
