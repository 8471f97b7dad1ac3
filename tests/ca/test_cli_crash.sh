#!/bin/sh
# test_cli_crash.sh: kill -9 the meshca CLI in the middle of batch
# issues and revokes, many times over a bounded run (CRASH_SECONDS,
# default 8, longer until ten kills have landed), then show that the ledger opens, passes PRAGMA
# integrity_check, and that every certificate it records is complete: all
# columns set, its PEM parses, it verifies under the bundle (openssl
# verify), and its serial and SPIFFE ID are the ones its row names; and
# that meshca list, crl and issue still work on it. A batch is one
# transaction, so each killed batch is recorded whole or not at all.
set -u
builddir=${top_builddir:-.}
M="$builddir/cli/meshca"
seconds=${CRASH_SECONDS:-8}
work=$(mktemp -d /tmp/mc-cli-crash-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "[       OK ] $1"; }
ko() { failed=$((failed + 1)); echo "[  FAILED  ] $1: $2"; }
rnd() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }

if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "[  SKIPPED ] sqlite3(1) not installed (Debian package sqlite3)"
	exit 77
fi
"$M" --db ca.db init >/dev/null 2>err && ok init || ko init "$(cat err)"
"$M" --db ca.db bundle >root.pem 2>err && ok bundle || ko bundle "$(cat err)"

# 40 identities per batch, each batch with its own names, so a batch
# recorded twice or half would show in the counts below.
# On a loaded machine fewer rounds fit in the time: keep going (up to
# four times as long) until ten kills have landed mid-batch.
end=$(( $(date +%s) + seconds ))
hard_end=$(( $(date +%s) + 4 * seconds ))
batches=0 killed=0 revokes=0 rkilled=0
while now=$(date +%s) && { [ "$now" -lt "$end" ] ||
    { [ "$killed" -lt 10 ] && [ "$now" -lt "$hard_end" ]; }; }; do
	batches=$((batches + 1))
	seq 1 40 | sed "s|^|b$batches/sa|" >batch
	"$M" --db ca.db issue --batch batch --out-dir "out" \
	    >/dev/null 2>&1 &
	pid=$!
	# most batches take longer than this (40 keys, 120 files fsynced)
	sleep "0.0$(( $(rnd) % 10 ))$(( $(rnd) % 10 ))"
	kill -9 "$pid" 2>/dev/null
	# 128 + SIGKILL: it was still running (a zombie takes kill too)
	wait "$pid" 2>/dev/null
	[ $? -eq 137 ] && killed=$((killed + 1))
	# revoke a few recorded serials, also killed at random
	"$M" --db ca.db list --status active 2>/dev/null |
	    awk 'NR > 1 && NR % 7 == 3 { print $1 }' | head -3 >serials
	while read -r s; do
		"$M" --db ca.db revoke --reason superseded "$s" \
		    >/dev/null 2>&1 &
		rp=$!
		sleep "0.0$(( $(rnd) % 10 ))"
		kill -9 "$rp" 2>/dev/null
		wait "$rp" 2>/dev/null
		[ $? -eq 137 ] && rkilled=$((rkilled + 1))
		revokes=$((revokes + 1))
	done <serials
done
echo "# $batches batches ($killed killed while running), $revokes revokes" \
    "($rkilled killed while running)"
[ "$killed" -ge 10 ] && ok kills-landed || ko kills-landed "only $killed"

r=$(sqlite3 ca.db 'PRAGMA integrity_check' 2>&1)
[ "$r" = ok ] && ok integrity-check || ko integrity-check "$r"
r=$(sqlite3 ca.db 'PRAGMA foreign_key_check' 2>&1)
[ -z "$r" ] && ok foreign-keys || ko foreign-keys "$r"
n=$(sqlite3 ca.db 'SELECT count(*) FROM certificates')
echo "# $n certificates recorded"
[ "$n" -gt 0 ] && ok some-recorded || ko some-recorded "none"
# a batch is one transaction: each is recorded with all 40 or not at all
r=$(sqlite3 ca.db "SELECT namespace, count(*) FROM certificates
    GROUP BY namespace HAVING count(*) <> 40")
[ -z "$r" ] && ok batches-whole || ko batches-whole "$r"
r=$(sqlite3 ca.db "SELECT serial FROM certificates WHERE
    length(serial) <> 32 OR spiffe_id IS NULL OR namespace IS NULL OR
    service_account IS NULL OR not_before >= not_after OR
    issued_at IS NULL OR authority_id IS NULL OR
    cert_pem NOT LIKE '-----BEGIN CERTIFICATE-----%' OR
    cert_pem NOT LIKE '%-----END CERTIFICATE-----' || char(10) OR
    status NOT IN ('active', 'superseded', 'revoked') OR
    (status = 'revoked') <> (revoked_at IS NOT NULL)")
[ -z "$r" ] && ok rows-complete || ko rows-complete "$r"
r=$(sqlite3 ca.db "SELECT count(*) FROM certificates WHERE
    status = 'revoked'")
echo "# $r revoked"

# every recorded PEM parses, verifies, and is the certificate of its row
mkdir pems
sqlite3 -separator ' ' ca.db \
    "SELECT serial, spiffe_id FROM certificates ORDER BY serial" >rows
sqlite3 ca.db "SELECT cert_pem FROM certificates ORDER BY serial" |
    awk '/BEGIN CERTIFICATE/ { n++ } { print > sprintf("pems/%06d.pem", n) }'
np=$(ls pems | wc -l)
[ "$np" -eq "$n" ] && ok pems-one-per-row || ko pems-one-per-row "$np != $n"
openssl verify -CAfile root.pem pems/*.pem >verify 2>&1
nv=$(grep -c ': OK$' verify)
[ "$nv" -eq "$n" ] && ok pems-verify || ko pems-verify "$nv of $n: $(grep -v ': OK$' verify | head -3)"
# (openssl x509 per file is slow: a sample of 30 rows, spread out)
: >pemrows
step=$(( n / 30 + 1 ))
awk -v s="$step" 'NR % s == 1' rows >rows.sample
for f in $(ls pems/*.pem | awk -v s="$step" 'NR % s == 1'); do
	openssl x509 -in "$f" -noout -serial -ext subjectAltName 2>/dev/null |
	    awk '/^serial=/ { s = tolower(substr($0, 8)) }
		/URI:/ { sub(/.*URI:/, ""); u = $0 }
		END { while (length(s) < 32) s = "0" s; print s, u }' >>pemrows
done
cmp -s rows.sample pemrows && ok pems-match-rows ||
    ko pems-match-rows "$(diff rows.sample pemrows | head -4)"

# the CLI still works on the ledger
"$M" --db ca.db list >list 2>err && [ "$(($(wc -l <list) - 1))" -eq "$n" ] &&
    ok list-works || ko list-works "$(cat err)"
"$M" --db ca.db crl --out crl.pem 2>err && openssl crl -in crl.pem \
    -CAfile root.pem -verify -noout 2>&1 | grep -q 'verify OK' &&
    ok crl-works || ko crl-works "$(cat err)"
"$M" --db ca.db issue --ns after --sa crash --out-dir after >/dev/null \
    2>err && openssl verify -CAfile after/root-cert.pem \
    after/cert-chain.pem >/dev/null 2>&1 && ok issue-works ||
    ko issue-works "$(cat err)"

echo "[==========] $((passed + failed)) test(s) run."
echo "[  PASSED  ] $passed test(s)."
[ "$failed" -eq 0 ] || echo "[  FAILED  ] $failed test(s)"
[ "$failed" -eq 0 ]
