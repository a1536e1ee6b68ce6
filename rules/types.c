/*
 * types.c - the rule types of docs/rules.md that judge item by item (within,
 * order, limit, required, enum), and the dispatch to all eight (types.h;
 * sum, count and unique are in aggregate.c). Each reads its operands
 * first, then walks its items, and says nothing when an operand is absent.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/strbuf.h"
#include "types.h"
#include "value.h"

/* ---- within ---- */

struct within_state {
	const struct rule *r;
	bool bounds_ok;
	struct opval from, to;
	const char *item_name;
};

static void within_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
{
	struct within_state *s = ud;
	const struct rule *r = s->r;
	int64_t d;

	if (check_kind(ev, node, KIND_DATE, &d, lo, NULL) == -1 ||
	    !s->bounds_ok)
		return;
	bool before = d < s->from.v - r->slack;
	bool after = d > s->to.v + r->slack;
	if (!before && !after)
		return;
	char dt[16], f[16], t[16], range[40];
	date_format(d, dt, sizeof(dt));
	date_format(s->from.v, f, sizeof(f));
	date_format(s->to.v, t, sizeof(t));
	snprintf(range, sizeof(range), "%s..%s", f, t);
	char *ptr = pointer(ev, lo, NULL);
	const struct operand *op = before ? &r->from : &r->to;
	char md[32], mb[32];
	msg_date(ev, d, md, sizeof(md));
	msg_date(ev, before ? s->from.v : s->to.v, mb, sizeof(mb));
	const char *name = operand_text(ev, op);
	unsigned long n = (unsigned long)r->slack;
	if (r->slack == 0 && before)
		add_finding(ev, ptr, range, dt, TR(ev, "%s %s is before %s %s"),
			    s->item_name, md, name, mb);
	else if (r->slack == 0)
		add_finding(ev, ptr, range, dt, TR(ev, "%s %s is after %s %s"),
			    s->item_name, md, name, mb);
	else if (before)
		add_finding(ev, ptr, range, dt,
			    NTR(ev,
				"%s %s is before %s %s (allowing %lld day of "
				"slack)",
				"%s %s is before %s %s (allowing %lld days of "
				"slack)",
				n),
			    s->item_name, md, name, mb, (long long)r->slack);
	else
		add_finding(ev, ptr, range, dt,
			    NTR(ev,
				"%s %s is after %s %s (allowing %lld day of "
				"slack)",
				"%s %s is after %s %s (allowing %lld days of "
				"slack)",
				n),
			    s->item_name, md, name, mb, (long long)r->slack);
	free(ptr);
}

static void eval_within(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct within_state s = {r, false, OPVAL_INIT, OPVAL_INIT, NULL};
	json_t *from, *to;

	if (!operand_find(ev, root, ctx, &r->from, &from) ||
	    !operand_find(ev, root, ctx, &r->to, &to))
		return;
	s.from = operand(ev, lo, &r->from, from, KIND_DATE);
	s.to = operand(ev, lo, &r->to, to, KIND_DATE);
	s.bounds_ok = s.from.state == OP_OK && s.to.state == OP_OK;
	for (size_t i = 0; i < r->nitems; i++) {
		struct located loc;
		if (!locate(ev, root, ctx, &r->items[i], &loc))
			continue;
		s.item_name = last_key(&r->items[i]);
		struct walk w = WALK_INIT(within_visit, &s);
		walk(ev, root, ctx, lo, &r->items[i], &loc, &w);
	}
}

/* ---- order ---- */

/*
 * The sentence of a built-in order rule in languages other than English,
 * when the catalog has one (its context is the rule's id): two dates, the
 * second operand's then the first's. NULL: the generic sentence.
 */
static const char *order_sentence(const struct eval *ev)
{
	const char *id = ev->rule->id;

	if (ev->lang == LANG_EN)
		return NULL;
	if (strcmp(id, "ratification.retroactive") == 0)
		return CTR(ev, "ratification.retroactive",
			   "the mission began on %s, before the meeting of %s "
			   "that authorised it");
	if (strcmp(id, "dates.order") == 0)
		return CTR(ev, "dates.order",
			   "the mission ends on %s, before it begins on %s");
	if (strcmp(id, "dates.period") == 0)
		return CTR(ev, "dates.period",
			   "the period ends on %s, before it begins on %s");
	return NULL;
}

