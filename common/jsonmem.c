/*
 * jsonmem.c - counting Jansson's failed allocations, and the memory budget
 * of judging one report (jsonmem.h).
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonmem.h"

static json_malloc_t inner_malloc;
static json_free_t inner_free;
/* per thread: the daemon judges on its worker thread (daemon/worker.h)
 * while its own thread builds JSON too, and one's failure is not the
 * other's */
static _Thread_local unsigned long failures;
/* this thread's budget (0: none), the bytes Jansson holds since it
 * started, and whether an allocation was refused for it */
static _Thread_local size_t budget, held;
static _Thread_local int over;

/* What block p takes of the heap: its usable size and malloc's header. */
static size_t heap_size(void *p)
{
	return malloc_usable_size(p) + sizeof(size_t);
}

/* Whether size more bytes would pass this thread's budget (and say so). */
static int over_budget(size_t size)
{
	if (budget != 0 && (size > budget || held > budget - size)) {
		over = 1;
		return 1;
	}
	return 0;
}

/* A block p just taken (or NULL): held from now on. p. */
static void *count(void *p)
{
	if (budget != 0 && p != NULL)
		held += heap_size(p);
	return p;
}

/* A block p given back: no longer held. */
static void uncount(void *p)
{
	if (budget != 0 && p != NULL) {
		size_t n = heap_size(p);

		held = n < held ? held - n : 0;
	}
}

static void *counting_malloc(size_t size)
{
	void *p;

	if (over_budget(size))
		return NULL;
	p = inner_malloc(size);
	if (p == NULL)
		failures++;
	return count(p);
}

/* Within a budget, Jansson frees only what the same judging allocated (its
 * buffers as they grow, a document cut short): held never counts a block
 * twice; it is kept from wrapping all the same (uncount()). */
static void counting_free(void *p)
{
	uncount(p);
	inner_free(p);
}

void *jsonmem_malloc(size_t size)
{
	return over_budget(size) ? NULL : count(malloc(size));
}

void *jsonmem_calloc(size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return over_budget(n * size) ? NULL : count(calloc(n, size));
}

void *jsonmem_realloc(void *p, size_t size)
{
	size_t was = p != NULL && budget != 0 ? heap_size(p) : 0;
	void *q;

	/* the old block still held while the new one is taken */
	if (over_budget(size))
		return NULL;
	q = realloc(p, size);
	if (q == NULL)
		return NULL;
	held = was < held ? held - was : 0;
	return count(q);
}

void jsonmem_free(void *p)
{
	uncount(p);
	free(p);
}

char *jsonmem_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = jsonmem_malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

unsigned long jsonmem_failures(void)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	if (m != counting_malloc) {
		inner_malloc = m;
		inner_free = f;
		json_set_alloc_funcs(counting_malloc, counting_free);
	}
	return failures;
}

void jsonmem_budget_start(size_t max)
{
	(void)jsonmem_failures(); /* the wrapper installed */
	budget = max;
	held = 0;
	over = 0;
}

int jsonmem_budget_over(void)
{
	return over;
}

int jsonmem_budget_end(void)
{
	int was_over = over;

	budget = 0;
	held = 0;
	over = 0;
	return was_over;
}

char *json_dumps_checked(const json_t *json, size_t flags)
{
	unsigned long before = jsonmem_failures();
	char *s = json_dumps(json, flags);

	if (s != NULL && jsonmem_failures() != before) {
		free(s);
		return NULL;
	}
	return s;
}
