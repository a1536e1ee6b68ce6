/*
 * spool.h - the life of a file in the spool (docs/operations.md): claim it from
 * the inbox into work/, judge it safely, record its result and deliveries
 * durably (one sync per batch), archive it into accepted/ or rejected/, and
 * recover what a crash left in work/. The crash-consistency protocol is
 * written down in spool_int.h, the names in spool_name.h.
 *
 *   struct spool *sp = spool_open("/var/spool/expensed", &diag);
 *   struct spool_item items[256]; size_t n = 0;
 *   if (spool_claim(sp, inbox_fd, "rapport-36.json", &items[n]) == 0) n++;
 *   spool_process(sp, &ctx, items, n);
 */
#ifndef EXPENSED_SPOOL_H
#define EXPENSED_SPOOL_H

#include <limits.h>
#include <stddef.h>

#include "../common/diag.h"
#include "../rules/engine.h"
#include "config.h"
#include "ledger.h"
#include "outbox.h"
#include "spool_name.h"

/* Most files taken in one batch (one group commit). */
#define SPOOL_BATCH_MAX 256

enum spool_item_kind {
	ITEM_CLAIM,  /* work/CLAIM is an input to judge */
	ITEM_RESULT, /* the input is archived; only its result is left */
};

struct spool_item {
	enum spool_item_kind kind;
	char key[SPOOL_KEY_LEN + 1]; /* "<token>.<seq>": the claim's identity */
	char work[SPOOL_NAME_SIZE];  /* its name in work/ */
	/* the dropped file's name (for a claim recovered after a restart, the
	 * NAME its claim name kept) */
	char name[SPOOL_NAME_SIZE];
	unsigned tries; /* recoveries of this claim counted, this one too */
	/* recovery's order among its token's claims (spool_recoverable) */
	unsigned order;
	/* a claim that may have crashed the daemon (taken back from work/):
	 * judged alone, its recovery counted just before (spool_process) */
	int suspect;
};

/* What judging needs; owned by the caller, counters updated by
 * spool_process(). */
struct spool_ctx {
	const struct ruleset *rs;
	const struct config *cfg; /* max_file_size */
	struct ledger *ledger;
	struct outbox *ob; /* never NULL (open even with no webhook) */
	unsigned long accepted, rejected, invalid;
};

struct spool;

/*
 * Open the spool directory: create work/ accepted/ rejected/ state/ if
 * missing (outbox/ and dead/ are outbox_open's), pick this daemon's random
 * owner token and lock state/owner-TOKEN.lock for its lifetime. NULL with a
 * line in diag.
 */
struct spool *spool_open(const char *dir, struct diag *diag);

/* The spool's state/ directory (for ledger_open). */
int spool_statefd(const struct spool *sp);

/* The spool's work/ directory and this daemon's owner token, whose claims
 * there are its own (for outbox_open). */
int spool_workfd(const struct spool *sp);
const char *spool_token(const struct spool *sp);

/*
 * Claim inbox_fd/name: rename it into work/ under a new unique claim name
 * (filling *it). 0 claimed, 1 gone (someone else took it: skip silently),
 * -1 error with errno set, not logged (watch_claim_failed() says whether
 * this entry's failure is new and should be); for lack of room the spool
 * is full then (spool_nospace()): take no more.
 */
int spool_claim(struct spool *sp, int inbox_fd, const char *name,
		struct spool_item *it);

/*
 * List what is left in work/ and belongs to nobody alive: this daemon's own
 * leftovers (a failed batch), and claims of daemons that are gone (their
 * owner lock is free: it is taken over). Stale results and copies of those
 * claims are removed (the claim is judged again); a claim that may have
 * crashed the daemon is marked suspect: spool_process() judges it alone
 * and counts its recovery durably (state/tries-KEY) just before; a claim
 * whose judging ran out of memory lately, or whose copy, result or page
 * could not be written, is left for later (spool_int.h). Also removes the
 * owner locks of dead daemons that left nothing, with their index.html
 * temporary files.
 * *items is malloc'ed (free it). Returns the count, or -1.
 */
int spool_recoverable(struct spool *sp, struct spool_item **items);

/* How many of items[0..n) to process as one batch: a suspect alone,
 * else the items up to the next suspect (at most max). */
size_t spool_batch_len(const struct spool_item *items, size_t n, size_t max);

/* 1 once after a batch left something that should be retried at once (an
 * archive name taken by another daemon meanwhile, a batch that failed). */
int spool_retry_wanted(struct spool *sp);

/* 1 once after a batch left a claim for the next look (another program
 * held a lease on it): with rescan off, the caller looks again after
 * spool_full_retry_ms() all the same. */
int spool_look_wanted(struct spool *sp);

/* How long files wait when the spool's file system is full and rescan
 * is off (with a rescan, until the next one). */
#define SPOOL_FULL_RETRY_MS (60 * 1000)

/* SPOOL_FULL_RETRY_MS (with the test hooks, EXPENSED_FULL_RETRY_MS if
 * set). */
long long spool_full_retry_ms(void);

/* 1 while the spool's file system has no room: a batch's copy, result,
 * page or delivery could not be written (ENOSPC, EDQUOT). Take no file,
 * from work/ or the inbox, until the next look (a rescan), which calls
 * spool_room_again() first. */
int spool_nospace(const struct spool *sp);
void spool_room_again(struct spool *sp);

/*
 * Judge, record and archive n items (n <= SPOOL_BATCH_MAX) as one group:
 * every result and delivery is written, then synced once, then the files
 * are archived (their renames synced with the next group, or at close).
 * One log line per judged file. An item that fails stays in work/ for the
 * next recovery. 0, or -1 when the whole batch failed (logged).
 *
 * A batch of two or more may return with its sync still running on a
 * thread of its own: it is archived by the next spool_process(), which
 * judges its own files meanwhile, or by spool_flush(). ctx must stay valid
 * until then; items is copied.
 */
int spool_process(struct spool *sp, struct spool_ctx *ctx,
		  struct spool_item *items, size_t n);

/*
 * Give accepted/ and rejected/ [spool] read_group now when they do not
 * have it, as spool_process() does at each batch: at start, so that a
 * systemd-tmpfiles --create run just before (a boot, the postinst of a
 * package upgrade) does not lock the readers out until the first report.
 */
void spool_give_read_group(struct spool *sp, const struct config *cfg);

/*
 * Archive the batch whose sync is still running, if any (waiting for that
 * sync). Call it when no more files are ready, and before anything that
 * lists work/ (recovery), changes ctx (a reload) or closes it.
 */
void spool_flush(struct spool *sp);

/* spool_flush() when no more files are ready. (With the test hooks,
 * EXPENSED_HOLD_PENDING keeps the batch pending until the next one.) */
void spool_flush_idle(struct spool *sp);

/* For an idle daemon, after malloc_trim(): the free heap of the threads'
 * arenas given back too (worker_trim()). */
void spool_trim(struct spool *sp);

/* Release the owner lock (and remove it) and close everything. */
void spool_close(struct spool *sp);

#endif
