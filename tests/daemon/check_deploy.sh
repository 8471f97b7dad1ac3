#!/bin/sh
# check_deploy.sh: the manifests under deploy/ agree with meshcad.
#  1. the meshca.conf embedded in deploy/configmap.yaml passes
#     `meshcad --check-config`;
#  2. with python3 and PyYAML (python3-yaml), the manifests parse and
#     keep their promises: 2 replicas, probes on /healthz and /readyz at
#     the port meshca.conf listens on, the restricted security context,
#     a PodDisruptionBudget, and RBAC verbs exactly as documented.
: "${top_srcdir:=.}" "${top_builddir:=.}"
deploy="$top_srcdir/deploy"
meshcad="$top_builddir/daemon/meshcad"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

# the block scalar under "meshca.conf: |", indentation removed
awk '/^  meshca.conf: \|$/ { on = 1; next }
     on && /^    / { print substr($0, 5); next }
     on && /^ *$/ { print ""; next }
     on { exit }' "$deploy/configmap.yaml" > "$tmp/meshca.conf"
[ -s "$tmp/meshca.conf" ] || { echo "configmap.yaml: no meshca.conf block"; exit 1; }
if ! "$meshcad" --config "$tmp/meshca.conf" --check-config > "$tmp/out" 2> "$tmp/err"; then
	echo "configmap.yaml: meshca.conf rejected:"; cat "$tmp/err"; exit 1
fi
port=$(sed -n 's/^metrics-listen = .*:\([0-9]*\)$/\1/p' "$tmp/out")
echo "configmap.yaml: meshca.conf OK (metrics port $port)"

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import yaml' 2>/dev/null; then
	echo "python3-yaml not found: manifest structure not checked"
	exit 0
fi
python3 - "$deploy" "$port" <<'PY' || exit 1
import glob, sys, yaml
deploy, port = sys.argv[1], int(sys.argv[2])
docs = {}
for f in sorted(glob.glob(deploy + "/*.yaml")):
    for d in yaml.safe_load_all(open(f)):
        if d:
            docs[(d["kind"], d["metadata"]["name"])] = d
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
dep = docs[("Deployment", "meshcad")]
spec = dep["spec"]["template"]["spec"]
c = spec["containers"][0]
check(dep["spec"]["replicas"] == 2, "Deployment: replicas != 2")
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
check(ports.get("metrics") == port, "Deployment: metrics port != meshca.conf's %d" % port)
check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe not /healthz")
check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe not /readyz")
psc, csc = spec["securityContext"], c["securityContext"]
check(psc.get("runAsNonRoot") is True, "runAsNonRoot")
check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation")
check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
check(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL")
check("limits" in c["resources"] and "requests" in c["resources"], "resources")
check(spec["serviceAccountName"] == "meshcad", "serviceAccountName")
pdb = docs[("PodDisruptionBudget", "meshcad")]
check(pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"],
      "PDB selector != Deployment selector")
want = {
    ("ClusterRole", "meshcad"): {
        "serviceaccounts": {"get", "list", "watch"},
        "secrets": {"get", "list", "watch", "create", "update", "patch", "delete"},
        "configmaps": {"get", "list", "watch", "create", "update", "patch"},
        "namespaces": {"get", "list", "watch"},
        "events": {"create"},
    },
    ("Role", "meshcad-leader-election"): {"leases": {"get", "create", "update"}},
}
for key, rules in want.items():
    got = {}
    for r in docs[key]["rules"]:
        for res in r["resources"]:
            got.setdefault(res, set()).update(r["verbs"])
    check(got == rules, "%s %s: rules %s, want %s" % (key + (got, rules)))
for kind in ("ClusterRoleBinding", "RoleBinding"):
    for (k, n), d in docs.items():
        if k == kind:
            s = d["subjects"][0]
            check((s["name"], s["namespace"]) == ("meshcad", "meshca-system"),
                  "%s %s: subject" % (k, n))
for (k, n), d in docs.items():
    if k not in ("ClusterRole", "ClusterRoleBinding", "Namespace"):
        check(d["metadata"].get("namespace") == "meshca-system", "%s %s: namespace" % (k, n))
for b in bad:
    print("deploy/: " + b)
if bad:
    sys.exit(1)
print("deploy/: %d objects checked" % len(docs))
PY
