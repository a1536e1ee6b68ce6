/*
 * test_log.c - unit tests of log_escape(): what a file name may contain
 * and what reaches a log line (control characters, backslashes, invalid
 * UTF-8, C1 and bidirectional controls), and truncation that never splits an
 * escape.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../common/hash.h"
#include "../../daemon/log.h"

static void check(const char *in, const char *want)
{
	char buf[256];

	assert_ptr_equal(log_escape(in, buf, sizeof(buf)), buf);
	assert_string_equal(buf, want);
}

static void test_plain(void **state)
{
	(void)state;
	check("rapport-36.json", "rapport-36.json");
	check("", "");
	check("with space & 'quotes' \"x\"", "with space & 'quotes' \"x\"");
}

static void test_controls(void **state)
{
	(void)state;
	check("a\nb", "a\\nb");
	check("a\rb\tc", "a\\rb\\tc");
	check("x\033[31mred", "x\\x1b[31mred");
	check("\x01\x1f\x7f", "\\x01\\x1f\\x7f");
	check("fake\nexpensed[1]: info: accepted",
	      "fake\\nexpensed[1]: info: accepted");
}

static void test_backslash(void **state)
{
	(void)state;
	check("a\\b", "a\\\\b");
	check("\\n", "\\\\n"); /* a literal backslash-n stays distinguishable */
}

static void test_utf8(void **state)
{
	(void)state;
	check("d\xc3\xa9l\xc3\xa9gation-\xe2\x82\xac.json",
	      "d\xc3\xa9l\xc3\xa9gation-\xe2\x82\xac.json");
	check("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
	check("\xff", "\\xff");
	check("a\xc3", "a\\xc3");		  /* truncated sequence */
	check("\xc3(", "\\xc3(");		  /* bad continuation */
	check("\xc0\xaf", "\\xc0\\xaf");	  /* overlong '/' */
	check("\xe0\x80\xaf", "\\xe0\\x80\\xaf"); /* overlong */
	check("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* surrogate */
	check("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
	check("\xc2\x9b"
	      "31m",
	      "\\u009b31m");	       /* C1 CSI */
	check("\xc2\xa0", "\xc2\xa0"); /* no-break space is fine */
}

/* C1 controls and the Unicode bidirectional controls as \uXXXX: a name
 * can neither act on a terminal nor reorder what a reader sees. */
static void test_c1_bidi(void **state)
{
	(void)state;
	check("\xc2\x80\xc2\x85\xc2\x9f", "\\u0080\\u0085\\u009f");
	/* "invoice-\u202egnp.json" shows as invoice-nosj.png in a terminal */
	check("invoice-\xe2\x80\xaegnp.json", "invoice-\\u202egnp.json");
	check("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad",
	      "\\u202a\\u202b\\u202c\\u202d");
	check("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9",
	      "\\u2066\\u2067\\u2068\\u2069");
	check("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\\u200e\\u200f\\u061c");
	/* the line and paragraph separators, which viewers break lines at */
	check("a\xe2\x80\xa8"
	      "b\xe2\x80\xa9"
	      "c",
	      "a\\u2028b\\u2029c");
	/* neighbours are left alone */
	check("\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa\xe2\x80\x8d",
	      "\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa\xe2\x80\x8d");
	check("\xd8\x9b", "\xd8\x9b");
}

static void test_truncation(void **state)
{
	char buf[8];

	(void)state;
	/* fits exactly: no dots */
	assert_string_equal(log_escape("1234567", buf, sizeof(buf)), "1234567");
	/* one more: cut, with "..." */
	assert_string_equal(log_escape("12345678", buf, sizeof(buf)),
			    "1234...");
	/* never split an escape: "\x1b" is 4 bytes */
	assert_string_equal(log_escape("12\033456789", buf, sizeof(buf)),
			    "12...");
	/* never split a UTF-8 character */
	assert_string_equal(log_escape("123\xe2\x82\xac"
				       "4567",
				       buf, sizeof(buf)),
			    "123...");
	/* a whole escape that still fits is kept */
	assert_string_equal(log_escape("a\nb", buf, sizeof(buf)), "a\\nb");
	/* tiny buffers */
	assert_string_equal(log_escape("abcdef", buf, 3), "..");
	assert_string_equal(log_escape("abcdef", buf, 1), "");
	assert_string_equal(log_escape("ab", buf, 3), "ab");
	assert_string_equal(log_escape(NULL, buf, sizeof(buf)), "(null)");
}

static void test_long_name(void **state)
{
	char in[600], buf[64];

	(void)state;
	memset(in, '\n', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	log_escape(in, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 63); /* 30 x "\n" + "..." */
	assert_memory_equal(buf + 60, "...", 3);
	assert_memory_equal(buf, "\\n\\n", 4);
}

int main(void)
{
	if (hash_init() == -1) /* common/hash.h: a random key */
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),      cmocka_unit_test(test_controls),
	    cmocka_unit_test(test_backslash),  cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_truncation), cmocka_unit_test(test_long_name),
	    cmocka_unit_test(test_c1_bidi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
