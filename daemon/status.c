/*
 * status.c - `expensed status [-c FILE] [--json]`: the health of a spool,
 * read from the spool alone (docs/operations.md "expensed status"): whether
 * a daemon holds it, how many files wait in each directory and for how long,
 * the deliveries per webhook, the time of the last verdict. Exit 0 when all
 * is well, 1 when something needs a person, 2 on error.
 *
 * Cheap on a large archive: accepted/ and rejected/ are counted by reading
 * the directory; only their result documents are examined (for the newest
 * one), and only the inbox's and work/'s files for their age.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <jansson.h>

#include "../common/fsutil.h"
#include "../common/io.h"
#include "../common/strmap.h"
#include "../common/timefmt.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "outbox.h"
#include "spool_name.h"
#include "status_int.h"
#include "watch.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: expensed status [-c FILE] [--json]\n");
}

/* The wall clock; expensed-hooks takes it from EXPENSED_NOW_MS, so that
 * the tests can assert exact ages. */
static long long now_ms(void)
{
#ifdef EXPENSED_TEST_HOOKS
	const char *s = getenv("EXPENSED_NOW_MS");
	if (s != NULL)
		return strtoll(s, NULL, 10);
#endif
	return clock_real_ms();
}

static long long ts_ms(const struct timespec *ts)
{
	return (long long)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

/* ---- reading directories ------------------------------------------- */

typedef void (*entry_fn)(struct status *st, int dirfd, const char *name,
			 void *arg);

/* Call fn for every name in dirfd but "." and "..". 0 or -1 with errno. */
static int each_entry(int dirfd, struct status *st, entry_fn fn, void *arg)
{
	int fd = dup(dirfd);
	struct dirent *de;
	DIR *dir;

	if (fd < 0)
		return -1;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		fn(st, dirfd, de->d_name, arg);
	}
	int saved = errno;
	closedir(dir);
	errno = saved;
	return saved == 0 ? 0 : -1;
}

/* Open dir/name (name NULL: dir itself). The fd; -1 with *missing set when
 * it does not exist; -1 with a line in diag on any other error. */
static int open_dir(const char *dir, const char *name, bool *missing,
		    struct diag *diag)
{
	int fd;

	*missing = false;
	if (name == NULL)
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fd = dfd < 0 ? -1
			     : openat(dfd, name,
				      O_RDONLY | O_DIRECTORY | O_CLOEXEC |
					  O_NOFOLLOW);
		if (dfd >= 0) {
			int saved = errno;
			close(dfd);
			errno = saved;
		}
	}
	if (fd >= 0)
		return fd;
	if (errno == ENOENT) {
		*missing = true;
		return -1;
	}
	diag_add(diag, "cannot open %s%s%s: %s", dir, name ? "/" : "",
		 name ? name : "", strerror(errno));
	return -1;
}

/* Read spool subdirectory name with fn; a missing one is empty. 0 or -1. */
static int read_subdir(struct status *st, const char *name, entry_fn fn,
		       void *arg, struct diag *diag)
{
	bool missing;
	int fd = open_dir(st->cfg->spool_dir, name, &missing, diag), rc;

	if (fd < 0)
		return missing ? 0 : -1;
	rc = each_entry(fd, st, fn, arg);
	if (rc == -1)
		diag_add(diag, "cannot read %s/%s: %s", st->cfg->spool_dir,
			 name, strerror(errno));
	close(fd);
	return rc;
}

/* The age of dirfd/name into b (its files are counted by the caller). */
static void backlog_age(struct backlog *b, int dirfd, const char *name)
{
	struct stat sb;

	/* ctime: when it came into this directory (a rename changes it),
	 * whatever modification time the file was dropped with */
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return; /* taken meanwhile */
	long long t = ts_ms(&sb.st_ctim);
	if (!b->any || t < b->oldest_ms) {
		b->oldest_ms = t;
		b->any = true;
	}
}

