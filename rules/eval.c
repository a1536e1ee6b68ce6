/*
 * eval.c - the evaluator: each rule walks the document along its compiled
 * paths once per context, so evaluation stays linear in the document.
 *
 * The heart is SPEC §2 "Applicability": an absent operand makes a rule say
 * nothing; an ill-kinded node is reported once, by the first rule that meets
 * it, and is remembered in `reported` so that later rules step around it
 * (aggregates skip the context, item-by-item rules skip the item). Within a
 * rule, single-node operands are met first, then the items they bound.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "value.h"

/* ---- the walk stack: the concrete pointer of the node in hand ---- */

struct seg {
	const char *key; /* NULL: array index */
	size_t index;
};

/* ---- the set of nodes already reported as ill-kinded ---- */

struct ptrset {
	const json_t **slot;
	size_t cap; /* power of two, or 0 */
	size_t n;
};

/* null, true and false are shared singletons in Jansson: they are told
 * apart by their concrete pointer instead */
struct strset {
	char **slot;
	size_t cap; /* power of two, or 0 */
	size_t n;
};

struct eval {
	const struct rule *rule;
	json_t *findings;
	int errors, warnings;
	int oom;
	struct ptrset reported;
	struct strset reported_at;
	struct seg *st;
	size_t nst, capst;
};

static size_t ptr_hash(const json_t *p)
{
	uintptr_t x = (uintptr_t)p;
	x ^= x >> 17;
	x *= 0xed5ad4bbU;
	x ^= x >> 11;
	return (size_t)x;
}

static bool reported_node(const struct eval *ev, const json_t *node)
{
	const struct ptrset *s = &ev->reported;

	if (s->n == 0)
		return false;
	for (size_t i = ptr_hash(node) & (s->cap - 1);;
	     i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i] == node)
			return true;
		if (s->slot[i] == NULL)
			return false;
	}
}

