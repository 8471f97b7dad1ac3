#!/bin/sh
# test_ctl_ha.sh: meshcad replicas against the Kubernetes API emulator:
# three replicas started at once end with one root and one leader; only
# the leader writes; after SIGKILL of the leader another takes over
# within the lease duration and converges (new accounts, a deleted
# Secret), keeping earlier revocations in its CRL although its own ledger
# never saw them; kill -9 of the only replica during a burst of 500 new
# accounts, restart, convergence with no duplicate live certificate.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/ctl_lib.sh"

emu_start
make_sas ns1 60
# three replicas started together (the pids are recorded by the
# background shells in $work/NAME.pid; cleanup kills them from there)
meshcad_start a &
w1=$!
meshcad_start b &
w2=$!
meshcad_start c &
w3=$!
wait $w1 $w2 $w3
pids="$pids $(cat "$work/a.pid" "$work/b.pid" "$work/c.pid")"

leaders() {
	n=0
	for r in "$@"; do
		[ "$(metric "$r" meshca_leader)" = 1 ] && n=$((n + 1))
	done
	echo "$n"
}
one_leader() { [ "$(leaders "$@")" = 1 ]; }
all_ready() {
	for r in "$@"; do
		[ "$(readyz "$r")" = 200 ] || return 1
	done
}

# 1. one root, three ready replicas, one leader
if wait_for 20 all_ready a b c && wait_for 10 one_leader a b c &&
    [ "$(cat "$work"/a.log "$work"/b.log "$work"/c.log |
    grep -c 'created root')" = 1 ]; then
	ok one_root_one_leader
else
	bad one_root_one_leader "ready: $(readyz a) $(readyz b) $(readyz c), leaders $(leaders a b c), roots $(cat "$work"/*.log | grep -c 'created root')"
fi
roots=$(for r in a b c; do sqlite3 "$work/$r.db" \
    "SELECT cert_pem FROM authorities WHERE state = 'active'"; done |
    sort -u | grep -c 'BEGIN CERTIFICATE')
if [ "$roots" = 1 ]; then
	ok same_root_in_every_ledger
else
	bad same_root_in_every_ledger "$roots distinct active authorities"
fi

# 2. exactly one writer
if wait_for 20 converged ns1 && out=$(all_valid ns1); then
	ok converged_61
else
	bad converged_61 "${out:-not converged}"
fi
writers=0
for r in a b c; do
	[ "$(metric "$r" meshca_certificates_issued_total)" != 0 ] &&
	    writers=$((writers + 1))
done
if [ "$writers" = 1 ]; then ok one_writer; else bad one_writer \
    "$writers replicas issued"; fi

# a revocation the next leader must keep
rs=$(serial_of ns1 sa-60)
kubectl -n ns1 delete serviceaccount sa-60 >/dev/null
if wait_for 10 crl_has ns1 "$rs"; then ok revoked_before_failover; else
	bad revoked_before_failover "serial $rs not in the CRL"; fi

# 3. SIGKILL the leader
for r in a b c; do
	[ "$(metric "$r" meshca_leader)" = 1 ] && L=$r
done
kill -9 "$(cat "$work/$L.pid")"
t0=$(date +%s)
rest=$(echo a b c | tr ' ' '\n' | grep -v "^$L\$" | tr '\n' ' ')
make_sas ns2 20
kubectl -n ns1 delete secret istio.sa-1 >/dev/null
# shellcheck disable=SC2086
if wait_for 15 one_leader $rest; then
	echo "# new leader after $(($(date +%s) - t0)) s (lease 3 s)"
	ok failover_leader
else
	bad failover_leader "no new leader among $rest"
fi
if wait_for 20 converged ns1 ns2 && out=$(all_valid ns1 ns2); then
	echo "# converged $(($(date +%s) - t0)) s after SIGKILL"
	ok failover_converged
else
	bad failover_converged "${out:-not converged}"
fi
# the new leader re-signs the CRL (another revocation) and keeps the old
rs2=$(serial_of ns2 sa-20)
kubectl -n ns2 delete serviceaccount sa-20 >/dev/null
if wait_for 10 crl_has ns2 "$rs2" && crl_has ns2 "$rs" && crl_has ns1 "$rs"; then
	ok crl_survives_failover
else
	bad crl_survives_failover "serials $rs / $rs2 missing from the CRL"
fi

# 4. kill -9 of the only replica during a burst of 500 accounts
for r in $rest; do
	kill -9 "$(cat "$work/$r.pid")"
done
meshcad_start d
wait_for 10 test "$(readyz d)" = 200
make_sas burst 500 w &
bp=$!
sleep 1.5
kill -9 "$(cat "$work/d.pid")"
wait $bp
meshcad_start d
t0=$(date +%s)
if wait_for 40 converged burst ns1 ns2 && out=$(all_valid burst); then
	echo "# 501 accounts converged $(($(date +%s) - t0)) s after restart"
	ok burst_kill9_converged
else
	bad burst_kill9_converged "${out:-not converged}"
fi
dups=$(sqlite3 "$work/d.db" "SELECT spiffe_id FROM certificates WHERE
    status = 'active' AND not_after > strftime('%s','now')
    GROUP BY spiffe_id HAVING count(*) > 1" | wc -l)
if [ "$dups" = 0 ]; then
	ok no_duplicate_live_certificate
else
	bad no_duplicate_live_certificate "$dups accounts with 2+ live leaves"
fi
finish