static void eval_order(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	json_t *first, *second;

	if (!operand_find(ev, root, ctx, &r->first, &first) ||
	    !operand_find(ev, root, ctx, &r->second, &second))
		return;
	struct opval a = operand(ev, lo, &r->first, first, KIND_DATE);
	struct opval b = operand(ev, lo, &r->second, second, KIND_DATE);
	if (a.state != OP_OK || b.state != OP_OK || a.v <= b.v)
		return;
	char da[16], db[16], exp[40], ma[32], mb[32];
	date_format(a.v, da, sizeof(da));
	date_format(b.v, db, sizeof(db));
	snprintf(exp, sizeof(exp), "on or after %s", da);
	msg_date(ev, a.v, ma, sizeof(ma));
	msg_date(ev, b.v, mb, sizeof(mb));
	const struct operand *at = r->second.literal ? &r->first : &r->second;
	char *ptr = operand_pointer(ev, lo, at);
	const char *own = order_sentence(ev);
	if (own != NULL)
		add_finding(ev, ptr, exp, db, own, mb, ma);
	else
		add_finding(ev, ptr, exp, db, TR(ev, "%s %s is before %s %s"),
			    operand_text(ev, &r->second), mb,
			    operand_text(ev, &r->first), ma);
	free(ptr);
}

/* ---- limit ---- */

struct limit_state {
	const struct rule *r;
	int64_t per, days;
	bool divisor_ok;
};

/*
 * cents / div (div > 0) rounded to the cent away from the bound it breaks:
 * up above a maximum, down below a minimum, so that the quotient shown is
 * never the bound itself (600.00125 above 600.00 shows as 600.01).
 */
static int64_t div_away(__int128 v, __int128 div, bool low)
{
	__int128 q = v / div, r = v % div; /* q truncated toward zero */

	if (r != 0 && !low && v > 0)
		q++;
	else if (r != 0 && low && v < 0)
		q--;
	return (int64_t)q;
}

/*
 * The sentence of a built-in limit rule in languages other than English,
 * when the catalog has one (context: the rule's id), made into a finding:
 * true when it was.
 */
static bool limit_own(struct eval *ev, const char *ptr, const char *exp,
		      const char *act, const char *val, const char *q,
		      const char *bound, const struct limit_state *s, bool low)
{
	const char *id = ev->rule->id;
	const char *f;

	if (ev->lang == LANG_EN || low) /* the sentences name a ceiling */
		return false;
	if (strcmp(id, "cost.per_participant") == 0 && s->r->per.present &&
	    !s->r->days_start.present) {
		f = NCTR(ev, "cost.per_participant",
			 "cost per participant: %s for %lld person is %s, "
			 "above the ceiling of %s",
			 "cost per participant: %s for %lld people is %s, "
			 "above the ceiling of %s",
			 (unsigned long)s->per);
		if (f != NULL)
			add_finding(ev, ptr, exp, act, f, val,
				    (long long)s->per, q, bound);
		return f != NULL;
	}
	/* per x days only when small enough to be a head count */
	if (strcmp(id, "cost.per_participant_day") == 0 && s->r->per.present &&
	    s->r->days_start.present && s->per <= 1000000000LL) {
		f = NCTR(ev, "cost.per_participant_day",
			 "cost per participant and day: %s for %lld "
			 "participant-days is %s, above the ceiling of %s",
			 "cost per participant and day: %s for %lld "
			 "participant-days is %s, above the ceiling of %s",
			 (unsigned long)(s->per * s->days));
		if (f != NULL)
			add_finding(ev, ptr, exp, act, f, val,
				    (long long)(s->per * s->days), q, bound);
		return f != NULL;
	}
	return false;
}

/*
 * The finding of value v of a limit: "cost 600.01 / 2 (people) / 3 days =
 * 100.01, above the maximum 100.00" and its seven other shapes (with or
 * without per and days, below or above), each a sentence of its own.
 */
