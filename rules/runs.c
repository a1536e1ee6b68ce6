/*
 * runs.c - on a large report evaluation is bound by the memory it touches,
 * so a run of consecutive rules inside the elements of one wildcard prefix
 * P is evaluated element by element, walking P once for the whole run
 * (runs.h), with exactly the findings of rule-by-rule evaluation.
 */
#include <assert.h>
#include <string.h>

#include "runs.h"
#include "types.h"

#define RUN_MAX 64

/*
 * For the default set P is "/missions/ *". Each rule keeps its own
 * findings, appended in rule order afterwards, and within an element the
 * rules go in rule order. Of these lists, only the findings that will be
 * among the first max_listed once concatenated are stored (report.c
 * add_finding): a finding of rule k may push out the last one stored of a
 * later rule, so that never more than max_listed are held at once.
 *
 * This changes nothing only if no rule of the run can report a node that two
 * elements share. Relative paths stay inside their context, and the
 * subtrees of P's elements are disjoint. An absolute path to one node is
 * allowed when that node is absent or already reported, or, outside P's
 * container (where no rule of the run reports anything), when it is of the
 * kind the rule reads (path_safe). A rule that fits none of the roles below
 * ends the run.
 */
enum role {
	ROLE_NONE,
	ROLE_CONTEXT, /* each = P */
	ROLE_DEEP,    /* each = P/more: walked from each element */
	ROLE_ITEMS,   /* enum on the root whose items are P/more */
	ROLE_ALONE,   /* root rule on plain absolute paths: once, first */
	ROLE_ACROSS,  /* sum, count or unique on the root over P/more */
};

struct member {
	const struct rule *rule;
	enum role role;
	struct path rest; /* ROLE_DEEP, ROLE_ITEMS, ROLE_ACROSS: after P */
	/* ROLE_ACROSS: the state carried from element to element */
	bool active, unknown;
	struct opval eq;
	struct sum_state sum;
	struct count_state count;
	struct unique_state uniq;
	json_t *keyvals[64];
};

struct context_state {
	json_t *root;
	struct member *run;
	size_t nrun;
	struct finding_list *found; /* findings of each rule of the run */
};

/*
 * Can a rule of the run read the node at absolute plain path p as kind k,
 * whenever it does, without anything changing? Outside P's container no
 * rule of the run can report a node, so it is enough that this rule reads
 * it without complaint. P's container and what lies below may be reported
 * by the walk of P or by another rule reading it as another kind, at a point
 * that the run moves: there the node must be absent or reported already.
 */
static bool path_safe(const struct eval *ev, json_t *root, const struct path *p,
		      enum kind k, const struct path *prefix)
{
	bool inside = p->nseg >= prefix->first_wild;
	json_t *node = root;
	size_t index;

	if (path_has_wildcard(p))
		return false;
	for (size_t i = 0; inside && i < prefix->first_wild; i++)
		inside = strcmp(p->seg[i].key, prefix->seg[i].key) == 0;
	for (size_t i = 0; i < p->nseg; i++) {
		if (reported(ev, node, 0, NULL))
			return true;
		if (!json_is_object(node) && !json_is_array(node))
			return false; /* required would report it */
		node = step(node, p->seg[i].key, &index);
		if (node == NULL)
			return true;
	}
	return reported(ev, node, 0, NULL) ||
	       (!inside && read_kind(node, k, NULL) == 0);
}

/* Relative paths of a rule on the root start at the root too. */
static bool operand_safe(const struct eval *ev, json_t *root,
			 const struct rule *r, const struct operand *op,
			 enum kind k, const struct path *prefix)
{
	if (!op->present || op->literal || (!op->path.absolute && r->has_each))
		return true;
	return path_safe(ev, root, &op->path, k, prefix);
}

