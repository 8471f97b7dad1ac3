#!/bin/sh
# test_cli.sh: the CA commands of meshca(1) end to end on a temporary
# database: init (0600 ledger and KEK, refusal of a second root), issue
# (files and modes, openssl verify of the chain, batch, refusals), revoke,
# crl (openssl crl -verify, openssl verify -crl_check), bundle (PEM and
# SPIFFE JSON read back by meshca verify), sign (CSR policy), the three
# stages of rotate-root, list and show (filters, columns, --json), the
# ledger's default path, each ledger failure named (missing, not a
# database, corrupt, open to others, locked past the busy timeout, full
# disk on a tmpfs when root may mount one), --out-dir refusing symlinks
# and keeping key.pem 0600 under umask 000, and a KEK others can read or
# the wrong KEK.
set -u
builddir=${top_builddir:-.}
M="$builddir/cli/meshca"
work=$(mktemp -d /tmp/mc-cli-ca-XXXXXX)
trap 'umount "$work/full" 2>/dev/null; rm -rf "$work"' EXIT
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
# by ID: every live certificate of it, in one go
for i in 1 2; do "$M" --db ca.db issue --ns a --sa twice --out-dir "tw$i" \
    >/dev/null 2>&1; done
expect revoke-id 0 "$M" --db ca.db --json revoke --reason cessationOfOperation \
    --id spiffe://cluster.local/ns/a/sa/twice
[ "$(tr -cd , <stdout | wc -c)" -eq 3 ] && grep -q '"reason": "cessationOfOperation"' \
    stdout && ok revoke-id-both || ko revoke-id-both "$(cat stdout)"
expect revoke-id-again 1 "$M" --db ca.db revoke \
    --id spiffe://cluster.local/ns/a/sa/twice
grep -q 'no unexpired, unrevoked certificate' err && ok revoke-id-again-msg ||
    ko revoke-id-again-msg "$(cat err)"
expect revoke-id-bad 2 "$M" --db ca.db revoke --id spiffe://x/../y
expect revoke-id-and-serial 2 "$M" --db ca.db revoke --id \
    spiffe://cluster.local/ns/a/sa/twice "$serial"

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
expect bundle-format-spiffe 0 "$M" --db ca.db bundle --format spiffe
cmp -s stdout bundle.json && ok bundle-format-same || ko bundle-format-same "differs"
expect bundle-format-pem 0 "$M" --db ca.db bundle --format pem
cmp -s stdout out/root-cert.pem && ok bundle-format-pem-same ||
    ko bundle-format-pem-same "differs"
expect bundle-format-bad 2 "$M" --db ca.db bundle --format der
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

# --json of the other commands: one object per line, fields as meshca(1)
if command -v python3 >/dev/null 2>&1; then
	"$M" --db j.db --json init >init.json 2>err &&
	"$M" --db j.db --json bundle >bundle.json 2>>err &&
	"$M" --db j.db --json crl >crl.json 2>>err &&
	"$M" --db j.db --json crl --out j.crl >crlout.json 2>>err &&
	"$M" --db j.db --json sign --ns j --sa s good.csr >sign.json 2>>err &&
	"$M" --db j.db --json sign --ns j --sa s --out j.pem good.csr \
	    >signout.json 2>>err &&
	"$M" --db j.db --json revoke "$(python3 -c 'import json
print(json.load(open("sign.json"))["serial"])')" >revoke.json 2>>err &&
	"$M" --db j.db --json rotate-root --prepare >prep.json 2>>err &&
	"$M" --db j.db --json rotate-root --activate >act.json 2>>err &&
	"$M" --db j.db --json rotate-root --retire --force >ret.json 2>>err &&
	python3 -c 'import json
def one(f):
    lines = open(f).read().splitlines()
    assert len(lines) == 1, (f, lines)
    return json.loads(lines[0])
i = one("init.json")
assert i == {"authority": 1, "trust_domain": "cluster.local",
    "imported": False, "not_after": i["not_after"]}, i
