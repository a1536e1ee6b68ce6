/*
 * spool_batch.c - one batch of the spool (steps 1 to 5 of the protocol in
 * spool_int.h): judge each claim (spool_judge.c), decide verdicts and
 * archive names under the ledger lock, write the results and pages, make
 * everything durable with one group commit, archive, update index.html,
 * and log one verdict line per file.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/i18n.h"
#include "../common/fsutil.h"
#include "../common/jsonmem.h"
#include "../common/jsonstr.h"
#include "../common/io.h"
#include "../common/timefmt.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "page.h"
#include "spool_int.h"

/* the ledger's file in the spool, as log lines name it */
#define LEDGER_FILE SPOOL_DIR_STATE "/" SPOOL_LEDGER_NAME
#define LOG_FINDINGS_MAX 20	    /* error lines logged per file */
#define DEFER_MS (5 * 60 * 1000)    /* a claim out of memory waits this */
#define PAGE_START (16 * 1024)	    /* a page's first buffer (most fit) */
#define PAGE_BUF_KEEP (1024 * 1024) /* keep the quote buffer up to this */

/*
 * When pages are rendered, and why: on the worker, as soon as a claim is
 * judged (spool_claim_judge()), from its report, still parsed, and its
 * bytes, still in memory; the report is freed at once. The page is kept
 * until step 2 writes it. Only when step 1 changed what it shows (a
 * report.duplicate, known under the ledger lock; an archive name with a
 * suffix) is it rendered again in step 2 (page_stale(), rerender()), its
 * report parsed again from the copy: rare, where parsing every report
 * twice would cost as much as judging it. Kept until step 2 instead (as
 * before), the reports took some 7 % more of the worker's CPU in a burst
 * (each freed cold, among later allocations), and each some ten times its
 * JSON in memory.
 *
 * What a batch holds meanwhile: the bytes read until they are judged,
 * and the pages rendered until they are written, so steps 1 and 2 go part
 * by part, a part ending once the bytes read reach PAGE_KEEP_BYTES: a 16
 * MB report is never held beside many others, and the batch still makes
 * one group commit. The peak is then judging's own (one large report)
 * plus its page (bounded: page_int.h). The pages of two parts can be
 * alive at once: a part's records are built while the next part is read
 * and judged (struct stream). A page is counted by the bytes read of its
 * file, not its own: each holds its length only (5.5 kB for an empty
 * file, 11.1 kB for the seed report), so that a part of 256 tiny files
 * holds some 1.4 MB of pages, and one of usual reports about as much as
 * their parsed reports took before. The part is also how far the daemon's
 * thread reads ahead of the worker's judging: 128 kB (some 75 reports of
 * the usual size) keeps both busy (64 kB cost a sixth of a burst's rate),
 * while more leaves more heap behind that stays mapped after the burst
 * (RSS once idle, when reports were kept instead of pages: 16.0 MB with
 * 64 kB, 16.4 with 128 kB, 17.2 with 256 kB).
 */
#define PAGE_KEEP_BYTES (128 * 1024)

/* How far a part reads on while the batch before is still syncing
 * (part_full()): a whole batch of usual reports (256 of some 1.8 kB), so
 * that the daemon's thread claims, reads and copies all the while the
 * syncfs runs (some 25 ms for a batch with pages) and the worker judges
 * and renders meanwhile (their pages, some 2.8 MB, held until written):
 * bursts with pages 2.7 to 10.6 % faster than with 256 kB in paired rounds,
 * none without, though no bench_pages.py run shows it in the on / off
 * ratio. Larger reports end the part at 512 kB: a 16 MB one is
 * held beside at most that much of others. The heap a burst used is
 * given back once idle (run.c, TRIM_QUIET_MS; spool_trim()): RSS once
 * idle 15.5 to 15.8 MB in twenty bursts (bench/README.md, "Reading a whole
 * batch while the one before syncs"). */
#define PAGE_KEEP_SYNCING (4 * PAGE_KEEP_BYTES)

#ifdef EXPENSED_TEST_HOOKS
int spool_fail_half;

void spool_fail_at(const char *stage, size_t batch)
{
	const char *failpoint = getenv("EXPENSED_FAILPOINT");

	if (failpoint != NULL && batch >= 2 && strcmp(failpoint, stage) == 0)
		_exit(99);
}

int spool_page_enomem(void)
{
	static long left = -1;
	const char *n;

	if (left == -1) {
		n = getenv("EXPENSED_PAGE_ENOMEM");
		left = n != NULL ? strtol(n, NULL, 10) : 0;
	}
	if (left <= 0)
		return 0;
	left--;
	return 1;
}

void spool_die_judging(const char *name)
{
	const char *die = getenv("EXPENSED_DIE_JUDGING");

	if (die != NULL && strcmp(die, name) == 0)
		_exit(99);
}

long spool_hold_pending(void)
{
	const char *ms = getenv("EXPENSED_HOLD_PENDING");

	return ms != NULL ? strtol(ms, NULL, 10) : 0;
}

unsigned spool_last_seq(void)
{
	const char *hex = getenv("EXPENSED_LAST_SEQ");

	return hex != NULL ? (unsigned)strtoul(hex, NULL, 16) : 0;
}

long long spool_defer_ms(void)
{
	const char *ms = getenv("EXPENSED_DEFER_MS");

	return ms != NULL ? strtoll(ms, NULL, 10) : DEFER_MS;
}
#endif

/* ---- logging ---- */

/* The verdict line of a judged file (archived as archived, NULL unknown),
 * then one line per error finding, at most LOG_FINDINGS_MAX, then one line
 * with the count of the others. */
