/*
 * config.h - the daemon's configuration file (docs/operations.md
 * "Configuration").
 *
 * INI, read with common/ini.h (docs/ini.md). Every bad key or value is
 * reported as "FILE:LINE: reason" in a struct diag; loading fails if there
 * is any.
 */
#ifndef EXPENSED_CONFIG_H
#define EXPENSED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/diag.h"
#include "../common/i18n.h"

#define CONFIG_DEFAULT_PATH "/etc/expensed/expensed.conf"

/* [spool] max_judge_time: 1ms to this, well below the watchdog's 30s. */
#define CONFIG_MAX_JUDGE_MS 20000L

/* [spool] max_judge_memory and check --max-memory: at least this, so
 * that any ordinary report fits (the seed example's parse holds 9 kB). */
#define CONFIG_MIN_JUDGE_MEMORY ((size_t)1024 * 1024)
/* [spool] max_judge_memory's default: a report of 16 MiB (the default
 * max_file_size) of ordinary missions holds some 141 MB once parsed; the
 * unit's MemoryMax is 512M. */
#define CONFIG_DEFAULT_JUDGE_MEMORY ((size_t)256 * 1024 * 1024)

/* [spool] max_findings and check --max-findings: 1 to this. */
#define CONFIG_MAX_FINDINGS_LIMIT 1000000

enum webhook_format { WEBHOOK_STANDARD, WEBHOOK_SLACK, WEBHOOK_TEAMS };

/* Bits of webhook_conf.events. */
#define EVENT_ACCEPTED 0x1
#define EVENT_REJECTED 0x2
#define EVENT_INVALID 0x4

struct webhook_conf {
	char *name; /* from [webhook NAME] */
	char *url;
	enum webhook_format format;
	unsigned events;   /* EVENT_* bits; default rejected|invalid */
	char *secret_file; /* NULL if none */
	char *secret;	   /* the whsec_... text read from secret_file */
	long timeout_ms;   /* default 15s */
	long *retry_ms;	   /* delay before each try; default list */
	size_t nretry;
	char *ca_file; /* NULL if none */
};

struct config {
	char *path;	      /* the file read, or NULL for built-in defaults */
	char *spool_dir;      /* default /var/spool/expensed */
	char *inbox;	      /* default SPOOL/inbox */
	size_t max_file_size; /* default 16M */
	size_t max_findings;  /* findings listed per file; default 1000 */
	long settle_ms;	      /* default 2s */
	long rescan_ms;	      /* default 60s; 0 = off */
	long max_judge_ms;    /* [spool] max_judge_time; default 10s */
	size_t max_judge_memory; /* [spool] max_judge_memory; default 256M */
	char *rules_path;	 /* NULL = built-in set */
	int log_facility;	 /* LOG_DAEMON ... */
	int log_level;		 /* LOG_INFO ... (syslog priority, inclusive) */
	char *metrics_textfile;	 /* [metrics] textfile; NULL = off */
	long metrics_interval_ms; /* [metrics] interval; default 15s */
	struct webhook_conf *hooks;
	size_t nhooks;
	enum lang language; /* [general] language; default en (LANG_EN, 0) */
	bool html; /* [html] enabled: write pages and index.html; default yes */
	/* [spool] read_group: the group that reads accepted/ and rejected/;
	 * (gid_t)-1 (the default): the group those directories have */
	gid_t read_gid;
	int inbox_line; /* the line of [spool] inbox in path; 0: the default */
};

/* Fill cfg with the built-in defaults (no file). */
int config_defaults(struct config *cfg);

/*
 * Read path into cfg (defaults first, then the file). Secret files are read
 * too, and each ca_file must be a readable file; a secret file readable by
 * others adds a warning line to warn (which may be NULL). Returns 0, or -1 with
 * diag filled (cfg then freed).
 */
int config_load(const char *path, struct config *cfg, struct diag *diag,
		struct diag *warn);

/* config_load_flags: do not read secret files (webhook_conf.secret stays
 * NULL) nor check ca_file: for `expensed check`, which needs no secret and
 * may run as a user who cannot read them. */
#define CONFIG_SKIP_SECRETS 0x1

int config_load_flags(const char *path, struct config *cfg, struct diag *diag,
		      struct diag *warn, unsigned flags);

/* The path to use: -c argument if not NULL, else $EXPENSED_CONFIG, else
 * CONFIG_DEFAULT_PATH. */
const char *config_path(const char *arg);

void config_free(struct config *cfg);

struct ruleset;

/*
 * Load the rule set the configuration names ([rules] path), or the built-in
 * one when it names none or cfg is NULL: the one way the commands and the
 * daemon (start and reload) get their rules. Returns 0, or -1 with diag
 * filled (ruleset_load_path).
 */
int config_load_rules(const struct config *cfg, struct ruleset **rs,
		      struct diag *diag);

/*
 * Make cfg, newly read for a reload, use spool_dir, the spool in use (a new
 * directory needs a restart): its inbox too when the file leaves it to its
 * default, DIRECTORY/inbox, and the inbox checked against that spool's own
 * directories. 0, or -1 with a line in diag (the inbox refused, or no
 * memory).
 */
int config_keep_spool(struct config *cfg, const char *spool_dir,
		      struct diag *diag);

/*
 * Whether cfg's inbox is on the file system of its spool, as it must be:
 * files are claimed by rename. -1 with a line in diag (FILE:LINE: when the
 * inbox was given) when it is not; 0 when it is, or when either does not
 * exist yet (run reports those). `run` (start and reload) and
 * `check-config` ask it alike.
 */
int config_inbox_same_fs(const struct config *cfg, struct diag *diag);

/* The name config accepts for a syslog facility (LOG_DAEMON -> "daemon"),
 * or "?". */
const char *config_facility_name(int facility);

/* The longest duration a configuration may give (3650d): with it, no sum
 * the daemon makes (the clock plus a delay and its jitter, ten settles
 * plus a rescan) can overflow. */
#define CONFIG_MAX_DURATION_MS (3650L * 86400000L)
#define CONFIG_MAX_DURATION "3650d" /* the same, as written */

/* "15s" -> 15000; units ms, s, m, h, d; a bare number is seconds. -1 on
 * error, -2 when longer than CONFIG_MAX_DURATION_MS. */
long parse_duration_ms(const char *s);

/* "16M" -> 16777216; units K, M, G (powers of 1024); bare = bytes. -1 on
 * error. */
long long parse_size(const char *s);

#endif