b = one("bundle.json")
assert b["trust_domain"] == "cluster.local" and b["roots"] == 1
assert b["pem"].startswith("-----BEGIN CERTIFICATE-----")
c = one("crl.json")
assert c["authorities"] == [1] and c["out"] is None
assert c["pem"].startswith("-----BEGIN X509 CRL-----"), c
c = one("crlout.json")
assert c["out"] == "j.crl" and c["pem"] is None, c
s = one("sign.json")
assert set(s) == {"serial", "spiffe_id", "not_before", "not_after",
    "clamped", "out", "chain"}, s
assert s["spiffe_id"] == "spiffe://cluster.local/ns/j/sa/s"
assert s["chain"].count("BEGIN CERTIFICATE") == 1 and s["out"] is None
s2 = one("signout.json")
assert s2["out"] == "j.pem" and s2["chain"] is None, s2
r = one("revoke.json")
assert r == {"serial": s["serial"], "reason": "unspecified"}, r
assert one("prep.json") == {"stage": "prepare",
    "trust_domain": "cluster.local", "authority": 2}
assert one("act.json") == {"stage": "activate",
    "trust_domain": "cluster.local"}
assert one("ret.json") == {"stage": "retire",
    "trust_domain": "cluster.local", "retired": [1]}
' && ok json-outputs || ko json-outputs "$(cat err)"
fi

# list and show: filters, columns, JSON
expect list 0 "$M" --db ca.db list
head -1 stdout | grep -q '^SERIAL  *STATUS  *NOT BEFORE  *NOT AFTER  *SPIFFE ID$' &&
    ok list-header || ko list-header "$(head -1 stdout)"
grep -q "^$serial  revoked  " stdout && ok list-row || ko list-row "$(cat stdout)"
expect list-revoked 0 "$M" --db ca.db list --status revoked
[ "$(wc -l <stdout)" -eq 4 ] && grep -q "^$serial " stdout &&
    [ "$(grep -c '^[0-9a-f]*  revoked  ' stdout)" -eq 3 ] &&
    ok list-revoked-only || ko list-revoked-only "$(cat stdout)"
expect list-ns 0 "$M" --db ca.db --json list --ns kube-system
expect list-id 0 "$M" --db ca.db --json list --status active \
    --id spiffe://cluster.local/ns/default/sa/web
cp stdout list-id.json
expect list-expiring 0 "$M" --db ca.db --json list --expiring-before 2h
cp stdout list-exp.json
expect list-expiring-past 0 "$M" --db ca.db --json list \
    --expiring-before 2001-01-01T00:00:00Z
[ "$(cat stdout)" = "[]" ] && ok list-expiring-none || ko list-expiring-none "$(cat stdout)"
expect list-bad-status 2 "$M" --db ca.db list --status gone
expect list-bad-time 2 "$M" --db ca.db list --expiring-before tomorrow
expect show 0 "$M" --db ca.db show "$serial"
grep -q '^status:  *revoked$' stdout && grep -q '^reason:  *keyCompromise$' \
    stdout && ok show-fields || ko show-fields "$(cat stdout)"
expect show-pem 0 "$M" --db ca.db show --pem "$serial"
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' stdout >shown.pem
cmp -s shown.pem victim/cert-chain.pem 2>/dev/null ||
    head -n "$(wc -l <shown.pem)" victim/cert-chain.pem | cmp -s - shown.pem &&
    ok show-pem-is-leaf || ko show-pem-is-leaf "$(cat stdout)"
expect show-json 0 "$M" --db ca.db --json show --pem "$serial"
cp stdout show.json
expect show-unknown 1 "$M" --db ca.db show 0123456789abcdef0123456789abcdef
expect show-bad 2 "$M" --db ca.db show 12
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import json, sys
l = json.load(open("list-id.json"))
assert len(l) == 1 and l[0]["status"] == "active", l
assert set(l[0]) == {"serial", "spiffe_id", "namespace", "service_account",
    "status", "not_before", "not_after", "issued_at", "authority",
    "revoked_at", "reason"}, l[0]
assert l[0]["namespace"] == "default" and l[0]["service_account"] == "web"
assert l[0]["revoked_at"] is None and l[0]["reason"] is None
e = json.load(open("list-exp.json"))
assert [c["spiffe_id"] for c in e] == [
    "spiffe://cluster.local/ns/default/sa/web"], e
