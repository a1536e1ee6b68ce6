/*
 * spool_recover.c - crash recovery of the spool: find what work/ holds that
 * belongs to nobody alive (this daemon's failed batches, the claims of dead
 * daemons, whose owner locks are then taken over), void the results and pages
 * of claims to be judged again, and remove the owner locks of dead daemons that
 * left nothing behind. The cases follow the protocol in spool_int.h.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/strmap.h"
#include "../common/timefmt.h"
#include "log.h"
#include "spool_int.h"

/* The names in work/ of one claim KEY. */
struct group {
	char token[SPOOL_TOKEN_LEN + 1]; /* the KEY's owner */
	char *claim;			 /* cKEY.NAME, or NULL */
	char *copy;			 /* kKEY.NAME, or NULL */
	char *page;			 /* pKEY, or NULL */
	char **results;			 /* rKEY (or legacy rKEY.D.ARCH) */
	size_t nresults;
};

static void group_free(void *p)
{
	struct group *g = p;

	free(g->claim);
	free(g->copy);
	free(g->page);
	for (size_t i = 0; i < g->nresults; i++)
		free(g->results[i]);
	free(g->results);
	free(g);
}

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
	char lockname[SPOOL_LOCK_SIZE];
	int fd;

	spool_name_owner_lock(token, lockname);
	fd = openat(sp->statefd, lockname,
		    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto busy;
	/* the file may have been removed by whoever held it before us */
	if (!spool_holds(sp, fd, lockname))
		goto busy;
	return fd;
busy:
	close(fd);
	return -1;
}

/* Remove what a flush of index.html by token's daemon, dead or stopping,
 * may have left: .index.html-TOKEN and state/pages-index.tmp-TOKEN. */
static void remove_index_tmp(struct spool *sp, const char *token)
{
	char tmp[SPOOL_LOCK_SIZE];

	spool_name_index_tmp(token, tmp);
	unlinkat(sp->dirfd, tmp, 0);
	spool_name_pages_index_tmp(token, tmp);
	unlinkat(sp->statefd, tmp, 0);
}

void spool_unlock_owner(struct spool *sp, const char *token, int fd)
{
	char lockname[SPOOL_LOCK_SIZE];

	remove_index_tmp(sp, token);
	spool_name_owner_lock(token, lockname);
	unlinkat(sp->statefd, lockname, 0);
	close(fd);
}

/* The token of name when it is prefix + TOKEN, into token. 0 or -1. */
static int tmp_token(const char *name, const char *prefix, char *token)
{
	size_t p = strlen(prefix);

	if (strlen(name) != p + SPOOL_TOKEN_LEN ||
	    strncmp(name, prefix, p) != 0)
		return -1;
	memcpy(token, name + p, SPOOL_TOKEN_LEN);
	token[SPOOL_TOKEN_LEN] = '\0';
	return spool_token_valid(token) ? 0 : -1;
}

/* Remove the temporary files of index flushes in dirfd whose daemon has
 * no owner lock left (it is gone: a live daemon keeps its lock file; a
 * dead one's is removed with them by spool_unlock_owner). */
static void sweep_index_tmp_in(struct spool *sp, int dirfd, const char *prefix)
{
	char token[SPOOL_TOKEN_LEN + 1], lock[SPOOL_LOCK_SIZE];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (tmp_token(de->d_name, prefix, token) == -1 ||
		    strcmp(token, sp->token) == 0)
			continue;
		spool_name_owner_lock(token, lock);
		if (fstatat(sp->statefd, lock, &st, AT_SYMLINK_NOFOLLOW) ==
			-1 &&
		    errno == ENOENT)
			unlinkat(dirfd, de->d_name, 0);
	}
	closedir(dir);
}

void spool_sweep_index_tmp(struct spool *sp)
{
	sweep_index_tmp_in(sp, sp->dirfd, "." SPOOL_INDEX_NAME "-");
	sweep_index_tmp_in(sp, sp->statefd, SPOOL_PAGES_INDEX_NAME ".tmp-");
}

/*
 * Read the mark of a dead owner's lock fd (spool_mark_recorded()) into
 * recorded ("" when there is none), and clear it in the file: the claims
 * it exempts are judged again by this daemon, and a crash then must count
 * them like any other. Whether a mark was cleared (to sync).
 */
