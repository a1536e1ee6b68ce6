/*
 * spool.c - the life of a file in the spool: claim (rename into work/),
 * judge (safe open, bounded read, the engine, report.duplicate), record
 * (result + deliveries + ledger, one sync per batch), archive (rename into
 * accepted/ or rejected/, never overwriting), and recovery of work/.
 *
 * Names in work/ (KEY = "<token>.<seq>": 16 hex digits naming the daemon
 * that claimed, 8 hex digits counting its claims):
 *
 *   cKEY.NAME       the claimed input (NAME: the dropped name, cut at 200
 *                   bytes on a UTF-8 boundary)
 *   rKEY.D.ARCH     its result document, not yet in place; D is 'a'
 *                   (accepted/) or 'r' (rejected/), ARCH the archive name
 *
 * Each daemon holds flock(LOCK_EX) on state/owner-TOKEN.lock while it
 * lives. A claim belongs to the daemon whose token it bears; another daemon
 * takes over a token's claims only once it can lock that token's lock file
 * (the owner is dead), and keeps that lock while it recovers them.
 *
 * The protocol for a batch of claimed files (at most 256), and what a
 * kill -9 at each point leaves:
 *
 *   1. judge every cKEY; under the ledger lock decide the verdicts
 *      (report.duplicate), the archive names (free in accepted|rejected,
 *      and NAME.result.json free too) and append accepted ids to the ledger
 *      (each line carries KEY);
 *   2. write every rKEY.D.ARCH in work/ (archived_as inside), queue the
 *      deliveries (outbox_queue: ids derived from the claim name);
 *   3. outbox_sync() and ONE syncfs() of the spool: results, deliveries,
 *      ledger lines and the input bytes themselves are durable;
 *   4. per file: rename cKEY.NAME -> D/ARCH (RENAME_NOREPLACE), then
 *      rKEY.D.ARCH -> D/ARCH.result.json (RENAME_NOREPLACE);
 *   5. ONE more syncfs() (the renames).
 *
 *   Crash before 3 completes: work/ holds cKEY (and maybe a partial or
 *   complete rKEY). Recovery removes every rKEY of a present cKEY and
 *   judges cKEY again: same claim name, so the same delivery ids (existing
 *   deliveries are kept, not duplicated) and its own ledger line (same KEY)
 *   is not a duplicate of itself.
 *   Crash in 4 or before 5 completes: a journalling file system makes
 *   renames durable in order, so per file either nothing moved (as above:
 *   judged again; the archive name is still free), or the input moved but
 *   not its result (work/ holds rKEY.D.ARCH alone: recovery finishes the
 *   rename, no judging: the deliveries are durable since 3), or both moved
 *   (done).
 *   If the input rename in 4 finds ARCH taken (another daemon used the name
 *   meanwhile), rKEY is removed and the file judged again at once.
 *
 * So every file ends in exactly one of accepted/ or rejected/, with exactly
 * one result beside it; a file is never judged by two live daemons.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/strmap.h"
#include "log.h"
#include "spool.h"

#define TOKEN_LEN 16
#define KEY_LEN (TOKEN_LEN + 1 + 8)
#define RESULT_SUFFIX ".result.json"
#define READ_BUF_KEEP (1024 * 1024) /* keep the read buffer up to this */

/*
 * Test hook: with EXPENSED_FAILPOINT set to recorded, synced, half-archived
 * or archived, the daemon dies like kill -9 (_exit, no cleanup) at that
 * point of its first batch of two or more files, so that the end-to-end
 * tests can check recovery from every window of the protocol above.
 */
static const char *failpoint;
static int failpoint_half; /* the second file of a batch is being archived */

static void fail_at(const char *stage, size_t batch)
{
	if (failpoint != NULL && batch >= 2 && strcmp(failpoint, stage) == 0)
		_exit(99);
}

struct adopted {
	char token[TOKEN_LEN + 1];
	int fd;
};