static void mark_node(struct eval *ev, const json_t *node)
{
	struct ptrset *s = &ev->reported;

	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		const json_t **slot = calloc(cap, sizeof(*slot));
		if (slot == NULL) {
			ev->oom = 1;
			return;
		}
		for (size_t i = 0; i < s->cap; i++) {
			if (s->slot[i] == NULL)
				continue;
			size_t j = ptr_hash(s->slot[i]) & (cap - 1);
			while (slot[j] != NULL)
				j = (j + 1) & (cap - 1);
			slot[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	size_t i = ptr_hash(node) & (s->cap - 1);
	while (s->slot[i] != NULL && s->slot[i] != node)
		i = (i + 1) & (s->cap - 1);
	if (s->slot[i] == NULL) {
		s->slot[i] = node;
		s->n++;
	}
}

static void push_key(struct eval *ev, const char *key, size_t index)
{
	if (ev->nst == ev->capst) {
		size_t cap = ev->capst ? ev->capst * 2 : 32;
		struct seg *st = realloc(ev->st, cap * sizeof(*st));
		if (st == NULL) {
			ev->oom = 1;
			abort(); /* the stack is bounded by depth 64: cannot
				    fail after the first growth */
		}
		ev->st = st;
		ev->capst = cap;
	}
	ev->st[ev->nst].key = key;
	ev->st[ev->nst].index = index;
	ev->nst++;
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool strset_has(const struct strset *s, const char *key)
{
	if (s->n == 0)
		return false;
	for (size_t i = str_hash(key) & (s->cap - 1);;
	     i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i] == NULL)
			return false;
		if (strcmp(s->slot[i], key) == 0)
			return true;
	}
}

static int strset_add(struct strset *s, const char *key)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **slot = calloc(cap, sizeof(*slot));
		if (slot == NULL)
			return -1;
		for (size_t i = 0; i < s->cap; i++) {
			if (s->slot[i] == NULL)
				continue;
			size_t j = str_hash(s->slot[i]) & (cap - 1);
			while (slot[j] != NULL)
				j = (j + 1) & (cap - 1);
			slot[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	size_t i = str_hash(key) & (s->cap - 1);
	while (s->slot[i] != NULL) {
		if (strcmp(s->slot[i], key) == 0)
			return 0;
		i = (i + 1) & (s->cap - 1);
	}
	s->slot[i] = strdup(key);
	if (s->slot[i] == NULL)
		return -1;
	s->n++;
	return 0;
}

static void strset_free(struct strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
}

static bool is_singleton(const json_t *node)
{
	return json_is_null(node) || json_is_boolean(node);
}

/* ---- building pointers and findings ---- */

struct strbuf {
	char *buf;
	size_t len, cap;
};

static void sb_add(struct strbuf *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = (sb->len + n + 1) * 2;
		char *b = realloc(sb->buf, cap);
		if (b == NULL)
			return;
		sb->buf = b;
		sb->cap = cap;
	}
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

static void sb_key(struct strbuf *sb, const char *key)
{
	sb_add(sb, "/", 1);
	for (const char *k = key; *k; k++) {
		if (*k == '~')
			sb_add(sb, "~0", 2);
		else if (*k == '/')
			sb_add(sb, "~1", 2);
		else
			sb_add(sb, k, 1);
	}
}

/* The pointer of stack entries [lo, nst), plus the segments of a path
 * without wildcards (NULL for none). Caller frees. */
static char *pointer(const struct eval *ev, size_t lo, const struct path *p)
{
	struct strbuf sb = {NULL, 0, 0};

	sb_add(&sb, "", 0);
	for (size_t i = lo; i < ev->nst; i++) {
		if (ev->st[i].key != NULL) {
			sb_key(&sb, ev->st[i].key);
		} else {
			char num[32];
			int n =
			    snprintf(num, sizeof(num), "/%zu", ev->st[i].index);
			sb_add(&sb, num, (size_t)n);
		}
	}
	for (size_t i = 0; p != NULL && i < p->nseg; i++)
		sb_key(&sb, p->seg[i].key);
	return sb.buf;
}

/* Was node, at stack [lo, nst) + p, reported as ill-kinded already? */
static bool reported(const struct eval *ev, const json_t *node, size_t lo,
		     const struct path *p)
{
	if (!is_singleton(node))
		return reported_node(ev, node);
	if (ev->reported_at.n == 0)
		return false;
	char *ptr = pointer(ev, lo, p);
	bool r = ptr != NULL && strset_has(&ev->reported_at, ptr);
	free(ptr);
	return r;
}

static void add_finding(struct eval *ev, const char *path, const char *expected,
			const char *actual, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add_finding(struct eval *ev, const char *path, const char *expected,
			const char *actual, const char *fmt, ...)
{
	const struct rule *r = ev->rule;
	char msg[1024];
	char full[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->message != NULL)
		snprintf(full, sizeof(full), "%s: %s", r->message, msg);
	else
		snprintf(full, sizeof(full), "%s", msg);
	json_t *f = json_object();
	if (f == NULL || path == NULL) {
		ev->oom = 1;
		json_decref(f);
		return;
	}
	json_object_set_new(f, "rule", json_string(r->id));
	json_object_set_new(f, "severity",
			    json_string(severity_name(r->severity)));
	json_object_set_new(f, "path", json_string(path));
	json_object_set_new(f, "message", json_string(full));
	if (expected != NULL)
		json_object_set_new(f, "expected", json_string(expected));
	if (actual != NULL)
		json_object_set_new(f, "actual", json_string(actual));
	if (json_array_append_new(ev->findings, f) == -1)
		ev->oom = 1;
	if (r->severity == SEV_ERROR)
		ev->errors++;
	else if (r->severity == SEV_WARNING)
		ev->warnings++;
}

static const char *article(enum kind k)
{
	return (k == KIND_INTEGER || k == KIND_AMOUNT || k == KIND_ARRAY ||
		k == KIND_OBJECT)
		   ? "an "
		   : "a ";
}

/* Report node (at pointer path) as ill-kinded, once per document. */
static void report_ill(struct eval *ev, const json_t *node, const char *path,
		       const char *what)
{
	char desc[128];

	if (is_singleton(node)) {
		if (strset_has(&ev->reported_at, path))
			return;
		if (strset_add(&ev->reported_at, path) == -1)
			ev->oom = 1;
	} else {
		if (reported_node(ev, node))
			return;
		mark_node(ev, node);
	}
	json_describe(node, desc, sizeof(desc));
	add_finding(ev, path, NULL, NULL, "expected %s, found %s", what, desc);
}

static int read_kind(const json_t *node, enum kind k, int64_t *v)
{
	int64_t dummy;

	if (v == NULL)
		v = &dummy;
	switch (k) {
	case KIND_STRING:
		return json_is_string(node) && json_string_length(node) > 0
			   ? 0
			   : -1;
	case KIND_INTEGER:
		return integer_from_json(node, v);
	case KIND_AMOUNT:
		return amount_from_json(node, v);
	case KIND_DATE:
		return date_from_json(node, v);
	case KIND_ARRAY:
		return json_is_array(node) ? 0 : -1;
	case KIND_OBJECT:
		return json_is_object(node) ? 0 : -1;
	case KIND_BOOLEAN:
		return json_is_boolean(node) ? 0 : -1;
	case KIND_ANY:
		return json_is_null(node) ? -1 : 0;
	}
	return -1;
}

static const char *kind_text(enum kind k, char *buf, size_t size)
{
	if (k == KIND_STRING)
		return "a non-empty string";
	if (k == KIND_ANY)
		return "a value";
	snprintf(buf, size, "%s%s", article(k), kind_name(k));
	return buf;
}

/*
 * Check that node (at stack [lo,nst) + path p) is of kind k. Returns 0 with
 * *v, or -1 when it is ill-kinded (reported now, or before).
 */
static int check_kind(struct eval *ev, const json_t *node, enum kind k,
		      int64_t *v, size_t lo, const struct path *p)
{
	char what[32];

	if (reported(ev, node, lo, p))
		return -1;
	if (read_kind(node, k, v) == 0)
		return 0;
	char *ptr = pointer(ev, lo, p);
	report_ill(ev, node, ptr, kind_text(k, what, sizeof(what)));
	free(ptr);
	return -1;
}

/* ---- following paths ---- */

static json_t *step(json_t *node, const char *key, size_t *index)
{
	if (json_is_object(node))
		return json_object_get(node, key);
	if (json_is_array(node)) {
		char *end;
		if (key[0] < '0' || key[0] > '9' ||
		    (key[0] == '0' && key[1] != '\0'))
			return NULL;
		unsigned long long i = strtoull(key, &end, 10);
		if (*end != '\0' || i >= json_array_size(node))
			return NULL;
		*index = (size_t)i;
		return json_array_get(node, (size_t)i);
	}
	return NULL;
}

/* Follow segments [0, upto) of p from start; NULL when absent. */
static json_t *follow(json_t *start, const struct path *p, size_t upto)
{
	json_t *node = start;
	size_t index;

	for (size_t i = 0; i < upto && node != NULL; i++)
		node = step(node, p->seg[i].key, &index);
	return node;
}

/* The node a path starts from. */
static json_t *origin(json_t *root, json_t *ctx, const struct path *p)
{
	return p->absolute ? root : ctx;
}

/* Is the part before the first `*` present (for a plain path: all)? */
static bool present(json_t *root, json_t *ctx, const struct path *p)
{
	return follow(origin(root, ctx, p), p, p->first_wild) != NULL;
}

typedef void (*visit_fn)(struct eval *ev, json_t *node, size_t lo, void *ud);

struct walk {
	visit_fn fn;
	void *ud;
	size_t lo;    /* where this walk's pointer starts on the stack */
	bool missing; /* a match lacked a segment after a `*` */
	bool bad;     /* met an ill-kinded node */
};

static void walk_rec(struct eval *ev, const struct path *p, size_t i,
		     json_t *node, struct walk *w)
{
	if (reported(ev, node, w->lo, NULL)) {
		w->bad = true;
		return;
	}
	if (i == p->nseg) {
		w->fn(ev, node, w->lo, w->ud);
		return;
	}
	if (p->seg[i].key != NULL) {
		size_t index = 0;
		json_t *child = step(node, p->seg[i].key, &index);
		if (child == NULL) {
			w->missing = true;
			return;
		}
		push_key(ev, json_is_array(node) ? NULL : p->seg[i].key, index);
		walk_rec(ev, p, i + 1, child, w);
		ev->nst--;
		return;
	}
	if (json_is_object(node)) {
		const char *key;
		json_t *child;
		json_object_foreach(node, key, child)
		{
			push_key(ev, key, 0);
			walk_rec(ev, p, i + 1, child, w);
			ev->nst--;
		}
	} else if (json_is_array(node)) {
		size_t n = json_array_size(node);
		for (size_t k = 0; k < n; k++) {
			push_key(ev, NULL, k);
			walk_rec(ev, p, i + 1, json_array_get(node, k), w);
			ev->nst--;
		}
	} else {
		char *ptr = pointer(ev, w->lo, NULL);
		report_ill(ev, node, ptr, "an array or an object");
		free(ptr);
		w->bad = true;
	}
}

/* Walk p from ctx (whose pointer is stack [ctx_lo, nst)) or the root. */
static void walk(struct eval *ev, json_t *root, json_t *ctx, size_t ctx_lo,
		 const struct path *p, struct walk *w)
{
	size_t base = ev->nst;

	w->lo = p->absolute ? ev->nst : ctx_lo;
	walk_rec(ev, p, 0, origin(root, ctx, p), w);
	ev->nst = base;
}

/* ---- operands ---- */

enum opstate { OP_ABSENT, OP_BAD, OP_OK };

struct opval {
	enum opstate state;
	int64_t v;
	json_t *node; /* NULL for a literal */
};

/* Resolve a single-node operand; reports it if ill-kinded. */
static struct opval operand(struct eval *ev, json_t *root, json_t *ctx,
			    size_t ctx_lo, const struct operand *op,
			    enum kind k)
{
	struct opval o = {OP_ABSENT, 0, NULL};

	if (op->literal) {
		o.state = OP_OK;
		o.v = op->value;
		return o;
	}
	o.node = follow(origin(root, ctx, &op->path), &op->path, op->path.nseg);
	if (o.node == NULL)
		return o;
	size_t lo = op->path.absolute ? ev->nst : ctx_lo;
	o.state = check_kind(ev, o.node, k, &o.v, lo, &op->path) == 0 ? OP_OK
								      : OP_BAD;
	return o;
}

/* Pointer of an operand's node, or of the context for a literal. */
static char *operand_pointer(struct eval *ev, size_t ctx_lo,
			     const struct operand *op)
{
	if (op->literal)
		return pointer(ev, ctx_lo, NULL);
	return pointer(ev, op->path.absolute ? ev->nst : ctx_lo, &op->path);
}

static const char *operand_name(const struct operand *op)
{
	return op->literal ? "the literal" : op->path.text;
}

static bool operand_absent(json_t *root, json_t *ctx, const struct operand *op)
{
	return op->present && !op->literal &&
	       follow(origin(root, ctx, &op->path), &op->path, op->path.nseg) ==
		   NULL;
}

/* ---- the rule types ---- */

struct sum_state {
	__int128 sum;
	size_t n;
	bool all_int;
};

static void sum_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
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

static void fmt_value(int64_t cents, bool as_int, char *buf, size_t size)
{
	if (as_int && cents % 100 == 0)
		snprintf(buf, size, "%lld", (long long)(cents / 100));
	else
		amount_format(cents, buf, size);
}

static void eval_sum(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct sum_state s = {0, 0, true};
	bool bad = false, missing = false;

	for (size_t i = 0; i < r->nitems; i++)
		if (!present(root, ctx, &r->items[i]))
			return;
	if (operand_absent(root, ctx, &r->equals))
		return;
	struct opval eq = operand(ev, root, ctx, lo, &r->equals, KIND_AMOUNT);
	for (size_t i = 0; i < r->nitems; i++) {
		struct walk w = {sum_visit, &s, 0, false, false};
		walk(ev, root, ctx, lo, &r->items[i], &w);
		bad |= w.bad;
		missing |= w.missing;
	}
	if (eq.state != OP_OK || bad || missing || s.n == (size_t)-1)
		return;
	__int128 diff = (__int128)eq.v - s.sum;
	__int128 mag = diff < 0 ? -diff : diff;
	if (mag <= r->tolerance)
		return;
	/* only for display: a 16 MiB file cannot sum past int64 by much */
	if (s.sum > INT64_MAX)
		s.sum = INT64_MAX;
	if (s.sum < -INT64_MAX)
		s.sum = -INT64_MAX;
	if (diff > INT64_MAX)
		diff = INT64_MAX;
	if (diff < -INT64_MAX)
		diff = -INT64_MAX;
	bool as_int = s.all_int &&
		      (eq.node == NULL || json_is_integer(eq.node)) &&
		      r->tolerance == 0;
	char sum[40], act[40], d[40];
	fmt_value((int64_t)s.sum, as_int, sum, sizeof(sum));
	fmt_value(eq.v, as_int, act, sizeof(act));
	fmt_value((int64_t)diff, as_int, d, sizeof(d));
	char items[320];
	size_t len = 0;
	items[0] = '\0';
	if (r->nitems == 1 && path_has_wildcard(&r->items[0]))
		snprintf(items, sizeof(items), "the %zu value%s of %s", s.n,
			 s.n == 1 ? "" : "s", r->items[0].text);
	else
		for (size_t i = 0; i < r->nitems && len < sizeof(items); i++)
			len += (size_t)snprintf(
			    items + len, sizeof(items) - len, "%s%s",
			    i ? " + " : "", r->items[i].text);
	char *ptr = operand_pointer(ev, lo, &r->equals);
	add_finding(ev, ptr, sum, act,
		    "%s is %s but %s add%s up to %s (difference %s)",
		    operand_name(&r->equals), act, items,
		    r->nitems == 1 && s.n == 1 ? "s" : "", sum, d);
	free(ptr);
}

struct count_state {
	const struct rule *r;
	int64_t n;
	bool bad, missing;
};

static void count_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
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
		report_ill(ev, f, ptr, "a string");
		free(ptr);
		s->bad = true;
		return;
	}
	if (strcmp(json_string_value(f), r->where_value) == 0)
		s->n++;
}

static const char *last_key(const struct path *p)
{
	for (size_t i = p->nseg; i > 0; i--)
		if (p->seg[i - 1].key != NULL)
			return p->seg[i - 1].key;
	return p->text;
}

static void eval_count(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct count_state s = {r, 0, false, false};

	if (!present(root, ctx, &r->items[0]) ||
	    operand_absent(root, ctx, &r->equals))
		return;
	struct opval eq = operand(ev, root, ctx, lo, &r->equals, KIND_INTEGER);
	struct walk w = {count_visit, &s, 0, false, false};
	walk(ev, root, ctx, lo, &r->items[0], &w);
	if (eq.state != OP_OK || w.bad || w.missing || s.bad || s.missing)
		return;
	if (eq.v == s.n)
		return;
	char exp[32], act[32], cond[300] = "";
	snprintf(exp, sizeof(exp), "%lld", (long long)s.n);
	snprintf(act, sizeof(act), "%lld", (long long)eq.v);
	if (r->has_where)
		snprintf(cond, sizeof(cond), " with %s=%s", r->where_field.text,
			 r->where_value);
	char *ptr = operand_pointer(ev, lo, &r->equals);
	add_finding(
	    ev, ptr, exp, act, "%s %s does not equal the number of %s%s: %s",
	    operand_name(&r->equals), act, last_key(&r->items[0]), cond, exp);
	free(ptr);
}

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
	char dt[16], f[16], t[16], range[40], slack[48] = "";
	date_format(d, dt, sizeof(dt));
	date_format(s->from.v, f, sizeof(f));
	date_format(s->to.v, t, sizeof(t));
	snprintf(range, sizeof(range), "%s..%s", f, t);
	if (r->slack)
		snprintf(slack, sizeof(slack), " (allowing %lld days of slack)",
			 (long long)r->slack);
	char *ptr = pointer(ev, lo, NULL);
	if (before)
		add_finding(ev, ptr, range, dt, "%s %s is before %s %s%s",
			    s->item_name, dt, operand_name(&r->from), f, slack);
	else
		add_finding(ev, ptr, range, dt, "%s %s is after %s %s%s",
			    s->item_name, dt, operand_name(&r->to), t, slack);
	free(ptr);
}

