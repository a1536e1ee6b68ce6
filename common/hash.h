/*
 * hash.h - the one string hash of the program, for every table keyed by
 * text (strmap, the engine's sets). Kept in one place so that it can be
 * changed (keyed) in one place.
 */
#ifndef EXPENSED_HASH_H
#define EXPENSED_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash_bytes(const void *data, size_t len);
uint64_t hash_str(const char *s);

/* Fold v into h (for hashes of composite values). */
uint64_t hash_mix(uint64_t h, uint64_t v);

#endif
