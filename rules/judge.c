/*
 * judge.c - from the bytes of one file to its verdict and result document
 * (SPEC §1 "JSON itself" and §3): size, UTF-8, JSON with line and column,
 * top-level kind, then the rule set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "engine.h"
#include "eval.h"
#include "ruleset.h"
#include "../common/utf8.h"
#include "value.h"

#ifndef EXPENSED_VERSION
#define EXPENSED_VERSION "0.0.0"
#endif

#define JSON_MAX_DEPTH 64

const char *verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_ACCEPTED:
		return "accepted";
	case VERDICT_REJECTED:
		return "rejected";
	case VERDICT_INVALID:
		return "invalid";
	}
	return "invalid";
}

/* Line and column (in characters, from 1) of byte offset off. */
static void line_col(const unsigned char *s, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if ((s[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

/* Byte offset of the first bracket nested deeper than JSON_MAX_DEPTH, or
 * (size_t)-1. Strings are skipped; the syntax is Jansson's to check. */
static size_t too_deep(const unsigned char *s, size_t n)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > JSON_MAX_DEPTH)
				return i;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return (size_t)-1;
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static json_t *new_doc(const struct ruleset *rs, const struct judge_opts *opts,
		       const char *name, const void *data, long long size)
{
	char hex[65], when[32];
	struct tm tm;
	time_t now = opts && opts->now ? opts->now : time(NULL);
	json_t *doc = json_object();

	if (doc == NULL)
		return NULL;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(doc, "file", json_string_lossy(name));
	if (data != NULL) {
		sha256_hex(data, (size_t)size, hex);
		json_object_set_new(doc, "sha256", json_string(hex));
	} else {
		json_object_set_new(doc, "sha256", json_null());
	}
	json_object_set_new(doc, "size",
			    size >= 0 ? json_integer(size) : json_null());
	json_object_set_new(doc, "report_id", json_null());
	json_object_set_new(doc, "verdict", json_string("invalid"));
	json_object_set_new(doc, "errors", json_integer(0));
	json_object_set_new(doc, "warnings", json_integer(0));
	json_object_set_new(doc, "findings", json_array());
	json_object_set_new(doc, "checked_at", json_string(when));
	json_object_set_new(doc, "rules", json_string(ruleset_sha256(rs)));
	json_object_set_new(doc, "expensed", json_string(EXPENSED_VERSION));
	if (json_object_size(doc) != 11) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static void set_counts(struct judgement *j)
{
	if (j->verdict != VERDICT_INVALID)
		j->verdict = j->errors ? VERDICT_REJECTED : VERDICT_ACCEPTED;
	json_object_set_new(j->doc, "verdict",
			    json_string(verdict_name(j->verdict)));
	json_object_set_new(j->doc, "errors", json_integer(j->errors));
	json_object_set_new(j->doc, "warnings", json_integer(j->warnings));
}

/* On failure (out of memory) the judgement is released. */
static int make_invalid(struct judgement *j, const char *rule,
			const char *message)
{
	json_t *f =
	    json_pack("{s:s, s:s, s:s, s:o}", "rule", rule, "severity", "error",
		      "path", "", "message", json_string_lossy(message));

	if (f == NULL ||
	    json_array_append_new(json_object_get(j->doc, "findings"), f)) {
		judgement_release(j);
		return -1;
	}
	j->verdict = VERDICT_INVALID;
	j->errors = 1;
	j->warnings = 0;
	set_counts(j);
	return 0;
}

int judge_invalid(const struct ruleset *rs, const struct judge_opts *opts,
		  const char *name, const char *rule, const char *message,
		  const void *data, long long size, struct judgement *out)
{
	memset(out, 0, sizeof(*out));
	out->doc = new_doc(rs, opts, name, data, size);
	if (out->doc == NULL)
		return -1;
	return make_invalid(out, rule, message);
}

int judge_bytes(const struct ruleset *rs, const struct judge_opts *opts,
		const char *name, const void *data, size_t len,
		struct judgement *out)
{
	const unsigned char *s = data;
	size_t max = opts && opts->max_file_size
			 ? opts->max_file_size
			 : EXPENSED_DEFAULT_MAX_FILE_SIZE;
	char msg[512];
	json_error_t err;
	int line, col;

	if (len > max) {
		/* an oversize file is not hashed: it is not judged */
		snprintf(
		    msg, sizeof(msg),
		    "file is %zu bytes, larger than the limit of %zu bytes",
		    len, max);
		return judge_invalid(rs, opts, name, "input.size", msg, NULL,
				     (long long)len, out);
	}
	memset(out, 0, sizeof(*out));
	out->doc = new_doc(rs, opts, name, data, (long long)len);
	if (out->doc == NULL)
		return -1;
	/* a leading byte-order mark is ignored */
	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) {
		s += 3;
		len -= 3;
	}
	size_t ok = utf8_valid_prefix(s, len);
	if (ok < len) {
		line_col(s, ok, &line, &col);
		snprintf(msg, sizeof(msg),
			 "not valid UTF-8: byte 0x%02x at line %d, column %d",
			 s[ok], line, col);
		return make_invalid(out, "input.encoding", msg);
	}
	size_t deep = too_deep(s, len);
	json_t *root =
	    json_loadb((const char *)s, len,
		       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (root == NULL &&
	    (deep == (size_t)-1 || (size_t)err.position <= deep)) {
		/* Jansson names its own flag here; users need not know it.
		 * It says column 0 at the end of an empty line. */
		const char *text = strstr(err.text, "JSON_ALLOW_NUL")
				       ? "\\u0000 is not allowed"
				       : err.text;
		snprintf(msg, sizeof(msg),
			 "invalid JSON at line %d, column %d: %s", err.line,
			 err.column > 0 ? err.column : 1, text);
		return make_invalid(out, "input.json", msg);
	}
	if (deep != (size_t)-1) {
		json_decref(root);
		line_col(s, deep, &line, &col);
		snprintf(msg, sizeof(msg),
			 "invalid JSON at line %d, column %d: nested deeper "
			 "than %d levels",
			 line, col, JSON_MAX_DEPTH);
		return make_invalid(out, "input.json", msg);
	}
	if (!json_is_object(root)) {
		snprintf(msg, sizeof(msg), "the top level is %s, not an object",
			 json_is_array(root)	? "an array"
			 : json_is_string(root) ? "a string"
			 : json_is_number(root) ? "a number"
			 : json_is_null(root)	? "null"
						: "a boolean");
		json_decref(root);
		return make_invalid(out, "input.type", msg);
	}
	json_t *id = json_object_get(root, "id");
	if (json_is_string(id))
		json_object_set(out->doc, "report_id", id);
	out->verdict = VERDICT_ACCEPTED;
	int rc = eval_ruleset(rs, root, json_object_get(out->doc, "findings"),
			      &out->errors, &out->warnings);
	json_decref(root);
	if (rc == -1) {
		judgement_release(out);
		return -1;
	}
	set_counts(out);
	return 0;
}

int judgement_add_finding(struct judgement *j, const char *rule,
			  const char *severity, const char *path,
			  const char *message)
{
	json_t *f = json_pack("{s:s, s:s, s:o, s:o}", "rule", rule, "severity",
			      severity, "path", json_string_lossy(path),
			      "message", json_string_lossy(message));

	if (f == NULL ||
	    json_array_append_new(json_object_get(j->doc, "findings"), f))
		return -1;
	if (strcmp(severity, "error") == 0)
		j->errors++;
	else if (strcmp(severity, "warning") == 0)
		j->warnings++;
	set_counts(j);
	return 0;
}

const char *judgement_report_id(const struct judgement *j)
{
	return json_string_value(json_object_get(j->doc, "report_id"));
}

void judgement_release(struct judgement *j)
{
	json_decref(j->doc);
	j->doc = NULL;
}