static void on_inbox(struct status *st, int dirfd, const char *name, void *arg)
{
	(void)arg;
	if (watch_name_ignored(name))
		return;
	st->inbox.files++;
	backlog_age(&st->inbox, dirfd, name);
}

/* work/: one file per KEY (its claim, or the result it left to file). */
static void on_work(struct status *st, int dirfd, const char *name, void *arg)
{
	struct strmap *keys = arg;
	struct spool_work_name wn;

	if (spool_name_parse_work(name, &wn) == -1)
		return;
	if (strmap_get(keys, wn.key) == NULL)
		strmap_put(keys, wn.key, (void *)1, NULL);
	backlog_age(&st->work, dirfd, name);
}

static void on_archive(struct status *st, int dirfd, const char *name,
		       void *arg)
{
	size_t *count = arg;
	struct stat sb;

	if (!spool_name_is_derived(name)) {
		(*count)++;
		return;
	}
	if (!ends_with(name, RESULT_SUFFIX))
		return; /* a page */
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return;
	long long t = ts_ms(&sb.st_mtim);
	if (!st->have_verdict || t > st->verdict_ms) {
		st->verdict_ms = t;
		st->have_verdict = true;
	}
}

/* The counts of webhook name, added if new (NULL: no memory). */
static struct hook_count *hook_slot(struct status *st, const char *name)
{
	struct hook_count *p;

