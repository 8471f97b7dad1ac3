#!/bin/sh
# check_man_examples.sh: every C program in the EXAMPLES section of the
# libmeshca-verify section-3 pages (STYLE.md rule 20) compiles with
# -Wall -Wextra -Werror against include/meshca/ and links against the
# freshly built libmeshca-verify, so an example that uses a function the
# library does not export fails too. A block is C when it has an
# #include; one without main() is compiled as an object only. Skips (77)
# when there is no C compiler or the shared library was not built.
: "${top_srcdir:=.}" "${top_builddir:=.}"
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || { echo "no C compiler: skip"; exit 77; }
lib="$top_builddir/.libs/libmeshca-verify.so"
[ -f "$lib" ] || { echo "$lib not built: skip"; exit 77; }
ossl=$(pkg-config --cflags --libs openssl 2>/dev/null) || ossl="-lssl -lcrypto"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/manex.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
rc=0
n=0
for page in "$top_srcdir"/man/libmeshca-verify.3 "$top_srcdir"/man/meshca_*.3; do
	[ -f "$page" ] || continue
	rm -f "$tmp"/ex_*.c
	# The literal displays of EXAMPLES, one file each; mdoc's \e is a
	# backslash.
	awk -v dir="$tmp" '
		/^\.Sh EXAMPLES/ { ex = 1; next }
		/^\.Sh / { ex = 0 }
		ex && /^\.Bd -literal/ { f = sprintf("%s/ex_%d.c", dir, ++k); inb = 1; next }
		ex && /^\.Ed/ { inb = 0; next }
		inb { gsub(/\\e/, "\\"); print > f }
	' "$page"
	for f in "$tmp"/ex_*.c; do
		[ -f "$f" ] || continue
		grep -q '^#include' "$f" || continue
		n=$((n + 1))
		if grep -q '^main(' "$f"; then
			out="-o $tmp/a.out"
		else
			out="-c -o $tmp/a.o"
		fi
		# shellcheck disable=SC2086
		if ! "$cc" -std=c11 -Wall -Wextra -Werror \
		    -I"$top_srcdir/include" $out "$f" "$lib" $ossl \
		    >"$tmp/log" 2>&1; then
			echo "$(basename "$page"): example $(basename "$f" .c) does not build:"
			cat "$tmp/log"
			rc=1
		fi
	done
done
[ $n -gt 0 ] || { echo "no examples found"; exit 1; }
[ $rc -eq 0 ] && echo "man examples: $n built"
exit $rc
