/*
 * test_runs.c - evaluating a run of rules element by element (runs.c) must
 * give exactly the findings of strict rule-by-rule evaluation. Checked on
 * every golden case and on thousands of deterministic mutations of the
 * examples, with the default set and with the cases' own rule sets.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/hash.h"
#include "../../rules/engine.h"
#include "../../rules/eval.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf != NULL)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The findings of l as a JSON array, as the result document has them. */
static json_t *list_json(const struct finding_list *l)
{
	json_t *a = json_array();

	assert_non_null(a);
	for (size_t i = 0; i < l->n; i++)
		assert_int_equal(
		    json_array_append_new(a, finding_to_json(&l->v[i])), 0);
	return a;
}

/*
 * With at most max findings listed, both ways: exactly the first max of
 * the full list all (n of them), the same counts, and the rest counted as
 * left out.
 */
static void compare_bounded(const struct ruleset *rs, json_t *root,
			    const struct finding_list *all, int errors,
			    int warnings, size_t max, const char *what)
{
	size_t want = max < all->n ? max : all->n;

	for (int by_rule = 0; by_rule < 2; by_rule++) {
		struct finding_list l = FINDING_LIST_INIT;
		struct eval_counts c;
		eval_rule_by_rule = by_rule;
		assert_int_equal(eval_ruleset_bounded(rs, root, max, &l, &c),
				 0);
		eval_rule_by_rule = false;
		if (l.n != want || c.errors != errors ||
		    c.warnings != warnings || c.left_out != all->n - want)
			print_message("%s: max %zu, %s: %zu listed, %zu left "
				      "out, of %zu\n",
				      what, max,
				      by_rule ? "rule by rule" : "runs", l.n,
				      c.left_out, all->n);
		assert_int_equal(l.n, want);
		assert_int_equal(c.left_out, all->n - want);
		assert_int_equal(c.errors, errors);
		assert_int_equal(c.warnings, warnings);
		for (size_t i = 0; i < want; i++) {
			assert_string_equal(l.v[i].rule, all->v[i].rule);
			assert_string_equal(l.v[i].path, all->v[i].path);
			assert_string_equal(l.v[i].message, all->v[i].message);
		}
		finding_list_release(&l);
	}
}

