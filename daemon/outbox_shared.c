/*
 * outbox_shared.c - what lets several daemons share one spool's outbox/
 * (outbox_int.h says the protocol): the per-delivery lock taken for an
 * attempt, watching outbox/ for delivery files others put there (another
 * daemon, `expensed requeue`) or took away, and reading a delivery file's
 * webhook from outside the daemon (`expensed status`).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/io.h"
#include "../common/jsonmem.h"
#include "log.h"
#include "outbox_int.h"

/* Largest delivery file read (as in outbox.c). */
#define MAX_DELIVERY_FILE (1024 * 1024)

/* ---- the per-delivery lock ----------------------------------------- */

/* d's state as in the locked file fd: attempts, due time, last error. */
static int reread(struct delivery *d, int fd, const struct stat *st)
{
	char *buf = NULL;
	size_t cap = 0, len;
	json_t *o = NULL, *att, *due, *err;
	json_error_t jerr;
	unsigned long failures;
	int ret = -1;

	if (read_fd(fd, MAX_DELIVERY_FILE, (size_t)st->st_size, &buf, &cap,
		    &len) == -1)
		goto out;
	failures = jsonmem_failures();
	o = json_loadb(buf, len, 0, &jerr);
	/* no memory to read it (jsonmem.h): not a file that is no delivery
	 * (EINVAL, given up by outbox_claim()'s caller); tried again later */
	if (jsonmem_failures() != failures ||
	    (o == NULL && (json_error_code(&jerr) == json_error_out_of_memory ||
			   jerr.line < 0))) {
		errno = ENOMEM;
		goto out;
	}
	att = json_object_get(o, "attempts");
	due = json_object_get(o, "due_ms");
	err = json_object_get(o, "last_error");
	if (!json_is_integer(att) || !json_is_integer(due) ||
	    json_integer_value(att) < 0 ||
	    json_integer_value(att) > DELIVERY_MAX_ATTEMPTS) {
		errno = EINVAL;
		goto out;
	}
	d->attempts = (int)json_integer_value(att);
	d->due_ms = json_integer_value(due);
	json_decref(d->last_error);
	d->last_error = json_is_object(err) ? json_incref(err) : NULL;
	d->dev = st->st_dev;
	d->ino = st->st_ino;
	ret = 0;
out:
	json_decref(o);
	free(buf);
	return ret;
}

enum claim_result outbox_claim(struct outbox *ob, struct delivery *d)
{
	char name[DELIVERY_NAME_SIZE];
	struct stat held, now;
	int tries, fd;

	outbox_file_name(d->id, name, sizeof(name));
	/* The file may be replaced between open and lock: then the lock is
	 * on a file no one else will look at, and the new one is tried. */
	for (tries = 0; tries < 4; tries++) {
		/* O_NONBLOCK: a FIFO put there must not hold up the loop */
		fd = openat(ob->outfd, name,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			return errno == ENOENT	? CLAIM_GONE
			       : errno == ELOOP ? CLAIM_BAD /* a symlink */
						: CLAIM_ERROR;
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			int busy = errno == EWOULDBLOCK;

			close(fd);
			return busy ? CLAIM_BUSY : CLAIM_ERROR;
		}
		if (fstat(fd, &held) == -1)
			goto fail;
		if (fstatat(ob->outfd, name, &now, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno != ENOENT)
				goto fail;
			close(fd);
			return CLAIM_GONE;
		}
		if (!same_inode(&held, &now)) {
			close(fd);
			continue;
		}
		d->lockfd = fd;
		if (!S_ISREG(held.st_mode))
			return CLAIM_BAD;
		if ((held.st_dev != d->dev || held.st_ino != d->ino) &&
		    reread(d, fd, &held) == -1) {
			if (errno == EINVAL)
				return CLAIM_BAD; /* not a delivery's text */
			d->lockfd = -1;
			goto fail;
		}
		return CLAIM_OK;
	}
	return CLAIM_BUSY;
fail:
	close(fd);
	return CLAIM_ERROR;
}

void outbox_release(struct delivery *d)
{
	if (d->lockfd >= 0) {
		close(d->lockfd); /* drops the flock */
		d->lockfd = -1;
	}
}

/* ---- watching outbox/ ---------------------------------------------- */

/* outbox/name appeared: load it if it is a delivery not known yet. */
static void appeared(struct outbox *ob, const char *name)
{
	char id[DELIVERY_NAME_SIZE];
	struct delivery *d;

	if (outbox_file_id(name, id, sizeof(id)) == -1)
		return;
	if (outbox_get(ob, id))
		return; /* ours, or known: its lock tells the rest */
	d = outbox_load_file(ob, name);
	if (!d)
		return;
	if (outbox_add(ob, d) == -1) {
		log_msg(LOG_ERR, "outbox: out of memory loading %s", name);
		delivery_free(d);
		return;
	}
	log_msg(LOG_INFO, "webhook %s: delivery %s found in outbox/", d->hook,
		d->id);
}

/* outbox/name went away: delivered or given up by another daemon. Only a
 * delivery waiting in the heap (or idle) is forgotten now; the others find
 * out when they are claimed. */
