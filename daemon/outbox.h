/*
 * outbox.h - durable webhook deliveries (docs/webhooks.md).
 *
 * For each judged file, outbox_queue() writes one delivery file per webhook
 * whose events include the verdict into SPOOL/outbox/ (temporary name,
 * written, renamed; the caller makes the batch durable with one
 * outbox_sync() before the input leaves work/). Deliveries are then posted
 * with libcurl's multi interface from the daemon's event loop, retried on
 * the webhook's schedule, and moved to SPOOL/dead/ when out of tries.
 * outbox.c keeps the files, deliver.c posts them (outbox_int.h).
 */
#ifndef EXPENSED_OUTBOX_H
#define EXPENSED_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "../common/diag.h"
#include "../rules/engine.h"
#include "config.h"

struct outbox;

/*
 * Open SPOOL/outbox and SPOOL/dead (created if missing), load pending
 * deliveries, register with the epoll fd epfd and start libcurl (epfd < 0:
 * no sending, for tests of queueing alone). NULL with diag on error; a
 * libcurl that cannot start is logged, not an error: deliveries wait.
 *
 * workfd (the spool's work/, kept open by its owner) and token (this
 * daemon's owner token): a delivery of another daemon's claim is not
 * attempted while that claim is still in work/, so that no alert goes out
 * before its batch's sync (the other daemon's, or, when it died, this
 * one's once it has judged the claim again): it waits DELIVERY_BUSY_MS and
 * looks again. workfd -1 (tests): every delivery is attempted when due.
 */
struct outbox *outbox_open(const char *spool_dir, const struct config *cfg,
			   int epfd, int workfd, const char *token,
			   struct diag *diag);

/*
 * Queue the deliveries of one judged file: j is its judgement, doc the
 * result document built from it once (judgement_to_json(), plus the
 * daemon's archived_as), posted as is in the standard format. claim is the
 * file's unique name in work/ (stable across re-judging after a crash):
 * with the webhook name and the file's sha256 it derives the webhook-id, so
 * judging the same claimed file again yields the same ids (and an existing
 * delivery file of that id is kept, not duplicated). Returns the number
 * queued, or -1.
 */
int outbox_queue(struct outbox *ob, const char *claim,
		 const struct judgement *j, const json_t *doc);

/* Make every delivery queued so far durable (one sync for the batch). */
int outbox_sync(struct outbox *ob);

/*
 * The same, called right after the caller's own syncfs() of the spool
 * directory, with nothing queued in between: when outbox/ is on the
 * spool's file system, as outbox_open found, that sync made the
 * deliveries durable already and no second one is made (each syncfs costs
 * a journal commit). 0 or -1, as outbox_sync.
 */
int outbox_synced(struct outbox *ob);

/* Deliveries pending (not yet 2xx, not dead); 0 for a NULL outbox. */
size_t outbox_backlog(const struct outbox *ob);

/* New webhook configuration after SIGHUP (cfg must outlive the outbox or
 * the next reconfigure). */
void outbox_reconfigure(struct outbox *ob, const struct config *cfg);

/*
 * The webhook named in the delivery file dirfd/name (in outbox/ or dead/),
 * into hook (size bytes), for `expensed status`: read-only, no outbox
 * needed, and cheap (the name is in the file's first bytes). 0; 1 when
 * name or its contents are no delivery (a name held by hidden temporary
 * files, or a file moved to dead/ because it was none); -1 with errno when
 * it cannot be read (ENOENT: delivered or moved meanwhile).
 */
int outbox_file_webhook(int dirfd, const char *name, char *hook, size_t size);

/* Whether name is shaped as a delivery's file name ("msg_", 32 hex digits
 * of its id, ".json"), the file unread: what the metrics count in dead/
 * at every write, cheaply (a file moved there because it was none keeps
 * its own name). */
bool outbox_delivery_named(const char *name);

/* Abort transfers in flight (their files stay for the next start), stop
 * libcurl, free everything. NULL is allowed. */
void outbox_close(struct outbox *ob);

/* ---- for `expensed requeue` (requeue.c): the files of dead/ ---------- */

/* Room for a delivery file name (outbox_names) and its NUL. */
#define OUTBOX_NAME_SIZE 96

/* What outbox_requeue_text read from a delivery, for its output line. */
struct outbox_requeued {
	char id[48];	/* the webhook-id, kept */
	char hook[128]; /* the webhook name (cut if longer) */
	char file[256]; /* the judged file as dropped, log_escape()d */
};

/* Whether name is the file name of delivery id, in outbox/ and dead/. */
bool outbox_name_is(const char *name, const char *id);

/* The file name of delivery id and the temporary name it is written under
 * (in outbox/, hidden from scans), each into OUTBOX_NAME_SIZE bytes. */
void outbox_names(const char *id, char *name, char *tmp);

/*
 * The delivery file text (len bytes, whose file is called name) with a
 * fresh schedule: no try made, due at now_ms, no last error; the same id,
 * webhook, event and body. *out is the new file text (malloc'ed, without
 * the final newline). 0; 1 when text is no delivery of that name; -1
 * when out of memory.
 */
int outbox_requeue_text(const char *text, size_t len, const char *name,
			long long now_ms, char **out,
			struct outbox_requeued *info);

#endif
