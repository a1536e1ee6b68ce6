/*
 * page_fmt.c - text and values on the verdict page: HTML escaping that
 * also neutralises invalid UTF-8, control and bidi characters, amounts in
 * the page's language and currency, dates, and nodes of any kind.
 */
#include <stdio.h>
#include <string.h>

#include "../common/utf8.h"
#include "../rules/value.h"
#include "page_int.h"

/* Characters shown as a visible [U+XXXX] rather than as themselves: C0
 * and C1 controls (but tab and newline) and the bidi controls, which
 * would otherwise reorder the text around them. */
static bool shown_as_code(unsigned cp)
{
	return (cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7F ||
	       (cp >= 0x80 && cp <= 0x9F) || utf8_bidi_control(cp);
}

/* A byte that stands for itself in a page: printable ASCII but the five
 * that HTML escapes. */
static bool plain_ascii(unsigned char c)
{
	return c >= 0x20 && c < 0x7F && c != '&' && c != '<' && c != '>' &&
	       c != '"' && c != '\'';
}

/* page_escape() of the n bytes at s, as long as it makes at most room
 * bytes: how many bytes of s were escaped (n: all of them). */
static size_t escape_n(struct strbuf *sb, const char *s, size_t n, size_t room)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		/* a run of printable ASCII that needs no escaping, at once */
		size_t j = i;
		while (j < n && j - i < room && plain_ascii(u[j]))
			j++;
		if (j > i) {
			sb_add(sb, s + i, j - i);
			room -= j - i;
			i = j;
			continue;
		}
		size_t k = utf8_seq_len(u + i, n - i);
		unsigned cp = k ? utf8_decode(u + i, k) : 0xFFFD;
		char code[16];
		const char *rep = k == 0       ? "\xef\xbf\xbd" /* U+FFFD */
				  : cp == '&'  ? "&amp;"
				  : cp == '<'  ? "&lt;"
				  : cp == '>'  ? "&gt;"
				  : cp == '"'  ? "&quot;"
				  : cp == '\'' ? "&#39;"
				  : shown_as_code(cp) ? code
						      : NULL;
		size_t len;

		if (rep == code)
			snprintf(code, sizeof(code), "[U+%04X]", cp);
		len = rep ? strlen(rep) : k;
		if (len > room)
			break;
		room -= len;
		sb_add(sb, rep ? rep : s + i, len);
		i += k ? k : 1;
	}
	return i;
}

const char *pg_tr(struct pg *p, const char *msgid)
{
	const char *text;

	if (p->lang == LANG_EN)
		return msgid; /* English is the msgid (i18n.h) */
	for (size_t i = 0; i < p->ntr; i++)
		if (p->tr[i].msgid == msgid)
			return p->tr[i].text;
	text = i18n_tr(p->lang, msgid);
	if (p->ntr < PG_TR_MEMO) {
		p->tr[p->ntr].msgid = msgid;
		p->tr[p->ntr++].text = text;
	}
	return text;
}

/* fmt with s, or n when s is NULL, in place of its conversion: copied
 * around it when it is fmt's one conversion (%s, %zu), else formatted. */
static void fill(struct pg *p, const char *fmt, const char *s, size_t n)
{
	const char *conv = s ? "%s" : "%zu", *at = strchr(fmt, '%');
	size_t k = strlen(conv);

	if (at == NULL || strncmp(at, conv, k) != 0 || strchr(at + k, '%')) {
		if (s)
			sb_addf(p->out, fmt, s);
		else
			sb_addf(p->out, fmt, n);
		return;
	}
	sb_add(p->out, fmt, (size_t)(at - fmt));
	if (s)
		sb_adds(p->out, s);
	else
		sb_addu(p->out, n);
	sb_adds(p->out, at + k);
}

void pg_fmt_zu(struct pg *p, const char *fmt, size_t n)
{
	fill(p, fmt, NULL, n);
}

void pg_fmt_s(struct pg *p, const char *fmt, const char *s)
{
	fill(p, fmt, s, 0);
}

void page_escape(struct strbuf *out, const char *s)
{
	escape_n(out, s, strlen(s), SIZE_MAX);
}

void pg_text(struct pg *p, const char *s, size_t max)
{
	size_t n = strlen(s), cut = max ? utf8_cut(s, n, max) : n;

	if (escape_n(p->out, s, cut, max ? max : SIZE_MAX) < n)
		sb_adds(p->out, "\xe2\x80\xa6"); /* U+2026 */
}

void pg_text_n(struct pg *p, const char *s, size_t n)
{
	escape_n(p->out, s, n, SIZE_MAX);
}

