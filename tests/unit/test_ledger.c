/*
 * test_ledger.c - unit tests of the ledger shared by two daemons: each
 * sees the other's lines at its next lock, never its own twice, a torn
 * last line is cut off, and the append takes no fstat of its own (the size
 * known at the lock is enough while nobody else can write); an append that
 * fails (a full disk) is written when the same claim is tried again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/ledger.h"
#include "../../daemon/spool_name.h"

static int state_dir(char *path, size_t size)
{
	snprintf(path, size, "/tmp/expensed-ledger-XXXXXX");
	assert_non_null(mkdtemp(path));
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void cleanup(int dirfd, const char *path)
{
	unlinkat(dirfd, SPOOL_LEDGER_NAME, 0);
	close(dirfd);
	rmdir(path);
}

static void add(struct ledger *l, const char *id, const char *key,
		const char *as)
{
	assert_int_equal(ledger_lock(l), 0);
	assert_int_equal(ledger_add(l, id, key, as), 0);
	assert_int_equal(ledger_unlock(l), 0);
}

static off_t ledger_size(int dirfd)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd, SPOOL_LEDGER_NAME, &st, 0), 0);
	return st.st_size;
}

static void test_two_daemons(void **state)
{
	char path[64];
	int dirfd = state_dir(path, sizeof(path));
	struct ledger *a = ledger_open(dirfd), *b = ledger_open(dirfd);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	add(a, "R-1", "ka1", "accepted/one.json");
	add(a, "R-2", "ka2", "accepted/two.json");
	/* b sees a's lines at its lock */
	assert_int_equal(ledger_lock(b), 0);
	assert_string_equal(ledger_find(b, "R-1", "kb9"), "accepted/one.json");
	assert_null(ledger_find(b, "R-1", "ka1")); /* its own claim */
	assert_int_equal(ledger_add(b, "R-3", "kb3", "accepted/three.json"), 0);
	assert_int_equal(ledger_unlock(b), 0);
	/* a sees b's line, and only b's: 3 ids, not its own twice */
	assert_int_equal(ledger_lock(a), 0);
	assert_string_equal(ledger_find(a, "R-3", "ka1"),
			    "accepted/three.json");
	assert_int_equal(ledger_count(a), 3);
	assert_int_equal(ledger_unlock(a), 0); /* nothing added */
	assert_int_equal(ledger_count(b), 3);
	ledger_close(a);
	ledger_close(b);

	/* a new reader loads the three lines as written */
	a = ledger_open(dirfd);
	assert_non_null(a);
	assert_int_equal(ledger_count(a), 3);
	ledger_close(a);
	cleanup(dirfd, path);
}

static void test_torn_line_cut(void **state)
{
	char path[64];
	int dirfd = state_dir(path, sizeof(path));
	struct ledger *a = ledger_open(dirfd);
	off_t whole;
	int fd;

	(void)state;
	assert_non_null(a);
	add(a, "R-1", "ka1", "accepted/one.json");
	whole = ledger_size(dirfd);
	/* another daemon died in the middle of a line */
	fd = openat(dirfd, SPOOL_LEDGER_NAME, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "R-9\tk", 5), 5);
	close(fd);
	assert_int_equal(ledger_lock(a), 0);
	assert_int_equal(ledger_size(dirfd), whole);
	assert_int_equal(ledger_add(a, "R-2", "ka2", "accepted/two.json"), 0);
	assert_int_equal(ledger_unlock(a), 0);
	/* its own line starts on a line of its own, and is not read back as
	 * new at the next lock */
	assert_int_equal(ledger_lock(a), 0);
	assert_int_equal(ledger_count(a), 2);
	assert_int_equal(ledger_unlock(a), 0);
	ledger_close(a);
	a = ledger_open(dirfd);
	assert_non_null(a);
	assert_int_equal(ledger_count(a), 2);
	assert_null(ledger_find(a, "R-9", "x"));
	assert_string_equal(ledger_find(a, "R-2", "x"), "accepted/two.json");
	ledger_close(a);
	cleanup(dirfd, path);
}

static void test_failed_append_written_when_tried_again(void **state)
{
	char path[64], buf[256];
	int dirfd = state_dir(path, sizeof(path));
	struct ledger *a = ledger_open(dirfd);
	struct rlimit old, full;
	ssize_t n;
	int fd;

	(void)state;
	assert_non_null(a);
	add(a, "R-1", "ka1", "accepted/one.json");
	/* no room for another byte (EFBIG, as ENOSPC would) */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	full = old;
	full.rlim_cur = (rlim_t)ledger_size(dirfd);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &full), 0);
	assert_int_equal(ledger_lock(a), 0);
	assert_int_equal(ledger_add(a, "R-2", "ka2", "accepted/two.json"), 0);
	assert_int_equal(ledger_unlock(a), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	/* its claim tried again: the same line, written this time */
	add(a, "R-2", "ka2", "accepted/two.json");
	fd = openat(dirfd, SPOOL_LEDGER_NAME, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "R-1\tka1\taccepted/one.json\n"
				 "R-2\tka2\taccepted/two.json\n");
	assert_int_equal(ledger_count(a), 2);
	ledger_close(a);
	cleanup(dirfd, path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_daemons),
	    cmocka_unit_test(test_torn_line_cut),
	    cmocka_unit_test(test_failed_append_written_when_tried_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
