#!/bin/sh
# test_ctl_revoke.sh: "meshca --kubeconfig PATH revoke" as an operator uses
# it, against the Kubernetes API emulator and one meshcad replica: revoke
# by ID and by serial (canonical, and openssl's colon form), each serial
# then in the CRL of ConfigMap meshca-ca-bundle (openssl crl) with its
# reason, and a fresh Secret issued; --wait reporting handled, refused
# (a serial the CA never issued) and pending (no meshcad in that
# namespace: exit 4, the request stays filed); --json; requests filed by
# several operators at once while the ConfigMap does not exist yet; a 503
# retried; and clear errors with the documented exit status for a bad ID,
# a bad reason, an unreachable server, a silent server (--timeout), 401, 403
# with the RBAC hint (the emulator's restricted token) and a missing
# namespace.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/ctl_lib.sh"

emu_start
make_sas shop 4
meshcad_start a

# run NAME WANT-STATUS ARGS...: meshca ARGS, stdout and stderr kept in
# $work/NAME.out and $work/NAME.err; false (with a report) when the exit
# status is not WANT-STATUS.
run() {
	_name=$1
	_want=$2
	shift 2
	"$MESHCA" "$@" >"$work/$_name.out" 2>"$work/$_name.err"
	_rc=$?
	[ "$_rc" = "$_want" ] && return 0
	echo "# $_name: exit $_rc, want $_want"
	sed 's/^/#   out: /' "$work/$_name.out"
	sed 's/^/#   err: /' "$work/$_name.err"
	return 1
}
# has NAME out|err TEXT: the output holds TEXT (a fixed string).
has() {
	grep -qF -- "$3" "$work/$1.$2" && return 0
	echo "# $1: $2 lacks \"$3\""
	return 1
}
K="--kubeconfig $KUBECONFIG"
# the CRL entry of SERIAL in NS's bundle names REASON (openssl's words)
crl_reason() {
	kubectl -n "$1" get configmap meshca-ca-bundle \
	    -o jsonpath='{.data.crl\.pem}' | openssl crl -noout -text |
	    grep -A5 "Serial Number: 0*$(echo "$2" | tr a-f A-F | sed 's/^0*//')\$" |
	    grep -q "$3"
}
# the entries of ConfigMap meshca-revocations in NS
entries() {
	kubectl -n "$1" get configmap meshca-revocations -o json 2>/dev/null |
	    jq -r '.data // {} | to_entries[] | "\(.key) \(.value)"'
}

if ! wait_for 30 converged shop; then
	bad converged "the accounts of namespace shop got no Secrets"
	finish
fi

# 1. by ID, waiting for the leader
s=$(serial_of shop sa-1)
s1=$s
if run by_id 0 $K revoke --reason keyCompromise \
    --id "spiffe://$TD/ns/shop/sa/sa-1" --wait=20 &&
    has by_id out "reason=keyCompromise in configmap $CANS/meshca-revocations" &&
    has by_id out "id=spiffe://$TD/ns/shop/sa/sa-1" &&
    has by_id out "handled: the leader took the request" &&
    wait_for 10 crl_has shop "$s" && crl_reason shop "$s" "Key Compromise"; then
	ok revoke_id_crl
else
	bad revoke_id_crl "serial $s of shop/sa-1 not in the CRL as keyCompromise"
fi
fresh() { n=$(serial_of shop "$1"); [ -n "$n" ] && [ "$n" != "$2" ]; }
if wait_for 10 fresh sa-1 "$s" && all_valid shop/sa-1 >/dev/null; then
	ok revoke_id_reissued
else
	bad revoke_id_reissued "no fresh valid Secret istio.sa-1"
fi
[ -z "$(entries $CANS)" ] && ok revoke_id_entry_removed ||
    bad revoke_id_entry_removed "$(entries $CANS)"

