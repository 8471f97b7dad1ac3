#!/usr/bin/env python3
"""Fidelity test: real clients against kube-apiserver-emulator.

Drives the emulator with the machine's /usr/bin/kubectl (the Google Cloud
SDK dispatcher, which picks kubectl.1.N by the /version the emulator
reports) and with python3-kubernetes (Debian's package, importable only by
/usr/bin/python3), and checks what they see: discovery with short names,
protobuf creates, list, watch with bookmarks, 410 after compaction, 409 on
a stale update, Lease create/PUT, client-side retries of 429.  kubectl gets
a fresh HOME so its discovery cache starts empty.  A client that is not
installed is skipped; with neither, the test exits 77 (skip)."""

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emutest import Emu, check, expect, run_tests  # noqa: E402

KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")
SDK_BIN = os.path.dirname(os.path.realpath(KUBECTL)) \
    if os.path.exists(KUBECTL) else ""
EMU = None
C = None
HOME = None


def kubectl_minor():
    """The client's minor version (Debian's kubernetes-client is 1.20)."""
    try:
        p = subprocess.run([KUBECTL, "version", "--client", "-o", "json"],
                           capture_output=True, text=True, timeout=30)
        return int(json.loads(p.stdout)["clientVersion"]["minor"].rstrip("+"))
    except (OSError, ValueError, KeyError, subprocess.SubprocessError):
        return 0


# kubectl before 1.27 validates "create -f" against the OpenAPI v2 document
# in protobuf, which the emulator does not serve (it offers the minimal v3
# that newer kubectl uses); those clients get --validate=false.
KUBECTL_MINOR = kubectl_minor() if os.path.exists(KUBECTL) else 0
VALIDATES_V3 = KUBECTL_MINOR >= 27

try:
    import kubernetes
    from kubernetes import client as kclient, config as kconfig
    from kubernetes import watch as kwatch
    from kubernetes.client.rest import ApiException
    HAVE_PY = True
except ImportError:
    HAVE_PY = False


def kubectl(*args, kubeconfig=None, binary=None, timeout=30, ok=True):
    cmd = [binary or KUBECTL, "--kubeconfig",
           kubeconfig or os.path.join(EMU.dir, "kubeconfig")] + list(args)
    env = dict(os.environ, HOME=HOME)
    env.pop("KUBECONFIG", None)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if ok and p.returncode != 0:
        raise AssertionError("%s: exit %d: %s" % (" ".join(args),
                                                  p.returncode, p.stderr))
    return p


# --- kubectl ----------------------------------------------------------------

def test_kubectl_create_namespace_and_sa():
    p = kubectl("create", "namespace", "fid")
    check("namespace/fid created" in p.stdout, "create namespace", p.stdout)
    r = expect(C.get("/api/v1/namespaces/fid"), 200, "namespace stored")
    check(r.json["status"]["phase"] == "Active", "phase")
    p = kubectl("-n", "fid", "create", "serviceaccount", "web")
    check("serviceaccount/web created" in p.stdout, "create sa", p.stdout)
    expect(C.get("/api/v1/namespaces/fid/serviceaccounts/web"), 200, "sa")
    p = kubectl("-n", "fid", "create", "serviceaccount", "web", ok=False)
    check(p.returncode != 0 and "AlreadyExists" in p.stderr or
          "already exists" in p.stderr, "409 shown by kubectl", p.stderr)
    log = EMU.read("requests.log")
    check("POST /api/v1/namespaces/fid/serviceaccounts" in log,
          "kubectl POSTed the serviceaccount")


def test_kubectl_get_sa_all_namespaces():
    p = kubectl("get", "sa", "-A")
    rows = [ln.split() for ln in p.stdout.splitlines()]
    check(rows[0][:2] == ["NAMESPACE", "NAME"], "header", p.stdout)
    check(["fid", "web"] in [r[:2] for r in rows] and
          ["kube-system", "default"] in [r[:2] for r in rows],
          "service accounts listed", p.stdout)
    p = kubectl("get", "serviceaccounts", "-n", "fid", "-o", "name")
    check(sorted(p.stdout.split()) == ["serviceaccount/default",
                                       "serviceaccount/web"], "-o name",
          p.stdout)


