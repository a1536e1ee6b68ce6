/*
 * config.c - reading /etc/expensed/expensed.conf (SPEC §5 "Configuration").
 *
 * libinih splits "key = value" lines; our own line reader in front of it
 * counts lines (inih tells the handler none), strips "# ..." and "; ..."
 * comments, refuses multi-line continuations, and lets values longer than
 * inih's 200-byte line buffer through, so that every problem is reported as
 * "FILE:LINE: reason" and all of them are collected, not only the first.
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
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "log.h"

#define DEFAULT_SPOOL "/var/spool/expensed"
#define MAX_LINE 4096	  /* longest line we accept, comments included */
#define MAX_RETRIES 100	  /* entries of a webhook's retry list */
#define MAX_SECRET 4096	  /* bytes read from a secret file */
#define LONG_VALUE "\x01" /* stands for st->longval in what inih sees */

static const long default_retry_ms[] = {
    0,	      5000,	300000,	  1800000,  7200000,
    18000000, 36000000, 50400000, 72000000, 86400000,
};

enum section { SEC_NONE, SEC_SPOOL, SEC_RULES, SEC_LOG, SEC_WEBHOOK, SEC_BAD };

struct seen_key {
	const char *key; /* static string from the key tables */
	int line;
};

struct parser {
	const char *file; /* as given, for messages */
	char *dir;	  /* absolute directory of file, for relative paths */
	FILE *fp;
	int lineno;
	char *line;
	size_t linecap;
	char *longval; /* the value of the current line, when too long */
	struct config *cfg;
	struct diag *diag;
	struct diag *warn;

	enum section sec;
	int sec_line;	   /* line of the current section header */
	char secname[80];  /* "[spool]", "[webhook audit]" for messages */
	int fixed_line[3]; /* first line of [spool], [rules], [log] */
	int *hook_line;	   /* header line of each webhook */
	int secret_line;   /* line of secret_file in the current webhook */
	bool skip_secrets; /* CONFIG_SKIP_SECRETS */
	struct seen_key seen[16];
	size_t nseen;
	bool inbox_set;
	int inbox_line;
};

/* ---- value parsers ---- */

long parse_duration_ms(const char *s)
{
	static const struct {
		const char *unit;
		long ms;
	} units[] = {
	    {"ms", 1},	  {"s", 1000},	  {"", 1000},
	    {"m", 60000}, {"h", 3600000}, {"d", 86400000},
	};
	char *end;
	long n;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || n < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (n > LONG_MAX / units[i].ms)
			return -1;
		return n * units[i].ms;
	}
	return -1;
}

long long parse_size(const char *s)
{
	char *end;
	long long n, mult = 1;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || n < 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 'K':
		case 'k':
			mult = 1024LL;
			break;
		case 'M':
		case 'm':
			mult = 1024LL * 1024;
			break;
		case 'G':
		case 'g':
			mult = 1024LL * 1024 * 1024;
			break;
		default:
			return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (n > LLONG_MAX / mult)
		return -1;
	return n * mult;
}

/* ---- configuration object ---- */

static void webhook_free(struct webhook_conf *h)
{
	free(h->name);
	free(h->url);
	free(h->secret_file);
	if (h->secret != NULL) {
		explicit_bzero(h->secret, strlen(h->secret));
		free(h->secret);
	}
	free(h->retry_ms);
	free(h->ca_file);
	memset(h, 0, sizeof(*h));
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->spool_dir);
	free(cfg->inbox);
	free(cfg->rules_path);
	for (size_t i = 0; i < cfg->nhooks; i++)
		webhook_free(&cfg->hooks[i]);
	free(cfg->hooks);
	memset(cfg, 0, sizeof(*cfg));
}

int config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->spool_dir = strdup(DEFAULT_SPOOL);
	cfg->inbox = strdup(DEFAULT_SPOOL "/inbox");
	cfg->max_file_size = (size_t)16 * 1024 * 1024;
	cfg->settle_ms = 2000;
	cfg->rescan_ms = 60000;
	cfg->rules_path = NULL;
	cfg->log_facility = LOG_DAEMON;
	cfg->log_level = LOG_INFO;
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
static const char *shown(const char *s, char *buf, size_t size)
{
	return log_escape(s, buf, size);
}

