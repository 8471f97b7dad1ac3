#!/bin/sh
# Makes the seed CSRs of fuzz_csr (fuzz/corpus/csr/): byte 0 = 0 then a
# PEM CSR, or byte 0 = 1 then its DER. Run in an empty folder.
set -eu
id=spiffe://example.org/ns/default/sa/web
k() { openssl genpkey -algorithm "$@" 2>/dev/null; }
k EC -pkeyopt ec_paramgen_curve:P-256 -out p256.key
k EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key
k EC -pkeyopt ec_paramgen_curve:P-521 -out p521.key
k RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.key
k RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key
k ED25519 -out ed25519.key
req() { # name key extra-args...
	n=$1 key=$2
	shift 2
	openssl req -new -key "$key" -subj /O=fuzz "$@" -out "$n.pem"
	openssl req -in "$n.pem" -outform DER -out "$n.der"
	{ printf '\000'; cat "$n.pem"; } >"pem-$n"
	{ printf '\001'; cat "$n.der"; } >"der-$n"
	rm -f "$n.pem" "$n.der"
}
req p256 p256.key -addext "subjectAltName=URI:$id"
req p384 p384.key -addext "subjectAltName=URI:$id"
req p256-nosan p256.key
req rsa2048 rsa2048.key -addext "subjectAltName=URI:$id"
req rsa1024 rsa1024.key -addext "subjectAltName=URI:$id"
req p521 p521.key -addext "subjectAltName=URI:$id"
req ed25519 ed25519.key -addext "subjectAltName=URI:$id"
req other-id p256.key -addext "subjectAltName=URI:spiffe://example.org/ns/kube-system/sa/admin"
req two-uris p256.key -addext "subjectAltName=URI:$id,URI:spiffe://example.org/x"
req ca-true p256.key -addext "basicConstraints=critical,CA:TRUE" -addext "subjectAltName=URI:$id"
req keycertsign p256.key -addext "keyUsage=critical,keyCertSign" -addext "subjectAltName=URI:$id"
req dns-san p256.key -addext "subjectAltName=DNS:web.default.svc,URI:$id"
rm -f ./*.key
