/*
 * spool_archive.c - archive names and step 4 of the protocol (spool_int.h):
 * reserve ARCH, ARCH.result.json and ARCH.result.html for every file of a
 * batch together, then move each input, its page and its result in place
 * with RENAME_NOREPLACE.
 *
 * A suffix costs the same for the millionth same.json as for the first:
 * the next free suffix of each dropped name is remembered (per directory,
 * for this daemon's life), seeded by one probe of the disk the first time
 * the name is seen. Another daemon on the same spool may take a name
 * meanwhile: the rename then fails with EEXIST, the file is judged again
 * at once (its result names the old archive name) and that name's suffix
 * is probed again from there.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/io.h"
#include "../common/utf8.h"
#include "log.h"
#include "spool_int.h"

/* Names remembered before the cache is emptied (and probed again). */
#define SUFFIX_CACHE_MAX 65536
/* Candidates tried for one name before giving up. */
#define NAME_TRIES 10000000u

/* The next suffix of one dropped name in one directory. */
struct suffix {
	unsigned next;
	int probe; /* the disk must be probed from next on */
};

static int dirfd_of(const struct spool *sp, char d)
{
	assert(d == 'a' || d == 'r');
	return d == 'a' ? sp->accfd : sp->rejfd;
}

/* "D/NAME" into out (SPOOL_NAME_SIZE + 2 bytes). */
static void dkey(char d, const char *name, char *out)
{
	snprintf(out, SPOOL_NAME_SIZE + 2, "%c/%s", d, name);
}

static int is_reserved(const struct reserved *res, char d, const char *name)
{
	char key[SPOOL_NAME_SIZE + 2];

	dkey(d, name, key);
	return strmap_get(&res->names, key) != NULL;
}

static int reserve(struct reserved *res, char d, const char *name)
{
	char key[SPOOL_NAME_SIZE + 2];

	dkey(d, name, key);
	return strmap_put(&res->names, key, (void *)1, NULL);
}

/* Whether dirfd/name is free. */
static int free_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
	       errno == ENOENT;
}

/* Whether dirfd/arch, dirfd/res (its result name) and dirfd/page (its page
 * name) are all free. */
static int name_free(int dirfd, const char *arch, const char *res,
		     const char *page)
{
	return free_at(dirfd, arch) && free_at(dirfd, res) &&
	       free_at(dirfd, page);
}

/* The suffix entry of r's name in its directory, created (to be probed)
 * when new. NULL when memory runs out. */
static struct suffix *suffix_of(struct spool *sp, const struct rec *r)
{
	char key[SPOOL_NAME_SIZE + 2];
	struct suffix *s;

	dkey(r->d, r->it->name, key);
	s = strmap_get(&sp->suffixes, key);
	if (s != NULL)
		return s;
	if (strmap_count(&sp->suffixes) >= SUFFIX_CACHE_MAX) {
		strmap_free(&sp->suffixes, free);
		memset(&sp->suffixes, 0, sizeof(sp->suffixes));
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || strmap_put(&sp->suffixes, key, s, NULL) == -1) {
		free(s);
		return NULL;
	}
	s->probe = 1;
	return s;
}

int spool_reserve_name(struct spool *sp, struct reserved *res, struct rec *r)
{
	int dirfd = dirfd_of(sp, r->d);
	char rname[SPOOL_NAME_SIZE], page[SPOOL_NAME_SIZE], esc[1024];
	struct suffix *s = suffix_of(sp, r);
	unsigned n, taken = 0;

	if (s == NULL)
		return -1;
	for (n = s->next;; n++) {
		if (n - s->next >= NAME_TRIES) {
			errno = EEXIST;
			return -1;
		}
		spool_name_archive(r->it->name, n, r->arch);
		if (spool_name_result(r->arch, rname) == -1 ||
		    spool_name_page(r->arch, page) == -1)
			return -1; /* cannot happen: ARCH was shortened */
		/* a dropped x.json.result.html never looks like a page */
		if (spool_name_is_derived(r->arch) ||
		    is_reserved(res, r->d, r->arch) ||
		    is_reserved(res, r->d, rname) ||
		    is_reserved(res, r->d, page))
			continue;
		if (s->probe && !name_free(dirfd, r->arch, rname, page)) {
			taken++;
			continue;
		}
		break;
	}
	if (s->probe)
		log_msg(LOG_DEBUG,
			"archive names of %s in %s/: probed from suffix %u, "
			"%u taken",
			log_escape(r->it->name, esc, sizeof(esc)),
			spool_name_dir(r->d), s->next, taken);
	s->probe = 0;
	s->next = n + 1;
	r->n = n;
	if (reserve(res, r->d, r->arch) == -1 ||
	    reserve(res, r->d, rname) == -1 || reserve(res, r->d, page) == -1)
		return -1;
	spool_name_result_work(r->it->key, r->rname);
	spool_name_page_work(r->it->key, r->pname);
	return spool_name_archived_as(r->d, r->arch, r->archived_as);
}

