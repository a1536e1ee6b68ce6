/*
 * page_css.c - the style of the verdict page (page.c), inline in each
 * page: a plain statement on screen, A4 when printed, highlighted cells
 * that keep their colour and outline on paper.
 */
#include <string.h>

#include "page_int.h"

/* No script, no resource from anywhere, even were markup to slip in. */
const char pg_csp[] = "default-src 'none'; style-src 'unsafe-inline'";

/*
 * The style sheet in parts, in the order of the cascade (rules of equal
 * weight: the later wins), each written only when the page holds what it
 * styles (struct pg's css, set where that markup is written): a page of
 * three missions and five findings carries some 4.3 kB of it, not 5.5.
 * Every byte counts: one page per file, written and synced in a burst
 * (bench/README.md, "Pages").
 *
 * Minified: no comment, no needless space, no custom property but each
 * colour written where it is used. Colours: ink #1c2330, muted #5a6374,
 * line #d9dde3, page #eef0f3; accepted #1e7a3e on #e7f4eb, error #b3261e on
 * #fbe9e7, warning #8a5700 on #fff3d1, information #1f5ea8 on #e7effa,
 * invalid #4a4f5c on #eceef2.
 */
#define PART(need, text)                                                       \
	{                                                                      \
		need, text, sizeof(text) - 1                                   \
	}

