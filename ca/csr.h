/*
 * csr.h: certificate signing requests from workloads. The CSR supplies a
 * public key and proof of possession, nothing else: the identity in the
 * certificate is the one the caller authorized, never one the CSR asks
 * for.
 */
#ifndef CA_CSR_H
#define CA_CSR_H

#include <stddef.h>

#include "ca/signer.h"
#include "common/err.h"

#define CA_CSR_MAX (64 * 1024)

/*
 * Checks a PEM CSR against the ID the caller authorized and writes its
 * DER SubjectPublicKeyInfo to spki (CA_SPKI_MAX bytes). MC_ST_PARSE for
 * a malformed CSR; MC_ST_REJECTED for a bad self-signature, a weak or
 * unknown key (RSA < 2048, curves other than P-256/P-384), a request for
 * CA:true or keyCertSign, or a URI SAN other than authorized_id.
 */
int ca_csr_check(const char *pem, size_t len, const char *authorized_id,
    unsigned char *spki, size_t *spki_len, struct mc_err *e);

#endif /* CA_CSR_H */
