/*
 * runs.h - evaluating a run of consecutive rules inside the elements of one
 * wildcard prefix element by element, walking the document once for the
 * run instead of once per rule (internal to rules/; see runs.c).
 */
#ifndef EXPENSED_RUNS_H
#define EXPENSED_RUNS_H

#include <stddef.h>

#include <jansson.h>

#include "walk.h"

/*
 * If a run starts at rules[0] (an enabled rule with `each`; n rules follow
 * from it), evaluate it on root and return the number of rules it took.
 * 0: there is no run here, evaluate rules[0] on its own. The findings of
 * each rule go to ev->findings in rule order, as rule by rule.
 */
size_t eval_run_at(struct eval *ev, json_t *root, const struct rule *rules,
		   size_t n);

#endif
