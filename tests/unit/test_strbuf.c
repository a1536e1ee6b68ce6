/*
 * test_strbuf.c - common/strbuf: appends that fit the room left (one
 * formatting pass), appends that must grow the buffer, and the sticky
 * failed flag (nothing is appended after an allocation failed), sb_add's
 * room, sb_addu's digits; and common/jsonstr: a JSON string written as
 * json_dumps() writes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../common/jsonstr.h"
#include "../../common/strbuf.h"

static void addf_fits_and_grows(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char big[300];

	(void)state;
	sb_addf(&sb, "%d-%s", 42, "x"); /* no buffer yet: grows */
	assert_string_equal(sb.buf, "42-x");
	assert_int_equal(sb.len, 4);
	sb_addf(&sb, "|%05d", 7); /* fits the room left */
	assert_string_equal(sb.buf, "42-x|00007");
	assert_int_equal(sb.len, 10);
	assert_true(sb.cap >= 11);
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sb_addf(&sb, "[%s]", big); /* does not fit: cut try, then again */
	assert_int_equal(sb.len, 10 + 2 + 299);
	assert_memory_equal(sb.buf, "42-x|00007[", 11);
	assert_int_equal(sb.buf[11 + 298], 'b');
	assert_string_equal(sb.buf + 11 + 299, "]");
	assert_int_equal(strlen(sb.buf), sb.len);
	sb_addf(&sb, "%s", ""); /* nothing: still terminated */
	assert_int_equal(strlen(sb.buf), sb.len);
	assert_false(sb.failed);
	sb_release(&sb);
	assert_null(sb.buf);
}

static void addf_exactly_the_room(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	sb_adds(&sb, "a"); /* cap 64: room 63 bytes with the NUL */
	size_t room = sb.cap - sb.len - 1;
	char *fill = malloc(room + 2);
	assert_non_null(fill);
	memset(fill, 'z', room + 1);
	fill[room] = '\0';
	sb_addf(&sb, "%s", fill); /* exactly fills it */
	assert_int_equal(sb.len, 1 + room);
	assert_int_equal(strlen(sb.buf), sb.len);
	fill[0] = 'y';
	fill[1] = '\0';
	sb_addf(&sb, "%s", fill); /* no room at all: grows */
	assert_int_equal(sb.len, 2 + room);
	assert_int_equal(sb.buf[sb.len - 1], 'y');
	assert_int_equal(strlen(sb.buf), sb.len);
	free(fill);
	sb_release(&sb);
}

static void failed_is_sticky(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	sb_adds(&sb, "kept");
	sb.failed = true; /* as after an allocation failed */
	sb_addf(&sb, "%s", "lost");
	sb_adds(&sb, "lost");
	sb_addc(&sb, 'l');
	sb_addu(&sb, 7);
	assert_true(sb.cap - sb.len > 5); /* room left, yet nothing added */
	assert_string_equal(sb.buf, "kept");
	assert_null(sb_detach(&sb, NULL));
	assert_null(sb.buf);
}

/* sb_add: copied while the bytes and the NUL fit, grown when they do not;
 * sb_addu: decimal, 0 and the largest value included. */
static void add_room_and_digits(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	size_t room;

	(void)state;
	sb_addu(&sb, 0);
	assert_string_equal(sb.buf, "0");
	assert_int_equal(sb.cap, 64);
	room = sb.cap - sb.len - 1; /* bytes that fit beside the NUL */
	for (size_t i = 0; i < room - 1; i++)
		sb_addc(&sb, 'x');
	sb_addu(&sb, 9);
	assert_int_equal(sb.len,
			 sb.cap - 1); /* exactly the room: same buffer */
	assert_int_equal(sb.cap, 64);
	assert_int_equal(sb.buf[sb.len - 1], '9');
	sb_addu(&sb, 18446744073709551615ULL); /* does not fit: grows */
	assert_int_equal(sb.cap, 128);
	assert_string_equal(sb.buf + 63, "18446744073709551615");
	assert_int_equal(strlen(sb.buf), sb.len);
	sb_setlen(&sb, 0);
	sb_addu(&sb, 1234567890);
	sb_add(&sb, "ab", 2);
	sb_add(&sb, "", 0);
	assert_string_equal(sb.buf, "1234567890ab");
	sb_release(&sb);
}

/* The string s (len bytes) as sb_add_json_string() writes it and as
 * json_dumps() does: the same bytes, and Jansson reads them back as s. */
static void same_as_jansson(const char *s, size_t len)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *j = json_stringn(s, len), *back;
	char *want;

	assert_non_null(j);
	want = json_dumps(j, JSON_ENCODE_ANY);
	assert_non_null(want);
	sb_add_json_string(&sb, s, len);
	assert_false(sb.failed);
	assert_string_equal(sb.buf, want);
	back =
	    json_loadb(sb.buf, sb.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	assert_non_null(back);
	assert_int_equal(json_string_length(back), len);
	assert_memory_equal(json_string_value(back), s, len);
	json_decref(back);
	json_decref(j);
	free(want);
	sb_release(&sb);
}

/* sb_add_json_string: every byte below 0x80 (NUL, the controls, '"',
 * '\\', '/', DEL), alone and among plain text; UTF-8 (é, U+202E, an emoji)
 * as it is; the empty string; a payload of JSON held as a string. */
static void json_string_as_jansson(void **state)
{
	const char *utf8 = "caf\xc3\xa9 \xe2\x80\xae \xf0\x9f\x92\xb6";
	const char *body = "{\"type\":\"report.rejected\",\"data\":{\"file\":"
			   "\"a\\\\b.json\",\"n\":[1,2]}}\n";
	char all[128], one[3];

	(void)state;
	for (int c = 0; c < 128; c++)
		all[c] = (char)c;
	same_as_jansson(all, sizeof(all));
	for (int c = 0; c < 128; c++) {
		one[0] = 'a';
		one[1] = (char)c;
		one[2] = 'z';
		same_as_jansson(one, 3);
		same_as_jansson(one + 1, 1);
	}
	same_as_jansson("", 0);
	same_as_jansson(utf8, strlen(utf8));
	same_as_jansson(body, strlen(body));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(addf_fits_and_grows),
	    cmocka_unit_test(addf_exactly_the_room),
	    cmocka_unit_test(failed_is_sticky),
	    cmocka_unit_test(add_room_and_digits),
	    cmocka_unit_test(json_string_as_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
