/*
 * metrics.c - the daemon's counters, saved in state/metrics so that they
 * are totals since the spool was created, and written for Prometheus
 * (metrics.h, docs/operations.md "Metrics").
 *
 * Every counter is one series, kept in a map from the series as the
 * exposition writes it ("expensed_findings_total{rule=\"x\",severity=
 * \"error\"}") to its value; the state file is those series and values, one
 * per line, so that reading it back needs no label parser. Two internal
 * series keep what the exposition shows in seconds: the judging time's sum
 * in microseconds and the last verdict's time in milliseconds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/io.h"
#include "../common/strbuf.h"
#include "../common/strmap.h"
#include "../common/timefmt.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"

#ifndef EXPENSED_VERSION
#define EXPENSED_VERSION "0"
#endif

#define STATE_MAGIC "expensed-metrics 1\n"
#define STATE_MAX (4 * 1024 * 1024)

#define JUDGED "expensed_files_judged_total"
#define FINDINGS "expensed_findings_total"
#define DELIVERIES "expensed_deliveries_total"
#define HIST "expensed_judge_duration_seconds"
#define SUM_US "expensed_internal_judge_sum_us"
#define LAST_MS "expensed_internal_last_verdict_ms"

/* The histogram's upper bounds in microseconds, and its series (the last
 * one +Inf). */
static const long long bucket_us[] = {1000,   5000,   10000,   50000,
				      100000, 500000, 1000000, 5000000};
#define NBUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

static const char *const bucket_keys[] = {
    HIST "_bucket{le=\"0.001\"}", HIST "_bucket{le=\"0.005\"}",
    HIST "_bucket{le=\"0.01\"}",  HIST "_bucket{le=\"0.05\"}",
    HIST "_bucket{le=\"0.1\"}",	  HIST "_bucket{le=\"0.5\"}",
    HIST "_bucket{le=\"1\"}",	  HIST "_bucket{le=\"5\"}",
    HIST "_bucket{le=\"+Inf\"}"};
_Static_assert(sizeof(bucket_keys) / sizeof(bucket_keys[0]) == NBUCKETS + 1,
	       "one series per bound, and +Inf");

/* The series of files judged, per enum verdict. */
static const char *const judged_keys[] = {JUDGED "{verdict=\"accepted\"}",
					  JUDGED "{verdict=\"rejected\"}",
					  JUDGED "{verdict=\"invalid\"}"};

static struct strmap series = STRMAP_INIT; /* series -> unsigned long long * */
static bool dirty;

/*
 * Where the counters of the hot series are (values of series, found once
 * per process rather than formatted and hashed for every file): the
 * judged_keys, the bucket_keys, then the three below. And findings: "RULE
 * SEVERITY" (unescaped, one space) -> the value of its series, not owned.
 */
enum {
	HOT_BUCKET = 3,
	HOT_COUNT = HOT_BUCKET + NBUCKETS + 1,
	HOT_SUM,
	HOT_LAST,
	HOT_N
};
static unsigned long long *hot[HOT_N];
static struct strmap finding_slots = STRMAP_INIT;

/* ---- counters ------------------------------------------------------- */

static unsigned long long get(const char *key)
{
	unsigned long long *v = strmap_get(&series, key);

	return v != NULL ? *v : 0;
}

/* The counter of a series, made (0) if new; NULL when out of memory
 * (logged once per process). */
static unsigned long long *slot(const char *key)
{
	static bool oom_logged;
	unsigned long long *v = strmap_get(&series, key);

	if (v == NULL) {
		v = calloc(1, sizeof(*v));
		if (v == NULL || strmap_put(&series, key, v, NULL) == -1) {
			free(v);
			if (!oom_logged)
				log_msg(LOG_ERR, "metrics: out of memory");
			oom_logged = true;
			return NULL;
		}
	}
	return v;
}

/* Set (add = false) or add to a series. 0, or -1 (no memory). */
static int put(const char *key, unsigned long long n, bool add)
{
	unsigned long long *v = slot(key);

	if (v == NULL)
		return -1;
	*v = add ? *v + n : n;
	dirty = true;
	return 0;
}