# 1b. a request acted on whose removal fails (here every PATCH of the
# ConfigMap; a lost lease cuts it off the same way) is not acted on
# again when the ConfigMap changes: for an ID that would revoke the leaf
# issued in answer to it. Entries are filed with PUT (kubectl replace),
# which the fault leaves alone.
put_entry() {
	kubectl -n "$CANS" get configmap meshca-revocations -o json |
	    jq --arg k "$1" --arg v "$2" '.data[$k] = $v' |
	    kubectl replace --validate=false -f - >/dev/null
}
s=$(serial_of shop sa-1)
emu_admin /_emulator/faults '{"status":500,"count":0,"method":"PATCH",
    "path_contains":"meshca-revocations"}' >/dev/null
put_entry twice "id=spiffe://$TD/ns/shop/sa/sa-1 reason=keyCompromise"
if wait_for 20 fresh sa-1 "$s"; then
	s2=$(serial_of shop sa-1)
	put_entry other "serial=$(printf '%032x' 4242) reason=superseded"
	sleep 4
	emu_admin /_emulator/clear-faults >/dev/null
	if wait_for 20 eval '[ -z "$(entries $CANS)" ]' &&
	    [ "$(serial_of shop sa-1)" = "$s2" ] && ! crl_has shop "$s2"; then
		ok revoke_request_acted_once
	else
		bad revoke_request_acted_once "sa-1: $s2 -> $(serial_of shop \
		    sa-1); entries: $(entries $CANS)"
	fi
else
	emu_admin /_emulator/clear-faults >/dev/null
	bad revoke_request_acted_once "the request was not acted on"
fi

# 1c. an id= request is first resolved into the entry as the serials it
# means (serials=), then acted on as those: a leader that died after
# acting, before removing the entry, leaves it to the next, which must
# revoke nothing more. Here the entry as the first leader left it names
# the leaf revoked in 1 ($s1); the account's leaf now is $s3.
s3=$(serial_of shop sa-1)
put_entry again "id=spiffe://$TD/ns/shop/sa/sa-1 reason=keyCompromise serials=$s1"
if wait_for 20 eval '[ -z "$(entries $CANS)" ]' && sleep 2 &&
    [ "$(serial_of shop sa-1)" = "$s3" ] && ! crl_has shop "$s3" &&
    crl_has shop "$s1"; then
	ok revoke_id_acted_again_idempotent
else
	bad revoke_id_acted_again_idempotent "sa-1: $s3 -> $(serial_of shop \
	    sa-1); entries: $(entries $CANS)"
fi
# and the first step is logged with what it resolved
if grep -q "revocation request: 1 live leaf of spiffe://$TD/ns/shop/sa/sa-1" \
    "$work/a.log"; then
	ok revoke_id_resolved_logged
else
	bad revoke_id_resolved_logged "no 'live leaf' line"
fi

# 2. by serial, canonical form, waiting: handled means "in the CRL"
s=$(serial_of shop sa-2)
if run by_serial 0 $K revoke --reason superseded --wait=20 "$s" &&
    has by_serial out "serial=$s reason=superseded" &&
    has by_serial out "handled: $s is in the CRL of configmap $CANS/meshca-ca-bundle" &&
    crl_has shop "$s" && wait_for 10 crl_reason shop "$s" Superseded &&
    wait_for 10 fresh sa-2 "$s" && all_valid shop/sa-2 >/dev/null; then
	ok revoke_serial_crl
else
	bad revoke_serial_crl "serial $s of shop/sa-2"
fi

# 3. by serial as openssl prints it (colons, upper case), --json, no
# wait: the request is filed in the canonical form
s=$(serial_of shop sa-3)
colons=$(echo "$s" | tr a-f A-F | sed 's/../&:/g; s/:$//')
if run json 0 $K --json revoke --reason cessationOfOperation "$colons" &&
    [ "$(jq -r '[.serial, .reason, .namespace, .configmap,
        (.handled | tostring), (.request | test("^req-[0-9]+-[0-9a-f]{8}$"))]
        | join(" ")' "$work/json.out")" = \
    "$s cessationOfOperation $CANS meshca-revocations null true" ] &&
    wait_for 10 crl_has shop "$s" && wait_for 10 fresh sa-3 "$s"; then
	ok revoke_serial_colons_json
