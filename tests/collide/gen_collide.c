/*
 * gen_collide.c - ids that all fall in one bucket of a table indexed by the
 * low bits of unkeyed 64-bit FNV-1a, the string hash expensed used before
 * its hashes were keyed (common/hash.h). Kept as a regression test: the
 * unit test tests/unit/test_hash.c shows that the keyed hash spreads them,
 * and bench/bench_collide.py times `expensed check` on a report of such ids.
 *
 *   gen_collide N [BITS]   print N ids, one a line (BITS: 20 by default)
 *
 * How: FNV-1a's step h = (h ^ byte) * P, taken mod 2^BITS, depends only on
 * the low BITS bits of h, and it can be undone (P is odd). So a backward
 * search from the target 0 over every 4-character suffix fills a table of
 * the 2^BITS states with, for each, a suffix that leads from it to the
 * target (2^24 suffixes for 2^20 states: all are covered). Each id is then
 * a distinct prefix and the suffix the table gives for the prefix's state.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLIDE_FNV_OFFSET 1469598103934665603ULL
#define COLLIDE_FNV_PRIME 1099511628211ULL

static const char collide_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/* The old hash: FNV-1a over bytes, unkeyed. */
static uint64_t collide_fnv1a(const char *s, size_t len, uint64_t h)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= COLLIDE_FNV_PRIME;
	}
	return h;
}

/* The inverse of P mod 2^64 (Newton's iteration). */
static uint64_t collide_inverse(uint64_t p)
{
	uint64_t x = p;

	for (int i = 0; i < 6; i++)
		x *= 2 - p * x;
	return x;
}

/*
 * n ids (each a string of at most 31 bytes, in one block: ids[i] points
 * into it) whose FNV-1a hashes all end in BITS zero bits. NULL when memory
 * runs out. Free ids[0] and ids.
 */
static char **collide_ids(size_t n, int bits)
{
	uint64_t mask = (1ULL << bits) - 1,
		 pinv = collide_inverse(COLLIDE_FNV_PRIME);
	uint32_t *tab = malloc(sizeof(*tab) << bits);
	char **ids = calloc(n ? n : 1, sizeof(*ids));
	char *block = malloc(n * 32 + 1);

	if (tab == NULL || ids == NULL || block == NULL)
		goto fail;
	memset(tab, 0xff, sizeof(*tab) << bits);
	/* backward from 0 over c4, c3, c2, c1: the state before c1 */
	for (uint32_t k = 0; k < (1U << 24); k++) {
		uint64_t h = 0;
		for (int j = 0; j < 4; j++) /* the last character first */
			h = ((h * pinv) ^
			     (unsigned char)
				 collide_alphabet[(k >> (6 * j)) & 63]) &
			    mask;
		if (tab[h] == UINT32_MAX)
			tab[h] = k;
	}
	size_t made = 0;
	for (unsigned long i = 0; made < n; i++) {
		char *id = block + made * 32;
		int len = snprintf(id, 32, "m-%07lu-", i);
		uint64_t h = collide_fnv1a(id, (size_t)len, COLLIDE_FNV_OFFSET);
		uint32_t k = tab[h & mask];
		if (k == UINT32_MAX)
			continue; /* a state no suffix reaches: next prefix */
		for (int j = 3; j >= 0; j--)
			id[len++] = collide_alphabet[(k >> (6 * j)) & 63];
		id[len] = '\0';
		ids[made++] = id;
	}
	free(tab);
	if (n == 0)
		ids[0] = block;
	return ids;
fail:
	free(tab);
	free(ids);
	free(block);
	return NULL;
}

#ifndef COLLIDE_NO_MAIN
int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	long bits = argc > 2 ? strtol(argv[2], NULL, 10) : 20;
	char **ids;

	if (argc < 2 || argc > 3 || n <= 0 || bits < 8 || bits > 24) {
		fputs("usage: gen_collide N [BITS]\n", stderr);
		return 2;
	}
	ids = collide_ids((size_t)n, (int)bits);
	if (ids == NULL) {
		perror("gen_collide");
		return 1;
	}
	for (long i = 0; i < n; i++)
		puts(ids[i]);
	free(ids[0]);
	free(ids);
	return 0;
}
#endif
