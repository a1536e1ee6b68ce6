/*
 * walk.h - the machinery every rule type and the run evaluator share
 * (internal to rules/): the evaluation state, the stack that holds the
 * concrete pointer of the node in hand, following and walking compiled
 * paths, reading operands, and reporting findings and ill-kinded nodes once
 * per document (docs/rules.md "Applicability").
 *
 * Pointers are always described as "stack entries [lo, nst) plus the plain
 * segments of a path p": lo is where the context's (or the walk's) pointer
 * starts on the stack, so that an absolute path starts at lo = nst.
 */
#ifndef EXPENSED_WALK_H
#define EXPENSED_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../common/i18n.h"
#include "../common/strmap.h"
#include "eval.h"
#include "ruleset.h"

/* One step of a concrete pointer: an object key, or an array index. */
struct seg {
	const char *key; /* NULL: array index */
	size_t index;
};

/* The non-singleton nodes reported as ill-kinded, by address. */
struct ptrset {
	const json_t **slot;
	size_t cap; /* power of two, or 0 */
	size_t n;
};

/*
 * The time budget of an evaluation (eval_ruleset_timed): the work done is
 * counted in steps (a node walked to, a probe in a table, a finding, some
 * bytes of a pointer built) and the clock is read every BUDGET_STEPS.
 */
struct budget {
	long long deadline_ns; /* on the monotonic clock */
	size_t left;	       /* steps until the next look at the clock */
	bool spent;
};

#define BUDGET_STEPS 4096

/* Look at the clock (left has run out); true when the budget is spent. */
bool budget_check(struct budget *b);

/* The state of one evaluation of a rule set on one document. */
struct eval {
	const struct rule *rule; /* the rule whose findings are being made */
	struct finding_list *findings; /* where they are appended */
	int errors, warnings;
	/*
	 * The bound on findings listed (eval_ruleset_bounded): the ones
	 * stored, in every list, are always the first ones of the order, and
	 * never more than max_listed. In a run (runs.c) each rule has its own
	 * list, run_lists[0, run_n), the lists being concatenated in that
	 * order afterwards; findings is then one of them.
	 */
	size_t max_listed;
	size_t listed; /* findings stored */
	size_t made;   /* findings made, stored or not */
	struct finding_list *run_lists;
	size_t run_n;
	int oom; /* memory ran out: the evaluation fails */
	struct ptrset reported;
	/* the singletons (null, true, false: shared by Jansson, told apart by
	 * where they are) reported as ill-kinded, by pointer text */
	struct strmap reported_at;
	struct seg *st; /* the walk stack */
	size_t nst, capst;
	bool no_runs;	       /* rule by rule only (tests compare the two) */
	struct budget *budget; /* NULL: no deadline */
	enum lang lang;	       /* of the messages (judge_opts) */
	/* the report's currency when not the euro (report_currency()): in
	 * French, amounts of messages are written in it */
	const char *currency;
};

/* Count n steps of work; true when the time budget is spent or memory ran
 * out (then every walk stops at once and no rule is started: the
 * evaluation fails). */
static inline bool spend(const struct eval *ev, size_t n)
{
	struct budget *b = ev->budget;

	if (ev->oom)
		return true;
	if (b == NULL)
		return false;
	if (b->left > n) {
		b->left -= n;
		return b->spent;
	}
	return budget_check(b);
}

/*
 * The language of messages: TR(ev, "text") is text in ev's language,
 * NTR(ev, one, many, n) its plural for n, CTR(ev, rule id, "text") the
 * rule's own sentence or NULL, NCTR its plural (common/i18n.h). make pot knows
 * these names.
 */
#define TR(ev, s) i18n_tr((ev)->lang, s)
#define NTR(ev, one, many, n) i18n_ntr((ev)->lang, one, many, n)
#define CTR(ev, ctx, s) i18n_ctx((ev)->lang, ctx, s)
#define NCTR(ev, ctx, one, many, n) i18n_nctx((ev)->lang, ctx, one, many, n)

/* A day number, an amount in cents, as people read them in ev's language
 * (dates YYYY-MM-DD or DD/MM/YYYY, amounts 1234.50 or 1 234,50 €). */
char *msg_date(const struct eval *ev, int64_t day, char *buf, size_t size);
char *msg_amount(const struct eval *ev, int64_t cents, char *buf, size_t size);

/* Free the sets and the stack of ev (not its findings). */
void eval_release(struct eval *ev);

/* ---- the stack ---- */

/*
 * Room for n more entries on the stack; false (and ev->oom set) when memory
 * runs out. Every push is preceded by a reserve.
 */
bool reserve(struct eval *ev, size_t n);

/* Push a step (key NULL: array element index); room must be reserved. */
void push_key(struct eval *ev, const char *key, size_t index);

/* ---- pointers (RFC 6901, keys escaped) ---- */

/*
 * The pointer of segs[0, n), then of the segments [from, nseg) of the plain
 * path p (NULL for none). Caller frees; NULL when memory runs out.
 */
char *pointer_segs(const struct seg *segs, size_t n, const struct path *p,
		   size_t from);

/*
 * The pointer of segs[0, n) as a message quotes it: each key cut after
 * QUOTE_MAX bytes (value.h), as strings from the report are (one key can be as
 * long as the file, and a message that names it may be made for every item).
 * Caller frees; NULL when memory runs out.
 */
char *pointer_quoted(const struct seg *segs, size_t n);

