/*
 * strmap.h - string keys to void * values, open addressing with linear
 * probing and tombstones.
 *
 *   struct strmap m = STRMAP_INIT;
 *   strmap_put(&m, "rapport-36.json", p, NULL);
 *   struct strmap_iter it = STRMAP_ITER_INIT;
 *   const char *key; void *val;
 *   while (strmap_next(&m, &it, &key, &val))
 *           ... strmap_del(&m, key) is allowed here, strmap_put is not ...
 *   strmap_free(&m, free);
 *
 * Values must not be NULL (strmap_get's NULL means "absent").
 */
#ifndef EXPENSED_STRMAP_H
#define EXPENSED_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap {
	char **keys; /* NULL = empty slot; a private marker = deleted */
	void **vals;
	size_t cap;  /* power of two, or 0 */
	size_t n;    /* live entries */
	size_t used; /* live + tombstones */
};

#define STRMAP_INIT                                                            \
	{                                                                      \
		NULL, NULL, 0, 0, 0                                            \
	}

struct strmap_iter {
	size_t pos;
};

#define STRMAP_ITER_INIT                                                       \
	{                                                                      \
		0                                                              \
	}

/* Value for key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/* Insert or replace; the key is copied. The old value (NULL if none) goes
 * to *old when old is not NULL. 0, or -1 when memory runs out. */
int strmap_put(struct strmap *m, const char *key, void *val, void **old);

/* Remove key; returns its value, or NULL if it was absent. */
void *strmap_del(struct strmap *m, const char *key);

/* Number of live entries. */
size_t strmap_count(const struct strmap *m);

/* The next live entry after *it (in no particular order): true with *key
 * and *val set (either may be NULL to skip), false at the end. */
bool strmap_next(const struct strmap *m, struct strmap_iter *it,
		 const char **key, void **val);

/* Free the table and its keys; free_val (may be NULL) gets each value. */
void strmap_free(struct strmap *m, void (*free_val)(void *));

#endif
