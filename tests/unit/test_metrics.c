/*
 * test_metrics.c - unit tests of daemon/metrics.c: label values escaped as
 * the exposition format says, the histogram's bucket edges and sum, the
 * state file read back, and a damaged state file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/hash.h"
#include "../../common/io.h"
#include "../../daemon/config.h"
#include "../../daemon/metrics.h"

struct tmp {
	char dir[64];
	char prom[128];
	int fd; /* the directory, as state/ */
	struct config cfg;
};

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/expensed-metrics-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->prom, sizeof(t->prom), "%s/m.prom", t->dir);
	t->fd = open(t->dir, O_RDONLY | O_DIRECTORY);
	assert_true(t->fd >= 0);
	assert_int_equal(config_defaults(&t->cfg), 0);
	free(t->cfg.spool_dir);
	free(t->cfg.inbox);
	t->cfg.spool_dir = strdup(t->dir);
	t->cfg.inbox = strdup(t->dir);
	t->cfg.metrics_textfile = strdup(t->prom);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char path[256];

	metrics_free();
	snprintf(path, sizeof(path), "%s/" METRICS_STATE_NAME, t->dir);
	unlink(path);
	unlink(t->prom);
	close(t->fd);
	rmdir(t->dir);
	config_free(&t->cfg);
	free(t);
	return 0;
}

/* The textfile's content (free it). */
static char *exposition(struct tmp *t)
{
	char *text = NULL;
	size_t len;

	assert_int_equal(metrics_write_textfile(&t->cfg, 7), 0);
	assert_int_equal(read_file_at(t->fd, "m.prom", 1 << 20, &text, &len),
			 0);
	return text;
}

static void test_label_escaping(void **state)
{
	struct tmp *t = *state;
	char *text;

	metrics_delivery("a\"b\\c\nd", "delivered");
	metrics_delivery("a\"b\\c\nd", "delivered");
	metrics_delivery("plain", "dead");
	text = exposition(t);
	assert_non_null(strstr(text, "expensed_deliveries_total{webhook=\"a\\\""
				     "b\\\\c\\nd\",outcome=\"delivered\"} 2\n"
				     "expensed_deliveries_total{webhook="
				     "\"plain\",outcome=\"dead\"} 1\n"));
	/* the backlog given, the inbox counted (empty: m.prom is written
	 * after the count) */
	assert_non_null(strstr(text, "\nexpensed_outbox_deliveries 7\n"));
	assert_non_null(strstr(text, "\nexpensed_inbox_files 0\n"));
	/* no work/ nor dead/: no sample, HELP and TYPE all the same */
	assert_non_null(strstr(text, "# TYPE expensed_work_files gauge\n# "));
	assert_null(strstr(text, "\nexpensed_work_files "));
	/* no verdict yet: no time */
	assert_null(strstr(text, "\nexpensed_last_verdict_timestamp_seconds "));
	free(text);
}

static void test_histogram_edges(void **state)
{
	struct tmp *t = *state;
	char *text;

	metrics_judge_time(1000);    /* on the edge: le 0.001 */
	metrics_judge_time(1001);    /* just above: le 0.005 */
	metrics_judge_time(6000000); /* above the last bound: +Inf only */
	text = exposition(t);
	assert_non_null(
	    strstr(text, "expensed_judge_duration_seconds_bucket{le=\"0.001\"} "
			 "1\n"
			 "expensed_judge_duration_seconds_bucket{le=\"0.005\"} "
			 "2\n"));
	assert_non_null(
	    strstr(text, "expensed_judge_duration_seconds_bucket{le=\"5\"} 2\n"
			 "expensed_judge_duration_seconds_bucket{le=\"+Inf\"} "
			 "3\n"
			 "expensed_judge_duration_seconds_sum 6.002001\n"
			 "expensed_judge_duration_seconds_count 3\n"));
	free(text);
}

static void test_state_round_trip(void **state)
{
	struct tmp *t = *state;
	struct judgement j;
	struct finding f = {.rule = "odd\"rule",
			    .severity = SEV_WARNING,
			    .path = "",
			    .message = "m"};
	struct metrics_totals tot;
	char *text;

	memset(&j, 0, sizeof(j));
	j.findings = &f;
	j.nfindings = 1;
	metrics_judged(&j, VERDICT_REJECTED);
	metrics_judged(&j, VERDICT_REJECTED);
	metrics_judged(&j, VERDICT_INVALID);
	metrics_delivery("w", "retried");
	assert_int_equal(metrics_save(t->fd), 0);
	metrics_free();
	tot = metrics_totals();
	assert_true(tot.rejected == 0);
	assert_int_equal(metrics_load(t->fd), 0);
	tot = metrics_totals();
	assert_true(tot.accepted == 0 && tot.rejected == 2 && tot.invalid == 1);
	text = exposition(t);
	assert_non_null(strstr(text, "expensed_findings_total{rule=\"odd\\\""
				     "rule\",severity=\"warning\"} 3\n"));
	assert_non_null(strstr(text, "expensed_deliveries_total{webhook=\"w\","
				     "outcome=\"retried\"} 1\n"));
	assert_non_null(
	    strstr(text, "\nexpensed_last_verdict_timestamp_seconds "));
	free(text);
}

static void test_damaged_state(void **state)
{
	struct tmp *t = *state;
	static const char bad[] =
	    "expensed-metrics 1\n"
	    "expensed_files_judged_total{verdict=\"accepted\"} 12\n"
	    "expensed_files_judged_total{verdict=\"rejected\"} -3\n"
	    "nonsense 4\n"
	    "expensed_files_judged_total{verdict=\"invalid\"} 5x\n"
	    "expensed_files_judged_total{verdict=\"invalid\"}\n";
	int fd = openat(t->fd, METRICS_STATE_NAME, O_WRONLY | O_CREAT, 0600);
	struct metrics_totals tot;

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, bad, strlen(bad)), 0);
	close(fd);
	assert_int_equal(metrics_load(t->fd), 0);
	tot = metrics_totals();
	assert_true(tot.accepted == 12 && tot.rejected == 0 &&
		    tot.invalid == 0);
	/* not ours at all: ignored */
	metrics_free();
	fd = openat(t->fd, METRICS_STATE_NAME, O_WRONLY | O_TRUNC, 0600);
	assert_int_equal(write_all(fd, "hello 3\n", 8), 0);
	close(fd);
	assert_int_equal(metrics_load(t->fd), 0);
	tot = metrics_totals();
	assert_true(tot.accepted == 0);
}

int main(void)
{
	if (hash_init() == -1) /* common/hash.h: a random key */
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_label_escaping, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_histogram_edges, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_state_round_trip, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_state, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
