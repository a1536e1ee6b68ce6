/*
 * watch.c - notices the files dropped into the inbox: inotify for speed,
 * full scans (at start, on queue overflow, on the rescan timer) because
 * events get lost, a settle delay for what scans find, and re-watching an
 * inbox that was removed or replaced. It only produces names (watch.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/strmap.h"
#include "../common/timefmt.h"
#include "log.h"
#include "loop.h"
#include "watch.h"

#define INBOX_MASK                                                             \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |        \
	 IN_ONLYDIR | IN_DONT_FOLLOW)
/* The parent is watched all along: an rmdir of the inbox while we hold an
 * fd on it gives no IN_DELETE_SELF, but the parent sees IN_DELETE. */
#define PARENT_MASK                                                            \
	(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM |                 \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* An inbox entry that could not be claimed, as it was then: its failure is
 * logged once, not again while the entry stays the same. */
struct failed {
	dev_t dev;
	ino_t ino;
	struct timespec ctime;
};

/* A name found by a scan, waiting to be `settle` old. */
struct pending {
	struct timespec mtime;
	off_t size;
	long long seen_ms; /* monotonic ms when this mtime/size was seen */
};

struct watch {
	int epfd;
	char *inbox;  /* absolute path */
	char *parent; /* its directory */
	char *base;   /* its last component */
	long settle_ms;

	struct loop_source ino;	  /* inotify fd */
	struct loop_source timer; /* settle re-check timerfd */
	int inbox_wd, parent_wd;
	int inbox_fd;
	dev_t dev;
	ino_t ino_nr;
	int lost; /* the inbox is missing (logged once) */

	char **q; /* ready names, FIFO: q[qhead .. qlen) */
	size_t qhead, qlen, qcap;
	struct strmap queued;  /* names in q */
	struct strmap pending; /* name -> struct pending */
	struct strmap failed;  /* name -> struct failed (claims that failed) */
};

/* Seconds beyond any clock, whose milliseconds, and their sums and
 * differences with a clock's, still fit in a long long. */
#define TS_SECONDS_MAX (LLONG_MAX / 4000)

/* ts in milliseconds; a dropped file's mtime is anything its dropper set
 * (64-bit seconds on tmpfs or btrfs): held within TS_SECONDS_MAX, where
 * multiplying it overflowed (undefined) */
static long long ts_ms(const struct timespec *ts)
{
	if (ts->tv_sec > TS_SECONDS_MAX)
		return TS_SECONDS_MAX * 1000;
	if (ts->tv_sec < -TS_SECONDS_MAX)
		return -TS_SECONDS_MAX * 1000;
	return (long long)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

int watch_name_ignored(const char *name)
{
	return name[0] == '.' || ends_with(name, ".tmp") ||
	       ends_with(name, ".part") || ends_with(name, ".swp") ||
	       ends_with(name, "~");
}

static void queue_push(struct watch *w, const char *name)
{
	char *copy = strdup(name); /* name may be a key of w->pending */

	if (copy == NULL)
		return;
	free(strmap_del(&w->pending, copy));
	if (strmap_get(&w->queued, copy) != NULL)
		goto drop;
	if (w->qlen == w->qcap && w->qhead > 0) {
		memmove(w->q, w->q + w->qhead,
			(w->qlen - w->qhead) * sizeof(*w->q));
		w->qlen -= w->qhead;
		w->qhead = 0;
	}
	if (w->qlen == w->qcap) {
		size_t cap = w->qcap ? w->qcap * 2 : 64;
		char **q = realloc(w->q, cap * sizeof(*q));
		if (q == NULL)
			goto drop; /* the next scan finds it again */
		w->q = q;
		w->qcap = cap;
	}
	if (strmap_put(&w->queued, copy, (void *)1, NULL) == -1)
		goto drop;
	w->q[w->qlen++] = copy;
	return;
drop:
	free(copy);
}

static void queue_clear(struct watch *w)
{
	for (size_t i = w->qhead; i < w->qlen; i++)
		free(w->q[i]);
	w->qhead = w->qlen = 0;
	strmap_free(&w->queued, NULL);
	strmap_free(&w->pending, free);
	strmap_free(&w->failed, free);
}

size_t watch_ready(const struct watch *w)
{
	return w->qlen - w->qhead;
}

size_t watch_take(struct watch *w, char **names, size_t max)
{
	size_t n = 0;

	while (n < max && w->qhead < w->qlen) {
		char *name = w->q[w->qhead++];
		strmap_del(&w->queued, name);
		names[n++] = name;
	}
	if (w->qhead == w->qlen) {
		w->qhead = w->qlen = 0;
		if (w->qcap > 1024) { /* after a burst: give the memory back */
			free(w->q);
			w->q = NULL;
			w->qcap = 0;
			strmap_free(&w->queued, NULL);
		}
	}
	return n;
}

/*
 * Is a scanned file settled? Its mtime is settle old, or (mtime in the
 * future: clock skew on a share) it has not changed for settle since seen.
 * Otherwise *deadline gets the monotonic ms when to look again.
 */
static int settled(const struct watch *w, const struct pending *p,
		   long long now_mono, long long *deadline)
{
	struct timespec real;
	long long now_real, mt = ts_ms(&p->mtime);

	clock_gettime(CLOCK_REALTIME, &real);
	now_real = ts_ms(&real);
	if (mt <= now_real) {
		if (now_real - mt >= w->settle_ms)
			return 1;
		*deadline = now_mono + (mt + w->settle_ms - now_real);
		return 0;
	}
	if (now_mono - p->seen_ms >= w->settle_ms)
		return 1;
	*deadline = p->seen_ms + w->settle_ms;
	return 0;
}

static void arm_timer(struct watch *w, long long deadline)
{
	long long ms = -1;

	if (deadline >= 0) {
		ms = deadline - clock_mono_ms();
		if (ms < 1)
			ms = 1;
	}
	loop_timer_arm(&w->timer, ms);
}

/* Look at every pending name again; arm the timer for the earliest. */
static void recheck_pending(struct watch *w)
{
	long long now = clock_mono_ms(), earliest = -1;

	struct strmap_iter it = STRMAP_ITER_INIT;
	const char *name;
	void *val;

	while (strmap_next(&w->pending, &it, &name, &val)) {
		struct pending *p = val;
		struct stat st;
		long long deadline;

		if (w->inbox_fd < 0 || fstatat(w->inbox_fd, name, &st,
					       AT_SYMLINK_NOFOLLOW) == -1) {
			free(strmap_del(&w->pending, name));
			continue;
		}
		if (st.st_mtim.tv_sec != p->mtime.tv_sec ||
		    st.st_mtim.tv_nsec != p->mtime.tv_nsec ||
		    st.st_size != p->size) {
			p->mtime = st.st_mtim;
			p->size = st.st_size;
			p->seen_ms = now;
		}
		if (settled(w, p, now, &deadline)) {
			queue_push(w, name); /* frees p */
			continue;
		}
		if (earliest < 0 || deadline < earliest)
			earliest = deadline;
	}
	arm_timer(w, earliest);
}

/* A name from a scan: ready if settled, else pending. */
static void consider_scanned(struct watch *w, const char *name)
{
	struct pending *p;
	struct stat st;

	if (watch_name_ignored(name) || strmap_get(&w->queued, name) != NULL ||
	    strmap_get(&w->pending, name) != NULL)
		return;
	if (fstatat(w->inbox_fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return;
	p->mtime = st.st_mtim;
	p->size = st.st_size;
	p->seen_ms = clock_mono_ms();
	if (strmap_put(&w->pending, name, p, NULL) == -1)
		free(p);
}

static bool same_entry(const struct failed *f, const struct stat *st)
{
	return f->dev == st->st_dev && f->ino == st->st_ino &&
	       f->ctime.tv_sec == st->st_ctim.tv_sec &&
	       f->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* Forget the failed claims whose entry is gone or changed (queue_clear()
 * forgets them all when the inbox changes): a new failure is logged. */
static void forget_failed(struct watch *w)
{
	struct strmap_iter it = STRMAP_ITER_INIT;
	const char *name;
	void *val;

	while (strmap_next(&w->failed, &it, &name, &val)) {
		struct stat st;

		if (w->inbox_fd < 0 ||
		    fstatat(w->inbox_fd, name, &st, AT_SYMLINK_NOFOLLOW) ==
			-1 ||
		    !same_entry(val, &st))
			free(strmap_del(&w->failed, name));
	}
}

int watch_claim_failed(struct watch *w, const char *name)
{
	struct failed *f;
	struct stat st;

	if (w->inbox_fd < 0 ||
	    fstatat(w->inbox_fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 1;
	f = strmap_get(&w->failed, name);
	if (f != NULL && same_entry(f, &st))
		return 0;
	if (f == NULL) {
		f = malloc(sizeof(*f));
		if (f == NULL)
			return 1;
		if (strmap_put(&w->failed, name, f, NULL) == -1) {
			free(f);
			return 1;
		}
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->ctime = st.st_ctim;
	return 1;
}

static void scan(struct watch *w)
{
	DIR *dir;
	struct dirent *de;
	int fd;

	if (w->inbox_fd < 0)
		return;
	fd = openat(w->inbox_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (dir = fdopendir(fd)) == NULL) {
		log_msg(LOG_ERR, "cannot scan inbox %s: %s", w->inbox,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		consider_scanned(w, de->d_name);
	}
	closedir(dir);
	forget_failed(w);
	recheck_pending(w);
}

static void drop_parent_watch(struct watch *w)
{
	if (w->parent_wd >= 0)
		inotify_rm_watch(w->ino.fd, w->parent_wd);
	w->parent_wd = -1;
}

/* Watch and open the inbox; on success scan it. 0 or -1 (still missing). */
static int try_watch(struct watch *w)
{
	struct stat st;
	int wd, fd;

	if (w->parent_wd < 0)
		w->parent_wd =
		    inotify_add_watch(w->ino.fd, w->parent, PARENT_MASK);
	wd = inotify_add_watch(w->ino.fd, w->inbox, INBOX_MASK);
	if (wd == -1)
		goto missing;
	fd = open(w->inbox, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		inotify_rm_watch(w->ino.fd, wd);
		goto missing;
	}
	if (fstat(fd, &st) == -1) {
		close(fd);
		inotify_rm_watch(w->ino.fd, wd);
		goto missing;
	}
	w->inbox_wd = wd;
	w->inbox_fd = fd;
	w->dev = st.st_dev;
	w->ino_nr = st.st_ino;
	if (w->lost)
		log_msg(LOG_NOTICE, "inbox %s is back; watching it", w->inbox);
	else
		log_msg(LOG_INFO, "watching inbox %s", w->inbox);
	w->lost = 0;
	scan(w);
	return 0;
missing:
	if (!w->lost)
		log_msg(LOG_WARNING,
			"inbox %s is missing (%s); waiting for it to appear",
			w->inbox, strerror(errno));
	w->lost = 1;
	return -1;
}

/* Stop watching the inbox and close it. */
static void unwatch_inbox(struct watch *w)
{
	if (w->inbox_wd >= 0)
		inotify_rm_watch(w->ino.fd, w->inbox_wd);
	w->inbox_wd = -1;
	if (w->inbox_fd >= 0)
		close(w->inbox_fd);
	w->inbox_fd = -1;
}

/* The watched inbox went away (removed, renamed, replaced). */
static void inbox_lost(struct watch *w, const char *why)
{
	unwatch_inbox(w);
	queue_clear(w);
	arm_timer(w, -1);
	log_msg(LOG_WARNING, "inbox %s was %s; waiting for it to reappear",
		w->inbox, why);
	w->lost = 1;
}

/* Whether the inbox path still names the directory being watched: an
 * event about a new inbox may arrive after it was already found and
 * watched (rename away, rename in, read in two parts). */
static int still_inbox(const struct watch *w)
{
	struct stat st;

	return stat(w->inbox, &st) == 0 && st.st_dev == w->dev &&
	       st.st_ino == w->ino_nr;
}

static void on_inotify(struct loop_source *src, uint32_t events)
{
	struct watch *w =
	    (struct watch *)((char *)src - offsetof(struct watch, ino));
	char buf[65536]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	int overflow = 0, lost = 0, parent_hit = 0;
	const char *why = "removed";
	ssize_t n;

	(void)events;
	/* one read per wakeup, not a second one for EAGAIN: the fd is
	 * level-triggered, so what a full buffer left wakes the loop again */
	do
		n = read(w->ino.fd, buf, sizeof(buf));
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow = 1;
			} else if (ev->wd == w->inbox_wd && w->inbox_wd >= 0) {
				if ((ev->mask &
				     (IN_CLOSE_WRITE | IN_MOVED_TO)) &&
				    ev->len > 0 &&
				    !watch_name_ignored(ev->name))
					queue_push(w, ev->name);
				if (ev->mask & IN_MOVE_SELF)
					why = "moved away";
				if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF |
						IN_IGNORED | IN_UNMOUNT))
					lost = 1;
			} else if (ev->wd == w->parent_wd &&
				   w->parent_wd >= 0) {
				int ours = ev->len > 0 &&
					   strcmp(ev->name, w->base) == 0;
				if (ours && (ev->mask & IN_DELETE)) {
					lost = w->inbox_fd >= 0;
					why = "removed";
				}
				if (ours && (ev->mask & IN_MOVED_FROM)) {
					lost = w->inbox_fd >= 0;
					why = "moved away";
				}
				if (ours &&
				    (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
					if (w->inbox_fd >= 0 && !lost &&
					    !still_inbox(w)) {
						lost = 1;
						why = "replaced";
					}
					parent_hit = 1;
				}
				if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF |
						IN_IGNORED))
					w->parent_wd = -1; /* rescan retries */
			}
		}
	}
	if (lost) {
		inbox_lost(w, why);
		parent_hit = 1; /* it may be back already */
	}
	if (parent_hit && w->inbox_fd < 0)
		try_watch(w);
	else if (overflow) {
		log_msg(LOG_NOTICE, "inotify queue overflow; scanning inbox");
		scan(w);
	}
}

static void on_timer(struct loop_source *src, uint32_t events)
{
	struct watch *w =
	    (struct watch *)((char *)src - offsetof(struct watch, timer));
	(void)events;
	loop_timer_drain(&w->timer);
	recheck_pending(w);
}

static int set_paths(struct watch *w, const char *inbox)
{
	char *slash;

	free(w->inbox);
	free(w->parent);
	free(w->base);
	w->inbox = strdup(inbox);
	w->parent = strdup(inbox);
	if (w->inbox == NULL || w->parent == NULL)
		return -1;
	/* strip trailing slashes, then split */
	for (size_t n = strlen(w->parent); n > 1 && w->parent[n - 1] == '/';)
		w->parent[--n] = '\0';
	slash = strrchr(w->parent, '/');
	if (slash == NULL) {
		w->base = strdup(w->parent);
		free(w->parent);
		w->parent = strdup(".");
	} else {
		w->base = strdup(slash + 1);
		if (slash == w->parent)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	return w->base != NULL && w->parent != NULL ? 0 : -1;
}

struct watch *watch_open(int epfd, const char *inbox, long settle_ms)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->epfd = epfd;
	w->settle_ms = settle_ms;
	w->inbox_wd = w->parent_wd = -1;
	w->inbox_fd = -1;
	w->ino.ready = on_inotify;
	w->timer.fd = -1;
	w->ino.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ino.fd == -1 || set_paths(w, inbox) == -1 ||
	    loop_add(epfd, &w->ino, EPOLLIN) == -1 ||
	    loop_timer_open(epfd, &w->timer, on_timer) == -1) {
		int saved = errno;
		watch_close(w);
		errno = saved;
		return NULL;
	}
	try_watch(w);
	return w;
}

int watch_reconfigure(struct watch *w, const char *inbox, long settle_ms)
{
	w->settle_ms = settle_ms;
	if (strcmp(inbox, w->inbox) == 0) {
		recheck_pending(w);
		return 0;
	}
	unwatch_inbox(w);
	drop_parent_watch(w);
	queue_clear(w);
	arm_timer(w, -1);
	if (set_paths(w, inbox) == -1)
		return -1;
	w->lost = 0;
	try_watch(w);
	return 0;
}

void watch_rescan(struct watch *w)
{
	struct stat st;

	if (w->inbox_fd >= 0 && (stat(w->inbox, &st) == -1 ||
				 st.st_dev != w->dev || st.st_ino != w->ino_nr))
		inbox_lost(w, "replaced");
	if (w->inbox_fd < 0) {
		try_watch(w); /* scans on success */
		return;
	}
	scan(w);
}

int watch_inbox_fd(const struct watch *w)
{
	return w->inbox_fd;
}

void watch_close(struct watch *w)
{
	if (w == NULL)
		return;
	queue_clear(w);
	free(w->q);
	if (w->inbox_fd >= 0)
		close(w->inbox_fd);
	if (w->ino.fd >= 0) {
		loop_del(w->epfd, &w->ino);
		close(w->ino.fd);
	}
	loop_timer_close(w->epfd, &w->timer);
	free(w->inbox);
	free(w->parent);
	free(w->base);
	free(w);
}
