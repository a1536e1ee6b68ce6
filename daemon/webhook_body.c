/*
 * webhook_body.c - what a webhook delivery says: the payload of each format
 * (standard, slack, teams) for a judged file or a `ping`, trimmed to the
 * budget of its format, report text cut and escaped for chat. Pure (judgement
 * and document in, text out), so that formats can be unit-tested without a
 * spool or a network.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/i18n.h"
#include "../common/jsonmem.h"
#include "../common/strbuf.h"
#include "../common/timefmt.h"
#include "../common/utf8.h"
#include "webhook.h"

#ifndef EXPENSED_VERSION
#define EXPENSED_VERSION "0"
#endif

const char *webhook_event_type(enum verdict v)
{
	switch (v) {
	case VERDICT_ACCEPTED:
		return "report.accepted";
	case VERDICT_REJECTED:
		return "report.rejected";
	case VERDICT_INVALID:
		return "report.invalid";
	}
	assert(!"verdict out of range");
	return "report.invalid";
}

unsigned webhook_event_bit(enum verdict v)
{
	switch (v) {
	case VERDICT_ACCEPTED:
		return EVENT_ACCEPTED;
	case VERDICT_REJECTED:
		return EVENT_REJECTED;
	case VERDICT_INVALID:
		return EVENT_INVALID;
	}
	assert(!"verdict out of range");
	return EVENT_INVALID;
}

/* The findings that the chat formats show: those of severity error, as
 * pointers into j (malloc'ed array, *n of them), or NULL. */
static const struct finding **error_findings(const struct judgement *j,
					     size_t *n)
{
	const struct finding **out = calloc(j->nfindings + 1, sizeof(*out));

	*n = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < j->nfindings; i++)
		if (j->findings[i].severity == SEV_ERROR)
			out[(*n)++] = &j->findings[i];
	return out;
}

/* U+2060 WORD JOINER: invisible, and no autolinker reads a link across it. */
#define WORD_JOINER "\xe2\x81\xa0"
#define ELLIPSIS "\xe2\x80\xa6"
#define NO_BREAK_SPACE "\xc2\xa0"

/* Code points of the result path named in a trimmed chat message: more
 * than any real "rejected/NAME.result.json" (NAME_MAX is 255 bytes). */
#define RESULT_MAX_STRING 300

/* Code points in the valid UTF-8 text s. */
static size_t code_points(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* A malloc'ed copy of s (bytes that are not UTF-8 as U+FFFD) cut to max
 * code points, the last one "…" when anything was cut; or NULL. */
static char *cut_dup(const char *s, size_t max)
{
	struct strbuf sb = STRBUF_INIT;
	char *t = utf8_lossy_dup(s);
	size_t i, n = 0;

	assert(max > 0);
	if (!t || code_points(t) <= max)
		return t;
	for (i = 0; t[i]; i++)
		if (((unsigned char)t[i] & 0xc0) != 0x80 && n++ == max - 1)
			break;
	sb_add(&sb, t, i);
	sb_adds(&sb, ELLIPSIS);
	free(t);
	return sb_detach(&sb, NULL);
}

/* The bytes of the control character that the valid UTF-8 text s starts
 * with: 1 for C0 and DEL, 2 for C1 (U+0080 to U+009F, which some clients
 * act on, U+0085 a line break), 2 or 3 for a bidi control (which would
 * reorder the alert's text: utf8_bidi_control()) and for U+2028 and U+2029
 * (a line and a paragraph break); 0 for any other character. */
static size_t control_len(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = utf8_seq_len(u, 4);
	unsigned cp;

	if (u[0] < 0x20 || u[0] == 0x7f)
		return 1;
	if (n < 2)
		return 0;
	cp = utf8_decode(u, n);
	return (cp >= 0x80 && cp <= 0x9f) || utf8_bidi_control(cp) ||
		       cp == 0x2028 || cp == 0x2029
		   ? n
		   : 0;
}

/*
 * Slack's mrkdwn needs &, < and > escaped, or "<!channel>" in a file name
 * would ping everyone. Mattermost and Rocket.Chat, which take this format
 * too, read the text as Markdown and honour "@channel", "@all" and
 * "@here": a word joiner after every "@" leaves no mention, and one after
 * every "]" no "[label](url)" link hiding where it goes and no
 * "![image](url)" that every reader's client fetches (Slack shows the
 * same text). A control character (control_len(): a newline that would
 * fake a line, a bidi override) shows as a space.
 */
static void esc_slack(struct strbuf *sb, const char *s)
{
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t ctl = control_len(s);

		if (ctl > 0) {
			sb_addc(sb, ' ');
			s += ctl;
			continue;
		}
		if (c == '&')
			sb_adds(sb, "&amp;");
		else if (c == '<')
			sb_adds(sb, "&lt;");
		else if (c == '>')
			sb_adds(sb, "&gt;");
		else
			sb_addc(sb, (char)c);
		if (c == '@' || c == ']')
			sb_adds(sb, WORD_JOINER);
		s++;
	}
}

