/*
 * test_webhook.c - unit tests of webhook payloads, signing and Retry-After
 * (daemon/webhook.c), and of queueing deliveries in an outbox without
 * sending (daemon/outbox.c with no event loop).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "../../common/hash.h"
#include "../../daemon/config_value.h"
#include "../../daemon/outbox.h"
#include "../../daemon/webhook.h"

/* The Standard Webhooks reference vector (standard-webhooks/libraries and
 * Svix's tests). */
static void test_sign_reference_vector(void **state)
{
	const char *body = "{\"test\": 2432232314}";
	char sig[128];

	(void)state;
	assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				      "msg_p5jXN8AQM9LWM0D4loKWxJek",
				      1614265330, body, strlen(body), sig,
				      sizeof(sig)),
			 0);
	assert_string_equal(sig,
			    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* The prefix is optional, a trailing newline from the file ignored. */
	assert_int_equal(webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
				      "msg_p5jXN8AQM9LWM0D4loKWxJek",
				      1614265330, body, strlen(body), sig,
				      sizeof(sig)),
			 0);
	assert_string_equal(sig,
			    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* Another timestamp, another signature. */
	assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				      "msg_p5jXN8AQM9LWM0D4loKWxJek",
				      1614265331, body, strlen(body), sig,
				      sizeof(sig)),
			 0);
	assert_string_not_equal(
	    sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_sign_bad_secret(void **state)
{
	char sig[128];

	(void)state;
	assert_int_equal(webhook_sign("whsec_not base64!", "msg_x", 1, "{}", 2,
				      sig, sizeof(sig)),
			 -1);
	assert_int_equal(errno, EINVAL); /* not ENOMEM: its words differ */
	assert_int_equal(
	    webhook_sign("whsec_", "msg_x", 1, "{}", 2, sig, sizeof(sig)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(
	    webhook_sign("whsec_abc", "msg_x", 1, "{}", 2, sig, sizeof(sig)),
	    -1);
}

/*
 * A key of n bytes, as a secret file holds it ("whsec_BASE64\n"), read
 * by config_read_secret() as check-config reads it, signs; the signature
 * is OpenSSL's HMAC-SHA256 under those n bytes.
 */
static void sign_with_key_of(size_t n)
{
	static const char body[] = "{\"test\": 2432232314}";
	static const char prefix[] = "msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.";
	unsigned char key[3072], msg[sizeof(prefix) + sizeof(body)];
	unsigned char mac[EVP_MAX_MD_SIZE], b64[4096], macb64[64];
	char want[128];
	char path[] = "/tmp/test_webhook.XXXXXX", why[256], sig[128];
	char *secret = NULL;
	unsigned int maclen = 0;
	bool others;
	FILE *f;
	int fd;

	assert_true(n <= sizeof(key));
	for (size_t i = 0; i < n; i++)
		key[i] = (unsigned char)(i * 7 + 3);
	EVP_EncodeBlock(b64, key, (int)n);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "whsec_%s\n", (const char *)b64);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(
	    config_read_secret(path, &secret, &others, why, sizeof(why)), 0);
	unlink(path);

	assert_int_equal(webhook_sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek",
				      1614265330, body, strlen(body), sig,
				      sizeof(sig)),
			 0);
	memcpy(msg, prefix, strlen(prefix));
	memcpy(msg + strlen(prefix), body, strlen(body));
	assert_non_null(HMAC(EVP_sha256(), key, (int)n, msg,
			     strlen(prefix) + strlen(body), mac, &maclen));
	EVP_EncodeBlock(macb64, mac, (int)maclen);
	snprintf(want, sizeof(want), "v1,%s", (const char *)macb64);
	assert_string_equal(sig, want);
	free(secret);
}

/* Every key a secret file can hold signs: 255 and 256 bytes (the daemon
 * once decoded into 256 bytes and failed past them), and 3066, the
 * longest that fits the 4096 bytes read from the file. */
static void test_sign_long_keys(void **state)
{
	(void)state;
	sign_with_key_of(32);
	sign_with_key_of(255);
	sign_with_key_of(256);
	sign_with_key_of(300);
	sign_with_key_of(3066);
}

/* A result document with n error findings and one warning. */
static json_t *make_doc(const char *file, int n, const char *msg)
{
	json_t *findings = json_array();
	int i;

	for (i = 0; i < n; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/missions/%d/cost", i);
		json_array_append_new(
		    findings, json_pack("{s:s, s:s, s:s, s:s}", "rule",
					"total.missions", "severity", "error",
					"path", path, "message", msg));
	}
	json_array_append_new(findings,
			      json_pack("{s:s, s:s, s:s, s:s}", "rule",
					"ratification.retroactive", "severity",
					"warning", "path", "/missions/0/start",
					"message", "after the trip"));
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:o, s:s}",
			 "file", file, "sha256",
			 "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b"
			 "6b9942dd4f1b",
			 "size", 2175, "report_id", "CD13-CP-2019-02-08-R36",
			 "verdict", "rejected", "errors", n, "warnings", 1,
			 "findings", findings, "expensed", "0.1.0");
}

