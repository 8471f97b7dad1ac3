#!/bin/sh
# check-static.sh TOP_SRCDIR BUILDDIR: `make check-static`.
#  1. cppcheck over every .c of ours (warning, portability, performance),
#     suppressions in tools/cppcheck.supp or inline at the line;
#  2. clang-tidy with the checked-in .clang-tidy over every .c of ours,
#     with the build's preprocessor flags (and EXTRA_CFLAGS, the
#     dependencies' from the Makefile);
#  3. scan-build (clang's static analyzer) over a fresh build of the whole
#     tree and its tests in BUILDDIR/scan-build (reports in
#     BUILDDIR/scan-build/report); the analyzer runs here only, not also
#     as clang-tidy's clang-analyzer-* checks (.clang-tidy says why).
# Any finding fails the check; each suppression says why where it sits.
# STATIC_ONLY="cppcheck clang-tidy scan-build" picks some of the three;
# STATIC_FILES="a.c b.c" limits cppcheck and clang-tidy to those files
# (paths from TOP_SRCDIR); STATIC_JOBS=N runs N at once (default: the
# number of processors). The findings are printed sorted, so two runs
# over the same tree print the same lines.
# Debian packages: cppcheck, clang-tidy, clang-tools (scan-build).
set -u

# Absolute: the script changes directory, and make passes top_srcdir as
# configure saw it (".." for a build directory inside the tree).
top=$(cd "$1" && pwd) || exit 2
build=$(cd "$2" && pwd) || exit 2
only=${STATIC_ONLY:-cppcheck clang-tidy scan-build}
fail=0
cd "$top" || exit 2

if [ -n "${STATIC_FILES:-}" ]; then
	files=$STATIC_FILES
elif git rev-parse --git-dir >/dev/null 2>&1; then
	files=$(git ls-files '*.c')
else
	files=$(find common spiffe ca store k8s cli daemon tests fuzz bench \
		-name '*.c' 2>/dev/null | sort)
fi
jobs=${STATIC_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
start=$(date +%s)
elapsed() {
	echo "($(($(date +%s) - start)) s)"
}
# The flags every unit sees, plus the test macros (tests/Makefile.inc).
# The quotes around TOP_SRCDIR and TOP_BUILDDIR stay in the words on
# purpose: the compiler must see string literals.
# shellcheck disable=SC2089,SC2090
flags="-std=c11 -include $build/config.h -I$top/include -I$top \
-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DMC_TESTING \
-DTOP_SRCDIR=\"$top\" -DTOP_BUILDDIR=\"$build\" ${EXTRA_CFLAGS:-}"

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "$1 not found: apt-get install $2" >&2
	fail=1
	return 1
}

case " $only " in *" cppcheck "*)
	echo "== cppcheck"
	if need cppcheck cppcheck; then
		# shellcheck disable=SC2086
		cppcheck -q --std=c11 --language=c --inline-suppr \
			--enable=warning,portability,performance \
			--suppressions-list="$top/tools/cppcheck.supp" \
			--library="$top/tools/cppcheck.cfg" --library=posix \
			--include="$build/config.h" -I"$top/include" -I"$top" \
			-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DMC_TESTING \
			-DTOP_SRCDIR='"."' -DTOP_BUILDDIR='"."' \
			--error-exitcode=1 --template=gcc -j "$jobs" \
			$files >"$build/cppcheck.log" 2>&1
		rc=$?
		grep -E ': (warning|error|portability|performance|style):' \
			"$build/cppcheck.log" | sort -u >"$build/cppcheck.findings"
		cat "$build/cppcheck.findings"
		n=$(wc -l <"$build/cppcheck.findings")
		echo "cppcheck: $n finding(s) $(elapsed) (details: $build/cppcheck.log)"
		[ $rc -eq 0 ] && [ "$n" -eq 0 ] || fail=1
	fi
	;;
esac

case " $only " in *" clang-tidy "*)
	echo "== clang-tidy"
	if need clang-tidy clang-tidy; then
		# One process per file, $jobs at once, each to its own log
		# (joined in file order afterwards, so the log reads the
		# same from run to run).
		logs=$build/clang-tidy.d
		rm -rf "$logs"
		mkdir -p "$logs"
		CT_FLAGS=$flags CT_LOGS=$logs CT_CONFIG=$top/.clang-tidy
		# shellcheck disable=SC2090
		export CT_FLAGS CT_LOGS CT_CONFIG
		# $files is a list of words; the script in '' is sh -c's.
		# shellcheck disable=SC2016,SC2086
		printf '%s\n' $files | xargs -P "$jobs" -n 1 sh -c \
			'log="$CT_LOGS/$(echo "$1" | tr / _).log"
			clang-tidy --quiet --config-file="$CT_CONFIG" "$1" -- \
			$CT_FLAGS >"$log" 2>&1 ||
			echo "$1:1:1: error: clang-tidy exited $?" >>"$log"' sh
		: >"$build/clang-tidy.log"
		for f in $files; do
			cat "$logs/$(echo "$f" | tr / _).log" \
				>>"$build/clang-tidy.log" 2>/dev/null ||
				echo "$f: error: clang-tidy did not run" \
				>>"$build/clang-tidy.log"
		done
		grep -E ': (warning|error):' "$build/clang-tidy.log" |
			sort -u >"$build/clang-tidy.findings"
		cat "$build/clang-tidy.findings"
		n=$(wc -l <"$build/clang-tidy.findings")
		echo "clang-tidy: $n finding(s) $(elapsed) (details: $build/clang-tidy.log)"
		[ "$n" -eq 0 ] || fail=1
	fi
	;;
esac

case " $only " in *" scan-build "*)
	echo "== scan-build"
	sb=$(command -v scan-build || command -v scan-build-14 || true)
	if [ -z "$sb" ]; then
		echo "scan-build not found: apt-get install clang-tools" >&2
		fail=1
	else
		dir=$build/scan-build
		rm -rf "$dir"
		# A clean configure: none of the caller's compiler settings.
		unset CC CFLAGS CPPFLAGS LDFLAGS EXTRA_CFLAGS
		mkdir -p "$dir"
		(cd "$dir" &&
			"$sb" -o report "$top/configure" -q --disable-hardening \
				>configure.log 2>&1 &&
			"$sb" -o report --status-bugs -analyze-headers \
				make -j"$jobs" all >make.log 2>&1 &&
			"$sb" -o report --status-bugs -analyze-headers \
				make -j"$jobs" check TESTS= >>make.log 2>&1)
		rc=$?
		grep -E 'warning:.*\[(core|unix|security|deadcode|cplusplus|nullability|optin|alpha)' \
			"$dir/make.log" | sort -u
		tail -2 "$dir/make.log"
		echo "scan-build: done $(elapsed)"
		if [ $rc -ne 0 ]; then
			echo "scan-build: failed (exit $rc): bugs found or the build broke; see $dir/make.log and $dir/report"
			fail=1
		fi
	fi
	;;
esac

[ $fail -eq 0 ] && echo "check-static: ok" || echo "check-static: FAILED"
exit $fail