/* Add n to (add) or set the hot series i, of key key. */
static void put_hot(size_t i, const char *key, unsigned long long n, bool add)
{
	if (hot[i] == NULL && (hot[i] = slot(key)) == NULL)
		return;
	*hot[i] = add ? *hot[i] + n : n;
	dirty = true;
}

/* A label value as the exposition format escapes it. */
static void add_label(struct strbuf *sb, const char *name, const char *value)
{
	sb_addf(sb, "%s=\"", name);
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\\')
			sb_adds(sb, "\\\\");
		else if (*p == '"')
			sb_adds(sb, "\\\"");
		else if (*p == '\n')
			sb_adds(sb, "\\n");
		else
			sb_addc(sb, *p);
	}
	sb_addc(sb, '"');
}

/* The counter of NAME{l1="v1",l2="v2"}, made if new; NULL when out of
 * memory. */
static unsigned long long *slot2(const char *name, const char *l1,
				 const char *v1, const char *l2, const char *v2)
{
	struct strbuf sb = STRBUF_INIT;
	unsigned long long *v = NULL;

	sb_addf(&sb, "%s{", name);
	add_label(&sb, l1, v1);
	sb_addc(&sb, ',');
	add_label(&sb, l2, v2);
	sb_addc(&sb, '}');
	if (!sb.failed)
		v = slot(sb.buf);
	sb_release(&sb);
	return v;
}

/* Add 1 to NAME{l1="v1",l2="v2"}. */
static void count2(const char *name, const char *l1, const char *v1,
		   const char *l2, const char *v2)
{
	unsigned long long *v = slot2(name, l1, v1, l2, v2);

	if (v != NULL) {
		(*v)++;
		dirty = true;
	}
}

/* Add 1 to the findings series of rule and severity: its counter is found
 * through finding_slots, by the two names as they are. */
static void count_finding(const char *rule, const char *severity)
{
	char raw[256];
	size_t rl = strlen(rule), sl = strlen(severity);
	unsigned long long *v;

	if (rl + sl + 2 > sizeof(raw)) {
		count2(FINDINGS, "rule", rule, "severity", severity);
		return;
	}
	memcpy(raw, rule, rl);
	raw[rl] = ' ';
	memcpy(raw + rl + 1, severity, sl + 1);
	v = strmap_get(&finding_slots, raw);
	if (v == NULL) {
		v = slot2(FINDINGS, "rule", rule, "severity", severity);
		if (v == NULL)
			return;
		/* not remembered (no memory): found the slow way next time */
		(void)strmap_put(&finding_slots, raw, v, NULL);
	}
	(*v)++;
	dirty = true;
}

void metrics_judged(const struct judgement *j, enum verdict verdict)
{
	put_hot((size_t)verdict, judged_keys[verdict], 1, true);
	put_hot(HOT_LAST, LAST_MS, (unsigned long long)clock_real_ms(), false);
	for (size_t i = 0; i < j->nfindings; i++)
		count_finding(j->findings[i].rule,
			      severity_name(j->findings[i].severity));
}

void metrics_judge_time(long long usec)
{
	if (usec < 0)
		usec = 0;
	for (size_t i = 0; i <= NBUCKETS; i++) {
		if (i == NBUCKETS || usec <= bucket_us[i])
			put_hot(HOT_BUCKET + i, bucket_keys[i], 1, true);
	}
	put_hot(HOT_COUNT, HIST "_count", 1, true);
	put_hot(HOT_SUM, SUM_US, (unsigned long long)usec, true);
}

long long metrics_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void metrics_delivery(const char *webhook, const char *outcome)
{
	count2(DELIVERIES, "webhook", webhook, "outcome", outcome);
}

struct metrics_totals metrics_totals(void)
{
	struct metrics_totals t;

	t.accepted = get(judged_keys[VERDICT_ACCEPTED]);
	t.rejected = get(judged_keys[VERDICT_REJECTED]);
	t.invalid = get(judged_keys[VERDICT_INVALID]);
	return t;
}

void metrics_free(void)
{
	strmap_free(&finding_slots, NULL);
	memset(hot, 0, sizeof(hot));
	strmap_free(&series, free);
	dirty = false;
}

/* ---- the state file -------------------------------------------------- */

