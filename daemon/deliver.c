/*
 * deliver.c - the delivery driver: posts the outbox's deliveries with
 * libcurl's multi socket interface from the daemon's epoll loop (curl's
 * sockets and timeout, and a retry timer for the next delivery due), each
 * under its file's lock (outbox_int.h), and decides after each attempt:
 * done, another try later (the webhook's schedule with jitter, or
 * Retry-After), or dead/ (out of tries, or a permanent failure).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../common/timefmt.h"
#include "../common/utf8.h"
#include "log.h"
#include "metrics.h"
#include "outbox_int.h"

/* One of curl's sockets. Never freed before deliver_close, so that an
 * epoll event still pending for a socket just removed finds a live
 * (inactive) struct. */
struct sock {
	struct loop_source src;
	struct outbox *ob;
	int active;
};

/* xorshift64*: jitter needs no more. */
static uint64_t rng_next(struct outbox *ob)
{
	ob->rng ^= ob->rng >> 12;
	ob->rng ^= ob->rng << 25;
	ob->rng ^= ob->rng >> 27;
	return ob->rng * 2685821657736338717ULL;
}

/* ---- attempts ------------------------------------------------------ */

/* Answers that no retry will change: the request itself is refused. */
static int permanent(long status)
{
	return status == 400 || status == 410 || status == 413 || status == 422;
}

/* The first bytes of an answer's body as a JSON string (a cut character
 * or any byte that is not UTF-8 as U+FFFD, NUL as U+FFFD too), or NULL. */
static json_t *answer_text(const struct webhook_attempt *a)
{
	char buf[WEBHOOK_ANSWER_KEEP + 1], *s;
	json_t *j;
	size_t i;

	if (a->answer_len == 0)
		return NULL;
	for (i = 0; i < a->answer_len; i++)
		buf[i] = a->answer[i] ? a->answer[i] : '\xff';
	buf[i] = '\0';
	s = utf8_lossy_dup(buf);
	if (!s)
		return NULL;
	j = json_string(s);
	free(s);
	return j;
}

static void record_error(struct delivery *d, long status, const char *err,
			 json_t *answer)
{
	char when[ISO8601_SIZE];

	iso8601_utc(time(NULL), when, sizeof(when));
	json_decref(d->last_error);
	/* NULL if memory runs out (json_pack then releases the "o" values):
	 * the delivery is saved without its optional last_error */
	d->last_error = json_pack(
	    "{s:s, s:i, s:o, s:o}", "time", when, "attempt", d->attempts,
	    "status", status > 0 ? json_integer(status) : json_null(), "error",
	    json_string_lossy(err ? err : ""));
	if (d->last_error && answer)
		json_object_set(d->last_error, "answer", answer);
	json_decref(answer);
}

/* Out of tries (or a permanent failure): record, move to dead/, forget. */
static void give_up(struct outbox *ob, struct delivery *d, const char *err)
{
	char claim[256];

	log_escape(d->file, claim, sizeof(claim));
	metrics_delivery(d->hook, "dead");
	outbox_move_dead(ob, d);
	log_msg(LOG_ERR,
		"webhook %s: gave up delivery %s (%s, %s) after %d %s: %s; "
		"moved to dead/",
		d->hook, d->id, d->type, claim, d->attempts,
		d->attempts == 1 ? "try" : "tries", err);
	outbox_forget(ob, d);
}

/* The delay before try d->attempts + 1 of webhook idx, in ms. */
static long long retry_delay(struct outbox *ob, const struct delivery *d,
			     int idx, long long retry_after_ms)
{
	long long delay = ob->cfg->hooks[idx].retry_ms[d->attempts];

	if (delay > 0)
		delay += (long long)(rng_next(ob) % ((uint64_t)delay / 10 + 1));
	if (retry_after_ms > delay)
		delay = retry_after_ms;
	return delay;
}

/* Delivery d's webhook is not in the configuration: d is kept, idle, and
 * that is logged once (until a reload brings the webhook back). */
static void not_configured(struct delivery *d)
{
	char claim[256];

	d->where = D_IDLE;
	if (d->warned)
		return;
	log_msg(LOG_WARNING,
		"webhook %s: not configured; delivery %s (%s) kept in outbox/, "
		"not sent",
		d->hook, d->id, log_escape(d->file, claim, sizeof(claim)));
	d->warned = 1;
}

