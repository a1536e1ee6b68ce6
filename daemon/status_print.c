/*
 * status_print.c - how `expensed status` shows what status.c read: aligned
 * lines for a person, problems first, or one JSON object for scripts
 * (keys in docs/operations.md "expensed status").
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "../common/timefmt.h"
#include "status_int.h"

void status_format_age(long long ms, char *buf, size_t size)
{
	long long s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, size, "%lldms", ms < 0 ? 0 : ms);
	else if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm %llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%lldd %lldh", s / 86400, s % 86400 / 3600);
}

const char *status_plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- output -------------------------------------------------------- */

static void print_backlog(FILE *f, const struct status *st, const char *label,
			  const struct backlog *b)
{
	char age[32];

	fprintf(f, "%-14s%zu %s", label, b->files,
		status_plural(b->files, "file", "files"));
	if (b->any) {
		status_format_age(status_age_of(st, b->oldest_ms), age,
				  sizeof(age));
		fprintf(f, ", oldest %s", age);
	}
	fputc('\n', f);
}

static void print_deliveries(FILE *f, const struct status *st, int which)
{
	const struct deliveries *d = &st->dl[which];
	const char *sep = " (";

	fprintf(f, "%-14s%zu %s", which == 0 ? "outbox" : "dead", d->files,
		status_plural(d->files, "delivery", "deliveries"));
	for (size_t i = 0; i < st->nhooks; i++) {
		fprintf(f, "%s%s %zu", sep, st->hooks[i].name,
			st->hooks[i].n[which]);
		sep = ", ";
	}
	if (d->other > 0) {
		fprintf(f, "%sno delivery %zu", sep, d->other);
		sep = ", ";
	}
	fputs(sep[0] == ',' ? ")\n" : "\n", f);
}

void status_print_text(FILE *f, const struct status *st)
{
	char when[ISO8601_SIZE], age[32];

	for (size_t i = 0; i < st->nproblems; i++)
		fprintf(f, "! %s\n", st->problems[i].text);
	fprintf(f, "%-14s%s\n", "spool", st->cfg->spool_dir);
	fprintf(f, "%-14s", "daemon");
	if (st->held == 0)
		fputs("not running\n", f);
	else if (st->npids == 0)
		fputs("running (pid not visible)\n", f);
	else {
		fprintf(f, "running (%s",
			status_plural(st->npids, "pid", "pids"));
		for (size_t i = 0; i < st->npids; i++)
			fprintf(f, "%s%ld", i ? ", " : " ", st->pids[i]);
		fputs(")\n", f);
	}
	if (st->inbox_missing)
		fprintf(f, "%-14smissing\n", "inbox");
	else
		print_backlog(f, st, "inbox", &st->inbox);
	print_backlog(f, st, "work", &st->work);
	fprintf(f, "%-14s%zu %s\n", "accepted", st->archived[0],
		status_plural(st->archived[0], "file", "files"));
	fprintf(f, "%-14s%zu %s\n", "rejected", st->archived[1],
		status_plural(st->archived[1], "file", "files"));
	print_deliveries(f, st, 0);
	print_deliveries(f, st, 1);
	fprintf(f, "%-14s", "last verdict");
	if (!st->have_verdict) {
		fputs("none\n", f);
		return;
	}
	iso8601_utc((time_t)(st->verdict_ms / 1000), when, sizeof(when));
	status_format_age(status_age_of(st, st->verdict_ms), age, sizeof(age));
	fprintf(f, "%s (%s ago)\n", when, age);
}

static json_t *json_backlog(const struct status *st, const struct backlog *b)
{
	return json_pack("{s:I, s:o}", "files", (json_int_t)b->files,
			 "oldest_age_ms",
			 b->any ? json_integer(status_age_of(st, b->oldest_ms))
				: json_null());
}

static json_t *json_deliveries(const struct status *st, int which)
{
	json_t *hooks = json_object();

	for (size_t i = 0; hooks != NULL && i < st->nhooks; i++)
		json_object_set_new(
		    hooks, st->hooks[i].name,
		    json_integer((json_int_t)st->hooks[i].n[which]));
	return json_pack("{s:I, s:o*, s:I}", "files",
			 (json_int_t)st->dl[which].files, "webhooks", hooks,
			 "other", (json_int_t)st->dl[which].other);
}

static json_t *json_status(const struct status *st)
{
	json_t *problems = json_array(), *pids = json_array(), *inbox, *verdict;
	char when[ISO8601_SIZE];

	for (size_t i = 0; problems != NULL && i < st->nproblems; i++)
		json_array_append_new(problems,
				      json_pack("{s:s, s:s}", "code",
						st->problems[i].code, "text",
						st->problems[i].text));
	for (size_t i = 0; pids != NULL && i < st->npids; i++)
		json_array_append_new(pids, json_integer(st->pids[i]));
	inbox = json_backlog(st, &st->inbox);
	if (inbox != NULL)
		json_object_set_new(inbox, "missing",
				    json_boolean(st->inbox_missing));
	verdict = json_null();
	if (st->have_verdict) {
		iso8601_utc((time_t)(st->verdict_ms / 1000), when,
			    sizeof(when));
		json_decref(verdict);
		verdict =
		    json_pack("{s:s, s:I}", "time", when, "age_ms",
			      (json_int_t)status_age_of(st, st->verdict_ms));
	}
	return json_pack(
	    "{s:s, s:b, s:o*, s:{s:b, s:o*}, s:o*, s:o*, s:{s:I}, s:{s:I}, "
	    "s:o*, s:o*, s:o*, s:I}",
	    "spool", st->cfg->spool_dir, "ok", st->nproblems == 0, "problems",
	    problems, "daemon", "running", st->held > 0, "pids", pids, "inbox",
	    inbox, "work", json_backlog(st, &st->work), "accepted", "files",
	    (json_int_t)st->archived[0], "rejected", "files",
	    (json_int_t)st->archived[1], "outbox", json_deliveries(st, 0),
	    "dead", json_deliveries(st, 1), "last_verdict", verdict,
	    "stale_after_ms", (json_int_t)status_stale_after_ms(st->cfg));
}

int status_print_json(FILE *f, const struct status *st)
{
	json_t *o = json_status(st);
	int rc;

	if (o == NULL)
		return -1;
	rc = json_dumpf(o, f, JSON_INDENT(2));
	json_decref(o);
	if (rc == 0)
		fputc('\n', f);
	return rc;
}

/* ---- the command --------------------------------------------------- */

/* Options into *config and *json. 0, or the exit status to return. */