static int take_mark(int fd, char recorded[9])
{
	char text[64], *p;
	ssize_t got = pread(fd, text, sizeof(text) - 1, 0);

	recorded[0] = '\0';
	if (got <= 0)
		return 0;
	text[got] = '\0';
	p = strstr(text, "\n" SPOOL_RECORDED);
	if (p == NULL)
		return 0;
	p += 1 + strlen(SPOOL_RECORDED);
	if (!spool_seq_valid(p))
		return 0;
	memcpy(recorded, p, 8);
	recorded[8] = '\0';
	if (strcmp(recorded, "00000000") == 0)
		return 0; /* exempts nothing, and clear already */
	return pwrite(fd, "00000000", 8, p - text) == 8;
}

/* Whether the claim key of an adopted owner was recorded before it
 * stopped: its recovery is then not counted (spool_int.h). */
static int was_recorded(const struct spool *sp, const char *key)
{
	for (size_t i = 0; i < sp->nadopted; i++) {
		const struct adopted *a = &sp->adopted[i];
		if (spool_key_of(key, a->token))
			return a->recorded[0] != '\0' &&
			       spool_seq_before(spool_key_seq(key),
						a->recorded);
	}
	return 0;
}

/* Let go of the owner locks taken over whose file is no longer the one at
 * their name: their daemon is alive after all (its lock file had been
 * removed or replaced by hand, which let this daemon create and lock one,
 * and it has locked its own again: spool_relock()). Their claims are left
 * to it; the name is not removed, it is the owner's. */
static void drop_stale_adopted(struct spool *sp)
{
	char lockname[SPOOL_LOCK_SIZE];

	for (size_t i = 0; i < sp->nadopted;) {
		struct adopted *a = &sp->adopted[i];
		spool_name_owner_lock(a->token, lockname);
		if (spool_holds(sp, a->fd, lockname)) {
			i++;
			continue;
		}
		log_msg(LOG_WARNING,
			"daemon %s holds its owner lock again: its claims are "
			"left to it",
			a->token);
		close(a->fd);
		sp->adopted[i] = sp->adopted[--sp->nadopted];
	}
}

/* Whether this daemon may recover token's claims: its own, or those of a
 * dead daemon (whose lock it then takes over and keeps; *cleared is set
 * when its mark was cleared, to sync). */
static int eligible(struct spool *sp, const char *token, int *cleared)
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
	memcpy(a[sp->nadopted].token, token, sizeof(a->token));
	a[sp->nadopted].fd = fd;
	if (take_mark(fd, a[sp->nadopted].recorded))
		*cleared = 1;
	sp->nadopted++;
	log_msg(LOG_NOTICE, "taking over the claims of stopped daemon %s",
		token);
	return 1;
}

/* Remove the lock files of dead daemons that left nothing in work/
 * (tokens: the owners of what is there). */
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
		spool_unlock_owner(sp, a->token, a->fd);
		sp->adopted[i] = sp->adopted[--sp->nadopted];
	}
	if (list_dir(sp->statefd, &names, &n) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		char token[SPOOL_TOKEN_LEN + 1];
		int fd;
		if (spool_name_parse_owner_lock(names[i], token) == -1 ||
		    strcmp(token, sp->token) == 0 || token_adopted(sp, token) ||
		    strmap_get(tokens, token) != NULL)
			continue;
		fd = lock_owner(sp, token);
		if (fd >= 0)
			spool_unlock_owner(sp, token, fd);
	}
	names_free(names, n);
}

/* Remove the counts of this daemon's claims (and those it took over)
 * that are no longer in work/ (groups: what is there). */
static void sweep_tries(struct spool *sp, const struct strmap *groups)
{
	char **names;
	size_t n;

	if (list_dir(sp->statefd, &names, &n) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		char key[SPOOL_KEY_LEN + 1], token[SPOOL_TOKEN_LEN + 1];
		if (spool_name_parse_tries(names[i], key) == -1 ||
		    strmap_get(groups, key) != NULL)
			continue;
		memcpy(token, key, SPOOL_TOKEN_LEN);
		token[SPOOL_TOKEN_LEN] = '\0';
		if (strcmp(token, sp->token) == 0 || token_adopted(sp, token))
			unlinkat(sp->statefd, names[i], 0);
	}
	names_free(names, n);
}

/* Group the names of work/ by KEY into groups (KEY -> struct group);
 * names taken are set to NULL. 0 or -1 (no memory). */
