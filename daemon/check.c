/*
 * check.c - `expensed check`: the engine's verdicts on the command line,
 * for people (compiler-like text) and scripts (JSON Lines). Reads what its
 * user names, as cat would: symbolic links, pipes, "-" for stdin.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/i18n.h"
#include "../rules/engine.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "page.h"

struct check_opts {
	bool json;
	bool html; /* --format html: the verdict page of one file */
	bool fail_on_warning;
	bool colour;
	size_t max_findings; /* --max-findings, 0 when not given */
	long max_time_ms;    /* --max-time, 0 when not given: no limit */
	size_t max_memory;   /* --max-memory, 0 when not given: no limit */
	struct judge_opts judge;
};

static void check_usage(FILE *out)
{
	fputs("usage: expensed check [-r RULES] [--format text|json] "
	      "[--fail-on error|warning] [--max-findings N]\n"
	      "                      [--max-time DURATION] [--max-memory SIZE] "
	      "FILE... | -\n"
	      "       expensed check [-r RULES] --format html [OPTIONS] FILE "
	      "| -   (one file)\n",
	      out);
}

/* Read at most max + 1 bytes of fd. -1 with errno on error. */
static int read_bounded(int fd, size_t max, char **buf, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap);

	if (b == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			if (cap > max)
				break;
			cap *= 2;
			char *nb = realloc(b, cap);
			if (nb == NULL) {
				free(b);
				return -1;
			}
			b = nb;
		}
		size_t want = cap - n;
		if (n + want > max + 1)
			want = max + 1 - n;
		if (want == 0)
			break;
		ssize_t r = read(fd, b + n, want);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			int e = errno;
			free(b);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* "error", "warning", "info" as check's text says them. */
static const char *severity_text(enum severity s)
{
	return s == SEV_ERROR	  ? _("error")
	       : s == SEV_WARNING ? _("warning")
				  : _("info");
}

/* "accepted", "rejected", "invalid" as check's text says them. */
static const char *verdict_text(enum verdict v)
{
	return v == VERDICT_ACCEPTED   ? _("accepted")
	       : v == VERDICT_REJECTED ? _("rejected")
				       : _("invalid");
}

/* The last line: "FILE: VERDICT: N errors, M warnings". */
static void print_summary(const struct check_opts *o, const char *file,
			  const struct judgement *j)
{
	const char *red = o->colour ? "\033[1;31m" : "";
	const char *green = o->colour ? "\033[1;32m" : "";
	const char *bold = o->colour ? "\033[1m" : "";
	const char *reset = o->colour ? "\033[0m" : "";
	char verdict[64], errs[64], warns[64];
	unsigned long ne = (unsigned long)j->errors;
	unsigned long nw = (unsigned long)j->warnings;

	snprintf(verdict, sizeof(verdict), "%s%s%s",
		 j->verdict == VERDICT_ACCEPTED ? green : red,
		 verdict_text(j->verdict), reset);
	snprintf(errs, sizeof(errs),
		 i18n_ntr(i18n_current(), "%d error", "%d errors", ne),
		 j->errors);
	snprintf(warns, sizeof(warns),
		 i18n_ntr(i18n_current(), "%d warning", "%d warnings", nw),
		 j->warnings);
	/* TRANSLATORS: the verdict, then "N errors" and "M warnings" */
	printf("%s%s:%s ", bold, file, reset);
	printf(_("%s: %s, %s"), verdict, errs, warns);
	putchar('\n');
}

