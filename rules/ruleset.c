/*
 * ruleset.c - reading rule sets (SPEC §2): INI files parsed with libinih,
 * checked completely, compiled into struct rule.
 *
 * libinih calls our line reader, which counts lines (the handler is not told
 * them), checks each line's form and strips "# ..." comments, so that every
 * problem is reported as FILE:LINE: reason. Nothing is half-loaded: a set
 * with any error is refused as a whole.
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/evp.h>

#include "engine.h"
#include "ruleset.h"
#include "../common/utf8.h"
#include "value.h"

#define RULES_MAX_FILE (1024 * 1024)

extern const char expensed_builtin_rules[];

struct entry {
	char *key;
	char *value;
	int line;
};

struct section {
	char *id;
	int line;
	struct entry *e;
	size_t n;
};

struct parser {
	const char *file;
	const char *text;
	size_t pos;
	int line;
	struct diag *diag;
	int errors;
	struct section *sec;
	size_t nsec;
};

const char *severity_name(enum severity s)
{
	switch (s) {
	case SEV_ERROR:
		return "error";
	case SEV_WARNING:
		return "warning";
	case SEV_INFO:
		return "info";
	}
	return "error";
}

const char *kind_name(enum kind k)
{
	static const char *names[] = {"string", "integer", "amount",  "date",
				      "array",	"object",  "boolean", "value"};
	return names[k];
}

static void perr(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct parser *p, int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	diag_at(p->diag, p->file, line, "%s", buf);
	p->errors++;
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

static int add_section(struct parser *p, const char *id)
{
	struct section *sec = realloc(p->sec, (p->nsec + 1) * sizeof(*sec));
	if (sec == NULL)
		return -1;
	p->sec = sec;
	sec = &p->sec[p->nsec];
	memset(sec, 0, sizeof(*sec));
	sec->id = strdup(id);
	sec->line = p->line;
	if (sec->id == NULL)
		return -1;
	p->nsec++;
	return 0;
}

/*
 * The ini_reader: hand libinih one line at a time, already checked. A line
 * we reject is reported here and given to libinih as a comment.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *start = p->text + p->pos;
	char line[4096];

	if (*start == '\0')
		return NULL;
	const char *nl = strchr(start, '\n');
	size_t len = nl ? (size_t)(nl - start) : strlen(start);
	p->pos += len + (nl != NULL);
	p->line++;

	if (len >= (size_t)num - 1 || len >= sizeof(line)) {
		perr(p, p->line, "line too long (at most %d characters)",
		     num - 2);
		goto comment;
	}
	memcpy(line, start, len);
	line[len] = '\0';
	if (memchr(start, '\0', len) != NULL) {
		perr(p, p->line, "NUL byte in line");
		goto comment;
	}
	char *s = trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		goto comment;
	/* a comment after a value: whitespace then '#' or ';' */
	for (char *c = s + 1; *c; c++) {
		if ((*c == '#' || *c == ';') &&
		    (c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			s = trim(s);
			break;
		}
	}
	if (*s == '[') {
		char *end = strchr(s, ']');
		if (end == NULL || end[1] != '\0') {
			perr(p, p->line, "expected '[rule.id]'");
			goto comment;
		}
		*end = '\0';
		char *id = trim(s + 1);
		if (*id == '\0') {
			perr(p, p->line, "empty rule id");
			goto comment;
		}
		for (size_t i = 0; i < p->nsec; i++) {
			if (strcmp(p->sec[i].id, id) == 0) {
				perr(
				    p, p->line,
				    "duplicate rule id '%s' (first at line %d)",
				    id, p->sec[i].line);
				/* keys that follow go to a throwaway section */
				break;
			}
		}
		if (add_section(p, id) == -1)
			return NULL;
		snprintf(str, (size_t)num, "[%s]", id);
		return str;
	}
	char *eq = strchr(s, '=');
	if (eq == NULL) {
		perr(p, p->line, "expected 'key = value'");
		goto comment;
	}
	if (p->nsec == 0) {
		perr(p, p->line, "'key = value' before any [rule.id] section");
		goto comment;
	}
	*eq = '\0';
	char *key = trim(s);
	char *value = trim(eq + 1);
	if (*key == '\0') {
		perr(p, p->line, "empty key");
		goto comment;
	}
	snprintf(str, (size_t)num, "%s=%s", key, value);
	return str;
comment:
	snprintf(str, (size_t)num, "#");
	return str;
}

