#!/usr/bin/python3
"""bench.py: meshcad's benchmarks against the Kubernetes API emulator
(run by bench/bench_meshcad.sh; see there for the figures and knobs).

  1. floor (a): a bare client (http.client, 8 keep-alive connections)
     creates N Secrets of the size meshcad writes in a second, empty
     emulator; floor (b): N / ca.mint_rate of `bench/bench_mint --quick`
     (meshca's in-process mint, ledger CPU included). floor = max(a, b).
  2. N ServiceAccounts are loaded into the emulator the same way, across
     N/1000 namespaces; meshcad (one replica, empty ledger) is started
     cold and the clock runs until the emulator holds one Secret per
     managed account (its /_emulator/stats object count; a labelled
     list then confirms it, off the clock); a random sample of SAMPLE
     Secrets is then checked in full (meshca verify --id, key against
     leaf, annotation).
  3. peak RSS (VmHWM), idle CPU over IDLE_SECONDS, then 10% of the
     accounts deleted and the CRL's size once it lists them all.

Trusts its command line and environment. Prints "BENCH name value unit"
lines on stdout, notes as "# ..." lines; exits 1 when meshcad does not
converge or a sampled Secret is invalid (a figure is then meaningless).
"""

import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soaklib as sl  # noqa: E402


def bench(name, value, unit):
    print("BENCH %s %.4g %s" % (name, value, unit), flush=True)


