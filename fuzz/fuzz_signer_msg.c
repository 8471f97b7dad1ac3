/*
 * fuzz_signer_msg.c: libFuzzer target for the signer's wire messages
 * (ca/signer.c: ca_sign_req_decode, ca_sign_resp_decode), the boundary a
 * signer in its own process would read its requests and its callers
 * their answers from (ca/signer.h). Every input is offered to both
 * decoders, and each verdict is compared with an independent reading of
 * the layout documented in ca/signer.c ("MCQ1"/"MCP1", big-endian
 * u32-prefixed fields, bounds CA_SIGN_MAX_DNS, MESHCA_ID_MAX,
 * CA_SPKI_MAX, 253-byte DNS names, MC_ERR_MAX, CA_SIGN_MAX_DER). What
 * decodes is encoded again: a request gives back the same bytes, a
 * response the same bytes but for its clamped flag (any non-zero byte
 * reads as true and is written as 1), an error answer the same bytes up
 * to a NUL in its message; and what was encoded decodes to the same
 * fields. Untrusted in full: a peer process may send anything.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <meshca/id.h>

#include "ca/keygen.h"
#include "ca/signer.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/status.h"
#include "fuzz/fuzz.h"

struct rd {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static uint32_t
rd_u32(struct rd *r)
{
	uint32_t v;

	if (r->bad || r->left < 4) {
		r->bad = true;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | (uint32_t)r->p[3];
	r->p += 4;
	r->left -= 4;
	return v;
}

static void
rd_skip(struct rd *r, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = true;
		return;
	}
	r->p += n;
	r->left -= n;
}

/* A u32-prefixed field of at most max bytes (and no NUL if str). */
static void
rd_field(struct rd *r, size_t max, bool str)
{
	uint32_t n = rd_u32(r);

	if (r->bad || n > max || n > r->left ||
	    (str && memchr(r->p, '\0', n) != NULL)) {
		r->bad = true;
		return;
	}
	rd_skip(r, n);
}

static bool
req_well_formed(const uint8_t *p, size_t len)
{
	struct rd r = { p, len, false };
	uint32_t ndns, i;

	if (len < 4 || memcmp(p, "MCQ1", 4) != 0)
		return false;
	rd_skip(&r, 4);
	rd_field(&r, MESHCA_ID_MAX, true);
	rd_field(&r, CA_SPKI_MAX, false);
	ndns = rd_u32(&r);
	if (r.bad || ndns > CA_SIGN_MAX_DNS)
		return false;
	for (i = 0; i < ndns; i++)
		rd_field(&r, 253, true);
	rd_skip(&r, 16);
	return !r.bad && r.left == 0;
}

/* 1: a certificate, 2: an error answer, 0: malformed. */
static int
resp_well_formed(const uint8_t *p, size_t len)
{
	struct rd r = { p, len, false };
	uint32_t n;

	if (len < 5 || memcmp(p, "MCP1", 4) != 0)
		return 0;
	rd_skip(&r, 5);
	if (p[4] != 0) {
		rd_u32(&r);
		rd_field(&r, MC_ERR_MAX - 1, false);
		return !r.bad && r.left == 0 && p[4] <= MC_ST_INTERNAL ? 2 : 0;
	}
	rd_skip(&r, CA_SERIAL_LEN + 1 + 16);
	n = rd_u32(&r);
	if (r.bad || n == 0 || n > CA_SIGN_MAX_DER || n != r.left)
		return 0;
	return 1;
}

static void
same_req(const struct ca_sign_req *a, const struct ca_sign_req *b)
{
	size_t i;

	FUZZ_CHECK(strcmp(a->spiffe_id, b->spiffe_id) == 0, "same ID");
	FUZZ_CHECK(a->spki_len == b->spki_len &&
		memcmp(a->spki, b->spki, a->spki_len) == 0,
	    "same SPKI");
	FUZZ_CHECK(a->ndns == b->ndns, "same DNS count");
	for (i = 0; i < a->ndns; i++)
		FUZZ_CHECK(strcmp(a->dns[i], b->dns[i]) == 0, "same DNS name");
	FUZZ_CHECK(a->not_before == b->not_before &&
		a->not_after == b->not_after,
	    "same validity");
	FUZZ_CHECK(!a->key_checked && !b->key_checked,
	    "a wire key is never taken as checked");
}

static void
fuzz_req(const uint8_t *data, size_t size)
{
	struct ca_sign_req_msg m, m2;
	struct mc_buf b;
	struct mc_err e;
	size_t i;
	int rc;

	mc_err_clear(&e);
	rc = ca_sign_req_decode(data, size, &m, &e);
	if (rc == -1 && e.status == MC_ST_NOMEM)
		return;
	FUZZ_CHECK((rc == 0) == req_well_formed(data, size),
	    "request verdict as the layout reads");
	if (rc == -1) {
		FUZZ_CHECK(e.status == MC_ST_PARSE, "a parse error");
		FUZZ_CHECK(m.mem == NULL, "nothing kept on failure");
		return;
	}
	FUZZ_CHECK(m.req.ndns <= CA_SIGN_MAX_DNS, "DNS bound");
	FUZZ_CHECK(strlen(m.req.spiffe_id) <= MESHCA_ID_MAX, "ID bound");
	for (i = 0; i < m.req.ndns; i++)
		FUZZ_CHECK(strlen(m.req.dns[i]) <= 253, "DNS name bound");
	mc_buf_init(&b, size + 1);
	if (ca_sign_req_encode(&m.req, &b, &e) == -1) {
		FUZZ_CHECK(e.status == MC_ST_NOMEM, "encode fails for nomem");
		goto out;
	}
	FUZZ_CHECK(b.len == size && memcmp(b.data, data, size) == 0,
	    "request re-encodes to the same bytes");
	mc_err_clear(&e);
	if (ca_sign_req_decode((const unsigned char *)b.data, b.len, &m2, &e) ==
	    -1) {
		FUZZ_CHECK(e.status == MC_ST_NOMEM, "own encoding decodes");
		goto out;
	}
	same_req(&m.req, &m2.req);
	ca_sign_req_msg_clear(&m2);
out:
	mc_buf_free(&b);
	ca_sign_req_msg_clear(&m);
	FUZZ_CHECK(m.mem == NULL && m.req.spiffe_id == NULL, "clear zeroes");
}

