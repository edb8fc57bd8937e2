/* Tests for lib/hash.c against published vectors (FIPS 180-2, RFC 4231). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/hash.h"
#include "tests/unit/tap.h"

int main(void)
{
	char hex[SHA256_HEX_LEN + 1];
	struct sha256 h;
	struct error *err = NULL;

	plan_lazy();

	sha256_hex("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "sha256('')");
	sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	       "sha256('abc')");

	is_int(sha256_init(&h, &err), 0, "streaming init");
	sha256_update(&h, "ab", 2);
	sha256_update(&h, "c", 1);
	sha256_final_hex(&h, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	       "streaming in pieces gives the same digest");

	{
		char path[] = "/tmp/slipway-test-hash.XXXXXX";
		int fd = mkstemp(path);
		char *big = malloc(1000000);

		memset(big, 'a', 1000000);
		ok(fd >= 0 && write(fd, big, 1000000) == 1000000, "write a million 'a'");
		close(fd);
		is_int(sha256_file_hex(path, hex, &err), 0, "hash a file");
		is_str(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		       "sha256 of a million 'a' (FIPS 180-2)");
		unlink(path);
		free(big);
		is_int(sha256_file_hex(path, hex, &err), -1, "a missing file is an error");
		ok(err && strstr(err->msg, path), "naming the file");
		error_clear(&err);
	}

	/* RFC 4231 test case 2 */
	hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex);
	is_str(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	       "hmac-sha256 RFC 4231 case 2");

	ok(secure_equal("abc", 3, "abc", 3), "equal buffers compare equal");
	ok(!secure_equal("abc", 3, "abd", 3), "a differing byte compares unequal");
	ok(!secure_equal("abc", 3, "abcd", 4), "different lengths compare unequal");
	ok(secure_equal("", 0, "", 0), "empty buffers are equal");

	ok(sha256_hex_valid("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "a digest is valid hex");
	ok(!sha256_hex_valid("BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "uppercase is refused");
	ok(!sha256_hex_valid("ba78"), "too short is refused");
	ok(!sha256_hex_valid("../7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "path characters are refused");
	return done_testing();
}