/* An attempt failed (answer: the first bytes of the answer's body, or
 * NULL; taken): schedule the next try, or give up. d's lock is released
 * once its file says so. */
static void failed(struct outbox *ob, struct delivery *d, long status,
		   const char *err, long long retry_after_ms, json_t *answer)
{
	int idx = outbox_find_hook(ob, d->hook);
	char claim[256], name[DELIVERY_NAME_SIZE];
	long long delay;
	size_t nretry;

	record_error(d, status, err, answer);
	if (idx < 0) {
		/* Removed from the configuration while in flight: a failed try
		 * like any other, then kept until the webhook is back. */
		metrics_delivery(d->hook, "retried");
		if (outbox_save(ob, d) == -1) {
			outbox_file_name(d->id, name, sizeof(name));
			log_msg(LOG_WARNING,
				"webhook %s: cannot update outbox/%s: %s",
				d->hook, name, strerror(errno));
		}
		outbox_release(d);
		log_msg(LOG_WARNING,
			"webhook %s: delivery %s (%s, %s) try %d failed: %s; "
			"no next try while the webhook is not configured",
			d->hook, d->id, d->type,
			log_escape(d->file, claim, sizeof(claim)), d->attempts,
			err);
		not_configured(d);
		return;
	}
	nretry = ob->cfg->hooks[idx].nretry;
	if (nretry == 0)
		nretry = 1;
	if (permanent(status) || (size_t)d->attempts >= nretry) {
		give_up(ob, d, err);
		return;
	}
	delay = retry_delay(ob, d, idx, retry_after_ms);
	metrics_delivery(d->hook, "retried");
	d->due_ms = clock_real_ms() + delay;
	if (outbox_save(ob, d) == -1) {
		outbox_file_name(d->id, name, sizeof(name));
		log_msg(LOG_WARNING, "webhook %s: cannot update outbox/%s: %s",
			d->hook, name, strerror(errno));
	}
	outbox_release(d);
	sched_push(ob, d);
	log_msg(LOG_WARNING,
		"webhook %s: delivery %s (%s, %s) try %d failed: %s; next try "
		"in %lld.%03lld s",
		d->hook, d->id, d->type,
		log_escape(d->file, claim, sizeof(claim)), d->attempts, err,
		delay / 1000, delay % 1000);
}

/* Whether d is of another daemon's claim still in work/: its batch not
 * synced yet (or its daemon died, and the claim waits to be judged
 * again); it is not posted before (outbox_open()). */
