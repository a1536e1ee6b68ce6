/*
 * rule_parse.c - compiling one [rule.id] section, its keys already read by
 * ruleset.c, into a struct rule: which keys each type takes, operands
 * (literal or path), lists, kinds. Every problem is reported with its line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_parse.h"
#include "value.h"

struct compiler {
	const char *file;
	struct diag *diag;
	int errors;
	const struct section *sec;
	struct rule *r;
	bool typed; /* r->type is the rule's: its type was given and known */
};

static void perr(struct compiler *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct compiler *c, int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	diag_at(c->diag, c->file, line, "%s", buf);
	c->errors++;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
			 s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* ---- compiling one section into a rule ---- */

static const char *type_names[] = {"sum",   "count",	"within", "order",
				   "limit", "required", "unique", "enum"};

static const struct entry *find(const struct section *sec, const char *key)
{
	for (size_t i = 0; i < sec->n; i++)
		if (strcmp(sec->e[i].key, key) == 0)
			return &sec->e[i];
	return NULL;
}

/* Split a comma-separated list in place; returns the count (<= max). An
 * empty element is an error (-1). */
static int split_list(char *s, char **out, int max)
{
	int n = 0;
	for (;;) {
		char *comma = strchr(s, ',');
		if (comma)
			*comma = '\0';
		char *item = trim(s);
		if (*item == '\0' || n == max)
			return -1;
		out[n++] = item;
		if (comma == NULL)
			return n;
		s = comma + 1;
	}
}

static bool looks_literal(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '.')
		s++;
	return *s >= '0' && *s <= '9';
}

static int compile_path(struct compiler *c, const struct entry *e,
			const char *text, bool wild_ok, struct path *out)
{
	const char *why = NULL;

	if (path_compile(text, out, &why) == -1) {
		perr(c, e->line, "bad path '%s' in '%s': %s", text, e->key,
		     why);
		return -1;
	}
	if (!wild_ok && path_has_wildcard(out)) {
		perr(c, e->line,
		     "bad path '%s' in '%s': it takes a single node, no '*'",
		     text, e->key);
		path_free(out);
		return -1;
	}
	return 0;
}

static int parse_literal(const char *s, enum kind kind, int64_t *v)
{
	char *end;

	switch (kind) {
	case KIND_AMOUNT:
		return amount_parse(s, v);
	case KIND_DATE:
		return date_parse(s, v);
	case KIND_INTEGER:
		if (!((*s >= '0' && *s <= '9') || *s == '-'))
			return -1;
		errno = 0;
		*v = strtoll(s, &end, 10);
		return errno == 0 && *end == '\0' && end != s ? 0 : -1;
	default:
		return -1;
	}
}

static int compile_operand(struct compiler *c, const struct entry *e,
			   const char *text, enum kind kind, struct operand *op)
{
	op->present = true;
	if (looks_literal(text)) {
		op->literal = true;
		if (parse_literal(text, kind, &op->value) == -1) {
			perr(c, e->line,
			     "bad literal '%s' in '%s' (expected %s %s)", text,
			     e->key,
			     kind == KIND_INTEGER || kind == KIND_AMOUNT ? "an"
									 : "a",
			     kind_name(kind));
			return -1;
		}
		return 0;
	}
	return compile_path(c, e, text, false, &op->path);
}

static int compile_paths(struct compiler *c, const struct entry *e,
			 struct path **out, size_t *n, int max, bool wild_ok)
{
	char *buf = strdup(e->value);
	char *list[64];
	int cnt;
	int rc = -1;