static void err(struct parser *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err(struct parser *st, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_at(st->diag, st->file, line, "%s", msg);
}

static void warn(struct parser *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn(struct parser *st, int line, const char *fmt, ...)
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

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static struct webhook_conf *cur_hook(struct parser *st)
{
	return &st->cfg->hooks[st->cfg->nhooks - 1];
}

/* ---- sections ---- */

static bool valid_hook_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
		    *s != '-')
			return false;
	}
	return true;
}

/* Checks at the end of a section (the next header, or the end of file). */
static void end_section(struct parser *st)
{
	struct webhook_conf *h;
	bool url_given = false;

	if (st->sec != SEC_WEBHOOK)
		return;
	h = cur_hook(st);
	for (size_t i = 0; i < st->nseen; i++) {
		if (strcmp(st->seen[i].key, "url") == 0)
			url_given = true; /* but bad: reported already */
	}
	if (h->url == NULL && !url_given)
		err(st, st->sec_line, "webhook '%s' has no url", h->name);
	if (h->secret_file != NULL && h->format != WEBHOOK_STANDARD)
		warn(st, st->secret_line,
		     "secret_file is only used by the standard format");
}

static int add_hook(struct parser *st, const char *name)
{
	struct config *cfg = st->cfg;
	struct webhook_conf *hooks, *h;
	int *lines;

	hooks = realloc(cfg->hooks, (cfg->nhooks + 1) * sizeof(*hooks));
	if (hooks == NULL)
		return -1;
	cfg->hooks = hooks;
	lines = realloc(st->hook_line, (cfg->nhooks + 1) * sizeof(*lines));
	if (lines == NULL)
		return -1;
	st->hook_line = lines;
	h = &hooks[cfg->nhooks];
	memset(h, 0, sizeof(*h));
	h->name = strdup(name);
	h->retry_ms = malloc(sizeof(default_retry_ms));
	if (h->name == NULL || h->retry_ms == NULL) {
		webhook_free(h);
		return -1;
	}
	memcpy(h->retry_ms, default_retry_ms, sizeof(default_retry_ms));
	h->nretry = sizeof(default_retry_ms) / sizeof(default_retry_ms[0]);
	h->format = WEBHOOK_STANDARD;
	h->events = EVENT_REJECTED | EVENT_INVALID;
	h->timeout_ms = 15000;
	lines[cfg->nhooks] = st->lineno;
	cfg->nhooks++;
	return 0;
}

