/*
 * test_config.c - unit tests of daemon/config.c: defaults, every key,
 * durations and sizes, and each error with its exact "FILE:LINE: reason".
 * Config files are written to a fresh temporary directory per test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "../../common/hash.h"
#include "../../daemon/config.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

struct tmp {
	char dir[64];
	char conf[128];
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void tmp_make(struct tmp *t, const char *conf_text)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->conf, sizeof(t->conf), "%s/expensed.conf", t->dir);
	write_file(t->conf, conf_text, 0644);
}

static void tmp_path(const struct tmp *t, const char *name, char *buf,
		     size_t size)
{
	snprintf(buf, size, "%s/%s", t->dir, name);
}

static void tmp_clean(struct tmp *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "%s/expensed.conf", t->dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/audit.secret", t->dir);
	unlink(cmd);
	rmdir(t->dir);
}

/* Load text; return config_load's result. */
static int load(struct tmp *t, const char *text, struct config *cfg,
		struct diag *d, struct diag *w)
{
	tmp_make(t, text);
	return config_load(t->conf, cfg, d, w);
}

/* Assert that diag line i is exactly "CONF:LINE: reason". */
static void assert_line(const struct tmp *t, const struct diag *d, size_t i,
			int line, const char *reason)
{
	char want[512];

	snprintf(want, sizeof(want), "%s:%d: %s", t->conf, line, reason);
	assert_true(i < d->n);
	assert_string_equal(d->lines[i], want);
}

static void test_defaults(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(config_defaults(&cfg), 0);
	assert_null(cfg.path);
	assert_string_equal(cfg.spool_dir, "/var/spool/expensed");
	assert_string_equal(cfg.inbox, "/var/spool/expensed/inbox");
	assert_int_equal(cfg.max_file_size, 16777216);
	assert_int_equal(cfg.settle_ms, 2000);
	assert_int_equal(cfg.rescan_ms, 60000);
	assert_null(cfg.rules_path);
	assert_int_equal(cfg.log_facility, LOG_DAEMON);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.nhooks, 0);
	assert_true(cfg.html);
	config_free(&cfg);
}

