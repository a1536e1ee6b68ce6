/*
 * failmalloc.c - an LD_PRELOAD object that makes one allocation fail, for
 * the out-of-memory tests (tests/test_oom.py): out of memory anywhere must
 * be an error path, never a crash and never a verdict.
 *
 *   FAILMALLOC_AT=k     the k-th call (from 1) of malloc, calloc or realloc
 *                       returns NULL with errno ENOMEM; the others succeed
 *   FAILMALLOC_COUNT=F  at exit, the number of calls is written to file F
 *   FAILMALLOC_SWEEP=D  the program runs once for each k, from 0 (nothing
 *                       fails) to the number of calls of that first run
 *                       (at most FAILMALLOC_SWEEP_MAX): each run is a child
 *                       forked from this object's constructor, so that the
 *                       libraries are loaded once and not thousands of
 *                       times. Run k writes its stdout and stderr to D/k.out
 *                       and D/k.err, the parent a line "k exit N" or
 *                       "k signal N" to D/results; then the parent exits
 *                       with status 0 without running main. A run is
 *                       killed (SIGALRM) after 20 seconds.
 *
 * Calls are counted from this object's constructor on, so that the dynamic
 * loader's own allocations are never failed. strdup, strndup, reallocarray
 * and the like call these three, and are counted through them. A realloc
 * to size 0 (a free) is neither counted nor failed. The allocations are
 * glibc's own (__libc_malloc...), so free needs no wrapper.
 *
 * Built without sanitizers (make all: BUILD/tests/failmalloc.so); it cannot
 * be preloaded before AddressSanitizer's runtime, so the test skips a
 * sanitized binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static unsigned long fail_at; /* 0: never */
static unsigned long calls;
static int started;
static char count_path[PATH_MAX]; /* FAILMALLOC_COUNT, or a sweep's */

/* Open dir/name for writing; -1 on error. */
static int create(const char *dir, const char *name, int flags)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
}

/* In a sweep's child: outputs to dir/k.out and dir/k.err. */
static void child(const char *dir, unsigned long k)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "%lu.out", k);
	fd = create(dir, name, O_TRUNC);
	if (fd == -1 || dup2(fd, 1) == -1)
		_exit(126);
	close(fd);
	snprintf(name, sizeof(name), "%lu.err", k);
	fd = create(dir, name, O_TRUNC);
	if (fd == -1 || dup2(fd, 2) == -1)
		_exit(126);
	close(fd);
	if (k == 0)
		snprintf(count_path, sizeof(count_path), "%s/0.count", dir);
	fail_at = k;
	alarm(20);
}

/* The number of calls run 0 of a sweep made; 0 if unknown. */
static unsigned long first_count(const char *dir)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/0.count", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoul(buf, NULL, 10);
}

/* Append "k exit N" or "k signal N" to the results. */
static void record(int results, unsigned long k, int status)
{
	char line[64];
	int len;

	if (WIFSIGNALED(status))
		len = snprintf(line, sizeof(line), "%lu signal %d\n", k,
			       WTERMSIG(status));
	else
		len = snprintf(line, sizeof(line), "%lu exit %d\n", k,
			       WEXITSTATUS(status));
	if (write(results, line, (size_t)len) != len)
		_exit(125);
}

#define JOBS 2 /* runs at once */

/* FAILMALLOC_SWEEP: returns in each child, never in the parent. */
static void sweep(const char *dir)
{
	const char *maxs = getenv("FAILMALLOC_SWEEP_MAX");
	unsigned long max = maxs != NULL ? strtoul(maxs, NULL, 10) : ULONG_MAX;
	unsigned long n = 0, next = 0, ks[JOBS];
	pid_t pids[JOBS] = {0};
	int running = 0, results = create(dir, "results", O_TRUNC);

	if (results == -1)
		_exit(125);
	for (;;) {
		/* run 0 alone: it says how many runs follow */
		while (running < (next == 0 ? 1
				  : n == 0  ? 0
					    : JOBS) &&
		       (next == 0 || (next <= n && next <= max))) {
			int slot = 0;
			while (pids[slot] != 0)
				slot++;
			pid_t pid = fork();
			if (pid == -1)
				_exit(125);
			if (pid == 0) {
				close(results);
				child(dir, next);
				return;
			}
			pids[slot] = pid;
			ks[slot] = next++;
			running++;
		}
		if (running == 0)
			break;
		int status;
		pid_t pid = wait(&status);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid == -1)
			_exit(125);
		for (int slot = 0; slot < JOBS; slot++) {
			if (pids[slot] != pid)
				continue;
			pids[slot] = 0;
			running--;
			record(results, ks[slot], status);
			if (ks[slot] == 0 && (n = first_count(dir)) == 0)
				_exit(125);
		}
	}
	close(results);
	_exit(0);
}

__attribute__((constructor)) static void failmalloc_start(void)
{
	const char *at = getenv("FAILMALLOC_AT");
	const char *count = getenv("FAILMALLOC_COUNT");
	const char *dir = getenv("FAILMALLOC_SWEEP");

	if (at != NULL)
		fail_at = strtoul(at, NULL, 10);
	if (count != NULL)
		snprintf(count_path, sizeof(count_path), "%s", count);
	if (dir != NULL)
		sweep(dir);
	__atomic_store_n(&started, 1, __ATOMIC_SEQ_CST);
}

__attribute__((destructor)) static void failmalloc_stop(void)
{
	const char *path = count_path;
	char buf[32];
	int fd, n;

	__atomic_store_n(&started, 0, __ATOMIC_SEQ_CST);
	if (path[0] == '\0')
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%lu\n", calls);
	if (write(fd, buf, (size_t)n) != n)
		n = -1;
	close(fd);
}

/* Is this call the one to fail? */
static int fail_now(void)
{
	if (!__atomic_load_n(&started, __ATOMIC_SEQ_CST))
		return 0;
	unsigned long k = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
	if (k != fail_at)
		return 0;
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t size)
{
	return fail_now() ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	if (p != NULL && size == 0)
		return __libc_realloc(p, size);
	return fail_now() ? NULL : __libc_realloc(p, size);
}
