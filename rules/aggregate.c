/*
 * aggregate.c - the rule types that judge a set of items as a whole: sum,
 * count and unique (types.h). Their state, visit and finish steps are
 * apart so that runs.c can carry them from element to element.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "../common/jsonmem.h"
#include "../common/strbuf.h"
#include "types.h"
#include "value.h"

/* ---- sum ---- */

void sum_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
{
	struct sum_state *s = ud;
	int64_t v;

	if (check_kind(ev, node, KIND_AMOUNT, &v, lo, NULL) == -1) {
		s->n = (size_t)-1;
		return;
	}
	if (s->n == (size_t)-1)
		return;
	s->sum += v;
	s->n++;
	s->all_int &= json_is_integer(node);
}

/* A sum's value: the integer as it was written when every value was
 * one (a head count), else an amount in ev's language. */
static void fmt_value(const struct eval *ev, __int128 cents, bool as_int,
		      char *buf, size_t size)
{
	char text[I18N_WIDE_SIZE];

	if (as_int && cents % 100 == 0) { /* "1234.00": "1234" */
		i18n_amount_wide(LANG_EN, cents, text, sizeof(text));
		snprintf(buf, size, "%.*s", (int)(strlen(text) - 3), text);
	} else {
		i18n_amount_wide(ev->lang, cents, buf, size);
		i18n_in_currency(ev->lang, buf, size, ev->currency);
	}
}

void eval_sum(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct sum_state s = SUM_STATE_INIT;
	bool bad = false, missing = false;
	struct located loc[64];
	json_t *eqn;

	for (size_t i = 0; i < r->nitems; i++)
		if (!locate(ev, root, ctx, &r->items[i], &loc[i]))
			return;
	if (!operand_find(ev, root, ctx, &r->equals, &eqn))
		return;
	struct opval eq = operand(ev, lo, &r->equals, eqn, KIND_AMOUNT);
	for (size_t i = 0; i < r->nitems; i++) {
		struct walk w = WALK_INIT(sum_visit, &s);
		walk(ev, root, ctx, lo, &r->items[i], &loc[i], &w);
		bad |= w.bad;
		missing |= w.missing;
	}
	sum_finish(ev, lo, &eq, &s, bad || missing);
}

/* The items of a sum rule as "a + b + c", every one of them. */
static void sum_items(const struct rule *r, struct strbuf *items)
{
	for (size_t i = 0; i < r->nitems; i++) {
		if (i > 0)
			sb_adds(items, " + ");
		sb_adds(items, r->items[i].text);
	}
}

/* The finding of a sum: "E is X but the N values of P add up to S
 * (difference D)", "E is X but P adds up to ...", "E is X but P + Q add up
 * to ...". */
static void sum_finding(struct eval *ev, const char *ptr, const char *exp,
			const char *act, const char *x, const char *sum,
			const char *d, size_t n)
{
	const struct rule *r = ev->rule;
	const char *eq = operand_text(ev, &r->equals);
	struct strbuf items = STRBUF_INIT;

	if (r->nitems == 1 && path_has_wildcard(&r->items[0]))
		add_finding(
		    ev, ptr, exp, act,
		    NTR(ev,
			"%s is %s but the %zu value of %s adds up to %s "
			"(difference %s)",
			"%s is %s but the %zu values of %s add up to %s "
			"(difference %s)",
			n),
		    eq, x, n, r->items[0].text, sum, d);
	else if (r->nitems == 1)
		add_finding(ev, ptr, exp, act,
			    TR(ev, "%s is %s but %s adds up to %s (difference "
				   "%s)"),
			    eq, x, r->items[0].text, sum, d);
	else {
		sum_items(r, &items);
		add_finding(ev, items.failed ? NULL : ptr, exp, act,
			    TR(ev, "%s is %s but %s add up to %s (difference "
				   "%s)"),
			    eq, x, items.buf != NULL ? items.buf : "", sum, d);
		sb_release(&items);
	}
}

