#!/usr/bin/python3
"""soak.py: meshcad's churn-and-fault soak (run by bench/soak/soak.sh,
which explains the knobs).

Two meshcad replicas (own ledgers, identities and metrics ports) run
against the Kubernetes API emulator for SOAK_SECONDS. The run is a chain
of cycles: a churn phase of CHURN_SECONDS in which a driver, every few
hundred milliseconds, picks one of
  create a namespace with accounts, delete a namespace, create or delete
  an account, delete a Secret, tamper with one (garbage chain, foreign
  key, another account's data), file an operator revocation (ConfigMap
  meshca-revocations, by id= or serial=), unmanage or re-manage a
  namespace (ca.istio.io/override), SIGKILL the leader (restarted 0.2
  to 6 s later; SOAK_KILL=quiet kills only at the start of a churn
  phase, when everything has settled, and resumes once a leader is
  back), and emulator faults: 5xx, 429 with Retry-After, 409,
  connection resets, watch closes (clean and abrupt), compactions (410
  in both of the emulator's forms);
then a settle phase: faults are cleared, killed replicas are back, and
the invariant checker polls the cluster until every invariant holds, or
records a violation when SETTLE_LIMIT seconds pass:
  I1 every ServiceAccount of a managed namespace has a Secret that is a
     valid X.509-SVID for its SPIFFE ID under the published bundle
     (meshca verify --id), whose key matches its leaf, annotated with
     the account, and whose leaf is not in the CRL;
  I2 no meshca Secret for an account that is gone or unmanaged;
  I3 every serial the driver revoked is in the published CRL;
  I4 at most one live certificate per account: every serial ever seen
     for an account, other than its current one, is in the CRL (or has
     expired) -- this covers deleted accounts (cessationOfOperation),
     restored and rotated Secrets (superseded) and operator revocations;
  I5 the bundle ConfigMap of every managed namespace has the CA
     namespace's root and CRL, and the CRL verifies under the root;
  I6 at most one replica says it leads (meshca_leader);
and all along: no replica dies unless the driver killed it, and no
sanitizer report or private key appears in a replica's log. Each
replica's RSS and open fds are sampled at every settle; a process that
lived through at least FLAT_AFTER seconds of samples must stay flat
(fds +8, RSS +50% +8 MiB at most; sockets count apart: meshcad's
client keeps up to POOL idle connections to the API server, however
many it needed at its busiest, so sockets may grow by POOL + 8).

Prints figures as "# " lines and one "SOAK ..." summary; exits 1 on any
violation. Trusts its environment; what it reads from the emulator and
meshcad is checked.
"""

import base64
import json
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soaklib as sl  # noqa: E402

EXCLUDED = ("kube-system", "kube-public", "kube-node-lease")
# daemon/controller.c: CTL_MAX_INFLIGHT + 16 transfers, and libcurl keeps
# as many idle connections (k8s/http.c, CURLMOPT_MAXCONNECTS)
POOL = 80


