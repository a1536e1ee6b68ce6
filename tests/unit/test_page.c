/*
 * test_page.c - daemon/page.c: the verdict page of the seed report and of
 * rejected, invalid and hostile files: escaping, amounts in English and
 * French, cells highlighted where findings point, bounded output for any
 * report shape, numbers and words written without printf and gettext
 * as they would be with them, and out of memory as -1, never a crash or
 * half a page.
 */
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../daemon/page.h"
#include "../../daemon/page_int.h"
#include "../../daemon/webhook.h"

static char seed_path[4096];

/* --- a failing allocator (not under AddressSanitizer, which owns
 * malloc): the k-th allocation after arming fails --- */

#ifndef __SANITIZE_ADDRESS__
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

/* volatile: the compiler knows malloc by name and would otherwise assume
 * that it touches no variable of ours */
static volatile long countdown = -1; /* -1: nothing fails */

static int fails(void)
{
	if (countdown < 0)
		return 0;
	return --countdown == 0;
}

void *malloc(size_t size)
{
	return fails() ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	return fails() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	if (size == 0)
		return __libc_realloc(p, size);
	return fails() ? NULL : __libc_realloc(p, size);
}
#define HAVE_FAILING_MALLOC 1

static void *volatile probe;

/* Whether the three fail when asked: not when a tool such as valgrind
 * replaced them. */
static bool failing_works(void)
{
	bool ok = true;

	countdown = 1;
	probe = malloc(8);
	ok = ok && probe == NULL;
	free(probe);
	countdown = 1;
	probe = calloc(1, 8);
	ok = ok && probe == NULL;
	free(probe);
	countdown = 1;
	probe = realloc(NULL, 8);
	ok = ok && probe == NULL;
	free(probe);
	countdown = -1;
	return ok;
}
#endif

