/*
 * diag.c - collecting user-facing diagnostics instead of printing them, so
 * that the command line and the daemon can each send them where they go.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

static void diag_push(struct diag *d, char *line, int at)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		char **lines = realloc(d->lines, cap * sizeof(*lines));
		int *ats;

		if (lines != NULL)
			d->lines = lines;
		ats = lines != NULL ? realloc(d->at, cap * sizeof(*ats)) : NULL;
		if (ats == NULL) {
			free(line);
			return;
		}
		d->at = ats;
		d->cap = cap;
	}
	d->at[d->n] = at;
	d->lines[d->n++] = line;
}

static void diag_vadd(struct diag *d, int at, const char *prefix,
		      const char *fmt, va_list ap)
{
	char *body = NULL;
	char *line = NULL;

	if (d == NULL || vasprintf(&body, fmt, ap) < 0)
		return;
	if (asprintf(&line, "%s%s", prefix, body) >= 0)
		diag_push(d, line, at);
	free(body);
}

void diag_add(struct diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, 0, "", fmt, ap);
	va_end(ap);
}

void diag_at(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	char prefix[512];
	va_list ap;

	if (file == NULL)
		prefix[0] = '\0';
	else if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", file);
	va_start(ap, fmt);
	diag_vadd(d, line > 0 ? line : 0, prefix, fmt, ap);
	va_end(ap);
}

struct sorted {
	int at;
	size_t seq; /* makes the sort stable */
	char *line;
};

static int cmp_sorted(const void *a, const void *b)
{
	const struct sorted *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void diag_sort_lines(struct diag *d, size_t from)
{
	struct sorted *s;
	size_t n;

	if (d == NULL || from + 1 >= d->n)
		return;
	n = d->n - from;
	s = malloc(n * sizeof(*s));
	if (s == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		s[i] = (struct sorted){d->at[from + i], i, d->lines[from + i]};
	qsort(s, n, sizeof(*s), cmp_sorted);
	for (size_t i = 0; i < n; i++) {
		d->at[from + i] = s[i].at;
		d->lines[from + i] = s[i].line;
	}
	free(s);
}

void diag_clear(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	free(d->at);
	d->lines = NULL;
	d->at = NULL;
	d->n = d->cap = 0;
}
