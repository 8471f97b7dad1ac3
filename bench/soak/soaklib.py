"""soaklib.py: the parts bench/bench_meshcad.sh and bench/soak/soak.py
share: the Kubernetes API emulator (tests/emulator) and meshcad replicas
on 127.0.0.1 in a scratch directory, HTTP to the emulator over keep-alive
connections, /proc figures (RSS, peak RSS, CPU, open fds) and the check
of one workload Secret (meshca verify, key against leaf, SPIFFE ID).

Standard library only, run by /usr/bin/python3. It trusts its caller and
the programs it starts; everything it reads back from the emulator or
meshcad is checked, never assumed. Every process it starts is recorded
and killed by kill_all(), which the drivers call from their traps.
"""

import base64
import calendar
import hashlib
import http.client
import json
import os
import random
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse

TD = "cluster.local"
CANS = "meshca-system"
LABEL = "app.kubernetes.io/managed-by=meshca"
PREFIX = "istio."

_procs = []
_lock = threading.Lock()


def log(msg):
    print("# " + msg, flush=True)


def kill_all():
    """SIGKILL every process started here (emulator, replicas)."""
    with _lock:
        procs = list(_procs)
    for p in procs:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
    for p in procs:
        try:
            p.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass


def install_traps():
    def on_signal(signum, frame):
        kill_all()
        os._exit(128 + signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)


def spawn(argv, logpath, env=None):
    fp = open(logpath, "ab")
    p = subprocess.Popen(argv, stdout=fp, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env)
    fp.close()
    with _lock:
        _procs.append(p)
    return p


def wait_until(limit, fn, step=0.2):
    end = time.monotonic() + limit
    while True:
        if fn():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


class ApiError(Exception):
    def __init__(self, status, body):
        Exception.__init__(self, "HTTP %d: %s" % (status, body[:200]))
        self.status = status


