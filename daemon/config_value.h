/*
 * config_value.h - the values of the configuration file, parsed and checked
 * one at a time, apart from the INI structure around them (config.c).
 * Internal to daemon/config*.c; parse_duration_ms and parse_size are public
 * through config.h.
 */
#ifndef EXPENSED_CONFIG_VALUE_H
#define EXPENSED_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MAX_RETRIES 100 /* entries of a webhook's retry list */

/* Strip blanks and tabs at both ends of s, in place; returns the start. */
char *config_trim(char *s);

/*
 * NULL when url is a webhook url: parsed by libcurl's URL API
 * (curl_url_set), http:// or https://, with a host, a port (if given) in
 * 1..65535, and nothing that needs quoting. Otherwise why not, in words
 * that never quote the url (it may carry a token).
 */
const char *config_url_problem(const char *url);

/* "rejected, invalid" -> EVENT_* bits in *out; -1 if a name is unknown or
 * the list is empty. */
int config_parse_events(const char *value, unsigned *out);

/* "0, 5s, 5m" -> a new array of milliseconds (at most MAX_RETRIES); -1 on a
 * bad duration, a list too long, or no memory; -2 when a duration is
 * longer than CONFIG_MAX_DURATION_MS. */
int config_parse_retry(const char *value, long **out, size_t *nout);

/* The syslog facility called name ("daemon", "local0" ...) into *out; -1
 * if unknown. config_facility_name (config.h) is the reverse. */
int config_facility(const char *name, int *out);

/* The group called name, or a group id in decimal, into *out; -1 if there
 * is no such group (or it is (gid_t)-1). */
int config_group(const char *name, gid_t *out);

/* The syslog level called name ("debug" ... "crit", "error" too); -1 if
 * unknown. */
int config_level(const char *name, int *out);

/*
 * Read the webhook secret in the file at path into *secret (a new string
 * "whsec_BASE64"). On failure returns -1 with the reason, without the
 * file's content, in why. *others is set when the file is readable by
 * others.
 */
int config_read_secret(const char *path, char **secret, bool *others, char *why,
		       size_t whysize);

/*
 * Whether the ca_file at path can be read by libcurl (CURLOPT_CAINFO): a
 * regular file opened for reading, its content not checked. -1 with the
 * reason in why (a directory such as /etc/ssl/certs is one).
 */
int config_check_ca_file(const char *path, char *why, size_t whysize);

/*
 * Is inbox the spool directory, or is it or does it lie inside one of the
 * daemon's own directories in it (work, accepted, rejected, outbox, dead,
 * state)? Both paths are compared as the kernel resolves them (".", "..",
 * symlinks; past the longest existing prefix, as written), and existing
 * directories by device and inode too (a bind mount). The inbox as
 * resolved goes into resolved (size bytes) for the message.
 */
bool config_inbox_is_own(const char *inbox, const char *spool, char *resolved,
			 size_t size);

/* The absolute directory of the file at path (new string), NULL on error
 * with errno set. */
char *config_dir_of(const char *path);

#endif
