/*
 * test_rules.c - unit tests of the engine's building blocks: amounts, dates,
 * value equality and hashing, paths, and every error the rules parser reports
 * (FILE:LINE: reason).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libgen.h>
#include <stdio.h>

#include "../../common/hash.h"
#include "../../rules/engine.h"
#include "../../rules/jsonerr.h"
#include "../../rules/path.h"
#include "../../rules/value.h"

static int64_t amt(const char *s)
{
	int64_t c = -999;
	assert_int_equal(amount_parse(s, &c), 0);
	return c;
}

static void test_amount_strings(void **state)
{
	(void)state;
	assert_int_equal(amt("1177.87"), 117787);
	assert_int_equal(amt("-5.00"), -500);
	assert_int_equal(amt("12"), 1200);
	assert_int_equal(amt("12.5"), 1250);
	assert_int_equal(amt("-0.00"), 0);
	assert_int_equal(amt("0.1") + amt("0.2"), amt("0.30"));
	assert_int_equal(amt("1000000000000"), 100000000000000LL);
	assert_int_equal(amt("-1000000000000.00"), -100000000000000LL);
	int64_t c;
	const char *bad[] = {"10.005",
			     "1 177,87",
			     "+5",
			     "1e2",
			     "",
			     "-",
			     ".5",
			     "5.",
			     "1,00",
			     "€5",
			     " 5",
			     "5 ",
			     "1000000000000.01",
			     "99999999999999999999999",
			     "0x10",
			     "--5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(amount_parse(bad[i], &c), -1);
}

static void test_amount_json(void **state)
{
	(void)state;
	int64_t c;
	json_t *v;

	v = json_real(1177.87);
	assert_int_equal(amount_from_json(v, &c), 0);
	assert_int_equal(c, 117787);
	json_decref(v);
	v = json_real(10.005);
	assert_int_equal(amount_from_json(v, &c), -1);
	json_decref(v);
	v = json_real(1e2);
	assert_int_equal(amount_from_json(v, &c), 0);
	assert_int_equal(c, 10000);
	json_decref(v);
	v = json_integer(4);
	assert_int_equal(amount_from_json(v, &c), 0);
	assert_int_equal(c, 400);
	json_decref(v);
	v = json_integer(1000000000001LL);
	assert_int_equal(amount_from_json(v, &c), -1);
	json_decref(v);
	v = json_true();
	assert_int_equal(amount_from_json(v, &c), -1);
	v = json_null();
	assert_int_equal(amount_from_json(v, &c), -1);
	char buf[32];
	assert_string_equal(amount_format(-500, buf, sizeof(buf)), "-5.00");
	assert_string_equal(amount_format(7, buf, sizeof(buf)), "0.07");
	assert_string_equal(amount_format(13910894, buf, sizeof(buf)),
			    "139108.94");
}

static void test_dates(void **state)
{
	(void)state;
	int64_t d, e;
	char buf[16];

	assert_int_equal(date_parse("1970-01-01", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(date_parse("2016-02-29", &d), 0);
	assert_int_equal(date_parse("2016-03-01", &e), 0);
	assert_int_equal(e - d, 1);
	assert_int_equal(date_parse("2017-02-29", &d), -1);
	assert_int_equal(date_parse("2017-13-01", &d), -1);
	assert_int_equal(date_parse("2017-1-01", &d), -1);
	assert_int_equal(date_parse("0000-01-01", &d), -1);
	assert_int_equal(date_parse("1900-02-29", &d), -1);
	assert_int_equal(date_parse("2000-02-29", &d), 0);
	assert_int_equal(date_parse("2017-04-31", &d), -1);
	assert_int_equal(date_parse("2017-10-19 ", &d), -1);
	assert_int_equal(date_parse("0001-01-01", &d), 0);
	assert_string_equal(date_format(d, buf, sizeof(buf)), "0001-01-01");
	assert_int_equal(date_parse("9999-12-31", &d), 0);
	assert_string_equal(date_format(d, buf, sizeof(buf)), "9999-12-31");
	assert_int_equal(date_parse("2017-11-10", &e), 0);
	assert_int_equal(date_parse("2017-11-04", &d), 0);
	assert_int_equal(e - d + 1, 7);
}

/* unique relies on it: values that compare equal hash equal. */
static void test_value_hash(void **state)
{
	(void)state;
	const char *same[][2] = {
	    {"\"12.50\"", "12.5"},
	    {"12", "12.0"},
	    {"\"7\"", "7"},
	    {"1e13", "10000000000000"},
	    {"-0.0", "0"},
	    {"{\"a\":1,\"b\":[2]}", "{\"b\":[2],\"a\":1}"},
	    {"[\"x\",null]", "[\"x\",null]"},
	    {"true", "true"},
	    {"[9007199254740992]", "[9007199254740992.0]"},
	    {"[-9223372036854775808]", "[-9223372036854775808.0]"},
	    {"[0]", "[-0.0]"},
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		json_t *a = json_loads(same[i][0], JSON_DECODE_ANY, NULL);
		json_t *b = json_loads(same[i][1], JSON_DECODE_ANY, NULL);
		assert_non_null(a);
		assert_non_null(b);
		assert_true(value_equal(a, b));
		assert_true(value_hash(a) == value_hash(b));
		json_decref(a);
		json_decref(b);
	}
	/* numbers by their exact value: no double stands for two integers */
	const char *differ[][2] = {
	    {"\"abc\"", "\"abd\""},
	    {"9007199254740993", "9007199254740992.0"},
	    {"9007199254740993", "9007199254740992"},
	    {"[4611686018427387904]", "[4611686018427387905]"},
	    {"{\"a\":9223372036854775807}", "{\"a\":9223372036854775806}"},
	    {"9223372036854775807", "9223372036854775808.0"},
	};
	for (size_t i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		json_t *a = json_loads(differ[i][0], JSON_DECODE_ANY, NULL);
		json_t *b = json_loads(differ[i][1], JSON_DECODE_ANY, NULL);
		assert_non_null(a);
		assert_non_null(b);
		assert_false(value_equal(a, b));
		assert_true(value_hash(a) != value_hash(b));
		json_decref(a);
		json_decref(b);
	}
}