class Soak:
    def __init__(self):
        self.srcdir = os.environ["top_srcdir"]
        self.builddir = os.environ["top_builddir"]
        self.work = os.environ["WORK"]
        self.seconds = float(os.environ.get("SOAK_SECONDS", "300"))
        self.churn = float(os.environ.get("CHURN_SECONDS", "20"))
        self.settle_limit = float(os.environ.get("SETTLE_LIMIT", "10"))
        self.flat_after = float(os.environ.get("FLAT_AFTER", "60"))
        self.max_ns = int(os.environ.get("SOAK_NAMESPACES", "6"))
        self.max_sa = int(os.environ.get("SOAK_ACCOUNTS", "12"))
        seed = int(os.environ.get("SOAK_SEED", str(int(time.time()))))
        random.seed(seed)
        sl.log("seed %d (SOAK_SEED=%d reproduces the driver's choices)"
               % (seed, seed))
        self.ops = {}
        self.faults = {}
        self.violations = []
        self.conv_ok = []       # convergence times of settles that held
        self.vkeys = set()
        self.conv = []
        self.seen = {}          # (ns, sa) -> {serial: notAfter}
        self.first_seen = {}    # serial -> when observed first
        # meshcad's --propagation-window: a leaf superseded less than
        # this long ago is not yet due for revocation
        self.window = 2.0
        self.revoked = {}       # serial -> reason wanted
        self.killed = {}        # replica name -> restart due (monotonic)
        self.samples = {}       # pid -> [(t, rss KiB, fds, name, sockets)]
        self.proc_said = False  # said why there are no samples
        self.nseq = 0
        self.chk = sl.SecretChecker(self.builddir, self.work)
        self.driver_errors = 0
        # random: SIGKILL the leader at any moment of the churn; quiet:
        # only at the start of a churn phase, when everything has
        # settled (nothing superseded awaits revocation).
        self.kill_mode = os.environ.get("SOAK_KILL", "random")
        # 0: no fault aimed at the Lease (nor at every path), so the
        # leader keeps its Lease through the churn
        self.lease_faults = os.environ.get("SOAK_LEASE_FAULTS", "1") != "0"

    # ---- bookkeeping ----------------------------------------------------

    def note(self, what):
        with open(os.path.join(self.work, "driver.log"), "a") as fp:
            fp.write("%s %s\n" % (time.strftime("%H:%M:%S",
                                                time.gmtime()), what))

    def op(self, name, what=""):
        self.ops[name] = self.ops.get(name, 0) + 1
        self.note(name + " " + what)

    def fault(self, name):
        self.faults[name] = self.faults.get(name, 0) + 1
        self.note("fault " + name)

    def violate(self, what, key=None):
        """Records a violation; one that persists (key seen before: the
        same stale serial at every settle) is counted once."""
        key = key or what
        if key in self.vkeys:
            return
        self.vkeys.add(key)
        self.violations.append(what)
        self.note("VIOLATION " + what)
        # soak.sh prints these again last, after the logs' tails, so the
        # end of a failed run's output says what failed
        with open(os.path.join(self.work, "violations.txt"), "a") as fp:
            fp.write(what + "\n")
        sl.log("VIOLATION: " + what)

    def observe(self, ns, sa, sec):
        """The leaf serial of sec, recorded as one of the account's when
        its SPIFFE ID is the account's (a Secret tampered with another
        account's data holds that account's leaf, not one of ours)."""
        chain, _, _ = sl.secret_parts(sec)
        s, na, uri = sl.leaf_full(chain)
        if s and uri == "spiffe://%s/ns/%s/sa/%s" % (sl.TD, ns, sa):
            self.seen.setdefault((ns, sa), {})[s] = na
            self.first_seen.setdefault(s, time.monotonic())
        return s

    # ---- setup ----------------------------------------------------------

    def start(self):
        self.emu = sl.Emulator(self.srcdir, self.work, self.seconds + 600,
                               ["--history-window", "3000"])
        e = self.emu
        e.call("POST", "/api/v1/namespaces", {"metadata": {"name": sl.CANS}})
        for _ in range(max(1, self.max_ns // 2)):
            self.mk_ns()
        ld, rd = os.environ.get("SOAK_LEASE", "3s,2s").split(",")
        extra = ["--lease-duration", ld, "--renew-deadline", rd,
                 "--retry-period", "500ms", "--propagation-window",
                 "%gs" % self.window,
                 "--cert-ttl", os.environ.get("SOAK_CERT_TTL", "2m"),
                 "--min-grace", "30s", "--log-level", "info"]
        self.reps = [sl.Replica(self.builddir, self.work, n,
                                e.kubeconfig, extra) for n in ("a", "b")]

    # ---- the driver's actions ------------------------------------------

    def namespaces(self):
        return [n["metadata"]["name"] for n in
                self.emu.list("/api/v1/namespaces")
                if n["metadata"]["name"].startswith("soak-") and
                not n["metadata"].get("deletionTimestamp")]

    def accounts(self, ns):
        return [s["metadata"]["name"] for s in self.emu.list(
            "/api/v1/namespaces/%s/serviceaccounts" % ns)]

    def mk_ns(self):
        self.nseq += 1
        ns = "soak-%d" % self.nseq
        if self.emu.try_call("POST", "/api/v1/namespaces",
                             {"metadata": {"name": ns}}) is None:
            return
        for i in range(random.randint(1, self.max_sa // 2)):
            self.emu.try_call("POST", "/api/v1/namespaces/%s/"
                              "serviceaccounts" % ns,
                              {"metadata": {"name": "sa-%d" % i}})
        self.op("namespace_create", ns)

    def pick_secret(self):
        nss = self.namespaces()
        if not nss:
            return None
        ns = random.choice(nss)
        secs = [s for s in self.emu.list(
            "/api/v1/namespaces/%s/secrets" % ns, sl.LABEL)
            if s["metadata"]["name"].startswith(sl.PREFIX)]
        if not secs:
            return None
        s = random.choice(secs)
        sa = s["metadata"]["name"][len(sl.PREFIX):]
        self.observe(ns, sa, s)
        return ns, sa, s, secs

    def act(self):
        e = self.emu
        nss = self.namespaces()
        choices = [
            ("namespace_create", 3 if len(nss) < self.max_ns else 0),
            ("namespace_delete", 2 if len(nss) > 1 else 0),
            ("account_create", 6), ("account_delete", 5),
            ("secret_delete", 5), ("secret_tamper", 5),
            ("revoke_request", 3), ("namespace_toggle", 1),
            ("leader_kill", 1 if not self.killed and
             self.kill_mode == "random" else 0),
            ("fault_status", 6), ("fault_429", 2), ("fault_reset", 3),
            ("fault_close_watches", 2), ("fault_compact", 2)]
        name = random.choices([c[0] for c in choices],
                              [c[1] for c in choices])[0]
        getattr(self, "do_" + name)(nss)

    def do_namespace_create(self, nss):
        self.mk_ns()

    def do_namespace_delete(self, nss):
        ns = random.choice(nss)
        for sa in self.accounts(ns):
            s = self.emu.try_call("GET", "/api/v1/namespaces/%s/secrets/"
                                  "istio.%s" % (ns, sa))
            if s is not None:
                self.observe(ns, sa, s)
        if self.emu.try_call("DELETE", "/api/v1/namespaces/" + ns) \
                is not None:
            self.op("namespace_delete", ns)

    def do_account_create(self, nss):
        if not nss:
            return
        ns = random.choice(nss)
        have = self.accounts(ns)
        if len(have) > self.max_sa:
            return
        name = "sa-%d" % random.randint(0, self.max_sa)
        if self.emu.try_call("POST", "/api/v1/namespaces/%s/"
                             "serviceaccounts" % ns,
                             {"metadata": {"name": name}}) is not None:
            self.op("account_create", ns + "/" + name)

    def do_account_delete(self, nss):
        p = self.pick_secret()
        if p is None:
            return
        ns, sa, _, _ = p
        if self.emu.try_call("DELETE", "/api/v1/namespaces/%s/"
                             "serviceaccounts/%s" % (ns, sa)) is not None:
            self.op("account_delete", ns + "/" + sa)

    def do_secret_delete(self, nss):
        p = self.pick_secret()
        if p is None:
            return
        ns, sa, s, _ = p
        if self.emu.try_call("DELETE", "/api/v1/namespaces/%s/secrets/%s"
                             % (ns, s["metadata"]["name"])) is not None:
            self.op("secret_delete", ns + "/" + sa)

    def do_secret_tamper(self, nss):
        p = self.pick_secret()
        if p is None:
            return
        ns, sa, s, secs = p
        kind = random.choice(["garbage", "key", "other"])
        if kind == "garbage":
            data = {"cert-chain.pem": sl.b64("garbage\n")}
        elif kind == "key":
            # a well-formed key of the same type that is not the leaf's
            other = [x for x in secs if x is not s]
            if not other:
                return
            data = {"key.pem": (other[0].get("data") or {}).get(
                "key.pem", sl.b64("x"))}
        else:
            other = [x for x in secs if x is not s]
            if not other:
                return
            data = dict(other[0].get("data") or {})
        if self.emu.try_call("PATCH", "/api/v1/namespaces/%s/secrets/%s"
                             % (ns, s["metadata"]["name"]),
                             {"data": data},
                             "application/merge-patch+json") is not None:
            self.op("secret_tamper_" + kind, ns + "/" + sa)

    def do_revoke_request(self, nss):
        p = self.pick_secret()
        if p is None:
            return
        ns, sa, s, _ = p
        serial = self.observe(ns, sa, s)
        if not serial:
            return
        reason = random.choice(["keyCompromise", "affiliationChanged",
                                "unspecified"])
        if random.random() < 0.5:
            entry = "id=spiffe://%s/ns/%s/sa/%s reason=%s" % (
                sl.TD, ns, sa, reason)
        else:
            # meshcad's form: 32 hex digits (128-bit serials, leading
            # zeros kept), in either case
            hx = serial.zfill(32)
            entry = "serial=%s reason=%s" % (
                hx.upper() if random.random() < 0.3 else hx, reason)
        key = "soak-%d" % random.randint(0, 1 << 30)
        path = "/api/v1/namespaces/%s/configmaps" % sl.CANS
        r = self.emu.try_call("PATCH", path + "/meshca-revocations",
                              {"data": {key: entry}},
                              "application/merge-patch+json")
        if r is None:
            r = self.emu.try_call("POST", path, {
                "metadata": {"name": "meshca-revocations"},
                "data": {key: entry}})
        if r is not None:
            # by id=, the leaf in place when the leader reads the request
            # is revoked; this one, unless meshcad replaced it meanwhile
            # (then it was superseded: I4 still wants it in the CRL).
            self.revoked[serial] = reason if entry.startswith("serial") \
                else None
            self.op("revoke_request", "%s (%s)" % (entry, serial))

    def do_namespace_toggle(self, nss):
        if not nss:
            return
        ns = random.choice(nss)
        for sa in self.accounts(ns):
            s = self.emu.try_call("GET", "/api/v1/namespaces/%s/secrets/"
                                  "istio.%s" % (ns, sa))
            if s is not None:
                self.observe(ns, sa, s)
        n = self.emu.try_call("GET", "/api/v1/namespaces/" + ns)
        if n is None:
            return
        cur = ((n["metadata"].get("labels") or {}).get(
            "ca.istio.io/override"))
        val = "true" if cur == "false" else "false"
        if self.emu.try_call("PATCH", "/api/v1/namespaces/" + ns,
                             {"metadata": {"labels": {
                                 "ca.istio.io/override": val}}},
                             "application/merge-patch+json") is not None:
            self.op("namespace_override_" + val, ns)

    def do_leader_kill(self, nss):
        for r in self.reps:
            if r.is_leader():
                r.kill9()
                # a restart within the Lease's 3 s finds its own name in
                # it and leads again at once; later, the other replica
                # has taken over
                self.killed[r.name] = time.monotonic() + random.uniform(
                    0.2, 6)
                self.op("leader_kill", "%s pid %d" % (r.name,
                                                      r.proc.pid))
                return

    def quiet_kill(self):
        """SIGKILL the leader while all is settled, and resume the churn
        only once a leader (the other replica, or the killed one
        restarted) is back: nothing changes while none leads."""
        self.do_leader_kill([])
        if not sl.wait_until(15, lambda: (self.tend_replicas() or True)
                             and any(r.is_leader() for r in self.reps)):
            self.violate("no leader 15 s after a SIGKILL of the leader")

    def do_fault_status(self, nss):
        st = random.choice([500, 503, 504, 409])
        paths = ["secrets", "configmaps", "serviceaccounts", "watch="]
        if self.lease_faults:
            paths += ["leases", ""]
        body = {"status": st, "count": random.randint(1, 6),
                "path_contains": random.choice(paths)}
        if random.random() < 0.5:
            body["method"] = random.choice(["GET", "POST", "PUT", "PATCH",
                                            "DELETE"])
        if st != 409 and random.random() < 0.3:
            body["retry_after"] = 1
        self.emu.admin("/_emulator/faults", body)
        self.fault("status_%d" % st)

    def do_fault_429(self, nss):
        body = {"status": 429, "count": random.randint(1, 6),
                "retry_after": random.randint(1, 2)}
        if not self.lease_faults:
            body["path_contains"] = random.choice(["secrets",
                                                   "serviceaccounts"])
        self.emu.admin("/_emulator/faults", body)
        self.fault("status_429")

    def do_fault_reset(self, nss):
        paths = ["secrets", "configmaps"]
        if self.lease_faults:
            paths += ["leases", ""]
        self.emu.admin("/_emulator/reset", {
            "count": random.randint(1, 4),
            "path_contains": random.choice(paths)})
        self.fault("reset")

    def do_fault_close_watches(self, nss):
        abrupt = random.random() < 0.5
        self.emu.admin("/_emulator/close-watches", {"abrupt": abrupt})
        self.fault("close_watches_abrupt" if abrupt else "close_watches")

    def do_fault_compact(self, nss):
        http = random.random() < 0.5
        self.emu.admin("/_emulator/compact" + ("?mode=http" if http
                                                else ""), {})
        self.fault("compact_410_http" if http else "compact_410_event")

    # ---- replicas -------------------------------------------------------

    def tend_replicas(self, force=False):
        now = time.monotonic()
        for r in self.reps:
            if r.name in self.killed:
                if force or now >= self.killed[r.name]:
                    del self.killed[r.name]
                    r.start()
                    self.op("replica_restart", "%s pid %d" % (
                        r.name, r.proc.pid))
            elif not r.alive():
                self.violate("replica %s died by itself (exit %s); see %s"
                             % (r.name, r.proc.returncode, r.logpath))
                r.start()

    def sample(self):
        now = time.monotonic()
        for r in self.reps:
            if r.alive():
                try:
                    st = sl.proc_status(r.proc.pid)
                    self.samples.setdefault(r.proc.pid, []).append(
                        (now, st["VmRSS"], sl.proc_fds(r.proc.pid),
                         r.name, sl.proc_sockets(r.proc.pid)))
                except (OSError, KeyError) as e:
                    if not self.proc_said:
                        self.proc_said = True
                        sl.log("no RSS and fds figures: %s" % e)

    # ---- the invariant checker -----------------------------------------

    def check(self):
        """Returns a list of what does not hold now (empty when all do)."""
        e = self.emu
        bad = []
        nsobjs = {n["metadata"]["name"]: n
                  for n in e.list("/api/v1/namespaces")}
        managed = set()
        for name, n in nsobjs.items():
            if name in EXCLUDED or n["metadata"].get("deletionTimestamp"):
                continue
            lab = n["metadata"].get("labels") or {}
            if lab.get("ca.istio.io/override") == "false":
                continue
            managed.add(name)
        sas = {(s["metadata"]["namespace"], s["metadata"]["name"])
               for s in e.list("/api/v1/serviceaccounts")}
        secs = {}
        for s in e.list("/api/v1/secrets", sl.LABEL):
            name = s["metadata"]["name"]
            if name.startswith(sl.PREFIX):
                secs[(s["metadata"]["namespace"],
                      name[len(sl.PREFIX):])] = s
        cms = {c["metadata"]["namespace"]: c for c in e.list(
            "/api/v1/configmaps") if c["metadata"]["name"] ==
            "meshca-ca-bundle"}
        ca = cms.get(sl.CANS)
        if ca is None:
            return ["no meshca-ca-bundle in %s" % sl.CANS]
        bundle = (ca.get("data") or {}).get("root-cert.pem", "").encode()
        crl_pem = (ca.get("data") or {}).get("crl.pem", "").encode()
        crl = sl.crl_serials(crl_pem, bundle)
        if crl is None:
            return ["the CRL in %s does not verify under the root"
                    % sl.CANS]
        # I5
        for ns in sorted(managed):
            c = cms.get(ns)
            d = (c or {}).get("data") or {}
            if c is None or d.get("root-cert.pem", "").encode() != bundle \
                    or d.get("crl.pem", "").encode() != crl_pem:
                bad.append("I5 %s: bundle ConfigMap missing or not the "
                           "CA namespace's" % ns)
        # I1
        current = {}
        now = time.time()
        for (ns, sa) in sorted(sas):
            if ns not in managed:
                continue
            s = secs.get((ns, sa))
            if s is None:
                bad.append("I1 %s/%s: no Secret" % (ns, sa))
                continue
            serial = self.observe(ns, sa, s)
            why, _ = self.chk.check(s, ns, sa, bundle)
            if why is None and serial in crl:
                why = "its leaf %s is revoked" % serial
            if why is None and sl.secret_parts(s)[2] != bundle:
                why = "root-cert.pem is not the published root"
            if why:
                bad.append("I1 %s/%s: %s" % (ns, sa, why))
            else:
                current[(ns, sa)] = serial
        # I2
        for (ns, sa), s in secs.items():
            self.observe(ns, sa, s)
            if ns not in managed or (ns, sa) not in sas:
                if not s["metadata"].get("deletionTimestamp"):
                    bad.append("I2 %s/%s: Secret of a gone or unmanaged "
                               "account" % (ns, sa))
        # I3
        for serial, reason in self.revoked.items():
            na = self.na_of(serial)
            if na and na < now + 5:
                continue
            # (the reason is not compared: an account deleted, or a
            # rotation, may have revoked the leaf first with its own)
            if serial not in crl:
                bad.append("I3 revoked serial %s not in the CRL" % serial)
        # I4 (a leaf replaced less than the propagation window, plus a
        # tick, ago is not yet due: meshcad(8), superseded revocation)
        mono = time.monotonic()
        for acct, ss in self.seen.items():
            cur = current.get(acct)
            if cur and mono - self.first_seen.get(cur, 0) < \
                    self.window + 1.5:
                continue
            for serial, na in ss.items():
                if serial == cur or (na and na < now + 5):
                    continue
                if serial not in crl:
                    bad.append("I4 %s/%s: serial %s live beside %s" % (
                        acct[0], acct[1], serial,
                        current.get(acct, "(none: account gone)")))
        # I6
        leaders = [r.name for r in self.reps if r.is_leader()]
        if len(leaders) != 1:
            bad.append("I6 leaders: %s" % (leaders or "none"))
        self.last = (len(sas), len(secs), len(crl))
        return bad

    def na_of(self, serial):
        for ss in self.seen.values():
            if serial in ss:
                return ss[serial]
        return 0

    def settle(self):
        self.emu.admin("/_emulator/clear-faults", {})
        self.tend_replicas(force=True)
        t0 = time.monotonic()
        while True:
            try:
                bad = self.check()
            except (sl.ApiError, OSError, ValueError, KeyError) as ex:
                bad = ["checker: %s" % ex]
            el = time.monotonic() - t0
            if not bad:
                self.conv.append(el)
                self.conv_ok.append(el)
                self.note("settled in %.1f s" % el)
                sl.log("settled in %.1f s: %d accounts, %d Secrets, CRL "
                       "of %d; ops %d, faults %d" % (
                           el, self.last[0], self.last[1], self.last[2],
                           sum(self.ops.values()),
                           sum(self.faults.values())))
                break
            if el > self.settle_limit:
                self.conv.append(el)
                for b in bad:
                    # one stale serial is one violation, whatever else
                    # changes around it later
                    self.violate("after %.0f s: %s" % (el, b),
                                 b.split(" live beside ")[0])
                self.diagnose(bad, t0)
                break
            time.sleep(0.5)
        self.sample()
        self.scan_logs()

    def diagnose(self, bad, t0):
        """After a failed settle: the replicas' log lines that name each
        serial in bad, and whether the checks come to hold late (slow)
        or not within LATE_LIMIT more seconds (stuck), written beside
        the violations (soak.sh prints them last)."""
        late = float(os.environ.get("LATE_LIMIT", "30"))
        lines = []
        for b in bad:
            for serial in re.findall(r"\b[0-9a-f]{20,32}\b", b):
                short = serial.lstrip("0")
                for r in self.reps:
                    with open(r.logpath, "rb") as fp:
                        hits = [ln.strip()[:240].decode("utf-8", "replace")
                                for ln in fp
                                if short.encode() in ln.lower()]
                    for h in hits[-8:]:
                        lines.append("  %s %s: %s" % (serial[:12], r.name,
                                                      h))
        end = time.monotonic() + late
        still = bad
        while still and time.monotonic() < end:
            time.sleep(1)
            try:
                still = self.check()
            except (sl.ApiError, OSError, ValueError, KeyError) as ex:
                still = ["checker: %s" % ex]
        el = time.monotonic() - t0
        verdict = ("held after %.0f s (slow, not stuck)" % el if not still
                   else "still failing after %.0f s: %s" % (
                       el, "; ".join(still)[:600]))
        sl.log("diagnosis: " + verdict)
        with open(os.path.join(self.work, "violations.txt"), "a") as fp:
            fp.write("  diagnosis: %s\n" % verdict)
            for ln in lines:
                fp.write(ln + "\n")

    def scan_logs(self):
        pat = re.compile(rb"AddressSanitizer|LeakSanitizer|"
                         rb"UndefinedBehaviorSanitizer|runtime error:|"
                         rb"BEGIN[ A-Z]*PRIVATE KEY")
        for r in self.reps:
            with open(r.logpath, "rb") as fp:
                for line in fp:
                    if pat.search(line):
                        self.violate("%s's log: %s" % (
                            r.name, line.strip()[:200].decode(
                                "utf-8", "replace")), "log " + r.name)
                        break

    # ---- the run --------------------------------------------------------

    def run(self):
        self.start()
        t_end = time.monotonic() + self.seconds
        first = True
        while True:
            # the first settle is the warm-up: initial mint
            if not first:
                c_end = min(time.monotonic() + self.churn, t_end)
                if self.kill_mode == "quiet" and random.random() < 0.6:
                    self.quiet_kill()
                while time.monotonic() < c_end:
                    try:
                        self.act()
                    except (sl.ApiError, OSError, ValueError) as ex:
                        self.driver_errors += 1
                        sl.log("driver: %s" % ex)
                    self.tend_replicas()
                    time.sleep(random.uniform(0.05, 0.4))
            self.settle()
            first = False
            if time.monotonic() >= t_end:
                break
        return self.report()

    def stop_replicas(self):
        """SIGTERM: meshcad(8) says exit 0 after draining; a sanitizer
        build reports leaks at that exit."""
        for r in self.reps:
            if r.alive():
                r.proc.terminate()
        for r in self.reps:
            try:
                rc = r.proc.wait(timeout=15)
            except Exception:
                r.proc.kill()
                rc = "none in 15 s"
            if rc != 0:
                self.violate("replica %s: exit %s after SIGTERM"
                             % (r.name, rc))
        self.scan_logs()

    def report(self):
        sl.log("operations: " + json.dumps(self.ops, sort_keys=True))
        sl.log("faults: " + json.dumps(self.faults, sort_keys=True))
        flat = []
        longest = None
        for pid, s in self.samples.items():
            if len(s) < 2:
                continue
            t0, r0, f0, name, s0 = s[0]
            t1, r1, f1, _, s1 = s[-1]
            sl.log("replica %s pid %d: %.0f s sampled, RSS %d -> %d KiB, "
                   "fds %d -> %d (sockets %d -> %d)" % (
                       name, pid, t1 - t0, r0, r1, f0, f1, s0, s1))
            if longest is None or t1 - t0 > longest[0]:
                longest = (t1 - t0, r0, r1, f0, f1)
            if t1 - t0 >= self.flat_after and (
                    f1 - s1 > f0 - s0 + 8 or s1 > s0 + POOL + 8 or
                    r1 > r0 * 1.5 + 8192):
                flat.append(pid)
                self.violate("replica pid %d not flat: RSS %d -> %d KiB, "
                             "fds %d -> %d" % (pid, r0, r1, f0, f1))
        if longest is None:
            longest = (0, 0, 0, 0, 0)
        try:
            m = [r.metrics() for r in self.reps if r.alive()]
        except OSError:
            m = []
        self.stop_replicas()
        restored = sum(v for mm in m for k, v in mm.items()
                       if k.startswith("meshca_secrets_restored_total"))
        sl.log("metrics of the live replicas: restored %d (since their "
               "start), issued %d, api errors %d, watch restarts %d" % (
                   restored,
                   sum(mm.get("meshca_certificates_issued_total", 0)
                       for mm in m),
                   sum(v for mm in m for k, v in mm.items()
                       if k.startswith("meshca_api_errors_total")),
                   sum(v for mm in m for k, v in mm.items()
                       if k.startswith("meshca_watch_restarts_total"))))
        # max_convergence_s: over the settles where every invariant came
        # to hold; a settle that did not is cut at SETTLE_LIMIT and is
        # counted in settles_failed (its violations are listed above)
        print("SOAK seconds=%d operations=%d faults=%d settles=%d "
              "settles_failed=%d violations=%d max_convergence_s=%.1f "
              "rss_kib=%d/%d fds=%d/%d driver_errors=%d" % (
                  self.seconds, sum(self.ops.values()),
                  sum(self.faults.values()), len(self.conv),
                  len(self.conv) - len(self.conv_ok),
                  len(self.violations), max(self.conv_ok or [0]),
                  longest[1], longest[2], longest[3], longest[4],
                  self.driver_errors), flush=True)
        return 1 if self.violations else 0


def main():
    sl.install_traps()
    try:
        rc = Soak().run()
    finally:
        sl.kill_all()
    sys.exit(rc)


if __name__ == "__main__":
    main()
