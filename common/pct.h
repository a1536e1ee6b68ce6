/*
 * pct.h - %HH escapes (RFC 3986's percent-encoding) read back: the one
 * decoder, for the fields of state/pages-index (page_index.c) and a result
 * document's archived_as_bytes (spool_name.c). Each writer picks what it
 * escapes; '%' itself always is.
 */
#ifndef EXPENSED_PCT_H
#define EXPENSED_PCT_H

#include <stddef.h>

/*
 * The n bytes at s, each "%HH" (two hex digits, either case) made the byte
 * it stands for, into dst (size bytes, NUL-terminated). The length written,
 * or -1 when a '%' is not followed by two hex digits, stands for a NUL
 * (%00), or dst is too small.
 */
int pct_decode(const char *s, size_t n, char *dst, size_t size);

#endif
