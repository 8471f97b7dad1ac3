#!/bin/sh
# summary.sh LOG...: prints "N passed, N failed" over the test logs the
# automake harness wrote. A cmocka log counts its "[  PASSED  ] N test(s)."
# and "[  FAILED  ] N test(s)" lines; any other test counts as one, by the
# result in its .trs file. Exits 1 when anything failed.
passed=0
failed=0
for log in "$@"; do
	trs=${log%.log}.trs
	[ -f "$log" ] || continue
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	if [ "$p" -gt 0 ] || [ "$f" -gt 0 ]; then
		res=$(sed -n 's/^:test-result: //p' "$trs" 2>/dev/null | head -1)
		# a cmocka binary that crashed after its summary still fails
		if [ "$f" -eq 0 ] && [ -n "$res" ] && [ "$res" != PASS ] && [ "$res" != SKIP ]; then
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
	else
		case $(sed -n 's/^:test-result: //p' "$trs" 2>/dev/null | head -1) in
		PASS) passed=$((passed + 1)) ;;
		SKIP) ;;
		*) failed=$((failed + 1)) ;;
		esac
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
