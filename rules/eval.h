/*
 * eval.h - applying a compiled rule set to a parsed document (SPEC §2):
 * findings in rule set order, then in the order each rule meets them.
 */
#ifndef EXPENSED_EVAL_H
#define EXPENSED_EVAL_H

#include <jansson.h>

#include "ruleset.h"

/*
 * Evaluate every enabled rule of rs on root. Appends finding objects
 * {"rule","severity","path","message"[,"expected","actual"]} to findings
 * and counts them. 0, or -1 when memory runs out.
 */
int eval_ruleset(const struct ruleset *rs, json_t *root, json_t *findings,
		 int *errors, int *warnings);

#endif