s = json.load(open("show.json"))
assert s["serial"] == sys.argv[1] and s["status"] == "revoked", s
assert s["reason"] == "keyCompromise" and isinstance(s["revoked_at"], int)
assert s["key_type"] == "ec-p256" and s["dns"] == [] and s["subject"] == ""
assert s["pem"].startswith("-----BEGIN CERTIFICATE-----")
' "$serial" && ok list-show-json || ko list-show-json "json"
fi

# the ledger's path: --db, else $MESHCA_DB, else the per-user default
MESHCA_DB=$work/ca.db "$M" list >stdout 2>err &&
    grep -q "^$serial " stdout && ok db-from-env || ko db-from-env "$(cat err)"
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	chmod 711 "$work"
	mkdir -m 777 home
	# the build tree may sit where uid 65534 cannot reach (/root is
	# 0700 on Debian): run a copy of the binary from $work
	cp "$M" "$work/meshca-nobody" && chmod 755 "$work/meshca-nobody"
	setpriv --reuid=65534 --regid=65534 --clear-groups env -u MESHCA_DB \
	    -u XDG_DATA_HOME HOME="$work/home" "$work/meshca-nobody" init \
	    >stdout 2>err &&
	    [ "$(mode home/.local/share/meshca)" = 700 ] &&
	    [ "$(mode home/.local/share/meshca/meshca.db)" = 600 ] &&
	    ok db-default-user || ko db-default-user "$(cat err)"
	setpriv --reuid=65534 --regid=65534 --clear-groups env -u MESHCA_DB \
	    HOME="$work/home" XDG_DATA_HOME="$work/home/xdg" \
	    "$work/meshca-nobody" list >stdout 2>err
	[ $? -eq 2 ] && grep -q "ledger $work/home/xdg/meshca/meshca.db: no such \
file; run meshca init first" err && ok db-default-xdg || ko db-default-xdg \
	    "$(cat err)"
fi

# ledger failures, each named, nothing half-written
expect db-missing 2 "$M" --db nowhere.db list
grep -q 'nowhere.db: no such file; run meshca init first' err &&
    ok db-missing-msg || ko db-missing-msg "$(cat err)"
[ ! -e nowhere.db ] && ok db-missing-not-made || ko db-missing-not-made "made"
head -c 8192 /dev/urandom >junk.db && chmod 600 junk.db
expect db-not-a-db 1 "$M" --db junk.db list
grep -q 'junk.db: not a sqlite database' err && ok db-not-a-db-msg ||
    ko db-not-a-db-msg "$(cat err)"
cp ca.db corrupt.db && chmod 600 corrupt.db
sqlite3 corrupt.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null 2>&1
# clobber pages past the header: the schema and rows, not the magic
sz=$(stat -c %s corrupt.db)
dd if=/dev/urandom of=corrupt.db bs=1024 seek=5 count=$(( sz / 1024 - 6 )) \
    conv=notrunc 2>/dev/null
"$M" --db corrupt.db list >stdout 2>err
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 3 ] && grep -q 'corrupt\|malformed\|not a sqlite' err &&
    ok db-corrupt || ko db-corrupt "exit $rc: $(cat err)"
chmod 640 ca.db
expect db-too-open 1 "$M" --db ca.db list
grep -q 'ca.db: mode 640 lets group or others' err && ok db-too-open-msg ||
    ko db-too-open-msg "$(cat err)"
chmod 600 ca.db
# locked: another process holds the write lock past the busy timeout
before=$("$M" --db ca.db --json list | tr -cd '{' | wc -c)
( printf 'BEGIN IMMEDIATE;\n'; sleep 9; printf 'COMMIT;\n' ) |
    sqlite3 ca.db >/dev/null 2>&1 &
lockpid=$!
sleep 1
t0=$(date +%s)
expect db-locked 2 "$M" --db ca.db issue --ns l --sa k --out-dir locked
grep -q 'ca.db: .*database is locked by another process' err &&
    ok db-locked-msg || ko db-locked-msg "$(cat err)"
[ $(( $(date +%s) - t0 )) -ge 4 ] && ok db-locked-waited ||
    ko db-locked-waited "gave up at once"
