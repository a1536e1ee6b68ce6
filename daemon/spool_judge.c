/*
 * spool_judge.c - step 1 of a batch for one claim (spool_int.h): open it
 * safely (relative to work/, O_NOFOLLOW | O_NONBLOCK, then fstat: no FIFO,
 * device, symlink, directory or hard-linked file is ever read), read at
 * most max_file_size bytes (the daemon's thread), judge them (a job, on
 * the worker), and put the daemon's own copy of exactly those bytes in
 * place of the claim (the daemon's thread).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/i18n.h"
#include "../common/io.h"
#include "log.h"
#include "metrics.h"
#include "spool_int.h"

/* Why a claim is invalid before the engine reads it: rf->rule and
 * rf->msg. */
static void refuse(struct claim *rf, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(struct claim *rf, const char *rule, const char *fmt, ...)
{
	va_list ap;

	rf->rule = rule;
	va_start(ap, fmt);
	vsnprintf(rf->msg, sizeof(rf->msg), fmt, ap);
	va_end(ap);
}

/* What a file that is not regular is, for the input.file message. */
static const char *kind_name(mode_t mode)
{
	assert(!S_ISREG(mode));
	switch (mode & S_IFMT) {
	case S_IFLNK:
		return _("a symbolic link");
	case S_IFIFO:
		return _("a FIFO");
	case S_IFDIR:
		return _("a directory");
	case S_IFCHR:
		return _("a character device");
	case S_IFBLK:
		return _("a block device");
	case S_IFSOCK:
		return _("a socket");
	default:
		return _("not a regular file");
	}
}

/*
 * Open work/CLAIM for reading, only if it is a regular file: checked twice,
 * as Postfix's safe_open does: before the open, so that a device is never
 * opened at all, and after it, on the file actually opened, in case it was
 * swapped in between; O_NOFOLLOW | O_NONBLOCK as well. Returns the fd (and
 * rf->size), -1 refused (*rf filled), -2 when the claim is gone, or -3
 * when another program holds a lease on it (*rf filled, for its last try).
 */
static int open_claim(int workfd, const char *work, struct claim *rf)
{
	struct stat st;
	int fd;

	if (fstatat(workfd, work, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return -2;
		refuse(rf, "input.file", _("cannot examine the file: %s"),
		       strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		refuse(rf, "input.file", _("%s is not a regular file"),
		       kind_name(st.st_mode));
		return -1;
	}
	fd = openat(workfd, work,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd == -1 && errno == EWOULDBLOCK) {
		/* a write lease (F_SETLEASE: Samba's kernel oplocks, the NFS
		 * server's delegations): O_NONBLOCK has started its break,
		 * which its holder answers in a moment, or the kernel ends
		 * after lease-break-time (45 s) */
		refuse(rf, "input.file",
		       _("another program (a file server) kept the file "
			 "locked and did not release it (%u tries)"),
		       SPOOL_LEASE_TRIES);
		return -3;
	}
	if (fd == -1 || fstat(fd, &st) == -1) {
		if (errno == ELOOP)
			refuse(rf, "input.file",
			       _("a symbolic link is not a regular file"));
		else
			refuse(rf, "input.file", _("cannot open the file: %s"),
			       strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rf->size = S_ISREG(st.st_mode) ? st.st_size : -1;
	if (!S_ISREG(st.st_mode))
		refuse(rf, "input.file", _("%s is not a regular file"),
		       kind_name(st.st_mode));
	else if (st.st_nlink > 1)
		/* its bytes could change after the verdict through the
		 * other name */
		refuse(rf, "input.file", _("the file has %lu hard links"),
		       (unsigned long)st.st_nlink);
	else
		return fd;
	close(fd);
	return -1;
}

/*
 * Step 1's copy: the judged bytes into work/kKEY.NAME (0640, this daemon's),
 * renamed over the claim. 0 or -1 (logged).
 */
static int keep_copy(struct spool *sp, const struct spool_item *it,
		     const char *buf, size_t len)
{
	char kname[SPOOL_NAME_SIZE], esc[1024];
	int eperm = 0, rc, e;

	spool_name_kept(it->work, kname);
	rc = spool_write_work(sp, kname, buf, len, 0, &eperm);
	if (eperm)
		spool_warn_group(sp, EPERM); /* said once */
	if (rc == 0 && renameat(sp->workfd, kname, sp->workfd, it->work) == 0)
		return 0;
	e = errno;
	if (spool_write_failed(sp, e))
		log_msg(LOG_ERR, "cannot copy %s: %s",
			log_escape(it->work, esc, sizeof(esc)), strerror(e));
	unlinkat(sp->workfd, kname, 0);
	return -1;
}

/*
 * The claim key found leased: whether to leave it in work/ for the next
 * look (1), or judge it invalid now (0: its SPOOL_LEASE_TRIES-th try, so
 * that a holder that takes its lease again after each break cannot keep
 * it there for good). Out of memory to count the tries, it waits all the
 * same, this try uncounted: no memory is never a verdict.
 */
static int lease_wait(struct spool *sp, const char *key)
{
	uintptr_t n = (uintptr_t)strmap_get(&sp->leased, key) + 1;

	if (n >= SPOOL_LEASE_TRIES) {
		strmap_del(&sp->leased, key);
		return 0;
	}
	(void)strmap_put(&sp->leased, key, (void *)n, NULL);
	sp->look = 1;
	return 1;
}

int spool_claim_read(struct spool *sp, const struct spool_ctx *ctx,
		     struct rec *r, struct claim *c)
{
	struct spool_item *it = r->it;
	size_t max;
	int fd = -1;

	c->r = r;
	c->opts = (struct judge_opts){
	    .max_file_size = ctx->cfg->max_file_size,
	    .max_findings = ctx->cfg->max_findings,
	    .lang = ctx->cfg->language,
	    .max_time_ms = (unsigned long long)ctx->cfg->max_judge_ms,
	    .max_memory = ctx->cfg->max_judge_memory};
	c->rs = ctx->rs;
	c->html = ctx->cfg->html;
	c->rule = NULL;
	c->msg[0] = '\0';
	c->size = -1;
	c->len = 0;
	c->rc = 0;
	c->us = 0;
	max = c->opts.max_file_size ? c->opts.max_file_size
				    : EXPENSED_DEFAULT_MAX_FILE_SIZE;
	if (it->tries >= SPOOL_MAX_TRIES) {
		refuse(c, "input.resources",
		       _("could not be judged within the machine's limits: "
			 "judging it ran out of memory or stopped the daemon "
			 "%u times"),
		       it->tries);
		return 0;
	}
	fd = open_claim(sp->workfd, it->work, c);
	if (fd == -3 && lease_wait(sp, it->key))
		return 2;
	if (fd != -3)
		strmap_del(&sp->leased, it->key);
	if (fd == -2)
		return 1;
	if (fd < 0)
		return 0;
	if (!ends_with(it->name, ".json")) {
		refuse(c, "input.name", _("the name does not end in .json"));
	} else if ((size_t)c->size > max) {
		refuse(c, "input.size",
		       _("size %lld bytes exceeds max_file_size %zu"), c->size,
		       max);
	} else if (read_fd(fd, max, (size_t)c->size, &c->buf, &c->cap,
			   &c->len) == -1) {
		if (errno == ENOMEM) {
			close(fd);
			return -1;
		}
		refuse(c, "input.file", _("cannot read the file: %s"),
		       strerror(errno));
	} else if (c->len > max) {
		c->size = (long long)c->len;
		refuse(c, "input.size",
		       _("size exceeds max_file_size %zu (the file grew)"),
		       max);
	}
	close(fd);
	return 0;
}

void spool_claim_judge(struct job *job)
{
	struct claim *c = (struct claim *)job;
	struct rec *r = c->r;
	json_t *root = NULL;
	long long t0 = metrics_now_us();

	SPOOL_DIE_JUDGING(r->it->name);

	c->opts.keep_root = c->html ? &root : NULL;
	if (c->rule != NULL)
		c->rc = judge_invalid(c->rs, &c->opts, r->it->name, c->rule,
				      c->msg, NULL, c->size, &r->j);
	else
		c->rc = judge_bytes(c->rs, &c->opts, r->it->name, c->buf,
				    c->len, &r->j);
	c->us = metrics_now_us() - t0;
	/* the page now, while the report is parsed and the bytes are in
	 * memory; the report freed at once (kept until step 2, each report
	 * cost the worker more to free, and memory) */
	if (c->rc == 0 && c->html)
		spool_page_render(r, root, c->rule == NULL ? c->buf : NULL,
				  c->len, NULL, c->opts.lang);
	json_decref(root);
}

int spool_claim_copy(struct spool *sp, struct claim *c)
{
	/* only bytes read are copied: a file refused before reading (a
	 * FIFO, a hard link, too large...) stays as it is */
	if (c->rule != NULL)
		return 0;
	return keep_copy(sp, c->r->it, c->buf, c->len);
}

void spool_claim_release(struct claim *c)
{
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}