/*
 * Teams renders Markdown in TextBlocks and facts: every ASCII punctuation
 * character gets a backslash (CommonMark reads "\X" as a literal X for
 * any of them), so no link, image, emphasis, heading, list, code, HTML or
 * <at> mention can be made; and a word joiner follows every ".", ":" and
 * "@", so that neither "https://host" nor "www.host" nor "host.com" nor
 * "a@b.org" is turned into a link by an autolinker. Control characters
 * (control_len()) show as spaces. A fact's value starts a paragraph, where
 * four spaces (a tab is one) would make an indented code block, shown in
 * monospace with the backslashes: the leading spaces are NO-BREAK SPACEs,
 * which Markdown does not count as indentation.
 */
static void esc_teams(struct strbuf *sb, const char *s)
{
	static const char punct[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
	bool leading = true;

	while (*s) {
		char c = *s;
		size_t ctl = control_len(s);

		if (ctl > 0 || c == ' ') {
			if (leading)
				sb_adds(sb, NO_BREAK_SPACE);
			else
				sb_addc(sb, ' ');
			s += ctl > 0 ? ctl : 1;
			continue;
		}
		leading = false;
		if (strchr(punct, c))
			sb_addc(sb, '\\');
		sb_addc(sb, c);
		if (c == '.' || c == ':' || c == '@')
			sb_adds(sb, WORD_JOINER);
		s++;
	}
}

/* Report text s into a chat message of format f: cut to max code points,
 * then escaped for f. */
static void add_text(struct strbuf *sb, const char *s, size_t max,
		     enum webhook_format f)
{
	char *t = cut_dup(s, max);

	if (!t) {
		sb->failed = true;
		return;
	}
	if (f == WEBHOOK_TEAMS)
		esc_teams(sb, t);
	else
		esc_slack(sb, t);
	free(t);
}

/* add_text() as a malloc'ed string, or NULL. */
static char *chat_text(const char *s, size_t max, enum webhook_format f)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, "");
	add_text(&sb, s, max, f);
	return sb_detach(&sb, NULL);
}

/* The verdict as a chat message says it, in the daemon's language. */
static const char *verdict_text(enum verdict v)
{
	return v == VERDICT_ACCEPTED   ? _("accepted")
	       : v == VERDICT_REJECTED ? _("rejected")
	       : v == VERDICT_INVALID  ? _("invalid")
				       : "?";
}

/* "N errors, M warnings" into sb, in the daemon's language. */
static void add_counts(struct strbuf *sb, int nerr, int nwarn)
{
	char errs[64], warns[64];
	enum lang l = i18n_current();

	snprintf(errs, sizeof(errs),
		 i18n_ntr(l, "%d error", "%d errors", (unsigned long)nerr),
		 nerr);
	snprintf(warns, sizeof(warns),
		 i18n_ntr(l, "%d warning", "%d warnings", (unsigned long)nwarn),
		 nwarn);
	/* TRANSLATORS: "N errors" and "M warnings" */
	sb_addf(sb, _("%s, %s"), errs, warns);
}

/* The chat formats' view of a judgement. */
struct chat {
	enum webhook_format f;
	const struct judgement *j;
	const struct finding **errs; /* the error findings listed */
	size_t nerrs;
	size_t total;	 /* error findings made, listed or not (j->errors) */
	char *result;	 /* "rejected/NAME.result.json", or NULL */
	size_t text_cps; /* slack: code points of the last text built */
};

