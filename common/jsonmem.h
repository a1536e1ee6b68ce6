/*
 * jsonmem.h - Jansson's failed allocations, counted; the memory budget of
 * judging one report.
 *
 * Jansson does not always say when an allocation fails: its parser reports
 * some as a syntax error at line -1, and both its parser and its dumper
 * drop bytes silently when a buffer cannot grow (a number read wrong, an
 * object key written without its closing quote). Out of memory must never
 * become a verdict nor a damaged document, so the program wraps Jansson's
 * allocator (json_set_alloc_funcs) in one that counts failures, and checks
 * the count around every parse and dump:
 *
 *   unsigned long before = jsonmem_failures();   (installs the wrapper)
 *   json_t *doc = json_loadb(...);
 *   if (jsonmem_failures() != before) ... out of memory, whatever doc is ...
 *
 * The count is per thread (the daemon judges on a worker thread while its
 * own thread builds documents); the wrapper must be installed (a first
 * jsonmem_failures() call) before a second thread starts. A caller that
 * sets its own allocator later has it wrapped again at the next
 * jsonmem_failures() call.
 */
#ifndef EXPENSED_JSONMEM_H
#define EXPENSED_JSONMEM_H

#include <stddef.h>

#include <jansson.h>

/* Install the counting wrapper if needed; the failures counted so far. */
unsigned long jsonmem_failures(void);

/*
 * A memory budget for what Jansson allocates on the calling thread, for
 * one report parsed and judged (and the engine's tables, below): from
 * jsonmem_budget_start(max) (max bytes; 0: no budget) to jsonmem_budget_end(),
 * the blocks Jansson holds on this thread are counted as the heap gives them
 * (each block's malloc_usable_size and malloc's own header of 8 bytes: a third
 * more than Jansson asks for its small blocks), and an allocation that would
 * take them over max fails (not counted in jsonmem_failures(): it is the file's
 * size, not the machine's). Jansson's allocator under the wrapper must be
 * malloc's (its default). A parse of 16 MiB of "{}," holds some 1.3 GB, a
 * report of ordinary missions about nine times its size (docs/costs.md).
 *
 *   jsonmem_budget_start(256 << 20);
 *   json_t *doc = json_loadb(...);
 *   if (jsonmem_budget_end()) ... over the budget, whatever doc is ...
 */
void jsonmem_budget_start(size_t max);

/* Whether an allocation was refused for this thread's budget so far. */
int jsonmem_budget_over(void);

/* End the budget: whether an allocation was refused for it. */
int jsonmem_budget_end(void);

/*
 * The judging engine's own tables that grow with a report (the set of
 * reported nodes, a unique rule's items, the string map): allocated and
 * freed through these, they count against the same budget as Jansson's
 * blocks while one runs on the calling thread, and an allocation that
 * would pass it fails (NULL) like Jansson's. Outside a budget they are
 * malloc, calloc, realloc and free. A block must go back through
 * jsonmem_free (a block freed by free() inside a budget stays counted).
 * While jsonmem_realloc grows a block, the old one counts too (it may be
 * copied).
 */
void *jsonmem_malloc(size_t size);
void *jsonmem_calloc(size_t n, size_t size);
void *jsonmem_realloc(void *p, size_t size);
void jsonmem_free(void *p);
char *jsonmem_strdup(const char *s);

/* json_dumps, but NULL when any allocation failed while dumping (the text
 * would be missing bytes). */
char *json_dumps_checked(const json_t *json, size_t flags);

#endif
