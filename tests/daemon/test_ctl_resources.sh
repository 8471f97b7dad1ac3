#!/bin/sh
# test_ctl_resources.sh: meshcad against the Kubernetes API emulator when
# the disk fills up and when file descriptors run out (issue 6), one
# replica:
#  - ENOSPC: the ledger on a small tmpfs (root only; that part is skipped
#    where mount is refused), filled up while new accounts arrive. No
#    Secret may carry a certificate the ledger does not hold; the log
#    names the ledger file and says "disk full"; no busy loop (CPU
#    measured); /healthz and /readyz stay 200; meshca_ledger_errors_total
#    counts; once space is freed every account converges, no restart.
#  - EMFILE in the controller: RLIMIT_NOFILE lowered under meshcad's
#    count with prlimit(1) while the emulator resets every connection,
#    so that each reconnect fails; meshcad logs the shortage, keeps what
#    it made, does not spin, and converges once the limit is raised.
#  - EMFILE at the metrics endpoint: a connection storm past the limit;
#    no crash, no spin (libmicrohttpd alone spun a core here), and the
#    endpoint answers again after the storm.
#  - too few descriptors from the start (ulimit -S -n 12): the ledger
#    cannot be opened; said once, no spin, ready soon after the raise.
# Checks that need a change outside this test's owner's files are listed
# in XFAIL with the reason; a failure there prints [  XFAIL   ] and is
# not counted, a pass prints [  XPASS   ] (then drop it from the list).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/ctl_lib.sh"

command -v prlimit >/dev/null 2>&1 || { echo "skip: prlimit not found"; exit 77; }

XFAIL="${XFAIL-}"

xcheck() {
	# xcheck NAME WHY: the check just failed
	case " $XFAIL " in
	*" $1 "*) echo "[  XFAIL   ] $1: $2" ;;
	*) bad "$1" "$2" ;;
	esac
}
xok() {
	case " $XFAIL " in
	*" $1 "*) echo "[  XPASS   ] $1 (remove it from XFAIL)" ;;
	esac
	ok "$1"
}

full=""
umount_full() {
	[ -n "$full" ] && umount "$full" 2>/dev/null
	full=""
}
# the tmpfs goes after meshcad (which holds its files open)
trap 'cleanup_all' EXIT
cleanup_all() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	sleep 0.2
	umount_full
	cleanup
}

# CPU shares come from meshcad's own process_cpu_seconds_total, not from
# /proc/PID: where the test runs in a PID namespace whose /proc is not its
# own, /proc/$! is another process or none. A spin shows as 50-100 % of
# a core; the bounds below leave room for a little work at a window's
# edge (the figure is refreshed once a second).
now_ms() {
	date +%s%3N
}
# cpu_ms REPLICA: its process_cpu_seconds_total in ms; fails when its
# endpoint does not answer
cpu_ms() {
	metrics "$1" 2>/dev/null | awk '$1 == "process_cpu_seconds_total" {
	    printf "%d\n", $2 * 1000; f = 1 } END { exit !f }'
}
# cpu_mark REPLICA: a window starts (its endpoint must answer)
cpu_mark() {
	wait_for 5 cpu_ms "$1"
	_t0=$(now_ms)
	_c0=$(cpu_ms "$1") || _c0=0
}
# cpu_pct REPLICA: the CPU share (percent of a core) since cpu_mark,
# read as soon as the endpoint answers again; 999 when it never does
cpu_pct() {
	if wait_for 10 cpu_ms "$1"; then
		_c1=$(cpu_ms "$1") || _c1=0
		echo $(((_c1 - _c0) * 100 / ($(now_ms) - _t0 + 1)))
	else
		echo 999
	fi
}
# cpu_ok NAME PCT LIMIT: the check NAME passes when PCT <= LIMIT
cpu_ok() {
	if [ "$2" -le "$3" ]; then
		ok "$1"
	else
		bad "$1" "$2 % CPU (at most $3 %)"
	fi
}
# http PATH: the status code meshcad's endpoint gives, 000 when none
http_code() {
	curl -s -m 2 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$(cat "$work/a.port")$1"
}
healthy() {
	[ "$(http_code /healthz)" = 200 ]
}
log_has() {
	grep -q "$1" "$work/a.log"
}
# Every managed Secret's leaf serial is in the ledger (meshca list).
# Serials are compared without leading zeros: openssl drops a leading
# zero byte, the ledger keeps 32 digits.
secrets_in_ledger() {
	kubectl get secrets -A -l app.kubernetes.io/managed-by=meshca -o json |
	    jq -r '.items[] | select(.metadata.name | startswith("istio.")) |
	    .data["cert-chain.pem"] // .data["tls.crt"]' | while read -r c; do
		echo "$c" | base64 -d | openssl x509 -noout -serial |
		    sed 's/serial=//; s/^0*//' | tr 'A-F' 'a-f'
	done | sort >"$work/sec-serials"
	"$MESHCA" --db "$db" --json list >"$work/ledger.json" || return 1
	jq -r '.[].serial' "$work/ledger.json" | sed 's/^0*//' |
	    tr 'A-F' 'a-f' | sort >"$work/ledger-serials"
	[ -s "$work/sec-serials" ] || return 1
	comm -23 "$work/sec-serials" "$work/ledger-serials" >"$work/missing"
	[ ! -s "$work/missing" ]
}