/* webhook_build_body() for the judgement that doc says. */
static char *build_body(enum webhook_format f, const char *type,
			const json_t *doc, time_t now, size_t *len)
{
	struct judgement j;
	char *s;

	assert_int_equal(judgement_from_json(doc, &j), 0);
	s = webhook_build_body(f, type, &j, doc, now, len);
	judgement_release(&j);
	return s;
}

/* outbox_queue() for the judgement that doc says, with verdict v. */
static int queue(struct outbox *ob, const char *claim, enum verdict v,
		 const json_t *doc)
{
	struct judgement j;
	int rc;

	assert_int_equal(judgement_from_json(doc, &j), 0);
	j.verdict = v;
	rc = outbox_queue(ob, claim, &j, doc);
	judgement_release(&j);
	return rc;
}

static void test_standard_body(void **state)
{
	json_t *doc = make_doc("rapport-36.json", 1, "total is off"), *msg;
	size_t len = 0;
	char *s;

	(void)state;
	/* 2026-11-26T14:39:34Z */
	s = build_body(WEBHOOK_STANDARD, "report.rejected", doc, 1795703974,
		       &len);
	assert_non_null(s);
	assert_int_equal(len, strlen(s));
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	assert_string_equal(json_string_value(json_object_get(msg, "type")),
			    "report.rejected");
	assert_string_equal(
	    json_string_value(json_object_get(msg, "timestamp")),
	    "2026-11-26T14:39:34Z");
	assert_true(json_equal(json_object_get(msg, "data"), doc));
	assert_int_equal(json_object_size(msg), 3);
	json_decref(msg);
	free(s);
	json_decref(doc);
}

static void test_standard_trimmed(void **state)
{
	char msgtext[200];
	json_t *doc, *msg, *data;
	size_t len = 0, kept;
	char *s;

	(void)state;
	memset(msgtext, 'x', sizeof(msgtext) - 1);
	msgtext[sizeof(msgtext) - 1] = '\0';
	doc = make_doc("big.json", 3000, msgtext);
	s = build_body(WEBHOOK_STANDARD, "report.rejected", doc, 0, &len);
	assert_non_null(s);
	assert_true(len <= WEBHOOK_MAX_PAYLOAD);
	/* As many as fit: one finding more would not. */
	assert_true(len > WEBHOOK_MAX_PAYLOAD - 300);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	data = json_object_get(msg, "data");
	kept = json_array_size(json_object_get(data, "findings"));
	assert_true(kept > 100);
	assert_int_equal(
	    json_integer_value(json_object_get(data, "findings_left_out")),
	    3001 - kept);
	/* The first findings, in order; counts unchanged. */
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(data, "findings"), 1), "path")),
	    "/missions/1/cost");
	assert_int_equal(json_integer_value(json_object_get(data, "errors")),
			 3000);
	/* The caller's document is untouched. */
	assert_int_equal(json_array_size(json_object_get(doc, "findings")),
			 3001);
	assert_null(json_object_get(doc, "findings_left_out"));
	json_decref(msg);
	free(s);
	json_decref(doc);
}

static void test_slack_body(void **state)
{
	json_t *doc = make_doc("rapport-36.json", 2, "total 1 <b> & 2"), *msg;
	char *s;

	(void)state;
	s = build_body(WEBHOOK_SLACK, "report.rejected", doc, 0, NULL);
	assert_non_null(s);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	assert_int_equal(json_object_size(msg), 1);
	assert_string_equal(
	    json_string_value(json_object_get(msg, "text")),
	    "expensed: rapport-36.json was rejected\n"
	    "Report: CD13-CP-2019-02-08-R36\n"
	    "2 errors, 1 warning\n"
	    "\xe2\x80\xa2 total.missions /missions/0/cost: total 1 &lt;b&gt; "
	    "&amp; 2\n"
	    "\xe2\x80\xa2 total.missions /missions/1/cost: total 1 &lt;b&gt; "
	    "&amp; 2");
	json_decref(msg);
	free(s);
	json_decref(doc);
}

