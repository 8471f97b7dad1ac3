#!/bin/sh
# test_ctl_rotate.sh: the CA changes under a running meshcad (issue 5,
# items 3 and 6), against the Kubernetes API emulator, one replica:
#  - Secret meshca-ca replaced by an operator with a new root (the old
#    root kept after it in root-cert.pem): meshcad signs with the new one
#    within its ca-refresh, the bundle ConfigMap holds both roots, every
#    Secret is re-issued under the new root (cause=root), crl.pem holds
#    one CRL per authority, each verifying under its own root, and the
#    superseded leaves of the old root are revoked in the old one's CRL;
#  - material that cannot be used (a key that does not match, a second
#    root that is no CA) is refused with a clear log line and the CA in
#    use keeps signing;
#  - a replica that starts after the rotation (its ledger never held the
#    old root) adopts the old authority from Secret meshca-ca-retiring,
#    which the leader keeps: once it leads, crl.pem still holds the old
#    authority's CRL with its revocations, an old-root leaf it finds is
#    revoked in that CRL, and no Secret is re-issued for the takeover;
#  - --ca-dir: a plugged-in intermediate under an "enterprise" root, read
#    from Istio's cacerts files; a group-readable key is refused; new
#    files (another intermediate) are picked up and every Secret follows.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/ctl_lib.sh"

trap cleanup EXIT

log_has() { # log_has REPLICA PATTERN
	grep -q "$2" "$work/$1.log"
}
# cm_roots: how many certificates the CA namespace's bundle holds
cm_roots() {
	kubectl -n "$CANS" get configmap meshca-ca-bundle \
	    -o jsonpath='{.data.root-cert\.pem}' | grep -c 'BEGIN CERTIFICATE'
}
# crl_split DIR: the CA namespace's crl.pem, one file per CRL (DIR/crl-N)
crl_split() {
	rm -rf "$1"
	mkdir -p "$1"
	kubectl -n "$CANS" get configmap meshca-ca-bundle \
	    -o jsonpath='{.data.crl\.pem}' | awk -v d="$1" '
	    /BEGIN X509 CRL/ { n++ } n { print > (d "/crl-" n) }'
}
# crl_of_root ROOT SERIAL: a CRL in crl.pem verifies under ROOT (alone)
# and lists SERIAL
crl_of_root() {
	crl_split "$work/crls"
	_s=$(echo "$2" | tr 'a-f' 'A-F' | sed 's/^0*//')
	for _f in "$work"/crls/crl-*; do
		[ -f "$_f" ] || continue
		openssl crl -in "$_f" -CAfile "$1" -noout 2>&1 |
		    grep -q 'verify OK' || continue
		[ -z "$_s" ] && return 0
		openssl crl -in "$_f" -noout -text |
		    grep -q "Serial Number: 0*$_s\$" && return 0
	done
	return 1
}
# secret_field NS SA KEY: a data field of istio.SA, decoded
secret_field() {
	kubectl -n "$1" get secret "istio.$2" -o json |
	    jq -r --arg k "$3" '.data[$k]' | base64 -d
}
# under_root ROOT NS...: every account's Secret of the namespaces has a
# chain that openssl verifies under ROOT alone (intermediates from the
# chain itself) and meshca verify accepts for its ID
under_root() {
	_root=$1
	shift
	for _ns in "$@"; do
		for _sa in $(kubectl -n "$_ns" get sa -o name | sed 's,.*/,,'); do
			secret_field "$_ns" "$_sa" cert-chain.pem \
			    >"$work/u-chain.pem" 2>/dev/null || return 1
			openssl verify -CAfile "$_root" \
			    -untrusted "$work/u-chain.pem" "$work/u-chain.pem" \
			    >/dev/null 2>&1 || return 1
			"$MESHCA" verify --bundle "$_root" \
			    --id "spiffe://$TD/ns/$_ns/sa/$_sa" \
			    "$work/u-chain.pem" >/dev/null 2>&1 || return 1
		done
	done
}
# leaf_issued_by CN NS...: every account's leaf is issued by CN
leaf_issued_by() {
	_cn=$1
	shift
	for _ns in "$@"; do
		for _sa in $(kubectl -n "$_ns" get sa -o name | sed 's,.*/,,'); do
			secret_field "$_ns" "$_sa" cert-chain.pem 2>/dev/null |
			    openssl x509 -noout -issuer 2>/dev/null |
			    grep -q "CN *= *$_cn\$" || return 1
		done
	done
}
# mkroot NAME: a self-signed CA for the trust domain, NAME.pem/NAME.key
mkroot() {
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$work/$1.key" -out "$work/$1.pem" -days 3650 \
	    -subj "/O=meshca test/CN=$1" \
	    -addext "basicConstraints=critical,CA:true" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -addext "subjectAltName=URI:spiffe://$TD" \
	    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}