	if (buf == NULL)
		return -1;
	/* a rule without a type checks both items and value, which fill the
	 * same list: the second replaces the first */
	for (size_t i = 0; *out != NULL && i < *n; i++)
		path_free(&(*out)[i]);
	free(*out);
	*out = NULL;
	*n = 0;
	cnt = split_list(buf, list, max < 64 ? max : 64);
	if (cnt < 0) {
		perr(c, e->line, "bad list in '%s': %s", e->key,
		     max == 1 ? "exactly one path expected"
			      : "empty element or too many elements");
		goto out;
	}
	*out = calloc((size_t)cnt, sizeof(**out));
	if (*out == NULL)
		goto out;
	for (int i = 0; i < cnt; i++) {
		if (looks_literal(list[i])) {
			perr(c, e->line,
			     "bad path '%s' in '%s': a path is expected, not a "
			     "literal",
			     list[i], e->key);
			goto out;
		}
		if (compile_path(c, e, list[i], wild_ok, &(*out)[i]) == -1)
			goto out;
		(*n)++;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static int compile_fields(struct compiler *c, const struct entry *e)
{
	static const struct {
		const char *name;
		enum kind kind;
	} kinds[] = {{"string", KIND_STRING},  {"integer", KIND_INTEGER},
		     {"amount", KIND_AMOUNT},  {"date", KIND_DATE},
		     {"array", KIND_ARRAY},    {"object", KIND_OBJECT},
		     {"boolean", KIND_BOOLEAN}};
	struct rule *r = c->r;
	char *buf = strdup(e->value);
	char *list[64];
	int rc = -1;

	if (buf == NULL)
		return -1;
	int cnt = split_list(buf, list, 64);
	if (cnt < 0) {
		perr(c, e->line,
		     "bad list in 'fields': empty element or more than 64");
		goto out;
	}
	r->fields = calloc((size_t)cnt, sizeof(*r->fields));
	if (r->fields == NULL)
		goto out;
	for (int i = 0; i < cnt; i++) {
		char *colon = strrchr(list[i], ':');
		size_t k;
		if (colon == NULL) {
			perr(c, e->line, "bad field '%s' (expected path:kind)",
			     list[i]);
			goto out;
		}
		*colon = '\0';
		const char *kind = trim(colon + 1);
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (strcmp(kinds[k].name, kind) == 0)
				break;
		if (k == sizeof(kinds) / sizeof(kinds[0])) {
			perr(
			    c, e->line,
			    "bad field '%s:%s': unknown kind (expected string, "
			    "integer, amount, date, array, object or boolean)",
			    trim(list[i]), kind);
			goto out;
		}
		if (compile_path(c, e, trim(list[i]), false,
				 &r->fields[i].path) == -1)
			goto out;
		r->fields[i].kind = kinds[k].kind;
		r->nfields++;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static int compile_values(struct compiler *c, const struct entry *e)
{
	struct rule *r = c->r;
	char *buf = strdup(e->value);
	char *list[256];
	int rc = -1;

	if (buf == NULL)
		return -1;
	int cnt = split_list(buf, list, 256);
	if (cnt < 0) {
		perr(c, e->line,
		     "bad list in 'values': empty element or more than 256");
		goto out;
	}
	r->values = calloc((size_t)cnt, sizeof(*r->values));
	if (r->values == NULL)
		goto out;
	for (int i = 0; i < cnt; i++) {
		r->values[i] = strdup(list[i]);
		if (r->values[i] == NULL)
			goto out;
		r->nvalues++;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static int compile_where(struct compiler *c, const struct entry *e)
{
	struct rule *r = c->r;
	char *buf = strdup(e->value);
	int rc = -1;

	if (buf == NULL)
		return -1;
	char *eq = strchr(buf, '=');
	if (eq == NULL) {
		perr(c, e->line, "bad where '%s' (expected field=value)",
		     e->value);
		goto out;
	}
	*eq = '\0';
	char *field = trim(buf), *value = trim(eq + 1);
	if (*field == '\0' || *value == '\0') {
		perr(c, e->line, "bad where '%s' (expected field=value)",
		     e->value);
		goto out;
	}
	if (compile_path(c, e, field, false, &r->where_field) == -1)
		goto out;
	r->where_value = strdup(value);
	r->has_where = r->where_value != NULL;
	rc = r->has_where ? 0 : -1;
out:
	free(buf);
	return rc;
}

static int compile_per_days(struct compiler *c, const struct entry *e)
{
	char *buf = strdup(e->value);
	char *list[2];
	int rc = -1;

	if (buf == NULL)
		return -1;
	if (split_list(buf, list, 2) != 2) {
		perr(c, e->line, "bad per_days '%s' (expected 'start, end')",
		     e->value);
		goto out;
	}
	if (compile_operand(c, e, list[0], KIND_DATE, &c->r->days_start) ==
		-1 ||
	    compile_operand(c, e, list[1], KIND_DATE, &c->r->days_end) == -1)
		goto out;
	rc = 0;
out:
	free(buf);
	return rc;
}

static int compile_amount_key(struct compiler *c, const struct entry *e,
			      int64_t *v, bool non_negative)
{
	if (amount_parse(e->value, v) == -1 || (non_negative && *v < 0)) {
		perr(c, e->line, "bad literal '%s' in '%s' (expected %s)",
		     e->value, e->key,
		     non_negative ? "a non-negative amount" : "an amount");
		return -1;
	}
	return 0;
}

static int compile_each(struct compiler *c, const struct entry *e)
{
	if (compile_path(c, e, e->value, true, &c->r->each) == -1)
		return -1;
	c->r->has_each = true;
	return 0;
}

static int compile_severity(struct compiler *c, const struct entry *e)
{
	static const char *const names[] = {[SEV_ERROR] = "error",
					    [SEV_WARNING] = "warning",
					    [SEV_INFO] = "info"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(e->value, names[i]) == 0) {
			c->r->severity = (enum severity)i;
			return 0;
		}
	}
	perr(c, e->line, "bad severity '%s' (expected error, warning or info)",
	     e->value);
	return -1;
}

static int compile_enabled(struct compiler *c, const struct entry *e)
{
	if (strcmp(e->value, "yes") == 0)
		c->r->enabled = true;
	else if (strcmp(e->value, "no") == 0)
		c->r->enabled = false;
	else {
		perr(c, e->line, "bad enabled '%s' (expected yes or no)",
		     e->value);
		return -1;
	}
	return 0;
}

static int compile_message(struct compiler *c, const struct entry *e)
{
	free(c->r->message);
	c->r->message = strdup(e->value);
	return c->r->message ? 0 : -1;
}

static int compile_items(struct compiler *c, const struct entry *e)
{
	struct rule *r = c->r;
	/* without a type, only the paths are checked, not their number */
	int max =
	    !c->typed || r->type == RULE_SUM || r->type == RULE_WITHIN ? 64 : 1;

	return compile_paths(c, e, &r->items, &r->nitems, max, true);
}

static int compile_value(struct compiler *c, const struct entry *e)
{
	return compile_paths(c, e, &c->r->items, &c->r->nitems, 1, true);
}

static int compile_key(struct compiler *c, const struct entry *e)
{
	return compile_paths(c, e, &c->r->keys, &c->r->nkeys, 64, false);
}

static int compile_equals(struct compiler *c, const struct entry *e)
{
	enum kind kind = c->r->type == RULE_SUM ? KIND_AMOUNT : KIND_INTEGER;

	/* a literal's kind is the type's: without a type, a path only */
	if (!c->typed && looks_literal(e->value))
		return 0;

	return compile_operand(c, e, e->value, kind, &c->r->equals);
}

static int compile_tolerance(struct compiler *c, const struct entry *e)
{
	return compile_amount_key(c, e, &c->r->tolerance, true);
}

static int compile_from(struct compiler *c, const struct entry *e)
{
	return compile_operand(c, e, e->value, KIND_DATE, &c->r->from);
}

static int compile_to(struct compiler *c, const struct entry *e)
{
	return compile_operand(c, e, e->value, KIND_DATE, &c->r->to);
}

static int compile_slack(struct compiler *c, const struct entry *e)
{
	int64_t v;

	if (parse_literal(e->value, KIND_INTEGER, &v) == -1 || v < 0 ||
	    v > 3660000) {
		perr(c, e->line,
		     "bad literal '%s' in 'slack' (expected a number of days, "
		     "0 or more)",
		     e->value);
		return -1;
	}
	c->r->slack = v;
	return 0;
}

static int compile_first(struct compiler *c, const struct entry *e)
{
	return compile_operand(c, e, e->value, KIND_DATE, &c->r->first);
}

static int compile_second(struct compiler *c, const struct entry *e)
{
	return compile_operand(c, e, e->value, KIND_DATE, &c->r->second);
}

static int compile_per(struct compiler *c, const struct entry *e)
{
	return compile_operand(c, e, e->value, KIND_INTEGER, &c->r->per);
}

static int compile_min(struct compiler *c, const struct entry *e)
{
	c->r->has_min = true;
	return compile_amount_key(c, e, &c->r->min, false);
}

static int compile_max(struct compiler *c, const struct entry *e)
{
	c->r->has_max = true;
	return compile_amount_key(c, e, &c->r->max, false);
}

/* Every key a rule may have, the types it applies to, how it is read. */
struct keyspec {
	const char *name;
	unsigned types; /* bit per rule_type; ~0u = all */
	int (*compile)(struct compiler *c, const struct entry *e);
};

#define T(x) (1u << RULE_##x)
static const struct keyspec keyspecs[] = {
    {"type", ~0u, NULL}, /* read first, by compile_type */
    {"each", ~0u, compile_each},
    {"severity", ~0u, compile_severity},
    {"message", ~0u, compile_message},
    {"enabled", ~0u, compile_enabled},
    {"items", T(SUM) | T(COUNT) | T(WITHIN) | T(UNIQUE) | T(ENUM),
     compile_items},
    {"equals", T(SUM) | T(COUNT), compile_equals},
    {"tolerance", T(SUM), compile_tolerance},
    {"where", T(COUNT), compile_where},
    {"from", T(WITHIN), compile_from},
    {"to", T(WITHIN), compile_to},
    {"slack", T(WITHIN), compile_slack},
    {"first", T(ORDER), compile_first},
    {"second", T(ORDER), compile_second},
    {"value", T(LIMIT), compile_value},
    {"per", T(LIMIT), compile_per},
    {"per_days", T(LIMIT), compile_per_days},
    {"min", T(LIMIT), compile_min},
    {"max", T(LIMIT), compile_max},
    {"fields", T(REQUIRED), compile_fields},
    {"key", T(UNIQUE), compile_key},
    {"values", T(ENUM), compile_values},
};

/* Which operands each type cannot do without. */
static const char *const required_keys[][3] = {
    [RULE_SUM] = {"items", "equals", NULL},
    [RULE_COUNT] = {"items", "equals", NULL},
    [RULE_WITHIN] = {"items", "from", "to"},
    [RULE_ORDER] = {"first", "second", NULL},
    [RULE_LIMIT] = {"value", NULL, NULL},
    [RULE_REQUIRED] = {"fields", NULL, NULL},
    [RULE_UNIQUE] = {"items", NULL, NULL},
    [RULE_ENUM] = {"items", "values", NULL},
};

static void report_duplicate_keys(struct compiler *c)
{
	const struct section *sec = c->sec;

	for (size_t i = 0; i < sec->n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(sec->e[i].key, sec->e[j].key) == 0)
				perr(c, sec->e[i].line,
				     "duplicate key '%s' in rule '%s' (first "
				     "at line %d)",
				     sec->e[i].key, sec->id, sec->e[j].line);
}

/* The rule's type into c->r->type and c->typed, which stays false when it
 * is missing or unknown (a refused line is reported already). */
static void compile_type(struct compiler *c)
{
	const struct entry *type = find(c->sec, "type");
	size_t t;

	if (type == NULL) {
		perr(c, c->sec->line, "rule '%s' has no 'type'", c->sec->id);
		return;
	}
	if (type->value == NULL)
		return;
	for (t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++)
		if (strcmp(type_names[t], type->value) == 0)
			break;
	if (t == sizeof(type_names) / sizeof(type_names[0])) {
		perr(c, type->line,
		     "unknown type '%s' (expected sum, count, within, order, "
		     "limit, required, unique or enum)",
		     type->value);
		return;
	}
	c->r->type = (enum rule_type)t;
	c->typed = true;
}

/*
 * Each key once (duplicates are reported already), in file order. Without
 * a type, whether a key applies cannot be told; its value is read as every
 * type that takes it reads it (compile_items, compile_equals).
 */
static void compile_keys(struct compiler *c)
{
	const struct section *sec = c->sec;
	unsigned bit = c->typed ? 1u << c->r->type : ~0u;

	for (size_t i = 0; i < sec->n; i++) {
		const struct entry *e = &sec->e[i];
		size_t k;
		if (find(sec, e->key) != e)
			continue;
		for (k = 0; k < sizeof(keyspecs) / sizeof(keyspecs[0]); k++)
			if (strcmp(keyspecs[k].name, e->key) == 0)
				break;
		if (k == sizeof(keyspecs) / sizeof(keyspecs[0])) {
			perr(c, e->line, "unknown key '%s' in rule '%s'",
			     e->key, sec->id);
			continue;
		}
		if (!(keyspecs[k].types & bit)) {
			perr(c, e->line,
			     "key '%s' does not apply to type '%s' (rule '%s')",
			     e->key, type_names[c->r->type], sec->id);
			continue;
		}
		/* a compiler that fails without a word ran out of memory */
		int errors = c->errors;
		if (keyspecs[k].compile != NULL && e->value != NULL &&
		    keyspecs[k].compile(c, e) == -1 && c->errors == errors)
			perr(c, e->line, "out of memory");
	}
}

/* The operands the type needs, and limit's min and max. */
static void check_operands(struct compiler *c)
{
	const struct section *sec = c->sec;
	const struct rule *r = c->r;
	const char *const *need = required_keys[r->type];

	for (int k = 0; k < 3 && need[k]; k++)
		if (find(sec, need[k]) == NULL)
			perr(c, sec->line,
			     "rule '%s' (%s) is missing operand '%s'", sec->id,
			     type_names[r->type], need[k]);
	if (r->type == RULE_LIMIT && !r->has_min && !r->has_max &&
	    find(sec, "min") == NULL && find(sec, "max") == NULL)
		perr(c, sec->line,
		     "rule '%s' (limit) is missing operand 'min' or 'max'",
		     sec->id);
	if (r->type == RULE_LIMIT && r->has_min && r->has_max &&
	    r->min > r->max) {
		char lo[32], hi[32];
		perr(c, sec->line, "rule '%s' (limit): min %s is above max %s",
		     sec->id, amount_format(r->min, lo, sizeof(lo)),
		     amount_format(r->max, hi, sizeof(hi)));
	}
}

int rule_compile(const char *file, const struct section *sec, struct rule *r,
		 struct diag *diag)
{
	struct compiler c = {file, diag, 0, sec, r, false};

	memset(r, 0, sizeof(*r));
	r->id = strdup(sec->id);
	r->file = strdup(file);
	r->line = sec->line;
	r->enabled = true;
	if (r->id == NULL || r->file == NULL) {
		diag_at(diag, file, sec->line, "out of memory");
		return 1;
	}
	report_duplicate_keys(&c);
	compile_type(&c);
	compile_keys(&c);
	if (c.typed)
		check_operands(&c);
	return c.errors;
}

void rule_free(struct rule *r)
{
	free(r->id);
	free(r->file);
	free(r->message);
	if (r->has_each)
		path_free(&r->each);
	for (size_t i = 0; i < r->nitems; i++)
		path_free(&r->items[i]);
	free(r->items);
	struct operand *ops[] = {&r->equals,	 &r->from,    &r->to,
				 &r->first,	 &r->second,  &r->per,
				 &r->days_start, &r->days_end};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i]->present && !ops[i]->literal)
			path_free(&ops[i]->path);
	if (r->has_where || r->where_field.seg)
		path_free(&r->where_field);
	free(r->where_value);
	for (size_t i = 0; i < r->nfields; i++)
		path_free(&r->fields[i].path);
	free(r->fields);
	for (size_t i = 0; i < r->nkeys; i++)
		path_free(&r->keys[i]);
	free(r->keys);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}
