#!/bin/sh
# test_cli.sh: the CA commands of meshca(1) end to end on a temporary
# database: init (0600 ledger and KEK, refusal of a second root), issue
# (files and modes, openssl verify of the chain, batch, refusals), revoke,
# crl (openssl crl -verify, openssl verify -crl_check), bundle (PEM and
# SPIFFE JSON read back by meshca verify), sign (CSR policy), the three
# stages of rotate-root, and a KEK others can read or the wrong KEK.
set -u
builddir=${top_builddir:-.}
M="$builddir/cli/meshca"
work=$(mktemp -d /tmp/mc-cli-ca-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "[       OK ] $1"; }
ko() { failed=$((failed + 1)); echo "[  FAILED  ] $1: $2"; }
# expect NAME STATUS CMD...: runs CMD, checks its exit status
expect() {
	name=$1 want=$2
	shift 2
	"$@" >"$work/stdout" 2>"$work/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$name"; else
		ko "$name" "exit $got, wanted $want: $(cat "$work/err")"; fi
}
mode() { stat -c %a "$1"; }

expect init 0 "$M" --db ca.db init
[ "$(mode ca.db)" = 600 ] && [ "$(mode ca.db.kek)" = 600 ] &&
    ok init-modes || ko init-modes "$(mode ca.db) $(mode ca.db.kek)"
expect init-twice 1 "$M" --db ca.db init
grep -q 'already has an active authority' err && ok init-twice-msg ||
    ko init-twice-msg "$(cat err)"
expect init-bad-key-type 2 "$M" --db x.db init --key-type rsa1024
# a ledger whose KEK went missing does not get a new one behind its back
cp ca.db lost.db
expect init-lost-kek 2 "$M" --db lost.db init --trust-domain other.org
[ ! -e lost.db.kek ] && ok init-lost-kek-none || ko init-lost-kek-none "made"

expect issue 0 "$M" --db ca.db issue --ns default --sa web \
    --dns web.default.svc --ttl 1h --out-dir out
[ "$(mode out/key.pem)" = 600 ] && ok key-mode || ko key-mode "$(mode out/key.pem)"
expect openssl-verify 0 openssl verify -purpose sslserver \
    -CAfile out/root-cert.pem out/cert-chain.pem
expect meshca-verify 0 "$M" verify --bundle out/root-cert.pem \
    --id spiffe://cluster.local/ns/default/sa/web out/cert-chain.pem
grep -qx 'spiffe://cluster.local/ns/default/sa/web' stdout &&
    ok meshca-verify-id || ko meshca-verify-id "$(cat stdout)"
openssl x509 -in out/cert-chain.pem -noout -ext subjectAltName \
    >san 2>&1 && grep -q 'DNS:web.default.svc' san && ok dns-san ||
    ko dns-san "$(cat san)"
expect pkey-matches 0 sh -c 'test "$(openssl pkey -in out/key.pem -pubout)" = \
    "$(openssl x509 -in out/cert-chain.pem -pubkey -noout)"'

expect issue-other-td 1 "$M" --db ca.db issue \
    --id spiffe://other.org/ns/a/sa/b --out-dir o
expect issue-bad-id 2 "$M" --db ca.db issue --id spiffe://cluster.local/a/../b \
    --out-dir o
expect issue-ttl-too-long 1 "$M" --db ca.db issue --ns a --sa b --ttl 91d \
    --out-dir o
expect issue-no-out-dir 2 "$M" --db ca.db issue --ns a --sa b
expect issue-no-db 2 "$M" --db missing.db issue --ns a --sa b --out-dir o

printf 'default/api\n# comment\n\nspiffe://cluster.local/x/y\nkube-system/dns\n' >batch
expect batch 0 "$M" --db ca.db issue --batch batch --key-type ec-p384 \
    --out-dir bout
[ -f bout/default.api/key.pem ] && [ -f bout/kube-system.dns/cert-chain.pem ] &&
    [ -f bout/line-4/root-cert.pem ] && ok batch-files || ko batch-files "$(ls bout)"
[ "$(wc -l <stdout)" -eq 3 ] && ok batch-lines || ko batch-lines "$(cat stdout)"
expect batch-json 0 "$M" --db ca.db --json issue --batch batch --out-dir jout
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert [i["spiffe_id"] for i in d["issued"]] == [
    "spiffe://cluster.local/ns/default/sa/api",
    "spiffe://cluster.local/x/y",
    "spiffe://cluster.local/ns/kube-system/sa/dns"], d
assert all(len(i["serial"]) == 32 and not i["clamped"] for i in d["issued"])
' stdout && ok batch-json-parses || ko batch-json-parses "$(cat stdout)"
fi
printf 'default/api\nnot an id\n' >bad
expect batch-bad-line 1 "$M" --db ca.db issue --batch bad --out-dir bad.out
grep -q 'line 2' err && ok batch-bad-line-msg || ko batch-bad-line-msg "$(cat err)"

"$M" --db ca.db issue --id spiffe://cluster.local/ns/a/sa/victim \
    --out-dir victim >stdout 2>err
serial=$(cut -d' ' -f1 stdout)
expect revoke 0 "$M" --db ca.db revoke --reason keyCompromise "$serial"
expect revoke-again 1 "$M" --db ca.db revoke "$serial"
expect revoke-unknown 1 "$M" --db ca.db revoke 0123456789abcdef0123456789abcdef
expect revoke-not-hex 2 "$M" --db ca.db revoke xyz
expect revoke-bad-reason 2 "$M" --db ca.db revoke --reason bogus "$serial"