static void eval_within(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct within_state s = {
	    r, false, {OP_ABSENT, 0, NULL}, {OP_ABSENT, 0, NULL}, NULL};

	if (operand_absent(root, ctx, &r->from) ||
	    operand_absent(root, ctx, &r->to))
		return;
	s.from = operand(ev, root, ctx, lo, &r->from, KIND_DATE);
	s.to = operand(ev, root, ctx, lo, &r->to, KIND_DATE);
	s.bounds_ok = s.from.state == OP_OK && s.to.state == OP_OK;
	for (size_t i = 0; i < r->nitems; i++) {
		if (!present(root, ctx, &r->items[i]))
			continue;
		s.item_name = last_key(&r->items[i]);
		struct walk w = {within_visit, &s, 0, false, false};
		walk(ev, root, ctx, lo, &r->items[i], &w);
	}
}

static void eval_order(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;

	if (operand_absent(root, ctx, &r->first) ||
	    operand_absent(root, ctx, &r->second))
		return;
	struct opval a = operand(ev, root, ctx, lo, &r->first, KIND_DATE);
	struct opval b = operand(ev, root, ctx, lo, &r->second, KIND_DATE);
	if (a.state != OP_OK || b.state != OP_OK || a.v <= b.v)
		return;
	char da[16], db[16], exp[40];
	date_format(a.v, da, sizeof(da));
	date_format(b.v, db, sizeof(db));
	snprintf(exp, sizeof(exp), "on or after %s", da);
	const struct operand *at = r->second.literal ? &r->first : &r->second;
	char *ptr = operand_pointer(ev, lo, at);
	add_finding(ev, ptr, exp, db, "%s %s is before %s %s",
		    operand_name(&r->second), db, operand_name(&r->first), da);
	free(ptr);
}