void sum_finish(struct eval *ev, size_t lo, const struct opval *eqp,
		const struct sum_state *sp, bool unknown)
{
	const struct rule *r = ev->rule;
	struct opval eq = *eqp;
	struct sum_state s = *sp;

	if (eq.state != OP_OK || unknown || s.n == (size_t)-1)
		return;
	__int128 diff = (__int128)eq.v - s.sum;
	__int128 mag = diff < 0 ? -diff : diff;
	if (mag <= r->tolerance)
		return;
	bool as_int = s.all_int &&
		      (eq.node == NULL || json_is_integer(eq.node)) &&
		      r->tolerance == 0;
	const struct eval en = {.lang = LANG_EN};
	char sum[I18N_WIDE_SIZE], act[I18N_WIDE_SIZE], msum[I18N_WIDE_SIZE],
	    mact[I18N_WIDE_SIZE], d[I18N_WIDE_SIZE];
	fmt_value(&en, s.sum, as_int, sum, sizeof(sum));
	fmt_value(&en, eq.v, as_int, act, sizeof(act));
	fmt_value(ev, s.sum, as_int, msum, sizeof(msum));
	fmt_value(ev, eq.v, as_int, mact, sizeof(mact));
	fmt_value(ev, diff, as_int, d, sizeof(d));
	char *ptr = operand_pointer(ev, lo, &r->equals);
	if (ptr == NULL)
		ev->oom = 1;
	else
		sum_finding(ev, ptr, sum, act, mact, msum, d, s.n);
	free(ptr);
}

/* ---- count ---- */

void count_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
{
	struct count_state *s = ud;
	const struct rule *r = s->r;

	if (!r->has_where) {
		s->n++;
		return;
	}
	json_t *f = follow(node, &r->where_field, r->where_field.nseg);
	if (f == NULL) {
		s->missing = true;
		return;
	}
	if (reported(ev, f, lo, &r->where_field)) {
		s->bad = true;
		return;
	}
	if (!json_is_string(f)) {
		char *ptr = pointer(ev, lo, &r->where_field);
		report_ill(ev, f, ptr, N_("a string"));
		free(ptr);
		s->bad = true;
		return;
	}
	if (strcmp(json_string_value(f), r->where_value) == 0)
		s->n++;
}

void eval_count(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct count_state s = {r, 0, false, false};
	struct located loc;
	json_t *eqn;

	if (!locate(ev, root, ctx, &r->items[0], &loc) ||
	    !operand_find(ev, root, ctx, &r->equals, &eqn))
		return;
	struct opval eq = operand(ev, lo, &r->equals, eqn, KIND_INTEGER);
	struct walk w = WALK_INIT(count_visit, &s);
	walk(ev, root, ctx, lo, &r->items[0], &loc, &w);
	count_finish(ev, lo, &eq, &s, w.bad || w.missing);
}

void count_finish(struct eval *ev, size_t lo, const struct opval *eq,
		  const struct count_state *s, bool unknown)
{
	const struct rule *r = ev->rule;

	if (eq->state != OP_OK || unknown || s->bad || s->missing)
		return;
	if (eq->v == s->n)
		return;
	char exp[32], act[32];
	snprintf(exp, sizeof(exp), "%lld", (long long)s->n);
	snprintf(act, sizeof(act), "%lld", (long long)eq->v);
	char *ptr = operand_pointer(ev, lo, &r->equals);
	const char *eqn = operand_text(ev, &r->equals);
	if (r->has_where)
		add_finding(ev, ptr, exp, act,
			    TR(ev, "%s %s does not equal the number of %s with "
				   "%s=%s: %s"),
			    eqn, act, last_key(&r->items[0]),
			    r->where_field.text, r->where_value, exp);
	else
		add_finding(ev, ptr, exp, act,
			    TR(ev, "%s %s does not equal the number of %s: %s"),
			    eqn, act, last_key(&r->items[0]), exp);
	free(ptr);
}

/* ---- unique ---- */

static uint64_t key_hash(json_t **kv, size_t nk)
{
	uint64_t h = 7;

	for (size_t i = 0; i < nk; i++)
		h = hash_mix(h, value_hash(kv[i]));
	return h;
}

static bool key_equal(const struct unique_state *s, json_t *a, json_t *b)
{
	const struct rule *r = s->r;

	if (r->nkeys == 0)
		return value_equal(a, b);
	for (size_t i = 0; i < r->nkeys; i++) {
		json_t *x = follow(a, &r->keys[i], r->keys[i].nseg);
		json_t *y = follow(b, &r->keys[i], r->keys[i].nseg);
		if (!value_equal(x, y))
			return false;
	}
	return true;
}

/*
 * The values an item is compared by (itself, or its key fields) into
 * s->keyvals or *single; false when it is not compared (lacks a key field,
 * or one is ill-kinded).
 */