expect crl 0 "$M" --db ca.db crl --out crl.pem
openssl crl -in crl.pem -CAfile out/root-cert.pem -verify -noout 2>&1 |
    grep -q 'verify OK' && ok crl-verify || ko crl-verify "openssl crl -verify"
openssl verify -crl_check -CRLfile crl.pem -CAfile out/root-cert.pem \
    victim/cert-chain.pem >v 2>&1
grep -q 'certificate revoked' v && ok crl-revoked || ko crl-revoked "$(cat v)"
expect crl-good-leaf 0 openssl verify -crl_check -CRLfile crl.pem \
    -CAfile out/root-cert.pem out/cert-chain.pem

expect bundle 0 "$M" --db ca.db bundle
cmp -s stdout out/root-cert.pem && ok bundle-is-root-cert ||
    ko bundle-is-root-cert "bundle differs from root-cert.pem"
expect bundle-spiffe 0 "$M" --db ca.db bundle --spiffe
cp stdout bundle.json
expect verify-with-json-bundle 0 "$M" verify --bundle bundle.json \
    --trust-domain cluster.local out/cert-chain.pem

# sign: the CSR gives the key, the command line the identity
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout csr.key -subj /CN=x -out good.csr 2>/dev/null
expect sign 0 "$M" --db ca.db sign --ns default --sa csr --out signed.pem \
    good.csr
expect sign-verify 0 openssl verify -CAfile out/root-cert.pem signed.pem
expect sign-key 0 sh -c 'test "$(openssl pkey -in csr.key -pubout)" = \
    "$(openssl x509 -in signed.pem -pubkey -noout)"'
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout x.key -subj /CN=x -out other.csr \
    -addext subjectAltName=URI:spiffe://cluster.local/ns/kube-system/sa/admin \
    2>/dev/null
expect sign-other-id 1 "$M" --db ca.db sign --ns default --sa csr other.csr
grep -q 'asks for spiffe://cluster.local/ns/kube-system/sa/admin' err &&
    ok sign-other-id-msg || ko sign-other-id-msg "$(cat err)"
openssl req -new -newkey rsa:1024 -nodes -keyout w.key -subj /CN=x \
    -out weak.csr 2>/dev/null
expect sign-weak 1 "$M" --db ca.db sign --ns default --sa csr weak.csr
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout c.key -subj /CN=x -out ca.csr \
    -addext basicConstraints=critical,CA:TRUE 2>/dev/null
expect sign-ca-bit 1 "$M" --db ca.db sign --ns default --sa csr ca.csr

# rotate-root: prepare, activate, retire (refused early, then forced)
expect rotate-retire-none 1 "$M" --db ca.db rotate-root --retire
expect rotate-prepare 0 "$M" --db ca.db rotate-root --prepare
"$M" --db ca.db bundle >b2.pem
[ "$(grep -c 'BEGIN CERTIFICATE' b2.pem)" -eq 2 ] && ok bundle-two-roots ||
    ko bundle-two-roots "$(grep -c 'BEGIN CERTIFICATE' b2.pem)"
expect rotate-activate 0 "$M" --db ca.db rotate-root --activate
expect issue-new-root 0 "$M" --db ca.db issue --ns default --sa web \
    --out-dir new
expect new-leaf-under-old-root 2 openssl verify -CAfile out/root-cert.pem \
    new/cert-chain.pem
expect new-leaf-under-bundle 0 openssl verify -CAfile new/root-cert.pem \
    new/cert-chain.pem
expect old-leaf-under-bundle 0 openssl verify -CAfile new/root-cert.pem \
    out/cert-chain.pem
expect rotate-retire-early 1 "$M" --db ca.db rotate-root --retire
grep -q 'unexpired leaves' err && ok rotate-retire-early-msg ||
    ko rotate-retire-early-msg "$(cat err)"
expect rotate-retire-forced 0 "$M" --db ca.db rotate-root --retire --force
"$M" --db ca.db bundle >b3.pem
[ "$(grep -c 'BEGIN CERTIFICATE' b3.pem)" -eq 1 ] && ok bundle-one-root ||
    ko bundle-one-root "$(grep -c 'BEGIN CERTIFICATE' b3.pem)"
expect rotate-two-stages 2 "$M" --db ca.db rotate-root --prepare --activate

chmod 644 ca.db.kek
expect kek-too-open 1 "$M" --db ca.db crl
grep -q 'mode 644' err && ok kek-too-open-msg || ko kek-too-open-msg "$(cat err)"
chmod 600 ca.db.kek
head -c 32 /dev/urandom >wrong.kek && chmod 600 wrong.kek
expect wrong-kek 1 "$M" --db ca.db crl --kek wrong.kek
grep -q 'KEK does not decrypt authority [0-9]' err && ok wrong-kek-msg ||
    ko wrong-kek-msg "$(cat err)"

echo "[==========] $((passed + failed)) test(s) run."
echo "[  PASSED  ] $passed test(s)."
[ "$failed" -eq 0 ] || echo "[  FAILED  ] $failed test(s)"
[ "$failed" -eq 0 ]