struct limit_state {
	const struct rule *r;
	int64_t per, days;
	bool divisor_ok;
};

/* cents / div rounded half away from zero */
static int64_t div_round(__int128 v, __int128 div)
{
	__int128 q = (2 * (v < 0 ? -v : v) + div) / (2 * div);
	return (int64_t)(v < 0 ? -q : q);
}

static void limit_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
{
	struct limit_state *s = ud;
	const struct rule *r = s->r;
	int64_t v;

	if (check_kind(ev, node, KIND_AMOUNT, &v, lo, NULL) == -1 ||
	    !s->divisor_ok)
		return;
	__int128 div = (__int128)s->per * s->days;
	bool low = r->has_min && (__int128)v < (__int128)r->min * div;
	bool high = r->has_max && (__int128)v > (__int128)r->max * div;
	if (!low && !high)
		return;
	char val[40], q[40], bound[40], exp[48], how[160] = "";
	amount_format(v, val, sizeof(val));
	amount_format(div_round(v, div), q, sizeof(q));
	amount_format(low ? r->min : r->max, bound, sizeof(bound));
	snprintf(exp, sizeof(exp), "%s %s", low ? ">=" : "<=", bound);
	if (r->per.present && r->days_start.present)
		snprintf(how, sizeof(how), " / %lld (%s) / %lld days = %s,",
			 (long long)s->per, operand_name(&r->per),
			 (long long)s->days, q);
	else if (r->per.present)
		snprintf(how, sizeof(how), " / %lld (%s) = %s,",
			 (long long)s->per, operand_name(&r->per), q);
	else if (r->days_start.present)
		snprintf(how, sizeof(how), " / %lld days = %s,",
			 (long long)s->days, q);
	else
		snprintf(how, sizeof(how), " is");
	char *ptr = pointer(ev, lo, NULL);
	add_finding(ev, ptr, exp, q, "%s %s%s %s the %s %s",
		    last_key(&r->items[0]), val, how, low ? "below" : "above",
		    low ? "minimum" : "maximum", bound);
	free(ptr);
}

