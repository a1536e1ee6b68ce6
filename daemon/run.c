/*
 * run.c - `expensed run`: the daemon in the foreground (docs/operations.md).
 * One epoll loop waits on inotify (watch.c), a signalfd, timerfds (rescan,
 * settle, watchdog) and the outbox's sockets and timers; between events it
 * takes the ready files in batches of up to SPOOL_BATCH_MAX through spool.c.
 */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "../common/i18n.h"
#include "config.h"
#include "ledger.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
#include "outbox.h"
#include "spool.h"
#include "watch.h"
#include "worker.h"

struct daemon {
	int epfd;
	const char *config_file;
	struct config *cfg;
	struct ruleset *rs;
	struct spool *sp;
	struct ledger *ledger;
	struct outbox *ob;
	struct watch *w;
	struct spool_ctx ctx;

	struct loop_source sig, rescan, wdog, metrics;
	struct loop_source save; /* one-shot: the totals, after batches */
	int stop, reload, rescan_due;
	int save_armed; /* save is armed */

	struct spool_item *recov; /* recovery items not yet processed */
	size_t nrecov, recov_pos;
	struct spool_item batch[SPOOL_BATCH_MAX];
	size_t since_trim;	       /* files taken since the last trim */
	unsigned long long status_sum; /* totals at the last STATUS= */
	size_t status_backlog;
	int status_full;   /* spool_nospace() at the last STATUS= */
	int metrics_errno; /* of the last failed write, 0 after success */
};

/*
 * The totals are saved in state/metrics at most once per SAVE_MS after a
 * batch (and at each metrics interval, and at stop), not after every
 * batch: a rename there starts a writeback that the next batch's sync
 * then waits for. A kill -9 loses at most the counts of that last second.
 */
#define SAVE_MS 1000

/* Once nothing happened for TRIM_QUIET_MS after files were taken, the heap
 * they used is given back to the system: at the end of a burst, after its
 * last delivery (a trim right after the last batch, with the deliveries
 * still to send, left their heap fragmented: RSS 1.5 MB more); one wakeup,
 * then the loop sleeps without a timeout again. Not between lone files
 * dropped closer together than that: malloc_trim walks the whole heap and
 * calls madvise on every free page run, each time. */
#define TRIM_QUIET_MS 500

#define CONTAINER(ptr, type, member)                                           \
	((type *)((char *)(ptr)-offsetof(type, member)))

static void usage(FILE *f)
{
	fprintf(f, "usage: expensed run [-c FILE] [-v]\n");
}

static void log_diag(int prio, const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		log_msg(prio, "%s", d->lines[i]);
}

/* Why the daemon does not start: on stderr, as every command says what
 * went wrong (a container may have no syslog at all), and in the log;
 * once where log lines are copied to stderr already (-v, a terminal) or
 * where stderr is the journal that has the log lines, unless [log] level
 * (crit) leaves err lines out of the log: then stderr alone says it. */
static void start_failed(const struct diag *d)
{
	if (!log_enabled(LOG_ERR) ||
	    (!log_to_stderr() && !log_stderr_is_journal()))
		cli_diag("", d);
	log_diag(LOG_ERR, d);
}

static void send_status(struct daemon *d, int force)
{
	/* totals since the spool was created (metrics.h) */
	struct metrics_totals t = metrics_totals();
	unsigned long long sum = t.accepted + t.rejected + t.invalid;
	size_t backlog = d->ob ? outbox_backlog(d->ob) : 0;
	int full = d->sp != NULL && spool_nospace(d->sp);

	if (!force && sum == d->status_sum && backlog == d->status_backlog &&
	    full == d->status_full)
		return;
	d->status_sum = sum;
	d->status_backlog = backlog;
	d->status_full = full;
	notify_sendf("STATUS=accepted %llu, rejected %llu, invalid %llu, "
		     "outbox backlog %zu%s",
		     t.accepted, t.rejected, t.invalid, backlog,
		     full ? "; no room on the spool's file system" : "");
}

/* A failed metrics write is logged when its reason changes, not at every
 * interval. */
