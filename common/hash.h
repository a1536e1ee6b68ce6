/*
 * hash.h - the one string hash of the program, for every table keyed by
 * text or by values that come from a report or a file name (strmap, the
 * engine's sets, the ledger). Kept in one place so that it is keyed in one
 * place.
 *
 * The hash is SipHash-1-3 (one compression round, three finalization
 * rounds: the variant Python, Rust and Redis use for their tables) under a
 * 128-bit key drawn from the kernel (getrandom(2)) once per process, so
 * that a report cannot be built to make every key fall in one bucket: the
 * key is never written anywhere, and nothing the program outputs depends
 * on it (tables are only looked up, never listed in hash order).
 *
 *   if (hash_init() == -1) ... refuse to start: no random key ...
 *   uint64_t h = hash_str("rapport-36.json");
 */
#ifndef EXPENSED_HASH_H
#define EXPENSED_HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * Draw the key with getrandom(2) (then /dev/urandom if the system call is
 * missing or refused). Call it once at the start of every program (main,
 * the unit tests, the bench, the fuzz targets). 0, or -1 when no random
 * bytes could be had (errno set): there is no fixed fallback key, the
 * caller refuses to run. A hash computed before hash_init() draws the key
 * then, and aborts if it cannot.
 */
int hash_init(void);

/* Use this key instead (tests only: the hooks build and the unit tests,
 * to show that nothing the program says depends on the key). */
void hash_set_key(uint64_t k0, uint64_t k1);

uint64_t hash_bytes(const void *data, size_t len);
uint64_t hash_str(const char *s);

/* Fold v into h (for hashes of composite values): the keyed hash of the 16
 * bytes of h and v, so that no v can cancel another. */
uint64_t hash_mix(uint64_t h, uint64_t v);

/* SipHash-c-d of in[0, len) under the 16-byte key k (little-endian k0, k1),
 * c compression and d finalization rounds: hash_bytes is siphash(.., 1, 3);
 * siphash(.., 2, 4) gives the published reference vectors (unit test). */
uint64_t siphash(const void *in, size_t len, uint64_t k0, uint64_t k1, int c,
		 int d);

#endif
