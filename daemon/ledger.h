/*
 * ledger.h - the daemon's durable set of accepted report ids (docs/rules.md
 * report.duplicate), kept in SPOOL/state/accepted-ids.
 *
 * The ledger file is append-only, one line per accepted file:
 *
 *   ESCAPED-ID <TAB> CLAIM-KEY <TAB> ESCAPED-ARCHIVED-AS <LF>
 *
 * (escaping: backslash, tab, newline, CR and other bytes < 0x20 or 0x7f as
 * \\ \t \n \r \xNN). The claim key ties an entry to the claimed file that
 * produced it: a file re-judged after a crash (same claim) is never a
 * duplicate of itself. Several daemons may share one ledger: each batch
 * takes flock(LOCK_EX) on it, reads what others appended since (ledger_lock),
 * checks and adds, appends its lines in one write (ledger_unlock); the
 * caller's batch sync (syncfs) makes them durable before any file is
 * archived. A torn last line (crash mid-write) is cut off when it is found.
 * In memory each id is its keyed hash and where its newest line starts;
 * the line is read back (pread) when a hash is found.
 */
#ifndef EXPENSED_LEDGER_H
#define EXPENSED_LEDGER_H

#include <stddef.h>

struct ledger;

/* Open (create) the ledger file in state/ (SPOOL_LEDGER_NAME, spool_name.h)
 * and load it. NULL with errno (EINVAL: what has its name is not a regular
 * file). */
struct ledger *ledger_open(int state_dirfd);

/*
 * Begin a batch: take the file lock (waits for another daemon's batch) and
 * load the lines appended since the last look. 0 or -1 (EINVAL: what has
 * the ledger's name now is not a regular file).
 */
int ledger_lock(struct ledger *l);

/*
 * If id was accepted before under a claim other than claim_key, *prev is
 * the archive name it was accepted as (valid until the next ledger call),
 * else NULL. 0, or -1 with errno when its line could not be read back
 * (memory, an I/O error): only the hash of each id and where its line
 * starts are kept in memory (16 bytes), the rest is read from the file
 * when an id is seen again.
 */
int ledger_find(struct ledger *l, const char *id, const char *claim_key,
		const char **prev);

/* Record id as accepted (buffered until ledger_unlock); nothing when the
 * ledger holds that line already (same id, claim and archive name: a claim
 * tried again). 0 or -1. */
int ledger_add(struct ledger *l, const char *id, const char *claim_key,
	       const char *archived_as);

/* End a batch: append the buffered lines in one write, release the lock.
 * 0 or -1 (the lines are then lost: the caller must not archive; the next
 * ledger_lock() loads the whole file again, so that the same claims tried
 * again add their lines anew). */
int ledger_unlock(struct ledger *l);

/* Number of ids known. */
size_t ledger_count(const struct ledger *l);

void ledger_close(struct ledger *l);

#endif