/* "rule path: message" of one finding (path left out when empty). */
static void finding_line(struct strbuf *sb, const struct finding *fd,
			 enum webhook_format f)
{
	add_text(sb, fd->rule, WEBHOOK_CHAT_MAX_STRING, f);
	if (*fd->path) {
		sb_adds(sb, " ");
		add_text(sb, fd->path, WEBHOOK_CHAT_MAX_STRING, f);
	}
	sb_adds(sb, ": ");
	add_text(sb, fd->message, WEBHOOK_CHAT_MAX_STRING, f);
}

/* What a chat message that does not show every error finding says near
 * its top: "Showing K of N error findings (M left out); full result:
 * rejected/NAME.result.json". N counts them all, those the result document
 * itself left out (max_findings) too. */
static void left_out_note(struct strbuf *sb, const struct chat *c, size_t keep)
{
	sb_addf(sb,
		i18n_ntr(i18n_current(),
			 "Showing %zu of %zu error finding (%zu left out)",
			 "Showing %zu of %zu error findings (%zu left out)",
			 (unsigned long)c->total),
		keep, c->total, c->total - keep);
	if (c->result) {
		char *r = chat_text(c->result, RESULT_MAX_STRING, c->f);
		if (!r) {
			sb->failed = true;
			return;
		}
		sb_addf(sb, _("; full result: %s"), r);
		free(r);
	}
}

static json_t *build_slack(struct chat *c, size_t keep)
{
	struct strbuf t = STRBUF_INIT;
	const char *file = c->j->file;
	const char *report = c->j->report_id;
	json_t *out;
	size_t i;
	char *file_t =
	    chat_text(file ? file : "?", WEBHOOK_CHAT_MAX_STRING, c->f);
	char *report_t = report
			     ? chat_text(report, WEBHOOK_CHAT_MAX_STRING, c->f)
			     : strdup(_("(none)"));

	if (!file_t || !report_t)
		t.failed = true;
	else
		sb_addf(&t, _("expensed: %s was %s"), file_t,
			verdict_text(c->j->verdict));
	if (keep < c->total) {
		sb_adds(&t, "\n");
		left_out_note(&t, c, keep);
	}
	sb_adds(&t, "\n");
	if (report_t)
		sb_addf(&t, _("Report: %s"), report_t);
	free(file_t);
	free(report_t);
	sb_adds(&t, "\n");
	add_counts(&t, c->j->errors, c->j->warnings);
	for (i = 0; i < keep && i < c->nerrs; i++) {
		sb_adds(&t, "\n\xe2\x80\xa2 ");
		finding_line(&t, c->errs[i], c->f);
	}
	if (t.failed) {
		sb_release(&t);
		return NULL;
	}
	c->text_cps = code_points(t.buf);
	out = json_pack("{s:o}", "text", json_string_lossy(t.buf));
	sb_release(&t);
	return out;
}

/*
 * The builders below return NULL when memory runs out (or a value is
 * NULL); json_pack then releases every "o" value it was given, so a NULL
 * from one builder passed to the next one is an ordinary failure, never a
 * leak or a message with a part missing. Text from the report or its name
 * is cut and escaped first (chat_text), so it is valid UTF-8.
 */
static json_t *text_block(const char *text)
{
	if (!text)
		return NULL;
	return json_pack("{s:s, s:o, s:b}", "type", "TextBlock", "text",
			 json_string_lossy(text), "wrap", 1);
}

static json_t *fact(const char *title, const char *value)
{
	if (!value)
		return NULL;
	return json_pack("{s:s, s:o}", "title", title, "value",
			 json_string_lossy(value));
}

/* A Teams Workflows message around one Adaptive Card with body. */
static json_t *teams_message(json_t *body)
{
	return json_pack("{s:s, s:[{s:s, s:n, s:{s:s, s:s, s:s, s:o}}]}",
			 "type", "message", "attachments", "contentType",
			 "application/vnd.microsoft.card.adaptive",
			 "contentUrl", "content", "type", "AdaptiveCard",
			 "$schema",
			 "http://adaptivecards.io/schemas/adaptive-card.json",
			 "version", "1.4", "body", body);
}

