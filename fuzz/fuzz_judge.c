/*
 * fuzz_judge.c - libFuzzer target for the audit engine's front door:
 * arbitrary bytes judged against the built-in rule set. Every input must
 * give a consistent judgement (invalid at worst, check_doc.h) without a
 * crash, leak or UB.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../rules/engine.h"
#include "check_doc.h"

static struct ruleset *builtin;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct judge_opts opts = {0, 1700000000};
	struct judgement j;

	if (!builtin) {
		struct diag d = DIAG_INIT;

		if (ruleset_load_builtin(&builtin, &d) == -1) {
			for (size_t i = 0; i < d.n; i++)
				fprintf(stderr, "%s\n", d.lines[i]);
			abort();
		}
		diag_clear(&d);
	}
	/* -1 means out of memory: not for a 64K input under a 2G limit. */
	if (judge_bytes(builtin, &opts, "fuzz.json", data, size, &j) == -1)
		fuzz_fail("judge_bytes returned -1");
	fuzz_check_judgement(&j);
	judgement_release(&j);
	return 0;
}
