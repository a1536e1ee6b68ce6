/*
 * outbox.c - durable webhook deliveries (SPEC §6). Each delivery is one
 * JSON file in SPOOL/outbox/ holding the exact body to post and its retry
 * state; it is posted with libcurl's multi socket interface from the
 * daemon's epoll loop, unlinked on a 2xx, rewritten after each failure and
 * moved to SPOOL/dead/ when out of tries (Postfix's queue, in small).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "log.h"
#include "loop.h"
#include "outbox.h"
#include "webhook.h"

#define container_of(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

/* Largest delivery file read back at start (the body is at most 64 KiB,
 * escaped, plus the bookkeeping). */
#define MAX_DELIVERY_FILE (1024 * 1024)

struct delivery {
	struct delivery *prev, *next;
	char id[48];
	char *hook;  /* webhook name */
	char *type;  /* report.rejected ... */
	char *claim; /* the judged file's name in work/ */
	char *file;  /* its name as dropped, for logs */
	char *created;
	char *body;
	size_t len;
	int attempts;	    /* tries made */
	long long due_ms;   /* wall clock, ms: not before */
	json_t *last_error; /* NULL until a try failed */
	int synced;	    /* durable, so it may be sent */
	int inflight;
	int warned; /* "no such webhook" logged */
	char *url;  /* while in flight: to keep it out of error texts */
	struct webhook_attempt att;
};

/* One of curl's sockets. Never freed before outbox_close, so that an
 * epoll event still pending for a socket just removed finds a live
 * (inactive) struct. Indexed by fd. */
struct sock {
	struct loop_source src;
	struct outbox *ob;
	int active;
};

struct outbox {
	const struct config *cfg;
	int outfd, deadfd; /* SPOOL/outbox, SPOOL/dead */
	int epfd;
	CURLM *multi;
	int curl_broken; /* libcurl could not be started: wait for a restart */
	struct loop_source curl_timer;
	struct loop_source retry_timer;
	struct sock **socks;
	size_t nsocks;
	struct delivery *head, *tail;
	size_t count;
	int *inflight; /* per cfg->hooks[i] */
	int dirty;     /* files written since the last sync */
	uint64_t rng;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso_ms(long long ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "?");
}

/* xorshift64*: jitter needs no more. */
static uint64_t rng_next(struct outbox *ob)
{
	ob->rng ^= ob->rng >> 12;
	ob->rng ^= ob->rng << 25;
	ob->rng ^= ob->rng >> 27;
	return ob->rng * 2685821657736338717ULL;
}

static int find_hook(const struct outbox *ob, const char *name)
{
	size_t i;

	for (i = 0; ob->cfg && i < ob->cfg->nhooks; i++)
		if (strcmp(ob->cfg->hooks[i].name, name) == 0)
			return (int)i;
	return -1;
}

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
	if (!d)
		return;
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

static void file_name(const struct delivery *d, char *buf, size_t size)
{
	snprintf(buf, size, "%s.json", d->id);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write d to outbox/ID.json: temporary name, written, renamed. No fsync
 * here: a new delivery is made durable by outbox_sync() for the whole
 * batch; a lost update of the retry state only means one more try.
 */
static int delivery_write(struct outbox *ob, struct delivery *d)
{
	char name[64], tmp[72], due[32];
	json_t *o;
	char *text = NULL;
	int fd = -1, ret = -1, saved;

	iso_ms(d->due_ms, due, sizeof(due));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:O?, "
		      "s:s%}",
		      "id", d->id, "webhook", d->hook, "type", d->type, "file",
		      d->file, "claim", d->claim, "created", d->created,
		      "attempts", d->attempts, "due_ms", (json_int_t)d->due_ms,
		      "next_try", due, "last_error", d->last_error, "body",
		      d->body, d->len);
	if (!o) {
		errno = ENOMEM;
		return -1;
	}
	text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	file_name(d, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), ".%s.tmp", d->id);
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