static bool claim_pending(const struct outbox *ob, const struct delivery *d)
{
	struct spool_work_name wn;

	return ob->workfd >= 0 && d->claim != NULL &&
	       spool_name_parse_work(d->claim, &wn) == 0 && wn.kind == 'c' &&
	       strcmp(wn.token, ob->token) != 0 &&
	       faccessat(ob->workfd, d->claim, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Why a delivery whose file was replaced by hand is given up. */
#define BAD_FILE "its file in outbox/ was replaced by one that is no delivery"

/* Lock d for an attempt: 1 if it may be posted now; else it is back in
 * the heap for later (its claim not yet archived by another daemon,
 * another daemon has it, or has rescheduled it) or forgotten (done by
 * another daemon, or given up: its file replaced by one that is none). */
static int claim(struct outbox *ob, struct delivery *d, long long now)
{
	if (claim_pending(ob, d)) {
		d->due_ms = now + DELIVERY_BUSY_MS;
		sched_push(ob, d);
		return 0;
	}
	switch (outbox_claim(ob, d)) {
	case CLAIM_OK:
		if (d->due_ms <= now)
			return 1;
		outbox_release(d); /* tried and rescheduled meanwhile */
		break;
	case CLAIM_BUSY:
		d->due_ms = now + DELIVERY_BUSY_MS;
		break;
	case CLAIM_GONE:
		log_msg(LOG_DEBUG, "webhook %s: %s done by another daemon",
			d->hook, d->id);
		outbox_forget(ob, d);
		return 0;
	case CLAIM_BAD:
		/* Replaced by hand. Put back for a second later, it was
		 * logged every second for good. Like a file that is no
		 * delivery at start, it goes to dead/, but as this delivery
		 * was last read, which `expensed requeue` can send again. */
		record_error(d, 0, BAD_FILE, NULL);
		give_up(ob, d, BAD_FILE);
		return 0;
	case CLAIM_ERROR:
		log_msg(LOG_WARNING, "webhook %s: cannot lock %s: %s", d->hook,
			d->id, strerror(errno));
		d->due_ms = now + DELIVERY_BUSY_MS;
		break;
	}
	sched_push(ob, d);
	return 0;
}

/* Post d (taken off the schedule) through webhook idx, if its lock is
 * free and it is still due. */
static void start(struct outbox *ob, struct delivery *d, int idx, long long now)
{
	const struct webhook_conf *wh = &ob->cfg->hooks[idx];
	CURLMcode mc;

	if (!claim(ob, d, now))
		return;
	if (webhook_attempt_init(&d->att, wh, d->id, (long long)time(NULL),
				 d->body, d->len) == -1) {
		char err[CURL_ERROR_SIZE];

		snprintf(err, sizeof(err), "%s", d->att.errbuf);
		d->attempts++;
		failed(ob, d, 0, err, -1, NULL);
		return;
	}
	curl_easy_setopt(d->att.easy, CURLOPT_PRIVATE, d);
	free(d->url);
	d->url = strdup(wh->url);
	mc = curl_multi_add_handle(ob->multi, d->att.easy);
	if (mc != CURLM_OK) {
		webhook_attempt_cleanup(&d->att);
		d->attempts++;
		failed(ob, d, 0, curl_multi_strerror(mc), -1, NULL);
		return;
	}
	d->where = D_INFLIGHT;
	ob->inflight[idx]++;
	log_msg(LOG_DEBUG, "webhook %s: posting %s, try %d", d->hook, d->id,
		d->attempts + 1);
}

/* The webhook of d (off the schedule) if it can take a transfer now; else
 * -1, d parked on its webhook's line or idle (webhook not configured). */
static int room_for(struct outbox *ob, struct delivery *d)
{
	int idx = outbox_find_hook(ob, d->hook);

	if (idx < 0) {
		not_configured(d);
		return -1;
	}
	if (ob->inflight[idx] >= WEBHOOK_MAX_INFLIGHT) {
		sched_park(ob, d, idx);
		return -1;
	}
	return idx;
}

void deliver_schedule(struct outbox *ob)
{
	struct delivery *d;
	long long now;
	size_t i;
	int idx;

	if (ob->epfd < 0 || !ob->multi)
		return; /* queueing only, or libcurl did not start */
	now = clock_real_ms();
	/* Due ones that waited for room first, in order. */
	for (i = 0; i < ob->cfg->nhooks; i++)
		while (ob->inflight[i] < WEBHOOK_MAX_INFLIGHT &&
		       (d = sched_unpark(ob, (int)i)))
			start(ob, d, (int)i, now);
	/* Then the heap's due ones: started, or parked. A delivery put back
	 * by start() is due later than now, so this ends. */
	while ((d = sched_top(ob)) && d->due_ms <= now) {
		sched_pop(ob);
		idx = room_for(ob, d);
		if (idx >= 0)
			start(ob, d, idx, now);
	}
	loop_timer_defer(&ob->retry_timer, d ? d->due_ms - now : -1);
}

/* One transfer curl has finished: delivered, or failed. */
static void finish(struct outbox *ob, CURL *easy, CURLcode rc)
{
	struct delivery *d = NULL;
	char err[CURL_ERROR_SIZE + 64];
	long status = 0;
	long long ra = -1;
	int ok, idx;

	json_t *answer = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&d);
	ok = webhook_attempt_outcome(&d->att, rc, d->url, &status, err,
				     sizeof(err));
	if (status == 429 || status == 503)
		ra = webhook_attempt_retry_after(&d->att);
	if (!ok)
		answer = answer_text(&d->att);
	curl_multi_remove_handle(ob->multi, easy);
	webhook_attempt_cleanup(&d->att);
	d->where = D_IDLE;
	idx = outbox_find_hook(ob, d->hook);
	if (idx >= 0 && ob->inflight[idx] > 0)
		ob->inflight[idx]--;
	d->attempts++;
	if (!ok) {
		failed(ob, d, status, err, ra, answer);
		return;
	}
	outbox_remove_file(ob, d);
	metrics_delivery(d->hook, "delivered");
	log_msg(LOG_DEBUG, "webhook %s: delivered %s (%s), try %d: %s", d->hook,
		d->id, d->type, d->attempts, err);
	outbox_forget(ob, d);
}

/* Collect the transfers curl has finished. */
static void check_done(struct outbox *ob)
{
	CURLMsg *msg;
	int left, done = 0;

	while ((msg = curl_multi_info_read(ob->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		done = 1;
		finish(ob, msg->easy_handle, msg->data.result);
	}
	if (done)
		deliver_schedule(ob);
}

/* ---- curl's sockets and timer in the event loop ------------------- */

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
	/* libcurl moves its timeout at nearly every call: armed once,
	 * before the loop waits */
	loop_timer_defer(&ob->curl_timer, timeout_ms < 0 ? -1 : timeout_ms);
	return 0;
}

static void on_curl_timer(struct loop_source *src, uint32_t events)
{
	struct outbox *ob = container_of(src, struct outbox, curl_timer);
	int running;

	(void)events;
	loop_timer_drain(src);
	curl_multi_socket_action(ob->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(ob);
}

static void on_retry_timer(struct loop_source *src, uint32_t events)
{
	struct outbox *ob = container_of(src, struct outbox, retry_timer);

	(void)events;
	loop_timer_drain(src);
	deliver_schedule(ob);
}

/* ---- setup and teardown ------------------------------------------- */

static int setup_timers(struct outbox *ob, struct diag *diag)
{
	if (loop_timer_open(ob->epfd, &ob->curl_timer, on_curl_timer) == -1 ||
	    loop_timer_open(ob->epfd, &ob->retry_timer, on_retry_timer) == -1) {
		diag_add(diag, "outbox: timer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Start libcurl for the daemon's life. A libcurl that cannot start will
 * not start later either: say so once and let the files wait.
 */
static void start_curl(struct outbox *ob)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {
		ob->multi = curl_multi_init();
		if (!ob->multi)
			curl_global_cleanup();
	}
	if (!ob->multi) {
		log_msg(LOG_ERR, "outbox: cannot start libcurl; deliveries "
				 "wait in outbox/ until expensed is restarted");
		return;
	}
	curl_multi_setopt(ob->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(ob->multi, CURLMOPT_SOCKETDATA, ob);
	curl_multi_setopt(ob->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(ob->multi, CURLMOPT_TIMERDATA, ob);
}

int deliver_open(struct outbox *ob, struct diag *diag)
{
	if (getrandom(&ob->rng, sizeof(ob->rng), GRND_NONBLOCK) !=
		sizeof(ob->rng) ||
	    ob->rng == 0)
		ob->rng = (uint64_t)clock_real_ms() | 1;
	if (setup_timers(ob, diag) == -1)
		return -1;
	start_curl(ob);
	return 0;
}

void deliver_close(struct outbox *ob)
{
	struct delivery *d;
	size_t i;

	for (d = ob->head; d; d = d->next) {
		if (d->where == D_INFLIGHT) {
			curl_multi_remove_handle(ob->multi, d->att.easy);
			webhook_attempt_cleanup(&d->att);
			outbox_release(d); /* tried again at the next start */
			d->where = D_IDLE;
		}
	}
	if (ob->multi) {
		curl_multi_cleanup(ob->multi);
		curl_global_cleanup();
		ob->multi = NULL;
	}
	for (i = 0; i < ob->nsocks; i++) {
		if (ob->socks[i] && ob->socks[i]->active)
			loop_del(ob->epfd, &ob->socks[i]->src);
		free(ob->socks[i]);
	}
	free(ob->socks);
	ob->socks = NULL;
	ob->nsocks = 0;
	loop_timer_close(ob->epfd, &ob->curl_timer);
	loop_timer_close(ob->epfd, &ob->retry_timer);
}

void outbox_reconfigure(struct outbox *ob, const struct config *cfg)
{
	ob->cfg = cfg;
	if (sched_rebuild(ob) == -1)
		log_msg(LOG_ERR, "outbox: out of memory at reload; some "
				 "deliveries wait for the next reload");
	deliver_schedule(ob);
}
