/*
 * page.c - the verdict page of one judged file (page.h, docs/pages.md):
 * the verdict and counts, the report's header, its missions (page_table.c),
 * the findings linked to their cells (page_cells.c), or for an invalid
 * file what is wrong and how to fix it (page_invalid.c); then the facts of
 * the check. Read like a bank statement: plain, printable on A4.
 */
#include <stdio.h>
#include <string.h>

#include "../common/timefmt.h"
#include "../rules/value.h"
#include "page_int.h"

static const char *verdict_title(enum lang l, enum verdict v)
{
	return v == VERDICT_ACCEPTED   ? i18n_tr(l, "Accepted")
	       : v == VERDICT_REJECTED ? i18n_tr(l, "Rejected")
				       : i18n_tr(l, "Invalid");
}

/* The head, its style sheet left out: returns where it goes (once the
 * body has said what it holds: page_render()). */
static size_t head(struct pg *p)
{
	const struct judgement *j = p->in->j;
	size_t style;

	sb_adds(p->out, "<!DOCTYPE html>\n<html lang=\"");
	sb_adds(p->out, i18n_name(p->lang));
	sb_adds(p->out, "\"><head><meta charset=\"utf-8\">\n"
			"<meta http-equiv=\"Content-Security-Policy\" "
			"content=\"");
	sb_adds(p->out, pg_csp);
	sb_adds(p->out,
		"\">\n<meta name=\"viewport\" content=\"width=device-"
		"width, initial-scale=1\">\n<meta name=\"color-scheme\" "
		"content=\"light\">\n<title>");
	sb_adds(p->out, verdict_title(p->lang, j->verdict));
	sb_adds(p->out, " \xe2\x80\x94 ");
	pg_text(p, p->file, PAGE_MAX_TEXT);
	sb_adds(p->out, "</title>\n<style>");
	style = p->out->len;
	sb_adds(p->out, "</style>\n</head>\n");
	return style;
}

/* t, "2019-02-08T10:00:00Z", in local time: "08/02/2019 11:00:00 CET" in
 * French, into buf (p->checked_at). */
static void timestamp(const struct pg *p, time_t t, char *buf, size_t size)
{
	struct local_time lt;
	char shown[32];

	local_time(t, &lt);
	i18n_date(p->lang, lt.day, shown, sizeof(shown));
	snprintf(buf, size, "%s %s %s", shown, lt.hms, lt.zone);
}

static void banner(struct pg *p)
{
	const struct judgement *j = p->in->j;
	static const char *const cls[] = {"accepted", "rejected", "invalid"};
	static const char *const mark[] = {"\xe2\x9c\x93", "\xe2\x9c\x97", "!"};
	unsigned long ne = (unsigned long)j->errors;
	unsigned long nw = (unsigned long)j->warnings;

	p->css |= PG_CSS_ACCEPTED << j->verdict;
	sb_adds(p->out, "<header class=\"banner v-");
	sb_adds(p->out, cls[j->verdict]);
	sb_adds(p->out, "\" id=\"verdict\"><div class=\"mark\" "
			"aria-hidden=\"true\">");
	sb_adds(p->out, mark[j->verdict]);
	sb_adds(p->out, "</div><div><p class=\"kicker\">");
	sb_adds(p->out, i18n_tr(p->lang, "Verdict"));
	sb_adds(p->out, "</p><h1 class=\"verdict\">");
	sb_adds(p->out, verdict_title(p->lang, j->verdict));
	sb_adds(p->out, "</h1><p class=\"counts\"><span class=\"n-errors\">");
	sb_addf(p->out, i18n_ntr(p->lang, "%d error", "%d errors", ne),
		j->errors);
	sb_adds(p->out, "</span> \xc2\xb7 <span class=\"n-warnings\">");
	sb_addf(p->out, i18n_ntr(p->lang, "%d warning", "%d warnings", nw),
		j->warnings);
	sb_adds(p->out, "</span>");
	if (j->findings_left_out > 0) {
		sb_adds(p->out, " \xc2\xb7 <span class=\"n-left-out\">");
		sb_addf(p->out,
			i18n_ntr(p->lang, "%zu finding not listed",
				 "%zu findings not listed",
				 j->findings_left_out),
			j->findings_left_out);
		sb_adds(p->out, "</span>");
	}
	sb_adds(p->out, "</p><p class=\"say\">");
	sb_adds(p->out,
		j->verdict == VERDICT_ACCEPTED && j->warnings == 0
		    ? i18n_tr(p->lang, "No error and no warning: the report "
				       "can go ahead.")
		: j->verdict == VERDICT_ACCEPTED
		    ? i18n_tr(p->lang, "No error was found: the report can "
				       "go ahead. The warnings below deserve "
				       "a look.")
		: j->verdict == VERDICT_REJECTED
		    ? i18n_tr(p->lang, "The report has errors: it must be "
				       "corrected and dropped again.")
		    : i18n_tr(p->lang, "The file could not be read as a "
				       "report: nothing in it was checked."));
	sb_adds(p->out, "</p></div><div class=\"file\"><b>");
	pg_str(p, p->file, PAGE_MAX_TEXT);
	sb_adds(p->out, "</b><br>");
	sb_adds(p->out, p->checked_at);
	sb_adds(p->out, "</div></header>\n");
}