/* One "SERIES VALUE" line (the value after the last space). */
static int load_line(char *line)
{
	char *sp = strrchr(line, ' '), *end;
	unsigned long long v;

	if (sp == NULL || sp == line || strncmp(line, "expensed_", 9) != 0)
		return -1;
	*sp = '\0';
	errno = 0;
	v = strtoull(sp + 1, &end, 10);
	if (errno != 0 || end == sp + 1 || *end != '\0' || sp[1] == '-')
		return -1;
	return put(line, v, false) == -1 ? -2 : 0;
}

int metrics_load(int statefd)
{
	char *text = NULL, *line, *next;
	size_t len = 0, bad = 0;
	int rc = 0;

	if (read_file_at(statefd, METRICS_STATE_NAME, STATE_MAX, &text, &len) ==
	    -1)
		return errno == ENOENT ? 0 : -1;
	if (strncmp(text, STATE_MAGIC, strlen(STATE_MAGIC)) != 0) {
		log_msg(LOG_WARNING,
			"state/%s is not a metrics state file; "
			"totals start from zero",
			METRICS_STATE_NAME);
		goto out;
	}
	for (line = text + strlen(STATE_MAGIC); *line != '\0'; line = next) {
		int lr;

		next = strchr(line, '\n');
		if (next == NULL)
			next = line + strlen(line);
		else
			*next++ = '\0';
		if (*line == '\0')
			continue;
		lr = load_line(line);
		if (lr == -2) {
			errno = ENOMEM;
			rc = -1;
			goto out;
		}
		if (lr == -1)
			bad++;
	}
	if (bad > 0)
		log_msg(LOG_WARNING, "state/%s: %zu line(s) skipped",
			METRICS_STATE_NAME, bad);
out:
	free(text);
	dirty = false;
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys starting with prefix, sorted (a malloc'ed array of borrowed
 * strings, NULL with *n = 0 when none). -1 when out of memory. */
static int sorted_keys(const char *prefix, const char ***out, size_t *n)
{
	struct strmap_iter it = STRMAP_ITER_INIT;
	const char **keys;
	const char *key;
	size_t plen = strlen(prefix);

	*out = NULL;
	*n = 0;
	keys = malloc((strmap_count(&series) + 1) * sizeof(*keys));
	if (keys == NULL)
		return -1;
	while (strmap_next(&series, &it, &key, NULL)) {
		if (strncmp(key, prefix, plen) == 0)
			keys[(*n)++] = key;
	}
	qsort(keys, *n, sizeof(*keys), cmp_str);
	*out = keys;
	return 0;
}

/* Write text to dirfd/name through NAME.tmp-PID and a rename (mode).
 * 0, or -1 with errno. */
static int save_file(int dirfd, const char *name, const char *text, size_t len,
		     mode_t mode)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", name, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return replace_file(dirfd, tmp, name, text, len, mode, (gid_t)-1);
}

int metrics_save(int statefd)
{
	struct strbuf sb = STRBUF_INIT;
	const char **keys;
	size_t n;
	int rc = -1;

	if (!dirty)
		return 0;
	if (sorted_keys("expensed_", &keys, &n) == -1)
		return -1;
	sb_adds(&sb, STATE_MAGIC);
	for (size_t i = 0; i < n; i++)
		sb_addf(&sb, "%s %llu\n", keys[i], get(keys[i]));
	if (sb.failed)
		errno = ENOMEM;
	else if (save_file(statefd, METRICS_STATE_NAME, sb.buf, sb.len, 0640) ==
		 0)
		rc = 0;
	if (rc == 0)
		dirty = false;
	free(keys);
	sb_release(&sb);
	return rc;
}

/* ---- the exposition -------------------------------------------------- */

