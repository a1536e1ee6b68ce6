/*
 * page_int.h - what the files of the verdict page share (page.h is the
 * API): the rendering state, text and value formatting (page_fmt.c), the
 * cells that findings point at (page_cells.c) and the explanations of an
 * invalid file (page_invalid.c). page.c puts the page together.
 *
 * A page's whole state is its struct pg, on page_render()'s stack: no
 * static variable is written, and what else it reads (the catalogs and
 * the locale that i18n_init() sets up before any thread starts, the
 * report, the judgement) is not written while it renders, so that a page
 * may be rendered on any thread.
 */
#ifndef EXPENSED_PAGE_INT_H
#define EXPENSED_PAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "page.h"

/* Bounds that keep a page's size in proportion to what people can read. */
#define PAGE_MAX_ROWS 500	   /* missions in the table */
#define PAGE_MAX_DETAIL_ROWS 200   /* members or expenses of one mission */
#define PAGE_MAX_DETAIL_TOTAL 2000 /* detail rows of the whole page */
#define PAGE_MAX_TEXT 300	   /* bytes of one report string in a table */
#define PAGE_MAX_LONG_TEXT 2000	   /* bytes of a header string or message */
#define PAGE_MAX_FINDINGS 1000	   /* findings listed */
/* bytes of the list of findings: once it is that long, no more */
#define PAGE_MAX_FINDINGS_BYTES (1024 * 1024)

/* Words of the page looked up once each (pg_tr). */
#define PG_TR_MEMO 48

/* The kind a column shows its value as. PG_CONTAINER: where an object or
 * an array belongs (a mission, the meeting), so that whatever is there is
 * of the wrong kind and shown as it is in the file, a string too. */
enum pg_kind { PG_TEXT, PG_DATE, PG_AMOUNT, PG_INTEGER, PG_CONTAINER };

/* What a page's markup holds, for the parts of the style sheet that style
 * it (pg_css_insert): set in struct pg's css by whatever writes it. */
enum pg_css {
	PG_CSS_ACCEPTED = 1u << 0, /* the banner of each verdict */
	PG_CSS_REJECTED = 1u << 1,
	PG_CSS_INVALID = 1u << 2,
	PG_CSS_ERROR = 1u << 3, /* a finding, a cell or a link of a severity */
	PG_CSS_WARNING = 1u << 4,
	PG_CSS_INFO = 1u << 5,
	PG_CSS_FACTS = 1u << 6,	   /* table.facts */
	PG_CSS_MISSIONS = 1u << 7, /* table.missions, table.detail */
	PG_CSS_REFS = 1u << 8,	   /* a highlighted cell with its .refs */
	PG_CSS_FINDINGS = 1u << 9, /* ul.flist (.finding, .k...) */
	PG_CSS_ANNEX = 1u << 10,   /* details.annex, .count */
	PG_CSS_NONE = 1u << 11,	   /* .none */
	PG_CSS_ODD = 1u << 12,	   /* code.odd */
	PG_CSS_NOTE = 1u << 13,	   /* .note */
	PG_CSS_DIFF = 1u << 14,	   /* .diff */
	PG_CSS_QUOTE = 1u << 15,   /* .plain, pre.quote and its lines */
};

/* PG_CSS_ERROR, _WARNING or _INFO: the parts of severity s. */
#define PG_CSS_SEVERITY(s) (PG_CSS_ERROR << (s))

/* A mission of the table: its members ([0]) and expenses ([1]). */
struct pg_row {
	const json_t *list[2]; /* the arrays, or whatever else is there */
	size_t all[2];	       /* how many items they have */
	size_t shown[2];       /* and how many its <details> shows */
};

struct pg {
	struct strbuf *out;
	const struct page_input *in;
	enum lang lang;
	const char *file;	/* j->file, or "" when it has none */
	const json_t *missions; /* the report's missions array, or NULL */
	size_t nrows;		/* missions shown in the table */
	/* per finding: the pointer of the cell it is shown at, or NULL when
	 * it points nowhere in the tables (page_cells.c) */
	char **cell;
	/* finding indexes sorted by cell, those with a cell only */
	size_t *order;
	size_t norder;
	struct pg_row *row; /* per mission shown (page_cells.c) */
	bool *listed;	    /* per finding: whether it is listed on the page */
	size_t nlisted;	    /* findings listed so far */
	size_t list_start;  /* the length of out where their list began */
	unsigned css;	    /* PG_CSS_*: what the markup written holds */
	/* worked out once, before anything is written (page.c): */
	/* report_currency(): the report's currency when a code other than
	 * "EUR", as the engine's French messages write it */
	const char *currency;
	char checked_at[64]; /* j->checked_at in the page's words */
	bool sum_ok;	     /* pg_costs_sum() of the missions is 0 */
	int64_t sum;	     /* and its sum */
	size_t unreadable;   /* or how many costs are no amount */
	/* the words pg_tr() looked up so far, by their msgid's address */
	struct {
		const char *msgid, *text;
	} tr[PG_TR_MEMO];
	size_t ntr;
};

/* A cell opened by pg_cell_open(), for pg_cell_close(): the findings
 * shown at key are p->order[lo..hi). */
struct pg_cell {
	const char *tag, *key;
	size_t lo, hi;
};