static char *read_seed(size_t *len)
{
	FILE *f = fopen(seed_path, "rb");
	char *buf = malloc(1 << 16);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, (1 << 16) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* A judged file and what its page needs. */
struct judged {
	struct ruleset *rs;
	struct judgement j;
	json_t *root;
	const char *data;
	size_t len;
};

/* judge()'s max_findings (0: the default, 1000) */
static size_t max_findings;

static void judge(struct judged *x, const char *name, const char *data,
		  size_t len, enum lang l)
{
	struct diag d = DIAG_INIT;
	struct judge_opts o = {
	    .lang = l, .now = 1764000000, .max_findings = max_findings};

	memset(x, 0, sizeof(*x));
	o.keep_root = &x->root;
	assert_int_equal(ruleset_load_builtin(&x->rs, &d), 0);
	assert_int_equal(judge_bytes(x->rs, &o, name, data, len, &x->j), 0);
	x->data = data;
	x->len = len;
}

static void unjudge(struct judged *x)
{
	judgement_release(&x->j);
	json_decref(x->root);
	ruleset_free(x->rs);
}

/* Whether the style sheet css has a rule for the class cls (len bytes):
 * ".cls" not followed by more of a name. */
static bool styles(const char *css, const char *cls, size_t len)
{
	for (const char *s = strchr(css, '.'); s; s = strchr(s + 1, '.')) {
		char next = s[1 + len];
		if (strncmp(s + 1, cls, len) == 0 &&
		    !(next == '-' || next == '_' ||
		      (next >= 'a' && next <= 'z') ||
		      (next >= '0' && next <= '9')))
			return true;
	}
	return false;
}

/* The page's style sheet has the rules of every class its markup uses
 * that the whole sheet has (pg_css_insert(): struct pg's css was set
 * wherever that markup is written). */
static void assert_styled(const char *page)
{
	struct strbuf all = STRBUF_INIT;
	const char *css = strstr(page, "<style>");
	const char *end = css ? strstr(css, "</style>") : NULL;
	char *own;

	assert_non_null(end);
	own = strndup(css + 7, (size_t)(end - css - 7));
	assert_non_null(own);
	assert_int_equal(pg_css_insert(&all, 0, ~0u), 0);
	for (const char *a = strstr(end, "class=\""); a;
	     a = strstr(a + 1, "class=\"")) {
		const char *t = a + 7;
		while (*t != '"') {
			size_t len = strcspn(t, " \"");
			if (styles(all.buf, t, len) && !styles(own, t, len))
				fail_msg("class \"%.*s\" is not styled",
					 (int)len, t);
			t += len;
			t += *t == ' ';
		}
	}
	free(own);
	sb_release(&all);
}

/* The page of x in language l (a new string). */
static char *render(const struct judged *x, enum lang l)
{
	struct page_input in = {.j = &x->j,
				.report = x->root,
				.data = x->data,
				.len = x->len,
				.lang = l};
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(page_render(&sb, &in), 0);
	assert_styled(sb.buf);
	return sb_detach(&sb, NULL);
}

static char *page_of(const char *text, enum lang l, struct judged *x)
{
	judge(x, "r.json", text, strlen(text), l);
	return render(x, l);
}

static void escaping(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	(void)state;

	page_escape(&sb, "<script>alert(\"x\")</script>&'");
	page_escape(&sb, "|a\xff"
			 "b\xc0\xaf|"); /* bad, overlong */
	page_escape(&sb, "|\xe2\x80\xae"
			 "cba|\x01|"); /* U+202E, U+0001 */
	page_escape(&sb, "|\xe2\x81\xa6|\xc3\xa9\xe2\x82\xac|");
	assert_false(sb.failed);
	assert_string_equal(
	    sb.buf, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"
		    "&#39;|a\xef\xbf\xbd"
		    "b\xef\xbf\xbd\xef\xbf\xbd||"
		    "[U+202E]cba|[U+0001]||[U+2066]|\xc3\xa9\xe2\x82\xac|");
	sb_release(&sb);
}

static void seed_amounts(void **state)
{
	size_t len;
	char *text = read_seed(&len);
	struct judged x;
	(void)state;

	judge(&x, "r36.json", text, len, LANG_EN);
	char *en = render(&x, LANG_EN);
	char *fr = render(&x, LANG_FR);
	assert_non_null(strstr(en, "<td class=\"num\">139108.94</td>"));
	assert_non_null(strstr(en, "id=\"computed-sum\">139108.94</td>"));
	assert_non_null(strstr(en, "id=\"sum\">139108.94</td>"));
	assert_non_null(strstr(en, "<td class=\"num\">1177.87</td>"));
	assert_non_null(strstr(en, ">2017-10-19<"));
	assert_non_null(strstr(en, "<html lang=\"en\">"));
	assert_non_null(strstr(fr, "<td class=\"num\">139\u202f108,94\u00a0"
				   "\u20ac</td>"));
	assert_non_null(strstr(fr, "id=\"computed-sum\">139\u202f108,94"
				   "\u00a0\u20ac</td>"));
	assert_non_null(strstr(fr, ">19/10/2017<"));
	assert_non_null(strstr(fr, "<html lang=\"fr\">"));
	assert_non_null(strstr(fr, "<h1 class=\"verdict\">Accept\u00e9</h1>"));
	assert_non_null(strstr(fr, ">0 erreur</span> \u00b7 "));
	assert_null(strstr(fr, "2017-10-19<"));
	/* expected and found values in the page's words */
	assert_non_null(strstr(en, "<code>on or after 2019-02-08</code>"));
	assert_non_null(strstr(en, "<code>\u2264 5000.00</code>"));
	assert_non_null(strstr(fr, "<code>le 08/02/2019 ou apr\u00e8s</code>"));
	assert_non_null(
	    strstr(fr, "<code>\u2264 5\u202f000,00\u00a0\u20ac</code>"));
	assert_non_null(strstr(fr, "<code>6\u202f677,93\u00a0\u20ac</code>"));
	free(en);
	free(fr);
	unjudge(&x);
	free(text);
}

/* Another currency: its code, not the euro sign, in French, in the tables
 * and in the findings' messages and values alike. */
static void other_currency(void **state)
{
	struct judged x;
	char *fr = page_of("{\"currency\": \"USD\", \"total\": \"1177.87\", "
			   "\"missions\": [{\"cost\": \"1177.87\"}]}",
			   LANG_FR, &x);
	(void)state;

	assert_non_null(strstr(fr, "1\u202f177,87\u00a0<bdi>USD</bdi>"));
	assert_null(strstr(fr, "\u20ac"));
	free(fr);
	unjudge(&x);
	/* a finding's message in the same currency as its values */
	fr = page_of("{\"currency\": \"USD\", \"total\": \"1.00\", "
		     "\"missions\": [{\"cost\": \"1177.87\"}]}",
		     LANG_FR, &x);
	assert_non_null(strstr(fr, "/total vaut 1,00\u00a0USD mais 1 valeur de "
				   "/missions/*/cost totalise 1\u202f177,87"
				   "\u00a0USD (\u00e9cart de -1\u202f176,87"
				   "\u00a0USD)</p>"));
	assert_non_null(strstr(fr,
			       "Attendu :</span> <code>1\u202f177,87"
			       "\u00a0<bdi>USD</bdi></code><span class=\"k\">"
			       "Constat\u00e9 :</span> <code>1,00\u00a0<bdi>"
			       "USD</bdi></code>"));
	assert_null(strstr(fr, "\u20ac"));
	free(fr);
	unjudge(&x);
}

/* A JSON number that is no amount, as the file has it and as its
 * finding's message says it: the fewest digits that read back as the
 * same double, never rounded to 15. */
static void real_numbers(void **state)
{
	struct judged x;
	char *en = page_of("{\"missions\": [{\"cost\": 1177.8700000000001}, "
			   "{\"cost\": 0.30000000000000004}, "
			   "{\"cost\": 10.005}, {\"cost\": 1e300}]}",
			   LANG_EN, &x);
	(void)state;

	assert_non_null(strstr(en, "\"/missions/0/cost\"><code class=\"odd\">"
				   "1177.8700000000001</code>"));
	assert_non_null(strstr(en, "the number 1177.8700000000001"));
	assert_non_null(strstr(en, "\"/missions/1/cost\"><code class=\"odd\">"
				   "0.30000000000000004</code>"));
	assert_non_null(strstr(en, "the number 0.30000000000000004"));
	assert_non_null(strstr(en, "\"/missions/2/cost\"><code class=\"odd\">"
				   "10.005</code>"));
	assert_non_null(strstr(en, "\"/missions/3/cost\"><code class=\"odd\">"
				   "1e+300</code>"));
	free(en);
	unjudge(&x);
}

/* A string where an object or an array belongs is of the wrong kind:
 * shown as it is in the file, quoted in a code font, like a bad date, not
 * as text that could pass for a valid value (docs/pages.md). */
static void strings_misplaced(void **state)
{
	struct judged x;
	char *en = page_of(
	    "{\"meeting\": \"2019-02-08\", \"period\": {\"start\": 3}, "
	    "\"missions\": [\"x\", {\"start\": \"2019-13-01\", "
	    "\"delegation\": {\"members\": [\"m\"]}, \"expenses\": [\"e\"]}]}",
	    LANG_EN, &x);
	(void)state;

	assert_non_null(strstr(en, "data-pointer=\"/meeting\"><code "
				   "class=\"odd\">\"<bdi>2019-02-08</bdi>\""
				   "</code>"));
	assert_non_null(strstr(en, "<td colspan=\"9\"><code class=\"odd\">"
				   "\"<bdi>x</bdi>\"</code></td>"));
	assert_non_null(strstr(en, "<td colspan=\"2\"><code class=\"odd\">"
				   "\"<bdi>m</bdi>\"</code></td>"));
	assert_non_null(strstr(en, "<td colspan=\"4\"><code class=\"odd\">"
				   "\"<bdi>e</bdi>\"</code></td>"));
	/* as a bad date is, and a number where a date belongs */
	assert_non_null(strstr(en, "<code class=\"odd\">\"<bdi>2019-13-01"
				   "</bdi>\"</code>"));
	assert_non_null(strstr(en, "data-pointer=\"/period/start\"><code "
				   "class=\"odd\">3</code>"));
	free(en);
	unjudge(&x);
	en = page_of("{\"missions\": \"none\"}", LANG_EN, &x);
	assert_non_null(strstr(en, "The missions are not a list: <code "
				   "class=\"odd\">\"<bdi>none</bdi>\"</code>"));
	free(en);
	unjudge(&x);
}

/* The "Found:" of an enum finding is the report's own string: shown as it
 * is in French too, never read as a date or an amount; the values the
 * engine computed still are (docs/languages.md). */
static void report_strings_as_written(void **state)
{
	struct judged x;
	char *fr = page_of("{\"format\": \"2019-02-08\", \"currency\": "
			   "\"10.00\", \"period\": {\"start\": \"2019-02-08\", "
			   "\"end\": \"2019-02-01\"}, \"missions\": []}",
			   LANG_FR, &x);
	(void)state;

	assert_non_null(strstr(fr, "Attendu :</span> <code><bdi>mission-report"
				   "/1</bdi></code><span class=\"k\">Constat"
				   "\u00e9 :</span> <code><bdi>2019-02-08</bdi>"
				   "</code>"));
	assert_non_null(strstr(fr, "Attendu :</span> <code><bdi>EUR</bdi>"
				   "</code><span class=\"k\">Constat\u00e9 :"
				   "</span> <code><bdi>10.00</bdi></code>"));
	assert_null(strstr(fr, "08/02/2019</code>"));
	assert_null(strstr(fr, "10,00"));
	/* dates.period: dates the engine wrote, in French */
	assert_non_null(strstr(fr, "Attendu :</span> <code>le 08/02/2019 ou "
				   "apr\u00e8s</code><span class=\"k\">Constat"
				   "\u00e9 :</span> <code>01/02/2019</code>"));
	free(fr);
	unjudge(&x);
}

/* A missing field's expected kind and "missing" in the page's words; the
 * result document keeps its English data (docs/result.md). */
static void missing_in_words(void **state)
{
	struct judged x;
	const char *doc = "{\"missions\": []}";
	char *fr = page_of(doc, LANG_FR, &x), *en;
	(void)state;

	assert_non_null(strstr(fr, "<span class=\"k\">Attendu :</span> <code>"
				   "<bdi>un montant</bdi></code><span class="
				   "\"k\">Constat\u00e9 :</span> <code><bdi>"
				   "absent</bdi></code>"));
	assert_non_null(strstr(fr, "<code><bdi>une date</bdi></code>"));
	assert_non_null(
	    strstr(fr, "<code><bdi>une cha\u00eene non vide</bdi></code>"));
	assert_null(strstr(fr, "<bdi>missing</bdi>"));
	assert_null(strstr(fr, "<bdi>amount</bdi>"));
	for (size_t i = 0; i < x.j.nfindings; i++)
		if (strcmp(x.j.findings[i].path, "/total") == 0) {
			assert_string_equal(x.j.findings[i].expected, "amount");
			assert_string_equal(x.j.findings[i].actual, "missing");
		}
	free(fr);
	unjudge(&x);
	en = page_of(doc, LANG_EN, &x);
	assert_non_null(strstr(en, "<span class=\"k\">Expected:</span> <code>"
				   "<bdi>amount</bdi></code><span class=\"k\">"
				   "Found:</span> <code><bdi>missing</bdi>"
				   "</code>"));
	free(en);
	unjudge(&x);
}

/* Every data-pointer of the page, in order, as one string. */
static void pointers(const char *page, char *out, size_t size)
{
	const char *p = page;
	size_t n = 0;

	out[0] = '\0';
	while ((p = strstr(p, "data-pointer=\"")) != NULL) {
		p += strlen("data-pointer=\"");
		const char *e = strchr(p, '"');
		n += (size_t)snprintf(out + n, size - n, "%.*s ", (int)(e - p),
				      p);
		assert_true(n < size);
	}
}

static void seed_cells(void **state)
{
	size_t len;
	char *text = read_seed(&len);
	struct judged x;
	char got[4096];
	(void)state;

	judge(&x, "r36.json", text, len, LANG_EN);
	char *en = render(&x, LANG_EN);
	pointers(en, got, sizeof(got));
	assert_string_equal(got, "/missions/0/start /missions/1/start "
				 "/missions/1/cost /missions/2/start ");
	assert_non_null(strstr(
	    en, "<td class=\"date hit hit-w\" id=\"at-missions-0-start\" "
		"data-pointer=\"/missions/0/start\">2017-10-19<span "
		"class=\"refs\"><a class=\"ref ref-w\" href=\"#f-1\">1</a>"));
	assert_non_null(strstr(en, "<a class=\"ref ref-w\" href=\"#f-4\">4</a>"
				   "<a class=\"ref ref-w\" href=\"#f-5\">5"));
	for (size_t i = 0; i < x.j.nfindings; i++) {
		char want[128];
		snprintf(want, sizeof(want), "id=\"f-%zu\" data-path=\"%s\"",
			 i + 1, x.j.findings[i].path);
		assert_non_null(strstr(en, want));
	}
	assert_non_null(strstr(en, "href=\"#at-missions-1-cost\""));
	assert_non_null(strstr(en, "<span class=\"n-errors\">0 errors</span>"));
	assert_non_null(
	    strstr(en, "<span class=\"n-warnings\">5 warnings</span>"));
	free(en);
	unjudge(&x);
	free(text);
}

/* A rejected report: the row, the header and a path shown nowhere. */
static void rejected_cells(void **state)
{
	struct judged x;
	char got[4096];
	char *en = page_of(
	    "{\"format\": \"mission-report/1\", \"id\": \"R\", \"authority\": "
	    "\"A\", \"subject\": \"S\", \"meeting\": {\"date\": "
	    "\"2016-01-01\"}, \"period\": {\"start\": \"2017-01-01\", "
	    "\"end\": \"2017-12-31\"}, \"currency\": \"EUR\", \"total\": "
	    "\"10.00\", \"missions\": [{\"id\": \"m\", \"destination\": "
	    "\"D\", \"start\": \"2017-02-01\", \"end\": \"2018-02-02\", "
	    "\"delegation\": {\"size\": 3, \"councillors\": 1, \"guests\": "
	    "1, \"staff\": 0}, \"cost\": \"20.00\"}]}",
	    LANG_EN, &x);
	(void)state;

	assert_int_equal(x.j.verdict, VERDICT_REJECTED);
	pointers(en, got, sizeof(got));
	assert_string_equal(
	    got, "/total /missions/0/end /missions/0/delegation/size ");
	assert_non_null(
	    strstr(en, "<code>2017-01-01 \u2013 2017-12-31</code>"));
	char *fr = render(&x, LANG_FR);
	assert_non_null(
	    strstr(fr, "<code>01/01/2017 \u2013 31/12/2017</code>"));
	free(fr);
	assert_non_null(strstr(en, "<h1 class=\"verdict\">Rejected</h1>"));
	assert_non_null(strstr(en, "<span class=\"diff\">difference: "
				   "-10.00</span>"));
	free(en);
	unjudge(&x);
}

static void invalid_json(void **state)
{
	struct judged x;
	char *en = page_of("{\n  \"a\": 1,\n  \"b\": [1 2]\n}\n", LANG_EN, &x);
	(void)state;

	assert_int_equal(x.j.verdict, VERDICT_INVALID);
	assert_non_null(strstr(en, "Line 3, column 11:"));
	assert_non_null(strstr(en, "<span class=\"at\"><span class=\"ln\">3"
				   "</span>  &quot;b&quot;: [1 <mark "
				   "class=\"here\">2</mark>]</span>"));
	assert_non_null(strstr(en, "<span class=\"ln\">4</span>}</span>"));
	free(en);
	unjudge(&x);
	en = page_of("{\"a\": \"caf\xe9\"}", LANG_FR, &x);
	assert_non_null(
	    strstr(en, "&quot;caf<mark class=\"here\">\xef\xbf\xbd</mark>"));
	assert_non_null(strstr(en, "Ligne 1, colonne 11") ||
			strstr(en, "Line 1, column 11"));
	free(en);
	unjudge(&x);
}

/* Markup, quotes and bidi controls from a report never become markup. */
static void hostile(void **state)
{
	struct judged x;
	char *en =
	    page_of("{\"id\": \"<script>alert(1)</script>\", \"authority\": "
		    "\"\\\"><img src=x onerror=alert(1)>\", \"subject\": "
		    "\"</style><b>x</b>\", \"currency\": \"\\u202eRUE\", "
		    "\"missions\": [{\"destination\": \"</td></tr></table>\", "
		    "\"cost\": \"<i>\"}]}",
		    LANG_EN, &x);
	(void)state;

	assert_null(strstr(en, "<script"));
	assert_null(strstr(en, "<img"));
	assert_null(strstr(en, "<b>x"));
	assert_null(strstr(en, "<i>"));
	assert_null(strstr(en, "\xe2\x80\xae"));
	assert_int_equal(strstr(en, "</style>") - strstr(en, "<style>") > 0, 1);
	assert_null(strstr(strstr(en, "</style>") + 1, "</style>"));
	assert_non_null(strstr(en, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(en, "&quot;&gt;&lt;img src=x"));
	assert_non_null(strstr(en, "[U+202E]RUE"));
	free(en);
	unjudge(&x);
}

/* Every in-page link of page has its target. */
static void assert_links_resolve(const char *page)
{
	for (const char *p = page; (p = strstr(p, "href=\"#")) != NULL;) {
		char id[160];
		p += strlen("href=\"#");
		size_t n = strcspn(p, "\"");
		assert_true(n < 100);
		snprintf(id, sizeof(id), " id=\"%.*s\"", (int)n, p);
		assert_non_null(strstr(page, id));
	}
}

/* Any shape of report: a page, bounded. */
static void shapes(void **state)
{
	static const char *const docs[] = {
	    "{\"missions\": {\"a\": 1}, \"meeting\": 3, \"period\": []}",
	    "{\"missions\": [1, null, [], {\"delegation\": \"x\", "
	    "\"expenses\": 4}, {\"delegation\": {\"members\": [1, {\"name\": "
	    "[]}]}, \"expenses\": [{\"amount\": 1e300}]}]}",
	    "{\"missions\": [], \"total\": 1e400}",
	    "{\"total\": {}, \"missions\": [{\"cost\": \"99999999999.99\"}, "
	    "{\"cost\": 1.5}]}",
	    "{\"meeting\": [], \"period\": [], \"missions\": [[], {"
	    "\"delegation\": {\"members\": [[], {}]}, \"expenses\": [[]]}]}",
	};
	struct judged x;
	(void)state;

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		char *en = page_of(docs[i], LANG_EN, &x);
		assert_non_null(strstr(en, "</html>\n"));
		assert_links_resolve(en);
		free(en);
		unjudge(&x);
	}
	/* a leftover result document that says almost nothing */
	json_t *left_doc =
	    json_pack("{s:[{}, {s:s}]}", "findings", "path", "/x");
	struct judgement left;
	struct page_input in = {.j = &left};
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(judgement_from_json(left_doc, &left), 0);
	assert_int_equal(page_render(&sb, &in), 0);
	assert_non_null(strstr(sb.buf, "<h1 class=\"verdict\">Invalid</h1>"));
	assert_non_null(strstr(sb.buf, "</html>\n"));
	sb_release(&sb);
	judgement_release(&left);
	json_decref(left_doc);
	/* 3000 missions, each with 10 members: 500 rows, 2000 detail rows */
	struct strbuf doc = STRBUF_INIT;
	sb_adds(&doc, "{\"missions\": [");
	for (int i = 0; i < 3000; i++)
		sb_addf(&doc,
			"%s{\"destination\": \"d%d\", \"cost\": \"1.00\", "
			"\"delegation\": {\"members\": [%s]}}",
			i ? "," : "", i,
			"{},{},{},{},{},{},{},{},{},{\"name\": \"n\"}");
	sb_adds(&doc, "]}");
	assert_false(doc.failed);
	char *en = page_of(doc.buf, LANG_EN, &x);
	size_t rows = 0;
	for (const char *p = en; (p = strstr(p, "<td class=\"no")); p++)
		rows++;
	assert_int_equal(rows, 500 + 2000); /* missions, members */
	assert_non_null(strstr(en, "Only the first 500 of 3000 are shown."));
	assert_non_null(strstr(en, "id=\"sum\">3000.00</td>"));
	assert_true(strlen(en) < 2 * 1024 * 1024);
	free(en);
	unjudge(&x);
	sb_release(&doc);
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)) != NULL; s++)
		n++;
	return n;
}

