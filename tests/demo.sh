#!/bin/sh
# demo.sh BUILDDIR: the quick start's demonstration, in readable steps.
# It uses only what is built: the meshca command line (SPIFFE ID checks and
# X.509-SVID verification against a PKI made here with openssl(1)) and the
# Kubernetes API emulator driven with kubectl. Everything happens in a
# temporary directory that is removed at the end; the emulator listens on
# 127.0.0.1 only and is stopped on exit.
set -u
build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
meshca=$build/cli/meshca
py=/usr/bin/python3
work=$(mktemp -d /tmp/meshca-demo.XXXXXX)
emu_pid=

cleanup() {
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }
# POSIX sh has no pipefail: record the command's own status.
run() {
	printf '$ %s\n' "$*" | sed "s|$build/cli/||g; s|$work/||g"
	{ "$@"; echo $? >"$work/rc"; } 2>&1 | sed 's/^/  /'
	printf '  (exit %s)\n' "$(cat "$work/rc")"
}

step "SPIFFE IDs: meshca id checks a string against the SPIFFE-ID spec"
run "$meshca" id spiffe://cluster.local/ns/shop/sa/checkout
run "$meshca" id spiffe://Cluster.local/ns/shop/sa/checkout
run "$meshca" id spiffe://cluster.local/ns/shop/../sa/checkout

step "A test PKI (root -> intermediate -> X.509-SVIDs) made with openssl(1)"
sh "$top/tests/cli/mkpki.sh" "$work/pki" >/dev/null 2>&1 || { echo "mkpki failed"; exit 1; }
cd "$work"
ls pki/root.pem pki/good.pem pki/expired.pem pki/revoked.pem pki/crls.pem | sed 's/^/  /'

step "X.509-SVID verification: meshca verify prints the peer's SPIFFE ID"
run "$meshca" verify --bundle pki/root.pem pki/good.pem
run "$meshca" verify --bundle pki/bundle.json --trust-domain example.org pki/good.pem

step "Secure naming: only the allowed identity passes"
run "$meshca" verify --bundle pki/root.pem --id spiffe://example.org/ns/a/sa/b pki/good.pem
run "$meshca" verify --bundle pki/root.pem --id spiffe://example.org/ns/a/sa/other pki/good.pem

step "Rejections name the rule that failed"
run "$meshca" verify --bundle pki/root.pem pki/expired.pem
run "$meshca" verify --bundle pki/root.pem --crl pki/crls.pem pki/revoked.pem
run "$meshca" verify --bundle pki/root.pem pki/calf.pem
run "$meshca" verify --bundle pki/root.pem pki/twouri.pem
run "$meshca" verify --bundle pki/other-root.pem pki/good.pem

step "The Kubernetes API emulator (stands in for kube-apiserver), driven by kubectl"
if [ ! -x "$py" ] || ! command -v kubectl >/dev/null 2>&1; then
	echo "  (skipped: needs /usr/bin/python3 and kubectl)"
	exit 0
fi
"$py" "$top/tests/emulator/kube-apiserver-emulator" --listen 127.0.0.1:0 \
    --state-dir "$work/emu" --exit-after 300 >"$work/emu.log" 2>&1 &
emu_pid=$!
i=0
while [ ! -e "$work/emu/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$work/emu/ready" ] || { echo "emulator did not start:"; cat "$work/emu.log"; exit 1; }
export KUBECONFIG="$work/emu/kubeconfig" HOME="$work/home"
run kubectl create namespace shop
run kubectl -n shop create serviceaccount checkout
run kubectl get serviceaccounts -A
echo
echo "Demo finished. meshcad (the in-cluster CA daemon) will mint a Secret"
echo "for each of these service accounts once the controller lands."
