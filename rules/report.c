/*
 * report.c - findings (typed, kept in lists: eval.h), and the memory of
 * the nodes reported as ill-kinded (walk.h). docs/rules.md says an ill-kinded
 * node is reported once, by the first rule that meets it, and that later
 * rules step around it: these sets are how every rule knows.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "../common/jsonmem.h"
#include "../common/utf8.h"
#include "engine.h"
#include "value.h"
#include "walk.h"

/* A node's address: spread, as allocators align them. */
static size_t ptr_hash(const json_t *p)
{
	uintptr_t x = (uintptr_t)p;
	x ^= x >> 17;
	x *= 0xed5ad4bbU;
	x ^= x >> 11;
	return (size_t)x;
}

bool reported_node(const struct eval *ev, const json_t *node)
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

/* Double the table of s (at least 16 slots); -1 when memory runs out. */
static int ptrset_grow(struct ptrset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 16;
	const json_t **slot = jsonmem_calloc(cap, sizeof(*slot));

	if (slot == NULL)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		if (s->slot[i] == NULL)
			continue;
		size_t j = ptr_hash(s->slot[i]) & (cap - 1);
		while (slot[j] != NULL)
			j = (j + 1) & (cap - 1);
		slot[j] = s->slot[i];
	}
	jsonmem_free(s->slot);
	s->slot = slot;
	s->cap = cap;
	return 0;
}

static void mark_node(struct eval *ev, const json_t *node)
{
	struct ptrset *s = &ev->reported;

	if ((s->n + 1) * 2 > s->cap && ptrset_grow(s) == -1) {
		ev->oom = 1;
		return;
	}
	size_t i = ptr_hash(node) & (s->cap - 1);
	while (s->slot[i] != NULL && s->slot[i] != node)
		i = (i + 1) & (s->cap - 1);
	if (s->slot[i] == NULL) {
		s->slot[i] = node;
		s->n++;
	}
}

void eval_release(struct eval *ev)
{
	jsonmem_free(ev->reported.slot);
	strmap_free(&ev->reported_at, NULL);
	free(ev->st);
}

static bool is_singleton(const json_t *node)
{
	return json_is_null(node) || json_is_boolean(node);
}

bool reported(const struct eval *ev, const json_t *node, size_t lo,
	      const struct path *p)
{
	if (ev->reported.n == 0 && ev->reported_at.n == 0)
		return false;
	if (!is_singleton(node))
		return reported_node(ev, node);
	if (ev->reported_at.n == 0)
		return false;
	char *ptr = pointer(ev, lo, p);
	bool r = ptr != NULL && strmap_get(&ev->reported_at, ptr) != NULL;
	free(ptr);
	return r;
}

void finding_release(struct finding *f)
{
	free(f->rule);
	free(f->path);
	free(f->message);
	free(f->expected);
	free(f->actual);
}

