#!/bin/sh
# test_ctl_faults.sh: meshcad with one-minute leaves against the
# Kubernetes API emulator: rotation before expiry (and the superseded
# leaf revoked after the propagation window), then emulator faults during
# reconciliation (5xx bursts, 429 with Retry-After, connection resets,
# watch closes, compaction with 410 both ways, 409 conflicts) with
# convergence after each, the kubernetes.io/tls format, and SIGHUP
# (a namespace excluded on reload loses meshca's Secrets).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/ctl_lib.sh"

emu_start
make_sas ns1 20
CONF=$work/a.conf
: >"$CONF"
meshcad_start a --cert-ttl 1m --grace-ratio 0.8 --min-grace 1s \
    --propagation-window 2s

if wait_for 20 converged ns1 && out=$(all_valid ns1); then
	ok converged
else
	bad converged "${out:-not converged}"
fi

# 1. rotation: with a 66 s lifetime and grace 0.8 a leaf is renewed
# 8 to 13 s after it was issued
s=$(serial_of ns1 sa-1)
rotated() { n=$(serial_of ns1 sa-1); [ -n "$n" ] && [ "$n" != "$s" ]; }
t0=$(date +%s)
if wait_for 25 rotated && all_valid ns1/sa-1 >/dev/null; then
	echo "# sa-1 rotated after $(($(date +%s) - t0)) s"
	ok rotation_before_expiry
else
	bad rotation_before_expiry "serial $s unchanged"
fi
if [ "$(metric a meshca_certificates_rotated_total)" -ge 1 ] &&
    wait_for 10 crl_has ns1 "$s"; then
	ok rotated_leaf_revoked_after_window
else
	bad rotated_leaf_revoked_after_window "rotated $(metric a meshca_certificates_rotated_total), $s not in CRL"
fi

# 2. faults during reconciliation; after each, new accounts and a
# deleted Secret must converge
i=0
fault() {
	i=$((i + 1))
	name=$1
	shift
	kubectl -n ns1 delete secret "istio.sa-$i" >/dev/null 2>&1
	"$@" >>"$work/admin.log"
	make_sas "f$i" 5
	if wait_for 30 converged ns1 "f$i" && out=$(all_valid "f$i" "ns1/sa-$i"); then
		ok "fault_$name"
	else
		bad "fault_$name" "${out:-not converged}"
	fi
	emu_admin /_emulator/clear-faults >/dev/null
}
fault 5xx_burst emu_admin /_emulator/faults \
    '{"status":503,"count":15,"path_contains":"secrets"}'
fault 500_on_create emu_admin /_emulator/faults \
    '{"status":500,"count":5,"method":"POST","path_contains":"secrets"}'
fault 429_retry_after emu_admin /_emulator/faults \
    '{"status":429,"count":10,"retry_after":1,"path_contains":"secrets"}'
fault connection_resets emu_admin /_emulator/reset \
    '{"count":10,"path_contains":"secrets"}'
fault close_watches emu_admin /_emulator/close-watches '{"abrupt":true}'
fault compact_410_event emu_admin /_emulator/compact
fault compact_410_http emu_admin '/_emulator/compact?mode=http'
fault 409_conflicts emu_admin /_emulator/faults \
    '{"status":409,"count":5,"method":"POST","path_contains":"secrets"}'
if [ "$(metric a 'meshca_api_errors_total{code="503"}')" != 0 ] ||
    [ "$(metric a 'meshca_api_errors_total{code="500"}')" != 0 ] ||
    [ "$(metric a 'meshca_watch_restarts_total{resource="secrets"}')" != 0 ]; then
	ok fault_metrics
else
	bad fault_metrics "$(metrics a | grep -E 'api_errors|watch_restarts')"
fi

# 3. SIGHUP: exclude f1 from the file; meshca's Secrets there go
echo "exclude-namespaces = f1" >"$CONF"
kill -HUP "$(cat "$work/a.pid")"
excluded() { [ "$(kubectl -n f1 get secrets \
    -l app.kubernetes.io/managed-by=meshca -o json | jq '.items | length')" = 0 ]; }
if wait_for 15 excluded && wait_for 5 test \
    "$(metric a 'meshca_config_reloads_total{result="success"}')" = 1; then
	ok sighup_exclude_namespace
else
	bad sighup_exclude_namespace "Secrets left in f1"
fi
kill -TERM "$(cat "$work/a.pid")"
wait "$(cat "$work/a.pid")" 2>/dev/null

# 4. kubernetes.io/tls, a fresh replica in its own namespace scope
CONF=/dev/null
make_sas tls 3
meshcad_start t --secret-format tls --namespaces tls
tls_ok() {
	[ "$(kubectl -n tls get secret istio.sa-1 -o jsonpath='{.type}')" = \
	    kubernetes.io/tls ]
}
if wait_for 15 tls_ok && wait_for 15 converged tls &&
    out=$(all_valid tls); then
	ok secret_format_tls
else
	bad secret_format_tls "${out:-no kubernetes.io/tls Secret}"
fi
finish
