/*
 * page_invalid.c - the verdict page of a file that could not be judged:
 * what is wrong in plain words for each input.* reason, the text around
 * the error quoted from the file's bytes for input.json and
 * input.encoding, and how to fix it.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/utf8.h"
#include "page_int.h"

#define QUOTE_BEFORE 60 /* characters shown before the error's column */
#define QUOTE_AFTER 60	/* and after it */
#define QUOTE_LINE 120	/* characters of the lines around it */

static const struct {
	const char *rule, *what, *fix;
} reasons[] = {
    {"input.json",
     N_("The file is not valid JSON, so none of its content could be "
	"checked. Reading stopped at the place shown below; the mistake is "
	"there or just before it: a missing comma or quote, a bracket that "
	"is not closed, a field written twice."),
     N_("Correct the file at that place, or export it again from the "
	"application that made it, then drop it again.")},
    {"input.encoding",
     N_("The file holds bytes that are not UTF-8 text: it was probably "
	"saved in another encoding, such as Windows-1252 or Latin-1. The "
	"first such byte is marked below."),
     N_("Save or export the file again as UTF-8, then drop it again.")},
    {"input.size",
     N_("The file is larger than the size this service accepts, so it "
	"was not read."),
     N_("Check that it is the right file: a report this large is unusual. "
	"Split it into several reports, or ask the administrator to raise "
	"the limit (max_file_size).")},
    {"input.type",
     N_("The file is valid JSON but not a report: a report is one JSON "
	"object, written between { and }."),
     N_("Export the report again in the mission-report/1 format: one "
	"object with the fields format, id, authority, meeting, subject, "
	"period, currency, total and missions.")},
    {"input.file",
     N_("What was dropped is not an ordinary file (a folder, a link, a "
	"file with several names) or it could not be read."),
     N_("Drop a plain copy of the report file itself.")},
    {"input.name",
     N_("The file's name does not end in .json, so it was not read as a "
	"report."),
     N_("Rename the file so that its name ends in .json, then drop it "
	"again.")},
    {"input.resources",
     N_("The file could not be checked within the limits of the machine: "
	"checking it took too long or needed too much memory."),
     N_("Check that it is the right file and that it is not unusually "
	"large or deeply nested; if it is the right file, ask the "
	"administrator.")},
};

/* Bytes in the character at s (an invalid byte counts as one). */
static size_t char_len(const unsigned char *s, size_t n)
{
	size_t k = utf8_seq_len(s, n);
	return k ? k : 1;
}

/* The first two decimal numbers of s (the line and column of
 * "invalid JSON at line %d, column %d: ..." in any language). */
static bool two_numbers(const char *s, long *a, long *b)
{
	long v[2] = {0, 0};
	int n = 0;

	while (*s && n < 2) {
		if (*s >= '0' && *s <= '9') {
			char *end;
			v[n++] = strtol(s, &end, 10);
			s = end;
		} else {
			s++;
		}
	}
	*a = v[0];
	*b = v[1];
	return n == 2 && v[0] > 0 && v[1] > 0;
}

/* The line and column (characters, from 1) of the first byte that is not
 * UTF-8, counted as rules/judge.c counts them (after a BOM). */
static bool bad_byte(const unsigned char *s, size_t n, long *line, long *col)
{
	if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) {
		s += 3;
		n -= 3;
	}
	size_t off = utf8_valid_prefix(s, n);
	if (off >= n)
		return false;
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (s[i] == '\n')
			(*line)++, *col = 1;
		else if ((s[i] & 0xC0) != 0x80)
			(*col)++;
	}
	return true;
}

/* Append bytes [a, b) of the quoted line, at most max characters of it
 * from its start (from_end: of its end), "..." where it is cut. */
static void quote_part(struct pg *p, const unsigned char *a,
		       const unsigned char *b, size_t max, bool from_end)
{
	size_t nchars = 0;
	const unsigned char *c;

	for (c = a; c < b; c += char_len(c, (size_t)(b - c)))
		nchars++;
	if (nchars > max && from_end) {
		sb_adds(p->out, "\xe2\x80\xa6");
		for (; nchars > max; nchars--)
			a += char_len(a, (size_t)(b - a));
	} else if (nchars > max) {
		for (c = a; max > 0; max--)
			c += char_len(c, (size_t)(b - c));
		pg_text_n(p, (const char *)a, (size_t)(c - a));
		sb_adds(p->out, "\xe2\x80\xa6");
		return;
	}
	pg_text_n(p, (const char *)a, (size_t)(b - a));
}

