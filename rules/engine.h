/*
 * engine.h - the audit engine: bytes in, a verdict and findings out.
 *
 * This is the whole public API of rules/. It does no I/O beyond reading rule
 * files at load time; judging works on a buffer the caller has read.
 *
 *   struct ruleset *rs;
 *   struct diag d = DIAG_INIT;
 *   if (ruleset_load_path("/etc/expensed/rules.d", &rs, &d) == -1)
 *           ... print d.lines, refuse to start ...
 *   struct judgement j;
 *   judge_bytes(rs, &opts, "rapport-36.json", buf, len, &j);
 *   ... j.verdict, j.doc (the SPEC §3 result document) ...
 *   judgement_release(&j);
 */
#ifndef EXPENSED_ENGINE_H
#define EXPENSED_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "../common/diag.h"

#define EXPENSED_DEFAULT_MAX_FILE_SIZE ((size_t)16 * 1024 * 1024)

struct ruleset; /* opaque, immutable once loaded; share it freely */

/*
 * Load a rule set from a .rules file or from a directory of them (read in
 * name order; other names are ignored). On error, appends one
 * "FILE:LINE: reason" per problem to diag and returns -1 (*out untouched).
 */
int ruleset_load_path(const char *path, struct ruleset **out,
		      struct diag *diag);

/* Load the built-in default set (config/rules.d/mission-report.rules). */
int ruleset_load_builtin(struct ruleset **out, struct diag *diag);

/* Load from text already in memory; name is used in diagnostics. */
int ruleset_load_text(const char *name, const char *text, struct ruleset **out,
		      struct diag *diag);

void ruleset_free(struct ruleset *rs);

/* Number of rules (enabled or not) and the hex sha256 of the set's text. */
size_t ruleset_count(const struct ruleset *rs);
const char *ruleset_sha256(const struct ruleset *rs);

enum verdict { VERDICT_ACCEPTED, VERDICT_REJECTED, VERDICT_INVALID };

/* "accepted", "rejected", "invalid" */
const char *verdict_name(enum verdict v);

struct judge_opts {
	size_t max_file_size; /* 0 means EXPENSED_DEFAULT_MAX_FILE_SIZE */
	time_t now;	      /* checked_at; 0 means time(NULL) */
};

struct judgement {
	enum verdict verdict;
	int errors;
	int warnings;
	json_t *doc; /* the result document of SPEC §3 (owned, an object) */
};

/*
 * Judge len bytes of the file called name (its base name, shown in "file").
 * Always produces a judgement (invalid input gets the input.* finding);
 * returns -1 only when memory runs out.
 */
int judge_bytes(const struct ruleset *rs, const struct judge_opts *opts,
		const char *name, const void *data, size_t len,
		struct judgement *out);

/*
 * Judge a file that could not be read: verdict invalid with one finding of
 * rule (input.file, input.name, input.size) and message. data may be NULL
 * (then "sha256" is null and "size" is size, or null when size < 0).
 */
int judge_invalid(const struct ruleset *rs, const struct judge_opts *opts,
		  const char *name, const char *rule, const char *message,
		  const void *data, long long size, struct judgement *out);

/*
 * Append one finding (for the daemon's report.duplicate) and update the
 * counts and the verdict. severity is "error", "warning" or "info".
 */
int judgement_add_finding(struct judgement *j, const char *rule,
			  const char *severity, const char *path,
			  const char *message);

/* The "report_id" of the document, or NULL. Valid while j->doc lives. */
const char *judgement_report_id(const struct judgement *j);

void judgement_release(struct judgement *j);

/* A JSON string of s, invalid UTF-8 bytes replaced by U+FFFD (file names
 * from a share, messages quoting them). NULL only when memory runs out. */
json_t *json_string_lossy(const char *s);

#endif
