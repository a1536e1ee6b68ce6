/*
 * ledger.c - the durable set of accepted report ids behind report.duplicate,
 * shared by every daemon on one spool through an append-only, flock'ed file
 * (format in ledger.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/hash.h"
#include "../common/io.h"
#include "ledger.h"
#include "spool_name.h"

/*
 * What is kept in memory of each accepted id is 16 bytes: the keyed hash of
 * the id and where its newest line starts, in the file or, at and past
 * l->size, in the lines ledger_add() buffered (they go at the file's end).
 * The id, its claim and its archive name are read back from that line when
 * the hash matches: only for an id seen before, or (keyed SipHash, 64 bits)
 * by a chance no dropper can steer. A ledger grows by a line per accepted
 * file for the life of a spool; kept whole in memory it took some 230
 * bytes an id (23 MB for 100,000).
 */
struct slot {
	uint64_t hash; /* hash_str(id), never 0; 0: an empty slot */
	uint64_t at;   /* offset of its newest line */
};

struct ledger {
	int dirfd; /* state/ (a duplicate): the file is opened by name */
	int fd;
	off_t seen;	    /* bytes of the file already loaded */
	off_t size;	    /* its size when locked (after a torn line cut) */
	struct slot *slots; /* open addressing, linear probing */
	size_t nslots;	    /* a power of two, or 0 */
	size_t count;	    /* slots in use: ids known */
	char *out;	    /* lines buffered by ledger_add */
	size_t outlen, outcap;
	char *line; /* the line read back (ledger_find's answer points in) */
	size_t linecap;
	/* an append failed (a full disk): the slots know lines the file
	 * lacks, which ledger_add would skip when the claims are tried again;
	 * the next lock loads the whole file anew */
	int stale;
	/* the last line loaded or appended (it ends at seen): where it
	 * starts and the hash of its bytes. A file rewritten in place by
	 * hand moves it, and another daemon may have appended past seen
	 * before our lock: its size alone does not tell */
	off_t tail_at;
	uint64_t tail_hash;
};

/* One line read back and split: its fields unescaped, in l->line. */
struct line {
	const char *id, *claim_key, *archived_as;
};

/* Undo the escaping of ledger.h in place; returns s. */
static char *unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r != '\\' || r[1] == '\0') {
			*w++ = *r;
			continue;
		}
		r++;
		switch (*r) {
		case 'n':
			*w++ = '\n';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 'x': {
			char hex[3] = {0};
			if (r[1] && r[2]) {
				hex[0] = r[1];
				hex[1] = r[2];
				*w++ = (char)strtol(hex, NULL, 16);
				r += 2;
			}
			break;
		}
		default:
			*w++ = *r;
		}
	}
	*w = '\0';
	return s;
}

/* Split a line (its newline cut) into its fields, unescaped in place.
 * 0, or -1 when it is not a ledger line (ignored). */
static int split_line(char *s, struct line *ln)
{
	char *claim = strchr(s, '\t');
	char *arch;

	if (claim == NULL)
		return -1;
	*claim++ = '\0';
	arch = strchr(claim, '\t');
	if (arch == NULL)
		return -1;
	*arch++ = '\0';
	ln->id = unescape(s);
	ln->claim_key = claim;
	ln->archived_as = unescape(arch);
	return 0;
}

/* Room for n bytes in *buf (*cap: its size, doubled from 256). 0 or -1. */
static int reserve(char **buf, size_t *cap, size_t n)
{
	size_t c = *cap ? *cap : 256;
	char *p;

	if (n <= *cap)
		return 0;
	while (c < n)
		c *= 2;
	p = realloc(*buf, c);
	if (p == NULL)
		return -1;
	*buf = p;
	*cap = c;
	return 0;
}

/* The line that starts at offset at, read back into l->line and split:
 * from the file, or from the lines buffered since the lock. 0; 1 when no
 * whole ledger line starts there (the file was edited in place since it
 * was loaded: that slot names no id now); -1 with errno. */