static void test_slack_escapes_mentions(void **state)
{
	json_t *doc = make_doc("<!channel>.json", 0, ""), *msg;
	const char *text;
	char *s;

	(void)state;
	s = build_body(WEBHOOK_SLACK, "report.accepted", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	text = json_string_value(json_object_get(msg, "text"));
	assert_non_null(strstr(text, "&lt;!channel&gt;.json"));
	assert_null(strstr(text, "<!channel>"));
	assert_null(strstr(text, "\xe2\x80\xa2")); /* warnings not listed */
	json_decref(msg);
	free(s);
	json_decref(doc);
}

/* U+2060 WORD JOINER: after ".", ":" and "@" in Teams text, after "@" and
 * "]" in slack text. */
#define WJ "\xe2\x81\xa0"
/* U+00A0 NO-BREAK SPACE, for the leading spaces of Teams text. */
#define NBSP "\xc2\xa0"

/*
 * Mattermost and Rocket.Chat, which take the slack format, read its text as
 * Markdown and honour @channel, @all and @here: a word joiner after every
 * "@" and "]" leaves no mention, no [label](url) link hiding its target and
 * no ![image](url) fetched by every reader, and reads the same.
 */
static void test_slack_escapes_markdown(void **state)
{
	json_t *doc =
		   make_doc("@channel [Approve](https://evil.example/a).json",
			    1, "see ![x](https://evil.example/t.png) @all"),
	       *msg;
	char *s;

	(void)state;
	json_object_set_new(doc, "report_id", json_string("@here R-1"));
	s = build_body(WEBHOOK_SLACK, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	assert_string_equal(
	    json_string_value(json_object_get(msg, "text")),
	    "expensed: @" WJ "channel [Approve]" WJ
	    "(https://evil.example/a).json was rejected\n"
	    "Report: @" WJ "here R-1\n"
	    "1 error, 1 warning\n"
	    "\xe2\x80\xa2 total.missions /missions/0/cost: see ![x]" WJ
	    "(https://evil.example/t.png) @" WJ "all");
	json_decref(msg);
	free(s);
	json_decref(doc);
}

/* The bullet lines ("• ...") of a slack text. */
static size_t bullets(const char *text)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, "\n\xe2\x80\xa2 ")); p++)
		n++;
	return n;
}

/* Code points of the UTF-8 text s. */
static size_t code_points(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void test_slack_trimmed(void **state)
{
	char msgtext[300], want[160];
	json_t *doc, *msg;
	const char *text, *note;
	size_t len = 0, lines;
	char *s;

	(void)state;
	memset(msgtext, 'y', sizeof(msgtext) - 1);
	msgtext[sizeof(msgtext) - 1] = '\0';
	doc = make_doc("big.json", 1000, msgtext);
	json_object_set_new(doc, "archived_as",
			    json_string("rejected/big.json"));
	s = build_body(WEBHOOK_SLACK, "report.rejected", doc, 0, &len);
	assert_true(len <= WEBHOOK_SLACK_MAX_BODY);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	text = json_string_value(json_object_get(msg, "text"));
	assert_true(code_points(text) <= WEBHOOK_SLACK_MAX_TEXT);
	lines = bullets(text);
	assert_true(lines > 10);
	/* the note is the second line, before any finding */
	note = strchr(text, '\n') + 1;
	snprintf(want, sizeof(want),
		 "Showing %zu of 1000 error findings (%zu left out); full "
		 "result: rejected/big.json.result.json\nReport: ",
		 lines, 1000 - lines);
	assert_memory_equal(note, want, strlen(want));
	/* messages cut to 200 characters, the last one "…" */
	assert_non_null(strstr(text, ": yyy"));
	{
		const char *m = strstr(text, ": yyy") + 2;
		const char *e = strchr(m, '\n');

		assert_int_equal(e - m, 199 + 3);
		assert_memory_equal(e - 3, "\xe2\x80\xa6", 3);
	}
	json_decref(msg);
	free(s);
	json_decref(doc);
}

/* A Teams card's body array. */
static json_t *card_body(json_t *msg)
{
	json_t *att = json_array_get(json_object_get(msg, "attachments"), 0);

	return json_object_get(json_object_get(att, "content"), "body");
}

/* Control characters in report text are spaces in both chat formats: C0,
 * DEL and C1 (U+0080, U+0085 NEL, U+009F), each one space; U+00A0 and
 * U+00A1, the characters right after C1, are kept. */
static void test_chat_control_characters(void **state)
{
	json_t *doc = make_doc("a\tb\x7f"
			       "c.json",
			       1, "x\xc2\x85y"),
	       *msg;
	json_t *body, *facts;
	char *s;

	(void)state;
	json_object_set_new(doc, "report_id",
			    json_string("R\xc2\x80"
					"1\xc2\x85"
					"2\xc2\x9f"
					"3\xc2\xa0"
					"4\xc2\xa1"
					"5\n6\xe2\x80\xae"
					"7\xe2\x80\xa8"
					"8\xd8\x9c"
					"9\xe2\x81\xa6"
					"0\xe2\x80\x8b"
					"."));
	s = build_body(WEBHOOK_SLACK, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	assert_string_equal(
	    json_string_value(json_object_get(msg, "text")),
	    "expensed: a b c.json was rejected\n"
	    "Report: R 1 2 3\xc2\xa0"
	    "4\xc2\xa1"
	    "5 6 7 8 9 0\xe2\x80\x8b.\n"
	    "1 error, 1 warning\n"
	    "\xe2\x80\xa2 total.missions /missions/0/cost: x y");
	json_decref(msg);
	free(s);

	s = build_body(WEBHOOK_TEAMS, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	body = card_body(msg);
	facts = json_object_get(json_array_get(body, 1), "facts");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(facts, 1), "value")),
			    "a b c\\." WJ "json");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(facts, 2), "value")),
			    "R 1 2 3\xc2\xa0"
			    "4\xc2\xa1"
			    "5 6 7 8 9 0\xe2\x80\x8b\\." WJ);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(body, 2), "text")),
	    "\xe2\x80\xa2 total\\." WJ "missions \\/missions\\/0\\/cost: x y");
	json_decref(msg);
	free(s);
	json_decref(doc);
}

