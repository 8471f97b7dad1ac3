"""emutest: what the emulator's test scripts share.

Starting and stopping a kube-apiserver-emulator on 127.0.0.1 (port 0, a
fresh state directory, --exit-after as a safety net), a small HTTPS client
on http.client + ssl, a line reader for watch streams, and a test runner
that prints cmocka-style summary lines, which tests/summary.sh counts:
    [  PASSED  ] N test(s).
    [  FAILED  ] N test(s), listed below:
Standard library only; runs under /usr/bin/python3.
"""

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.environ.get("EMULATOR") or \
    os.path.join(HERE, "kube-apiserver-emulator")
PYTHON = os.environ.get("PYTHON3") or "/usr/bin/python3"
if PYTHON in ("no", ""):
    PYTHON = "/usr/bin/python3"


class Emu:
    """One emulator process with its own state directory."""

    def __init__(self, *extra, exit_after=120):
        self.dir = tempfile.mkdtemp(prefix="emu-test-")
        self.log = os.path.join(self.dir, "requests.log")
        self.proc = subprocess.Popen(
            [PYTHON, EMULATOR, "--listen", "127.0.0.1:0", "--state-dir",
             self.dir, "--exit-after", str(exit_after), "--log", self.log]
            + list(extra),
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "stderr"), "w"))
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(self.dir, "ready")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = open(os.path.join(self.dir, "stderr")).read()
                self.stop()
                raise RuntimeError("emulator did not start: " + err)
            time.sleep(0.02)
        self.url = self.read("address").strip()
        u = urllib.parse.urlsplit(self.url)
        self.host, self.port = u.hostname, u.port
        self.token = self.read("token").strip()
        self.restricted_token = self.read("restricted-token").strip()
        self.ctx = ssl.create_default_context(
            cafile=os.path.join(self.dir, "ca.crt"))

    def read(self, name):
        with open(os.path.join(self.dir, name)) as fp:
            return fp.read()

    def client(self, token=None, timeout=10):
        return Client(self, self.token if token is None else token, timeout)

    def stop(self, keep=False):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Client:
    """One keep-alive HTTPS connection."""

    def __init__(self, emu, token, timeout=10):
        self.emu = emu
        self.token = token
        self.timeout = timeout
        self.conn = None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(
                self.emu.host, self.emu.port, context=self.emu.ctx,
                timeout=self.timeout)
        return self.conn

    def request(self, method, path, body=None, ctype="application/json",
                headers=None):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            if ctype:
                h["Content-Type"] = ctype
        h.update(headers or {})
        c = self._conn()
        try:
            c.request(method, path, body, h)
            r = c.getresponse()
            data = r.read()
        except Exception:
            self.close()
            raise
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        return Resp(r.status, r, data)

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def patch(self, path, body, ctype="application/merge-patch+json"):
        return self.request("PATCH", path, body, ctype)

    def delete(self, path, body=None):
        return self.request("DELETE", path, body)

    def admin(self, what, body=None, query=""):
        return self.request("POST", "/_emulator/" + what + query,
                            body if body is not None else {})

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Watch:
    """A watch stream on its own connection; events are parsed lines."""

    def __init__(self, emu, path, token=None, timeout=10):
        self.conn = http.client.HTTPSConnection(emu.host, emu.port,
                                                context=emu.ctx,
                                                timeout=timeout)
        self.conn.request("GET", path, headers={
            "Authorization": "Bearer " + (token or emu.token)})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.chunked = self.resp.chunked
        self.eof = False
        self.buf = b""

    def _chunk(self):
        """Reads one chunk off the socket.  http.client would report a
        stream cut before the last chunk as a plain end, so the framing is
        parsed here: False after the final 0-size chunk, an exception when
        the connection ends first."""
        fp = self.resp.fp
        line = fp.readline(1024)
        if not line.endswith(b"\n"):
            raise ConnectionError("watch stream cut before the last chunk")
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            while fp.readline(1024) not in (b"\r\n", b"\n"):
                pass
            return False
        data = fp.read(size)
        if len(data) != size or fp.read(2) != b"\r\n":
            raise ConnectionError("watch stream cut inside a chunk")
        self.buf += data
        return True

    def next(self):
        """The next event, or None on a clean end of stream."""
        if not self.chunked:
            line = self.resp.readline()
            if not line:
                self.eof = True
                return None
            return json.loads(line)
        while b"\n" not in self.buf:
            if self.eof or not self._chunk():
                self.eof = True
                if self.buf:
                    raise ConnectionError("partial event at end of stream")
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def collect(self, n=None, until=None):
        """Events until n are read, until(ev) is true, or EOF."""
        out = []
        while n is None or len(out) < n:
            ev = self.next()
            if ev is None:
                break
            out.append(ev)
            if until and until(ev):
                break
        return out

    def close(self):
        self.conn.close()


class Failed(Exception):
    pass


def check(cond, what, got=None):
    if not cond:
        raise Failed(what + ("" if got is None else ": got %r" % (got,)))


def expect(resp, status, what=""):
    if resp.status != status:
        raise Failed("%s: expected HTTP %d, got %r" % (what, status, resp))
    return resp


def run_tests(group, tests, setup=None, teardown=None):
    """tests: list of (name, function).  Prints cmocka-style lines."""
    print("[==========] %s: Running %d test(s)." % (group, len(tests)))
    failed = []
    passed = 0
    for name, fn in tests:
        print("[ RUN      ] %s" % name)
        sys.stdout.flush()
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print("[       OK ] %s (%.2fs)" % (name, time.monotonic() - t0))
        except Exception as e:
            failed.append(name)
            if isinstance(e, Failed):
                print("[  ERROR   ] --- %s" % e)
            else:
                traceback.print_exc(file=sys.stdout)
            print("[  FAILED  ] %s" % name)
        sys.stdout.flush()
    print("[==========] %s: %d test(s) run." % (group, len(tests)))
    print("[  PASSED  ] %d test(s)." % passed)
    if failed:
        print("[  FAILED  ] %d test(s), listed below:" % len(failed))
        for name in failed:
            print("[  FAILED  ] %s" % name)
    return 1 if failed else 0