/* nm missions whose every field is of the wrong kind: 6 findings each
 * (the issue's report, smaller). */
static void ill_typed(struct strbuf *doc, size_t nm)
{
	sb_adds(doc, "{\"missions\": [");
	for (size_t i = 0; i < nm; i++)
		sb_addf(doc,
			"%s{\"start\": \"x\", \"end\": \"y\", \"cost\": "
			"\"z\", \"id\": 1, \"destination\": 2, "
			"\"delegation\": 3}",
			i ? "," : "");
	sb_adds(doc, "]}");
	assert_false(doc->failed);
}

/* A page lists the first 1000 findings in its order (errors, warnings,
 * information), says how many more there are and where to read them;
 * the tables link to listed findings only. */
static void findings_cap(void **state)
{
	struct strbuf doc = STRBUF_INIT;
	struct judged x;
	char want[200], id[32];
	(void)state;

	ill_typed(&doc, 400);
	max_findings = 1000000;
	char *en = page_of(doc.buf, LANG_EN, &x);
	assert_true(x.j.nfindings > 2000);
	assert_int_equal(count(en, "<li class=\"finding "), PAGE_MAX_FINDINGS);
	snprintf(want, sizeof(want),
		 "<p class=\"note\" id=\"not-listed\">%zu more findings "
		 "are not shown here: see <code><bdi>r.json</bdi>.result.json"
		 "</code>.</p>",
		 x.j.nfindings - PAGE_MAX_FINDINGS);
	assert_non_null(strstr(en, want));
	assert_links_resolve(en);
	/* the first 1000 in the page's order, and none after them */
	size_t listed = 0;
	for (int s = SEV_ERROR; s <= SEV_INFO; s++)
		for (size_t i = 0; i < x.j.nfindings; i++) {
			if (x.j.findings[i].severity != (enum severity)s)
				continue;
			snprintf(id, sizeof(id), " id=\"f-%zu\"", i + 1);
			if (listed++ < PAGE_MAX_FINDINGS)
				assert_non_null(strstr(en, id));
			else
				assert_null(strstr(en, id));
		}
	/* the cells link to the listed findings, and once each to the note
	 * for those that are not: mission 400's cost has a finding, not
	 * listed */
	assert_int_equal(count(en, "class=\"ref ref-e\" href=\"#f-"),
			 PAGE_MAX_FINDINGS - count(en, "The whole file"));
	assert_non_null(
	    strstr(en, "<td class=\"num hit hit-e\" id=\"at-missions-399-"
		       "cost\" data-pointer=\"/missions/399/cost\"><code "
		       "class=\"odd\">\"<bdi>z</bdi>\"</code><span "
		       "class=\"refs\"><a class=\"ref ref-e\" "
		       "href=\"#not-listed\">+1</a>"));
	free(en);
	unjudge(&x);
	char *fr = page_of(doc.buf, LANG_FR, &x);
	snprintf(want, sizeof(want),
		 "%zu autres constats ne sont pas affich\u00e9s ici : voir "
		 "<code><bdi>r.json</bdi>.result.json</code>.",
		 x.j.nfindings - PAGE_MAX_FINDINGS);
	assert_non_null(strstr(fr, want));
	free(fr);
	unjudge(&x);
	/* just under the cap: every finding, no note */
	sb_release(&doc);
	ill_typed(&doc, 10);
	en = page_of(doc.buf, LANG_EN, &x);
	assert_int_equal(count(en, "<li class=\"finding "), x.j.nfindings);
	assert_null(strstr(en, "not-listed"));
	free(en);
	unjudge(&x);
	sb_release(&doc);
	max_findings = 0;
}

