/*
 * outbox.c - the delivery files (docs/webhooks.md). Each delivery is one
 * JSON file in SPOOL/outbox/ holding the exact body to post and its retry
 * state: written under a temporary name and renamed, made durable in
 * batches, loaded back at start, unlinked once delivered and written into
 * SPOOL/dead/ when out of tries (Postfix's queue, in small). The schedule is
 * outbox_sched.c's, sharing the spool outbox_shared.c's; deliver.c posts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/io.h"
#include "../common/jsonmem.h"
#include "../common/jsonstr.h"
#include "../common/sha256.h"
#include "../common/strbuf.h"
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

/* ".ID.PID.tmp": hidden, so that a scan never takes it for a delivery,
 * and this daemon's, so that two daemons never write the same one. */
static void temp_file_name(const char *id, char *buf, size_t size)
{
	snprintf(buf, size, ".%s.%ld" TEMP_SUFFIX, id, (long)getpid());
}

/* A temporary file left this long is a crashed writer's. */
#define STALE_TEMP_S 60

static bool is_temp_name(const char *name)
{
	return name[0] == '.' && strlen(name) > strlen(TEMP_SUFFIX) &&
	       ends_with(name, TEMP_SUFFIX);
}

int outbox_is_delivery_name(const char *name)
{
	return name[0] != '.' && strlen(name) > strlen(DELIVERY_SUFFIX) &&
	       ends_with(name, DELIVERY_SUFFIX);
}

bool outbox_delivery_named(const char *name)
{
	static const char prefix[] = "msg_";
	size_t hex = 32;

	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
		return false;
	name += sizeof(prefix) - 1;
	for (size_t i = 0; i < hex; i++)
		if (!isxdigit((unsigned char)name[i]))
			return false;
	return strcmp(name + hex, DELIVERY_SUFFIX) == 0;
}

int outbox_file_id(const char *name, char *id, size_t size)
{
	size_t n;

	if (!outbox_is_delivery_name(name))
		return -1;
	n = strlen(name) - strlen(DELIVERY_SUFFIX);
	if (n >= size)
		return -1;
	memcpy(id, name, n);
	id[n] = '\0';
	return 0;
}

/* A new delivery, in no line, with no lock. */
static struct delivery *delivery_alloc(void)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (d) {
		d->lockfd = -1;
		d->heap_pos = SIZE_MAX;
		d->where = D_IDLE;
	}
	return d;
}

void delivery_free(struct delivery *d)
{
	free(d->hook);
	free(d->type);
	free(d->claim);
	free(d->file);
	free(d->created);
	free(d->body);
	free(d->url);
	json_decref(d->last_error);
	if (d->lockfd >= 0)
		close(d->lockfd);
	free(d);
}