static void log_result(const struct judgement *j, const char *name,
		       const char *archived)
{
	char file[1024], rid[512], arch[1024];
	int prio = j->verdict == VERDICT_ACCEPTED ? LOG_INFO : LOG_WARNING;
	int logged = 0;

	log_escape(name, file, sizeof(file));
	log_msg(prio, "%s: %s (report %s, %d error%s, %d warning%s) -> %s",
		file, verdict_name(j->verdict),
		j->report_id ? log_escape(j->report_id, rid, sizeof(rid)) : "-",
		j->errors, j->errors == 1 ? "" : "s", j->warnings,
		j->warnings == 1 ? "" : "s",
		archived ? log_escape(archived, arch, sizeof(arch)) : "-");
	for (size_t i = 0; i < j->nfindings && logged < LOG_FINDINGS_MAX; i++) {
		const struct finding *f = &j->findings[i];
		char path[512], msg[1024], rule[256];
		if (f->severity != SEV_ERROR)
			continue;
		log_escape(f->path, path, sizeof(path));
		log_escape(f->message, msg, sizeof(msg));
		log_escape(f->rule, rule, sizeof(rule));
		log_msg(prio, "%s: %s%serror: %s [%s]", file, path,
			path[0] ? ": " : "", msg, rule);
		logged++;
	}
	/* errors counts every error finding, listed in the result or not */
	if (j->errors > logged)
		log_msg(prio, "%s: and %d more error%s (see the result)", file,
			j->errors - logged, j->errors - logged == 1 ? "" : "s");
}

/* ---- the batch ---- */

/* r stays in work/: judged again at the next look (a batch that failed)
 * without counting a recovery, or (judging ran out of memory; the copy,
 * the result or the page could not be written: defer) not before DEFER_MS,
 * counted as a recovery. */
static void leave(struct spool *sp, struct rec *r, int defer)
{
	long long *until;
	void *old = NULL;

	r->ok = 0;
	/* its page will not be written: it goes now (PAGE_KEEP_BYTES counts
	 * on it) */
	sb_release(&r->page_text);
	if (r->it->kind != ITEM_CLAIM)
		return;
	if (r->arch[0] != '\0')
		spool_unreserve(sp, r);
	if (!defer) {
		if (strmap_put(&sp->requeued, r->it->key, (void *)1, NULL) ==
		    -1)
			log_msg(LOG_ERR, "out of memory");
		return;
	}
	until = malloc(sizeof(*until));
	if (until == NULL)
		return;
	*until = clock_mono_ms() + SPOOL_DEFER_MS();
	if (strmap_put(&sp->deferred, r->it->key, until, &old) == -1)
		free(until);
	free(old);
}

/* r left untried: the spool's file system is full (spool_write_failed()),
 * so that one line says how many wait, not one a file. */
static void leave_full(struct spool *sp, struct rec *r)
{
	leave(sp, r, 0);
	sp->left_full++;
}

/* r left after a write failed with e: deferred for lack of memory (the
 * file may be the cause), else taken again at the next look. */
static void leave_for(struct spool *sp, struct rec *r, int e)
{
	if (sp->nospace)
		leave_full(sp, r);
	else
		leave(sp, r, e == ENOMEM);
}

/* report.duplicate on r when its id was accepted under another claim.
 * 0 or -1 (no memory, the ledger's line not read back: logged). */
static int check_duplicate(struct spool_ctx *ctx, struct rec *r, const char *id)
{
	const char *prev;
	char *msg = NULL;
	int rc = 0;

	if (r->j.verdict == VERDICT_INVALID || id == NULL)
		return 0;
	if (ledger_find(ctx->ledger, id, r->it->key, &prev) == -1) {
		log_msg(LOG_ERR, "cannot read the ledger " LEDGER_FILE ": %s",
			strerror(errno));
		return -1;
	}
	if (prev == NULL)
		return 0;
	/* in the language the file was judged in, as the engine's messages
	 * are (the result document, the page, the log line, the alerts) */
	if (asprintf(&msg,
		     i18n_tr(ctx->cfg->language,
			     "report %s was already accepted (as %s)"),
		     id, prev) == -1) {
		msg = NULL;
		rc = -1;
	} else if (judgement_add_finding(&r->j, "report.duplicate", SEV_ERROR,
					 "/id", msg) == -1) {
		rc = -1;
	}
	free(msg);
	return rc;
}

/* Step 1, under the ledger lock: verdicts (report.duplicate), archive
 * names reserved in res (the whole batch's, part after part), and ledger
 * lines. */
static int decide(struct spool *sp, struct spool_ctx *ctx, struct rec *recs,
		  size_t n, struct reserved *res)
{
	int rc = 0;

	if (ledger_lock(ctx->ledger) == -1) {
		log_msg(LOG_ERR, "cannot read the ledger " LEDGER_FILE ": %s",
			strerror(errno));
		return -1;
	}
	/* the results left over keep their names: reserved first */
	for (size_t i = 0; i < n; i++) {
		if (recs[i].ok && recs[i].it->kind == ITEM_RESULT &&
		    spool_reserve_fixed(res, &recs[i]) == -1)
			recs[i].ok = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		const char *id;
		char esc[1024];

		if (!r->ok || r->it->kind != ITEM_CLAIM)
			continue;
		id = r->j.report_id;
		if (check_duplicate(ctx, r, id) == -1) {
			leave(sp, r, 1);
			continue;
		}
		r->verdict = r->j.verdict;
		r->d = r->verdict == VERDICT_ACCEPTED ? 'a' : 'r';
		if (spool_reserve_name(sp, res, r) == -1) {
			log_msg(LOG_ERR, "no archive name for %s: %s",
				log_escape(r->it->work, esc, sizeof(esc)),
				strerror(errno));
			leave(sp, r, 1);
			continue;
		}
		if (r->verdict == VERDICT_ACCEPTED && id != NULL &&
		    ledger_add(ctx->ledger, id, r->it->key, r->archived_as) ==
			-1)
			leave(sp, r, 1);
	}
	if (ledger_unlock(ctx->ledger) == -1) {
		int e = errno;
		if (spool_write_failed(sp, e))
			log_msg(LOG_ERR,
				"cannot write the ledger " LEDGER_FILE ": %s",
				strerror(e));
		rc = -1;
	}
	return rc;
}