/* A result document of n findings, each with long strings of quotes
 * (every byte escaped as 5), read back as a judgement. */
static void long_findings(struct judgement *j, const char *verdict, size_t n)
{
	char big[2500];
	json_t *fs = json_array(), *doc;

	memset(big, '\'', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    fs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "rule", big,
				  "severity", "error", "path", big, "message",
				  big, "expected", big, "actual", big));
	doc = json_pack("{s:s, s:s, s:o}", "verdict", verdict, "file",
			"big.json", "findings", fs);
	assert_int_equal(judgement_from_json(doc, j), 0);
	json_decref(doc);
}

/* The list of findings stops at PAGE_MAX_FINDINGS_BYTES, on a valid page
 * or an invalid one. */
static void findings_bytes(void **state)
{
	const char *verdicts[] = {"rejected", "invalid"};
	(void)state;

	for (int v = 0; v < 2; v++) {
		struct judgement j;
		struct page_input in = {.j = &j};
		struct strbuf sb = STRBUF_INIT;
		long_findings(&j, verdicts[v], 600);
		assert_int_equal(page_render(&sb, &in), 0);
		size_t n = count(sb.buf, "<li class=\"finding ");
		const char *first = strstr(sb.buf, "<li class=\"finding ");
		const char *last = strstr(sb.buf, "</ul>");
		assert_true(n > 50 && n < 600);
		assert_true(first && last && last > first);
		assert_true((size_t)(last - first) <
			    PAGE_MAX_FINDINGS_BYTES + 20 * 1024);
		assert_true((size_t)(last - first) >= PAGE_MAX_FINDINGS_BYTES);
		char want[100];
		snprintf(want, sizeof(want),
			 "%zu more findings are not shown here", 600 - n);
		assert_non_null(strstr(sb.buf, want));
		assert_links_resolve(sb.buf);
		assert_true(sb.len < 2 * 1024 * 1024);
		sb_release(&sb);
		judgement_release(&j);
	}
}

