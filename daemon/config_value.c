/*
 * config_value.c - the values of expensed.conf: durations, sizes, urls,
 * event and retry lists, log names, webhook secrets, the inbox check. Kept
 * apart from config.c, which follows sections and keys, so that each value
 * can be read (and tested) on its own.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../common/fsutil.h"
#include "config.h"
#include "config_value.h"
#include "log.h"

#define MAX_SECRET 4096 /* bytes read from a secret file */

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
	if (n < 0 || (errno != 0 && errno != ERANGE))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (errno == ERANGE || n > CONFIG_MAX_DURATION_MS / units[i].ms)
			return -2;
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

char *config_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/* The port part of u: 0 when none is given, -1 when out of 1..65535. */
static long url_port(CURLU *u)
{
	char *port = NULL, *end;
	long n = 0;

	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		return 0; /* none: the scheme's default */
	errno = 0;
	n = strtol(port, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > 65535)
		n = -1;
	curl_free(port);
	return n;
}

const char *config_url_problem(const char *url)
{
	static const char no_host[] =
	    "only http:// and https:// urls with a host are allowed";
	static const char bad_port[] = "the port must be 1 to 65535";
	const char *why = no_host, *p;
	char *scheme = NULL, *host = NULL;
	CURLU *u;
	CURLUcode rc;

	/* nothing that needs quoting: libcurl lets bytes >= 0x80 through */
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return "spaces, control characters and non-ASCII bytes "
			       "must be percent-encoded";
	u = curl_url();
	if (u == NULL)
		return "out of memory";
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc == CURLUE_BAD_PORT_NUMBER) {
		why = bad_port;
		goto out;
	}
	if (rc != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	/* http/https, and "scheme://" then the authority as written: libcurl
	 * reads "https:///x" and "http:/x" as the host x */
	if ((strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
	    strncmp(url + strlen(scheme), "://", 3) != 0 ||
	    url[strlen(scheme) + 3] == '/' || host[0] == '\0')
		goto out;
	why = url_port(u) == -1 ? bad_port : NULL;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return why;
}

int config_parse_events(const char *value, unsigned *out)
{
	char *copy = strdup(value), *save = NULL, *tok;
	unsigned ev = 0;
	int rc = -1;

	if (copy == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		tok = config_trim(tok);
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

int config_parse_retry(const char *value, long **out, size_t *nout)
{
	char item[64];
	long *list;
	size_t n = 0;
	int rc = -1;

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
		ms = parse_duration_ms(config_trim(item));
		if (ms < 0) {
			rc = ms == -2 ? -2 : -1;
			goto fail;
		}
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
	return rc;
}

static const struct {
	const char *name;
	int value;
} facilities[] = {
    {"daemon", LOG_DAEMON}, {"user", LOG_USER},	    {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
};

int config_facility(const char *name, int *out)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(*facilities); i++) {
		if (strcmp(name, facilities[i].name) == 0) {
			*out = facilities[i].value;
			return 0;
		}
	}
	return -1;
}

const char *config_facility_name(int facility)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(*facilities); i++) {
		if (facilities[i].value == facility)
			return facilities[i].name;
	}
	return "?";
}

int config_group(const char *name, gid_t *out)
{
	struct group gr, *found = NULL;
	char buf[4096], *end;
	unsigned long long n;

	if (name[0] >= '0' && name[0] <= '9') {
		errno = 0;
		n = strtoull(name, &end, 10);
		if (errno != 0 || *end != '\0' || n >= (gid_t)-1)
			return -1;
		*out = (gid_t)n;
		return 0;
	}
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &found) != 0 ||
	    found == NULL || found->gr_gid == (gid_t)-1)
		return -1;
	*out = found->gr_gid;
	return 0;
}