/* A row of the report's facts: the cell of one member of the top. */
static void fact(struct pg *p, const char *name, enum pg_kind kind)
{
	char key[32];
	struct pg_cell c;

	pg_key(key, sizeof(key), "", name);
	sb_adds(p->out, "<tr><th>");
	sb_adds(p->out, pg_label(p, name));
	sb_adds(p->out, "</th>");
	c = pg_cell_open(p, "td", key, kind == PG_AMOUNT ? "num" : NULL);
	pg_value(p, json_object_get(p->in->report, name), kind);
	pg_cell_close(p, &c);
	sb_adds(p->out, "</tr>\n");
}

/* A row of two members of one object ("/meeting": body and date). */
static void pair(struct pg *p, const char *name, const char *a, enum pg_kind ka,
		 const char *sep, const char *b, enum pg_kind kb)
{
	const json_t *obj = json_object_get(p->in->report, name);
	char key[32], ka_key[48], kb_key[48];
	struct pg_cell c, part;

	pg_key(key, sizeof(key), "", name);
	pg_key(ka_key, sizeof(ka_key), key, a);
	pg_key(kb_key, sizeof(kb_key), key, b);
	sb_adds(p->out, "<tr><th>");
	sb_adds(p->out, pg_label(p, name));
	sb_adds(p->out, "</th>");
	c = pg_cell_open(p, "td", key, NULL);
	if (obj != NULL && !json_is_object(obj)) {
		pg_value(p, obj, PG_CONTAINER);
	} else {
		part = pg_cell_open(p, "span", ka_key, NULL);
		pg_value(p, json_object_get(obj, a), ka);
		pg_cell_close(p, &part);
		sb_adds(p->out, sep);
		part = pg_cell_open(p, "span", kb_key, NULL);
		pg_value(p, json_object_get(obj, b), kb);
		pg_cell_close(p, &part);
	}
	pg_cell_close(p, &c);
	sb_adds(p->out, "</tr>\n");
}

