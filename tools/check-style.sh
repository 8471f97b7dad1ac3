#!/bin/sh
# check-style.sh TOP_SRCDIR: `make check-style` (STYLE.md rules 19, 20).
#  1. clang-format --dry-run with the checked-in .clang-format (OpenBSD
#     KNF) over every .c and .h of ours;
#  2. calls we do not make (curl's checksrc list plus ours): strcpy,
#     strcat, sprintf, vsprintf, strtok, atoi, strncpy, gets, system;
#  3. mandoc -Tlint over man/*.[1-8];
#  4. usage() against the man page: the entries of `meshca --help` must be
#     the SYNOPSIS of meshca(1) word for word, and `meshcad --help` must
#     name the same options as meshcad(8) (BUILDDIR: where they are built).
# Banned calls and mandoc warnings fail the check. clang-format findings
# are listed and counted; they fail it only with STYLE_FORMAT=strict,
# because clang-format 14 cannot express all of KNF (string continuation
# lines, for one) and STYLE.md lets clearer code win. A line may opt out
# of the banned-call check with a comment "style: allow CALL (reason)".
set -u

top=${1:-.}
cd "$top" || exit 2
fail=0

# Our sources: git's list when there is one, else a find (a tarball).
if git rev-parse --git-dir >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h')
else
	files=$(find common spiffe ca store k8s cli daemon tests fuzz bench \
		include -name '*.[ch]' 2>/dev/null)
fi
files=$(echo "$files" | grep -v -e '^build' -e '/config\.h$' || true)

echo "== clang-format (KNF, .clang-format)"
fmt=0
if command -v clang-format >/dev/null 2>&1; then
	for f in $files; do
		n=$(clang-format --dry-run "$f" 2>&1 | grep -c ': warning:')
		if [ "$n" -gt 0 ]; then
			echo "$f: $n place(s) differ from KNF (clang-format -i $f shows them)"
			fmt=$((fmt + n))
		fi
	done
	echo "clang-format: $fmt place(s)"
	if [ "$fmt" -gt 0 ] && [ "${STYLE_FORMAT:-}" = strict ]; then
		fail=1
	fi
else
	echo "clang-format not found: apt-get install clang-format" >&2
	fail=1
fi

echo "== banned calls"
banned='strcpy|strcat|sprintf|vsprintf|strtok|atoi|strncpy|gets|system'
# A call is the name followed by "(", not part of a longer name
# (snprintf, strtok_r and fgets are fine).
hits=$(grep -n -E "(^|[^A-Za-z0-9_>.])($banned)[[:space:]]*\\(" $files |
	grep -v -E 'style: allow' |
	grep -v -E '^[^:]*:[0-9]+:[[:space:]]*(\*|/\*|//)' || true)
if [ -n "$hits" ]; then
	echo "$hits"
	echo "banned calls: $(echo "$hits" | wc -l) (use snprintf, strlcpy-like bounded copies, strtol, mc_buf)"
	fail=1
else
	echo "banned calls: none"
fi

echo "== mandoc -Tlint"
mandoc=${MANDOC:-mandoc}
if [ "$mandoc" = no ] || ! command -v "$mandoc" >/dev/null 2>&1; then
	echo "mandoc not found: apt-get install mandoc" >&2
	fail=1
else
	pages=$(ls man/*.[1-8] 2>/dev/null)
	if [ -n "$pages" ]; then
		# -Wwarning: warnings and worse; "style" notes are not failures.
		out=$("$mandoc" -Tlint -Wwarning $pages 2>&1)
		if [ -n "$out" ]; then
			echo "$out"
			fail=1
		fi
		echo "mandoc: $(echo "$pages" | wc -w) page(s), $(printf '%s' "$out" | grep -c .) finding(s)"
	else
		echo "mandoc: no pages"
	fi
fi

echo "== usage() against the man page SYNOPSIS"
# entries FILE: one line per synopsis entry (continuation lines joined,
# blanks squeezed, "a | b" written "a|b").
entries() {
	awk -v prog="$2" '
	{ sub(/^usage: /, "       ") }
	$1 == prog { if (e != "") print e; e = $0; next }
	e != "" && /^[ \t]/ { e = e " " $0; next }
	{ if (e != "") print e; e = "" }
	END { if (e != "") print e }' "$1" |
	sed -e 's/[[:space:]][[:space:]]*/ /g' -e 's/^ //' -e 's/ $//' \
		-e 's/ | /|/g'
}
# check_usage PROGRAM BINARY PAGE MODE: MODE "text" compares whole
# entries, "options" compares the sets of --options.
check_usage() {
	if [ ! -x "$2" ]; then
		echo "$1: $2 not built; skipped"
		return
	fi
	"$2" --help >"$tmp/usage" 2>&1
	"$mandoc" -Tascii "$3" | col -b |
		sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' >"$tmp/synopsis"
	entries "$tmp/usage" "$1" >"$tmp/u"
	entries "$tmp/synopsis" "$1" >"$tmp/s"
	if [ "$4" = options ]; then
		for f in u s; do
			grep -o -e '--[a-z][a-z0-9-]*' "$tmp/$f" | sort -u >"$tmp/$f.opt"
		done
		d=$(diff "$tmp/u.opt" "$tmp/s.opt")
	else
		d=$(diff "$tmp/u" "$tmp/s")
	fi
	if [ -n "$d" ]; then
		echo "$1: usage (<) and $3 SYNOPSIS (>) differ:"
		echo "$d"
		fail=1
	else
		echo "$1: usage matches $3 ($(wc -l <"$tmp/u") entries)"
	fi
}
if [ -n "${BUILDDIR:-}" ] && [ "$mandoc" != no ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/style.XXXXXX")
	check_usage meshca "$BUILDDIR/cli/meshca" man/meshca.1 text
	check_usage meshcad "$BUILDDIR/daemon/meshcad" man/meshcad.8 options
	rm -rf "$tmp"
else
	echo "usage: no build directory given; skipped"
fi

[ $fail -eq 0 ] && echo "check-style: ok" || echo "check-style: FAILED"
exit $fail
