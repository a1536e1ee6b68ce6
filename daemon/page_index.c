/*
 * page_index.c - index.html, the latest verdicts of the spool (page_index.h):
 * a ring of the last PAGE_INDEX_MAX entries, their lines in
 * state/pages-index (appended, compacted when twice too long), and the page
 * itself, replaced by a rename after each batch.
 */
#include "page_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/io.h"
#include "../common/pct.h"
#include "../common/timefmt.h"
#include "../common/utf8.h"
#include "log.h"
#include "page.h"
#include "page_int.h"

/* Most of state/pages-index read back (its last bytes): a file of garbage
 * costs no more than this. */
#define LOAD_MAX (1024 * 1024)
/* state/pages-index is compacted when it holds more lines than this. */
#define STATE_LINES_MAX (2 * PAGE_INDEX_MAX)
/* The version field opening every state line. */
#define LINE_VERSION "1"
/* The lock of state/pages-index, which is replaced when compacted. */
#define PAGES_INDEX_LOCK SPOOL_PAGES_INDEX_NAME ".lock"

struct page_index {
	int spool_fd, state_fd;
	int lock_fd; /* state/pages-index.lock, opened at the first flush */
	char token[SPOOL_TOKEN_LEN + 1];
	/* the ring holds the last lines of state/pages-index as it was when
	 * this daemon last wrote or read it: that file (dev, ino), size */
	int known;
	dev_t dev;
	ino_t ino;
	off_t size;
	/* that file, held open (or -1) so that its inode number stays its
	 * own once it is replaced: ext4 gives a new file the lowest number
	 * free, and a file that took it would pass for the one seen */
	int held_fd;
	int compact;	     /* rewrite it whole at the next flush */
	size_t state_lines;  /* lines it holds (as far as we know) */
	struct strbuf lines; /* lines added since the last flush */
	size_t nlines;	     /* how many */
	struct page_index_entry ring[PAGE_INDEX_MAX];
	size_t head;  /* the slot of the next entry */
	size_t count; /* entries held (<= PAGE_INDEX_MAX) */
};

#ifdef EXPENSED_TEST_HOOKS
/* EXPENSED_FAILPOINT=index: die like kill -9 in the middle of a flush,
 * both temporary files written, neither renamed (the crash that leaves
 * them behind). */
static void index_failpoint(const struct page_index *ix)
{
	const char *fp = getenv("EXPENSED_FAILPOINT");
	char tmp[SPOOL_LOCK_SIZE];
	int fd;

	if (fp == NULL || strcmp(fp, "index") != 0)
		return;
	spool_name_index_tmp(ix->token, tmp);
	fd = openat(ix->spool_fd, tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	if (fd >= 0)
		close(fd);
	spool_name_pages_index_tmp(ix->token, tmp);
	fd = openat(ix->state_fd, tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	if (fd >= 0)
		close(fd);
	_exit(99);
}
#define INDEX_FAILPOINT(ix) index_failpoint(ix)
#else
#define INDEX_FAILPOINT(ix) ((void)0)
#endif

struct page_index *page_index_open(int spool_fd, int state_fd,
				   const char *token)
{
	struct page_index *ix = calloc(1, sizeof(*ix));

	if (ix == NULL)
		return NULL;
	ix->spool_fd = spool_fd;
	ix->state_fd = state_fd;
	ix->lock_fd = -1;
	ix->held_fd = -1;
	snprintf(ix->token, sizeof(ix->token), "%s", token);
	return ix;
}

void page_index_close(struct page_index *ix)
{
	if (ix == NULL)
		return;
	if (ix->lock_fd >= 0)
		close(ix->lock_fd);
	if (ix->held_fd >= 0)
		close(ix->held_fd);
	sb_release(&ix->lines);
	free(ix);
}

/* src cut to fit in size bytes (with its NUL), not inside a UTF-8
 * sequence, into dst. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = utf8_cut(src, strlen(src), size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

void page_index_entry_set(struct page_index_entry *e, const struct judgement *j,
			  const char *file, const char *archived_as)
{
	memset(e, 0, sizeof(*e));
	e->checked_at = j->checked_at;
	e->verdict = j->verdict;
	e->errors = j->errors;
	e->warnings = j->warnings;
	copy_cut(e->file, sizeof(e->file),
		 file != NULL	   ? file
		 : j->file != NULL ? j->file
				   : "");
	copy_cut(e->report_id, sizeof(e->report_id),
		 j->report_id != NULL ? j->report_id : "");
	copy_cut(e->archived_as, sizeof(e->archived_as), archived_as);
}

/* ---- state/pages-index lines ---- */

/* A field of a line: '%', tabs, line ends and other controls as %HH. */
static void add_field(struct strbuf *sb, const char *s)
{
	sb_addc(sb, '\t');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '%')
			sb_addf(sb, "%%%02X", c);
		else
			sb_addc(sb, (char)c);
	}
}

