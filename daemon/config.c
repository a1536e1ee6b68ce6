/*
 * config.c - reading /etc/expensed/expensed.conf (docs/operations.md
 * "Configuration"): defaults, then the file's sections and keys, checked one by
 * one. The INI lines come from common/ini.c, the values are read by
 * config_value.c; every problem is reported as "FILE:LINE: reason" and all of
 * them are collected, not only the first.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "../common/ini.h"
#include "../common/io.h"
#include "../rules/engine.h"
#include "config.h"
#include "config_int.h"
#include "config_value.h"
#include "log.h"

#define DEFAULT_SPOOL "/var/spool/expensed"

/* ---- configuration object ---- */

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->spool_dir);
	free(cfg->inbox);
	free(cfg->rules_path);
	free(cfg->metrics_textfile);
	for (size_t i = 0; i < cfg->nhooks; i++)
		webhook_conf_free(&cfg->hooks[i]);
	free(cfg->hooks);
	memset(cfg, 0, sizeof(*cfg));
}

int config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->spool_dir = strdup(DEFAULT_SPOOL);
	cfg->inbox = strdup(DEFAULT_SPOOL "/inbox");
	cfg->max_file_size = (size_t)16 * 1024 * 1024;
	cfg->max_findings = EXPENSED_DEFAULT_MAX_FINDINGS;
	cfg->settle_ms = 2000;
	cfg->max_judge_ms = 10000;
	cfg->max_judge_memory = CONFIG_DEFAULT_JUDGE_MEMORY;
	cfg->rescan_ms = 60000;
	cfg->rules_path = NULL;
	cfg->log_facility = LOG_DAEMON;
	cfg->log_level = LOG_INFO;
	cfg->metrics_interval_ms = 15000;
	cfg->html = true;
	cfg->read_gid = (gid_t)-1;
	if (cfg->spool_dir == NULL || cfg->inbox == NULL) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

const char *config_path(const char *arg)
{
	const char *env;

	if (arg != NULL)
		return arg;
	env = getenv("EXPENSED_CONFIG");
	if (env != NULL && env[0] != '\0')
		return env;
	return CONFIG_DEFAULT_PATH;
}

/* ---- helpers for the parser ---- */

/* A value shown in a message, escaped and shortened. */
const char *config_shown(const char *s, char *buf, size_t size)
{
	return log_escape(s, buf, size);
}

void config_err(struct parser *st, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_at(st->diag, st->file, line, "%s", msg);
}