/* ---- the event loop side ------------------------------------------ */

static void timer_arm(int fd, long long ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (ms >= 0) {
		/* 0 would disarm: "as soon as possible" is 1 ns. */
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000;
		if (ms == 0)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(fd, 0, &its, NULL);
}

static void timer_drain(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
}

static void start(struct outbox *ob, struct delivery *d, int idx);
static void check_done(struct outbox *ob);

/*
 * Start every delivery that is due and whose endpoint has room, and arm the
 * retry timer for the next one. Deliveries of a full endpoint do not count
 * for the timer: a transfer ending calls this again.
 */
static int start_curl(struct outbox *ob);

static void schedule(struct outbox *ob)
{
	struct delivery *d, *next;
	long long now, first = LLONG_MAX;

	if (ob->epfd < 0 || ob->curl_broken)
		return; /* queueing only */
	now = now_ms();
	for (d = ob->head; d; d = next) {
		int idx;

		next = d->next; /* start() may free d (given up) */
		if (!d->synced || d->inflight)
			continue;
		idx = find_hook(ob, d->hook);
		if (idx < 0) {
			if (!d->warned) {
				char claim[256];

				log_msg(
				    LOG_WARNING,
				    "webhook %s: not configured; delivery "
				    "%s (%s) kept in outbox/, not sent",
				    d->hook, d->id,
				    log_escape(d->file, claim, sizeof(claim)));
				d->warned = 1;
			}
			continue;
		}
		if (ob->inflight[idx] < WEBHOOK_MAX_INFLIGHT &&
		    d->due_ms <= now) {
			if (!ob->multi && start_curl(ob) == -1)
				return; /* logged once; the files wait */
			start(ob, d, idx);
		}
	}
	/* The next due among those that could start: a full endpoint's
	 * waiting deliveries are started when one of its transfers ends. */
	for (d = ob->head; d; d = d->next) {
		int idx;

		if (!d->synced || d->inflight || d->due_ms >= first)
			continue;
		idx = find_hook(ob, d->hook);
		if (idx >= 0 && ob->inflight[idx] < WEBHOOK_MAX_INFLIGHT)
			first = d->due_ms;
	}
	if (first == LLONG_MAX)
		timer_arm(ob->retry_timer.fd, -1);
	else
		timer_arm(ob->retry_timer.fd, first > now ? first - now : 0);
}

static void record_error(struct delivery *d, long status, const char *err)
{
	char when[32];

	iso_ms(now_ms(), when, sizeof(when));
	json_decref(d->last_error);
	d->last_error = json_pack(
	    "{s:s, s:i, s:o, s:s}", "time", when, "attempt", d->attempts,
	    "status", status > 0 ? json_integer(status) : json_null(), "error",
	    err);
}

/* Out of tries (or 410): record, move to dead/, forget. */
static void give_up(struct outbox *ob, struct delivery *d, const char *err)
{
	char name[64], claim[256];

	log_escape(d->file, claim, sizeof(claim));
	file_name(d, name, sizeof(name));
	if (delivery_write(ob, d) == -1 ||
	    renameat(ob->outfd, name, ob->deadfd, name) == -1)
		log_msg(LOG_ERR, "webhook %s: cannot move %s to dead/: %s",
			d->hook, name, strerror(errno));
	log_msg(LOG_ERR,
		"webhook %s: gave up delivery %s (%s, %s) after %d %s: %s; "
		"moved to dead/",
		d->hook, d->id, d->type, claim, d->attempts,
		d->attempts == 1 ? "try" : "tries", err);
	list_remove(ob, d);
	delivery_free(d);
}

/* An attempt failed: schedule the next try, or give up. */
static void failed(struct outbox *ob, struct delivery *d, long status,
		   const char *err, long long retry_after_ms)
{
	int idx = find_hook(ob, d->hook);
	long long now = now_ms(), delay;
	size_t nretry;
	char claim[256];

	record_error(d, status, err);
	if (idx < 0) {
		/* Removed from the configuration while in flight: keep. */
		delivery_write(ob, d);
		return;
	}
	nretry = ob->cfg->hooks[idx].nretry;
	if (nretry == 0)
		nretry = 1;
	if (status == 410 || (size_t)d->attempts >= nretry) {
		give_up(ob, d, err);
		return;
	}
	delay = ob->cfg->hooks[idx].retry_ms[d->attempts];
	if (delay > 0)
		delay += (long long)(rng_next(ob) % ((uint64_t)delay / 10 + 1));
	if (retry_after_ms > delay)
		delay = retry_after_ms;
	d->due_ms = now + delay;
	if (delivery_write(ob, d) == -1)
		log_msg(LOG_WARNING,
			"webhook %s: cannot update outbox/%s.json: %s", d->hook,
			d->id, strerror(errno));
	log_msg(LOG_WARNING,
		"webhook %s: delivery %s (%s, %s) try %d failed: %s; next try "
		"in %lld.%03lld s",
		d->hook, d->id, d->type,
		log_escape(d->file, claim, sizeof(claim)), d->attempts, err,
		delay / 1000, delay % 1000);
}

static void start(struct outbox *ob, struct delivery *d, int idx)
{
	const struct webhook_conf *wh = &ob->cfg->hooks[idx];
	CURLMcode mc;

	if (webhook_attempt_init(&d->att, wh, d->id, (long long)time(NULL),
				 d->body, d->len) == -1) {
		char err[CURL_ERROR_SIZE];

		snprintf(err, sizeof(err), "%s", d->att.errbuf);
		d->attempts++;
		failed(ob, d, 0, err, -1);
		return;
	}
	curl_easy_setopt(d->att.easy, CURLOPT_PRIVATE, d);
	free(d->url);
	d->url = strdup(wh->url);
	mc = curl_multi_add_handle(ob->multi, d->att.easy);
	if (mc != CURLM_OK) {
		webhook_attempt_cleanup(&d->att);
		d->attempts++;
		failed(ob, d, 0, curl_multi_strerror(mc), -1);
		return;
	}
	d->inflight = 1;
	ob->inflight[idx]++;
	log_msg(LOG_DEBUG, "webhook %s: posting %s, try %d", d->hook, d->id,
		d->attempts + 1);
}

/* Collect the transfers curl has finished. */
static void check_done(struct outbox *ob)
{
	CURLMsg *msg;
	int left, done = 0;

	while ((msg = curl_multi_info_read(ob->multi, &left))) {
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct delivery *d = NULL;
		char err[CURL_ERROR_SIZE + 64], name[64];
		long status = 0;
		long long ra = -1;
		int ok, idx;

		if (msg->msg != CURLMSG_DONE)
			continue;
		done = 1;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&d);
		ok = webhook_attempt_outcome(&d->att, rc, d->url, &status, err,
					     sizeof(err));
		if ((status == 429 || status == 503) && d->att.retry_after[0])
			ra = webhook_parse_retry_after(d->att.retry_after,
						       time(NULL));
		curl_multi_remove_handle(ob->multi, easy);
		webhook_attempt_cleanup(&d->att);
		d->inflight = 0;
		idx = find_hook(ob, d->hook);
		if (idx >= 0 && ob->inflight[idx] > 0)
			ob->inflight[idx]--;
		d->attempts++;
		if (ok) {
			file_name(d, name, sizeof(name));
			if (unlinkat(ob->outfd, name, 0) == -1)
				log_msg(LOG_WARNING,
					"webhook %s: cannot remove outbox/%s: "
					"%s",
					d->hook, name, strerror(errno));
			log_msg(LOG_DEBUG,
				"webhook %s: delivered %s (%s), try %d: %s",
				d->hook, d->id, d->type, d->attempts, err);
			list_remove(ob, d);
			delivery_free(d);
		} else {
			failed(ob, d, status, err, ra);
		}
	}
	if (done)
		schedule(ob);
}

