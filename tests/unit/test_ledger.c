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

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
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

/* ledger_find's answer (0 asserted) */
static const char *find(struct ledger *l, const char *id, const char *key)
{
	const char *prev = "unset";

	assert_int_equal(ledger_find(l, id, key, &prev), 0);
	return prev;
}

static int truncate_at(int dirfd, size_t len)
{
	int fd = openat(dirfd, SPOOL_LEDGER_NAME, O_WRONLY);
	int rc;

	assert_true(fd >= 0);
	rc = ftruncate(fd, (off_t)len);
	close(fd);
	return rc;
}

static off_t ledger_size(int dirfd)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd, SPOOL_LEDGER_NAME, &st, 0), 0);
	return st.st_size;
}

/* Two daemons' ledgers on one file, a having accepted. */
static void open_two(int dirfd, struct ledger **a, struct ledger **b)
{
	*a = ledger_open(dirfd);
	*b = ledger_open(dirfd);
	assert_non_null(*a);
	assert_non_null(*b);
	add(*a, "R-1", "ka1", "accepted/one.json");
	add(*a, "R-2", "ka2", "accepted/two.json");
}

static void test_two_daemons(void **state)
{
	char path[64];
	int dirfd = state_dir(path, sizeof(path));
	struct ledger *a, *b;

	(void)state;
	open_two(dirfd, &a, &b);
	/* b sees a's lines at its lock */
	assert_int_equal(ledger_lock(b), 0);
	assert_string_equal(find(b, "R-1", "kb9"), "accepted/one.json");
	assert_null(find(b, "R-1", "ka1")); /* its own claim */
	assert_int_equal(ledger_add(b, "R-3", "kb3", "accepted/three.json"), 0);
	assert_int_equal(ledger_unlock(b), 0);
	/* a sees b's line, and only b's: 3 ids, not its own twice */
	assert_int_equal(ledger_lock(a), 0);
	assert_string_equal(find(a, "R-3", "ka1"), "accepted/three.json");
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
	assert_null(find(a, "R-9", "x"));
	assert_string_equal(find(a, "R-2", "x"), "accepted/two.json");
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

/* The lines of an id judged again (a crash): the newest names it. */
static void test_newest_line_wins(void **state)
{
	char path[64];
	int dirfd = state_dir(path, sizeof(path));
	int fd = openat(dirfd, SPOOL_LEDGER_NAME, O_WRONLY | O_CREAT, 0640);
	static const char lines[] = "R-1\tk1\taccepted/a.json\n"
				    "R-2\tk2\taccepted/b.json\n"
				    "R-1\tk1\taccepted/a.1.json\n";
	struct ledger *l;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, lines, sizeof(lines) - 1),
			 (ssize_t)sizeof(lines) - 1);
	close(fd);
	l = ledger_open(dirfd);
	assert_non_null(l);
	assert_int_equal(ledger_count(l), 2);
	assert_string_equal(find(l, "R-1", "k9"), "accepted/a.1.json");
	assert_null(find(l, "R-1", "k1"));
	assert_string_equal(find(l, "R-2", "k9"), "accepted/b.json");
	ledger_close(l);
	cleanup(dirfd, path);
}

/* An id added in this batch is known before its line is written (two
 * files of one id in a batch: the second is the duplicate), and after;
 * ids with the characters the file escapes come back whole. */
static void test_found_before_written(void **state)
{
	char path[64];
	int dirfd = state_dir(path, sizeof(path));
	struct ledger *a = ledger_open(dirfd), *b;
	static const char odd[] = "R\\t-\t5\n\r\x01\x7f";

	(void)state;
	assert_non_null(a);
	add(a, "R-4", "ka4", "accepted/four.json");
	assert_int_equal(ledger_lock(a), 0);
	assert_int_equal(ledger_add(a, odd, "ka5", "accepted/f\tive.json"), 0);
	assert_string_equal(find(a, odd, "ka6"), "accepted/f\tive.json");
	assert_string_equal(find(a, "R-4", "ka6"), "accepted/four.json");
	assert_null(find(a, "R\\t-\t5\n\r\x01", "ka6"));
	assert_int_equal(ledger_unlock(a), 0);
	assert_string_equal(find(a, odd, "ka6"), "accepted/f\tive.json");
	b = ledger_open(dirfd);
	assert_non_null(b);
	assert_int_equal(ledger_count(b), 2);
	assert_string_equal(find(b, odd, "kb1"), "accepted/f\tive.json");
	assert_null(find(b, odd, "ka5"));
	ledger_close(b);
	ledger_close(a);
	cleanup(dirfd, path);
}