/* The title, the left-out note when trimmed, and the facts of a card. */
static json_t *teams_head(const struct chat *c, size_t keep)
{
	const char *verdict = verdict_text(c->j->verdict);
	const char *report = c->j->report_id;
	char title[128], nerr[32], nwarn[32];
	char *file_t, *report_t;
	json_t *body = NULL, *note = NULL;

	snprintf(title, sizeof(title), _("expensed: report %s"), verdict);
	snprintf(nerr, sizeof(nerr), "%d", c->j->errors);
	snprintf(nwarn, sizeof(nwarn), "%d", c->j->warnings);
	file_t = chat_text(c->j->file ? c->j->file : "?",
			   WEBHOOK_CHAT_MAX_STRING, c->f);
	report_t = report ? chat_text(report, WEBHOOK_CHAT_MAX_STRING, c->f)
			  : strdup(_("(none)"));
	if (keep < c->total) {
		struct strbuf t = STRBUF_INIT;

		left_out_note(&t, c, keep);
		note = t.failed ? NULL : text_block(t.buf);
		sb_release(&t);
		if (!note)
			goto out;
	}
	body = json_pack(
	    "[{s:s, s:s, s:s, s:s, s:b}, {s:s, s:[o, o, o, o, o]}]", "type",
	    "TextBlock", "text", title, "weight", "Bolder", "size", "Medium",
	    "wrap", 1, "type", "FactSet", "facts", fact(_("Verdict"), verdict),
	    fact(_("File"), file_t), fact(_("Report"), report_t),
	    fact(_("Errors"), nerr), fact(_("Warnings"), nwarn));
	/* insert_new releases the note even when it fails */
	if (body && note && json_array_insert_new(body, 1, note) == -1) {
		json_decref(body);
		body = NULL;
	}
	note = NULL;
out:
	json_decref(note);
	free(file_t);
	free(report_t);
	return body;
}

static json_t *build_teams(struct chat *c, size_t keep)
{
	json_t *body = teams_head(c, keep);
	size_t i;

	if (!body)
		return NULL;
	for (i = 0; i < keep && i < c->nerrs; i++) {
		struct strbuf t = STRBUF_INIT;
		int bad;

		sb_adds(&t, "\xe2\x80\xa2 ");
		finding_line(&t, c->errs[i], c->f);
		/* append_new releases its value (NULL included) on failure */
		bad = t.failed ||
		      json_array_append_new(body, text_block(t.buf)) == -1;
		sb_release(&t);
		if (bad) {
			json_decref(body);
			return NULL;
		}
	}
	return teams_message(body);
}

/* msg as compact JSON (releasing msg), or NULL. */
static char *dump(json_t *msg)
{
	char *s;

	if (!msg)
		return NULL;
	s = json_dumps_checked(msg, JSON_COMPACT);
	json_decref(msg);
	return s;
}

/* How to build a body with the first keep findings, and whether it fits. */
struct fit {
	char *(*build)(void *ctx, size_t keep); /* dumped, or NULL */
	int (*fits)(const void *ctx, const char *body);
	void *ctx;
	size_t cap; /* no body with more findings than this can fit */
};

/* The body with the most of the first of total findings that fits, or
 * NULL (no memory, or not even one without any finding fits). A binary
 * search: a few dumps, not one per finding. */
static char *most_that_fit(const struct fit *fit, size_t total)
{
	char *best = NULL, *s = fit->build(fit->ctx, total);
	size_t lo = 0, hi;

	if (!s || fit->fits(fit->ctx, s))
		return s;
	free(s);
	if (total == 0)
		return NULL;
	hi = total - 1 < fit->cap ? total - 1 : fit->cap;
	while (lo <= hi) {
		size_t mid = lo + (hi - lo) / 2;
		char *try = fit->build(fit->ctx, mid);

		if (!try) {
			free(best);
			return NULL;
		}
		if (fit->fits(fit->ctx, try)) {
			free(best);
			best = try;
			lo = mid + 1;
		} else {
			free(try);
			if (mid == 0)
				break;
			hi = mid - 1;
		}
	}
	return best;
}

static char *chat_build(void *ctx, size_t keep)
{
	struct chat *c = ctx;

	return dump(c->f == WEBHOOK_TEAMS ? build_teams(c, keep)
					  : build_slack(c, keep));
}