int outbox_find_hook(const struct outbox *ob, const char *name)
{
	size_t i;

	for (i = 0; i < ob->cfg->nhooks; i++)
		if (strcmp(ob->cfg->hooks[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- the delivery file --------------------------------------------- */

/* "  \"key\": " and the JSON string s (len bytes) into sb, or -1 when s
 * is not UTF-8. */
static int add_string(struct strbuf *sb, const char *key, const char *s,
		      size_t len)
{
	if (utf8_valid_prefix((const unsigned char *)s, len) != len)
		return -1;
	sb_addf(sb, "  \"%s\": ", key);
	sb_add_json_string(sb, s, len);
	return 0;
}

/*
 * d as the text of its file (malloc'ed), or NULL (no memory, or a field
 * that is not UTF-8). Written by hand, not dumped from a Jansson tree:
 * json_dumps() escaped the body, some kilobytes of JSON held as one string,
 * a character at a time, which cost the daemon's thread more than judging
 * the file; the text is what json_dumps(JSON_INDENT(2)) wrote (docs/
 * webhooks.md), but for last_error, on one line.
 */
static char *delivery_format(const struct delivery *d)
{
	const char *head[][2] = {{"id", d->id},	      {"webhook", d->hook},
				 {"type", d->type},   {"file", d->file},
				 {"claim", d->claim}, {"created", d->created}};
	struct strbuf sb = STRBUF_INIT;
	char due[ISO8601_SIZE], *err = NULL;
	int rc = 0;

	if (d->last_error != NULL &&
	    (err = json_dumps_checked(d->last_error, 0)) == NULL)
		return NULL;
	iso8601_utc((time_t)(d->due_ms / 1000), due, sizeof(due));
	sb_adds(&sb, "{\n");
	for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++) {
		rc |=
		    add_string(&sb, head[i][0], head[i][1], strlen(head[i][1]));
		sb_adds(&sb, ",\n");
	}
	sb_addf(&sb, "  \"attempts\": %d,\n  \"due_ms\": %lld,\n", d->attempts,
		d->due_ms);
	rc |= add_string(&sb, "next_try", due, strlen(due));
	sb_addf(&sb, ",\n  \"last_error\": %s,\n", err ? err : "null");
	rc |= add_string(&sb, "body", d->body, d->len);
	sb_adds(&sb, "\n}");
	free(err);
	if (rc != 0 || sb.failed) {
		sb_release(&sb);
		return NULL;
	}
	return sb_detach(&sb, NULL);
}

/* Write d's file into dirfd (temporary name, renamed). */
static int save_at(int dirfd, struct delivery *d)
{
	char name[DELIVERY_NAME_SIZE], tmp[DELIVERY_NAME_SIZE];
	char *text = delivery_format(d);
	struct stat st;
	int fd = -1, ret = -1, saved;

	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	outbox_file_name(d->id, name, sizeof(name));
	temp_file_name(d->id, tmp, sizeof(tmp));
	fd =
	    openat(dirfd, tmp,
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		goto out;
	if (write_all(fd, text, strlen(text)) == -1 ||
	    write_all(fd, "\n", 1) == -1 || fstat(fd, &st) == -1)
		goto out;
	if (close(fd) == -1) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) == -1)
		goto out;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	ret = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (ret == -1)
		unlinkat(dirfd, tmp, 0);
	free(text);
	errno = saved;
	return ret;
}

int outbox_save(struct outbox *ob, struct delivery *d)
{
	return save_at(ob->outfd, d);
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
	    json_integer_value(att) > DELIVERY_MAX_ATTEMPTS)
		return NULL;
	outbox_file_name(id, expect, sizeof(expect));
	if (strcmp(expect, fname) != 0)
		return NULL;
	d = delivery_alloc();
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
	d->where = D_HEAP;
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

	/* Written into dead/ first, then taken out of outbox/ (while d's lock
	 * is held): whoever looks next finds it in one place or both, never
	 * in outbox/ with an older state. */
	outbox_file_name(d->id, name, sizeof(name));
	if (save_at(ob->deadfd, d) == -1 || unlinkat(ob->outfd, name, 0) == -1)
		log_msg(LOG_ERR, "webhook %s: cannot move %s to dead/: %s",
			d->hook, name, strerror(errno));
}

/* ---- loading ----------------------------------------------------- */

struct delivery *outbox_load_file(struct outbox *ob, const char *name)
{
	struct delivery *d;
	char *text, esc[256];
	struct stat st;
	size_t len;

	/* Noted before reading: should the file be replaced meanwhile, the
	 * claim sees another one and reads it again. */
	if (fstatat(ob->outfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    read_file_at(ob->outfd, name, MAX_DELIVERY_FILE, &text, &len) ==
		-1) {
		if (errno != ENOENT)
			log_msg(LOG_WARNING, "outbox: cannot read %s: %s",
				log_escape(name, esc, sizeof(esc)),
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
		return NULL;
	}
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	return d;
}

/* Remove the temporary files of writers that crashed (another daemon's
 * may be in use: only old ones go). */
static void remove_stale_temps(struct outbox *ob)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd = dup(ob->outfd);

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(dir);
	while ((de = readdir(dir)))
		if (is_temp_name(de->d_name) &&
		    fstatat(ob->outfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			0 &&
		    st.st_mtime + STALE_TEMP_S < time(NULL))
			unlinkat(ob->outfd, de->d_name, 0);
	closedir(dir);
}

/* Load outbox/ *.json into the schedule. */
static int load(struct outbox *ob, struct diag *diag)
{
	char **names = NULL;
	size_t n = 0, i, loaded = 0;

	remove_stale_temps(ob);
	if (list_dir(ob->outfd, &names, &n) == -1) {
		diag_add(diag, "outbox: cannot read: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct delivery *d;

		if (!outbox_is_delivery_name(names[i]))
			continue;
		d = outbox_load_file(ob, names[i]);
		if (!d)
			continue;
		if (outbox_add(ob, d) == -1) {
			delivery_free(d);
			names_free(names, n);
			diag_add(diag, "outbox: out of memory");
			return -1;
		}
		loaded++;
	}
	names_free(names, n);
	if (loaded > 0)
		log_msg(LOG_INFO, "outbox: %zu pending deliveries resumed",
			loaded);
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
	struct stat a, b;

	ob->outfd = open_subdir(spoolfd, "outbox", diag, spool_dir);
	if (ob->outfd >= 0)
		ob->deadfd = open_subdir(spoolfd, "dead", diag, spool_dir);
	/* the spool's syncfs() then covers outbox/ (outbox_synced) */
	ob->spool_fs = ob->outfd >= 0 && fstat(spoolfd, &a) == 0 &&
		       fstat(ob->outfd, &b) == 0 && a.st_dev == b.st_dev;
	close(spoolfd);
	return ob->deadfd >= 0 ? 0 : -1;
}

/* Watch SPOOL/outbox before loading it: a file put there meanwhile is
 * seen by one or the other, or both (then loaded once). */
static int watch_outbox(struct outbox *ob, const char *spool_dir,
			struct diag *diag)
{
	char *dir = malloc(strlen(spool_dir) + sizeof("/outbox"));
	int rc;

	if (!dir) {
		diag_add(diag, "outbox: out of memory");
		return -1;
	}
	memcpy(dir, spool_dir, strlen(spool_dir));
	memcpy(dir + strlen(spool_dir), "/outbox", sizeof("/outbox"));
	rc = outbox_watch_open(ob, dir);
	if (rc == -1)
		diag_add(diag, "%s: cannot watch: %s", dir, strerror(errno));
	free(dir);
	return rc;
}

struct outbox *outbox_open(const char *spool_dir, const struct config *cfg,
			   int epfd, int workfd, const char *token,
			   struct diag *diag)
{
	struct outbox *ob = calloc(1, sizeof(*ob));

	if (!ob) {
		diag_add(diag, "outbox: out of memory");
		return NULL;
	}
	ob->outfd = ob->deadfd = -1;
	ob->curl_timer.fd = ob->retry_timer.fd = ob->watch.fd = -1;
	ob->epfd = epfd;
	ob->cfg = cfg;
	ob->workfd = workfd;
	snprintf(ob->token, sizeof(ob->token), "%s", token ? token : "");
	ob->byid = (struct strmap)STRMAP_INIT;
	if (sched_rebuild(ob) == -1) {
		diag_add(diag, "outbox: out of memory");
		goto fail;
	}
	if (open_dirs(ob, spool_dir, diag) == -1)
		goto fail;
	if (epfd >= 0 && deliver_open(ob, diag) == -1)
		goto fail;
	if (epfd >= 0 && watch_outbox(ob, spool_dir, diag) == -1)
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
	unsigned char md[32];
	char hex[65];
	struct sha256 s;

	if (size < 4 + 32 + 1)
		return -1;
	sha256_init(&s);
	sha256_update(&s, claim, strlen(claim) + 1);
	if (sha != NULL)
		sha256_update(&s, sha, strlen(sha) + 1);
	sha256_update(&s, hook, strlen(hook));
	sha256_final(&s, md);
	sha256_hex(md, hex);
	memcpy(out, "msg_", 4);
	memcpy(out + 4, hex, 32);
	out[36] = '\0';
	return 0;
}

/* A new delivery of the judged file claim (judgement j, result document
 * doc, verdict event type) through wh, queued at now_ms (real clock) and
 * due the schedule's first delay after it. */
static struct delivery *delivery_new(const struct webhook_conf *wh,
				     const char *id, const char *claim,
				     const char *type,
				     const struct judgement *j,
				     const json_t *doc, long long now_ms)
{
	const char *file = j->file;
	char created[ISO8601_SIZE];
	struct delivery *d = delivery_alloc();
	time_t now = (time_t)(now_ms / 1000);

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
	/* milliseconds: counted from the second begun, the first try would
	 * come up to a second before retry[0] */
	d->due_ms = now_ms + (wh->nretry > 0 ? wh->retry_ms[0] : 0);
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
	long long now_ms = clock_real_ms();
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
		if (outbox_get(ob, id)) {
			queued++; /* judged again after a crash: kept */
			continue;
		}
		if (has_file(ob, id))
			continue;
		d = delivery_new(wh, id, claim, type, j, doc, now_ms);
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
		d->where = D_UNSYNCED;
		if (outbox_add(ob, d) == -1) {
			delivery_free(d); /* its file is loaded at the next
					     start */
			errno = ENOMEM;
			return -1;
		}
		ob->dirty = 1;
		queued++;
	}
	return queued;
}

int outbox_synced(struct outbox *ob)
{
	if (ob->spool_fs)
		ob->dirty = 0;
	return outbox_sync(ob);
}

int outbox_sync(struct outbox *ob)
{
	if (ob->dirty) {
		if (syncfs(ob->outfd) == -1) {
			log_msg(LOG_ERR, "outbox: sync: %s", strerror(errno));
			return -1;
		}
		ob->dirty = 0;
	}
	sched_synced(ob);
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
	outbox_watch_close(ob);
	for (d = ob->head; d; d = next) {
		next = d->next;
		delivery_free(d);
	}
	sched_free(ob);
	if (ob->outfd >= 0)
		close(ob->outfd);
	if (ob->deadfd >= 0)
		close(ob->deadfd);
	free(ob);
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