/* doc as the daemon writes it when max_findings left findings out: it
 * lists its first findings, counts all of them in errors, and says how
 * many it does not list. */
static void capped(json_t *doc, int errors, int left_out)
{
	json_object_set_new(doc, "errors", json_integer(errors));
	json_object_set_new(doc, "findings_left_out", json_integer(left_out));
	json_object_set_new(doc, "archived_as",
			    json_string("rejected/many.json"));
}

/* A result that lists 5 of its 21 errors (max_findings): the chat
 * messages fit, and still say that 16 are left out, of 21; the standard
 * body is the document as it is. */
static void test_left_out_by_document(void **state)
{
	json_t *doc = make_doc("many.json", 5, "off"), *msg, *body;
	char *s;

	(void)state;
	capped(doc, 21, 16);
	s = build_body(WEBHOOK_SLACK, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	assert_string_equal(
	    json_string_value(json_object_get(msg, "text")),
	    "expensed: many.json was rejected\n"
	    "Showing 5 of 21 error findings (16 left out); full result: "
	    "rejected/many.json.result.json\n"
	    "Report: CD13-CP-2019-02-08-R36\n"
	    "21 errors, 1 warning\n"
	    "\xe2\x80\xa2 total.missions /missions/0/cost: off\n"
	    "\xe2\x80\xa2 total.missions /missions/1/cost: off\n"
	    "\xe2\x80\xa2 total.missions /missions/2/cost: off\n"
	    "\xe2\x80\xa2 total.missions /missions/3/cost: off\n"
	    "\xe2\x80\xa2 total.missions /missions/4/cost: off");
	json_decref(msg);
	free(s);

	s = build_body(WEBHOOK_TEAMS, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	body = card_body(msg);
	assert_int_equal(json_array_size(body), 3 + 5);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(body, 1), "text")),
	    "Showing 5 of 21 error findings (16 left out); full result: "
	    "rejected\\/many\\." WJ "json\\." WJ "result\\." WJ "json");
	json_decref(msg);
	free(s);

	s = build_body(WEBHOOK_STANDARD, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	assert_true(json_equal(json_object_get(msg, "data"), doc));
	json_decref(msg);
	free(s);
	json_decref(doc);
}

/* A result that lists 1000 of its 1601 errors, and is too large for any
 * body: what each body says is left out counts the 601 too. */
