/*
 * config_webhook.c - the [webhook NAME] sections of the configuration
 * (docs/webhooks.md): their names, their keys and defaults, and the checks
 * at the end of each. Part of config.c's parser (config_int.h).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "config_value.h"

static const long default_retry_ms[] = {
    0,	      5000,	300000,	  1800000,  7200000,
    18000000, 36000000, 50400000, 72000000, 86400000,
};

void webhook_conf_free(struct webhook_conf *h)
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

static struct webhook_conf *cur_hook(struct parser *st)
{
	return &st->cfg->hooks[st->cfg->nhooks - 1];
}

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
		webhook_conf_free(h);
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

void webhook_section_begin(struct parser *st, const char *name)
{
	const char *hn = name;
	char buf[80];

	while (*hn == ' ' || *hn == '\t')
		hn++;
	if (*hn == '\0') {
		config_err(st, st->lineno,
			   "webhook section needs a name: [webhook NAME]");
		return;
	}
	if (!valid_hook_name(hn)) {
		config_err(st, st->lineno,
			   "bad webhook name '%s' (letters, digits, '.', '_', "
			   "'-')",
			   config_shown(hn, buf, 64));
		return;
	}
	for (size_t i = 0; i < st->cfg->nhooks; i++) {
		if (strcmp(st->cfg->hooks[i].name, hn) == 0) {
			config_err(st, st->lineno,
				   "duplicate webhook '%s' (first on line %d)",
				   hn, st->hook_line[i]);
			return;
		}
	}
	if (add_hook(st, hn) == -1) {
		config_err(st, st->lineno, "out of memory");
		return;
	}
	snprintf(st->secname, sizeof(st->secname), "[webhook %s]", hn);
	st->sec = SEC_WEBHOOK;
}

void webhook_section_end(struct parser *st)
{
	struct webhook_conf *h;
	bool url_given = false;

	h = cur_hook(st);
	for (size_t i = 0; i < st->nseen; i++) {
		if (strcmp(st->seen[i].key, "url") == 0)
			url_given = true; /* but bad: reported already */
	}
	if (h->url == NULL && !url_given)
		config_err(st, st->sec_line, "webhook '%s' has no url",
			   h->name);
	if (h->secret_file != NULL && h->format != WEBHOOK_STANDARD)
		config_warn(st, st->secret_line,
			    "secret_file is only used by the standard format");
}

static void read_secret(struct parser *st, struct webhook_conf *h)
{
	char why[512], buf[256];
	bool others;

	if (config_read_secret(h->secret_file, &h->secret, &others, why,
			       sizeof(why)) == -1)
		config_err(st, st->lineno, "%s", why);
	if (others)
		config_warn(
		    st, st->lineno,
		    "secret_file '%s' is readable by others (chmod o-r)",
		    config_shown(h->secret_file, buf, sizeof(buf)));
}

void webhook_key(struct parser *st, const char *key, const char *value)
{
	struct webhook_conf *h = cur_hook(st);
	char buf[80];

	if (strcmp(key, "url") == 0) {
		/* Never show the url: it may carry a token. */
		const char *why = config_url_problem(value);

		if (why != NULL) {
			config_err(st, st->lineno,
				   "bad url for webhook '%s': %s", h->name,
				   why);
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
			config_err(
			    st, st->lineno,
			    "unknown format '%s' (standard, slack, teams)",
			    config_shown(value, buf, sizeof(buf)));
	} else if (strcmp(key, "events") == 0) {
		if (config_parse_events(value, &h->events) == -1)
			config_err(
			    st, st->lineno,
			    "bad events '%s' (a list of accepted, rejected, "
			    "invalid)",
			    config_shown(value, buf, sizeof(buf)));
	} else if (strcmp(key, "secret_file") == 0) {
		if (config_set_path(st, key, value, &h->secret_file) == 0) {
			st->secret_line = st->lineno;
			if (!st->skip_secrets)
				read_secret(st, h);
		}
	} else if (strcmp(key, "timeout") == 0) {
		long ms;

		if (config_set_duration(st, key, value, &ms) == 0) {
			if (ms == 0)
				config_err(st, st->lineno,
					   "timeout must not be 0");
			else
				h->timeout_ms = ms;
		}
	} else if (strcmp(key, "retry") == 0) {
		long *list;
		size_t n;
		int rc = config_parse_retry(value, &list, &n);

		if (rc == -2) {
			config_err(
			    st, st->lineno,
			    "bad retry list '%s' (each delay at most %s)",
			    config_shown(value, buf, sizeof(buf)),
			    CONFIG_MAX_DURATION);
			return;
		}
		if (rc == -1) {
			config_err(
			    st, st->lineno,
			    "bad retry list '%s' (durations separated by "
			    "commas, at most %d)",
			    config_shown(value, buf, sizeof(buf)), MAX_RETRIES);
			return;
		}
		free(h->retry_ms);
		h->retry_ms = list;
		h->nretry = n;
	} else if (strcmp(key, "ca_file") == 0) {
		char why[512];

		/* as the secret: a bad one failed every try for days */
		if (config_set_path(st, key, value, &h->ca_file) == 0 &&
		    !st->skip_secrets &&
		    config_check_ca_file(h->ca_file, why, sizeof(why)) == -1)
			config_err(st, st->lineno, "%s", why);
	}
}
