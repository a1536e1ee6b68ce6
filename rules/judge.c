/*
 * judge.c - from the bytes of one file to its verdict and result document
 * (docs/report-format.md "JSON itself" and docs/result.md): size, UTF-8, JSON
 * with line and column, top-level kind, then the rule set.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "eval.h"
#include "jsonerr.h"
#include "ruleset.h"
#include "../common/jsonmem.h"
#include "../common/sha256.h"
#include "../common/utf8.h"

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

/* The judgement of a file before any finding (verdict invalid until the
 * rules have run). 0, or -1 when memory runs out (j released). */
static int judgement_init(struct judgement *j, const struct ruleset *rs,
			  const struct judge_opts *opts, const char *name,
			  const void *data, long long size)
{
	memset(j, 0, sizeof(*j));
	j->verdict = VERDICT_INVALID;
	j->max_findings = opts && opts->max_findings
			      ? opts->max_findings
			      : EXPENSED_DEFAULT_MAX_FINDINGS;
	j->file = utf8_lossy_dup(name);
	if (j->file == NULL)
		return -1;
	if (data != NULL) {
		sha256_hex_of(data, (size_t)size, j->sha256);
		j->has_sha256 = true;
	}
	j->size = size >= 0 ? size : -1;
	j->checked_at = opts && opts->now ? opts->now : time(NULL);
	snprintf(j->rules_sha256, sizeof(j->rules_sha256), "%s",
		 ruleset_sha256(rs));
	return 0;
}

/* The one finding of an invalid file. On failure (out of memory) the
 * judgement is released. */
static int make_invalid(struct judgement *j, const char *rule,
			const char *message)
{
	assert(j->nfindings == 0);
	j->verdict = VERDICT_INVALID;
	if (judgement_add_finding(j, rule, SEV_ERROR, "", message) == -1) {
		judgement_release(j);
		return -1;
	}
	return 0;
}

int judge_invalid(const struct ruleset *rs, const struct judge_opts *opts,
		  const char *name, const char *rule, const char *message,
		  const void *data, long long size, struct judgement *out)
{
	if (judgement_init(out, rs, opts, name, data, size) == -1)
		return -1;
	return make_invalid(out, rule, message);
}

/* The deadline of a judgement started now (clock_mono_ns()), 0: none. */
static long long deadline_of(const struct judge_opts *opts)
{
	unsigned long long ms = opts ? opts->max_time_ms : 0;

	if (ms == 0)
		return 0;
	if (ms > 1000ULL * 1000 * 1000 * 1000)
		ms = 1000ULL * 1000 * 1000 * 1000; /* 31 years: no overflow */
	return clock_mono_ns() + (long long)ms * 1000000;
}

/* The time budget is spent: the file is invalid, input.resources, whatever
 * was found so far (out holds no finding yet), and with no report_id, so
 * that the document does not depend on where the clock ran out. */
static int out_of_time(struct judgement *j, const struct judge_opts *opts)
{
	unsigned long long ms = opts->max_time_ms;
	char msg[128];

	free(j->report_id);
	j->report_id = NULL;
	if (ms % 1000 == 0)
		snprintf(msg, sizeof(msg),
			 i18n_tr(opts->lang, "judging took longer than %llu s"),
			 ms / 1000);
	else
		snprintf(
		    msg, sizeof(msg),
		    i18n_tr(opts->lang, "judging took longer than %llu ms"),
		    ms);
	return make_invalid(j, "input.resources", msg);
}

/* The parsed report would take more than its memory budget: the file is
 * invalid, input.resources (out holds no finding nor report_id yet). */
static int out_of_memory_budget(struct judgement *j,
				const struct judge_opts *opts)
{
	size_t max = opts != NULL ? opts->max_memory : 0;
	enum lang lang = opts != NULL ? opts->lang : LANG_EN;
	char msg[128];

	if (max % (1024 * 1024) == 0)
		snprintf(
		    msg, sizeof(msg),
		    i18n_tr(lang, "judging needs more than %zu MB of memory"),
		    max / (1024 * 1024));
	else if (max % 1024 == 0)
		snprintf(
		    msg, sizeof(msg),
		    i18n_tr(lang, "judging needs more than %zu kB of memory"),
		    max / 1024);
	else
		snprintf(msg, sizeof(msg),
			 i18n_tr(lang,
				 "judging needs more than %zu bytes of memory"),
			 max);
	return make_invalid(j, "input.resources", msg);
}

