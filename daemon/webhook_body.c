/*
 * webhook_body.c - what a webhook delivery says: the payload of each format
 * (standard, slack, teams) for a judged file or a `ping`, trimmed to
 * WEBHOOK_MAX_PAYLOAD. Pure (judgement and document in, text out), so
 * that formats can be unit-tested without a spool or a network.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/strbuf.h"
#include "../common/timefmt.h"
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

/* Slack's mrkdwn needs &, < and > escaped, or "<!channel>" in a file name
 * would ping everyone. */
static void sb_add_slack(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			sb_adds(sb, "&amp;");
		else if (*s == '<')
			sb_adds(sb, "&lt;");
		else if (*s == '>')
			sb_adds(sb, "&gt;");
		else
			sb_addc(sb, *s);
	}
}

static const char *plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "rule path: message" of one finding (path left out when empty). */
static void finding_line(struct strbuf *sb, const struct finding *f, int slack)
{
	void (*add)(struct strbuf *, const char *) =
	    slack ? sb_add_slack : sb_adds;

	add(sb, f->rule);
	if (*f->path) {
		sb_adds(sb, " ");
		add(sb, f->path);
	}
	sb_adds(sb, ": ");
	add(sb, f->message);
}

/* The chat formats' view of a judgement. */
struct chat {
	const struct judgement *j;
	const struct finding **errs; /* the error findings */
	size_t nerrs;
};

static json_t *build_standard(const char *type, const json_t *doc,
			      const char *stamp, size_t keep, size_t total)
{
	json_t *data;

	if (keep >= total) {
		data = json_incref((json_t *)doc);
	} else {
		json_t *all = json_object_get(doc, "findings");
		json_t *some = json_array();
		size_t i;

		data = json_copy((json_t *)doc); /* shallow: values shared */
		if (!data || !some) {
			json_decref(data);
			json_decref(some);
			return NULL;
		}
		for (i = 0; i < keep; i++) {
			if (json_array_append(some, json_array_get(all, i)) ==
			    -1) {
				json_decref(data);
				json_decref(some);
				return NULL;
			}
		}
		/* set_new releases its value even when it fails */
		if (json_object_set_new(data, "findings", some) == -1 ||
		    json_object_set_new(
			data, "findings_left_out",
			json_integer((json_int_t)(total - keep))) == -1) {
			json_decref(data);
			return NULL;
		}
	}
	/* json_pack releases data ("o") when it fails too */
	return json_pack("{s:s, s:s, s:o}", "type", type, "timestamp", stamp,
			 "data", data);
}

static json_t *build_slack(const struct chat *c, size_t keep)
{
	struct strbuf t = STRBUF_INIT;
	const char *file = c->j->file;
	const char *verdict = verdict_name(c->j->verdict);
	const char *report = c->j->report_id;
	long long nerr = c->j->errors;
	long long nwarn = c->j->warnings;
	size_t total = c->nerrs;
	json_t *out;
	size_t i;

	sb_adds(&t, "expensed: ");
	sb_add_slack(&t, file ? file : "?");
	sb_adds(&t, " was ");
	sb_add_slack(&t, verdict ? verdict : "?");
	sb_adds(&t, "\nReport: ");
	sb_add_slack(&t, report ? report : "(none)");
	sb_addf(&t, "\n%lld %s, %lld %s", nerr, plural(nerr, "error", "errors"),
		nwarn, plural(nwarn, "warning", "warnings"));
	for (i = 0; i < keep && i < total; i++) {
		sb_adds(&t, "\n\xe2\x80\xa2 ");
		finding_line(&t, c->errs[i], 1);
	}
	if (keep < total)
		sb_addf(&t, "\n%zu more findings left out", total - keep);
	if (t.failed) {
		sb_release(&t);
		return NULL;
	}
	out = json_pack("{s:o}", "text", json_string_lossy(t.buf));
	sb_release(&t);
	return out;
}

/*
 * The builders below return NULL when memory runs out (or a value is
 * NULL); json_pack then releases every "o" value it was given, so a NULL
 * from one builder passed to the next one is an ordinary failure, never a
 * leak or a message with a part missing. Text from the report or its name
 * goes through json_string_lossy (U+FFFD for bytes that are not UTF-8).
 */
static json_t *text_block(const char *text)
{
	return json_pack("{s:s, s:o, s:b}", "type", "TextBlock", "text",
			 json_string_lossy(text), "wrap", 1);
}

