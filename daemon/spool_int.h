/*
 * spool_int.h - what the files of the spool share, and the protocol they
 * implement together: spool.c opens the spool and claims files,
 * spool_judge.c reads, copies and judges a claim, spool_batch.c records
 * and archives a batch, spool_archive.c reserves archive names and moves
 * the files into the archive, spool_recover.c takes back what a crash left
 * in work/. Not for use outside them (spool.h is the API). The names used
 * below are defined in spool_name.h.
 *
 * Each daemon holds flock(LOCK_EX) on state/owner-TOKEN.lock while it
 * lives. A claim belongs to the daemon whose token it bears; another daemon
 * takes over a token's claims only once it can lock that token's lock file
 * (the owner is dead), and keeps that lock while it recovers them. A lock
 * file removed or replaced by hand is held by nobody: its daemon locks the
 * name again at its next batch or look (spool_relock()), and a daemon that
 * took it over meanwhile lets go of it when it finds the name no longer
 * its file (until then both may judge those claims).
 *
 * The protocol for a batch of claimed files (at most 256), and what a
 * kill -9 at each point leaves:
 *
 *   1. read every cKEY.NAME into memory, write those bytes to kKEY.NAME
 *      (0640, the daemon's) and rename it over cKEY.NAME: from then on the
 *      claim is the daemon's own copy of exactly the bytes judged, and the
 *      dropper's inode (an open write descriptor, a hard link) is out of
 *      the spool; then judge it from the bytes in memory. Entries not read
 *      (a FIFO, a file too large, a wrong name, a hard link) stay as they
 *      are. With [html] enabled, each claim's page is rendered as soon as
 *      it is judged and kept until step 2 (see PAGE_KEEP_BYTES in
 *      spool_batch.c: steps 1 and 2 go part by part where the bytes and
 *      pages held would grow too large). The reading and the copy are the
 *      daemon's thread's; judging (and the page) is a job on the worker
 *      thread (worker.h), handed each claim as soon as it is read;
 *      meanwhile the daemon's thread finishes the batch before (steps 3
 *      to 5 below).
 *      Then, under the ledger lock, decide the verdicts (report.duplicate),
 *      reserve the archive names of the whole batch together (ARCH,
 *      ARCH.result.json and ARCH.result.html distinct from every other name
 *      of the batch, and free on disk: see spool_archive.c; no ARCH ends in
 *      .result.json or .result.html) and append accepted ids to the ledger
 *      (each line carries KEY);
 *   2. write every rKEY in work/ (archived_as inside) and, with [html]
 *      enabled, its page pKEY, queue the deliveries (outbox_queue: ids
 *      derived from the claim name); the result document is built on the
 *      worker, and the page rendered again there when step 1 changed what
 *      it shows (a report.duplicate, a suffixed ARCH: its report parsed
 *      again from its copy); the daemon's thread writes them (page
 *      first), and a part's records are built while the daemon's thread
 *      reads the next part;
 *   3. ONE syncfs() of the spool, then outbox_synced() (no second sync
 *      when outbox/ is on the spool's file system): copies, results, pages,
 *      deliveries and ledger lines are durable. For a batch of two or
 *      more, the syncfs runs on the syncer thread while the next batch is
 *      claimed, read and judged, and steps 3 (outbox_synced) to 5 follow
 *      in the next batch's step 1, before it decides its names or queues
 *      any delivery (spool_flush(); also when no file is ready). Before
 *      any claim of that next batch is judged, the owner lock says that
 *      every claim of this daemon before it was recorded ("recorded SEQ":
 *      the batch's first claim, or an earlier one left in work/ for lack
 *      of memory; spool_mark_recorded(); pwrite, not synced: it outlives
 *      a kill -9 or an OOM kill in the page cache): if a report kills the
 *      daemon while judged, the recovery that takes over the dead
 *      daemon's claims does not count one for the claims before SEQ (they
 *      were judged and recorded: not the killer), and clears the mark, so
 *      that a crash while it judges them again counts them like any
 *      other. A batch of recovered claims (counted, or a dead daemon's) is
 *      synced and archived at once, before more is taken. A batch
 *      committed at once (a lone file, recovered claims) starts the
 *      writeback of each file as it writes it (sync_file_range): its
 *      syncfs then finds the data on disk and commits the journal once,
 *      not twice (ext4 converts the extents of data written during a
 *      commit in the next one);
 *   4. per file: rename cKEY.NAME -> D/ARCH (RENAME_NOREPLACE), then pKEY
 *      -> D/ARCH.result.html when there is one, then rKEY ->
 *      D/ARCH.result.json (RENAME_NOREPLACE each): the result comes last,
 *      its arrival means the file is done; remove state/tries-KEY if the
 *      claim was recovered. Then index.html is rewritten once for the batch
 *      (page_index.h: a view, not synced: a crash may lose its last lines);
 *   5. no sync: the renames become durable with the next batch's sync
 *      (step 3), the file system's own journal commit (ext4: within 5 s),
 *      or the syncfs() of spool_close() when the daemon stops. A lone file
 *      thus costs one journal commit, not two.
 *
 *   Crash before 3 completes: work/ holds cKEY.NAME (the dropper's inode or
 *   already the copy), maybe kKEY.NAME (a copy not yet in place) and maybe
 *   a partial or complete rKEY and pKEY. Recovery removes kKEY, rKEY and
 *   pKEY of a present cKEY and judges cKEY again: same claim name, so the
 *   same delivery ids (existing deliveries are kept, not duplicated) and its
 *   own ledger line (same KEY) is not a duplicate of itself. (kKEY without
 *   cKEY cannot happen; if found, it is put back as cKEY and judged. pKEY
 *   alone cannot either; if found, it is removed.)
 *   Crash in 4, or a power cut before the renames are durable: a
 *   journalling file system makes renames durable in order, so per file
 *   either nothing moved (as above: judged again; the archive names are
 *   still free), or the input moved but not its result (work/ holds rKEY,
 *   and pKEY when the page did not move either: recovery reads D/ARCH from
 *   rKEY's archived_as (archived_as_bytes for a name that is not UTF-8:
 *   spool_name.h) and finishes the renames, page then result, no
 *   judging: the deliveries are durable since 3), or all moved (done).
 *   A kill -9 loses nothing of 4 (the page cache outlives the process); a
 *   power cut may undo renames not yet committed, and recovery then sees
 *   the "nothing moved" case: the file is judged again, same verdict and
 *   same delivery ids (a delivery already posted may be posted once more,
 *   with its same webhook-id), and the recovery is counted like any other.
 *   If a rename in 4 finds its name taken (another daemon used it
 *   meanwhile): for the input, rKEY and pKEY are removed and the file
 *   judged again at once; for the page or the result, the page (if moved)
 *   and the input are first moved back to pKEY and cKEY.NAME. Such a retry
 *   is not counted as a recovery.
 *
 * Poison pills: a claim taken back by recovery that may have crashed its
 * daemon (all but those its dead owner's lock says were recorded, step 3,
 * and those requeued) is a suspect: it is judged alone, in a batch of its
 * own, and just before, state/tries-KEY is raised by one (written in
 * place, then a syncfs: spool_count_recovery()). So a report that kills
 * the daemon each time it is judged is counted each time, and the files
 * taken back with it are not (they are judged and archived, each alone,
 * their counts removed with them; suspects never counted come first). At
 * the third recovery the file is not read but judged invalid,
 * input.resources, and archived as in 1-5. A claim
 * whose judging runs out of memory, or whose result or page cannot be
 * made for lack of memory (a page too large to render), or whose
 * deliveries cannot be queued for lack of memory, stays in work/ (no
 * result or page left there) and is not taken again by this daemon before
 * DEFER_MS: at most one attempt per restart or per DEFER_MS, each counted
 * as a recovery, so that it ends input.resources at the third. When the
 * copy, result, page or deliveries cannot be written, or the claim cannot
 * be archived, for another reason (no disk space, an I/O error: not the
 * file's fault), the claim stays in work/ uncounted (sp->requeued: not a
 * suspect at its next listing) and is taken again at a later look (a
 * rescan): a full disk delays files, it never makes them invalid. For
 * lack of room (spool_write_failed()) the rest of the batch is left
 * untried and nothing is taken until the next look. Its ledger line is
 * written once (ledger_add skips a line it holds already: same id, claim
 * and archive name). The page of that last attempt, if it cannot be
 * written either for lack of memory or an I/O error, is left out: the
 * file is archived without one (logged); for lack of room it waits.
 *
 * So every file ends in exactly one of accepted/ or rejected/, with exactly
 * one result beside it, and, with [html] enabled, exactly one page, but
 * for two cases: a file whose page could not be written at its last try
 * (above), and a result left over from a run with [html] disabled that is
 * archived after pages were turned on (it never had a page; it is archived
 * without one). A file is never judged by two live daemons.
 */