static void add_line(struct strbuf *sb, const struct page_index_entry *e)
{
	sb_addf(sb, LINE_VERSION "\t%lld\t%s\t%d\t%d", (long long)e->checked_at,
		verdict_name(e->verdict), e->errors, e->warnings);
	add_field(sb, e->archived_as);
	add_field(sb, e->file);
	add_field(sb, e->report_id);
	sb_addc(sb, '\n');
}

/* Decode the field [s, end) into dst (size bytes). 0, or -1 when it is
 * not one add_field() writes (a control byte, a bad or NUL escape), or
 * does not fit. */
static int get_field(const char *s, const char *end, char *dst, size_t size)
{
	for (const char *p = s; p < end; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	return pct_decode(s, (size_t)(end - s), dst, size) < 0 ? -1 : 0;
}

/* A decimal number in [0, max] (max at most LLONG_MAX / 10). 0 or -1. */
static int get_number(const char *s, const char *end, long long max,
		      long long *out)
{
	long long v = 0;

	if (s == end || end - s > 19)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		/* at each digit, before v can overflow (19 digits would) */
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

static int get_verdict(const char *s, const char *end, enum verdict *v)
{
	static const enum verdict all[] = {VERDICT_ACCEPTED, VERDICT_REJECTED,
					   VERDICT_INVALID};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *name = verdict_name(all[i]);
		if ((size_t)(end - s) == strlen(name) &&
		    memcmp(s, name, (size_t)(end - s)) == 0) {
			*v = all[i];
			return 0;
		}
	}
	return -1;
}

/* Parse the line [s, end) (without its '\n') into *e. 0, or -1 when it is
 * not a good line. */
static int parse_line(const char *s, const char *end,
		      struct page_index_entry *e)
{
	enum { NFIELDS = 8 };
	const char *f[NFIELDS], *fe[NFIELDS]; /* field i is [f[i], fe[i]) */
	size_t nf = 0;
	long long t, errs, warns;
	char d, arch[SPOOL_NAME_SIZE];

	f[nf] = s;
	for (const char *p = s; p < end; p++) {
		if (*p != '\t')
			continue;
		if (nf + 1 == NFIELDS)
			return -1;
		fe[nf++] = p;
		f[nf] = p + 1;
	}
	if (nf + 1 != NFIELDS)
		return -1;
	fe[nf] = end;
	memset(e, 0, sizeof(*e));
	if ((size_t)(fe[0] - f[0]) != strlen(LINE_VERSION) ||
	    memcmp(f[0], LINE_VERSION, strlen(LINE_VERSION)) != 0 ||
	    get_number(f[1], fe[1], (long long)1 << 40, &t) == -1 ||
	    get_verdict(f[2], fe[2], &e->verdict) == -1 ||
	    get_number(f[3], fe[3], 1 << 30, &errs) == -1 ||
	    get_number(f[4], fe[4], 1 << 30, &warns) == -1 ||
	    get_field(f[5], fe[5], e->archived_as, sizeof(e->archived_as)) ==
		-1 ||
	    get_field(f[6], fe[6], e->file, sizeof(e->file)) == -1 ||
	    get_field(f[7], fe[7], e->report_id, sizeof(e->report_id)) == -1)
		return -1;
	/* a link that leaves accepted/ or rejected/ is never written */
	if (spool_name_parse_archived_as(e->archived_as, &d, arch) == -1)
		return -1;
	e->checked_at = (time_t)t;
	e->errors = (int)errs;
	e->warnings = (int)warns;
	return 0;
}

static void ring_put(struct page_index *ix, const struct page_index_entry *e)
{
	ix->ring[ix->head] = *e;
	ix->head = (ix->head + 1) % PAGE_INDEX_MAX;
	if (ix->count < PAGE_INDEX_MAX)
		ix->count++;
}

/* The i-th entry held, oldest first. */
static const struct page_index_entry *ring_at(const struct page_index *ix,
					      size_t i)
{
	return &ix->ring[(ix->head + PAGE_INDEX_MAX - ix->count + i) %
			 PAGE_INDEX_MAX];
}

/* Put the lines of [p, end) into the ring, counting them in state_lines
 * when count. Whether they were all good (a torn last line, without its
 * '\n', or garbage is not). */
static int put_lines(struct page_index *ix, const char *p, const char *end,
		     int count)
{
	struct page_index_entry e;
	int clean = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) /* a torn last line */
			return 0;
		if (parse_line(p, nl, &e) == 0)
			ring_put(ix, &e);
		else
			clean = 0;
		if (count)
			ix->state_lines++;
		p = nl + 1;
	}
	return clean;
}

