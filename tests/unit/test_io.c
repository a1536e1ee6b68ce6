/*
 * test_io.c - unit tests of common/io.h's read_fd: a regular file read
 * whole whatever its hint (right, too small: it grew, too large: it
 * shrank), an oversize file cut at max + 1, and a pipe (hint 0) read to
 * its end across short reads; read_file_at refusing a FIFO at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/io.h"

/* A temporary regular file holding len bytes of 'a'..'z', open for
 * reading at its start. */
static int temp_file(size_t len)
{
	char path[] = "/tmp/expensed-io-XXXXXX";
	int fd = mkstemp(path);
	char *data = malloc(len + 1);

	assert_true(fd >= 0);
	assert_non_null(data);
	unlink(path);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)('a' + i % 26);
	assert_int_equal(write_all(fd, data, len), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	free(data);
	return fd;
}

static void read_with_hint(size_t size, size_t hint, size_t max,
			   size_t want_len)
{
	int fd = temp_file(size);
	char *buf = NULL;
	size_t cap = 0, len = 0;

	assert_int_equal(read_fd(fd, max, hint, &buf, &cap, &len), 0);
	assert_int_equal(len, want_len);
	assert_int_equal(buf[len], '\0');
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], 'a' + i % 26);
	free(buf);
	close(fd);
}

static void test_regular_file_its_size_as_hint(void **state)
{
	(void)state;
	read_with_hint(1751, 1751, 1 << 20, 1751);
	read_with_hint(1, 1, 1 << 20, 1);
}

static void test_regular_file_that_grew_or_shrank(void **state)
{
	(void)state;
	/* grew after fstat: the whole of it, past the hint */
	read_with_hint(100000, 10, 1 << 20, 100000);
	/* shrank: what is there */
	read_with_hint(10, 5000, 1 << 20, 10);
	/* no hint */
	read_with_hint(70000, 0, 1 << 20, 70000);
}

static void test_oversize_stops_at_max_plus_one(void **state)
{
	(void)state;
	read_with_hint(5000, 5000, 1000, 1001);
	read_with_hint(5000, 10, 1000, 1001);
}

static void test_pipe_read_to_its_end(void **state)
{
	int p[2];
	char *buf = NULL;
	size_t cap = 0, len = 0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	/* two writes: the first read may return only the first */
	assert_int_equal(write_all(p[1], "abc", 3), 0);
	assert_int_equal(write_all(p[1], "defgh", 5), 0);
	close(p[1]);
	assert_int_equal(read_fd(p[0], 100, 0, &buf, &cap, &len), 0);
	assert_int_equal(len, 8);
	assert_string_equal(buf, "abcdefgh");
	free(buf);
	close(p[0]);
}

/* A FIFO is no regular file: EINVAL at once, not an open that waits for a
 * writer (the daemon's loop stopped for good on one in outbox/). */
static void test_fifo_refused_without_waiting(void **state)
{
	char dir[] = "/tmp/expensed-io-XXXXXX", path[64];
	char *buf = NULL;
	size_t len = 0;
	int dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	alarm(5); /* a blocking open ends the test here, failed */
	assert_int_equal(read_file_at(dfd, "fifo", 100, &buf, &len), -1);
	alarm(0);
	assert_int_equal(errno, EINVAL);
	close(dfd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_regular_file_its_size_as_hint),
	    cmocka_unit_test(test_regular_file_that_grew_or_shrank),
	    cmocka_unit_test(test_oversize_stops_at_max_plus_one),
	    cmocka_unit_test(test_pipe_read_to_its_end),
	    cmocka_unit_test(test_fifo_refused_without_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
