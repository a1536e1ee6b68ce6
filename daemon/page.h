/*
 * page.h - the verdict page of one judged file (docs/pages.md): one
 * self-contained HTML document (inline CSS, no script, no external
 * resource) for the finance staff who dropped it, readable on screen and
 * printable on A4. The daemon writes it beside the result document as
 * NAME.result.html; `expensed check --format html` prints it.
 *
 *   struct page_input in = { .j = &j, .report = root, .data = buf,
 *                            .len = len, .lang = LANG_FR };
 *   struct strbuf sb = STRBUF_INIT;
 *   if (page_render(&sb, &in) == -1) ... no memory ...
 *
 * Every string that comes from a report or a file name is HTML-escaped:
 * a page never carries markup from a report.
 */
#ifndef EXPENSED_PAGE_H
#define EXPENSED_PAGE_H

#include <stddef.h>

#include <jansson.h>

#include "../common/i18n.h"
#include "../common/strbuf.h"
#include "../rules/engine.h"

struct page_input {
	const struct judgement *j; /* the verdict and findings (required) */
	/* the parsed report the rules ran on (judge_opts.keep_root), or
	 * NULL: then the page shows the verdict and findings alone */
	const json_t *report;
	/* the bytes judged, or NULL: an input.json page quotes the text
	 * around the error's line and column from them */
	const void *data;
	size_t len;
	/* the file's name in the archive when it differs from j->file (a
	 * suffix was added), else NULL */
	const char *archived_as;
	enum lang lang; /* of every word of the page */
};

/*
 * Append s HTML-escaped (& < > " ' as character references), for text
 * and for attribute values in double quotes. Bytes that are not valid
 * UTF-8 become U+FFFD.
 */
void page_escape(struct strbuf *out, const char *s);

/*
 * Append the page of in to out. 0, or -1 when memory runs out (out is
 * then marked failed; nothing half-written is ever used).
 */
int page_render(struct strbuf *out, const struct page_input *in);

#endif