/*
 * Bring the ring up to date with state/pages-index, open as fd (st), which
 * this daemon holds the lock of: nothing to read when it is the file last
 * seen, with the size last seen (no other daemon wrote); the lines other
 * daemons appended since, when it only grew; else its last LOAD_MAX bytes,
 * the ring refilled from them (a new file: compacted by another daemon,
 * or never read). 0, or -1 when memory runs out; a file that cannot be
 * read is taken as empty (logged), to rewrite.
 */
static int sync_ring(struct page_index *ix, int fd, const struct stat *st)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;
	off_t from = 0;
	int rc = 0, whole = 1, clean;
	const char *p, *end;

	if (ix->known && st->st_dev == ix->dev && st->st_ino == ix->ino) {
		if (st->st_size == ix->size)
			return 0;
		if (st->st_size > ix->size &&
		    st->st_size - ix->size <= LOAD_MAX) {
			from = ix->size;
			whole = 0;
		}
	}
	if (whole) {
		ix->head = ix->count = ix->state_lines = 0;
		if (st->st_size > LOAD_MAX)
			from = st->st_size - LOAD_MAX;
	}
	ix->known = 0;
	ix->compact = 1; /* unless it reads back clean */
	if (!S_ISREG(st->st_mode)) {
		log_msg(LOG_WARNING,
			"state/%s is not a regular file: written anew",
			SPOOL_PAGES_INDEX_NAME);
		goto out;
	}
	if (lseek(fd, from, SEEK_SET) == -1 ||
	    read_fd(fd, LOAD_MAX, (size_t)(st->st_size - from), &buf, &cap,
		    &len) == -1) {
		if (errno == ENOMEM)
			rc = -1;
		else
			log_msg(LOG_WARNING, "cannot read state/%s: %s",
				SPOOL_PAGES_INDEX_NAME, strerror(errno));
		goto out;
	}
	if (len > LOAD_MAX)
		len = LOAD_MAX;
	p = buf;
	end = buf + len;
	clean = from == 0 || !whole;
	if (!clean) { /* the first line read is a part of one */
		p = memchr(p, '\n', len);
		p = p != NULL ? p + 1 : end;
	}
	if (put_lines(ix, p, end, 1) == 0)
		clean = 0;
	if (clean && ix->state_lines <= STATE_LINES_MAX)
		ix->compact = 0;
