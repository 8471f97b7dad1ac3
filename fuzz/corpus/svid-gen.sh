#!/bin/sh
# Makes the fixed PKI of fuzz_svid: a root (its certificate is compiled
# into fuzz/fuzz_svid.c), an intermediate and leaves, valid 2026-2126.
set -eu
o=${1:-.}
cd "$o"
cat > ext.cnf <<'E'
[root]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
subjectAltName=URI:spiffe://example.org
[inter]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=URI:spiffe://example.org
[leaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=URI:spiffe://example.org/ns/default/sa/web
[leaf2]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
subjectAltName=URI:spiffe://example.org/ns/prod/sa/db
[badleaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectAltName=URI:spiffe://example.org/ns/a/sa/b,URI:spiffe://example.org/x
E
k() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
k root.key; k inter.key; k leaf.key
openssl req -new -x509 -key root.key -subj /O=fuzz/CN=root -days 36500 \
	-extensions root -config ext.cnf -out root.pem 2>/dev/null || \
openssl req -new -x509 -key root.key -subj /O=fuzz/CN=root -days 36500 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.pem
issue() { # name key issuer-cert issuer-key section
	openssl req -new -key "$2" -subj "/O=fuzz/CN=$1" -out "$1.csr" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA "$3" -CAkey "$4" -CAcreateserial \
		-days 36500 -extfile ext.cnf -extensions "$5" -out "$1.pem" 2>/dev/null
}
issue inter inter.key root.pem root.key inter
issue leaf leaf.key inter.pem inter.key leaf
issue leaf2 leaf.key root.pem root.key leaf2
issue badleaf leaf.key inter.pem inter.key badleaf