static void test_left_out_by_document_and_budget(void **state)
{
	char msgtext[300], want[200];
	json_t *doc, *msg, *data, *body;
	const char *text;
	size_t kept;
	char *s;

	(void)state;
	memset(msgtext, 'y', sizeof(msgtext) - 1);
	msgtext[sizeof(msgtext) - 1] = '\0';
	doc = make_doc("many.json", 1000, msgtext);
	capped(doc, 1601, 601);

	s = build_body(WEBHOOK_SLACK, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	text = json_string_value(json_object_get(msg, "text"));
	kept = bullets(text);
	assert_true(kept > 10 && kept < 1000);
	snprintf(want, sizeof(want),
		 "expensed: many.json was rejected\n"
		 "Showing %zu of 1601 error findings (%zu left out); full "
		 "result: rejected/many.json.result.json\nReport: ",
		 kept, 1601 - kept);
	assert_memory_equal(text, want, strlen(want));
	json_decref(msg);
	free(s);

	s = build_body(WEBHOOK_TEAMS, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	body = card_body(msg);
	kept = json_array_size(body) - 3;
	assert_true(kept > 10 && kept < 1000);
	snprintf(want, sizeof(want),
		 "Showing %zu of 1601 error findings (%zu left out); ", kept,
		 1601 - kept);
	text =
	    json_string_value(json_object_get(json_array_get(body, 1), "text"));
	assert_memory_equal(text, want, strlen(want));
	json_decref(msg);
	free(s);

	s = build_body(WEBHOOK_STANDARD, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	data = json_object_get(msg, "data");
	kept = json_array_size(json_object_get(data, "findings"));
	assert_true(kept > 10 && kept < 1001);
	/* 1001 listed in the document (1000 errors, 1 warning), 601 not */
	assert_int_equal(
	    json_integer_value(json_object_get(data, "findings_left_out")),
	    601 + 1001 - kept);
	assert_int_equal(json_integer_value(json_object_get(data, "errors")),
			 1601);
	json_decref(msg);
	free(s);
	json_decref(doc);
}

static void test_teams_body(void **state)
{
	json_t *doc = make_doc("rapport-36.json", 1, "total is off"), *msg;
	json_t *att, *card, *body, *facts;
	char *s;

	(void)state;
	s = build_body(WEBHOOK_TEAMS, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	assert_string_equal(json_string_value(json_object_get(msg, "type")),
			    "message");
	assert_int_equal(json_array_size(json_object_get(msg, "attachments")),
			 1);
	att = json_array_get(json_object_get(msg, "attachments"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(att, "contentType")),
	    "application/vnd.microsoft.card.adaptive");
	card = json_object_get(att, "content");
	assert_string_equal(json_string_value(json_object_get(card, "type")),
			    "AdaptiveCard");
	assert_string_equal(json_string_value(json_object_get(card, "version")),
			    "1.4");
	assert_string_equal(
	    json_string_value(json_object_get(card, "$schema")),
	    "http://adaptivecards.io/schemas/adaptive-card.json");
	body = json_object_get(card, "body");
	assert_int_equal(json_array_size(body), 3);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(body, 0), "text")),
	    "expensed: report rejected");
	facts = json_object_get(json_array_get(body, 1), "facts");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(body, 1), "type")),
	    "FactSet");
	assert_int_equal(json_array_size(facts), 5);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(facts, 1), "title")),
			    "File");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(facts, 1), "value")),
			    "rapport\\-36\\." WJ "json");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(facts, 2), "value")),
			    "CD13\\-CP\\-2019\\-02\\-08\\-R36");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(facts, 3), "value")),
			    "1");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(body, 2), "text")),
	    "\xe2\x80\xa2 total\\." WJ "missions \\/missions\\/0\\/cost: "
	    "total is off");
	json_decref(msg);
	free(s);
	json_decref(doc);
}

/*
 * A fact's value starts a Markdown paragraph: a file name or report id
 * that starts with four spaces (or a tab, shown as a space) made an
 * indented code block, the name shown in monospace with the backslashes
 * of its escapes. Leading spaces are NO-BREAK SPACEs, which Markdown does
 * not read as indentation; spaces inside stay spaces.
 */
static void test_teams_leading_spaces(void **state)
{
	json_t *doc = make_doc("    spaced out.json", 1, "x"), *msg, *facts;
	char *s;

	(void)state;
	json_object_set_new(doc, "report_id", json_string("\t\t\t\t#1 2"));
	s = build_body(WEBHOOK_TEAMS, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	facts = json_object_get(json_array_get(card_body(msg), 1), "facts");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(facts, 1), "value")),
			    NBSP NBSP NBSP NBSP "spaced out\\." WJ "json");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(facts, 2), "value")),
			    NBSP NBSP NBSP NBSP "\\#1 2");
	json_decref(msg);
	free(s);
	json_decref(doc);
}

/* No report can make a link, a mention or formatting in a Teams card:
 * every ASCII punctuation character escaped, a word joiner after ".", ":"
 * and "@". Slack escapes &, < and >, and has a word joiner after "@" and
 * "]". */
