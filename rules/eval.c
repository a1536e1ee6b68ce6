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

#include "engine.h"
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
	bool no_runs; /* rule by rule only (tests compare the two) */
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

/* Room for n more entries on the stack; false (and oom) when memory runs
 * out. Every push is preceded by a reserve. */
static bool reserve(struct eval *ev, size_t n)
{
	if (ev->nst + n <= ev->capst)
		return true;
	size_t cap = ev->capst ? ev->capst : 32;
	while (cap < ev->nst + n)
		cap *= 2;
	struct seg *st = realloc(ev->st, cap * sizeof(*st));
	if (st == NULL) {
		ev->oom = 1;
		return false;
	}
	ev->st = st;
	ev->capst = cap;
	return true;
}

static void push_key(struct eval *ev, const char *key, size_t index)
{
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
static char *pointer_segs(const struct seg *segs, size_t n,
			  const struct path *p)
{
	struct strbuf sb = {NULL, 0, 0};

	sb_add(&sb, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (segs[i].key != NULL) {
			sb_key(&sb, segs[i].key);
		} else {
			char num[32];
			int len =
			    snprintf(num, sizeof(num), "/%zu", segs[i].index);
			sb_add(&sb, num, (size_t)len);
		}
	}
	for (size_t i = 0; p != NULL && i < p->nseg; i++)
		sb_key(&sb, p->seg[i].key);
	return sb.buf;
}

static char *pointer(const struct eval *ev, size_t lo, const struct path *p)
{
	/* the stack may still be unallocated (NULL) when empty */
	return pointer_segs(ev->nst > lo ? ev->st + lo : NULL, ev->nst - lo, p);
}

/* Was node, at stack [lo, nst) + p, reported as ill-kinded already? */
static bool reported(const struct eval *ev, const json_t *node, size_t lo,
		     const struct path *p)
{
	if (ev->reported.n == 0 && ev->reported_at.n == 0)
		return false;
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
	json_object_set_new(f, "message", json_string_lossy(full));
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
	if (key == NULL) /* a `*`: never a single step */
		return NULL;
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

/*
 * Where a path's part before the first `*` leads (for a plain path: its
 * node), with the steps taken, so that the walk that follows neither looks
 * the prefix up again nor loses its pointer.
 */
#define LOC_MAX 16

struct located {
	json_t *node; /* NULL: absent */
	bool bad;     /* passed through a node reported as ill-kinded */
	size_t n;     /* steps recorded, or LOC_MAX + 1 when too many */
	struct seg steps[LOC_MAX];
};

static bool locate(const struct eval *ev, json_t *root, json_t *ctx,
		   const struct path *p, struct located *loc)
{
	json_t *node = origin(root, ctx, p);

	loc->bad = false;
	loc->n = p->first_wild <= LOC_MAX ? 0 : LOC_MAX + 1;
	for (size_t i = 0; i < p->first_wild && node != NULL; i++) {
		size_t index = 0;
		bool array = json_is_array(node);
		/* containers only: a scalar cannot be stepped through */
		if (i > 0 && ev->reported.n > 0 && reported_node(ev, node))
			loc->bad = true;
		node = step(node, p->seg[i].key, &index);
		if (loc->n <= LOC_MAX && i < LOC_MAX) {
			loc->steps[i].key = array ? NULL : p->seg[i].key;
			loc->steps[i].index = index;
			loc->n = i + 1;
		}
	}
	loc->node = node;
	return node != NULL;
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
	if (!reserve(ev, 1)) {
		w->bad = true;
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

/*
 * Walk p from where locate() left it; the pointer of the context is stack
 * [ctx_lo, nst).
 */
static void walk(struct eval *ev, json_t *root, json_t *ctx, size_t ctx_lo,
		 const struct path *p, const struct located *loc,
		 struct walk *w)
{
	size_t base = ev->nst;

	w->lo = p->absolute ? ev->nst : ctx_lo;
	if (loc->bad || (loc->n <= LOC_MAX && !reserve(ev, loc->n))) {
		w->bad = true;
	} else if (loc->n > LOC_MAX) {
		walk_rec(ev, p, 0, origin(root, ctx, p), w);
	} else {
		for (size_t i = 0; i < loc->n; i++)
			push_key(ev, loc->steps[i].key, loc->steps[i].index);
		walk_rec(ev, p, p->first_wild, loc->node, w);
	}
	ev->nst = base;
}

/* ---- operands ---- */

enum opstate { OP_ABSENT, OP_BAD, OP_OK };

struct opval {
	enum opstate state;
	int64_t v;
	json_t *node; /* NULL for a literal */
};

/* Find a single-node operand: false when its path is absent. */
static bool operand_find(const struct eval *ev, json_t *root, json_t *ctx,
			 const struct operand *op, json_t **node)
{
	struct located loc;

	*node = NULL;
	if (!op->present || op->literal)
		return true;
	bool found = locate(ev, root, ctx, &op->path, &loc);
	/* behind a reported node: as good as ill-kinded, already said */
	*node = loc.bad ? NULL : loc.node;
	return found;
}

/* Read a found operand as kind k; reports it if ill-kinded. */
static struct opval operand(struct eval *ev, size_t ctx_lo,
			    const struct operand *op, json_t *node, enum kind k)
{
	struct opval o = {OP_ABSENT, 0, NULL};

	if (op->literal) {
		o.state = OP_OK;
		o.v = op->value;
		return o;
	}
	o.node = node;
	if (o.node == NULL) {
		o.state = OP_BAD; /* found, but behind a reported node */
		return o;
	}
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

static void sum_finish(struct eval *ev, size_t lo, const struct opval *eqp,
		       struct sum_state *sp, bool unknown);

static void eval_sum(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct sum_state s = {0, 0, true};
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
		struct walk w = {sum_visit, &s, 0, false, false};
		walk(ev, root, ctx, lo, &r->items[i], &loc[i], &w);
		bad |= w.bad;
		missing |= w.missing;
	}
	sum_finish(ev, lo, &eq, &s, bad || missing);
}

/* Judge a sum: the context is at stack [lo, nst). */
static void sum_finish(struct eval *ev, size_t lo, const struct opval *eqp,
		       struct sum_state *sp, bool unknown)
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

static void count_finish(struct eval *ev, size_t lo, const struct opval *eqp,
			 const struct count_state *sp, bool unknown);

static void eval_count(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	struct count_state s = {r, 0, false, false};

	struct located loc;
	json_t *eqn;

	if (!locate(ev, root, ctx, &r->items[0], &loc) ||
	    !operand_find(ev, root, ctx, &r->equals, &eqn))
		return;
	struct opval eq = operand(ev, lo, &r->equals, eqn, KIND_INTEGER);
	struct walk w = {count_visit, &s, 0, false, false};
	walk(ev, root, ctx, lo, &r->items[0], &loc, &w);
	count_finish(ev, lo, &eq, &s, w.bad || w.missing);
}

/* Judge a count: the context is at stack [lo, nst). */
static void count_finish(struct eval *ev, size_t lo, const struct opval *eqp,
			 const struct count_state *sp, bool unknown)
{
	const struct rule *r = ev->rule;
	struct opval eq = *eqp;
	struct count_state s = *sp;

	if (eq.state != OP_OK || unknown || s.bad || s.missing)
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
		struct walk w = {within_visit, &s, 0, false, false};
		walk(ev, root, ctx, lo, &r->items[i], &loc, &w);
	}
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

	struct located loc;
	json_t *pern, *startn, *endn;

	if (!locate(ev, root, ctx, &r->items[0], &loc) ||
	    !operand_find(ev, root, ctx, &r->per, &pern) ||
	    !operand_find(ev, root, ctx, &r->days_start, &startn) ||
	    !operand_find(ev, root, ctx, &r->days_end, &endn))
		return;
	if (r->per.present) {
		struct opval per = operand(ev, lo, &r->per, pern, KIND_INTEGER);
		if (per.state != OP_OK)
			s.divisor_ok = false;
		else if (per.v <= 0)
			return;
		s.per = per.v;
	}
	if (r->days_start.present) {
		struct opval a =
		    operand(ev, lo, &r->days_start, startn, KIND_DATE);
		struct opval b = operand(ev, lo, &r->days_end, endn, KIND_DATE);
		if (a.state != OP_OK || b.state != OP_OK)
			s.divisor_ok = false;
		else if (b.v - a.v + 1 <= 0)
			return;
		s.days = b.v - a.v + 1;
	}
	struct walk w = {limit_visit, &s, 0, false, false};
	walk(ev, root, ctx, lo, &r->items[0], &loc, &w);
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
		bool skip = !reserve(ev, p->nseg);

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
	size_t at, len; /* its pointer: arena[at, at + len) */
};

struct unique_state {
	const struct rule *r;
	struct seen *slot;
	size_t cap, n;
	json_t **keyvals;  /* scratch: nkeys values of the item in hand */
	struct seg *arena; /* the pointers of the items seen */
	size_t narena, caparena;
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
		char *first = pointer_segs(s->arena + s->slot[i].at,
					   s->slot[i].len, NULL);
		char desc[128], keys[256];
		size_t len = 0;
		if (r->nkeys == 0) {
			json_describe(node, desc, sizeof(desc));
			add_finding(ev, ptr, NULL, NULL, "%s repeats %s", desc,
				    first);
		} else {
			keys[0] = '\0';
			for (size_t k = 0; k < r->nkeys; k++)
				len += (size_t)snprintf(
				    keys + len,
				    len < sizeof(keys) ? sizeof(keys) - len : 0,
				    "%s%s", k ? ", " : "", r->keys[k].text);
			add_finding(ev, ptr, NULL, NULL, "repeats %s (same %s)",
				    first, keys);
		}
		free(first);
		free(ptr);
		return;
	}
	size_t len = ev->nst - lo;
	if (s->narena + len > s->caparena) {
		size_t cap = (s->narena + len) * 2;
		struct seg *a = realloc(s->arena, cap * sizeof(*a));
		if (a == NULL) {
			ev->oom = 1;
			return;
		}
		s->arena = a;
		s->caparena = cap;
	}
	memcpy(s->arena + s->narena, ev->st + lo, len * sizeof(*s->arena));
	s->slot[i].hash = h;
	s->slot[i].item = node;
	s->slot[i].at = s->narena;
	s->slot[i].len = len;
	s->narena += len;
	s->n++;
}

static void eval_unique(struct eval *ev, json_t *root, json_t *ctx, size_t lo)
{
	const struct rule *r = ev->rule;
	json_t *keyvals[64];
	struct unique_state s = {r, NULL, 0, 0, keyvals, NULL, 0, 0};
	struct located loc;

	if (!locate(ev, root, ctx, &r->items[0], &loc))
		return;
	struct walk w = {unique_visit, &s, 0, false, false};
	walk(ev, root, ctx, lo, &r->items[0], &loc, &w);
	free(s.slot);
	free(s.arena);
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

	struct located loc;

	if (!locate(ev, root, ctx, &r->items[0], &loc))
		return;
	struct walk w = {enum_visit, (void *)r, 0, false, false};
	walk(ev, root, ctx, lo, &r->items[0], &loc, &w);
}

/*
 * Runs: on a large report evaluation is bound by the memory it touches, so
 * a run of consecutive rules that all work inside the elements of one
 * wildcard prefix P (for the default set, "/missions/ *") is evaluated
 * element by element, walking the document once for the run instead of
 * once per rule. Each rule keeps its own findings, appended in rule order
 * afterwards, and within an element the rules go in rule order.
 *
 * This changes nothing only if no rule of the run can report a node that two
 * elements share. Relative paths stay inside their context, and the
 * subtrees of P's elements are disjoint. An absolute path to one node is
 * allowed when that node is absent or already reported, or, outside P's
 * container (where no rule of the run reports anything), when it is of the
 * kind the rule reads (path_safe). A rule that fits none of the roles below
 * ends the run. The fuzz target and tests/unit/test_runs.c check runs
 * against rule-by-rule evaluation on arbitrary input.
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
	json_t **found; /* findings of each rule of the run */
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

static enum role role_of(const struct eval *ev, json_t *root,
			 const struct rule *r, const struct path *prefix,
			 struct path *rest)
{
	if (!r->enabled)
		return ROLE_ALONE; /* evaluates to nothing */
	if (r->has_each) {
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

/* One element's part of a sum, count or unique over all of P. */
static void across_element(struct eval *ev, json_t *root, json_t *elem,
			   size_t lo, struct member *m)
{
	struct located loc;
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
	struct walk w = {fn, ud, 0, false, false};
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
	m->sum = (struct sum_state){0, 0, true};
	m->count = (struct count_state){r, 0, false, false};
	m->uniq = (struct unique_state){r, NULL, 0, 0, m->keyvals, NULL, 0, 0};
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
	free(m->uniq.slot);
	free(m->uniq.arena);
}

/* Evaluate the run on one element of P. */
static void eval_run_element(struct eval *ev, json_t *elem, size_t lo, void *ud)
{
	struct context_state *cs = ud;
	const struct rule *walker = ev->rule;
	json_t *findings = ev->findings;

	for (size_t k = 0; k < cs->nrun; k++) {
		struct member *m = &cs->run[k];
		struct located loc;
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
		ev->findings = cs->found[k];
		if (m->role == ROLE_ACROSS) {
			across_element(ev, cs->root, elem, lo, m);
		} else if (m->role == ROLE_CONTEXT) {
			eval_context(ev, elem, lo, cs);
		} else if (locate(ev, cs->root, elem, &m->rest, &loc)) {
			struct walk w = {
			    m->role == ROLE_DEEP ? eval_context : enum_visit,
			    m->role == ROLE_DEEP ? (void *)cs : (void *)m->rule,
			    0, false, false};
			walk(ev, cs->root, elem, lo, &m->rest, &loc, &w);
		}
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
	for (; len < n && len < 64; len++) {
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

static void eval_run(struct eval *ev, json_t *root, struct member *run,
		     size_t n, const struct path *prefix)
{
	json_t *found[64];
	struct context_state cs = {root, run, n, found};
	json_t *findings = ev->findings;
	struct located loc;

	for (size_t k = 0; k < n; k++) {
		found[k] = json_array();
		if (found[k] == NULL)
			ev->oom = 1;
	}
	/* rules on plain safe paths first: they cannot report a node */
	for (size_t k = 0; k < n && !ev->oom; k++) {
		if (run[k].role != ROLE_ALONE || !run[k].rule->enabled)
			continue;
		ev->rule = run[k].rule;
		ev->findings = found[k];
		eval_context(ev, root, 0, &cs);
	}
	bool p_present = locate(ev, root, root, prefix, &loc);
	for (size_t k = 0; k < n && !ev->oom; k++) {
		if (run[k].role != ROLE_ACROSS)
			continue;
		ev->rule = run[k].rule;
		ev->findings = found[k];
		across_begin(ev, root, &run[k], p_present);
	}
	ev->findings = findings;
	ev->rule = run[0].rule; /* the first to walk P meets it first */
	struct walk w = {eval_run_element, &cs, 0, false, false};
	if (!ev->oom && p_present)
		walk(ev, root, root, 0, prefix, &loc, &w);
	for (size_t k = 0; k < n; k++) {
		if (run[k].role != ROLE_ACROSS)
			continue;
		ev->rule = run[k].rule;
		ev->findings = found[k];
		across_finish(ev, &run[k], w.bad);
	}
	ev->findings = findings;
	for (size_t k = 0; k < n; k++) {
		if (found[k] != NULL &&
		    json_array_extend(ev->findings, found[k]) == -1)
			ev->oom = 1;
		json_decref(found[k]);
	}
}

bool eval_rule_by_rule;

int eval_ruleset(const struct ruleset *rs, json_t *root, json_t *findings,
		 int *errors, int *warnings)
{
	struct eval ev;
	struct context_state cs = {root, NULL, 0, NULL};
	struct member run[64];
	struct path prefix;

	memset(&ev, 0, sizeof(ev));
	ev.findings = findings;
	ev.no_runs = eval_rule_by_rule;
	for (size_t i = 0; i < rs->n && !ev.oom;) {
		const struct rule *r = &rs->rules[i];
		ev.nst = 0;
		if (!r->enabled) {
			i++;
			continue;
		}
		size_t n = r->has_each && !ev.no_runs
			       ? form_run(&ev, root, r, rs->n - i, run, &prefix)
			       : 0;
		if (n > 0) {
			eval_run(&ev, root, run, n, &prefix);
			i += n;
			continue;
		}
		i++;
		ev.rule = r;
		if (!r->has_each) {
			eval_context(&ev, root, 0, &cs);
			continue;
		}
		struct located loc;
		if (!locate(&ev, root, root, &r->each, &loc))
			continue;
		struct walk w = {eval_context, &cs, 0, false, false};
		walk(&ev, root, root, 0, &r->each, &loc, &w);
	}
	free(ev.reported.slot);
	strset_free(&ev.reported_at);
	free(ev.st);
	*errors = ev.errors;
	*warnings = ev.warnings;
	return ev.oom ? -1 : 0;
}