struct spool {
	int dirfd, workfd, accfd, rejfd, statefd;
	char token[TOKEN_LEN + 1];
	int lockfd;
	unsigned seq;
	struct adopted *adopted;
	size_t nadopted;
	int retry;
	unsigned char *buf;
	size_t bufcap;
};

/* One item of a batch being processed. */
struct rec {
	struct spool_item *it;
	int ok;	    /* still going */
	int judged; /* j is set */
	struct judgement j;
	json_t *doc; /* the result document (j.doc, or loaded) */
	enum verdict verdict;
	char d; /* 'a' or 'r' */
	char arch[NAME_MAX + 1];
	char rname[NAME_MAX + 1];
};

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/*
 * Parse a work/ name: 'c' or 'r', KEY, '.', rest. Returns the kind letter
 * (0 if not ours) and fills key (KEY_LEN + 1 bytes) and *rest.
 */
static char parse_work_name(const char *name, char *key, const char **rest)
{
	if ((name[0] != 'c' && name[0] != 'r') ||
	    strlen(name) < 1 + KEY_LEN + 2 || !is_hex(name + 1, TOKEN_LEN) ||
	    name[1 + TOKEN_LEN] != '.' || !is_hex(name + 2 + TOKEN_LEN, 8) ||
	    name[1 + KEY_LEN] != '.')
		return 0;
	memcpy(key, name + 1, KEY_LEN);
	key[KEY_LEN] = '\0';
	*rest = name + 2 + KEY_LEN;
	if (name[0] == 'r' && !(((*rest)[0] == 'a' || (*rest)[0] == 'r') &&
				(*rest)[1] == '.' && (*rest)[2] != '\0'))
		return 0;
	return name[0];
}

static int mkdir_open(int dirfd, const char *name, struct diag *diag,
		      const char *dir)
{
	int fd;

	if (mkdirat(dirfd, name, 0750) == -1 && errno != EEXIST) {
		diag_add(diag, "cannot create %s/%s: %s", dir, name,
			 strerror(errno));
		return -1;
	}
	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		diag_add(diag, "cannot open %s/%s: %s", dir, name,
			 strerror(errno));
	return fd;
}

struct spool *spool_open(const char *dir, struct diag *diag)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	uint64_t r = 0;
	char lockname[64], tmpname[64];

	if (sp == NULL) {
		diag_add(diag, "out of memory");
		return NULL;
	}
	sp->dirfd = sp->workfd = sp->accfd = sp->rejfd = sp->statefd = -1;
	sp->lockfd = -1;
	failpoint = getenv("EXPENSED_FAILPOINT");
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd == -1) {
		diag_add(diag, "cannot open spool directory %s: %s", dir,
			 strerror(errno));
		goto fail;
	}
	sp->workfd = mkdir_open(sp->dirfd, "work", diag, dir);
	sp->accfd = mkdir_open(sp->dirfd, "accepted", diag, dir);
	sp->rejfd = mkdir_open(sp->dirfd, "rejected", diag, dir);
	sp->statefd = mkdir_open(sp->dirfd, "state", diag, dir);
	if (sp->workfd < 0 || sp->accfd < 0 || sp->rejfd < 0 || sp->statefd < 0)
		goto fail;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
		    ((uint64_t)getpid() << 16);
	}
	snprintf(sp->token, sizeof(sp->token), "%016llx",
		 (unsigned long long)r);
	/* locked under a temporary name first, so that no sweep_locks() of
	 * another daemon can take it for a dead owner's before we hold it */
	snprintf(tmpname, sizeof(tmpname), "tmp-%s", sp->token);
	snprintf(lockname, sizeof(lockname), "owner-%s.lock", sp->token);
	sp->lockfd =
	    openat(sp->statefd, tmpname,
		   O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (sp->lockfd == -1 || flock(sp->lockfd, LOCK_EX | LOCK_NB) == -1 ||
	    renameat(sp->statefd, tmpname, sp->statefd, lockname) == -1) {
		diag_add(diag, "cannot lock %s/state/%s: %s", dir, lockname,
			 strerror(errno));
		if (sp->lockfd >= 0) {
			unlinkat(sp->statefd, tmpname, 0);
			close(sp->lockfd);
			sp->lockfd = -1;
		}
		goto fail;
	}
	dprintf(sp->lockfd, "%ld\n", (long)getpid());
	return sp;
fail:
	spool_close(sp);
	return NULL;
}