static void test_paths(void **state)
{
	(void)state;
	struct path p;
	const char *why;

	assert_int_equal(path_compile("/missions/*/cost", &p, &why), 0);
	assert_true(p.absolute);
	assert_int_equal(p.nseg, 3);
	assert_string_equal(p.seg[0].key, "missions");
	assert_null(p.seg[1].key);
	assert_int_equal(p.first_wild, 1);
	path_free(&p);
	assert_int_equal(path_compile("a~1b/c~0d", &p, &why), 0);
	assert_false(p.absolute);
	assert_string_equal(p.seg[0].key, "a/b");
	assert_string_equal(p.seg[1].key, "c~d");
	assert_false(path_has_wildcard(&p));
	path_free(&p);
	assert_int_equal(path_compile("/", &p, &why), 0);
	assert_int_equal(p.nseg, 1);
	assert_string_equal(p.seg[0].key, "");
	path_free(&p);
	assert_int_equal(path_compile("", &p, &why), -1);
	assert_int_equal(path_compile("/a~2", &p, &why), -1);
	assert_int_equal(path_compile("/a~", &p, &why), -1);
}

/* Load text as a rule set and expect exactly the one diagnostic line. */
static void expect_error(const char *text, const char *line)
{
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;

	assert_int_equal(ruleset_load_text("t.rules", text, &rs, &d), -1);
	assert_null(rs);
	if (d.n < 1 || strcmp(d.lines[0], line) != 0) {
		for (size_t i = 0; i < d.n; i++)
			print_message("got: %s\n", d.lines[i]);
		fail_msg("expected: %s", line);
	}
	diag_clear(&d);
}