void config_warn(struct parser *st, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (st->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_at(st->warn, st->file, line, "%s", msg);
}

static char *resolve(const struct parser *st, const char *value)
{
	char *out = NULL;

	if (value[0] == '/')
		return strdup(value);
	if (asprintf(&out, "%s/%s", st->dir, value) < 0)
		return NULL;
	return out;
}

/* ---- sections ---- */

/* name is the text between the brackets, trimmed. */
static void begin_section(struct parser *st, const char *name)
{
	static const char *fixed[] = {"spool",	 "rules",   "log",
				      "metrics", "general", "html"};
	char buf[80];

	if (st->sec == SEC_WEBHOOK)
		webhook_section_end(st);
	st->sec = SEC_BAD;
	st->sec_line = st->lineno;
	st->nseen = 0;
	snprintf(st->secname, sizeof(st->secname), "[%s]",
		 config_shown(name, buf, 64));

	for (int i = 0; i < 6; i++) {
		if (strcmp(name, fixed[i]) != 0)
			continue;
		if (st->fixed_line[i] != 0) {
			config_err(st, st->lineno,
				   "duplicate section [%s] (first on line %d)",
				   fixed[i], st->fixed_line[i]);
			return;
		}
		st->fixed_line[i] = st->lineno;
		st->sec = SEC_SPOOL + i;
		return;
	}

	if (strncmp(name, "webhook", 7) == 0 &&
	    (name[7] == '\0' || name[7] == ' ' || name[7] == '\t')) {
		webhook_section_begin(st, name + 7);
		return;
	}
	config_err(st, st->lineno, "unknown section [%s]",
		   config_shown(name, buf, 64));
}

/* ---- keys ---- */

/* The line key was first given on in this section, 0 if not yet; key is
 * remembered now when it was not. */
static int first_seen(struct parser *st, const char *key)
{
	for (size_t i = 0; i < st->nseen; i++) {
		if (strcmp(st->seen[i].key, key) == 0)
			return st->seen[i].line;
	}
	if (st->nseen < sizeof(st->seen) / sizeof(st->seen[0])) {
		st->seen[st->nseen].key = key;
		st->seen[st->nseen].line = st->lineno;
		st->nseen++;
	}
	return 0;
}

static bool seen_before(struct parser *st, const char *key)
{
	int first = first_seen(st, key);

	if (first != 0)
		config_err(st, st->lineno,
			   "duplicate key '%s' in %s (first on line %d)", key,
			   st->secname, first);
	return first != 0;
}

int config_set_path(struct parser *st, const char *key, const char *value,
		    char **dst)
{
	char *p;

	if (value[0] == '\0') {
		config_err(st, st->lineno, "empty value for '%s'", key);
		return -1;
	}
	p = resolve(st, value);
	if (p == NULL) {
		config_err(st, st->lineno, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = p;
	return 0;
}

int config_set_duration(struct parser *st, const char *key, const char *value,
			long *dst)
{
	char buf[80];
	long ms = parse_duration_ms(value);

	if (ms == -2) {
		config_err(st, st->lineno,
			   "bad duration '%s' for %s (at most %s)",
			   config_shown(value, buf, sizeof(buf)), key,
			   CONFIG_MAX_DURATION);
		return -1;
	}
	if (ms < 0) {
		config_err(
		    st, st->lineno,
		    "bad duration '%s' for %s (e.g. 500ms, 2s, 5m, 1h, 1d)",
		    config_shown(value, buf, sizeof(buf)), key);
		return -1;
	}
	*dst = ms;
	return 0;
}

/* A whole number from 1 to CONFIG_MAX_FINDINGS_LIMIT, digits only. */
static int set_count(struct parser *st, const char *key, const char *value,
		     size_t *dst)
{
	char buf[80];
	size_t n = 0;
	const char *p = value;

	for (; *p >= '0' && *p <= '9' && n <= CONFIG_MAX_FINDINGS_LIMIT; p++)
		n = n * 10 + (size_t)(*p - '0');
	if (p == value || *p != '\0' || n < 1 ||
	    n > CONFIG_MAX_FINDINGS_LIMIT) {
		config_err(st, st->lineno,
			   "bad %s '%s' (a whole number from 1 to %d)", key,
			   config_shown(value, buf, sizeof(buf)),
			   CONFIG_MAX_FINDINGS_LIMIT);
		return -1;
	}
	*dst = n;
	return 0;
}

static void spool_key(struct parser *st, const char *key, const char *value)
{
	struct config *cfg = st->cfg;
	char buf[80];

	if (strcmp(key, "directory") == 0) {
		config_set_path(st, key, value, &cfg->spool_dir);
	} else if (strcmp(key, "inbox") == 0) {
		if (config_set_path(st, key, value, &cfg->inbox) == 0) {
			st->inbox_set = true;
			st->inbox_line = st->lineno;
			cfg->inbox_line = st->lineno;
		}
	} else if (strcmp(key, "max_file_size") == 0) {
		long long n = parse_size(value);

		if (n <= 0 || (unsigned long long)n > SIZE_MAX) {
			config_err(st, st->lineno,
				   "bad size '%s' for %s (e.g. 512K, 16M, 1G)",
				   config_shown(value, buf, sizeof(buf)), key);
			return;
		}
		cfg->max_file_size = (size_t)n;
	} else if (strcmp(key, "max_findings") == 0) {
		set_count(st, key, value, &cfg->max_findings);
	} else if (strcmp(key, "settle") == 0) {
		config_set_duration(st, key, value, &cfg->settle_ms);
	} else if (strcmp(key, "rescan") == 0) {
		config_set_duration(st, key, value, &cfg->rescan_ms);
	} else if (strcmp(key, "read_group") == 0) {
		if (config_group(value, &cfg->read_gid) == -1)
			config_err(st, st->lineno,
				   "unknown group '%s' for read_group",
				   config_shown(value, buf, sizeof(buf)));
	} else if (strcmp(key, "max_judge_time") == 0) {
		long ms = 0;
		if (config_set_duration(st, key, value, &ms) == -1)
			return;
		if (ms < 1 || ms > CONFIG_MAX_JUDGE_MS)
			config_err(st, st->lineno,
				   "max_judge_time must be from 1ms to 20s");
		else
			cfg->max_judge_ms = ms;
	} else if (strcmp(key, "max_judge_memory") == 0) {
		long long n = parse_size(value);

		if (n < 0 || (unsigned long long)n > SIZE_MAX)
			config_err(st, st->lineno,
				   "bad size '%s' for %s (e.g. 256M, 1G)",
				   config_shown(value, buf, sizeof(buf)), key);
		else if ((size_t)n < CONFIG_MIN_JUDGE_MEMORY)
			config_err(st, st->lineno,
				   "max_judge_memory must be at least 1M");
		else
			cfg->max_judge_memory = (size_t)n;
	}
}

static void log_key(struct parser *st, const char *key, const char *value)
{
	char buf[80];

	if (strcmp(key, "facility") == 0) {
		if (config_facility(value, &st->cfg->log_facility) == -1)
			config_err(
			    st, st->lineno,
			    "unknown facility '%s' (daemon, user, local0 ... "
			    "local7)",
			    config_shown(value, buf, sizeof(buf)));
	} else if (strcmp(key, "level") == 0) {
		if (config_level(value, &st->cfg->log_level) == -1)
			config_err(
			    st, st->lineno,
			    "unknown level '%s' (debug, info, notice, warning, "
			    "err, crit)",
			    config_shown(value, buf, sizeof(buf)));
	}
}

static void metrics_key(struct parser *st, const char *key, const char *value)
{
	long ms;

	if (strcmp(key, "textfile") == 0) {
		config_set_path(st, key, value, &st->cfg->metrics_textfile);
	} else if (strcmp(key, "interval") == 0 &&
		   config_set_duration(st, key, value, &ms) == 0) {
		if (ms == 0)
			config_err(st, st->lineno, "interval must not be 0");
		else
			st->cfg->metrics_interval_ms = ms;
	}
}

/* Read the secret file of the current webhook; never show its content. */
static const char *const spool_keys[] = {
    "directory", "inbox",	   "max_file_size",    "max_findings", "settle",
    "rescan",	 "max_judge_time", "max_judge_memory", "read_group",   NULL,
};
static const char *const rules_keys[] = {"path", NULL};
static const char *const general_keys[] = {"language", NULL};
static const char *const html_keys[] = {"enabled", NULL};
static const char *const log_keys[] = {"facility", "level", NULL};
static const char *const metrics_keys[] = {"textfile", "interval", NULL};
static const char *const webhook_keys[] = {
    "url",     "format", "events",  "secret_file",
    "timeout", "retry",	 "ca_file", NULL,
};

/* The keys of the current section, NULL outside a known one. */
static const char *const *section_keys(enum section sec)
{
	switch (sec) {
	case SEC_SPOOL:
		return spool_keys;
	case SEC_RULES:
		return rules_keys;
	case SEC_LOG:
		return log_keys;
	case SEC_METRICS:
		return metrics_keys;
	case SEC_GENERAL:
		return general_keys;
	case SEC_HTML:
		return html_keys;
	case SEC_WEBHOOK:
		return webhook_keys;
	case SEC_NONE:
	case SEC_BAD:
		break;
	}
	return NULL;
}

/* One "key = value" line. */
static void pair(struct parser *st, const char *name, const char *value)
{
	const char *const *keys;
	const char *key = NULL;
	char buf[80];

	/* No key, or a ':' in it, has always read as a malformed line. */
	if (name[0] == '\0' || strchr(name, ':') != NULL) {
		config_err(st, st->lineno, "expected 'key = value'");
		return;
	}
	if (st->sec == SEC_NONE) {
		config_err(st, st->lineno, "key '%s' outside any section",
			   config_shown(name, buf, 64));
		return;
	}
	keys = section_keys(st->sec);
	if (keys == NULL)
		return; /* the section was reported already */
	for (size_t i = 0; keys[i] != NULL; i++) {
		if (strcmp(keys[i], name) == 0)
			key = keys[i];
	}
	if (key == NULL) {
		config_err(st, st->lineno, "unknown key '%s' in %s",
			   config_shown(name, buf, 64), st->secname);
		return;
	}
	if (seen_before(st, key))
		return;
	if (value[0] == '\0') {
		config_err(st, st->lineno, "empty value for '%s'", key);
		return;
	}

	switch (st->sec) {
	case SEC_SPOOL:
		spool_key(st, key, value);
		break;
	case SEC_RULES:
		config_set_path(st, key, value, &st->cfg->rules_path);
		break;
	case SEC_LOG:
		log_key(st, key, value);
		break;
	case SEC_METRICS:
		metrics_key(st, key, value);
		break;
	case SEC_GENERAL:
		if (i18n_parse(value, &st->cfg->language) == -1)
			config_err(st, st->lineno,
				   "bad language '%s' (en or fr)",
				   config_shown(value, buf, 64));
		break;
	case SEC_HTML:
		if (strcmp(value, "yes") == 0)
			st->cfg->html = true;
		else if (strcmp(value, "no") == 0)
			st->cfg->html = false;
		else
			config_err(st, st->lineno,
				   "bad value '%s' for enabled (yes "
				   "or no)",
				   config_shown(value, buf, 64));
		break;
	case SEC_WEBHOOK:
		webhook_key(st, key, value);
		break;
	default:
		break;
	}
}

/* A key whose line was refused (reported already, its value unread): it
 * counts as given, so that a webhook whose url line holds a control
 * character, or is too long, is not said to have no url as well. */
static void given_unread(struct parser *st, const char *name)
{
	const char *const *keys = section_keys(st->sec);

	for (size_t i = 0; keys != NULL && keys[i] != NULL; i++) {
		if (strcmp(keys[i], name) == 0)
			first_seen(st, keys[i]);
	}
}

/* The ini_handler: sections and keys in file order. */
static int on_item(void *user, const struct ini_item *item)
{
	struct parser *st = user;

	st->lineno = item->line;
	switch (item->kind) {
	case INI_SECTION:
		begin_section(st, item->name);
		break;
	case INI_BAD_SECTION:
		if (st->sec == SEC_WEBHOOK)
			webhook_section_end(st);
		st->sec = SEC_BAD;
		break;
	case INI_PAIR:
		pair(st, item->name, item->value);
		break;
	case INI_BAD_PAIR:
		given_unread(st, item->name);
		break;
	}
	return 0;
}

/* Whether inbox is itself a symbolic link (a link in a directory above
 * it is followed): the daemon opens it with O_NOFOLLOW, so that no link
 * put in its place can turn it elsewhere, and never watched it. real: what
 * it points to, as far as it resolves. */
static bool inbox_is_link(const char *inbox, char *real, size_t size)
{
	char buf[PATH_MAX];
	struct stat st;

	if (lstat(inbox, &st) == -1 || !S_ISLNK(st.st_mode))
		return false;
	snprintf(real, size, "%s",
		 realpath(inbox, buf) != NULL ? buf : "the directory itself");
	return true;
}

/* Whether cfg's inbox is the spool or one of its own directories: -1 with
 * a line in diag (at the line of inbox when it was given). */
static int inbox_own(const struct config *cfg, struct diag *diag)
{
	char real[PATH_MAX];

	if (!config_inbox_is_own(cfg->inbox, cfg->spool_dir, real,
				 sizeof(real)))
		return 0;
	diag_at(diag, cfg->path, cfg->inbox_line,
		"inbox must not be the spool directory or its work, "
		"accepted, rejected, outbox, dead or state directory, "
		"nor lie inside one (it is %s)",
		real);
	return -1;
}

/* Checks once the whole file is read. */
static void finish(struct parser *st)
{
	struct config *cfg = st->cfg;
	char real[PATH_MAX];

	if (st->sec == SEC_WEBHOOK)
		webhook_section_end(st);
	if (!st->inbox_set) {
		free(cfg->inbox);
		cfg->inbox = NULL;
		if (asprintf(&cfg->inbox, "%s/inbox", cfg->spool_dir) < 0) {
			cfg->inbox = NULL;
			diag_add(st->diag, "out of memory");
		}
	}
	if (cfg->inbox != NULL && inbox_own(cfg, st->diag) == 0 &&
	    inbox_is_link(cfg->inbox, real, sizeof(real)))
		config_err(st, st->inbox_line,
			   "inbox %s is a symbolic link: the daemon opens the "
			   "inbox itself, never through a link (give %s)",
			   cfg->inbox, real);
	for (size_t i = 0; i < cfg->nhooks; i++) {
		if (cfg->hooks[i].name == NULL ||
		    cfg->hooks[i].retry_ms == NULL)
			diag_add(st->diag, "out of memory");
	}
}

/* The whole file at path, NUL-terminated; NULL with diag filled. */
static char *read_config(const char *path, size_t *len, struct diag *diag)
{
	char *text = NULL;
	size_t cap = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		diag_add(diag, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (read_fd(fd, SIZE_MAX / 2, 0, &text, &cap, len) == -1) {
		diag_add(diag, "cannot read '%s': %s", path, strerror(errno));
		free(text);
		text = NULL;
	}
	close(fd);
	return text;
}

int config_load(const char *path, struct config *cfg, struct diag *diag,
		struct diag *warnings)
{
	return config_load_flags(path, cfg, diag, warnings, 0);
}

int config_load_flags(const char *path, struct config *cfg, struct diag *diag,
		      struct diag *warnings, unsigned flags)
{
	struct parser st;
	size_t nerr = diag->n, len = 0;
	char *text = NULL;

	memset(&st, 0, sizeof(st));
	st.skip_secrets = (flags & CONFIG_SKIP_SECRETS) != 0;
	if (config_defaults(cfg) == -1) {
		diag_add(diag, "out of memory");
		return -1;
	}
	st.file = path;
	st.cfg = cfg;
	st.diag = diag;
	st.warn = warnings;
	st.sec = SEC_NONE;
	cfg->path = strdup(path);
	text = read_config(path, &len, diag);
	if (text == NULL)
		goto out;
	st.dir = config_dir_of(path);
	if (st.dir == NULL || cfg->path == NULL) {
		diag_add(diag, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (ini_parse_text(path, text, len, NULL, on_item, &st, diag) == -1)
		diag_add(diag, "%s: out of memory", path);
	finish(&st);
out:
	free(text);
	free(st.dir);
	free(st.hook_line);
	if (diag->n != nerr) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

int config_keep_spool(struct config *cfg, const char *spool_dir,
		      struct diag *diag)
{
	char *dir = strdup(spool_dir), *inbox = NULL;

	if (dir == NULL ||
	    (cfg->inbox_line == 0 && asprintf(&inbox, "%s/inbox", dir) < 0)) {
		free(dir);
		diag_add(diag, "out of memory");
		return -1;
	}
	free(cfg->spool_dir);
	cfg->spool_dir = dir;
	if (inbox != NULL) {
		free(cfg->inbox);
		cfg->inbox = inbox;
	}
	return inbox_own(cfg, diag);
}

int config_inbox_same_fs(const struct config *cfg, struct diag *diag)
{
	struct stat a, b;

	if (stat(cfg->spool_dir, &a) == -1 || stat(cfg->inbox, &b) == -1)
		return 0;
	if (a.st_dev == b.st_dev)
		return 0;
	/* FILE:LINE: when the file gives the inbox; the default has none */
	diag_at(diag, cfg->inbox_line > 0 ? cfg->path : NULL, cfg->inbox_line,
		"inbox %s is not on the file system of spool %s "
		"(files are claimed by rename)",
		cfg->inbox, cfg->spool_dir);
	return -1;
}

int config_load_rules(const struct config *cfg, struct ruleset **rs,
		      struct diag *diag)
{
	if (cfg != NULL && cfg->rules_path != NULL)
		return ruleset_load_path(cfg->rules_path, rs, diag);
	return ruleset_load_builtin(rs, diag);
}
