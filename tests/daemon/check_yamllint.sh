#!/bin/sh
# check_yamllint.sh: the Kubernetes manifests under deploy/ pass yamllint
# with the project's .yamllint. Skips (77) only when yamllint is not
# installed (Debian package yamllint).
command -v yamllint >/dev/null 2>&1 || { echo "yamllint not found: skip"; exit 77; }
: "${top_srcdir:=.}"
set -- "$top_srcdir"/deploy/*.yaml
[ -f "$1" ] || { echo "no manifests under deploy/"; exit 1; }
yamllint --strict -c "$top_srcdir/.yamllint" "$@" || exit 1
echo "yamllint: ok ($# files)"
