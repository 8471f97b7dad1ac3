#!/usr/bin/env python3
"""loadgen.py STATE_DIR [THREADS] [CREATES_PER_THREAD]: measures how many
Secret creates per second a running kube-apiserver-emulator answers over
THREADS keep-alive HTTPS connections (http.client, one per thread).

It reads the address, CA and admin token from STATE_DIR, creates a fresh
namespace, and prints one line:
    creates/s: N (THREADS threads x M creates, S s, errors E)
Standard library only; used by hand and by the conformance test.
"""

import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse


def connect(state_dir):
    with open(os.path.join(state_dir, "address")) as fp:
        url = urllib.parse.urlsplit(fp.read().strip())
    with open(os.path.join(state_dir, "token")) as fp:
        token = fp.read().strip()
    ctx = ssl.create_default_context(cafile=os.path.join(state_dir,
                                                         "ca.crt"))
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=ctx,
                                       timeout=30)
    hdrs = {"Authorization": "Bearer " + token,
            "Content-Type": "application/json"}
    return conn, hdrs


def run(state_dir, threads=8, per_thread=500):
    conn, hdrs = connect(state_dir)
    ns = "load-%d" % int(time.time() * 1000)
    conn.request("POST", "/api/v1/namespaces",
                 json.dumps({"metadata": {"name": ns}}), hdrs)
    r = conn.getresponse()
    r.read()
    if r.status != 201:
        raise SystemExit("namespace create: HTTP %d" % r.status)
    errors = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def worker(n):
        c, h = connect(state_dir)
        c.connect()
        barrier.wait()
        bad = 0
        for i in range(per_thread):
            body = json.dumps({"metadata": {"name": "s-%d-%d" % (n, i),
                                            "labels": {"load": "yes"}},
                               "data": {"k": "dmFsdWU="}})
            c.request("POST", "/api/v1/namespaces/%s/secrets" % ns, body, h)
            resp = c.getresponse()
            resp.read()
            if resp.status != 201:
                bad += 1
        c.close()
        with lock:
            errors[0] += bad

    ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.monotonic()
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    total = threads * per_thread
    rate = total / dt
    print("creates/s: %.0f (%d threads x %d creates, %.2f s, errors %d)"
          % (rate, threads, per_thread, dt, errors[0]))
    return rate, errors[0]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: loadgen.py STATE_DIR [THREADS] [CREATES_PER_THREAD]")
    run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 8,
        int(sys.argv[3]) if len(sys.argv) > 3 else 500)