/* The pointer of stack [lo, nst) plus the plain path p (NULL for none). */
char *pointer(const struct eval *ev, size_t lo, const struct path *p);

/* The same, with only the segments [from, nseg) of p. */
char *pointer_tail(const struct eval *ev, size_t lo, const struct path *p,
		   size_t from);

/* ---- the reported set and findings ---- */

/* Was node, at stack [lo, nst) + p, reported as ill-kinded already? */
bool reported(const struct eval *ev, const json_t *node, size_t lo,
	      const struct path *p);

/* The same for a container met while stepping (never a singleton). */
bool reported_node(const struct eval *ev, const json_t *node);

/*
 * Count a finding of ev->rule at path, its message "<rule message>: " and
 * fmt (whole: what fmt quotes from the report is cut by its caller, to
 * QUOTE_MAX bytes a string or key), and list it when it is among the first
 * ev->max_listed (see struct eval). A NULL path
 * (a pointer that could not be built) sets ev->oom.
 */
void add_finding(struct eval *ev, const char *path, const char *expected,
		 const char *actual, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The same for a finding whose expected and actual values are not the
 * engine's computed ones (enum finding_values, engine.h). */
void add_finding_as(struct eval *ev, enum finding_values values,
		    const char *path, const char *expected, const char *actual,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * Report node (at pointer path) as "expected <what>, found <node>", unless
 * it was reported before; remembers it. what is English, marked N_, and
 * translated here. A NULL path sets ev->oom.
 */
void report_ill(struct eval *ev, const json_t *node, const char *path,
		const char *what);

/* ---- kinds ---- */

/* Does node read as kind k? 0 with *v (when v is not NULL), or -1. */
int read_kind(const json_t *node, enum kind k, int64_t *v);

/* "a non-empty string", "an amount", ...: the English text (N_), for
 * TR. */
const char *kind_text(enum kind k);

/*
 * Check that node (at stack [lo, nst) + path p) is of kind k. Returns 0 with
 * *v, or -1 when it is ill-kinded (reported now, or before).
 */
int check_kind(struct eval *ev, const json_t *node, enum kind k, int64_t *v,
	       size_t lo, const struct path *p);

/* ---- following paths ---- */

/*
 * One step from node by key (an object member, or an array index written
 * in decimal); *index gets the index. NULL when absent or key is a `*`.
 */
json_t *step(json_t *node, const char *key, size_t *index);

/* Follow segments [0, upto) of p from start; NULL when absent. */
json_t *follow(json_t *start, const struct path *p, size_t upto);

/* The node a path starts from: root for an absolute path, else ctx. */
json_t *origin(json_t *root, json_t *ctx, const struct path *p);

/* The last key of p, or its text (names the items in messages). */
const char *last_key(const struct path *p);

#define LOC_MAX 16

/*
 * Where a path's part before the first `*` leads (for a plain path: its
 * node), with the steps taken, so that the walk that follows neither looks
 * the prefix up again nor loses its pointer.
 */
struct located {
	json_t *node; /* NULL: absent */
	bool bad;     /* passed through a node reported as ill-kinded */
	size_t n;     /* steps recorded, or LOC_MAX + 1 when too many */
	struct seg steps[LOC_MAX];
};

/* Locate p from root or ctx into *loc; false when it is absent. */
bool locate(const struct eval *ev, json_t *root, json_t *ctx,
	    const struct path *p, struct located *loc);

/* Called on each node a walk reaches; its pointer is stack [lo, nst). */
typedef void (*visit_fn)(struct eval *ev, json_t *node, size_t lo, void *ud);

struct walk {
	visit_fn fn;
	void *ud;
	size_t lo;    /* set by walk(): where its pointer starts */
	bool missing; /* a match lacked a segment after a `*` */
	bool bad;     /* met an ill-kinded node (or memory ran out) */
};

#define WALK_INIT(fn, ud)                                                      \
	{                                                                      \
		(fn), (ud), 0, false, false                                    \
	}

/*
 * Walk p from where locate() left it, calling w->fn on every node it
 * matches, in document order; the pointer of the context is stack
 * [ctx_lo, nst). The stack is as before on return.
 */
void walk(struct eval *ev, json_t *root, json_t *ctx, size_t ctx_lo,
	  const struct path *p, const struct located *loc, struct walk *w);

/* ---- operands (a literal, or a path to a single node) ---- */

enum opstate { OP_ABSENT, OP_BAD, OP_OK };

struct opval {
	enum opstate state;
	int64_t v;
	json_t *node; /* NULL for a literal */
};

#define OPVAL_INIT                                                             \
	{                                                                      \
		OP_ABSENT, 0, NULL                                             \
	}

/*
 * Find a single-node operand: false when its path is absent. *node is NULL
 * for a literal, an absent operand, or one behind a reported node.
 */
bool operand_find(const struct eval *ev, json_t *root, json_t *ctx,
		  const struct operand *op, json_t **node);

/* Read an operand found by operand_find as kind k; reports it if
 * ill-kinded. */
struct opval operand(struct eval *ev, size_t ctx_lo, const struct operand *op,
		     json_t *node, enum kind k);

/* Pointer of an operand's node, or of the context for a literal. */
char *operand_pointer(struct eval *ev, size_t ctx_lo, const struct operand *op);

/* "the literal", or the operand's path as written. */
const char *operand_name(const struct operand *op);

/* The same in ev's language ("the literal" translated; a path never is). */
const char *operand_text(const struct eval *ev, const struct operand *op);

#endif
