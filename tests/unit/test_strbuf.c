/*
 * test_strbuf.c - common/strbuf: appends that fit the room left (one
 * formatting pass), appends that must grow the buffer, and the sticky
 * failed flag (nothing is appended after an allocation failed), sb_add's
 * room, sb_addu's digits; and common/jsonstr: a JSON string, and a whole
 * tree with JSON_INDENT(2), written as json_dumps() writes them.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

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

/* v as sb_add_json_indented() writes it and as json_dumps(JSON_INDENT(2))
 * does: the same bytes. */
static void tree_as_jansson(const json_t *v, const char *what)
{
	struct strbuf sb = STRBUF_INIT;
	char *want = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	assert_non_null(want);
	assert_int_equal(sb_add_json_indented(&sb, v), 0);
	if (strcmp(sb.buf, want) != 0)
		fail_msg("%s: dumped differently:\n%s\n--- Jansson:\n%s", what,
			 sb.buf, want);
	free(want);
	sb_release(&sb);
}

/* Every .json file of dir/NAME/ (NAME any subdirectory), or of dir
 * itself when sub is 0; how many were compared. */
static int files_as_jansson(const char *dir, int sub)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		size_t len = strlen(de->d_name);
		json_error_t err;
		json_t *root;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (sub) {
			struct stat st;
			if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
				n += files_as_jansson(path, 0);
			continue;
		}
		if (len < 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		root = json_load_file(path, JSON_DECODE_ANY | JSON_ALLOW_NUL,
				      &err);
		if (root == NULL) /* the cases of invalid JSON */
			continue;
		tree_as_jansson(root, path);
		json_decref(root);
		n++;
	}
	closedir(d);
	return n;
}

/* sb_add_json_indented: empty and nested containers, every kind of
 * value (integers at both ends, reals, a string with NUL and controls,
 * a key with them), keys in the order they were set; then every JSON
 * file of the golden cases (reports, result documents) and examples. */
static void json_tree_as_jansson(void **state)
{
	json_t *o = json_object(), *a = json_array(), *deep = json_object();

	(void)state;
	json_object_set_new(o, "zeta", json_integer(0));
	json_object_set_new(o, "alpha", json_integer(-1));
	json_object_set_new(o, "max", json_integer(LLONG_MAX));
	json_object_set_new(o, "min", json_integer(LLONG_MIN));
	json_object_set_new(
	    o, "reals", json_pack("[f,f,f,f]", 0.1, -2.5, 1e300, 139108.94));
	json_object_set_new(o, "s", json_stringn("a\0b\n\"\\\x1f\xc3\xa9", 9));
	json_object_set_new(o, "k\"\t", json_true());
	json_object_set_new(o, "f", json_false());
	json_object_set_new(o, "n", json_null());
	json_object_set_new(o, "empty", json_object());
	json_object_set_new(o, "none", json_array());
	json_array_append_new(a, json_array());
	json_array_append_new(a, json_object());
	json_array_append_new(a, json_pack("[[[i]]]", 7));
	json_object_set_new(o, "a", a);
	json_object_set(deep, "o", o);
	tree_as_jansson(o, "built");
	tree_as_jansson(deep, "nested");
	tree_as_jansson(a, "array");
	tree_as_jansson(json_object_get(o, "s"), "string");
	tree_as_jansson(json_object_get(o, "empty"), "empty");
	json_decref(deep);
	json_decref(o);
	/* 496 when written: reports and result documents (the cases of
	 * invalid JSON left out); more as cases are added */
	assert_true(files_as_jansson("tests/cases", 1) >= 496);
	assert_int_equal(files_as_jansson("examples", 0), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(json_tree_as_jansson),
	    cmocka_unit_test(addf_fits_and_grows),
	    cmocka_unit_test(addf_exactly_the_room),
	    cmocka_unit_test(failed_is_sticky),
	    cmocka_unit_test(add_room_and_digits),
	    cmocka_unit_test(json_string_as_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
