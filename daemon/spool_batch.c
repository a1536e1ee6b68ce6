/*
 * spool_batch.c - one batch of the spool (steps 1 to 5 of the protocol in
 * spool_int.h): judge each claim safely (no FIFO, device or symlink is ever
 * read), decide verdicts and archive names under the ledger lock, write the
 * results, make everything durable with one group commit, archive, and log
 * one verdict line per file.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/io.h"
#include "log.h"
#include "spool_int.h"

#define READ_BUF_KEEP (1024 * 1024) /* keep the read buffer up to this */
#define ARCHIVE_TRIES 1000000	    /* NAME.1 ... NAME.999999 */

#ifdef EXPENSED_TEST_HOOKS
/*
 * Test hook, built only into expensed-hooks (-DEXPENSED_TEST_HOOKS): with
 * EXPENSED_FAILPOINT set to recorded, synced, half-archived or archived,
 * the daemon dies like kill -9 (_exit, no cleanup) at that point of its
 * first batch of two or more files, so that the end-to-end tests can check
 * recovery from every window of the protocol.
 */
static int failpoint_half; /* the second file of a batch is being archived */

static void fail_at(const char *stage, size_t batch)
{
	const char *failpoint = getenv("EXPENSED_FAILPOINT");

	if (failpoint != NULL && batch >= 2 && strcmp(failpoint, stage) == 0)
		_exit(99);
}

#define FAIL_AT(stage, batch) fail_at(stage, batch)
#define FAIL_HALF_ARM() (failpoint_half = 1)
#define FAIL_HALF()                                                            \
	do {                                                                   \
		if (failpoint_half)                                            \
			fail_at("half-archived", 2);                           \
	} while (0)
#else
#define FAIL_AT(stage, batch) ((void)0)
#define FAIL_HALF_ARM() ((void)0)
#define FAIL_HALF() ((void)0)
#endif

/* One item of a batch being processed. */
struct rec {
	struct spool_item *it;
	int ok;		    /* still going */
	struct judgement j; /* judged, or read back from a left-over result */
	json_t *doc; /* the result document: built from j once, or loaded */
	enum verdict verdict;
	char d;				   /* 'a' or 'r' */
	char arch[SPOOL_NAME_SIZE];	   /* the archive name ARCH */
	char rname[SPOOL_NAME_SIZE];	   /* work/ rKEY.D.ARCH */
	char archived_as[SPOOL_PATH_SIZE]; /* "accepted/ARCH" */
};

/* Why a claim is invalid before the engine reads it. */
struct refusal {
	const char *rule;
	char msg[256];
	long long size; /* the file's size, -1 unknown */
};

static void refuse(struct refusal *rf, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(struct refusal *rf, const char *rule, const char *fmt, ...)
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
		return "a symbolic link";
	case S_IFIFO:
		return "a FIFO";
	case S_IFDIR:
		return "a directory";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	default:
		return "not a regular file";
	}
}

/*
 * Open work/CLAIM for reading, only if it is a regular file: checked twice,
 * as Postfix's safe_open does: before the open, so that a device is never
 * opened at all, and after it, on the file actually opened, in case it was
 * swapped in between; O_NOFOLLOW | O_NONBLOCK as well. Returns the fd (and
 * rf->size), -1 refused (*rf filled), or -2 when the claim is gone.
 */
