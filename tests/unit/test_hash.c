/*
 * test_hash.c - the keyed hash of common/hash.h: SipHash against the
 * published reference vectors, the key in use, hash_mix that mixes, the
 * ids that collide under the old unkeyed FNV-1a (tests/collide) spread over
 * a table sized as the engine sizes its own, and the engine's time budget.
 */
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
#include "../../rules/value.h"

#define COLLIDE_NO_MAIN
#include "../collide/gen_collide.c"

/* SipHash-2-4, key 00 01 .. 0f, message 00 01 .. (len - 1), len 0 to 63:
 * the reference implementation's vectors. */
static const uint64_t sip24_vectors[64] = {
    0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
    0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
    0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
    0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
    0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL,
    0xa129ca6149be45e5ULL, 0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL,
    0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL, 0xbed65cf21aa2ee98ULL,
    0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
    0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL,
    0x2f2e6163076bcfadULL, 0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL,
    0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL, 0x7127512f72f27cceULL,
    0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
    0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL,
    0x9abfd8766a33735cULL, 0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL,
    0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL, 0xf935451de4f21df2ULL,
    0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
    0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL,
    0xa192d576b245165aULL, 0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL,
    0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL, 0xb78dbfaf3a8d83bdULL,
    0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
    0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL,
    0x958a324ceb064572ULL,
};

static void test_siphash_vectors(void **state)
{
	unsigned char msg[64];
	uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;

	(void)state;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	for (size_t len = 0; len < 64; len++)
		assert_true(siphash(msg, len, k0, k1, 2, 4) ==
			    sip24_vectors[len]);
	/* hash_bytes is SipHash-1-3 under the key set */
	hash_set_key(k0, k1);
	assert_true(hash_bytes(msg, 15) == siphash(msg, 15, k0, k1, 1, 3));
	assert_true(hash_str("") == siphash("", 0, k0, k1, 1, 3));
	assert_true(siphash(msg, 15, k0, k1, 1, 3) !=
		    siphash(msg, 15, k0, k1, 2, 4));
	assert_int_equal(hash_init(), 0);
}

static void test_key_changes_hash(void **state)
{
	(void)state;
	hash_set_key(1, 2);
	uint64_t a = hash_str("m-000001");
	assert_true(a == hash_str("m-000001"));
	hash_set_key(1, 3);
	assert_true(a != hash_str("m-000001"));
	/* two draws give two keys */
	assert_int_equal(hash_init(), 0);
	a = hash_str("m-000001");
	assert_int_equal(hash_init(), 0);
	assert_true(a != hash_str("m-000001"));
}

static void test_mix_mixes(void **state)
{
	(void)state;
	hash_set_key(5, 6);
	/* not h plus a function of v: the differences vary with h */
	uint64_t d1 = hash_mix(1, 10) - hash_mix(1, 11);
	uint64_t d2 = hash_mix(2, 10) - hash_mix(2, 11);
	assert_true(d1 != d2);
	assert_true(hash_mix(3, 4) != hash_mix(4, 3));
	assert_true(hash_mix(0, 0) != 0);
	/* flipping one bit of v changes about half the bits of the result */
	int flipped = __builtin_popcountll(hash_mix(7, 1) ^ hash_mix(7, 0));
	assert_in_range(flipped, 16, 48);
	assert_int_equal(hash_init(), 0);
}

#define NCOLLIDE 150000
#define TABLE_BITS 19 /* the engine's unique table for 150,000 items */

/* The largest bucket and the longest linear-probe sequence of hashes h[]
 * in a table of 2^bits slots. */
static void spread(const uint64_t *h, size_t n, int bits, size_t *bucket,
		   size_t *probe)
{
	size_t cap = (size_t)1 << bits;
	unsigned *count = calloc(cap, sizeof(*count));
	unsigned char *used = calloc(cap, 1);

	assert_non_null(count);
	assert_non_null(used);
	*bucket = *probe = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = h[i] & (cap - 1), p = 1;
		if (++count[j] > *bucket)
			*bucket = count[j];
		while (used[j]) {
			j = (j + 1) & (cap - 1);
			p++;
		}
		used[j] = 1;
		if (p > *probe)
			*probe = p;
	}
	free(count);
	free(used);
}

/* The NCOLLIDE hashes h[] (of what) spread in the engine's table: no bucket
 * of more than 16, no probe longer than 64. */
static void assert_spread(const uint64_t *h, const char *what)
{
	size_t bucket, probe;

	spread(h, NCOLLIDE, TABLE_BITS, &bucket, &probe);
	print_message("%s: largest bucket %zu, longest probe %zu\n", what,
		      bucket, probe);
	assert_in_range(bucket, 1, 16);
	assert_in_range(probe, 1, 64);
}

