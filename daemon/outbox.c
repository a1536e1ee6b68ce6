/*
 * outbox.c - the delivery queue (docs/webhooks.md). Each delivery is one JSON
 * file in SPOOL/outbox/ holding the exact body to post and its retry state:
 * written under a temporary name and renamed, made durable in batches,
 * loaded back at start, unlinked once delivered and moved to SPOOL/dead/
 * when out of tries (Postfix's queue, in small). deliver.c posts them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../common/fsutil.h"
#include "../common/io.h"
#include "../common/timefmt.h"
#include "../common/utf8.h"
#include "log.h"
#include "outbox_int.h"

/* Largest delivery file read back at start (the body is at most 64 KiB,
 * escaped, plus the bookkeeping). */
#define MAX_DELIVERY_FILE (1024 * 1024)

/* ---- file names ---------------------------------------------------- */

#define DELIVERY_SUFFIX ".json"
#define TEMP_SUFFIX ".tmp"

void outbox_file_name(const char *id, char *buf, size_t size)
{
	snprintf(buf, size, "%s" DELIVERY_SUFFIX, id);
}

/* ".ID.tmp": hidden, so that a scan never takes it for a delivery. */
static void temp_file_name(const char *id, char *buf, size_t size)
{
	snprintf(buf, size, ".%s" TEMP_SUFFIX, id);
}

static bool is_temp_name(const char *name)
{
	return name[0] == '.' && strlen(name) > strlen(TEMP_SUFFIX) &&
	       ends_with(name, TEMP_SUFFIX);
}

static bool is_delivery_name(const char *name)
{
	return name[0] != '.' && strlen(name) > strlen(DELIVERY_SUFFIX) &&
	       ends_with(name, DELIVERY_SUFFIX);
}

/* ---- the list of deliveries ---------------------------------------- */

static void list_append(struct outbox *ob, struct delivery *d)
{
	d->next = NULL;
	d->prev = ob->tail;
	if (ob->tail)
		ob->tail->next = d;
	else
		ob->head = d;
	ob->tail = d;
	ob->count++;
}

static void list_remove(struct outbox *ob, struct delivery *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		ob->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		ob->tail = d->prev;
	ob->count--;
}

static void delivery_free(struct delivery *d)
{
	free(d->hook);
	free(d->type);
	free(d->claim);
	free(d->file);
	free(d->created);
	free(d->body);
	free(d->url);
	json_decref(d->last_error);
	free(d);
}

void outbox_forget(struct outbox *ob, struct delivery *d)
{
	list_remove(ob, d);
	delivery_free(d);
}

int outbox_find_hook(const struct outbox *ob, const char *name)
{
	size_t i;

	for (i = 0; i < ob->cfg->nhooks; i++)
		if (strcmp(ob->cfg->hooks[i].name, name) == 0)
			return (int)i;
	return -1;
}

static struct delivery *find_delivery(const struct outbox *ob, const char *id)
{
	struct delivery *d;

	for (d = ob->head; d; d = d->next)
		if (strcmp(d->id, id) == 0)
			return d;
	return NULL;
}

/* ---- the delivery file --------------------------------------------- */

/* d as the text of its file (malloc'ed), or NULL. */
static char *delivery_format(const struct delivery *d)
{
	char due[ISO8601_SIZE];
	json_t *o;
	char *text;

	iso8601_utc((time_t)(d->due_ms / 1000), due, sizeof(due));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:O?, "
		      "s:s%}",
		      "id", d->id, "webhook", d->hook, "type", d->type, "file",
		      d->file, "claim", d->claim, "created", d->created,
		      "attempts", d->attempts, "due_ms", (json_int_t)d->due_ms,
		      "next_try", due, "last_error", d->last_error, "body",
		      d->body, d->len);
	if (!o)
		return NULL;
	text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	return text;
}