static void limit_finding(struct eval *ev, const struct limit_state *s,
			  const char *ptr, bool low, int64_t v, int64_t q)
{
	const struct rule *r = s->r;
	char val[48], mq[48], bound[48], exp[64], aq[40];
	const char *item = last_key(&r->items[0]);
	const char *per = operand_text(ev, &r->per);
	unsigned long nd = (unsigned long)s->days;
	long long d = (long long)s->days, p = (long long)s->per;

	amount_format(q, aq, sizeof(aq));
	amount_format(low ? r->min : r->max, bound, sizeof(bound));
	snprintf(exp, sizeof(exp), "%s %s", low ? ">=" : "<=", bound);
	msg_amount(ev, v, val, sizeof(val));
	msg_amount(ev, q, mq, sizeof(mq));
	msg_amount(ev, low ? r->min : r->max, bound, sizeof(bound));
	if (limit_own(ev, ptr, exp, aq, val, mq, bound, s, low))
		return;
	if (r->per.present && r->days_start.present && low)
		add_finding(ev, ptr, exp, aq,
			    NTR(ev,
				"%s %s / %lld (%s) / %lld day = %s, below the "
				"minimum %s",
				"%s %s / %lld (%s) / %lld days = %s, below the "
				"minimum %s",
				nd),
			    item, val, p, per, d, mq, bound);
	else if (r->per.present && r->days_start.present)
		add_finding(ev, ptr, exp, aq,
			    NTR(ev,
				"%s %s / %lld (%s) / %lld day = %s, above the "
				"maximum %s",
				"%s %s / %lld (%s) / %lld days = %s, above the "
				"maximum %s",
				nd),
			    item, val, p, per, d, mq, bound);
	else if (r->per.present && low)
		add_finding(ev, ptr, exp, aq,
			    TR(ev, "%s %s / %lld (%s) = %s, below the minimum "
				   "%s"),
			    item, val, p, per, mq, bound);
	else if (r->per.present)
		add_finding(ev, ptr, exp, aq,
			    TR(ev, "%s %s / %lld (%s) = %s, above the maximum "
				   "%s"),
			    item, val, p, per, mq, bound);
	else if (r->days_start.present && low)
		add_finding(
		    ev, ptr, exp, aq,
		    NTR(ev, "%s %s / %lld day = %s, below the minimum %s",
			"%s %s / %lld days = %s, below the minimum %s", nd),
		    item, val, d, mq, bound);
	else if (r->days_start.present)
		add_finding(
		    ev, ptr, exp, aq,
		    NTR(ev, "%s %s / %lld day = %s, above the maximum %s",
			"%s %s / %lld days = %s, above the maximum %s", nd),
		    item, val, d, mq, bound);
	else if (low)
		add_finding(ev, ptr, exp, aq,
			    TR(ev, "%s %s is below the minimum %s"), item, val,
			    bound);
	else
		add_finding(ev, ptr, exp, aq,
			    TR(ev, "%s %s is above the maximum %s"), item, val,
			    bound);
}

static void limit_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
{
	struct limit_state *s = ud;
	const struct rule *r = s->r;
	int64_t v;

	if (check_kind(ev, node, KIND_AMOUNT, &v, lo, NULL) == -1 ||
	    !s->divisor_ok)
		return;
	/* per and days are at most 2^63 and 3.7e6: no overflow here; past
	 * 10^15 the divisor cannot change a comparison with |value| <=
	 * 10^14 cents, and capping it keeps bound x divisor in range */
	__int128 div = (__int128)s->per * s->days;
	if (div > (__int128)1000000000000000LL)
		div = 1000000000000000LL;
	bool low = r->has_min && (__int128)v < (__int128)r->min * div;
	bool high = r->has_max && (__int128)v > (__int128)r->max * div;
	if (!low && !high)
		return;
	char *ptr = pointer(ev, lo, NULL);
	if (ptr == NULL)
		ev->oom = 1;
	else
		limit_finding(ev, s, ptr, low, v, div_away(v, div, low));
	free(ptr);
}

/*
 * Read the divisors of a limit into s: false when the rule says nothing
 * (a divisor is not positive); s->divisor_ok false when one is ill-kinded.
 */
static bool limit_divisors(struct eval *ev, size_t lo, json_t *pern,
			   json_t *startn, json_t *endn, struct limit_state *s)
{
	const struct rule *r = ev->rule;

	if (r->per.present) {
		struct opval per = operand(ev, lo, &r->per, pern, KIND_INTEGER);
		if (per.state != OP_OK)
			s->divisor_ok = false;
		else if (per.v <= 0)
			return false;
		s->per = per.v;
	}
	if (r->days_start.present) {
		struct opval a =
		    operand(ev, lo, &r->days_start, startn, KIND_DATE);
		struct opval b = operand(ev, lo, &r->days_end, endn, KIND_DATE);
		if (a.state != OP_OK || b.state != OP_OK)
			s->divisor_ok = false;
		else if (b.v - a.v + 1 <= 0)
			return false;
		s->days = b.v - a.v + 1;
	}
	return true;
}

