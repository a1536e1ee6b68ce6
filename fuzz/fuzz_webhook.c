/*
 * fuzz_webhook.c - libFuzzer target for the webhook body builders
 * (daemon/webhook_body.c): whatever a report holds, every format keeps its
 * budget (standard 64 KiB, teams 24 KiB, slack 4,000 characters of text
 * and 12,000 bytes of body), is valid JSON, says near its top what it left
 * out, and lets no report text format a message (nor, in slack, mention a
 * channel or make a Markdown link or image).
 *
 * The first byte picks the mode. Odd: the rest is a result document as
 * the daemon might find one (parsed, judgement_from_json), used as it is.
 * Even: a document is synthesised, which reaches long strings and many
 * findings with few bytes: byte 1 repeats every string but rules 1..256
 * times (up to SYNTH_MAX_STRING bytes), bytes 2-3 give the number of
 * findings (0..4095), and the rest, split at 0xFF, gives the file name,
 * the report id, archived_as, then rule, path and message of the findings
 * in turn (pieces wrap around), a rule of odd length making a warning.
 * Bytes that are not UTF-8 become U+FFFD, as in the daemon's documents.
 * Findings stop at SYNTH_MAX_BYTES of text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/utf8.h"
#include "../daemon/webhook.h"
/* fuzz_fail() only */
#include "check_doc.h"

/* Bytes of finding text, and of one string, synthesised at most: several
 * times every budget, and a 100,000-character id, at a speed that lets the
 * fuzzer try many shapes. */
#define SYNTH_MAX_BYTES (256 * 1024)
#define SYNTH_MAX_STRING 150000

/* The input cut at 0xFF bytes. */
struct pieces {
	const uint8_t *p;
	size_t n; /* pieces */
	size_t
	    *start; /* n + 1 offsets: piece i is [start[i], start[i+1] - 1) */
};

static void split(struct pieces *ps, const uint8_t *p, size_t len)
{
	size_t k, i = 0;

	ps->p = p;
	ps->n = 1;
	for (k = 0; k < len; k++)
		ps->n += p[k] == 0xff;
	ps->start = malloc((ps->n + 1) * sizeof(*ps->start));
	if (!ps->start)
		fuzz_fail("out of memory");
	ps->start[i++] = 0;
	for (k = 0; k < len; k++)
		if (p[k] == 0xff)
			ps->start[i++] = k + 1;
	ps->start[i] = len + 1;
}

/* Piece i (wrapping around) repeated rep times, as a JSON string. */
static json_t *piece(const struct pieces *ps, size_t i, size_t rep)
{
	size_t start, len, k;
	char *s;
	json_t *v;

	i %= ps->n;
	start = ps->start[i];
	len = ps->start[i + 1] - 1 - start;
	if (len > 0 && len * rep > SYNTH_MAX_STRING)
		rep = len >= SYNTH_MAX_STRING ? 1 : SYNTH_MAX_STRING / len;
	s = malloc(len * rep + 1);
	if (!s)
		fuzz_fail("out of memory");
	for (k = 0; k < rep; k++)
		memcpy(s + k * len, ps->p + start, len);
	s[len * rep] = '\0';
	v = json_string_lossy(s); /* stops at a NUL, as a C string would */
	free(s);
	if (!v)
		fuzz_fail("out of memory");
	return v;
}

static json_t *synthesise(const uint8_t *data, size_t size)
{
	size_t rep = size > 1 ? (size_t)data[1] + 1 : 1;
	size_t nf = size > 3 ? ((size_t)data[2] << 8 | data[3]) & 0xfff : 0;
	json_t *findings = json_array(), *doc;
	struct pieces ps;

	size_t bytes = 0;

	split(&ps, size > 4 ? data + 4 : data, size > 4 ? size - 4 : 0);
	for (size_t i = 0; findings && i < nf && bytes < SYNTH_MAX_BYTES; i++) {
		json_t *rule = piece(&ps, 3 + 3 * i, 1);
		json_t *path = piece(&ps, 4 + 3 * i, rep);
		json_t *msg = piece(&ps, 5 + 3 * i, rep);
		int warn = json_string_length(rule) % 2;

		bytes += json_string_length(rule) + json_string_length(path) +
			 json_string_length(msg) + 1;
		if (json_array_append_new(
			findings,
			json_pack("{s:o, s:s, s:o, s:o}", "rule", rule,
				  "severity", warn ? "warning" : "error",
				  "path", path, "message", msg)) == -1)
			fuzz_fail("out of memory");
	}
	doc =
	    json_pack("{s:o, s:o, s:s, s:i, s:i, s:o, s:o}", "file",
		      piece(&ps, 0, rep), "report_id", piece(&ps, 1, rep),
		      "verdict", "rejected", "errors", 0, "warnings", 0,
		      "findings", findings, "archived_as", piece(&ps, 2, rep));
	free(ps.start);
	if (!doc)
		fuzz_fail("out of memory");
	return doc;
}

