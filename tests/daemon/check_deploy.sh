#!/bin/sh
# check_deploy.sh: the manifests under deploy/ agree with meshcad.
#  1. the meshca.conf embedded in deploy/configmap.yaml passes
#     `meshcad --check-config`;
#  2. with python3 and PyYAML (python3-yaml), the manifests parse and
#     keep their promises: 2 replicas, probes on /healthz and /readyz at
#     the port meshca.conf listens on, the restricted security context,
#     a PodDisruptionBudget;
#  3. RBAC is exactly what is used, measured: meshcad runs against the
#     Kubernetes API emulator (--log records every request) on the
#     deployed meshca.conf, through every path that talks to the API
#     (first start: CA Secret and Lease created; Secrets and bundle
#     ConfigMaps created; an operator revocation request: Secret and
#     ConfigMaps updated, the request patched away; an account deleted:
#     its Secret deleted; SIGTERM: the Lease released); then
#     `meshca --kubeconfig revoke --wait` runs as an operator would. Every
#     request of each must be allowed by the rules bound to it
#     (deploy/rbac.yaml for meshcad's ServiceAccount,
#     deploy/operator-rbac.yaml for the operators' group), and every
#     granted verb, resource name and cluster-wide scope must have been
#     needed by at least one request; a rule that could be limited to one
#     object by resourceNames must be. Needs kubectl, curl and openssl
#     too (skipped without them, with a note).
: "${top_srcdir:=.}" "${top_builddir:=.}"
deploy="$top_srcdir/deploy"
meshcad="$top_builddir/daemon/meshcad"
meshca="$top_builddir/cli/meshca"
PY=${PYTHON3:-python3}
tmp=$(mktemp -d) || exit 99
pids=""
cleanup() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

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
check(("ConfigMap", "meshca-revocations") in docs,
      "ConfigMap meshca-revocations not deployed (operators would need create)")