static void metrics_failed(struct daemon *d, const char *what)
{
	int e = errno;

	if (e != d->metrics_errno)
		log_msg(LOG_WARNING, "cannot write %s: %s", what, strerror(e));
	d->metrics_errno = e;
}

/* The totals into state/metrics, and the textfile when configured. */
static void write_metrics(struct daemon *d)
{
	char esc[1024];

	if (metrics_save(spool_statefd(d->sp)) == -1) {
		metrics_failed(d, "state/" METRICS_STATE_NAME);
		return;
	}
	if (metrics_write_textfile(d->cfg, outbox_backlog(d->ob)) == -1) {
		metrics_failed(
		    d, log_escape(d->cfg->metrics_textfile, esc, sizeof(esc)));
		return;
	}
	d->metrics_errno = 0;
}

static void on_metrics(struct loop_source *src, uint32_t events)
{
	struct daemon *d = CONTAINER(src, struct daemon, metrics);

	(void)events;
	loop_timer_drain(src);
	write_metrics(d);
}

/* The totals into state/metrics (SAVE_MS after a batch). */
static void on_save(struct loop_source *src, uint32_t events)
{
	struct daemon *d = CONTAINER(src, struct daemon, save);

	(void)events;
	loop_timer_drain(src);
	d->save_armed = 0;
	if (metrics_save(spool_statefd(d->sp)) == -1)
		metrics_failed(d, "state/" METRICS_STATE_NAME);
}

/* After a batch: the totals are saved within SAVE_MS. */
static void save_soon(struct daemon *d)
{
	if (d->save_armed)
		return;
	if (loop_timer_arm(&d->save, SAVE_MS) == -1) {
		/* no timer: save now rather than not at all */
		if (metrics_save(spool_statefd(d->sp)) == -1)
			metrics_failed(d, "state/" METRICS_STATE_NAME);
		return;
	}
	d->save_armed = 1;
}

static void on_signal(struct loop_source *src, uint32_t events)
{
	struct daemon *d = CONTAINER(src, struct daemon, sig);
	struct signalfd_siginfo si;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			d->reload = 1;
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			d->stop = 1;
	}
}

static void on_rescan(struct loop_source *src, uint32_t events)
{
	struct daemon *d = CONTAINER(src, struct daemon, rescan);

	(void)events;
	loop_timer_drain(src);
	d->rescan_due = 1;
}

static void on_watchdog(struct loop_source *src, uint32_t events)
{
	(void)events;
	loop_timer_drain(src);
	notify_send("WATCHDOG=1");
}