else
	bad revoke_serial_colons_json "$(cat "$work/json.out" "$work/json.err")"
fi

# 4. a serial the CA never issued: the leader drops the request, the CRL
# never lists it, --wait says so (exit 1)
if run refused 1 $K revoke --wait=4 0123456789abcdef0123456789abcdef &&
    has refused err "the leader removed the request but the CRL" &&
    has refused err "refused it"; then
	ok revoke_wait_refused
else
	bad revoke_wait_refused "unknown serial not reported as refused"
fi

# 5. no meshcad acts on namespace idle: --wait ends with exit 4 and the
# request stays filed
kubectl create namespace idle >/dev/null
if run pending 4 $K revoke --ca-namespace idle --wait=2 \
    --id "spiffe://$TD/ns/shop/sa/sa-4" &&
    has pending err "not handled within 2 s; it stays filed" &&
    [ "$(entries idle | cut -d' ' -f2-)" = \
    "id=spiffe://$TD/ns/shop/sa/sa-4 reason=unspecified" ]; then
	ok revoke_wait_pending
else
	bad revoke_wait_pending "$(entries idle)"
fi

# a user who may patch but not get: the request is filed, --wait says
# so and why it cannot follow it
emu_admin /_emulator/faults '{"status":403,"count":1,"method":"GET",
    "path_contains":"/namespaces/idle/configmaps/meshca-revocations"}' \
    >/dev/null
if run noget 1 $K revoke --ca-namespace idle --wait=5 \
    --id "spiffe://$TD/ns/shop/sa/sa-4" &&
    has noget out "filed req-" &&
    has noget err "get configmap idle/meshca-revocations: forbidden (403)" &&
    has noget err "was filed: do not file it again"; then
	ok revoke_wait_forbidden
else
	bad revoke_wait_forbidden "no clear error"
fi

# 6. five operators at once, the ConfigMap not there yet: one create
# wins, the others get AlreadyExists and patch; every request kept
kubectl create namespace busy >/dev/null
i=1
while [ $i -le 5 ]; do
	"$MESHCA" $K revoke --ca-namespace busy \
	    "$(printf '%032x' $((i * 7919)))" >/dev/null 2>"$work/busy$i.err" &
	eval "p$i=\$!"
	i=$((i + 1))
done
st=0
for i in 1 2 3 4 5; do
	eval "wait \$p$i" || { st=1; cat "$work/busy$i.err"; }
done
if [ $st = 0 ] && [ "$(entries busy | wc -l)" = 5 ]; then
	ok revoke_concurrent_create
else
	bad revoke_concurrent_create "$(entries busy | wc -l) entries"
fi

# 7. a 503 from the API server is retried
emu_admin /_emulator/faults '{"status":503,"count":2,"method":"PATCH",
    "path_contains":"meshca-revocations"}' >/dev/null
if run retried 0 $K revoke --ca-namespace busy \
    0123456789abcdef0123456789abcdee &&
    [ "$(entries busy | wc -l)" = 6 ]; then
	ok revoke_503_retried
else
	bad revoke_503_retried "$(entries busy | wc -l) entries"
fi

# 8. bad input: refused before the API server is asked (meshcad's own
# requests go on meanwhile: count the writes to the request ConfigMap)
writes() { grep -c 'PATCH .*/meshca-revocations' \
    "$work/emu-requests.log"; }
n=$(writes)
if run bad_id 2 $K revoke --id spiffe://cluster.local/ns/a/../sa/b &&
    has bad_id err "meshca: revoke: --id: invalid SPIFFE ID" &&
    run bad_reason 2 $K revoke --reason sorry --id "spiffe://$TD/ns/shop/sa/sa-4" &&
    has bad_reason err 'revocation reason "sorry": not an RFC 5280' &&
    run bad_serial 2 $K revoke xyz &&
    has bad_serial err "xyz: a serial is 32 hex digits" &&
    [ "$(writes)" = "$n" ]; then
	ok bad_input_local