int outbox_save(struct outbox *ob, struct delivery *d)
{
	char name[DELIVERY_NAME_SIZE], tmp[DELIVERY_NAME_SIZE];
	char *text = delivery_format(d);
	int fd = -1, ret = -1, saved;

	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	outbox_file_name(d->id, name, sizeof(name));
	temp_file_name(d->id, tmp, sizeof(tmp));
	fd =
	    openat(ob->outfd, tmp,
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		goto out;
	if (write_all(fd, text, strlen(text)) == -1 ||
	    write_all(fd, "\n", 1) == -1)
		goto out;
	if (close(fd) == -1) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (renameat(ob->outfd, tmp, ob->outfd, name) == -1)
		goto out;
	ret = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (ret == -1)
		unlinkat(ob->outfd, tmp, 0);
	free(text);
	errno = saved;
	return ret;
}

static const char *str_member(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A copy of the string member key of o, "?" when it is missing. */
static char *dup_member(json_t *o, const char *key)
{
	const char *s = str_member(o, key);

	return strdup(s ? s : "?");
}

/* The delivery in o, whose file is fname; NULL if it is not one. */
static struct delivery *delivery_from_json(json_t *o, const char *fname)
{
	const char *id = str_member(o, "id"), *body = str_member(o, "body");
	json_t *att = json_object_get(o, "attempts");
	json_t *due = json_object_get(o, "due_ms");
	json_t *err = json_object_get(o, "last_error");
	char expect[DELIVERY_NAME_SIZE];
	struct delivery *d;

	if (!id || strlen(id) >= sizeof(d->id) || !str_member(o, "webhook") ||
	    !str_member(o, "type") || !body || !json_is_integer(att) ||
	    !json_is_integer(due) || json_integer_value(att) < 0 ||
	    json_integer_value(att) > INT_MAX)
		return NULL;
	outbox_file_name(id, expect, sizeof(expect));
	if (strcmp(expect, fname) != 0)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->hook = dup_member(o, "webhook");
	d->type = dup_member(o, "type");
	d->claim = dup_member(o, "claim");
	d->created = dup_member(o, "created");
	d->file = dup_member(o, "file");
	d->len = json_string_length(json_object_get(o, "body"));
	d->body = malloc(d->len + 1);
	if (!d->hook || !d->type || !d->claim || !d->file || !d->created ||
	    !d->body) {
		delivery_free(d);
		return NULL;
	}
	memcpy(d->body, body, d->len);
	d->body[d->len] = '\0';
	d->attempts = (int)json_integer_value(att);
	d->due_ms = json_integer_value(due);
	if (json_is_object(err))
		d->last_error = json_incref(err);
	d->synced = 1;
	return d;
}

/* Parse one delivery file; NULL if it is not one. */
static struct delivery *delivery_parse(const char *text, size_t len,
				       const char *fname)
{
	json_t *o = json_loadb(text, len, 0, NULL);
	struct delivery *d = NULL;

	if (json_is_object(o))
		d = delivery_from_json(o, fname);
	json_decref(o);
	return d;
}

void outbox_remove_file(struct outbox *ob, const struct delivery *d)
{
	char name[DELIVERY_NAME_SIZE];

	outbox_file_name(d->id, name, sizeof(name));
	if (unlinkat(ob->outfd, name, 0) == -1)
		log_msg(LOG_WARNING, "webhook %s: cannot remove outbox/%s: %s",
			d->hook, name, strerror(errno));
}

void outbox_move_dead(struct outbox *ob, struct delivery *d)
{
	char name[DELIVERY_NAME_SIZE];

	outbox_file_name(d->id, name, sizeof(name));
	if (outbox_save(ob, d) == -1 ||
	    renameat(ob->outfd, name, ob->deadfd, name) == -1)
		log_msg(LOG_ERR, "webhook %s: cannot move %s to dead/: %s",
			d->hook, name, strerror(errno));
}

/* ---- loading at start ---------------------------------------------- */

static int by_due(const void *a, const void *b)
{
	const struct delivery *x = *(struct delivery *const *)a;
	const struct delivery *y = *(struct delivery *const *)b;

	if (x->due_ms != y->due_ms)
		return x->due_ms < y->due_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The delivery in outbox/name, or NULL: unreadable files are left (and
 * logged), files that are no delivery go to dead/. */
static struct delivery *load_one(struct outbox *ob, const char *name)
{
	struct delivery *d;
	char *text, esc[256];
	size_t len;

	if (read_file_at(ob->outfd, name, MAX_DELIVERY_FILE, &text, &len) ==
	    -1) {
		log_msg(LOG_WARNING, "outbox: cannot read %s: %s", name,
			strerror(errno));
		return NULL;
	}
	d = delivery_parse(text, len, name);
	free(text);
	if (!d) {
		log_escape(name, esc, sizeof(esc));
		log_msg(LOG_ERR, "outbox: %s is not a delivery; moved to dead/",
			esc);
		renameat(ob->outfd, name, ob->deadfd, name);
	}
	return d;
}

/* Read outbox/ into all[] (*n of them); remove stale temporary files. */
static int scan(struct outbox *ob, struct delivery ***all, size_t *n)
{
	size_t cap = 0;
	struct dirent *de;
	DIR *dir;
	int fd = dup(ob->outfd);

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir))) {
		struct delivery *d;

		if (is_temp_name(de->d_name))
			unlinkat(ob->outfd, de->d_name, 0);
		if (!is_delivery_name(de->d_name))
			continue;
		d = load_one(ob, de->d_name);
		if (!d)
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct delivery **p = realloc(*all, nc * sizeof(*p));

			if (!p) {
				delivery_free(d);
				break;
			}
			*all = p;
			cap = nc;
		}
		(*all)[(*n)++] = d;
	}
	closedir(dir);
	return 0;
}

