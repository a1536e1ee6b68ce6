/*
 * jsonmem.c - counting Jansson's failed allocations (jsonmem.h).
 */
#include <stdlib.h>

#include "jsonmem.h"

static json_malloc_t inner_malloc;
/* per thread: the daemon judges on its worker thread (daemon/worker.h)
 * while its own thread builds JSON too, and one's failure is not the
 * other's */
static _Thread_local unsigned long failures;

static void *counting_malloc(size_t size)
{
	void *p = inner_malloc(size);

	if (p == NULL)
		failures++;
	return p;
}

unsigned long jsonmem_failures(void)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	if (m != counting_malloc) {
		inner_malloc = m;
		json_set_alloc_funcs(counting_malloc, f);
	}
	return failures;
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