static void do_reload(struct daemon *d)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct ruleset *rs = NULL;
	struct diag diag = DIAG_INIT, warn = DIAG_INIT;
	struct timespec ts;
	int ok = 0;

	d->reload = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_sendf("RELOADING=1\nMONOTONIC_USEC=%llu",
		     (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	log_msg(LOG_NOTICE, "reloading %s", d->config_file);
	if (cfg == NULL)
		goto out;
	if (config_load(d->config_file, cfg, &diag, &warn) == -1) {
		free(cfg);
		cfg = NULL;
		goto out;
	}
	log_diag(LOG_WARNING, &warn);
	if (config_load_rules(cfg, &rs, &diag) == -1)
		goto out;
	if (strcmp(cfg->spool_dir, d->cfg->spool_dir) != 0) {
		log_msg(LOG_WARNING,
			"spool directory change to %s needs a restart; "
			"still using %s",
			cfg->spool_dir, d->cfg->spool_dir);
		if (config_keep_spool(cfg, d->cfg->spool_dir, &diag) == -1)
			goto out;
	}
	if (config_inbox_same_fs(cfg, &diag) == -1)
		goto out;
	ok = 1;
out:
	if (!ok) {
		log_diag(LOG_ERR, &diag);
		log_msg(LOG_ERR, "reload failed; keeping the configuration "
				 "and rules in use");
		if (cfg != NULL) {
			config_free(cfg);
			free(cfg);
		}
		ruleset_free(rs);
	} else {
		struct config *old = d->cfg;
		log_setup(cfg->log_facility, cfg->log_level);
		i18n_set(cfg->language);
		if (d->ob != NULL)
			outbox_reconfigure(d->ob, cfg);
		watch_reconfigure(d->w, cfg->inbox, cfg->settle_ms);
		if (cfg->rescan_ms != old->rescan_ms)
			loop_timer_every(&d->rescan, cfg->rescan_ms);
		if (cfg->metrics_interval_ms != old->metrics_interval_ms)
			loop_timer_every(&d->metrics, cfg->metrics_interval_ms);
		ruleset_free(d->rs);
		d->rs = rs;
		d->cfg = cfg;
		d->ctx.rs = rs;
		d->ctx.cfg = cfg;
		config_free(old);
		free(old);
		log_msg(LOG_NOTICE, "reloaded: %zu rules (%s)",
			ruleset_count(rs), ruleset_sha256(rs));
	}
	diag_clear(&diag);
	diag_clear(&warn);
	notify_send("READY=1");
	send_status(d, 1);
}

static void load_recovery(struct daemon *d)
{
	struct spool_item *items;
	int n;

	if (d->recov_pos < d->nrecov)
		return; /* still working through the last list */
	free(d->recov);
	d->recov = NULL;
	d->nrecov = d->recov_pos = 0;
	n = spool_recoverable(d->sp, &items);
	if (n <= 0) {
		free(n == 0 ? items : NULL);
		return;
	}
	log_msg(LOG_NOTICE, "recovering %d file(s) left in work/", n);
	d->recov = items;
	d->nrecov = (size_t)n;
}

/* An inbox entry could not be claimed: logged once per entry (watch.c
 * remembers it), since every scan tries it again. */
static void claim_failed(struct daemon *d, const char *name, int err)
{
	char esc[1024];

	if (watch_claim_failed(d->w, name))
		log_msg(LOG_ERR,
			"cannot claim %s: %s; left in the inbox (retried at "
			"each scan, not logged again)",
			log_escape(name, esc, sizeof(esc)), strerror(err));
}

/* Whether files wait to be taken: recovered claims or inbox names, and
 * room to write their results (none is taken while the spool's file
 * system is full, until the next look: spool_room_again()). */
static int files_ready(struct daemon *d)
{
	return !spool_nospace(d->sp) &&
	       (d->recov_pos < d->nrecov || watch_ready(d->w) > 0);
}

/* One batch: recovered claims first, then ready names from the inbox.
 * Returns the number of files taken. */
static size_t do_batch(struct daemon *d)
{
	size_t n = 0;

	if (d->recov_pos < d->nrecov) {
		n = spool_batch_len(d->recov + d->recov_pos,
				    d->nrecov - d->recov_pos, SPOOL_BATCH_MAX);
		spool_process(d->sp, &d->ctx, d->recov + d->recov_pos, n);
		d->recov_pos += n;
	} else if (watch_ready(d->w) > 0) {
		char *names[SPOOL_BATCH_MAX];
		size_t got = watch_take(d->w, names, SPOOL_BATCH_MAX);
		int inbox_fd = watch_inbox_fd(d->w);

		for (size_t i = 0; i < got; i++) {
			int rc = inbox_fd < 0 || spool_nospace(d->sp)
				     ? 1 /* full: left for the next look */
				     : spool_claim(d->sp, inbox_fd, names[i],
						   &d->batch[n]);
			if (rc == 0)
				n++;
			else if (rc == -1)
				claim_failed(d, names[i], errno);
			free(names[i]);
		}
		spool_process(d->sp, &d->ctx, d->batch, n);
	}
	if (spool_retry_wanted(d->sp)) {
		spool_flush(d->sp); /* its claims are not leftovers */
		load_recovery(d);
	}
	return n;
}

static int run_loop(struct daemon *d)
{
	struct epoll_event evs[32];

	while (!d->stop) {
		int busy = d->reload || d->rescan_due || files_ready(d);
		int timeout = busy ? 0 : d->since_trim > 0 ? TRIM_QUIET_MS : -1;
		int n;

		loop_timers_apply();
		n = epoll_wait(d->epfd, evs, 32, timeout);

		if (n == 0 && timeout > 0) {
			/* quiet since the last files: their heap back */
			malloc_trim(0);
			spool_trim(d->sp);
			d->since_trim = 0;
			continue;
		}

		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERR, "epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct loop_source *src = evs[i].data.ptr;
			src->ready(src, evs[i].events);
		}
		if (d->stop)
			break;
		if (d->reload) {
			spool_flush(d->sp);
			do_reload(d);
		}
		if (d->rescan_due) {
			d->rescan_due = 0;
			spool_flush(d->sp);
			/* full: try again, where the recovery list stopped (its
			 * claims keep what their listing said of them) */
			spool_room_again(d->sp);
			watch_rescan(d->w);
			load_recovery(d);
		}
		if (files_ready(d)) {
			d->since_trim += do_batch(d);
			/* the totals survive a crash too (SAVE_MS) */
			save_soon(d);
		}
		/* full, or a leased claim left in work/, and no rescan to
		 * look again (or none since a reload): a look of its own
		 * (on_rescan) */
		if (d->cfg->rescan_ms == 0 && d->rescan.due_ms < 0 &&
		    (spool_nospace(d->sp) || spool_look_wanted(d->sp)))
			(void)loop_timer_arm(&d->rescan, spool_full_retry_ms());
		/* a batch whose sync overlapped nothing: archived now (and a
		 * name taken meanwhile judged again at once) */
		if (!files_ready(d)) {
			spool_flush_idle(d->sp);
			if (spool_retry_wanted(d->sp))
				load_recovery(d);
		}
		send_status(d, 0);
	}
	return 0;
}

