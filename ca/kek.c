/*
 * kek.c: sealing authority keys at rest (see kek.h). Trusts nothing it
 * reads: the KEK file's mode and size are checked before use, and a
 * sealed blob is authenticated (GCM tag over the ciphertext and the
 * authority id) before a byte of it is parsed as a key. Plaintext key
 * material lives only in buffers wiped before they are freed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "ca/kek.h"
#include "ca/keygen.h"
#include "common/alloc.h"
#include "common/status.h"

#define MAGIC "MCK1"
#define NONCE_LEN 12
#define TAG_LEN 16
#define BLOB_MAX 16384

static int
check_mode(const struct stat *st, const char *path, const char *what,
    struct mc_err *e)
{
	if (!S_ISREG(st->st_mode)) {
		mc_err_set(e, MC_ST_REJECTED, 0, "%s %s: not a regular file",
		    what, path);
		return -1;
	}
	if ((st->st_mode & 077) != 0) {
		mc_err_set(e, MC_ST_REJECTED, 0, "%s %s: mode %03o lets group "
		    "or others at it; refusing (chmod 600)", what, path,
		    (unsigned)(st->st_mode & 0777));
		return -1;
	}
	return 0;
}

static int
check_private_fd(int fd, const char *path, const char *what,
    struct mc_err *e)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "%s %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	return check_mode(&st, path, what, e);
}

int
ca_check_private_file(const char *path, const char *what, struct mc_err *e)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "%s %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	return check_mode(&st, path, what, e);
}

int
ca_kek_create(const char *path, struct ca_kek *k, struct mc_err *e)
{
	ssize_t n;
	int fd;

	if (RAND_bytes(k->key, CA_KEK_LEN) != 1) {
		ca_openssl_error(e, MC_ST_INTERNAL, "KEK: random bytes");
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		mc_err_set(e, MC_ST_IO, 0, "KEK %s: cannot create: %s", path,
		    strerror(errno));
		ca_kek_clear(k);
		return -1;
	}
	n = write(fd, k->key, CA_KEK_LEN);
	if (n != CA_KEK_LEN || fsync(fd) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "KEK %s: cannot write: %s", path,
		    n == -1 ? strerror(errno) : "short write");
		close(fd);
		unlink(path);
		ca_kek_clear(k);
		return -1;
	}
	close(fd);
	return 0;
}

int
ca_kek_load(const char *path, struct ca_kek *k, struct mc_err *e)
{
	unsigned char buf[CA_KEK_LEN + 1];
	ssize_t n;
	int fd, ret = -1;

	/* The mode is checked on the file we opened, not on the name. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "KEK %s: %s", path, strerror(errno));
		return -1;
	}
	if (check_private_fd(fd, path, "KEK", e) == -1) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != CA_KEK_LEN) {
		mc_err_set(e, MC_ST_REJECTED, 0, "KEK %s: must be exactly %d "
		    "bytes", path, CA_KEK_LEN);
		goto out;
	}
	memcpy(k->key, buf, CA_KEK_LEN);
	ret = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return ret;
}

void
ca_kek_clear(struct ca_kek *k)
{
	if (k != NULL)
		OPENSSL_cleanse(k->key, sizeof(k->key));
}

static void
aad_of(int64_t id, char *aad, size_t n)
{
	snprintf(aad, n, "meshca authority %lld", (long long)id);
}

int
ca_kek_seal(const struct ca_kek *k, int64_t authority_id, EVP_PKEY *key,
    unsigned char **blob, size_t *len, struct mc_err *e)
{
	EVP_CIPHER_CTX *c = NULL;
	unsigned char *der = NULL, *out = NULL;
	char aad[48];
	int dlen = 0, n, m, ret = -1;

	if ((dlen = i2d_PrivateKey(key, &der)) <= 0) {
		ca_openssl_error(e, MC_ST_INTERNAL, "seal: encode key");
		goto out;
	}
	if ((size_t)dlen > BLOB_MAX ||
	    (out = mc_malloc(4 + NONCE_LEN + (size_t)dlen + TAG_LEN)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "seal: out of memory");
		goto out;
	}
	/* The magic is 4 bytes, not a string. */
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(out, MAGIC, 4);
	aad_of(authority_id, aad, sizeof(aad));
	if (RAND_bytes(out + 4, NONCE_LEN) != 1 ||
	    (c = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, out + 4) ||
	    !EVP_EncryptUpdate(c, NULL, &n, (unsigned char *)aad,
	    (int)strlen(aad)) ||
	    !EVP_EncryptUpdate(c, out + 4 + NONCE_LEN, &n, der, dlen) ||
	    !EVP_EncryptFinal_ex(c, out + 4 + NONCE_LEN + n, &m) ||
	    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	    out + 4 + NONCE_LEN + n + m)) {
		ca_openssl_error(e, MC_ST_INTERNAL, "seal: AES-256-GCM");
		goto out;
	}
	*blob = out;
	*len = 4 + NONCE_LEN + (size_t)(n + m) + TAG_LEN;
	out = NULL;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(c);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)dlen);
	mc_free(out);
	return ret;
}

int
ca_kek_open(const struct ca_kek *k, int64_t authority_id,
    const unsigned char *blob, size_t len, EVP_PKEY **key, struct mc_err *e)
{
	EVP_CIPHER_CTX *c = NULL;
	unsigned char *pt = NULL, tag[TAG_LEN];
	const unsigned char *p;
	char aad[48];
	size_t clen;
	int n, m, ret = -1;

	if (len < 4 + NONCE_LEN + TAG_LEN + 1 || len > BLOB_MAX ||
	    memcmp(blob, MAGIC, 4) != 0) {
		mc_err_set(e, MC_ST_PARSE, 0, "authority %lld: sealed key is "
		    "not in meshca's format", (long long)authority_id);
		return -1;
	}
	clen = len - 4 - NONCE_LEN - TAG_LEN;
	memcpy(tag, blob + len - TAG_LEN, TAG_LEN);
	aad_of(authority_id, aad, sizeof(aad));
	if ((pt = mc_malloc(clen)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "open: out of memory");
		return -1;
	}
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, blob + 4) ||
	    !EVP_DecryptUpdate(c, NULL, &n, (unsigned char *)aad,
	    (int)strlen(aad)) ||
	    !EVP_DecryptUpdate(c, pt, &n, blob + 4 + NONCE_LEN, (int)clen) ||
	    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag)) {
		ca_openssl_error(e, MC_ST_INTERNAL, "open: AES-256-GCM");
		goto out;
	}
	if (EVP_DecryptFinal_ex(c, pt + n, &m) <= 0) {
		ERR_clear_error();
		mc_err_set(e, MC_ST_REJECTED, 0, "KEK does not decrypt "
		    "authority %lld (wrong KEK file, or the sealed key was "
		    "altered)", (long long)authority_id);
		goto out;
	}
	p = pt;
	if ((*key = d2i_AutoPrivateKey(NULL, &p, (long)n + m)) == NULL) {
		ERR_clear_error();
		mc_err_set(e, MC_ST_PARSE, 0, "authority %lld: sealed key "
		    "decrypts but is not a private key",
		    (long long)authority_id);
		goto out;
	}
	ret = 0;
out:
	EVP_CIPHER_CTX_free(c);
	mc_free_secret(pt, clen);
	return ret;
}
