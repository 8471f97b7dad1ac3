#!/bin/sh
# gen.sh: regenerates the trust bundle corpus in good/ and bad/ with the
# openssl command and python3 (for the JSON and the deliberate damage).
# Run from this directory: sh gen.sh. Keys are thrown away; only
# certificates are kept. Expected results are in tests/spiffe/test_bundle.c.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf good bad
mkdir good bad

ca() {	# ca NAME KEYALG... : a self-signed CA certificate in $tmp/NAME.pem
	name=$1; shift
	openssl req -x509 -new -nodes -days 36500 -subj "/O=example.org/CN=$name" \
	    -keyout "$tmp/$name.key" -out "$tmp/$name.pem" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -addext "subjectAltName=URI:spiffe://example.org" "$@" 2>/dev/null
}
ca ec-root -newkey ec -pkeyopt ec_paramgen_curve:P-256
ca rsa-root -newkey rsa:2048
ca ed-root -newkey ed25519
openssl req -x509 -new -nodes -days 36500 -subj "/CN=not-a-ca" \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$tmp/leaf.key" \
    -out "$tmp/leaf.pem" -addext "basicConstraints=critical,CA:FALSE" 2>/dev/null
for n in ec-root rsa-root ed-root leaf; do
	openssl x509 -in "$tmp/$n.pem" -outform DER -out "$tmp/$n.der"
	openssl pkey -in "$tmp/$n.key" -pubout -outform DER -out "$tmp/$n.spki"
done
openssl rsa -in "$tmp/rsa-root.key" -noout -modulus 2>/dev/null |
    sed 's/Modulus=//' >"$tmp/rsa-root.n"

cp "$tmp/ec-root.pem" good/ec-root.pem
cat "$tmp/ec-root.pem" "$tmp/rsa-root.pem" "$tmp/ed-root.pem" >good/three-roots.pem
openssl x509 -in "$tmp/rsa-root.pem" -text >good/with-text.pem
printf '\r\n\t \r\n' >good/blank-before.pem
cat "$tmp/ec-root.pem" >>good/blank-before.pem

head -c 400 "$tmp/ec-root.pem" >bad/truncated.pem
sed '$d' "$tmp/ec-root.pem" >bad/no-end-line.pem
sed '3s/./*/; 4s/./!/' "$tmp/ec-root.pem" >bad/bad-base64.pem
cp "$tmp/leaf.pem" bad/non-ca.pem
cat "$tmp/ec-root.pem" "$tmp/leaf.pem" >bad/root-then-non-ca.pem
openssl pkey -in "$tmp/ec-root.key" -pubout >bad/public-key.pem
head -c 3000 /dev/urandom >bad/garbage.bin
: >bad/empty.pem
printf 'no certificates here\n' >bad/text-only.pem

TMP=$tmp python3 - <<'PY'
import base64, json, os
t = os.environ["TMP"]
def rd(n): return open(os.path.join(t, n), "rb").read()
def b64(b): return base64.b64encode(b).decode()
def u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def ec(n):
    pt = rd(n + ".spki")[-65:]
    return {"kty": "EC", "crv": "P-256", "x": u(pt[1:33]), "y": u(pt[33:])}
def rsa(n):
    m = bytes.fromhex(open(os.path.join(t, n + ".n")).read().strip())
    return {"kty": "RSA", "n": u(m.lstrip(b"\0")), "e": "AQAB"}
def ed(n): return {"kty": "OKP", "crv": "Ed25519", "x": u(rd(n + ".spki")[-32:])}
def key(params, der, **kw):
    k = dict(params); k["use"] = "x509-svid"; k["x5c"] = [b64(der)]; k.update(kw)
    return k
def w(path, doc, raw=None):
    with open(path, "w") as f:
        f.write(raw if raw is not None else json.dumps(doc, indent=2) + "\n")
ecr, rsar, edr, leaf = rd("ec-root.der"), rd("rsa-root.der"), rd("ed-root.der"), rd("leaf.der")
ECK = key(ec("ec-root"), ecr)
w("good/ec.json", {"spiffe_sequence": 7, "spiffe_refresh_hint": 300, "keys": [ECK]})
w("good/mixed.json", {"spiffe_sequence": 1, "keys": [
    key(rsa("rsa-root"), rsar), ECK, key(ed("ed-root"), edr),
    {"kty": "EC", "use": "jwt-svid", "kid": "k1", "crv": "P-256", "x": ECK["x"], "y": ECK["y"]},
    {"kty": "EC", "use": "some-future-svid", "x5c": ["!!"]},
    {"kty": "PQC", "use": "x509-svid", "x5c": ["not base64 at all"]}]})
w("good/params-absent.json", {"keys": [{"kty": "EC", "use": "x509-svid", "x5c": [b64(ecr)]}]})
w("good/empty-keys.json", {"keys": []})
w("good/extra-members.json", {"keys": [ECK], "vendor_extension": {"a": [1, 2]}})
w("bad/keys-missing.json", {"spiffe_sequence": 1})
w("bad/keys-not-array.json", {"keys": {"0": ECK}})
w("bad/keys-element-not-object.json", {"keys": ["x509-svid"]})
w("bad/not-object.json", [ECK])
w("bad/x5c-two-certs.json", {"keys": [key(ec("ec-root"), ecr, x5c=[b64(ecr), b64(rsar)])]})
w("bad/x5c-empty.json", {"keys": [key(ec("ec-root"), ecr, x5c=[])]})
w("bad/x5c-missing.json", {"keys": [ec("ec-root") | {"use": "x509-svid"}]})
w("bad/x5c-base64url.json", {"keys": [key(ec("ec-root"), ecr, x5c=[u(ecr)])]})
w("bad/x5c-bad-base64.json", {"keys": [key(ec("ec-root"), ecr, x5c=["MIIB*AAA"])]})
w("bad/x5c-not-der.json", {"keys": [key(ec("ec-root"), ecr, x5c=[b64(b"hello, world")])]})
w("bad/x5c-trailing-bytes.json", {"keys": [key(ec("ec-root"), ecr, x5c=[b64(ecr + b"\0")])]})
w("bad/x5c-non-ca.json", {"keys": [key(ec("leaf"), leaf)]})
w("bad/kty-mismatch.json", {"keys": [key(rsa("rsa-root"), ecr)]})
w("bad/param-mismatch.json", {"keys": [key(dict(ec("ec-root"), x=ec("leaf")["x"]), ecr)]})
w("bad/use-missing.json", {"keys": [{"kty": "EC", "x5c": [b64(ecr)]}]})
w("bad/sequence-negative.json", {"spiffe_sequence": -1, "keys": []})
w("bad/sequence-string.json", {"spiffe_sequence": "1", "keys": []})
w("bad/refresh-hint-float.json", {"spiffe_refresh_hint": 1.5, "keys": []})
w("bad/sequence-huge.json", None, '{"spiffe_sequence": 18446744073709551616, "keys": []}\n')
w("bad/duplicate-keys.json", None, '{"keys": [], "keys": []}\n')
w("bad/deep-nested.json", None, '{"keys": [], "x": ' + "[" * 5000 + "]" * 5000 + "}\n")
w("bad/truncated.json", None, json.dumps({"keys": [ECK]})[:120])
w("bad/trailing-garbage.json", None, '{"keys": []} {"keys": []}\n')
w("bad/nul-byte.json", None, '{"keys": [], "x": "a\\u0000b"}\x00\n')
PY
