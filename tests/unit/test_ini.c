/*
 * test_ini.c - unit tests of common/ini.c, the INI lexer of the
 * configuration and the rules files: line numbers, line ends, the BOM, the
 * 4096-byte limit, comments, and the two header syntaxes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/hash.h"
#include "../../common/ini.h"

static const struct ini_syntax rules = {INI_CONTROL_OK | INI_HEADER_ALONE,
					"rule.id"};

/* Every item as one line "LINE s NAME" / "LINE b" / "LINE p KEY=VALUE" /
 * "LINE x KEY". */
static int collect(void *user, const struct ini_item *item)
{
	char *out = user;
	size_t n = strlen(out);

	switch (item->kind) {
	case INI_SECTION:
		snprintf(out + n, 8192 - n, "%d s %s\n", item->line,
			 item->name);
		break;
	case INI_BAD_SECTION:
		snprintf(out + n, 8192 - n, "%d b\n", item->line);
		break;
	case INI_PAIR:
		snprintf(out + n, 8192 - n, "%d p %s=%s\n", item->line,
			 item->name, item->value);
		break;
	case INI_BAD_PAIR:
		assert_null(item->value);
		snprintf(out + n, 8192 - n, "%d x %s\n", item->line,
			 item->name);
		break;
	}
	return 0;
}

/* Parse text (NUL-terminated) with syntax; check the items and the
 * diagnostics, joined by newlines. */
static void expect(const struct ini_syntax *syntax, const char *text,
		   size_t len, const char *items, const char *errors)
{
	char got[8192] = "", diags[8192] = "";
	struct diag d = DIAG_INIT;
	int rc;

	rc = ini_parse_text("f", text, len, syntax, collect, got, &d);
	for (size_t i = 0, n = 0; i < d.n; i++)
		n += (size_t)snprintf(diags + n, sizeof(diags) - n, "%s\n",
				      d.lines[i]);
	assert_string_equal(got, items);
	assert_string_equal(diags, errors);
	assert_int_equal(rc, (int)d.n);
	diag_clear(&d);
}

#define EXPECT(syntax, text, items, errors)                                    \
	expect(syntax, text, sizeof(text) - 1, items, errors)

static void test_items_and_lines(void **state)
{
	(void)state;
	EXPECT(NULL,
	       "; comment\n# comment\n\n[spool]  # why\n  key = a value  \n"
	       "k2=v ;c\nk3 = a#b;c\r\nk4 =\n",
	       "4 s spool\n5 p key=a value\n6 p k2=v\n7 p k3=a#b;c\n8 p k4=\n",
	       "");
	EXPECT(&rules, "[a]\ntype = sum # why\n", "1 s a\n2 p type=sum\n", "");
	/* no newline at the end; a lone CR inside is not a line end */
	EXPECT(&rules, "[a]\nk = v", "1 s a\n2 p k=v\n", "");
	EXPECT(NULL, "[a]\nk = v\rw\n", "1 s a\n2 x k\n",
	       "f:2: control character in line\n");
	EXPECT(NULL, "k\n= v\n", "2 p =v\n", "f:1: expected 'key = value'\n");
}

static void test_bom(void **state)
{
	(void)state;
	EXPECT(NULL, "\xef\xbb\xbf[spool]\n", "1 s spool\n", "");
	EXPECT(&rules, "\xef\xbb\xbf[a]\n", "1 s a\n", "");
	EXPECT(&rules, "\xef\xbb\xbf# c\n[a]\n", "2 s a\n", "");
	/* only at the start of the file */
	EXPECT(&rules, "[a]\n\xef\xbb\xbf[b]\n", "1 s a\n",
	       "f:2: expected 'key = value'\n");
	/* a BOM alone, or before a line end */
	EXPECT(NULL, "\xef\xbb\xbf", "", "");
	EXPECT(NULL, "\xef\xbb\xbf\r\n[a]\n", "2 s a\n", "");
}