/* Are the single-node operands of r safe (see above)? */
static bool operands_safe(const struct eval *ev, json_t *root,
			  const struct rule *r, const struct path *prefix)
{
	enum kind eq = r->type == RULE_SUM ? KIND_AMOUNT : KIND_INTEGER;

	return operand_safe(ev, root, r, &r->equals, eq, prefix) &&
	       operand_safe(ev, root, r, &r->from, KIND_DATE, prefix) &&
	       operand_safe(ev, root, r, &r->to, KIND_DATE, prefix) &&
	       operand_safe(ev, root, r, &r->first, KIND_DATE, prefix) &&
	       operand_safe(ev, root, r, &r->second, KIND_DATE, prefix) &&
	       operand_safe(ev, root, r, &r->per, KIND_INTEGER, prefix) &&
	       operand_safe(ev, root, r, &r->days_start, KIND_DATE, prefix) &&
	       operand_safe(ev, root, r, &r->days_end, KIND_DATE, prefix);
}

/* Does p start with the segments of prefix (both absolute)? */
static bool has_prefix(const struct path *p, const struct path *prefix)
{
	if (!p->absolute || p->nseg < prefix->nseg)
		return false;
	for (size_t i = 0; i < prefix->nseg; i++) {
		const char *a = p->seg[i].key, *b = prefix->seg[i].key;
		if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
			return false;
	}
	return true;
}

/* The part of p after prefix, as a relative path borrowing p's segments. */
static void path_rest(const struct path *p, const struct path *prefix,
		      struct path *rest)
{
	rest->text = p->text;
	rest->absolute = false;
	rest->seg = p->seg + prefix->nseg;
	rest->nseg = p->nseg - prefix->nseg;
	rest->first_wild = rest->nseg;
	for (size_t i = 0; i < rest->nseg; i++)
		if (rest->seg[i].key == NULL) {
			rest->first_wild = i;
			break;
		}
}

/* The role of a rule with `each` in a run over prefix. */
static enum role role_of_each(const struct eval *ev, json_t *root,
			      const struct rule *r, const struct path *prefix,
			      struct path *rest)
{
	for (size_t i = 0; i < r->nitems; i++)
		if (r->items[i].absolute)
			return ROLE_NONE;
	for (size_t i = 0; i < r->nfields; i++)
		if (r->fields[i].path.absolute)
			return ROLE_NONE;
	if (!has_prefix(&r->each, prefix) ||
	    !operands_safe(ev, root, r, prefix))
		return ROLE_NONE;
	if (r->each.nseg == prefix->nseg)
		return ROLE_CONTEXT;
	path_rest(&r->each, prefix, rest);
	return ROLE_DEEP;
}

static enum role role_of(const struct eval *ev, json_t *root,
			 const struct rule *r, const struct path *prefix,
			 struct path *rest)
{
	if (!r->enabled)
		return ROLE_ALONE; /* evaluates to nothing */
	if (r->has_each)
		return role_of_each(ev, root, r, prefix, rest);
	if (r->type == RULE_ENUM && has_prefix(&r->items[0], prefix)) {
		path_rest(&r->items[0], prefix, rest);
		return ROLE_ITEMS;
	}
	if (((r->type == RULE_SUM && r->nitems == 1) || r->type == RULE_COUNT ||
	     r->type == RULE_UNIQUE) &&
	    has_prefix(&r->items[0], prefix) &&
	    operands_safe(ev, root, r, prefix)) {
		path_rest(&r->items[0], prefix, rest);
		return ROLE_ACROSS;
	}
	/* the root context: every path is plain and safe */
	if (r->type == RULE_ORDER)
		return operands_safe(ev, root, r, prefix) ? ROLE_ALONE
							  : ROLE_NONE;
	if (r->type == RULE_ENUM)
		return path_safe(ev, root, &r->items[0], KIND_STRING, prefix)
			   ? ROLE_ALONE
			   : ROLE_NONE;
	return ROLE_NONE;
}

/* Visit: evaluate the rule in hand in the context ctx (ud: the run). */
static void run_context(struct eval *ev, json_t *ctx, size_t lo, void *ud)
{
	const struct context_state *cs = ud;

	eval_rule_in(ev, cs->root, ctx, lo);
}