static int open_claim(int workfd, const char *work, struct refusal *rf)
{
	struct stat st;
	int fd;

	if (fstatat(workfd, work, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return -2;
		refuse(rf, "input.file", "cannot examine the file: %s",
		       strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		refuse(rf, "input.file", "%s is not a regular file",
		       kind_name(st.st_mode));
		return -1;
	}
	fd = openat(workfd, work,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd == -1 || fstat(fd, &st) == -1) {
		if (errno == ELOOP)
			refuse(rf, "input.file",
			       "a symbolic link is not a regular file");
		else
			refuse(rf, "input.file", "cannot open the file: %s",
			       strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		refuse(rf, "input.file", "%s is not a regular file",
		       kind_name(st.st_mode));
		close(fd);
		return -1;
	}
	rf->size = st.st_size;
	return fd;
}

/*
 * Judge work/CLAIM into r->j. 0 judged, 1 the claim is gone (skip), -1 no
 * memory. The bytes are read into sp->buf, kept for the next claim unless it
 * grew large.
 */
static int judge_claim(struct spool *sp, const struct spool_ctx *ctx,
		       struct rec *r)
{
	struct spool_item *it = r->it;
	struct judge_opts opts = {ctx->cfg->max_file_size, 0};
	size_t max = opts.max_file_size ? opts.max_file_size
					: EXPENSED_DEFAULT_MAX_FILE_SIZE;
	struct refusal rf = {NULL, "", -1};
	size_t len = 0;
	int fd, rc;

	fd = open_claim(sp->workfd, it->work, &rf);
	if (fd == -2)
		return 1;
	if (fd == -1)
		goto invalid;
	if (!ends_with(it->name, ".json")) {
		refuse(&rf, "input.name", "the name does not end in .json");
		goto invalid;
	}
	if ((size_t)rf.size > max) {
		refuse(&rf, "input.size",
		       "size %lld bytes exceeds max_file_size %zu", rf.size,
		       max);
		goto invalid;
	}
	if (read_fd(fd, max, (size_t)rf.size, &sp->buf, &sp->bufcap, &len) ==
	    -1) {
		if (errno == ENOMEM) {
			close(fd);
			return -1;
		}
		refuse(&rf, "input.file", "cannot read the file: %s",
		       strerror(errno));
		goto invalid;
	}
	if (len > max) {
		rf.size = (long long)len;
		refuse(&rf, "input.size",
		       "size exceeds max_file_size %zu (the file grew)", max);
		goto invalid;
	}
	close(fd);
	rc = judge_bytes(ctx->rs, &opts, it->name, sp->buf, len, &r->j);
	if (sp->bufcap > READ_BUF_KEEP) {
		free(sp->buf);
		sp->buf = NULL;
		sp->bufcap = 0;
	}
	return rc;
invalid:
	if (fd >= 0)
		close(fd);
	if (judge_invalid(ctx->rs, &opts, it->name, rf.rule, rf.msg, NULL,
			  rf.size, &r->j) == -1)
		return -1;
	return 0;
}

/* ---- archive names ---- */

static int dirfd_of(const struct spool *sp, char d)
{
	assert(d == 'a' || d == 'r');
	return d == 'a' ? sp->accfd : sp->rejfd;
}

/* Whether dirfd/arch and dirfd/res (its result name) are both free. */
static int name_free(int dirfd, const char *arch, const char *res)
{
	struct stat st;

	if (fstatat(dirfd, arch, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    errno != ENOENT)
		return 0;
	return fstatat(dirfd, res, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
	       errno == ENOENT;
}

/*
 * Choose the archive name of recs[i] in its directory (spool_name_archive:
 * the first candidate whose ARCH and ARCH.result.json are both free, on disk
 * and among recs[0..i)), and its result's name in work/. 0 or -1.
 */
static int choose_name(struct spool *sp, struct rec *recs, size_t i)
{
	struct rec *r = &recs[i];
	int dirfd = dirfd_of(sp, r->d);
	char res[SPOOL_NAME_SIZE];

	for (unsigned n = 0; n < ARCHIVE_TRIES; n++) {
		int taken = 0;
		/* candidates only grow: when one does not fit, none will */
		if (spool_name_archive(r->it->name, n, r->arch) == -1 ||
		    spool_name_result(r->arch, res) == -1 ||
		    spool_name_result_work(r->it->key, r->d, r->arch,
					   r->rname) == -1)
			return -1;
		for (size_t k = 0; k < i && !taken; k++)
			taken = recs[k].ok && recs[k].d == r->d &&
				strcmp(recs[k].arch, r->arch) == 0;
		if (!taken && name_free(dirfd, r->arch, res))
			return spool_name_archived_as(r->d, r->arch,
						      r->archived_as);
	}
	return -1;
}

/* ---- recording ---- */

/* Step 2 for one claim: its result document, built here once (the
 * webhook bodies share it), archived_as inside, in work/rKEY.D.ARCH. 0 or
 * -1 with errno. */
static int write_result(struct spool *sp, struct rec *r)
{
	char *text;
	int fd, rc = -1;

	r->doc = judgement_to_json(&r->j);
	if (r->doc == NULL ||
	    json_object_set_new(r->doc, "archived_as",
				json_string_lossy(r->archived_as)) == -1) {
		errno = ENOMEM;
		return -1;
	}
	text = json_dumps(r->doc, JSON_INDENT(2));
	if (text == NULL)
		return -1;
	fd =
	    openat(sp->workfd, r->rname,
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0 && write_all(fd, text, strlen(text)) == 0 &&
	    write_all(fd, "\n", 1) == 0)
		rc = 0;
	if (fd >= 0 && close(fd) == -1)
		rc = -1;
	free(text);
	return rc;
}

/* ---- logging ---- */

/* The verdict line of a judged file (archived as archived, NULL unknown),
 * then one line per error finding. */
static void log_result(const struct judgement *j, const char *name,
		       const char *archived)
{
	char file[1024], rid[512], arch[1024];
	int prio = j->verdict == VERDICT_ACCEPTED ? LOG_INFO : LOG_WARNING;

	log_escape(name, file, sizeof(file));
	log_msg(prio, "%s: %s (report %s, %d error%s, %d warning%s) -> %s",
		file, verdict_name(j->verdict),
		j->report_id ? log_escape(j->report_id, rid, sizeof(rid)) : "-",
		j->errors, j->errors == 1 ? "" : "s", j->warnings,
		j->warnings == 1 ? "" : "s",
		archived ? log_escape(archived, arch, sizeof(arch)) : "-");
	for (size_t i = 0; i < j->nfindings; i++) {
		const struct finding *f = &j->findings[i];
		char path[512], msg[1024], rule[256];
		if (f->severity != SEV_ERROR)
			continue;
		log_escape(f->path, path, sizeof(path));
		log_escape(f->message, msg, sizeof(msg));
		log_escape(f->rule, rule, sizeof(rule));
		log_msg(prio, "%s: %s%serror: %s [%s]", file, path,
			path[0] ? ": " : "", msg, rule);
	}
}

/* ---- the batch ---- */

/* report.duplicate on r when its id was accepted under another claim.
 * 0 or -1 (no memory). */
static int check_duplicate(struct spool_ctx *ctx, struct rec *r, const char *id)
{
	const char *prev;
	char *msg = NULL;
	int rc = 0;

	if (r->j.verdict == VERDICT_INVALID || id == NULL ||
	    (prev = ledger_find(ctx->ledger, id, r->it->key)) == NULL)
		return 0;
	if (asprintf(&msg, "report %s was already accepted (as %s)", id,
		     prev) == -1) {
		msg = NULL;
		rc = -1;
	} else if (judgement_add_finding(&r->j, "report.duplicate", SEV_ERROR,
					 "/id", msg) == -1) {
		rc = -1;
	}
	free(msg);
	return rc;
}

/* Step 1, under the ledger lock: verdicts (report.duplicate), archive
 * names and ledger lines. */
static int decide(struct spool *sp, struct spool_ctx *ctx, struct rec *recs,
		  size_t n)
{
	if (ledger_lock(ctx->ledger) == -1) {
		log_msg(LOG_ERR, "cannot read the ledger: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		const char *id;
		char esc[1024];

		if (!r->ok || r->it->kind != ITEM_CLAIM)
			continue;
		id = r->j.report_id;
		if (check_duplicate(ctx, r, id) == -1) {
			r->ok = 0;
			continue;
		}
		r->verdict = r->j.verdict;
		r->d = r->verdict == VERDICT_ACCEPTED ? 'a' : 'r';
		if (choose_name(sp, recs, i) == -1) {
			log_msg(LOG_ERR, "no free archive name for %s",
				log_escape(r->it->work, esc, sizeof(esc)));
			r->ok = 0;
			continue;
		}
		if (r->verdict == VERDICT_ACCEPTED && id != NULL &&
		    ledger_add(ctx->ledger, id, r->it->key, r->archived_as) ==
			-1)
			r->ok = 0;
	}
	if (ledger_unlock(ctx->ledger) == -1) {
		log_msg(LOG_ERR, "cannot write the ledger: %s",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* An ITEM_RESULT: its name says where it goes; load it for the log (a
 * result that cannot be read logs as an invalid file with no finding). */
static void prepare_result(struct spool *sp, struct rec *r)
{
	struct spool_work_name wn;
	json_error_t err;
	int fd;

	if (spool_name_parse_work(r->it->work, &wn) == -1 || wn.kind != 'r') {
		r->ok = 0;
		return;
	}
	r->d = wn.d;
	spool_name_copy(r->arch, wn.rest);
	spool_name_copy(r->rname, r->it->work);
	fd = openat(sp->workfd, r->rname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		r->doc = json_loadfd(fd, 0, &err);
		close(fd);
	}
	/* out of memory: j is empty and logs as an invalid file */
	(void)judgement_from_json(r->doc, &r->j);
	r->verdict = r->j.verdict;
}

static int rename_noreplace(int from, const char *a, int to, const char *b)
{
	int rc = renameat2(from, a, to, b, RENAME_NOREPLACE);

	if (rc == -1 && errno == EINVAL) { /* no RENAME_NOREPLACE here */
		struct stat st;
		if (fstatat(to, b, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			return -1;
		}
		rc = renameat(from, a, to, b);
	}
	return rc;
}

/* Step 4 for one item. 0 archived, -1 left for recovery. */
static int archive(struct spool *sp, struct rec *r)
{
	int dirfd = dirfd_of(sp, r->d);
	char res[SPOOL_NAME_SIZE], esc[1024];

	if (r->it->kind == ITEM_CLAIM &&
	    rename_noreplace(sp->workfd, r->it->work, dirfd, r->arch) == -1) {
		if (errno == EEXIST) {
			/* the name was taken meanwhile: judge again */
			unlinkat(sp->workfd, r->rname, 0);
			sp->retry = 1;
		} else {
			log_msg(LOG_ERR, "cannot archive %s: %s",
				log_escape(r->it->work, esc, sizeof(esc)),
				strerror(errno));
		}
		return -1;
	}
	FAIL_HALF();
	if (spool_name_result(r->arch, res) == -1 ||
	    rename_noreplace(sp->workfd, r->rname, dirfd, res) == -1) {
		if (errno != ENOENT || r->it->kind == ITEM_CLAIM)
			log_msg(LOG_ERR, "cannot put result %s in place: %s",
				log_escape(r->rname, esc, sizeof(esc)),
				strerror(errno));
		return -1;
	}
	return 0;
}

/* Step 1 before decide(): judge each claim, load each leftover result. */
static void judge_all(struct spool *sp, const struct spool_ctx *ctx,
		      struct rec *recs, struct spool_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		char esc[1024];
		int jr;

		r->it = &items[i];
		r->ok = 1;
		if (r->it->kind == ITEM_RESULT) {
			prepare_result(sp, r);
			continue;
		}
		jr = judge_claim(sp, ctx, r);
		if (jr != 0) {
			if (jr == -1)
				log_msg(
				    LOG_ERR, "out of memory judging %s",
				    log_escape(r->it->work, esc, sizeof(esc)));
			r->ok = 0;
		}
	}
}

/* Step 2: write the results and queue the deliveries. */
static void record_all(struct spool *sp, struct spool_ctx *ctx,
		       struct rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		char esc[1024];

		if (!r->ok || r->it->kind != ITEM_CLAIM)
			continue;
		if (write_result(sp, r) == -1) {
			log_msg(LOG_ERR, "cannot write result %s: %s",
				log_escape(r->rname, esc, sizeof(esc)),
				strerror(errno));
			unlinkat(sp->workfd, r->rname, 0);
			r->ok = 0;
			continue;
		}
		if (outbox_queue(ctx->ob, r->it->work, &r->j, r->doc) == -1) {
			log_msg(LOG_ERR, "cannot queue deliveries for %s",
				log_escape(r->it->work, esc, sizeof(esc)));
			unlinkat(sp->workfd, r->rname, 0);
			r->ok = 0;
		}
	}
}

/* Step 3: the group commit. 0 or -1 (logged). */
static int commit(struct spool *sp, struct spool_ctx *ctx)
{
	if (outbox_sync(ctx->ob) == -1) {
		log_msg(LOG_ERR, "cannot sync the outbox: %s", strerror(errno));
		return -1;
	}
	if (syncfs(sp->dirfd) == -1) {
		log_msg(LOG_ERR, "cannot sync the spool: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Step 4: archive every item still going. Whether any file moved. */
static int archive_all(struct spool *sp, struct rec *recs, size_t n)
{
	int moved = 0;

	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		if (!r->ok)
			continue;
		if (i == 1)
			FAIL_HALF_ARM();
		if (archive(sp, r) == -1)
			r->ok = 0;
		else
			moved = 1;
	}
	return moved;
}

/* After step 5: the verdict lines and counters of the archived files. */
static void report_all(struct spool_ctx *ctx, struct rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		const char *file;
		if (!r->ok)
			continue;
		file = r->it->kind == ITEM_CLAIM ? r->it->name : r->j.file;
		/* the daemon's own key in the document it wrote (and read) */
		log_result(
		    &r->j, file ? file : r->arch,
		    json_string_value(json_object_get(r->doc, "archived_as")));
		if (r->verdict == VERDICT_ACCEPTED)
			ctx->accepted++;
		else if (r->verdict == VERDICT_REJECTED)
			ctx->rejected++;
		else
			ctx->invalid++;
	}
}

int spool_process(struct spool *sp, struct spool_ctx *ctx,
		  struct spool_item *items, size_t n)
{
	struct rec *recs;
	int rc = -1, moved;

	assert(ctx->ob != NULL);
	if (n == 0)
		return 0;
	recs = calloc(n, sizeof(*recs));
	if (recs == NULL)
		return -1;
	judge_all(sp, ctx, recs, items, n);
	if (decide(sp, ctx, recs, n) == -1)
		goto out;
	record_all(sp, ctx, recs, n);
	FAIL_AT("recorded", n);
	if (commit(sp, ctx) == -1)
		goto out;
	FAIL_AT("synced", n);
	moved = archive_all(sp, recs, n);
	FAIL_AT("archived", n);
	/* step 5: the renames made durable */
	if (moved && syncfs(sp->dirfd) == -1)
		log_msg(LOG_ERR, "cannot sync the spool: %s", strerror(errno));
	report_all(ctx, recs, n);
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		judgement_release(&recs[i].j);
		json_decref(recs[i].doc);
	}
	free(recs);
	return rc;
}