/* Where the result r->rname goes: its archived_as, or archived_as_bytes
 * when the name is not UTF-8 (archived_as lost its bytes: spool_name.h),
 * or the name of a legacy rKEY.D.ARCH. 0 or -1. */
static int result_place(struct rec *r, const struct spool_work_name *wn)
{
	const char *as =
	    json_string_value(json_object_get(r->doc, "archived_as"));
	const char *bytes =
	    json_string_value(json_object_get(r->doc, "archived_as_bytes"));
	char path[SPOOL_PATH_SIZE];

	if (bytes != NULL) {
		if (spool_name_parse_bytes(bytes, path, sizeof(path)) == -1)
			return -1;
		as = path;
	}
	if (as != NULL && spool_name_parse_archived_as(as, &r->d, r->arch) == 0)
		return spool_name_archived_as(r->d, r->arch, r->archived_as);
	if (wn->d == 0)
		return -1;
	r->d = wn->d;
	spool_name_copy(r->arch, wn->rest);
	return spool_name_archived_as(r->d, r->arch, r->archived_as);
}

/* An ITEM_RESULT: load it for where it goes and for the log (a result that
 * cannot be read for lack of memory logs as an invalid file with no
 * finding). */
static void prepare_result(struct spool *sp, struct rec *r)
{
	struct spool_work_name wn;
	json_error_t err;
	char esc[1024];
	int fd, rc;

	rc = spool_name_parse_work(r->it->work, &wn);
	assert(rc == 0 && wn.kind == 'r');
	(void)rc;
	spool_name_copy(r->rname, r->it->work);
	spool_name_page_work(r->it->key, r->pname);
	r->page = faccessat(sp->workfd, r->pname, F_OK, AT_EACCESS) == 0;
	fd = openat(sp->workfd, r->rname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		r->doc = json_loadfd(fd, 0, &err);
		close(fd);
	}
	if (result_place(r, &wn) == -1) {
		log_msg(LOG_ERR, "cannot tell where result %s goes",
			log_escape(r->rname, esc, sizeof(esc)));
		r->ok = 0;
		return;
	}
	(void)judgement_from_json(r->doc, &r->j);
	r->verdict = r->j.verdict;
}

/* Start an item of step 1, on the daemon's thread: a left-over result is
 * loaded; a claim is read into c and its copy put in place, its job ready
 * to judge it. c, or NULL when there is nothing to judge. */
static struct claim *start_item(struct spool *sp, const struct spool_ctx *ctx,
				struct rec *r, struct spool_item *it,
				struct claim *c)
{
	char esc[1024];
	int rc;

	r->it = it;
	r->ok = 1;
	if (it->kind == ITEM_RESULT) {
		prepare_result(sp, r);
		return NULL;
	}
	if (sp->nospace) { /* its copy could not be written either */
		leave_full(sp, r);
		return NULL;
	}
	rc = spool_claim_read(sp, ctx, r, c);
	if (rc == 0 && spool_claim_copy(sp, c) == -1)
		rc = -2;
	if (rc != 0)
		spool_claim_release(c);
	if (rc == 1) {
		r->ok = 0; /* gone */
		return NULL;
	}
	if (rc == 2) {
		/* not the file's fault: its holder gives the lease up once
		 * asked (our open asked), or the kernel takes it */
		log_msg(LOG_NOTICE,
			"%s: another program holds a lease on the file; taken "
			"again at the next look",
			log_escape(it->name, esc, sizeof(esc)));
		leave(sp, r, 0);
		return NULL;
	}
	if (rc == -1) {
		log_msg(LOG_ERR, "out of memory reading %s: tried again later",
			log_escape(it->work, esc, sizeof(esc)));
		leave(sp, r, 1);
		return NULL;
	}
	if (rc == -2) {
		/* no disk space, an I/O error (logged): not the file's
		 * fault, taken again at the next look */
		leave_for(sp, r, 0);
		return NULL;
	}
	c->job.fn = spool_claim_judge;
	return c;
}

/* Finish a claim started, judged (its job has run). */
static void finish_item(struct spool *sp, struct claim *c)
{
	struct rec *r = c->r;
	char esc[1024];

	assert(worker_done(&c->job));
	spool_claim_release(c);
	/* each file takes at most max_judge_time (20 s at most): a batch of
	 * slow files is progress, not a hang */
	notify_alive();
	if (c->rc == 0) {
		metrics_judge_time(c->us);
		return;
	}
	/* out of memory: deferred and counted (the file may be the cause) */
	log_msg(LOG_ERR, "out of memory judging %s: tried again later",
		log_escape(r->it->work, esc, sizeof(esc)));
	leave(sp, r, 1);
}

/* The mark for a batch whose first claim is key: key, or an earlier claim
 * of this daemon left in work/ for lack of memory (deferred: judging it,
 * or its result or page, ran out of memory; the file may be the cause, and
 * a crash must count it). Claims left for another reason (requeued: a
 * name taken, a full disk) were judged; they need no count. */