	for (size_t i = 0; i < st->nhooks; i++)
		if (strcmp(st->hooks[i].name, name) == 0)
			return &st->hooks[i];
	p = realloc(st->hooks, (st->nhooks + 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	st->hooks = p;
	p = &st->hooks[st->nhooks++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

/* outbox/ (arg 0) and dead/ (arg 1). */
static void on_delivery(struct status *st, int dirfd, const char *name,
			void *arg)
{
	int which = *(int *)arg;
	char hook[HOOK_NAME_SIZE];
	struct hook_count *h = NULL;
	int rc;

	if (name[0] == '.')
		return; /* a delivery being written */
	rc = outbox_file_webhook(dirfd, name, hook, sizeof(hook));
	if (rc == -1 && errno == ENOENT)
		return; /* delivered meanwhile */
	st->dl[which].files++;
	if (rc == 0)
		h = hook_slot(st, hook);
	if (h != NULL)
		h->n[which]++;
	else
		st->dl[which].other++;
}

/* ---- the owner locks ------------------------------------------------ */

/*
 * The pid holding the flock on the file of fd, from /proc/locks ("ID: FLOCK
 * ADVISORY WRITE PID MAJ:MIN:INODE ..."; waiters are "ID: -> FLOCK ...");
 * 0 when it is not shown (a holder in another pid namespace is not).
 */
static long lock_holder(int fd)
{
	char *buf = NULL, *line, *next;
	size_t cap = 0, len;
	struct stat sb;
	long pid = 0, ino_only = 0;
	int lfd;

	if (fstat(fd, &sb) == -1)
		return 0;
	lfd = open("/proc/locks", O_RDONLY | O_CLOEXEC);
	if (lfd < 0)
		return 0;
	if (read_fd(lfd, 16 << 20, 0, &buf, &cap, &len) == -1) {
		close(lfd);
		free(buf);
		return 0;
	}
	close(lfd);
	for (line = buf; line != NULL && *line != '\0' && pid == 0;
	     line = next) {
		char kind[16];
		unsigned maj, min;
		unsigned long ino;
		long p;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", kind, &p,
			   &maj, &min, &ino) != 5 ||
		    strcmp(kind, "FLOCK") != 0 ||
		    ino != (unsigned long)sb.st_ino)
			continue;
		if (maj == major(sb.st_dev) && min == minor(sb.st_dev))
			pid = p;
		else if (ino_only == 0)
			ino_only =
			    p; /* stacked file systems show another dev */
	}
	free(buf);
	return pid != 0 ? pid : ino_only;
}

static void add_pid(struct status *st, long pid)
{
	for (size_t i = 0; i < st->npids; i++)
		if (st->pids[i] == pid)
			return;
	if (st->npids < MAX_PIDS)
		st->pids[st->npids++] = pid;
}

/*
 * Whether a daemon holds state/NAME, an owner lock: a daemon holds its own
 * with flock(LOCK_EX) while it lives, so a shared lock is refused. The
 * shared lock (released at once) never stops another `status`, and a daemon
 * that tries to take over a dead owner's lock in the same instant only
 * waits for its next rescan.
 */
static void on_state(struct status *st, int dirfd, const char *name, void *arg)
{
	char token[SPOOL_TOKEN_LEN + 1];
	int fd;

	(void)arg;
	if (spool_name_parse_owner_lock(name, token) == -1)
		return;
	/* O_NONBLOCK: a FIFO by that name (by hand) must not hold status */
	fd =
	    openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return; /* removed by its owner as it stopped */
	if (flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK) {
		long pid = lock_holder(fd);

		st->held++;
		if (pid > 0)
			add_pid(st, pid);
	}
	close(fd);
}

/* ---- judging what was read ----------------------------------------- */

long long status_stale_after_ms(const struct config *cfg)
{
	return 10LL * cfg->settle_ms + cfg->rescan_ms;
}

long long status_age_of(const struct status *st, long long t)
{
	return st->now_ms > t ? st->now_ms - t : 0;
}

static struct problem *problem(struct status *st, const char *code)
{
	struct problem *p = &st->problems[st->nproblems];

	if (st->nproblems + 1 < MAX_PROBLEMS)
		st->nproblems++;
	p->code = code;
	return p;
}

static void check_stale(struct status *st, const struct backlog *b,
			const char *dir, const char *code)
{
	char age[32], limit[32];
	long long ms;

	if (!b->any ||
	    status_age_of(st, b->oldest_ms) <= status_stale_after_ms(st->cfg))
		return;
	ms = status_age_of(st, b->oldest_ms);
	status_format_age(ms, age, sizeof(age));
	status_format_age(status_stale_after_ms(st->cfg), limit, sizeof(limit));
	snprintf(problem(st, code)->text, sizeof(st->problems[0].text),
		 "a file has waited %s in %s (more than %s)", age, dir, limit);
}

static void find_problems(struct status *st)
{
	const size_t tsize = sizeof(st->problems[0].text);

	if (st->held == 0)
		snprintf(problem(st, "no-daemon")->text, tsize,
			 "no daemon holds the spool");
	if (st->inbox_missing)
		snprintf(problem(st, "inbox-missing")->text, tsize,
			 "the inbox %s is missing", st->cfg->inbox);
	check_stale(st, &st->inbox, "inbox/", "inbox-stale");
	check_stale(st, &st->work, "work/", "work-stale");
	for (size_t i = 0; i < st->nhooks; i++) {
		size_t n = st->hooks[i].n[1];
		if (n > 0)
			snprintf(problem(st, "dead-deliveries")->text, tsize,
				 "%zu dead %s (webhook %s)", n,
				 status_plural(n, "delivery", "deliveries"),
				 st->hooks[i].name);
	}
	if (st->dl[1].other > 0)
		snprintf(problem(st, "dead-other")->text, tsize,
			 "%zu %s in dead/ that %s no delivery", st->dl[1].other,
			 status_plural(st->dl[1].other, "file", "files"),
			 status_plural(st->dl[1].other, "is", "are"));
}

/* ---- gathering ----------------------------------------------------- */

static int gather(struct status *st, struct diag *diag)
{
	struct strmap keys = STRMAP_INIT;
	bool missing;
	int fd, rc = -1, which[2] = {0, 1};

	fd = open_dir(st->cfg->spool_dir, NULL, &missing, diag);
	if (fd < 0) {
		if (missing)
			diag_add(diag, "spool directory %s does not exist",
				 st->cfg->spool_dir);
		return -1;
	}
	close(fd);
	fd = open_dir(st->cfg->inbox, NULL, &missing, diag);
	if (fd < 0 && !missing)
		return -1;
	st->inbox_missing = missing;
	if (fd >= 0) {
		int r = each_entry(fd, st, on_inbox, NULL);
		if (r == -1)
			diag_add(diag, "cannot read %s: %s", st->cfg->inbox,
				 strerror(errno));
		close(fd);
		if (r == -1)
			return -1;
	}
	if (read_subdir(st, SPOOL_DIR_STATE, on_state, NULL, diag) == -1 ||
	    read_subdir(st, SPOOL_DIR_WORK, on_work, &keys, diag) == -1 ||
	    read_subdir(st, SPOOL_DIR_ACCEPTED, on_archive, &st->archived[0],
			diag) == -1 ||
	    read_subdir(st, SPOOL_DIR_REJECTED, on_archive, &st->archived[1],
			diag) == -1 ||
	    read_subdir(st, "outbox", on_delivery, &which[0], diag) == -1 ||
	    read_subdir(st, "dead", on_delivery, &which[1], diag) == -1)
		goto out;
	st->work.files = strmap_count(&keys);
	rc = 0;
out:
	strmap_free(&keys, NULL);
	return rc;
}

/* The configured webhooks first, in their order, each even at 0. */
static int add_configured_hooks(struct status *st)
{
	for (size_t i = 0; i < st->cfg->nhooks; i++)
		if (hook_slot(st, st->cfg->hooks[i].name) == NULL)
			return -1;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct hook_count *)a)->name,
		      ((const struct hook_count *)b)->name);
}

