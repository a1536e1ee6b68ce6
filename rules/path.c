/*
 * path.c - compiling the rule paths of docs/rules.md once, at load time, so
 * that evaluation only follows pre-split, unescaped segments.
 */
#include <stdlib.h>
#include <string.h>

#include "path.h"

static char *unescape(const char *s, size_t n, const char **why)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (out == NULL) {
		*why = "out of memory";
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '~') {
			out[o++] = s[i];
			continue;
		}
		if (i + 1 < n && s[i + 1] == '0')
			out[o++] = '~';
		else if (i + 1 < n && s[i + 1] == '1')
			out[o++] = '/';
		else {
			free(out);
			*why = "'~' must be followed by 0 or 1";
			return NULL;
		}
		i++;
	}
	out[o] = '\0';
	return out;
}

int path_compile(const char *text, struct path *p, const char **why)
{
	const char *s = text;
	size_t n = 1;

	memset(p, 0, sizeof(*p));
	if (*s == '\0') {
		*why = "empty path";
		return -1;
	}
	p->absolute = *s == '/';
	if (p->absolute)
		s++;
	for (const char *c = s; *c; c++)
		n += *c == '/';
	p->seg = calloc(n, sizeof(*p->seg));
	p->text = strdup(text);
	if (p->seg == NULL || p->text == NULL) {
		*why = "out of memory";
		goto err;
	}
	p->first_wild = n;
	for (size_t i = 0; i < n; i++) {
		const char *end = strchr(s, '/');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (len == 1 && s[0] == '*') {
			p->seg[i].key = NULL;
			if (p->first_wild == n)
				p->first_wild = i;
		} else {
			p->seg[i].key = unescape(s, len, why);
			if (p->seg[i].key == NULL) {
				p->nseg = i;
				goto err;
			}
		}
		p->nseg = i + 1;
		s += len + (end != NULL);
	}
	return 0;
err:
	path_free(p);
	return -1;
}

void path_free(struct path *p)
{
	for (size_t i = 0; i < p->nseg; i++)
		free(p->seg[i].key);
	free(p->seg);
	free(p->text);
	memset(p, 0, sizeof(*p));
}