else
	bad bad_input_local "bad input not refused locally"
fi

# 9. an unreachable server: exit 2, naming the server
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s#https://127.0.0.1:[0-9]*#https://127.0.0.1:$port#" \
    "$KUBECONFIG" >"$work/down.kubeconfig"
if run down 2 --kubeconfig "$work/down.kubeconfig" revoke --timeout 5 \
    --id "spiffe://$TD/ns/shop/sa/sa-4" &&
    has down err "cannot reach https://127.0.0.1:$port"; then
	ok unreachable_server
else
	bad unreachable_server "no clear error"
fi

# 10. a server that does not answer: --timeout ends it, exit 2, with a
# warning that the request may still arrive (the emulator answers it
# after the pause)
emu_admin /_emulator/pause >/dev/null
t0=$(date +%s)
if run silent 2 $K revoke --timeout 2 --ca-namespace idle \
    --id "spiffe://$TD/ns/shop/sa/sa-4" &&
    has silent err "no answer from https://127.0.0.1:" &&
    has silent err "within 2 s" &&
    has silent err "may have reached the server: look at configmap idle/meshca-revocations before filing it again" &&
    [ $(($(date +%s) - t0)) -le 5 ]; then
	ok timeout
else
	bad timeout "took $(($(date +%s) - t0)) s"
fi
emu_admin /_emulator/resume >/dev/null

# 11. 401: a token the server does not know
sed "s#token: .*#token: not-a-token#" "$KUBECONFIG" >"$work/bad.kubeconfig"
if run unauth 1 --kubeconfig "$work/bad.kubeconfig" revoke \
    --id "spiffe://$TD/ns/shop/sa/sa-4" &&
    has unauth err "unauthorized (401)"; then
	ok unauthorized
else
	bad unauthorized "no clear error"
fi

# 12. 403: the restricted user may use ConfigMaps in namespace default
# only: refused in the CA namespace with the RBAC hint, accepted in
# default (a namespaced grant is all revoke needs)
R="--kubeconfig $work/emu/restricted-kubeconfig"
if run forbidden 1 $R revoke --id "spiffe://$TD/ns/shop/sa/sa-4" &&
    has forbidden err 'forbidden (403): configmaps "meshca-revocations" is forbidden' &&
    has forbidden err "hint: the user needs get and patch on ConfigMap meshca-revocations" &&
    has forbidden err "deploy/operator-rbac.yaml" &&
    run namespaced 0 $R revoke --ca-namespace default \
    --id "spiffe://$TD/ns/shop/sa/sa-4"; then
	ok forbidden_rbac_hint
else
	bad forbidden_rbac_hint "no clear error"
fi

# 13. a CA namespace that does not exist
if run nons 1 $K revoke --ca-namespace nowhere \
    --id "spiffe://$TD/ns/shop/sa/sa-4" &&
    has nons err "namespace nowhere not found"; then
	ok namespace_not_found
else
	bad namespace_not_found "no clear error"
fi

# 14. --context picks a context of the kubeconfig; an unknown one, and
# --in-cluster outside a Pod, are clear errors before any request
in_cluster() {
	env -u KUBERNETES_SERVICE_HOST "$MESHCA" --in-cluster revoke \
	    0123456789abcdef0123456789abcded >/dev/null 2>"$work/incl.err"
	[ $? = 2 ] && has incl err "in-cluster: KUBERNETES_SERVICE_HOST"
}
if run ctx 0 $K --context emulator revoke --ca-namespace busy \
    0123456789abcdef0123456789abcded &&
    run noctx 2 $K --context nope revoke --ca-namespace busy \
    0123456789abcdef0123456789abcded &&
    has noctx err 'kubeconfig: context "nope" not found' && in_cluster; then
	ok context_and_in_cluster
else
	bad context_and_in_cluster "no clear error"
fi

finish
