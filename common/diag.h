/*
 * diag.h - a list of user-facing diagnostics ("FILE:LINE: reason").
 *
 * Loaders (rule sets, configuration) never print: they append one line per
 * problem to a struct diag and return -1; the caller decides where the lines
 * go (stderr for the command line, syslog for the daemon).
 */
#ifndef EXPENSED_DIAG_H
#define EXPENSED_DIAG_H

#include <stddef.h>

struct diag {
	char **lines; /* n lines, each malloc'ed, without trailing newline */
	int *at;      /* the LINE of each (0: none), for diag_sort_lines */
	size_t n;
	size_t cap;
};

#define DIAG_INIT                                                              \
	{                                                                      \
		NULL, NULL, 0, 0                                               \
	}

/* Append a formatted line; on allocation failure the line is dropped. */
void diag_add(struct diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append "FILE:LINE: reason" (LINE omitted when 0; no prefix at all when
 * FILE is NULL). */
void diag_at(struct diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Put the lines from index from on (those of one file) in the order of
 * their LINE, lines without one first; lines of one LINE keep their order.
 * Out of memory, they stay as they are. d may be NULL.
 */
void diag_sort_lines(struct diag *d, size_t from);

/* Free every line; the struct is reusable afterwards. */
void diag_clear(struct diag *d);

#endif
