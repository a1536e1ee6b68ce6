/*
 * test_spool_name.c - the claim numbers of daemon/spool_name.h: the next
 * number never 0 (the owner lock's "no mark"), and their order right
 * across the wrap of the 32-bit counter, as recovery and the batch's mark
 * compare them (spool_int.h, step 3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../daemon/spool_name.h"

static void test_seq_next_skips_zero(void **state)
{
	(void)state;
	assert_int_equal(spool_seq_next(0), 1);
	assert_int_equal(spool_seq_next(1), 2);
	assert_int_equal(spool_seq_next(0x7fffffffu), 0x80000000u);
	assert_int_equal(spool_seq_next(0xfffffffeu), 0xffffffffu);
	assert_int_equal(spool_seq_next(0xffffffffu), 1);
}

static void test_seq_before_in_order(void **state)
{
	(void)state;
	assert_true(spool_seq_before("00000001", "00000002"));
	assert_false(spool_seq_before("00000002", "00000001"));
	assert_false(spool_seq_before("0000000a", "0000000a"));
	/* hex, not text alone: 0x0a after 0x09 */
	assert_true(spool_seq_before("00000009", "0000000a"));
	assert_true(spool_seq_before("000000ff", "00000100"));
	assert_true(spool_seq_before("7ffffff0", "8000000f"));
}

static void test_seq_before_across_the_wrap(void **state)
{
	(void)state;
	/* the last claims before the wrap come before the first after it */
	assert_true(spool_seq_before("ffffffff", "00000001"));
	assert_true(spool_seq_before("fffffff0", "00000010"));
	assert_false(spool_seq_before("00000001", "ffffffff"));
	assert_false(spool_seq_before("00000010", "fffffff0"));
	/* the window: less than 2^31 apart (exactly 2^31: neither) */
	assert_true(spool_seq_before("00000001", "80000000"));
	assert_false(spool_seq_before("00000001", "80000001"));
	assert_false(spool_seq_before("80000001", "00000001"));
	assert_true(spool_seq_before("80000002", "00000001"));
}

static void test_seq_distance(void **state)
{
	(void)state;
	assert_int_equal(spool_seq_distance("00000001", "00000001"), 0);
	assert_int_equal(spool_seq_distance("00000001", "0000000a"), 9);
	assert_int_equal(spool_seq_distance("0000000a", "00000001"),
			 0xfffffff7u);
	assert_int_equal(spool_seq_distance("fffffffe", "00000001"), 3);
}

/* A claim number after the wrap, in a KEY, as recovery reads it. */
static void test_key_seq_after_wrap(void **state)
{
	char key[SPOOL_KEY_LEN + 1];
	char last[SPOOL_KEY_LEN + 1];

	(void)state;
	spool_name_key("0123456789abcdef", 0xffffffffu, last);
	spool_name_key("0123456789abcdef", spool_seq_next(0xffffffffu), key);
	assert_string_equal(last, "0123456789abcdef.ffffffff");
	assert_string_equal(key, "0123456789abcdef.00000001");
	assert_true(spool_key_valid(key));
	assert_true(spool_seq_before(spool_key_seq(last), spool_key_seq(key)));
	assert_false(spool_seq_before(spool_key_seq(key), spool_key_seq(last)));
}

/* archived_as_bytes: only for a path that is not UTF-8; '%' and the bad
 * bytes as %HH, UTF-8 characters as they are; read back byte for byte. */
static void test_bytes_round_trip(void **state)
{
	static const char *const paths[] = {
	    "accepted/caf\xe9.json", "rejected/100%\xff\xfe.json",
	    "accepted/\xc3\xa9t\xc3.json", "accepted/\xed\xa0\x80.json",
	    "accepted/%25\x80"};
	static const char *const want[] = {
	    "accepted/caf%E9.json", "rejected/100%25%FF%FE.json",
	    "accepted/\xc3\xa9t%C3.json", "accepted/%ED%A0%80.json",
	    "accepted/%2525%80"};
	char enc[SPOOL_BYTES_SIZE], dec[SPOOL_PATH_SIZE];
	(void)state;

	assert_false(spool_name_bytes("accepted/caf\xc3\xa9 100%.json", enc));
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		assert_true(spool_name_bytes(paths[i], enc));
		assert_string_equal(enc, want[i]);
		assert_int_equal(spool_name_parse_bytes(enc, dec, sizeof(dec)),
				 0);
		assert_string_equal(dec, paths[i]);
	}
	assert_int_equal(spool_name_parse_bytes("a%e9b", dec, sizeof(dec)), 0);
	assert_string_equal(dec, "a\xe9"
				 "b");
	assert_int_equal(spool_name_parse_bytes("a%00b", dec, sizeof(dec)), -1);
	assert_int_equal(spool_name_parse_bytes("a%4", dec, sizeof(dec)), -1);
	assert_int_equal(spool_name_parse_bytes("a%zz", dec, sizeof(dec)), -1);
	assert_int_equal(spool_name_parse_bytes("abcd", dec, 4), -1);
	assert_int_equal(spool_name_parse_bytes("abc", dec, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seq_next_skips_zero),
	    cmocka_unit_test(test_seq_before_in_order),
	    cmocka_unit_test(test_seq_before_across_the_wrap),
	    cmocka_unit_test(test_seq_distance),
	    cmocka_unit_test(test_key_seq_after_wrap),
	    cmocka_unit_test(test_bytes_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
