/*
 * sha256.h - SHA-256 (FIPS 180-4), the digest of the result document's
 * `sha256` and `rules`. Ours rather than OpenSSL's: it allocates nothing,
 * so it cannot fail, where OpenSSL 3 initialises itself lazily on the first
 * digest and crashes when one of those thousands of allocations fails.
 *
 *   struct sha256 s;
 *   sha256_init(&s);
 *   sha256_update(&s, data, len);   (as many times as needed)
 *   sha256_final(&s, md);           (32 bytes)
 */
#ifndef EXPENSED_SHA256_H
#define EXPENSED_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed */
	unsigned char buf[64];
	size_t nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char md[32]);

/* md as 64 lower-case hex digits and a NUL. */
void sha256_hex(const unsigned char md[32], char hex[65]);

/* The hex digest of len bytes of data at once. */
void sha256_hex_of(const void *data, size_t len, char hex[65]);

#endif