# mkinter NAME ISSUER [SKID]: an intermediate CA signed by ISSUER (SKID
# none: without a subject key identifier, as some enterprise CAs are)
mkinter() {
	printf '%s\n' "basicConstraints=critical,CA:true" \
	    "keyUsage=critical,keyCertSign,cRLSign" \
	    "subjectAltName=URI:spiffe://$TD" \
	    "subjectKeyIdentifier=${3:-hash}" \
	    "authorityKeyIdentifier=keyid" >"$work/ext.cnf"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$work/$1.key" -out "$work/$1.csr" \
	    -subj "/O=meshca test/CN=$1" 2>/dev/null &&
	    openssl x509 -req -in "$work/$1.csr" -CA "$work/$2.pem" \
		-CAkey "$work/$2.key" -CAcreateserial -days 365 \
		-out "$work/$1.pem" -extfile "$work/ext.cnf" 2>/dev/null
}
# put_ca CERT KEY ROOTS: replaces Secret meshca-ca, as an operator would
put_ca() {
	kubectl -n "$CANS" create secret generic meshca-ca \
	    --from-file=ca-cert.pem="$1" --from-file=ca-key.pem="$2" \
	    --from-file=cert-chain.pem="$1" --from-file=root-cert.pem="$3" \
	    --dry-run=client -o yaml |
	    kubectl replace --validate=false -f - >/dev/null
}

emu_start
make_sas ns1 6
make_sas ns2 4
meshcad_start a --ca-refresh 1s --propagation-window 2s ||
    { echo "meshcad did not start"; exit 99; }
if wait_for 30 converged ns1 ns2 && out=$(all_valid ns1 ns2); then
	ok start
else
	bad start "not converged: ${out:-}"
	finish
fi
kubectl -n "$CANS" get secret meshca-ca -o json |
    jq -r '.data["root-cert.pem"]' | base64 -d >"$work/old.pem"
kubectl -n "$CANS" get secret meshca-ca -o json |
    jq -r '.data["ca-key.pem"]' | base64 -d >"$work/old.key"
old_serial=$(serial_of ns1 sa-1)
[ -n "$old_serial" ] || { echo "no serial for ns1/sa-1"; exit 99; }

# ---- 1. a new root in Secret meshca-ca ---------------------------------
mkroot new
cat "$work/new.pem" "$work/old.pem" >"$work/both.pem"
put_ca "$work/new.pem" "$work/new.key" "$work/both.pem"
if wait_for 10 log_has a "CA material changed: signing with the new"; then
	ok rotate_logged
else
	bad rotate_logged "no 'CA material changed' line"
fi
if wait_for 20 under_root "$work/new.pem" ns1 ns2; then
	ok rotate_reissued
else
	bad rotate_reissued "Secrets not all under the new root in 20 s"
fi
if [ "$(serial_of ns1 sa-1)" != "$old_serial" ] &&
    grep -q "secret istio.sa-1 written namespace=ns1 .*cause=root" \
    "$work/a.log"; then
	ok rotate_cause_root