/* The sum of the costs, and how far it is from the declared total. */
static void sum_row(struct pg *p)
{
	int64_t sum = p->sum, total;
	size_t unreadable = p->unreadable;

	sb_adds(p->out, "<tr class=\"sum\"><th>");
	sb_adds(p->out, i18n_tr(p->lang, "Sum of the missions' costs"));
	sb_adds(p->out, "</th><td class=\"num\" id=\"computed-sum\">");
	if (p->sum_ok) {
		pg_amount(p, sum);
		if (amount_from_json(json_object_get(p->in->report, "total"),
				     &total) == 0 &&
		    total != sum && !__builtin_sub_overflow(total, sum, &sum)) {
			p->css |= PG_CSS_DIFF;
			sb_adds(p->out, "<span class=\"diff\">");
			sb_adds(p->out, i18n_tr(p->lang, "difference:"));
			sb_addc(p->out, ' ');
			pg_amount(p, sum);
			sb_adds(p->out, "</span>");
		}
	} else {
		p->css |= PG_CSS_NONE;
		sb_adds(p->out, "<span class=\"none\">\xe2\x80\x94 ");
		if (unreadable > 0)
			sb_addf(p->out,
				i18n_ntr(p->lang,
					 "(%zu cost cannot be read as an "
					 "amount)",
					 "(%zu costs cannot be read as "
					 "amounts)",
					 unreadable),
				unreadable);
		else if (json_is_array(
			     json_object_get(p->in->report, "missions")))
			sb_adds(p->out, i18n_tr(p->lang, "(too large)"));
		sb_adds(p->out, "</span>");
	}
	sb_adds(p->out, "</td></tr>\n");
}

static void report_header(struct pg *p)
{
	sb_adds(p->out, "<section id=\"report\"><h2>");
	sb_adds(p->out, i18n_tr(p->lang, "Report"));
	p->css |= PG_CSS_FACTS;
	sb_adds(p->out, "</h2>\n<table class=\"facts\">\n");
	fact(p, "id", PG_TEXT);
	fact(p, "authority", PG_TEXT);
	pair(p, "meeting", "body", PG_TEXT, " \xe2\x80\x94 ", "date", PG_DATE);
	fact(p, "subject", PG_TEXT);
	pair(p, "period", "start", PG_DATE, " \xe2\x80\x93 ", "end", PG_DATE);
	fact(p, "currency", PG_TEXT);
	fact(p, "format", PG_TEXT);
	fact(p, "total", PG_AMOUNT);
	sum_row(p);
	sb_adds(p->out, "</table></section>\n");
}

/* s if it is a date or an amount with decimals, in the page's words;
 * false (nothing written) for anything else. */
static bool date_or_amount(struct pg *p, const char *s)
{
	int64_t v;

	if (date_parse(s, &v) == 0)
		pg_date(p, s);
	else if (strchr(s, '.') && amount_parse(s, &v) == 0)
		pg_amount(p, v);
	else
		return false;
	return true;
}

/* An expected or actual value s (NULL: none) after its label. computed
 * (VALUES_COMPUTED): dates and amounts in the page's words, also in the
 * engine's forms "on or after DATE", ">= AMOUNT", "<= AMOUNT" and
 * "DATE..DATE"; anything else, and any value not computed (the report's
 * own strings), as it is. */
static void ev_value(struct pg *p, const char *label, const char *s,
		     bool computed)
{
	static const char after[] = "on or after ";
	const char *dots = strstr(s ? s : "", "..");
	char first[16], buf[32];
	int64_t v;

	if (s == NULL)
		return;
	sb_adds(p->out, "<span class=\"k\">");
	sb_adds(p->out, label);
	sb_adds(p->out, "</span> <code>");
	if (!computed) {
		pg_str(p, s, PAGE_MAX_LONG_TEXT);
	} else if (date_or_amount(p, s)) {
		/* done */
	} else if (strncmp(s, after, sizeof(after) - 1) == 0 &&
		   date_parse(s + sizeof(after) - 1, &v) == 0) {
		pg_fmt_s(
		    p, pg_tr(p, N_("on or after %s")),
		    pg_date_text(p, s + sizeof(after) - 1, buf, sizeof(buf)));
	} else if ((s[0] == '<' || s[0] == '>') && s[1] == '=' && s[2] == ' ' &&
		   strchr(s, '.') && amount_parse(s + 3, &v) == 0) {
		sb_adds(p->out,
			s[0] == '<' ? "\xe2\x89\xa4 " : "\xe2\x89\xa5 ");
		date_or_amount(p, s + 3);
	} else if (dots && dots - s == 10 &&
		   snprintf(first, sizeof(first), "%.10s", s) == 10 &&
		   date_parse(first, &v) == 0 &&
		   date_parse(dots + 2, &v) == 0) {
		date_or_amount(p, first);
		sb_adds(p->out, " \xe2\x80\x93 "); /* U+2013 */
		date_or_amount(p, dots + 2);
	} else {
		pg_str(p, s, PAGE_MAX_LONG_TEXT);
	}
	sb_adds(p->out, "</code>");
}

