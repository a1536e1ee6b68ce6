/*
 * outbox_int.h - what the parts of the outbox share, and nothing else
 * includes: the files (outbox.c: delivery files in SPOOL/outbox/ and
 * SPOOL/dead/, their names and format), the schedule (outbox_sched.c: the
 * index by id, the due-time heap, the per-webhook waiting lines), what
 * daemons sharing a spool agree on (outbox_shared.c: the per-delivery lock,
 * watching outbox/ for files others put there) and the driver (deliver.c:
 * libcurl's multi interface in the event loop, attempts and retries).
 *
 * Sharing a spool: a delivery is attempted only under an exclusive flock()
 * of its file in outbox/, taken without waiting and checked to still be the
 * file under that name; its state is read again from the file when it is
 * not the one this daemon last wrote. Every change of the file while locked
 * (a retry's new schedule, delivered, dead) is made before the lock is
 * released, so whoever takes it next sees the outcome. A daemon killed
 * mid-attempt loses its locks with its file descriptors: the delivery is
 * tried again by whoever comes next (at least once, same webhook-id).
 */
#ifndef EXPENSED_OUTBOX_INT_H
#define EXPENSED_OUTBOX_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>
#include <jansson.h>

#include "../common/strmap.h"
#include "loop.h"
#include "outbox.h"
#include "spool_name.h"
#include "webhook.h"

#define container_of(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

/* Room for a delivery id ("msg_" and 32 hex digits) and its NUL. */
#define DELIVERY_ID_SIZE 48

/* Room for any delivery file name (outbox_file_name) and its NUL. */
#define DELIVERY_NAME_SIZE 80

/* Another daemon holds a delivery's lock: look again after this long. */
#define DELIVERY_BUSY_MS 1000

/* Where a delivery is in the schedule. */
enum delivery_where {
	D_UNSYNCED, /* queued, not yet durable: on ob's unsynced line */
	D_HEAP,	    /* waiting for its due time, in ob->heap */
	D_PARKED,   /* due, its endpoint full: on its webhook's line */
	D_INFLIGHT, /* being attempted (its file locked) */
	D_IDLE,	    /* its webhook is not configured: kept, not sent */
};

/* The most tries a delivery file may say were made (read back by hand
 * edits: far over any retry list, and one more still fits in an int). */
#define DELIVERY_MAX_ATTEMPTS 1000000

/* One pending delivery: the contents of its file, and its transfer. */
struct delivery {
	struct delivery *prev, *next; /* every delivery, for reload and close */
	struct delivery *line;	      /* next on the unsynced or parked line */
	enum delivery_where where;
	size_t heap_pos; /* while D_HEAP */
	int lockfd;	 /* its file, flock()ed while in flight; else -1 */
	dev_t dev;	 /* the file this daemon last wrote or read: */
	ino_t ino;	 /* another one means someone changed it */
	char id[DELIVERY_ID_SIZE];
	char *hook;  /* webhook name */
	char *type;  /* report.rejected ... */
	char *claim; /* the judged file's name in work/ */
	char *file;  /* its name as dropped, for logs */
	char *created;
	char *body;
	size_t len;
	int attempts;	    /* tries made, at most DELIVERY_MAX_ATTEMPTS */
	long long due_ms;   /* wall clock, ms: not before */
	json_t *last_error; /* NULL until a try failed */
	int warned;	    /* "no such webhook" logged */
	char *url;	    /* while in flight: to keep it out of error texts */
	struct webhook_attempt att;
};

struct sock; /* one of curl's sockets (deliver.c) */

struct outbox {
	const struct config *cfg;
	int outfd, deadfd; /* SPOOL/outbox, SPOOL/dead */
	int workfd;	   /* SPOOL/work (not ours to close), or -1 */
	char token[SPOOL_TOKEN_LEN + 1]; /* this daemon's claims in work/ */
	int epfd;			 /* < 0: queueing only, no driver */
	CURLM *multi; /* NULL: libcurl could not start, nothing is sent */
	struct loop_source curl_timer;
	struct loop_source retry_timer;
	struct sock **socks; /* indexed by fd */
	size_t nsocks;
	struct delivery *head, *tail; /* every delivery known */
	size_t count;
	struct strmap byid;	/* id -> struct delivery */
	struct delivery **heap; /* D_HEAP, by due time then id */
	size_t nheap, heapcap;
	struct delivery *unsynced, *unsynced_tail; /* D_UNSYNCED */
	struct dline {
		struct delivery *head, *tail;
	} * parked;		  /* D_PARKED, per cfg->hooks[i] */
	int *inflight;		  /* per cfg->hooks[i] */
	struct loop_source watch; /* inotify on outbox/, or fd -1 */
	int dirty;		  /* files written since the last sync */
	int spool_fs;		  /* outbox/ is on the spool's file system */
	uint64_t rng;		  /* retry jitter */
};

/* ---- the queue (outbox.c) ------------------------------------------ */

/* The file name of delivery id in outbox/ and dead/ ("ID.json") into buf
 * (DELIVERY_NAME_SIZE bytes). The one place such names are built. */