static void test_parser_errors(void **state)
{
	(void)state;
	expect_error("[a]\ntype = summ\n",
		     "t.rules:2: unknown type 'summ' (expected sum, count, "
		     "within, order, limit, required, unique or enum)");
	expect_error("[a]\ntype = sum\nitems = /x\nequals = /y\nfoo = 1\n",
		     "t.rules:5: unknown key 'foo' in rule 'a'");
	expect_error("[a]\ntype = order\nfirst = /x\nsecond = /y\nitems = /z\n",
		     "t.rules:5: key 'items' does not apply to type 'order' "
		     "(rule 'a')");
	expect_error("# c\n[a]\ntype = sum\nitems = /x\n",
		     "t.rules:2: rule 'a' (sum) is missing operand 'equals'");
	expect_error("[a]\ntype = limit\nvalue = /x\n",
		     "t.rules:1: rule 'a' (limit) is missing operand 'min' or "
		     "'max'");
	expect_error("[a]\nseverity = warning\n",
		     "t.rules:1: rule 'a' has no 'type'");
	expect_error("[a]\ntype = sum\nitems = /x/~2\nequals = /y\n",
		     "t.rules:3: bad path '/x/~2' in 'items': '~' must be "
		     "followed by 0 or 1");
	expect_error(
	    "[a]\ntype = sum\nitems = /x\nequals = /y/*\n",
	    "t.rules:4: bad path '/y/*' in 'equals': it takes a single "
	    "node, no '*'");
	expect_error("[a]\ntype = sum\nitems = /x\nequals = 10.005\n",
		     "t.rules:4: bad literal '10.005' in 'equals' (expected an "
		     "amount)");
	expect_error("[a]\ntype = order\nfirst = 2017-02-29\nsecond = /y\n",
		     "t.rules:3: bad literal '2017-02-29' in 'first' (expected "
		     "a date)");
	expect_error("[a]\ntype = count\nitems = /x/*\nequals = 1.5\n",
		     "t.rules:4: bad literal '1.5' in 'equals' (expected an "
		     "integer)");
	expect_error("[a]\ntype = limit\nvalue = /x\nmax = abc\n",
		     "t.rules:4: bad literal 'abc' in 'max' (expected an "
		     "amount)");
	expect_error("[a]\ntype = enum\nitems = /x\nvalues = a\n\n[a]\ntype = "
		     "enum\nitems = /y\nvalues = b\n",
		     "t.rules:6: duplicate rule id 'a' (first at line 1)");
	expect_error("[a]\ntype = count\nitems = /x/*\nequals = 1\nwhere = "
		     "role\n",
		     "t.rules:5: bad where 'role' (expected field=value)");
	expect_error("[a]\ntype = count\nitems = /x/*\nequals = 1\nwhere = "
		     "=x\n",
		     "t.rules:5: bad where '=x' (expected field=value)");
	expect_error(
	    "[a]\ntype = required\nfields = a:str\n",
	    "t.rules:3: bad field 'a:str': unknown kind (expected "
	    "string, integer, amount, date, array, object or boolean)");
	expect_error("[a]\ntype = required\nfields = a\n",
		     "t.rules:3: bad field 'a' (expected path:kind)");
	expect_error("[a]\ntype = enum\nitems = /x\nvalues = a,,b\n",
		     "t.rules:4: bad list in 'values': empty element or more "
		     "than 256");
	expect_error("[a]\ntype = enum\nitems = /x\nvalues = a\nseverity = "
		     "fatal\n",
		     "t.rules:5: bad severity 'fatal' (expected error, warning "
		     "or info)");
	expect_error("[a]\ntype = enum\nitems = /x\nvalues = a\nenabled = "
		     "maybe\n",
		     "t.rules:5: bad enabled 'maybe' (expected yes or no)");
	expect_error("[a]\ntype = enum\nitems = /x\nvalues = a\ntype = sum\n",
		     "t.rules:5: duplicate key 'type' in rule 'a' (first at "
		     "line 2)");
	expect_error("type = sum\n",
		     "t.rules:1: 'key = value' before any [rule.id] section");
	expect_error("[a\n", "t.rules:1: expected '[rule.id]'");
	expect_error("[a]\ntype = within\nitems = d\nfrom = /a\nto = /b\n"
		     "slack = -1\n",
		     "t.rules:6: bad literal '-1' in 'slack' (expected a "
		     "number of days, 0 or more)");
	expect_error("[a]\ntype = sum\nitems = 12\nequals = /y\n",
		     "t.rules:3: bad path '12' in 'items': a path is expected, "
		     "not a literal");
	expect_error("[a]\ntype = limit\nvalue = /x\nmax = 1\nper_days = /a\n",
		     "t.rules:5: bad per_days '/a' (expected 'start, end')");
	expect_error("", "t.rules: no rules");
	expect_error("[u]\ntype = unique\nitems = /m/*\nkey = tags/*\n",
		     "t.rules:4: bad path 'tags/*' in 'key': it takes a single "
		     "node, no '*'");
	expect_error(
	    "[l]\ntype = limit\nvalue = /v\nmin = 10\nmax = 5\n",
	    "t.rules:1: rule 'l' (limit): min 10.00 is above max 5.00");
	expect_error("[a]\ntype = enum\nitems = /x\nvalues = \xff\n",
		     "t.rules:4: not valid UTF-8");
	/* 4 + 4097 bytes: line 2 is one byte over the limit */
	static const char rest[] = "\ntype = enum\nitems = /x\nvalues = a\n";
	char longline[4 + 4097 + sizeof(rest)];
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "[a]\nk = ", 8);
	memcpy(longline + 4 + 4097, rest, sizeof(rest));
	expect_error(longline,
		     "t.rules:2: line too long (more than 4096 bytes)");
	expect_error("[a]\ntype = enum\nitems = /x\nvalues = a\n\xef\xbb\xbf"
		     "[b]\n",
		     "t.rules:5: expected 'key = value'");
}

/* Write len bytes of text as a rules file and load it: it is refused, with
 * exactly the lines of want (NULL-terminated), each after "PATH:". */
