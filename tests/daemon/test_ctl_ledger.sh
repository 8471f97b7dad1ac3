#!/bin/sh
# test_ctl_ledger.sh: how meshcad uses its ledger while it reconciles.
#   - one ledger transaction per loop turn, not one per leaf: a cold
#     reconcile of 300 accounts syncs the ledger (fsync or fdatasync, as
#     strace counts them) far fewer times than it issues leaves, and
#     every Secret's serial is in the ledger (meshca list) when it is
#     published; skipped without strace.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/ctl_lib.sh"
N=300

emu_start

if command -v strace >/dev/null 2>&1 &&
    strace -f -qq -e trace=fsync -o /dev/null true 2>/dev/null; then
	# meshcad is started as ctl_lib.sh does (its pid is killed on
	# exit), strace attaches to it, and only then the accounts appear
	meshcad_start a --lease-duration 8s --renew-deadline 6s
	strace -f -qq -e trace=fsync,fdatasync -o "$work/strace.out" \
	    -p "$(cat "$work/a.pid")" 2>>"$work/strace.log" &
	spid=$!
	pids="$pids $spid"
	sleep 1
	make_sas led $N
	if ! kill -0 "$spid" 2>/dev/null; then
		echo "# strace cannot attach here: sync count skipped"
	elif wait_for 60 converged led; then
		sleep 1
		syncs=$(grep -c 'sync(' "$work/strace.out")
		issued=$(metric a meshca_certificates_issued_total)
		issued=${issued%.*}
		echo "# $issued leaves issued, $syncs ledger syncs"
		if [ "$issued" -ge $N ] && [ "$syncs" -lt $((N / 4)) ]; then
			ok "ledger: one transaction per loop turn"
		else
			bad "ledger: one transaction per loop turn" \
			    "$syncs syncs for $issued leaves"
		fi
		# every published serial is in the ledger
		kubectl -n led get secrets -o json | jq -r '.items[] |
		    .metadata.annotations["meshca.io/serial"] // empty' |
		    sort >"$work/published"
		MESHCA_DB="$work/a.db" "$MESHCA" --json list 2>/dev/null |
		    jq -r 'if type == "array" then .[] else . end |
		    .serial // empty' | sort >"$work/recorded"
		missing=$(comm -23 "$work/published" "$work/recorded" |
		    wc -l)
		if [ -s "$work/published" ] && [ "$missing" = 0 ]; then
			ok "ledger: every published serial is recorded"
		else
			bad "ledger: every published serial is recorded" \
			    "$missing of $(wc -l <"$work/published") missing"
		fi
	else
		bad "ledger: one transaction per loop turn" "no convergence"
	fi
else
	echo "# strace missing or not permitted: ledger sync count skipped"
fi
finish