static void test_teams_escapes(void **state)
{
	json_t *doc = make_doc("<at>everyone</at>.json", 1,
			       "see <at>everyone</at> at www.evil.example");
	json_t *msg, *body, *facts;
	const char *text;
	char *s;

	(void)state;
	json_object_set_new(
	    doc, "report_id",
	    json_string("[Approve here](https://evil.example/login) "
			"**URGENT**\n# _x_ `y` ~z~ a@b.org | {1} 2. + - !"));
	s = build_body(WEBHOOK_TEAMS, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	body = card_body(msg);
	facts = json_object_get(json_array_get(body, 1), "facts");
	assert_string_equal(
	    json_string_value(
		json_object_get(json_array_get(facts, 2), "value")),
	    "\\[Approve here\\]\\(https\\:" WJ "\\/\\/evil\\." WJ
	    "example\\/login\\) \\*\\*URGENT\\*\\* \\# \\_x\\_ "
	    "\\`y\\` \\~z\\~ a\\@" WJ "b\\." WJ "org \\| \\{1\\} "
	    "2\\." WJ " \\+ \\- \\!");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(facts, 1), "value")),
			    "\\<at\\>everyone\\<\\/at\\>\\." WJ "json");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(body, 2), "text")),
	    "\xe2\x80\xa2 total\\." WJ "missions \\/missions\\/0\\/cost: "
	    "see \\<at\\>everyone\\<\\/at\\> at www\\." WJ "evil\\." WJ
	    "example");
	json_decref(msg);
	free(s);

	s = build_body(WEBHOOK_SLACK, "report.rejected", doc, 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	text = json_string_value(json_object_get(msg, "text"));
	assert_string_equal(
	    text, "expensed: &lt;at&gt;everyone&lt;/at&gt;.json was rejected\n"
		  "Report: [Approve here]" WJ "(https://evil.example/login) "
		  "**URGENT** # _x_ `y` ~z~ a@" WJ "b.org | {1} 2. + - !\n"
		  "1 error, 1 warning\n"
		  "\xe2\x80\xa2 total.missions /missions/0/cost: see "
		  "&lt;at&gt;everyone&lt;/at&gt; at www.evil.example");
	json_decref(msg);
	free(s);
	json_decref(doc);
}

/* Reports with 200 and 600 error findings, with an ordinary and with a
 * 100,000-character id: every format within its budget, valid JSON, and
 * a trimmed chat message says near its top what it left out. */
static void check_budgets(int n, const char *id)
{
	char msgtext[151], want[200];
	json_t *doc, *msg, *data, *body;
	size_t len, kept;
	const char *text;
	char *s;

	memset(msgtext, 'm', sizeof(msgtext) - 1);
	msgtext[sizeof(msgtext) - 1] = '\0';
	doc = make_doc("big.json", n, msgtext);
	json_object_set_new(doc, "report_id", json_string(id));
	json_object_set_new(doc, "archived_as",
			    json_string("rejected/big.json"));

	s = build_body(WEBHOOK_STANDARD, "report.rejected", doc, 0, &len);
	assert_non_null(s);
	assert_true(len <= WEBHOOK_MAX_PAYLOAD);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	data = json_object_get(msg, "data");
	kept = json_array_size(json_object_get(data, "findings"));
	assert_true(kept > 0);
	assert_int_equal(
	    json_integer_value(json_object_get(data, "findings_left_out")),
	    n + 1 - kept);
	assert_true(code_points(json_string_value(json_object_get(
			data, "report_id"))) <= WEBHOOK_STANDARD_MAX_STRING);
	json_decref(msg);
	free(s);

	s = build_body(WEBHOOK_SLACK, "report.rejected", doc, 0, &len);
	assert_non_null(s);
	assert_true(len <= WEBHOOK_SLACK_MAX_BODY);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	text = json_string_value(json_object_get(msg, "text"));
	assert_true(code_points(text) <= WEBHOOK_SLACK_MAX_TEXT);
	kept = bullets(text);
	assert_true(kept > 0 && kept < (size_t)n);
	snprintf(want, sizeof(want),
		 "expensed: big.json was rejected\nShowing %zu of %d error "
		 "findings (%zu left out); full result: "
		 "rejected/big.json.result.json\nReport: ",
		 kept, n, n - kept);
	assert_memory_equal(text, want, strlen(want));
	json_decref(msg);
	free(s);

	s = build_body(WEBHOOK_TEAMS, "report.rejected", doc, 0, &len);
	assert_non_null(s);
	assert_true(len <= WEBHOOK_TEAMS_MAX_BODY);
	msg = json_loads(s, 0, NULL);
	assert_non_null(msg);
	body = card_body(msg);
	kept = json_array_size(body) - 3;
	assert_true(kept > 0 && kept < (size_t)n);
	snprintf(want, sizeof(want),
		 "Showing %zu of %d error findings (%zu left out); full "
		 "result: rejected\\/big\\." WJ "json\\." WJ "result\\." WJ
		 "json",
		 kept, n, n - kept);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(body, 1), "text")),
	    want);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(body, 2), "type")),
	    "FactSet");
	json_decref(msg);
	free(s);
	json_decref(doc);
}