emu_start
make_sas ns1 10

# the ledger on a 2 MiB tmpfs when we may mount one
mkdir "$work/full"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=2m,mode=700 meshca-res \
    "$work/full" 2>/dev/null; then
	full="$work/full"
	db="$full/a.db"
else
	db="$work/a.db"
fi
"$MESHCAD" --config /dev/null --kubeconfig "$KUBECONFIG" --db "$db" \
    --identity a --metrics-listen 127.0.0.1:0 \
    --metrics-port-file "$work/a.port" --log-format text \
    --lease-duration 3s --renew-deadline 2s --retry-period 500ms \
    >>"$work/a.log" 2>&1 &
pid=$!
pids="$pids $pid"
wait_for 10 test -s "$work/a.port" || { echo "meshcad did not start"; exit 99; }
if wait_for 30 converged ns1; then
	ok start
else
	bad start "ns1 not converged"
	finish
fi

# ---- 1. ENOSPC --------------------------------------------------------
if [ -n "$full" ]; then
	# an empty WAL, so that the next write needs new blocks (else
	# sqlite reuses the WAL's room and the disk is not full for it)
	command -v sqlite3 >/dev/null 2>&1 &&
	    sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null 2>&1
	dd if=/dev/zero of="$full/fill" bs=4k 2>/dev/null
	make_sas ns2 20
	if wait_for 15 log_has "$db.*disk full"; then
		ok enospc_logged
	else
		bad enospc_logged "no 'disk full' line naming $db"
	fi
	cpu_mark a
	sleep 4
	pct=$(cpu_pct a)
	echo "# CPU while the disk is full: $pct % (4 s)"
	cpu_ok enospc_no_busy_loop "$pct" 5
	if kill -0 "$pid" 2>/dev/null && healthy &&
	    [ "$(http_code /readyz)" = 200 ]; then
		ok enospc_serving
	else
		bad enospc_serving "dead, or /healthz or /readyz not 200"
	fi
	n=$(metric a meshca_ledger_errors_total)
	if [ "${n%%.*}" -ge 1 ] 2>/dev/null; then
		xok enospc_ledger_errors_metric
	else
		xcheck enospc_ledger_errors_metric \
		    "meshca_ledger_errors_total is $n"
	fi
	# nothing published that the ledger lacks (it is read while full)
	if secrets_in_ledger; then
		ok enospc_nothing_unrecorded
	else
		bad enospc_nothing_unrecorded \
		    "Secrets with serials not in the ledger: $(head -n 3 "$work/missing")"
	fi
	echo "# ns2 Secrets while the disk was full: $(kubectl -n ns2 get \
	    secrets --no-headers 2>/dev/null | wc -l) of 21"
	rm -f "$full/fill"
	t0=$(date +%s)
	if wait_for 45 converged ns1 ns2; then
		dt=$(($(date +%s) - t0))
		echo "# converged $dt s after space was freed"
		ok enospc_recovers
		if [ "$dt" -le 10 ]; then
			xok enospc_recovers_fast
		else
			xcheck enospc_recovers_fast "$dt s (want <= 10 s)"
		fi
	else
		bad enospc_recovers "not converged 45 s after space was freed"
	fi
	if secrets_in_ledger && out=$(all_valid ns1 ns2); then
		ok enospc_after_valid
	else
		bad enospc_after_valid "$(head -n 3 "$work/missing") ${out:-}"
	fi