/* The largest page a report can make, near enough: every string of the
 * tables as long as shown and escaped five times over, rows and folds
 * full, 1000 findings. docs/pages.md promises at most 10 MB. */
static void worst_page(void **state)
{
	struct strbuf doc = STRBUF_INIT;
	struct judged x;
	char q[301], e[1500];
	(void)state;

	memset(q, '\'', 300);
	q[300] = '\0';
	snprintf(e, sizeof(e),
		 "{\"date\": \"%s\", \"category\": \"%s\", \"amount\": "
		 "\"%s\", \"description\": \"%s\"}",
		 q, q, q, q);
	sb_addf(&doc,
		"{\"id\": \"%s\", \"authority\": \"%s\", \"subject\": "
		"\"%s\", \"currency\": \"%s\", \"total\": \"%s\", "
		"\"meeting\": {\"body\": \"%s\", \"date\": \"%s\"}, "
		"\"missions\": [",
		q, q, q, q, q, q, q);
	/* 500 rows of 4 expenses: the 2000 rows of the folds */
	for (int i = 0; i < 600; i++)
		sb_addf(&doc,
			"%s{\"id\": \"%s\", \"destination\": \"%s\", "
			"\"start\": \"%s\", \"end\": \"%s\", \"cost\": "
			"\"%s\", \"delegation\": {\"councillors\": \"%s\", "
			"\"guests\": \"%s\", \"staff\": \"%s\", \"size\": "
			"\"%s\"}, \"expenses\": [%s, %s, %s, %s]}",
			i ? "," : "", q, q, q, q, q, q, q, q, q, e, e, e, e);
	sb_adds(&doc, "]}");
	assert_false(doc.failed);
	max_findings = 1000000;
	char *en = page_of(doc.buf, LANG_EN, &x);
	max_findings = 0;
	assert_int_equal(count(en, "<li class=\"finding "), PAGE_MAX_FINDINGS);
	assert_int_equal(count(en, "<td class=\"no"), 500 + 2000);
	assert_true(strlen(en) < 10 * 1000 * 1000);
	free(en);
	unjudge(&x);
	sb_release(&doc);
}