static struct sock *sock_slot(struct outbox *ob, int fd);

static void on_sock_ready(struct loop_source *src, uint32_t events)
{
	struct sock *sk = container_of(src, struct sock, src);
	struct outbox *ob = sk->ob;
	int mask = 0, running;

	if (!sk->active)
		return;
	if (events & (EPOLLIN | EPOLLHUP))
		mask |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (events & EPOLLERR)
		mask |= CURL_CSELECT_ERR;
	curl_multi_socket_action(ob->multi, src->fd, mask, &running);
	check_done(ob);
}

static struct sock *sock_slot(struct outbox *ob, int fd)
{
	if ((size_t)fd >= ob->nsocks) {
		size_t n = (size_t)fd + 16;
		struct sock **p = realloc(ob->socks, n * sizeof(*p));

		if (!p)
			return NULL;
		memset(p + ob->nsocks, 0, (n - ob->nsocks) * sizeof(*p));
		ob->socks = p;
		ob->nsocks = n;
	}
	if (!ob->socks[fd]) {
		ob->socks[fd] = calloc(1, sizeof(struct sock));
		if (!ob->socks[fd])
			return NULL;
		ob->socks[fd]->ob = ob;
		ob->socks[fd]->src.ready = on_sock_ready;
	}
	return ob->socks[fd];
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp,
		     void *sockp)
{
	struct outbox *ob = userp;
	struct sock *sk;
	uint32_t ev = 0;

	(void)easy;
	(void)sockp;
	if (s < 0)
		return 0;
	sk = sock_slot(ob, s);
	if (!sk)
		return -1;
	if (what == CURL_POLL_REMOVE) {
		if (sk->active)
			loop_del(ob->epfd, &sk->src);
		sk->active = 0;
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	sk->src.fd = s;
	if (sk->active && loop_mod(ob->epfd, &sk->src, ev) == 0)
		return 0;
	/* New, or a number curl closed and reused without telling. */
	if (loop_add(ob->epfd, &sk->src, ev) == -1 &&
	    (errno != EEXIST || loop_mod(ob->epfd, &sk->src, ev) == -1)) {
		log_msg(LOG_ERR, "webhook: cannot watch a socket: %s",
			strerror(errno));
		return -1;
	}
	sk->active = 1;
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct outbox *ob = userp;

	(void)multi;
	timer_arm(ob->curl_timer.fd, timeout_ms < 0 ? -1 : timeout_ms);
	return 0;
}

static void on_curl_timer(struct loop_source *src, uint32_t events)
{
	struct outbox *ob = container_of(src, struct outbox, curl_timer);
	int running;

	(void)events;
	timer_drain(src->fd);
	curl_multi_socket_action(ob->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(ob);
}

static void on_retry_timer(struct loop_source *src, uint32_t events)
{
	struct outbox *ob = container_of(src, struct outbox, retry_timer);

	(void)events;
	timer_drain(src->fd);
	schedule(ob);
}

/* ---- loading ------------------------------------------------------ */

static const char *str_member(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Parse one delivery file; NULL if it is not one. */
static struct delivery *delivery_parse(const char *text, size_t len,
				       const char *fname)
{
	json_t *o = json_loadb(text, len, 0, NULL);
	struct delivery *d = NULL;
	const char *id, *hook, *type, *body;
	json_t *att, *due, *jbody, *err;
	char expect[64];

	if (!json_is_object(o))
		goto out;
	id = str_member(o, "id");
	hook = str_member(o, "webhook");
	type = str_member(o, "type");
	jbody = json_object_get(o, "body");
	body = json_string_value(jbody);
	att = json_object_get(o, "attempts");
	due = json_object_get(o, "due_ms");
	if (!id || strlen(id) >= sizeof(d->id) || !hook || !type || !body ||
	    !json_is_integer(att) || !json_is_integer(due) ||
	    json_integer_value(att) < 0 || json_integer_value(att) > INT_MAX)
		goto out;
	snprintf(expect, sizeof(expect), "%s.json", id);
	if (strcmp(expect, fname) != 0)
		goto out;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out;
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->hook = strdup(hook);
	d->type = strdup(type);
	d->claim =
	    strdup(str_member(o, "claim") ? str_member(o, "claim") : "?");
	d->created =
	    strdup(str_member(o, "created") ? str_member(o, "created") : "?");
	d->file = strdup(str_member(o, "file") ? str_member(o, "file") : "?");
	d->len = json_string_length(jbody);
	d->body = malloc(d->len + 1);
	if (!d->hook || !d->type || !d->claim || !d->file || !d->created ||
	    !d->body) {
		delivery_free(d);
		d = NULL;
		goto out;
	}
	memcpy(d->body, body, d->len);
	d->body[d->len] = '\0';
	d->attempts = (int)json_integer_value(att);
	d->due_ms = json_integer_value(due);
	err = json_object_get(o, "last_error");
	if (json_is_object(err))
		d->last_error = json_incref(err);
	d->synced = 1;
out:
	json_decref(o);
	return d;
}

static int read_file_at(int dirfd, const char *name, char **buf, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *p = NULL;
	size_t got = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MAX_DELIVERY_FILE)
		goto fail;
	p = malloc((size_t)st.st_size + 1);
	if (!p)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	close(fd);
	*buf = p;
	*len = got;
	return 0;
fail:
	free(p);
	close(fd);
	return -1;
}

static int by_due(const void *a, const void *b)
{
	const struct delivery *x = *(struct delivery *const *)a;
	const struct delivery *y = *(struct delivery *const *)b;

	if (x->due_ms != y->due_ms)
		return x->due_ms < y->due_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Load outbox/ *.json, oldest due first; remove stale temporary files. */
static int load(struct outbox *ob, struct diag *diag)
{
	struct delivery **all = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *dir;
	int fd = dup(ob->outfd);

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		diag_add(diag, "outbox: cannot read: %s", strerror(errno));
		return -1;
	}
	while ((de = readdir(dir))) {
		const char *name = de->d_name;
		size_t nl = strlen(name);
		struct delivery *d;
		char *text;
		size_t len;

		if (name[0] == '.') {
			if (nl > 4 && strcmp(name + nl - 4, ".tmp") == 0)
				unlinkat(ob->outfd, name, 0);
			continue;
		}
		if (nl < 6 || strcmp(name + nl - 5, ".json") != 0)
			continue;
		if (read_file_at(ob->outfd, name, &text, &len) == -1) {
			log_msg(LOG_WARNING, "outbox: cannot read %s: %s", name,
				strerror(errno));
			continue;
		}
		d = delivery_parse(text, len, name);
		free(text);
		if (!d) {
			char esc[256];

			log_escape(name, esc, sizeof(esc));
			log_msg(LOG_ERR,
				"outbox: %s is not a delivery; moved to dead/",
				esc);
			renameat(ob->outfd, name, ob->deadfd, name);
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct delivery **p = realloc(all, nc * sizeof(*p));

			if (!p) {
				delivery_free(d);
				break;
			}
			all = p;
			cap = nc;
		}
		all[n++] = d;
	}
	closedir(dir);
	if (n > 0)
		qsort(all, n, sizeof(*all), by_due);
	for (i = 0; i < n; i++)
		list_append(ob, all[i]);
	free(all);
	if (n > 0)
		log_msg(LOG_INFO, "outbox: %zu pending deliveries resumed", n);
	return 0;
}

/* ---- the API ------------------------------------------------------ */

static int open_subdir(int spoolfd, const char *name, struct diag *diag,
		       const char *spool)
{
	int fd;

	if (mkdirat(spoolfd, name, 0750) == -1 && errno != EEXIST) {
		diag_add(diag, "%s/%s: cannot create: %s", spool, name,
			 strerror(errno));
		return -1;
	}
	fd = openat(spoolfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		diag_add(diag, "%s/%s: cannot open: %s", spool, name,
			 strerror(errno));
	return fd;
}

/* The timers of the outbox; libcurl itself starts with the first send. */
static int setup_timers(struct outbox *ob, struct diag *diag)
{
	ob->curl_timer.fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ob->retry_timer.fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ob->curl_timer.ready = on_curl_timer;
	ob->retry_timer.ready = on_retry_timer;
	if (ob->curl_timer.fd < 0 || ob->retry_timer.fd < 0) {
		diag_add(diag, "outbox: timerfd: %s", strerror(errno));
		return -1;
	}
	if (loop_add(ob->epfd, &ob->curl_timer, EPOLLIN) == -1 ||
	    loop_add(ob->epfd, &ob->retry_timer, EPOLLIN) == -1) {
		diag_add(diag, "outbox: epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Start libcurl, at the first delivery due: a daemon without webhooks never
 * loads it (curl_shim.c). 0, or -1 (logged) with deliveries left waiting.
 */
static int start_curl(struct outbox *ob)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {
		ob->multi = curl_multi_init();
		if (!ob->multi)
			curl_global_cleanup();
	}
	if (!ob->multi) {
		/* a library that could not be loaded stays so: say it once */
		ob->curl_broken = 1;
		log_msg(LOG_ERR, "outbox: cannot start libcurl; deliveries "
				 "wait in outbox/ until expensed is restarted "
				 "with libcurl (libcurl4) installed");
		return -1;
	}
	curl_multi_setopt(ob->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(ob->multi, CURLMOPT_SOCKETDATA, ob);
	curl_multi_setopt(ob->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(ob->multi, CURLMOPT_TIMERDATA, ob);
	return 0;
}

struct outbox *outbox_open(const char *spool_dir, const struct config *cfg,
			   int epfd, struct diag *diag)
{
	struct outbox *ob = calloc(1, sizeof(*ob));
	int spoolfd = -1;

	if (!ob) {
		diag_add(diag, "outbox: out of memory");
		return NULL;
	}
	ob->outfd = ob->deadfd = -1;
	ob->curl_timer.fd = ob->retry_timer.fd = -1;
	ob->epfd = epfd;
	ob->cfg = cfg;
	if (getrandom(&ob->rng, sizeof(ob->rng), GRND_NONBLOCK) !=
		sizeof(ob->rng) ||
	    ob->rng == 0)
		ob->rng = (uint64_t)now_ms() | 1;
	ob->inflight = calloc(cfg->nhooks + 1, sizeof(int));
	if (!ob->inflight) {
		diag_add(diag, "outbox: out of memory");
		goto fail;
	}
	spoolfd = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (spoolfd < 0) {
		diag_add(diag, "%s: cannot open: %s", spool_dir,
			 strerror(errno));
		goto fail;
	}
	ob->outfd = open_subdir(spoolfd, "outbox", diag, spool_dir);
	if (ob->outfd < 0)
		goto fail;
	ob->deadfd = open_subdir(spoolfd, "dead", diag, spool_dir);
	if (ob->deadfd < 0)
		goto fail;
	close(spoolfd);
	spoolfd = -1;
	if (epfd >= 0 && setup_timers(ob, diag) == -1)
		goto fail;
	if (load(ob, diag) == -1)
		goto fail;
	schedule(ob);
	return ob;
fail:
	if (spoolfd >= 0)
		close(spoolfd);
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

static struct delivery *find_delivery(const struct outbox *ob, const char *id)
{
	struct delivery *d;

	for (d = ob->head; d; d = d->next)
		if (strcmp(d->id, id) == 0)
			return d;
	return NULL;
}

int outbox_queue(struct outbox *ob, const char *claim, enum verdict verdict,
		 const json_t *result_doc)
{
	const char *sha =
	    json_string_value(json_object_get(result_doc, "sha256"));
	const char *file =
	    json_string_value(json_object_get(result_doc, "file"));
	const char *type = webhook_event_type(verdict);
	unsigned bit = webhook_event_bit(verdict);
	time_t now = time(NULL);
	char created[32];
	int queued = 0;
	size_t i;

	iso_ms((long long)now * 1000, created, sizeof(created));
	for (i = 0; i < ob->cfg->nhooks; i++) {
		const struct webhook_conf *wh = &ob->cfg->hooks[i];
		struct delivery *d;
		char id[48], name[64];

		if (!(wh->events & bit))
			continue;
		if (make_id(claim, sha, wh->name, id, sizeof(id)) == -1)
			return -1;
		snprintf(name, sizeof(name), "%s.json", id);
		if (find_delivery(ob, id)) {
			queued++; /* judged again after a crash: kept */
			continue;
		}
		if (faccessat(ob->deadfd, name, F_OK, AT_SYMLINK_NOFOLLOW) ==
			0 ||
		    faccessat(ob->outfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue; /* given up already, or someone else's */
		d = calloc(1, sizeof(*d));
		if (!d)
			return -1;
		snprintf(d->id, sizeof(d->id), "%s", id);
		d->hook = strdup(wh->name);
		d->type = strdup(type);
		d->claim = strdup(claim);
		d->file = strdup(file ? file : claim);
		d->created = strdup(created);
		d->body = webhook_build_body(wh->format, type, result_doc, now,
					     &d->len);
		d->due_ms = (long long)now * 1000 +
			    (wh->nretry > 0 ? wh->retry_ms[0] : 0);
		if (!d->hook || !d->type || !d->claim || !d->file ||
		    !d->created || !d->body) {
			delivery_free(d);
			errno = ENOMEM;
			return -1;
		}
		if (delivery_write(ob, d) == -1) {
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
	schedule(ob);
	return 0;
}

size_t outbox_backlog(const struct outbox *ob)
{
	return ob ? ob->count : 0;
}

void outbox_reconfigure(struct outbox *ob, const struct config *cfg)
{
	int *counts = calloc(cfg->nhooks + 1, sizeof(int));
	struct delivery *d;

	if (!counts) {
		log_msg(LOG_ERR, "outbox: out of memory at reload");
		return;
	}
	ob->cfg = cfg;
	free(ob->inflight);
	ob->inflight = counts;
	for (d = ob->head; d; d = d->next) {
		int idx = find_hook(ob, d->hook);

		if (d->inflight && idx >= 0)
			ob->inflight[idx]++;
		if (idx >= 0)
			d->warned = 0;
	}
	schedule(ob);
}

void outbox_close(struct outbox *ob)
{
	struct delivery *d, *next;
	size_t i;

	if (!ob)
		return;
	for (d = ob->head; d; d = next) {
		next = d->next;
		if (d->inflight) {
			curl_multi_remove_handle(ob->multi, d->att.easy);
			webhook_attempt_cleanup(&d->att);
		}
		delivery_free(d);
	}
	if (ob->multi) {
		curl_multi_cleanup(ob->multi);
		curl_global_cleanup();
	}
	for (i = 0; i < ob->nsocks; i++) {
		if (ob->socks[i] && ob->socks[i]->active)
			loop_del(ob->epfd, &ob->socks[i]->src);
		free(ob->socks[i]);
	}
	free(ob->socks);
	if (ob->curl_timer.fd >= 0) {
		if (ob->epfd >= 0)
			loop_del(ob->epfd, &ob->curl_timer);
		close(ob->curl_timer.fd);
	}
	if (ob->retry_timer.fd >= 0) {
		if (ob->epfd >= 0)
			loop_del(ob->epfd, &ob->retry_timer);
		close(ob->retry_timer.fd);
	}
	if (ob->outfd >= 0)
		close(ob->outfd);
	if (ob->deadfd >= 0)
		close(ob->deadfd);
	free(ob->inflight);
	free(ob);
}
