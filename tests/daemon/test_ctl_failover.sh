#!/bin/sh
# test_ctl_failover.sh: what a new leader must finish for the one before.
#   superseded_after_failover  a leaf superseded just before its leader
#       is killed is revoked (superseded) by the next leader after the
#       propagation window (the Secret that replaced it names it, and
#       the standby recorded it when it saw it);
#   superseded_named_only_in_overwritten_secret  a leaf the standby never
#       saw, named as superseded by the Secret that replaced it, which is
#       overwritten after the leader dies: revoked by the next leader
#       from what it read in that annotation as a standby;
#   gone_while_leaderless  an account deleted while no replica ran is
#       revoked (cessationOfOperation) by the next leader, whose ledger
#       knows the leaf only because it saw it as a standby;
#   serial_forms  serial= without leading zeros, in capitals with colons
#       (as openssl prints it), filed with a leader that never issued
#       the leaf: revoked and re-issued;
#   serial_unknown  an unknown serial is logged as unknown and consumed;
#   crl_number_continues  the new leader's CRL number follows the one
#       its predecessor published (RFC 5280 5.2.3: monotonic);
#   request_kept_until_crl, request_survives_leader_death  a revocation
#       request the leader acted on, whose CRL it could not publish
#       before it died, stays in meshca-revocations, and the next
#       leader revokes the leaf.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/ctl_lib.sh"
FLAGS="--propagation-window 8s"

emu_start --gc-delay 0.2
make_sas fo 4
meshcad_start a $FLAGS
wait_for 20 converged fo || { bad setup "no convergence"; finish; }
meshcad_start b $FLAGS
wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' \
    http://127.0.0.1:\$(cat $work/b.port)/readyz)\" = 200 ]"
# b records the leaves it sees as a standby
sleep 1

leader() { lease_holder; }
kill_leader() {
	_l=$(leader)
	kill -9 "$(cat "$work/$_l.pid")" 2>/dev/null
	echo "$_l"
}

crl_number() {
	kubectl -n "$CANS" get configmap meshca-ca-bundle \
	    -o jsonpath='{.data.crl\.pem}' | openssl crl -noout -crlnumber |
	    sed 's/.*=//; s/^0x//'
}

# 1. superseded, then the leader dies within the window
s1=$(serial_of fo sa-1)
kubectl -n fo delete secret istio.sa-1 >/dev/null
changed() { n=$(serial_of fo sa-1); [ -n "$n" ] && [ "$n" != "$s1" ]; }
wait_for 10 changed
n0=$(crl_number)
dead=$(kill_leader)
if wait_for 25 crl_has fo "$s1"; then
	ok superseded_after_failover
else
	bad superseded_after_failover \
	    "$s1 (superseded, leader $dead killed) not in the CRL"
fi
n1=$(crl_number)
if [ -n "$n0" ] && [ -n "$n1" ] &&
    [ "$(printf '%d' "0x$n1")" -gt "$(printf '%d' "0x$n0")" ]; then
	ok crl_number_continues
else
	bad crl_number_continues "CRL number $n0 before the failover, $n1 after"
fi
meshcad_start "$dead" $FLAGS
sleep 2

# 1b. a leaf X the standby never saw (issued while it was down, and
# replaced by Y at once): the Secret with Y names X as superseded. The
# leader dies before X is due, and Y is overwritten (data and
# annotations) before anyone leads again: only what the standby read in
# Y's annotation lets the next leader revoke X.
l=$(leader)
sb=a
[ "$l" = a ] && sb=b
kill -9 "$(cat "$work/$sb.pid")" 2>/dev/null
kubectl -n fo delete secret istio.sa-3 >/dev/null
sx=""
new_sa3() { sx=$(serial_of fo sa-3); [ -n "$sx" ]; }
wait_for 10 new_sa3
x=$sx
kubectl -n fo delete secret istio.sa-3 >/dev/null
not_x() { n=$(serial_of fo sa-3); [ -n "$n" ] && [ "$n" != "$x" ]; }
wait_for 10 not_x
meshcad_start "$sb" $FLAGS
wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' \
    http://127.0.0.1:\$(cat $work/$sb.port)/readyz)\" = 200 ]"
sleep 1
kill -9 "$(cat "$work/$l.pid")" 2>/dev/null
kubectl -n fo get secret istio.sa-3 -o json |
    jq '.data["cert-chain.pem"] = "Z2FyYmFnZQo=" |
    del(.metadata.annotations["meshca.io/superseded"])' |
    kubectl replace --validate=false -f - >/dev/null
if [ -n "$x" ] && wait_for 30 crl_has fo "$x"; then
	ok superseded_named_only_in_overwritten_secret
else
	bad superseded_named_only_in_overwritten_secret \
	    "$x (known to the dead leader and in Y's annotation) not in the CRL"
fi
meshcad_start "$l" $FLAGS
sleep 2