/* Load outbox/ *.json, oldest due first. */
static int load(struct outbox *ob, struct diag *diag)
{
	struct delivery **all = NULL;
	size_t n = 0, i;

	if (scan(ob, &all, &n) == -1) {
		diag_add(diag, "outbox: cannot read: %s", strerror(errno));
		return -1;
	}
	if (n > 0)
		qsort(all, n, sizeof(*all), by_due);
	for (i = 0; i < n; i++)
		list_append(ob, all[i]);
	free(all);
	if (n > 0)
		log_msg(LOG_INFO, "outbox: %zu pending deliveries resumed", n);
	return 0;
}

/* ---- the API ------------------------------------------------------- */

static int open_subdir(int spoolfd, const char *name, struct diag *diag,
		       const char *spool)
{
	int fd = mkdir_open(spoolfd, name, 0750);

	if (fd < 0)
		diag_add(diag, "%s/%s: cannot open: %s", spool, name,
			 strerror(errno));
	return fd;
}

/* SPOOL/outbox and SPOOL/dead into ob. */
static int open_dirs(struct outbox *ob, const char *spool_dir,
		     struct diag *diag)
{
	int spoolfd = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (spoolfd < 0) {
		diag_add(diag, "%s: cannot open: %s", spool_dir,
			 strerror(errno));
		return -1;
	}
	ob->outfd = open_subdir(spoolfd, "outbox", diag, spool_dir);
	if (ob->outfd >= 0)
		ob->deadfd = open_subdir(spoolfd, "dead", diag, spool_dir);
	close(spoolfd);
	return ob->deadfd >= 0 ? 0 : -1;
}

struct outbox *outbox_open(const char *spool_dir, const struct config *cfg,
			   int epfd, struct diag *diag)
{
	struct outbox *ob = calloc(1, sizeof(*ob));

	if (!ob) {
		diag_add(diag, "outbox: out of memory");
		return NULL;
	}
	ob->outfd = ob->deadfd = -1;
	ob->curl_timer.fd = ob->retry_timer.fd = -1;
	ob->epfd = epfd;
	ob->cfg = cfg;
	ob->inflight = calloc(cfg->nhooks + 1, sizeof(int));
	if (!ob->inflight) {
		diag_add(diag, "outbox: out of memory");
		goto fail;
	}
	if (open_dirs(ob, spool_dir, diag) == -1)
		goto fail;
	if (epfd >= 0 && deliver_open(ob, diag) == -1)
		goto fail;
	if (load(ob, diag) == -1)
		goto fail;
	deliver_schedule(ob);
	return ob;
fail:
	outbox_close(ob);
	return NULL;
}