/* The BOM is not part of line 1: 4096 bytes after it are read. */
static void test_bom_and_line_limit(void **state)
{
	char text[3 + INI_MAX_LINE + 16];
	char items[INI_MAX_LINE + 32];
	const struct ini_syntax *syntaxes[] = {NULL, &rules};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		memcpy(text, "\xef\xbb\xbf", 3);
		memset(text + 3, 'v', INI_MAX_LINE);
		memcpy(text + 3, "k=", 2);
		memcpy(text + 3 + INI_MAX_LINE, "\n", 2);
		snprintf(items, sizeof(items), "1 p %s", text + 3);
		expect(syntaxes[i], text, strlen(text), items, "");
		/* one byte more: too long, as without a BOM */
		memset(text + 3, 'v', INI_MAX_LINE + 1);
		memcpy(text + 3, "k=", 2);
		memcpy(text + 3 + INI_MAX_LINE + 1, "\nk=v\n", 6);
		expect(syntaxes[i], text, strlen(text), "1 x k\n2 p k=v\n",
		       "f:1: line too long (more than 4096 bytes)\n");
	}
}

static void test_line_limit(void **state)
{
	char text[INI_MAX_LINE + 16];
	char items[INI_MAX_LINE + 32];
	const struct ini_syntax *syntaxes[] = {NULL, &rules};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		/* exactly INI_MAX_LINE bytes, then "\r\n": read */
		memset(text, 'v', INI_MAX_LINE);
		memcpy(text, "k=", 2);
		memcpy(text + INI_MAX_LINE, "\r\n", 3);
		snprintf(items, sizeof(items), "1 p %s", text);
		items[strlen(items) - 2] = '\n';
		items[strlen(items) - 1] = '\0';
		expect(syntaxes[i], text, strlen(text), items, "");
		/* one byte more: refused (its key goes on, as for a bad
		 * byte), the next line still read */
		memset(text, 'v', INI_MAX_LINE + 1);
		memcpy(text, "k=", 2);
		memcpy(text + INI_MAX_LINE + 1, "\nk=v\n", 6);
		expect(syntaxes[i], text, strlen(text), "1 x k\n2 p k=v\n",
		       "f:1: line too long (more than 4096 bytes)\n");
	}
}

/*
 * A line too long is a refused line: a header is a refused one, so that
 * the keys after it are not taken for the section before (a second
 * "duplicate key" error, or a key set in the wrong section); a key whose
 * '=' comes within the limit is handed over as INI_BAD_PAIR, so that it
 * is not reported missing as well. A line cut in its key says nothing
 * more.
 */
/* Append s to *p, then n bytes c. */
static void put(char **p, const char *s, char c, size_t n)
{
	memcpy(*p, s, strlen(s));
	*p += strlen(s);
	memset(*p, c, n);
	*p += n;
}

static void test_long_line_refused(void **state)
{
	char text[3 * INI_MAX_LINE + 64];
	const struct ini_syntax *syntaxes[] = {NULL, &rules};
	static const char *const errors =
	    "f:2: line too long (more than 4096 bytes)\n"
	    "f:4: line too long (more than 4096 bytes)\n"
	    "f:5: line too long (more than 4096 bytes)\n";

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char *p = text;

		put(&p, "[a]\n[b", 'b', INI_MAX_LINE);
		put(&p, "]\nk = v\nurl = ", 'u', INI_MAX_LINE);
		put(&p, "\n", 'k', INI_MAX_LINE + 1);
		put(&p, " = v\n", 0, 0);
		expect(syntaxes[i], text, (size_t)(p - text),
		       "1 s a\n2 b\n3 p k=v\n4 x url\n", errors);
	}
}

static void test_headers(void **state)
{
	(void)state;
	/* the configuration's: '[' to the first ']', then a comment */
	EXPECT(NULL, "[ webhook a ]#c\n[a ;b]\n", "1 s webhook a\n2 s a ;b\n",
	       "");
	EXPECT(NULL, "[a\n[b] x\n[]\n", "1 b\n2 b\n3 s \n",
	       "f:1: missing ']' in section header\n"
	       "f:2: unexpected text after section header\n");
	/* the rules files': alone on the line, a comment after white space */
	EXPECT(&rules, "[ a.b ]  ; c\n[]\n", "1 s a.b\n2 s \n", "");
	EXPECT(&rules, "[a\n[a]#c\n[a ;b]\n[a]x\n", "1 b\n2 b\n3 b\n4 b\n",
	       "f:1: expected '[rule.id]'\nf:2: expected '[rule.id]'\n"
	       "f:3: expected '[rule.id]'\nf:4: expected '[rule.id]'\n");
}

