#!/bin/sh
# mkpki.sh DIR: builds the test PKI for the meshca(1) contract tests in
# DIR with the openssl(1) command line (an implementation independent of
# libmeshca-verify and of tests/helpers/pki.c). Every key is EC P-256.
#
# CAs and most leaves carry fixed validity periods so that --at cases are
# deterministic:
#   CAs     2020-01-01 .. 2049-12-31
#   leaves  2025-01-01 .. 2040-01-01   (expired.pem: 2020-01-01 .. 2021-01-01)
# CRLs are made at run time (thisUpdate now, nextUpdate now + 30 days).
#
# Files (chains are leaf first):
#   root.pem             example.org root          other-root.pem  another root
#   int.pem              intermediate under root
#   good.pem             spiffe://example.org/ns/a/sa/b + int
#   good-full.pem        good.pem + root           good-leaf.pem   leaf only
#   direct.pem           leaf signed by the root (no intermediate)
#   expired.pem wrongtd.pem calf.pem twouri.pem nouri.pem tdonly.pem
#   eku-server.pem kucertsign.pem kunoncrit.pem revoked.pem  (+ int)
#   other.pem            leaf under other-root
#   root.crl int.crl crls.pem (both)   int-revokes-int.crl
#   bundle.json          SPIFFE bundle of example.org (needs python3)
#   garbage.pem empty.pem truncated.pem badb64.pem big.pem many.pem
#   der.pem keyonly.pem crl-as-chain.pem nul.pem
#   bundle-garbage.pem bundle-leaf.pem bundle-bad.json bundle-empty.json
#   crl-garbage.pem
set -eu

dir=$1
OPENSSL=${OPENSSL:-openssl}
mkdir -p "$dir"
cd "$dir"

CA_START=20200101000000Z
CA_END=20491231235959Z
LEAF_START=20250101000000Z
LEAF_END=20400101000000Z

key() {
	"$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>/dev/null
}

# cadb NAME: an openssl ca(1) database and config for CA NAME.
cadb() {
	mkdir -p "db-$1/new"
	: >"db-$1/index.txt"
	echo 1000 >"db-$1/crlnumber"
	echo 01 >"db-$1/serial"
	cat >"db-$1/ca.cnf" <<EOF
[ ca ]
default_ca = this
[ this ]
dir = db-$1
database = \$dir/index.txt
new_certs_dir = \$dir/new
crlnumber = \$dir/crlnumber
serial = \$dir/serial
certificate = $1.pem
private_key = $1.key
default_md = sha256
default_crl_days = 30
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
EOF
}

# sign ISSUER NAME CN START END EXTFILE: certificate NAME.pem for key
# NAME.key, signed by ISSUER (self-signed when ISSUER is NAME).
sign() {
	issuer=$1 name=$2 cn=$3 start=$4 end=$5 ext=$6
	[ -f "$name.key" ] || key "$name.key"
	"$OPENSSL" req -new -key "$name.key" -subj "/CN=$cn" \
	    -out "$name.csr" 2>/dev/null
	if [ "$issuer" = "$name" ]; then
		cadb "$name"
		set -- -selfsign -keyfile "$name.key"
	else
		set --
	fi
	"$OPENSSL" ca -batch -notext -rand_serial \
	    -config "db-$issuer/ca.cnf" -cert "$issuer.pem" \
	    -keyfile "$issuer.key" "$@" -in "$name.csr" -out "$name.pem" \
	    -startdate "$start" -enddate "$end" \
	    -extfile "$ext" -extensions ext 2>/dev/null
}

ext_ca() {
	cat >"ext-$1.cnf" <<EOF
[ ext ]
basicConstraints = critical,CA:true$2
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = URI:spiffe://$3
EOF
}

# ext_leaf NAME SAN [KU [EKU [BC]]]
ext_leaf() {
	cat >"ext-$1.cnf" <<EOF
[ ext ]
basicConstraints = ${5:-critical,CA:false}
keyUsage = ${3:-critical,digitalSignature}
extendedKeyUsage = ${4:-serverAuth,clientAuth}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $2
EOF
}

# leaf NAME SAN [KU [EKU [BC]]]: NAME.pem signed by int, valid
# 2025..2040; chain NAME.pem = leaf + int, the bare leaf in NAME.crt.
leaf() {
	name=$1 san=$2
	shift 2
	ext_leaf "$name" "$san" "$@"
	sign int "$name" "$name" $LEAF_START $LEAF_END "ext-$name.cnf"
	mv "$name.pem" "$name.crt"
	cat "$name.crt" int.pem >"$name.pem"
}

ext_ca root "" example.org
sign root root "example.org root" $CA_START $CA_END ext-root.cnf
ext_ca int ",pathlen:0" example.org
sign root int "example.org intermediate" $CA_START $CA_END ext-int.cnf
cadb int
ext_ca other-root "" example.org
sign other-root other-root "impostor root" $CA_START $CA_END \
    ext-other-root.cnf

