#!/bin/sh
# check_man.sh: meshcad(8) and meshca.conf(5) are clean under
# `mandoc -Tlint`, and every long option in `meshcad --help` and every
# key in `meshcad --check-config` output is documented. Skips (77) when
# mandoc is not installed.
command -v mandoc >/dev/null 2>&1 || { echo "mandoc not found: skip"; exit 77; }
: "${top_srcdir:=.}" "${top_builddir:=.}"
rc=0
for page in "$top_srcdir/man/meshcad.8" "$top_srcdir/man/meshca.conf.5"; do
	# -W warning: style messages (e.g. "Dd date") are not failures
	if ! mandoc -Tlint -W warning "$page"; then
		echo "$page: mandoc -Tlint found problems"
		rc=1
	fi
done
meshcad="$top_builddir/daemon/meshcad"
for opt in $("$meshcad" --help | grep -o -- '--[a-z-]*' | sort -u); do
	grep -q -- "^\.It Fl -${opt#--}" "$top_srcdir/man/meshcad.8" ||
		{ echo "meshcad.8: option $opt not documented"; rc=1; }
done
for key in $("$meshcad" --config /dev/null --check-config 2>/dev/null | sed 's/ =.*//'); do
	grep -q -- "^\.It Ic $key" "$top_srcdir/man/meshca.conf.5" ||
		{ echo "meshca.conf.5: key $key not documented"; rc=1; }
done
[ $rc -eq 0 ] && echo "man pages: ok"
exit $rc