else
	bad rotate_cause_root "no cause=root re-issue of ns1/sa-1"
fi
if wait_for 10 test "$(cm_roots)" = 2 &&
    out=$(all_valid ns1 ns2); then
	ok rotate_bundle_both_roots
else
	bad rotate_bundle_both_roots "$(cm_roots) roots; ${out:-}"
fi
# the old leaf: superseded after the 2 s window, in the OLD root's CRL;
# the new authority has its own CRL beside it
if wait_for 20 crl_of_root "$work/old.pem" "$old_serial"; then
	ok rotate_old_crl_revokes
else
	bad rotate_old_crl_revokes "serial $old_serial not in a CRL the \
old root verifies"
fi
if crl_of_root "$work/new.pem" ""; then
	ok rotate_new_crl
else
	bad rotate_new_crl "no CRL signed under the new root"
fi
n=$(metric a meshca_root_expiry_seconds)
want=$(date -d "$(openssl x509 -in "$work/new.pem" -noout -enddate |
    sed 's/notAfter=//')" +%s)
if [ "${n%%.*}" = "$want" ] || [ "$(printf '%.0f' "$n" 2>/dev/null)" = "$want" ]; then
	ok rotate_root_expiry_metric
else
	bad rotate_root_expiry_metric "$n, want $want"
fi

# ---- 2. material that cannot be used ----------------------------------
mkroot bad
serial=$(serial_of ns2 sa-2)
put_ca "$work/new.pem" "$work/bad.key" "$work/both.pem"
if wait_for 10 log_has a "cannot be used; still signing"; then
	ok bad_material_logged
else
	bad bad_material_logged "no 'cannot be used' line"
fi
kubectl -n ns2 delete secret istio.sa-1 >/dev/null
if wait_for 15 under_root "$work/new.pem" ns1 ns2 &&
    [ -n "$serial" ] && [ "$(serial_of ns2 sa-2)" = "$serial" ]; then
	ok bad_material_keeps_signing
else
	bad bad_material_keeps_signing "Secrets changed or not restored"
fi
# a second "root" that is no CA (here a workload's leaf): refused before
# the switch, the bundle keeps its two roots
secret_field ns1 sa-3 cert-chain.pem | openssl x509 >"$work/leaf.pem"
cat "$work/new.pem" "$work/leaf.pem" >"$work/badroots.pem"
put_ca "$work/new.pem" "$work/new.key" "$work/badroots.pem"
if wait_for 10 log_has a "root-cert.pem: a root after the first" &&
    sleep 2 && [ "$(cm_roots)" = 2 ] &&
    [ "$(readyz a)" = 200 ]; then
	ok bad_extra_root_refused
else
	bad bad_extra_root_refused "no refusal, or the bundle changed \
($(cm_roots) roots), or not ready"
fi

# ---- 3. a replica that starts after the rotation ----------------------
# fingerprint FILE: of the first certificate in FILE
fingerprint() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null
}
retiring_certs() {
	kubectl -n "$CANS" get secret meshca-ca-retiring -o json 2>/dev/null |
	    jq -r '.data | to_entries[] | select(.key | endswith(".ca-cert.pem"))
	    | .value' | while read -r _v; do
		echo "$_v" | base64 -d >"$work/ret.pem"
		fingerprint "$work/ret.pem"
	done
}
if [ "$(retiring_certs)" = "$(fingerprint "$work/old.pem")" ]; then
	ok retiring_secret
else
	bad retiring_secret "meshca-ca-retiring does not hold exactly the old \
root: $(retiring_certs)"
fi
put_ca "$work/new.pem" "$work/new.key" "$work/both.pem"
wait_for 10 log_has a "CA material changed: signing"
meshcad_start late --ca-refresh 1s --propagation-window 2s ||
    { echo "meshcad late did not start"; exit 99; }
