/*
 * webhook.c - the bytes of a webhook delivery: payloads for the standard,
 * slack and teams formats (trimmed to 64 KiB), Standard Webhooks signing,
 * one curl easy handle per attempt, and Retry-After parsing. Kept apart from
 * outbox.c so that formats and signing can be unit-tested without a spool.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

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
	default:
		return "report.invalid";
	}
}

unsigned webhook_event_bit(enum verdict v)
{
	switch (v) {
	case VERDICT_ACCEPTED:
		return EVENT_ACCEPTED;
	case VERDICT_REJECTED:
		return EVENT_REJECTED;
	default:
		return EVENT_INVALID;
	}
}

const char *webhook_format_name(enum webhook_format f)
{
	switch (f) {
	case WEBHOOK_SLACK:
		return "slack";
	case WEBHOOK_TEAMS:
		return "teams";
	default:
		return "standard";
	}
}

static void iso_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "1970-01-01T00:00:00Z");
}

/* A string member of doc, or NULL. */
static const char *doc_str(const json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static long long doc_int(const json_t *doc, const char *key)
{
	return json_integer_value(json_object_get(doc, key));
}

/* The findings that the chat formats show: those of severity error. */
static json_t *error_findings(const json_t *doc)
{
	json_t *out = json_array();
	json_t *arr = json_object_get(doc, "findings");
	size_t i;
	json_t *f;

	if (!out)
		return NULL;
	json_array_foreach(arr, i, f)
	{
		const char *sev = doc_str(f, "severity");

		if (sev && strcmp(sev, "error") == 0)
			json_array_append(out, f);
	}
	return out;
}

/* A growable string for the chat texts. */
struct text {
	char *s;
	size_t len, cap;
	int failed;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->s, cap);
		if (!p) {
			t->failed = 1;
			return;
		}
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* Slack's mrkdwn needs &, < and > escaped, or "<!channel>" in a file name
 * would ping everyone. */
static void text_slack(struct text *t, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			text_str(t, "&amp;");
		else if (*s == '<')
			text_str(t, "&lt;");
		else if (*s == '>')
			text_str(t, "&gt;");
		else
			text_add(t, s, 1);
	}
}