/* --- page_fmt.c --- */

/* msgid in the page's language, as i18n_tr() gives it, looked up in the
 * catalog once per page (a lookup costs a few thousand instructions, and
 * rows and findings ask for the same words again). msgid is a literal,
 * marked N_() for xgettext, or in a static table: the memo goes by its
 * address. */
const char *pg_tr(struct pg *p, const char *msgid)
    __attribute__((format_arg(2)));

/* A translated format with one number ("Mission %zu") or one string
 * ("on or after %s") filled in as sb_addf() would: the text around its
 * one conversion copied (a format with any other is formatted). */
void pg_fmt_zu(struct pg *p, const char *fmt, size_t n);
void pg_fmt_s(struct pg *p, const char *fmt, const char *s);

/* Append s escaped as page_escape() does, at most max bytes of it and at
 * most max bytes once escaped (cut at a character, then "..."); max 0: no
 * limit. */
void pg_text(struct pg *p, const char *s, size_t max);

/* The n bytes at s, escaped. */
void pg_text_n(struct pg *p, const char *s, size_t n);

/* A string from a report, escaped, cut at max bytes, isolated in <bdi> so
 * that right-to-left text cannot reorder its neighbours. */
void pg_str(struct pg *p, const char *s, size_t max);

/* The date s (YYYY-MM-DD, as date_parse() takes it) in the page's
 * language ("19/10/2017" in French). */
void pg_date(struct pg *p, const char *s);

/* The same as text: s itself, or buf (size bytes) that holds it. */
const char *pg_date_text(const struct pg *p, const char *s, char *buf,
			 size_t size);

/* cents as people read them in the page's language ("139 108,94 €"), for
 * the report's currency when it is not EUR. */
void pg_amount(struct pg *p, int64_t cents);

/* A node shown as kind: a date in the page's language, an amount, an
 * integer, a string; a node of another kind is shown as it is in the file
 * in a code font (<code class="odd">: "2017-13-01", null, 1.5, {...}), an
 * absent one is a dash. */
void pg_value(struct pg *p, const json_t *node, enum pg_kind kind);

/* A dash for what is not there: <span class="none">. */
void pg_none(struct pg *p);

/* <p class="note">, opened. */
void pg_note(struct pg *p);

/* --- page_cells.c --- */

/* Work out where each finding is shown (p->cell, p->order). 0 or -1. */
int pg_cells_init(struct pg *p);
void pg_cells_release(struct pg *p);

/* Open a cell (tag "td", "span"...) at pointer key, with class cls (or
 * NULL): a cell some finding points at is highlighted, has the id that
 * the finding links to and a data-pointer attribute. tag and key must
 * live until the cell is closed. */
struct pg_cell pg_cell_open(struct pg *p, const char *tag, const char *key,
			    const char *cls);
/* Close it: first the links to its findings (#f-N), then one to the note
 * on the findings not listed (#not-listed, "+N") when some of its
 * findings are not, then </tag>. */
void pg_cell_close(struct pg *p, const struct pg_cell *c);

/* "base/name" into key (size bytes), cut to fit: a cell's pointer. */
void pg_key(char *key, size_t size, const char *base, const char *name);

/* "base/i" into key (size bytes), cut to fit. */
void pg_key_index(char *key, size_t size, const char *base, size_t i);

/* The element id of the cell at key ("at-missions-1-start"). */
void pg_cell_id(struct pg *p, const char *key);

/* Whether a finding is shown at key or at a cell below it. */
bool pg_cells_under(const struct pg *p, const char *key);

/* The word of a column or header row, by its JSON member's name. */
const char *pg_label(struct pg *p, const char *name);

/* A finding's place in words ("mission 2, start"), for its link back. */
void pg_cell_label(struct pg *p, const char *key);

/* --- page_table.c --- */

/* The sum of the missions' costs into *sum: 0, or -1 when some cost is
 * missing or not an amount (*unreadable of them) or the sum overflows.
 * Worked out once, into p->sum_ok, p->sum and p->unreadable. */
int pg_costs_sum(const struct pg *p, int64_t *sum, size_t *unreadable);

/* The missions table, then the members and expenses of each mission in
 * <details>. */
void pg_missions(struct pg *p);

/* --- page_invalid.c --- */

/* For an invalid file: what is wrong in plain words, the text around the
 * error for input.json and input.encoding, and how to fix it. */
void pg_invalid(struct pg *p);

/* --- page_css.c --- */

/* The page's Content-Security-Policy. */
extern const char pg_csp[];

/* Insert at out->buf + at the parts of the style sheet that the markup
 * written says it uses (used: PG_CSS_*, or ~0u for the whole sheet). 0, or
 * -1 when memory runs out (out is then marked failed). */
int pg_css_insert(struct strbuf *out, size_t at, unsigned used);

/* --- page.c --- */

/* Finding i as a list item (id f-N, N = i + 1) when the page still has
 * room for it (fewer than PAGE_MAX_FINDINGS listed and fewer than
 * PAGE_MAX_FINDINGS_BYTES written since p->list_start); false: it has
 * none, nothing written. */
bool pg_finding(struct pg *p, size_t i);

/* When some findings were not listed: how many, and where to read them
 * all (the result document). */
void pg_not_listed(struct pg *p);

#endif