/* "msg_" and 32 hex digits of sha256(claim NUL [sha NUL] webhook). */
static int make_id(const char *claim, const char *sha, const char *hook,
		   char *out, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok, i;

	if (!ctx)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, claim, strlen(claim) + 1) &&
	     (!sha || EVP_DigestUpdate(ctx, sha, strlen(sha) + 1)) &&
	     EVP_DigestUpdate(ctx, hook, strlen(hook)) &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen < 16 || size < 4 + 32 + 1)
		return -1;
	memcpy(out, "msg_", 4);
	for (i = 0; i < 16; i++)
		snprintf(out + 4 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* A new delivery of the judged file claim (judgement j, result document
 * doc, verdict event type) through wh, due after the schedule's first
 * delay. */
static struct delivery *delivery_new(const struct webhook_conf *wh,
				     const char *id, const char *claim,
				     const char *type,
				     const struct judgement *j,
				     const json_t *doc, time_t now)
{
	const char *file = j->file;
	char created[ISO8601_SIZE];
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	iso8601_utc(now, created, sizeof(created));
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->hook = strdup(wh->name);
	d->type = strdup(type);
	/* the delivery file is JSON: a name that is not UTF-8 (a share's
	 * Latin-1) is kept with U+FFFD, as in the result document */
	d->claim = utf8_lossy_dup(claim);
	d->file = utf8_lossy_dup(file ? file : claim);
	d->created = strdup(created);
	d->body = webhook_build_body(wh->format, type, j, doc, now, &d->len);
	d->due_ms =
	    (long long)now * 1000 + (wh->nretry > 0 ? wh->retry_ms[0] : 0);
	if (!d->hook || !d->type || !d->claim || !d->file || !d->created ||
	    !d->body) {
		delivery_free(d);
		return NULL;
	}
	return d;
}

/* Whether delivery id already has a file: given up already (dead/), or
 * someone else's in outbox/. */
static bool has_file(const struct outbox *ob, const char *id)
{
	char name[DELIVERY_NAME_SIZE];

	outbox_file_name(id, name, sizeof(name));
	return faccessat(ob->deadfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	       faccessat(ob->outfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int outbox_queue(struct outbox *ob, const char *claim,
		 const struct judgement *j, const json_t *doc)
{
	const char *sha = j->has_sha256 ? j->sha256 : NULL;
	const char *type = webhook_event_type(j->verdict);
	unsigned bit = webhook_event_bit(j->verdict);
	time_t now = time(NULL);
	int queued = 0;
	size_t i;

	for (i = 0; i < ob->cfg->nhooks; i++) {
		const struct webhook_conf *wh = &ob->cfg->hooks[i];
		char id[DELIVERY_ID_SIZE];
		struct delivery *d;

		if (!(wh->events & bit))
			continue;
		if (make_id(claim, sha, wh->name, id, sizeof(id)) == -1)
			return -1;
		if (find_delivery(ob, id)) {
			queued++; /* judged again after a crash: kept */
			continue;
		}
		if (has_file(ob, id))
			continue;
		d = delivery_new(wh, id, claim, type, j, doc, now);
		if (!d) {
			errno = ENOMEM;
			return -1;
		}
		if (outbox_save(ob, d) == -1) {
			char name[DELIVERY_NAME_SIZE];

			outbox_file_name(id, name, sizeof(name));
			log_msg(LOG_ERR, "outbox: cannot write %s: %s", name,
				strerror(errno));
			delivery_free(d);
			return -1;
		}
		list_append(ob, d);
		ob->dirty = 1;
		queued++;
	}
	return queued;
}

int outbox_sync(struct outbox *ob)
{
	struct delivery *d;

	if (ob->dirty) {
		if (syncfs(ob->outfd) == -1) {
			log_msg(LOG_ERR, "outbox: sync: %s", strerror(errno));
			return -1;
		}
		ob->dirty = 0;
	}
	for (d = ob->head; d; d = d->next)
		d->synced = 1;
	deliver_schedule(ob);
	return 0;
}

size_t outbox_backlog(const struct outbox *ob)
{
	return ob ? ob->count : 0;
}

void outbox_close(struct outbox *ob)
{
	struct delivery *d, *next;

	if (!ob)
		return;
	deliver_close(ob);
	for (d = ob->head; d; d = next) {
		next = d->next;
		delivery_free(d);
	}
	if (ob->outfd >= 0)
		close(ob->outfd);
	if (ob->deadfd >= 0)
		close(ob->deadfd);
	free(ob->inflight);
	free(ob);
}

/* ---- reading a delivery file from outside the daemon ---------------- */

/* Skip blanks in s from *i. */
static void skip_blanks(const char *s, size_t len, size_t *i)
{
	while (*i < len && (s[*i] == ' ' || s[*i] == '\n' || s[*i] == '\t' ||
			    s[*i] == '\r'))
		(*i)++;
}

/* Match lit at *i (after blanks); advance past it. */
static bool match_lit(const char *s, size_t len, size_t *i, const char *lit)
{
	size_t n = strlen(lit);

	skip_blanks(s, len, i);
	if (len - *i < n || memcmp(s + *i, lit, n) != 0)
		return false;
	*i += n;
	return true;
}

/* A JSON string without escapes at *i (after blanks): its bytes start at
 * *start, *n long; *i goes past the closing quote. */
static bool plain_string(const char *s, size_t len, size_t *i, size_t *start,
			 size_t *n)
{
	if (!match_lit(s, len, i, "\""))
		return false;
	*start = *i;
	while (*i < len && s[*i] != '"' && s[*i] != '\\' &&
	       (unsigned char)s[*i] >= 0x20)
		(*i)++;
	if (*i == len || s[*i] != '"')
		return false;
	*n = *i - *start;
	(*i)++;
	return true;
}

/* The fast way: delivery_format() writes "id" then "webhook" first, so the
 * name is in the file's first bytes. 0, or -1 if they are not so. */
static int head_webhook(const char *s, size_t len, char *hook, size_t size)
{
	size_t i = 0, start, n;

	if (!match_lit(s, len, &i, "{") || !match_lit(s, len, &i, "\"id\"") ||
	    !match_lit(s, len, &i, ":") ||
	    !plain_string(s, len, &i, &start, &n) ||
	    !match_lit(s, len, &i, ",") ||
	    !match_lit(s, len, &i, "\"webhook\"") ||
	    !match_lit(s, len, &i, ":") ||
	    !plain_string(s, len, &i, &start, &n) || n == 0 || n >= size)
		return -1;
	memcpy(hook, s + start, n);
	hook[n] = '\0';
	return 0;
}

int outbox_file_webhook(int dirfd, const char *name, char *hook, size_t size)
{
	char head[512], *text = NULL;
	size_t len;
	ssize_t got;
	json_t *o;
	const char *w;
	int fd, rc = 1;

	if (!is_delivery_name(name))
		return 1;
	fd =
	    openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	do
		got = pread(fd, head, sizeof(head), 0);
	while (got < 0 && errno == EINTR);
	close(fd);
	if (got < 0)
		return -1;
	if (head_webhook(head, (size_t)got, hook, size) == 0)
		return 0;
	/* written some other way: read it whole */
	if (read_file_at(dirfd, name, MAX_DELIVERY_FILE, &text, &len) == -1)
		return errno == EFBIG || errno == EINVAL ? 1 : -1;
	o = json_loadb(text, len, 0, NULL);
	w = json_is_object(o) ? str_member(o, "webhook") : NULL;
	if (w != NULL && strlen(w) > 0 && strlen(w) < size) {
		memcpy(hook, w, strlen(w) + 1);
		rc = 0;
	}
	json_decref(o);
	free(text);
	return rc;
}

/* ---- requeue: what `expensed requeue` needs (requeue.c) -------------- */

_Static_assert(DELIVERY_NAME_SIZE <= OUTBOX_NAME_SIZE, "outbox.h's size");
_Static_assert(DELIVERY_ID_SIZE <= sizeof(((struct outbox_requeued *)0)->id),
	       "outbox.h's size");

bool outbox_name_is(const char *name, const char *id)
{
	char want[DELIVERY_NAME_SIZE];

	if (strlen(id) >= DELIVERY_ID_SIZE)
		return false;
	outbox_file_name(id, want, sizeof(want));
	return strcmp(name, want) == 0;
}

void outbox_names(const char *id, char *name, char *tmp)
{
	outbox_file_name(id, name, OUTBOX_NAME_SIZE);
	temp_file_name(id, tmp, OUTBOX_NAME_SIZE);
}

int outbox_requeue_text(const char *text, size_t len, const char *name,
			long long now_ms, char **out,
			struct outbox_requeued *info)
{
	struct delivery *d = delivery_parse(text, len, name);

	if (d == NULL)
		return 1;
	d->attempts = 0;
	d->due_ms = now_ms;
	json_decref(d->last_error);
	d->last_error = NULL;
	snprintf(info->id, sizeof(info->id), "%s", d->id);
	snprintf(info->hook, sizeof(info->hook), "%s", d->hook);
	log_escape(d->file, info->file, sizeof(info->file));
	*out = delivery_format(d);
	delivery_free(d);
	return *out != NULL ? 0 : -1;
}
