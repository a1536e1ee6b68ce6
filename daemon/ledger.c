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

#include "../common/io.h"
#include "../common/strmap.h"
#include "ledger.h"
#include "spool_name.h"

struct ledger_entry {
	char *claim_key;
	char *archived_as;
};

struct ledger {
	int fd;
	off_t seen;	   /* bytes of the file already loaded */
	off_t size;	   /* its size when locked (after a torn line cut) */
	struct strmap ids; /* id -> struct ledger_entry */
	char *out;	   /* lines buffered by ledger_add */
	size_t outlen, outcap;
	/* an append failed (a full disk): ids holds lines the file lacks,
	 * which ledger_add would skip when the claims are tried again; the
	 * next lock loads the whole file anew */
	int stale;
};

static void entry_free(void *p)
{
	struct ledger_entry *e = p;

	if (e == NULL)
		return;
	free(e->claim_key);
	free(e->archived_as);
	free(e);
}

static int insert(struct ledger *l, const char *id, const char *claim_key,
		  const char *archived_as)
{
	struct ledger_entry *e = calloc(1, sizeof(*e));
	void *old;

	if (e == NULL)
		return -1;
	e->claim_key = strdup(claim_key);
	e->archived_as = strdup(archived_as);
	if (e->claim_key == NULL || e->archived_as == NULL ||
	    strmap_put(&l->ids, id, e, &old) == -1) {
		entry_free(e);
		return -1;
	}
	entry_free(old); /* the newest line wins; they name the same id */
	return 0;
}

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

static int load_line(struct ledger *l, char *line)
{
	char *claim = strchr(line, '\t');
	char *arch;

	if (claim == NULL)
		return 0; /* not ours: ignore */
	*claim++ = '\0';
	arch = strchr(claim, '\t');
	if (arch == NULL)
		return 0;
	*arch++ = '\0';
	return insert(l, unescape(line), claim, unescape(arch));
}

/* Load what was appended since l->seen; a torn last line is cut off when
 * we hold the lock (nobody is writing then). */
static int load_tail(struct ledger *l)
{
	struct stat st;
	char *buf = NULL;
	size_t len, done = 0;
	int rc = -1;

	if (fstat(l->fd, &st) == -1)
		return -1;
	l->size = st.st_size;
	if (st.st_size <= l->seen)
		return 0;
	len = (size_t)(st.st_size - l->seen);
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
		    load_line(l, buf + start) == -1)
			goto out;
		l->seen += (off_t)(nl - buf) + 1 - (off_t)start;
		start = (size_t)(nl - buf) + 1;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

struct ledger *ledger_open(int state_dirfd)
{
	struct ledger *l = calloc(1, sizeof(*l));
	int saved;

	if (l == NULL)
		return NULL;
	l->fd =
	    openat(state_dirfd, SPOOL_LEDGER_NAME,
		   O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (l->fd == -1)
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

int ledger_lock(struct ledger *l)
{
	while (flock(l->fd, LOCK_EX) == -1) {
		if (errno != EINTR)
			return -1;
	}
	if (l->stale) {
		strmap_free(&l->ids, entry_free);
		l->seen = 0;
		l->stale = 0;
	}
	if (load_tail(l) == -1) {
		int saved = errno;
		flock(l->fd, LOCK_UN);
		errno = saved;
		return -1;
	}
	return 0;
}

const char *ledger_find(struct ledger *l, const char *id, const char *claim_key)
{
	struct ledger_entry *e = strmap_get(&l->ids, id);

	if (e == NULL || strcmp(e->claim_key, claim_key) == 0)
		return NULL;
	return e->archived_as;
}

static int out_reserve(struct ledger *l, size_t more)
{
	if (l->outlen + more <= l->outcap)
		return 0;
	size_t cap = l->outcap ? l->outcap : 256;
	while (cap < l->outlen + more)
		cap *= 2;
	char *p = realloc(l->out, cap);
	if (p == NULL)
		return -1;
	l->out = p;
	l->outcap = cap;
	return 0;
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
	const struct ledger_entry *had = strmap_get(&l->ids, id);

	/* the same claim tried again (its page could not be written...):
	 * its line is there already */
	if (had != NULL && strcmp(had->claim_key, claim_key) == 0 &&
	    strcmp(had->archived_as, archived_as) == 0)
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
	if (insert(l, id, claim_key, archived_as) == -1)
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
	if (rc == 0 && l->size == l->seen) {
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
	return strmap_count(&l->ids);
}

void ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	strmap_free(&l->ids, entry_free);
	free(l->out);
	free(l);
}
