/*
 * fuzz_rules.c - libFuzzer target for the rule set parser and, through it,
 * for the evaluation of arbitrary rule sets: the input is the text of a
 * .rules file; when it loads, a fixed small report is judged with it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "../rules/engine.h"
#include "check_doc.h"

/* A small report with a bit of everything the rule types can meet. */
static const char report[] =
    "{\"format\": \"mission-report/1\", \"id\": \"R1\", "
    "\"authority\": \"A\", \"subject\": \"S\", "
    "\"meeting\": {\"date\": \"2017-10-06\", \"body\": \"CP\"}, "
    "\"period\": {\"start\": \"2017-01-01\", \"end\": \"2017-12-31\"}, "
    "\"currency\": \"EUR\", \"total\": \"1177.87\", \"n\": null, "
    "\"flags\": [true, false, 1.5, -3, \"x\", {}, []], "
    "\"missions\": [{\"id\": \"m1\", \"destination\": \"Genoa\", "
    "\"start\": \"2017-10-19\", \"end\": \"2017-10-20\", "
    "\"delegation\": {\"size\": 4, \"councillors\": 2, \"guests\": 0, "
    "\"staff\": 2, \"members\": [{\"name\": \"a\", \"role\": "
    "\"councillor\"}, {\"name\": \"b\", \"role\": \"staff\"}, "
    "{\"name\": \"a\"}, {\"role\": 7}]}, \"cost\": 1177.87, "
    "\"expenses\": [{\"date\": \"2017-10-19\", \"category\": \"meals\", "
    "\"amount\": \"100.5\"}, {\"date\": \"2017-02-29\", \"amount\": "
    "\"10.005\"}, {\"date\": \"2017-10-19\", \"category\": \"meals\", "
    "\"amount\": 100.50}]}, {\"id\": \"m1\", \"start\": \"x\", "
    "\"delegation\": {\"size\": 0}, \"cost\": \"-5.00\"}], "
    "\"a/b\": {\"c~d\": [1, 2, 3]}}";

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
	struct diag d = DIAG_INIT;
	struct ruleset *rs = NULL;
	struct judgement j;
	char *text;

	/* The loader takes a C string: cut the input at its first NUL. */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ruleset_load_text("fuzz.rules", text, &rs, &d) == 0) {
		const char *sha = ruleset_sha256(rs);

		if (!sha || strlen(sha) != 64)
			fuzz_fail("ruleset_sha256 is not 64 hex digits");
		(void)ruleset_count(rs);
		if (judge_bytes(rs, &opts, "fuzz.json", report,
				sizeof(report) - 1, &j) == -1)
			fuzz_fail("judge_bytes returned -1");
		fuzz_check_judgement(&j);
		judgement_release(&j);
		ruleset_free(rs);
	} else if (d.n == 0) {
		fuzz_fail("ruleset_load_text failed without a diagnostic");
	}
	diag_clear(&d);
	free(text);
	return 0;
}