static int chat_fits(const void *ctx, const char *body)
{
	const struct chat *c = ctx;

	if (c->f == WEBHOOK_TEAMS)
		return strlen(body) <= WEBHOOK_TEAMS_MAX_BODY;
	return strlen(body) <= WEBHOOK_SLACK_MAX_BODY &&
	       c->text_cps <= WEBHOOK_SLACK_MAX_TEXT;
}

static char *chat_body(enum webhook_format f, const struct judgement *j,
		       const json_t *doc)
{
	const char *arch =
	    json_string_value(json_object_get(doc, "archived_as"));
	struct chat c = {f, j, NULL, 0, 0, NULL, 0};
	struct fit fit = {chat_build, chat_fits, &c, 0};
	char *s = NULL;

	/* every finding line takes at least 4 characters or 32 bytes */
	fit.cap = f == WEBHOOK_TEAMS ? WEBHOOK_TEAMS_MAX_BODY / 32
				     : WEBHOOK_SLACK_MAX_TEXT / 4;
	c.errs = error_findings(j, &c.nerrs);
	if (!c.errs)
		return NULL;
	/* errors counts those past max_findings too */
	c.total = j->errors > 0 && (size_t)j->errors > c.nerrs
		      ? (size_t)j->errors
		      : c.nerrs;
	if (arch) {
		struct strbuf r = STRBUF_INIT;

		sb_addf(&r, "%s.result.json", arch);
		c.result = sb_detach(&r, NULL);
		if (!c.result)
			goto out;
	}
	/* report strings are cut, so the head alone always fits (the
	 * fuzz target fuzz_webhook.c holds this for every input) */
	s = most_that_fit(&fit, c.nerrs);
out:
	free(c.errs);
	free(c.result);
	return s;
}

/* ---- standard ---- */

/* {"type": type, "timestamp": stamp, "data": data}, dumped, or NULL. */
static char *dump_standard(const char *type, const char *stamp,
			   const json_t *data)
{
	return dump(json_pack("{s:s, s:s, s:O}", "type", type, "timestamp",
			      stamp, "data", (json_t *)data));
}

/* Cut every string in v, at any depth, to max code points (in place; v
 * is not shared). 0, or -1 when memory runs out. */
static int cut_strings(json_t *v, size_t max)
{
	const char *key;
	json_t *m;
	size_t i;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *t;
		int rc;

		/* a "\u0000" inside counts as the end, and cuts what follows */
		if (strlen(s) == json_string_length(v) && code_points(s) <= max)
			return 0;
		t = cut_dup(s, max);
		rc = t ? json_string_set(v, t) : -1;
		free(t);
		return rc;
	}
	json_object_foreach(v, key, m) if (cut_strings(m, max) == -1) return -1;
	json_array_foreach(v, i, m) if (cut_strings(m, max) == -1) return -1;
	return 0;
}

struct standard {
	const char *type, *stamp;
	json_t *doc;	 /* a deep copy, strings cut */
	size_t total;	 /* findings listed in doc */
	size_t left_out; /* findings doc itself left out (max_findings) */
};

/* The standard body with the first keep findings of x->doc and
 * "findings_left_out": every finding made but not in the body, those doc
 * left out included. */
static char *standard_build(void *ctx, size_t keep)
{
	const struct standard *x = ctx;
	json_t *all = json_object_get(x->doc, "findings");
	json_t *data = json_copy(x->doc); /* shallow: values shared */
	json_t *some = json_array();
	char *s = NULL;

	for (size_t i = 0; some && i < keep; i++)
		if (json_array_append(some, json_array_get(all, i)) == -1)
			goto out;
	/* set_new releases its value even when it fails */
	if (!data || !some ||
	    json_object_set_new(data, "findings", json_incref(some)) == -1 ||
	    json_object_set_new(
		data, "findings_left_out",
		json_integer((json_int_t)(x->left_out + x->total - keep))) ==
		-1)
		goto out;
	s = dump_standard(x->type, x->stamp, data);
out:
	json_decref(some);
	json_decref(data);
	return s;
}

static int standard_fits(const void *ctx, const char *body)
{
	(void)ctx;
	return strlen(body) <= WEBHOOK_MAX_PAYLOAD;
}