static void test_budgets(void **state)
{
	char *id = malloc(100001);

	(void)state;
	assert_non_null(id);
	memset(id, 'i', 100000);
	id[100000] = '\0';
	check_budgets(200, "R-1");
	check_budgets(600, "R-1");
	check_budgets(200, id);
	check_budgets(600, id);
	free(id);
}

/* A long id alone: no finding left out, but the id cut to 200 characters
 * in chat, to 1,000 in a standard body that did not fit. */
static void test_long_id(void **state)
{
	char *id = malloc(100001);
	json_t *doc = make_doc("r.json", 1, "bad"), *msg, *data;
	const char *v;
	size_t len;
	char *s;

	(void)state;
	assert_non_null(id);
	memset(id, 'i', 100000);
	id[100000] = '\0';
	json_object_set_new(doc, "report_id", json_string(id));
	s = build_body(WEBHOOK_STANDARD, "report.rejected", doc, 0, &len);
	assert_true(len <= WEBHOOK_MAX_PAYLOAD);
	msg = json_loads(s, 0, NULL);
	data = json_object_get(msg, "data");
	v = json_string_value(json_object_get(data, "report_id"));
	assert_int_equal(strlen(v), 999 + 3);
	assert_memory_equal(v + 999, "\xe2\x80\xa6", 3);
	assert_int_equal(
	    json_integer_value(json_object_get(data, "findings_left_out")), 0);
	assert_int_equal(json_array_size(json_object_get(data, "findings")), 2);
	json_decref(msg);
	free(s);
	s = build_body(WEBHOOK_SLACK, "report.rejected", doc, 0, &len);
	msg = json_loads(s, 0, NULL);
	v = strstr(json_string_value(json_object_get(msg, "text")), "Report: ");
	assert_non_null(v);
	assert_int_equal(strchr(v, '\n') - v, 8 + 199 + 3);
	assert_int_equal(
	    bullets(json_string_value(json_object_get(msg, "text"))), 1);
	json_decref(msg);
	free(s);
	json_decref(doc);
	free(id);
}

static void test_ping(void **state)
{
	json_t *msg;
	char *s;

	(void)state;
	s = webhook_build_ping(WEBHOOK_STANDARD, "audit", 1795703974, NULL);
	msg = json_loads(s, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(msg, "type")),
			    "ping");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(msg, "data"), "webhook")),
			    "audit");
	json_decref(msg);
	free(s);
	s = webhook_build_ping(WEBHOOK_SLACK, "chat", 0, NULL);
	msg = json_loads(s, 0, NULL);
	assert_non_null(strstr(json_string_value(json_object_get(msg, "text")),
			       "test message through webhook chat"));
	json_decref(msg);
	free(s);
}

/* ---- outbox queueing, no event loop -------------------------------- */

static long retry_list[] = {0, 1000};