static int on_entry(void *user, const char *section, const char *name,
		    const char *value)
{
	struct parser *p = user;
	struct section *sec = &p->sec[p->nsec - 1];

	(void)section;
	struct entry *e = realloc(sec->e, (sec->n + 1) * sizeof(*e));
	if (e == NULL)
		return 0;
	sec->e = e;
	e = &sec->e[sec->n];
	e->key = strdup(name);
	e->value = strdup(value);
	e->line = p->line;
	if (e->key == NULL || e->value == NULL) {
		free(e->key);
		free(e->value);
		return 0;
	}
	sec->n++;
	return 1;
}

static void free_sections(struct parser *p)
{
	for (size_t i = 0; i < p->nsec; i++) {
		for (size_t j = 0; j < p->sec[i].n; j++) {
			free(p->sec[i].e[j].key);
			free(p->sec[i].e[j].value);
		}
		free(p->sec[i].e);
		free(p->sec[i].id);
	}
	free(p->sec);
	p->sec = NULL;
	p->nsec = 0;
}

/* ---- compiling one section into a rule ---- */

struct keyspec {
	const char *name;
	unsigned types; /* bit per rule_type; ~0u = all */
};

#define T(x) (1u << RULE_##x)
static const struct keyspec keyspecs[] = {
    {"type", ~0u},
    {"each", ~0u},
    {"severity", ~0u},
    {"message", ~0u},
    {"enabled", ~0u},
    {"items", T(SUM) | T(COUNT) | T(WITHIN) | T(UNIQUE) | T(ENUM)},
    {"equals", T(SUM) | T(COUNT)},
    {"tolerance", T(SUM)},
    {"where", T(COUNT)},
    {"from", T(WITHIN)},
    {"to", T(WITHIN)},
    {"slack", T(WITHIN)},
    {"first", T(ORDER)},
    {"second", T(ORDER)},
    {"value", T(LIMIT)},
    {"per", T(LIMIT)},
    {"per_days", T(LIMIT)},
    {"min", T(LIMIT)},
    {"max", T(LIMIT)},
    {"fields", T(REQUIRED)},
    {"key", T(UNIQUE)},
    {"values", T(ENUM)},
};

static const char *type_names[] = {"sum",   "count",	"within", "order",
				   "limit", "required", "unique", "enum"};