static void eval_limit(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct limit_state s = {r, 1, 1, true};
	struct located loc;
	json_t *pern, *startn, *endn;

	if (!locate(ev, root, ctx, &r->items[0], &loc) ||
	    !operand_find(ev, root, ctx, &r->per, &pern) ||
	    !operand_find(ev, root, ctx, &r->days_start, &startn) ||
	    !operand_find(ev, root, ctx, &r->days_end, &endn))
		return;
	if (!limit_divisors(ev, lo, pern, startn, endn, &s))
		return;
	struct walk w = WALK_INIT(limit_visit, &s);
	walk(ev, root, ctx, lo, &r->items[0], &loc, &w);
}

/* ---- required ---- */

/* Report field f missing from segment i on; the node's pointer is stack
 * [plo, nst). */
static void required_missing(struct eval *ev, size_t plo, const struct field *f,
			     size_t i)
{
	char *ptr = pointer_tail(ev, plo, &f->path, i);

	add_finding_as(ev, VALUES_MISSING, ptr, kind_name(f->kind), "missing",
		       TR(ev, "missing required field %s (%s)"), f->path.text,
		       TR(ev, kind_text(f->kind)));
	free(ptr);
}

/* Step along the plain path of field f and check what it leads to. */
static void required_field(struct eval *ev, json_t *root, json_t *ctx,
			   size_t lo, const struct field *f)
{
	const struct path *p = &f->path;
	json_t *node = origin(root, ctx, p);
	size_t plo = p->absolute ? ev->nst : lo;

	if (!reserve(ev, p->nseg))
		return;
	for (size_t i = 0; i < p->nseg; i++) {
		size_t index = 0;
		if (reported(ev, node, plo, NULL))
			return;
		if (!json_is_object(node) && !json_is_array(node)) {
			char *ptr = pointer(ev, plo, NULL);
			report_ill(ev, node, ptr, N_("an object"));
			free(ptr);
			return;
		}
		json_t *child = step(node, p->seg[i].key, &index);
		if (child == NULL) {
			required_missing(ev, plo, f, i);
			return;
		}
		push_key(ev, json_is_array(node) ? NULL : p->seg[i].key, index);
		node = child;
	}
	check_kind(ev, node, f->kind, NULL, plo, NULL);
}

static void eval_required(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;

	for (size_t f = 0; f < r->nfields; f++) {
		size_t base = ev->nst;
		required_field(ev, root, ctx, lo, &r->fields[f]);
		ev->nst = base;
	}
}

/* ---- enum ---- */

void enum_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
{
	const struct rule *r = ud;

	if (reported(ev, node, lo, NULL))
		return;
	if (!json_is_string(node)) {
		char *ptr = pointer(ev, lo, NULL);
		report_ill(ev, node, ptr, N_("a string"));
		free(ptr);
		return;
	}
	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(json_string_value(node), r->values[i]) == 0)
			return;
	char desc[128];
	struct strbuf list = STRBUF_INIT; /* every value, however many */
	for (size_t i = 0; i < r->nvalues; i++) {
		if (i > 0)
			sb_adds(&list, ", ");
		sb_adds(&list, r->values[i]);
	}
	json_describe(node, ev->lang, desc, sizeof(desc));
	const char *text = list.buf != NULL ? list.buf : "";
	char *ptr = list.failed ? NULL : pointer(ev, lo, NULL);
	add_finding_as(ev, VALUES_AS_WRITTEN, ptr, text,
		       json_string_value(node), TR(ev, "%s is not one of: %s"),
		       desc, text);
	free(ptr);
	sb_release(&list);
}

static void eval_enum(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct located loc;

	if (!locate(ev, root, ctx, &r->items[0], &loc))
		return;
	struct walk w = WALK_INIT(enum_visit, (void *)r);
	walk(ev, root, ctx, lo, &r->items[0], &loc, &w);
}

void eval_rule_in(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	switch (ev->rule->type) {
	case RULE_SUM:
		eval_sum(ev, root, ctx, lo);
		break;
	case RULE_COUNT:
		eval_count(ev, root, ctx, lo);
		break;
	case RULE_WITHIN:
		eval_within(ev, root, ctx, lo);
		break;
	case RULE_ORDER:
		eval_order(ev, root, ctx, lo);
		break;
	case RULE_LIMIT:
		eval_limit(ev, root, ctx, lo);
		break;
	case RULE_REQUIRED:
		eval_required(ev, root, ctx, lo);
		break;
	case RULE_UNIQUE:
		eval_unique(ev, root, ctx, lo);
		break;
	case RULE_ENUM:
		eval_enum(ev, root, ctx, lo);
		break;
	default:
		assert(!"rule type out of range");
		break;
	}
}