/* One element's part of a sum, count or unique over all of P. */
static void across_element(struct eval *ev, json_t *root, json_t *elem,
			   size_t lo, struct member *m)
{
	struct located loc;

	assert(m->rule->type == RULE_SUM || m->rule->type == RULE_COUNT ||
	       m->rule->type == RULE_UNIQUE);
	visit_fn fn = m->rule->type == RULE_SUM	    ? sum_visit
		      : m->rule->type == RULE_COUNT ? count_visit
						    : unique_visit;
	void *ud = m->rule->type == RULE_SUM	 ? (void *)&m->sum
		   : m->rule->type == RULE_COUNT ? (void *)&m->count
						 : (void *)&m->uniq;

	if (!locate(ev, root, elem, &m->rest, &loc)) {
		m->unknown = true; /* lacks the leaf */
		return;
	}
	struct walk w = WALK_INIT(fn, ud);
	walk(ev, root, elem, lo, &m->rest, &loc, &w);
	m->unknown |= w.bad || w.missing;
}

/* Before the walk: operands of a rule over all of P, met first. */
static void across_begin(struct eval *ev, json_t *root, struct member *m,
			 bool p_present)
{
	const struct rule *r = m->rule;
	json_t *eqn = NULL;

	m->unknown = false;
	m->sum = (struct sum_state)SUM_STATE_INIT;
	m->count = (struct count_state){r, 0, false, false};
	m->uniq = (struct unique_state)UNIQUE_STATE_INIT(r, m->keyvals);
	m->active =
	    p_present && (r->type == RULE_UNIQUE ||
			  operand_find(ev, root, root, &r->equals, &eqn));
	if (m->active && r->type != RULE_UNIQUE)
		m->eq =
		    operand(ev, 0, &r->equals, eqn,
			    r->type == RULE_SUM ? KIND_AMOUNT : KIND_INTEGER);
}

static void across_finish(struct eval *ev, struct member *m, bool walk_bad)
{
	if (m->active && m->rule->type == RULE_SUM)
		sum_finish(ev, 0, &m->eq, &m->sum, m->unknown || walk_bad);
	else if (m->active && m->rule->type == RULE_COUNT)
		count_finish(ev, 0, &m->eq, &m->count, m->unknown || walk_bad);
	unique_release(&m->uniq);
}

/* Evaluate one member of the run on one element of P. */
static void member_element(struct eval *ev, struct context_state *cs,
			   struct member *m, json_t *elem, size_t lo)
{
	struct located loc;

	if (m->role == ROLE_ACROSS) {
		across_element(ev, cs->root, elem, lo, m);
	} else if (m->role == ROLE_CONTEXT) {
		eval_rule_in(ev, cs->root, elem, lo);
	} else if (locate(ev, cs->root, elem, &m->rest, &loc)) {
		struct walk w = WALK_INIT(
		    m->role == ROLE_DEEP ? run_context : enum_visit,
		    m->role == ROLE_DEEP ? (void *)cs : (void *)m->rule);
		walk(ev, cs->root, elem, lo, &m->rest, &loc, &w);
	}
}

/* Visit: evaluate the run on one element of P. */
static void run_element(struct eval *ev, json_t *elem, size_t lo, void *ud)
{
	struct context_state *cs = ud;
	const struct rule *walker = ev->rule;
	struct finding_list *findings = ev->findings;

	for (size_t k = 0; k < cs->nrun; k++) {
		struct member *m = &cs->run[k];
		if (m->role == ROLE_ALONE ||
		    (m->role == ROLE_ACROSS && !m->active))
			continue;
		/* an earlier rule of the run may have reported it: a rule
		 * on its own would have met it so */
		if (reported(ev, elem, lo, NULL)) {
			m->unknown = true;
			continue;
		}
		ev->rule = m->rule;
		ev->findings = &cs->found[k];
		member_element(ev, cs, m, elem, lo);
	}
	ev->rule = walker;
	ev->findings = findings;
}

/* Form the run that starts at rules[0] (which has an each); 0 if none. */
static size_t form_run(const struct eval *ev, json_t *root,
		       const struct rule *rules, size_t n, struct member *run,
		       struct path *prefix)
{
	size_t len = 0, walkers = 0;