for kind in ("ClusterRoleBinding", "RoleBinding"):
    for (k, n), d in docs.items():
        if k == kind and d["roleRef"]["name"] != "meshca-revoker":
            s = d["subjects"][0]
            check((s["kind"], s["name"], s.get("namespace")) ==
                  ("ServiceAccount", "meshcad", "meshca-system"),
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

# 3. RBAC measured against the emulator
for tool in kubectl curl openssl; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "$tool not found: RBAC not measured"
		exit 0
	fi
done
[ -x "$meshca" ] || { echo "$meshca not built"; exit 1; }
# wait_for SECONDS CMD...: CMD every 0.2 s until it succeeds
wait_for() {
	_end=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.2
	done
}
fail() {
	echo "RBAC scenario: $*"
	for f in meshcad emu cli; do
		[ -f "$tmp/$f.log" ] && tail -n 20 "$tmp/$f.log" | sed "s/^/# $f: /"
	done
	exit 1
}
"$PY" "$top_srcdir/tests/emulator/kube-apiserver-emulator" \
    --listen 127.0.0.1:0 --state-dir "$tmp/emu" --exit-after 120 \
    --log "$tmp/requests.log" >"$tmp/emu.log" 2>&1 &
pids="$pids $!"
wait_for 30 test -f "$tmp/emu/ready" || fail "the emulator did not start"
export HOME="$tmp" KUBECONFIG="$tmp/emu/kubeconfig"
# the deployed Namespace and ConfigMaps (the emulator serves no RBAC kinds)
kubectl create --validate=false -f "$deploy/namespace.yaml" \
    -f "$deploy/configmap.yaml" >/dev/null || fail "deploy/ not accepted"
kubectl create namespace app >/dev/null
kubectl -n app create serviceaccount a1 >/dev/null
kubectl -n app create serviceaccount a2 >/dev/null
"$meshcad" --config "$tmp/meshca.conf" --kubeconfig "$KUBECONFIG" \
    --db "$tmp/meshca.db" --identity rbac-check \
    --metrics-listen 127.0.0.1:0 --log-format text --lease-duration 3s \
    --renew-deadline 2s --retry-period 500ms >"$tmp/meshcad.log" 2>&1 &
mpid=$!
pids="$pids $mpid"
# (fails while there is no Secret: a pipeline's status is its last
# command's, so wait_for needs the emptiness test)
serial() {
	_s=$(kubectl -n app get secret "istio.$1" \
	    -o jsonpath='{.data.cert-chain\.pem}' 2>/dev/null | base64 -d |
	    openssl x509 -noout -serial 2>/dev/null | sed 's/serial=//' |
	    tr A-F a-f)
	[ -n "$_s" ] && echo "$_s"
}
wait_for 20 serial a1 || fail "no Secret for app/a1"
s1=$(serial a1)
kubectl -n meshca-system patch configmap meshca-revocations --type merge \
    -p '{"data":{"r1":"id=spiffe://cluster.local/ns/app/sa/a1 reason=keyCompromise"}}' \
    >/dev/null
reissued() { s=$(serial a1) && [ -n "$s" ] && [ "$s" != "$s1" ]; }
handled() {
	[ "$(kubectl -n meshca-system get configmap meshca-revocations \
	    -o jsonpath='{.data}')" = "" ] ||
	[ "$(kubectl -n meshca-system get configmap meshca-revocations \
	    -o jsonpath='{.data}')" = "{}" ]
}
wait_for 15 reissued || fail "app/a1 not re-issued after the request"
wait_for 10 handled || fail "the request was not removed"
kubectl -n app delete serviceaccount a2 >/dev/null
gone() { ! kubectl -n app get secret istio.a2; }
wait_for 15 gone || fail "Secret app/istio.a2 not deleted"
kill -TERM "$mpid"
wait "$mpid" || fail "meshcad did not exit 0 on SIGTERM"
# a watch is logged when it ends: wait for meshcad's to be
no_watch() {
	curl -sk -H "Authorization: Bearer $(cat "$tmp/emu/token")" \
	    "$(cat "$tmp/emu/address")/_emulator/stats" |
	    grep -q '"watches_open": *0[,}]'
}
wait_for 10 no_watch || fail "meshcad's watches still open"
# the emulator logs a request just after answering it: wait until the
# log stops growing (nothing else talks to it meanwhile)
settled() {
	_a=$(wc -l <"$tmp/requests.log")
	sleep 0.3
	[ "$(wc -l <"$tmp/requests.log")" = "$_a" ]
}
wait_for 10 settled || fail "the request log does not settle"
n=$(wc -l <"$tmp/requests.log")
# the operator, while no meshcad runs: this script removes the entry as
# the leader would, and the CRL already lists the serial
"$meshca" --kubeconfig "$KUBECONFIG" revoke --wait=20 "$s1" \
    >"$tmp/cli.log" 2>&1 &
cpid=$!
pids="$pids $cpid"
has_req() { kubectl -n meshca-system get configmap meshca-revocations \
    -o jsonpath='{.data}' | grep -q req-; }
wait_for 10 has_req || fail "meshca revoke filed nothing"
kubectl -n meshca-system patch configmap meshca-revocations --type merge \
    -p '{"data":null}' >/dev/null
wait "$cpid" || fail "meshca revoke --wait did not see its serial handled"
wait_for 10 settled || fail "the request log does not settle"
# meshcad's requests, then the operator's (meshca/ is both user agents;
# kubectl's and the admin curl's are left out)
awk -v n="$n" '$7 ~ /^meshca\// && $2 != 0 {
	print (NR <= n ? "meshcad" : "operator"), $3, $4, $5 }' \
    "$tmp/requests.log" >"$tmp/used"
"$PY" - "$deploy" "$tmp/used" <<'PY' || exit 1
import glob, sys, urllib.parse, yaml
deploy, used = sys.argv[1], sys.argv[2]
CA_NS = "meshca-system"
NAMELESS = {"create", "list", "watch", "deletecollection"}
docs = [d for f in sorted(glob.glob(deploy + "/*.yaml"))
        for d in yaml.safe_load_all(open(f)) if d]
roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
         for d in docs if d["kind"] in ("Role", "ClusterRole")}