else
	echo "[  SKIPPED ] enospc: cannot mount a tmpfs here"
	make_sas ns2 20
	wait_for 30 converged ns1 ns2
fi

# ---- 2. EMFILE in the controller --------------------------------------
nfd=$(metric a process_open_fds)
lim0=$(prlimit --pid "$pid" --nofile --noheadings --raw -o SOFT)
hard=$(prlimit --pid "$pid" --nofile --noheadings --raw -o HARD)
nsec=$(kubectl get secrets -A -l app.kubernetes.io/managed-by=meshca \
    --no-headers | wc -l)
cpu_mark a
prlimit --pid "$pid" --nofile=8:"$hard"
# every pooled connection goes: each reconnect needs a descriptor
emu_admin /_emulator/reset '{"count":100000}' >/dev/null
emu_admin /_emulator/close-watches '{"abrupt":true}' >/dev/null
sleep 2
emu_admin /_emulator/clear-faults >/dev/null
make_sas ns3 10
if wait_for 5 log_has "file descriptors: .*RLIMIT_NOFILE"; then
	ok emfile_logged
else
	bad emfile_logged "no 'file descriptors' warning ($nfd open, limit 8)"
fi
sleep 3
if kill -0 "$pid" 2>/dev/null && [ "$(kubectl get secrets -A \
    -l app.kubernetes.io/managed-by=meshca --no-headers | wc -l)" -ge "$nsec" ]
then
	ok emfile_keeps_work
else
	bad emfile_keeps_work "meshcad died or Secrets went"
fi
prlimit --pid "$pid" --nofile="$lim0":"$hard"
pct=$(cpu_pct a)
echo "# CPU with no descriptor to spare: $pct % ($nfd open before)"
cpu_ok emfile_no_busy_loop "$pct" 10
t0=$(date +%s)
if wait_for 30 converged ns1 ns2 ns3 && wait_for 5 healthy; then
	echo "# converged $(($(date +%s) - t0)) s after the limit was raised"
	ok emfile_recovers
else
	bad emfile_recovers "not converged 30 s after the limit was raised"
fi
if wait_for 5 log_has "file descriptors: .* enough again"; then
	ok emfile_logged_end
else
	bad emfile_logged_end "no 'enough again' line"
fi

# ---- 3. a connection storm at the metrics endpoint past the limit -----
# No descriptor to spare, so that the very first accept fails: there
# libmicrohttpd 0.9.75 retried at once, forever ("busy waiting for system
# resources"), a core at 100 % and two log lines each time.
port=$(cat "$work/a.port")
sleep 1.2 # process_open_fds without the last scrape's connection
nfd=$(metric a process_open_fds)
cpu_mark a
prlimit --pid "$pid" --nofile="$nfd":"$hard"
"$PY" - "$port" 80 6 >"$work/storm.out" 2>&1 <<'EOF' &
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
held = []
for i in range(n):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), 0.2))
    except OSError:
        pass
print(len(held), "connections held")
time.sleep(hold)
EOF
storm=$!
wait "$storm"
prlimit --pid "$pid" --nofile="$lim0":"$hard"
pct=$(cpu_pct a)
echo "# CPU during the storm: $pct % ($(cat "$work/storm.out"))"
cpu_ok storm_no_busy_loop "$pct" 10
if kill -0 "$pid" 2>/dev/null && wait_for 10 healthy &&
    [ "$(http_code /readyz)" = 200 ] &&
    metrics a | grep -q '^meshca_ready 1$'; then
	ok storm_serves_after
else
	bad storm_serves_after "dead, or the endpoint does not answer"
fi
if log_has "cannot accept connections: Too many open files" &&
    log_has "accepting connections again"; then
	ok storm_logged
else
	bad storm_logged "no accept warning and recovery line"
fi
n=$(grep -c "component=http" "$work/a.log")
if [ "$n" -le 40 ]; then
	ok storm_log_bounded