struct compiler {
	struct parser *p;
	struct section *sec;
	struct rule *r;
};

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
		perr(c->p, e->line, "bad path '%s' in '%s': %s", text, e->key,
		     why);
		return -1;
	}
	if (!wild_ok && path_has_wildcard(out)) {
		perr(c->p, e->line,
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
			perr(c->p, e->line,
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
	cnt = split_list(buf, list, max < 64 ? max : 64);
	if (cnt < 0) {
		perr(c->p, e->line, "bad list in '%s': %s", e->key,
		     max == 1 ? "exactly one path expected"
			      : "empty element or too many elements");
		goto out;
	}
	*out = calloc((size_t)cnt, sizeof(**out));
	if (*out == NULL)
		goto out;
	for (int i = 0; i < cnt; i++) {
		if (looks_literal(list[i])) {
			perr(c->p, e->line,
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
		perr(c->p, e->line,
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
			perr(c->p, e->line,
			     "bad field '%s' (expected path:kind)", list[i]);
			goto out;
		}
		*colon = '\0';
		const char *kind = trim(colon + 1);
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (strcmp(kinds[k].name, kind) == 0)
				break;
		if (k == sizeof(kinds) / sizeof(kinds[0])) {
			perr(
			    c->p, e->line,
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
		perr(c->p, e->line,
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
		perr(c->p, e->line, "bad where '%s' (expected field=value)",
		     e->value);
		goto out;
	}
	*eq = '\0';
	char *field = trim(buf), *value = trim(eq + 1);
	if (*field == '\0' || *value == '\0') {
		perr(c->p, e->line, "bad where '%s' (expected field=value)",
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
		perr(c->p, e->line, "bad per_days '%s' (expected 'start, end')",
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
		perr(c->p, e->line,
		     "bad literal '%s' in '%s' (expected %san amount)",
		     e->value, e->key, non_negative ? "a non-negative " : "");
		return -1;
	}
	return 0;
}

static int compile_entry(struct compiler *c, const struct entry *e)
{
	struct rule *r = c->r;
	int64_t v;

	if (strcmp(e->key, "type") == 0)
		return 0;
	if (strcmp(e->key, "each") == 0) {
		if (compile_path(c, e, e->value, true, &r->each) == -1)
			return -1;
		r->has_each = true;
		return 0;
	}
	if (strcmp(e->key, "severity") == 0) {
		if (strcmp(e->value, "error") == 0)
			r->severity = SEV_ERROR;
		else if (strcmp(e->value, "warning") == 0)
			r->severity = SEV_WARNING;
		else if (strcmp(e->value, "info") == 0)
			r->severity = SEV_INFO;
		else {
			perr(c->p, e->line,
			     "bad severity '%s' (expected error, warning or "
			     "info)",
			     e->value);
			return -1;
		}
		return 0;
	}
	if (strcmp(e->key, "enabled") == 0) {
		if (strcmp(e->value, "yes") == 0)
			r->enabled = true;
		else if (strcmp(e->value, "no") == 0)
			r->enabled = false;
		else {
			perr(c->p, e->line,
			     "bad enabled '%s' (expected yes or no)", e->value);
			return -1;
		}
		return 0;
	}
	if (strcmp(e->key, "message") == 0) {
		free(r->message);
		r->message = strdup(e->value);
		return r->message ? 0 : -1;
	}
	if (strcmp(e->key, "items") == 0) {
		int max =
		    (r->type == RULE_SUM || r->type == RULE_WITHIN) ? 64 : 1;
		return compile_paths(c, e, &r->items, &r->nitems, max, true);
	}
	if (strcmp(e->key, "value") == 0)
		return compile_paths(c, e, &r->items, &r->nitems, 1, true);
	if (strcmp(e->key, "key") == 0)
		return compile_paths(c, e, &r->keys, &r->nkeys, 64, false) == -1
			   ? -1
			   : 0;
	if (strcmp(e->key, "equals") == 0)
		return compile_operand(c, e, e->value,
				       r->type == RULE_SUM ? KIND_AMOUNT
							   : KIND_INTEGER,
				       &r->equals);
	if (strcmp(e->key, "tolerance") == 0)
		return compile_amount_key(c, e, &r->tolerance, true);
	if (strcmp(e->key, "where") == 0)
		return compile_where(c, e);
	if (strcmp(e->key, "from") == 0)
		return compile_operand(c, e, e->value, KIND_DATE, &r->from);
	if (strcmp(e->key, "to") == 0)
		return compile_operand(c, e, e->value, KIND_DATE, &r->to);
	if (strcmp(e->key, "slack") == 0) {
		if (parse_literal(e->value, KIND_INTEGER, &v) == -1 || v < 0 ||
		    v > 3660000) {
			perr(c->p, e->line,
			     "bad literal '%s' in 'slack' (expected a number "
			     "of days, 0 or more)",
			     e->value);
			return -1;
		}
		r->slack = v;
		return 0;
	}
	if (strcmp(e->key, "first") == 0)
		return compile_operand(c, e, e->value, KIND_DATE, &r->first);
	if (strcmp(e->key, "second") == 0)
		return compile_operand(c, e, e->value, KIND_DATE, &r->second);
	if (strcmp(e->key, "per") == 0)
		return compile_operand(c, e, e->value, KIND_INTEGER, &r->per);
	if (strcmp(e->key, "per_days") == 0)
		return compile_per_days(c, e);
	if (strcmp(e->key, "min") == 0) {
		r->has_min = true;
		return compile_amount_key(c, e, &r->min, false);
	}
	if (strcmp(e->key, "max") == 0) {
		r->has_max = true;
		return compile_amount_key(c, e, &r->max, false);
	}
	if (strcmp(e->key, "fields") == 0)
		return compile_fields(c, e);
	if (strcmp(e->key, "values") == 0)
		return compile_values(c, e);
	return 0;
}

static void rule_free(struct rule *r);

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

static int compile_section(struct parser *p, struct section *sec,
			   struct rule *r)
{
	struct compiler c = {p, sec, r};
	const struct entry *type = find(sec, "type");
	int before = p->errors;
	size_t t;

	memset(r, 0, sizeof(*r));
	r->id = strdup(sec->id);
	r->file = strdup(p->file);
	r->line = sec->line;
	r->enabled = true;
	if (r->id == NULL || r->file == NULL)
		return -1;
	for (size_t i = 0; i < sec->n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(sec->e[i].key, sec->e[j].key) == 0)
				perr(p, sec->e[i].line,
				     "duplicate key '%s' in rule '%s' (first "
				     "at line %d)",
				     sec->e[i].key, sec->id, sec->e[j].line);
	if (type == NULL) {
		perr(p, sec->line, "rule '%s' has no 'type'", sec->id);
		return -1;
	}
	for (t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++)
		if (strcmp(type_names[t], type->value) == 0)
			break;
	if (t == sizeof(type_names) / sizeof(type_names[0])) {
		perr(p, type->line,
		     "unknown type '%s' (expected sum, count, within, order, "
		     "limit, required, unique or enum)",
		     type->value);
		return -1;
	}
	r->type = (enum rule_type)t;
	for (size_t i = 0; i < sec->n; i++) {
		const struct entry *e = &sec->e[i];
		size_t k;
		if (find(sec, e->key) != e)
			continue; /* duplicate, reported */
		for (k = 0; k < sizeof(keyspecs) / sizeof(keyspecs[0]); k++)
			if (strcmp(keyspecs[k].name, e->key) == 0)
				break;
		if (k == sizeof(keyspecs) / sizeof(keyspecs[0])) {
			perr(p, e->line, "unknown key '%s' in rule '%s'",
			     e->key, sec->id);
			continue;
		}
		if (!(keyspecs[k].types & (1u << t))) {
			perr(p, e->line,
			     "key '%s' does not apply to type '%s' (rule '%s')",
			     e->key, type_names[t], sec->id);
			continue;
		}
		compile_entry(&c, e);
	}
	for (int k = 0; k < 3 && required_keys[t][k]; k++)
		if (find(sec, required_keys[t][k]) == NULL)
			perr(p, sec->line,
			     "rule '%s' (%s) is missing operand '%s'", sec->id,
			     type_names[t], required_keys[t][k]);
	if (r->type == RULE_LIMIT && !r->has_min && !r->has_max &&
	    find(sec, "min") == NULL && find(sec, "max") == NULL)
		perr(p, sec->line,
		     "rule '%s' (limit) is missing operand 'min' or 'max'",
		     sec->id);
	if (r->type == RULE_LIMIT && r->has_min && r->has_max &&
	    r->min > r->max) {
		char lo[32], hi[32];
		perr(p, sec->line, "rule '%s' (limit): min %s is above max %s",
		     sec->id, amount_format(r->min, lo, sizeof(lo)),
		     amount_format(r->max, hi, sizeof(hi)));
	}
	return p->errors == before ? 0 : -1;
}

static void rule_free(struct rule *r)
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

void ruleset_free(struct ruleset *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_free(&rs->rules[i]);
	free(rs->rules);
	free(rs);
}

/* Parse one file's text and append its rules to rs. */
static int parse_text(struct ruleset *rs, const char *file, const char *text,
		      struct diag *diag)
{
	struct parser p = {.file = file, .text = text, .diag = diag};
	size_t len = strlen(text);
	size_t ok = utf8_valid_prefix((const unsigned char *)text, len);
	int rc;

	if (ok < len) {
		int line = 1;
		for (size_t i = 0; i < ok; i++)
			line += text[i] == '\n';
		diag_at(diag, file, line, "not valid UTF-8");
		return -1;
	}

	rc = ini_parse_stream(read_line, &p, on_entry, &p);
	if (rc < 0) {
		diag_at(diag, file, 0, "out of memory");
		p.errors++;
	}
	struct rule *rules =
	    realloc(rs->rules, (rs->n + p.nsec) * sizeof(*rules));
	if (rules == NULL && p.nsec > 0) {
		free_sections(&p);
		return -1;
	}
	if (rules != NULL)
		rs->rules = rules;
	for (size_t i = 0; i < p.nsec; i++) {
		struct rule *r = &rs->rules[rs->n];
		/* ids are unique across the whole set */
		for (size_t j = 0; j < rs->n; j++) {
			if (strcmp(rs->rules[j].id, p.sec[i].id) == 0 &&
			    strcmp(rs->rules[j].file, file) != 0) {
				perr(&p, p.sec[i].line,
				     "duplicate rule id '%s' (first at %s:%d)",
				     p.sec[i].id, rs->rules[j].file,
				     rs->rules[j].line);
				break;
			}
		}
		compile_section(&p, &p.sec[i], r);
		rs->n++; /* kept so that it is freed with the set */
	}
	free_sections(&p);
	return p.errors ? -1 : 0;
}

static void hash_hex(const unsigned char *md, char *hex)
{
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static struct ruleset *ruleset_new(void)
{
	return calloc(1, sizeof(struct ruleset));
}

static int finish(struct ruleset *rs, EVP_MD_CTX *md, int errors,
		  struct ruleset **out, struct diag *diag, const char *name)
{
	unsigned char digest[32];
	unsigned int dlen = 0;

	if (errors == 0 && rs->n == 0) {
		diag_at(diag, name, 0, "no rules");
		errors++;
	}
	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1)
		errors++;
	EVP_MD_CTX_free(md);
	if (errors) {
		ruleset_free(rs);
		return -1;
	}
	hash_hex(digest, rs->sha256);
	*out = rs;
	return 0;
}

int ruleset_load_text(const char *name, const char *text, struct ruleset **out,
		      struct diag *diag)
{
	struct ruleset *rs = ruleset_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int errors = 0;

	if (rs == NULL || md == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		free(rs);
		EVP_MD_CTX_free(md);
		diag_add(diag, "out of memory");
		return -1;
	}
	EVP_DigestUpdate(md, text, strlen(text));
	if (parse_text(rs, name, text, diag) == -1)
		errors++;
	return finish(rs, md, errors, out, diag, name);
}

int ruleset_load_builtin(struct ruleset **out, struct diag *diag)
{
	return ruleset_load_text("(built-in)/mission-report.rules",
				 expensed_builtin_rules, out, diag);
}

static char *read_text(const char *path, struct diag *diag)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char *buf = NULL;
	size_t len = 0;

	if (fd == -1) {
		diag_at(diag, path, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		diag_at(diag, path, 0, "not a regular file");
		goto err;
	}
	if (st.st_size > RULES_MAX_FILE) {
		diag_at(diag, path, 0, "larger than %d bytes", RULES_MAX_FILE);
		goto err;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto err;
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			diag_at(diag, path, 0, "cannot read: %s",
				r == 0 ? "file shrank" : strerror(errno));
			goto err;
		}
		len += (size_t)r;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		diag_at(diag, path, 0, "NUL byte in file");
		goto err;
	}
	close(fd);
	return buf;
err:
	free(buf);
	close(fd);
	return NULL;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ruleset_load_path(const char *path, struct ruleset **out, struct diag *diag)
{
	struct ruleset *rs = ruleset_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char **names = NULL;
	size_t nnames = 0;
	int errors = 0;
	struct stat st;

	if (rs == NULL || md == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		free(rs);
		EVP_MD_CTX_free(md);
		diag_add(diag, "out of memory");
		return -1;
	}
	if (stat(path, &st) == -1) {
		diag_at(diag, path, 0, "cannot open: %s", strerror(errno));
		errors++;
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		struct dirent *de;
		if (dir == NULL) {
			diag_at(diag, path, 0, "cannot open: %s",
				strerror(errno));
			errors++;
			goto done;
		}
		while ((de = readdir(dir)) != NULL) {
			size_t n = strlen(de->d_name);
			if (de->d_name[0] == '.' || n < 7 ||
			    strcmp(de->d_name + n - 6, ".rules") != 0)
				continue;
			char **nn = realloc(names, (nnames + 1) * sizeof(*nn));
			if (nn == NULL)
				break;
			names = nn;
			if (asprintf(&names[nnames], "%s/%s", path,
				     de->d_name) < 0)
				break;
			nnames++;
		}
		closedir(dir);
		qsort(names, nnames, sizeof(*names), cmp_names);
		if (nnames == 0) {
			diag_at(diag, path, 0, "no .rules files in directory");
			errors++;
		}
	} else {
		names = malloc(sizeof(*names));
		if (names == NULL || (names[0] = strdup(path)) == NULL) {
			errors++;
			goto done;
		}
		nnames = 1;
	}
	for (size_t i = 0; i < nnames; i++) {
		char *text = read_text(names[i], diag);
		if (text == NULL) {
			errors++;
			continue;
		}
		EVP_DigestUpdate(md, text, strlen(text));
		if (parse_text(rs, names[i], text, diag) == -1)
			errors++;
		free(text);
	}
done:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return finish(rs, md, errors, out, diag, path);
}

size_t ruleset_count(const struct ruleset *rs)
{
	return rs->n;
}

const char *ruleset_sha256(const struct ruleset *rs)
{
	return rs->sha256;
}