static bool unique_keys(struct eval *ev, struct unique_state *s, json_t *node,
			size_t lo, json_t ***kv, size_t *nk)
{
	const struct rule *r = s->r;

	if (r->nkeys == 0) {
		*nk = 1;
		return check_kind(ev, node, KIND_ANY, NULL, lo, NULL) == 0;
	}
	*kv = s->keyvals;
	*nk = r->nkeys;
	for (size_t i = 0; i < r->nkeys; i++) {
		s->keyvals[i] = follow(node, &r->keys[i], r->keys[i].nseg);
		if (s->keyvals[i] == NULL) /* lacks a key field: not compared */
			return false;
		if (check_kind(ev, s->keyvals[i], KIND_ANY, NULL, lo,
			       &r->keys[i]) == -1)
			return false;
	}
	return true;
}

/* Room for one more item seen; -1 when memory runs out. */
static int seen_grow(struct unique_state *s)
{
	if ((s->n + 1) * 2 <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap * 2 : 16;
	struct seen *slot = jsonmem_calloc(cap, sizeof(*slot));
	if (slot == NULL)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		if (s->slot[i].item == NULL)
			continue;
		size_t j = s->slot[i].hash & (cap - 1);
		while (slot[j].item != NULL)
			j = (j + 1) & (cap - 1);
		slot[j] = s->slot[i];
	}
	jsonmem_free(s->slot);
	s->slot = slot;
	s->cap = cap;
	return 0;
}

/* Report node (stack [lo, nst)) as a repeat of the item seen first. */
static void unique_repeat(struct eval *ev, const struct unique_state *s,
			  json_t *node, size_t lo, const struct seen *first)
{
	const struct rule *r = s->r;
	char *ptr = pointer(ev, lo, NULL);
	char *at = pointer_quoted(s->arena + first->at, first->len);
	struct strbuf keys = STRBUF_INIT; /* every key, however many */
	char desc[128];

	if (at == NULL) {
		ev->oom = 1;
	} else if (r->nkeys == 0) {
		json_describe(node, ev->lang, desc, sizeof(desc));
		add_finding(ev, ptr, NULL, NULL, TR(ev, "%s repeats %s"), desc,
			    at);
	} else {
		for (size_t k = 0; k < r->nkeys; k++) {
			if (k > 0)
				sb_adds(&keys, ", ");
			sb_adds(&keys, r->keys[k].text);
		}
		add_finding(ev, keys.failed ? NULL : ptr, NULL, NULL,
			    TR(ev, "repeats %s (same %s)"), at,
			    keys.buf != NULL ? keys.buf : "");
	}
	sb_release(&keys);
	free(at);
	free(ptr);
}

/* Remember node (stack [lo, nst)) in the free slot i. */
static void unique_remember(struct eval *ev, struct unique_state *s, size_t i,
			    json_t *node, uint64_t h, size_t lo)
{
	size_t len = ev->nst - lo;

	if (s->narena + len > s->caparena) {
		size_t cap = (s->narena + len) * 2;
		struct seg *a = jsonmem_realloc(s->arena, cap * sizeof(*a));
		if (a == NULL) {
			ev->oom = 1;
			return;
		}
		s->arena = a;
		s->caparena = cap;
	}
	if (len > 0)
		memcpy(s->arena + s->narena, ev->st + lo,
		       len * sizeof(*s->arena));
	s->slot[i].hash = h;
	s->slot[i].item = node;
	s->slot[i].at = s->narena;
	s->slot[i].len = len;
	s->narena += len;
	s->n++;
}

void unique_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
{
	struct unique_state *s = ud;
	json_t *single = node;
	json_t **kv = &single;
	size_t nk = 1;

	if (!unique_keys(ev, s, node, lo, &kv, &nk))
		return;
	if (seen_grow(s) == -1) {
		ev->oom = 1;
		return;
	}
	uint64_t h = key_hash(kv, nk);
	size_t i = h & (s->cap - 1);
	for (; s->slot[i].item != NULL; i = (i + 1) & (s->cap - 1)) {
		if (spend(ev, 1))
			return; /* out of time: the judgement is dropped */
		if (s->slot[i].hash == h &&
		    key_equal(s, s->slot[i].item, node)) {
			unique_repeat(ev, s, node, lo, &s->slot[i]);
			return;
		}
	}
	unique_remember(ev, s, i, node, h, lo);
}

void unique_release(struct unique_state *s)
{
	jsonmem_free(s->slot);
	jsonmem_free(s->arena);
	s->slot = NULL;
	s->arena = NULL;
}

void eval_unique(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	json_t *keyvals[64];
	struct unique_state s = UNIQUE_STATE_INIT(r, keyvals);
	struct located loc;

	if (!locate(ev, root, ctx, &r->items[0], &loc))
		return;
	struct walk w = WALK_INIT(unique_visit, &s);
	walk(ev, root, ctx, lo, &r->items[0], &loc, &w);
	unique_release(&s);
}
