/*
 * diag.c - collecting user-facing diagnostics instead of printing them, so
 * that the command line and the daemon can each send them where they go.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

static void diag_push(struct diag *d, char *line)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		char **lines = realloc(d->lines, cap * sizeof(*lines));
		if (lines == NULL) {
			free(line);
			return;
		}
		d->lines = lines;
		d->cap = cap;
	}
	d->lines[d->n++] = line;
}

static void diag_vadd(struct diag *d, const char *prefix, const char *fmt,
		      va_list ap)
{
	char *body = NULL;
	char *line = NULL;

	if (d == NULL || vasprintf(&body, fmt, ap) < 0)
		return;
	if (asprintf(&line, "%s%s", prefix, body) >= 0)
		diag_push(d, line);
	free(body);
}

void diag_add(struct diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, "", fmt, ap);
	va_end(ap);
}

void diag_at(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	char prefix[512];
	va_list ap;

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", file);
	va_start(ap, fmt);
	diag_vadd(d, prefix, fmt, ap);
	va_end(ap);
}

void diag_clear(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->n = d->cap = 0;
}
