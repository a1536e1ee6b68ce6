/*
 * checkconfig.c - `expensed check-config [-c FILE]`: load the configuration
 * and the rule set as the daemon would, and print a summary (like nginx -t).
 * Exit 0 when both load, 2 with every error on stderr otherwise. Webhook
 * urls are shown as scheme://host/... only: their paths carry tokens.
 */
#include <ctype.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <strings.h>

#include "../rules/engine.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: expensed check-config [-c FILE]\n");
}

static void print_duration(FILE *f, long ms)
{
	static const struct {
		long ms;
		const char *unit;
	} units[] = {
	    {86400000, "d"},
	    {3600000, "h"},
	    {60000, "m"},
	    {1000, "s"},
	};

	if (ms == 0) {
		fputs("0s", f);
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms % units[i].ms == 0) {
			fprintf(f, "%ld%s", ms / units[i].ms, units[i].unit);
			return;
		}
	}
	fprintf(f, "%ldms", ms);
}

static void print_size(FILE *f, size_t n)
{
	static const char units[] = "GMK";

	fprintf(f, "%zu bytes", n);
	for (int i = 0; i < 3; i++) {
		size_t u = (size_t)1 << (10 * (3 - i));

		if (n >= u && n % u == 0) {
			fprintf(f, " (%zu%c)", n / u, units[i]);
			return;
		}
	}
}

/*
 * Print url as scheme://host[:port], then "/..." if anything follows: no
 * userinfo, path, query or fragment (Slack and Teams put tokens in paths).
 */
static void print_redacted_url(FILE *f, const char *url)
{
	const char *host = strstr(url, "://");
	const char *end, *at;

	if (host == NULL) {
		fputs("(invalid url)", f);
		return;
	}
	for (const char *p = url; p < host; p++)
		fputc(tolower((unsigned char)*p), f);
	fputs("://", f);
	host += 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at != NULL)
		host = at + 1;
	fwrite(host, 1, (size_t)(end - host), f);
	if (*end != '\0' && strcmp(end, "/") != 0)
		fputs("/...", f);
}

static void print_webhook(FILE *f, const struct webhook_conf *h)
{
	static const char *const formats[] = {"standard", "slack", "teams"};
	const char *sep = "";

	fprintf(f, "webhook %s: format %s, events ", h->name,
		formats[h->format]);
	if (h->events & EVENT_ACCEPTED) {
		fputs("accepted", f);
		sep = ", ";
	}
	if (h->events & EVENT_REJECTED) {
		fprintf(f, "%srejected", sep);
		sep = ", ";
	}
	if (h->events & EVENT_INVALID)
		fprintf(f, "%sinvalid", sep);
	fputs("\n", f);
	fputs("  url: ", f);
	print_redacted_url(f, h->url);
	fputs("\n", f);
	if (h->secret_file != NULL)
		fprintf(f, "  secret: from %s\n", h->secret_file);
	else
		fputs("  secret: none (deliveries are not signed)\n", f);
	fputs("  timeout: ", f);
	print_duration(f, h->timeout_ms);
	fprintf(f, ", %zu tries:", h->nretry);
	for (size_t i = 0; i < h->nretry; i++) {
		fputs(i == 0 ? " " : ", ", f);
		print_duration(f, h->retry_ms[i]);
	}
	fputs("\n", f);
	if (h->ca_file != NULL)
		fprintf(f, "  ca_file: %s\n", h->ca_file);
}

/* "read group: ..." ([spool] read_group), after a newline. */
static void print_read_group(FILE *f, gid_t gid)
{
	const struct group *gr;

	if (gid == (gid_t)-1) {
		fputs("\nread group: the group of accepted/", f);
		return;
	}
	gr = getgrgid(gid);
	if (gr != NULL)
		fprintf(f, "\nread group: %s (%lu)", gr->gr_name,
			(unsigned long)gid);
	else
		fprintf(f, "\nread group: %lu", (unsigned long)gid);
}

