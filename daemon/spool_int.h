/*
 * spool_int.h - what the three files of the spool share, and the protocol
 * they implement together: spool.c opens the spool and claims files,
 * spool_batch.c judges, records and archives a batch, spool_recover.c takes
 * back what a crash left in work/. Not for use outside them (spool.h is the
 * API). The names used below are defined in spool_name.h.
 *
 * Each daemon holds flock(LOCK_EX) on state/owner-TOKEN.lock while it
 * lives. A claim belongs to the daemon whose token it bears; another daemon
 * takes over a token's claims only once it can lock that token's lock file
 * (the owner is dead), and keeps that lock while it recovers them.
 *
 * The protocol for a batch of claimed files (at most 256), and what a
 * kill -9 at each point leaves:
 *
 *   1. judge every cKEY; under the ledger lock decide the verdicts
 *      (report.duplicate), the archive names (free in accepted|rejected,
 *      and NAME.result.json free too) and append accepted ids to the ledger
 *      (each line carries KEY);
 *   2. write every rKEY.D.ARCH in work/ (archived_as inside), queue the
 *      deliveries (outbox_queue: ids derived from the claim name);
 *   3. outbox_sync() and ONE syncfs() of the spool: results, deliveries,
 *      ledger lines and the input bytes themselves are durable;
 *   4. per file: rename cKEY.NAME -> D/ARCH (RENAME_NOREPLACE), then
 *      rKEY.D.ARCH -> D/ARCH.result.json (RENAME_NOREPLACE);
 *   5. ONE more syncfs() (the renames).
 *
 *   Crash before 3 completes: work/ holds cKEY (and maybe a partial or
 *   complete rKEY). Recovery removes every rKEY of a present cKEY and
 *   judges cKEY again: same claim name, so the same delivery ids (existing
 *   deliveries are kept, not duplicated) and its own ledger line (same KEY)
 *   is not a duplicate of itself.
 *   Crash in 4 or before 5 completes: a journalling file system makes
 *   renames durable in order, so per file either nothing moved (as above:
 *   judged again; the archive name is still free), or the input moved but
 *   not its result (work/ holds rKEY.D.ARCH alone: recovery finishes the
 *   rename, no judging: the deliveries are durable since 3), or both moved
 *   (done).
 *   If the input rename in 4 finds ARCH taken (another daemon used the name
 *   meanwhile), rKEY is removed and the file judged again at once.
 *
 * So every file ends in exactly one of accepted/ or rejected/, with exactly
 * one result beside it; a file is never judged by two live daemons.
 */
#ifndef EXPENSED_SPOOL_INT_H
#define EXPENSED_SPOOL_INT_H

#include <stddef.h>

#include "spool.h"

/* The owner lock of a dead daemon, taken over by this one while it
 * recovers that daemon's claims. */
struct adopted {
	char token[SPOOL_TOKEN_LEN + 1];
	int fd; /* holds the lock */
};

struct spool {
	int dirfd;			 /* the spool directory (syncfs) */
	int workfd;			 /* work/ */
	int accfd;			 /* accepted/ */
	int rejfd;			 /* rejected/ */
	int statefd;			 /* state/ */
	char token[SPOOL_TOKEN_LEN + 1]; /* this daemon's owner token */
	int lockfd;			 /* holds state/owner-TOKEN.lock */
	unsigned seq;			 /* claims made so far */
	struct adopted *adopted;	 /* dead owners' locks we hold */
	size_t nadopted;
	int retry;     /* spool_retry_wanted() will say 1 */
	char *buf;     /* the read buffer of judging, reused */
	size_t bufcap; /* its size */
};

/*
 * Remove state/owner-TOKEN.lock and close fd, which holds its lock: the
 * file goes first, so that whoever locks it next finds it gone (lock_owner
 * in spool_recover.c checks) rather than taking a dead file.
 */
void spool_unlock_owner(struct spool *sp, const char *token, int fd);

#endif