static const char *mark_for(const struct spool *sp, const char *key)
{
	struct strmap_iter iter = STRMAP_ITER_INIT;
	const char *k;
	void *val;

	while (strmap_next(&sp->deferred, &iter, &k, &val)) {
		if (spool_key_of(k, sp->token) &&
		    spool_seq_before(spool_key_seq(k), spool_key_seq(key)))
			key = k;
	}
	return key;
}

/* Whether the page of the invalid j quotes the file's bytes: its first
 * finding is input.json or input.encoding (page_invalid.c). */
static int quotes_input(const struct judgement *j)
{
	const char *rule = j->nfindings > 0 ? j->findings[0].rule : NULL;

	return rule != NULL && (strcmp(rule, "input.json") == 0 ||
				strcmp(rule, "input.encoding") == 0);
}

void spool_page_render(struct rec *r, const json_t *root, const char *data,
		       size_t len, const char *archived_as, enum lang lang)
{
	struct page_input in = {.j = &r->j,
				.report = root,
				.archived_as = archived_as,
				.lang = lang};

	if (data != NULL && r->j.verdict == VERDICT_INVALID &&
	    r->j.has_sha256 && quotes_input(&r->j)) {
		in.data = data;
		in.len = len;
	}
	sb_release(&r->page_text);
	r->page_findings = r->j.nfindings + r->j.findings_left_out;
	r->page_rc = 0;
	if (SPOOL_PAGE_ENOMEM() ||
	    sb_grow(&r->page_text, PAGE_START - 1) == -1 ||
	    page_render(&r->page_text, &in) == -1 || r->page_text.failed) {
		sb_release(&r->page_text);
		r->page_rc = ENOMEM;
		return;
	}
	/* held until written: no more than its length */
	char *fit = realloc(r->page_text.buf, r->page_text.len + 1);
	if (fit != NULL) {
		r->page_text.buf = fit;
		r->page_text.cap = r->page_text.len + 1;
	}
}

/* The archive name r's page shows: ARCH when it is not the file's name
 * (a suffix was added), else NULL. */
static const char *page_archived_as(const struct rec *r)
{
	return r->j.file == NULL || strcmp(r->arch, r->j.file) != 0 ? r->arch
								    : NULL;
}

/* Whether r's page, rendered when it was judged, no longer shows what
 * step 1 decided since (a report.duplicate added, an archive name not
 * its file's), or was never rendered. */
static int page_stale(const struct rec *r)
{
	if (r->page_rc != 0)
		return 0; /* no memory: said as such */
	return r->page_text.buf == NULL ||
	       r->j.nfindings + r->j.findings_left_out != r->page_findings ||
	       page_archived_as(r) != NULL;
}

/* On the worker: the bytes judged of r, read back from its copy into
 * sp->quote (*len). 0, or -1 with errno. */
