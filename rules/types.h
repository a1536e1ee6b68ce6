/*
 * types.h - the eight rule types of docs/rules.md (internal to rules/; types.c
 * and aggregate.c). Each evaluates ev->rule in one context; the run
 * evaluator (runs.c) also drives the aggregates (sum, count, unique)
 * element by element across a run, so their state, visit and finish steps
 * are shared here.
 */
#ifndef EXPENSED_TYPES_H
#define EXPENSED_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "walk.h"

/*
 * Evaluate ev->rule in the context ctx, whose pointer is stack [lo, nst)
 * (root and lo 0 for a rule without `each`).
 */
void eval_rule_in(struct eval *ev, json_t *root, json_t *ctx, size_t lo);

/* The aggregates of aggregate.c, as eval_rule_in calls them. */
void eval_sum(struct eval *ev, json_t *root, json_t *ctx, size_t lo);
void eval_count(struct eval *ev, json_t *root, json_t *ctx, size_t lo);
void eval_unique(struct eval *ev, json_t *root, json_t *ctx, size_t lo);

/* sum: the items added so far; n is (size_t)-1 once one is ill-kinded. */
struct sum_state {
	__int128 sum;
	size_t n;
	bool all_int; /* every item a JSON integer: messages without cents */
};

#define SUM_STATE_INIT                                                         \
	{                                                                      \
		0, 0, true                                                     \
	}

/* Visit one item of a sum (ud: struct sum_state). */
void sum_visit(struct eval *ev, json_t *node, size_t lo, void *ud);

/*
 * Judge a sum against its equals operand eq; the context is at stack
 * [lo, nst). unknown: an item was absent or ill-kinded (no verdict).
 */
void sum_finish(struct eval *ev, size_t lo, const struct opval *eq,
		const struct sum_state *s, bool unknown);

/* count: the items counted so far. */
struct count_state {
	const struct rule *r;
	int64_t n;
	bool bad, missing; /* a `where` field was ill-kinded, or absent */
};

/* Visit one item of a count (ud: struct count_state). */
void count_visit(struct eval *ev, json_t *node, size_t lo, void *ud);

/* Judge a count as sum_finish does a sum. */
void count_finish(struct eval *ev, size_t lo, const struct opval *eq,
		  const struct count_state *s, bool unknown);

/* unique: a hash table of the items seen in this context. */
struct seen {
	uint64_t hash;
	json_t *item;
	size_t at, len; /* its pointer: arena[at, at + len) */
};

struct unique_state {
	const struct rule *r;
	struct seen *slot;
	size_t cap, n;
	json_t **keyvals;  /* scratch: r->nkeys values of the item in hand */
	struct seg *arena; /* the pointers of the items seen */
	size_t narena, caparena;
};

/* An empty state for rule r; keyvals has room for r->nkeys (<= 64). */
#define UNIQUE_STATE_INIT(r, keyvals)                                          \
	{                                                                      \
		(r), NULL, 0, 0, (keyvals), NULL, 0, 0                         \
	}

/* Visit one item of a unique (ud: struct unique_state): a repeat of an
 * item seen before is reported at once. */
void unique_visit(struct eval *ev, json_t *node, size_t lo, void *ud);

/* Free what a unique_state holds. */
void unique_release(struct unique_state *s);

/* Visit one item of an enum (ud: the rule). */
void enum_visit(struct eval *ev, json_t *node, size_t lo, void *ud);

#endif