static size_t code_points(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Is p at a character a chat text shows as a space, past C0 and DEL: a
 * C1 control (U+0080 to U+009F), U+2028, U+2029 or a bidi control? */
static int is_c1(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = utf8_seq_len(u, 4);
	unsigned cp = n >= 2 ? utf8_decode(u, n) : 0;

	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       utf8_bidi_control(cp);
}

/* No report text can make a link, a mention or formatting: in a Teams
 * text, these never come without a backslash (the builder's own words
 * have none of them). */
static void check_teams_text(const char *s)
{
	if (*s == ' ')
		fuzz_fail("teams: a leading space (four make a code block)");
	for (size_t i = 0; s[i]; i++)
		if (strchr("[]<>*_`~#|!", s[i]))
			fuzz_fail("teams: markup character not escaped");
		else if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
			 is_c1(s + i))
			fuzz_fail("teams: control character in text");
		else if (s[i] == '\\')
			i++; /* the escaped character */
}

/* nerrs error findings listed, of total: the note is there when fewer
 * than total are shown. */
static void check_teams(json_t *msg, size_t nerrs, size_t total)
{
	json_t *att = json_array_get(json_object_get(msg, "attachments"), 0);
	json_t *body = json_object_get(json_object_get(att, "content"), "body");
	json_t *b, *f;
	size_t i, k, shown = 0;
	int note;

	if (!json_is_array(body) || json_array_size(body) < 2)
		fuzz_fail("teams: no card body");
	note = strncmp(json_string_value(
			   json_object_get(json_array_get(body, 1), "text"))
			   ?: "",
		       "Showing ", 8) == 0;
	json_array_foreach(body, i, b)
	{
		const char *t = json_string_value(json_object_get(b, "text"));

		if (i > 0 && t)
			check_teams_text(t);
		shown += t && strncmp(t, "\xe2\x80\xa2 ", 4) == 0;
		json_array_foreach(json_object_get(b, "facts"), k, f)
		    check_teams_text(
			json_string_value(json_object_get(f, "value")));
	}
	if (shown > nerrs || (shown < total) != note)
		fuzz_fail("teams: findings left out without the note");
}

static void check_slack(json_t *msg, size_t nerrs, size_t total)
{
	const char *t = json_string_value(json_object_get(msg, "text"));
	const char *line2, *p;
	size_t shown = 0;

	if (!t || json_object_size(msg) != 1)
		fuzz_fail("slack: no text");
	if (code_points(t) > WEBHOOK_SLACK_MAX_TEXT)
		fuzz_fail("slack: text over budget");
	if (strpbrk(t, "<>"))
		fuzz_fail("slack: < or > not escaped");
	for (p = t; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\n') || *p == 0x7f ||
		    is_c1(p))
			fuzz_fail("slack: control character in text");
		else if ((*p == '@' || *p == ']') &&
			 strncmp(p + 1, "\xe2\x81\xa0", 3) != 0)
			fuzz_fail("slack: @ or ] without a word joiner");
	for (p = t; (p = strstr(p, "\n\xe2\x80\xa2 ")); p++)
		shown++;
	line2 = strchr(t, '\n');
	if (shown > nerrs ||
	    (shown < total) !=
		(line2 && strncmp(line2 + 1, "Showing ", 8) == 0))
		fuzz_fail("slack: findings left out without the note");
}

static void check(enum webhook_format f, const struct judgement *j,
		  const json_t *doc)
{
	static const size_t budget[] = {
	    [WEBHOOK_STANDARD] = WEBHOOK_MAX_PAYLOAD,
	    [WEBHOOK_SLACK] = WEBHOOK_SLACK_MAX_BODY,
	    [WEBHOOK_TEAMS] = WEBHOOK_TEAMS_MAX_BODY,
	};
	size_t len = 0, nerrs = 0, total;
	char *s = webhook_build_body(f, "report.rejected", j, doc, 0, &len);
	json_t *msg;

	if (!s)
		fuzz_fail("webhook_build_body returned NULL");
	if (len != strlen(s) || len > budget[f])
		fuzz_fail("body over budget");
	msg = json_loads(s, 0, NULL);
	if (!json_is_object(msg))
		fuzz_fail("body is not a JSON object");
	for (size_t i = 0; i < j->nfindings; i++)
		nerrs += j->findings[i].severity == SEV_ERROR;
	/* the note counts the errors the document left out too */
	if (j->errors > 0 && (size_t)j->errors > nerrs)
		total = (size_t)j->errors;
	else
		total = nerrs;
	if (f == WEBHOOK_SLACK)
		check_slack(msg, nerrs, total);
	else if (f == WEBHOOK_TEAMS)
		check_teams(msg, nerrs, total);
	else if (!json_is_object(json_object_get(msg, "data")))
		fuzz_fail("standard: no data");
	json_decref(msg);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct judgement j;
	json_t *doc;

	(void)fuzz_check_judgement; /* check_doc.h gives fuzz_fail() */
	if (size > 0 && data[0] % 2) {
		doc = json_loadb((const char *)data + 1, size - 1, 0, NULL);
		if (!json_is_object(doc)) {
			json_decref(doc);
			return 0;
		}
	} else {
		doc = synthesise(data, size);
	}
	if (judgement_from_json(doc, &j) == -1)
		fuzz_fail("judgement_from_json returned -1");
	check(WEBHOOK_STANDARD, &j, doc);
	check(WEBHOOK_SLACK, &j, doc);
	check(WEBHOOK_TEAMS, &j, doc);
	judgement_release(&j);
	json_decref(doc);
	return 0;
}