def test_kubectl_secrets_json_and_delete():
    kubectl("-n", "fid", "create", "secret", "generic", "gen",
            "--from-literal=user=admin")
    kubectl("-n", "fid", "create", "secret", "tls", "tls",
            "--cert=" + os.path.join(EMU.dir, "server.crt"),
            "--key=" + os.path.join(EMU.dir, "server.key"))
    kubectl("-n", "fid", "create", "configmap", "cm", "--from-literal=a=b")
    p = kubectl("get", "secrets", "-A", "-o", "json")
    lst = json.loads(p.stdout)
    by = {(i["metadata"]["namespace"], i["metadata"]["name"]): i
          for i in lst["items"]}
    check(by[("fid", "gen")]["data"] == {"user": "YWRtaW4="} and
          by[("fid", "gen")]["type"] == "Opaque", "generic secret", by)
    check(by[("fid", "tls")]["type"] == "kubernetes.io/tls" and
          set(by[("fid", "tls")]["data"]) == {"tls.crt", "tls.key"},
          "tls secret")
    cm = C.get("/api/v1/namespaces/fid/configmaps/cm").json
    check(cm["data"] == {"a": "b"}, "configmap from protobuf", cm)
    p = kubectl("-n", "fid", "delete", "secret", "gen")
    check('secret "gen" deleted' in p.stdout, "delete output", p.stdout)
    expect(C.get("/api/v1/namespaces/fid/secrets/gen"), 404, "deleted")
    p = kubectl("-n", "fid", "delete", "secret", "nosuch", ok=False)
    check(p.returncode != 0 and 'secrets "nosuch" not found' in p.stderr,
          "NotFound message", p.stderr)


def test_kubectl_get_lease():
    body = {"metadata": {"name": "meshca-leader"}, "spec": {
        "holderIdentity": "pod-a", "leaseDurationSeconds": 15,
        "renewTime": "2026-11-26T14:20:33.680643Z"}}
    expect(C.post("/apis/coordination.k8s.io/v1/namespaces/fid/leases",
                  body), 201, "lease")
    p = kubectl("get", "lease", "-A")
    check("meshca-leader" in p.stdout and "fid" in p.stdout, "lease listed",
          p.stdout)
    p = kubectl("-n", "fid", "get", "lease", "meshca-leader", "-o", "json")
    check(json.loads(p.stdout)["spec"]["holderIdentity"] == "pod-a",
          "lease json")