static int collect_groups(char **names, size_t n, struct strmap *groups)
{
	for (size_t i = 0; i < n; i++) {
		struct spool_work_name wn;
		struct group *g;

		if (spool_name_parse_work(names[i], &wn) == -1)
			continue;
		g = strmap_get(groups, wn.key);
		if (g == NULL) {
			g = calloc(1, sizeof(*g));
			if (g == NULL ||
			    strmap_put(groups, wn.key, g, NULL) == -1) {
				free(g);
				return -1;
			}
			memcpy(g->token, wn.token, sizeof(g->token));
		}
		if (wn.kind == 'c') {
			free(g->claim);
			g->claim = names[i];
		} else if (wn.kind == 'k') {
			free(g->copy);
			g->copy = names[i];
		} else if (wn.kind == 'p') {
			free(g->page);
			g->page = names[i];
		} else {
			char **p =
			    realloc(g->results, (g->nresults + 1) * sizeof(*p));
			if (p == NULL)
				return -1;
			g->results = p;
			g->results[g->nresults++] = names[i];
		}
		names[i] = NULL;
	}
	return 0;
}

/*
 * state/tries-KEY: the recoveries of claim KEY counted so far, raised by
 * one when raise (written in place: the caller syncs). The count (after
 * raising), or -1 (logged).
 */