/* The words of a missing field's expected kind ("date") or of its actual
 * value ("missing"), for a VALUES_MISSING finding: the result document's
 * English words in English, translated otherwise. */
static const char *missing_words(struct pg *p, const char *s, bool expected)
{
	const char *words = NULL;

	if (expected)
		words = kind_words(s);
	else if (strcmp(s, "missing") == 0)
		words = N_("missing");
	return p->lang == LANG_EN || words == NULL ? s : pg_tr(p, words);
}

static const char *severity_word(struct pg *p, enum severity s)
{
	return pg_tr(p, s == SEV_ERROR	   ? N_("error")
			: s == SEV_WARNING ? N_("warning")
					   : N_("info"));
}

bool pg_finding(struct pg *p, size_t i)
{
	const struct finding *f = &p->in->j->findings[i];
	static const char sev[] = {'e', 'w', 'i'};

	if (p->nlisted >= PAGE_MAX_FINDINGS ||
	    p->out->len - p->list_start >= PAGE_MAX_FINDINGS_BYTES)
		return false;
	p->listed[i] = true;
	p->nlisted++;
	p->css |= PG_CSS_FINDINGS | PG_CSS_SEVERITY(f->severity);
	sb_adds(p->out, "<li class=\"finding f-");
	sb_addc(p->out, sev[f->severity]);
	sb_adds(p->out, "\" id=\"f-");
	sb_addu(p->out, i + 1);
	sb_adds(p->out, "\" data-path=\"");
	pg_text(p, f->path, PAGE_MAX_LONG_TEXT);
	sb_adds(p->out, "\"><span class=\"fno\">");
	sb_addu(p->out, i + 1);
	sb_adds(p->out, "</span><div><p class=\"msg\"><span class=\"sev\">");
	sb_adds(p->out, severity_word(p, f->severity));
	sb_adds(p->out, "</span>");
	pg_text(p, f->message, PAGE_MAX_LONG_TEXT);
	sb_adds(p->out, "</p>");
	if (f->expected || f->actual) {
		const char *exp = f->expected, *act = f->actual;
		bool computed = f->values == VALUES_COMPUTED;
		if (f->values == VALUES_MISSING) {
			exp = exp ? missing_words(p, exp, true) : NULL;
			act = act ? missing_words(p, act, false) : NULL;
		}
		sb_adds(p->out, "<p class=\"ev\">");
		ev_value(p, pg_tr(p, N_("Expected:")), exp, computed);
		ev_value(p, pg_tr(p, N_("Found:")), act, computed);
		sb_adds(p->out, "</p>");
	}
	sb_adds(p->out, "<p class=\"where\">");
	if (p->cell && p->cell[i]) {
		sb_adds(p->out, "<a class=\"back\" href=\"#");
		pg_cell_id(p, p->cell[i]);
		sb_adds(p->out, "\">\xe2\x86\x91 "); /* U+2191 */
		pg_cell_label(p, p->cell[i]);
		sb_adds(p->out, "</a>");
	} else if (f->path[0] != '\0') {
		sb_adds(p->out, pg_tr(p, N_("Not shown in the tables:")));
		sb_adds(p->out, " <code>");
		pg_str(p, f->path, PAGE_MAX_TEXT);
		sb_adds(p->out, "</code>");
	} else {
		sb_adds(p->out, pg_tr(p, N_("The whole file")));
	}
	sb_adds(p->out, "<span class=\"rule\">");
	pg_text(p, f->rule, PAGE_MAX_TEXT);
	sb_adds(p->out, "</span></p></div></li>\n");
	return true;
}

