/*
 * eval.h - applying a compiled rule set to a parsed document (SPEC §2):
 * findings in rule set order, then in the order each rule meets them.
 */
#ifndef EXPENSED_EVAL_H
#define EXPENSED_EVAL_H

#include <stdbool.h>

#include <jansson.h>

#include "ruleset.h"

/*
 * Evaluate every enabled rule of rs on root. Appends finding objects
 * {"rule","severity","path","message"[,"expected","actual"]} to findings
 * and counts them. 0, or -1 when memory runs out.
 */
int eval_ruleset(const struct ruleset *rs, json_t *root, json_t *findings,
		 int *errors, int *warnings);

/*
 * Tests and the fuzz target set this to evaluate strictly rule by rule,
 * without runs (see runs.c), to check that both give the same findings.
 */
extern bool eval_rule_by_rule;

#endif
