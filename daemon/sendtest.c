/*
 * sendtest.c - `expensed send-test WEBHOOK [-c FILE]`: post one `ping`
 * event through a configured webhook, the way the daemon would (same
 * headers, signing, TLS and redirect policy), and say what came back. For
 * an administrator setting up an endpoint; nothing is queued or retried.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "../common/i18n.h"
#include "../common/timefmt.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "webhook.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: expensed send-test [-c FILE] WEBHOOK\n");
}

/* A random webhook-id: a ping is no delivery to deduplicate. */
static void ping_id(char *buf, size_t size)
{
	unsigned char r[16];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		unsigned long long t = (unsigned long long)clock_mono_ms();

		memset(r, 0, sizeof(r));
		memcpy(r, &t, sizeof(t));
	}
	snprintf(buf, size, "msg_");
	for (i = 0; i < sizeof(r) && 4 + 2 * i + 2 < size; i++)
		snprintf(buf + 4 + 2 * i, 3, "%02x", r[i]);
}

static int post(const struct webhook_conf *wh)
{
	struct webhook_attempt att;
	char id[48], err[CURL_ERROR_SIZE + 64];
	size_t len = 0;
	long long t0;
	long status = 0;
	char *body;
	CURLcode rc;
	int ok;

	body = webhook_build_ping(wh->format, wh->name, time(NULL), &len);
	if (!body) {
		cli_error("out of memory");
		return 2;
	}
	ping_id(id, sizeof(id));
	if (webhook_attempt_init(&att, wh, id, (long long)time(NULL), body,
				 len) == -1) {
		cli_error("%s: %s", wh->name, att.errbuf);
		free(body);
		return 2;
	}
	free(body);
	t0 = clock_mono_ms();
	rc = curl_easy_perform(att.easy);
	ok = webhook_attempt_outcome(&att, rc, wh->url, &status, err,
				     sizeof(err));
	if (rc == CURLE_OK)
		printf("%s: HTTP %ld in %lld ms\n", wh->name, status,
		       clock_mono_ms() - t0);
	else
		printf("%s: failed after %lld ms: %s\n", wh->name,
		       clock_mono_ms() - t0, err);
	if (!ok && status >= 300 && status < 400)
		printf("%s: redirects are not followed: point url at the "
		       "final address\n",
		       wh->name);
	webhook_attempt_cleanup(&att);
	return ok ? 0 : 1;
}

int cmd_send_test(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct diag diag = DIAG_INIT, warn = DIAG_INIT;
	const char *conf = NULL, *path, *name;
	struct config cfg;
	size_t i;
	int c, ret = 2;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			cli_bad_option(c, argv);
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return 2;
	}
	name = argv[optind];
	path = config_path(conf);
	if (config_load(path, &cfg, &diag, &warn) == -1) {
		cli_diag("", &diag);
		diag_clear(&diag);
		diag_clear(&warn);
		return 2;
	}
	cli_diag("warning: ", &warn);
	diag_clear(&warn);
	/* the ping's text, like the chat alerts, in the daemon's language */
	i18n_set(cfg.language);
	for (i = 0; i < cfg.nhooks; i++)
		if (strcmp(cfg.hooks[i].name, name) == 0)
			break;
	if (i == cfg.nhooks) {
		cli_error("%s: no [webhook %s] section", path, name);
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_error("cannot start libcurl");
		goto out;
	}
	ret = post(&cfg.hooks[i]);
	curl_global_cleanup();
out:
	config_free(&cfg);
	return ret;
}
