/*
 * strbuf.h - a growable, always NUL-terminated byte string (git's strbuf).
 *
 * Appending never fails loudly: when memory runs out the buffer is marked
 * failed, later appends do nothing, and the owner checks sb.failed once at
 * the end (an out-of-memory is an error path, never a truncated result).
 *
 *   struct strbuf sb = STRBUF_INIT;
 *   sb_adds(&sb, "/missions/");
 *   sb_addf(&sb, "%zu", i);
 *   if (sb.failed) ... no memory ...
 *   use(sb.buf, sb.len);   (sb.buf is NULL while nothing was added)
 *   sb_release(&sb);
 */
#ifndef EXPENSED_STRBUF_H
#define EXPENSED_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct strbuf {
	char *buf;  /* NUL-terminated once anything was added, else NULL */
	size_t len; /* bytes, without the NUL */
	size_t cap;
	bool failed; /* an allocation failed: the content is incomplete */
};

#define STRBUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0, false                                              \
	}

/* Make room for n more bytes (and the NUL). 0, or -1 (failed is set). */
int sb_grow(struct strbuf *sb, size_t n);

void sb_add(struct strbuf *sb, const void *data, size_t n);

/* s, without its NUL. Inline: a literal's length is known when compiled,
 * and what fits the room left is copied there at once. */
static inline void sb_adds(struct strbuf *sb, const char *s)
{
	size_t n = strlen(s);

	/* cap - len is 0 while there is no buffer */
	if (!sb->failed && n < sb->cap - sb->len) {
		memcpy(sb->buf + sb->len, s, n + 1);
		sb->len += n;
		return;
	}
	sb_add(sb, s, n);
}

/* c (inline, as sb_adds). */
static inline void sb_addc(struct strbuf *sb, char c)
{
	if (!sb->failed && sb->cap - sb->len > 1) {
		sb->buf[sb->len++] = c;
		sb->buf[sb->len] = '\0';
		return;
	}
	sb_add(sb, &c, 1);
}

/* v in decimal ("%llu" without the formatting). */
void sb_addu(struct strbuf *sb, unsigned long long v);

void sb_addf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Cut back to len bytes (len <= sb->len). */
void sb_setlen(struct strbuf *sb, size_t len);

/*
 * Hand the string over: returns it (an empty string when nothing was
 * added) and resets sb, or NULL when an append had failed (sb is released).
 * *len gets the length when len is not NULL.
 */
char *sb_detach(struct strbuf *sb, size_t *len);

/* Free the buffer; sb is STRBUF_INIT afterwards. */
void sb_release(struct strbuf *sb);

#endif
