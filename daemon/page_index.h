/*
 * page_index.h - index.html at the top of the spool (docs/operations.md
 * "Verdict pages"): the latest PAGE_INDEX_MAX verdicts, newest first, each
 * linking to its page, in the daemon's language.
 *
 * state/pages-index is the list's truth, shared by every daemon of the
 * spool: one line per entry, appended after every batch, compacted to its
 * own last PAGE_INDEX_MAX lines (replaced by a rename) when it holds twice
 * as many. Each flush works under flock(LOCK_EX) on
 * state/pages-index.lock (a file never replaced): it reads what other
 * daemons appended since this one last looked (only their new lines; the
 * last LOAD_MAX bytes, at most the last PAGE_INDEX_MAX lines kept, after a
 * compaction by another or at the first flush), appends this batch's
 * lines, compacts if needed, and writes index.html, so that every daemon
 * writes the same list and no compaction drops another's lines. A daemon
 * alone reads nothing back (the file is as it left it: same inode and
 * size; the file last seen is held open, so that no other takes its inode
 * number once it is replaced). The last PAGE_INDEX_MAX entries are kept in
 * memory. A line that cannot be read (a torn write, garbage) is skipped, and
 * the file rewritten at the next flush.
 *
 *   struct page_index *ix = page_index_open(spool_fd, state_fd, token);
 *   page_index_add(ix, &entry); ...
 *   page_index_flush(ix, LANG_FR, gid);  (once per batch)
 *   page_index_close(ix);
 *
 * Durability: none of its own. index.html is a convenience view: it is
 * replaced by a rename (never seen half-written) and reaches the disk with
 * the next batch's sync; a crash may lose the last batch's entries (of
 * the list, never a page or a result).
 */
#ifndef EXPENSED_PAGE_INDEX_H
#define EXPENSED_PAGE_INDEX_H

#include <sys/types.h>
#include <time.h>

#include "../common/i18n.h"
#include "../common/strbuf.h"
#include "../rules/engine.h"
#include "spool_name.h"

/* Verdicts listed by index.html. */
#define PAGE_INDEX_MAX 200

/* Longest file name and report id shown (bytes, cut on a UTF-8
 * boundary). */
#define PAGE_INDEX_TEXT 256

struct page_index_entry {
	time_t checked_at;
	enum verdict verdict;
	int errors, warnings;
	char file[PAGE_INDEX_TEXT];	 /* the dropped name */
	char report_id[PAGE_INDEX_TEXT]; /* "" when none */
	/* "accepted/ARCH": the page is ARCH.result.html beside it */
	char archived_as[SPOOL_PATH_SIZE];
};

struct page_index;

/*
 * The index of the spool spool_fd, its entries in state_fd (read at the
 * first page_index_flush), temporary files named after token (this
 * daemon's owner token: .index.html-TOKEN, state/pages-index.tmp-TOKEN,
 * which spool_recover.c removes when a crash left them). NULL when memory
 * runs out.
 */
struct page_index *page_index_open(int spool_fd, int state_fd,
				   const char *token);

/*
 * Fill e from a judgement archived as archived_as ("accepted/ARCH"):
 * strings cut to fit. file: the dropped name (NULL: j->file).
 */
void page_index_entry_set(struct page_index_entry *e, const struct judgement *j,
			  const char *file, const char *archived_as);

/* Add e, the newest entry (kept in memory until page_index_flush). 0, or
 * -1 when memory runs out. */
int page_index_add(struct page_index *ix, const struct page_index_entry *e);

/*
 * Under the lock of state/pages-index: take in the lines other daemons
 * wrote, append the entries added since the last flush, and replace
 * index.html (mode 0640, group gid unless gid is (gid_t)-1 or the daemon
 * may not give it), in language lang. 0, or -1 (logged: entries that could
 * not be written are lost from the list, a view).
 */
int page_index_flush(struct page_index *ix, enum lang lang, gid_t gid);

/* The page of index.html for the entries, newest first (in[0] oldest,
 * n of them), into out: for tests and the flush. 0 or -1 (no memory). */
int page_index_render(struct strbuf *out,
		      const struct page_index_entry *const *in, size_t n,
		      enum lang lang);

void page_index_close(struct page_index *ix);

#endif