static int reread(struct spool *sp, const struct record *rc, size_t *len)
{
	const struct rec *r = rc->r;
	int fd, n;

	fd = openat(sp->workfd, r->it->work, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read_fd(fd, rc->max, (size_t)r->j.size, &sp->quote, &sp->quote_cap,
		    len);
	close(fd);
	if (n == 0 && *len > rc->max) {
		errno = EFBIG; /* not the bytes judged: cannot happen */
		n = -1;
	}
	return n;
}

/* On the worker, in step 2: r's page rendered again (page_stale()), from
 * its copy read back (only what the page needs: a report, parsed again,
 * or the bytes an invalid file's page quotes). r->page_rc: an errno when
 * the copy cannot be read (an I/O error: not the file's fault, like a
 * page that cannot be written), ENOMEM when it cannot be parsed again (it
 * was parsed once: no memory). */
static void rerender(struct spool *sp, struct record *rc)
{
	struct rec *r = rc->r;
	int valid = r->j.verdict != VERDICT_INVALID;
	json_t *root = NULL;
	size_t len = 0;
	int rd = -1;

	if ((valid || quotes_input(&r->j)) && r->j.has_sha256 &&
	    (rd = reread(sp, rc, &len)) == -1 && valid) {
		sb_release(&r->page_text);
		r->page_rc = errno != 0 ? errno : EIO;
	} else if (valid && (root = judge_parse(sp->quote, len)) == NULL) {
		sb_release(&r->page_text);
		r->page_rc = ENOMEM;
	} else {
		spool_page_render(r, root, rd == 0 ? sp->quote : NULL, len,
				  page_archived_as(r), rc->lang);
	}
	json_decref(root);
	if (sp->quote_cap > PAGE_BUF_KEEP) {
		free(sp->quote);
		sp->quote = NULL;
		sp->quote_cap = 0;
	}
}

/* Free what the record before in the slot rc left (written already). */
static void release_spent(struct record *rc)
{
	json_decref(rc->spent_doc);
	rc->spent_doc = NULL;
	free(rc->spent_text);
	rc->spent_text = NULL;
	free(rc->spent_page);
	rc->spent_page = NULL;
}

/* The job of a record (on the worker): r's result document, archived_as
 * inside, as text with its newline (rc->text, NULL out of memory; the
 * document stays in r->doc, which the webhook bodies share), and with
 * [html] enabled its page, rendered when it was judged, rendered again
 * if it no longer shows what step 1 decided (rc->page_errno ENOMEM when
 * it could not be rendered); the daemon's thread writes both
 * (write_record()). */
static void build_record(struct job *job)
{
	struct record *rc = (struct record *)job;
	struct rec *r = rc->r;
	struct strbuf sb = STRBUF_INIT;
	char bytes[SPOOL_BYTES_SIZE];

	release_spent(rc);
	rc->text = NULL;
	rc->page_errno = 0;
	r->doc = judgement_to_json(&r->j);
	/* what json_dumps(JSON_INDENT(2)) writes, some times faster */
	if (r->doc != NULL &&
	    json_object_set_new(r->doc, "archived_as",
				json_string_lossy(r->archived_as)) == 0 &&
	    (!spool_name_bytes(r->archived_as, bytes) ||
	     json_object_set_new(r->doc, "archived_as_bytes",
				 json_string(bytes)) == 0) &&
	    sb_grow(&sb, 4096) == 0 && sb_add_json_indented(&sb, r->doc) == 0) {
		sb_addc(&sb, '\n');
		rc->text = sb_detach(&sb, &rc->tlen);
	}
	sb_release(&sb);
	if (rc->html && rc->text != NULL) {
		if (page_stale(r))
			rerender(rc->sp, rc);
		rc->page_errno = r->page_rc;
	}
}

/* Step 2's start for the claim r, on the daemon's thread: its record
 * built on w. */
static void submit_record(struct spool *sp, const struct spool_ctx *ctx,
			  struct worker *w, struct record *rc, struct rec *r)
{
	rc->r = r;
	rc->sp = sp;
	rc->html = ctx->cfg->html;
	rc->lang = ctx->cfg->language;
	rc->max = ctx->cfg->max_file_size ? ctx->cfg->max_file_size
					  : EXPENSED_DEFAULT_MAX_FILE_SIZE;
	rc->job.fn = build_record;
	worker_submit(w, &rc->job);
}

/* With [html] enabled, after r's page was (or was not) written, before
 * its result is: 0, or -1 when r was left in work/ for it (logged). */
static int page_written(struct spool *sp, struct record *rc)
{
	struct rec *r = rc->r;
	char esc[1024];
	int e = rc->page_errno;

	if (e == 0) {
		r->page = 1;
		return 0;
	}
	if (spool_write_failed(sp, e))
		log_msg(LOG_ERR, "cannot write page %s: %s",
			log_escape(r->pname, esc, sizeof(esc)), strerror(e));
	unlinkat(sp->workfd, r->pname, 0);
	if (sp->nospace) {
		leave_full(sp, r);
		return -1;
	}
	/* never a file without its page, nor a wrong verdict; but the last
	 * try (already judged input.resources) goes without its page rather
	 * than never */
	if (r->it->tries >= SPOOL_MAX_TRIES)
		return 0;
	leave(sp, r, e == ENOMEM);
	return -1;
}

/* Step 2's end for one claim, built: with [html] enabled write its page
 * in work/pKEY, then its result in work/rKEY; queue its deliveries. A
 * result or page that cannot be written for lack of memory is deferred and
 * counted like judging out of memory (a claim that always fails ends
 * input.resources: spool_int.h); for lack of disk space or an I/O error it is
 * not the file's fault: taken again at the next look, uncounted, so that a full
 * disk never makes a report invalid. */
static void write_record(struct spool *sp, struct spool_ctx *ctx,
			 struct record *rc)
{
	struct rec *r = rc->r;
	char esc[1024];
	int e, eperm = 0;

	if (sp->nospace) { /* none of its files could be written either */
		leave_full(sp, r);
		goto spent;
	}
	if (rc->html && rc->text != NULL && rc->page_errno == 0 &&
	    spool_write_work(sp, r->pname, r->page_text.buf, r->page_text.len,
			     0, &eperm) == -1)
		rc->page_errno = errno;
	if (rc->html && rc->text != NULL && page_written(sp, rc) == -1) {
		; /* left in work/, its result not written */
	} else if (rc->text == NULL ||
		   spool_write_work(sp, r->rname, rc->text, rc->tlen, 1,
				    &eperm) == -1) {
		e = rc->text == NULL ? ENOMEM : errno;
		if (spool_write_failed(sp, e))
			log_msg(LOG_ERR, "cannot write result %s: %s",
				log_escape(r->rname, esc, sizeof(esc)),
				strerror(e));
		unlinkat(sp->workfd, r->rname, 0);
		if (r->page)
			unlinkat(sp->workfd, r->pname, 0);
		leave_for(sp, r, e);
	} else if (outbox_queue(ctx->ob, r->it->work, &r->j, r->doc) == -1) {
		e = errno;
		if (spool_write_failed(sp, e))
			log_msg(LOG_ERR, "cannot queue deliveries for %s: %s",
				log_escape(r->it->work, esc, sizeof(esc)),
				strerror(e));
		if (r->page)
			unlinkat(sp->workfd, r->pname, 0);
		unlinkat(sp->workfd, r->rname, 0);
		leave_for(sp, r, e);
	} else if (sp->was_full) {
		log_msg(LOG_NOTICE, "the spool's file system has room again: "
				    "files are judged and archived");
		sp->was_full = 0;
	}
spent:
	if (eperm)
		spool_warn_group(sp, EPERM); /* said once */
	/* written and queued: not kept for the rest of the batch (256
	 * documents alive at once made the heap of a burst grow by megabytes
	 * that stay mapped); freed when the slot is used again */
	rc->spent_doc = r->doc;
	r->doc = NULL;
	rc->spent_text = rc->text;
	rc->text = NULL;
	rc->spent_page = r->page_text.buf; /* no longer r's */
	r->page_text = (struct strbuf)STRBUF_INIT;
}

/*
 * Step 2: write the results and pages, and queue the deliveries, for the
 * parts of a batch decided so far (recs[0..limit)). A pipeline: up to
 * SPOOL_PIPELINE records are built on the worker ahead of the one the
 * daemon's thread writes, and a part's records are built while the
 * daemon's thread reads and copies the next part (judge_all() pumps them
 * between two claims): each thread works while the other does. Without a
 * worker (a batch of one) each record is built inline.
 */
struct stream {
	struct rec *recs; /* the batch's */
	size_t limit;	  /* recs decided so far */
	size_t next;	  /* the next rec to submit, if a claim still going */
	size_t ahead;	  /* records submitted */
	size_t done;	  /* records written */
	struct worker *w;
};

/* Submit what the ring has room for, and write records in order: */
enum pump {
	PUMP_BUILT, /* those the worker has built already */
	PUMP_ALL,   /* every one submitted, sleeping until the worker is
		     * some records ahead, not once per record */
};

static void pump(struct spool *sp, struct spool_ctx *ctx, struct stream *s,
		 enum pump how)
{
	struct record *ring = sp->records;

	for (;;) {
		struct record *rc;

		while (s->next < s->limit &&
		       s->ahead - s->done < SPOOL_PIPELINE) {
			struct rec *r = &s->recs[s->next++];
			if (!r->ok || r->it->kind != ITEM_CLAIM)
				continue;
			submit_record(sp, ctx, s->w,
				      &ring[s->ahead % SPOOL_PIPELINE], r);
			s->ahead++;
		}
		if (s->done == s->ahead)
			return;
		rc = &ring[s->done % SPOOL_PIPELINE];
		if (!worker_done(&rc->job)) {
			size_t upto = s->done + SPOOL_WAKE_EVERY;
			if (how != PUMP_ALL)
				return;
			if (upto > s->ahead)
				upto = s->ahead;
			worker_wait(s->w,
				    &ring[(upto - 1) % SPOOL_PIPELINE].job);
		}
		write_record(sp, ctx, rc);
		s->done++;
	}
}

/* The batch's records all written: free what the last ones left. */
static void pump_end(struct spool *sp, struct spool_ctx *ctx, struct stream *s)
{
	pump(sp, ctx, s, PUMP_ALL);
	for (size_t i = 0; i < SPOOL_PIPELINE; i++)
		release_spent(&sp->records[i]);
}

/* Whether a part that read bytes ends. While the syncfs of the batch
 * before runs, the part reads on, up to PAGE_KEEP_SYNCING, rather than
 * wait for that syncfs at its end (spool_flush()), where the daemon's
 * thread used to spend up to a tenth of a burst (bench/README.md). */
static int part_full(const struct spool *sp, size_t bytes)
{
	if (bytes < PAGE_KEEP_BYTES)
		return 0;
	return bytes >= PAGE_KEEP_SYNCING || sp->pending == NULL ||
	       worker_done(&sp->pending->job);
}

/*
 * Step 1 before decide(): judge each claim (its copy put in place first),
 * load each leftover result; claims[i] is item i's. The count of items
 * taken: the part ends once the bytes read reach PAGE_KEEP_BYTES (they
 * bound the bytes held until judged, and the pages until written),
 * or PAGE_KEEP_SYNCING while the batch before is still syncing (part_full()).
 *
 * The daemon's thread reads and copies every claim of the part, handing
 * each to the worker to judge as soon as it is read. When the batch before
 * waits for its group commit (pending: its syncfs ran while this batch was
 * claimed and read), the owner lock first says that every claim before
 * this batch's is recorded (spool_mark_recorded(): a crash while this
 * batch is judged does not count a recovery for them), and the daemon's
 * thread archives the batch before while the worker judges: before this
 * batch decides its names (they must be free on disk) and queues any
 * delivery (outbox_synced() then schedules every delivery queued so far).
 * Between two claims it writes the records of the part before that the
 * worker has built (s: pump()), and it writes them all before it waits
 * for this part's judging. A batch of one runs inline (no thread to wake:
 * a lone file's latency).
 */
static size_t judge_all(struct spool *sp, struct spool_ctx *ctx,
			struct stream *s, struct rec *recs,
			struct spool_item *items, size_t n,
			struct claim *claims)
{
	struct worker *w = s->w;
	size_t m = 0, bytes = 0;

	if (sp->pending != NULL)
		spool_mark_recorded(sp, mark_for(sp, items[0].key));
	while (m < n && (m == 0 || !part_full(sp, bytes))) {
		struct claim *c =
		    start_item(sp, ctx, &recs[m], &items[m], &claims[m]);
		if (c == NULL) {
			claims[m].r = NULL;
		} else {
			bytes += c->len;
			worker_submit(w, &c->job);
		}
		m++;
		/* the parts before's: none in a batch's first part, so no
		 * delivery is queued before the batch before is flushed */
		pump(sp, ctx, s, PUMP_BUILT);
	}
	spool_flush(sp);
	pump(sp, ctx, s, PUMP_ALL);
	/* nothing else to do meanwhile: one wakeup for the part, when its
	 * last claim is judged (jobs run in order: the others are too) */
	for (size_t i = m; i-- > 0;) {
		if (claims[i].r != NULL) {
			worker_wait(w, &claims[i].job);
			break;
		}
	}
	for (size_t i = 0; i < m; i++) {
		if (claims[i].r != NULL)
			finish_item(sp, &claims[i]);
	}
	return m;
}

/* Step 4: archive every item still going. Whether any file moved. */
static int archive_all(struct spool *sp, struct rec *recs, size_t n)
{
	int moved = 0;

	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		if (!r->ok)
			continue;
		if (i == 1)
			SPOOL_FAIL_HALF_ARM();
		if (spool_archive_item(sp, r) == -1)
			r->ok = 0;
		else
			moved = 1;
	}
	return moved;
}