void spool_unreserve(struct spool *sp, const struct rec *r)
{
	char key[SPOOL_NAME_SIZE + 2];
	struct suffix *s;

	dkey(r->d, r->it->name, key);
	s = strmap_get(&sp->suffixes, key);
	if (s == NULL)
		return;
	if (r->n < s->next)
		s->next = r->n;
	s->probe = 1; /* others of the batch may have taken the next ones */
}

int spool_reserve_fixed(struct reserved *res, const struct rec *r)
{
	char rname[SPOOL_NAME_SIZE], page[SPOOL_NAME_SIZE];

	if (spool_name_result(r->arch, rname) == -1 ||
	    spool_name_page(r->arch, page) == -1)
		return -1;
	if (reserve(res, r->d, r->arch) == -1 ||
	    reserve(res, r->d, rname) == -1 || reserve(res, r->d, page) == -1)
		return -1;
	return 0;
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

/* A name of r was taken by someone else meanwhile: probe its suffix again
 * from the next one, and judge r's claim again at once without counting a
 * recovery (its page and result are removed). */
static void requeue(struct spool *sp, struct rec *r, const char *taken)
{
	char key[SPOOL_NAME_SIZE + 2], esc[1024];
	struct suffix *s;

	dkey(r->d, r->it->name, key);
	s = strmap_get(&sp->suffixes, key);
	if (s != NULL)
		s->probe = 1;
	if (r->page)
		unlinkat(sp->workfd, r->pname, 0);
	unlinkat(sp->workfd, r->rname, 0);
	if (strmap_put(&sp->requeued, r->it->key, (void *)1, NULL) == -1)
		log_msg(LOG_ERR, "out of memory"); /* counted: harmless */
	sp->retry = 1;
	log_msg(LOG_NOTICE,
		"archive name %s/%s was taken meanwhile: %s is "
		"judged again",
		spool_name_dir(r->d), log_escape(taken, esc, sizeof(esc)),
		r->it->key);
}

/* The result's name was taken after the input moved: move the input back
 * to its claim name in work/. A left-over result's claim is named from the
 * file's name in the result, or from its archive name when that name is
 * not UTF-8: the result's "file" has U+FFFD for those bytes, ARCH has them
 * (with the suffix it may have been given). 0 or -1. */
static int unarchive(struct spool *sp, struct rec *r)
{
	char claim[SPOOL_NAME_SIZE], esc[1024];
	size_t len = strlen(r->arch);
	const char *name =
	    utf8_valid_prefix((const unsigned char *)r->arch, len) < len
		? r->arch
		: r->j.file;

	if (r->it->kind == ITEM_CLAIM)
		spool_name_copy(claim, r->it->work);
	else if (name == NULL ||
		 spool_name_claim(r->it->key, name, claim) == -1)
		goto fail;
	if (renameat(dirfd_of(sp, r->d), r->arch, sp->workfd, claim) == 0)
		return 0;
fail:
	log_msg(LOG_ERR, "cannot take %s/%s back: %s", spool_name_dir(r->d),
		log_escape(r->arch, esc, sizeof(esc)), strerror(errno));
	return -1;
}

/* The page of r moved in step 4 goes back to work/ (its result's name was
 * taken): requeue() removes it there. */
static void unarchive_page(struct spool *sp, struct rec *r, const char *page)
{
	char esc[1024];

	if (renameat(dirfd_of(sp, r->d), page, sp->workfd, r->pname) == -1)
		log_msg(LOG_ERR, "cannot take %s/%s back: %s",
			spool_name_dir(r->d),
			log_escape(page, esc, sizeof(esc)), strerror(errno));
}

/* Move work/from to dirfd/to for step 4. 0; -1 with errno EEXIST when the
 * name is taken, else logged (spool_write_failed()). */
static int move_in(struct spool *sp, int dirfd, const char *from,
		   const char *to, const char *what)
{
	char esc[1024];
	int e;

	if (rename_noreplace(sp->workfd, from, dirfd, to) == 0)
		return 0;
	e = errno;
	if (e != EEXIST && spool_write_failed(sp, e))
		log_msg(LOG_ERR, "cannot put %s %s in place: %s", what,
			log_escape(from, esc, sizeof(esc)), strerror(e));
	errno = e;
	return -1;
}

/* The input of r could not be moved into the archive (no room for the
 * directory to grow, an I/O error; logged): its claim, judged, is taken
 * again at the next look, not as a suspect (its recovery uncounted). */
static void not_archived(struct spool *sp, struct rec *r)
{
	char esc[1024];
	int e = errno;

	if (spool_write_failed(sp, e))
		log_msg(LOG_ERR, "cannot archive %s: %s",
			log_escape(r->it->work, esc, sizeof(esc)), strerror(e));
	if (strmap_put(&sp->requeued, r->it->key, (void *)1, NULL) == -1)
		log_msg(LOG_ERR, "out of memory"); /* counted: harmless */
	if (sp->nospace)
		sp->left_full++;
}

int spool_archive_item(struct spool *sp, struct rec *r)
{
	int dirfd = dirfd_of(sp, r->d);
	char res[SPOOL_NAME_SIZE], page[SPOOL_NAME_SIZE];
	char tries[SPOOL_LOCK_SIZE], esc[1024];

	if (spool_name_result(r->arch, res) == -1 ||
	    spool_name_page(r->arch, page) == -1)
		return -1; /* cannot happen: ARCH was shortened */
	if (r->it->kind == ITEM_CLAIM &&
	    rename_noreplace(sp->workfd, r->it->work, dirfd, r->arch) == -1) {
		if (errno == EEXIST)
			requeue(sp, r, r->arch);
		else
			not_archived(sp, r);
		return -1;
	}
	SPOOL_FAIL_HALF();
	if (r->page && move_in(sp, dirfd, r->pname, page, "page") == -1) {
		if (errno == EEXIST && unarchive(sp, r) == 0)
			requeue(sp, r, page);
		return -1;
	}
	SPOOL_FAIL_PAGE();
	if (rename_noreplace(sp->workfd, r->rname, dirfd, res) == -1) {
		if (errno == EEXIST) {
			if (r->page)
				unarchive_page(sp, r, page);
			if (unarchive(sp, r) == 0)
				requeue(sp, r, res);
		} else if ((errno != ENOENT || r->it->kind == ITEM_CLAIM) &&
			   spool_write_failed(sp, errno)) {
			log_msg(LOG_ERR, "cannot put result %s in place: %s",
				log_escape(r->rname, esc, sizeof(esc)),
				strerror(errno));
		}
		return -1;
	}
	if (r->it->tries > 0 || r->it->kind == ITEM_RESULT) {
		spool_name_tries(r->it->key, tries);
		unlinkat(sp->statefd, tries, 0);
	}
	return 0;
}

void spool_warn_group(struct spool *sp, int err)
{
	struct group *gr;

	if (sp->warned_gid == sp->read_gid)
		return;
	sp->warned_gid = sp->read_gid;
	gr = getgrgid(sp->read_gid);
	log_msg(LOG_WARNING,
		"cannot give the archived files the read group %s (%lu): %s; "
		"they keep the daemon's group (is the daemon a member?)",
		gr != NULL ? gr->gr_name : "?", (unsigned long)sp->read_gid,
		strerror(err));
}

int spool_give_mode(const struct spool *sp, int fd, int *eperm)
{
	if (!sp->mode_exact && fchmod(fd, 0640) == -1)
		return -1;
	/* not a member of that group (EPERM): the file stays the daemon's
	 * group, as the directory's setgid bit cannot give it on a rename */
	if (sp->read_gid != (gid_t)-1 &&
	    fchown(fd, (uid_t)-1, sp->read_gid) == -1) {
		if (errno != EPERM)
			return -1;
		*eperm = 1;
	}
	return 0;
}

int spool_write_work(const struct spool *sp, const char *name, const char *data,
		     size_t len, int last, int *eperm)
{
	int fd =
	    openat(sp->workfd, name,
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	int rc = -1, e;

	if (fd == -1)
		return -1;
	if (spool_give_mode(sp, fd, eperm) == 0 &&
	    write_all(fd, data, len) == 0)
		rc = 0;
	/* a batch committed at once (a lone file): its data written now, so
	 * that the batch's syncfs finds it on disk and makes one journal
	 * commit, not two (ext4 converts the extents of data written during
	 * a commit in the next one); the last file also waited for, as the
	 * sync follows at once. No error to report here: syncfs says it */
	if (rc == 0 && sp->write_now)
		(void)sync_file_range(fd, 0, 0,
				      last ? SYNC_FILE_RANGE_WAIT_BEFORE |
						 SYNC_FILE_RANGE_WRITE |
						 SYNC_FILE_RANGE_WAIT_AFTER
					   : SYNC_FILE_RANGE_WRITE);
	e = errno;
	if (close(fd) == -1 && rc == 0)
		return -1;
	errno = e;
	return rc;
}

int spool_write_failed(struct spool *sp, int e)
{
	if (e != ENOSPC && e != EDQUOT)
		return 1;
	if (sp->nospace)
		return 0;
	sp->nospace = 1;
	sp->was_full = 1;
	return 1;
}

void spool_forget(struct spool *sp)
{
	strmap_free(&sp->suffixes, free);
	strmap_free(&sp->deferred, free);
	strmap_free(&sp->requeued, NULL);
	strmap_free(&sp->leased, NULL);
}