int spool_dirfd(const struct spool *sp)
{
	return sp->dirfd;
}

int spool_statefd(const struct spool *sp)
{
	return sp->statefd;
}

int spool_retry_wanted(struct spool *sp)
{
	int r = sp->retry;

	sp->retry = 0;
	return r;
}

/* Cut name to at most SPOOL_NAME_KEEP bytes, not inside a UTF-8 sequence. */
static size_t kept_len(const char *name)
{
	size_t n = strlen(name);

	if (n <= SPOOL_NAME_KEEP)
		return n;
	n = SPOOL_NAME_KEEP;
	while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
		n--;
	return n;
}

int spool_claim(struct spool *sp, int inbox_fd, const char *name,
		struct spool_item *it)
{
	char esc[1024];
	int rc;

	memset(it, 0, sizeof(*it));
	it->kind = ITEM_CLAIM;
	snprintf(it->key, sizeof(it->key), "%s.%08x", sp->token, sp->seq++);
	snprintf(it->name, sizeof(it->name), "%.*s", (int)kept_len(name), name);
	if (snprintf(it->work, sizeof(it->work), "c%s.%s", it->key, it->name) >=
	    (int)sizeof(it->work)) {
		errno = ENAMETOOLONG; /* cannot happen: the name was cut */
		return -1;
	}
	rc = renameat2(inbox_fd, name, sp->workfd, it->work, RENAME_NOREPLACE);
	if (rc == -1 && errno == EINVAL) /* no RENAME_NOREPLACE here */
		rc = renameat(inbox_fd, name, sp->workfd, it->work);
	if (rc == 0)
		return 0;
	if (errno == ENOENT)
		return 1; /* another daemon took it, or it went away */
	log_msg(LOG_ERR, "cannot claim %s: %s",
		log_escape(name, esc, sizeof(esc)), strerror(errno));
	return -1;
}

/* ---- judging ---- */

