/*
 * eval.c - the entry point of the evaluator (eval.h): each rule in rule set
 * order, on the root or on every context its `each` walks to, or a run of
 * rules at once where runs.c can take them.
 *
 * The heart is docs/rules.md "Applicability": an absent operand makes a rule
 * say nothing; an ill-kinded node is reported once, by the first rule that
 * meets it, and is remembered (walk.h) so that later rules step around it
 * (aggregates skip the context, item-by-item rules skip the item). Within a
 * rule, single-node operands are met first, then the items they bound.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "eval.h"
#include "runs.h"
#include "types.h"
#include "value.h"
#include "walk.h"

bool eval_rule_by_rule;

/* Visit: evaluate the rule in hand in one context of its `each` (ud: the
 * root). */
static void each_context(struct eval *ev, json_t *ctx, size_t lo, void *ud)
{
	eval_rule_in(ev, ud, ctx, lo);
}

/* Evaluate ev->rule on its own. */
static void eval_rule(struct eval *ev, json_t *root)
{
	const struct rule *r = ev->rule;
	struct located loc;

	if (!r->has_each) {
		eval_rule_in(ev, root, root, 0);
		return;
	}
	if (!locate(ev, root, root, &r->each, &loc))
		return;
	struct walk w = WALK_INIT(each_context, root);
	walk(ev, root, root, 0, &r->each, &loc, &w);
}

long long clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool budget_check(struct budget *b)
{
	b->left = BUDGET_STEPS;
	if (!b->spent && clock_mono_ns() >= b->deadline_ns)
		b->spent = true;
	return b->spent;
}

int eval_ruleset_timed(const struct ruleset *rs, json_t *root,
		       size_t max_listed, long long deadline_ns,
		       struct finding_list *out, struct eval_counts *counts)
{
	return eval_ruleset_full(rs, root, max_listed, deadline_ns, LANG_EN,
				 out, counts);
}

int eval_ruleset_lang(const struct ruleset *rs, json_t *root, size_t max_listed,
		      enum lang lang, struct finding_list *out,
		      struct eval_counts *counts)
{
	return eval_ruleset_full(rs, root, max_listed, 0, lang, out, counts);
}

int eval_ruleset_full(const struct ruleset *rs, json_t *root, size_t max_listed,
		      long long deadline_ns, enum lang lang,
		      struct finding_list *out, struct eval_counts *counts)
{
	size_t before = out->n;
	struct budget budget = {deadline_ns, 0, false};
	struct eval ev;

	memset(&ev, 0, sizeof(ev));
	if (deadline_ns != 0)
		ev.budget = &budget;
	ev.findings = out;
	ev.max_listed = max_listed;
	ev.lang = lang;
	ev.currency = report_currency(root);
	ev.listed = out->n;
	ev.no_runs = eval_rule_by_rule;
	for (size_t i = 0; i < rs->n && !ev.oom && !spend(&ev, 1);) {
		const struct rule *r = &rs->rules[i];
		ev.nst = 0;
		if (!r->enabled) {
			i++;
			continue;
		}
		size_t n = r->has_each && !ev.no_runs
			       ? eval_run_at(&ev, root, r, rs->n - i)
			       : 0;
		if (n > 0) {
			i += n;
			continue;
		}
		i++;
		ev.rule = r;
		eval_rule(&ev, root);
	}
	eval_release(&ev);
	assert(ev.oom || ev.listed == out->n);
	counts->out_of_time = budget.spent;
	counts->errors = ev.errors;
	counts->warnings = ev.warnings;
	counts->left_out = ev.made - (ev.listed - before);
	return ev.oom ? -1 : 0;
}

int eval_ruleset_bounded(const struct ruleset *rs, json_t *root,
			 size_t max_listed, struct finding_list *out,
			 struct eval_counts *counts)
{
	return eval_ruleset_timed(rs, root, max_listed, 0, out, counts);
}

int eval_ruleset(const struct ruleset *rs, json_t *root,
		 struct finding_list *out, int *errors, int *warnings)
{
	struct eval_counts c;
	int rc = eval_ruleset_bounded(rs, root, SIZE_MAX, out, &c);

	*errors = c.errors;
	*warnings = c.warnings;
	return rc;
}
