/*
 * test_sha256.c - common/sha256 against the examples of FIPS 180-4 and
 * against OpenSSL's SHA-256 on every length up to four blocks, in one
 * piece and fed in pieces of every size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "../../common/sha256.h"

static void hex_of(const void *data, size_t len, char hex[65])
{
	sha256_hex_of(data, len, hex);
}

static void the_standard_s_examples(void **state)
{
	char hex[65];
	char *million = malloc(1000000);
	struct sha256 s;
	unsigned char md[32];

	(void)state;
	hex_of("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	       hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
				 "a33ce45964ff2167f6ecedd419db06c1");
	assert_non_null(million);
	memset(million, 'a', 1000000);
	sha256_init(&s);
	for (size_t i = 0; i < 1000000; i += 1000)
		sha256_update(&s, million + i, 1000);
	sha256_final(&s, md);
	sha256_hex(md, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
				 "f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

static void as_openssl_says(void **state)
{
	unsigned char buf[256], want[32], got[32];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	for (size_t len = 0; len <= sizeof(buf); len++) {
		SHA256(buf, len, want);
		for (size_t piece = 1; piece <= 65; piece++) {
			struct sha256 s;
			sha256_init(&s);
			for (size_t at = 0; at < len; at += piece)
				sha256_update(&s, buf + at,
					      len - at < piece ? len - at
							       : piece);
			sha256_final(&s, got);
			assert_memory_equal(got, want, 32);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_standard_s_examples),
	    cmocka_unit_test(as_openssl_says),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