static json_t *fact(const char *title, const char *value)
{
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

static json_t *build_teams(const struct chat *c, size_t keep)
{
	const char *file = c->j->file;
	const char *verdict = verdict_name(c->j->verdict);
	const char *report = c->j->report_id;
	size_t total = c->nerrs;
	char title[64], nerr[32], nwarn[32];
	json_t *body;
	size_t i;

	snprintf(title, sizeof(title), "expensed: report %s",
		 verdict ? verdict : "?");
	snprintf(nerr, sizeof(nerr), "%d", c->j->errors);
	snprintf(nwarn, sizeof(nwarn), "%d", c->j->warnings);
	body =
	    json_pack("[{s:s, s:s, s:s, s:s, s:b}, {s:s, s:[o, o, o, o, o]}]",
		      "type", "TextBlock", "text", title, "weight", "Bolder",
		      "size", "Medium", "wrap", 1, "type", "FactSet", "facts",
		      fact("Verdict", verdict ? verdict : "?"),
		      fact("File", file ? file : "?"),
		      fact("Report", report ? report : "(none)"),
		      fact("Errors", nerr), fact("Warnings", nwarn));
	if (!body)
		return NULL;
	for (i = 0; i < keep && i < total; i++) {
		struct strbuf t = STRBUF_INIT;
		int bad;

		sb_adds(&t, "\xe2\x80\xa2 ");
		finding_line(&t, c->errs[i], 0);
		/* append_new releases its value (NULL included) on failure */
		bad = t.failed ||
		      json_array_append_new(body, text_block(t.buf)) == -1;
		sb_release(&t);
		if (bad)
			goto fail;
	}
	if (keep < total) {
		char note[64];
		json_t *tb;

		snprintf(note, sizeof(note), "%zu more findings left out",
			 total - keep);
		tb = text_block(note);
		if (!tb ||
		    json_object_set_new(tb, "isSubtle", json_true()) == -1) {
			json_decref(tb);
			goto fail;
		}
		if (json_array_append_new(body, tb) == -1)
			goto fail;
	}
	return teams_message(body);
fail:
	json_decref(body);
	return NULL;
}

/* Build with the first keep findings; the dumped text, or NULL. */
static char *build_keep(enum webhook_format f, const char *type,
			const json_t *doc, const struct chat *c,
			const char *stamp, size_t keep, size_t total)
{
	json_t *msg;
	char *s;

	switch (f) {
	case WEBHOOK_STANDARD:
		msg = build_standard(type, doc, stamp, keep, total);
		break;
	case WEBHOOK_SLACK:
		msg = build_slack(c, keep);
		break;
	case WEBHOOK_TEAMS:
		msg = build_teams(c, keep);
		break;
	default:
		assert(!"webhook format out of range");
		return NULL;
	}
	if (!msg)
		return NULL;
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	return s;
}

char *webhook_build_body(enum webhook_format f, const char *type,
			 const struct judgement *j, const json_t *doc,
			 time_t now, size_t *len)
{
	char stamp[ISO8601_SIZE];
	struct chat c = {j, NULL, 0};
	size_t total, lo, hi;
	char *s, *best = NULL;

	iso8601_utc(now, stamp, sizeof(stamp));
	if (f == WEBHOOK_STANDARD) {
		total = json_array_size(json_object_get(doc, "findings"));
	} else {
		c.errs = error_findings(j, &c.nerrs);
		if (!c.errs)
			return NULL;
		total = c.nerrs;
	}
	s = build_keep(f, type, doc, &c, stamp, total, total);
	if (!s || strlen(s) <= WEBHOOK_MAX_PAYLOAD || total == 0)
		goto out;
	free(s);
	s = NULL;
	/* Binary search for the most findings that fit: a few dumps, not one
	 * per finding, even for a file with a hundred thousand of them. */
	lo = 0;
	hi = total - 1;
	while (lo <= hi) {
		size_t mid = lo + (hi - lo) / 2;
		char *try = build_keep(f, type, doc, &c, stamp, mid, total);

		if (!try)
			goto out;
		if (strlen(try) <= WEBHOOK_MAX_PAYLOAD) {
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
	/* Even with no finding it does not fit: send it anyway, whole JSON. */
	s = best ? best : build_keep(f, type, doc, &c, stamp, 0, total);
out:
	free(c.errs);
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
		 "expensed: test message through webhook %s (expensed %s)",
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
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (s && len)
		*len = strlen(s);
	return s;
}