/* The last resort, for a document that is none of the daemon's: its
 * scalar members of the result document, strings cut short, no finding. */
static char *standard_minimal(const struct standard *x)
{
	static const char *const keep[] = {
	    "file",	"sha256",	"size",	       "report_id",
	    "verdict",	"errors",	"warnings",    "checked_at",
	    "expensed", "rules_sha256", "archived_as", "archived_as_bytes"};
	json_t *data = json_object();
	char *s = NULL;

	for (size_t i = 0; data && i < sizeof(keep) / sizeof(*keep); i++) {
		json_t *v = json_object_get(x->doc, keep[i]);

		if (v && !json_is_object(v) && !json_is_array(v) &&
		    json_object_set(data, keep[i], v) == -1)
			goto out;
	}
	if (!data || cut_strings(data, WEBHOOK_CHAT_MAX_STRING) == -1 ||
	    json_object_set_new(data, "findings", json_array()) == -1 ||
	    json_object_set_new(
		data, "findings_left_out",
		json_integer((json_int_t)(x->left_out + x->total))) == -1)
		goto out;
	s = dump_standard(x->type, x->stamp, data);
	assert(!s || strlen(s) <= WEBHOOK_MAX_PAYLOAD);
out:
	json_decref(data);
	return s;
}

static char *standard_body(const char *type, const char *stamp,
			   const json_t *doc)
{
	struct standard x = {type, stamp, NULL, 0, 0};
	/* a finding takes at least 32 bytes */
	struct fit fit = {standard_build, standard_fits, &x,
			  WEBHOOK_MAX_PAYLOAD / 32};
	char *s = dump_standard(type, stamp, doc);
	json_t *left;

	if (!s || strlen(s) <= WEBHOOK_MAX_PAYLOAD)
		return s;
	free(s);
	s = NULL;
	x.doc = json_deep_copy(doc);
	if (!x.doc || cut_strings(x.doc, WEBHOOK_STANDARD_MAX_STRING) == -1)
		goto out;
	x.total = json_array_size(json_object_get(x.doc, "findings"));
	left = json_object_get(x.doc, "findings_left_out");
	if (json_integer_value(left) > 0)
		x.left_out = (size_t)json_integer_value(left);
	s = most_that_fit(&fit, x.total);
	if (!s)
		s = standard_minimal(&x);
out:
	json_decref(x.doc);
	return s;
}

char *webhook_build_body(enum webhook_format f, const char *type,
			 const struct judgement *j, const json_t *doc,
			 time_t now, size_t *len)
{
	char stamp[ISO8601_SIZE];
	char *s;

	iso8601_utc(now, stamp, sizeof(stamp));
	switch (f) {
	case WEBHOOK_STANDARD:
		s = standard_body(type, stamp, doc);
		break;
	case WEBHOOK_SLACK:
	case WEBHOOK_TEAMS:
		s = chat_body(f, j, doc);
		break;
	default:
		assert(!"webhook format out of range");
		return NULL;
	}
	if (s && len)
		*len = strlen(s);
	return s;
}

char *webhook_build_ping(enum webhook_format f, const char *name, time_t now,
			 size_t *len)
{
	char stamp[ISO8601_SIZE], text[512];
	json_t *msg;
	char *s;

	iso8601_utc(now, stamp, sizeof(stamp));
	snprintf(text, sizeof(text),
		 _("expensed: test message through webhook %s (expensed %s)"),
		 name, EXPENSED_VERSION);
	switch (f) {
	case WEBHOOK_STANDARD:
		msg = json_pack("{s:s, s:s, s:{s:s, s:s}}", "type", "ping",
				"timestamp", stamp, "data", "expensed",
				EXPENSED_VERSION, "webhook", name);
		break;
	case WEBHOOK_SLACK:
		msg = json_pack("{s:s}", "text", text);
		break;
	case WEBHOOK_TEAMS:
		msg = teams_message(json_pack("[o]", text_block(text)));
		break;
	default:
		assert(!"webhook format out of range");
		return NULL;
	}
	if (!msg)
		return NULL;
	s = json_dumps_checked(msg, JSON_COMPACT);
	json_decref(msg);
	if (s && len)
		*len = strlen(s);
	return s;
}
