/*
 * spool.c - the spool's doors: open it (its directories and this daemon's
 * owner lock), claim a file from the inbox into work/, close it. Judging and
 * archiving are in spool_batch.c, crash recovery in spool_recover.c; the
 * protocol they follow is written down in spool_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/jsonmem.h"
#include "log.h"
#include "spool_int.h"

/* Create (if missing) and open dir/name into *fd. 0 or -1 with a line in
 * diag. */
static int open_subdir(int dirfd, const char *name, int *fd, struct diag *diag,
		       const char *dir)
{
	struct stat st;
	int saved;

	*fd = mkdir_open(dirfd, name, 0750);
	if (*fd >= 0)
		return 0;
	saved = errno;
	diag_add(diag, "cannot %s %s/%s: %s",
		 fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? "open"
								     : "create",
		 dir, name, strerror(saved));
	return -1;
}

/* A fresh random owner token for this daemon. */
static void pick_token(struct spool *sp)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
		    ((uint64_t)getpid() << 16);
	}
	spool_name_token(r, sp->token);
	sp->seq = SPOOL_LAST_SEQ(); /* 0: the first claim is 00000001 */
}

/* A new state/owner-TOKEN.lock, locked: the fd, or -1 with errno. */
static int take_lock(struct spool *sp)
{
	char lockname[SPOOL_LOCK_SIZE], tmpname[SPOOL_LOCK_SIZE];
	int fd, e;

	/* locked under a temporary name first, so that no sweep_locks() of
	 * another daemon can take it for a dead owner's before we hold it */
	spool_name_owner_tmp(sp->token, tmpname);
	spool_name_owner_lock(sp->token, lockname);
	fd = openat(sp->statefd, tmpname,
		    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 ||
	    renameat(sp->statefd, tmpname, sp->statefd, lockname) == -1) {
		e = errno;
		unlinkat(sp->statefd, tmpname, 0);
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Take state/owner-TOKEN.lock for this daemon's lifetime. 0 or -1. */
static int lock_self(struct spool *sp, struct diag *diag, const char *dir)
{
	char lockname[SPOOL_LOCK_SIZE];

	sp->lockfd = take_lock(sp);
	if (sp->lockfd == -1) {
		spool_name_owner_lock(sp->token, lockname);
		diag_add(diag, "cannot lock %s/state/%s: %s", dir, lockname,
			 strerror(errno));
		return -1;
	}
	spool_mark_recorded(sp, NULL);
	return 0;
}

int spool_holds(const struct spool *sp, int fd, const char *name)
{
	struct stat held, named;

	return fstat(fd, &held) == 0 &&
	       fstatat(sp->statefd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
	       same_inode(&held, &named);
}

void spool_relock(struct spool *sp)
{
	char lockname[SPOOL_LOCK_SIZE];
	int fd;

	spool_name_owner_lock(sp->token, lockname);
	if (spool_holds(sp, sp->lockfd, lockname))
		return;
	/* removed or replaced by hand: whatever is there now is held by
	 * nobody, and would tell `status` that no daemon runs and another
	 * daemon that this one died (it would take over and judge again
	 * the claims this one is judging) */
	fd = take_lock(sp);
	if (fd == -1) {
		log_msg(LOG_ERR, "cannot lock state/%s again: %s", lockname,
			strerror(errno));
		return;
	}
	close(sp->lockfd);
	sp->lockfd = fd;
	spool_mark_recorded(sp, NULL);
	log_msg(LOG_WARNING,
		"state/%s was removed or replaced while this daemon held it: "
		"locked again",
		lockname);
}

void spool_mark_recorded(struct spool *sp, const char *key)
{
	char text[64];
	int len;

	/* recovery reads it from a dead owner's lock (spool_recover.c) */
	if (key != NULL && !spool_key_of(key, sp->token))
		return;
	len = snprintf(text, sizeof(text), "%ld\n" SPOOL_RECORDED "%.8s\n",
		       (long)getpid(),
		       key != NULL ? spool_key_seq(key) : "00000000");
	/* the same length each time: no truncation. Not synced: it must
	 * outlive the process (the page cache does), not a power cut (a lost
	 * mark counts more recoveries, never fewer: the mark only rises).
	 * Not written, the same. */
	if (pwrite(sp->lockfd, text, (size_t)len, 0) != len)
		return;
}

/*
 * The batch's worker thread (worker.h), and what it needs set up before:
 * Jansson's counting allocator (common/jsonmem.h: installed once, here,
 * not by the first judging while a thread may allocate). Without a thread
 * (none allowed, no memory) every job runs inline: slower, the same
 * outcome. And whether files created 0640 get exactly that mode (the
 * umask clears no bit of 0640, and work/ has no default ACL): then no
 * fchmod per file.
 */
static void start_worker(struct spool *sp)
{
	mode_t mask = umask(0);

	umask(mask);
	/* a default ACL on work/, not the umask, would decide the mode */
	sp->mode_exact =
	    (0640 & ~mask) == 0640 &&
	    fgetxattr(sp->workfd, "system.posix_acl_default", NULL, 0) == -1 &&
	    (errno == ENODATA || errno == EOPNOTSUPP);
	(void)jsonmem_failures();
	sp->worker = worker_start();
	if (sp->worker == NULL) {
		log_msg(LOG_WARNING,
			"cannot start the worker thread (%s): judging on the "
			"daemon's own thread",
			strerror(errno));
		return;
	}
	sp->syncer = worker_start();
	if (sp->syncer == NULL)
		log_msg(LOG_WARNING,
			"cannot start the sync thread (%s): each batch synced "
			"in turn",
			strerror(errno));
}

struct spool *spool_open(const char *dir, struct diag *diag)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	int bad = 0;

	if (sp == NULL) {
		diag_add(diag, "out of memory");
		return NULL;
	}
	sp->dirfd = sp->workfd = sp->accfd = sp->rejfd = sp->statefd = -1;
	sp->lockfd = -1;
	sp->read_gid = sp->dirs_gid = sp->warned_gid = (gid_t)-1;
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd == -1) {
		diag_add(diag, "cannot open spool directory %s: %s", dir,
			 strerror(errno));
		goto fail;
	}
	/* all four tried, so that every problem is reported at once */
	bad |= open_subdir(sp->dirfd, SPOOL_DIR_WORK, &sp->workfd, diag, dir);
	bad |=
	    open_subdir(sp->dirfd, SPOOL_DIR_ACCEPTED, &sp->accfd, diag, dir);
	bad |=
	    open_subdir(sp->dirfd, SPOOL_DIR_REJECTED, &sp->rejfd, diag, dir);
	bad |= open_subdir(sp->dirfd, SPOOL_DIR_STATE, &sp->statefd, diag, dir);
	if (bad)
		goto fail;
	pick_token(sp);
	if (lock_self(sp, diag, dir) == -1)
		goto fail;
	spool_sweep_index_tmp(sp);
	start_worker(sp);
	return sp;
fail:
	spool_close(sp);
	return NULL;
}

int spool_statefd(const struct spool *sp)
{
	return sp->statefd;
}

int spool_workfd(const struct spool *sp)
{
	return sp->workfd;
}

const char *spool_token(const struct spool *sp)
{
	return sp->token;
}

int spool_retry_wanted(struct spool *sp)
{
	int r = sp->retry;

	sp->retry = 0;
	return r;
}

int spool_look_wanted(struct spool *sp)
{
	int r = sp->look;

	sp->look = 0;
	return r;
}

int spool_nospace(const struct spool *sp)
{
	return sp->nospace;
}

void spool_room_again(struct spool *sp)
{
	sp->nospace = 0;
}

long long spool_full_retry_ms(void)
{
#ifdef EXPENSED_TEST_HOOKS
	const char *ms = getenv("EXPENSED_FULL_RETRY_MS");

	if (ms != NULL)
		return strtoll(ms, NULL, 10);
#endif
	return SPOOL_FULL_RETRY_MS;
}

int spool_claim(struct spool *sp, int inbox_fd, const char *name,
		struct spool_item *it)
{
	int rc;

	memset(it, 0, sizeof(*it));
	it->kind = ITEM_CLAIM;
	sp->seq = spool_seq_next(sp->seq);
	spool_name_key(sp->token, sp->seq, it->key);
	spool_name_copy(it->name, name);
	if (spool_name_claim(it->key, it->name, it->work) == -1)
		return -1; /* cannot happen: the name was cut */
	rc = renameat2(inbox_fd, name, sp->workfd, it->work, RENAME_NOREPLACE);
	if (rc == -1 && errno == EINVAL) /* no RENAME_NOREPLACE here */
		rc = renameat(inbox_fd, name, sp->workfd, it->work);
	if (rc == 0)
		return 0;
	if (errno == ENOENT)
		return 1; /* another daemon took it, or it went away */
	/* no room for work/ to grow: full (spool_nospace()) */
	(void)spool_write_failed(sp, errno);
	return -1; /* errno set: the caller logs it, once per entry */
}

void spool_trim(struct spool *sp)
{
	/* the syncer only calls syncfs: its arena holds nothing */
	worker_trim(sp->worker);
}

void spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	spool_flush(sp);
	worker_stop(sp->syncer);
	worker_stop(sp->worker);
	for (size_t i = 0; i < sp->nadopted; i++)
		close(sp->adopted[i].fd);
	free(sp->adopted);
	/* the last batch's renames (step 5 of spool_int.h) */
	if (sp->unsynced && sp->dirfd >= 0 && syncfs(sp->dirfd) == -1)
		log_msg(LOG_ERR, "cannot sync the spool: %s", strerror(errno));
	if (sp->lockfd >= 0)
		spool_unlock_owner(sp, sp->token, sp->lockfd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	if (sp->workfd >= 0)
		close(sp->workfd);
	if (sp->accfd >= 0)
		close(sp->accfd);
	if (sp->rejfd >= 0)
		close(sp->rejfd);
	if (sp->statefd >= 0)
		close(sp->statefd);
	for (size_t i = 0; i < SPOOL_PIPELINE; i++) {
		free(sp->records[i].text);
		free(sp->records[i].spent_page);
	}
	free(sp->quote);
	page_index_close(sp->index);
	spool_forget(sp);
	free(sp);
}
