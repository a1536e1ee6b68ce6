/*
 * test_utf8.c - common/utf8: validity by RFC 3629 (overlong forms,
 * surrogates, beyond U+10FFFF) and utf8_cut, the one cut at a character
 * boundary used by the pages, the page index, archive names and messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/utf8.h"

static size_t seq(const char *s)
{
	return utf8_seq_len((const unsigned char *)s, strlen(s));
}

static void validity(void **state)
{
	(void)state;
	assert_int_equal(seq("a"), 1);
	assert_int_equal(seq("\xc3\xa9"), 2);
	assert_int_equal(seq("\xe2\x82\xac"), 3);
	assert_int_equal(seq("\xf0\x9f\x98\x80"), 4);
	assert_int_equal(seq("\xc0\xaf"), 0);	      /* overlong '/' */
	assert_int_equal(seq("\xe0\x80\xaf"), 0);     /* overlong */
	assert_int_equal(seq("\xed\xa0\x80"), 0);     /* surrogate */
	assert_int_equal(seq("\xf4\x90\x80\x80"), 0); /* > U+10FFFF */
	assert_int_equal(seq("\xe2\x82"), 0);	      /* truncated */
	assert_int_equal(utf8_decode((const unsigned char *)"\xe2\x82\xac", 3),
			 0x20AC);
}

static size_t cut(const char *s, size_t max)
{
	return utf8_cut(s, strlen(s), max);
}

static void cuts(void **state)
{
	/* "é€😀": bytes 0-1, 2-4, 5-8 */
	const char *s = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	(void)state;

	assert_int_equal(cut("abc", 3), 3); /* fits: as it is */
	assert_int_equal(cut("abc", 10), 3);
	assert_int_equal(cut("abcd", 2), 2);
	assert_int_equal(cut("abc", 0), 0);
	assert_int_equal(cut(s, 9), 9);
	assert_int_equal(cut(s, 8), 5); /* not inside the 4-byte 😀 */
	assert_int_equal(cut(s, 7), 5);
	assert_int_equal(cut(s, 6), 5);
	assert_int_equal(cut(s, 5), 5);
	assert_int_equal(cut(s, 4), 2); /* not inside € */
	assert_int_equal(cut(s, 3), 2);
	assert_int_equal(cut(s, 2), 2);
	assert_int_equal(cut(s, 1), 0); /* not inside é */
	/* stray continuation bytes: at most 3 bytes given back */
	assert_int_equal(cut("\x80\x80\x80\x80\x80\x80", 5), 5);
	assert_int_equal(cut("ab\x80\x80\x80", 4), 1);
	assert_int_equal(cut("a\x80\x80\x80\x80", 3), 0);
	/* len, not NUL: an embedded NUL is a character like any other */
	assert_int_equal(utf8_cut("a\0\xc3\xa9", 4, 3), 2);
	/* only len bytes are looked at when they fit */
	assert_int_equal(utf8_cut("\xc3\xa9", 1, 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(validity),
	    cmocka_unit_test(cuts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