void pg_str(struct pg *p, const char *s, size_t max)
{
	sb_adds(p->out, "<bdi>");
	pg_text(p, s, max);
	sb_adds(p->out, "</bdi>");
}

const char *pg_date_text(const struct pg *p, const char *s, char *buf,
			 size_t size)
{
	/* English: as it is (i18n_date) */
	return p->lang == LANG_EN ? s : i18n_date(p->lang, s, buf, size);
}

void pg_date(struct pg *p, const char *s)
{
	char buf[32];

	sb_adds(p->out, pg_date_text(p, s, buf, sizeof(buf)));
}

void pg_amount(struct pg *p, int64_t cents)
{
	static const char euro[] = "\xc2\xa0\xe2\x82\xac"; /* NBSP U+20AC */
	const char *cur = p->currency;
	uint64_t mag;
	char buf[96];
	size_t n;

	if (p->lang == LANG_EN) {
		/* i18n_amount's English, the result document's "-1177.87",
		 * without the formatting */
		mag =
		    cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
		if (cents < 0)
			sb_addc(p->out, '-');
		sb_addu(p->out, mag / 100);
		buf[0] = '.';
		buf[1] = (char)('0' + mag % 100 / 10);
		buf[2] = (char)('0' + mag % 10);
		sb_add(p->out, buf, 3);
		return;
	}
	i18n_amount(p->lang, cents, buf, sizeof(buf));
	n = strlen(buf);
	if (cur == NULL || n < sizeof(euro) - 1 ||
	    strcmp(buf + n - (sizeof(euro) - 1), euro) != 0) {
		sb_adds(p->out, buf);
		return;
	}
	/* French words for another currency: its code after the number */
	sb_add(p->out, buf, n - (sizeof(euro) - 1));
	sb_adds(p->out, "\xc2\xa0");
	pg_str(p, cur, 8);
}

/* v in decimal, as "%lld" writes it. */
static void pg_integer(struct pg *p, long long v)
{
	if (v < 0)
		sb_addc(p->out, '-');
	/* the magnitude, LLONG_MIN's included */
	sb_addu(p->out,
		v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
}

void pg_none(struct pg *p)
{
	p->css |= PG_CSS_NONE;
	sb_adds(p->out, "<span class=\"none\">\xe2\x80\x94</span>");
}

void pg_note(struct pg *p)
{
	p->css |= PG_CSS_NOTE;
	sb_adds(p->out, "<p class=\"note\">");
}

/* A node that is not of the column's kind, as it is in the file. */
static void describe(struct pg *p, const json_t *node)
{
	char digits[32];

	p->css |= PG_CSS_ODD;
	sb_adds(p->out, "<code class=\"odd\">");
	switch (json_typeof(node)) {
	case JSON_STRING:
		sb_addc(p->out, '"');
		pg_str(p, json_string_value(node), PAGE_MAX_TEXT);
		sb_addc(p->out, '"');
		break;
	case JSON_INTEGER:
		pg_integer(p, json_integer_value(node));
		break;
	case JSON_REAL: /* as the finding's message writes it */
		sb_adds(p->out, real_format(json_real_value(node), digits,
					    sizeof(digits)));
		break;
	case JSON_TRUE:
		sb_adds(p->out, "true");
		break;
	case JSON_FALSE:
		sb_adds(p->out, "false");
		break;
	case JSON_NULL:
		sb_adds(p->out, "null");
		break;
	case JSON_OBJECT:
		sb_adds(p->out, "{\xe2\x80\xa6}");
		break;
	case JSON_ARRAY:
		sb_adds(p->out, "[\xe2\x80\xa6]");
		break;
	}
	sb_adds(p->out, "</code>");
}

void pg_value(struct pg *p, const json_t *node, enum pg_kind kind)
{
	const char *s = json_string_value(node);
	int64_t v;

	if (node == NULL) {
		pg_none(p);
		return;
	}
	switch (kind) {
	case PG_DATE:
		if (s != NULL && date_parse(s, &v) == 0) {
			pg_date(p, s);
			return;
		}
		break;
	case PG_AMOUNT:
		if (amount_from_json(node, &v) == 0) {
			pg_amount(p, v);
			return;
		}
		break;
	case PG_INTEGER:
		if (integer_from_json(node, &v) == 0) {
			pg_integer(p, v);
			return;
		}
		break;
	case PG_TEXT:
		if (s != NULL) {
			pg_str(p, s, PAGE_MAX_TEXT);
			return;
		}
		break;
	case PG_CONTAINER:
		break;
	}
	describe(p, node);
}
