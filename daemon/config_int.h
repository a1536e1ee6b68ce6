/*
 * config_int.h - what config.c and config_webhook.c share: the parser's
 * state while one configuration file is read, and its ways of reporting
 * ("FILE:LINE: reason", collected, not only the first). Not for use
 * outside the two (config.h is the API).
 */
#ifndef EXPENSED_CONFIG_INT_H
#define EXPENSED_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/diag.h"
#include "config.h"

enum section {
	SEC_NONE,
	SEC_SPOOL,
	SEC_RULES,
	SEC_LOG,
	SEC_METRICS,
	SEC_GENERAL,
	SEC_HTML,
	SEC_WEBHOOK,
	SEC_BAD
};

struct seen_key {
	const char *key; /* static string from the key tables */
	int line;
};

struct parser {
	const char *file; /* as given, for messages */
	char *dir;	  /* absolute directory of file, for relative paths */
	int lineno;	  /* of the item being read */
	struct config *cfg;
	struct diag *diag;
	struct diag *warn;

	enum section sec;
	int sec_line;	   /* line of the current section header */
	char secname[80];  /* "[spool]", "[webhook audit]" for messages */
	int fixed_line[6]; /* first line of [spool] [rules] [log] [metrics]
			    * [general] [html] */
	int *hook_line;	   /* header line of each webhook */
	int secret_line;   /* line of secret_file in the current webhook */
	bool skip_secrets; /* CONFIG_SKIP_SECRETS */
	struct seen_key seen[16];
	size_t nseen;
	bool inbox_set;
	int inbox_line;
};

/* An error (the configuration is refused) or a warning at line of the
 * file being read. */
void config_err(struct parser *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void config_warn(struct parser *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A value shown in a message, escaped and shortened into buf. */
const char *config_shown(const char *s, char *buf, size_t size);

/* value as an absolute path (relative ones are the file's directory's),
 * into *dst (freed first): 0, or -1 with an error reported. */
int config_set_path(struct parser *st, const char *key, const char *value,
		    char **dst);

/* value as a duration in milliseconds into *dst: 0, or -1 with an error
 * reported. */
int config_set_duration(struct parser *st, const char *key, const char *value,
			long *dst);

/* ---- config_webhook.c: the [webhook NAME] sections ---- */

/* Free what one webhook's configuration owns. */
void webhook_conf_free(struct webhook_conf *h);

/* A "[webhook NAME]" header: name is what follows "webhook" (white space
 * first). The section is SEC_WEBHOOK when the name is good and new, else
 * an error is reported and the section stays SEC_BAD. */
void webhook_section_begin(struct parser *st, const char *name);

/* The checks at the end of a webhook section (a url is set; a secret only
 * where it is used). */
void webhook_section_end(struct parser *st);

/* One "key = value" line of the current webhook section (a known key). */
void webhook_key(struct parser *st, const char *key, const char *value);

#endif