class Emulator:
    """The emulator process and keep-alive connections to it, one per
    thread (http.client connections are not thread-safe)."""

    def __init__(self, srcdir, work, exit_after, extra=()):
        os.makedirs(work, exist_ok=True)
        self.dir = os.path.join(work, "emu")
        argv = [os.environ.get("PYTHON3", "/usr/bin/python3"),
                os.path.join(srcdir, "tests/emulator/kube-apiserver-emulator"),
                "--listen", "127.0.0.1:0", "--state-dir", self.dir,
                "--exit-after", str(int(exit_after))] + list(extra)
        self.proc = spawn(argv, os.path.join(work, "emu.log"))
        if not wait_until(30, lambda: os.path.exists(
                os.path.join(self.dir, "ready"))):
            raise SystemExit("emulator did not start; see emu.log")
        with open(os.path.join(self.dir, "address")) as fp:
            self.url = urllib.parse.urlsplit(fp.read().strip())
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.ctx = ssl.create_default_context(
            cafile=os.path.join(self.dir, "ca.crt"))
        self.local = threading.local()

    def _token(self):
        with open(os.path.join(self.dir, "token")) as fp:
            return fp.read().strip()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPSConnection(self.url.hostname,
                                            self.url.port,
                                            context=self.ctx, timeout=60)
            self.local.conn = c
            self.local.hdrs = {"Authorization": "Bearer " + self._token(),
                               "Content-Type": "application/json"}
        return c

    def raw(self, method, path, body=None, ctype=None):
        """One request; returns (status, bytes). Two retries on a dropped
        keep-alive connection (the emulator's resets are for meshcad,
        but a driver connection can meet one too)."""
        for attempt in (0, 1, 2):
            c = self._conn()
            hdrs = dict(self.local.hdrs)
            if ctype:
                hdrs["Content-Type"] = ctype
            try:
                data = None if body is None else (
                    body if isinstance(body, bytes) else
                    json.dumps(body).encode())
                c.request(method, path, data, hdrs)
                r = c.getresponse()
                out = r.read()
                return r.status, out
            except (OSError, http.client.HTTPException):
                c.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def call(self, method, path, body=None, ok=(200, 201), ctype=None):
        st, out = self.raw(method, path, body, ctype)
        if st not in ok:
            raise ApiError(st, out.decode("utf-8", "replace"))
        return json.loads(out) if out else None

    def try_call(self, method, path, body=None, ctype=None):
        """A driver's write: faults injected for meshcad may hit it too
        (they match by path); those are retried a few times, and a 404
        or 409 is returned as None (the object changed meanwhile)."""
        for _ in range(8):
            st, out = self.raw(method, path, body, ctype)
            if st in (200, 201):
                return json.loads(out)
            if st in (404, 409, 403, 422):
                return None
            time.sleep(0.2)
        return None

    def admin(self, path, body=None):
        """POST to an /_emulator/ endpoint (never subject to faults)."""
        return self.call("POST", path, {} if body is None else body)

    def stats(self):
        return self.call("GET", "/_emulator/stats")

    def list(self, path, selector=None):
        q = "?labelSelector=" + urllib.parse.quote(selector) \
            if selector else ""
        for _ in range(20):
            st, out = self.raw("GET", path + q)
            if st == 200:
                return json.loads(out)["items"]
            time.sleep(0.2)
        raise ApiError(st, out.decode("utf-8", "replace"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def parallel(n_conns, items, fn):
    """Run fn(item) for every item on n_conns threads (each with its own
    keep-alive connection). Returns the number of exceptions."""
    it = iter(items)
    lk = threading.Lock()
    errors = [0]

    def worker():
        while True:
            with lk:
                try:
                    x = next(it)
                except StopIteration:
                    return
            try:
                fn(x)
            except Exception:
                with lk:
                    errors[0] += 1
    ts = [threading.Thread(target=worker) for _ in range(n_conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors[0]


class Replica:
    """One meshcad process with its own ledger, identity and metrics
    port; restart() starts it again on the same ledger."""

    def __init__(self, builddir, work, name, kubeconfig, extra=()):
        self.argv = [os.path.join(builddir, "daemon/meshcad"),
                     "--config", "/dev/null", "--kubeconfig", kubeconfig,
                     "--db", os.path.join(work, name + ".db"),
                     "--identity", name, "--metrics-listen", "127.0.0.1:0",
                     "--metrics-port-file",
                     os.path.join(work, name + ".port"),
                     "--log-format", "text"] + list(extra)
        self.name = name
        self.work = work
        self.logpath = os.path.join(work, name + ".log")
        self.proc = None
        self.starts = 0
        self.start()

    def start(self):
        pf = os.path.join(self.work, self.name + ".port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.proc = spawn(self.argv, self.logpath)
        self.started = time.monotonic()
        self.starts += 1
        if not wait_until(15, lambda: os.path.exists(pf) or
                          self.proc.poll() is not None):
            raise SystemExit("%s: no metrics port" % self.name)
        if self.proc.poll() is not None:
            raise SystemExit("%s exited %d at start; see %s" %
                             (self.name, self.proc.returncode,
                              self.logpath))
        with open(pf) as fp:
            self.port = int(fp.read().strip())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def metrics(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
        finally:
            c.close()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
        return out

    def is_leader(self):
        try:
            return self.alive() and self.metrics().get("meshca_leader") == 1
        except OSError:
            return False


def proc_path(pid, what):
    """/proc/PID/WHAT, once /proc/PID/comm says it is meshcad: in a PID
    namespace whose /proc is not its own, /proc/PID is another process
    (a kernel thread has no VmRSS) or none. OSError when it is not."""
    try:
        with open("/proc/%d/comm" % pid) as fp:
            comm = fp.read().strip()
    except OSError as e:
        raise OSError("/proc/%d: %s" % (pid, e.strerror))
    if comm != "meshcad":
        raise OSError("/proc/%d is %r, not meshcad: this /proc is not "
                      "our PID namespace's" % (pid, comm))
    return "/proc/%d/%s" % (pid, what)


def proc_status(pid):
    """VmRSS and VmHWM in KiB."""
    out = {}
    with open(proc_path(pid, "status")) as fp:
        for line in fp:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def proc_cpu_s(pid):
    """utime + stime in seconds."""
    with open(proc_path(pid, "stat")) as fp:
        f = fp.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def proc_fds(pid):
    return len(os.listdir(proc_path(pid, "fd")))


def proc_sockets(pid):
    """How many of pid's descriptors are sockets."""
    n = 0
    for fd in os.listdir(proc_path(pid, "fd")):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(
                    "socket:"):
                n += 1
        except OSError:
            pass
    return n


def b64(s):
    return base64.b64encode(s if isinstance(s, bytes) else s.encode()
                            ).decode()


def secret_parts(sec):
    d = sec.get("data") or {}
    try:
        chain = base64.b64decode(d.get("cert-chain.pem") or
                                 d.get("tls.crt") or "")
        key = base64.b64decode(d.get("key.pem") or d.get("tls.key") or "")
        root = base64.b64decode(d.get("root-cert.pem") or
                                d.get("ca.crt") or "")
    except ValueError:
        return b"", b"", b""
    return chain, key, root


def _run(argv, data=None):
    p = subprocess.run(argv, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout, p.stderr


class SecretChecker:
    """Is a Secret a valid identity for ns/sa under bundle? `meshca
    verify --bundle BUNDLE --id ID CHAIN` (the project's verifier), the
    key's public half against the leaf's (openssl), and the annotation.
    Verdicts are cached by the hash of everything they depend on, so a
    settled fleet is re-checked cheaply."""

    def __init__(self, builddir, work):
        self.meshca = os.path.join(builddir, "cli/meshca")
        self.dir = os.path.join(work, "chk")
        os.makedirs(self.dir, exist_ok=True)
        self.cache = {}

    def check(self, sec, ns, sa, bundle):
        """Returns (None, serial) when valid, else (reason, serial)."""
        chain, key, root = secret_parts(sec)
        ann = ((sec.get("metadata") or {}).get("annotations") or {}).get(
            "istio.io/service-account.name")
        h = hashlib.sha256(b"\0".join([chain, key, bundle, ns.encode(),
                                       sa.encode(),
                                       str(ann).encode()])).hexdigest()
        if h in self.cache:
            return self.cache[h]
        res = self._check(chain, key, bundle, ns, sa, ann)
        self.cache[h] = res
        return res

    def _check(self, chain, key, bundle, ns, sa, ann):
        serial = leaf_serial(chain)
        if ann != sa:
            return "annotation %r" % ann, serial
        if not chain or not key:
            return "empty chain or key", serial
        cp = os.path.join(self.dir, "chain.pem")
        bp = os.path.join(self.dir, "bundle.pem")
        with open(cp, "wb") as fp:
            fp.write(chain)
        with open(bp, "wb") as fp:
            fp.write(bundle)
        spiffe = "spiffe://%s/ns/%s/sa/%s" % (TD, ns, sa)
        rc, out, err = _run([self.meshca, "verify", "--bundle", bp,
                             "--id", spiffe, cp])
        if rc != 0:
            return "meshca verify: %s" % err.decode().strip(), serial
        rc1, pub1, _ = _run(["openssl", "x509", "-noout", "-pubkey",
                             "-in", cp])
        rc2, pub2, _ = _run(["openssl", "pkey", "-pubout"], key)
        if rc1 or rc2 or pub1 != pub2:
            return "key does not match leaf", serial
        return None, serial


_serial_cache = {}


def leaf_full(chain):
    """(serial, notAfter, URI SAN) of the first certificate: serial in
    lowercase hex without leading zeros ("" when there is none),
    notAfter in Unix seconds (0 when unknown), the URI ("" when none)."""
    if not chain:
        return "", 0, ""
    h = hashlib.sha256(chain).hexdigest()
    if h not in _serial_cache:
        rc, out, _ = _run(["openssl", "x509", "-noout", "-serial",
                           "-enddate", "-ext", "subjectAltName"], chain)
        s, na, uri = "", 0, ""
        for line in out.decode("ascii", "replace").splitlines():
            line = line.strip()
            if line.startswith("serial="):
                s = line[7:].strip().lower().lstrip("0")
            elif line.startswith("notAfter="):
                try:
                    na = calendar.timegm(time.strptime(
                        line[9:].strip(), "%b %d %H:%M:%S %Y GMT"))
                except ValueError:
                    na = 0
            elif line.startswith("URI:"):
                uri = line[4:].split(",")[0].strip()
        _serial_cache[h] = (s, na, uri) if rc == 0 else ("", 0, "")
    return _serial_cache[h]


def leaf_info(chain):
    """(serial, notAfter) of the first certificate (see leaf_full)."""
    return leaf_full(chain)[:2]


def leaf_serial(chain):
    return leaf_info(chain)[0]


_crl_cache = {}


def crl_serials(crl_pem, bundle):
    """{serial: reason} of a CRL that verifies under bundle; None when it
    does not parse or verify."""
    h = hashlib.sha256(crl_pem + b"\0" + bundle).hexdigest()
    if h in _crl_cache:
        return _crl_cache[h]
    res = None
    bp = os.path.join("/tmp", "soak-crl-bundle-%d.pem" % os.getpid())
    with open(bp, "wb") as fp:
        fp.write(bundle)
    rc, out, err = _run(["openssl", "crl", "-noout", "-text", "-CAfile",
                         bp], crl_pem)
    os.unlink(bp)
    if rc == 0 and b"verify OK" in err + out:
        res = {}
        cur = None
        for line in out.decode().splitlines():
            t = line.strip()
            if t.startswith("Serial Number:"):
                cur = t.split(":", 1)[1].strip().lower().lstrip("0")
                res[cur] = ""
            elif cur is not None and res[cur] == "" and \
                    not t.startswith("Revocation Date") and \
                    not t.startswith("CRL entry extensions") and \
                    not t.startswith("X509v3 CRL Reason Code") and t:
                res[cur] = t
    if len(_crl_cache) > 64:
        _crl_cache.clear()
    _crl_cache[h] = res
    return res


def jitter(a, b):
    return random.uniform(a, b)
