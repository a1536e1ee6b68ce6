/*
 * webhook.h - what goes over the wire to a webhook (docs/webhooks.md): the
 * payload of each format (webhook_body.c), Standard Webhooks signing, the setup
 * of one curl easy handle per attempt, and the parsing of an answer's
 * Retry-After (webhook.c).
 *
 * Nothing here touches the spool or the event loop: outbox.c does the
 * queueing, deliver.c the scheduling, sendtest.c the one-shot `send-test`.
 */
#ifndef EXPENSED_WEBHOOK_H
#define EXPENSED_WEBHOOK_H

#include <stddef.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "../rules/engine.h"
#include "config.h"

/* Budgets (docs/webhooks.md): the most a body of each format may take,
 * whatever the report holds. */
#define WEBHOOK_MAX_PAYLOAD (64 * 1024)	   /* standard: bytes of the body */
#define WEBHOOK_TEAMS_MAX_BODY (24 * 1024) /* teams: bytes of the body */
#define WEBHOOK_SLACK_MAX_TEXT 4000	   /* slack: code points of text */
#define WEBHOOK_SLACK_MAX_BODY 12000	   /* slack: bytes of the body */
#define WEBHOOK_CHAT_MAX_STRING                                                \
	200				 /* chat: code points of a report      \
					  * string (id, file, message) */
#define WEBHOOK_STANDARD_MAX_STRING 1000 /* standard, when trimmed */

/* Deliveries posted at once to one endpoint. */
#define WEBHOOK_MAX_INFLIGHT 4

/* ---- payloads (webhook_body.c) ---- */

/* "report.accepted", "report.rejected", "report.invalid". */
const char *webhook_event_type(enum verdict v);

/* The EVENT_* bit of a verdict. */
unsigned webhook_event_bit(enum verdict v);

/*
 * The body to post for one judged file: type is webhook_event_type(), j its
 * judgement, doc its result document (docs/result.md; what the standard format
 * posts), now the event's time.
 *   standard: {"type":..., "timestamp":"...Z", "data": doc}
 *   slack:    {"text": "..."} with verdict, file, report id, counts and one
 *             line "• rule path: message" per error finding of j
 *   teams:    a Workflows message with one Adaptive Card of the same content
 * Every body keeps its format's budget (WEBHOOK_*_MAX_*) for every input.
 * Chat formats cut report strings (file, id, path, message) to
 * WEBHOOK_CHAT_MAX_STRING code points ending in "…", show control
 * characters as spaces, and escape the rest (slack: & < >, and a word
 * joiner after "@" and "]"; teams: every ASCII punctuation character with
 * a backslash, a word joiner after ".", ":" and "@", leading spaces as
 * no-break spaces). A chat message that does not fit lists only the first
 * findings that do, and says so on its second line (slack) or its second
 * TextBlock (teams): "Showing K of N error findings (M left out); full
 * result: ARCHIVED_AS.result.json" (archived_as from doc, when it has one),
 * N being j->errors, so that a message about a result that left error
 * findings out (max_findings) says so too, M = N - K.
 * A standard body that does not fit has every string of data cut to
 * WEBHOOK_STANDARD_MAX_STRING code points, only the first findings that
 * fit, and "findings_left_out": M set in data, M counting the findings
 * doc itself left out too. Returns a malloc'ed,
 * NUL-terminated compact JSON text (length in *len), or NULL.
 */
char *webhook_build_body(enum webhook_format f, const char *type,
			 const struct judgement *j, const json_t *doc,
			 time_t now, size_t *len);

/* The body of a `ping` event (send-test) through webhook name. */
char *webhook_build_ping(enum webhook_format f, const char *name, time_t now,
			 size_t *len);

/* ---- the wire (webhook.c) ---- */

/*
 * The Standard Webhooks signature "v1,<base64>" of id.timestamp.body with
 * the key base64-decoded from secret (after an optional "whsec_" prefix;
 * a key of any length), into out (at least 64 bytes). 0, or -1 with
 * errno EINVAL when the secret is not base64, ENOMEM when memory ran
 * out.
 */
int webhook_sign(const char *secret, const char *id, long long timestamp,
		 const void *body, size_t len, char *out, size_t size);

/* Bytes of an answer's body kept for the dead/ file. */
#define WEBHOOK_ANSWER_KEEP 256

/* One HTTP attempt: an easy handle and what it needs while it runs. */
struct webhook_attempt {
	CURL *easy;
	struct curl_slist *headers;
	char *body; /* owned copy of the bytes posted */
	char errbuf[CURL_ERROR_SIZE];
	char answer[WEBHOOK_ANSWER_KEEP]; /* the answer body's first bytes */
	size_t answer_len;
};

/*
 * Set up a POST of body to the webhook's url: id names the delivery
 * (webhook-id), timestamp is the attempt's (webhook-timestamp and the
 * signature when the webhook has a secret). Only http and https, no
 * redirect followed, TLS verified (ca_file if set), timeout_ms, no signals,
 * the answer's body read and its first WEBHOOK_ANSWER_KEEP bytes kept. 0, or -1
 * (nothing to clean up).
 */
int webhook_attempt_init(struct webhook_attempt *a,
			 const struct webhook_conf *wh, const char *id,
			 long long timestamp, const char *body, size_t len);

/* Free what webhook_attempt_init set up (the easy handle must be out of any
 * multi handle); a cleaned attempt may be cleaned again. */
void webhook_attempt_cleanup(struct webhook_attempt *a);

/*
 * Describe a finished attempt a (set up, not yet cleaned up) in err (for
 * logs and dead/ files): "HTTP 500" or curl's error text, never the URL.
 * *status gets the HTTP status (0 if none). Returns 1 if it succeeded
 * (2xx), else 0.
 */
int webhook_attempt_outcome(struct webhook_attempt *a, CURLcode rc,
			    const char *url, long *status, char *err,
			    size_t size);

/* The Retry-After of a finished attempt's answer (seconds or an HTTP date,
 * read by libcurl) in milliseconds, at most a day; 0 when there is none. */
long long webhook_attempt_retry_after(struct webhook_attempt *a);

#endif
