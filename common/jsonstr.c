/*
 * jsonstr.c - a JSON string written straight into a strbuf (jsonstr.h).
 */
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
