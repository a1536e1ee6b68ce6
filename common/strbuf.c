/*
 * strbuf.c - the growable string of strbuf.h: one implementation for the
 * pointers, messages, chat texts and log lines that every module builds.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

int sb_grow(struct strbuf *sb, size_t n)
{
	size_t need, cap;
	char *b;

	if (sb->failed)
		return -1;
	if (n > (size_t)-1 / 2 - sb->len - 1)
		goto fail;
	need = sb->len + n + 1;
	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	b = realloc(sb->buf, cap);
	if (b == NULL)
		goto fail;
	sb->buf = b;
	sb->cap = cap;
	return 0;
fail:
	sb->failed = true;
	return -1;
}

void sb_add(struct strbuf *sb, const void *data, size_t n)
{
	/* sb_grow() only when the room left (cap - len, 0 without a
	 * buffer) cannot take n bytes and the NUL, or to refuse a failed sb */
	if ((sb->failed || sb->cap - sb->len <= n) && sb_grow(sb, n) == -1)
		return;
	if (n > 0)
		memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sb_addu(struct strbuf *sb, unsigned long long v)
{
	char digits[24], *d = digits + sizeof(digits);

	do
		*--d = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	sb_add(sb, d, (size_t)(digits + sizeof(digits) - d));
}

void sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (sb->failed)
		return;
	/* format straight into the room left (most appends fit: one pass),
	 * and only when it did not fit, grow and format again */
	room = sb->buf != NULL ? sb->cap - sb->len : 0;
	va_start(ap, fmt);
	n = vsnprintf(room ? sb->buf + sb->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->failed = true;
		return;
	}
	if ((size_t)n < room) {
		sb->len += (size_t)n;
		return;
	}
	if (sb_grow(sb, (size_t)n) == -1) {
		if (sb->buf != NULL)
			sb->buf[sb->len] = '\0'; /* the cut try undone */
		return;
	}
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void sb_setlen(struct strbuf *sb, size_t len)
{
	if (sb->buf == NULL || len > sb->len)
		return;
	sb->len = len;
	sb->buf[len] = '\0';
}

char *sb_detach(struct strbuf *sb, size_t *len)
{
	char *s;

	if (!sb->failed && sb->buf == NULL)
		sb_grow(sb, 0);
	if (sb->failed) {
		sb_release(sb);
		return NULL;
	}
	s = sb->buf;
	s[sb->len] = '\0';
	if (len != NULL)
		*len = sb->len;
	*sb = (struct strbuf)STRBUF_INIT;
	return s;
}

void sb_release(struct strbuf *sb)
{
	free(sb->buf);
	*sb = (struct strbuf)STRBUF_INIT;
}