void pg_not_listed(struct pg *p)
{
	const struct judgement *j = p->in->j;
	size_t n = j->nfindings - p->nlisted;
	/* the archive's name; from the command line, the one it would get */
	const char *name = p->in->archived_as ? p->in->archived_as : p->file;
	const char *slash = strrchr(name, '/');
	struct strbuf where = STRBUF_INIT;
	struct pg q = *p; /* to write the name into where */

	if (n == 0)
		return;
	q.out = &where;
	p->css |= PG_CSS_NOTE;
	sb_adds(p->out, "<p class=\"note\" id=\"not-listed\">");
	sb_adds(&where, "<code>");
	pg_str(&q, slash ? slash + 1 : name, PAGE_MAX_TEXT);
	sb_adds(&where, ".result.json</code>");
	if (where.failed)
		p->out->failed = true;
	else
		sb_addf(p->out,
			i18n_ntr(p->lang,
				 "%zu more finding is not shown here: see %s.",
				 "%zu more findings are not shown here: see "
				 "%s.",
				 n),
			n, where.buf);
	sb_adds(p->out, "</p>\n");
	sb_release(&where);
}

static void findings(struct pg *p)
{
	const struct judgement *j = p->in->j;
	static const char *const group[] = {N_("Errors"), N_("Warnings"),
					    N_("Information")};
	static const char *const id[] = {"errors", "warnings", "infos"};

	sb_adds(p->out, "<section id=\"findings\"><h2>");
	sb_adds(p->out, i18n_tr(p->lang, "Findings"));
	sb_adds(p->out, "</h2>\n");
	if (j->nfindings == 0) {
		pg_note(p);
		sb_adds(p->out,
			i18n_tr(p->lang, "No finding: every rule holds."));
		sb_adds(p->out, "</p>\n");
	}
	for (int s = SEV_ERROR; s <= SEV_INFO; s++) {
		size_t n = 0;
		for (size_t i = 0; i < j->nfindings; i++)
			n += j->findings[i].severity == (enum severity)s;
		if (n == 0)
			continue;
		size_t head = p->out->len, listed = p->nlisted;
		sb_adds(p->out, "<h3 id=\"");
		sb_adds(p->out, id[s]);
		sb_adds(p->out, "\">");
		sb_adds(p->out, i18n_tr(p->lang, group[s]));
		sb_adds(p->out, " (");
		sb_addu(p->out, n);
		p->css |= PG_CSS_FINDINGS;
		sb_adds(p->out, ")</h3>\n<ul class=\"flist\">\n");
		for (size_t i = 0; i < j->nfindings; i++)
			if (j->findings[i].severity == (enum severity)s &&
			    !pg_finding(p, i))
				break;
		if (p->nlisted == listed) /* no room left: no heading */
			sb_setlen(p->out, head);
		else
			sb_adds(p->out, "</ul>\n");
	}
	pg_not_listed(p);
	if (j->findings_left_out > 0) {
		p->css |= PG_CSS_NOTE;
		sb_adds(p->out, "<p class=\"note\" id=\"left-out\">");
		sb_addf(p->out,
			i18n_ntr(p->lang,
				 "%zu more finding is not listed: a result "
				 "lists the first %zu.",
				 "%zu more findings are not listed: a result "
				 "lists the first %zu.",
				 j->findings_left_out),
			j->findings_left_out, j->max_findings);
		sb_adds(p->out, "</p>\n");
	}
	sb_adds(p->out, "</section>\n");
}

