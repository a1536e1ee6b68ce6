/*
 * page.c - the verdict page of one judged file (page.h). A first cut: the
 * verdict and the counts only, properly escaped.
 */
#include "page.h"

#include <string.h>

void page_escape(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			sb_adds(sb, "&amp;");
			break;
		case '<':
			sb_adds(sb, "&lt;");
			break;
		case '>':
			sb_adds(sb, "&gt;");
			break;
		case '"':
			sb_adds(sb, "&quot;");
			break;
		case '\'':
			sb_adds(sb, "&#39;");
			break;
		default:
			sb_addc(sb, *s);
		}
	}
}

int page_render(struct strbuf *out, const struct page_input *in)
{
	const struct judgement *j = in->j;

	sb_adds(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		     "<title>");
	page_escape(out, j->file);
	sb_adds(out, "</title></head><body><h1 id=\"verdict\">");
	sb_adds(out, verdict_name(j->verdict));
	sb_addf(out, "</h1><p>%d errors, %d warnings</p></body></html>\n",
		j->errors, j->warnings);
	return out->failed ? -1 : 0;
}
