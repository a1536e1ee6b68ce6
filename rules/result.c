/*
 * result.c - the typed judgement (engine.h) and its one JSON form, the
 * result document of docs/result.md. The engine and the daemon pass the struct;
 * the document is built here, once, at the edge, so that its key names live
 * in this file alone (and are read back here for a result left over from
 * before a crash).
 */
#include <stdlib.h>
#include <string.h>

#include "../common/jsonmem.h"
#include "../common/timefmt.h"
#include "../common/utf8.h"
#include "engine.h"
#include "eval.h"

#ifndef EXPENSED_VERSION
#define EXPENSED_VERSION "0.0.0"
#endif

/* json_object_set_new that also fails on a NULL value (a builder that ran
 * out of memory). 0 or -1; v is consumed either way. */
static int set(json_t *o, const char *key, json_t *v)
{
	return v == NULL ? -1 : json_object_set_new(o, key, v);
}

json_t *finding_to_json(const struct finding *f)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (set(o, "rule", json_string(f->rule)) == -1 ||
	    set(o, "severity", json_string(severity_name(f->severity))) == -1 ||
	    set(o, "path", json_string(f->path)) == -1 ||
	    set(o, "message", json_string(f->message)) == -1 ||
	    (f->expected != NULL &&
	     set(o, "expected", json_string(f->expected)) == -1) ||
	    (f->actual != NULL &&
	     set(o, "actual", json_string(f->actual)) == -1)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *findings_to_json(const struct judgement *j)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < j->nfindings; i++) {
		json_t *f = finding_to_json(&j->findings[i]);
		if (f == NULL || json_array_append_new(a, f) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *judgement_to_json(const struct judgement *j)
{
	/* longer than ISO8601_SIZE: a year past 9999 is shown, not lost */
	char when[32];
	json_t *doc = json_object();

	if (doc == NULL)
		return NULL;
	iso8601_utc(j->checked_at, when, sizeof(when));
	if (set(doc, "file", json_string(j->file)) == -1 ||
	    set(doc, "sha256",
		j->has_sha256 ? json_string(j->sha256) : json_null()) == -1 ||
	    set(doc, "size",
		j->size >= 0 ? json_integer(j->size) : json_null()) == -1 ||
	    set(doc, "report_id",
		j->report_id ? json_string(j->report_id) : json_null()) == -1 ||
	    set(doc, "verdict", json_string(verdict_name(j->verdict))) == -1 ||
	    set(doc, "errors", json_integer(j->errors)) == -1 ||
	    set(doc, "warnings", json_integer(j->warnings)) == -1 ||
	    set(doc, "findings", findings_to_json(j)) == -1 ||
	    (j->findings_left_out > 0 &&
	     set(doc, "findings_left_out",
		 json_integer((json_int_t)j->findings_left_out)) == -1) ||
	    set(doc, "checked_at", json_string(when)) == -1 ||
	    set(doc, "rules", json_string(j->rules_sha256)) == -1 ||
	    set(doc, "expensed", json_string(EXPENSED_VERSION)) == -1) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

char *judgement_dumps(const struct judgement *j, size_t flags)
{
	json_t *doc = judgement_to_json(j);
	char *s = doc != NULL ? json_dumps_checked(doc, flags) : NULL;

	json_decref(doc);
	return s;
}

/* A copy of the string member key of o; *out NULL when it is not a string.
 * false when memory ran out. */
static bool dup_member(const json_t *o, const char *key, char **out)
{
	const char *s = json_string_value(json_object_get(o, key));

	*out = s != NULL ? strdup(s) : NULL;
	return s == NULL || *out != NULL;
}

static bool severity_parse(const char *s, enum severity *sev)
{
	if (s != NULL && strcmp(s, "error") == 0)
		*sev = SEV_ERROR;
	else if (s != NULL && strcmp(s, "warning") == 0)
		*sev = SEV_WARNING;
	else if (s != NULL && strcmp(s, "info") == 0)
		*sev = SEV_INFO;
	else
		return false;
	return true;
}

/* One finding object of a document onto l; a finding with no known
 * severity is left out. 0 or -1. */
static int finding_from_json(const json_t *o, struct finding_list *l)
{
	struct finding f = {.severity = SEV_ERROR};

	if (!severity_parse(json_string_value(json_object_get(o, "severity")),
			    &f.severity))
		return 0;
	if (!dup_member(o, "rule", &f.rule) ||
	    !dup_member(o, "path", &f.path) ||
	    !dup_member(o, "message", &f.message) ||
	    !dup_member(o, "expected", &f.expected) ||
	    !dup_member(o, "actual", &f.actual))
		goto fail;
	/* rule, path and message are never NULL in a finding */
	if ((f.rule == NULL && (f.rule = strdup("")) == NULL) ||
	    (f.path == NULL && (f.path = strdup("")) == NULL) ||
	    (f.message == NULL && (f.message = strdup("")) == NULL))
		goto fail;
	return finding_list_push(l, &f);
fail:
	finding_release(&f);
	return -1;
}

static enum verdict verdict_parse(const char *v)
{
	if (v != NULL && strcmp(v, "accepted") == 0)
		return VERDICT_ACCEPTED;
	if (v != NULL && strcmp(v, "rejected") == 0)
		return VERDICT_REJECTED;
	return VERDICT_INVALID;
}

int judgement_from_json(const json_t *doc, struct judgement *out)
{
	const char *sha = json_string_value(json_object_get(doc, "sha256"));
	json_t *size = json_object_get(doc, "size");
	json_t *left = json_object_get(doc, "findings_left_out");
	struct finding_list l = FINDING_LIST_INIT;
	size_t i;
	json_t *f;

	memset(out, 0, sizeof(*out));
	out->verdict =
	    verdict_parse(json_string_value(json_object_get(doc, "verdict")));
	out->errors = (int)json_integer_value(json_object_get(doc, "errors"));
	out->warnings =
	    (int)json_integer_value(json_object_get(doc, "warnings"));
	if (sha != NULL && strlen(sha) == 64) {
		memcpy(out->sha256, sha, 65);
		out->has_sha256 = true;
	}
	out->size = json_is_integer(size) ? json_integer_value(size) : -1;
	if (json_integer_value(left) > 0)
		out->findings_left_out = (size_t)json_integer_value(left);
	if (!dup_member(doc, "file", &out->file) ||
	    !dup_member(doc, "report_id", &out->report_id))
		goto fail;
	json_array_foreach(json_object_get(doc, "findings"), i, f)
	{
		if (finding_from_json(f, &l) == -1)
			goto fail;
	}
	out->findings = l.v;
	out->nfindings = l.n;
	out->capfindings = l.cap;
	return 0;
fail:
	finding_list_release(&l);
	judgement_release(out);
	return -1;
}

int judgement_add_finding(struct judgement *j, const char *rule,
			  enum severity severity, const char *path,
			  const char *message)
{
	struct finding_list l = {j->findings, j->nfindings, j->capfindings};
	struct finding f = {.severity = severity};

	if (j->findings_left_out > 0 ||
	    (j->max_findings > 0 && j->nfindings >= j->max_findings)) {
		j->findings_left_out++; /* last in the order: not listed */
	} else {
		f.rule = strdup(rule);
		f.path = utf8_lossy_dup(path);
		f.message = utf8_lossy_dup(message);
		if (f.rule == NULL || f.path == NULL || f.message == NULL) {
			finding_release(&f);
			return -1;
		}
		if (finding_list_push(&l, &f) == -1)
			return -1;
		j->findings = l.v;
		j->nfindings = l.n;
		j->capfindings = l.cap;
	}
	if (severity == SEV_ERROR)
		j->errors++;
	else if (severity == SEV_WARNING)
		j->warnings++;
	if (j->verdict != VERDICT_INVALID)
		j->verdict = j->errors ? VERDICT_REJECTED : VERDICT_ACCEPTED;
	return 0;
}

void judgement_release(struct judgement *j)
{
	struct finding_list l = {j->findings, j->nfindings, j->capfindings};

	finding_list_release(&l);
	free(j->file);
	free(j->report_id);
	memset(j, 0, sizeof(*j));
	j->size = -1;
}