late_ready() {
	[ "$(readyz late)" = 200 ]
}
wait_for 20 late_ready
if wait_for 10 log_has late "adopted from secret $CANS/meshca-ca-retiring"
then
	ok late_adopts_retiring
else
	bad late_adopts_retiring "no adoption line in late's log"
fi
kubectl -n "$CANS" get configmap meshca-ca-bundle \
    -o jsonpath='{.data.crl\.pem}' >"$work/crl-a.pem"
keep=$(serial_of ns2 sa-3)
kill -TERM "$(cat "$work/a.pid")"
wait_for 10 sh -c "! kill -0 $(cat "$work/a.pid") 2>/dev/null"
crl_changed() {
	kubectl -n "$CANS" get configmap meshca-ca-bundle \
	    -o jsonpath='{.data.crl\.pem}' >"$work/crl-now.pem"
	! cmp -s "$work/crl-a.pem" "$work/crl-now.pem"
}
# late leads and signs crl.pem anew: the old authority's CRL is in it,
# with the revocation a made
if wait_for 20 crl_changed && crl_of_root "$work/old.pem" "$old_serial"
then
	ok late_signs_old_crl
else
	bad late_signs_old_crl "crl.pem of the new leader has no CRL of the \
old root listing $old_serial"
fi
# an old-root leaf found in the cluster: re-issued, and revoked in the
# old authority's CRL (its issuer's), not the new one's
printf '%s\n' "basicConstraints=critical,CA:false" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectAltName=URI:spiffe://$TD/ns/ns1/sa/sa-2" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" \
    >"$work/leaf.cnf"
forged=1$(openssl rand -hex 15)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/forged.key" -out "$work/forged.csr" \
    -subj "/O=meshca test/CN=forged" 2>/dev/null &&
    openssl x509 -req -in "$work/forged.csr" -CA "$work/old.pem" \
	-CAkey "$work/old.key" -set_serial "0x$forged" -days 1 \
	-out "$work/forged.pem" -extfile "$work/leaf.cnf" 2>/dev/null ||
    { echo "could not make an old-root leaf"; exit 99; }
kubectl -n ns1 patch secret istio.sa-2 --type merge -p "{\"data\":{\
\"cert-chain.pem\":\"$(base64 -w0 "$work/forged.pem")\",\
\"key.pem\":\"$(base64 -w0 "$work/forged.key")\"}}" >/dev/null
if wait_for 20 crl_of_root "$work/old.pem" "$forged" &&
    ! crl_of_root "$work/new.pem" "$forged" &&
    under_root "$work/new.pem" ns1; then
	ok late_revokes_in_issuer_crl
else
	bad late_revokes_in_issuer_crl "serial $forged not in the old root's \
CRL (or in the new one's)"
fi
if [ -n "$keep" ] && [ "$(serial_of ns2 sa-3)" = "$keep" ]; then
	ok late_takeover_no_reissue
else
	bad late_takeover_no_reissue "ns2/sa-3 re-issued on the takeover \
($keep, then $(serial_of ns2 sa-3))"
fi
kill -TERM "$(cat "$work/late.pid")"
wait_for 10 sh -c "! kill -0 $(cat "$work/late.pid") 2>/dev/null"

# ---- 4. --ca-dir: an intermediate under an enterprise root -------------
mkroot enterprise
mkinter inter1 enterprise
mkdir -m 700 "$work/cacerts"
cp "$work/inter1.pem" "$work/cacerts/ca-cert.pem"
cp "$work/inter1.key" "$work/cacerts/ca-key.pem"
chmod 600 "$work/cacerts/ca-key.pem"
cat "$work/inter1.pem" "$work/enterprise.pem" >"$work/cacerts/cert-chain.pem"
cp "$work/enterprise.pem" "$work/cacerts/root-cert.pem"
meshcad_start b --ca-dir "$work/cacerts" --ca-refresh 1s \
    --propagation-window 2s || { echo "meshcad b did not start"; exit 99; }
