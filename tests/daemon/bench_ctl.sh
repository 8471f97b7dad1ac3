#!/bin/sh
# bench_ctl.sh [N]: meshcad's initial reconcile of N (default 10000)
# service accounts against the emulator, cold start, until every account
# has its Secret; then peak RSS, and CPU over 60 s of steady state with
# nothing to do. Prints BENCH lines:
#   BENCH meshcad.reconcile_10k_s S s
#   BENCH meshcad.rss_mib M MiB
#   BENCH meshcad.idle_cpu_pct P %
# Steady state starts SETTLE seconds (default 40) after the last Secret
# exists: until then meshcad still validates the watch events of its own
# writes. The emulator sends bookmarks every 60 s, as a real API server.
# (The floor of meshcad.reconcile_10k_vs_floor, the emulator's own
# throughput for N creates from a bare client, is not measured here.)
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/ctl_lib.sh"
N=${1:-10000}
emu_start --no-managed-fields --bookmark-interval 60
per=$((N / 10))
i=0
kp=""
while [ $i -lt 10 ]; do
	{
		echo "apiVersion: v1"
		echo "kind: List"
		echo "items:"
		echo "- {apiVersion: v1, kind: Namespace, metadata: {name: b$i}}"
		j=1
		while [ $j -le $per ]; do
			echo "- {apiVersion: v1, kind: ServiceAccount, metadata: {name: w-$j, namespace: b$i}}"
			j=$((j + 1))
		done
	} >"$work/sas$i.yaml"
	kubectl create --validate=false -f "$work/sas$i.yaml" >/dev/null &
	kp="$kp $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $kp
want=$(kubectl get sa -A --no-headers | grep -vc '^kube-')
t0=$(date +%s.%N)
meshcad_start a --log-level warn --lease-duration 15s --renew-deadline 10s \
    --retry-period 2s
pid=$(cat "$work/a.pid")
# every account's Secret plus meshca-ca exists (the emulator counts; the
# issued counter misses a create whose answer was lost but which landed)
secrets() {
	curl -sk -H "Authorization: Bearer $(cat "$work/emu/token")" \
	    "$(cat "$work/emu/address")/_emulator/stats" | jq '.objects.secrets'
}
while [ "$(secrets)" -lt $((want + 1)) ]; do
	sleep 0.2
done
t1=$(date +%s.%N)
echo "BENCH meshcad.reconcile_10k_s $(echo "$t1 - $t0" | bc) s"
sleep "${SETTLE:-40}"
echo "BENCH meshcad.rss_mib $(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' \
    "/proc/$pid/status") MiB"
c0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
sleep 60
c1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
echo "BENCH meshcad.idle_cpu_pct $(echo "scale=2; ($c1 - $c0) * 100 / \
    $(getconf CLK_TCK) / 60" | bc) %"
echo "# $want accounts; lease changes: $(grep -c 'lease lost' "$work/a.log")"
finish