static int tries(struct spool *sp, const char *key, int raise)
{
	char name[SPOOL_LOCK_SIZE], buf[16];
	unsigned long n = 0;
	ssize_t got;
	int fd, len, e;

	spool_name_tries(key, name);
	/* O_NONBLOCK: a FIFO put there by hand opens at once (and reads as
	 * no count) rather than hold the daemon in open() */
	fd = openat(sp->statefd, name,
		    (raise ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC |
			O_NOFOLLOW | O_NONBLOCK,
		    0640);
	if (fd == -1 && !raise && errno == ENOENT)
		return 0;
	if (fd == -1)
		goto fail;
	got = pread(fd, buf, sizeof(buf) - 1, 0);
	if (got > 0) {
		buf[got] = '\0';
		n = strtoul(buf, NULL, 10);
	}
	if (n > 99)
		n = 99;
	if (raise) {
		n += n < 99;
		len = snprintf(buf, sizeof(buf), "%lu\n", n);
		if (pwrite(fd, buf, (size_t)len, 0) != len) {
			close(fd);
			goto fail;
		}
	}
	close(fd);
	return (int)n;
fail:
	e = errno;
	if (spool_write_failed(sp, e))
		log_msg(LOG_ERR, "cannot count the recoveries of %s: %s", key,
			strerror(e));
	return -1;
}

/* Whether claim key waits (its judging ran out of memory lately). */
static int deferred(struct spool *sp, const char *key)
{
	long long *until = strmap_get(&sp->deferred, key);

	if (until == NULL)
		return 0;
	if (clock_mono_ms() < *until)
		return 1;
	free(strmap_del(&sp->deferred, key));
	return 0;
}

/*
 * The item to process for group g of KEY key: its claim, judged again (its
 * old results, page and copy are void and removed; a copy without its claim
 * is put back as the claim), else its result, to put in place with its page
 * if it is there (spool_batch.c finds it). A claim that may have crashed
 * its daemon is a suspect: its recovery is counted when it is judged
 * (spool_count_recovery()). 0, 1 when there is nothing to do now, -1 when
 * its count cannot be read.
 */
static int group_item(struct spool *sp, const char *key, struct group *g,
		      struct spool_item *it)
{
	struct spool_work_name wn;
	int rc, n;

	memset(it, 0, sizeof(*it));
	memcpy(it->key, key, sizeof(it->key));
	if (g->claim == NULL && g->copy != NULL) {
		char claim[SPOOL_NAME_SIZE];
		claim[0] = 'c';
		spool_name_copy(claim + 1, g->copy + 1);
		if (renameat(sp->workfd, g->copy, sp->workfd, claim) == -1)
			return 1;
		g->claim = g->copy;
		g->copy = NULL;
		g->claim[0] = 'c';
	}
	if (g->claim != NULL) {
		if (deferred(sp, key))
			return 1;
		/* requeued (judged, a name taken or a full disk) or judged
		 * and recorded before its daemon died: no suspect */
		it->suspect = strmap_del(&sp->requeued, key) == NULL &&
			      !was_recorded(sp, key);
		n = tries(sp, key, 0);
		if (n == -1)
			return -1;
		it->tries = (unsigned)n;
		for (size_t r = 0; r < g->nresults; r++)
			unlinkat(sp->workfd, g->results[r], 0);
		if (g->copy != NULL)
			unlinkat(sp->workfd, g->copy, 0);
		if (g->page != NULL)
			unlinkat(sp->workfd, g->page, 0);
		it->kind = ITEM_CLAIM;
		spool_name_copy(it->work, g->claim);
	} else if (g->nresults == 0) {
		/* a page alone: nothing to finish */
		if (g->page != NULL)
			unlinkat(sp->workfd, g->page, 0);
		return 1;
	} else {
		it->kind = ITEM_RESULT;
		spool_name_copy(it->work, g->results[0]);
	}
	/* NAME of a claim; ARCH of a legacy result ("" otherwise) */
	rc = spool_name_parse_work(it->work, &wn);
	assert(rc == 0);
	(void)rc;
	spool_name_copy(it->name, wn.rest);
	return 0;
}

int spool_count_recovery(struct spool *sp, struct spool_item *it)
{
	int n = tries(sp, it->key, 1);

	if (n == -1)
		return -1;
	/* durable before the file is judged again */
	if (syncfs(sp->statefd) == -1) {
		log_msg(LOG_ERR, "cannot sync state/: %s", strerror(errno));
		return -1;
	}
	it->tries = (unsigned)n;
	it->suspect = 0;
	return 0;
}

size_t spool_batch_len(const struct spool_item *items, size_t n, size_t max)
{
	size_t i = 0;

	if (n > 0 && items[0].suspect)
		return 1;
	while (i < n && i < max && !items[i].suspect)
		i++;
	return i;
}

/* Recovered claims by recoveries counted, then by token, then in the
 * order they were claimed, not in the hash table's order, which depends
 * on the hash key: a file already counted (it may be the one that kills
 * the daemon) comes after those never counted, so that a killer judged
 * again does not hold the others back. */
static int by_tries_key(const void *a, const void *b)
{
	const struct spool_item *x = a, *y = b;
	int c;

	if (x->tries != y->tries)
		return x->tries < y->tries ? -1 : 1;
	c = strncmp(x->key, y->key, SPOOL_TOKEN_LEN);
	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The order of claim key among the claims of its token: its claim
 * number's distance from first, another of them, biased by 2^31, so that
 * the claims of one daemon (less than 2^31 apart) sort in the order they
 * were made across the wrap of the counter (spool_seq_before), and the
 * sort key is a plain number (a total order, as qsort needs). */
static unsigned claim_order(const char *first, const char *key)
{
	return spool_seq_distance(spool_key_seq(first), spool_key_seq(key)) ^
	       0x80000000u;
}

int spool_recoverable(struct spool *sp, struct spool_item **items)
{
	struct strmap groups = STRMAP_INIT, tokens = STRMAP_INIT;
	struct strmap_iter iter = STRMAP_ITER_INIT;
	struct spool_item *out = NULL;
	char **names;
	size_t n, count = 0;
	const char *key;
	void *val;
	int rc = -1, cleared = 0;

	*items = NULL;
	spool_relock(sp);
	drop_stale_adopted(sp);
	if (list_dir(sp->workfd, &names, &n) == -1) {
		log_msg(LOG_ERR, "cannot list work/: %s", strerror(errno));
		return -1;
	}
	if (collect_groups(names, n, &groups) == -1)
		goto out;
	out = calloc(strmap_count(&groups) ? strmap_count(&groups) : 1,
		     sizeof(*out));
	if (out == NULL)
		goto out;
	while (strmap_next(&groups, &iter, &key, &val)) {
		struct group *g = val;
		/* tokens: each owner's first KEY met, its claims' reference */
		const char *first = strmap_get(&tokens, g->token);
		int gr;

		if (first == NULL) {
			first = key;
			strmap_put(&tokens, g->token, (void *)key, NULL);
		}
		if (!eligible(sp, g->token, &cleared))
			continue;
		gr = group_item(sp, key, g, &out[count]);
		if (gr == -1)
			goto out;
		if (gr == 0)
			out[count++].order = claim_order(first, key);
	}
	/* a mark exempts the claims of its owner from one count, at its
	 * adoption: if they come back (deferred, requeued), they are counted
	 * like any other */
	for (size_t i = 0; i < sp->nadopted; i++)
		sp->adopted[i].recorded[0] = '\0';
	/* the marks cleared are durable before any claim is judged */
	if (cleared && syncfs(sp->statefd) == -1) {
		log_msg(LOG_ERR, "cannot sync state/: %s", strerror(errno));
		goto out;
	}
	sweep_locks(sp, &tokens);
	sweep_tries(sp, &groups);
	qsort(out, count, sizeof(*out), by_tries_key);
	*items = out;
	out = NULL;
	rc = (int)count;
out:
	names_free(names, n);
	free(out);
	strmap_free(&groups, group_free);
	strmap_free(&tokens, NULL);
	return rc;
}