#ifndef EXPENSED_SPOOL_INT_H
#define EXPENSED_SPOOL_INT_H

#include <stddef.h>

#include <sys/types.h>

#include "../common/strbuf.h"
#include "../common/strmap.h"
#include "../rules/engine.h"
#include "page_index.h"
#include "spool.h"
#include "worker.h"

/* The third recovery of a claim judges it input.resources. */
#define SPOOL_MAX_TRIES 3

/* A claim another program holds a lease on is left in work/ for the next
 * look (a rescan), and judged input.file at its third try. */
#define SPOOL_LEASE_TRIES 3

/* The owner lock of a dead daemon, taken over by this one while it
 * recovers that daemon's claims. */
struct adopted {
	char token[SPOOL_TOKEN_LEN + 1];
	int fd; /* holds the lock */
	/* its claims before this SEQ were recorded when it stopped (its
	 * mark, SPOOL_RECORDED): "" none */
	char recorded[9];
};

/* Records (step 2) in flight on the worker at once: deep enough that
 * neither thread waits for the other at each file. */
#define SPOOL_PIPELINE 16

/* When the daemon's thread finds the worker behind, it sleeps until the
 * worker is this many jobs further (a wakeup per job cost both threads
 * some 8 % of their CPU in a burst). */
#define SPOOL_WAKE_EVERY 8