if wait_for 30 under_root "$work/enterprise.pem" ns1 ns2 &&
    log_has b "CA material loaded.*source=$work/cacerts"; then
	ok ca_dir_signs
else
	bad ca_dir_signs "Secrets not under the enterprise root in 30 s"
fi
# the workload's chain carries the intermediate
if [ "$(secret_field ns1 sa-1 cert-chain.pem | grep -c 'BEGIN CERT')" = 2 ]
then
	ok ca_dir_chain
else
	bad ca_dir_chain "cert-chain.pem does not hold leaf + intermediate"
fi
# a key others may read is refused, and nothing changes
chmod 644 "$work/cacerts/ca-key.pem"
mkinter inter2 enterprise
cp "$work/inter2.pem" "$work/cacerts/ca-cert.pem"
cp "$work/inter2.key" "$work/cacerts/ca-key.pem"
cat "$work/inter2.pem" "$work/enterprise.pem" >"$work/cacerts/cert-chain.pem"
serial=$(serial_of ns1 sa-2)
if wait_for 10 log_has b "ca-key.pem.*group or others" &&
    [ -n "$serial" ] && [ "$(serial_of ns1 sa-2)" = "$serial" ]; then
	ok ca_dir_key_mode_refused
else
	bad ca_dir_key_mode_refused "no refusal of a 0644 key, or Secrets changed"
fi
# fixed: the new intermediate signs, every Secret follows
chmod 600 "$work/cacerts/ca-key.pem"
if wait_for 20 sh -c "openssl verify -CAfile '$work/enterprise.pem' \
    -untrusted '$work/inter2.pem' '$work/inter2.pem' >/dev/null" &&
    wait_for 30 leaf_issued_by inter2 ns1 ns2; then
	ok ca_dir_rotated
else
	bad ca_dir_rotated "Secrets not issued by the new intermediate in 30 s"
fi
# an intermediate without a subject key identifier: its leaves carry the
# SHA-1 of its key as authority key identifier, and meshcad must know
# them for its own (a mismatch would re-issue every Secret every check)
mkinter inter3 enterprise none
if openssl x509 -in "$work/inter3.pem" -noout -text |
    grep -q "Subject Key Identifier"; then
	echo "# openssl added a subject key identifier to inter3"
fi
cp "$work/inter3.pem" "$work/cacerts/ca-cert.pem"
cp "$work/inter3.key" "$work/cacerts/ca-key.pem"
cat "$work/inter3.pem" "$work/enterprise.pem" >"$work/cacerts/cert-chain.pem"
if wait_for 30 leaf_issued_by inter3 ns1 ns2; then
	# a restart judges every Secret again: none may be re-issued
	s1=$(serial_of ns1 sa-1)
	kill -TERM "$(cat "$work/b.pid")"
	wait_for 10 sh -c "! kill -0 $(cat "$work/b.pid") 2>/dev/null"
	meshcad_start b --ca-dir "$work/cacerts" --ca-refresh 1s \
	    --propagation-window 2s
	b_ready() {
		[ "$(readyz b)" = 200 ]
	}
	wait_for 20 b_ready
	sleep 3 # its first reconcile, and a few CA refreshes
	if [ -n "$s1" ] && [ "$(serial_of ns1 sa-1)" = "$s1" ]; then
		ok ca_dir_no_skid
	else
		bad ca_dir_no_skid "sa-1 re-issued after a restart ($s1, then $(serial_of ns1 sa-1))"
	fi
else
	bad ca_dir_no_skid "Secrets not issued by an intermediate without SKID in 30 s"
fi
if grep -q "PRIVATE KEY" "$work/a.log" "$work/b.log" "$work/late.log"; then
	bad no_key_in_logs "a private key in a log"
else
	ok no_key_in_logs
fi
finish
