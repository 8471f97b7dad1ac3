# ctl_lib.sh: shared by the controller's integration tests
# (tests/daemon/test_ctl_*.sh). Sourced, not run. Starts the Kubernetes
# API emulator and meshcad replicas on 127.0.0.1 in a temporary
# directory; every process is killed and the directory removed on exit.
# Results are printed as cmocka does, so tests/summary.sh counts them:
#   [       OK ] name      [  FAILED  ] name: why
#   [  PASSED  ] N test(s).
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
PY=${PYTHON3:-/usr/bin/python3}
MESHCAD=$top_builddir/daemon/meshcad
MESHCA=$top_builddir/cli/meshca
TD=cluster.local
CANS=meshca-system

for tool in kubectl jq curl openssl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "skip: $tool not found"
		exit 77
	}
done

work=$(mktemp -d /tmp/meshcad-ctl.XXXXXX)
export HOME="$work" KUBECONFIG="$work/emu/kubeconfig"
pids=""
passed=0
failed=0

cleanup() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$failed" -gt 0 ] && [ -n "${KEEP_LOGS:-}" ]; then
		echo "# logs kept in $work"
		return
	fi
	if [ "$failed" -gt 0 ]; then
		for f in "$work"/*.log; do
			[ -f "$f" ] || continue
			echo "# --- tail of $(basename "$f")"
			tail -n 15 "$f" | sed 's/^/# /'
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() {
	passed=$((passed + 1))
	echo "[       OK ] $1"
}
bad() {
	failed=$((failed + 1))
	echo "[  FAILED  ] $1: $2"
}
finish() {
	# a sanitizer build's replicas report there (a leak at a SIGTERM
	# exit, an invalid access at any time): each is a failure
	for _f in "$work"/*.log; do
		[ -f "$_f" ] || continue
		_l=$(grep -m1 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		    "$_f") && bad "sanitizer_$(basename "$_f" .log)" "$_l"
	done
	echo "[==========] $((passed + failed)) test(s) run."
	echo "[  PASSED  ] $passed test(s)."
	if [ "$failed" -gt 0 ]; then
		echo "[  FAILED  ] $failed test(s)."
		exit 1
	fi
	exit 0
}

# wait_for SECONDS CMD...: runs CMD every 0.2 s until it succeeds.
wait_for() {
	_limit=$1
	shift
	_end=$(($(date +%s) + _limit))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.2
	done
	return 0
}

emu_start() {
	"$PY" "$top_srcdir/tests/emulator/kube-apiserver-emulator" \
	    --listen 127.0.0.1:0 --state-dir "$work/emu" --exit-after 600 \
	    --log "$work/emu-requests.log" "$@" >"$work/emu.log" 2>&1 &
	pids="$pids $!"
	wait_for 30 test -f "$work/emu/ready" || {
		echo "emulator did not start"
		cat "$work/emu.log"
		exit 99
	}
	kubectl create namespace "$CANS" >/dev/null
}

# emu_admin PATH [JSON]: an admin request to the emulator.
emu_admin() {
	curl -sk -H "Authorization: Bearer $(cat "$work/emu/token")" \
	    -X POST -d "${2:-{\}}" "$(cat "$work/emu/address")$1"
	echo
}

# meshcad_start NAME [FLAGS...]: a replica with its own ledger; its pid
# in $work/NAME.pid, its metrics port in $work/NAME.port.
meshcad_start() {
	_n=$1
	shift
	rm -f "$work/$_n.port"
	"$MESHCAD" --config "${CONF:-/dev/null}" --kubeconfig "$KUBECONFIG" \
	    --db "$work/$_n.db" --identity "$_n" \
	    --metrics-listen 127.0.0.1:0 --metrics-port-file "$work/$_n.port" \
	    --log-format text --lease-duration 3s --renew-deadline 2s \
	    --retry-period 500ms "$@" >>"$work/$_n.log" 2>&1 &
	echo $! >"$work/$_n.pid"
	pids="$pids $!"
	wait_for 10 test -s "$work/$_n.port"
}

metrics() {
	curl -s "http://127.0.0.1:$(cat "$work/$1.port")/metrics"
}

# metric NAME SERIES: the value of one series ("name{l=\"v\"}"), or 0.
metric() {
	metrics "$1" | awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'
}

readyz() {
	curl -s -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$(cat "$work/$1.port")/readyz"
}

# make_sas NS COUNT [PREFIX]: a namespace and COUNT accounts, one apply.
make_sas() {
	_ns=$1
	_count=$2
	_p=${3:-sa}
	{
		echo "apiVersion: v1"
		echo "kind: List"
		echo "items:"
		echo "- {apiVersion: v1, kind: Namespace, metadata: {name: $_ns}}"
		_i=1
		while [ "$_i" -le "$_count" ]; do
			echo "- {apiVersion: v1, kind: ServiceAccount, metadata: {name: $_p-$_i, namespace: $_ns}}"
			_i=$((_i + 1))
		done
	} >"$work/sas.yaml"
	kubectl create --validate=false -f "$work/sas.yaml" >/dev/null
}

# The leaf serial of Secret istio.SA in NS, lowercase hex ("" if none).
serial_of() {
	# in the ledger's form, 32 digits: openssl drops a leading zero
	# octet (1 serial in 256), which meshca's output keeps
	kubectl -n "$1" get secret "istio.$2" -o json 2>/dev/null |
	    jq -r '.data["cert-chain.pem"] // .data["tls.crt"]' |
	    base64 -d 2>/dev/null | openssl x509 -noout -serial 2>/dev/null |
	    sed 's/serial=//' | tr 'A-F' 'a-f' |
	    awk 'length($0) > 0 { while (length($0) < 32) $0 = "0" $0; print }'
}

# True when every account of the namespaces given has a Secret whose
# serial the annotation names (a cheap convergence test: the full check
# is all_valid).
converged() {
	kubectl get sa -A -o json | jq -r '.items[] |
	    "\(.metadata.namespace) \(.metadata.name)"' | sort >"$work/c-sas"
	kubectl get secrets -A -l app.kubernetes.io/managed-by=meshca -o json |
	    jq -r '.items[] | select(.metadata.name | startswith("istio.")) |
	    "\(.metadata.namespace) \(.metadata.annotations["istio.io/service-account.name"])"' |
	    sort >"$work/c-secs"
	for _ns in "$@"; do
		grep -q "^$_ns " "$work/c-sas" || return 1
	done
	for _ns in "$@"; do
		grep "^$_ns " "$work/c-sas"
	done | sort >"$work/c-want"
	for _ns in "$@"; do
		grep "^$_ns " "$work/c-secs"
	done | sort >"$work/c-have"
	[ -s "$work/c-want" ] && cmp -s "$work/c-want" "$work/c-have"
}

# all_valid NS|NS/SA...: every account's Secret verifies with openssl verify
# and meshca verify --id, its key matches its leaf, its annotation and
# ownerReference name the account. Prints the failures.
all_valid() {
	_rc=0
	kubectl get sa -A -o json >"$work/v-sas.json"
	kubectl get secrets -A -l app.kubernetes.io/managed-by=meshca -o json \
	    >"$work/v-secs.json"
	# one line per account: ns sa uid chain key root annotation owner-uid
	jq -r --slurpfile s "$work/v-secs.json" --arg nss " $* " '
	    ($s[0].items | map({key: (.metadata.namespace + "/" +
	    .metadata.name), value: .}) | from_entries) as $m |
	    .items[] | .metadata.namespace as $n | .metadata.name as $a |
	    select(($nss | contains(" " + $n + " ")) or
	    ($nss | contains(" " + $n + "/" + $a + " "))) |
	    .metadata as $sa | $m[$sa.namespace + "/istio." + $sa.name] as $x |
	    [$sa.namespace, $sa.name, $sa.uid,
	    ($x.data["cert-chain.pem"] // $x.data["tls.crt"] // "-"),
	    ($x.data["key.pem"] // $x.data["tls.key"] // "-"),
	    ($x.data["root-cert.pem"] // $x.data["ca.crt"] // "-"),
	    ($x.metadata.annotations["istio.io/service-account.name"] // "-"),
	    ($x.metadata.ownerReferences[0].uid // "-")] | join(" ")' \
	    "$work/v-sas.json" >"$work/v-lines"
	[ -s "$work/v-lines" ] || { echo "no accounts"; return 1; }
	# one bundle for all: the Secrets must agree on it
	if [ "$(cut -d' ' -f6 "$work/v-lines" | sort -u | wc -l)" != 1 ]; then
		echo "root-cert.pem differs between Secrets"
		_rc=1
	fi
	_total=$(wc -l <"$work/v-lines")
	_step=1
	[ "$_total" -gt 60 ] && _step=10
	rm -rf "$work/v"
	mkdir "$work/v"
	_i=0
	while read -r _ns _sa _uid _c _k _r _ann _own; do
		_i=$((_i + 1))
		if [ "$_c" = - ]; then
			echo "$_ns/$_sa: no secret"
			_rc=1
			continue
		fi
		echo "$_c" | base64 -d >"$work/v/$_ns.$_sa.pem"
		echo "$_r" | base64 -d >"$work/v-root.pem"
		if ! "$MESHCA" verify --bundle "$work/v-root.pem" \
		    --id "spiffe://$TD/ns/$_ns/sa/$_sa" \
		    "$work/v/$_ns.$_sa.pem" >/dev/null 2>&1; then
			echo "$_ns/$_sa: meshca verify failed"
			_rc=1
		fi
		# the key check costs two processes: every account of a
		# small set, every tenth of a large one
		if [ $((_i % _step)) = 0 ] || [ "$_step" = 1 ]; then
			echo "$_k" | base64 -d >"$work/v-key.pem"
			if [ "$(openssl x509 -in "$work/v/$_ns.$_sa.pem" \
			    -noout -pubkey 2>/dev/null)" != "$(openssl pkey \
			    -in "$work/v-key.pem" -pubout 2>/dev/null)" ]; then
				echo "$_ns/$_sa: key does not match"
				_rc=1
			fi
		fi
		if [ "$_ann $_own" != "$_sa $_uid" ]; then
			echo "$_ns/$_sa: annotation or owner wrong"
			_rc=1
		fi
	done <"$work/v-lines"
	# openssl verify, every leaf, one process
	if ls "$work/v/" | grep -q pem; then
		openssl verify -CAfile "$work/v-root.pem" "$work"/v/*.pem \
		    >"$work/v-openssl" 2>&1
		if [ "$(grep -c ': OK$' "$work/v-openssl")" != \
		    "$(ls "$work/v" | wc -l)" ]; then
			grep -v ': OK$' "$work/v-openssl" | head -n 5
			_rc=1
		fi
	fi
	return $_rc
}

# crl_has NS SERIAL: the CRL in NS's bundle ConfigMap lists SERIAL.
crl_has() {
	_s=$(echo "$2" | tr 'a-f' 'A-F' | sed 's/^0*//')
	kubectl -n "$1" get configmap meshca-ca-bundle \
	    -o jsonpath='{.data.crl\.pem}' | openssl crl -noout -text 2>/dev/null |
	    grep -q "Serial Number: 0*$_s\$"
}

lease_holder() {
	kubectl -n "$CANS" get lease meshca-leader \
	    -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
