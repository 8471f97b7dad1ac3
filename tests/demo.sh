#!/bin/sh
# demo.sh BUILDDIR: the quick start's demonstration, in readable steps.
# It uses only what is built: the meshca command line (SPIFFE ID checks and
# X.509-SVID verification against a PKI made here with openssl(1)), the
# Kubernetes API emulator driven with kubectl, and meshcad minting,
# restoring, rotating and revoking Secrets for service accounts, whose
# keys then carry a real mutual-TLS handshake. Everything happens in a
# temporary directory that is removed at the end; the emulator listens on
# 127.0.0.1 only and is stopped on exit.
set -u
build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
meshca=$build/cli/meshca
py=/usr/bin/python3
work=$(mktemp -d /tmp/meshca-demo.XXXXXX)
emu_pid=
meshcad_pid=
server_pid=

cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	[ -n "$meshcad_pid" ] && kill "$meshcad_pid" 2>/dev/null && wait "$meshcad_pid" 2>/dev/null
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
run kubectl create namespace meshca-system
run kubectl create namespace shop
run kubectl -n shop create serviceaccount checkout
run kubectl -n shop create serviceaccount cart
run kubectl -n shop create serviceaccount payments
run kubectl get serviceaccounts -n shop

# wait_for SECONDS CMD...: CMD every 0.2 s until it succeeds
wait_for() {
	limit=$1
	shift
	end=$(($(date +%s) + limit))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}
# the leaf serial in Secret istio.$1 of shop
serial() {
	kubectl -n shop get secret "istio.$1" -o jsonpath='{.data.cert-chain\.pem}' 2>/dev/null |
	    base64 -d 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | sed 's/serial=//'
}
# writes cert, key and bundle of account $1 to $work/$1.{crt,key} and bundle.pem
fetch() {
	kubectl -n shop get secret "istio.$1" -o json >"$work/s.json"
	jq -r '.data["cert-chain.pem"]' "$work/s.json" | base64 -d >"$work/$1.crt"
	jq -r '.data["key.pem"]' "$work/s.json" | base64 -d >"$work/$1.key"
	jq -r '.data["root-cert.pem"]' "$work/s.json" | base64 -d >"$work/bundle.pem"
	chmod 600 "$work/$1.key"
}

step "meshcad, the in-cluster CA, starts against the emulator (1-minute certificates, renewed at 80% of their life, to show a rotation)"
if ! command -v jq >/dev/null 2>&1; then
	echo "  (skipped: needs jq)"
	exit 0
fi
make -s -C "$build" tests/daemon/mtls_peer >/dev/null 2>&1 ||
	{ echo "  (cannot build tests/daemon/mtls_peer)"; exit 1; }
echo '$ meshcad --kubeconfig emu/kubeconfig --db meshca.db --cert-ttl 1m --grace-ratio 0.8 --min-grace 1s --propagation-window 5s ... &'
"$build/daemon/meshcad" --config /dev/null --kubeconfig "$KUBECONFIG" \
    --db "$work/meshca.db" --metrics-listen 127.0.0.1:0 \
    --metrics-port-file "$work/meshcad.port" --log-format text \
    --cert-ttl 1m --grace-ratio 0.8 --min-grace 1s --propagation-window 5s \
    >"$work/meshcad.log" 2>&1 &
meshcad_pid=$!
wait_for 20 kubectl -n shop get secret istio.payments ||
	{ echo "  meshcad did not mint:"; tail -n 20 "$work/meshcad.log"; exit 1; }
sleep 1
sed -n '1,12p' "$work/meshcad.log" | cut -c26- | sed 's/^/  | /'

step "Secrets appearing: one per service account, Istio's layout"
run kubectl -n shop get secrets
kubectl -n shop get secret istio.checkout -o json |
    jq '{type, metadata: {labels: .metadata.labels, annotations: .metadata.annotations, ownerReferences: [.metadata.ownerReferences[] | {kind, name}]}, data: (.data | keys)}' |
    sed 's/^/  /'
fetch checkout
run openssl verify -CAfile bundle.pem checkout.crt
run "$meshca" verify --bundle bundle.pem --id spiffe://cluster.local/ns/shop/sa/checkout checkout.crt
echo "  the trust bundle and CRL are published in every managed namespace:"
run kubectl -n shop get configmap meshca-ca-bundle -o jsonpath='{.data.bundle\.spiffe\.json}'

step "A Secret deleted and restored"
old=$(serial cart)
echo "  istio.cart serial $old"
run kubectl -n shop delete secret istio.cart
restored() { s=$(serial cart); [ -n "$s" ] && [ "$s" != "$old" ]; }
if wait_for 10 restored; then
	echo "  istio.cart restored, serial $(serial cart)"
else
	echo "  (not restored)"
fi

step "Rotation: the certificate of checkout is renewed before it expires"
old=$(serial checkout)
echo "  istio.checkout serial $old, waiting for its renewal..."
rotated() { s=$(serial checkout); [ -n "$s" ] && [ "$s" != "$old" ]; }
if wait_for 30 rotated; then
	echo "  istio.checkout rotated, serial now $(serial checkout)"
else
	echo "  (no rotation seen)"
fi

step "A service account deleted: its certificate revoked, its serial in the published CRL"
s=$(serial cart)
echo "  istio.cart serial $s"
run kubectl -n shop delete serviceaccount cart
incrl() {
	kubectl -n shop get configmap meshca-ca-bundle -o jsonpath='{.data.crl\.pem}' |
	    openssl crl -noout -text | grep -q "Serial Number: 0*$(echo "$s" | sed 's/^0*//')"
}
wait_for 10 incrl
kubectl -n shop get configmap meshca-ca-bundle -o jsonpath='{.data.crl\.pem}' |
    openssl crl -noout -text | grep -B1 -A4 "Serial Number: 0*$(echo "$s" | sed 's/^0*//')" | sed 's/^/  /'
run kubectl -n shop get secrets

step "Mutual TLS with the minted Secrets: payments accepts checkout only (secure naming)"
fetch payments
fetch checkout
kubectl -n shop create serviceaccount intruder >/dev/null
wait_for 10 kubectl -n shop get secret istio.intruder
fetch intruder
peer=$build/tests/daemon/mtls_peer
"$peer" server "$work/mtls.port" "$work/payments.crt" "$work/payments.key" \
    "$work/bundle.pem" spiffe://cluster.local/ns/shop/sa/checkout 2 \
    >"$work/server.log" 2>&1 &
server_pid=$!
wait_for 5 test -s "$work/mtls.port"
echo "  server: payments, allows spiffe://cluster.local/ns/shop/sa/checkout"
run "$peer" client "$(cat "$work/mtls.port")" checkout.crt checkout.key bundle.pem
run "$peer" client "$(cat "$work/mtls.port")" intruder.crt intruder.key bundle.pem
wait "$server_pid"
server_pid=
sed 's/^/  /' "$work/server.log"

step "meshcad's metrics"
curl -s "http://127.0.0.1:$(cat "$work/meshcad.port")/metrics" |
    grep -E '^meshca_(certificates|secrets_restored|leader|ready)' | sed 's/^/  /'
echo
echo "Demo finished."
