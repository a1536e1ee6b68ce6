/*
 * path.h - RFC 6901 JSON Pointers extended with `*` (every element of an
 * array or member of an object), absolute (starting with "/") or relative to a
 * context node ("delegation/size").
 */
#ifndef EXPENSED_PATH_H
#define EXPENSED_PATH_H

#include <stdbool.h>
#include <stddef.h>

struct path_seg {
	char *key; /* unescaped (~0 ~1 resolved); NULL for `*` */
};

struct path {
	char *text; /* as written */
	bool absolute;
	size_t nseg;
	struct path_seg *seg;
	size_t first_wild; /* index of the first `*`, or nseg if none */
};

/* Compile text into p. -1 with *why set to a static reason on a bad path
 * (empty, bad ~ escape). */
int path_compile(const char *text, struct path *p, const char **why);
void path_free(struct path *p);

static inline bool path_has_wildcard(const struct path *p)
{
	return p->first_wild < p->nseg;
}

#endif