static void test_empty_file_gives_defaults(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;

	(void)state;
	assert_int_equal(load(&t, "# nothing\n\n", &cfg, &d, NULL), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(cfg.path, t.conf);
	assert_string_equal(cfg.inbox, "/var/spool/expensed/inbox");
	assert_null(cfg.rules_path);
	config_free(&cfg);
	tmp_clean(&t);
}

static void test_durations(void **state)
{
	(void)state;
	assert_int_equal(parse_duration_ms("15s"), 15000);
	assert_int_equal(parse_duration_ms("500ms"), 500);
	assert_int_equal(parse_duration_ms("5m"), 300000);
	assert_int_equal(parse_duration_ms("2h"), 7200000);
	assert_int_equal(parse_duration_ms("1d"), 86400000);
	assert_int_equal(parse_duration_ms("7"), 7000);
	assert_int_equal(parse_duration_ms("0"), 0);
	assert_int_equal(parse_duration_ms("0s"), 0);
	assert_int_equal(parse_duration_ms(""), -1);
	assert_int_equal(parse_duration_ms("s"), -1);
	assert_int_equal(parse_duration_ms("1.5s"), -1);
	assert_int_equal(parse_duration_ms("-1s"), -1);
	assert_int_equal(parse_duration_ms("+1s"), -1);
	assert_int_equal(parse_duration_ms("1 s"), -1);
	assert_int_equal(parse_duration_ms("1x"), -1);
	assert_int_equal(parse_duration_ms("1sec"), -1);
	/* At most 3650 days, however written; past it (or past a long), -2. */
	assert_int_equal(parse_duration_ms("3650d"), 315360000000L);
	assert_int_equal(parse_duration_ms("87600h"), 315360000000L);
	assert_int_equal(parse_duration_ms("5256000m"), 315360000000L);
	assert_int_equal(parse_duration_ms("315360000"), 315360000000L);
	assert_int_equal(parse_duration_ms("315360000000ms"), 315360000000L);
	assert_int_equal(parse_duration_ms("3651d"), -2);
	assert_int_equal(parse_duration_ms("87601h"), -2);
	assert_int_equal(parse_duration_ms("315360001s"), -2);
	assert_int_equal(parse_duration_ms("315360000001ms"), -2);
	assert_int_equal(parse_duration_ms("106751991167d"), -2);
	assert_int_equal(parse_duration_ms("9223372036854775807ms"), -2);
	assert_int_equal(parse_duration_ms("99999999999999999999d"), -2);
	assert_int_equal(parse_duration_ms("999999999999999999d"), -2);
	assert_int_equal(parse_duration_ms("99999999999999999999x"), -1);
}

/* A duration past 3650d is refused with the key, the line and the limit,
 * so that no sum with the clock can overflow. */
static void test_durations_too_long(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;

	(void)state;
	assert_int_equal(load(&t,
			      "[spool]\n"			   /* 1 */
			      "settle = 3650d\n"		   /* 2 */
			      "rescan = 106751991167d\n"	   /* 3 */
			      "[metrics]\n"			   /* 4 */
			      "interval = 3651d\n"		   /* 5 */
			      "[webhook a]\n"			   /* 6 */
			      "url = http://127.0.0.1:1/x\n"	   /* 7 */
			      "timeout = 315360000001ms\n"	   /* 8 */
			      "retry = 0s, 3650d, 106751991167d\n" /* 9 */
			      "[webhook b]\n"			   /* 10 */
			      "url = http://127.0.0.1:1/y\n"	   /* 11 */
			      "retry = 3650d, 3650d\n",		   /* 12 */
			      &cfg, &d, NULL),
			 -1);
	assert_line(&t, &d, 0, 3,
		    "bad duration '106751991167d' for rescan (at most 3650d)");
	assert_line(&t, &d, 1, 5,
		    "bad duration '3651d' for interval (at most 3650d)");
	assert_line(&t, &d, 2, 8,
		    "bad duration '315360000001ms' for timeout (at most "
		    "3650d)");
	assert_line(&t, &d, 3, 9,
		    "bad retry list '0s, 3650d, 106751991167d' (each delay at "
		    "most 3650d)");
	assert_int_equal(d.n, 4);
	diag_clear(&d);
	tmp_clean(&t);
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(parse_size("16M"), 16777216);
	assert_int_equal(parse_size("512K"), 524288);
	assert_int_equal(parse_size("1G"), 1073741824LL);
	assert_int_equal(parse_size("100"), 100);
	assert_int_equal(parse_size("0"), 0);
	assert_int_equal(parse_size("1T"), -1);
	assert_int_equal(parse_size(""), -1);
	assert_int_equal(parse_size("M"), -1);
	assert_int_equal(parse_size("-1"), -1);
	assert_int_equal(parse_size("16MB"), -1);
	assert_int_equal(parse_size("1.5M"), -1);
	assert_int_equal(parse_size("99999999999999999G"), -1);
}

static void test_every_key(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT, w = DIAG_INIT;
	char secret[128], want[512];

	(void)state;
	snprintf(t.dir, sizeof(t.dir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(t.dir));
	tmp_path(&t, "audit.secret", secret, sizeof(secret));
	write_file(secret, SECRET "\n", 0640);
	snprintf(t.conf, sizeof(t.conf), "%s/expensed.conf", t.dir);
	write_file(t.conf,
		   "; the documented example, with comments\n"
		   "[spool]\n"
		   "directory = /srv/spool   # work/ etc.\n"
		   "inbox = /srv/share/inbox ; a share\n"
		   "max_file_size = 512K\n"
		   "settle = 500ms\n"
		   "rescan = 0\n"
		   "\n"
		   "[rules]\n"
		   "path = rules.d\n"
		   "[log]\n"
		   "facility = local3\n"
		   "level = debug\n"
		   "[webhook audit]    # one per endpoint\n"
		   "  url = https://audit.example.org/hooks/expensed#frag\n"
		   "  format = standard\n"
		   "  events = accepted,rejected , invalid\n"
		   "  secret_file = audit.secret\n"
		   "  timeout = 3s\n"
		   "  retry = 0s, 1s,1m\n"
		   "  ca_file = /etc/ssl/certs/ca-certificates.crt\n"
		   "[webhook chat]\n"
		   "url = http://127.0.0.1:8080/x\n"
		   "format = slack\n"
		   "[webhook teams-1]\n"
		   "url = HTTPS://example.org\n"
		   "format = teams\n"
		   "events = accepted\n",
		   0644);
	assert_int_equal(config_load(t.conf, &cfg, &d, &w), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(w.n, 0);
	assert_string_equal(cfg.spool_dir, "/srv/spool");
	assert_string_equal(cfg.inbox, "/srv/share/inbox");
	assert_int_equal(cfg.max_file_size, 524288);
	assert_int_equal(cfg.settle_ms, 500);
	assert_int_equal(cfg.rescan_ms, 0);
	snprintf(want, sizeof(want), "%s/rules.d", t.dir);
	assert_string_equal(cfg.rules_path, want);
	assert_int_equal(cfg.log_facility, LOG_LOCAL3);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.nhooks, 3);

	assert_string_equal(cfg.hooks[0].name, "audit");
	assert_string_equal(cfg.hooks[0].url,
			    "https://audit.example.org/hooks/expensed#frag");
	assert_int_equal(cfg.hooks[0].format, WEBHOOK_STANDARD);
	assert_int_equal(cfg.hooks[0].events,
			 EVENT_ACCEPTED | EVENT_REJECTED | EVENT_INVALID);
	assert_string_equal(cfg.hooks[0].secret_file, secret);
	assert_string_equal(cfg.hooks[0].secret, SECRET);
	assert_int_equal(cfg.hooks[0].timeout_ms, 3000);
	assert_int_equal(cfg.hooks[0].nretry, 3);
	assert_int_equal(cfg.hooks[0].retry_ms[0], 0);
	assert_int_equal(cfg.hooks[0].retry_ms[1], 1000);
	assert_int_equal(cfg.hooks[0].retry_ms[2], 60000);
	assert_string_equal(cfg.hooks[0].ca_file,
			    "/etc/ssl/certs/ca-certificates.crt");

	/* defaults of a webhook */
	assert_string_equal(cfg.hooks[1].name, "chat");
	assert_int_equal(cfg.hooks[1].format, WEBHOOK_SLACK);
	assert_int_equal(cfg.hooks[1].events, EVENT_REJECTED | EVENT_INVALID);
	assert_null(cfg.hooks[1].secret_file);
	assert_null(cfg.hooks[1].secret);
	assert_null(cfg.hooks[1].ca_file);
	assert_int_equal(cfg.hooks[1].timeout_ms, 15000);
	assert_int_equal(cfg.hooks[1].nretry, 10);
	{
		static const long spec[] = {
		    0,	      5000,	300000,	  1800000,  7200000,
		    18000000, 36000000, 50400000, 72000000, 86400000,
		};
		for (size_t i = 0; i < 10; i++)
			assert_int_equal(cfg.hooks[1].retry_ms[i], spec[i]);
	}
	assert_int_equal(cfg.hooks[2].format, WEBHOOK_TEAMS);
	assert_int_equal(cfg.hooks[2].events, EVENT_ACCEPTED);
	config_free(&cfg);
	unlink(secret);
	tmp_clean(&t);
}

static void test_relative_paths_and_inbox_default(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;
	char want[256];

	(void)state;
	assert_int_equal(load(&t, "[spool]\ndirectory = run\n", &cfg, &d, NULL),
			 0);
	snprintf(want, sizeof(want), "%s/run", t.dir);
	assert_string_equal(cfg.spool_dir, want);
	snprintf(want, sizeof(want), "%s/run/inbox", t.dir);
	assert_string_equal(cfg.inbox, want);
	config_free(&cfg);
	tmp_clean(&t);
}

static void test_levels_and_facilities(void **state)
{
	static const struct {
		const char *text;
		int facility, level;
	} cases[] = {
	    {"[log]\nfacility = daemon\nlevel = info\n", LOG_DAEMON, LOG_INFO},
	    {"[log]\nfacility = user\nlevel = notice\n", LOG_USER, LOG_NOTICE},
	    {"[log]\nfacility = local0\nlevel = warning\n", LOG_LOCAL0,
	     LOG_WARNING},
	    {"[log]\nfacility = local7\nlevel = err\n", LOG_LOCAL7, LOG_ERR},
	    {"[log]\nlevel = error\n", LOG_DAEMON, LOG_ERR},
	    {"[log]\nlevel = crit\n", LOG_DAEMON, LOG_CRIT},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tmp t;
		struct config cfg;
		struct diag d = DIAG_INIT;

		assert_int_equal(load(&t, cases[i].text, &cfg, &d, NULL), 0);
		assert_int_equal(cfg.log_facility, cases[i].facility);
		assert_int_equal(cfg.log_level, cases[i].level);
		config_free(&cfg);
		tmp_clean(&t);
	}
}

/* Every error in one file: all are collected, each with its line. */
static void test_errors_all_collected(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;

	(void)state;
	assert_int_equal(load(&t,
			      "key = before\n"		    /* 1 */
			      "[spool]\n"		    /* 2 */
			      "settle = 2 s\n"		    /* 3 */
			      "rescan = soon\n"		    /* 4 */
			      "max_file_size = 16Q\n"	    /* 5 */
			      "colour = blue\n"		    /* 6 */
			      "settle = 1s\n"		    /* 7 */
			      "this line has no equals\n"   /* 8 */
			      "[frobnicate]\n"		    /* 9 */
			      "ignored = yes\n"		    /* 10 */
			      "[log]\n"			    /* 11 */
			      "facility = kern\n"	    /* 12 */
			      "level = verbose\n"	    /* 13 */
			      "[webhook a]\n"		    /* 14 */
			      "url = ftp://example.org/x\n" /* 15 */
			      "format = xml\n"		    /* 16 */
			      "events = rejected, lost\n"   /* 17 */
			      "timeout = 0\n"		    /* 18 */
			      "retry = 1s,,2s\n"	    /* 19 */
			      "[webhook a]\n"		    /* 20 */
			      "[webhook b]\n"		    /* 21 */
			      "[webhook]\n"		    /* 22 */
			      "[webhook bad/name]\n"	    /* 23 */
			      "[spool]\n"		    /* 24 */
			      "[log\n"			    /* 25 */
			      "[rules]\n"		    /* 26 */
			      "path =\n"		    /* 27 */
			      "[rules] trailing\n",	    /* 28 */
			      &cfg, &d, NULL),
			 -1);
	assert_line(&t, &d, 0, 1, "key 'key' outside any section");
	assert_line(&t, &d, 1, 3,
		    "bad duration '2 s' for settle (e.g. 500ms, 2s, 5m, 1h, "
		    "1d)");
	assert_line(&t, &d, 2, 4,
		    "bad duration 'soon' for rescan (e.g. 500ms, 2s, 5m, 1h, "
		    "1d)");
	assert_line(&t, &d, 3, 5,
		    "bad size '16Q' for max_file_size (e.g. 512K, 16M, 1G)");
	assert_line(&t, &d, 4, 6, "unknown key 'colour' in [spool]");
	assert_line(&t, &d, 5, 7,
		    "duplicate key 'settle' in [spool] (first on line 3)");
	assert_line(&t, &d, 6, 8, "expected 'key = value'");
	assert_line(&t, &d, 7, 9, "unknown section [frobnicate]");
	assert_line(&t, &d, 8, 12,
		    "unknown facility 'kern' (daemon, user, local0 ... "
		    "local7)");
	assert_line(&t, &d, 9, 13,
		    "unknown level 'verbose' (debug, info, notice, warning, "
		    "err, crit)");
	assert_line(&t, &d, 10, 15,
		    "bad url for webhook 'a': only http:// and https:// urls "
		    "with a host are allowed");
	assert_line(&t, &d, 11, 16,
		    "unknown format 'xml' (standard, slack, teams)");
	assert_line(&t, &d, 12, 17,
		    "bad events 'rejected, lost' (a list of accepted, "
		    "rejected, invalid)");
	assert_line(&t, &d, 13, 18, "timeout must not be 0");
	assert_line(&t, &d, 14, 19,
		    "bad retry list '1s,,2s' (durations separated by commas, "
		    "at most 100)");
	assert_line(&t, &d, 15, 20, "duplicate webhook 'a' (first on line 14)");
	assert_line(&t, &d, 16, 21, "webhook 'b' has no url");
	assert_line(&t, &d, 17, 22,
		    "webhook section needs a name: [webhook NAME]");
	assert_line(&t, &d, 18, 23,
		    "bad webhook name 'bad/name' (letters, digits, '.', '_', "
		    "'-')");
	assert_line(&t, &d, 19, 24,
		    "duplicate section [spool] (first on line 2)");
	assert_line(&t, &d, 20, 25, "missing ']' in section header");
	assert_line(&t, &d, 21, 27, "empty value for 'path'");
	assert_line(&t, &d, 22, 28, "unexpected text after section header");
	assert_int_equal(d.n, 23);
	/* cfg was freed */
	assert_null(cfg.spool_dir);
	assert_int_equal(cfg.nhooks, 0);
	diag_clear(&d);
	tmp_clean(&t);
}

static void test_inbox_inside_spool(void **state)
{
	static const char *const bad[] = {
	    "/srv/spool",
	    "/srv/spool/",
	    "/srv/spool/work",
	    "/srv/spool/accepted/",
	    "/srv/spool//state",
	    /* paths that do not exist are compared as written, with "."
	     * and ".." resolved */
	    "/srv/spool/./rejected",
	    "/srv/spool/inbox/../accepted",
	    "/srv/spool/state/x",
	    "/srv/x/../spool/dead/a/b",
	};
	static const char *const want[] = {
	    "/srv/spool",	   "/srv/spool",	 "/srv/spool/work",
	    "/srv/spool/accepted", "/srv/spool/state",	 "/srv/spool/rejected",
	    "/srv/spool/accepted", "/srv/spool/state/x", "/srv/spool/dead/a/b",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tmp t;
		struct config cfg;
		struct diag d = DIAG_INIT;
		char text[512];

		snprintf(text, sizeof(text),
			 "[spool]\ndirectory = /srv/spool/\ninbox = %s\n",
			 bad[i]);
		assert_int_equal(load(&t, text, &cfg, &d, NULL), -1);
		assert_int_equal(d.n, 1);
		snprintf(text, sizeof(text),
			 "inbox must not be the spool directory or its work, "
			 "accepted, rejected, outbox, dead or state "
			 "directory, nor lie inside one (it is %s)",
			 want[i]);
		assert_line(&t, &d, 0, 3, text);
		diag_clear(&d);
		tmp_clean(&t);
	}
	{
		struct tmp t;
		struct config cfg;
		struct diag d = DIAG_INIT;

		assert_int_equal(load(&t,
				      "[spool]\ndirectory = /srv/spool\n"
				      "inbox = /srv/spool/workers\n",
				      &cfg, &d, NULL),
				 0);
		config_free(&cfg);
		tmp_clean(&t);
	}
}

/* In a real spool: ".", "..", symlinks and existing directories are
 * resolved, so no spelling of a spool directory passes as the inbox. */
static void test_inbox_resolved(void **state)
{
	static const char *const bad[] = {
	    "spool/./rejected",
	    "spool/inbox/../accepted",
	    "to-work",
	    "spool/state/x",
	    "to-spool/outbox",
	    "./spool/",
	    "spool/inbox/../../spool/dead",
	};
	static const char *const want[] = {
	    "spool/rejected", "spool/accepted", "spool/work", "spool/state/x",
	    "spool/outbox",   "spool",		"spool/dead",
	};
	/* a link above the inbox is followed; the inbox itself may not be
	 * one (the daemon opens it with O_NOFOLLOW): below */
	static const char *const good[] = {"spool/inbox", "spool/inbox/./",
					   "share/inbox", "to-spool/inbox"};
	static const char *const dirs[] = {
	    "spool",	      "spool/inbox",  "spool/work", "spool/accepted",
	    "spool/rejected", "spool/outbox", "spool/dead", "spool/state",
	    "share",	      "share/inbox",
	};
	static const char *const links[][2] = {
	    {"spool/work", "to-work"},
	    {"spool", "to-spool"},
	    {"spool/inbox", "to-inbox"},
	};
	struct tmp t;
	char real[PATH_MAX], path[PATH_MAX], text[PATH_MAX * 2];

	(void)state;
	tmp_make(&t, "");
	assert_non_null(realpath(t.dir, real));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		tmp_path(&t, dirs[i], path, sizeof(path));
		assert_int_equal(mkdir(path, 0750), 0);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		tmp_path(&t, links[i][1], path, sizeof(path));
		assert_int_equal(symlink(links[i][0], path), 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config cfg;
		struct diag d = DIAG_INIT;

		snprintf(text, sizeof(text),
			 "[spool]\ndirectory = spool\ninbox = %s\n", bad[i]);
		write_file(t.conf, text, 0644);
		assert_int_equal(config_load(t.conf, &cfg, &d, NULL), -1);
		assert_int_equal(d.n, 1);
		snprintf(text, sizeof(text),
			 "inbox must not be the spool directory or its work, "
			 "accepted, rejected, outbox, dead or state "
			 "directory, nor lie inside one (it is %s/%s)",
			 real, want[i]);
		assert_line(&t, &d, 0, 3, text);
		diag_clear(&d);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct config cfg;
		struct diag d = DIAG_INIT;

		snprintf(text, sizeof(text),
			 "[spool]\ndirectory = spool\ninbox = %s\n", good[i]);
		write_file(t.conf, text, 0644);
		assert_int_equal(config_load(t.conf, &cfg, &d, NULL), 0);
		assert_int_equal(d.n, 0);
		config_free(&cfg);
	}
	{
		struct config cfg;
		struct diag d = DIAG_INIT;
		char inbox[PATH_MAX];

		write_file(t.conf,
			   "[spool]\ndirectory = spool\ninbox = to-inbox\n",
			   0644);
		assert_int_equal(config_load(t.conf, &cfg, &d, NULL), -1);
		assert_int_equal(d.n, 1);
		tmp_path(&t, "to-inbox", inbox, sizeof(inbox));
		snprintf(
		    text, sizeof(text),
		    "inbox %s is a symbolic link: the daemon opens the "
		    "inbox itself, never through a link (give %s/spool/inbox)",
		    inbox, real);
		assert_line(&t, &d, 0, 3, text);
		diag_clear(&d);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		tmp_path(&t, links[i][1], path, sizeof(path));
		assert_int_equal(unlink(path), 0);
	}
	for (size_t i = sizeof(dirs) / sizeof(dirs[0]); i-- > 0;) {
		tmp_path(&t, dirs[i], path, sizeof(path));
		assert_int_equal(rmdir(path), 0);
	}
	tmp_clean(&t);
}

static void test_missing_file(void **state)
{
	struct config cfg;
	struct diag d = DIAG_INIT;

	(void)state;
	assert_int_equal(
	    config_load("/nonexistent/expensed.conf", &cfg, &d, NULL), -1);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.lines[0], "cannot open "
					"'/nonexistent/expensed.conf': No "
					"such file or directory");
	diag_clear(&d);
}

static void test_long_lines(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;
	char url[400], text[6000];

	(void)state;
	/* a Teams workflow url is longer than inih's 200-byte line */
	snprintf(url, sizeof(url), "https://prod.example.org/workflows/%0300d",
		 7);
	snprintf(text, sizeof(text), "[webhook t]\nformat = teams\nurl = %s\n",
		 url);
	assert_int_equal(load(&t, text, &cfg, &d, NULL), 0);
	assert_string_equal(cfg.hooks[0].url, url);
	config_free(&cfg);
	tmp_clean(&t);

	/* over 4096 bytes: an error on that line, the next lines still read */
	memset(text, 0, sizeof(text));
	memcpy(text, "[spool]\nsettle = 1s # ", 22);
	memset(text + 22, 'x', 4200);
	memcpy(text + 22 + 4200, "\nrescan = never\n", 17);
	assert_int_equal(load(&t, text, &cfg, &d, NULL), -1);
	assert_line(&t, &d, 0, 2, "line too long (more than 4096 bytes)");
	assert_line(&t, &d, 1, 3,
		    "bad duration 'never' for rescan (e.g. 500ms, 2s, 5m, 1h, "
		    "1d)");
	assert_int_equal(d.n, 2);
	diag_clear(&d);
	tmp_clean(&t);
}

static void test_control_character(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;

	(void)state;
	assert_int_equal(load(&t, "[spool]\nsettle = 1\033s\n", &cfg, &d, NULL),
			 -1);
	assert_line(&t, &d, 0, 2, "control character in line");
	assert_int_equal(d.n, 1);
	diag_clear(&d);
	tmp_clean(&t);
}

/* A url line refused for a byte, or for its length, is its one error:
 * its key is given, so the webhook is not said to have no url too. */
static void test_refused_url_line_is_not_missing(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;
	char text[6000];

	(void)state;
	assert_int_equal(load(&t,
			      "[webhook a]\nurl = https://example.org/\001\n"
			      "[webhook b]\nurl = https://example.org/\n",
			      &cfg, &d, NULL),
			 -1);
	assert_line(&t, &d, 0, 2, "control character in line");
	assert_int_equal(d.n, 1);
	diag_clear(&d);
	tmp_clean(&t);

	memset(text, 0, sizeof(text));
	snprintf(text, sizeof(text), "[webhook a]\nurl = https://example.org/");
	memset(text + strlen(text), 'x', 4100);
	text[strlen(text)] = '\n';
	assert_int_equal(load(&t, text, &cfg, &d, NULL), -1);
	assert_line(&t, &d, 0, 2, "line too long (more than 4096 bytes)");
	assert_int_equal(d.n, 1);
	diag_clear(&d);
	tmp_clean(&t);
}

static void test_secret_readable_by_others_warns(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT, w = DIAG_INIT;
	char secret[128], want[512];

	(void)state;
	tmp_make(&t, "[webhook audit]\n"
		     "url = https://example.org/h\n"
		     "secret_file = audit.secret\n");
	tmp_path(&t, "audit.secret", secret, sizeof(secret));
	write_file(secret, "  " SECRET "  \nsecond line\n", 0644);
	assert_int_equal(config_load(t.conf, &cfg, &d, &w), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(w.n, 1);
	snprintf(want, sizeof(want),
		 "%s:3: secret_file '%s' is readable by others (chmod o-r)",
		 t.conf, secret);
	assert_string_equal(w.lines[0], want);
	assert_null(strstr(w.lines[0], "whsec_"));
	assert_string_equal(cfg.hooks[0].secret, SECRET);
	config_free(&cfg);
	diag_clear(&w);

	/* warn may be NULL */
	assert_int_equal(config_load(t.conf, &cfg, &d, NULL), 0);
	config_free(&cfg);
	unlink(secret);
	tmp_clean(&t);
}

/* A ca_file that cannot be read, or is a directory (/etc/ssl/certs, which
 * libcurl's CAINFO does not take), is refused at load like a secret file:
 * otherwise every https try failed for days, until the delivery went to
 * dead/, after "configuration OK". Not looked at with
 * CONFIG_SKIP_SECRETS (check, status: no delivery made). */
static void test_ca_file_must_be_readable(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;
	char want[512];

	(void)state;
	tmp_make(&t, "[webhook a]\nurl = https://example.org/h\n"
		     "ca_file = missing.pem\n"
		     "[webhook b]\nurl = https://example.org/h\n"
		     "ca_file = /etc\n"
		     "[webhook c]\nurl = https://example.org/h\n"
		     "ca_file = expensed.conf\n");
	assert_int_equal(config_load(t.conf, &cfg, &d, NULL), -1);
	assert_int_equal(d.n, 2);
	snprintf(want, sizeof(want),
		 "%s:3: cannot read ca_file '%s/missing.pem': No such file or "
		 "directory",
		 t.conf, t.dir);
	assert_string_equal(d.lines[0], want);
	snprintf(want, sizeof(want),
		 "%s:6: ca_file '/etc' is not a regular file (a CA bundle in "
		 "PEM)",
		 t.conf);
	assert_string_equal(d.lines[1], want);
	diag_clear(&d);

	assert_int_equal(
	    config_load_flags(t.conf, &cfg, &d, NULL, CONFIG_SKIP_SECRETS), 0);
	assert_int_equal(d.n, 0);
	config_free(&cfg);
	tmp_clean(&t);
}

static void test_secret_slack_warns(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT, w = DIAG_INIT;
	char secret[128];

	(void)state;
	tmp_make(&t, "[webhook chat]\n"
		     "url = https://example.org/h\n"
		     "secret_file = audit.secret\n"
		     "format = slack\n");
	tmp_path(&t, "audit.secret", secret, sizeof(secret));
	write_file(secret, SECRET "\n", 0600);
	assert_int_equal(config_load(t.conf, &cfg, &d, &w), 0);
	assert_int_equal(w.n, 1);
	assert_line(&t, &w, 0, 3,
		    "secret_file is only used by the standard format");
	config_free(&cfg);
	diag_clear(&w);
	unlink(secret);
	tmp_clean(&t);
}

static void test_bad_secrets_never_shown(void **state)
{
	static const char *const bad[] = {
	    "hunter2-not-a-whsec\n", "whsec_\n",
	    "whsec_abc\n",	/* not a multiple of 4 */
	    "whsec_ab=c\n",	/* padding inside */
	    "whsec_ab!cdefg\n", /* not base64 */
	    "whsec_a===\n",	/* too much padding */
	    "\n" SECRET "\n",	/* the first line is the secret */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tmp t;
		struct config cfg;
		struct diag d = DIAG_INIT, w = DIAG_INIT;
		char secret[128], want[512];

		tmp_make(&t, "[webhook audit]\n"
			     "url = https://example.org/h\n"
			     "secret_file = audit.secret\n");
		tmp_path(&t, "audit.secret", secret, sizeof(secret));
		write_file(secret, bad[i], 0644);
		assert_int_equal(config_load(t.conf, &cfg, &d, &w), -1);
		assert_int_equal(d.n, 1);
		snprintf(want, sizeof(want),
			 "%s:3: secret_file '%s' does not hold a secret of "
			 "the form whsec_BASE64",
			 t.conf, secret);
		assert_string_equal(d.lines[0], want);
		for (size_t k = 0; k < d.n; k++) {
			assert_null(strstr(d.lines[k], "hunter2"));
			assert_null(strstr(d.lines[k], "whsec_a"));
			assert_null(strstr(d.lines[k], SECRET));
		}
		for (size_t k = 0; k < w.n; k++)
			assert_null(strstr(w.lines[k], "whsec_"));
		diag_clear(&d);
		diag_clear(&w);
		unlink(secret);
		tmp_clean(&t);
	}
}

static void test_secret_missing(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;
	char want[256];

	(void)state;
	assert_int_equal(load(&t,
			      "[webhook audit]\n"
			      "url = https://example.org/h\n"
			      "secret_file = /nonexistent/x.secret\n",
			      &cfg, &d, NULL),
			 -1);
	snprintf(want, sizeof(want),
		 "%s:3: cannot read secret_file '/nonexistent/x.secret': No "
		 "such file or directory",
		 t.conf);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.lines[0], want);
	diag_clear(&d);
	tmp_clean(&t);
}

static void test_url_never_shown(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;

	(void)state;
	assert_int_equal(load(&t,
			      "[webhook s]\n"
			      "url = gopher://hooks.example.org/T0KEN123\n"
			      "[webhook u]\n"
			      "url = https://user:pw@/T0KEN123\n",
			      &cfg, &d, NULL),
			 -1);
	assert_int_equal(d.n, 2);
	for (size_t i = 0; i < d.n; i++)
		assert_null(strstr(d.lines[i], "T0KEN123"));
	assert_line(&t, &d, 1, 4,
		    "bad url for webhook 'u': only http:// and https:// urls "
		    "with a host are allowed");
	diag_clear(&d);
	tmp_clean(&t);
}

/* Urls are read by libcurl's URL API (curl_url_set): the port, the host and
 * the scheme it reads back are checked, with FILE:LINE and never the url. */
static void test_url_parts(void **state)
{
	static const char no_host[] =
	    "only http:// and https:// urls with a host are allowed";
	static const char bad_port[] = "the port must be 1 to 65535";
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;
	char want[256];

	(void)state;
	assert_int_equal(load(&t,
			      "[webhook a]\n"			    /* 1 */
			      "url = https://h.example:99999/x\n"   /* 2 */
			      "[webhook b]\n"			    /* 3 */
			      "url = https://h.example:0/x\n"	    /* 4 */
			      "[webhook c]\n"			    /* 5 */
			      "url = ftp://h.example/x\n"	    /* 6 */
			      "[webhook d]\n"			    /* 7 */
			      "url = https://user:T0KEN@\n"	    /* 8 */
			      "[webhook e]\n"			    /* 9 */
			      "url = https:///T0KEN\n"		    /* 10 */
			      "[webhook f]\n"			    /* 11 */
			      "url = https://[::1/T0KEN\n"	    /* 12 */
			      "[webhook g]\n"			    /* 13 */
			      "url = http:/h.example/T0KEN\n"	    /* 14 */
			      "[webhook h]\n"			    /* 15 */
			      "url = https://h.example/\xc3\xa9\n", /* 16 */
			      &cfg, &d, NULL),
			 -1);
	assert_int_equal(d.n, 8);
	for (size_t i = 0; i < d.n; i++)
		assert_null(strstr(d.lines[i], "T0KEN"));
	snprintf(want, sizeof(want), "bad url for webhook 'a': %s", bad_port);
	assert_line(&t, &d, 0, 2, want);
	snprintf(want, sizeof(want), "bad url for webhook 'b': %s", bad_port);
	assert_line(&t, &d, 1, 4, want);
	snprintf(want, sizeof(want), "bad url for webhook 'c': %s", no_host);
	assert_line(&t, &d, 2, 6, want);
	snprintf(want, sizeof(want), "bad url for webhook 'd': %s", no_host);
	assert_line(&t, &d, 3, 8, want);
	snprintf(want, sizeof(want), "bad url for webhook 'e': %s", no_host);
	assert_line(&t, &d, 4, 10, want);
	snprintf(want, sizeof(want), "bad url for webhook 'f': %s", no_host);
	assert_line(&t, &d, 5, 12, want);
	snprintf(want, sizeof(want), "bad url for webhook 'g': %s", no_host);
	assert_line(&t, &d, 6, 14, want);
	assert_line(&t, &d, 7, 16,
		    "bad url for webhook 'h': spaces, control characters and "
		    "non-ASCII bytes must be percent-encoded");
	diag_clear(&d);
	tmp_clean(&t);
}

static void test_url_valid(void **state)
{
	static const char *const good[] = {
	    "https://[::1]:8443/hooks",
	    "http://[2001:db8::7]/x?a=1",
	    "http://[fe80::1%25eth0]:80/",
	    "https://h.example:1/x",
	    "https://h.example:65535",
	    "https://user:pw@h.example:443/x#frag",
	    "HTTP://H.EXAMPLE:8080/%C3%A9",
	};
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "[webhook w]\nurl = %s\n",
			 good[i]);
		assert_int_equal(load(&t, text, &cfg, &d, NULL), 0);
		assert_int_equal(d.n, 0);
		assert_string_equal(cfg.hooks[0].url, good[i]);
		config_free(&cfg);
		tmp_clean(&t);
	}
}