/* Whether the archived r has its page in place. */
static int has_page(const struct spool *sp, const struct rec *r)
{
	char page[SPOOL_NAME_SIZE];

	if (r->it->kind == ITEM_CLAIM)
		return r->page;
	/* a left-over result: its page moved with it, or earlier */
	return spool_name_page(r->arch, page) == 0 &&
	       faccessat(r->d == 'a' ? sp->accfd : sp->rejfd, page, F_OK,
			 AT_EACCESS) == 0;
}

/* After step 4, with [html] enabled: index.html lists the files archived
 * with their pages (a view, not synced: spool_int.h); rewritten before
 * their verdicts are logged, so that whoever sees a verdict line finds
 * its file in the index. */
static void index_all(struct spool *sp, const struct spool_ctx *ctx,
		      const struct rec *recs, size_t n)
{
	struct page_index_entry e;
	int added = 0;

	if (sp->index == NULL)
		sp->index = page_index_open(sp->dirfd, sp->statefd, sp->token);
	if (sp->index == NULL) {
		log_msg(LOG_ERR, "cannot update %s: out of memory",
			SPOOL_INDEX_NAME);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct rec *r = &recs[i];
		if (!r->ok || !has_page(sp, r))
			continue;
		/* j.file: the dropped name, in UTF-8 (U+FFFD for what is
		 * not) */
		page_index_entry_set(&e, &r->j, NULL, r->archived_as);
		if (page_index_add(sp->index, &e) == -1) {
			log_msg(LOG_ERR, "cannot update %s: out of memory",
				SPOOL_INDEX_NAME);
			break;
		}
		added = 1;
	}
	if (added)
		page_index_flush(sp->index, ctx->cfg->language, sp->read_gid);
}

