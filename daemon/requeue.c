/*
 * requeue.c - `expensed requeue [-c FILE] [--webhook NAME] all|ID...`:
 * move dead deliveries (SPOOL/dead/) back into SPOOL/outbox/ with a fresh
 * schedule and the same webhook-id, after a receiver was fixed
 * (docs/webhooks.md "expensed requeue"). A running daemon sees the new
 * files in outbox/; this command only moves them.
 *
 * Each one is written under its temporary name in outbox/, synced, renamed
 * into place (never over a delivery already there), outbox/ synced, and
 * only then removed from dead/: a crash in between leaves it in both
 * directories, and dead/ is never sent from, so it is neither lost nor
 * sent twice. A delivery found in outbox/ already loses its dead copy only
 * under the delivery's lock (hold_pending()), which a daemon holds while it
 * gives it up. The file keeps the owner of the dead one, so that a root
 * shell requeues for the daemon's user.
 *
 * Exit 0 when every delivery asked for was requeued (or `all` found none),
 * 1 when an ID is no dead delivery (of that webhook), 2 on error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/io.h"
#include "../common/timefmt.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "outbox.h"

/* Largest dead file read (as the daemon reads its outbox). */
#define MAX_DEAD_FILE (1024 * 1024)

struct requeue {
	const struct config *cfg;
	const char *only; /* --webhook NAME, or NULL */
	char **ids;	  /* the IDs asked for; NULL: all */
	bool *found;	  /* per ID */
	size_t nids;
	int deadfd, outfd;
	int requeued, missing, errors;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: expensed requeue [-c FILE] [--webhook NAME] "
		   "all|ID...\n");
}

static bool configured(const struct config *cfg, const char *hook)
{
	for (size_t i = 0; i < cfg->nhooks; i++)
		if (strcmp(cfg->hooks[i].name, hook) == 0)
			return true;
	return false;
}

/* Read the regular file dead/name whole, and its owner into st. */
static int read_dead(int deadfd, const char *name, char **text, size_t *len,
		     struct stat *st)
{
	size_t cap = 0;
	int fd, rc = -1, saved;

	*text = NULL;
	fd = openat(deadfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) == -1)
		goto out;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		goto out;
	}
	if (read_fd(fd, MAX_DEAD_FILE, (size_t)st->st_size, text, &cap, len) ==
	    -1)
		goto out;
	if (*len > MAX_DEAD_FILE) {
		errno = EFBIG;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	close(fd);
	if (rc == -1) {
		free(*text);
		*text = NULL;
	}
	errno = saved;
	return rc;
}

/*
 * Write text durably as outbox/name: outbox/tmp written and synced, owned
 * as st says (when allowed), renamed without replacing, outbox/ synced.
 * 0; 1 when outbox/name exists already; -1 with errno.
 */