int config_level(const char *name, int *out)
{
	static const struct {
		const char *name;
		int value;
	} levels[] = {
	    {"debug", LOG_DEBUG},   {"info", LOG_INFO},
	    {"notice", LOG_NOTICE}, {"warning", LOG_WARNING},
	    {"err", LOG_ERR},	    {"error", LOG_ERR},
	    {"crit", LOG_CRIT},
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(*levels); i++) {
		if (strcmp(name, levels[i].name) == 0) {
			*out = levels[i].value;
			return 0;
		}
	}
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

/* Read at most MAX_SECRET bytes of fd into buf (MAX_SECRET + 1 bytes),
 * NUL-terminated. */
static int read_some(int fd, char *buf)
{
	size_t len = 0;

	while (len < MAX_SECRET) {
		ssize_t n = read(fd, buf + len, MAX_SECRET - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return 0;
}

/* The file at path (shown: escaped) opened for reading, as a regular file
 * only: its fd, or -1 with the reason in why ("cannot read KEY ...", or "KEY
 * ... is not a regular file" then hint). */
static int open_regular(const char *path, const char *key, const char *shown,
			const char *hint, struct stat *sb, char *why,
			size_t whysize)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd == -1) {
		snprintf(why, whysize, "cannot read %s '%s': %s", key, shown,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, sb) == -1 || !S_ISREG(sb->st_mode)) {
		snprintf(why, whysize, "%s '%s' is not a regular file%s", key,
			 shown, hint);
		close(fd);
		return -1;
	}
	return fd;
}

/* Never show the secret itself, not even in part: only its path. */
int config_read_secret(const char *path, char **secret, bool *others, char *why,
		       size_t whysize)
{
	char buf[MAX_SECRET + 1];
	char shown[256];
	struct stat sb;
	char *line;
	int rc = -1;
	int fd;

	*others = false;
	log_escape(path, shown, sizeof(shown));
	fd = open_regular(path, "secret_file", shown, "", &sb, why, whysize);
	if (fd == -1)
		return -1;
	if (read_some(fd, buf) == -1) {
		snprintf(why, whysize, "cannot read secret_file '%s': %s",
			 shown, strerror(errno));
		goto out;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	line = config_trim(buf);
	if (!valid_secret(line)) {
		snprintf(why, whysize,
			 "secret_file '%s' does not hold a secret of the form "
			 "whsec_BASE64",
			 shown);
		goto out;
	}
	*others = (sb.st_mode & S_IROTH) != 0;
	*secret = strdup(line);
	if (*secret == NULL)
		snprintf(why, whysize, "out of memory");
	else
		rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

int config_check_ca_file(const char *path, char *why, size_t whysize)
{
	char shown[256];
	struct stat sb;
	int fd;

	log_escape(path, shown, sizeof(shown));
	fd = open_regular(path, "ca_file", shown, " (a CA bundle in PEM)", &sb,
			  why, whysize);
	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

/* Drop the last component of the absolute path buf ("/" stays "/"). */
static void pop_component(char *buf)
{
	char *slash = strrchr(buf, '/');

	if (slash == NULL || slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
}

/*
 * The absolute path as the kernel would resolve it, into buf (PATH_MAX):
 * component by component, "." dropped, ".." and symlinks resolved by
 * realpath() while the path exists; past the longest existing prefix the
 * rest is taken as written ("." dropped, ".." pops). 0, or -1 (too long).
 */
static int normalise_path(const char *path, char *buf)
{
	const char *p = path;

	buf[0] = '/';
	buf[1] = '\0';
	while (*p != '\0') {
		char next[PATH_MAX], real[PATH_MAX];
		size_t n, len = strlen(buf);

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (len + 1 + n + 1 > sizeof(next))
			return -1;
		memcpy(next, buf, len);
		if (len > 1)
			next[len++] = '/';
		memcpy(next + len, p, n);
		next[len + n] = '\0';
		p += n;
		if (realpath(next, real) != NULL)
			memcpy(buf, real, strlen(real) + 1);
		else if (n == 2 && next[len] == '.' && next[len + 1] == '.')
			pop_component(buf); /* below a missing directory */
		else
			memcpy(buf, next, len + n + 1);
	}
	return 0;
}

/* Whether path is dir or lies inside it (both normalised). */
static bool path_within(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, len) == 0 &&
	       (path[len] == '\0' || path[len] == '/');
}

/*
 * Whether path (or one of its existing ancestors) is the directory own:
 * catches what the path comparison cannot (a bind
 * mount of a spool directory).
 */
static bool inode_within(const char *path, const struct stat *own)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		struct stat st;

		if (stat(buf, &st) == 0 && same_inode(&st, own))
			return true;
		if (strcmp(buf, "/") == 0)
			return false;
		pop_component(buf);
	}
}

bool config_inbox_is_own(const char *inbox_path, const char *spool_path,
			 char *resolved, size_t size)
{
	static const char *const own[] = {
	    "/work", "/accepted", "/rejected", "/outbox", "/dead", "/state",
	};
	char inbox[PATH_MAX], spool[PATH_MAX];
	struct stat in, st;

	if (normalise_path(inbox_path, inbox) == -1 ||
	    normalise_path(spool_path, spool) == -1) {
		/* longer than any path the daemon could open: as written */
		snprintf(inbox, sizeof(inbox), "%s", inbox_path);
		snprintf(spool, sizeof(spool), "%s", spool_path);
	}
	snprintf(resolved, size, "%s", inbox);
	if (strcmp(inbox, spool) == 0 ||
	    (stat(inbox, &in) == 0 && stat(spool, &st) == 0 &&
	     same_inode(&in, &st)))
		return true;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		char dir[PATH_MAX + 16];

		snprintf(dir, sizeof(dir), "%s%s",
			 strcmp(spool, "/") == 0 ? "" : spool, own[i]);
		if (path_within(inbox, dir) ||
		    (stat(dir, &st) == 0 && inode_within(inbox, &st)))
			return true;
	}
	return false;
}

char *config_dir_of(const char *path)
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