static void
fuzz_resp_error(const uint8_t *data, size_t size, const struct mc_err *got)
{
	struct ca_sign_resp r2;
	struct mc_buf b;
	struct mc_err e, e2;
	uint32_t reason;
	size_t mlen;

	reason = (uint32_t)data[5] << 24 | (uint32_t)data[6] << 16 |
	    (uint32_t)data[7] << 8 | (uint32_t)data[8];
	mlen = strnlen((const char *)data + 13, size - 13);
	FUZZ_CHECK(got->status == data[4] && got->reason == (int)reason,
	    "the signer's status and reason");
	FUZZ_CHECK(strlen(got->msg) == mlen &&
		memcmp(got->msg, data + 13, mlen) == 0,
	    "the signer's message, up to a NUL");
	mc_buf_init(&b, size + 1);
	mc_err_clear(&e);
	if (ca_sign_resp_encode(NULL, got, &b, &e) == -1) {
		FUZZ_CHECK(e.status == MC_ST_NOMEM, "encode fails for nomem");
		goto out;
	}
	FUZZ_CHECK(b.len == 13 + mlen && memcmp(b.data, data, 9) == 0 &&
		memcmp(b.data + 13, data + 13, mlen) == 0,
	    "error answer re-encodes to the same bytes");
	mc_err_clear(&e2);
	FUZZ_CHECK(ca_sign_resp_decode((const unsigned char *)b.data, b.len,
		       &r2, &e2) == -1,
	    "an error answer decodes as one");
	FUZZ_CHECK(e2.status == got->status && e2.reason == got->reason &&
		strcmp(e2.msg, got->msg) == 0,
	    "the same error again");
	ca_sign_resp_clear(&r2);
out:
	mc_buf_free(&b);
}

static void
fuzz_resp(const uint8_t *data, size_t size)
{
	struct ca_sign_resp r, r2;
	struct mc_buf b;
	struct mc_err e;
	char hex[CA_SERIAL_HEX];
	int rc, form;

	form = resp_well_formed(data, size);
	mc_err_clear(&e);
	rc = ca_sign_resp_decode(data, size, &r, &e);
	if (rc == -1 && e.status == MC_ST_NOMEM && form == 1)
		return;
	FUZZ_CHECK((rc == 0) == (form == 1),
	    "response verdict as the layout reads");
	if (form == 2) {
		fuzz_resp_error(data, size, &e);
		return;
	}
	if (rc == -1) {
		FUZZ_CHECK(e.status == MC_ST_PARSE, "a parse error");
		FUZZ_CHECK(r.der == NULL, "nothing kept on failure");
		return;
	}
	FUZZ_CHECK(r.der != NULL && r.der_len > 0 &&
		r.der_len <= CA_SIGN_MAX_DER,
	    "a certificate within bounds");
	ca_serial_hex(r.serial, hex);
	FUZZ_CHECK(strcmp(hex, r.serial_hex) == 0 &&
		strlen(hex) == 2 * CA_SERIAL_LEN,
	    "serial_hex is the serial's");
	FUZZ_CHECK(r.clamped == (data[4 + 1 + CA_SERIAL_LEN] != 0),
	    "clamped flag");
	mc_buf_init(&b, size + 1);
	if (ca_sign_resp_encode(&r, NULL, &b, &e) == -1) {
		FUZZ_CHECK(e.status == MC_ST_NOMEM, "encode fails for nomem");
		goto out;
	}
	FUZZ_CHECK(b.len == size, "response re-encodes to the same length");
	FUZZ_CHECK(memcmp(b.data, data, 5 + CA_SERIAL_LEN) == 0 &&
		(unsigned char)b.data[5 + CA_SERIAL_LEN] ==
		    (r.clamped ? 1 : 0) &&
		memcmp(b.data + 6 + CA_SERIAL_LEN, data + 6 + CA_SERIAL_LEN,
		    size - 6 - CA_SERIAL_LEN) == 0,
	    "response re-encodes to the same bytes (flag as 0 or 1)");
	mc_err_clear(&e);
	if (ca_sign_resp_decode((const unsigned char *)b.data, b.len, &r2,
		&e) == -1) {
		FUZZ_CHECK(e.status == MC_ST_NOMEM, "own encoding decodes");
		goto out;
	}
	FUZZ_CHECK(r2.der_len == r.der_len &&
		memcmp(r2.der, r.der, r.der_len) == 0 &&
		memcmp(r2.serial, r.serial, CA_SERIAL_LEN) == 0 &&
		r2.clamped == r.clamped && r2.not_before == r.not_before &&
		r2.not_after == r.not_after,
	    "the same response again");
	ca_sign_resp_clear(&r2);
out:
	mc_buf_free(&b);
	ca_sign_resp_clear(&r);
	FUZZ_CHECK(r.der == NULL && r.der_len == 0, "clear zeroes");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_req(data, size);
	fuzz_resp(data, size);
	return 0;
}