/*
 * One claim being judged in step 1 (spool_judge.c): read by the daemon's
 * thread (spool_claim_read), its copy written by it (spool_claim_copy),
 * judged by a job on the worker (spool_claim_judge); the bytes read are
 * freed once judged (spool_claim_release). One per item of a batch
 * (spool_batch.c).
 */
struct claim {
	struct job job; /* first: the job is the claim */
	struct rec *r;
	const struct ruleset *rs;
	struct judge_opts opts;
	const char *rule; /* refused before the engine reads it: the rule */
	char msg[256];	  /* and the message */
	long long size;	  /* the file's size, -1 unknown */
	char *buf;	  /* the bytes read (len), until judged */
	size_t cap, len;
	int html;     /* [html] enabled: its page rendered once judged */
	int rc;	      /* the judging's: 0, or -1 out of memory */
	long long us; /* how long judging took */
};

/*
 * One claim being recorded in step 2 (spool_batch.c): a job on the worker
 * builds its result document and, with [html] enabled, renders its page
 * again if step 1 changed what it shows (page_stale()); the
 * daemon's thread writes both to work/. A spool has SPOOL_PIPELINE of
 * them, used in turn.
 */
struct record {
	struct job job; /* first: the job is the record */
	struct rec *r;
	struct spool *sp;
	int html;	/* [html] enabled */
	enum lang lang; /* of the page */
	size_t max;	/* max_file_size, for what the page quotes */
	char *text;	/* the result document and its newline (tlen) */
	size_t tlen;	/* ... or NULL: out of memory */
	/* with [html] enabled: 0, or why its page (r->page_text) was not
	 * written (ENOMEM: it could not be rendered) */
	int page_errno;
	/* the result document, text and page of the record before in this
	 * slot, once written: freed by the worker, which allocated them,
	 * when it builds the next (a thread freeing what another allocated
	 * waits for that thread's heap) */
	json_t *spent_doc;
	char *spent_text;
	char *spent_page;
};

/* The names reserved by one batch ("D/NAME" -> 1). */
struct reserved {
	struct strmap names;
};

/*
 * A batch recorded whose group commit (step 3's syncfs) runs on the
 * syncer thread while the next batch is judged; steps 3 to 5 are finished
 * by spool_flush() or by the next batch, before it queues any delivery
 * (spool_batch.c).
 */
struct pending {
	struct job job; /* first: the syncfs is the job */
	struct spool *sp;
	struct spool_ctx *ctx;
	struct rec *recs;
	struct spool_item *items; /* the batch's own copy (recs point here) */
	size_t n;
	int rc, err; /* the syncfs's: 0, or -1 and errno */
};

