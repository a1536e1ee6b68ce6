/*
 * fuzz_judge.c - libFuzzer target for the audit engine's front door:
 * arbitrary bytes judged against the built-in rule set. Every input must
 * give a consistent judgement (invalid at worst, check_doc.h) without a
 * crash, leak or UB. Parsed inputs are also evaluated rule by rule and
 * element by element (runs.c), with the default set and with the
 * default set less its schema rules (so that rules inside runs are the
 * first to meet ill-kinded nodes): both ways must give the same findings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "../rules/engine.h"
#include "../rules/eval.h"
#include "check_doc.h"

extern const char expensed_builtin_rules[];

static struct ruleset *builtin, *unguarded;

static struct ruleset *load_unguarded(void)
{
	const char *text = expensed_builtin_rules;
	const char *from = strstr(text, "[schema.report]");
	const char *to = strstr(text, "[format.version]");
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;
	char *set = NULL;

	if (from == NULL || to == NULL ||
	    asprintf(&set, "%.*s%s", (int)(from - text), text, to) < 0 ||
	    ruleset_load_text("unguarded", set, &rs, &d) == -1)
		abort();
	free(set);
	diag_clear(&d);
	return rs;
}

/* The findings of l as a JSON array, as the result document has them. */
static json_t *list_json(const struct finding_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < l->n; i++)
		if (json_array_append_new(a, finding_to_json(&l->v[i])) == -1)
			fuzz_fail("a finding cannot be made JSON");
	if (a == NULL)
		fuzz_fail("out of memory");
	return a;
}

static void compare_runs(const struct ruleset *rs, json_t *root)
{
	struct finding_list la = FINDING_LIST_INIT, lb = FINDING_LIST_INIT;
	json_t *a, *b;
	int ea, wa, eb, wb;

	eval_rule_by_rule = false;
	if (eval_ruleset(rs, root, &la, &ea, &wa) == -1)
		fuzz_fail("eval_ruleset returned -1");
	eval_rule_by_rule = true;
	if (eval_ruleset(rs, root, &lb, &eb, &wb) == -1)
		fuzz_fail("eval_ruleset returned -1");
	eval_rule_by_rule = false;
	a = list_json(&la);
	b = list_json(&lb);
	if (!json_equal(a, b) || ea != eb || wa != wb)
		fuzz_fail("runs and rule-by-rule evaluation differ");
	json_decref(a);
	json_decref(b);
	finding_list_release(&la);
	finding_list_release(&lb);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The hash key, drawn once as expensed's main does (common/hash.h). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (hash_init() == -1)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct judge_opts opts = {.now = 1700000000};
	struct judgement j;

	if (!builtin) {
		struct diag d = DIAG_INIT;

		if (ruleset_load_builtin(&builtin, &d) == -1) {
			for (size_t i = 0; i < d.n; i++)
				fprintf(stderr, "%s\n", d.lines[i]);
			abort();
		}
		diag_clear(&d);
		unguarded = load_unguarded();
	}
	/* -1 means out of memory: not for a 64K input under a 2G limit. */
	if (judge_bytes(builtin, &opts, "fuzz.json", data, size, &j) == -1)
		fuzz_fail("judge_bytes returned -1");
	fuzz_check_judgement(&j);

	/* within a memory budget (1 MiB: a 64K input of empty objects takes
	 * some 5 MB parsed): the same judgement, or input.resources alone */
	struct judge_opts small = opts;
	struct judgement k;

	small.max_memory = 1024 * 1024;
	if (judge_bytes(builtin, &small, "fuzz.json", data, size, &k) == -1)
		fuzz_fail("judge_bytes returned -1 within a budget");
	fuzz_check_judgement(&k);
	if (k.verdict == VERDICT_INVALID && k.nfindings == 1 &&
	    strcmp(k.findings[0].rule, "input.resources") == 0) {
		if (k.report_id != NULL)
			fuzz_fail("over the budget with a report id");
	} else if (k.verdict != j.verdict || k.errors != j.errors ||
		   k.warnings != j.warnings || k.nfindings != j.nfindings) {
		fuzz_fail("a memory budget not reached changed the judgement");
	}
	judgement_release(&k);
	judgement_release(&j);

	json_error_t err;
	json_t *root =
	    json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (json_is_object(root)) {
		compare_runs(builtin, root);
		compare_runs(unguarded, root);
	}
	json_decref(root);
	return 0;
}
