/*
 * outbox_int.h - what the two halves of the outbox share, and nothing
 * else includes: the queue (outbox.c: delivery files in SPOOL/outbox/ and
 * SPOOL/dead/, their names and format) and the driver (deliver.c: libcurl's
 * multi interface in the event loop, attempts and retry scheduling).
 */
#ifndef EXPENSED_OUTBOX_INT_H
#define EXPENSED_OUTBOX_INT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "loop.h"
#include "outbox.h"
#include "webhook.h"

#define container_of(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

/* Room for a delivery id ("msg_" and 32 hex digits) and its NUL. */
#define DELIVERY_ID_SIZE 48

/* Room for any delivery file name (outbox_file_name) and its NUL. */
#define DELIVERY_NAME_SIZE 64

/* One pending delivery: the contents of its file, and its transfer. */
struct delivery {
	struct delivery *prev, *next;
	char id[DELIVERY_ID_SIZE];
	char *hook;  /* webhook name */
	char *type;  /* report.rejected ... */
	char *claim; /* the judged file's name in work/ */
	char *file;  /* its name as dropped, for logs */
	char *created;
	char *body;
	size_t len;
	int attempts;	    /* tries made */
	long long due_ms;   /* wall clock, ms: not before */
	json_t *last_error; /* NULL until a try failed */
	int synced;	    /* durable, so it may be sent */
	int inflight;
	int warned; /* "no such webhook" logged */
	char *url;  /* while in flight: to keep it out of error texts */
	struct webhook_attempt att;
};

struct sock; /* one of curl's sockets (deliver.c) */

struct outbox {
	const struct config *cfg;
	int outfd, deadfd; /* SPOOL/outbox, SPOOL/dead */
	int epfd;	   /* < 0: queueing only, no driver */
	CURLM *multi;	   /* NULL: libcurl could not start, nothing is sent */
	struct loop_source curl_timer;
	struct loop_source retry_timer;
	struct sock **socks; /* indexed by fd */
	size_t nsocks;
	struct delivery *head, *tail; /* oldest due first at start */
	size_t count;
	int *inflight; /* per cfg->hooks[i] */
	int dirty;     /* files written since the last sync */
	uint64_t rng;  /* retry jitter */
};

/* ---- the queue (outbox.c) ------------------------------------------ */

/* The file name of delivery id in outbox/ and dead/ ("ID.json") into buf
 * (DELIVERY_NAME_SIZE bytes). The one place such names are built. */
void outbox_file_name(const char *id, char *buf, size_t size);

/* The index of webhook name in ob->cfg->hooks, or -1 if not configured. */
int outbox_find_hook(const struct outbox *ob, const char *name);

/*
 * Rewrite d's file with its retry state (temporary name, written,
 * renamed; no fsync: a lost update only means one more try). 0, or -1
 * with errno.
 */
int outbox_save(struct outbox *ob, struct delivery *d);

/* Delivered: remove d's file from outbox/ (a failure is logged). */
void outbox_remove_file(struct outbox *ob, const struct delivery *d);

/* Out of tries: save d with its last error and move it to dead/ (a
 * failure is logged). */
void outbox_move_dead(struct outbox *ob, struct delivery *d);

/* Take d off the queue and free it. */
void outbox_forget(struct outbox *ob, struct delivery *d);

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