/* The lines around line:col of the file, the character there marked. */
static void quote(struct pg *p, long line, long col)
{
	const unsigned char *s = p->in->data;
	const unsigned char *end = s + p->in->len;
	const unsigned char *ls = s;
	long no = 1;

	if (p->in->len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		ls = s += 3;
	/* start of line - 2 */
	for (; no < line - 2 && ls < end; ls++)
		if (*ls == '\n')
			no++;
	if (no < line - 2)
		return; /* the file has fewer lines */
	sb_adds(p->out, "<p class=\"k\">");
	sb_addf(p->out, i18n_tr(p->lang, "Line %ld, column %ld:"), line, col);
	sb_adds(p->out, "</p>\n<pre class=\"quote\" id=\"quote\">");
	for (; no <= line + 1; no++) {
		const unsigned char *nl = memchr(ls, '\n', (size_t)(end - ls));
		const unsigned char *le = nl ? nl : end;
		if (ls == end && no > line)
			break; /* no text after the last newline */
		if (le > ls && le[-1] == '\r')
			le--;
		sb_adds(p->out, no == line ? "<span class=\"at\">"
					   : "<span class=\"near\">");
		sb_adds(p->out, "<span class=\"ln\">");
		sb_addu(p->out, (unsigned long)no); /* from 1 */
		sb_adds(p->out, "</span>");
		if (no != line) {
			quote_part(p, ls, le, QUOTE_LINE, false);
		} else {
			const unsigned char *c = ls;
			for (long k = 1; k < col && c < le; k++)
				c += char_len(c, (size_t)(le - c));
			quote_part(p, ls, c, QUOTE_BEFORE, true);
			sb_adds(p->out, "<mark class=\"here\">");
			if (c < le) {
				size_t n = char_len(c, (size_t)(le - c));
				pg_text_n(p, (const char *)c, n);
				c += n;
			} else {
				sb_adds(p->out, " ");
			}
			sb_adds(p->out, "</mark>");
			quote_part(p, c, le, QUOTE_AFTER, false);
		}
		sb_adds(p->out, "</span>\n");
		if (nl == NULL)
			break;
		ls = nl + 1;
	}
	sb_adds(p->out, "</pre>\n");
}

void pg_invalid(struct pg *p)
{
	const struct judgement *j = p->in->j;
	const struct finding *f = j->nfindings ? &j->findings[0] : NULL;
	const char *what = N_("The file could not be checked.");
	const char *fix = N_("Ask the administrator what happened.");
	long line, col;

	for (size_t i = 0; f && i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(f->rule, reasons[i].rule) == 0) {
			what = reasons[i].what;
			fix = reasons[i].fix;
		}
	/* .plain, ul.flist, and quote()'s .k and pre.quote */
	p->css |= PG_CSS_QUOTE | PG_CSS_FINDINGS;
	sb_adds(p->out, "<section id=\"problem\" class=\"plain\"><h2>");
	sb_adds(p->out, i18n_tr(p->lang, "What is wrong"));
	sb_adds(p->out, "</h2>\n<ul class=\"flist\">\n");
	for (size_t i = 0; i < j->nfindings && pg_finding(p, i); i++)
		continue;
	sb_adds(p->out, "</ul>\n");
	pg_not_listed(p);
	sb_adds(p->out, "<p>");
	sb_adds(p->out, i18n_tr(p->lang, what));
	sb_adds(p->out, "</p>\n");
	if (f && p->in->data != NULL) {
		if (strcmp(f->rule, "input.json") == 0 &&
		    two_numbers(f->message, &line, &col))
			quote(p, line, col);
		else if (strcmp(f->rule, "input.encoding") == 0 &&
			 bad_byte(p->in->data, p->in->len, &line, &col))
			quote(p, line, col);
	}
	sb_adds(p->out, "<h2>");
	sb_adds(p->out, i18n_tr(p->lang, "How to fix it"));
	sb_adds(p->out, "</h2>\n<p>");
	sb_adds(p->out, i18n_tr(p->lang, fix));
	sb_adds(p->out, "</p></section>\n");
}