/* A spool's whole history: 100,000 accepted ids cost the daemon at most 64
 * bytes each (16 bytes of hash and offset, the table at most three
 * quarters full); kept whole they took some 230 (23 MB). */
static void test_memory_per_id(void **state)
{
	enum { N = 100000 };
	char path[64], line[128], want[64];
	int dirfd = state_dir(path, sizeof(path));
	int fd = openat(dirfd, SPOOL_LEDGER_NAME, O_WRONLY | O_CREAT, 0640);
	FILE *f = fdopen(fd, "w");
	struct ledger *l;
	size_t before, after;

	(void)state;
	assert_non_null(f);
	for (int i = 0; i < N; i++)
		fprintf(f,
			"cd13-cp-2019-02-08-r%07d\t%016x.%08x\t"
			"accepted/rapport-commission-%07d.json\n",
			i, 0x1234, i + 1, i);
	assert_int_equal(fclose(f), 0);
	malloc_trim(0);
	before = mallinfo2().uordblks;
	l = ledger_open(dirfd);
	assert_non_null(l);
	after = mallinfo2().uordblks;
	assert_int_equal(ledger_count(l), N);
	/* uordblks is 0 under a sanitizer's or valgrind's malloc */
	assert_true(after - before <= 64 * (size_t)N);
	for (int i = 0; i < N; i += 9973) {
		snprintf(line, sizeof(line), "cd13-cp-2019-02-08-r%07d", i);
		snprintf(want, sizeof(want),
			 "accepted/rapport-commission-%07d.json", i);
		assert_string_equal(find(l, line, "other"), want);
	}
	assert_null(find(l, "cd13-cp-2019-02-08-r0100000", "other"));
	ledger_close(l);
	cleanup(dirfd, path);
}