def main():
    srcdir = os.environ["top_srcdir"]
    builddir = os.environ["top_builddir"]
    quick = "--quick" in sys.argv[1:]
    n = int(os.environ.get("BENCH_ACCOUNTS", "300" if quick else "10000"))
    idle = float(os.environ.get("IDLE_SECONDS", "3" if quick else "60"))
    sample = int(os.environ.get("SAMPLE", "20" if quick else "200"))
    per_ns = 1000 if n >= 1000 else max(1, n // 3)
    work = os.environ["WORK"]
    sl.install_traps()
    # What meshcad writes: a P-256 leaf and root as PEM, a PKCS#8 key.
    cert = b"-----BEGIN CERTIFICATE-----\n" + b"A" * 780 + \
        b"\n-----END CERTIFICATE-----\n"
    key = b"-----BEGIN PRIVATE KEY-----\n" + b"B" * 324 + \
        b"\n-----END PRIVATE KEY-----\n"

    # 1a. bare client floor, in an emulator of its own
    # --gc-delay 3600: the emulator runs a garbage-collector pass over
    # the whole namespace, under its store lock, for every object created
    # with an ownerReference (tests/emulator/kube-apiserver-emulator,
    # Store.create -> _gc_schedule(ns, "collect")): quadratic at 10,000
    # Secrets, it would measure the emulator, not meshcad. Nothing here
    # needs the collector (meshcad deletes its Secrets itself).
    gc = ["--gc-delay", "3600"]
    emu0 = sl.Emulator(srcdir, os.path.join(work, "floor"), 600, gc)
    emu0.call("POST", "/api/v1/namespaces", {"metadata": {"name": "floor"}})

    def mk_secret(i):
        emu0.call("POST", "/api/v1/namespaces/floor/secrets", {
            "metadata": {"name": "istio.sa-%d" % i,
                         "ownerReferences": [{
                             "apiVersion": "v1", "kind": "ServiceAccount",
                             "name": "sa-%d" % i,
                             "uid": "00000000-0000-4000-8000-%012d" % i}],
                         "labels": {"app.kubernetes.io/managed-by":
                                    "meshca"},
                         "annotations": {"istio.io/service-account.name":
                                         "sa-%d" % i}},
            "type": "istio.io/key-and-cert",
            "data": {"cert-chain.pem": sl.b64(cert),
                     "key.pem": sl.b64(key),
                     "root-cert.pem": sl.b64(cert)}})
    t0 = time.monotonic()
    errs = sl.parallel(8, range(n), mk_secret)
    floor_a = time.monotonic() - t0
    emu0.stop()
    if errs:
        raise SystemExit("floor: %d creates failed" % errs)
    sl.log("floor (a): %d Secret creates over 8 connections: %.2f s"
           % (n, floor_a))

    # 1b. in-process mint
    out = subprocess.run([os.path.join(builddir, "bench/bench_mint"),
                          "--quick"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=True).stdout
    m = re.search(rb"^BENCH ca.mint_rate ([0-9.e+]+) ", out, re.M)
    if m is None:
        raise SystemExit("bench_mint printed no ca.mint_rate")
    floor_b = n / float(m.group(1))
    sl.log("floor (b): %d leaves at bench_mint's ca.mint_rate %s/s: "
           "%.2f s" % (n, m.group(1).decode(), floor_b))
    floor = max(floor_a, floor_b)

    # 2. load the accounts, then meshcad cold
    emu = sl.Emulator(srcdir, work, 900,
                      ["--history-window", str(4 * n + 1000)] + gc)
    emu.call("POST", "/api/v1/namespaces", {"metadata": {"name": sl.CANS}})
    nss = ["bench%d" % i for i in range((n + per_ns - 1) // per_ns)]
    for ns in nss:
        emu.call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})

    def mk_sa(i):
        emu.call("POST", "/api/v1/namespaces/%s/serviceaccounts" %
                 nss[i // per_ns], {"metadata": {"name": "sa-%d" % i}})
    t0 = time.monotonic()
    if sl.parallel(8, range(n), mk_sa):
        raise SystemExit("loading the accounts failed")
    sl.log("loaded %d accounts in %d namespaces: %.2f s" %
           (n, len(nss), time.monotonic() - t0))
    excluded = ("kube-system", "kube-public", "kube-node-lease")
    sas = [(s["metadata"]["namespace"], s["metadata"]["name"])
           for s in emu.list("/api/v1/serviceaccounts")
           if s["metadata"]["namespace"] not in excluded]
    base = emu.stats()["objects"].get("secrets", 0)
    target = base + len(sas) + 1  # + the CA Secret meshca-ca

    r = sl.Replica(builddir, work, "a", emu.kubeconfig,
                   ["--log-level", "warn"])
    t0 = time.monotonic()
    pid = r.proc.pid
    peak_rss = 0
    done = None
    limit = max(300.0, 40 * floor)
    while time.monotonic() - t0 < limit:
        if not r.alive():
            raise SystemExit("meshcad exited %d during the reconcile"
                             % r.proc.returncode)
        peak_rss = max(peak_rss, sl.proc_status(pid)["VmHWM"])
        if emu.stats()["objects"].get("secrets", 0) >= target:
            # the clock stops at the count; the labelled list that
            # confirms it (10,000 Secrets, tens of MB of JSON from the
            # emulator) is not meshcad's time
            at = time.monotonic() - t0
            secs = [s for s in emu.list("/api/v1/secrets", sl.LABEL)
                    if s["metadata"]["name"].startswith(sl.PREFIX)]
            if len(secs) >= len(sas):
                done = at
                break
        time.sleep(0.1)
    if done is None:
        raise SystemExit("meshcad did not converge in %.0f s (%d of %d)"
                         % (limit, emu.stats()["objects"].get("secrets"),
                            target))
    sl.log("meshcad reconciled %d accounts in %.2f s (floor %.2f s)"
           % (len(sas), done, floor))
    tenk = n == 10000
    bench("meshcad.reconcile_10k_vs_floor" if tenk else
          "meshcad.reconcile_vs_floor", done / floor, "ratio")
    bench("meshcad.reconcile_seconds", done, "s")

    # every account has exactly one Secret; a sample is checked in full
    have = {(s["metadata"]["namespace"], s["metadata"]["name"][6:]): s
            for s in secs}
    missing = [a for a in sas if a not in have]
    if missing:
        raise SystemExit("accounts without a Secret: %s" % missing[:5])
    bundle = emu.call("GET", "/api/v1/namespaces/%s/configmaps/"
                      "meshca-ca-bundle" % sl.CANS)["data"][
                          "root-cert.pem"].encode()
    chk = sl.SecretChecker(builddir, work)
    bad = 0
    for a in random.sample(sas, min(sample, len(sas))):
        why, _ = chk.check(have[a], a[0], a[1], bundle)
        if why:
            sl.log("%s/%s: %s" % (a[0], a[1], why))
            bad += 1
    if bad:
        raise SystemExit("%d sampled Secrets invalid" % bad)
    sl.log("%d sampled Secrets valid" % min(sample, len(sas)))

    # 3. idle CPU, then a tenth of the accounts deleted
    time.sleep(3)
    c0, w0 = sl.proc_cpu_s(pid), time.monotonic()
    time.sleep(idle)
    cpu = (sl.proc_cpu_s(pid) - c0) / (time.monotonic() - w0) * 100
    bench("meshcad.idle_cpu_pct", cpu, "pct")
    peak_rss = max(peak_rss, sl.proc_status(pid)["VmHWM"])

    gone = sas[:: 10]
    sl.parallel(8, gone, lambda a: emu.call(
        "DELETE", "/api/v1/namespaces/%s/serviceaccounts/%s" % a))
    t0 = time.monotonic()
    crl = b""
    want = len(gone)
    while time.monotonic() - t0 < max(60.0, 10 * floor):
        cm = emu.call("GET", "/api/v1/namespaces/%s/configmaps/"
                      "meshca-ca-bundle" % sl.CANS)
        crl = cm["data"].get("crl.pem", "").encode()
        got = sl.crl_serials(crl, bundle)
        if got is not None and len(got) >= want:
            break
        time.sleep(0.5)
    else:
        raise SystemExit("the CRL lists %s of %d deleted accounts"
                         % (len(got) if got else 0, want))
    sl.log("%d accounts deleted: CRL lists %d serials after %.2f s"
           % (want, len(got), time.monotonic() - t0))
    bench("meshcad.crl_bytes_10k" if tenk else "meshcad.crl_bytes",
          len(crl), "bytes")
    peak_rss = max(peak_rss, sl.proc_status(pid)["VmHWM"])
    bench("meshcad.rss_mib", peak_rss / 1024.0, "mib")
    sl.kill_all()


if __name__ == "__main__":
    try:
        main()
    finally:
        sl.kill_all()
