/*
 * test_jsonmem.c - common/jsonmem's memory budget: a parse within it is
 * whole, one over it fails and says so (and is not counted as the
 * machine's out of memory), the budget ends with its parse and is the
 * calling thread's alone; the engine's own blocks count too; and
 * judge_bytes() with max_memory: the verdict input.resources and its
 * message, for a parse or for the rules' tables over it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../common/diag.h"
#include "../../common/jsonmem.h"
#include "../../rules/engine.h"

#define MIB ((size_t)1024 * 1024)

/* A report whose missions are n times item ("{}", "null"), and its
 * length in *len. */
static char *missions_of(const char *item, size_t n, size_t *len)
{
	static const char head[] =
	    "{\"format\":\"mission-report/1\",\"missions\":[";
	size_t w = strlen(item), cap = sizeof(head) + (w + 1) * n + 2;
	char *s = malloc(cap);
	size_t k = sizeof(head) - 1;

	assert_non_null(s);
	memcpy(s, head, k);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			s[k++] = ',';
		memcpy(s + k, item, w);
		k += w;
	}
	s[k++] = ']';
	s[k++] = '}';
	*len = k;
	return s;
}

/* A report whose missions are n empty objects: some 240 bytes of heap
 * for each once parsed (80 times its 3 bytes: docs/costs.md). */
static char *flood(size_t n, size_t *len)
{
	return missions_of("{}", n, len);
}

static json_t *parse(const char *s, size_t len)
{
	return json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
}

static void within_the_budget_the_parse_is_whole(void **state)
{
	size_t len;
	char *s = flood(1000, &len);
	unsigned long failures = jsonmem_failures();

	(void)state;
	jsonmem_budget_start(MIB);
	json_t *root = parse(s, len);
	assert_int_equal(jsonmem_budget_end(), 0);
	assert_non_null(root);
	assert_int_equal(json_array_size(json_object_get(root, "missions")),
			 1000);
	assert_int_equal(jsonmem_failures(), failures);
	json_decref(root);
	free(s);
}

static void over_the_budget_the_parse_fails(void **state)
{
	size_t len;
	char *s = flood(100000, &len); /* some 24 MB parsed */
	unsigned long failures = jsonmem_failures();

	(void)state;
	jsonmem_budget_start(MIB);
	json_t *root = parse(s, len);
	assert_int_equal(jsonmem_budget_end(), 1);
	assert_null(root);
	/* the file's size, not the machine's memory */
	assert_int_equal(jsonmem_failures(), failures);
	/* the budget ended with its parse: the same bytes parse whole now,
	 * and a second end says nothing was refused since */
	root = parse(s, len);
	assert_non_null(root);
	assert_int_equal(jsonmem_budget_end(), 0);
	json_decref(root);
	free(s);
}

/* What is freed within a budget is given back to it: documents parsed and
 * freed one after the other never add up. */
static void freed_blocks_are_given_back(void **state)
{
	size_t len;
	char *s = flood(2000, &len); /* some 480 kB parsed */

	(void)state;
	jsonmem_budget_start(MIB);
	for (int i = 0; i < 10; i++) {
		json_t *root = parse(s, len);

		assert_non_null(root);
		json_decref(root);
	}
	assert_int_equal(jsonmem_budget_end(), 0);
	free(s);
}

struct other {
	const char *s;
	size_t len;
	size_t missions;
};

static void *parse_elsewhere(void *arg)
{
	struct other *o = arg;
	json_t *root = parse(o->s, o->len);

	o->missions = root == NULL
			  ? 0
			  : json_array_size(json_object_get(root, "missions"));
	json_decref(root);
	return NULL;
}

/* Another thread's allocations are not this thread's budget (the daemon
 * judges on its worker while its own thread builds documents). */
static void the_budget_is_the_thread_s_own(void **state)
{
	size_t len;
	char *s = flood(100000, &len);
	struct other o = {.s = s, .len = len};
	pthread_t t;

	(void)state;
	jsonmem_budget_start(MIB);
	assert_int_equal(pthread_create(&t, NULL, parse_elsewhere, &o), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(jsonmem_budget_end(), 0);
	assert_int_equal(o.missions, 100000);
	free(s);
}

static struct ruleset *builtin(void)
{
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;

	assert_int_equal(ruleset_load_builtin(&rs, &d), 0);
	diag_clear(&d);
	return rs;
}

static void judge(size_t max_memory, const char *s, size_t len,
		  struct judgement *j)
{
	struct ruleset *rs = builtin();
	struct judge_opts opts = {.now = 1, .max_memory = max_memory};

	assert_int_equal(judge_bytes(rs, &opts, "flood.json", s, len, j), 0);
	ruleset_free(rs);
}

static void judge_bytes_over_the_budget_is_input_resources(void **state)
{
	static const struct {
		size_t max;
		const char *message;
	} cases[] = {
	    {MIB, "judging needs more than 1 MB of memory"},
	    {1536 * 1024, "judging needs more than 1536 kB of memory"},
	    {MIB + 1, "judging needs more than 1048577 bytes of memory"},
	};
	size_t len;
	char *s = flood(100000, &len);
	struct judgement j;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		judge(cases[i].max, s, len, &j);
		assert_int_equal(j.verdict, VERDICT_INVALID);
		assert_int_equal(j.nfindings, 1);
		assert_int_equal(j.errors, 1);
		assert_int_equal(j.warnings, 0);
		assert_null(j.report_id);
		assert_string_equal(j.findings[0].rule, "input.resources");
		assert_string_equal(j.findings[0].path, "");
		assert_string_equal(j.findings[0].message, cases[i].message);
		judgement_release(&j);
	}
	/* without a budget the same bytes are judged to the end */
	judge(0, s, len, &j);
	assert_int_equal(j.verdict, VERDICT_REJECTED);
	assert_true(j.errors > 100000);
	judgement_release(&j);
	free(s);
}