static void text_fmt(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_fmt(struct text *t, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		text_add(t, buf,
			 (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static const char *plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "rule path: message" of one finding (path left out when empty). */
static void finding_line(struct text *t, const json_t *f, int slack)
{
	const char *rule = doc_str(f, "rule");
	const char *path = doc_str(f, "path");
	const char *msg = doc_str(f, "message");
	void (*add)(struct text *, const char *) =
	    slack ? text_slack : text_str;

	add(t, rule ? rule : "?");
	if (path && *path) {
		text_str(t, " ");
		add(t, path);
	}
	text_str(t, ": ");
	add(t, msg ? msg : "");
}

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
		for (i = 0; i < keep; i++)
			json_array_append(some, json_array_get(all, i));
		json_object_set_new(data, "findings", some);
		json_object_set_new(data, "findings_left_out",
				    json_integer((json_int_t)(total - keep)));
	}
	return json_pack("{s:s, s:s, s:o}", "type", type, "timestamp", stamp,
			 "data", data);
}

static json_t *build_slack(const json_t *doc, const json_t *errs, size_t keep)
{
	struct text t = {NULL, 0, 0, 0};
	const char *file = doc_str(doc, "file");
	const char *verdict = doc_str(doc, "verdict");
	const char *report = doc_str(doc, "report_id");
	long long nerr = doc_int(doc, "errors");
	long long nwarn = doc_int(doc, "warnings");
	size_t total = json_array_size(errs);
	json_t *out;
	size_t i;

	text_str(&t, "expensed: ");
	text_slack(&t, file ? file : "?");
	text_str(&t, " was ");
	text_slack(&t, verdict ? verdict : "?");
	text_str(&t, "\nReport: ");
	text_slack(&t, report ? report : "(none)");
	text_fmt(&t, "\n%lld %s, %lld %s", nerr,
		 plural(nerr, "error", "errors"), nwarn,
		 plural(nwarn, "warning", "warnings"));
	for (i = 0; i < keep && i < total; i++) {
		text_str(&t, "\n\xe2\x80\xa2 ");
		finding_line(&t, json_array_get(errs, i), 1);
	}
	if (keep < total)
		text_fmt(&t, "\n%zu more findings left out", total - keep);
	if (t.failed) {
		free(t.s);
		return NULL;
	}
	out = json_pack("{s:s}", "text", t.s);
	free(t.s);
	return out;
}

static json_t *text_block(const char *text)
{
	return json_pack("{s:s, s:s, s:b}", "type", "TextBlock", "text", text,
			 "wrap", 1);
}

static json_t *fact(const char *title, const char *value)
{
	return json_pack("{s:s, s:s}", "title", title, "value", value);
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

static json_t *build_teams(const json_t *doc, const json_t *errs, size_t keep)
{
	const char *file = doc_str(doc, "file");
	const char *verdict = doc_str(doc, "verdict");
	const char *report = doc_str(doc, "report_id");
	size_t total = json_array_size(errs);
	char title[64], nerr[32], nwarn[32];
	json_t *body = json_array();
	size_t i;

	if (!body)
		return NULL;
	snprintf(title, sizeof(title), "expensed: report %s",
		 verdict ? verdict : "?");
	snprintf(nerr, sizeof(nerr), "%lld", doc_int(doc, "errors"));
	snprintf(nwarn, sizeof(nwarn), "%lld", doc_int(doc, "warnings"));
	json_array_append_new(body,
			      json_pack("{s:s, s:s, s:s, s:s, s:b}", "type",
					"TextBlock", "text", title, "weight",
					"Bolder", "size", "Medium", "wrap", 1));
	json_array_append_new(
	    body, json_pack("{s:s, s:[o, o, o, o, o]}", "type", "FactSet",
			    "facts", fact("Verdict", verdict ? verdict : "?"),
			    fact("File", file ? file : "?"),
			    fact("Report", report ? report : "(none)"),
			    fact("Errors", nerr), fact("Warnings", nwarn)));
	for (i = 0; i < keep && i < total; i++) {
		struct text t = {NULL, 0, 0, 0};

		text_str(&t, "\xe2\x80\xa2 ");
		finding_line(&t, json_array_get(errs, i), 0);
		if (!t.failed)
			json_array_append_new(body, text_block(t.s));
		free(t.s);
	}
	if (keep < total) {
		char note[64];
		json_t *tb;

		snprintf(note, sizeof(note), "%zu more findings left out",
			 total - keep);
		tb = text_block(note);
		json_object_set_new(tb, "isSubtle", json_true());
		json_array_append_new(body, tb);
	}
	return teams_message(body);
}

/* Build with the first keep findings; the dumped text, or NULL. */
static char *build_keep(enum webhook_format f, const char *type,
			const json_t *doc, const json_t *errs,
			const char *stamp, size_t keep, size_t total)
{
	json_t *msg;
	char *s;

	if (f == WEBHOOK_SLACK)
		msg = build_slack(doc, errs, keep);
	else if (f == WEBHOOK_TEAMS)
		msg = build_teams(doc, errs, keep);
	else
		msg = build_standard(type, doc, stamp, keep, total);
	if (!msg)
		return NULL;
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	return s;
}

char *webhook_build_body(enum webhook_format f, const char *type,
			 const json_t *doc, time_t now, size_t *len)
{
	char stamp[32];
	json_t *errs = NULL;
	size_t total, lo, hi;
	char *s, *best = NULL;

	iso_time(now, stamp, sizeof(stamp));
	if (f == WEBHOOK_STANDARD) {
		total = json_array_size(json_object_get(doc, "findings"));
	} else {
		errs = error_findings(doc);
		if (!errs)
			return NULL;
		total = json_array_size(errs);
	}
	s = build_keep(f, type, doc, errs, stamp, total, total);
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
		char *try = build_keep(f, type, doc, errs, stamp, mid, total);

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
	s = best ? best : build_keep(f, type, doc, errs, stamp, 0, total);
out:
	json_decref(errs);
	if (s && len)
		*len = strlen(s);
	return s;
}

char *webhook_build_ping(enum webhook_format f, const char *name, time_t now,
			 size_t *len)
{
	char stamp[32], text[512];
	json_t *msg;
	char *s;

	iso_time(now, stamp, sizeof(stamp));
	snprintf(text, sizeof(text),
		 "expensed: test message through webhook %s (expensed %s)",
		 name, EXPENSED_VERSION);
	if (f == WEBHOOK_SLACK)
		msg = json_pack("{s:s}", "text", text);
	else if (f == WEBHOOK_TEAMS)
		msg = teams_message(json_pack("[o]", text_block(text)));
	else
		msg = json_pack("{s:s, s:s, s:{s:s, s:s}}", "type", "ping",
				"timestamp", stamp, "data", "expensed",
				EXPENSED_VERSION, "webhook", name);
	if (!msg)
		return NULL;
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (s && len)
		*len = strlen(s);
	return s;
}

int webhook_sign(const char *secret, const char *id, long long timestamp,
		 const void *body, size_t len, char *out, size_t size)
{
	unsigned char key[256], mac[EVP_MAX_MD_SIZE];
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	unsigned int maclen = 0;
	char prefix[160];
	size_t slen;
	int klen, plen, ret = -1;
	unsigned char *msg = NULL;

	if (strncmp(secret, "whsec_", 6) == 0)
		secret += 6;
	slen = strlen(secret);
	while (slen > 0 && isspace((unsigned char)secret[slen - 1]))
		slen--;
	if (slen == 0 || slen % 4 != 0 || slen / 4 * 3 > sizeof(key))
		return -1;
	klen = EVP_DecodeBlock(key, (const unsigned char *)secret, (int)slen);
	if (klen < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes: take it off. */
	if (secret[slen - 1] == '=')
		klen--;
	if (secret[slen - 2] == '=')
		klen--;
	plen = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, timestamp);
	if (plen < 0 || (size_t)plen >= sizeof(prefix))
		goto out;
	msg = malloc((size_t)plen + len);
	if (!msg)
		goto out;
	memcpy(msg, prefix, (size_t)plen);
	memcpy(msg + plen, body, len);
	if (!HMAC(EVP_sha256(), key, klen, msg, (size_t)plen + len, mac,
		  &maclen))
		goto out;
	EVP_EncodeBlock(b64, mac, (int)maclen);
	if ((size_t)snprintf(out, size, "v1,%s", b64) >= size)
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(msg);
	return ret;
}

long long webhook_parse_retry_after(const char *value, time_t now)
{
	static const char *const formats[] = {
	    "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
	    "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
	    "%a %b %d %H:%M:%S %Y",	 /* asctime */
	};
	const char *p = value;
	size_t i;

	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		char *end;
		long long secs;

		errno = 0;
		secs = strtoll(p, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end == '\0') {
			/* A day at most: a bigger value is no reason to wait
			 * past the rest of the schedule. */
			if (errno == ERANGE || secs > 86400)
				secs = 86400;
			return secs * 1000;
		}
		return -1;
	}
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm;
		const char *end;
		time_t t;

		memset(&tm, 0, sizeof(tm));
		end = strptime(p, formats[i], &tm);
		if (!end)
			continue;
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0')
			continue;
		t = timegm(&tm);
		if (t == (time_t)-1)
			return -1;
		if (t <= now)
			return 0;
		if (t - now > 86400)
			return 86400LL * 1000;
		return (long long)(t - now) * 1000;
	}
	return -1;
}

static size_t discard(char *ptr, size_t size, size_t n, void *data)
{
	(void)ptr;
	(void)data;
	return size * n;
}

/* Keep the Retry-After of the final answer (a new status line resets it:
 * there may be a 100 Continue first). */
static size_t on_header(char *buf, size_t size, size_t n, void *data)
{
	struct webhook_attempt *a = data;
	size_t len = size * n, vlen;
	const char *v;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		a->retry_after[0] = '\0';
	} else if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
		v = buf + 12;
		vlen = len - 12;
		while (vlen > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
			vlen--;
		if (vlen >= sizeof(a->retry_after))
			vlen = sizeof(a->retry_after) - 1;
		memcpy(a->retry_after, v, vlen);
		a->retry_after[vlen] = '\0';
	}
	return len;
}