static const char *kind_name(mode_t mode)
{
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

/* Read all of fd, at most max + 1 bytes, into sp->buf; *len gets the
 * count. 0, or -1 with errno. */
static int read_all(struct spool *sp, int fd, size_t hint, size_t max,
		    size_t *len)
{
	size_t want = (hint < max ? hint : max) + 1, done = 0;

	for (;;) {
		ssize_t n;
		if (done == want) {
			if (done > max)
				break;
			want = want * 2 > max + 1 ? max + 1 : want * 2;
		}
		if (sp->bufcap < want) {
			unsigned char *b = realloc(sp->buf, want);
			if (b == NULL)
				return -1;
			sp->buf = b;
			sp->bufcap = want;
		}
		n = read(fd, sp->buf + done, want - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*len = done;
	return 0;
}

/*
 * Judge work/CLAIM into r->j. 0 judged, 1 the claim is gone (skip), -1 no
 * memory. The input's bytes are read only from a regular file opened with
 * O_NOFOLLOW | O_NONBLOCK (a FIFO, device or symlink is never read).
 */
static int judge_claim(struct spool *sp, const struct spool_ctx *ctx,
		       struct rec *r)
{
	struct spool_item *it = r->it;
	struct judge_opts opts = {ctx->cfg->max_file_size, 0};
	size_t max = opts.max_file_size ? opts.max_file_size
					: EXPENSED_DEFAULT_MAX_FILE_SIZE;
	const char *rule = NULL;
	char msg[256];
	long long size = -1;
	struct stat st;
	size_t len = 0;
	int fd = -1, rc;

	/* Checked twice, as Postfix's safe_open does: before the open, so
	 * that a device is never opened at all, and after it, on the file
	 * actually opened, in case it was swapped in between. */
	if (fstatat(sp->workfd, it->work, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 1;
		rule = "input.file";
		snprintf(msg, sizeof(msg), "cannot examine the file: %s",
			 strerror(errno));
		goto invalid;
	}
	if (!S_ISREG(st.st_mode)) {
		rule = "input.file";
		snprintf(msg, sizeof(msg), "%s is not a regular file",
			 kind_name(st.st_mode));
		goto invalid;
	}
	fd = openat(sp->workfd, it->work,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd == -1 || fstat(fd, &st) == -1) {
		rule = "input.file";
		if (errno == ELOOP)
			snprintf(msg, sizeof(msg),
				 "a symbolic link is not a regular file");
		else
			snprintf(msg, sizeof(msg), "cannot open the file: %s",
				 strerror(errno));
		goto invalid;
	}
	if (!S_ISREG(st.st_mode)) {
		rule = "input.file";
		snprintf(msg, sizeof(msg), "%s is not a regular file",
			 kind_name(st.st_mode));
		goto invalid;
	}
	size = st.st_size;
	if (!ends_with(it->name, ".json")) {
		rule = "input.name";
		snprintf(msg, sizeof(msg), "the name does not end in .json");
		goto invalid;
	}
	if ((size_t)st.st_size > max) {
		rule = "input.size";
		snprintf(msg, sizeof(msg),
			 "size %lld bytes exceeds max_file_size %zu",
			 (long long)st.st_size, max);
		goto invalid;
	}
	if (read_all(sp, fd, (size_t)st.st_size, max, &len) == -1) {
		if (errno == ENOMEM)
			goto nomem;
		rule = "input.file";
		snprintf(msg, sizeof(msg), "cannot read the file: %s",
			 strerror(errno));
		goto invalid;
	}
	if (len > max) {
		rule = "input.size";
		size = (long long)len;
		snprintf(msg, sizeof(msg),
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
	if (rc == -1)
		return -1;
	r->judged = 1;
	return 0;
invalid:
	if (fd >= 0)
		close(fd);
	if (judge_invalid(ctx->rs, &opts, it->name, rule, msg, NULL, size,
			  &r->j) == -1)
		return -1;
	r->judged = 1;
	return 0;
nomem:
	close(fd);
	return -1;
}

/* ---- archive names ---- */

static int dirfd_of(const struct spool *sp, char d)
{
	return d == 'a' ? sp->accfd : sp->rejfd;
}

static const char *dir_of(char d)
{
	return d == 'a' ? "accepted" : "rejected";
}

static int name_free(int dirfd, const char *name)
{
	char res[NAME_MAX + 1];
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    errno != ENOENT)
		return 0;
	if (snprintf(res, sizeof(res), "%s%s", name, RESULT_SUFFIX) >=
	    (int)sizeof(res))
		return 0;
	return fstatat(dirfd, res, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
	       errno == ENOENT;
}

/*
 * Choose the archive name of recs[i] in its directory: NAME if NAME and
 * NAME.result.json are both free (on disk and among recs[0..i)), else
 * STEM.N.json for NAME = STEM.json, or NAME.N for other names (N = 1, 2..).
 */
static int choose_name(struct spool *sp, struct rec *recs, size_t i)
{
	struct rec *r = &recs[i];
	const char *name = r->it->name;
	int dirfd = dirfd_of(sp, r->d);

	for (unsigned n = 0; n < 1000000; n++) {
		int taken = 0, len;
		if (n == 0)
			len = snprintf(r->arch, sizeof(r->arch), "%s", name);
		else if (ends_with(name, ".json"))
			len = snprintf(r->arch, sizeof(r->arch), "%.*s.%u.json",
				       (int)(strlen(name) - 5), name, n);
		else
			len = snprintf(r->arch, sizeof(r->arch), "%s.%u", name,
				       n);
		if (len >= (int)sizeof(r->arch))
			return -1;
		for (size_t k = 0; k < i && !taken; k++)
			taken = recs[k].ok && recs[k].d == r->d &&
				strcmp(recs[k].arch, r->arch) == 0;
		if (!taken && name_free(dirfd, r->arch))
			return 0;
	}
	return -1;
}

/* ---- recording ---- */

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_result(struct spool *sp, struct rec *r)
{
	char path[NAME_MAX + 16];
	char *text;
	int fd, rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir_of(r->d), r->arch);
	if (json_object_set_new(r->doc, "archived_as",
				json_string_lossy(path)) == -1)
		return -1;
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

static const char *jstr(const json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static void log_result(const json_t *doc, const char *name, enum verdict v)
{
	char file[1024], rid[512], arch[1024];
	const char *id = jstr(doc, "report_id");
	const char *archived = jstr(doc, "archived_as");
	int prio = v == VERDICT_ACCEPTED ? LOG_INFO : LOG_WARNING;
	size_t i;
	json_t *f;

	int errors = (int)json_integer_value(json_object_get(doc, "errors"));
	int warnings =
	    (int)json_integer_value(json_object_get(doc, "warnings"));

	log_escape(name, file, sizeof(file));
	log_msg(prio, "%s: %s (report %s, %d error%s, %d warning%s) -> %s",
		file, verdict_name(v),
		id ? log_escape(id, rid, sizeof(rid)) : "-", errors,
		errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s",
		archived ? log_escape(archived, arch, sizeof(arch)) : "-");
	json_array_foreach(json_object_get(doc, "findings"), i, f)
	{
		char path[512], msg[1024], rule[256];
		const char *sev = jstr(f, "severity");
		if (sev == NULL || strcmp(sev, "error") != 0)
			continue;
		log_escape(jstr(f, "path") ? jstr(f, "path") : "", path,
			   sizeof(path));
		log_escape(jstr(f, "message") ? jstr(f, "message") : "", msg,
			   sizeof(msg));
		log_escape(jstr(f, "rule") ? jstr(f, "rule") : "", rule,
			   sizeof(rule));
		log_msg(prio, "%s: %s%serror: %s [%s]", file, path,
			path[0] ? ": " : "", msg, rule);
	}
}

static enum verdict verdict_of(const json_t *doc)
{
	const char *v = jstr(doc, "verdict");

	if (v != NULL && strcmp(v, "accepted") == 0)
		return VERDICT_ACCEPTED;
	if (v != NULL && strcmp(v, "rejected") == 0)
		return VERDICT_REJECTED;
	return VERDICT_INVALID;
}

/* ---- the batch ---- */

/* Decide verdicts (report.duplicate), archive names and ledger lines. */
static int decide(struct spool *sp, struct spool_ctx *ctx, struct rec *recs,
		  size_t n)
{
	if (ledger_lock(ctx->ledger) == -1) {
		log_msg(LOG_ERR, "cannot read the ledger: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		const char *id, *prev;
		char path[NAME_MAX + 16];
		char esc[1024];

		if (!r->ok || r->it->kind != ITEM_CLAIM)
			continue;
		id = judgement_report_id(&r->j);
		if (r->j.verdict != VERDICT_INVALID && id != NULL &&
		    (prev = ledger_find(ctx->ledger, id, r->it->key)) != NULL) {
			char *msg = NULL;
			if (asprintf(&msg,
				     "report %s was already accepted (as %s)",
				     id, prev) == -1 ||
			    judgement_add_finding(&r->j, "report.duplicate",
						  "error", "/id", msg) == -1) {
				free(msg);
				r->ok = 0;
				continue;
			}
			free(msg);
		}
		r->verdict = r->j.verdict;
		r->doc = r->j.doc;
		r->d = r->verdict == VERDICT_ACCEPTED ? 'a' : 'r';
		if (choose_name(sp, recs, i) == -1) {
			log_msg(LOG_ERR, "no free archive name for %s",
				log_escape(r->it->work, esc, sizeof(esc)));
			r->ok = 0;
			continue;
		}
		snprintf(r->rname, sizeof(r->rname), "r%s.%c.%s", r->it->key,
			 r->d, r->arch);
		snprintf(path, sizeof(path), "%s/%s", dir_of(r->d), r->arch);
		if (r->verdict == VERDICT_ACCEPTED && id != NULL &&
		    ledger_add(ctx->ledger, id, r->it->key, path) == -1)
			r->ok = 0;
	}
	if (ledger_unlock(ctx->ledger) == -1) {
		log_msg(LOG_ERR, "cannot write the ledger: %s",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* An ITEM_RESULT: its name says where it goes; load it for the log. */
static void prepare_result(struct spool *sp, struct rec *r)
{
	const char *rest;
	char key[KEY_LEN + 1];
	json_error_t err;
	int fd;

	if (parse_work_name(r->it->work, key, &rest) != 'r') {
		r->ok = 0;
		return;
	}
	r->d = rest[0];
	snprintf(r->arch, sizeof(r->arch), "%s", rest + 2);
	snprintf(r->rname, sizeof(r->rname), "%s", r->it->work);
	fd = openat(sp->workfd, r->rname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		r->doc = json_loadfd(fd, 0, &err);
		close(fd);
	}
	if (r->doc == NULL)
		r->doc = json_object();
	r->verdict = r->doc ? verdict_of(r->doc) : VERDICT_INVALID;
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
	char res[NAME_MAX + 1], esc[1024];

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
	if (failpoint_half)
		fail_at("half-archived", 2);
	snprintf(res, sizeof(res), "%s%s", r->arch, RESULT_SUFFIX);
	if (rename_noreplace(sp->workfd, r->rname, dirfd, res) == -1) {
		if (errno != ENOENT || r->it->kind == ITEM_CLAIM)
			log_msg(LOG_ERR, "cannot put result %s in place: %s",
				log_escape(r->rname, esc, sizeof(esc)),
				strerror(errno));
		return -1;
	}
	return 0;
}

int spool_process(struct spool *sp, struct spool_ctx *ctx,
		  struct spool_item *items, size_t n)
{
	struct rec *recs;
	int rc = -1, moved = 0;

	if (n == 0)
		return 0;
	recs = calloc(n, sizeof(*recs));
	if (recs == NULL)
		return -1;

	/* 1. judge */
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		char esc[1024];
		r->it = &items[i];
		r->ok = 1;
		if (r->it->kind == ITEM_RESULT) {
			prepare_result(sp, r);
			continue;
		}
		int jr = judge_claim(sp, ctx, r);
		if (jr != 0) {
			if (jr == -1)
				log_msg(
				    LOG_ERR, "out of memory judging %s",
				    log_escape(r->it->work, esc, sizeof(esc)));
			r->ok = 0;
		}
	}
	if (decide(sp, ctx, recs, n) == -1)
		goto out;

	/* 2. write results and queue deliveries */
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
		if (ctx->ob != NULL && outbox_queue(ctx->ob, r->it->work,
						    r->verdict, r->doc) == -1) {
			log_msg(LOG_ERR, "cannot queue deliveries for %s",
				log_escape(r->it->work, esc, sizeof(esc)));
			unlinkat(sp->workfd, r->rname, 0);
			r->ok = 0;
		}
	}

	fail_at("recorded", n);

	/* 3. one sync for the whole batch */
	if (ctx->ob != NULL && outbox_sync(ctx->ob) == -1) {
		log_msg(LOG_ERR, "cannot sync the outbox: %s", strerror(errno));
		goto out;
	}
	if (syncfs(sp->dirfd) == -1) {
		log_msg(LOG_ERR, "cannot sync the spool: %s", strerror(errno));
		goto out;
	}

	fail_at("synced", n);

	/* 4. archive */
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		if (!r->ok)
			continue;
		if (i == 1)
			failpoint_half = 1;
		if (archive(sp, r) == -1)
			r->ok = 0;
		else
			moved = 1;
	}

	fail_at("archived", n);

	/* 5. the renames made durable */
	if (moved && syncfs(sp->dirfd) == -1)
		log_msg(LOG_ERR, "cannot sync the spool: %s", strerror(errno));

	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		const char *file;
		if (!r->ok)
			continue;
		file = r->it->kind == ITEM_CLAIM ? r->it->name
						 : jstr(r->doc, "file");
		log_result(r->doc, file ? file : r->arch, r->verdict);
		if (r->verdict == VERDICT_ACCEPTED)
			ctx->accepted++;
		else if (r->verdict == VERDICT_REJECTED)
			ctx->rejected++;
		else
			ctx->invalid++;
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		if (recs[i].judged)
			judgement_release(&recs[i].j);
		else if (recs[i].doc != NULL)
			json_decref(recs[i].doc);
	}
	free(recs);
	return rc;
}

/* ---- recovery ---- */

static int token_adopted(const struct spool *sp, const char *token)
{
	for (size_t i = 0; i < sp->nadopted; i++) {
		if (strcmp(sp->adopted[i].token, token) == 0)
			return 1;
	}
	return 0;
}

/*
 * Lock state/owner-TOKEN.lock without waiting. Returns the locked fd, or -1
 * when the owner is alive (or the lock cannot be had).
 */
static int lock_owner(struct spool *sp, const char *token)
{
	char lockname[64];
	struct stat a, b;
	int fd;

	snprintf(lockname, sizeof(lockname), "owner-%s.lock", token);
	fd = openat(sp->statefd, lockname,
		    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto busy;
	/* the file may have been removed by whoever held it before us */
	if (fstat(fd, &a) == -1 ||
	    fstatat(sp->statefd, lockname, &b, AT_SYMLINK_NOFOLLOW) == -1 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		goto busy;
	return fd;
busy:
	close(fd);
	return -1;
}

static void unlock_owner(struct spool *sp, const char *token, int fd)
{
	char lockname[64];

	snprintf(lockname, sizeof(lockname), "owner-%s.lock", token);
	unlinkat(sp->statefd, lockname, 0);
	close(fd);
}

static int eligible(struct spool *sp, const char *token)
{
	struct adopted *a;
	int fd;

	if (strcmp(token, sp->token) == 0 || token_adopted(sp, token))
		return 1;
	fd = lock_owner(sp, token);
	if (fd == -1)
		return 0;
	a = realloc(sp->adopted, (sp->nadopted + 1) * sizeof(*a));
	if (a == NULL) {
		close(fd);
		return 0;
	}
	sp->adopted = a;
	snprintf(a[sp->nadopted].token, sizeof(a->token), "%s", token);
	a[sp->nadopted].fd = fd;
	sp->nadopted++;
	log_msg(LOG_NOTICE, "taking over the claims of stopped daemon %s",
		token);
	return 1;
}

struct group {
	char *claim; /* cKEY.NAME, or NULL */
	char **results;
	size_t nresults;
};

static void group_free(void *p)
{
	struct group *g = p;

	free(g->claim);
	for (size_t i = 0; i < g->nresults; i++)
		free(g->results[i]);
	free(g->results);
	free(g);
}

static int list_dir(int dirfd, char ***names, size_t *n)
{
	DIR *dir;
	struct dirent *de;
	size_t cap = 0;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*names = NULL;
	*n = 0;
	if (fd == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		char *s;
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			char **p;
			cap = cap ? cap * 2 : 64;
			p = realloc(*names, cap * sizeof(*p));
			if (p == NULL)
				break;
			*names = p;
		}
		s = strdup(de->d_name);
		if (s == NULL)
			break;
		(*names)[(*n)++] = s;
	}
	closedir(dir);
	return 0;
}

/* Remove the lock files of dead daemons that left nothing in work/. */
static void sweep_locks(struct spool *sp, const struct strmap *tokens)
{
	char **names;
	size_t n;

	for (size_t i = 0; i < sp->nadopted;) {
		struct adopted *a = &sp->adopted[i];
		if (strmap_get(tokens, a->token) != NULL) {
			i++;
			continue;
		}
		unlock_owner(sp, a->token, a->fd);
		sp->adopted[i] = sp->adopted[--sp->nadopted];
	}
	if (list_dir(sp->statefd, &names, &n) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		char token[TOKEN_LEN + 1];
		int fd;
		if (strncmp(names[i], "owner-", 6) != 0 ||
		    strlen(names[i]) != 6 + TOKEN_LEN + 5 ||
		    !ends_with(names[i], ".lock"))
			goto next;
		memcpy(token, names[i] + 6, TOKEN_LEN);
		token[TOKEN_LEN] = '\0';
		if (strcmp(token, sp->token) == 0 || token_adopted(sp, token) ||
		    strmap_get(tokens, token) != NULL)
			goto next;
		fd = lock_owner(sp, token);
		if (fd >= 0)
			unlock_owner(sp, token, fd);
	next:
		free(names[i]);
	}
	free(names);
}

int spool_recoverable(struct spool *sp, struct spool_item **items)
{
	struct strmap groups = STRMAP_INIT, tokens = STRMAP_INIT;
	char **names;
	size_t n, count = 0;
	struct spool_item *out = NULL;
	int rc = -1;

	*items = NULL;
	if (list_dir(sp->workfd, &names, &n) == -1) {
		log_msg(LOG_ERR, "cannot list work/: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char key[KEY_LEN + 1];
		const char *rest;
		char kind = parse_work_name(names[i], key, &rest);
		struct group *g;
		if (kind == 0)
			continue;
		g = strmap_get(&groups, key);
		if (g == NULL) {
			g = calloc(1, sizeof(*g));
			if (g == NULL ||
			    strmap_put(&groups, key, g, NULL) == -1) {
				free(g);
				goto out;
			}
		}
		if (kind == 'c') {
			free(g->claim);
			g->claim = names[i];
		} else {
			char **p =
			    realloc(g->results, (g->nresults + 1) * sizeof(*p));
			if (p == NULL)
				goto out;
			g->results = p;
			g->results[g->nresults++] = names[i];
		}
		names[i] = NULL;
	}
	out = calloc(groups.n ? groups.n : 1, sizeof(*out));
	if (out == NULL)
		goto out;
	struct strmap_iter iter = STRMAP_ITER_INIT;
	const char *key;
	void *val;

	while (strmap_next(&groups, &iter, &key, &val)) {
		struct group *g = val;
		char token[TOKEN_LEN + 1];
		struct spool_item *it = &out[count];
		const char *rest;
		char k[KEY_LEN + 1];

		if (g == NULL)
			continue;
		memcpy(token, key, TOKEN_LEN);
		token[TOKEN_LEN] = '\0';
		strmap_put(&tokens, token, (void *)1, NULL);
		if (!eligible(sp, token))
			continue;
		memset(it, 0, sizeof(*it));
		snprintf(it->key, sizeof(it->key), "%s", key);
		if (g->claim != NULL) {
			/* judged again: its old results are void */
			for (size_t r = 0; r < g->nresults; r++)
				unlinkat(sp->workfd, g->results[r], 0);
			it->kind = ITEM_CLAIM;
			snprintf(it->work, sizeof(it->work), "%s", g->claim);
			parse_work_name(g->claim, k, &rest);
			snprintf(it->name, sizeof(it->name), "%s", rest);
		} else {
			it->kind = ITEM_RESULT;
			snprintf(it->work, sizeof(it->work), "%s",
				 g->results[0]);
			parse_work_name(g->results[0], k, &rest);
			snprintf(it->name, sizeof(it->name), "%s", rest + 2);
		}
		count++;
	}
	sweep_locks(sp, &tokens);
	*items = out;
	out = NULL;
	rc = (int)count;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(out);
	strmap_free(&groups, group_free);
	strmap_free(&tokens, NULL);
	return rc;
}

void spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	for (size_t i = 0; i < sp->nadopted; i++)
		close(sp->adopted[i].fd);
	free(sp->adopted);
	if (sp->lockfd >= 0)
		unlock_owner(sp, sp->token, sp->lockfd);
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
	free(sp->buf);
	free(sp);
}
