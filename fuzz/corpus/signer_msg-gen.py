#!/usr/bin/env python3
"""Makes the seeds of fuzz_signer_msg: signer requests and answers in
the wire form of ca/signer.c ("MCQ1"/"MCP1", big-endian u32-prefixed
fields), written independently of that code from its comment, with a
real SPKI and certificate from tests/data/spiffe/good/ec-root.pem.

usage: signer_msg-gen.py TOP_SRCDIR OUTDIR"""
import base64
import struct
import subprocess
import sys

top, out = sys.argv[1], sys.argv[2]
pem = open(top + "/tests/data/spiffe/good/ec-root.pem", "rb").read()
der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem,
                     capture_output=True, check=True).stdout
pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem,
                     capture_output=True, check=True).stdout
spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                      input=pub, capture_output=True, check=True).stdout


def field(b):
    return struct.pack(">I", len(b)) + b


def req(sid, spki, dns, nb, na, ndns=None):
    m = b"MCQ1" + field(sid) + field(spki)
    m += struct.pack(">I", len(dns) if ndns is None else ndns)
    for d in dns:
        m += field(d)
    return m + struct.pack(">qq", nb, na)


def resp(serial, clamped, nb, na, cert):
    return (b"MCP1" + b"\0" + serial + bytes([clamped]) +
            struct.pack(">qq", nb, na) + field(cert))


def err(st, reason, msg):
    return b"MCP1" + bytes([st]) + struct.pack(">I", reason) + field(msg)


ID = b"spiffe://cluster.local/ns/default/sa/web"
serial = bytes(range(0x81, 0x91))
seeds = {
    "req-good": req(ID, spki, [], 1767225600, 1767229200),
    "req-good-dns": req(ID, spki, [b"web.default.svc",
                                    b"web.default.svc.cluster.local"],
                        1767225600, 1767312000),
    "req-good-max-dns": req(ID, spki, [b"a%d.example" % i
                                        for i in range(32)], 0, 1),
    "req-good-negative-times": req(ID, spki, [], -1, -(1 << 63)),
    "req-good-empty-fields": req(b"", b"", [], 0, 0),
    "req-bad-33-dns": req(ID, spki, [b"a.example"] * 33, 0, 1),
    "req-bad-dns-254": req(ID, spki, [b"a" * 254], 0, 1),
    "req-bad-nul-in-id": req(ID + b"\0x", spki, [], 0, 1),
    "req-bad-spki-over-max": req(ID, b"\x30" * 1025, [], 0, 1),
    "req-bad-id-over-max": req(b"spiffe://a/" + b"b" * 2040, spki, [], 0, 1),
    "req-bad-truncated": req(ID, spki, [b"x.example"], 0, 1)[:-3],
    "req-bad-trailing": req(ID, spki, [], 0, 1) + b"\0",
    "req-bad-ndns-lies": req(ID, spki, [b"x.example"], 0, 1, ndns=2),
    "req-bad-version": b"MCQ2" + req(ID, spki, [], 0, 1)[4:],
    "req-bad-length-huge": b"MCQ1\xff\xff\xff\xff" + ID,
    "resp-good": resp(serial, 0, 1767225600, 1767229200, der),
    "resp-good-clamped": resp(serial, 1, 1767225600, 1767229200, der),
    "resp-good-clamped-0x80": resp(serial, 0x80, 0, 1, der),
    "resp-good-one-byte-der": resp(serial, 0, 0, 0, b"\x30"),
    "resp-bad-empty-der": resp(serial, 0, 0, 0, b""),
    "resp-bad-der-over-max": resp(serial, 0, 0, 0, b"\x30" * 65537),
    "resp-bad-truncated": resp(serial, 0, 0, 1, der)[:-1],
    "resp-bad-trailing": resp(serial, 0, 0, 1, der) + b"x",
    "resp-err-rejected": err(3, 0, b"leaf: ID outside trust domain"),
    "resp-err-nul-in-message": err(2, 7, b"before\0after"),
    "resp-err-percent-message": err(6, 0xffffffff, b"%s%n%x"),
    "resp-err-message-255": err(1, 0, b"m" * 255),
    "resp-bad-err-message-256": err(1, 0, b"m" * 256),
    "resp-bad-err-status-7": err(7, 0, b"x"),
    "resp-bad-short": b"MCP1",
    "bad-empty": b"",
}
for name, data in seeds.items():
    with open("%s/%s" % (out, name), "wb") as f:
        f.write(data)