static void print_summary(FILE *f, const struct config *cfg,
			  const struct ruleset *rs)
{
	fprintf(f, "config file: %s\n", cfg->path);
	fprintf(f, "spool directory: %s\n", cfg->spool_dir);
	fprintf(f, "inbox: %s\n", cfg->inbox);
	fputs("max_file_size: ", f);
	print_size(f, cfg->max_file_size);
	fprintf(f, "\nmax_findings: %zu", cfg->max_findings);
	fprintf(f, "\nlanguage: %s", i18n_name(cfg->language));
	fprintf(f, "\npages: %s",
		cfg->html ? "on (NAME.result.html, index.html)" : "off");
	print_read_group(f, cfg->read_gid);
	fputs("\nsettle: ", f);
	print_duration(f, cfg->settle_ms);
	fputs("\nmax_judge_time: ", f);
	print_duration(f, cfg->max_judge_ms);
	fputs("\nmax_judge_memory: ", f);
	print_size(f, cfg->max_judge_memory);
	fputs("\nrescan: ", f);
	if (cfg->rescan_ms == 0)
		fputs("off", f);
	else
		print_duration(f, cfg->rescan_ms);
	fprintf(f, "\nlog: facility %s, level %s\n",
		config_facility_name(cfg->log_facility),
		log_level_name(cfg->log_level));
	if (cfg->metrics_textfile == NULL) {
		fputs("metrics: off\n", f);
	} else {
		fprintf(f, "metrics: %s, every ", cfg->metrics_textfile);
		print_duration(f, cfg->metrics_interval_ms);
		fputs("\n", f);
	}
	fprintf(f, "rules: %s\n",
		cfg->rules_path != NULL ? cfg->rules_path : "built-in");
	fprintf(f, "rule count: %zu\n", ruleset_count(rs));
	fprintf(f, "rules sha256: %s\n", ruleset_sha256(rs));
	if (cfg->nhooks == 0)
		fputs("webhooks: none\n", f);
	for (size_t i = 0; i < cfg->nhooks; i++)
		print_webhook(f, &cfg->hooks[i]);
	fputs("configuration OK\n", f);
}

int cmd_check_config(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct config cfg;
	struct diag errors = DIAG_INIT, warnings = DIAG_INIT;
	struct ruleset *rs = NULL;
	const char *arg = NULL;
	int c, status = 2;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			arg = optarg;
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
	if (optind < argc) {
		cli_error("check-config: unexpected argument '%s'",
			  argv[optind]);
		usage(stderr);
		return 2;
	}

	if (config_load(config_path(arg), &cfg, &errors, &warnings) == -1) {
		cli_diag("warning: ", &warnings);
		cli_diag("", &errors);
		cli_error("configuration has errors");
		goto out;
	}
	/* systemd-tmpfiles creates the spool; run refuses to start without */
	const char *dirs[] = {cfg.spool_dir, cfg.inbox};
	for (size_t i = 0; i < 2; i++) {
		struct stat st;
		if (stat(dirs[i], &st) == -1 || !S_ISDIR(st.st_mode))
			diag_add(&warnings,
				 "%s is not a directory yet: `expensed run` "
				 "needs it (systemd-tmpfiles creates it)",
				 dirs[i]);
	}
	cli_diag("warning: ", &warnings);
	/* the daemon refuses to start, and a reload, on it */
	config_inbox_same_fs(&cfg, &errors);
	if (config_load_rules(&cfg, &rs, &errors) == -1 || errors.n > 0) {
		cli_diag("", &errors);
		cli_error("configuration has errors");
		ruleset_free(rs);
		config_free(&cfg);
		goto out;
	}
	print_summary(stdout, &cfg, rs);
	ruleset_free(rs);
	config_free(&cfg);
	status = fflush(stdout) == 0 ? 0 : 2;
out:
	diag_clear(&errors);
	diag_clear(&warnings);
	return status;
}