def test_kubectl_watch():
    env = dict(os.environ, HOME=HOME)
    proc = subprocess.Popen(
        [KUBECTL, "--kubeconfig", os.path.join(EMU.dir, "kubeconfig"),
         "-n", "fid", "get", "secrets", "-w", "--request-timeout=20s",
         "-o", "name"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    lines = []

    def reader():
        for ln in proc.stdout:
            lines.append(ln.strip())
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 15
        while "secret/tls" not in lines and time.monotonic() < deadline:
            time.sleep(0.05)
        check("secret/tls" in lines, "initial list", lines)
        # wait until the watch request is open, then make a change
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            st = C.request("GET", "/_emulator/stats").json
            if st["watches_open"] >= 1:
                break
            time.sleep(0.05)
        check(st["watches_open"] >= 1, "kubectl opened a watch", st)
        expect(C.post("/api/v1/namespaces/fid/secrets",
                      {"metadata": {"name": "watched"}}), 201, "create")
        deadline = time.monotonic() + 10
        while "secret/watched" not in lines and time.monotonic() < deadline:
            time.sleep(0.05)
        check("secret/watched" in lines, "kubectl saw the watch event",
              lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_kubectl_create_file_validate_and_patch():
    path = os.path.join(HOME, "cm.json")
    with open(path, "w") as fp:
        json.dump({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "fromfile", "namespace": "fid"},
                   "data": {"k": "v"}}, fp)
    novalidate = () if VALIDATES_V3 else ("--validate=false",)
    p = kubectl("create", "-f", path, *novalidate)
    check("configmap/fromfile created" in p.stdout, "create -f", p.stdout)
    check(not VALIDATES_V3 or "GET /openapi/v3" in EMU.read("requests.log"),
          "kubectl validated with openapi v3")
    kubectl("-n", "fid", "label", "configmap", "fromfile", "tier=x")
    kubectl("-n", "fid", "annotate", "configmap", "fromfile", "note=y")
    kubectl("-n", "fid", "patch", "configmap", "fromfile", "--type",
            "merge", "-p", '{"data":{"k":"w"}}')
    cm = C.get("/api/v1/namespaces/fid/configmaps/fromfile").json
    check(cm["metadata"]["labels"] == {"tier": "x"} and
          cm["metadata"]["annotations"] == {"note": "y"} and
          cm["data"] == {"k": "w"}, "label/annotate/patch", cm)
    p = kubectl("apply", "-f", path, *novalidate)
    check("configured" in p.stdout, "apply", p.stdout)


def test_kubectl_forbidden_and_retries():
    rk = os.path.join(EMU.dir, "restricted-kubeconfig")
    p = kubectl("get", "secrets", "-A", kubeconfig=rk, ok=False)
    check(p.returncode != 0 and 'cannot list resource "secrets" in API group'
          ' "" at the cluster scope' in p.stderr, "403 shown", p.stderr)
    p = kubectl("get", "secrets", kubeconfig=rk)
    expect(C.admin("faults", {"status": 429, "count": 2, "retry_after": 1,
                              "path_contains": "/namespaces/fid/secrets"}),
           200, "inject 429")
    t0 = time.monotonic()
    p = kubectl("-n", "fid", "get", "secrets", "-o", "name")
    check("secret/tls" in p.stdout and time.monotonic() - t0 >= 1.5,
          "kubectl retried two 429s", p.stdout)
    expect(C.admin("faults", {"status": 503, "count": 2, "retry_after": 1,
                              "path_contains": "/namespaces/fid/secrets"}),
           200, "inject 503")
    p = kubectl("-n", "fid", "get", "secrets", "-o", "name")
    check("secret/tls" in p.stdout, "kubectl retried two 503s")
    C.admin("clear-faults")


def test_kubectl_minor_versions():
    """Other kubectl minors the dispatcher may pick: 1.33 (protobuf) and
    1.27 (JSON), run directly."""
    ran = 0
    for minor in ("33", "27"):
        b = os.path.join(SDK_BIN, "kubectl.1." + minor)
        if not os.path.exists(b):
            continue
        name = "v" + minor
        p = kubectl("-n", "fid", "create", "serviceaccount", name, binary=b)
        check("serviceaccount/%s created" % name in p.stdout, b, p.stderr)
        expect(C.get("/api/v1/namespaces/fid/serviceaccounts/" + name), 200,
               name)
        ran += 1
    dispatcher = SDK_BIN and any(n.startswith("kubectl.1.")
                                 for n in os.listdir(SDK_BIN))
    check(ran >= 1 or not dispatcher, "at least one other kubectl minor")


# --- python3-kubernetes ------------------------------------------------------

def py_api():
    cfg = kclient.Configuration()
    kconfig.load_kube_config(config_file=os.path.join(EMU.dir, "kubeconfig"),
                             client_configuration=cfg)
    api = kclient.ApiClient(cfg)
    return kclient.CoreV1Api(api), kclient.CoordinationV1Api(api)


def test_python_list():
    v1, _ = py_api()
    v1.create_namespace(kclient.V1Namespace(
        metadata=kclient.V1ObjectMeta(name="py")))
    for name, t, labels in (("a", "kubernetes.io/tls", {"app": "ca"}),
                            ("b", "Opaque", {"app": "ca"}),
                            ("c", "kubernetes.io/tls", {"app": "web"})):
        data = {"tls.crt": "Yw==", "tls.key": "aw=="}
        v1.create_namespaced_secret("py", kclient.V1Secret(
            metadata=kclient.V1ObjectMeta(name=name, labels=labels),
            type=t, data=data))
    lst = v1.list_namespaced_secret(
        "py", label_selector="app=ca", field_selector="type=kubernetes.io/tls")
    check([s.metadata.name for s in lst.items] == ["a"], "both selectors",
          [s.metadata.name for s in lst.items])
    check(lst.metadata.resource_version.isdigit(), "list RV")
    sas = v1.list_service_account_for_all_namespaces()
    check(("py", "default") in [(s.metadata.namespace, s.metadata.name)
                                for s in sas.items], "SAs across namespaces")
    page = v1.list_namespaced_secret("py", limit=2)
    check(len(page.items) == 2 and page.metadata._continue, "limit")
    rest = v1.list_namespaced_secret("py", limit=2,
                                     _continue=page.metadata._continue)
    check([s.metadata.name for s in rest.items] == ["c"] and
          not rest.metadata._continue, "continue")


def test_python_watch_bookmarks():
    v1, _ = py_api()
    rv = v1.list_secret_for_all_namespaces(
        label_selector="app=w").metadata.resource_version
    v1.create_namespaced_secret("py", kclient.V1Secret(
        metadata=kclient.V1ObjectMeta(name="w1", labels={"app": "w"})))
    v1.patch_namespaced_secret("w1", "py", {"metadata": {"annotations": {
        "a": "b"}}})
    v1.delete_namespaced_secret("w1", "py")
    seen = []
    w = kwatch.Watch()
    for ev in w.stream(v1.list_secret_for_all_namespaces,
                       label_selector="app=w", resource_version=rv,
                       allow_watch_bookmarks=True, timeout_seconds=2):
        seen.append(ev["type"])
    check(seen[:3] == ["ADDED", "MODIFIED", "DELETED"] and
          "BOOKMARK" in seen, "events and bookmarks", seen)


def test_python_410_after_compaction():
    v1, _ = py_api()
    old = v1.list_namespaced_secret("py").metadata.resource_version
    v1.create_namespaced_secret("py", kclient.V1Secret(
        metadata=kclient.V1ObjectMeta(name="later")))
    expect(C.admin("compact"), 200, "compact")
    try:
        for ev in kwatch.Watch().stream(v1.list_secret_for_all_namespaces,
                                        resource_version=old,
                                        timeout_seconds=2):
            pass
        raise AssertionError("no ApiException(410)")
    except ApiException as e:
        check(e.status == 410 and "too old resource version" in str(e),
              "ApiException(410)", str(e))
    expect(C.admin("compact", query="?mode=http"), 200, "compact http")
    try:
        v1.list_secret_for_all_namespaces(watch=True, resource_version=old,
                                          timeout_seconds=1,
                                          _preload_content=False)
        raise AssertionError("no HTTP 410")
    except ApiException as e:
        check(e.status == 410, "HTTP 410", e.status)
    C.admin("compact")


def test_python_stale_update_409():
    v1, _ = py_api()
    s = v1.create_namespaced_secret("py", kclient.V1Secret(
        metadata=kclient.V1ObjectMeta(name="stale"), string_data={"k": "1"}))
    check(s.data == {"k": "MQ=="} and s.string_data is None, "stringData")
    s.data = {"k": "Mg=="}
    v1.replace_namespaced_secret("stale", "py", s)
    try:
        v1.replace_namespaced_secret("stale", "py", s)
        raise AssertionError("no 409")
    except ApiException as e:
        check(e.status == 409 and "Conflict" in e.body, "409 Conflict",
              e.body)
    try:
        v1.patch_namespaced_secret("stale", "py",
                                   {"type": "kubernetes.io/tls"})
        raise AssertionError("no 422")
    except ApiException as e:
        check(e.status == 422 and "field is immutable" in e.body, "422",
              e.body)


def test_python_lease():
    _, coord = py_api()
    now = datetime.datetime.now(datetime.timezone.utc).replace(
        microsecond=636720)
    lease = kclient.V1Lease(metadata=kclient.V1ObjectMeta(name="leader"),
                            spec=kclient.V1LeaseSpec(
                                holder_identity="pod-a",
                                lease_duration_seconds=15,
                                acquire_time=now, renew_time=now,
                                lease_transitions=0))
    got = coord.create_namespaced_lease("py", lease)
    check(got.spec.holder_identity == "pod-a" and
          got.spec.renew_time.microsecond == 636720, "lease create")
    raw = C.get("/apis/coordination.k8s.io/v1/namespaces/py/leases/leader")
    check(raw.json["spec"]["renewTime"].endswith(".636720Z"),
          "MicroTime stored with 6 digits, Z", raw.json)
    got.spec.renew_time = now + datetime.timedelta(seconds=2, microseconds=1)
    new = coord.replace_namespaced_lease("leader", "py", got)
    check(new.metadata.resource_version != got.metadata.resource_version,
          "PUT with RV")
    try:
        coord.replace_namespaced_lease("leader", "py", got)
        raise AssertionError("no 409")
    except ApiException as e:
        check(e.status == 409, "stale lease PUT 409", e.status)
    # The Python client drops a zero fraction; the server rejects that.
    zero = kclient.V1Lease(metadata=kclient.V1ObjectMeta(name="zero"),
                           spec=kclient.V1LeaseSpec(
                               renew_time=now.replace(microsecond=0)))
    try:
        coord.create_namespaced_lease("py", zero)
        raise AssertionError("no 400")
    except ApiException as e:
        check(e.status == 400 and "parsing time" in e.body, "400 MicroTime",
              e.body)


def main():
    global EMU, C, HOME
    have_kubectl = os.access(KUBECTL, os.X_OK)
    tests = []
    for n, f in globals().items():
        if n.startswith("test_kubectl") and have_kubectl or \
                n.startswith("test_python") and HAVE_PY:
            tests.append((n, f))
    if not have_kubectl:
        print("SKIP: %s not found: kubectl tests skipped" % KUBECTL)
    if not HAVE_PY:
        print("SKIP: python3-kubernetes not importable by %s: "
              "apt-get install python3-kubernetes" % sys.executable)
    if not tests:
        return 77
    if HAVE_PY:
        print("python3-kubernetes %s" % kubernetes.__version__)
    HOME = tempfile.mkdtemp(prefix="emu-kubectl-home-")
    EMU = Emu("--gc-delay", "0.3", "--bookmark-interval", "0.5")

    def on_signal(signum, frame):
        EMU.stop()
        shutil.rmtree(HOME, ignore_errors=True)
        sys.exit(1)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        C = EMU.client()
        rc = run_tests("emulator fidelity", tests)
    finally:
        EMU.stop()
        shutil.rmtree(HOME, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