static void expect_errors(const char *text, size_t len, const char *const *want)
{
	char dir[] = "/tmp/test_rules.XXXXXX", path[64], line[1024];
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;
	size_t n = 0;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.rules", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(ruleset_load_path(path, &rs, &d), -1);
	assert_null(rs);
	while (want[n] != NULL)
		n++;
	for (size_t i = 0; i < d.n || i < n; i++) {
		if (i < n)
			snprintf(line, sizeof(line), "%s:%s", path, want[i]);
		if (i >= n || i >= d.n || strcmp(d.lines[i], line) != 0) {
			for (size_t k = 0; k < d.n; k++)
				print_message("got: %s\n", d.lines[k]);
			fail_msg("line %zu: expected %s", i + 1,
				 i < n ? line : "no more");
		}
	}
	diag_clear(&d);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

#define EXPECT_ERRORS(text, ...)                                               \
	expect_errors(text, sizeof(text) - 1,                                  \
		      (const char *const[]){__VA_ARGS__, NULL})

/* Every error of a file, in line order, each once (docs/rules.md): a rule
 * of unknown type is checked as far as it can be without one, and a line
 * refused for its bytes stops nothing else. */
static void test_parser_reports_every_error(void **state)
{
	(void)state;
	EXPECT_ERRORS("[r1]\ntype = average\ncolour = red\nitems = /x/~2\n",
		      "2: unknown type 'average' (expected sum, count, "
		      "within, order, limit, required, unique or enum)",
		      "3: unknown key 'colour' in rule 'r1'",
		      "4: bad path '/x/~2' in 'items': '~' must be followed "
		      "by 0 or 1");
	/* its key is given: no missing 'values' */
	EXPECT_ERRORS("[r1]\ntype = enum\nitems = /x/~2\nvalues = caf\xe9\n"
		      "colour = red\n",
		      "3: bad path '/x/~2' in 'items': '~' must be followed "
		      "by 0 or 1",
		      "4: not valid UTF-8",
		      "5: unknown key 'colour' in rule 'r1'");
	EXPECT_ERRORS("[r1]\ntype = enum\nitems = /x\nvalues = a\0b\n",
		      "4: NUL byte in line");
	EXPECT_ERRORS("[r1]\ntype = enum\nitems = /x/~2\nvalues = a\0b\n"
		      "colour = red\n",
		      "3: bad path '/x/~2' in 'items': '~' must be followed "
		      "by 0 or 1",
		      "4: NUL byte in line",
		      "5: unknown key 'colour' in rule 'r1'");
	/* what the type decides is left: 'equals = 1.5' is a sum's amount or
	 * a bad count; a missing operand is reported at its rule's line,
	 * before the keys of that rule */
	EXPECT_ERRORS("[r1]\ntype = averag\nitems = /x, 12\nequals = 1.5\n"
		      "tolerance = -1\n\n[r2]\ntype = sum\nitems = /y\n"
		      "foo = 1\n",
		      "2: unknown type 'averag' (expected sum, count, within, "
		      "order, limit, required, unique or enum)",
		      "3: bad path '12' in 'items': a path is expected, not a "
		      "literal",
		      "5: bad literal '-1' in 'tolerance' (expected a "
		      "non-negative amount)",
		      "7: rule 'r2' (sum) is missing operand 'equals'",
		      "10: unknown key 'foo' in rule 'r2'");
	EXPECT_ERRORS("[r1]\nitems = /a/*, /b\nequals = /c/*\nseverity = "
		      "high\n",
		      "1: rule 'r1' has no 'type'",
		      "3: bad path '/c/*' in 'equals': it takes a single node, "
		      "no '*'",
		      "4: bad severity 'high' (expected error, warning or "
		      "info)");
	/* without a type, items and value both fill the list of paths: the
	 * second replaces the first (fuzz_rules found them freed as one
	 * list of three, read past its end) */
	EXPECT_ERRORS("[m]\ntype = li\x9c\x96t\nvalue = /total\n"
		      "items = /a, /b, /c\n",
		      "2: not valid UTF-8");
	EXPECT_ERRORS("[m]\ntype = list\nitems = /a, /b, /c\n"
		      "value = /total\n",
		      "2: unknown type 'list' (expected sum, count, within, "
		      "order, limit, required, unique or enum)");
	/* a refused header: its keys belong to no rule (they were taken for
	 * the rule before it: duplicate key 'type'...), and a refused line
	 * before any header is its one error */
	EXPECT_ERRORS("[a]\ntype = sum\nitems = /a\nequals = /t\n[b\xe9]\n"
		      "type = sum\nitems = /a\nequals = /t\n",
		      "5: not valid UTF-8");
	EXPECT_ERRORS("type = s\xe9\n[a]\ntype = sum\nitems = /a\n"
		      "equals = /t\n",
		      "1: not valid UTF-8");
	/* a refused type line is its one error */
	EXPECT_ERRORS("[r1]\ntype = \xe9num\nitems = /x/~2\n",
		      "2: not valid UTF-8",
		      "3: bad path '/x/~2' in 'items': '~' must be followed "
		      "by 0 or 1");
	/* the lexer's errors and the rules' come out in line order */
	EXPECT_ERRORS("[r1]\ntype = enum\nitems = /x/*/~3\nvalues = a\n"
		      "[r2]\ntype enum\nitems = /y\nvalues = \xff\n",
		      "3: bad path '/x/*/~3' in 'items': '~' must be followed "
		      "by 0 or 1",
		      "5: rule 'r2' has no 'type'", "6: expected 'key = value'",
		      "8: not valid UTF-8");
}

/* A line too long is refused as a line with a bad byte is: the keys after
 * a header too long belong to no rule (they were taken for the rule before
 * it: duplicate key 'type'...), and a key too long is given (no missing
 * 'values'). */
static void test_parser_long_lines_refused(void **state)
{
	static const char one[] = "[a]\ntype = enum\nitems = /x\nvalues = a\n[";
	static const char two[] = "]\ntype = enum\nitems = /y\nvalues = b\n"
				  "[c]\ntype = enum\nitems = /z\nvalues = ";
	size_t len = sizeof(one) - 1 + 4097 + sizeof(two) - 1 + 4097 + 1;
	char *text = malloc(len), *p = text;

	(void)state;
	assert_non_null(text);
	memcpy(p, one, sizeof(one) - 1);
	p += sizeof(one) - 1;
	memset(p, 'b', 4097);
	p += 4097;
	memcpy(p, two, sizeof(two) - 1);
	p += sizeof(two) - 1;
	memset(p, 'v', 4097 - (sizeof("values = ") - 1));
	p += 4097 - (sizeof("values = ") - 1);
	*p++ = '\n';
	expect_errors(text, (size_t)(p - text),
		      (const char *const[]){
			  "5: line too long (more than 4096 bytes)",
			  "12: line too long (more than 4096 bytes)", NULL});
	free(text);
}

/* The limit of common/ini.c: a line of 4096 bytes, its "\r\n" aside. */
static void test_parser_long_line_ok(void **state)
{
	(void)state;
	static const char head[] = "[a]\ntype = enum\nitems = /x\nvalues = ";
	size_t vlen = 4096 - (sizeof("values = ") - 1);
	char *text = malloc(sizeof(head) + vlen + 2);
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;

	assert_non_null(text);
	memcpy(text, head, sizeof(head) - 1);
	memset(text + sizeof(head) - 1, 'v', vlen);
	memcpy(text + sizeof(head) - 1 + vlen, "\r\n", 3);
	assert_int_equal(ruleset_load_text("t.rules", text, &rs, &d), 0);
	assert_int_equal(d.n, 0);
	ruleset_free(rs);
	free(text);
}

/* A rules file may start with a UTF-8 BOM, like the configuration. */
static void test_parser_bom(void **state)
{
	(void)state;
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;

	assert_int_equal(ruleset_load_text("bom.rules",
					   "\xef\xbb\xbf[a]\ntype = enum\n"
					   "items = /x\nvalues = a\n",
					   &rs, &d),
			 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(ruleset_count(rs), 1);
	ruleset_free(rs);
	assert_int_equal(
	    ruleset_load_text("bom.rules",
			      "\xef\xbb\xbf; a comment\n[a]\n"
			      "type = enum\nitems = /x\nvalues = a\n",
			      &rs, &d),
	    0);
	assert_int_equal(d.n, 0);
	ruleset_free(rs);
}

static void test_parser_ok(void **state)
{
	(void)state;
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;

	assert_int_equal(ruleset_load_builtin(&rs, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(ruleset_count(rs), 26);
	assert_int_equal(strlen(ruleset_sha256(rs)), 64);
	ruleset_free(rs);
	/* comments, inline comments and every type */
	assert_int_equal(
	    ruleset_load_text("ok.rules",
			      "; a comment\n[s]\ntype = sum # why\nitems = "
			      "a, b\nequals = 0\ntolerance = 0.05\n"
			      "[l]\ntype = limit\nvalue = x/*\nper = 2\n"
			      "per_days = 2017-01-01, end\nmin = -1\n"
			      "[u]\ntype = unique\nitems = /m/*\nkey = a, "
			      "b/c\nmessage = hello\nenabled = no\n",
			      &rs, &d),
	    0);
	assert_int_equal(ruleset_count(rs), 3);
	ruleset_free(rs);
}

/* libinih ended a key at ':' too; common/ini keeps that for rules files. */
static void test_parser_colon_key(void **state)
{
	(void)state;
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;

	assert_int_equal(ruleset_load_text("c.rules",
					   "[a]\ntype = enum\nitems = /x\n"
					   "values = a\nmessage: b = c\n",
					   &rs, &d),
			 0);
	ruleset_free(rs);
	expect_error("[a]\ntype = enum\nitems = /x\nvalues = a\n:b = c\n",
		     "t.rules:5: unknown key '' in rule 'a'");
}

/* The document of a judgement reads back as the same judgement: the log of
 * a result left over from before a crash says what the first one did. */
static void test_result_round_trip(void **state)
{
	static const char report[] =
	    "{\"id\": \"R-1\", \"missions\": [{\"cost\": \"x\"}]}";
	struct judge_opts opts = {.now = 1700000000};
	struct ruleset *rs;
	struct diag d = DIAG_INIT;
	struct judgement j, back;
	json_t *doc, *again;

	(void)state;
	assert_int_equal(ruleset_load_builtin(&rs, &d), 0);
	assert_int_equal(
	    judge_bytes(rs, &opts, "r\xff.json", report, strlen(report), &j),
	    0);
	assert_int_equal(j.verdict, VERDICT_REJECTED);
	assert_string_equal(j.report_id, "R-1");
	assert_string_equal(j.file, "r\xef\xbf\xbd.json");
	assert_true(j.nfindings > 0);
	assert_int_equal(judgement_add_finding(&j, "report.duplicate",
					       SEV_ERROR, "/id", "again"),
			 0);
	doc = judgement_to_json(&j);
	assert_non_null(doc);
	assert_string_equal(
	    json_string_value(json_object_get(doc, "checked_at")),
	    "2023-11-14T22:13:20Z");
	assert_int_equal(json_array_size(json_object_get(doc, "findings")),
			 j.nfindings);
	assert_int_equal(judgement_from_json(doc, &back), 0);
	back.checked_at = j.checked_at;
	memcpy(back.rules_sha256, j.rules_sha256, sizeof(back.rules_sha256));
	again = judgement_to_json(&back);
	assert_non_null(again);
	assert_true(json_equal(doc, again));
	json_decref(again);
	json_decref(doc);
	judgement_release(&back);
	judgement_release(&j);
	judgement_release(&j); /* harmless */
	ruleset_free(rs);
}

/* ---- out of memory in Jansson: never a verdict, never a lost byte ---- */

static unsigned long jansson_calls, jansson_fail_at; /* 0: never */

static void *failing_malloc(size_t size)
{
	if (++jansson_calls == jansson_fail_at)
		return NULL;
	return malloc(size);
}

/* Judge report with Jansson's k-th allocation failing (0: none); its
 * compact document, or NULL when judge_bytes returned -1. */
static char *judge_failing(const struct ruleset *rs,
			   const struct judge_opts *opts, const char *report,
			   unsigned long k)
{
	struct judgement j;
	char *text;

	jansson_calls = 0;
	jansson_fail_at = k;
	json_set_alloc_funcs(failing_malloc, free);
	int rc = judge_bytes(rs, opts, "r.json", report, strlen(report), &j);
	jansson_fail_at = 0;
	if (rc == -1)
		return NULL;
	text = judgement_dumps(&j, JSON_COMPACT);
	assert_non_null(text);
	judgement_release(&j);
	return text;
}

/* For every k, failing Jansson's k-th allocation makes judge_bytes return
 * -1 or the very same judgement, and judgement_dumps NULL or the very same
 * text: Jansson's parser and dumper drop bytes silently otherwise. */
static void test_out_of_memory_in_jansson(void **state)
{
	static const char *const reports[] = {
	    "{\"format\": \"mission-report/1\", \"id\": \"R-1\", "
	    "\"currency\": \"EUR\", \"total\": \"12345678.90\", "
	    "\"missions\": [{\"id\": \"M-1\", \"cost\": \"12.5\", "
	    "\"start\": \"2019-02-30\", \"a-long-unknown-member-name\": "
	    "[1, 2.5, true, null, \"\\u00e9t\\u00e9 \\ud83d\\ude00\"]}, "
	    "{\"id\": \"M-1\", \"cost\": 123456789012}, {}]}",
	    "{\"missions\": [{}, {}, {}, {}, {}, {}, {}, {}, {}, {}]}",
	};
	struct judge_opts opts = {.now = 1700000000, .max_findings = 7};
	struct ruleset *rs;
	struct diag d = DIAG_INIT;
	json_malloc_t m0;
	json_free_t f0;

	(void)state;
	json_get_alloc_funcs(&m0, &f0);
	assert_int_equal(ruleset_load_builtin(&rs, &d), 0);
	for (size_t r = 0; r < sizeof(reports) / sizeof(reports[0]); r++) {
		char *normal = judge_failing(rs, &opts, reports[r], 0);
		unsigned long n = jansson_calls, failed = 0;
		assert_non_null(normal);
		assert_true(n > 10);
		for (unsigned long k = 1; k <= n + 1; k++) {
			char *text = judge_failing(rs, &opts, reports[r], k);
			if (text == NULL) {
				failed++;
				continue;
			}
			assert_string_equal(text, normal);
			free(text);
		}
		assert_true(failed > 0);
		/* the dump alone */
		struct judgement j;
		json_set_alloc_funcs(m0, f0);
		assert_int_equal(judge_bytes(rs, &opts, "r.json", reports[r],
					     strlen(reports[r]), &j),
				 0);
		json_set_alloc_funcs(failing_malloc, free);
		jansson_calls = 0;
		free(judgement_dumps(&j, JSON_COMPACT));
		n = jansson_calls;
		for (unsigned long k = 1; k <= n + 1; k++) {
			jansson_calls = 0;
			jansson_fail_at = k;
			char *text = judgement_dumps(&j, JSON_COMPACT);
			jansson_fail_at = 0;
			if (text != NULL)
				assert_string_equal(text, normal);
			free(text);
		}
		judgement_release(&j);
		free(normal);
	}
	json_set_alloc_funcs(m0, f0);
	ruleset_free(rs);
}

/* judge_parse() parses as judging did: the same tree judge_bytes() kept,
 * a byte-order mark skipped, duplicate keys refused, NULL for bytes that
 * are not JSON. */
static void test_judge_parse(void **state)
{
	static const char report[] =
	    "{\"id\": \"R-1\", \"total\": \"12.50\", \"missions\": "
	    "[{\"id\": \"M-1\", \"cost\": 12.5, \"x\": [1, true, null]}]}";
	char bom[sizeof(report) + 3] = "\xEF\xBB\xBF";
	json_t *kept = NULL, *again, *root;
	struct judge_opts opts = {.now = 1700000000, .keep_root = &kept};
	struct diag d = DIAG_INIT;
	struct ruleset *rs;
	struct judgement j;

	(void)state;
	assert_int_equal(ruleset_load_builtin(&rs, &d), 0);
	assert_int_equal(
	    judge_bytes(rs, &opts, "r.json", report, strlen(report), &j), 0);
	assert_non_null(kept);
	again = judge_parse(report, strlen(report));
	assert_non_null(again);
	assert_true(json_equal(kept, again));
	memcpy(bom + 3, report, sizeof(report));
	root = judge_parse(bom, strlen(bom));
	assert_non_null(root);
	assert_true(json_equal(kept, root));
	json_decref(root);
	assert_null(judge_parse("{\"a\": 1, \"a\": 2}", 16));
	assert_null(judge_parse("{\"a\": ", 6));
	assert_null(judge_parse(NULL, 0));
	json_decref(again);
	json_decref(kept);
	judgement_release(&j);
	ruleset_free(rs);
}

/* Jansson's parse errors in French: every fixed text and every form
 * (bare, near a text, near the end of the file), the file's text kept;
 * English and texts of unknown forms as they are. */
static void test_json_error_words(void **state)
{
	static const struct {
		const char *jansson, *fr;
	} t[] = {
	    {"'[' or '{' expected", "\u00ab\u00a0[\u00a0\u00bb ou \u00ab\u00a0{"
				    "\u00a0\u00bb attendu"},
	    {"end of file expected near 'x'",
	     "fin de fichier attendue pr\u00e8s de \u00ab\u00a0x\u00a0\u00bb"},
	    {"string or '}' expected near end of file",
	     "cha\u00eene ou \u00ab\u00a0}\u00a0\u00bb attendue en fin de "
	     "fichier"},
	    {"':' expected near '1'",
	     "\u00ab\u00a0:\u00a0\u00bb attendu pr\u00e8s de \u00ab\u00a01"
	     "\u00a0\u00bb"},
	    {"'}' expected near '\"b\"'",
	     "\u00ab\u00a0}\u00a0\u00bb attendu pr\u00e8s de \u00ab\u00a0"
	     "\"b\"\u00a0\u00bb"},
	    {"']' expected near end of file",
	     "\u00ab\u00a0]\u00a0\u00bb attendu en fin de fichier"},
	    {"duplicate object key near '\"id\"'",
	     "cl\u00e9 d'objet en double pr\u00e8s de \u00ab\u00a0\"id\""
	     "\u00a0\u00bb"},
	    {"NUL byte in object key not supported",
	     "octet NUL non admis dans une cl\u00e9 d'objet"},
	    {"unexpected token near end of file",
	     "\u00e9l\u00e9ment inattendu en fin de fichier"},
	    {"invalid token near 'tru'",
	     "\u00e9l\u00e9ment non valide pr\u00e8s de \u00ab\u00a0tru\u00a0"
	     "\u00bb"},
	    {"unexpected newline", "saut de ligne inattendu"},
	    {"premature end of input", "fin de fichier pr\u00e9matur\u00e9e"},
	    {"invalid escape near '\"\\q'",
	     "s\u00e9quence d'\u00e9chappement non valide pr\u00e8s de \u00ab"
	     "\u00a0\"\\q\u00a0\u00bb"},
	    {"too big integer", "entier trop grand"},
	    {"too big negative integer", "entier n\u00e9gatif trop grand"},
	    {"real number overflow near '1e400'",
	     "nombre r\u00e9el trop grand pr\u00e8s de \u00ab\u00a01e400\u00a0"
	     "\u00bb"},
	    {"maximum parsing depth reached",
	     "profondeur maximale d'imbrication atteinte"},
	    {"control character 0x1f near '\"'",
	     "caract\u00e8re de contr\u00f4le 0x1f pr\u00e8s de \u00ab\u00a0\""
	     "\u00a0\u00bb"},
	    {"invalid Unicode escape '\\u12x4'",
	     "s\u00e9quence d'\u00e9chappement Unicode non valide '\\u12x4'"},
	    {"invalid Unicode '\\uD800' near '\"\\uD800\"'",
	     "caract\u00e8re Unicode non valide '\\uD800' pr\u00e8s de \u00ab"
	     "\u00a0\"\\uD800\"\u00a0\u00bb"},
	    {"invalid Unicode '\\uD800\\u0041'",
	     "caract\u00e8re Unicode non valide '\\uD800\\u0041'"},
	    {"unable to decode byte 0xe9",
	     "octet 0xe9 impossible \u00e0 d\u00e9coder"},
	    /* the text near it may say "near '" too */
	    {"duplicate object key near '\"a near 'b\"'",
	     "cl\u00e9 d'objet en double pr\u00e8s de \u00ab\u00a0\"a near 'b\""
	     "\u00a0\u00bb"},
	};
	static const char *const unknown[] = {
	    "a text of another Jansson",
	    "unexpected token near",
	    "",
	    "too big integer near 'x",
	    "control character ",
	    "duplicate object key near end of files",
	};
	char buf[512];
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_ptr_equal(
		    json_error_words(LANG_EN, t[i].jansson, buf, sizeof(buf)),
		    t[i].jansson);
		assert_string_equal(
		    json_error_words(LANG_FR, t[i].jansson, buf, sizeof(buf)),
		    t[i].fr);
	}
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_ptr_equal(
		    json_error_words(LANG_FR, unknown[i], buf, sizeof(buf)),
		    unknown[i]);
	/* cut to fit, at worst */
	assert_string_equal(
	    json_error_words(LANG_FR, "too big integer", buf, 7), "entier");
}

/*
 * Jansson takes a NUL byte for the end of its text: an error there says
 * "near a NUL byte", never "near end of file" in a file that goes on (one
 * padded with zeros, or only zeros, after a crash).
 */
static void test_json_error_at_nul(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *en, *fr;
	} t[] = {
	    {"\0\0\0\0", 4, "line 1, column 1: invalid token near a NUL byte",
	     "ligne 1, colonne 1 : \u00e9l\u00e9ment non valide pr\u00e8s "
	     "d'un octet NUL"},
	    {"{\"a\": 1}\n\0\0", 11,
	     "line 2, column 1: end of file expected near a NUL byte",
	     "ligne 2, colonne 1 : fin de fichier attendue pr\u00e8s d'un "
	     "octet NUL"},
	    {"{\"a\"\0: 1}", 10,
	     "line 1, column 5: ':' expected near a NUL byte",
	     "ligne 1, colonne 5 : \u00ab\u00a0:\u00a0\u00bb attendu "
	     "pr\u00e8s d'un octet NUL"},
	    /* inside a string Jansson says what it is already */
	    {"{\"a\": \"x\0\"}", 11,
	     "line 1, column 8: control character 0x0 near '\"x'",
	     "ligne 1, colonne 8 : caract\u00e8re de contr\u00f4le 0x0 "
	     "pr\u00e8s de \u00ab\u00a0\"x\u00a0\u00bb"},
	    /* the end of the file is still its end */
	    {"{\"a\": [1", 8, "line 1, column 8: ']' expected near end of file",
	     "ligne 1, colonne 8 : \u00ab\u00a0]\u00a0\u00bb attendu en fin "
	     "de fichier"},
	};
	struct ruleset *rs;
	struct diag d = DIAG_INIT;
	char want[256];

	(void)state;
	assert_int_equal(ruleset_load_builtin(&rs, &d), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (int fr = 0; fr < 2; fr++) {
			struct judge_opts opts = {.lang =
						      fr ? LANG_FR : LANG_EN};
			struct judgement j;
			assert_int_equal(judge_bytes(rs, &opts, "r.json",
						     t[i].bytes, t[i].len, &j),
					 0);
			assert_int_equal(j.verdict, VERDICT_INVALID);
			assert_int_equal(j.nfindings, 1);
			assert_string_equal(j.findings[0].rule, "input.json");
			snprintf(want, sizeof(want), "%s%s",
				 fr ? "JSON invalide \u00e0 la "
				    : "invalid JSON at ",
				 fr ? t[i].fr : t[i].en);
			assert_string_equal(j.findings[0].message, want);
			judgement_release(&j);
		}
	}
	ruleset_free(rs);
}

int main(int argc, char **argv)
{
	char self[4096], localedir[4200];

	(void)argc;
	if (hash_init() == -1) /* common/hash.h: a random key */
		return 1;
	/* BUILD/tests/test_rules: the catalogs are in BUILD/locale */
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(localedir, sizeof(localedir), "%s/../locale", dirname(self));
	setenv("EXPENSED_LOCALEDIR", localedir, 1);
	setenv("LC_ALL", "C", 1);
	i18n_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_amount_strings),
	    cmocka_unit_test(test_amount_json),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_value_hash),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_parser_errors),
	    cmocka_unit_test(test_parser_reports_every_error),
	    cmocka_unit_test(test_parser_ok),
	    cmocka_unit_test(test_parser_long_lines_refused),
	    cmocka_unit_test(test_parser_long_line_ok),
	    cmocka_unit_test(test_parser_bom),
	    cmocka_unit_test(test_parser_colon_key),
	    cmocka_unit_test(test_result_round_trip),
	    cmocka_unit_test(test_out_of_memory_in_jansson),
	    cmocka_unit_test(test_judge_parse),
	    cmocka_unit_test(test_json_error_words),
	    cmocka_unit_test(test_json_error_at_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
