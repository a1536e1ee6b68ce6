/*
 * check_doc.h - invariants of a judgement that every fuzz target asserts
 * (docs/result.md): the result document built from it agrees with the verdict
 * and the counts, an invalid verdict has exactly one finding at path "", and
 * the document can be serialised. A broken invariant aborts, which
 * libFuzzer reports.
 */
#ifndef EXPENSED_FUZZ_CHECK_DOC_H
#define EXPENSED_FUZZ_CHECK_DOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../rules/engine.h"

static void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz invariant broken: %s\n", what);
	abort();
}

static void fuzz_check_judgement(const struct judgement *j)
{
	json_t *doc = judgement_to_json(j), *findings, *f;
	int errors = 0, warnings = 0;
	size_t i;
	char *text;

	if (!json_is_object(doc))
		fuzz_fail("doc is not an object");
	if (json_array_size(json_object_get(doc, "findings")) != j->nfindings)
		fuzz_fail("doc findings differ from j->findings");
	if (strcmp(json_string_value(json_object_get(doc, "verdict")) ?: "",
		   verdict_name(j->verdict)) != 0)
		fuzz_fail("doc verdict differs from j->verdict");
	if (json_integer_value(json_object_get(doc, "errors")) != j->errors ||
	    json_integer_value(json_object_get(doc, "warnings")) != j->warnings)
		fuzz_fail("doc counts differ from j->errors/warnings");
	findings = json_object_get(doc, "findings");
	if (!json_is_array(findings))
		fuzz_fail("findings is not an array");
	json_array_foreach(findings, i, f)
	{
		const char *sev =
		    json_string_value(json_object_get(f, "severity"));
		const char *path =
		    json_string_value(json_object_get(f, "path"));

		if (!sev || !path ||
		    !json_is_string(json_object_get(f, "rule")) ||
		    !json_is_string(json_object_get(f, "message")))
			fuzz_fail(
			    "finding lacks rule, severity, path or message");
		if (path[0] != '\0' && path[0] != '/')
			fuzz_fail("finding path is not a JSON pointer");
		if (strcmp(sev, "error") == 0)
			errors++;
		else if (strcmp(sev, "warning") == 0)
			warnings++;
		else if (strcmp(sev, "info") != 0)
			fuzz_fail("finding severity unknown");
	}
	/* with findings left out (past max_findings) the counts hold them
	 * too: the listed ones are then the first max_findings */
	if (j->findings_left_out == 0
		? errors != j->errors || warnings != j->warnings
		: errors > j->errors || warnings > j->warnings ||
		      j->nfindings != j->max_findings)
		fuzz_fail("counts differ from the findings");
	if (j->verdict == VERDICT_INVALID) {
		if (json_array_size(findings) != 1 || errors != 1 ||
		    strcmp(json_string_value(json_object_get(
			       json_array_get(findings, 0), "path")),
			   "") != 0)
			fuzz_fail(
			    "invalid verdict without exactly one finding");
	} else if ((j->verdict == VERDICT_REJECTED) != (errors > 0)) {
		fuzz_fail("verdict disagrees with the error count");
	}
	text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		fuzz_fail("doc cannot be serialised");
	free(text);
	json_decref(doc);
}

#endif
