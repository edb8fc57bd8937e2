/* lib/hash.c — SHA-256 and HMAC on OpenSSL's EVP interface. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/cleanup.h"
#include "lib/hash.h"

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int sha256_init(struct sha256 *h, struct error **err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		h->ctx = NULL;
		return error_set(err, EXIT_INTERNAL, "cannot start a sha256 digest");
	}
	h->ctx = ctx;
	return 0;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
	if (h->ctx && len)
		EVP_DigestUpdate(h->ctx, data, len);
}

void sha256_final_hex(struct sha256 *h, char *out)
{
	unsigned char md[SHA256_LEN];
	unsigned int n = 0;

	if (h->ctx)
		EVP_DigestFinal_ex(h->ctx, md, &n);
	to_hex(md, SHA256_LEN, out);
	sha256_release(h);
}

void sha256_release(struct sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char md[SHA256_LEN];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	to_hex(md, SHA256_LEN, out);
}

int sha256_file_hex(const char *path, char *out, struct error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct sha256 h;
	char chunk[65536];
	ssize_t n;

	if (fd < 0)
		return error_errno(err, "open '%s'", path);
	if (sha256_init(&h, err) < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sha256_release(&h);
			return error_errno(err, "read '%s'", path);
		}
		sha256_update(&h, chunk, (size_t)n);
	}
	sha256_final_hex(&h, out);
	return 0;
}

void hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len, char *out)
{
	unsigned char md[SHA256_LEN];
	unsigned int n = 0;

	HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &n);
	to_hex(md, SHA256_LEN, out);
}

bool secure_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return false;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

bool sha256_hex_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == SHA256_HEX_LEN;
}
