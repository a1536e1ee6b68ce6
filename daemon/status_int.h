/*
 * status_int.h - what the two halves of `expensed status` share: status.c
 * reads the spool into a struct status and judges it; status_print.c shows
 * it as text for a person or as JSON for scripts.
 */
#ifndef EXPENSED_STATUS_INT_H
#define EXPENSED_STATUS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define RESULT_SUFFIX ".result.json"
#define HOOK_NAME_SIZE 80
#define MAX_PIDS 16
#define MAX_PROBLEMS 64

/* A directory whose files wait: how many, and the oldest one's change. */
struct backlog {
	size_t files;
	bool any;	     /* oldest_ms is set */
	long long oldest_ms; /* smallest ctime, ms */
};

/* Deliveries of one webhook. */
struct hook_count {
	char name[HOOK_NAME_SIZE];
	size_t n[2]; /* outbox/, dead/ */
};

/* A directory of deliveries: per webhook, and files that are none. */
struct deliveries {
	size_t files, other;
};

struct problem {
	const char *code;
	char text[256];
};

struct status {
	const struct config *cfg;
	long long now_ms;
	int held;	     /* owner locks held */
	long pids[MAX_PIDS]; /* their holders, where visible */
	size_t npids;
	bool inbox_missing;
	struct backlog inbox, work;
	size_t archived[2]; /* accepted/, rejected/ */
	bool have_verdict;
	long long verdict_ms; /* newest result document's mtime */
	struct hook_count *hooks;
	size_t nhooks;
	struct deliveries dl[2]; /* outbox/, dead/ */
	struct problem problems[MAX_PROBLEMS];
	size_t nproblems;
};

/* Milliseconds from t (ms since the epoch) to the status's now. */
long long status_age_of(const struct status *st, long long t);

/* 10 x settle + rescan: how long a file may wait before a person should look.
 */
long long status_stale_after_ms(const struct config *cfg);

/* "1m 5s", "3h 2m": an age for people. */
void status_format_age(long long ms, char *buf, size_t size);

/* one or many, by n */
const char *status_plural(size_t n, const char *one, const char *many);

/* Print the status for a person (problems first, marked '!'). */
void status_print_text(FILE *f, const struct status *st);

/* Print the status as one JSON object. 0, or -1 (no memory, write error). */
int status_print_json(FILE *f, const struct status *st);

#endif
