/*
 * utf8.c - UTF-8 validation (utf8.h), written once for the engine, the
 * logs and the webhook texts.
 */
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t len;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		len = utf8_seq_len(s + i, n - i);
		if (len == 0)
			return i;
		i += len;
	}
	return i;
}

unsigned utf8_decode(const unsigned char *s, size_t len)
{
	static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	unsigned cp;

	if (len == 0 || len > 4)
		return 0xfffd;
	cp = s[0] & lead_mask[len];
	for (size_t i = 1; i < len; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	return cp;
}

bool utf8_bidi_control(unsigned cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = max;

	if (len <= max)
		return len;
	while (n > 0 && max - n < 3 && (u[n] & 0xc0) == 0x80)
		n--;
	/* four continuation bytes in a row: no sequence to keep whole */
	return (u[n] & 0xc0) == 0x80 ? max : n;
}

char *utf8_lossy_dup(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), n = 0;
	char *buf;

	if (utf8_valid_prefix(p, len) == len)
		return strdup(s);
	buf = malloc(len * 3 + 1);
	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t ok = utf8_valid_prefix(p + i, len - i);
		memcpy(buf + n, p + i, ok);
		n += ok;
		i += ok;
		if (i < len) {
			memcpy(buf + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		}
	}
	buf[n] = '\0';
	return buf;
}