static void print_text(const struct check_opts *o, const struct judgement *j)
{
	char file[512], path[1024], msg[2048], sev[64];
	const char *red = o->colour ? "\033[1;31m" : "";
	const char *yellow = o->colour ? "\033[1;33m" : "";
	const char *cyan = o->colour ? "\033[1;36m" : "";
	const char *bold = o->colour ? "\033[1m" : "";
	const char *reset = o->colour ? "\033[0m" : "";

	log_escape(j->file, file, sizeof(file));
	for (size_t i = 0; i < j->nfindings; i++) {
		const struct finding *f = &j->findings[i];
		const char *col = f->severity == SEV_ERROR     ? red
				  : f->severity == SEV_WARNING ? yellow
							       : cyan;
		log_escape(f->path, path, sizeof(path));
		log_escape(f->message, msg, sizeof(msg));
		printf("%s%s:%s ", bold, file, reset);
		if (path[0] != '\0')
			printf("%s: ", path);
		snprintf(sev, sizeof(sev), "%s%s%s", col,
			 severity_text(f->severity), reset);
		/* TRANSLATORS: a label, then its text ("error: the total
		 * ..."); French puts a space before the colon */
		printf(_("%s: %s"), sev, msg);
		printf(" [%s]\n", f->rule);
	}
	if (j->findings_left_out > 0) {
		printf("%s%s:%s ", bold, file, reset);
		printf(
		    i18n_ntr(i18n_current(),
			     "%zu more finding not listed (max_findings %zu)",
			     "%zu more findings not listed (max_findings "
			     "%zu)",
			     j->findings_left_out),
		    j->findings_left_out, j->max_findings);
		putchar('\n');
	}
	print_summary(o, file, j);
}

/* 0, or -1 when memory runs out (nothing printed). */
static int print_json(const struct judgement *j)
{
	char *s = judgement_dumps(j, JSON_COMPACT);

	if (s == NULL)
		return -1;
	puts(s);
	free(s);
	return 0;
}

/* The verdict page of j on stdout (the bytes judged in data, len; the
 * parsed report in root, or NULL). 0, or -1 when memory runs out
 * (nothing printed). */
static int print_html(const struct check_opts *o, const struct judgement *j,
		      const json_t *root, const char *data, size_t len)
{
	struct page_input in = {.j = j,
				.report = root,
				.data = data,
				.len = len,
				.lang = o->judge.lang};
	struct strbuf sb = STRBUF_INIT;
	int rc = page_render(&sb, &in);

	if (rc == 0)
		fwrite(sb.buf, 1, sb.len, stdout);
	sb_release(&sb);
	return rc;
}

/* Judge one named file. Returns 0 judged, -1 system error (reported, the
 * name escaped as in log lines: it may come from a directory listing and
 * must not drive the terminal; out of memory is one, never a verdict).
 * With keep (--format html), the bytes read are handed over in *keep and
 * *keep_len (NULL when none were read), to free. */
