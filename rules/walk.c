/*
 * walk.c - following compiled paths through a document (walk.h). Each rule
 * walks its paths once per context while the stack keeps the concrete
 * pointer of the node in hand, so evaluation stays linear in the document
 * and a pointer is only built when a finding needs one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/strbuf.h"
#include "../common/utf8.h"
#include "value.h"
#include "walk.h"

bool reserve(struct eval *ev, size_t n)
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

void push_key(struct eval *ev, const char *key, size_t index)
{
	ev->st[ev->nst].key = key;
	ev->st[ev->nst].index = index;
	ev->nst++;
}

/* Append "/" and key, escaped as RFC 6901 says (~ as ~0, / as ~1); with
 * max, only its first max bytes (whole characters) and "..." when it is
 * longer, without reading further. */
static void sb_key(struct strbuf *sb, const char *key, size_t max)
{
	size_t len = max ? strnlen(key, max + 1) : strlen(key);
	size_t cut = max ? utf8_cut(key, len, max) : len;

	sb_addc(sb, '/');
	for (size_t i = 0; i < cut; i++) {
		if (key[i] == '~')
			sb_add(sb, "~0", 2);
		else if (key[i] == '/')
			sb_add(sb, "~1", 2);
		else
			sb_addc(sb, key[i]);
	}
	if (cut < len)
		sb_adds(sb, "...");
}

/* The pointer of segs[0, n) then of the segments [from, nseg) of p, each
 * key cut after max bytes (0: whole). */
static char *pointer_build(const struct seg *segs, size_t n,
			   const struct path *p, size_t from, size_t max)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		if (segs[i].key != NULL)
			sb_key(&sb, segs[i].key, max);
		else
			sb_addf(&sb, "/%zu", segs[i].index);
	}
	for (size_t i = from; p != NULL && i < p->nseg; i++)
		sb_key(&sb, p->seg[i].key, max);
	return sb_detach(&sb, NULL);
}

char *pointer_segs(const struct seg *segs, size_t n, const struct path *p,
		   size_t from)
{
	return pointer_build(segs, n, p, from, 0);
}

char *pointer_quoted(const struct seg *segs, size_t n)
{
	return pointer_build(segs, n, NULL, 0, QUOTE_MAX);
}

char *pointer_tail(const struct eval *ev, size_t lo, const struct path *p,
		   size_t from)
{
	/* the stack may still be unallocated (NULL) when empty */
	char *ptr = pointer_segs(ev->nst > lo ? ev->st + lo : NULL,
				 ev->nst - lo, p, from);

	/* a pointer costs its length: keys can be long */
	if (ptr != NULL)
		spend(ev, 1 + strlen(ptr) / 64);
	return ptr;
}

char *pointer(const struct eval *ev, size_t lo, const struct path *p)
{
	return pointer_tail(ev, lo, p, 0);
}

json_t *step(json_t *node, const char *key, size_t *index)
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

json_t *follow(json_t *start, const struct path *p, size_t upto)
{
	json_t *node = start;
	size_t index;

	for (size_t i = 0; i < upto && node != NULL; i++)
		node = step(node, p->seg[i].key, &index);
	return node;
}

json_t *origin(json_t *root, json_t *ctx, const struct path *p)
{
	return p->absolute ? root : ctx;
}

const char *last_key(const struct path *p)
{
	for (size_t i = p->nseg; i > 0; i--)
		if (p->seg[i - 1].key != NULL)
			return p->seg[i - 1].key;
	return p->text;
}

bool locate(const struct eval *ev, json_t *root, json_t *ctx,
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

static void walk_rec(struct eval *ev, const struct path *p, size_t i,
		     json_t *node, struct walk *w);

/* A `*` of p at segment i: every member or element of node. */
static void walk_wild(struct eval *ev, const struct path *p, size_t i,
		      json_t *node, struct walk *w)
{
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
		report_ill(ev, node, ptr, N_("an array or an object"));
		free(ptr);
		w->bad = true;
	}
}

static void walk_rec(struct eval *ev, const struct path *p, size_t i,
		     json_t *node, struct walk *w)
{
	if (spend(ev, 1)) { /* out of time: the judgement is dropped */
		w->bad = true;
		return;
	}
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
	if (p->seg[i].key == NULL) {
		walk_wild(ev, p, i, node, w);
		return;
	}
	size_t index = 0;
	json_t *child = step(node, p->seg[i].key, &index);
	if (child == NULL) {
		w->missing = true;
		return;
	}
	push_key(ev, json_is_array(node) ? NULL : p->seg[i].key, index);
	walk_rec(ev, p, i + 1, child, w);
	ev->nst--;
}

void walk(struct eval *ev, json_t *root, json_t *ctx, size_t ctx_lo,
	  const struct path *p, const struct located *loc, struct walk *w)
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

bool operand_find(const struct eval *ev, json_t *root, json_t *ctx,
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

struct opval operand(struct eval *ev, size_t ctx_lo, const struct operand *op,
		     json_t *node, enum kind k)
{
	struct opval o = OPVAL_INIT;

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

char *operand_pointer(struct eval *ev, size_t ctx_lo, const struct operand *op)
{
	if (op->literal)
		return pointer(ev, ctx_lo, NULL);
	return pointer(ev, op->path.absolute ? ev->nst : ctx_lo, &op->path);
}

const char *operand_name(const struct operand *op)
{
	return op->literal ? "the literal" : op->path.text;
}

const char *operand_text(const struct eval *ev, const struct operand *op)
{
	return op->literal ? TR(ev, "the literal") : op->path.text;
}