static const struct {
	unsigned need; /* PG_CSS_*: any of them; 0: every page */
	const char *text;
	size_t len;
} parts[] = {
    PART(0, "@page{size:A4;margin:14mm 12mm}*{box-sizing:border-box}"
	    "html{background:#eef0f3}"
	    "body{margin:0;color:#1c2330;"
	    "font:15px/1.45 system-ui,'Segoe UI',Roboto,'Noto Sans',"
	    "'DejaVu Sans',sans-serif}"
	    "main{max-width:64rem;margin:1.5rem auto;background:#fff;"
	    "padding:2rem 2.25rem 1.5rem;border:1px solid #d9dde3;"
	    "border-radius:6px}"
	    "h1,h2,h3{line-height:1.2;margin:0}"
	    "h2{font-size:.95rem;text-transform:uppercase;letter-spacing:.07em;"
	    "border-bottom:2px solid #1c2330;padding-bottom:.3rem;"
	    "margin:2rem 0 .6rem}"
	    "h3{font-size:.9rem;margin:.9rem 0 .3rem}"
	    ".banner{display:flex;gap:1.25rem;align-items:center;"
	    "padding:1.1rem 1.4rem;border-radius:6px;border-left:8px solid}"),
    PART(PG_CSS_ACCEPTED, ".v-accepted{background:#e7f4eb;"
			  "border-color:#1e7a3e}"),
    PART(PG_CSS_REJECTED, ".v-rejected{background:#fbe9e7;"
			  "border-color:#b3261e}"),
    PART(PG_CSS_INVALID, ".v-invalid{background:#eceef2;"
			 "border-color:#4a4f5c}"),
    PART(0, ".mark{flex:none;width:3.2rem;height:3.2rem;border-radius:50%;"
	    "color:#fff;font-size:1.9rem;font-weight:700;line-height:3.2rem;"
	    "text-align:center}"),
    PART(PG_CSS_ACCEPTED, ".v-accepted .mark{background:#1e7a3e}"),
    PART(PG_CSS_REJECTED, ".v-rejected .mark{background:#b3261e}"),
    PART(PG_CSS_INVALID, ".v-invalid .mark{background:#4a4f5c}"),
    PART(0, ".kicker{margin:0;font-size:.75rem;text-transform:uppercase;"
	    "letter-spacing:.08em;color:#5a6374}"
	    ".banner h1{font-size:1.9rem}"
	    ".counts{margin:.2rem 0 0;font-size:1.05rem;font-weight:600}"
	    ".say{margin:.3rem 0 0}"
	    ".file{margin-left:auto;text-align:right;font-size:.85rem;"
	    "color:#5a6374;max-width:38%;overflow-wrap:anywhere}"
	    ".file b{color:#1c2330}table{border-collapse:collapse;width:100%}"),
    PART(PG_CSS_FACTS,
	 ".facts th{text-align:left;font-weight:600;color:#5a6374;"
	 "width:13rem;padding:.35rem .75rem .35rem 0;vertical-align:top;"
	 "font-size:.88rem}"
	 ".facts td{overflow-wrap:anywhere;padding:.35rem .4rem;"
	 "border-bottom:1px solid #d9dde3}"
	 ".facts tr.sum td{font-weight:700}.facts td.num{text-align:left}"),
    PART(0, ".num{text-align:right;font-variant-numeric:tabular-nums}"
	    "td.num,td.date{white-space:nowrap}"),
    PART(PG_CSS_MISSIONS,
	 ".missions th,.detail th{font-size:.72rem;text-transform:uppercase;"
	 "letter-spacing:.04em;color:#5a6374;text-align:left;"
	 "padding:.3rem .4rem;vertical-align:bottom;"
	 "border-bottom:1px solid #d9dde3}"
	 ".missions thead tr:last-child th,.detail th{"
	 "border-bottom:2px solid #1c2330}"
	 ".missions th.num,.detail th.num{text-align:right}"
	 ".missions th.group{text-align:center}"
	 ".missions td,.detail td{overflow-wrap:anywhere;padding:.4rem;"
	 "vertical-align:top;border-bottom:1px solid #d9dde3}"
	 ".missions tfoot th,.missions tfoot td{border-top:2px solid #1c2330;"
	 "border-bottom:0;padding-top:.5rem;text-align:right;"
	 "font-weight:700;color:#1c2330;font-size:.95rem;"
	 "text-transform:none;letter-spacing:0}"
	 "td.no{color:#5a6374;width:2.2rem}"),
    PART(0, "code,td.ref,.rule{"
	    "font-family:ui-monospace,'DejaVu Sans Mono',monospace}"),
    PART(PG_CSS_MISSIONS, "td.ref{font-size:.78rem;color:#5a6374}"),
    PART(PG_CSS_ERROR, ".hit-e{background:#fbe9e7;"
		       "box-shadow:inset 0 0 0 2px #b3261e}"),
    PART(PG_CSS_WARNING, ".hit-w{background:#fff3d1;"
			 "box-shadow:inset 0 0 0 2px #8a5700}"),
    PART(PG_CSS_INFO, ".hit-i{background:#e7effa;"
		      "box-shadow:inset 0 0 0 2px #1f5ea8}"),
    PART(PG_CSS_REFS,
	 "span.hit,h2.hit,h3.hit{padding:0 .25rem;border-radius:3px}"
	 ".refs{white-space:nowrap}"
	 "a.ref{display:inline-block;min-width:1.35em;margin-left:.25em;"
	 "padding:0 .3em;border-radius:1em;font-size:.7rem;font-weight:700;"
	 "line-height:1.5;text-align:center;text-decoration:none;color:#fff;"
	 "vertical-align:.1em;letter-spacing:0;text-transform:none}"),
    PART(PG_CSS_ERROR, ".ref-e,.f-e .fno{background:#b3261e}"),
    PART(PG_CSS_WARNING, ".ref-w,.f-w .fno{background:#8a5700}"),
    PART(PG_CSS_INFO, ".ref-i,.f-i .fno{background:#1f5ea8}"),
    PART(PG_CSS_NONE, ".none{color:#5a6374}"),
    PART(0, "code{font-size:.85em}"),
    PART(PG_CSS_ODD, "code.odd{background:#f0f1f4;padding:0 .25rem;"
		     "border-radius:3px}"),
    PART(PG_CSS_ANNEX,
	 "details.annex{margin:.6rem 0;border:1px solid #d9dde3;"
	 "border-radius:4px;padding:.2rem .8rem .5rem}"
	 "details.annex summary{cursor:pointer;font-weight:600;"
	 "padding:.3rem 0}"
	 ".count{font-weight:400;color:#5a6374;margin-left:.6rem}"),
    PART(PG_CSS_FINDINGS,
	 ".flist{list-style:none;margin:0;padding:0}"
	 ".finding{display:flex;gap:.8rem;padding:.55rem .8rem;"
	 "margin:.4rem 0;border-left:4px solid;background:#fafbfc;"
	 "break-inside:avoid}"),
    PART(PG_CSS_ERROR, ".f-e{border-color:#b3261e}"),
    PART(PG_CSS_WARNING, ".f-w{border-color:#8a5700}"),
    PART(PG_CSS_INFO, ".f-i{border-color:#1f5ea8}"),
    PART(PG_CSS_FINDINGS,
	 ".fno{flex:none;min-width:1.7rem;height:1.7rem;border-radius:1rem;"
	 "color:#fff;font-weight:700;font-size:.8rem;line-height:1.7rem;"
	 "text-align:center;padding:0 .3rem}"
	 ".sev{font-size:.7rem;font-weight:700;text-transform:uppercase;"
	 "letter-spacing:.06em;margin-right:.5rem}"),
    PART(PG_CSS_ERROR, ".f-e .sev{color:#b3261e}"),
    PART(PG_CSS_WARNING, ".f-w .sev{color:#8a5700}"),
    PART(PG_CSS_INFO, ".f-i .sev{color:#1f5ea8}"),
    PART(PG_CSS_FINDINGS,
	 ".msg{margin:0}"
	 ".ev{margin:.2rem 0 0;font-size:.88rem}.ev code{margin-right:1.2rem}"
	 ".k{color:#5a6374}"
	 ".where{margin:.2rem 0 0;font-size:.78rem;color:#5a6374}"
	 ".where a{color:#1f5ea8}.rule{margin-left:.8rem}"),
    PART(0, ":target{outline:3px solid #1f5ea8;outline-offset:2px}"),
    PART(PG_CSS_NOTE, ".note{font-size:.88rem;color:#5a6374;"
		      "font-style:italic}"),
    PART(PG_CSS_DIFF, ".diff{color:#b3261e;font-weight:600;"
		      "margin-left:.6rem}"),
    PART(PG_CSS_QUOTE,
	 ".plain p{margin:.4rem 0}"
	 "pre.quote{background:#f6f7f9;border:1px solid #d9dde3;"
	 "padding:.6rem .75rem;font-size:.82rem;white-space:pre-wrap;"
	 "overflow-wrap:anywhere;line-height:1.55}"
	 ".ln{display:inline-block;min-width:3.2em;color:#5a6374}"
	 ".at .ln{color:#b3261e;font-weight:700}"
	 "mark.here{background:#b3261e;color:#fff;border-radius:2px;"
	 "padding:0 .1em}"),
    PART(0, ".about table{font-size:.8rem;color:#5a6374}"
	    ".about th{text-align:left;font-weight:600;width:11rem;"
	    "padding:.15rem .75rem .15rem 0;vertical-align:top}"
	    ".about td{overflow-wrap:anywhere;padding:.15rem 0}"
	    "@media print{html{background:#fff}body{font-size:9.5pt}"
	    "main{margin:0;padding:0;border:0;max-width:none}"
	    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
	    "a{color:inherit;text-decoration:none}"
	    "details::details-content{content-visibility:visible;"
	    "display:block}"
	    "thead{display:table-header-group}tr,.banner{break-inside:avoid}"
	    "h2,h3{break-after:avoid}}"
	    "@media (max-width:44rem){main{padding:1rem;margin:0}"
	    ".banner{flex-wrap:wrap}.file{text-align:left;max-width:none;"
	    "margin:0}}"),
};

int pg_css_insert(struct strbuf *out, size_t at, unsigned used)
{
	size_t n = 0, tail = out->len - at;
	char *dst;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (parts[i].need == 0 || (parts[i].need & used))
			n += parts[i].len;
	}
	if (sb_grow(out, n) == -1)
		return -1;
	dst = out->buf + at;
	memmove(dst + n, dst, tail);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (parts[i].need == 0 || (parts[i].need & used)) {
			memcpy(dst, parts[i].text, parts[i].len);
			dst += parts[i].len;
		}
	}
	out->len += n;
	out->buf[out->len] = '\0'; /* out may have had no buffer */
	return 0;
}