/* Failing each allocation of page_render in turn: 0 and the same page,
 * or -1; never a crash. */
static void out_of_memory(void **state)
{
	(void)state;
#ifdef HAVE_FAILING_MALLOC
	if (!failing_works())
		skip(); /* malloc is not ours (valgrind) */
	size_t len;
	char *text = read_seed(&len);
	struct judged x;
	enum lang langs[] = {LANG_EN, LANG_FR};

	for (int l = 0; l < 2; l++) {
		judge(&x, "r36.json", text, len, langs[l]);
		char *normal = render(&x, langs[l]);
		struct page_input in = {
		    .j = &x.j, .report = x.root, .lang = langs[l]};
		long failed = 0, k;
		for (k = 1;; k++) {
			struct strbuf sb = STRBUF_INIT;
			countdown = k;
			int rc = page_render(&sb, &in);
			bool hit = countdown <= 0;
			countdown = -1;
			if (rc == -1) {
				assert_true(sb.failed);
				failed++;
			} else {
				assert_string_equal(sb.buf, normal);
			}
			sb_release(&sb);
			if (!hit && rc == 0)
				break; /* k is past the last allocation */
		}
		assert_true(failed > 0);
		/* every allocation of the page's own is checked (French
		 * lookups may allocate inside gettext, which copes) */
		if (langs[l] == LANG_EN)
			assert_int_equal(failed, k - 1);
		free(normal);
		unjudge(&x);
	}
	free(text);
#else
	skip();
#endif
}