static void write_ledger(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void read_ledger(int dirfd, char *buf, size_t size)
{
	int fd = openat(dirfd, SPOOL_LEDGER_NAME, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
}

/* The ledger edited by hand while the daemon runs: cut short (an id's
 * line removed, so that it may be accepted again), replaced by an
 * editor's rename, removed, or changed in place. The next lock reads what
 * the file at the ledger's name says, and appends there; no edit makes a
 * lookup fail. */
static void test_edited_by_hand(void **state)
{
	char path[64], buf[512];
	int dirfd = state_dir(path, sizeof(path));
	struct ledger *l = ledger_open(dirfd);

	(void)state;
	assert_non_null(l);
	add(l, "R-1", "k1", "accepted/one.json");
	add(l, "R-2", "k2", "accepted/two.json");
	/* cut short: R-2's line removed */
	assert_int_equal(
	    truncate_at(dirfd, strlen("R-1\tk1\taccepted/one.json\n")), 0);
	assert_int_equal(ledger_lock(l), 0);
	assert_int_equal(ledger_count(l), 1);
	assert_string_equal(find(l, "R-1", "k9"), "accepted/one.json");
	assert_null(find(l, "R-2", "k9"));
	assert_int_equal(ledger_unlock(l), 0);
	/* replaced by a rename (an editor's save) */
	write_ledger(dirfd, "edited", "R-7\tk7\taccepted/seven.json\n");
	assert_int_equal(renameat(dirfd, "edited", dirfd, SPOOL_LEDGER_NAME),
			 0);
	add(l, "R-8", "k8", "accepted/eight.json");
	assert_int_equal(ledger_count(l), 2);
	assert_null(find(l, "R-1", "k9"));
	assert_string_equal(find(l, "R-7", "k9"), "accepted/seven.json");
	read_ledger(dirfd, buf, sizeof(buf));
	assert_string_equal(buf, "R-7\tk7\taccepted/seven.json\n"
				 "R-8\tk8\taccepted/eight.json\n");
	/* removed: a new, empty one */
	assert_int_equal(unlinkat(dirfd, SPOOL_LEDGER_NAME, 0), 0);
	add(l, "R-9", "k9", "accepted/nine.json");
	assert_int_equal(ledger_count(l), 1);
	assert_null(find(l, "R-7", "k1"));
	read_ledger(dirfd, buf, sizeof(buf));
	assert_string_equal(buf, "R-9\tk9\taccepted/nine.json\n");
	/* changed in place, same length: R-9's slot now reads R-6's line,
	 * R-9 is not found, and nothing fails */
	write_ledger(dirfd, SPOOL_LEDGER_NAME, "R-6\tk9\taccepted/nine.json\n");
	assert_null(find(l, "R-9", "k1"));
	write_ledger(dirfd, SPOOL_LEDGER_NAME, "R-9 k9 accepted/nine.json \n");
	assert_null(find(l, "R-9", "k1"));
	ledger_close(l);
	cleanup(dirfd, path);
}

/* A line removed in place (the file rewritten shorter, as an editor that
 * does not rename saves it) while two daemons share the ledger: a appends
 * first, more than the line removed, so that the file is no shorter than
 * what b had loaded. b's next lock must still see that the lines moved:
 * the lines after the one removed are found, and a's new line. */
static void test_cut_short_then_appended(void **state)
{
	char path[64];
	int dirfd = state_dir(path, sizeof(path));
	struct ledger *a, *b;

	(void)state;
	open_two(dirfd, &a, &b);
	add(a, "R-3", "ka3", "accepted/three.json");
	assert_int_equal(ledger_lock(b), 0);
	assert_int_equal(ledger_unlock(b), 0);
	write_ledger(dirfd, SPOOL_LEDGER_NAME,
		     "R-2\tka2\taccepted/two.json\n"
		     "R-3\tka3\taccepted/three.json\n");
	add(a, "R-4", "ka4", "accepted/four-with-a-longer-name.json");
	assert_int_equal(ledger_lock(b), 0);
	assert_null(find(b, "R-1", "kb9"));
	assert_string_equal(find(b, "R-2", "kb9"), "accepted/two.json");
	assert_string_equal(find(b, "R-3", "kb9"), "accepted/three.json");
	assert_string_equal(find(b, "R-4", "kb9"),
			    "accepted/four-with-a-longer-name.json");
	assert_int_equal(ledger_count(b), 3);
	assert_int_equal(ledger_unlock(b), 0);
	ledger_close(a);
	ledger_close(b);
	cleanup(dirfd, path);
}

/* Something other than a regular file at the ledger's name (a FIFO, made
 * by hand): it opened and locked like one but read as empty, so every id
 * accepted before was accepted again, and it took the lines appended
 * until it was full, then held the daemon in write() for good. It is
 * refused (EINVAL), at the start and when it replaces the file, without
 * waiting; once a regular file is back, its lines are read. */
static void test_not_a_regular_file(void **state)
{
	char path[64];
	int dirfd = state_dir(path, sizeof(path));
	struct ledger *l;

	(void)state;
	assert_int_equal(mkfifoat(dirfd, SPOOL_LEDGER_NAME, 0640), 0);
	errno = 0;
	assert_null(ledger_open(dirfd));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(unlinkat(dirfd, SPOOL_LEDGER_NAME, 0), 0);
	l = ledger_open(dirfd);
	assert_non_null(l);
	add(l, "R-1", "k1", "accepted/one.json");
	/* the file kept aside, a FIFO renamed in its place */
	assert_int_equal(linkat(dirfd, SPOOL_LEDGER_NAME, dirfd, "kept", 0), 0);
	assert_int_equal(mkfifoat(dirfd, "fifo", 0640), 0);
	assert_int_equal(renameat(dirfd, "fifo", dirfd, SPOOL_LEDGER_NAME), 0);
	errno = 0;
	assert_int_equal(ledger_lock(l), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ledger_lock(l), -1); /* and at each batch */
	assert_int_equal(renameat(dirfd, "kept", dirfd, SPOOL_LEDGER_NAME), 0);
	assert_int_equal(ledger_lock(l), 0);
	assert_string_equal(find(l, "R-1", "k9"), "accepted/one.json");
	assert_int_equal(ledger_unlock(l), 0);
	ledger_close(l);
	cleanup(dirfd, path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_daemons),
	    cmocka_unit_test(test_torn_line_cut),
	    cmocka_unit_test(test_failed_append_written_when_tried_again),
	    cmocka_unit_test(test_newest_line_wins),
	    cmocka_unit_test(test_found_before_written),
	    cmocka_unit_test(test_memory_per_id),
	    cmocka_unit_test(test_edited_by_hand),
	    cmocka_unit_test(test_cut_short_then_appended),
	    cmocka_unit_test(test_not_a_regular_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