/* After step 5: the verdict lines and counters of the archived files. */
static void report_all(struct spool_ctx *ctx, struct rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		const char *file;
		if (!r->ok)
			continue;
		file = r->it->kind == ITEM_CLAIM ? r->it->name : r->j.file;
		log_result(&r->j, file ? file : r->arch, r->archived_as);
		metrics_judged(&r->j, r->verdict);
		if (r->verdict == VERDICT_ACCEPTED)
			ctx->accepted++;
		else if (r->verdict == VERDICT_REJECTED)
			ctx->rejected++;
		else
			ctx->invalid++;
	}
}

/* The whole batch failed: every claim still going is judged again at the
 * next look, without counting a recovery. */
static void leave_all(struct spool *sp, struct rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (recs[i].ok)
			leave_for(sp, &recs[i], 0);
	}
}

/* Give the directory fd ("accepted", "rejected") group gid and its setgid
 * bit, when it does not have that group (logged when it cannot and say).
 * The mode is changed only when the setgid bit is missing: the unit's
 * RestrictSUIDSGID= refuses any chmod with that bit (EPERM), even one
 * that keeps it, and a chown keeps it on a directory. */
static void give_dir(int fd, const char *name, gid_t gid, int say)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		if (say)
			log_msg(LOG_ERR,
				"cannot give %s/ the read group %lu: %s", name,
				(unsigned long)gid, strerror(errno));
		return;
	}
	if (st.st_gid == gid)
		return;
	if ((fchown(fd, (uid_t)-1, gid) == -1 ||
	     (!(st.st_mode & S_ISGID) &&
	      fchmod(fd, (st.st_mode & 0777) | S_ISGID) == -1)) &&
	    say)
		log_msg(LOG_ERR, "cannot give %s/ the read group %lu: %s", name,
			(unsigned long)gid, strerror(errno));
}

/* The read group, at start and at each batch: [spool] read_group, else
 * the group of accepted/ (SPEC: the drop group); sp->read_gid is -1 when
 * it is the daemon's own. read_group is given to accepted/ and rejected/
 * whenever they do not have it, not only when it changes: systemd-tmpfiles
 * --create (at boot, in a package upgrade's postinst) gives them the group
 * of expensed.tmpfiles back. A failure is logged once per group. */
static void read_group(struct spool *sp, const struct config *cfg)
{
	struct stat st;
	gid_t gid = (gid_t)-1;

	if (cfg->read_gid != (gid_t)-1) {
		int say = sp->dirs_gid != cfg->read_gid;

		gid = cfg->read_gid;
		give_dir(sp->accfd, SPOOL_DIR_ACCEPTED, gid, say);
		give_dir(sp->rejfd, SPOOL_DIR_REJECTED, gid, say);
		sp->dirs_gid = gid;
	} else if (fstat(sp->accfd, &st) == 0) {
		gid = st.st_gid;
	}
	sp->read_gid = gid == getegid() ? (gid_t)-1 : gid;
}

void spool_give_read_group(struct spool *sp, const struct config *cfg)
{
	read_group(sp, cfg);
}

/* If the batch left files for lack of room (spool_write_failed()): one
 * line for them all. */
static void say_full(struct spool *sp, const struct spool_ctx *ctx)
{
	long long ms = ctx->cfg->rescan_ms > 0 ? ctx->cfg->rescan_ms
					       : spool_full_retry_ms();

	if (sp->left_full == 0)
		return;
	log_msg(
	    LOG_ERR,
	    "no room on the spool's file system: %zu file(s) wait in "
	    "work/, tried again within %lld s; the inbox is not taken until "
	    "then",
	    sp->left_full, (ms + 999) / 1000);
	sp->left_full = 0;
}

/*
 * Step 3 after the batch's syncfs (synced: its return, err: its errno),
 * and steps 4 and 5: outbox_synced() (outbox/ is in the spool: the outbox
 * syncs apart only if it is on another file system), archive, index.html,
 * the verdict lines. 0, or -1 when the whole batch failed (logged).
 */
