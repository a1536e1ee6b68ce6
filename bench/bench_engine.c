/*
 * bench_engine.c - throughput of the audit engine alone, no I/O in the loop.
 *
 *   bench_engine SEED.json [LARGE.json] [N]
 *
 * (a) judges the seed report N times (default 10,000) from memory, against a
 * raw json_loadb() of the same bytes as the baseline; (b) parses and judges
 * a large report (bench/gen_large.py, ~50 MB) to split judge time into JSON
 * parsing and rule evaluation. Prints a table; not a test (exit 0 unless
 * something cannot be run).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "../common/hash.h"
#include "../rules/engine.h"
#include "../rules/eval.h"

#define LARGE_ROUNDS 3

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return -1;
	return ru.ru_maxrss;
}

static int read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	int ret = -1;

	if (!f) {
		fprintf(stderr, "bench_engine: cannot open '%s': %s\n", path,
			strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			char *p;

			cap = cap ? cap * 2 : 1 << 16;
			p = realloc(buf, cap);
			if (!p)
				goto out;
			buf = p;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "bench_engine: cannot read '%s'\n", path);
		goto out;
	}
	*data = buf;
	*len = n;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	fclose(f);
	return ret;
}

/*
 * Seconds for one json_loadb() of data, as the engine parses it, and for the
 * json_decref() of the tree (which judge_bytes() pays too).
 */
static int time_parse(const char *data, size_t len, double *secs,
		      double *free_secs)
{
	json_error_t err;
	double t0 = now_s(), t1;
	json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);

	t1 = now_s();
	*secs = t1 - t0;
	if (!doc) {
		fprintf(stderr, "bench_engine: json: %s (line %d)\n", err.text,
			err.line);
		return -1;
	}
	json_decref(doc);
	*free_secs = now_s() - t1;
	return 0;
}

/*
 * Seconds for json_loadb() of data and for evaluating rs on that fresh tree
 * (eval_ruleset, what "rule evaluation" means), with runs or rule by rule.
 */
static int time_parse_eval(const struct ruleset *rs, const char *data,
			   size_t len, bool rule_by_rule, double *parse,
			   double *eval)
{
	json_error_t err;
	int errors, warnings;
	double t0 = now_s(), t1, t2;
	json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	struct finding_list findings = FINDING_LIST_INIT;

	t1 = now_s();
	if (!doc)
		return -1;
	eval_rule_by_rule = rule_by_rule;
	int rc = eval_ruleset(rs, doc, &findings, &errors, &warnings);
	t2 = now_s();
	eval_rule_by_rule = false;
	*parse = t1 - t0;
	*eval = t2 - t1;
	finding_list_release(&findings);
	json_decref(doc);
	return rc;
}

/* Seconds for one judge_bytes() of data; verdict and counts in *last. */
static int time_judge(const struct ruleset *rs, const char *name,
		      const char *data, size_t len, double *secs,
		      struct judgement *last)
{
	/* No size limit here: the large report is over the default 16M. */
	struct judge_opts opts = {.max_file_size = len + 1, .now = 1700000000};
	struct judgement j;
	double t0 = now_s();

	if (judge_bytes(rs, &opts, name, data, len, &j) == -1) {
		fprintf(stderr, "bench_engine: judge_bytes: out of memory\n");
		return -1;
	}
	*secs = now_s() - t0;
	last->verdict = j.verdict;
	last->errors = j.errors;
	last->warnings = j.warnings;
	judgement_release(&j);
	return 0;
}

static int bench_seed(const struct ruleset *rs, const char *path, long n)
{
	struct judgement last = {.verdict = VERDICT_INVALID};
	double parse = 0, judge = 0, s, f;
	char *data = NULL;
	size_t len;
	int ret = -1;

	if (read_file(path, &data, &len) == -1)
		return -1;
	for (long i = 0; i < n; i++) {
		if (time_parse(data, len, &s, &f) == -1)
			goto out;
		parse += s + f;
	}
	for (long i = 0; i < n; i++) {
		if (time_judge(rs, "seed.json", data, len, &s, &last) == -1)
			goto out;
		judge += s;
	}
	printf("seed report: %s (%zu bytes), %ld rounds; verdict %s, "
	       "%d errors, %d warnings\n",
	       path, len, n, verdict_name(last.verdict), last.errors,
	       last.warnings);
	printf("  %-34s %12.0f reports/s  %8.1f us/report\n",
	       "json_loadb+decref (baseline)", n / parse, parse / n * 1e6);
	printf("  %-34s %12.0f reports/s  %8.1f us/report\n", "judge_bytes",
	       n / judge, judge / n * 1e6);
	printf("  %-34s %12.2f x\n", "judge / baseline time", judge / parse);
	ret = 0;
out:
	free(data);
	return ret;
}