void finding_list_release(struct finding_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		finding_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* Room for n more findings in l. 0 or -1. */
static int finding_list_reserve(struct finding_list *l, size_t n)
{
	if (l->cap - l->n >= n)
		return 0;
	size_t cap = l->cap ? l->cap : 16;
	while (cap - l->n < n)
		cap *= 2;
	struct finding *v = reallocarray(l->v, cap, sizeof(*v));
	if (v == NULL)
		return -1;
	l->v = v;
	l->cap = cap;
	return 0;
}

int finding_list_push(struct finding_list *l, struct finding *f)
{
	if (finding_list_reserve(l, 1) == -1) {
		finding_release(f);
		return -1;
	}
	l->v[l->n++] = *f;
	return 0;
}

int finding_list_move(struct finding_list *dst, struct finding_list *src)
{
	if (src->n == 0)
		return 0;
	if (finding_list_reserve(dst, src->n) == -1)
		return -1;
	memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	src->n = 0;
	return 0;
}

/* A copy of s that is valid UTF-8; NULL stays NULL. false when memory ran
 * out. */
static bool lossy_opt(const char *s, char **out)
{
	*out = s != NULL ? utf8_lossy_dup(s) : NULL;
	return s == NULL || *out != NULL;
}

/*
 * Will the finding ev is about to make be among the first max_listed of
 * the order? The stored ones are always a prefix of the order. In a run,
 * a new finding of rule k comes before those of the rules after k: if one
 * of them is stored, the new one is listed and the last stored one (*evict,
 * from the last list that has one) may have to make room.
 */
static bool listable(const struct eval *ev, struct finding_list **evict)
{
	*evict = NULL;
	if (ev->run_lists != NULL) {
		size_t k = (size_t)(ev->findings - ev->run_lists);
		assert(k < ev->run_n);
		for (size_t j = ev->run_n; j > k + 1 && *evict == NULL; j--)
			if (ev->run_lists[j - 1].n > 0)
				*evict = &ev->run_lists[j - 1];
	}
	return ev->listed < ev->max_listed || *evict != NULL;
}

/* Store f (taking its strings) at the end of ev->findings; then drop the
 * last stored finding if there are more than max_listed. */
static void keep(struct eval *ev, struct finding *f, struct finding_list *evict)
{
	if (finding_list_push(ev->findings, f) == -1) {
		ev->oom = 1;
		return;
	}
	if (++ev->listed > ev->max_listed) {
		assert(evict != NULL && evict->n > 0);
		finding_release(&evict->v[--evict->n]);
		ev->listed--;
	}
}

static void vadd_finding(struct eval *ev, enum finding_values values,
			 const char *path, const char *expected,
			 const char *actual, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static void vadd_finding(struct eval *ev, enum finding_values values,
			 const char *path, const char *expected,
			 const char *actual, const char *fmt, va_list ap)
{
	const struct rule *r = ev->rule;
	struct finding f = {.severity = r->severity, .values = values};
	struct finding_list *evict;
	char *msg = NULL, *full = NULL;
	int n;

	if (path == NULL) {
		ev->oom = 1;
		return;
	}
	spend(ev, 1);
	ev->made++;
	if (r->severity == SEV_ERROR)
		ev->errors++;
	else if (r->severity == SEV_WARNING)
		ev->warnings++;
	if (!listable(ev, &evict))
		return; /* counted, never stored */
	/* whole, however long the rule's message or values: both are
	 * bounded by its rules file's lines */
	n = vasprintf(&msg, fmt, ap);
	if (n < 0)
		msg = NULL;
	/* a rule's own message is looked up too: translated when a catalog
	 * has it */
	else if (r->message != NULL &&
		 asprintf(&full, TR(ev, "%s: %s"), TR(ev, r->message), msg) < 0)
		full = NULL;
	/* the message may cut a quoted string inside a character */
	f.rule = strdup(r->id);
	f.path = strdup(path);
	if (msg != NULL && (r->message == NULL || full != NULL))
		f.message = utf8_lossy_dup(full != NULL ? full : msg);
	free(full);
	free(msg);
	if (f.rule == NULL || f.path == NULL || f.message == NULL ||
	    !lossy_opt(expected, &f.expected) ||
	    !lossy_opt(actual, &f.actual)) {
		finding_release(&f);
		ev->oom = 1;
		return;
	}
	keep(ev, &f, evict);
}

void add_finding(struct eval *ev, const char *path, const char *expected,
		 const char *actual, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd_finding(ev, VALUES_COMPUTED, path, expected, actual, fmt, ap);
	va_end(ap);
}

void add_finding_as(struct eval *ev, enum finding_values values,
		    const char *path, const char *expected, const char *actual,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd_finding(ev, values, path, expected, actual, fmt, ap);
	va_end(ap);
}

void report_ill(struct eval *ev, const json_t *node, const char *path,
		const char *what)
{
	char desc[128];

	if (path == NULL) {
		ev->oom = 1;
		return;
	}
	if (is_singleton(node)) {
		if (strmap_get(&ev->reported_at, path) != NULL)
			return;
		if (strmap_put(&ev->reported_at, path, (void *)1, NULL) == -1)
			ev->oom = 1;
	} else {
		if (reported_node(ev, node))
			return;
		mark_node(ev, node);
	}
	json_describe(node, ev->lang, desc, sizeof(desc));
	add_finding(ev, path, NULL, NULL, TR(ev, "expected %s, found %s"),
		    TR(ev, what), desc);
}

int read_kind(const json_t *node, enum kind k, int64_t *v)
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
	assert(!"kind out of range");
	return -1;
}

const char *kind_text(enum kind k)
{
	static const char *const text[] = {
	    [KIND_STRING] = N_("a non-empty string"),
	    [KIND_INTEGER] = N_("an integer"),
	    [KIND_AMOUNT] = N_("an amount"),
	    [KIND_DATE] = N_("a date"),
	    [KIND_ARRAY] = N_("an array"),
	    [KIND_OBJECT] = N_("an object"),
	    [KIND_BOOLEAN] = N_("a boolean"),
	    [KIND_ANY] = N_("a value"),
	};

	assert((unsigned)k <= KIND_ANY);
	return text[k];
}

const char *kind_words(const char *name)
{
	for (enum kind k = KIND_STRING; k <= KIND_ANY; k++)
		if (strcmp(name, kind_name(k)) == 0)
			return kind_text(k);
	return NULL;
}

char *msg_date(const struct eval *ev, int64_t day, char *buf, size_t size)
{
	char iso[16];

	return i18n_date(ev->lang, date_format(day, iso, sizeof(iso)), buf,
			 size);
}

char *msg_amount(const struct eval *ev, int64_t cents, char *buf, size_t size)
{
	i18n_amount(ev->lang, cents, buf, size);
	return i18n_in_currency(ev->lang, buf, size, ev->currency);
}

int check_kind(struct eval *ev, const json_t *node, enum kind k, int64_t *v,
	       size_t lo, const struct path *p)
{
	if (reported(ev, node, lo, p))
		return -1;
	if (read_kind(node, k, v) == 0)
		return 0;
	char *ptr = pointer(ev, lo, p);
	report_ill(ev, node, ptr, kind_text(k));
	free(ptr);
	return -1;
}