static int read_line(struct ledger *l, uint64_t at, struct line *ln)
{
	size_t len = 0;

	if (at >= (uint64_t)l->size) {
		size_t from = (size_t)(at - (uint64_t)l->size);
		const char *nl = from < l->outlen ? memchr(l->out + from, '\n',
							   l->outlen - from)
						  : NULL;
		if (nl == NULL)
			goto bad;
		len = (size_t)(nl - (l->out + from));
		if (reserve(&l->line, &l->linecap, len + 1) == -1)
			return -1;
		memcpy(l->line, l->out + from, len);
	} else {
		for (;;) {
			ssize_t n;
			const char *nl;

			if (reserve(&l->line, &l->linecap, len + 257) == -1)
				return -1;
			/* 256 bytes a try: a usual line, not the room one long
			 * line once left */
			n = pread(l->fd, l->line + len, 256,
				  (off_t)at + (off_t)len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				return -1;
			if (n == 0)
				goto bad;
			nl = memchr(l->line + len, '\n', (size_t)n);
			if (nl != NULL) {
				len = (size_t)(nl - l->line);
				break;
			}
			len += (size_t)n;
		}
	}
	l->line[len] = '\0';
	if (split_line(l->line, ln) == 0)
		return 0;
bad:
	return 1;
}

static uint64_t id_hash(const char *id)
{
	uint64_t h = hash_str(id);

	return h != 0 ? h : 1;
}

/* Find id (hash h): 1, *at its slot and *ln its line read back; 0 when id
 * is not known, *at then the empty slot to take for it (NULL when there
 * are no slots yet); -1 with errno. */
static int lookup(struct ledger *l, const char *id, uint64_t h, struct line *ln,
		  struct slot **at)
{
	size_t mask = l->nslots - 1;

	*at = NULL;
	if (l->nslots == 0)
		return 0;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct slot *sl = &l->slots[i];

		*at = sl;
		if (sl->hash == 0)
			return 0;
		if (sl->hash != h)
			continue;
		switch (read_line(l, sl->at, ln)) {
		case -1:
			return -1;
		case 0:
			if (strcmp(ln->id, id) == 0)
				return 1;
			break;
		default:
			break;
		}
	}
}

/* Twice the slots (1024 at first), kept at most three quarters full. */
static int grow(struct ledger *l)
{
	size_t n = l->nslots ? 2 * l->nslots : 1024;
	struct slot *slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < l->nslots; i++) {
		size_t j = (size_t)l->slots[i].hash & (n - 1);

		if (l->slots[i].hash == 0)
			continue;
		while (slots[j].hash != 0)
			j = (j + 1) & (n - 1);
		slots[j] = l->slots[i];
	}
	free(l->slots);
	l->slots = slots;
	l->nslots = n;
	return 0;
}

/* id's newest line is at offset at (the newest line wins: lines of one id
 * are one claim's, judged again). 0 or -1. */
static int put(struct ledger *l, const char *id, uint64_t at)
{
	uint64_t h = id_hash(id);
	struct line ln;
	struct slot *sl;
	int rc;

	if ((l->count + 1) * 4 > l->nslots * 3 && grow(l) == -1)
		return -1;
	rc = lookup(l, id, h, &ln, &sl);
	if (rc == -1)
		return -1;
	if (rc == 0) {
		sl->hash = h;
		l->count++;
	}
	sl->at = at;
	return 0;
}

static int load_line(struct ledger *l, char *line, off_t at)
{
	struct line ln;

	if (split_line(line, &ln) == -1)
		return 0; /* not ours: ignore */
	return put(l, ln.id, (uint64_t)at);
}

/* Load what was appended since l->seen, st the file's status taken under
 * the lock; a torn last line is cut off (nobody is writing then). */