/* A place in words: the member of a mission's list, a count. */
static void labels(void **state)
{
	struct judged x;
	char *en =
	    page_of("{\"missions\": [{\"delegation\": {\"size\": 1, "
		    "\"councillors\": 1, \"guests\": 0, \"staff\": 0, "
		    "\"members\": [{\"name\": \"A\", \"role\": \"mayor\"}]}}]}",
		    LANG_EN, &x);
	(void)state;

	assert_non_null(strstr(en, "href=\"#at-missions-0-delegation-members-"
				   "0-role\">\u2191 Mission 1 \u00b7 Member 1 "
				   "\u00b7 Role</a>"));
	assert_non_null(strstr(en, "<details class=\"annex\" open>"));
	free(en);
	unjudge(&x);
}

/* pg_cell_label(key) in language l, as a new string. */
static char *cell_label(const char *key, enum lang l)
{
	struct strbuf sb = STRBUF_INIT;
	struct pg p = {.out = &sb, .lang = l};

	pg_cell_label(&p, key);
	assert_false(sb.failed);
	return sb_detach(&sb, NULL);
}

static void assert_cell_label(const char *key, enum lang l, const char *want)
{
	char *got = cell_label(key, l);

	assert_string_equal(got, want);
	free(got);
}

/* Places in words read naturally, and any key is safe: an index that
 * would overflow, a number first, a name of no label. */
static void cell_labels(void **state)
{
	(void)state;
	assert_cell_label("/meeting/date", LANG_EN, "Meeting date");
	assert_cell_label("/meeting/date", LANG_FR, "Date de la s\u00e9ance");
	assert_cell_label("/meeting/body", LANG_EN, "Deciding body");
	assert_cell_label("/meeting/body", LANG_FR, "Instance");
	assert_cell_label("/meeting", LANG_EN, "Meeting");
	assert_cell_label("/period/start", LANG_EN, "Start of the period");
	assert_cell_label("/period/end", LANG_FR, "Fin de la p\u00e9riode");
	assert_cell_label("/missions/1/start", LANG_EN,
			  "Mission 2 \u00b7 Start");
	assert_cell_label("/missions/0/expenses/2/date", LANG_FR,
			  "Mission 1 \u00b7 D\u00e9pense 3 \u00b7 Date");
	/* 2^64 used to wrap to 0: "Mission 1" */
	assert_cell_label("/missions/18446744073709551616/start", LANG_EN,
			  "18446744073709551616 \u00b7 Start");
	assert_cell_label("/missions/18446744073709551615", LANG_EN,
			  "18446744073709551615");
	assert_cell_label("/missions/18446744073709551614", LANG_EN,
			  "Mission 18446744073709551615");
	/* a number first has no list before it (read t[-1]) */
	assert_cell_label("/7", LANG_EN, "7");
	assert_cell_label("/meeting/7", LANG_EN, "Meeting \u00b7 7");
	assert_cell_label("/<b>&", LANG_EN, "&lt;b&gt;&amp;");
}