# 2. an account deleted while no replica runs
make_sas fo2 2
wait_for 20 converged fo fo2
s2=$(serial_of fo2 sa-2)
l=$(leader)
other=a
[ "$l" = a ] && other=b
kill -9 "$(cat "$work/$l.pid")" "$(cat "$work/$other.pid")" 2>/dev/null
kubectl -n fo2 delete serviceaccount sa-2 >/dev/null
secret_gone() { ! kubectl -n fo2 get secret istio.sa-2 >/dev/null 2>&1; }
wait_for 10 secret_gone
# the replica that was standby when the leaf was written leads next
sleep 3
meshcad_start "$other" $FLAGS
if wait_for 25 crl_has fo2 "$s2" &&
    kubectl -n fo2 get configmap meshca-ca-bundle \
    -o jsonpath='{.data.crl\.pem}' | openssl crl -noout -text |
    grep -A5 "$(echo "$s2" | tr a-f A-F | sed 's/^0*//')" |
    grep -q "Cessation Of Operation"; then
	ok gone_while_leaderless
else
	bad gone_while_leaderless \
	    "$s2 (no leader at its deletion): not in the CRL as cessation"
fi

# 3. serial= in other forms, to a leader with a fresh ledger
kill -9 "$(cat "$work/$other.pid")" 2>/dev/null
sleep 3
meshcad_start c $FLAGS
wait_for 15 sh -c "[ \"\$(kubectl -n $CANS get lease meshca-leader \
    -o jsonpath='{.spec.holderIdentity}')\" = c ]"
wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' \
    http://127.0.0.1:\$(cat $work/c.port)/readyz)\" = 200 ]"
s3=$(serial_of fo sa-3)
s4=$(serial_of fo sa-4)
# openssl's form: capitals, colons, no leading zero octets
colons=$(kubectl -n fo get secret istio.sa-3 -o json |
    jq -r '.data["cert-chain.pem"]' | base64 -d |
    openssl x509 -noout -text | grep -A1 'Serial Number' | tail -n 1 |
    tr -d ' ' | tr a-f A-F)
short=$(echo "$s4" | sed 's/^0*//')
kubectl -n $CANS create configmap meshca-revocations \
    --from-literal=r1="serial=$colons reason=keyCompromise" \
    --from-literal=r2="serial=$short reason=affiliationChanged" \
    --from-literal=r3="serial=0123456789abcdef0123456789abcdef" \
    >/dev/null
re3() { n=$(serial_of fo sa-3); [ -n "$n" ] && [ "$n" != "$s3" ]; }
re4() { n=$(serial_of fo sa-4); [ -n "$n" ] && [ "$n" != "$s4" ]; }
if wait_for 15 crl_has fo "$s3" && wait_for 10 crl_has fo "$s4" &&
    wait_for 10 re3 && wait_for 10 re4; then
	ok serial_forms
else
	bad serial_forms "$colons / $short: not revoked or not re-issued"
fi
if wait_for 5 grep -q 'serial 0123456789abcdef0123456789abcdef is unknown' \
    "$work/c.log" && [ "$(kubectl -n $CANS get configmap \
    meshca-revocations -o json | jq '.data // {} | length')" = 0 ]; then
	ok serial_unknown
else
	bad serial_unknown "no clear log line, or the request was kept"
fi

# 4. a request acted on, its CRL not out (the bundle ConfigMap's writes
# fail), the leader killed: the entry must still be there for the next
# leader. Secret writes fail too, so that no re-issue names the leaf as
# superseded: only the request can get it revoked.
meshcad_start d $FLAGS
wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' \
    http://127.0.0.1:\$(cat $work/d.port)/readyz)\" = 200 ]"
sleep 1 # d records the leaves it sees as a standby
s5=$(serial_of fo sa-2)
emu_admin /_emulator/faults '{"status":500,"count":100000,"method":"PUT",
    "path_contains":"meshca-ca-bundle"}' >/dev/null
emu_admin /_emulator/faults '{"status":500,"count":100000,"method":"PUT",
    "path_contains":"secrets/istio.sa-2"}' >/dev/null
kubectl -n $CANS patch configmap meshca-revocations --type merge \
    -p "{\"data\":{\"r5\":\"serial=$s5 reason=keyCompromise\"}}" >/dev/null
r5_left() {
	[ "$(kubectl -n $CANS get configmap meshca-revocations -o json |
	    jq -r '.data.r5 // empty')" != "" ]
}
if wait_for 10 grep -q "certificate revoked serial=$s5" "$work/c.log" &&
    sleep 2 && r5_left; then
	ok request_kept_until_crl
else
	bad request_kept_until_crl "the request was not acted on, or it left \
meshca-revocations before its CRL was published"
fi
kill -9 "$(cat "$work/c.pid")" 2>/dev/null
emu_admin /_emulator/clear-faults >/dev/null
r5_gone() { ! r5_left; }
if wait_for 25 crl_has fo "$s5" && wait_for 10 r5_gone; then
	ok request_survives_leader_death
else
	bad request_survives_leader_death "$s5 (revoked on request by a \
leader that died before its CRL was out) not in the next leader's CRL"
fi
finish