static void *no_malloc(size_t size)
{
	(void)size;
	return NULL;
}

/* Out of memory within a budget it does not reach is the machine's: -1,
 * never a verdict. */
static void out_of_memory_within_the_budget_is_no_verdict(void **state)
{
	size_t len;
	char *s = flood(10, &len);
	struct ruleset *rs = builtin();
	struct judge_opts opts = {.now = 1, .max_memory = 1024 * MIB};
	struct judgement j;

	(void)state;
	json_set_alloc_funcs(no_malloc, free); /* wrapped again at once */
	assert_int_equal(judge_bytes(rs, &opts, "flood.json", s, len, &j), -1);
	json_set_alloc_funcs(malloc, free);
	assert_int_equal(judge_bytes(rs, &opts, "flood.json", s, len, &j), 0);
	assert_int_equal(j.verdict, VERDICT_REJECTED);
	judgement_release(&j);
	ruleset_free(rs);
	free(s);
}

/* The engine's blocks (jsonmem_malloc and its kin) count against the
 * budget as Jansson's do, given back when freed; outside a budget they
 * are plain malloc. */
static void the_engine_s_blocks_count(void **state)
{
	char *p, *q, *d;

	(void)state;
	jsonmem_budget_start(64 * 1024);
	p = jsonmem_malloc(40 * 1024);
	assert_non_null(p);
	assert_null(jsonmem_malloc(40 * 1024)); /* 80 kB held: over */
	assert_true(jsonmem_budget_over());
	jsonmem_free(p);
	p = jsonmem_calloc(10, 2 * 1024); /* room again */
	assert_non_null(p);
	assert_int_equal(p[20 * 1024 - 1], 0);
	/* a block that grows counts with the old one while it is made (it
	 * may be a copy), then at its new size alone; refused, it stays as
	 * it was: 20 + 40 kB fit, 40 + 50 do not */
	q = jsonmem_realloc(p, 40 * 1024);
	assert_non_null(q);
	assert_null(jsonmem_realloc(q, 50 * 1024));
	q[40 * 1024 - 1] = 'x';
	d = jsonmem_strdup("forty kB held");
	assert_non_null(d);
	assert_string_equal(d, "forty kB held");
	jsonmem_free(d);
	jsonmem_free(q);
	assert_null(jsonmem_calloc(SIZE_MAX / 2, 4)); /* overflow, not over */
	assert_true(jsonmem_budget_end());
	/* no budget: malloc */
	p = jsonmem_malloc(2 * MIB);
	assert_non_null(p);
	p = jsonmem_realloc(p, 3 * MIB);
	assert_non_null(p);
	jsonmem_free(p);
	jsonmem_budget_start(MIB);
	assert_false(jsonmem_budget_over());
	assert_false(jsonmem_budget_end());
}

/* A report whose missions are n nulls: 8 bytes each once parsed (Jansson
 * shares its null), but the rules keep the pointer of each null they
 * report (docs/costs.md): some 100 bytes each. */
static char *nulls(size_t n, size_t *len)
{
	return missions_of("null", n, len);
}

/* The budget holds the rules' tables too: the parse of 100,000 nulls fits
 * in 4 MiB, the judging does not. */
static void judge_bytes_counts_the_rules_tables(void **state)
{
	size_t len;
	char *s = nulls(100000, &len);
	struct judgement j;
	json_t *root;

	(void)state;
	jsonmem_budget_start(4 * MIB);
	root = parse(s, len);
	assert_false(jsonmem_budget_end());
	assert_int_equal(json_array_size(json_object_get(root, "missions")),
			 100000);
	json_decref(root);
	judge(4 * MIB, s, len, &j);
	assert_int_equal(j.verdict, VERDICT_INVALID);
	assert_int_equal(j.nfindings, 1);
	assert_int_equal(j.errors, 1);
	assert_int_equal(j.findings_left_out, 0);
	assert_string_equal(j.findings[0].rule, "input.resources");
	assert_string_equal(j.findings[0].message,
			    "judging needs more than 4 MB of memory");
	judgement_release(&j);
	judge(0, s, len, &j);
	assert_int_equal(j.verdict, VERDICT_REJECTED);
	assert_int_equal(j.errors, 100000 + 8);
	judgement_release(&j);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(within_the_budget_the_parse_is_whole),
	    cmocka_unit_test(over_the_budget_the_parse_fails),
	    cmocka_unit_test(freed_blocks_are_given_back),
	    cmocka_unit_test(the_budget_is_the_thread_s_own),
	    cmocka_unit_test(judge_bytes_over_the_budget_is_input_resources),
	    cmocka_unit_test(out_of_memory_within_the_budget_is_no_verdict),
	    cmocka_unit_test(the_engine_s_blocks_count),
	    cmocka_unit_test(judge_bytes_counts_the_rules_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