static int write_outbox(int outfd, const char *name, const char *tmp,
			const char *text, const struct stat *st)
{
	int fd, rc = -1, saved;

	fd =
	    openat(outfd, tmp,
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -1;
	if (fchown(fd, st->st_uid, st->st_gid) == -1 && errno != EPERM)
		goto out;
	if (write_all(fd, text, strlen(text)) == -1 ||
	    write_all(fd, "\n", 1) == -1 || fsync(fd) == -1)
		goto out;
	if (renameat2(outfd, tmp, outfd, name, RENAME_NOREPLACE) == -1) {
		if (errno == EEXIST)
			rc = 1;
		goto out;
	}
	rc = fsync(outfd);
out:
	saved = errno;
	close(fd);
	if (rc != 0)
		unlinkat(outfd, tmp, 0);
	errno = saved;
	return rc;
}

/*
 * Whether outbox/name, found there by write_outbox(), is pending for good:
 * in place and locked here (*lockfd), so that its copy in dead/ may go.
 * A daemon holds that lock while it tries the delivery, and while it gives
 * it up (written into dead/, then removed from outbox/): removing the dead
 * copy in between lost the delivery. That lock is waited for up to
 * PENDING_WAIT_MS. 1 pending; 0 gone or replaced meanwhile (requeue it
 * again); -1 with errno (EWOULDBLOCK: still locked).
 */
#define PENDING_WAIT_MS 30000
static int hold_pending(int outfd, const char *name, int *lockfd)
{
	long long until = clock_mono_ms() + PENDING_WAIT_MS;
	struct stat held, now;
	int fd, saved;

	fd =
	    openat(outfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		const struct timespec pause = {0, 20 * 1000 * 1000};

		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    clock_mono_ms() >= until)
			goto fail;
		nanosleep(&pause, NULL);
	}
	if (fstat(fd, &held) == -1)
		goto fail;
	if (fstatat(outfd, name, &now, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !same_inode(&now, &held)) {
		close(fd);
		return 0;
	}
	*lockfd = fd;
	return 1;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Requeue dead/name (a delivery of a configured webhook). 0, or -1 once
 * said why. */
static int requeue_one(struct requeue *rq, const char *name)
{
	struct outbox_requeued info;
	char oname[OUTBOX_NAME_SIZE], tmp[OUTBOX_NAME_SIZE], *text, *out = NULL;
	char id[sizeof(info.id) * 4], hook[sizeof(info.hook) * 4];
	struct stat st;
	size_t len;
	int rc, lockfd = -1, tries = 0;

again:
	if (read_dead(rq->deadfd, name, &text, &len, &st) == -1) {
		cli_error("dead/%s: cannot read: %s", name, strerror(errno));
		return -1;
	}
	rc = outbox_requeue_text(text, len, name, clock_real_ms(), &out, &info);
	free(text);
	if (rc != 0) {
		cli_error("dead/%s: %s", name,
			  rc == 1 ? "no delivery" : "out of memory");
		return -1;
	}
	outbox_names(info.id, oname, tmp);
	rc = write_outbox(rq->outfd, oname, tmp, out, &st);
	free(out);
	if (rc == -1) {
		cli_error("outbox/%s: cannot write: %s", oname,
			  strerror(errno));
		return -1;
	}
	if (rc == 1) {
		int h = hold_pending(rq->outfd, oname, &lockfd);

		if (h == 0 && ++tries < 3)
			goto again; /* given up or delivered meanwhile */
		if (h != 1) {
			cli_error("outbox/%s: %s: dead/%s kept, requeue it "
				  "again later",
				  oname,
				  h == 0 || errno == EWOULDBLOCK
				      ? "a daemon is busy with it"
				      : strerror(errno),
				  name);
			return -1;
		}
	}
	if (unlinkat(rq->deadfd, name, 0) == -1 || fsync(rq->deadfd) == -1) {
		cli_error("dead/%s: requeued, but cannot remove it: %s", name,
			  strerror(errno));
		if (lockfd >= 0)
			close(lockfd);
		return -1;
	}
	if (lockfd >= 0)
		close(lockfd);
	printf("%s %s (webhook %s, file %s)\n",
	       rc == 1 ? "already in outbox/:" : "requeued",
	       log_escape(info.id, id, sizeof(id)),
	       log_escape(info.hook, hook, sizeof(hook)), info.file);
	return 0;
}

/* Whether dead/name is asked for, marking the IDs it answers. */
static bool wanted(struct requeue *rq, const char *name)
{
	bool hit = false;

	if (rq->ids == NULL)
		return true;
	for (size_t i = 0; i < rq->nids; i++)
		if (strcmp(name, rq->ids[i]) == 0 ||
		    outbox_name_is(name, rq->ids[i])) {
			rq->found[i] = true;
			hit = true;
		}
	return hit;
}

/* Look at dead/name: requeue it if it is asked for and may be. */
static void consider(struct requeue *rq, const char *name)
{
	char hook[128], esc[256], hesc[512];
	int rc;

	if (!wanted(rq, name))
		return;
	log_escape(name, esc, sizeof(esc));
	rc = outbox_file_webhook(rq->deadfd, name, hook, sizeof(hook));
	if (rc == -1 && errno == ENOENT && rq->ids == NULL)
		return; /* requeued by someone else meanwhile */
	if (rc == -1) {
		cli_error("dead/%s: cannot read: %s", esc, strerror(errno));
		rq->errors++;
	} else if (rc == 1) {
		if (rq->ids != NULL) {
			cli_error("dead/%s is no delivery", esc);
			rq->missing++;
		}
	} else if (rq->only != NULL && strcmp(hook, rq->only) != 0) {
		if (rq->ids != NULL) {
			cli_error("dead/%s is a delivery of webhook '%s', "
				  "not '%s'",
				  esc, log_escape(hook, hesc, sizeof(hesc)),
				  rq->only);
			rq->missing++;
		}
	} else if (!configured(rq->cfg, hook)) {
		cli_warning("dead/%s: webhook '%s' is not configured: left in "
			    "dead/",
			    esc, log_escape(hook, hesc, sizeof(hesc)));
		if (rq->ids != NULL)
			rq->errors++;
	} else if (requeue_one(rq, name) == 0) {
		rq->requeued++;
	} else {
		rq->errors++;
	}
}

/* Open SPOOL/dead (rq->deadfd stays -1 when there is none: nothing is
 * dead) and SPOOL/outbox into rq. 0, or -1 once said why. */
static int open_dirs(struct requeue *rq)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
	const char *spool = rq->cfg->spool_dir, *sub = "dead";
	int spoolfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = -1;

	if (spoolfd < 0) {
		cli_error("%s: cannot open: %s", spool, strerror(errno));
		return -1;
	}
	rq->deadfd = openat(spoolfd, sub, flags);
	if (rq->deadfd < 0) {
		if (errno == ENOENT)
			rc = 0;
		goto out;
	}
	sub = "outbox";
	rq->outfd = openat(spoolfd, sub, flags);
	if (rq->outfd >= 0)
		rc = 0;
out:
	if (rc == -1)
		cli_error("%s/%s: cannot open: %s", spool, sub,
			  strerror(errno));
	close(spoolfd);
	return rc;
}

/* Requeue what rq asks for; the exit status. */
static int requeue(struct requeue *rq)
{
	char **names = NULL;
	size_t n = 0, i;

	if (open_dirs(rq) == -1)
		return 2;
	if (rq->deadfd >= 0 && list_dir(rq->deadfd, &names, &n) == -1) {
		cli_error("%s/dead: cannot read: %s", rq->cfg->spool_dir,
			  strerror(errno));
		return 2;
	}
	for (i = 0; i < n; i++)
		consider(rq, names[i]);
	names_free(names, n);
	for (i = 0; i < rq->nids; i++)
		if (!rq->found[i]) {
			cli_error("no dead delivery %s", rq->ids[i]);
			rq->missing++;
		}
	if (rq->requeued > 0)
		printf("requeued %d deliver%s\n", rq->requeued,
		       rq->requeued == 1 ? "y" : "ies");
	else if (rq->errors == 0 && rq->missing == 0)
		printf("nothing to requeue\n");
	return rq->errors > 0 ? 2 : rq->missing > 0 ? 1 : 0;
}

int cmd_requeue(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"webhook", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct diag diag = DIAG_INIT, warn = DIAG_INIT;
	struct requeue rq = {.deadfd = -1, .outfd = -1};
	const char *conf = NULL, *path;
	struct config cfg;
	int c, ret = 2;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'w':
			rq.only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			cli_bad_option(c, argv);
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc ||
	    (strcmp(argv[optind], "all") == 0 && argc - optind != 1)) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "all") != 0) {
		rq.ids = argv + optind;
		rq.nids = (size_t)(argc - optind);
	}
	path = config_path(conf);
	if (config_load(path, &cfg, &diag, &warn) == -1) {
		cli_diag("", &diag);
		diag_clear(&diag);
		diag_clear(&warn);
		return 2;
	}
	cli_diag("warning: ", &warn);
	diag_clear(&warn);
	rq.cfg = &cfg;
	if (rq.only != NULL && !configured(&cfg, rq.only)) {
		cli_error("%s: no [webhook %s] section", path, rq.only);
		goto out;
	}
	rq.found = calloc(rq.nids + 1, sizeof(*rq.found));
	if (rq.found == NULL) {
		cli_error("out of memory");
		goto out;
	}
	ret = requeue(&rq);
out:
	free(rq.found);
	if (rq.deadfd >= 0)
		close(rq.deadfd);
	if (rq.outfd >= 0)
		close(rq.outfd);
	config_free(&cfg);
	return ret;
}