static void family(struct strbuf *sb, const char *name, const char *type,
		   const char *help)
{
	sb_addf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Every series of a labelled counter, sorted. */
static void labelled(struct strbuf *sb, const char *name)
{
	struct strbuf prefix = STRBUF_INIT;
	const char **keys = NULL;
	size_t n = 0;

	sb_addf(&prefix, "%s{", name);
	if (prefix.failed || sorted_keys(prefix.buf, &keys, &n) == -1)
		sb->failed = true;
	for (size_t i = 0; i < n; i++)
		sb_addf(sb, "%s %llu\n", keys[i], get(keys[i]));
	free(keys);
	sb_release(&prefix);
}

/* Entries of dir (relative to base when not NULL) not starting with '.',
 * -1 when it cannot be read. */
static long long count_dir(const char *base, const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	long long n = 0;
	DIR *d;

	if (base != NULL)
		snprintf(path, sizeof(path), "%s/%s", base, dir);
	else
		snprintf(path, sizeof(path), "%s", dir);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

/* The deliveries in dead/, by their names (outbox_delivery_named(): the
 * directory only grows, and this runs on the daemon's thread at every
 * write): not the files there named otherwise (moved there because they
 * were no delivery, left by someone), which `expensed status` shows
 * apart. -1 when dead/ cannot be read. */
static long long count_dead(const char *spool_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	long long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/dead", spool_dir);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (outbox_delivery_named(de->d_name))
			n++;
	}
	closedir(d);
	return n;
}

static void gauge(struct strbuf *sb, const char *name, const char *help,
		  long long v)
{
	family(sb, name, "gauge", help);
	if (v >= 0)
		sb_addf(sb, "%s %lld\n", name, v);
}

static void exposition(struct strbuf *sb, const struct config *cfg,
		       size_t backlog)
{
	unsigned long long us = get(SUM_US), last = get(LAST_MS);

	family(sb, "expensed_build_info", "gauge",
	       "The version of expensed, as a label.");
	sb_adds(sb,
		"expensed_build_info{version=\"" EXPENSED_VERSION "\"} 1\n");
	family(sb, JUDGED, "counter",
	       "Files judged since the spool was created, by verdict.");
	for (int v = VERDICT_ACCEPTED; v <= VERDICT_INVALID; v++)
		sb_addf(sb, "%s %llu\n", judged_keys[v], get(judged_keys[v]));
	family(sb, FINDINGS, "counter",
	       "Findings listed in the results, by rule and severity.");
	labelled(sb, FINDINGS);
	family(sb, HIST, "histogram", "Time taken to judge one file.");
	for (size_t i = 0; i <= NBUCKETS; i++)
		sb_addf(sb, "%s %llu\n", bucket_keys[i], get(bucket_keys[i]));
	sb_addf(sb, HIST "_sum %llu.%06llu\n", us / 1000000, us % 1000000);
	sb_addf(sb, HIST "_count %llu\n", get(HIST "_count"));
	gauge(sb, "expensed_inbox_files", "Files waiting in the inbox.",
	      count_dir(NULL, cfg->inbox));
	gauge(sb, "expensed_work_files",
	      "Files in work/ (claimed, not yet archived).",
	      count_dir(cfg->spool_dir, "work"));
	gauge(sb, "expensed_outbox_deliveries",
	      "Deliveries pending in outbox/.", (long long)backlog);
	gauge(sb, "expensed_dead_deliveries", "Deliveries given up, in dead/.",
	      count_dead(cfg->spool_dir));
	family(sb, DELIVERIES, "counter",
	       "Delivery outcomes, by webhook: delivered, retried, dead.");
	labelled(sb, DELIVERIES);
	family(sb, "expensed_last_verdict_timestamp_seconds", "gauge",
	       "When the last file was judged, in seconds since the epoch.");
	if (last > 0)
		sb_addf(sb,
			"expensed_last_verdict_timestamp_seconds %llu.%03llu\n",
			last / 1000, last % 1000);
}

int metrics_write_textfile(const struct config *cfg, size_t backlog)
{
	struct strbuf sb = STRBUF_INIT;
	const char *path = cfg->metrics_textfile, *slash;
	char dir[PATH_MAX];
	int dirfd, rc = -1;

	if (path == NULL)
		return 0;
	slash = strrchr(path, '/');
	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir)) {
		errno = EINVAL; /* config.c makes it absolute */
		return -1;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	dirfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd == -1)
		return -1;
	exposition(&sb, cfg, backlog);
	if (sb.failed)
		errno = ENOMEM;
	else
		rc = save_file(dirfd, slash + 1, sb.buf, sb.len, 0644);
	close(dirfd);
	sb_release(&sb);
	return rc;
}