static void test_bytes(void **state)
{
	(void)state;
	/* control characters are text in rules files, white space at ends */
	EXPECT(&rules, "[a]\nk = \x01v\f\n", "1 s a\n2 p k=\x01v\n", "");
	EXPECT(NULL, "# \x01\n", "", "f:1: control character in line\n");
	/* DEL is one too: refused in the configuration, text in rules */
	EXPECT(NULL, "[a]\nk = v\x7fw\n", "1 s a\n2 x k\n",
	       "f:2: control character in line\n");
	EXPECT(&rules, "[a]\nk = v\x7fw\n", "1 s a\n2 p k=v\x7fw\n", "");
	expect(&rules, "[a]\nk = \0v\n", 10, "1 s a\n2 x k\n",
	       "f:2: NUL byte in line\n");
	expect(NULL, "[a]\nk = \0v\n", 10, "1 s a\n2 x k\n",
	       "f:2: control character in line\n");
}

/* A refused line is reported once, for its first refused byte, and the
 * lines after it are read; its key goes on when it comes before that byte. */
static void test_refused_lines(void **state)
{
	static const struct ini_syntax utf8 = {
	    INI_CONTROL_OK | INI_HEADER_ALONE | INI_UTF8, "rule.id"};

	(void)state;
	EXPECT(&utf8, "[a]\nk = caf\xe9\nj = v\n", "1 s a\n2 x k\n3 p j=v\n",
	       "f:2: not valid UTF-8\n");
	/* the first refused byte names the reason */
	expect(&utf8, "k = a\0\xff\nl = \xff\0\n", 15, "1 x k\n2 x l\n",
	       "f:1: NUL byte in line\nf:2: not valid UTF-8\n");
	/* before the '=', in a comment or a line without '=': the line goes
	 * no further; a header is a refused one (its keys in no section) */
	expect(&utf8,
	       "k\0 = v\n \t# \xe9\n[a\xe9]\nk \xe9\n = \xe9\nk # = \xe9\n"
	       "m: a = \xe9 b\n",
	       46, "3 b\n7 x m: a\n",
	       "f:1: NUL byte in line\nf:2: not valid UTF-8\n"
	       "f:3: not valid UTF-8\nf:4: not valid UTF-8\n"
	       "f:5: not valid UTF-8\nf:6: not valid UTF-8\n"
	       "f:7: not valid UTF-8\n");
	/* a sequence cut by the end of the file; valid UTF-8 is text */
	EXPECT(&utf8, "[a]\nk = \xc3\xa9\nl = \xc3",
	       "1 s a\n2 p k=\xc3\xa9\n3 x l\n", "f:3: not valid UTF-8\n");
	/* without INI_UTF8 the bytes are text */
	EXPECT(&rules, "[a]\nk = caf\xe9\n", "1 s a\n2 p k=caf\xe9\n", "");
}

static int stop(void *user, const struct ini_item *item)
{
	int *calls = user;

	(void)item;
	return ++*calls == 2 ? -1 : 0;
}

static void test_handler_stops(void **state)
{
	struct diag d = DIAG_INIT;
	int calls = 0;

	(void)state;
	assert_int_equal(
	    ini_parse_text("f", "[a]\nk=v\nk=w\n", 12, NULL, stop, &calls, &d),
	    -1);
	assert_int_equal(calls, 2);
	assert_int_equal(d.n, 0);
}

int main(void)
{
	if (hash_init() == -1) /* common/hash.h: a random key */
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_items_and_lines),
	    cmocka_unit_test(test_bom),
	    cmocka_unit_test(test_bom_and_line_limit),
	    cmocka_unit_test(test_line_limit),
	    cmocka_unit_test(test_long_line_refused),
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_bytes),
	    cmocka_unit_test(test_refused_lines),
	    cmocka_unit_test(test_handler_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