else
	bad storm_log_bounded "$n lines from the HTTP server"
fi

# a clean stop after all that
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if ! kill -0 "$pid" 2>/dev/null && wait "$pid"; then
	ok clean_stop
else
	bad clean_stop "no exit 0 after SIGTERM"
fi
# ---- 4. too few descriptors from the start ----------------------------
# With ulimit -n 12 (9 free slots) the metrics endpoint starts but the
# ledger cannot be opened (sqlite's WAL finds no descriptor); 24 was
# enough for this cluster. meshcad must say why, not spin, and start the controller soon
# after the limit is raised (its retry starts at a second).
rm -f "$work/b.port"
_t0=$(now_ms) _c0=0 # b's CPU from its start
# Descriptors the test inherited (a CI runner's, a shell's) count against
# the limit, and dash cannot close one above 9: the limit is raised past
# each, so meshcad has the same 9 free slots wherever it runs.
fd_floor() {
	ls -l /proc/self/fd | awk -v want=9 '
	    $(NF - 1) == "->" && $NF !~ /^\/proc\/[0-9]+\/fd$/ { used[$(NF - 2)] = 1 }
	    END { for (fd = 0; want > 0; fd++) if (!(fd in used)) want--; print fd }'
}
(ulimit -S -n "$(fd_floor)" && exec "$MESHCAD" --config /dev/null \
    --kubeconfig "$KUBECONFIG" --db "$work/b.db" --identity b \
    --metrics-listen 127.0.0.1:0 --metrics-port-file "$work/b.port" \
    --log-format text --lease-duration 3s --renew-deadline 2s \
    --retry-period 500ms) >>"$work/b.log" 2>&1 &
bpid=$!
pids="$pids $bpid"
blog() {
	grep -q "$1" "$work/b.log"
}
if wait_for 10 test -s "$work/b.port" &&
    wait_for 5 blog "file descriptors: .*RLIMIT_NOFILE"; then
	ok fd_floor_logged
else
	bad fd_floor_logged "no start, or no 'file descriptors' warning"
fi
sleep 3 # a few controller retries
prlimit --pid "$bpid" --nofile="$lim0":"$hard"
pct=$(cpu_pct b)
echo "# 9 free descriptors: $(grep -c 'controller not available' \
    "$work/b.log") 'controller not available' line(s), CPU $pct % (from its start)"
if [ "$pct" -le 10 ] && kill -0 "$bpid" 2>/dev/null; then
	ok fd_floor_no_busy_loop
else
	bad fd_floor_no_busy_loop "$pct % CPU, or dead"
fi
b_ready() {
	[ "$(readyz b)" = 200 ]
}
t0=$(date +%s)
if wait_for 20 b_ready && wait_for 20 converged ns1 ns2 ns3 &&
    blog "controller started: .*([1-9][0-9]* failed tries before)"; then
	echo "# ready $(($(date +%s) - t0)) s after the limit was raised"
	ok fd_floor_recovers
else
	bad fd_floor_recovers "not ready 20 s after the limit was raised"
fi
# one warning; a changed reason is an info line, and about three tries
# in three seconds can change it at most three times
if [ "$(grep -c 'controller not available' "$work/b.log")" -eq 1 ] &&
    [ "$(grep -c 'controller still not available' "$work/b.log")" -le 3 ]; then
	ok fd_floor_logged_once
else
	bad fd_floor_logged_once "$(grep -c 'controller \(still \)*not available' \
	    "$work/b.log") lines"
fi
# the ledger's error names the system's reason, not only sqlite's
if grep -q 'controller not available.*(Too many open files)' \
    "$work/b.log"; then
	ok fd_floor_names_emfile
else
	bad fd_floor_names_emfile "$(grep -m 1 'controller not available' \
	    "$work/b.log")"
fi
kill -TERM "$bpid"

# (an --enable-sanitizers build reports into the logs)
if cat "$work/a.log" "$work/b.log" |
    grep -q "ERROR: [A-Za-z]*Sanitizer\|runtime error:"; then
	bad no_sanitizer_report "$(cat "$work/a.log" "$work/b.log" |
	    grep -m 3 "Sanitizer\|runtime error:")"
else
	ok no_sanitizer_report
fi
finish