leaf good URI:spiffe://example.org/ns/a/sa/b
cp good.crt good-leaf.pem
cat good.pem root.pem >good-full.pem

ext_leaf direct URI:spiffe://example.org/ns/a/sa/direct
sign root direct direct $LEAF_START $LEAF_END ext-direct.cnf

ext_leaf expired URI:spiffe://example.org/ns/a/sa/expired
sign int expired expired 20200101000000Z 20210101000000Z ext-expired.cnf
cat int.pem >>expired.pem

leaf wrongtd URI:spiffe://other.org/ns/a/sa/b
leaf calf URI:spiffe://example.org/ns/a/sa/calf \
    critical,digitalSignature,keyCertSign serverAuth,clientAuth \
    critical,CA:true
leaf twouri "URI:spiffe://example.org/ns/a/sa/b,URI:spiffe://example.org/ns/a/sa/c"
leaf nouri DNS:b.a.svc.cluster.local
leaf tdonly URI:spiffe://example.org
leaf eku-server URI:spiffe://example.org/ns/a/sa/b \
    critical,digitalSignature serverAuth
leaf kucertsign URI:spiffe://example.org/ns/a/sa/b \
    critical,digitalSignature,keyCertSign
leaf kunoncrit URI:spiffe://example.org/ns/a/sa/b digitalSignature
leaf revoked URI:spiffe://example.org/ns/a/sa/revoked

ext_leaf other URI:spiffe://example.org/ns/a/sa/b
sign other-root other other $LEAF_START $LEAF_END ext-other.cnf

# CRLs: the root's lists nothing, the intermediate's lists revoked.pem.
"$OPENSSL" ca -batch -config db-root/ca.cnf -gencrl -out root.crl 2>/dev/null
"$OPENSSL" ca -batch -config db-int/ca.cnf -revoke revoked.crt \
    -crl_reason keyCompromise 2>/dev/null
"$OPENSSL" ca -batch -config db-int/ca.cnf -gencrl -out int.crl 2>/dev/null
cat root.crl int.crl >crls.pem
"$OPENSSL" ca -batch -config db-root/ca.cnf -revoke int.pem \
    -crl_reason cACompromise 2>/dev/null
"$OPENSSL" ca -batch -config db-root/ca.cnf -gencrl \
    -out root-revokes-int.crl 2>/dev/null
cat root-revokes-int.crl int.crl >crls-int-revoked.pem

# Hostile files.
printf 'this is not a certificate\n\001\002\377\n' >garbage.pem
: >empty.pem
head -c 300 good.pem >truncated.pem
{
	echo '-----BEGIN CERTIFICATE-----'
	echo 'MIIB!!!!not*base64***'
	echo '-----END CERTIFICATE-----'
} >badb64.pem
# 1 MiB of PEM-looking padding before a real chain: over the ceiling.
awk 'BEGIN { for (i = 0; i < 22000; i++) print "# padding padding padding padding padding padding" }' \
    >big.pem
cat good.pem >>big.pem
# 17 certificates: one more than MESHCA_CHAIN_CERTS_MAX.
: >many.pem
i=0
while [ $i -lt 16 ]; do
	cat int.pem >>many.pem
	i=$((i + 1))
done
cat good.crt many.pem >many.tmp && mv many.tmp many.pem
"$OPENSSL" x509 -in good.crt -outform DER -out der.pem
cp good.key keyonly.pem
cp root.crl crl-as-chain.pem
# A NUL byte inside the base64 of the leaf.
sed '2s/^\(....\)/\1@/' good.pem | tr '@' '\000' >nul.pem
printf '{"keys": [' >bundle-bad.json
printf '{"keys": []}\n' >bundle-empty.json
cp garbage.pem bundle-garbage.pem
cp good-leaf.pem bundle-leaf.pem
printf -- '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n' \
    >crl-garbage.pem

# SPIFFE bundle (SPIFFE_Trust_Domain_and_Bundle.md 4): one x509-svid JWK
# for the root, with its EC public key and the certificate in x5c.
if command -v "${PYTHON3:-python3}" >/dev/null 2>&1; then
	"$OPENSSL" x509 -in root.pem -outform DER -out root.der
	"$OPENSSL" pkey -in root.key -pubout -outform DER -out root.pub.der \
	    2>/dev/null
	"${PYTHON3:-python3}" - <<'EOF'
import base64, json
der = open("root.der", "rb").read()
pub = open("root.pub.der", "rb").read()
point = pub[-65:]        # uncompressed P-256 point: 04 || x || y
assert point[0] == 4
b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
doc = {"spiffe_sequence": 1, "spiffe_refresh_hint": 300, "keys": [{
    "use": "x509-svid", "kty": "EC", "crv": "P-256",
    "x": b64u(point[1:33]), "y": b64u(point[33:]),
    "x5c": [base64.b64encode(der).decode()]}]}
open("bundle.json", "w").write(json.dumps(doc, indent=2) + "\n")
EOF
fi
rm -f ./*.csr
