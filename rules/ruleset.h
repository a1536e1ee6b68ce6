/*
 * ruleset.h - the compiled form of a rule set (docs/rules.md), shared by the
 * parser (ruleset.c, rule_parse.c) and the evaluator (eval.c). Not part of
 * the public API: callers use engine.h.
 */
#ifndef EXPENSED_RULESET_H
#define EXPENSED_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h" /* enum severity */
#include "path.h"

enum rule_type {
	RULE_SUM,
	RULE_COUNT,
	RULE_WITHIN,
	RULE_ORDER,
	RULE_LIMIT,
	RULE_REQUIRED,
	RULE_UNIQUE,
	RULE_ENUM,
};

/* What an operand or a field must be. */
enum kind {
	KIND_STRING, /* a non-empty string (required) or any string (where) */
	KIND_INTEGER,
	KIND_AMOUNT,
	KIND_DATE,
	KIND_ARRAY,
	KIND_OBJECT,
	KIND_BOOLEAN,
	KIND_ANY, /* any value but null (unique keys) */
};

/* A key that takes a single node: a literal or a path without `*`. */
struct operand {
	bool present;
	bool literal;
	int64_t value; /* the literal: cents, day number or integer */
	struct path path;
};

struct field {
	struct path path;
	enum kind kind;
};

struct rule {
	char *id;
	char *file;
	int line;
	enum rule_type type;
	enum severity severity;
	bool enabled;
	char *message; /* NULL if none */
	bool has_each;
	struct path each;

	struct path *items; /* sum, count, within, unique, enum; limit value */
	size_t nitems;
	struct operand equals; /* sum, count */
	int64_t tolerance;     /* sum, cents */
	bool has_where;	       /* count */
	struct path where_field;
	char *where_value;
	struct operand from, to;	     /* within */
	int64_t slack;			     /* within, days */
	struct operand first, second;	     /* order */
	struct operand per;		     /* limit */
	struct operand days_start, days_end; /* limit per_days */
	bool has_min, has_max;		     /* limit */
	int64_t min, max;		     /* limit, cents */
	struct field *fields;		     /* required */
	size_t nfields;
	struct path *keys; /* unique */
	size_t nkeys;
	char **values; /* enum */
	size_t nvalues;
};

struct ruleset {
	struct rule *rules;
	size_t n;
	char sha256[65];
};

const char *kind_name(enum kind k);

#endif