static void test_colliding_ids_spread(void **state)
{
	char **ids = collide_ids(NCOLLIDE, 20);
	uint64_t *h = calloc(NCOLLIDE, sizeof(*h));
	size_t bucket, probe;

	(void)state;
	assert_non_null(ids);
	assert_non_null(h);
	/* under the old hash they are all in one bucket */
	for (size_t i = 0; i < NCOLLIDE; i++)
		h[i] =
		    collide_fnv1a(ids[i], strlen(ids[i]), COLLIDE_FNV_OFFSET);
	spread(h, NCOLLIDE, TABLE_BITS, &bucket, &probe);
	assert_int_equal(bucket, NCOLLIDE);
	/* under the keyed hash, as strmap and the engine's unique hash
	 * them, they spread */
	assert_int_equal(hash_init(), 0);
	for (size_t i = 0; i < NCOLLIDE; i++)
		h[i] = hash_str(ids[i]);
	assert_spread(h, "hash_str");
	for (size_t i = 0; i < NCOLLIDE; i++) {
		json_t *s = json_string(ids[i]);
		assert_non_null(s);
		h[i] = hash_mix(7, value_hash(s)); /* as aggregate.c keys */
		json_decref(s);
	}
	assert_spread(h, "value_hash");
	free(h);
	free(ids[0]);
	free(ids);
}

/*
 * Integers beyond 2^53, which no double tells apart (a thousand of them
 * round to one double near 2^62), spread too: hashed as their double they
 * all fell in one bucket, and a report of 20,000 expenses whose category
 * was [2^62 + i, 2^62 + j] took expenses.duplicate 25 s of probing.
 */
static void test_big_integers_spread(void **state)
{
	uint64_t *h = calloc(NCOLLIDE, sizeof(*h));
	const json_int_t big = (json_int_t)1 << 62;

	(void)state;
	assert_non_null(h);
	assert_int_equal(hash_init(), 0);
	for (size_t i = 0; i < NCOLLIDE; i++) {
		json_t *a = json_pack("[II]", big + (json_int_t)(i % 512),
				      big + (json_int_t)(i / 512));
		assert_non_null(a);
		h[i] = hash_mix(7, value_hash(a)); /* as aggregate.c keys */
		json_decref(a);
	}
	assert_spread(h, "big integers");
	free(h);
}

/* A report of n missions with ids, all distinct. */
static json_t *missions(size_t n)
{
	json_t *root = json_object(), *a = json_array();
	char id[32];

	assert_non_null(root);
	assert_non_null(a);
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "m-%zu", i);
		assert_int_equal(
		    json_array_append_new(a, json_pack("{ss}", "id", id)), 0);
	}
	assert_int_equal(json_object_set_new(root, "missions", a), 0);
	return root;
}

static void test_eval_deadline(void **state)
{
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;
	struct finding_list l = FINDING_LIST_INIT;
	struct eval_counts c;
	json_t *root = missions(20000);

	(void)state;
	assert_int_equal(ruleset_load_text("u.rules",
					   "[ids]\ntype = unique\n"
					   "items = /missions/*/id\n",
					   &rs, &d),
			 0);
	/* a deadline already passed: stopped at the first look */
	assert_int_equal(eval_ruleset_timed(rs, root, 1000, 1, &l, &c), 0);
	assert_true(c.out_of_time);
	finding_list_release(&l);
	/* a far one: judged to the end */
	assert_int_equal(eval_ruleset_timed(rs, root, 1000,
					    clock_mono_ns() + 3600000000000LL,
					    &l, &c),
			 0);
	assert_false(c.out_of_time);
	assert_int_equal(c.errors, 0);
	finding_list_release(&l);
	json_decref(root);
	ruleset_free(rs);
}

static void test_judge_max_time(void **state)
{
	struct ruleset *rs = NULL;
	struct diag d = DIAG_INIT;
	struct judgement j;
	json_t *root = missions(200000);
	char *text = json_dumps(root, JSON_COMPACT);
	struct judge_opts opts = {.now = 1, .max_time_ms = 1};

	(void)state;
	assert_non_null(text);
	assert_int_equal(ruleset_load_builtin(&rs, &d), 0);
	/* 1 ms for 200,000 missions: out of time */
	assert_int_equal(
	    judge_bytes(rs, &opts, "slow.json", text, strlen(text), &j), 0);
	assert_int_equal(j.verdict, VERDICT_INVALID);
	assert_int_equal(j.nfindings, 1);
	assert_string_equal(j.findings[0].rule, "input.resources");
	assert_string_equal(j.findings[0].path, "");
	assert_string_equal(j.findings[0].message,
			    "judging took longer than 1 ms");
	assert_true(j.has_sha256);
	judgement_release(&j);
	free(text);
	json_decref(root);
	/* a budget that is not reached changes nothing */
	root = missions(2000);
	text = json_dumps(root, JSON_COMPACT);
	assert_non_null(text);
	opts.max_time_ms = 600000;
	assert_int_equal(
	    judge_bytes(rs, &opts, "fast.json", text, strlen(text), &j), 0);
	assert_int_equal(j.verdict, VERDICT_REJECTED);
	assert_string_equal(j.report_id == NULL ? "" : j.report_id, "");
	assert_true(j.nfindings > 0);
	for (size_t i = 0; i < j.nfindings; i++)
		assert_string_not_equal(j.findings[i].rule, "input.resources");
	judgement_release(&j);
	free(text);
	json_decref(root);
	ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_siphash_vectors),
	    cmocka_unit_test(test_key_changes_hash),
	    cmocka_unit_test(test_mix_mixes),
	    cmocka_unit_test(test_colliding_ids_spread),
	    cmocka_unit_test(test_big_integers_spread),
	    cmocka_unit_test(test_eval_deadline),
	    cmocka_unit_test(test_judge_max_time),
	};

	if (hash_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