struct spool {
	int dirfd;			 /* the spool directory (syncfs) */
	int workfd;			 /* work/ */
	int accfd;			 /* accepted/ */
	int rejfd;			 /* rejected/ */
	int statefd;			 /* state/ */
	char token[SPOOL_TOKEN_LEN + 1]; /* this daemon's owner token */
	int lockfd;			 /* holds state/owner-TOKEN.lock */
	unsigned seq;		 /* the last claim's number (spool_seq_next) */
	struct adopted *adopted; /* dead owners' locks we hold */
	size_t nadopted;
	int unsynced; /* renames of step 5 not synced yet (spool_close) */
	int retry;    /* spool_retry_wanted() will say 1 */
	/* the batch's computing thread (NULL: none, jobs run inline) */
	struct worker *worker;
	/* the group commit's thread (NULL: none, syncs run inline), and the
	 * batch whose commit it runs */
	struct worker *syncer;
	struct pending *pending;
	struct record records[SPOOL_PIPELINE]; /* step 2's pipeline */
	/* the worker's own (its jobs run one at a time): the bytes of a
	 * file whose page is rendered again, read back from its copy */
	char *quote;
	size_t quote_cap;
	/* next archive suffix per "D/NAME" (struct suffix, spool_archive.c) */
	struct strmap suffixes;
	/* KEY -> long long *: claims not to recover before that time (ms,
	 * monotonic): judging them ran out of memory */
	struct strmap deferred;
	/* KEY -> (void *)1: claims to judge again without counting a
	 * recovery (their archive name was taken meanwhile) */
	struct strmap requeued;
	/* KEY -> (void *)(uintptr_t)N: claims whose open found a lease held
	 * N times (spool_judge.c) */
	struct strmap leased;
	/* a claim waits for the next look (leased): spool_look_wanted() */
	int look;
	struct page_index *index; /* index.html, opened at its first use */
	/* the read group (the group of accepted/, read at each batch): the
	 * group of the copies, results and pages, or -1 to leave them the
	 * daemon's */
	gid_t read_gid;
	gid_t dirs_gid;	  /* [spool] read_group last given to the directories */
	gid_t warned_gid; /* the read group spool_warn_group() warned of */
	int mode_exact;	  /* files are created 0640 (the umask), no fchmod */
	/* this batch is committed at once (spool_process()): each file
	 * written in work/ starts its writeback (spool_write_work()) */
	int write_now;
	/* no room on the spool's file system, said by spool_write_failed(): the
	 * rest of the batch is left untried, counted in left_full, and no
	 * file is taken until the next look (spool_room_again()) */
	int nospace;
	size_t left_full;
	int was_full; /* until a result is written again (then logged) */
};

/* One item of a batch being processed (spool_batch.c, spool_archive.c). */
struct rec {
	struct spool_item *it;
	int ok;		    /* still going */
	struct judgement j; /* judged, or read back from a left-over result */
	/* the result document: built from j once (freed once written and
	 * queued), or loaded */
	json_t *doc;
	/* with [html] enabled, its page, rendered as soon as it is judged
	 * (spool_page_render(): page_rc 0, or why it could not be: ENOMEM,
	 * or an I/O error reading its copy back to render it again), for
	 * page_findings findings (step 1 may add report.duplicate) */
	struct strbuf page_text;
	int page_rc;
	size_t page_findings;
	int page; /* a page is in work/ (pname) */
	enum verdict verdict;
	char d;				   /* 'a' or 'r' */
	unsigned n;			   /* ARCH is candidate n of NAME */
	char arch[SPOOL_NAME_SIZE];	   /* the archive name ARCH */
	char rname[SPOOL_NAME_SIZE];	   /* work/ rKEY */
	char pname[SPOOL_NAME_SIZE];	   /* work/ pKEY */
	char archived_as[SPOOL_PATH_SIZE]; /* "accepted/ARCH" */
};

/*
 * Test hooks, built only into expensed-hooks (-DEXPENSED_TEST_HOOKS): with
 * EXPENSED_FAILPOINT set to copied, recorded, synced, half-archived,
 * page-archived or archived, the daemon dies like kill -9 (_exit, no
 * cleanup) at that point of its first batch of two or more files, so that
 * the end-to-end tests can check recovery from every window of the
 * protocol. With EXPENSED_PAGE_ENOMEM=N, the first N pages rendered fail
 * as if memory ran out (spool_page_enomem() says 1 for them). With
 * EXPENSED_DEFER_MS=N, a claim left in work/ is deferred N ms instead of
 * DEFER_MS (spool_batch.c). With EXPENSED_LAST_SEQ=HEX, the daemon's
 * claims are numbered from the one after HEX (ffffffff: the counter's
 * wrap at once).
 */
