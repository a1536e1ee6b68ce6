/*
 * webhook.c - how a webhook delivery goes over the wire: Standard Webhooks
 * signing, one curl easy handle per attempt (headers, TLS and redirect
 * policy), the outcome of an attempt and its Retry-After (libcurl's). Shared by
 * the outbox's driver (deliver.c) and `send-test` (sendtest.c).
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhook.h"

#ifndef EXPENSED_VERSION
#define EXPENSED_VERSION "0"
#endif

int webhook_sign(const char *secret, const char *id, long long timestamp,
		 const void *body, size_t len, char *out, size_t size)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	unsigned int maclen = 0;
	char prefix[160];
	size_t slen, ksize;
	int klen, plen, ret = -1, err = EINVAL;
	unsigned char *key = NULL, *msg = NULL;

	if (strncmp(secret, "whsec_", 6) == 0)
		secret += 6;
	slen = strlen(secret);
	while (slen > 0 && isspace((unsigned char)secret[slen - 1]))
		slen--;
	if (slen == 0 || slen % 4 != 0 || slen > INT_MAX) {
		errno = EINVAL;
		return -1;
	}
	/* As long as the secret is: any key check-config accepts signs. */
	ksize = slen / 4 * 3;
	key = malloc(ksize);
	if (key == NULL) {
		errno = ENOMEM;
		return -1;
	}
	klen = EVP_DecodeBlock(key, (const unsigned char *)secret, (int)slen);
	if (klen < 0)
		goto out;
	/* EVP_DecodeBlock counts the padding as zero bytes: take it off. */
	if (secret[slen - 1] == '=')
		klen--;
	if (secret[slen - 2] == '=')
		klen--;
	plen = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, timestamp);
	if (plen < 0 || (size_t)plen >= sizeof(prefix))
		goto out;
	msg = malloc((size_t)plen + len);
	if (!msg) {
		err = ENOMEM;
		goto out;
	}
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
	OPENSSL_clear_free(key, ksize);
	free(msg);
	if (ret == -1)
		errno = err;
	return ret;
}

/* Keep the first bytes of the answer's body (for dead/), read the rest. */
static size_t keep_answer(char *ptr, size_t size, size_t n, void *data)
{
	struct webhook_attempt *a = data;
	size_t len = size * n, room = sizeof(a->answer) - a->answer_len;

	memcpy(a->answer + a->answer_len, ptr, len < room ? len : room);
	a->answer_len += len < room ? len : room;
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

/* The request headers of an attempt, signed when the webhook has a
 * secret. 0, or -1 (errbuf says why if not for memory). */
static int set_headers(struct webhook_attempt *a, const struct webhook_conf *wh,
		       const char *id, long long timestamp, const char *body,
		       size_t len)
{
	char sig[128];

	/* "Expect:" off: no waiting a second for a 100 Continue. */
	if (add_header(a, "Content-Type: application/json") == -1 ||
	    add_header(a, "Expect:") == -1)
		return -1;
	if (wh->format != WEBHOOK_STANDARD)
		return 0;
	if (add_header(a, "webhook-id: %s", id) == -1 ||
	    add_header(a, "webhook-timestamp: %lld", timestamp) == -1)
		return -1;
	if (!wh->secret || !*wh->secret)
		return 0;
	if (webhook_sign(wh->secret, id, timestamp, body, len, sig,
			 sizeof(sig)) == -1) {
		snprintf(a->errbuf, sizeof(a->errbuf), "%s",
			 errno == ENOMEM
			     ? "out of memory signing the body"
			     : "the secret is not whsec_ and base64");
		return -1;
	}
	return add_header(a, "webhook-signature: %s", sig);
}

/* The options of the easy handle e: whether any could not be set. */
static int set_options(struct webhook_attempt *a, CURL *e,
		       const struct webhook_conf *wh, size_t len)
{
	int bad = 0;

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
	bad |=
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_answer) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, a) != CURLE_OK;
	return bad;
}

int webhook_attempt_init(struct webhook_attempt *a,
			 const struct webhook_conf *wh, const char *id,
			 long long timestamp, const char *body, size_t len)
{
	a->easy = NULL;
	a->headers = NULL;
	a->errbuf[0] = '\0';
	a->answer_len = 0;
	a->body = malloc(len + 1);
	if (!a->body)
		goto fail;
	memcpy(a->body, body, len);
	a->body[len] = '\0';
	if (set_headers(a, wh, id, timestamp, body, len) == -1)
		goto fail;
	a->easy = curl_easy_init();
	if (!a->easy)
		goto fail;
	if (set_options(a, a->easy, wh, len)) {
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

	assert(a->easy != NULL); /* a set-up attempt, not yet cleaned up */
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

long long webhook_attempt_retry_after(struct webhook_attempt *a)
{
	curl_off_t secs = 0;

	assert(a->easy != NULL);
	/* libcurl reads both forms; before 8.12 a past date is negative */
	if (curl_easy_getinfo(a->easy, CURLINFO_RETRY_AFTER, &secs) !=
		CURLE_OK ||
	    secs <= 0)
		return 0;
	if (secs > 86400) /* no reason to wait past the rest of the
			     schedule */
		secs = 86400;
	return (long long)secs * 1000;
}