/* name is the text between the brackets, trimmed. */
static void begin_section(struct parser *st, const char *name)
{
	static const char *fixed[] = {"spool", "rules", "log"};
	char buf[80];

	end_section(st);
	st->sec = SEC_BAD;
	st->sec_line = st->lineno;
	st->nseen = 0;
	snprintf(st->secname, sizeof(st->secname), "[%s]",
		 shown(name, buf, 64));

	for (int i = 0; i < 3; i++) {
		if (strcmp(name, fixed[i]) != 0)
			continue;
		if (st->fixed_line[i] != 0) {
			err(st, st->lineno,
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
		const char *hn = name + 7;

		while (*hn == ' ' || *hn == '\t')
			hn++;
		if (*hn == '\0') {
			err(st, st->lineno,
			    "webhook section needs a name: [webhook NAME]");
			return;
		}
		if (!valid_hook_name(hn)) {
			err(st, st->lineno,
			    "bad webhook name '%s' (letters, digits, '.', '_', "
			    "'-')",
			    shown(hn, buf, 64));
			return;
		}
		for (size_t i = 0; i < st->cfg->nhooks; i++) {
			if (strcmp(st->cfg->hooks[i].name, hn) == 0) {
				err(st, st->lineno,
				    "duplicate webhook '%s' (first on line %d)",
				    hn, st->hook_line[i]);
				return;
			}
		}
		if (add_hook(st, hn) == -1) {
			err(st, st->lineno, "out of memory");
			return;
		}
		snprintf(st->secname, sizeof(st->secname), "[webhook %s]", hn);
		st->sec = SEC_WEBHOOK;
		return;
	}
	err(st, st->lineno, "unknown section [%s]", shown(name, buf, 64));
}

/* ---- the line reader in front of inih ---- */

/* A "# ..." or "; ..." comment starts at whitespace followed by # or ;. */
static void strip_comment(char *s)
{
	for (char *p = s + 1; *p != '\0'; p++) {
		if ((*p == '#' || *p == ';') &&
		    (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

/* Handle one "[...]" line; s starts at '['. */
static void section_line(struct parser *st, char *s)
{
	char *close = strchr(s, ']');
	char *rest;

	if (close == NULL) {
		err(st, st->lineno, "missing ']' in section header");
		end_section(st);
		st->sec = SEC_BAD;
		return;
	}
	*close = '\0';
	rest = close + 1;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	if (*rest != '\0' && *rest != '#' && *rest != ';') {
		err(st, st->lineno, "unexpected text after section header");
		end_section(st);
		st->sec = SEC_BAD;
		return;
	}
	begin_section(st, trim(s + 1));
}

/*
 * inih's fgets-like reader: one call, one line. Comments, blank lines and
 * section headers are handled here and passed on as empty lines; a
 * "key = value" line is passed on without leading blanks (so that inih never
 * joins it to the previous value) and without its comment.
 */
static char *reader(char *str, int num, void *stream)
{
	struct parser *st = stream;
	ssize_t n;
	char *s, *eq;

	free(st->longval);
	st->longval = NULL;
	n = getline(&st->line, &st->linecap, st->fp);
	if (n < 0)
		return NULL;
	st->lineno++;
	str[0] = '\0';
	if (n > 0 && st->line[n - 1] == '\n')
		st->line[--n] = '\0';
	if (n > 0 && st->line[n - 1] == '\r')
		st->line[--n] = '\0';
	s = st->line;
	if (st->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	if (n > MAX_LINE) {
		err(st, st->lineno, "line too long (more than %d bytes)",
		    MAX_LINE);
		return str;
	}
	for (char *p = s; p < st->line + n; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			err(st, st->lineno, "control character in line");
			return str;
		}
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || *s == '#' || *s == ';')
		return str;
	if (*s == '[') {
		section_line(st, s);
		return str;
	}
	strip_comment(s);
	s = trim(s);
	eq = strpbrk(s, "=:");
	if (eq == NULL || *eq != '=' || eq == s) {
		err(st, st->lineno, "expected 'key = value'");
		return str;
	}
	if ((size_t)num > strlen(s) + 1) {
		memcpy(str, s, strlen(s) + 1);
		return str;
	}
	/* Too long for inih's buffer: inih gets the key, we keep the value. */
	*eq = '\0';
	st->longval = strdup(trim(eq + 1));
	if (st->longval == NULL || (size_t)num < strlen(trim(s)) + 3) {
		err(st, st->lineno, "line too long (key of %zu bytes)",
		    strlen(s));
		return str;
	}
	snprintf(str, num, "%s=%s", trim(s), LONG_VALUE);
	return str;
}

/* ---- keys ---- */

static bool seen_before(struct parser *st, const char *key)
{
	for (size_t i = 0; i < st->nseen; i++) {
		if (strcmp(st->seen[i].key, key) == 0) {
			err(st, st->lineno,
			    "duplicate key '%s' in %s (first on line %d)", key,
			    st->secname, st->seen[i].line);
			return true;
		}
	}
	if (st->nseen < sizeof(st->seen) / sizeof(st->seen[0])) {
		st->seen[st->nseen].key = key;
		st->seen[st->nseen].line = st->lineno;
		st->nseen++;
	}
	return false;
}

static int set_path(struct parser *st, const char *key, const char *value,
		    char **dst)
{
	char *p;

	if (value[0] == '\0') {
		err(st, st->lineno, "empty value for '%s'", key);
		return -1;
	}
	p = resolve(st, value);
	if (p == NULL) {
		err(st, st->lineno, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = p;
	return 0;
}

static int set_duration(struct parser *st, const char *key, const char *value,
			long *dst)
{
	char buf[80];
	long ms = parse_duration_ms(value);

	if (ms < 0) {
		err(st, st->lineno,
		    "bad duration '%s' for %s (e.g. 500ms, 2s, 5m, 1h, 1d)",
		    shown(value, buf, sizeof(buf)), key);
		return -1;
	}
	*dst = ms;
	return 0;
}

static void spool_key(struct parser *st, const char *key, const char *value)
{
	struct config *cfg = st->cfg;
	char buf[80];

	if (strcmp(key, "directory") == 0) {
		set_path(st, key, value, &cfg->spool_dir);
	} else if (strcmp(key, "inbox") == 0) {
		if (set_path(st, key, value, &cfg->inbox) == 0) {
			st->inbox_set = true;
			st->inbox_line = st->lineno;
		}
	} else if (strcmp(key, "max_file_size") == 0) {
		long long n = parse_size(value);

		if (n <= 0 || (unsigned long long)n > SIZE_MAX) {
			err(st, st->lineno,
			    "bad size '%s' for %s (e.g. 512K, 16M, 1G)",
			    shown(value, buf, sizeof(buf)), key);
			return;
		}
		cfg->max_file_size = (size_t)n;
	} else if (strcmp(key, "settle") == 0) {
		set_duration(st, key, value, &cfg->settle_ms);
	} else if (strcmp(key, "rescan") == 0) {
		set_duration(st, key, value, &cfg->rescan_ms);
	}
}

static void log_key(struct parser *st, const char *key, const char *value)
{
	static const struct {
		const char *name;
		int value;
	} facilities[] =
	    {
		{"daemon", LOG_DAEMON}, {"user", LOG_USER},
		{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
		{"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
		{"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
		{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	    },
	  levels[] = {
	      {"debug", LOG_DEBUG},   {"info", LOG_INFO},
	      {"notice", LOG_NOTICE}, {"warning", LOG_WARNING},
	      {"err", LOG_ERR},	      {"error", LOG_ERR},
	      {"crit", LOG_CRIT},
	  };
	char buf[80];

	if (strcmp(key, "facility") == 0) {
		for (size_t i = 0; i < sizeof(facilities) / sizeof(*facilities);
		     i++) {
			if (strcmp(value, facilities[i].name) == 0) {
				st->cfg->log_facility = facilities[i].value;
				return;
			}
		}
		err(st, st->lineno,
		    "unknown facility '%s' (daemon, user, local0 ... local7)",
		    shown(value, buf, sizeof(buf)));
	} else if (strcmp(key, "level") == 0) {
		for (size_t i = 0; i < sizeof(levels) / sizeof(*levels); i++) {
			if (strcmp(value, levels[i].name) == 0) {
				st->cfg->log_level = levels[i].value;
				return;
			}
		}
		err(st, st->lineno,
		    "unknown level '%s' (debug, info, notice, warning, err, "
		    "crit)",
		    shown(value, buf, sizeof(buf)));
	}
}

/* http:// or https://, a host, and nothing that needs quoting. */
static bool valid_url(const char *url)
{
	const char *p, *host, *end, *at;

	if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return false;
	for (p = url; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	}
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at != NULL)
		host = at + 1;
	return end > host && *host != ':';
}

static int parse_events(const char *value, unsigned *out)
{
	char *copy = strdup(value), *save = NULL, *tok;
	unsigned ev = 0;
	int rc = -1;

	if (copy == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (strcmp(tok, "accepted") == 0)
			ev |= EVENT_ACCEPTED;
		else if (strcmp(tok, "rejected") == 0)
			ev |= EVENT_REJECTED;
		else if (strcmp(tok, "invalid") == 0)
			ev |= EVENT_INVALID;
		else
			goto out;
	}
	if (ev == 0)
		goto out;
	*out = ev;
	rc = 0;
out:
	free(copy);
	return rc;
}

static int parse_retry(const char *value, long **out, size_t *nout)
{
	char item[64];
	long *list;
	size_t n = 0;

	list = calloc(MAX_RETRIES, sizeof(*list));
	if (list == NULL)
		return -1;
	for (const char *p = value;; p++) {
		size_t len = strcspn(p, ",");
		long ms;

		if (n == MAX_RETRIES || len >= sizeof(item))
			goto fail;
		memcpy(item, p, len);
		item[len] = '\0';
		ms = parse_duration_ms(trim(item));
		if (ms < 0)
			goto fail;
		list[n++] = ms;
		p += len;
		if (*p == '\0')
			break;
	}
	*out = list;
	*nout = n;
	return 0;
fail:
	free(list);
	return -1;
}

/* Is s "whsec_" followed by non-empty, well-formed base64? */
static bool valid_secret(const char *s)
{
	size_t n, pad = 0;

	if (strncmp(s, "whsec_", 6) != 0)
		return false;
	s += 6;
	n = strlen(s);
	if (n == 0 || n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			return false;
		if (!isalnum(c) && c != '+' && c != '/')
			return false;
	}
	return pad <= 2;
}

/* Read the secret file of the current webhook; never show its content. */
static void read_secret(struct parser *st, struct webhook_conf *h)
{
	char buf[MAX_SECRET + 1];
	char shownpath[256];
	struct stat sb;
	ssize_t n;
	size_t len = 0;
	char *line;
	int fd;

	shown(h->secret_file, shownpath, sizeof(shownpath));
	fd = open(h->secret_file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		err(st, st->lineno, "cannot read secret_file '%s': %s",
		    shownpath, strerror(errno));
		return;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		err(st, st->lineno, "secret_file '%s' is not a regular file",
		    shownpath);
		goto out;
	}
	while (len < MAX_SECRET) {
		n = read(fd, buf + len, MAX_SECRET - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err(st, st->lineno, "cannot read secret_file '%s': %s",
			    shownpath, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	line = trim(buf);
	if (!valid_secret(line)) {
		err(st, st->lineno,
		    "secret_file '%s' does not hold a secret of the form "
		    "whsec_BASE64",
		    shownpath);
		goto out;
	}
	h->secret = strdup(line);
	if (h->secret == NULL)
		err(st, st->lineno, "out of memory");
	if (sb.st_mode & S_IROTH)
		warn(st, st->lineno,
		     "secret_file '%s' is readable by others (chmod o-r)",
		     shownpath);
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
}

static void webhook_key(struct parser *st, const char *key, const char *value)
{
	struct webhook_conf *h = cur_hook(st);
	char buf[80];

	if (strcmp(key, "url") == 0) {
		/* Never show the url: it may carry a token. */
		if (!valid_url(value)) {
			err(st, st->lineno,
			    "bad url for webhook '%s': only http:// and "
			    "https:// urls with a host are allowed",
			    h->name);
			return;
		}
		free(h->url);
		h->url = strdup(value);
	} else if (strcmp(key, "format") == 0) {
		if (strcmp(value, "standard") == 0)
			h->format = WEBHOOK_STANDARD;
		else if (strcmp(value, "slack") == 0)
			h->format = WEBHOOK_SLACK;
		else if (strcmp(value, "teams") == 0)
			h->format = WEBHOOK_TEAMS;
		else
			err(st, st->lineno,
			    "unknown format '%s' (standard, slack, teams)",
			    shown(value, buf, sizeof(buf)));
	} else if (strcmp(key, "events") == 0) {
		if (parse_events(value, &h->events) == -1)
			err(st, st->lineno,
			    "bad events '%s' (a list of accepted, rejected, "
			    "invalid)",
			    shown(value, buf, sizeof(buf)));
	} else if (strcmp(key, "secret_file") == 0) {
		if (set_path(st, key, value, &h->secret_file) == 0) {
			st->secret_line = st->lineno;
			if (!st->skip_secrets)
				read_secret(st, h);
		}
	} else if (strcmp(key, "timeout") == 0) {
		long ms;

		if (set_duration(st, key, value, &ms) == 0) {
			if (ms == 0)
				err(st, st->lineno, "timeout must not be 0");
			else
				h->timeout_ms = ms;
		}
	} else if (strcmp(key, "retry") == 0) {
		long *list;
		size_t n;

		if (parse_retry(value, &list, &n) == -1) {
			err(st, st->lineno,
			    "bad retry list '%s' (durations separated by "
			    "commas, at most %d)",
			    shown(value, buf, sizeof(buf)), MAX_RETRIES);
			return;
		}
		free(h->retry_ms);
		h->retry_ms = list;
		h->nretry = n;
	} else if (strcmp(key, "ca_file") == 0) {
		set_path(st, key, value, &h->ca_file);
	}
}

static const char *const spool_keys[] = {
    "directory", "inbox", "max_file_size", "settle", "rescan", NULL,
};
static const char *const rules_keys[] = {"path", NULL};
static const char *const log_keys[] = {"facility", "level", NULL};
static const char *const webhook_keys[] = {
    "url",     "format", "events",  "secret_file",
    "timeout", "retry",	 "ca_file", NULL,
};

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parser *st = user;
	const char *const *keys = NULL;
	const char *key = NULL;
	char buf[80];

	(void)section; /* we follow sections ourselves, in reader() */
	if (st->longval != NULL && strcmp(value, LONG_VALUE) == 0)
		value = st->longval;

	switch (st->sec) {
	case SEC_NONE:
		err(st, st->lineno, "key '%s' outside any section",
		    shown(name, buf, 64));
		return 1;
	case SEC_BAD:
		return 1; /* the section was reported already */
	case SEC_SPOOL:
		keys = spool_keys;
		break;
	case SEC_RULES:
		keys = rules_keys;
		break;
	case SEC_LOG:
		keys = log_keys;
		break;
	case SEC_WEBHOOK:
		keys = webhook_keys;
		break;
	}
	for (size_t i = 0; keys[i] != NULL; i++) {
		if (strcmp(keys[i], name) == 0)
			key = keys[i];
	}
	if (key == NULL) {
		err(st, st->lineno, "unknown key '%s' in %s",
		    shown(name, buf, 64), st->secname);
		return 1;
	}
	if (seen_before(st, key))
		return 1;
	if (value[0] == '\0') {
		err(st, st->lineno, "empty value for '%s'", key);
		return 1;
	}

	switch (st->sec) {
	case SEC_SPOOL:
		spool_key(st, key, value);
		break;
	case SEC_RULES:
		set_path(st, key, value, &st->cfg->rules_path);
		break;
	case SEC_LOG:
		log_key(st, key, value);
		break;
	case SEC_WEBHOOK:
		webhook_key(st, key, value);
		break;
	default:
		break;
	}
	return 1;
}

/* Copy path into buf without repeated or trailing slashes. */
static void squeeze_slashes(const char *path, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *p = path; *p != '\0' && n + 1 < size; p++) {
		if (*p == '/' && n > 0 && buf[n - 1] == '/')
			continue;
		buf[n++] = *p;
	}
	if (n > 1 && buf[n - 1] == '/')
		n--;
	buf[n] = '\0';
}

/* The inbox must not be the spool or one of the daemon's own directories. */
static void check_inbox(struct parser *st)
{
	static const char *const own[] = {
	    "", "/work", "/accepted", "/rejected", "/outbox", "/dead", "/state",
	};
	char inbox[PATH_MAX], spool[PATH_MAX];
	size_t len;

	squeeze_slashes(st->cfg->inbox, inbox, sizeof(inbox));
	squeeze_slashes(st->cfg->spool_dir, spool, sizeof(spool));
	len = strlen(spool);
	if (strncmp(inbox, spool, len) != 0)
		return;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if (strcmp(inbox + len, own[i]) == 0) {
			err(st, st->inbox_line,
			    "inbox must not be the spool directory or its "
			    "work, accepted, rejected, outbox, dead or state "
			    "directory");
			return;
		}
	}
}

/* The absolute directory of the file at path. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *abs;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return NULL;
	abs = realpath(dir, NULL);
	free(dir);
	return abs;
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
	size_t nerr = diag->n;
	int rc;

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
	st.fp = fopen(path, "re");
	if (st.fp == NULL) {
		diag_add(diag, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	st.dir = dir_of(path);
	if (st.dir == NULL || cfg->path == NULL) {
		diag_add(diag, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = ini_parse_stream(reader, &st, handler, &st);
	if (ferror(st.fp))
		diag_add(diag, "cannot read '%s': %s", path, strerror(errno));
	else if (rc == -2)
		diag_add(diag, "%s: out of memory", path);
	else if (rc > 0 && diag->n == nerr)
		diag_at(diag, path, rc, "syntax error");
	end_section(&st);
	if (!st.inbox_set) {
		free(cfg->inbox);
		cfg->inbox = NULL;
		if (asprintf(&cfg->inbox, "%s/inbox", cfg->spool_dir) < 0) {
			cfg->inbox = NULL;
			diag_add(diag, "out of memory");
		}
	}
	if (cfg->inbox != NULL)
		check_inbox(&st);
	for (size_t i = 0; i < cfg->nhooks; i++) {
		if (cfg->hooks[i].name == NULL ||
		    cfg->hooks[i].retry_ms == NULL)
			diag_add(diag, "out of memory");
	}
out:
	if (st.fp != NULL)
		fclose(st.fp);
	free(st.line);
	free(st.longval);
	free(st.dir);
	free(st.hook_line);
	if (diag->n != nerr) {
		config_free(cfg);
		return -1;
	}
	return 0;
}