void outbox_file_name(const char *id, char *buf, size_t size);

/* The index of webhook name in ob->cfg->hooks, or -1 if not configured. */
int outbox_find_hook(const struct outbox *ob, const char *name);

/*
 * Rewrite d's file with its retry state (temporary name, written,
 * renamed; no fsync: a lost update only means one more try); d->dev and
 * d->ino become the new file's. 0, or -1 with errno.
 */
int outbox_save(struct outbox *ob, struct delivery *d);

/* 1 if name is that of a delivery file (ID.json, not hidden), else 0. */
int outbox_is_delivery_name(const char *name);

/* The id of delivery file name ("ID.json") into id (size bytes): the
 * inverse of outbox_file_name. 0, or -1 when name is no delivery's or the
 * id does not fit. */
int outbox_file_id(const char *name, char *id, size_t size);

/* Delivered: remove d's file from outbox/ (a failure is logged). */
void outbox_remove_file(struct outbox *ob, const struct delivery *d);

/* Out of tries: write d with its last error into dead/, then remove it
 * from outbox/ (a failure is logged). */
void outbox_move_dead(struct outbox *ob, struct delivery *d);

/* Free d (which must be in no list nor the index). */
void delivery_free(struct delivery *d);

/* The delivery in file outbox/name, not yet added (D_HEAP, its file's
 * dev and ino noted), or NULL: an unreadable file is left (and logged), a
 * file that is no delivery goes to dead/. */
struct delivery *outbox_load_file(struct outbox *ob, const char *name);

/* ---- the schedule (outbox_sched.c) --------------------------------- */

/* Add d to the index and the list of deliveries, in the schedule's line
 * d->where (D_UNSYNCED, D_HEAP or D_IDLE). 0, or -1 (memory). */
int outbox_add(struct outbox *ob, struct delivery *d);

/* The delivery of that id, or NULL (O(1)). */
struct delivery *outbox_get(const struct outbox *ob, const char *id);

/* Take d off the index, the list and its line, release its lock, free it. */
void outbox_forget(struct outbox *ob, struct delivery *d);

/* Put d (in no line) into the heap, due at d->due_ms. 0, or -1 (memory:
 * d is then D_IDLE until the next reload). */
int sched_push(struct outbox *ob, struct delivery *d);

/* The earliest delivery in the heap, or NULL; sched_pop takes it off. */
struct delivery *sched_top(const struct outbox *ob);
struct delivery *sched_pop(struct outbox *ob);

/* Due while webhook idx is full: at the end of its line. */
void sched_park(struct outbox *ob, struct delivery *d, int idx);

/* The first delivery waiting for webhook idx (taken off), or NULL. */
struct delivery *sched_unpark(struct outbox *ob, int idx);

/* Every queued delivery is durable now: into the heap. */
void sched_synced(struct outbox *ob);

/* After a reload (ob->cfg new): per-webhook counts and lines sized anew,
 * every delivery not in flight back into the heap. 0, or -1 (memory). */
int sched_rebuild(struct outbox *ob);

/* Free the schedule's memory (deliveries are freed by the caller). */
void sched_free(struct outbox *ob);

/* ---- sharing a spool (outbox_shared.c) ----------------------------- */

enum claim_result { CLAIM_OK, CLAIM_BUSY, CLAIM_GONE, CLAIM_BAD, CLAIM_ERROR };

/*
 * Take d's lock for an attempt (see the top of this file). CLAIM_OK: locked
 * (d->lockfd), d's attempts, due time and last error as in the file now;
 * CLAIM_BUSY: another daemon holds it; CLAIM_GONE: its file is no more in
 * outbox/ (delivered or given up by another daemon); CLAIM_BAD: the file
 * under its name is no delivery now (replaced by hand: a symlink, no
 * regular file, or one that does not read as a delivery), d as last read
 * and locked when the file could be; CLAIM_ERROR: errno.
 */
enum claim_result outbox_claim(struct outbox *ob, struct delivery *d);

/* Release d's lock (after its file has been updated). */
void outbox_release(struct delivery *d);

/* Watch outbox/ (path dir) from the loop: a delivery file that appears
 * there and is not known is loaded and scheduled, one that disappears
 * while not in flight here is forgotten. 0, or -1 with errno. */
int outbox_watch_open(struct outbox *ob, const char *dir);
void outbox_watch_close(struct outbox *ob);

/* ---- the driver (deliver.c) ---------------------------------------- */

/*
 * Set up the driver on ob->epfd: its timers, and libcurl (whose failure is
 * logged once and leaves deliveries waiting in outbox/; not an error).
 * -1 with diag when the timers cannot be set up.
 */
int deliver_open(struct outbox *ob, struct diag *diag);

/*
 * Start every synced delivery that is due and whose endpoint has room, and
 * arm the retry timer for the next one. Does nothing while queueing only.
 */
void deliver_schedule(struct outbox *ob);

/* Abort the transfers in flight, stop libcurl, close the timers (for a
 * driver opened or not). Deliveries stay queued for outbox_close. */
void deliver_close(struct outbox *ob);

#endif