#ifdef EXPENSED_TEST_HOOKS
extern int spool_fail_half; /* the second file of a batch is archived */
void spool_fail_at(const char *stage, size_t batch);
int spool_page_enomem(void);
long long spool_defer_ms(void);
unsigned spool_last_seq(void);
void spool_die_judging(const char *name);
long spool_hold_pending(void);
/* EXPENSED_DIE_JUDGING=NAME: die (like kill -9) judging the file NAME, as
 * a report that crashes the daemon would */
#define SPOOL_DIE_JUDGING(name) spool_die_judging(name)
/* EXPENSED_HOLD_PENDING=MS: a batch whose group commit runs on the syncer
 * stays in work/ while the next batch is taken: the syncer waits MS before
 * its syncfs, and an idle daemon does not wait for it (spool_flush_idle) */
#define SPOOL_HOLD_PENDING() spool_hold_pending()
#define SPOOL_PAGE_ENOMEM() spool_page_enomem()
#define SPOOL_DEFER_MS() spool_defer_ms()
#define SPOOL_LAST_SEQ() spool_last_seq()
#define SPOOL_FAIL_AT(stage, batch) spool_fail_at(stage, batch)
#define SPOOL_FAIL_HALF_ARM() (spool_fail_half = 1)
#define SPOOL_FAIL_HALF()                                                      \
	do {                                                                   \
		if (spool_fail_half)                                           \
			spool_fail_at("half-archived", 2);                     \
	} while (0)
/* the second file's page is archived, not its result */
#define SPOOL_FAIL_PAGE()                                                      \
	do {                                                                   \
		if (spool_fail_half)                                           \
			spool_fail_at("page-archived", 2);                     \
	} while (0)
#else
#define SPOOL_DIE_JUDGING(name) ((void)0)
#define SPOOL_HOLD_PENDING() 0
#define SPOOL_PAGE_ENOMEM() 0
#define SPOOL_DEFER_MS() DEFER_MS
#define SPOOL_LAST_SEQ() 0U
#define SPOOL_FAIL_AT(stage, batch) ((void)0)
#define SPOOL_FAIL_HALF_ARM() ((void)0)
#define SPOOL_FAIL_HALF() ((void)0)
#define SPOOL_FAIL_PAGE() ((void)0)
#endif

/* ---- spool.c ---- */

/* What the owner lock holds after the pid's line: "recorded SEQ\n", SEQ
 * the 8 hex digits of a claim of this daemon's token: every claim before
 * it has been judged and recorded (step 2 done), so that a crash while
 * later claims are judged is not counted as a recovery for them. Claims
 * are numbered in 32 bits and compared in serial number arithmetic
 * (spool_seq_before): past 4,294,967,295 claims in one run the numbers
 * start again at 1, and the order still holds. 00000000: no mark. */
#define SPOOL_RECORDED "recorded "

/* Say in the owner lock that every claim of this daemon before KEY (NULL:
 * none) is recorded; nothing for a KEY of another token. Not synced. */
void spool_mark_recorded(struct spool *sp, const char *key);

/* Whether fd, which holds a lock, is the file state/NAME still (not removed
 * or replaced since). */
int spool_holds(const struct spool *sp, int fd, const char *name);

/* Lock state/owner-TOKEN.lock anew when the file at that name is no longer
 * the one this daemon holds (removed or replaced by hand: then nobody
 * holds it, and another daemon would take this one for dead), with a
 * warning; its mark starts again from none. At each batch and each look
 * at work/. */
void spool_relock(struct spool *sp);

/* ---- spool_recover.c ---- */

/* Count the recovery of the suspect it (state/tries-KEY raised, synced)
 * just before it is judged again, alone: it->tries is then the count, this
 * one too. 0, or -1 (logged: not judged now, taken again later). */
int spool_count_recovery(struct spool *sp, struct spool_item *it);

/* ---- spool_batch.c ---- */

/*
 * On the worker: r's page into r->page_text, from its judgement, its
 * report root (NULL: none, an invalid file) and, for a file judged
 * invalid for its JSON or its encoding, the bytes judged (data, len: the
 * page quotes them around the error); archived_as when its archive name
 * is not its file's, else NULL. r->page_rc: 0, or ENOMEM when memory
 * ran out. Its buffer holds no more than the page.
 */
void spool_page_render(struct rec *r, const json_t *root, const char *data,
		       size_t len, const char *archived_as, enum lang lang);

