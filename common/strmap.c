/*
 * strmap.c - the string map of strmap.h (watch queue, ledger, recovery,
 * the engine's reported nodes). Its blocks count against a judging thread's
 * memory budget (common/jsonmem.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "jsonmem.h"
#include "strmap.h"

static char strmap_tomb_key;
#define STRMAP_TOMB (&strmap_tomb_key)

/* Slot of key, or of the first free slot where it would go (-1 if full). */
static size_t strmap_slot(const struct strmap *m, const char *key, int *found)
{
	size_t mask = m->cap - 1;
	size_t i = hash_str(key) & mask;
	size_t tomb = (size_t)-1;

	*found = 0;
	for (size_t probes = 0; probes < m->cap; probes++) {
		char *k = m->keys[i];
		if (k == NULL)
			return tomb != (size_t)-1 ? tomb : i;
		if (k == STRMAP_TOMB) {
			if (tomb == (size_t)-1)
				tomb = i;
		} else if (strcmp(k, key) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
	return tomb;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	int found;
	size_t i;

	if (m->cap == 0)
		return NULL;
	i = strmap_slot(m, key, &found);
	return found ? m->vals[i] : NULL;
}

static int strmap_grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap : 16;
	struct strmap n = STRMAP_INIT;

	while (cap < (m->n + 1) * 2)
		cap *= 2;
	n.keys = jsonmem_calloc(cap, sizeof(*n.keys));
	n.vals = jsonmem_calloc(cap, sizeof(*n.vals));
	if (n.keys == NULL || n.vals == NULL) {
		jsonmem_free(n.keys);
		jsonmem_free(n.vals);
		return -1;
	}
	n.cap = cap;
	for (size_t i = 0; i < m->cap; i++) {
		int found;
		size_t j;

		if (m->keys[i] == NULL || m->keys[i] == STRMAP_TOMB)
			continue;
		j = strmap_slot(&n, m->keys[i], &found);
		n.keys[j] = m->keys[i];
		n.vals[j] = m->vals[i];
		n.n++;
		n.used++;
	}
	jsonmem_free(m->keys);
	jsonmem_free(m->vals);
	*m = n;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *val, void **old)
{
	int found;
	size_t i;
	char *k;

	if (old != NULL)
		*old = NULL;
	if ((m->used + 1) * 4 > m->cap * 3 && strmap_grow(m) == -1)
		return -1;
	i = strmap_slot(m, key, &found);
	if (found) {
		if (old != NULL)
			*old = m->vals[i];
		m->vals[i] = val;
		return 0;
	}
	k = jsonmem_strdup(key);
	if (k == NULL)
		return -1;
	if (m->keys[i] == NULL)
		m->used++;
	m->keys[i] = k;
	m->vals[i] = val;
	m->n++;
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	int found;
	size_t i;
	void *val;

	if (m->cap == 0)
		return NULL;
	i = strmap_slot(m, key, &found);
	if (!found)
		return NULL;
	val = m->vals[i];
	jsonmem_free(m->keys[i]);
	m->keys[i] = STRMAP_TOMB;
	m->vals[i] = NULL;
	m->n--;
	return val;
}

void strmap_free(struct strmap *m, void (*free_val)(void *))
{
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i] == NULL || m->keys[i] == STRMAP_TOMB)
			continue;
		jsonmem_free(m->keys[i]);
		if (free_val != NULL)
			free_val(m->vals[i]);
	}
	jsonmem_free(m->keys);
	jsonmem_free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = m->used = 0;
}

size_t strmap_count(const struct strmap *m)
{
	return m->n;
}

bool strmap_next(const struct strmap *m, struct strmap_iter *it,
		 const char **key, void **val)
{
	while (it->pos < m->cap) {
		size_t i = it->pos++;
		if (m->keys[i] == NULL || m->keys[i] == STRMAP_TOMB)
			continue;
		if (key != NULL)
			*key = m->keys[i];
		if (val != NULL)
			*val = m->vals[i];
		return true;
	}
	return false;
}
