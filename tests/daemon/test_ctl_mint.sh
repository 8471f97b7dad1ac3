#!/bin/sh
# test_ctl_mint.sh: meshcad against the Kubernetes API emulator, one
# replica: CA Secret, 200 accounts across 5 namespaces all minted and
# valid (openssl verify, meshca verify), bundle ConfigMaps, restore after
# delete and after tampering, revocation on account deletion (serial in
# the CRL), operator revocation through ConfigMap meshca-revocations,
# namespace scope (Citadel labels; only meshca's Secrets removed),
# metrics (promtool when present), SIGTERM releasing the Lease.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/ctl_lib.sh"

emu_start
NSS="ns1 ns2 ns3 ns4 ns5"
for ns in $NSS; do
	make_sas "$ns" 40
done
meshcad_start a --propagation-window 2s

# 1. CA material
if wait_for 15 kubectl -n $CANS get secret meshca-ca &&
    [ "$(kubectl -n $CANS get secret meshca-ca -o json |
    jq -r '.data | keys | join(",")')" = \
    "ca-cert.pem,ca-key.pem,cert-chain.pem,root-cert.pem" ]; then
	ok ca_secret
else
	bad ca_secret "Secret meshca-ca missing or incomplete"
fi

# 2. every account of 5 namespaces, 201 each (40 + default)
t0=$(date +%s)
if wait_for 30 converged $NSS; then
	echo "# 205 accounts converged in $(($(date +%s) - t0)) s"
	if out=$(all_valid $NSS); then
		ok mint_200_valid
	else
		bad mint_200_valid "$out"
	fi
else
	bad mint_200_valid "not converged"
fi

# 3. bundle ConfigMap in every managed namespace
kubectl -n ns1 get secret istio.sa-1 -o jsonpath='{.data.root-cert\.pem}' |
    base64 -d >"$work/root.pem"
cm_ok() {
	for ns in $NSS $CANS; do
		kubectl -n "$ns" get configmap meshca-ca-bundle -o json \
		    >"$work/cm.json" || return 1
		jq -j '.data["root-cert.pem"]' "$work/cm.json" >"$work/cmroot.pem"
		cmp -s "$work/root.pem" "$work/cmroot.pem" || return 1
		[ "$(jq -r '.data["bundle.spiffe.json"]' "$work/cm.json" |
		    jq '.keys | length')" = 1 ] || return 1
		jq -j '.data["crl.pem"]' "$work/cm.json" >"$work/crl.pem"
		openssl crl -in "$work/crl.pem" -CAfile "$work/root.pem" \
		    -noout 2>&1 | grep -q "verify OK" || return 1
	done
}
if wait_for 10 cm_ok; then ok bundle_configmaps; else bad bundle_configmaps \
    "root, SPIFFE bundle or CRL wrong"; fi

# 4. restore after delete
old=$(serial_of ns1 sa-1)
kubectl -n ns1 delete secret istio.sa-1 >/dev/null
restored() { s=$(serial_of ns1 sa-1); [ -n "$s" ] && [ "$s" != "$old" ]; }
if wait_for 10 restored && all_valid ns1/sa-1 >/dev/null; then
	ok restore_deleted
else
	bad restore_deleted "istio.sa-1 not restored"
fi

# 5. restore after tampering: a foreign key, then a garbage chain
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$work/other.key" 2>/dev/null
old=$(serial_of ns1 sa-2)
kubectl -n ns1 patch secret istio.sa-2 --type merge -p \
    "{\"data\":{\"key.pem\":\"$(base64 -w0 <"$work/other.key")\"}}" >/dev/null
rekeyed() { s=$(serial_of ns1 sa-2); [ -n "$s" ] && [ "$s" != "$old" ]; }
if wait_for 10 rekeyed && all_valid ns1/sa-2 >/dev/null; then
	ok restore_tampered_key
else
	bad restore_tampered_key "istio.sa-2 not re-issued"
fi
kubectl -n ns1 patch secret istio.sa-3 --type merge -p \
    "{\"data\":{\"cert-chain.pem\":\"$(echo garbage | base64 -w0)\"}}" \
    >/dev/null
fixed() { [ -n "$(serial_of ns1 sa-3)" ]; }
if wait_for 10 fixed && all_valid ns1/sa-3 >/dev/null; then
	ok restore_tampered_chain
else
	bad restore_tampered_chain "istio.sa-3 not re-issued"
fi
# a leaf of another account copied in: wrong ID
kubectl -n ns1 get secret istio.sa-5 -o json | jq '.data' >"$work/d5.json"
old=$(serial_of ns1 sa-4)
kubectl -n ns1 patch secret istio.sa-4 --type merge -p \
    "{\"data\":$(cat "$work/d5.json")}" >/dev/null