static void eval_limit(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct limit_state s = {r, 1, 1, true};

	if (!present(root, ctx, &r->items[0]) ||
	    operand_absent(root, ctx, &r->per) ||
	    operand_absent(root, ctx, &r->days_start) ||
	    operand_absent(root, ctx, &r->days_end))
		return;
	if (r->per.present) {
		struct opval per =
		    operand(ev, root, ctx, lo, &r->per, KIND_INTEGER);
		if (per.state != OP_OK)
			s.divisor_ok = false;
		else if (per.v <= 0)
			return;
		s.per = per.v;
	}
	if (r->days_start.present) {
		struct opval a =
		    operand(ev, root, ctx, lo, &r->days_start, KIND_DATE);
		struct opval b =
		    operand(ev, root, ctx, lo, &r->days_end, KIND_DATE);
		if (a.state != OP_OK || b.state != OP_OK)
			s.divisor_ok = false;
		else if (b.v - a.v + 1 <= 0)
			return;
		s.days = b.v - a.v + 1;
	}
	struct walk w = {limit_visit, &s, 0, false, false};
	walk(ev, root, ctx, lo, &r->items[0], &w);
}

static void eval_required(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	char what[32];

	for (size_t f = 0; f < r->nfields; f++) {
		const struct path *p = &r->fields[f].path;
		json_t *node = origin(root, ctx, p);
		size_t base = ev->nst;
		size_t plo = p->absolute ? ev->nst : lo;
		bool skip = false;

		for (size_t i = 0; i < p->nseg && !skip; i++) {
			size_t index = 0;
			if (reported(ev, node, plo, NULL)) {
				skip = true;
				break;
			}
			if (!json_is_object(node) && !json_is_array(node)) {
				char *ptr = pointer(ev, plo, NULL);
				report_ill(ev, node, ptr, "an object");
				free(ptr);
				skip = true;
				break;
			}
			json_t *child = step(node, p->seg[i].key, &index);
			if (child == NULL) {
				char *ptr = pointer(ev, plo, NULL);
				struct strbuf sb = {NULL, 0, 0};
				sb_add(&sb, ptr, strlen(ptr));
				for (size_t k = i; k < p->nseg; k++)
					sb_key(&sb, p->seg[k].key);
				add_finding(
				    ev, sb.buf, kind_name(r->fields[f].kind),
				    "missing", "missing required field %s (%s)",
				    p->text,
				    kind_text(r->fields[f].kind, what,
					      sizeof(what)));
				free(sb.buf);
				free(ptr);
				skip = true;
				break;
			}
			push_key(ev, json_is_array(node) ? NULL : p->seg[i].key,
				 index);
			node = child;
		}
		if (!skip)
			check_kind(ev, node, r->fields[f].kind, NULL, plo,
				   NULL);
		ev->nst = base;
	}
}

