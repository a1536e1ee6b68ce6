/*
 * metrics.h - the daemon's counters (docs/operations.md "Metrics"): files
 * judged per verdict, findings per rule and severity, the judging time, the
 * deliveries per webhook and outcome, the time of the last verdict.
 *
 * They are totals since the spool was created, not since the daemon
 * started: metrics_load() reads them back from the spool's state/metrics
 * at start, metrics_save() writes them there (run.c: within a second of a
 * batch but at most once a second, at each metrics interval and at stop;
 * a temporary file renamed into place, not synced: a crash loses at most
 * the counts of the last second).
 * STATUS= shows the same totals. Two daemons on one spool each keep their
 * own counts and the last one to save wins: the totals are then a lower
 * bound.
 *
 * metrics_write_textfile() writes them, with the backlog gauges read from
 * the spool at that moment, in the Prometheus text exposition format for
 * node_exporter's textfile collector: PATH.tmp-PID in the same directory,
 * then renamed over PATH.
 *
 * One set of counters per process (the hooks are called from deep inside
 * the spool and delivery code), used from the event loop's thread only.
 */
#ifndef EXPENSED_METRICS_H
#define EXPENSED_METRICS_H

#include <stddef.h>

#include "../rules/engine.h"
#include "config.h"
#include "spool_name.h"

/* The state file in the spool's state/ directory (named by spool_name.h). */
#define METRICS_STATE_NAME SPOOL_METRICS_NAME

/* Totals of judged files, per verdict. */
struct metrics_totals {
	unsigned long long accepted, rejected, invalid;
};

/*
 * Read the totals saved in statefd/metrics, if any (a missing file is a
 * new spool: zero). Lines that cannot be read are skipped (logged once).
 * 0, or -1 with errno (out of memory, unreadable file: logged by the
 * caller; the counters start from zero).
 */
int metrics_load(int statefd);

/*
 * One file judged: its verdict, and each finding listed in j (findings
 * left out beyond max_findings, j->findings_left_out, are not broken down
 * by rule and are not counted).
 */
void metrics_judged(const struct judgement *j, enum verdict verdict);

/* The time one file took to judge, in microseconds (the histogram). */
void metrics_judge_time(long long usec);

/* A monotonic clock in microseconds, for metrics_judge_time(). */
long long metrics_now_us(void);

/*
 * One outcome of a delivery to webhook: "delivered" (a 2xx), "retried" (a
 * try failed and another one is scheduled) or "dead" (moved to dead/).
 */
void metrics_delivery(const char *webhook, const char *outcome);

/* The verdict totals (for STATUS=). */
struct metrics_totals metrics_totals(void);

/* Save the counters into statefd/metrics when they changed since the last
 * save. 0, or -1 with errno. */
int metrics_save(int statefd);

/*
 * Write the exposition to cfg->metrics_textfile (nothing when it is NULL):
 * the counters, the gauges (files in cfg->inbox, SPOOL/work and SPOOL/dead
 * counted now; outbox_backlog given by the caller) and build info.
 * 0, or -1 with errno.
 */
int metrics_write_textfile(const struct config *cfg, size_t outbox_backlog);

/* Forget every counter (at the end of the daemon). */
void metrics_free(void);

#endif