	prefix->text = rules[0].each.text;
	prefix->absolute = rules[0].each.absolute;
	prefix->seg = rules[0].each.seg;
	prefix->first_wild = rules[0].each.first_wild;
	prefix->nseg = rules[0].each.first_wild + 1;
	if (!prefix->absolute || prefix->nseg > rules[0].each.nseg)
		return 0;
	for (; len < n && len < RUN_MAX; len++) {
		/* zeroed: eval_run may stop before across_begin reaches it */
		memset(&run[len], 0, sizeof(run[len]));
		run[len].rule = &rules[len];
		run[len].role =
		    role_of(ev, root, &rules[len], prefix, &run[len].rest);
		if (run[len].role == ROLE_NONE)
			break;
		walkers += run[len].role != ROLE_ALONE;
	}
	/* a run must start with a walker, and pays off from two */
	if (len == 0 || run[0].role == ROLE_ALONE || walkers < 2)
		return 0;
	while (run[len - 1].role == ROLE_ALONE && !run[len - 1].rule->enabled)
		len--;
	return len;
}

/* Before the walk of P: the rules that run once, then the operands of the
 * rules across P. Returns whether P is present. */
static bool run_begin(struct eval *ev, struct context_state *cs,
		      const struct path *prefix, struct located *loc)
{
	json_t *root = cs->root;
	struct member *run = cs->run;

	/* rules on plain safe paths first: they cannot report a node */
	for (size_t k = 0; k < cs->nrun && !ev->oom; k++) {
		if (run[k].role != ROLE_ALONE || !run[k].rule->enabled)
			continue;
		ev->rule = run[k].rule;
		ev->findings = &cs->found[k];
		eval_rule_in(ev, root, root, 0);
	}
	bool p_present = locate(ev, root, root, prefix, loc);
	for (size_t k = 0; k < cs->nrun && !ev->oom; k++) {
		if (run[k].role != ROLE_ACROSS)
			continue;
		ev->rule = run[k].rule;
		ev->findings = &cs->found[k];
		across_begin(ev, root, &run[k], p_present);
	}
	return p_present;
}

static void eval_run(struct eval *ev, json_t *root, struct member *run,
		     size_t n, const struct path *prefix)
{
	struct finding_list found[RUN_MAX];
	struct context_state cs = {root, run, n, found};
	struct finding_list *findings = ev->findings;
	struct located loc;

	for (size_t k = 0; k < n; k++)
		found[k] = (struct finding_list)FINDING_LIST_INIT;
	/* add_finding keeps the first findings of found[0] + found[1] + ...
	 * after those of ev->findings (struct eval) */
	ev->run_lists = found;
	ev->run_n = n;
	bool p_present = run_begin(ev, &cs, prefix, &loc);
	/* the first to walk P meets it first, after its own operands */
	ev->findings = &found[0];
	ev->rule = run[0].rule;
	struct walk w = WALK_INIT(run_element, &cs);
	if (!ev->oom && p_present)
		walk(ev, root, root, 0, prefix, &loc, &w);
	for (size_t k = 0; k < n; k++) {
		if (run[k].role != ROLE_ACROSS)
			continue;
		ev->rule = run[k].rule;
		ev->findings = &found[k];
		across_finish(ev, &run[k], w.bad);
	}
	ev->findings = findings;
	ev->run_lists = NULL;
	ev->run_n = 0;
	for (size_t k = 0; k < n; k++) {
		if (finding_list_move(ev->findings, &found[k]) == -1)
			ev->oom = 1;
		finding_list_release(&found[k]);
	}
}

size_t eval_run_at(struct eval *ev, json_t *root, const struct rule *rules,
		   size_t n)
{
	struct member run[RUN_MAX];
	struct path prefix;
	size_t len = form_run(ev, root, rules, n, run, &prefix);

	if (len > 0)
		eval_run(ev, root, run, len, &prefix);
	return len;
}