wrongid() { s=$(serial_of ns1 sa-4); [ -n "$s" ] && [ "$s" != "$old" ] &&
    [ "$s" != "$(serial_of ns1 sa-5)" ]; }
if wait_for 10 wrongid && all_valid ns1/sa-4 ns1/sa-5 >/dev/null; then
	ok restore_wrong_id
else
	bad restore_wrong_id "istio.sa-4 not re-issued"
fi
m() { metric a "meshca_secrets_restored_total{cause=\"$1\"}"; }
if [ "$(m deleted)" -ge 1 ] && [ "$(m key_mismatch)" -ge 1 ] &&
    [ "$(m garbage)" -ge 1 ] && [ "$(m wrong_id)" -ge 1 ]; then
	ok restore_metrics
else
	bad restore_metrics "$(metrics a | grep restored)"
fi

# 6. revocation on account deletion: serial in the published CRL
s=$(serial_of ns2 sa-2)
kubectl -n ns2 delete serviceaccount sa-2 >/dev/null
gone() { ! kubectl -n ns2 get secret istio.sa-2 >/dev/null 2>&1; }
if wait_for 10 gone && wait_for 10 crl_has ns2 "$s" &&
    wait_for 5 crl_has ns5 "$s"; then
	ok revoke_on_delete
else
	bad revoke_on_delete "serial $s not in the CRL or Secret left"
fi

# 7. operator revocation request
s=$(serial_of ns3 sa-7)
kubectl -n $CANS create configmap meshca-revocations \
    --from-literal=r1="id=spiffe://$TD/ns/ns3/sa/sa-7 reason=keyCompromise" \
    >/dev/null
reissued() { n=$(serial_of ns3 sa-7); [ -n "$n" ] && [ "$n" != "$s" ]; }
handled() { [ "$(kubectl -n $CANS get configmap meshca-revocations \
    -o json | jq '.data // {} | length')" = 0 ]; }
if wait_for 10 crl_has ns3 "$s" && wait_for 10 reissued &&
    wait_for 5 handled && all_valid ns3/sa-7 >/dev/null; then
	ok operator_revocation
else
	bad operator_revocation "serial $s: CRL, re-issue or request removal"
fi
if kubectl -n ns3 get configmap meshca-ca-bundle \
    -o jsonpath='{.data.crl\.pem}' | openssl crl -noout -text |
    grep -A5 "$(echo "$s" | tr a-f A-F | sed 's/^0*//')" |
    grep -q "Key Compromise"; then
	ok revocation_reason
else
	bad revocation_reason "keyCompromise not in the CRL entry"
fi

# 8. namespace scope: override=false removes only meshca's Secrets
kubectl -n ns4 create secret generic istio.foreign --from-literal=a=b \
    >/dev/null
kubectl label namespace ns4 ca.istio.io/override=false >/dev/null
unmanaged() {
	[ "$(kubectl -n ns4 get secrets -l app.kubernetes.io/managed-by=meshca \
	    -o json | jq '.items | length')" = 0 ]
}
if wait_for 15 unmanaged && kubectl -n ns4 get secret istio.foreign \
    >/dev/null 2>&1; then
	ok namespace_unmanaged
else
	bad namespace_unmanaged "meshca's Secrets left, or a foreign one removed"
fi
kubectl label --overwrite namespace ns4 ca.istio.io/override=true >/dev/null
if wait_for 15 converged ns4 && all_valid ns4 >/dev/null; then
	ok namespace_managed_again
else
	bad namespace_managed_again "ns4 not re-minted"
fi
make_sas ns6 3
kubectl label namespace ns6 ca.istio.io/env=other-ca >/dev/null
make_sas ns7 3
kubectl label namespace ns7 ca.istio.io/env=$CANS >/dev/null
sleep 2
if wait_for 10 converged ns7 &&
    [ "$(kubectl -n ns6 get secrets -l app.kubernetes.io/managed-by=meshca \
    -o json | jq '.items | length')" = 0 ]; then
	ok citadel_env_label
else
	bad citadel_env_label "ns6 (env=other-ca) minted or ns7 not"
fi

# 9. superseded leaves revoked after the propagation window (2 s here):
# sa-1 of ns1 was re-issued in step 4; its old serial must be listed
# with reason superseded.
if wait_for 10 sh -c "kubectl -n ns1 get configmap meshca-ca-bundle \
    -o jsonpath='{.data.crl\.pem}' | openssl crl -noout -text |
    grep -q Superseded"; then
	ok superseded_revoked