/* Findings of root under rs, both ways; they must be equal. */
static void compare(const struct ruleset *rs, json_t *root, const char *what)
{
	struct finding_list la = FINDING_LIST_INIT, lb = FINDING_LIST_INIT;
	json_t *a, *b;
	int ea, wa, eb, wb;

	eval_rule_by_rule = false;
	assert_int_equal(eval_ruleset(rs, root, &la, &ea, &wa), 0);
	eval_rule_by_rule = true;
	assert_int_equal(eval_ruleset(rs, root, &lb, &eb, &wb), 0);
	eval_rule_by_rule = false;
	a = list_json(&la);
	b = list_json(&lb);
	if (!json_equal(a, b) || ea != eb || wa != wb) {
		char *sa = json_dumps(a, JSON_INDENT(1));
		char *sb = json_dumps(b, JSON_INDENT(1));
		print_message("%s\nruns:\n%s\nrule by rule:\n%s\n", what, sa,
			      sb);
		free(sa);
		free(sb);
		fail();
	}
	json_decref(a);
	json_decref(b);
	if (la.n > 0) {
		size_t caps[] = {0, 1, la.n / 2, la.n - 1};
		for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
			compare_bounded(rs, root, &la, ea, wa, caps[i], what);
	}
	finding_list_release(&la);
	finding_list_release(&lb);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Collect every node of the tree (parents before children). */
static void collect(json_t *node, json_t **all, size_t *n, size_t max)
{
	if (*n < max)
		all[(*n)++] = node;
	if (json_is_object(node)) {
		const char *k;
		json_t *v;
		json_object_foreach(node, k, v) collect(v, all, n, max);
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;
		json_array_foreach(node, i, v) collect(v, all, n, max);
	}
}

static json_t *odd_value(void)
{
	switch (next() % 10) {
	case 0:
		return json_null();
	case 1:
		return json_string("");
	case 2:
		return json_string("1 177,87");
	case 3:
		return json_real(10.005);
	case 4:
		return json_integer((json_int_t)(next() % 5));
	case 5:
		return json_string("2017-02-29");
	case 6:
		return json_true();
	case 7:
		return json_array();
	case 8:
		return json_object();
	default:
		return json_string("2017-10-19");
	}
}

/* Replace or delete a few random members of the tree. */
static void mutate(json_t *root)
{
	json_t *all[4096];
	size_t n = 0;

	collect(root, all, &n, 4096);
	for (int m = 0, times = 1 + (int)(next() % 4); m < times; m++) {
		json_t *parent = all[next() % n];
		if (json_is_object(parent) && json_object_size(parent) > 0) {
			void *it = json_object_iter(parent);
			for (size_t skip = next() % json_object_size(parent);
			     skip > 0; skip--)
				it = json_object_iter_next(parent, it);
			const char *key = json_object_iter_key(it);
			if (next() % 4 == 0)
				json_object_del(parent, key);
			else
				json_object_set_new(parent, key, odd_value());
		} else if (json_is_array(parent) && json_array_size(parent)) {
			size_t i = next() % json_array_size(parent);
			if (next() % 3 == 0)
				json_array_append(parent,
						  json_array_get(parent, i));
			else
				json_array_set_new(parent, i, odd_value());
		}
		/* the tree changed: collect again */
		n = 0;
		collect(root, all, &n, 4096);
	}
}

static const char *examples[] = {
    "examples/cd13-cp-2019-02-08-r36.json",
    "examples/genes-2017-detail.json",
};

extern const char expensed_builtin_rules[];

/*
 * The default set without its schema rules: then the rules inside runs are
 * the first to meet ill-kinded nodes, which is where runs could go wrong.
 * Plus rules on the root meeting shared nodes in the middle of a run.
 */
static struct ruleset *unguarded_set(void)
{
	const char *text = expensed_builtin_rules;
	const char *from = strstr(text, "[schema.report]");
	const char *to = strstr(text, "[format.version]");
	const char *extra =
	    "[x.dates]\ntype = order\nfirst = /period/start\n"
	    "second = meeting/date\n"
	    "[x.mission]\neach = /missions/*\ntype = required\n"
	    "fields = /period/end:date, id:string, delegation:object\n"
	    "[x.count]\ntype = count\nitems = /missions/*\n"
	    "equals = /meeting/report_number\n"
	    "[x.costs]\ntype = sum\nitems = /missions/*/cost\n"
	    "equals = total\n"
	    "[x.within]\neach = /missions/*\ntype = within\n"
	    "items = expenses/*/date\nfrom = /period/start\nto = end\n";
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;
	char *set = NULL;

	assert_non_null(from);
	assert_non_null(to);
	assert_true(asprintf(&set, "%.*s%s%s", (int)(from - text), text, to,
			     extra) > 0);
	assert_int_equal(ruleset_load_text("unguarded.rules", set, &rs, &d), 0);
	free(set);
	return rs;
}

static void test_mutations(void **state)
{
	struct ruleset *sets[2];
	struct diag d = DIAG_INIT;
	int tried = 0;

	(void)state;
	assert_int_equal(ruleset_load_builtin(&sets[0], &d), 0);
	sets[1] = unguarded_set();
	for (size_t e = 0; e < sizeof(examples) / sizeof(examples[0]); e++) {
		char *text = slurp(examples[e]);
		assert_non_null(text);
		for (int i = 0; i < 3000; i++) {
			json_error_t err;
			json_t *root = json_loads(text, 0, &err);
			assert_non_null(root);
			mutate(root);
			char what[96];
			for (int k = 0; k < 2; k++) {
				snprintf(what, sizeof(what),
					 "%s mutation %d, set %d", examples[e],
					 i, k);
				compare(sets[k], root, what);
			}
			json_decref(root);
			tried++;
		}
		free(text);
	}
	assert_int_equal(tried, 6000);
	ruleset_free(sets[0]);
	ruleset_free(sets[1]);
}

static void test_golden_cases(void **state)
{
	DIR *dir = opendir("tests/cases");
	struct dirent *de;
	int compared = 0;

	(void)state;
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		char path[512], rules[512];
		struct ruleset *rs = NULL;
		struct diag d = DIAG_INIT;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "tests/cases/%s/input.json",
			 de->d_name);
		snprintf(rules, sizeof(rules), "tests/cases/%s/rules.rules",
			 de->d_name);
		char *text = slurp(path);
		json_error_t err;
		json_t *root =
		    text ? json_loads(text, JSON_REJECT_DUPLICATES, &err)
			 : NULL;
		free(text);
		if (!json_is_object(root)) {
			json_decref(root);
			continue;
		}
		FILE *f = fopen(rules, "r");
		if (f != NULL) {
			fclose(f);
			if (ruleset_load_path(rules, &rs, &d) == -1)
				rs = NULL;
		} else {
			ruleset_load_builtin(&rs, &d);
		}
		diag_clear(&d);
		if (rs != NULL) {
			compare(rs, root, de->d_name);
			compared++;
			ruleset_free(rs);
		}
		json_decref(root);
	}
	closedir(dir);
	assert_true(compared >= 60);
}

/*
 * Rule sets where a node that one rule reads well is reported by another
 * reading it as another kind (found in review): runs must not move such
 * rules ahead of the report.
 */
static void test_shared_nodes(void **state)
{
	(void)state;
	for (int i = 1; i <= 4; i++) {
		char rules[64], input[64], what[64];
		struct ruleset *rs = NULL;
		struct diag d = DIAG_INIT;
		json_error_t err;
		snprintf(rules, sizeof(rules), "tests/runs/case%d/rules.rules",
			 i);
		snprintf(input, sizeof(input), "tests/runs/case%d/input.json",
			 i);
		snprintf(what, sizeof(what), "tests/runs/case%d", i);
		assert_int_equal(ruleset_load_path(rules, &rs, &d), 0);
		json_t *root = json_load_file(input, 0, &err);
		assert_non_null(root);
		compare(rs, root, what);
		json_decref(root);
		ruleset_free(rs);
	}
}

int main(void)
{
	if (hash_init() == -1) /* common/hash.h: a random key */
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_cases),
	    cmocka_unit_test(test_shared_nodes),
	    cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
