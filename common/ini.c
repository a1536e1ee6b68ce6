/*
 * ini.c - the INI lexer shared by the configuration and the rules files
 * (ini.h, docs/ini.md). It replaces libinih, whose packaged build has a
 * 200-byte line buffer and tells its callback no line numbers: both readers
 * had grown a line reader in front of it that did all the work anyway.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ini.h"
#include "utf8.h"

#define BOM "\xef\xbb\xbf"

struct lexer {
	const char *file;
	const struct ini_syntax *syntax;
	ini_handler cb;
	void *user;
	struct diag *diag;
	int line;
	int reported; /* lines reported in diag */
};

static const struct ini_syntax default_syntax = {0, NULL};

static void report(struct lexer *lx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(struct lexer *lx, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_at(lx->diag, lx->file, lx->line, "%s", msg);
	lx->reported++;
}

/* Blank: what a line, a header and a comment are trimmed of. */
static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Keys and values are trimmed of isspace() too, as libinih did: it matters
 * only where control characters are text (INI_CONTROL_OK). */
static int is_space(char c)
{
	return is_blank(c) || c == '\v' || c == '\f';
}

static char *skip_blank(char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

static char *trim_by(char *s, int (*is)(char))
{
	char *end;

	while (is(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is(end[-1]))
		*--end = '\0';
	return s;
}

/* A "# ..." or "; ..." comment starts at white space followed by # or ;. */
static void strip_comment(char *s)
{
	for (char *p = s + 1; *p != '\0'; p++) {
		if ((*p == '#' || *p == ';') &&
		    (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

static int emit(struct lexer *lx, enum ini_kind kind, const char *name,
		const char *value)
{
	struct ini_item item = {kind, lx->line, name, value};

	return lx->cb(lx->user, &item);
}

/* A header read on the raw line: '[' to the first ']', then a comment or
 * nothing. s starts at '['. */
static int header_loose(struct lexer *lx, char *s)
{
	char *close = strchr(s, ']');
	char *rest;

	if (close == NULL) {
		report(lx, "missing ']' in section header");
		return emit(lx, INI_BAD_SECTION, NULL, NULL);
	}
	rest = skip_blank(close + 1);
	if (*rest != '\0' && *rest != '#' && *rest != ';') {
		report(lx, "unexpected text after section header");
		return emit(lx, INI_BAD_SECTION, NULL, NULL);
	}
	*close = '\0';
	return emit(lx, INI_SECTION, trim_by(s + 1, is_blank), NULL);
}

/* A header alone on its line; s is trimmed, without its comment. */
static int header_alone(struct lexer *lx, char *s)
{
	char *close = strchr(s, ']');

	if (close == NULL || close[1] != '\0') {
		report(lx, "expected '[%s]'", lx->syntax->header_form);
		return emit(lx, INI_BAD_SECTION, NULL, NULL);
	}
	*close = '\0';
	return emit(lx, INI_SECTION, trim_by(s + 1, is_blank), NULL);
}

/* The offset of the first byte of s[0..n) that the syntax refuses, n when
 * there is none; *why says why. */
static size_t first_refused(const struct lexer *lx, const char *s, size_t n,
			    const char **why)
{
	unsigned flags = lx->syntax->flags;
	size_t valid = n;

	if (flags & INI_UTF8)
		valid = utf8_valid_prefix((const unsigned char *)s, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		*why = "not valid UTF-8";
		if (i == valid)
			return i;
		*why = "NUL byte in line";
		if (c == '\0' && (flags & INI_CONTROL_OK))
			return i;
		*why = "control character in line";
		if (!(flags & INI_CONTROL_OK) &&
		    ((c < 0x20 && c != '\t') || c == 0x7f))
			return i;
	}
	return n;
}

/*
 * A line refused for its byte at s[bad], reported already: nothing more is
 * said of it. Only its key, when it is a "key = value" line whose '=' comes
 * before that byte, goes on as INI_BAD_PAIR, so that the key is not
 * reported missing too; a header goes on as INI_BAD_SECTION, so that the
 * keys after it are not taken for the section before.
 */
static int refused_line(struct lexer *lx, char *s, size_t bad)
{
	char *eq;

	s[bad] = '\0';
	s = skip_blank(s);
	if (*s == '[') /* the keys that follow are in no section */
		return emit(lx, INI_BAD_SECTION, NULL, NULL);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	strip_comment(s);
	eq = strchr(s, '=');
	if (eq == NULL)
		return 0;
	*eq = '\0';
	s = trim_by(s, is_space);
	if (*s == '\0')
		return 0;
	return emit(lx, INI_BAD_PAIR, s, NULL);
}

/* One line of n bytes at s (NUL-terminated, no line end). */
static int lex_line(struct lexer *lx, char *s, size_t n)
{
	const char *why = NULL;
	size_t bad = first_refused(lx, s, n, &why);
	char *eq;

	if (bad < n) {
		report(lx, "%s", why);
		return refused_line(lx, s, bad);
	}
	s = skip_blank(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[' && !(lx->syntax->flags & INI_HEADER_ALONE))
		return header_loose(lx, s);
	strip_comment(s);
	s = trim_by(s, is_blank);
	if (*s == '[')
		return header_alone(lx, s);
	eq = strchr(s, '=');
	if (eq == NULL) {
		report(lx, "expected 'key = value'");
		return 0;
	}
	*eq = '\0';
	return emit(lx, INI_PAIR, trim_by(s, is_space),
		    trim_by(eq + 1, is_space));
}

/*
 * A line longer than INI_MAX_LINE at start: reported, and refused as a line
 * with a bad byte is, on what fits in buf (INI_MAX_LINE + 1 bytes): a
 * header is a refused one, so that its keys are not taken for the section
 * before it, and a key whose '=' comes before the limit (and before any
 * byte refused on its own) is handed over, so that it is not missing too.
 */
static int too_long(struct lexer *lx, char *buf, const char *start)
{
	const char *why;
	size_t bad;

	report(lx, "line too long (more than %d bytes)", INI_MAX_LINE);
	memcpy(buf, start, INI_MAX_LINE);
	buf[INI_MAX_LINE] = '\0';
	bad = first_refused(lx, buf, INI_MAX_LINE, &why);
	return refused_line(lx, buf, bad);
}

int ini_parse_text(const char *name, const char *text, size_t len,
		   const struct ini_syntax *syntax, ini_handler cb, void *user,
		   struct diag *diag)
{
	struct lexer lx = {name, syntax, cb, user, diag, 0, 0};
	char buf[INI_MAX_LINE + 1];
	size_t pos = 0;

	if (lx.syntax == NULL)
		lx.syntax = &default_syntax;
	/* before line 1, so that it does not count toward its limit */
	if (len >= 3 && memcmp(text, BOM, 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - start) : len - pos;

		pos += n + (nl != NULL);
		lx.line++;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > INI_MAX_LINE) {
			if (too_long(&lx, buf, start) == -1)
				return -1;
			continue;
		}
		memcpy(buf, start, n);
		buf[n] = '\0';
		if (lex_line(&lx, buf, n) == -1)
			return -1;
	}
	return lx.reported;
}