else
	bad superseded_revoked "no superseded entry in the CRL"
fi

# 10. metrics and readiness
if [ "$(readyz a)" = 200 ] && [ "$(metric a meshca_leader)" = 1 ] &&
    [ "$(metric a meshca_certificates_issued_total)" -ge 205 ] &&
    [ "$(metric a 'meshca_certificates_revoked_total{reason="cessationOfOperation"}')" -ge 1 ] &&
    [ "$(metric a 'meshca_certificates_revoked_total{reason="keyCompromise"}')" -ge 1 ] &&
    [ "$(metric a meshca_root_expiry_seconds)" != 0 ] &&
    [ "$(metric a meshca_earliest_expiry_seconds)" != 0 ] &&
    [ "$(metric a meshca_issuance_duration_seconds_count)" -ge 205 ]; then
	ok metrics_values
else
	bad metrics_values "$(metrics a | grep -v '^#')"
fi
if command -v promtool >/dev/null 2>&1; then
	if metrics a | promtool check metrics >"$work/promtool.out" 2>&1; then
		ok metrics_promtool
	else
		bad metrics_promtool "$(cat "$work/promtool.out")"
	fi
fi

# 11. a real mutual-TLS handshake on minted Secrets: the server (ns5/sa-1)
# lets in ns5/sa-2 only; ns5/sa-3 is refused by secure naming
PEER=$top_builddir/tests/daemon/mtls_peer
if [ -x "$PEER" ]; then
	for a in sa-1 sa-2 sa-3; do
		kubectl -n ns5 get secret "istio.$a" -o json >"$work/m.json"
		jq -r '.data["cert-chain.pem"]' "$work/m.json" | base64 -d \
		    >"$work/$a.crt"
		jq -r '.data["key.pem"]' "$work/m.json" | base64 -d \
		    >"$work/$a.key"
		jq -r '.data["root-cert.pem"]' "$work/m.json" | base64 -d \
		    >"$work/bundle.pem"
	done
	rm -f "$work/mtls.port"
	"$PEER" server "$work/mtls.port" "$work/sa-1.crt" "$work/sa-1.key" \
	    "$work/bundle.pem" "spiffe://$TD/ns/ns5/sa/sa-2" 2 \
	    >"$work/mtls-server.log" 2>&1 &
	sp=$!
	pids="$pids $sp"
	wait_for 5 test -s "$work/mtls.port"
	port=$(cat "$work/mtls.port")
	if "$PEER" client "$port" "$work/sa-2.crt" "$work/sa-2.key" \
	    "$work/bundle.pem" >"$work/mtls-c1.log" 2>&1 &&
	    ! "$PEER" client "$port" "$work/sa-3.crt" "$work/sa-3.key" \
	    "$work/bundle.pem" >"$work/mtls-c2.log" 2>&1; then
		wait $sp
		if grep -q "accepted spiffe://$TD/ns/ns5/sa/sa-2" \
		    "$work/mtls-server.log" &&
		    grep -q "refused" "$work/mtls-server.log"; then
			ok mtls_secure_naming
		else
			bad mtls_secure_naming "$(cat "$work/mtls-server.log")"
		fi
	else
		bad mtls_secure_naming "$(cat "$work"/mtls-*.log)"
	fi
fi

# 12. SIGTERM: exit 0, Lease given up
kill -TERM "$(cat "$work/a.pid")"
t0=$(date +%s)
while kill -0 "$(cat "$work/a.pid")" 2>/dev/null &&
    [ $(($(date +%s) - t0)) -lt 8 ]; do
	sleep 0.1
done
wait "$(cat "$work/a.pid")"
rc=$?
if [ "$rc" = 0 ] && [ -z "$(lease_holder)" ]; then
	ok sigterm_releases_lease
else
	bad sigterm_releases_lease "exit $rc, holder \"$(lease_holder)\""
fi
if grep -q "BEGIN.*PRIVATE KEY" "$work/a.log"; then
	bad no_keys_in_log "a private key in the log"
else
	ok no_keys_in_log
fi
# nor the API token, nor key PEM as the Secrets carry it (base64 of
# "-----BEGIN PRIVATE": LS0tLS1CRUdJTiBQUklWQVRF)
if grep -qF "$(cat "$work/emu/token")" "$work/a.log" ||
    grep -q "LS0tLS1CRUdJTiBQUklWQVRF" "$work/a.log"; then
	bad no_token_in_log "the API token or base64 PEM in the log"
else
	ok no_token_in_log
fi
finish
