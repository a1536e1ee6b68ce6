/*
 * page_index.h - index.html at the top of the spool (docs/operations.md
 * "Verdict pages"): the latest PAGE_INDEX_MAX verdicts, newest first, each
 * linking to its page, in the daemon's language.
 *
 * The entries live in memory and in state/pages-index (one line each,
 * appended after every batch, compacted to the last PAGE_INDEX_MAX when it
 * holds twice as many), so that a restart continues the list and a batch
 * costs the same whatever the spool's history. A line that cannot be read
 * (a torn write, garbage) is skipped.
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
 * first page_index_add), temporary files named after token (this daemon's
 * owner token). NULL when memory runs out.
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
 * -1 when state/pages-index cannot be read for lack of memory. */
int page_index_add(struct page_index *ix, const struct page_index_entry *e);

/*
 * Append the entries added since the last flush to state/pages-index and
 * replace index.html (mode 0640, group gid unless gid is (gid_t)-1), in
 * language lang. 0, or -1 (logged); the entries stay in memory either way.
 */
int page_index_flush(struct page_index *ix, enum lang lang, gid_t gid);

/* The page of index.html for the entries, newest first (in[0] oldest,
 * n of them), into out: for tests and the flush. 0 or -1 (no memory). */
int page_index_render(struct strbuf *out,
		      const struct page_index_entry *const *in, size_t n,
		      enum lang lang);

void page_index_close(struct page_index *ix);

#endif