/* Webhooks found in files but no longer configured: after the configured
 * ones, by name. */
static void sort_unconfigured(struct status *st)
{
	size_t k = st->cfg->nhooks;

	if (st->nhooks > k + 1)
		qsort(st->hooks + k, st->nhooks - k, sizeof(*st->hooks),
		      by_name);
}

static int parse_options(int argc, char **argv, const char **config, bool *json,
			 bool *done)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	*done = false;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config = optarg;
			break;
		case 'j':
			*json = true;
			break;
		case 'h':
			usage(stdout);
			*done = true;
			return 0;
		default:
			cli_bad_option(c, argv);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		cli_error("status: unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

int cmd_status(int argc, char **argv)
{
	struct config cfg;
	struct diag errors = DIAG_INIT, warnings = DIAG_INIT;
	struct status *st = NULL;
	const char *arg = NULL;
	bool json = false, done;
	int status;

	status = parse_options(argc, argv, &arg, &json, &done);
	if (status != 0 || done)
		return status;
	status = 2;
	if (config_load_flags(config_path(arg), &cfg, &errors, &warnings,
			      CONFIG_SKIP_SECRETS) == -1) {
		cli_diag("warning: ", &warnings);
		cli_diag("", &errors);
		cli_error("configuration has errors");
		goto out;
	}
	cli_diag("warning: ", &warnings);
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		cli_error("status: out of memory");
		goto out_cfg;
	}
	st->cfg = &cfg;
	st->now_ms = now_ms();
	if (add_configured_hooks(st) == -1 || gather(st, &errors) == -1) {
		cli_diag("", &errors);
		if (errors.n == 0)
			cli_error("status: out of memory");
		goto out_cfg;
	}
	sort_unconfigured(st);
	find_problems(st);
	if (json ? status_print_json(stdout, st) == -1
		 : (status_print_text(stdout, st), 0))
		cli_error("status: out of memory");
	else if (fflush(stdout) == 0)
		status = st->nproblems > 0 ? 1 : 0;
out_cfg:
	if (st != NULL)
		free(st->hooks);
	free(st);
	config_free(&cfg);
out:
	diag_clear(&errors);
	diag_clear(&warnings);
	return status;
}