def grants(subject):
    """Every (rule, verb) bound to subject: (id, ns or None, group,
    resource, verb, names or None)."""
    out = []
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(subject(s) for s in b["subjects"]):
            continue
        ns = b["metadata"].get("namespace")
        ref = b["roleRef"]
        role = roles[(ref["kind"], ns if ref["kind"] == "Role" else None,
                      ref["name"])]
        for i, r in enumerate(role["rules"]):
            for g in r["apiGroups"]:
                for res in r["resources"]:
                    for v in r["verbs"]:
                        out.append(("%s %s rule %d" % (ref["kind"],
                                    ref["name"], i + 1), ns, g, res, v,
                                    tuple(r["resourceNames"])
                                    if "resourceNames" in r else None))
    return out

def parse(method, target, verb):
    u = urllib.parse.urlsplit(target)
    p = u.path.strip("/").split("/")
    group = "" if p[0] == "api" else p[1]
    p = p[2:] if p[0] == "api" else p[3:]
    ns = name = None
    if p[0] == "namespaces" and len(p) >= 3:
        ns, p = p[1], p[2:]
    res = p[0]
    if len(p) > 1:
        name = p[1]
    return (ns, group, res, verb, name)

def allows(g, r):
    _, gns, ggroup, gres, gverb, gnames = g
    ns, group, res, verb, name = r
    if (ggroup, gres, gverb) != (group, res, verb):
        return False
    if gns is not None and gns != ns:
        return False
    if gnames is not None and (verb in NAMELESS or name not in gnames):
        return False
    return True

reqs = {"meshcad": set(), "operator": set()}
for line in open(used):
    who, method, target, verb = line.split()
    if verb in ("other", "admin", "fault", "reset"):
        continue
    reqs[who].add(parse(method, target, verb))

subjects = {
    "meshcad": lambda s: (s["kind"], s["name"], s.get("namespace")) ==
    ("ServiceAccount", "meshcad", CA_NS),
    "operator": lambda s: (s["kind"], s["name"]) == ("Group",
                                                       "meshca-operators"),
}
bad = []
for who, R in sorted(reqs.items()):
    G = grants(subjects[who])
    if not R:
        bad.append("%s: no requests recorded" % who)
        continue
    for r in sorted(R, key=str):
        if not any(allows(g, r) for g in G):
            bad.append("%s: not granted: %s %s%s%s" % (who, r[3], r[2],
                       " in " + r[0] if r[0] else " (cluster)",
                       " name " + r[4] if r[4] else ""))
    for g in G:
        hit = [r for r in R if allows(g, r)]
        what = "%s: %s: %s %s" % (who, g[0], g[4], g[3])
        if not hit:
            bad.append(what + ": granted, never used")
            continue
        for nm in g[5] or ():
            if not any(r[4] == nm for r in hit):
                bad.append(what + ": resourceName %s never used" % nm)
        if g[1] is None and all(r[0] == CA_NS for r in hit):
            bad.append(what + ": cluster-wide, used only in " + CA_NS +
                       " (a Role there)")
        if (g[5] is None and g[4] not in NAMELESS and
                all(r[0] == CA_NS for r in hit) and
                len({r[4] for r in hit}) == 1 and hit[0][4]):
            bad.append(what + ": used only on %s/%s: limit it by "
                       "resourceNames" % (hit[0][0], hit[0][4]))
    used = {}
    for r in R:
        key = (r[2], "cluster" if r[0] is None else
               ("ns " + CA_NS if r[0] == CA_NS else "namespaces"))
        used.setdefault(key, set()).add(r[3] + ("(" + r[4] + ")"
                                                 if r[4] and r[0] == CA_NS
                                                 else ""))
    for (res, where), verbs in sorted(used.items()):
        print("# %-8s %-15s %-14s %s" % (who, res, where,
                                         " ".join(sorted(verbs))))
for b in bad:
    print("deploy/ RBAC: " + b)
if bad:
    sys.exit(1)
print("deploy/ RBAC: exactly what meshcad and meshca revoke use")
PY
