/*
 * jsonstr.c - a JSON string written straight into a strbuf (jsonstr.h).
 */
#include <stdlib.h>
#include <string.h>

#include "jsonmem.h"
#include "jsonstr.h"

/* Whether byte c is written as it is inside a JSON string. */
static int plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

void sb_add_json_string(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0;

	sb_addc(sb, '"');
	while (i < len) {
		size_t run = i;
		unsigned char c;
		char esc[6] = {'\\', 'u', '0', '0', 0, 0};

		/* runs of plain bytes copied at once */
		while (run < len && plain((unsigned char)s[run]))
			run++;
		sb_add(sb, s + i, run - i);
		if (run == len)
			break;
		c = (unsigned char)s[run];
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			sb_add(sb, esc, 2);
			break;
		case '\b':
			sb_add(sb, "\\b", 2);
			break;
		case '\f':
			sb_add(sb, "\\f", 2);
			break;
		case '\n':
			sb_add(sb, "\\n", 2);
			break;
		case '\r':
			sb_add(sb, "\\r", 2);
			break;
		case '\t':
			sb_add(sb, "\\t", 2);
			break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			sb_add(sb, esc, 6);
		}
		i = run + 1;
	}
	sb_addc(sb, '"');
}

#define INDENT 2

/* A newline, then depth levels of indentation. */
static void newline(struct strbuf *sb, size_t depth)
{
	static const char spaces[] = "                                ";
	size_t n = depth * INDENT;

	sb_addc(sb, '\n');
	for (; n > sizeof(spaces) - 1; n -= sizeof(spaces) - 1)
		sb_add(sb, spaces, sizeof(spaces) - 1);
	sb_add(sb, spaces, n);
}

/* v at depth (json_dumps' do_dump() with JSON_INDENT(2)). */
static int dump(struct strbuf *sb, const json_t *v, size_t depth)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		void *it = json_object_iter((json_t *)v);
		if (it == NULL) {
			sb_adds(sb, "{}");
			return 0;
		}
		sb_addc(sb, '{');
		for (void *first = it; it != NULL;
		     it = json_object_iter_next((json_t *)v, it)) {
			if (it != first)
				sb_addc(sb, ',');
			newline(sb, depth + 1);
			sb_add_json_string(sb, json_object_iter_key(it),
					   json_object_iter_key_len(it));
			sb_add(sb, ": ", 2);
			if (dump(sb, json_object_iter_value(it), depth + 1) ==
			    -1)
				return -1;
		}
		newline(sb, depth);
		sb_addc(sb, '}');
		return 0;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		if (n == 0) {
			sb_adds(sb, "[]");
			return 0;
		}
		sb_addc(sb, '[');
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				sb_addc(sb, ',');
			newline(sb, depth + 1);
			if (dump(sb, json_array_get(v, i), depth + 1) == -1)
				return -1;
		}
		newline(sb, depth);
		sb_addc(sb, ']');
		return 0;
	}
	case JSON_STRING:
		sb_add_json_string(sb, json_string_value(v),
				   json_string_length(v));
		return 0;
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);
		if (i < 0) {
			sb_addc(sb, '-');
			sb_addu(sb, 0ULL - (unsigned long long)i);
		} else {
			sb_addu(sb, (unsigned long long)i);
		}
		return 0;
	}
	case JSON_TRUE:
		sb_adds(sb, "true");
		return 0;
	case JSON_FALSE:
		sb_adds(sb, "false");
		return 0;
	case JSON_NULL:
		sb_adds(sb, "null");
		return 0;
	default: { /* a real: Jansson's own digits */
		char *text = json_dumps_checked(v, JSON_ENCODE_ANY);
		if (text == NULL)
			return -1;
		sb_adds(sb, text);
		free(text);
		return 0;
	}
	}
}

int sb_add_json_indented(struct strbuf *sb, const json_t *v)
{
	if (dump(sb, v, 0) == -1)
		return -1;
	return sb->failed ? -1 : 0;
}
