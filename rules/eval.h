/*
 * eval.h - applying a compiled rule set to a parsed document (docs/rules.md):
 * findings in rule set order, then in the order each rule meets them.
 */
#ifndef EXPENSED_EVAL_H
#define EXPENSED_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "../common/i18n.h"
#include "engine.h"
#include "ruleset.h"

/* A growing list of findings (the judgement's, or one rule's in a run). */
struct finding_list {
	struct finding *v;
	size_t n, cap;
};

#define FINDING_LIST_INIT                                                      \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/*
 * Append *f, taking its strings. 0, or -1 when memory runs out (then the
 * strings of *f are freed).
 */
int finding_list_push(struct finding_list *l, struct finding *f);

/* Move every finding of src to the end of dst; src is left empty. 0 or -1
 * (memory: both lists unchanged). */
int finding_list_move(struct finding_list *dst, struct finding_list *src);

/* Free the strings of f. */
void finding_release(struct finding *f);

/* Free the findings of l; l is then empty. */
void finding_list_release(struct finding_list *l);

/* What an evaluation counted: every finding, listed or not. */
struct eval_counts {
	int errors, warnings;
	size_t left_out;  /* made but not listed (past max_listed) */
	bool out_of_time; /* stopped at the deadline: nothing else holds */
};

/*
 * Evaluate every enabled rule of rs on root. Appends to out the first
 * max_listed findings of the order of docs/result.md (rule set order, then
 * the order each rule meets them) and counts them all into *counts. At no
 * time does it store more than max_listed findings (out->n included), so
 * memory stays bounded however many the rules make. 0, or -1 when memory
 * runs out (out may hold some).
 */
int eval_ruleset_bounded(const struct ruleset *rs, json_t *root,
			 size_t max_listed, struct finding_list *out,
			 struct eval_counts *counts);

/*
 * The same with a deadline on the monotonic clock (clock_mono_ns(); 0: none):
 * the evaluation looks at the clock every few thousand steps and stops once
 * it has passed, with counts->out_of_time set (the findings and counts are
 * then partial: the caller says the file could not be judged).
 */
int eval_ruleset_timed(const struct ruleset *rs, json_t *root,
		       size_t max_listed, long long deadline_ns,
		       struct finding_list *out, struct eval_counts *counts);

/* Now on the monotonic clock, in nanoseconds. */
long long clock_mono_ns(void);
/* The same, with messages in language lang (eval_ruleset_bounded: English). */
int eval_ruleset_lang(const struct ruleset *rs, json_t *root, size_t max_listed,
		      enum lang lang, struct finding_list *out,
		      struct eval_counts *counts);

/* Both: a deadline (0: none) and the messages' language. */
int eval_ruleset_full(const struct ruleset *rs, json_t *root, size_t max_listed,
		      long long deadline_ns, enum lang lang,
		      struct finding_list *out, struct eval_counts *counts);

/* The same with no bound: every finding is listed. */
int eval_ruleset(const struct ruleset *rs, json_t *root,
		 struct finding_list *out, int *errors, int *warnings);

/*
 * Tests and the fuzz target set this to evaluate strictly rule by rule,
 * without runs (see runs.c), to check that both give the same findings.
 */
extern bool eval_rule_by_rule;

#endif