/* [html] enabled: yes, no, and nothing else. */
static void test_html(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;

	(void)state;
	assert_int_equal(load(&t, "[html]\nenabled = no\n", &cfg, &d, NULL), 0);
	assert_false(cfg.html);
	config_free(&cfg);
	tmp_clean(&t);
	assert_int_equal(load(&t, "[html]\nenabled = yes\n", &cfg, &d, NULL),
			 0);
	assert_true(cfg.html);
	config_free(&cfg);
	tmp_clean(&t);
	assert_int_equal(load(&t,
			      "[html]\n"	/* 1 */
			      "enabled = on\n"	/* 2 */
			      "colour = blue\n" /* 3 */
			      "[html]\n",	/* 4 */
			      &cfg, &d, NULL),
			 -1);
	assert_int_equal(d.n, 3);
	assert_line(&t, &d, 0, 2, "bad value 'on' for enabled (yes or no)");
	assert_line(&t, &d, 1, 3, "unknown key 'colour' in [html]");
	assert_line(&t, &d, 2, 4, "duplicate section [html] (first on line 1)");
	diag_clear(&d);
	tmp_clean(&t);
}

/* [spool] read_group: a group name or id; an unknown one is an error. */
static void test_read_group(void **state)
{
	struct tmp t;
	struct config cfg;
	struct diag d = DIAG_INIT;

	(void)state;
	assert_int_equal(config_defaults(&cfg), 0);
	assert_true(cfg.read_gid == (gid_t)-1);
	config_free(&cfg);
	assert_int_equal(
	    load(&t, "[spool]\nread_group = 4343\n", &cfg, &d, NULL), 0);
	assert_true(cfg.read_gid == 4343);
	config_free(&cfg);
	tmp_clean(&t);
	assert_int_equal(
	    load(&t, "[spool]\nread_group = root\n", &cfg, &d, NULL), 0);
	assert_true(cfg.read_gid == 0);
	config_free(&cfg);
	tmp_clean(&t);
	assert_int_equal(
	    load(&t, "[spool]\nread_group = no-such-group-x\n", &cfg, &d, NULL),
	    -1);
	assert_int_equal(d.n, 1);
	assert_line(&t, &d, 0, 2,
		    "unknown group 'no-such-group-x' for read_group");
	diag_clear(&d);
	tmp_clean(&t);
}