/* unique: a hash table of the items seen in this context */
struct seen {
	uint64_t hash;
	json_t *item;
	char *ptr;
};

struct unique_state {
	const struct rule *r;
	struct seen *slot;
	size_t cap, n;
	json_t **keyvals; /* scratch: nkeys values of the item in hand */
};

static uint64_t key_hash(const struct unique_state *s, json_t **kv, size_t nk)
{
	uint64_t h = 7;
	for (size_t i = 0; i < nk; i++)
		h = h * 1000003u ^ value_hash(kv[i]);
	(void)s;
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

static void unique_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
{
	struct unique_state *s = ud;
	const struct rule *r = s->r;
	json_t *single = node;
	json_t **kv = &single;
	size_t nk = 1;

	if (r->nkeys > 0) {
		kv = s->keyvals;
		nk = r->nkeys;
		for (size_t i = 0; i < r->nkeys; i++) {
			kv[i] = follow(node, &r->keys[i], r->keys[i].nseg);
			if (kv[i] == NULL) /* lacks a key field: not compared */
				return;
			if (check_kind(ev, kv[i], KIND_ANY, NULL, lo,
				       &r->keys[i]) == -1)
				return;
		}
	} else if (check_kind(ev, node, KIND_ANY, NULL, lo, NULL) == -1) {
		return;
	}
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct seen *slot = calloc(cap, sizeof(*slot));
		if (slot == NULL) {
			ev->oom = 1;
			return;
		}
		for (size_t i = 0; i < s->cap; i++) {
			if (s->slot[i].item == NULL)
				continue;
			size_t j = s->slot[i].hash & (cap - 1);
			while (slot[j].item != NULL)
				j = (j + 1) & (cap - 1);
			slot[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	uint64_t h = key_hash(s, kv, nk);
	size_t i = h & (s->cap - 1);
	for (; s->slot[i].item != NULL; i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i].hash != h ||
		    !key_equal(s, s->slot[i].item, node))
			continue;
		char *ptr = pointer(ev, lo, NULL);
		char desc[128], keys[256];
		size_t len = 0;
		if (r->nkeys == 0) {
			json_describe(node, desc, sizeof(desc));
			add_finding(ev, ptr, NULL, NULL, "%s repeats %s", desc,
				    s->slot[i].ptr);
		} else {
			keys[0] = '\0';
			for (size_t k = 0; k < r->nkeys; k++)
				len += (size_t)snprintf(
				    keys + len,
				    len < sizeof(keys) ? sizeof(keys) - len : 0,
				    "%s%s", k ? ", " : "", r->keys[k].text);
			add_finding(ev, ptr, NULL, NULL, "repeats %s (same %s)",
				    s->slot[i].ptr, keys);
		}
		free(ptr);
		return;
	}
	s->slot[i].hash = h;
	s->slot[i].item = node;
	s->slot[i].ptr = pointer(ev, lo, NULL);
	s->n++;
}

static void eval_unique(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	json_t *keyvals[64];
	struct unique_state s = {r, NULL, 0, 0, keyvals};

	if (!present(root, ctx, &r->items[0]))
		return;
	struct walk w = {unique_visit, &s, 0, false, false};
	walk(ev, root, ctx, lo, &r->items[0], &w);
	for (size_t i = 0; i < s.cap; i++)
		free(s.slot[i].ptr);
	free(s.slot);
}

static void enum_visit(struct eval *ev, json_t *node, size_t lo, void *ud)
{
	const struct rule *r = ud;

	if (reported(ev, node, lo, NULL))
		return;
	if (!json_is_string(node)) {
		char *ptr = pointer(ev, lo, NULL);
		report_ill(ev, node, ptr, "a string");
		free(ptr);
		return;
	}
	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(json_string_value(node), r->values[i]) == 0)
			return;
	char desc[128], list[512];
	size_t len = 0;
	list[0] = '\0';
	for (size_t i = 0; i < r->nvalues; i++)
		len += (size_t)snprintf(
		    list + len, len < sizeof(list) ? sizeof(list) - len : 0,
		    "%s%s", i ? ", " : "", r->values[i]);
	json_describe(node, desc, sizeof(desc));
	char *ptr = pointer(ev, lo, NULL);
	add_finding(ev, ptr, list, json_string_value(node),
		    "%s is not one of: %s", desc, list);
	free(ptr);
}