/* Drop what the rules found in j: it goes back to what judgement_init()
 * gave it. */
static void forget_findings(struct judgement *j)
{
	struct finding_list l = {
	    .v = j->findings, .n = j->nfindings, .cap = j->capfindings};

	finding_list_release(&l);
	free(j->report_id);
	j->report_id = NULL;
	j->findings = NULL;
	j->nfindings = j->capfindings = 0;
	j->errors = j->warnings = 0;
	j->findings_left_out = 0;
	j->verdict = VERDICT_INVALID;
}

/* Judge the parsed object root with the rule set into out. 0, or -1 when
 * memory runs out (out keeps what judgement_init() gave it). */
static int judge_root(const struct ruleset *rs, json_t *root,
		      const struct judge_opts *opts, long long deadline,
		      struct judgement *out)
{
	struct finding_list l = FINDING_LIST_INIT;
	const char *id = json_string_value(json_object_get(root, "id"));
	struct eval_counts c;

	if (id != NULL && (out->report_id = strdup(id)) == NULL)
		goto fail;
	if (eval_ruleset_full(rs, root, out->max_findings, deadline,
			      opts ? opts->lang : LANG_EN, &l, &c) == -1)
		goto fail;
	if (c.out_of_time) {
		finding_list_release(&l);
		return out_of_time(out, opts);
	}
	out->findings = l.v;
	out->nfindings = l.n;
	out->capfindings = l.cap;
	out->errors = c.errors;
	out->warnings = c.warnings;
	out->findings_left_out = c.left_out;
	out->verdict = out->errors ? VERDICT_REJECTED : VERDICT_ACCEPTED;
	return 0;
fail:
	finding_list_release(&l);
	forget_findings(out);
	return -1;
}

/* How judging parses a report. */
#define REPORT_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* Skip a leading byte-order mark of *s (*len bytes). */
static void skip_bom(const unsigned char **s, size_t *len)
{
	if (*len >= 3 && (*s)[0] == 0xEF && (*s)[1] == 0xBB &&
	    (*s)[2] == 0xBF) {
		*s += 3;
		*len -= 3;
	}
}

json_t *judge_parse(const void *data, size_t len)
{
	const unsigned char *s = data != NULL ? data : (const void *)"";
	unsigned long failures = jsonmem_failures();
	json_error_t err;
	json_t *root;

	skip_bom(&s, &len);
	root = json_loadb((const char *)s, len, REPORT_JSON_FLAGS, &err);
	if (jsonmem_failures() != failures) {
		json_decref(root); /* perhaps with bytes dropped */
		return NULL;
	}
	return root;
}

/*
 * The UTF-8 bytes s, len of the file out was made for (judgement_init())
 * parsed and judged into out, within the memory budget the caller
 * started: 0 (also when an allocation was refused for the budget: the
 * caller sees it and drops what was made), or -1 when memory runs out
 * (out then keeps what judgement_init() gave it).
 */