out:
	free(buf);
	return rc;
}

int page_index_add(struct page_index *ix, const struct page_index_entry *e)
{
	add_line(&ix->lines, e);
	ix->nlines++;
	return ix->lines.failed ? -1 : 0;
}

/* ---- writing ---- */

/* Remember state/pages-index as it is now: fd, or (fd -1) the file of
 * that name, after a rename. */
static void seen(struct page_index *ix, int fd)
{
	struct stat st;
	/* O_NONBLOCK: whatever took its name since, a FIFO included, is
	 * opened at once (and then known by its own inode number) */
	int held = fd >= 0
		       ? fcntl(fd, F_DUPFD_CLOEXEC, 0)
		       : openat(ix->state_fd, SPOOL_PAGES_INDEX_NAME,
				O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (held == -1 || fstat(held, &st) == -1) {
		if (held >= 0)
			close(held);
		return;
	}
	if (ix->held_fd >= 0)
		close(ix->held_fd);
	ix->held_fd = held;
	ix->known = 1;
	ix->dev = st.st_dev;
	ix->ino = st.st_ino;
	ix->size = st.st_size;
}

/* state/pages-index, the whole ring written anew (compacted). 0 or -1. */
static int rewrite_state(struct page_index *ix)
{
	struct strbuf all = STRBUF_INIT;
	char tmp[SPOOL_LOCK_SIZE];
	int rc = -1;

	for (size_t i = 0; i < ix->count; i++)
		add_line(&all, ring_at(ix, i));
	if (all.failed) {
		errno = ENOMEM;
		goto out;
	}
	spool_name_pages_index_tmp(ix->token, tmp);
	rc = replace_file(ix->state_fd, tmp, SPOOL_PAGES_INDEX_NAME,
			  all.buf ? all.buf : "", all.len, 0640, (gid_t)-1);
	if (rc == 0) {
		ix->compact = 0;
		ix->state_lines = ix->count;
		seen(ix, -1);
	}
out:
	sb_release(&all);
	return rc;
}

/*
 * Under the lock of state/pages-index: read what other daemons wrote since
 * (sync_ring), put this batch's entries after it, and append their lines,
 * or rewrite the file with the ring (the file's own last lines and this
 * batch's) when it grows too long or was not clean. 0 or -1 with errno.
 */
static int write_state(struct page_index *ix)
{
	struct stat st;
	int fd, rc = -1;

	fd = openat(ix->state_fd, SPOOL_PAGES_INDEX_NAME,
		    O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	/* a symbolic link in its place, never followed: the link itself, a
	 * file that cannot be read (sync_ring), replaced by the rewrite */
	if (fd == -1 && errno == ELOOP)
		fd = openat(ix->state_fd, SPOOL_PAGES_INDEX_NAME,
			    O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || sync_ring(ix, fd, &st) == -1)
		goto out;
	(void)put_lines(ix, ix->lines.buf, ix->lines.buf + ix->lines.len, 0);
	if (ix->compact || ix->state_lines + ix->nlines > STATE_LINES_MAX) {
		rc = rewrite_state(ix);
		goto out;
	}
	ix->known = 0; /* a torn line maybe, until it is written */
	rc = write_all(fd, ix->lines.buf, ix->lines.len);
	if (rc == 0) {
		ix->state_lines += ix->nlines;
		seen(ix, fd);
	} else {
		ix->compact = 1;
	}
out:
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

/* Take the lock of state/pages-index (state/pages-index.lock, a file
 * never replaced), opened the first time. 0 or -1 with errno. */
static int lock_state(struct page_index *ix)
{
	if (ix->lock_fd == -1)
		ix->lock_fd =
		    openat(ix->state_fd, PAGES_INDEX_LOCK,
			   O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (ix->lock_fd == -1)
		return -1;
	while (flock(ix->lock_fd, LOCK_EX) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int page_index_flush(struct page_index *ix, enum lang lang, gid_t gid)
{
	const struct page_index_entry *list[PAGE_INDEX_MAX];
	struct strbuf page = STRBUF_INIT;
	char tmp[SPOOL_LOCK_SIZE];
	int rc = 0;

	if (ix->nlines == 0)
		return 0;
	if (lock_state(ix) == -1) {
		log_msg(LOG_ERR, "cannot lock state/%s: %s", PAGES_INDEX_LOCK,
			strerror(errno));
		sb_release(&ix->lines);
		ix->nlines = 0;
		return -1;
	}
	if (ix->lines.failed || write_state(ix) == -1) {
		log_msg(LOG_ERR, "cannot write state/%s: %s",
			SPOOL_PAGES_INDEX_NAME,
			ix->lines.failed ? strerror(ENOMEM) : strerror(errno));
		rc = -1;
	}
	sb_release(&ix->lines);
	ix->nlines = 0;
	for (size_t i = 0; i < ix->count; i++)
		list[i] = ring_at(ix, i);
	spool_name_index_tmp(ix->token, tmp);
	INDEX_FAILPOINT(ix);
	if (page_index_render(&page, list, ix->count, lang) == -1) {
		errno = ENOMEM;
		goto fail;
	}
	/* under the lock: the last index.html written holds the newest
	 * list */
	if (replace_file(ix->spool_fd, tmp, SPOOL_INDEX_NAME, page.buf,
			 page.len, 0640, gid) == -1)
		goto fail;
	goto out;
fail:
	log_msg(LOG_ERR, "cannot write %s: %s", SPOOL_INDEX_NAME,
		strerror(errno));
	rc = -1;
out:
	flock(ix->lock_fd, LOCK_UN);
	sb_release(&page);
	return rc;
}

/* ---- the page ---- */

/* Same look as the verdict pages: a plain statement, printable. */
static const char STYLE[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif;color:#1f2328;margin:2em auto;"
    "max-width:62em;padding:0 1em;line-height:1.4}"
    "h1{font-size:1.5em;margin:0 0 .2em}"
    "p.note{color:#57606a;margin:0 0 1.2em}"
    "table{border-collapse:collapse;width:100%;font-size:.95em}"
    "th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid "
    "#d0d7de;vertical-align:top}"
    "th{background:#f6f8fa;font-weight:600}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td.t{white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td.f{word-break:break-all}"
    "a{color:#0969da}"
    ".v{display:inline-block;padding:0 .5em;border-radius:.3em;"
    "font-weight:600;white-space:nowrap}"
    ".accepted{background:#dafbe1;color:#116329}"
    ".rejected{background:#ffebe9;color:#a40e26}"
    ".invalid{background:#fff8c5;color:#7d4e00}"
    "@media print{body{margin:0;max-width:none}a{color:inherit;"
    "text-decoration:none}}";

/* s percent-encoded for a relative URL: every byte but the unreserved
 * ones and '/' (the one between the directory and the name). */
static void add_url(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char pct[3] = {'%', hex[c >> 4], hex[c & 15]};
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || c == '/')
			sb_addc(sb, (char)c);
		else
			sb_add(sb, pct, sizeof(pct));
	}
}

/* The verdict's word, as the pages say it. */
static const char *verdict_word(enum lang lang, enum verdict v)
{
	switch (v) {
	case VERDICT_ACCEPTED:
		return i18n_tr(lang, N_("accepted"));
	case VERDICT_REJECTED:
		return i18n_tr(lang, N_("rejected"));
	case VERDICT_INVALID:
		break;
	}
	return i18n_tr(lang, N_("invalid"));
}

/* n, a count ("%d", copied). */
static void add_count(struct strbuf *sb, int n)
{
	if (n < 0)
		sb_addf(sb, "%d", n);
	else
		sb_addu(sb, (unsigned)n);
}

/* A row of the table; words: the verdicts' words in the page's
 * language, by enum verdict. */
static void add_row(struct strbuf *sb, const struct page_index_entry *e,
		    enum lang lang, const char *const words[3])
{
	char iso[32], date[32];
	struct local_time lt;

	iso8601_utc(e->checked_at, iso, sizeof(iso));
	local_time(e->checked_at, &lt);
	sb_adds(sb, "<tr><td class=\"t\"><time datetime=\"");
	sb_adds(sb, iso);
	sb_adds(sb, "\">");
	/* English: as it is (i18n_date) */
	sb_adds(sb, lang == LANG_EN
			? lt.day
			: i18n_date(lang, lt.day, date, sizeof(date)));
	sb_addc(sb, ' ');
	sb_add(sb, lt.hms, 5);
	sb_addc(sb, ' ');
	sb_adds(sb, lt.zone);
	sb_adds(sb, "</time></td><td class=\"f\"><a href=\"");
	add_url(sb, e->archived_as);
	sb_adds(sb, ".result.html\">");
	page_escape(sb, e->file);
	sb_adds(sb, "</a></td><td class=\"f\">");
	if (e->report_id[0] != '\0')
		page_escape(sb, e->report_id);
	else
		sb_adds(sb, "&#8212;");
	sb_adds(sb, "</td><td><span class=\"v ");
	sb_adds(sb, verdict_name(e->verdict));
	sb_adds(sb, "\">");
	/* e->verdict is one of the three (get_verdict) */
	page_escape(sb, words[e->verdict <= VERDICT_INVALID ? e->verdict
							    : VERDICT_INVALID]);
	sb_adds(sb, "</span></td><td class=\"n\">");
	add_count(sb, e->errors);
	sb_adds(sb, "</td><td class=\"n\">");
	add_count(sb, e->warnings);
	sb_adds(sb, "</td></tr>\n");
}

int page_index_render(struct strbuf *out,
		      const struct page_index_entry *const *in, size_t n,
		      enum lang lang)
{
	const char *title = i18n_tr(lang, N_("Latest verdicts"));
	const char *words[3]; /* looked up once, not for each row */

	sb_addf(out,
		"<!DOCTYPE html>\n<html lang=\"%s\"><head><meta "
		"charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-"
		"Policy\" content=\"%s\">\n<meta name=\"viewport\" "
		"content=\"width=device-width\">\n<title>",
		i18n_name(lang), pg_csp);
	page_escape(out, title);
	sb_adds(out, "</title>\n<style>");
	sb_adds(out, STYLE); /* long: copied, not formatted */
	sb_adds(out, "</style>\n</head><body>\n<h1>");
	page_escape(out, title);
	sb_adds(out, "</h1>\n<p class=\"note\">");
	page_escape(out,
		    i18n_tr(lang, N_("Newest first. Each file name opens its "
				     "verdict page.")));
	sb_adds(out, "</p>\n<table><thead><tr>");
	static const char *const heads[] = {N_("Time"),	  N_("File"),
					    N_("Report"), N_("Verdict"),
					    N_("Errors"), N_("Warnings")};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		sb_adds(out, "<th>");
		page_escape(out, i18n_tr(lang, heads[i]));
		sb_adds(out, "</th>");
	}
	sb_adds(out, "</tr></thead>\n<tbody id=\"verdicts\">\n");
	for (int v = VERDICT_ACCEPTED; v <= VERDICT_INVALID; v++)
		words[v] = verdict_word(lang, (enum verdict)v);
	for (size_t i = n; i > 0; i--)
		add_row(out, in[i - 1], lang, words);
	sb_adds(out, "</tbody></table>\n</body></html>\n");
	return out->failed ? -1 : 0;
}