static void vanished(struct outbox *ob, const char *name)
{
	char id[DELIVERY_NAME_SIZE];
	struct delivery *d;

	if (outbox_file_id(name, id, sizeof(id)) == -1)
		return;
	d = outbox_get(ob, id);
	if (!d || (d->where != D_HEAP && d->where != D_IDLE))
		return;
	if (faccessat(ob->outfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return; /* back already */
	outbox_forget(ob, d);
}

/* The queue overflowed: look at every name. */
static void rescan(struct outbox *ob)
{
	char **names = NULL;
	size_t n = 0, i;

	if (list_dir(ob->outfd, &names, &n) == -1) {
		log_msg(LOG_ERR, "outbox: cannot read: %s", strerror(errno));
		return;
	}
	for (i = 0; i < n; i++)
		if (outbox_is_delivery_name(names[i]) == 1)
			appeared(ob, names[i]);
	names_free(names, n);
}

static void on_watch(struct loop_source *src, uint32_t events)
{
	struct outbox *ob = container_of(src, struct outbox, watch);
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t got;
	int changed = 0;

	(void)events;
	while ((got = read(src->fd, buf, sizeof(buf))) > 0) {
		char *p = buf;

		while (p < buf + got) {
			const struct inotify_event *ev = (const void *)p;

			p += sizeof(*ev) + ev->len;
			changed = 1;
			if (ev->mask & IN_Q_OVERFLOW)
				rescan(ob);
			else if (ev->len == 0 ||
				 outbox_is_delivery_name(ev->name) != 1)
				continue;
			else if (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE))
				appeared(ob, ev->name);
			else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
				vanished(ob, ev->name);
		}
	}
	if (changed)
		deliver_schedule(ob);
}

int outbox_watch_open(struct outbox *ob, const char *dir)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		return -1;
	if (inotify_add_watch(fd, dir,
			      IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE |
				  IN_MOVED_FROM | IN_ONLYDIR) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	ob->watch.fd = fd;
	ob->watch.ready = on_watch;
	if (loop_add(ob->epfd, &ob->watch, EPOLLIN) == -1) {
		int saved = errno;

		close(fd);
		ob->watch.fd = -1;
		errno = saved;
		return -1;
	}
	return 0;
}

void outbox_watch_close(struct outbox *ob)
{
	if (ob->watch.fd >= 0) {
		loop_del(ob->epfd, &ob->watch);
		close(ob->watch.fd);
		ob->watch.fd = -1;
	}
}

/* ---- reading a delivery file from outside the daemon ---------------- */

/* Skip blanks in s from *i. */
static void skip_blanks(const char *s, size_t len, size_t *i)
{
	while (*i < len && (s[*i] == ' ' || s[*i] == '\n' || s[*i] == '\t' ||
			    s[*i] == '\r'))
		(*i)++;
}

/* Match lit at *i (after blanks); advance past it. */
static bool match_lit(const char *s, size_t len, size_t *i, const char *lit)
{
	size_t n = strlen(lit);

	skip_blanks(s, len, i);
	if (len - *i < n || memcmp(s + *i, lit, n) != 0)
		return false;
	*i += n;
	return true;
}

/* A JSON string without escapes at *i (after blanks): its bytes start at
 * *start, *n long; *i goes past the closing quote. */
static bool plain_string(const char *s, size_t len, size_t *i, size_t *start,
			 size_t *n)
{
	if (!match_lit(s, len, i, "\""))
		return false;
	*start = *i;
	while (*i < len && s[*i] != '"' && s[*i] != '\\' &&
	       (unsigned char)s[*i] >= 0x20)
		(*i)++;
	if (*i == len || s[*i] != '"')
		return false;
	*n = *i - *start;
	(*i)++;
	return true;
}

/* The fast way: delivery_format() writes "id" then "webhook" first, so the
 * name is in the file's first bytes. 0, or -1 if they are not so. */
static int head_webhook(const char *s, size_t len, char *hook, size_t size)
{
	size_t i = 0, start, n;

	if (!match_lit(s, len, &i, "{") || !match_lit(s, len, &i, "\"id\"") ||
	    !match_lit(s, len, &i, ":") ||
	    !plain_string(s, len, &i, &start, &n) ||
	    !match_lit(s, len, &i, ",") ||
	    !match_lit(s, len, &i, "\"webhook\"") ||
	    !match_lit(s, len, &i, ":") ||
	    !plain_string(s, len, &i, &start, &n) || n == 0 || n >= size)
		return -1;
	memcpy(hook, s + start, n);
	hook[n] = '\0';
	return 0;
}

int outbox_file_webhook(int dirfd, const char *name, char *hook, size_t size)
{
	char head[512], *text = NULL;
	size_t len;
	ssize_t got;
	json_t *o;
	const char *w;
	int fd, rc = 1;

	if (outbox_is_delivery_name(name) != 1)
		return 1;
	fd =
	    openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	do
		got = pread(fd, head, sizeof(head), 0);
	while (got < 0 && errno == EINTR);
	close(fd);
	if (got < 0)
		return -1;
	if (head_webhook(head, (size_t)got, hook, size) == 0)
		return 0;
	/* written some other way: read it whole */
	if (read_file_at(dirfd, name, MAX_DELIVERY_FILE, &text, &len) == -1)
		return errno == EFBIG || errno == EINVAL ? 1 : -1;
	o = json_loadb(text, len, 0, NULL);
	w = json_is_object(o) ? json_string_value(json_object_get(o, "webhook"))
			      : NULL;
	if (w != NULL && strlen(w) > 0 && strlen(w) < size) {
		memcpy(hook, w, strlen(w) + 1);
		rc = 0;
	}
	json_decref(o);
	free(text);
	return rc;
}