static int add_header(struct webhook_attempt *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_header(struct webhook_attempt *a, const char *fmt, ...)
{
	char line[256];
	struct curl_slist *l;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	l = curl_slist_append(a->headers, line);
	if (!l)
		return -1;
	a->headers = l;
	return 0;
}

int webhook_attempt_init(struct webhook_attempt *a,
			 const struct webhook_conf *wh, const char *id,
			 long long timestamp, const char *body, size_t len)
{
	CURL *e;
	int bad = 0;

	a->easy = NULL;
	a->headers = NULL;
	a->errbuf[0] = '\0';
	a->retry_after[0] = '\0';
	a->body = malloc(len + 1);
	if (!a->body)
		goto fail;
	memcpy(a->body, body, len);
	a->body[len] = '\0';
	/* "Expect:" off: no waiting a second for a 100 Continue. */
	if (add_header(a, "Content-Type: application/json") == -1 ||
	    add_header(a, "Expect:") == -1)
		goto fail;
	if (wh->format == WEBHOOK_STANDARD) {
		if (add_header(a, "webhook-id: %s", id) == -1 ||
		    add_header(a, "webhook-timestamp: %lld", timestamp) == -1)
			goto fail;
		if (wh->secret && *wh->secret) {
			char sig[128];

			if (webhook_sign(wh->secret, id, timestamp, body, len,
					 sig, sizeof(sig)) == -1) {
				snprintf(a->errbuf, sizeof(a->errbuf),
					 "the secret is not whsec_ and base64");
				goto fail;
			}
			if (add_header(a, "webhook-signature: %s", sig) == -1)
				goto fail;
		}
	}
	e = curl_easy_init();
	if (!e)
		goto fail;
	a->easy = e;
	bad |= curl_easy_setopt(e, CURLOPT_URL, wh->url) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	       CURLE_OK;
#else
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
				(long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
	       CURLE_OK;
#endif
	bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	if (wh->ca_file)
		bad |= curl_easy_setopt(e, CURLOPT_CAINFO, wh->ca_file) !=
		       CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
				wh->timeout_ms > 0 ? wh->timeout_ms : 15000L) !=
	       CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT,
				"expensed/" EXPENSED_VERSION) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->headers) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				(curl_off_t)len) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, a->body) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK;
	bad |=
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, a) != CURLE_OK;
	if (bad) {
		snprintf(a->errbuf, sizeof(a->errbuf),
			 "cannot set up the request");
		goto fail;
	}
	return 0;
fail:
	if (!a->errbuf[0])
		snprintf(a->errbuf, sizeof(a->errbuf), "out of memory");
	webhook_attempt_cleanup(a);
	return -1;
}

void webhook_attempt_cleanup(struct webhook_attempt *a)
{
	if (a->easy)
		curl_easy_cleanup(a->easy);
	curl_slist_free_all(a->headers);
	free(a->body);
	a->easy = NULL;
	a->headers = NULL;
	a->body = NULL;
}

int webhook_attempt_outcome(struct webhook_attempt *a, CURLcode rc,
			    const char *url, long *status, char *err,
			    size_t size)
{
	long code = 0;

	if (a->easy)
		curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &code);
	*status = code;
	if (rc != CURLE_OK) {
		const char *text =
		    a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc);

		/* curl's own text should name the host at most; should it
		 * ever quote the URL (a Slack token), say less. */
		if (url && *url && strstr(text, url))
			text = curl_easy_strerror(rc);
		snprintf(err, size, "%s", text);
		return 0;
	}
	if (code >= 300 && code < 400)
		snprintf(err, size, "HTTP %ld (redirect not followed)", code);
	else
		snprintf(err, size, "HTTP %ld", code);
	return code >= 200 && code < 300;
}
