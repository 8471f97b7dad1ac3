#!/bin/sh
# run.sh: the contract tests of meshca(1). Builds a test PKI with
# tests/cli/mkpki.sh, then runs cli/meshca once per case file under
# tests/cli/cases/ and compares exit status, stdout (exactly) and stderr
# (by substring). Cases marked "valgrind: yes" run a second time under
# valgrind when it is installed. Two more checks: the usage text equals
# the SYNOPSIS of man/meshca.1, and the page is clean under mandoc -Tlint.
#
# A case file holds lines "key: value" (# starts a comment):
#   args:     the arguments, in sh syntax; @PKI@ is the PKI directory
#   exit:     the expected exit status
#   stdout:   one line of the expected stdout, in order (none: empty)
#   stdout-contains: a substring stdout must hold (instead of stdout:)
#   stderr:   a substring stderr must hold (none: stderr must be empty)
#   stderr-any: yes   (do not look at stderr)
#   stdin:    a file under @PKI@ to give as standard input (default none)
#   requires: a file under @PKI@ the case needs (skipped without it)
#   valgrind: yes
#
# Prints "[  PASSED  ] N test(s)." and, on failure, "[  FAILED  ] N
# test(s), listed below:" as cmocka does, for tests/summary.sh.
#
# Environment: top_srcdir, top_builddir (set by make check), MESHCA (the
# binary; default $top_builddir/cli/meshca), CASES (a glob of case names
# to run), VALGRIND (path, or "no").
set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
MESHCA=${MESHCA:-$builddir/cli/meshca}
CASES=${CASES:-*}

passed=0
failed=0
failures=

if [ ! -x "$MESHCA" ]; then
	echo "run.sh: $MESHCA not built" >&2
	echo "[  FAILED  ] 1 test(s), listed below:"
	exit 1
fi

# The PKI is made with the openssl(1) command line: skip (77) without it.
if ! command -v "${OPENSSL:-openssl}" >/dev/null 2>&1; then
	echo "run.sh: no openssl command (apt-get install openssl): skipped"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/meshca-cli.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
pki=$work/pki
if ! sh "$srcdir/tests/cli/mkpki.sh" "$pki" >"$work/mkpki.log" 2>&1; then
	echo "run.sh: mkpki.sh failed:" >&2
	cat "$work/mkpki.log" >&2
	echo "[  FAILED  ] 1 test(s), listed below:"
	exit 1
fi

# valgrind, unless the binary carries AddressSanitizer (they clash).
vg=${VALGRIND:-$(command -v valgrind 2>/dev/null || echo no)}
if [ "$vg" != no ] && grep -q __asan_init "$MESHCA" 2>/dev/null; then
	vg=no
fi

pass() {
	passed=$((passed + 1))
	echo "[       OK ] $1"
}

fail() {
	failed=$((failed + 1))
	failures="$failures $1"
	echo "[  FAILED  ] $1: $2"
}

# field FILE KEY: the values of KEY in FILE, one a line.
field() {
	sed -n "s/^$2: //p; s/^$2:\$//p" "$1"
}

# run_case FILE NAME [WRAPPER...]
run_case() {
	file=$1 name=$2
	shift 2
	args=$(field "$file" args | sed "s|@PKI@|$pki|g")
	want_exit=$(field "$file" exit)
	out=$work/$name.out err=$work/$name.err
	eval "set -- \"\$@\" \"\$MESHCA\" $args"
	input=$(field "$file" stdin)
	input=${input:+$pki/$input}
	"$@" >"$out" 2>"$err" <"${input:-/dev/null}"
	got_exit=$?
	why=
	if [ "$got_exit" != "$want_exit" ]; then
		why="exit $got_exit, expected $want_exit"
	fi
	if grep -q '^stdout-contains:' "$file"; then
		field "$file" stdout-contains >"$work/want"
		while IFS= read -r pat; do
			grep -qF -e "$pat" "$out" ||
			    why="$why${why:+; }stdout lacks '$pat'"
		done <"$work/want"
	else
		field "$file" stdout >"$work/want"
		cmp -s "$work/want" "$out" ||
		    why="$why${why:+; }stdout differs"
	fi
	if [ "$(field "$file" stderr-any)" != yes ]; then
		if grep -q '^stderr:' "$file"; then
			field "$file" stderr >"$work/pats"
			while IFS= read -r pat; do
				grep -qF -e "$pat" "$err" ||
				    why="$why${why:+; }stderr lacks '$pat'"
			done <"$work/pats"
		elif [ -s "$err" ]; then
			why="$why${why:+; }stderr not empty"
		fi
	fi
	if [ -n "$why" ]; then
		fail "$name" "$why"
		echo "    args: $args"
		echo "    --- stdout (want):"; sed 's/^/    | /' "$work/want"
		echo "    --- stdout (got):"; sed 's/^/    | /' "$out"
		echo "    --- stderr (got):"; sed 's/^/    | /' "$err"
	else
		pass "$name"
	fi
}

for file in "$srcdir"/tests/cli/cases/$CASES.case; do
	[ -f "$file" ] || continue
	name=$(basename "$file" .case)
	need=$(field "$file" requires)
	if [ -n "$need" ] && [ ! -e "$pki/$need" ]; then
		echo "[ SKIPPED  ] $name: needs $need"
		continue
	fi
	run_case "$file" "$name"
	if [ "$vg" != no ] && [ "$(field "$file" valgrind)" = yes ]; then
		run_case "$file" "$name.valgrind" "$vg" --quiet \
		    --error-exitcode=99 --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect
	fi
done

# The usage text must be the SYNOPSIS of the manual, word for word.
if [ "$CASES" = "*" ]; then
	if command -v mandoc >/dev/null 2>&1; then
		bs=$(printf '\b')
		mandoc -Tascii "$srcdir/man/meshca.1" |
		    sed "s/.$bs//g" |
		    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
		    sed '1d;$d' | tr -s ' \t\n' '   ' |
		    sed 's/^ //; s/ $//' >"$work/man.syn"
		"$MESHCA" --help | sed '/^$/q' | sed 's/^usage://' |
		    tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//' \
		    >"$work/usage.syn"
		if cmp -s "$work/man.syn" "$work/usage.syn"; then
			pass synopsis-matches-usage
		else
			fail synopsis-matches-usage "meshca --help differs from
    the SYNOPSIS of man/meshca.1"
			echo "    man:   $(cat "$work/man.syn")"
			echo "    usage: $(cat "$work/usage.syn")"
		fi
		if mandoc -Tlint -Wwarning "$srcdir/man/meshca.1" \
		    >"$work/lint" 2>&1; then
			pass mandoc-lint
		else
			fail mandoc-lint "$(cat "$work/lint")"
		fi
	else
		echo "[ SKIPPED  ] synopsis-matches-usage: no mandoc"
	fi
fi

echo "[==========] $((passed + failed)) test(s) run."
echo "[  PASSED  ] $passed test(s)."
if [ "$failed" -gt 0 ]; then
	echo "[  FAILED  ] $failed test(s), listed below:"
	for f in $failures; do
		echo "[  FAILED  ] $f"
	done
	exit 1
fi
exit 0