static void eval_enum(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;

	if (!present(root, ctx, &r->items[0]))
		return;
	struct walk w = {enum_visit, (void *)r, 0, false, false};
	walk(ev, root, ctx, lo, &r->items[0], &w);
}

struct context_state {
	json_t *root;
};

static void eval_context(struct eval *ev, json_t *ctx, size_t lo, void *ud)
{
	struct context_state *cs = ud;
	json_t *root = cs->root;

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
	}
}

int eval_ruleset(const struct ruleset *rs, json_t *root, json_t *findings,
		 int *errors, int *warnings)
{
	struct eval ev;
	struct context_state cs = {root};

	memset(&ev, 0, sizeof(ev));
	ev.findings = findings;
	for (size_t i = 0; i < rs->n && !ev.oom; i++) {
		const struct rule *r = &rs->rules[i];
		if (!r->enabled)
			continue;
		ev.rule = r;
		ev.nst = 0;
		if (!r->has_each) {
			eval_context(&ev, root, 0, &cs);
			continue;
		}
		if (!present(root, root, &r->each))
			continue;
		struct walk w = {eval_context, &cs, 0, false, false};
		walk(&ev, root, root, 0, &r->each, &w);
	}
	free(ev.reported.slot);
	strset_free(&ev.reported_at);
	free(ev.st);
	*errors = ev.errors;
	*warnings = ev.warnings;
	return ev.oom ? -1 : 0;
}
