/* lib/hash.h — SHA-256 (streaming and one-shot), HMAC-SHA256, constant-time compare (OpenSSL).
 *
 * Digests come out as lowercase hex: 64 characters plus NUL (SHA256_HEX_LEN + 1).
 */
#ifndef SLIPWAY_LIB_HASH_H
#define SLIPWAY_LIB_HASH_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

struct sha256 {
	void *ctx; /* EVP_MD_CTX, owned */
};

int sha256_init(struct sha256 *h, struct error **err);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes the hex digest into out[SHA256_HEX_LEN + 1] and releases the context. */
void sha256_final_hex(struct sha256 *h, char *out);
/* Releases the context without a digest (error paths); safe after final. */
void sha256_release(struct sha256 *h);

void sha256_hex(const void *data, size_t len, char *out);
/* Hashes a file's bytes; out as above. */
int sha256_file_hex(const char *path, char *out, struct error **err);

void hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len, char *out);

/* True when the two buffers of the same length are equal; the time taken does not depend on
 * where they differ. Different lengths compare unequal (the length is not secret). */
bool secure_equal(const void *a, size_t alen, const void *b, size_t blen);

/* True for exactly 64 lowercase hex digits. */
bool sha256_hex_valid(const char *s);

#endif