static struct webhook_conf hooks[] = {
    {"audit", "http://127.0.0.1:9/a", WEBHOOK_STANDARD,
     EVENT_REJECTED | EVENT_INVALID, NULL, NULL, 1000, retry_list, 2, NULL},
    {"chat", "http://127.0.0.1:9/b", WEBHOOK_SLACK, EVENT_ACCEPTED, NULL, NULL,
     1000, retry_list, 2, NULL},
};

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Empty dir of its files, then remove it. */
static void remove_all(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/*
 * Each delivery file in dir: its text is what json_dumps(JSON_INDENT(2))
 * writes of it (the file as it always was: written by hand now), and its
 * id is "msg_" and the first 32 hex digits of OpenSSL's SHA-256 of claim
 * NUL [sha NUL] webhook, as when OpenSSL computed it (ids outlive an
 * upgrade); sha is the result's, except for claim "s.json".
 */
static void check_files(const char *dir, const char *sha)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		unsigned char in[512], md[SHA256_DIGEST_LENGTH];
		char path[512], text[65536], want_id[37], *again;
		const char *claim, *hook;
		size_t len, k = 0;
		json_t *o;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		len = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[len] = '\0';
		o = json_loads(text, 0, NULL);
		assert_non_null(o);
		again = json_dumps(o, JSON_INDENT(2));
		assert_non_null(again);
		assert_int_equal(len, strlen(again) + 1);
		assert_memory_equal(text, again, len - 1);
		assert_int_equal(text[len - 1], '\n');
		claim = json_string_value(json_object_get(o, "claim"));
		hook = json_string_value(json_object_get(o, "webhook"));
		memcpy(in, claim, strlen(claim) + 1);
		k = strlen(claim) + 1;
		if (strcmp(claim, "s.json") != 0) {
			memcpy(in + k, sha, strlen(sha) + 1);
			k += strlen(sha) + 1;
		}
		memcpy(in + k, hook, strlen(hook));
		k += strlen(hook);
		SHA256(in, k, md);
		memcpy(want_id, "msg_", 4);
		for (int i = 0; i < 16; i++)
			snprintf(want_id + 4 + 2 * i, 3, "%02x", md[i]);
		assert_string_equal(json_string_value(json_object_get(o, "id")),
				    want_id);
		free(again);
		json_decref(o);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

static void test_outbox_queue(void **state)
{
	char spool[] = "/tmp/test_webhook.XXXXXX", out[128], dead[128];
	struct config cfg;
	struct diag diag = DIAG_INIT;
	struct outbox *ob;
	json_t *doc = make_doc("r.json", 1, "bad");
	json_t *nosha = make_doc("s.json", 1, "bad");

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.hooks = hooks;
	cfg.nhooks = 2;
	json_object_set_new(nosha, "sha256", json_null());
	assert_non_null(mkdtemp(spool));
	snprintf(out, sizeof(out), "%s/outbox", spool);
	snprintf(dead, sizeof(dead), "%s/dead", spool);

	ob = outbox_open(spool, &cfg, -1, -1, NULL, &diag);
	assert_non_null(ob);
	assert_int_equal(queue(ob, "r.json.1", VERDICT_REJECTED, doc), 1);
	/* Judged again (a crash before archiving): same id, kept. */
	assert_int_equal(queue(ob, "r.json.1", VERDICT_REJECTED, doc), 1);
	assert_int_equal(count_files(out), 1);
	assert_int_equal(queue(ob, "r.json.2", VERDICT_REJECTED, doc), 1);
	assert_int_equal(queue(ob, "a.json", VERDICT_ACCEPTED, doc), 1);
	assert_int_equal(queue(ob, "s.json", VERDICT_INVALID, nosha), 1);
	assert_int_equal(outbox_sync(ob), 0);
	assert_int_equal(outbox_backlog(ob), 4);
	assert_int_equal(count_files(out), 4);
	assert_int_equal(count_files(dead), 0);
	check_files(out, json_string_value(json_object_get(doc, "sha256")));
	outbox_close(ob);

	/* Reopened: everything resumed; re-judging still adds nothing. */
	ob = outbox_open(spool, &cfg, -1, -1, NULL, &diag);
	assert_non_null(ob);
	assert_int_equal(outbox_backlog(ob), 4);
	assert_int_equal(queue(ob, "r.json.1", VERDICT_REJECTED, doc), 1);
	assert_int_equal(queue(ob, "s.json", VERDICT_INVALID, nosha), 1);
	assert_int_equal(outbox_backlog(ob), 4);
	assert_int_equal(count_files(out), 4);
	outbox_close(ob);

	remove_all(out);
	remove_all(dead);
	rmdir(spool);
	json_decref(doc);
	json_decref(nosha);
}

int main(void)
{
	if (hash_init() == -1) /* common/hash.h: a random key */
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_reference_vector),
	    cmocka_unit_test(test_sign_bad_secret),
	    cmocka_unit_test(test_sign_long_keys),
	    cmocka_unit_test(test_standard_body),
	    cmocka_unit_test(test_standard_trimmed),
	    cmocka_unit_test(test_slack_body),
	    cmocka_unit_test(test_slack_escapes_mentions),
	    cmocka_unit_test(test_slack_escapes_markdown),
	    cmocka_unit_test(test_slack_trimmed),
	    cmocka_unit_test(test_teams_body),
	    cmocka_unit_test(test_teams_escapes),
	    cmocka_unit_test(test_teams_leading_spaces),
	    cmocka_unit_test(test_chat_control_characters),
	    cmocka_unit_test(test_left_out_by_document),
	    cmocka_unit_test(test_left_out_by_document_and_budget),
	    cmocka_unit_test(test_budgets),
	    cmocka_unit_test(test_long_id),
	    cmocka_unit_test(test_ping),
	    cmocka_unit_test(test_outbox_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
