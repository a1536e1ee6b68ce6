/*
 * watch.h - noticing files in the inbox (docs/operations.md "Noticing", "Which
 * files").
 *
 * inotify on the inbox (IN_CLOSE_WRITE, IN_MOVED_TO, and IN_DELETE_SELF /
 * IN_MOVE_SELF to notice the inbox itself going away), full scans at start,
 * on IN_Q_OVERFLOW and when the caller asks (the rescan timer). A name from
 * an event is ready at once; a name found by a scan is ready once its mtime
 * is `settle` old (or, for an mtime in the future, once it has not changed
 * for `settle`), with a timerfd armed for the earliest pending one. When the
 * inbox is removed or replaced, the parent directory is watched for its
 * name to reappear (and watch_rescan() retries too), then the new inbox is
 * watched and scanned.
 *
 * The watcher only produces names; run.c takes them with watch_take() and
 * claims them (spool.h).
 */
#ifndef EXPENSED_WATCH_H
#define EXPENSED_WATCH_H

#include <stddef.h>

struct watch;

/*
 * Watch the inbox (an absolute path), then scan it. Registers its inotify
 * and settle-timer fds with epfd. A missing inbox is not an error: it is
 * waited for (logged). NULL with errno on a system error.
 */
struct watch *watch_open(int epfd, const char *inbox, long settle_ms);

/* After a reload: a new inbox path (re-watched and scanned if it changed)
 * and settle time. 0 or -1. */
int watch_reconfigure(struct watch *w, const char *inbox, long settle_ms);

/* The rescan timer fired: check the inbox is still the one watched (else
 * re-watch), then scan it. */
void watch_rescan(struct watch *w);

/* The inbox directory fd (for renameat), or -1 while the inbox is missing. */
int watch_inbox_fd(const struct watch *w);

/* Number of names ready to be taken. */
size_t watch_ready(const struct watch *w);

/*
 * Move up to max ready names into names[] (each malloc'ed, the caller
 * frees them), oldest first. Returns how many.
 */
size_t watch_take(struct watch *w, char **names, size_t max);

/*
 * Claiming name failed (not "gone"): 1 if this is news for the entry now
 * at name (log it), 0 if the same entry (device, inode, ctime) already
 * failed. An entry is forgotten when a scan finds it gone or changed, or
 * the inbox changes; it is still retried at each scan, silently.
 */
int watch_claim_failed(struct watch *w, const char *name);

/* 1 if a name is left alone as "in progress": starts with '.', or ends in
 * .tmp, .part, .swp or ~. */
int watch_name_ignored(const char *name);

void watch_close(struct watch *w);

#endif