/* The other sentences of issue 11 in French: the time budget, the ping. */
static void other_french(void **state)
{
	struct strbuf doc = STRBUF_INIT;
	struct diag d = DIAG_INIT;
	struct ruleset *rs;
	struct judgement j;
	struct judge_opts o = {.lang = LANG_FR, .max_time_ms = 1};
	size_t len;
	(void)state;

	sb_adds(&doc, "{\"missions\": [");
	for (int i = 0; i < 200000; i++)
		sb_addf(&doc, "%s{\"id\": \"m%d\"}", i ? "," : "", i);
	sb_adds(&doc, "]}");
	assert_false(doc.failed);
	assert_int_equal(ruleset_load_builtin(&rs, &d), 0);
	assert_int_equal(judge_bytes(rs, &o, "slow.json", doc.buf, doc.len, &j),
			 0);
	assert_int_equal(j.verdict, VERDICT_INVALID);
	assert_string_equal(j.findings[0].rule, "input.resources");
	assert_string_equal(j.findings[0].message,
			    "le contr\u00f4le a dur\u00e9 plus de 1 ms");
	judgement_release(&j);
	ruleset_free(rs);
	sb_release(&doc);

	i18n_set(LANG_FR);
	char *ping = webhook_build_ping(WEBHOOK_SLACK, "chat", 0, &len);
	i18n_set(LANG_EN);
	assert_non_null(ping);
	assert_non_null(
	    strstr(ping, "expensed : message de test via le webhook chat"));
	free(ping);
}

/* Numbers written without printf read as printf wrote them: integers
 * (the smallest too), amounts below zero, a number of a translated
 * format; a format with another conversion is still formatted. */
static void numbers_copied(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct pg p = {.out = &sb, .lang = LANG_EN};
	struct judged x;
	char *en = page_of(
	    "{\"total\": \"-0.05\", \"missions\": [{\"id\": -7, "
	    "\"destination\": -9223372036854775808, \"cost\": \"-12.3\", "
	    "\"delegation\": {\"size\": 0, \"councillors\": -3, "
	    "\"guests\": 1, \"staff\": 2}}]}",
	    LANG_EN, &x);
	(void)state;

	assert_non_null(strstr(en, "<code class=\"odd\">-7</code>"));
	assert_non_null(
	    strstr(en, "<code class=\"odd\">-9223372036854775808</code>"));
	assert_non_null(strstr(en, "<td class=\"num\">-3</td>"));
	assert_non_null(strstr(en, "id=\"at-total\" data-pointer=\"/total\">"
				   "-0.05<span"));
	assert_non_null(strstr(en, "\">-12.30<span"));
	assert_non_null(strstr(en, "<td class=\"num\" id=\"sum\">-12.30</td>"));
	assert_non_null(strstr(en, "-12.30<span class=\"diff\">difference: "
				   "12.25</span>"));
	free(en);
	unjudge(&x);

	pg_fmt_zu(&p, "Mission %zu", 12);
	pg_fmt_zu(&p, "|%zu|", 0);
	pg_fmt_zu(&p, "%zu%% ", 7);  /* another: formatted */
	pg_fmt_zu(&p, "%1$zu. ", 3); /* the same */
	pg_fmt_s(&p, "on or after %s!", "2019-02-08");
	pg_fmt_s(&p, "<%s>", "");
	pg_fmt_zu(&p, "none ", 5); /* no conversion: as sb_addf */
	assert_false(sb.failed);
	assert_string_equal(sb.buf, "Mission 12|0|7% 3. on or after "
				    "2019-02-08!<>none ");
	sb_release(&sb);
}

/* pg_tr() is i18n_tr() looked up once per page: the same text the first
 * time, again when asked again, and past its memo. */
static void words_once(void **state)
{
	static char ids[PG_TR_MEMO + 4][8]; /* "w0"... in no catalog */
	struct strbuf sb = STRBUF_INIT;
	struct pg p = {.out = &sb, .lang = LANG_FR};
	const char *found = N_("Found:"), *no = N_("No.");
	(void)state;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		snprintf(ids[i], sizeof(ids[i]), "w%zu", i);
	assert_string_equal(pg_tr(&p, found), "Constat\u00e9 :");
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_ptr_equal(pg_tr(&p, ids[i]), ids[i]); /* not in it */
	assert_int_equal(p.ntr, PG_TR_MEMO);
	assert_string_equal(pg_tr(&p, found), i18n_tr(LANG_FR, found));
	assert_string_equal(pg_tr(&p, no), i18n_tr(LANG_FR, no));
	assert_string_not_equal(pg_tr(&p, no), no);
	p.lang = LANG_EN;
	assert_ptr_equal(pg_tr(&p, no), no);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escaping),
	    cmocka_unit_test(seed_amounts),
	    cmocka_unit_test(other_currency),
	    cmocka_unit_test(seed_cells),
	    cmocka_unit_test(rejected_cells),
	    cmocka_unit_test(invalid_json),
	    cmocka_unit_test(hostile),
	    cmocka_unit_test(shapes),
	    cmocka_unit_test(labels),
	    cmocka_unit_test(cell_labels),
	    cmocka_unit_test(findings_cap),
	    cmocka_unit_test(findings_bytes),
	    cmocka_unit_test(worst_page),
	    cmocka_unit_test(other_french),
	    cmocka_unit_test(numbers_copied),
	    cmocka_unit_test(words_once),
	    cmocka_unit_test(out_of_memory),
	    cmocka_unit_test(real_numbers),
	    cmocka_unit_test(strings_misplaced),
	    cmocka_unit_test(report_strings_as_written),
	    cmocka_unit_test(missing_in_words),
	};
	char self[4096], localedir[4200];

	(void)argc;
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(seed_path, sizeof(seed_path),
		 "%s/../../examples/cd13-cp-2019-02-08-r36.json",
		 dirname(self));
	snprintf(localedir, sizeof(localedir), "%s/../locale", self);
	setenv("EXPENSED_LOCALEDIR", localedir, 1);
	setenv("LC_ALL", "C", 1);
	i18n_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