static int bench_large(const struct ruleset *rs, const char *path)
{
	struct judgement last = {.verdict = VERDICT_INVALID};
	double parse = 1e30, tfree = 1e30, judge = 1e30, s, f, eval, sha;
	char *data = NULL;
	size_t len;
	int ret = -1;

	if (read_file(path, &data, &len) == -1)
		return -1;
	/* Best of a few rounds: one 50 MB round is long enough to be stable. */
	for (int i = 0; i < LARGE_ROUNDS; i++) {
		if (time_parse(data, len, &s, &f) == -1)
			goto out;
		/* Keep one round's pair: the first load is slow (page faults)
		 * and its free fast, later rounds the other way round. */
		if (s + f < parse + tfree) {
			parse = s;
			tfree = f;
		}
	}
	for (int i = 0; i < LARGE_ROUNDS; i++) {
		if (time_judge(rs, "large.json", data, len, &s, &last) == -1)
			goto out;
		if (s < judge)
			judge = s;
	}
	/* A reference: the sha256 that judge_bytes() takes of the bytes. */
	{
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen;
		double t0 = now_s();

		EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
		sha = now_s() - t0;
	}
	/* judge_bytes() parses and frees the tree too: both are not rules. */
	eval = judge - parse - tfree;
	/* The rules alone, on the tree just parsed (paired with that parse),
	 * with runs and, as the baseline, rule by rule. */
	double rp[2] = {1e30, 1e30}, re[2] = {1e30, 1e30};
	for (int i = 0; i < 2 * LARGE_ROUNDS; i++) {
		int k = i & 1;
		if (time_parse_eval(rs, data, len, k, &s, &f) == -1)
			goto out;
		if (f < re[k]) {
			re[k] = f;
			rp[k] = s;
		}
	}
	printf("large report: %s (%.1f MB), best of %d; verdict %s, "
	       "%d errors, %d warnings\n",
	       path, len / 1e6, LARGE_ROUNDS, verdict_name(last.verdict),
	       last.errors, last.warnings);
	printf("  %-34s %10.3f s  %8.1f MB/s\n", "json_loadb (parse)", parse,
	       len / 1e6 / parse);
	printf("  %-34s %10.3f s\n", "json_decref (free the tree)", tfree);
	printf("  %-34s %10.3f s  %8.1f MB/s\n", "judge_bytes (all)", judge,
	       len / 1e6 / judge);
	printf("  %-34s %10.3f s\n", "judge - parse - free", eval);
	printf("  %-34s %10.3f s    (UTF-8, depth, sha256, rules)\n",
	       "  of which sha256 of the bytes", sha);
	printf("  %-34s %10.3f s    (parse of that round %.3f s)\n",
	       "rule evaluation, rule by rule", re[1], rp[1]);
	printf("  %-34s %10.3f s    (parse of that round %.3f s)\n",
	       "rule evaluation (runs)", re[0], rp[0]);
	printf("  %-34s %10.2f    (rule by rule: %.2f)\n",
	       "runs / rule by rule", re[0] / re[1], re[1] / rp[1]);
	printf("  %-34s %10.2f    (target <= 0.50: %s)\n",
	       "rule evaluation / parse", re[0] / rp[0],
	       re[0] / rp[0] <= 0.5 ? "met" : "MISSED");
	ret = 0;
out:
	free(data);
	return ret;
}

int main(int argc, char **argv)
{
	struct diag d = DIAG_INIT;
	struct ruleset *rs = NULL;
	long n = 10000;
	int ret = 1;

	if (hash_init() == -1) {
		perror("bench_engine: hash key");
		return 1;
	}
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: bench_engine SEED.json [LARGE.json] "
				"[N]\n");
		return 2;
	}
	if (argc == 4) {
		char *end;

		errno = 0;
		n = strtol(argv[3], &end, 10);
		if (errno || *end || n <= 0) {
			fprintf(stderr, "bench_engine: bad N '%s'\n", argv[3]);
			return 2;
		}
	}
	if (ruleset_load_builtin(&rs, &d) == -1) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.lines[i]);
		goto out;
	}
	printf("rule set: built-in, %zu rules\n", ruleset_count(rs));
	if (bench_seed(rs, argv[1], n) == -1)
		goto out;
	printf("  %-34s %12ld KB\n", "peak RSS so far", peak_rss_kb());
	if (argc >= 3 && argv[2][0]) {
		if (bench_large(rs, argv[2]) == -1)
			goto out;
		printf("  %-34s %12ld KB (%.0f MB)\n", "peak RSS",
		       peak_rss_kb(), peak_rss_kb() / 1024.0);
	}
	ret = 0;
out:
	if (rs)
		ruleset_free(rs);
	diag_clear(&d);
	return ret;
}