[ ! -e locked/key.pem ] && ok db-locked-no-files || ko db-locked-no-files "written"
# readers need no write lock (WAL): list answers at once meanwhile
t0=$(date +%s)
expect db-locked-list 0 "$M" --db ca.db list
[ $(( $(date +%s) - t0 )) -le 2 ] && ok db-locked-list-at-once ||
    ko db-locked-list-at-once "waited for the lock"
wait "$lockpid"
after=$("$M" --db ca.db --json list | tr -cd '{' | wc -c)
[ "$before" -eq "$after" ] && ok db-locked-nothing-recorded ||
    ko db-locked-nothing-recorded "$before -> $after"
# full disk: a 256 KiB tmpfs (root only; skipped where mount is refused)
mkdir full
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=256k,mode=700 meshca-full \
    full 2>/dev/null; then
	expect full-init 0 "$M" --db full/ca.db init
	# fill it up but for 48 KiB: the ledger opens, the batch cannot fit
	dd if=/dev/zero of=full/pad bs=1k count=48 2>/dev/null
	dd if=/dev/zero of=full/fill bs=1k count=400 2>/dev/null
	rm -f full/pad
	printf 'default/a%d\n' $(seq 1 200) >full.batch
	expect full-disk 2 "$M" --db full/ca.db issue --batch full.batch \
	    --out-dir fullout
	grep -q 'full/ca.db: .*disk full, nothing was written' err &&
	    ok full-disk-msg || ko full-disk-msg "$(cat err)"
	[ ! -e fullout/default.a1/key.pem ] && ok full-disk-no-files ||
	    ko full-disk-no-files "written"
	# no room at all: even opening (the WAL) fails, and says why
	dd if=/dev/zero of=full/more bs=1k count=400 2>/dev/null
	expect full-disk-open 2 "$M" --db full/ca.db issue --ns f --sa d \
	    --out-dir fullout2
	grep -q 'full/ca.db: .*disk full' err && ok full-disk-open-msg ||
	    ko full-disk-open-msg "$(cat err)"
	rm -f full/fill full/more
	expect full-disk-list 0 "$M" --db full/ca.db --json list
	[ "$(cat stdout)" = "[]" ] && ok full-disk-nothing-recorded ||
	    ko full-disk-nothing-recorded "$(cat stdout)"
	[ "$(sqlite3 full/ca.db 'PRAGMA integrity_check')" = ok ] &&
	    ok full-disk-integrity || ko full-disk-integrity "integrity_check"
	umount full
else
	echo "[  SKIPPED ] full-disk: cannot mount a tmpfs here"
fi

# --out-dir: no writing through links, key 0600 under any umask
"$M" --db ca.db --json list >before.json
for f in key.pem cert-chain.pem root-cert.pem; do
	mkdir -p "link-$f"
	ln -s "$work/stolen" "link-$f/$f"
	expect "out-dir-symlink-$f" 1 "$M" --db ca.db issue --ns s --sa l \
	    --out-dir "link-$f"
	grep -q "link-$f/$f: a symbolic link; refusing to write through it" \
	    err && ok "out-dir-symlink-$f-msg" || ko "out-dir-symlink-$f-msg" \
	    "$(cat err)"
done
[ ! -e stolen ] && ok out-dir-symlink-nothing-written ||
    ko out-dir-symlink-nothing-written "stolen exists"
"$M" --db ca.db --json list >after.json
cmp -s before.json after.json && ok out-dir-symlink-not-recorded ||
    ko out-dir-symlink-not-recorded "ledger changed"
mkdir -p blink && ln -s "$work/stolen" blink/default.api
expect batch-symlink-dir 1 "$M" --db ca.db issue --batch batch --out-dir blink
(umask 000 && "$M" --db ca.db issue --ns u --sa m --out-dir umask0 \
    >/dev/null 2>&1)
[ "$(mode umask0/key.pem)" = 600 ] && ok key-mode-umask0 ||
    ko key-mode-umask0 "$(mode umask0/key.pem)"
(umask 000 && "$M" --db u0.db init >/dev/null 2>&1)
[ "$(mode u0.db)" = 600 ] && [ "$(mode u0.db.kek)" = 600 ] &&
    ok init-modes-umask0 || ko init-modes-umask0 "$(mode u0.db) $(mode u0.db.kek)"

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