static int judge_json(const struct ruleset *rs, const struct judge_opts *opts,
		      const unsigned char *s, size_t len, long long deadline,
		      struct judgement *out)
{
	enum lang lang = opts ? opts->lang : LANG_EN;
	char msg[512];
	json_error_t err;
	int line, col;
	size_t deep = too_deep(s, len);
	unsigned long failures = jsonmem_failures();
	json_t *root =
	    json_loadb((const char *)s, len, REPORT_JSON_FLAGS, &err);
	if (jsonmem_budget_over()) {
		json_decref(root); /* cut short, if anything */
		return 0;
	}
	if (jsonmem_failures() != failures ||
	    (root == NULL &&
	     (json_error_code(&err) == json_error_out_of_memory ||
	      err.line < 0))) {
		/* out of memory, never a verdict (line -1: Jansson's parser
		 * failed on an allocation without saying so) */
		json_decref(root);
		return -1;
	}
	if (root == NULL &&
	    (deep == (size_t)-1 || (size_t)err.position <= deep)) {
		/* Jansson names its own flag here; users need not know it.
		 * It says column 0 at the end of an empty line. */
		char words[JSON_ERROR_TEXT_LENGTH * 2];
		bool at_nul = err.position > 0 && (size_t)err.position <= len &&
			      s[err.position - 1] == '\0';
		const char *text = strstr(err.text, "JSON_ALLOW_NUL")
				       ? i18n_tr(lang, "\\u0000 is not allowed")
				   : at_nul
				       ? json_error_at_nul(lang, err.text,
							   words, sizeof(words))
				       : json_error_words(lang, err.text, words,
							  sizeof(words));
		snprintf(
		    msg, sizeof(msg),
		    i18n_tr(lang, "invalid JSON at line %d, column %d: %s"),
		    err.line, err.column > 0 ? err.column : 1, text);
		return make_invalid(out, "input.json", msg);
	}
	if (deep != (size_t)-1) {
		json_decref(root);
		line_col(s, deep, &line, &col);
		snprintf(msg, sizeof(msg),
			 i18n_tr(lang, "invalid JSON at line %d, column %d: "
				       "nested deeper than %d levels"),
			 line, col, JSON_MAX_DEPTH);
		return make_invalid(out, "input.json", msg);
	}
	if (!json_is_object(root)) {
		snprintf(msg, sizeof(msg),
			 i18n_tr(lang, json_is_array(root)
					   ? N_("the top level is an array, "
						"not an object")
				       : json_is_string(root)
					   ? N_("the top level is a string, "
						"not an object")
				       : json_is_number(root)
					   ? N_("the top level is a number, "
						"not an object")
				       : json_is_null(root)
					   ? N_("the top level is null, not "
						"an object")
					   : N_("the top level is a boolean, "
						"not an object")));
		json_decref(root);
		return make_invalid(out, "input.type", msg);
	}
	if (deadline != 0 && clock_mono_ns() >= deadline) {
		json_decref(root); /* the parser alone took the budget */
		return out_of_time(out, opts);
	}
	int rc = judge_root(rs, root, opts, deadline, out);
	if (rc == 0 && opts != NULL && opts->keep_root != NULL &&
	    out->verdict != VERDICT_INVALID)
		*opts->keep_root = root; /* the caller's reference now */
	else
		json_decref(root);
	return rc;
}

int judge_bytes(const struct ruleset *rs, const struct judge_opts *opts,
		const char *name, const void *data, size_t len,
		struct judgement *out)
{
	const unsigned char *s = data != NULL ? data : (const void *)"";
	size_t max = opts && opts->max_file_size
			 ? opts->max_file_size
			 : EXPENSED_DEFAULT_MAX_FILE_SIZE;
	long long deadline = deadline_of(opts);
	enum lang lang = opts ? opts->lang : LANG_EN;
	char msg[512];
	int line, col;

	if (opts != NULL && opts->keep_root != NULL)
		*opts->keep_root = NULL;
	if (len > max) {
		/* an oversize file is not hashed: it is not judged */
		snprintf(msg, sizeof(msg),
			 i18n_tr(lang, "file is %zu bytes, larger than the "
				       "limit of %zu bytes"),
			 len, max);
		return judge_invalid(rs, opts, name, "input.size", msg, NULL,
				     (long long)len, out);
	}
	if (judgement_init(out, rs, opts, name, s, (long long)len) == -1)
		return -1;
	/* a leading byte-order mark is ignored */
	skip_bom(&s, &len);
	size_t ok = utf8_valid_prefix(s, len);
	if (ok < len) {
		line_col(s, ok, &line, &col);
		snprintf(msg, sizeof(msg),
			 i18n_tr(lang, "not valid UTF-8: byte 0x%02x at line "
				       "%d, column %d"),
			 s[ok], line, col);
		return make_invalid(out, "input.encoding", msg);
	}
	jsonmem_budget_start(opts ? opts->max_memory : 0);
	int rc = judge_json(rs, opts, s, len, deadline, out);
	if (jsonmem_budget_end()) {
		/* the parse or the rules' tables passed it (an allocation
		 * refused): whatever they made is dropped */
		if (opts != NULL && opts->keep_root != NULL) {
			json_decref(*opts->keep_root);
			*opts->keep_root = NULL;
		}
		forget_findings(out);
		return out_of_memory_budget(out, opts);
	}
	if (rc == -1)
		judgement_release(out);
	return rc;
}