static void test_config_path(void **state)
{
	(void)state;
	setenv("EXPENSED_CONFIG", "/tmp/from-env.conf", 1);
	assert_string_equal(config_path("/tmp/arg.conf"), "/tmp/arg.conf");
	assert_string_equal(config_path(NULL), "/tmp/from-env.conf");
	unsetenv("EXPENSED_CONFIG");
	assert_string_equal(config_path(NULL), "/etc/expensed/expensed.conf");
}

int main(void)
{
	if (hash_init() == -1) /* common/hash.h: a random key */
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_empty_file_gives_defaults),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_durations_too_long),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_relative_paths_and_inbox_default),
	    cmocka_unit_test(test_levels_and_facilities),
	    cmocka_unit_test(test_errors_all_collected),
	    cmocka_unit_test(test_inbox_inside_spool),
	    cmocka_unit_test(test_inbox_resolved),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_control_character),
	    cmocka_unit_test(test_refused_url_line_is_not_missing),
	    cmocka_unit_test(test_secret_readable_by_others_warns),
	    cmocka_unit_test(test_ca_file_must_be_readable),
	    cmocka_unit_test(test_secret_slack_warns),
	    cmocka_unit_test(test_bad_secrets_never_shown),
	    cmocka_unit_test(test_secret_missing),
	    cmocka_unit_test(test_url_never_shown),
	    cmocka_unit_test(test_url_parts),
	    cmocka_unit_test(test_url_valid),
	    cmocka_unit_test(test_html),
	    cmocka_unit_test(test_read_group),
	    cmocka_unit_test(test_config_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