/* ---- spool_judge.c ---- */

/*
 * Step 1 for one claim, on the daemon's thread: open work/CLAIM of r
 * safely and read it into c, or fill c->rule and c->msg with why it is
 * invalid unread. 0 (c is then ready for spool_claim_judge), 1 the claim
 * is gone (skip), 2 another program holds a lease on it (left in work/
 * for the next look), -1 no memory.
 */
int spool_claim_read(struct spool *sp, const struct spool_ctx *ctx,
		     struct rec *r, struct claim *c);

/* The job of a claim read: judge it into r->j, and with [html] enabled
 * render its page (spool_page_render()) from its report, parsed, and its
 * bytes, in memory; c->rc, c->us (judging alone). */
void spool_claim_judge(struct job *job);

/* After reading, before judging, on the daemon's thread: put the daemon's
 * copy of the bytes read (those judged) in place of the claim; nothing for
 * a claim refused unread. 0, or -1 when the copy could not be written
 * (logged). The bytes stay in c for the judging. */
int spool_claim_copy(struct spool *sp, struct claim *c);

/* Once judged: free the bytes read. */
void spool_claim_release(struct claim *c);

/* ---- spool_archive.c ---- */

/*
 * Reserve the archive name of r (its d and it->name set) among res and in
 * the suffix cache: r->arch, r->archived_as, r->rname, r->pname. Probes the
 * disk (fstatat) only the first time a name is seen (and after a collision). 0
 * or -1 (no memory).
 */
int spool_reserve_name(struct spool *sp, struct reserved *res, struct rec *r);

/* r, whose name was reserved, stays in work/ (its page or result could not
 * be written...): its name is free again for the next attempt (the suffix
 * of its name is probed again from it). */
void spool_unreserve(struct spool *sp, const struct rec *r);

/* Reserve the names of r, a result left over (r->d, r->arch), among res.
 * 0 or -1. */
int spool_reserve_fixed(struct reserved *res, const struct rec *r);

/*
 * Step 4 for one item: move the input (a claim) and its result in place.
 * 0 archived; -1 left in work/ (a taken name: judged again at once;
 * otherwise logged, for the next recovery).
 */
int spool_archive_item(struct spool *sp, struct rec *r);

/*
 * Give the file fd (a copy, a result or a page being written, created
 * 0640) mode 0640 (when the umask did not leave it so) and the read group,
 * without a word: 0 or -1 with errno; *eperm set to 1 when the group
 * could not be given (EPERM: the daemon is not a member), which is not an
 * error. Safe on the worker during a batch (it reads only what read_group()
 * set before the batch).
 */
int spool_give_mode(const struct spool *sp, int fd, int *eperm);

/* Write the file work/name (created 0640, O_NOFOLLOW) from len bytes of
 * data and give it its mode and read group (spool_give_mode: *eperm).
 * In a batch committed at once (sp->write_now) its writeback starts, and
 * when last (the batch's last file before its sync) is waited for.
 * 0 or -1 with errno. Safe on the worker, as spool_give_mode(). */
int spool_write_work(const struct spool *sp, const char *name, const char *data,
		     size_t len, int last, int *eperm);

/* Whether a write of a batch that failed with e is to be logged. With no
 * room on the file system, ENOSPC or EDQUOT, the spool is full until the next
 * look (sp->nospace): only the first such failure is logged, the rest of
 * the batch is left untried, and spool_process() says how many wait. */
int spool_write_failed(struct spool *sp, int e);

/* Warn, once per read group, that files cannot be given it (err). */
void spool_warn_group(struct spool *sp, int err);

/* Remove the temporary files of index flushes (.index.html-TOKEN,
 * state/pages-index.tmp-TOKEN) whose daemon has no owner lock file left
 * (spool_open: those a dead daemon's lock removal missed). */
void spool_sweep_index_tmp(struct spool *sp);

/* Forget the suffix cache, the deferred and requeued claims. */
void spool_forget(struct spool *sp);

/*
 * Remove state/owner-TOKEN.lock and close fd, which holds its lock: the
 * file goes first, so that whoever locks it next finds it gone (lock_owner
 * in spool_recover.c checks) rather than taking a dead file. The temporary
 * files of that daemon's index flushes (.index.html-TOKEN,
 * state/pages-index.tmp-TOKEN), left by a crash, go before it.
 */
void spool_unlock_owner(struct spool *sp, const char *token, int fd);

#endif