static int check_one(const struct ruleset *rs, const struct check_opts *o,
		     const char *arg, struct judgement *j, char **keep,
		     size_t *keep_len)
{
	bool is_stdin = strcmp(arg, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(arg, O_RDONLY | O_CLOEXEC);
	const char *name = arg;
	struct stat st;
	char *buf = NULL, esc[512];
	size_t len = 0;
	int rc = -1;

	log_escape(arg, esc, sizeof(esc));
	if (fd == -1) {
		cli_error("cannot open '%s': %s", esc, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		cli_error("cannot stat '%s': %s", esc, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc =
		    judge_invalid(rs, &o->judge, name, "input.file",
				  _("is a directory, not a file"), NULL, -1, j);
		goto judged;
	}
	if (read_bounded(fd, o->judge.max_file_size, &buf, &len) == -1) {
		if (errno == ENOMEM)
			cli_error("out of memory reading '%s'", esc);
		else
			cli_error("cannot read '%s': %s", esc, strerror(errno));
		goto out;
	}
	if (len > o->judge.max_file_size) {
		char msg[160];
		long long size =
		    S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
		snprintf(msg, sizeof(msg),
			 _("file is larger than the limit of %zu bytes"),
			 o->judge.max_file_size);
		rc = judge_invalid(rs, &o->judge, name, "input.size", msg, NULL,
				   size, j);
		goto judged;
	}
	rc = judge_bytes(rs, &o->judge, name, buf, len, j);
judged:
	if (rc == -1)
		cli_error("out of memory judging '%s'", esc);
out:
	if (rc == 0 && keep != NULL) {
		*keep = buf;
		*keep_len = len;
		buf = NULL;
	}
	free(buf);
	if (!is_stdin)
		close(fd);
	return rc;
}

static int load_rules(const char *rules_arg, const struct config *cfg,
		      struct ruleset **rs)
{
	struct diag d = DIAG_INIT;
	int rc = rules_arg != NULL ? ruleset_load_path(rules_arg, rs, &d)
				   : config_load_rules(cfg, rs, &d);

	if (rc == -1 && d.n == 0) /* not even a line could be added */
		cli_error("out of memory loading the rules");
	cli_diag("", &d);
	diag_clear(&d);
	return rc;
}

/* The configuration, when one is found (EXPENSED_CONFIG or the default
 * path): its rule set, size limit and max_findings apply. */
static int load_config(struct config *cfg, bool *have)
{
	const char *path = config_path(NULL);
	struct diag d = DIAG_INIT, w = DIAG_INIT;
	int rc = 0;

	*have = false;
	if (access(path, F_OK) == -1 && getenv("EXPENSED_CONFIG") == NULL)
		return 0;
	if (config_load_flags(path, cfg, &d, &w, CONFIG_SKIP_SECRETS) == -1)
		rc = -1;
	else
		*have = true;
	if (rc == -1 && d.n == 0)
		cli_error("out of memory loading the configuration");
	cli_diag("", &d);
	diag_clear(&d);
	diag_clear(&w);
	return rc;
}

/* --max-findings N: 1 to CONFIG_MAX_FINDINGS_LIMIT. 0, or -1 (said). */
static int parse_max_findings(const char *arg, size_t *out)
{
	size_t n = 0;
	const char *p = arg;
	char esc[256];

	for (; *p >= '0' && *p <= '9' && n <= CONFIG_MAX_FINDINGS_LIMIT; p++)
		n = n * 10 + (size_t)(*p - '0');
	if (p == arg || *p != '\0' || n < 1 || n > CONFIG_MAX_FINDINGS_LIMIT) {
		cli_error("bad --max-findings '%s' (a whole number from 1 to "
			  "%d)",
			  log_escape(arg, esc, sizeof(esc)),
			  CONFIG_MAX_FINDINGS_LIMIT);
		return -1;
	}
	*out = n;
	return 0;
}

/* Parse check's options into o and *rules_arg. -1 when done (exit status
 * in *status: 0 for --help, 2 for a usage error), else 0. */
static int parse_options(int argc, char **argv, struct check_opts *o,
			 const char **rules_arg, int *status)
{
	static const struct option longopts[] = {
	    {"rules", required_argument, NULL, 'r'},
	    {"format", required_argument, NULL, 'f'},
	    {"fail-on", required_argument, NULL, 'F'},
	    {"max-findings", required_argument, NULL, 'M'},
	    {"max-time", required_argument, NULL, 'T'},
	    {"max-memory", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	char esc[256];

	*status = 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:h", longopts, NULL)) != -1) {
		/* a value is said escaped: `check *.json` may take a file
		 * name for an option (--format=NAME) */
		const char *shown =
		    optarg != NULL ? log_escape(optarg, esc, sizeof(esc)) : "";

		switch (c) {
		case 'r':
			*rules_arg = optarg;
			break;
		case 'f':
			o->json = strcmp(optarg, "json") == 0;
			o->html = strcmp(optarg, "html") == 0;
			if (!o->json && !o->html &&
			    strcmp(optarg, "text") != 0) {
				cli_error("unknown format '%s' (text, json or "
					  "html)",
					  shown);
				return -1;
			}
			break;
		case 'F':
			if (strcmp(optarg, "warning") == 0)
				o->fail_on_warning = true;
			else if (strcmp(optarg, "error") != 0) {
				cli_error("unknown --fail-on '%s' (error or "
					  "warning)",
					  shown);
				return -1;
			}
			break;
		case 'M':
			if (parse_max_findings(optarg, &o->max_findings) == -1)
				return -1;
			break;
		case 'T':
			o->max_time_ms = parse_duration_ms(optarg);
			if (o->max_time_ms == -2) {
				cli_error("bad --max-time '%s' (at most %s)",
					  shown, CONFIG_MAX_DURATION);
				return -1;
			}
			if (o->max_time_ms <= 0) {
				cli_error("bad --max-time '%s' (a duration "
					  "such as 500ms, 10s, 2m)",
					  shown);
				return -1;
			}
			break;
		case 'm': {
			long long n = parse_size(optarg);

			if (n < (long long)CONFIG_MIN_JUDGE_MEMORY ||
			    (unsigned long long)n > SIZE_MAX) {
				cli_error("bad --max-memory '%s' (a size of "
					  "at least 1M, such as 64M, 1G)",
					  shown);
				return -1;
			}
			o->max_memory = (size_t)n;
			break;
		}
		case 'h':
			check_usage(stdout);
			*status = 0;
			return -1;
		default:
			cli_bad_option(c, argv);
			check_usage(stderr);
			return -1;
		}
	}
	if (optind >= argc) {
		check_usage(stderr);
		return -1;
	}
	if (o->html && argc - optind != 1) {
		cli_error("--format html prints the page of one file; "
			  "name one file");
		check_usage(stderr);
		return -1;
	}
	*status = 0;
	return 0;
}

int cmd_check(int argc, char **argv)
{
	struct check_opts o = {.judge = {.lang = LANG_EN}};
	const char *rules_arg = NULL;
	struct config cfg;
	bool have_cfg = false;
	struct ruleset *rs = NULL;
	int status = 0;
	char esc[512];

	if (parse_options(argc, argv, &o, &rules_arg, &status) == -1)
		return status;
	if (load_config(&cfg, &have_cfg) == -1)
		return 2;
	/* check speaks the locale's language, never the daemon's */
	o.judge.lang = i18n_from_env();
	i18n_set(o.judge.lang);
	o.judge.max_file_size =
	    have_cfg ? cfg.max_file_size : EXPENSED_DEFAULT_MAX_FILE_SIZE;
	o.judge.max_findings = o.max_findings ? o.max_findings
			       : have_cfg     ? cfg.max_findings
					      : EXPENSED_DEFAULT_MAX_FINDINGS;
	o.judge.max_time_ms = (unsigned long long)o.max_time_ms;
	o.judge.max_memory = o.max_memory;
	if (load_rules(rules_arg, have_cfg ? &cfg : NULL, &rs) == -1) {
		if (have_cfg)
			config_free(&cfg);
		return 2;
	}
	const char *term = getenv("TERM");
	o.colour = !o.json && !o.html && isatty(STDOUT_FILENO) &&
		   getenv("NO_COLOR") == NULL && term != NULL &&
		   strcmp(term, "dumb") != 0;
	for (int i = optind; i < argc; i++) {
		struct judgement j;
		json_t *root = NULL;
		char *data = NULL;
		size_t len = 0;
		if (o.html)
			o.judge.keep_root = &root;
		if (check_one(rs, &o, argv[i], &j, o.html ? &data : NULL,
			      &len) == -1) {
			status = 2;
			continue;
		}
		int printed = o.html ? print_html(&o, &j, root, data, len) : 0;
		json_decref(root);
		free(data);
		if (printed == -1) {
			cli_error("out of memory judging '%s'",
				  log_escape(argv[i], esc, sizeof(esc)));
			judgement_release(&j);
			status = 2;
			continue;
		}
		if (o.json && print_json(&j) == -1) {
			cli_error("out of memory judging '%s'",
				  log_escape(argv[i], esc, sizeof(esc)));
			judgement_release(&j);
			status = 2;
			continue;
		}
		if (!o.json && !o.html)
			print_text(&o, &j);
		if (status == 0 && (j.verdict != VERDICT_ACCEPTED ||
				    (o.fail_on_warning && j.warnings > 0)))
			status = 1;
		judgement_release(&j);
	}
	/* verdicts a full disk or a closed pipe lost are no success: a
	 * script must not take what was written for the whole output */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_error("cannot write the output: %s", strerror(errno));
		status = 2;
	}
	ruleset_free(rs);
	if (have_cfg)
		config_free(&cfg);
	return status;
}
