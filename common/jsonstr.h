/*
 * jsonstr.h - a JSON string written straight into a strbuf, for text that
 * is built by hand rather than dumped from a Jansson tree: a delivery file
 * holds its payload, some kilobytes of JSON, as one string, and
 * json_dumps() escapes it a character at a time.
 *
 * The bytes are written as json_dumps() writes a string (without
 * JSON_ENSURE_ASCII): '"' and '\\' escaped, the controls below U+0020 as
 * \b \f \n \r \t or \u00XX, everything else as it is. The caller passes
 * valid UTF-8 (utf8_valid_prefix(), common/utf8.h), as Jansson requires.
 */
#ifndef EXPENSED_JSONSTR_H
#define EXPENSED_JSONSTR_H

#include <stddef.h>

#include <jansson.h>

#include "strbuf.h"

/* Append s (len bytes) to sb as a quoted JSON string. */
void sb_add_json_string(struct strbuf *sb, const char *s, size_t len);

/*
 * Append v to sb as json_dumps(v, JSON_INDENT(2)) writes it, the same
 * bytes (objects in their keys' order, as Jansson keeps it), without
 * Jansson's output callback per piece and escaping per character: a
 * result document is dumped for every file judged. A real number is
 * handed to json_dumps() itself. 0, or -1 when memory ran out (sb.failed,
 * or Jansson's dump of a real failed).
 */
int sb_add_json_indented(struct strbuf *sb, const json_t *v);

#endif