static int after_sync(struct spool *sp, struct spool_ctx *ctx, struct rec *recs,
		      size_t n, int synced, int err)
{
	int moved;

	if (synced == -1) {
		log_msg(LOG_ERR, "cannot sync the spool: %s", strerror(err));
		leave_all(sp, recs, n);
		return -1;
	}
	if (outbox_synced(ctx->ob) == -1) {
		log_msg(LOG_ERR, "cannot sync the outbox: %s", strerror(errno));
		leave_all(sp, recs, n);
		return -1;
	}
	SPOOL_FAIL_AT("synced", n);
	moved = archive_all(sp, recs, n);
	say_full(sp, ctx);
	SPOOL_FAIL_AT("archived", n);
	/* step 5: no sync of the renames here (spool_int.h says why) */
	if (moved) {
		sp->unsynced = 1;
		if (ctx->cfg->html)
			index_all(sp, ctx, recs, n);
	}
	report_all(ctx, recs, n);
	return 0;
}

/* Free what the n records of a batch hold, and recs. */
static void release_all(struct rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sb_release(&recs[i].page_text);
		judgement_release(&recs[i].j);
		json_decref(recs[i].doc);
	}
	free(recs);
}

/* The syncer's job: the group commit of a pending batch. */
static void sync_job(struct job *job)
{
	struct pending *p = (struct pending *)job;

	if (SPOOL_HOLD_PENDING() > 0)
		usleep((useconds_t)SPOOL_HOLD_PENDING() * 1000);
	p->rc = syncfs(p->sp->dirfd);
	p->err = p->rc == -1 ? errno : 0;
}

void spool_flush(struct spool *sp)
{
	struct pending *p = sp->pending;

	if (p == NULL)
		return;
	sp->pending = NULL;
	worker_wait(sp->syncer, &p->job);
	(void)after_sync(sp, p->ctx, p->recs, p->n, p->rc, p->err);
	release_all(p->recs, p->n);
	free(p->items);
	free(p);
}

void spool_flush_idle(struct spool *sp)
{
	if (SPOOL_HOLD_PENDING() == 0)
		spool_flush(sp);
}

/* Leave the batch of n records, recorded, for its group commit on the
 * syncer thread (its items copied). 0, or -1 (no memory: nothing taken,
 * the caller commits it inline). The next batch archives it before it
 * decides names (judge_all), so its reserved names need not be kept. */
static int defer_commit(struct spool *sp, struct spool_ctx *ctx,
			struct rec *recs, struct spool_item *items, size_t n)
{
	struct pending *p = calloc(1, sizeof(*p));
	struct spool_item *own = malloc(n * sizeof(*own));

	if (p == NULL || own == NULL) {
		free(p);
		free(own);
		return -1;
	}
	memcpy(own, items, n * sizeof(*own));
	for (size_t i = 0; i < n; i++)
		recs[i].it = &own[i];
	p->sp = sp;
	p->ctx = ctx;
	p->recs = recs;
	p->items = own;
	p->n = n;
	p->job.fn = sync_job;
	sp->pending = p;
	worker_submit(sp->syncer, &p->job);
	return 0;
}

/* Whether items holds what recovery took back (a claim counted or taken
 * over from another daemon, or a result left over). */
static int recovered(const struct spool *sp, const struct spool_item *items,
		     size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].tries > 0 || items[i].kind == ITEM_RESULT ||
		    !spool_key_of(items[i].key, sp->token))
			return 1;
	}
	return 0;
}

int spool_process(struct spool *sp, struct spool_ctx *ctx,
		  struct spool_item *items, size_t n)
{
	struct reserved res = {STRMAP_INIT};
	struct stream s = {.w = n > 1 ? sp->worker : NULL};
	struct claim *claims;
	struct rec *recs;
	size_t done = 0;
	int rc = 0, synced, now;

	assert(ctx->ob != NULL);
	if (n == 0)
		return 0;
	spool_relock(sp);
	/* a claim that may have crashed the daemon is judged alone, its
	 * recovery counted just before: a report that kills the daemon again
	 * is counted, the files taken back with it are not */
	assert(n == 1 || !items[0].suspect);
	if (items[0].suspect && spool_count_recovery(sp, &items[0]) == -1) {
		if (sp->nospace) {
			sp->left_full++;
			say_full(sp, ctx);
		}
		return -1;
	}
	recs = calloc(n, sizeof(*recs));
	claims = calloc(n, sizeof(*claims));
	if (recs == NULL || claims == NULL) {
		free(recs);
		free(claims);
		return -1;
	}
	s.recs = recs;
	read_group(sp, ctx->cfg);
	/* a batch of one (a lone file) syncs at once: no thread to wake;
	 * and so does a batch of recovered claims: archived before more is
	 * taken, so that a crash soon after a restart cannot catch it again
	 * (each recovery counts towards input.resources) */
	now = n == 1 || sp->syncer == NULL || recovered(sp, items, n);
	sp->write_now = now;
	/* steps 1 and 2 part by part, so that the bytes and pages held
	 * stay small (PAGE_KEEP_BYTES: pages are freed in step 2); then one
	 * group commit for the whole batch, the names of every part
	 * reserved together */
	while (done < n) {
		size_t m = judge_all(sp, ctx, &s, recs + done, items + done,
				     n - done, claims + done);
		SPOOL_FAIL_AT("copied", m);
		if (decide(sp, ctx, recs + done, m, &res) == -1) {
			leave_all(sp, recs + done, m);
			rc = -1;
		}
		done += m;
		s.limit = done;
		pump(sp, ctx, &s, PUMP_BUILT);
	}
	pump_end(sp, ctx, &s);
	free(claims);
	say_full(sp, ctx);
	SPOOL_FAIL_AT("recorded", n);
	strmap_free(&res.names, NULL);
	if (!now && defer_commit(sp, ctx, recs, items, n) == 0)
		return rc;
	synced = syncfs(sp->dirfd);
	if (after_sync(sp, ctx, recs, n, synced, errno) == -1)
		rc = -1;
	release_all(recs, n);
	return rc;
}