static int load_tail(struct ledger *l, const struct stat *st)
{
	char *buf = NULL, *last, *first;
	size_t len, done = 0;
	off_t tail_at = 0;
	uint64_t tail_hash = 0;
	int rc = -1;

	l->size = st->st_size;
	if (st->st_size <= l->seen)
		return 0;
	len = (size_t)(st->st_size - l->seen);
	buf = malloc(len + 1);
	if (buf == NULL)
		goto out;
	while (done < len) {
		ssize_t n =
		    pread(l->fd, buf + done, len - done, l->seen + (off_t)done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	len = done;
	buf[len] = '\0';
	/* the last whole line, hashed before the lines are split */
	last = len ? memrchr(buf, '\n', len) : NULL;
	if (last != NULL) {
		first = memrchr(buf, '\n', (size_t)(last - buf));
		first = first != NULL ? first + 1 : buf;
		tail_at = l->seen + (first - buf);
		tail_hash = hash_bytes(first, (size_t)(last + 1 - first));
	}
	for (size_t start = 0; start < len;) {
		char *nl = memchr(buf + start, '\n', len - start);
		if (nl == NULL) {
			/* torn line from a crash: drop it so the next append
			 * starts on a line of its own */
			if (ftruncate(l->fd, l->seen) == -1)
				goto out;
			l->size = l->seen;
			break;
		}
		*nl = '\0';
		if (memchr(buf + start, '\0', (size_t)(nl - buf) - start) ==
			NULL &&
		    load_line(l, buf + start, l->seen) == -1)
			goto out;
		l->seen += (off_t)(nl - buf) + 1 - (off_t)start;
		start = (size_t)(nl - buf) + 1;
		if (nl == last) {
			l->tail_at = tail_at;
			l->tail_hash = tail_hash;
		}
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static int open_file(struct ledger *l)
{
	l->fd =
	    openat(l->dirfd, SPOOL_LEDGER_NAME,
		   O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	return l->fd == -1 ? -1 : 0;
}

/* Every id forgotten: the next load reads the whole file. */
static void forget(struct ledger *l)
{
	free(l->slots);
	l->slots = NULL;
	l->nslots = l->count = 0;
	l->seen = 0;
}

struct ledger *ledger_open(int state_dirfd)
{
	struct ledger *l = calloc(1, sizeof(*l));
	int saved;

	if (l == NULL)
		return NULL;
	l->fd = -1;
	l->dirfd = fcntl(state_dirfd, F_DUPFD_CLOEXEC, 0);
	if (l->dirfd == -1 || open_file(l) == -1)
		goto fail;
	if (ledger_lock(l) == -1)
		goto fail;
	if (ledger_unlock(l) == -1)
		goto fail;
	return l;
fail:
	saved = errno;
	ledger_close(l);
	errno = saved;
	return NULL;
}

/* 0 when st is a regular file's, else -1 with EINVAL: a FIFO (by hand)
 * opens and locks like a file, but reads as empty and takes the lines
 * appended, never to give them back, until a write fills it and waits for
 * good: every id forgotten, then the daemon stopped. */
static int regular(const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return 0;
	errno = EINVAL;
	return -1;
}

/*
 * Lock the file that has the ledger's name: 0, *st its status; -1. The
 * file open may not be that one any more: an administrator who edited the
 * ledger with an editor that saves by a rename, or removed it. Then the
 * file at its name is opened and loaded from its start, and the lines
 * appended go there, not to the old file that nobody reads.
 */
static int lock_named(struct ledger *l, struct stat *st)
{
	for (;;) {
		struct stat named;

		if (l->fd == -1 && open_file(l) == -1)
			return -1;
		while (flock(l->fd, LOCK_EX) == -1) {
			if (errno != EINTR)
				return -1;
		}
		if (fstat(l->fd, st) == -1)
			goto fail;
		if (fstatat(l->dirfd, SPOOL_LEDGER_NAME, &named,
			    AT_SYMLINK_NOFOLLOW) == 0) {
			if (same_inode(&named, st)) {
				if (regular(st) == -1)
					goto fail;
				return 0;
			}
		} else if (errno != ENOENT) {
			goto fail;
		}
		close(l->fd); /* its lock goes with it */
		l->fd = -1;
		forget(l);
	}
fail:
	flock(l->fd, LOCK_UN);
	return -1;
}

/* Whether the last line loaded is no longer where it was: the file was
 * rewritten by hand (a line removed, so that an id may be accepted
 * again), maybe appended to since by another daemon. */
static int tail_moved(struct ledger *l)
{
	size_t len = (size_t)(l->seen - l->tail_at), done = 0;

	if (l->seen == 0)
		return 0;
	if (reserve(&l->line, &l->linecap, len + 1) == -1)
		return 1; /* loaded anew, which asks for more memory still */
	while (done < len) {
		ssize_t n = pread(l->fd, l->line + done, len - done,
				  l->tail_at + (off_t)done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
		done += (size_t)n;
	}
	return hash_bytes(l->line, len) != l->tail_hash;
}

int ledger_lock(struct ledger *l)
{
	struct stat st;

	if (lock_named(l, &st) == -1)
		return -1;
	/* an append that failed, or the file cut short or rewritten by hand
	 * (its lines removed to let ids be accepted again): loaded anew */
	if (l->stale || st.st_size < l->seen || tail_moved(l)) {
		forget(l);
		l->stale = 0;
	}
	if (load_tail(l, &st) == -1) {
		int saved = errno;
		flock(l->fd, LOCK_UN);
		errno = saved;
		return -1;
	}
	return 0;
}

int ledger_find(struct ledger *l, const char *id, const char *claim_key,
		const char **prev)
{
	struct line ln;
	struct slot *sl;
	int rc = lookup(l, id, id_hash(id), &ln, &sl);

	*prev = NULL;
	if (rc == -1)
		return -1;
	if (rc == 1 && strcmp(ln.claim_key, claim_key) != 0)
		*prev = ln.archived_as;
	return 0;
}

static int out_reserve(struct ledger *l, size_t more)
{
	return reserve(&l->out, &l->outcap, l->outlen + more);
}

static int out_escaped(struct ledger *l, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (out_reserve(l, 4) == -1)
			return -1;
		if (c == '\\' || c == '\n' || c == '\t' || c == '\r') {
			l->out[l->outlen++] = '\\';
			l->out[l->outlen++] = c == '\\'	  ? '\\'
					      : c == '\n' ? 'n'
					      : c == '\t' ? 't'
							  : 'r';
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(l->out + l->outlen, 5, "\\x%02x", c);
			l->outlen += 4;
		} else {
			l->out[l->outlen++] = (char)c;
		}
	}
	return 0;
}

int ledger_add(struct ledger *l, const char *id, const char *claim_key,
	       const char *archived_as)
{
	size_t mark = l->outlen;
	struct line had;
	struct slot *sl;
	int rc = lookup(l, id, id_hash(id), &had, &sl);

	if (rc == -1)
		return -1;
	/* the same claim tried again (its page could not be written...):
	 * its line is there already */
	if (rc == 1 && strcmp(had.claim_key, claim_key) == 0 &&
	    strcmp(had.archived_as, archived_as) == 0)
		return 0;
	if (out_escaped(l, id) == -1 || out_reserve(l, 2) == -1)
		goto fail;
	l->out[l->outlen++] = '\t';
	if (out_escaped(l, claim_key) == -1 || out_reserve(l, 2) == -1)
		goto fail;
	l->out[l->outlen++] = '\t';
	if (out_escaped(l, archived_as) == -1 || out_reserve(l, 1) == -1)
		goto fail;
	l->out[l->outlen++] = '\n';
	if (put(l, id, (uint64_t)l->size + mark) == -1)
		goto fail;
	return 0;
fail:
	l->outlen = mark;
	return -1;
}

int ledger_unlock(struct ledger *l)
{
	int rc = l->outlen ? write_all(l->fd, l->out, l->outlen) : 0;

	/* our own lines are loaded already: skip them when the file held
	 * exactly what was loaded (nobody appends while we hold the lock),
	 * without another fstat */
	if (rc == 0 && l->size == l->seen && l->outlen) {
		const char *nl = memrchr(l->out, '\n', l->outlen - 1);
		size_t first = nl != NULL ? (size_t)(nl + 1 - l->out) : 0;

		l->tail_at = l->size + (off_t)first;
		l->tail_hash = hash_bytes(l->out + first, l->outlen - first);
		l->size += (off_t)l->outlen;
		l->seen = l->size;
	}
	if (rc == -1)
		l->stale = 1; /* a torn line it left is cut at the next lock */
	l->outlen = 0;
	flock(l->fd, LOCK_UN);
	return rc;
}

size_t ledger_count(const struct ledger *l)
{
	return l->count;
}

void ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->dirfd >= 0)
		close(l->dirfd);
	free(l->slots);
	free(l->line);
	free(l->out);
	free(l);
}