/* A row of the facts of the check. */
static void about_row(struct pg *p, const char *label)
{
	sb_adds(p->out, "<tr><th>");
	sb_adds(p->out, label);
	sb_adds(p->out, "</th><td>");
}

static void about(struct pg *p)
{
	const struct judgement *j = p->in->j;

	sb_adds(p->out, "<footer class=\"about\" id=\"about\"><h2>");
	sb_adds(p->out, i18n_tr(p->lang, "About this check"));
	sb_adds(p->out, "</h2><table>\n");
	about_row(p, i18n_tr(p->lang, "File"));
	pg_str(p, p->file, PAGE_MAX_LONG_TEXT);
	if (p->in->archived_as) {
		sb_adds(p->out, "</td></tr>\n");
		about_row(p, i18n_tr(p->lang, "Archived as"));
		pg_str(p, p->in->archived_as, PAGE_MAX_LONG_TEXT);
	}
	sb_adds(p->out, "</td></tr>\n");
	about_row(p, i18n_tr(p->lang, "Size"));
	if (j->size >= 0)
		sb_addf(p->out,
			i18n_ntr(p->lang, "%lld byte", "%lld bytes",
				 (unsigned long)j->size),
			j->size);
	else
		sb_adds(p->out, i18n_tr(p->lang, "not read"));
	sb_adds(p->out, "</td></tr>\n");
	about_row(p, "SHA-256");
	sb_adds(p->out, "<code>");
	sb_adds(p->out,
		j->has_sha256 ? j->sha256 : i18n_tr(p->lang, "not read"));
	sb_adds(p->out, "</code></td></tr>\n");
	about_row(p, i18n_tr(p->lang, "Checked at"));
	sb_adds(p->out, p->checked_at);
	sb_adds(p->out, "</td></tr>\n");
	about_row(p, i18n_tr(p->lang, "Rule set (SHA-256)"));
	sb_adds(p->out, "<code>");
	sb_adds(p->out, j->rules_sha256);
	sb_adds(p->out, "</code></td></tr>\n");
	about_row(p, i18n_tr(p->lang, "Checked by"));
	sb_adds(p->out, "expensed " EXPENSED_VERSION "</td></tr>\n"
			"</table></footer>\n");
}

/* What the page shows more than once, worked out once. */
static void setup(struct pg *p)
{
	p->currency = report_currency(p->in->report);
	timestamp(p, p->in->j->checked_at, p->checked_at,
		  sizeof(p->checked_at));
	p->sum_ok = pg_costs_sum(p, &p->sum, &p->unreadable) == 0;
}

int page_render(struct strbuf *out, const struct page_input *in)
{
	struct pg p = {.out = out,
		       .in = in,
		       .lang = in->lang,
		       .file = in->j->file ? in->j->file : ""};
	struct strbuf list = STRBUF_INIT;
	size_t style;
	int rc = -1;

	if (pg_cells_init(&p) == -1) {
		out->failed = true;
		goto out;
	}
	setup(&p);
	if (in->j->verdict != VERDICT_INVALID) {
		/* the findings first: the tables link to those listed */
		p.out = &list;
		findings(&p);
		p.out = out;
		if (list.failed)
			out->failed = true;
	}
	style = head(&p);
	sb_adds(out, "<body><main>\n");
	banner(&p);
	if (in->j->verdict == VERDICT_INVALID) {
		p.list_start = out->len;
		pg_invalid(&p);
	} else {
		if (in->report != NULL) {
			report_header(&p);
			pg_missions(&p);
		}
		if (list.len > 0)
			sb_add(out, list.buf, list.len);
	}
	about(&p);
	sb_adds(out, "</main></body></html>\n");
	/* the style the page's markup uses, and no more */
	if (!out->failed)
		(void)pg_css_insert(out, style, p.css);
	rc = out->failed ? -1 : 0;
out:
	sb_release(&list);
	pg_cells_release(&p);
	return rc;
}