static int open_timer(struct daemon *d, struct loop_source *src,
		      void (*ready)(struct loop_source *, uint32_t), long ms,
		      struct diag *diag)
{
	if (loop_timer_open(d->epfd, src, ready) == -1 ||
	    loop_timer_every(src, ms) == -1) {
		diag_add(diag, "timerfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int start(struct daemon *d)
{
	struct diag diag = DIAG_INIT;
	unsigned long long wd_usec;
	sigset_t mask;
	int rc = -1;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1) {
		diag_add(&diag, "cannot block signals: %s", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->sig.ready = on_signal;
	if (d->epfd == -1 || d->sig.fd == -1 ||
	    loop_add(d->epfd, &d->sig, EPOLLIN) == -1) {
		diag_add(&diag, "cannot set up the event loop: %s",
			 strerror(errno));
		goto out;
	}

	d->sp = spool_open(d->cfg->spool_dir, &diag);
	if (d->sp == NULL)
		goto out;
	/* sticky: a dropper cannot move or delete another's file */
	if (mkdir(d->cfg->inbox, 01770) == 0)
		log_msg(LOG_NOTICE, "created inbox %s", d->cfg->inbox);
	if (config_inbox_same_fs(d->cfg, &diag) == -1)
		goto out;
	d->ledger = ledger_open(spool_statefd(d->sp));
	if (d->ledger == NULL) {
		diag_add(&diag, "cannot open the ledger %s/state: %s",
			 d->cfg->spool_dir, strerror(errno));
		goto out;
	}
	if (metrics_load(spool_statefd(d->sp)) == -1)
		log_msg(LOG_WARNING,
			"cannot read state/" METRICS_STATE_NAME
			": %s; totals start from zero",
			strerror(errno));
	d->ob = outbox_open(d->cfg->spool_dir, d->cfg, d->epfd,
			    spool_workfd(d->sp), spool_token(d->sp), &diag);
	if (d->ob == NULL)
		goto out;
	d->ctx.rs = d->rs;
	d->ctx.cfg = d->cfg;
	d->ctx.ledger = d->ledger;
	d->ctx.ob = d->ob;
	spool_give_read_group(d->sp, d->cfg);

	if (open_timer(d, &d->rescan, on_rescan, d->cfg->rescan_ms, &diag) ==
	    -1)
		goto out;
	wd_usec = notify_watchdog_usec();
	if (open_timer(d, &d->wdog, on_watchdog, (long)(wd_usec / 2000),
		       &diag) == -1)
		goto out;
	if (open_timer(d, &d->metrics, on_metrics, d->cfg->metrics_interval_ms,
		       &diag) == -1)
		goto out;
	if (open_timer(d, &d->save, on_save, 0, &diag) == -1)
		goto out;

	/* watch first, then scan (watch_open does both) */
	d->w = watch_open(d->epfd, d->cfg->inbox, d->cfg->settle_ms);
	if (d->w == NULL) {
		diag_add(&diag, "cannot watch %s: %s", d->cfg->inbox,
			 strerror(errno));
		goto out;
	}
	load_recovery(d);
	log_msg(LOG_NOTICE,
		"started: spool %s, inbox %s, %zu rules (%s), %zu ids in "
		"ledger",
		d->cfg->spool_dir, d->cfg->inbox, ruleset_count(d->rs),
		ruleset_sha256(d->rs), ledger_count(d->ledger));
	notify_send("READY=1");
	send_status(d, 1);
	write_metrics(d);
	rc = 0;
out:
	if (rc == -1) {
		diag_add(&diag, "not started");
		start_failed(&diag);
	}
	diag_clear(&diag);
	return rc;
}

static void stop(struct daemon *d)
{
	if (d->sp != NULL)
		spool_flush(d->sp); /* while its outbox is open */
	watch_close(d->w);
	if (d->ob != NULL)
		outbox_close(d->ob);
	ledger_close(d->ledger);
	spool_close(d->sp);
	loop_timer_close(d->epfd, &d->rescan);
	loop_timer_close(d->epfd, &d->wdog);
	loop_timer_close(d->epfd, &d->metrics);
	loop_timer_close(d->epfd, &d->save);
	metrics_free();
	if (d->sig.fd > 0)
		close(d->sig.fd);
	if (d->epfd > 0)
		close(d->epfd);
	free(d->recov);
	if (d->rs != NULL)
		ruleset_free(d->rs);
	if (d->cfg != NULL) {
		config_free(d->cfg);
		free(d->cfg);
	}
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon *d = calloc(1, sizeof(*d));
	struct diag diag = DIAG_INIT, warn = DIAG_INIT;
	const char *carg = NULL;
	int verbose = 0, c, rc = 2;

	if (d == NULL)
		return 1;
	/* fixed, not glibc's sliding thresholds: once a large buffer (an
	 * index.html, a large report) was freed, those let an arena keep up
	 * to twice its size of free heap at its top, which malloc_trim()
	 * gives back only for the main one (spool_trim() does the worker's)
	 */
	mallopt(M_TRIM_THRESHOLD, WORKER_HEAP_THRESHOLD);
	mallopt(M_MMAP_THRESHOLD, WORKER_HEAP_THRESHOLD);
	d->rescan.fd = d->wdog.fd = d->metrics.fd = d->save.fd = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			carg = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			cli_bad_option(c, argv);
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc) {
		usage(stderr);
		goto out;
	}
	d->config_file = config_path(carg);
	if (carg == NULL && getenv("EXPENSED_CONFIG") == NULL &&
	    access(d->config_file, F_OK) == -1) {
		cli_error("no configuration file %s (%s); give one with -c "
			  "FILE or EXPENSED_CONFIG",
			  d->config_file, strerror(errno));
		goto out;
	}
	d->cfg = calloc(1, sizeof(*d->cfg));
	if (d->cfg == NULL) {
		rc = 1;
		goto out;
	}
	if (config_load(d->config_file, d->cfg, &diag, &warn) == -1) {
		cli_diag("", &diag);
		free(d->cfg);
		d->cfg = NULL;
		goto out;
	}
	log_open(d->cfg->log_facility, d->cfg->log_level, verbose);
	i18n_set(d->cfg->language);
	tzset(); /* the local time of pages, read once (docs/pages.md) */
	log_diag(LOG_WARNING, &warn);
	if (config_load_rules(d->cfg, &d->rs, &diag) == -1) {
		start_failed(&diag);
		goto out;
	}
	rc = 1;
	if (start(d) == -1)
		goto out;
	rc = run_loop(d) == 0 ? 0 : 1;
	notify_send("STOPPING=1");
	/* the batch in hand archived (and counted) before the totals are
	 * saved and before "stopping" */
	spool_flush(d->sp);
	log_msg(LOG_NOTICE, "stopping");
	write_metrics(d);
out:
	stop(d);
	diag_clear(&diag);
	diag_clear(&warn);
	free(d);
	return rc;
}
