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
 *   ... j.verdict, j.findings; judgement_to_json(&j) for the document ...
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
#include "../common/i18n.h"

#define EXPENSED_DEFAULT_MAX_FILE_SIZE ((size_t)16 * 1024 * 1024)
#define EXPENSED_DEFAULT_MAX_FINDINGS ((size_t)1000)

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
	/* list at most this many findings, the first ones in the order of
	 * docs/result.md (the others are counted, never stored); 0 means
	 * EXPENSED_DEFAULT_MAX_FINDINGS */
	size_t max_findings;
	/* judging stops when it has taken this many milliseconds (the
	 * monotonic clock, read every few thousand steps): the file is then
	 * invalid, input.resources; 0 means no limit */
	unsigned long long max_time_ms;
	/* the parsed report may hold at most this many bytes (Jansson's
	 * blocks: common/jsonmem.h); a report that needs more is not parsed
	 * further: invalid, input.resources; 0 means no limit */
	size_t max_memory;
	enum lang lang; /* of the findings' messages (LANG_EN is 0) */
	/* when not NULL, judge_bytes() hands the parsed report over here (a
	 * JSON object the rules were run on; the caller json_decref()s it),
	 * or NULL when there is none (not read, not JSON, not an object, out
	 * of time): for a page that shows the report (daemon/page.h) without
	 * parsing it twice */
	json_t **keep_root;
};

enum severity { SEV_ERROR, SEV_WARNING, SEV_INFO };

/* "error", "warning", "info" */
const char *severity_name(enum severity s);

/*
 * What a finding's expected and actual values are, for a reader that
 * words them in its own language (a French page writes 08/02/2019 for the
 * engine's 2019-02-08, but never rewrites the report's own strings). The
 * result document does not say it: its values are data, always as the
 * engine wrote them.
 */
enum finding_values {
	/* written by the engine from what it read and computed: dates,
	 * amounts, integers, "on or after DATE", "<= AMOUNT", "DATE..DATE"
	 * (within, order, limit, sum, count); or no value */
	VALUES_COMPUTED,
	/* text as the rule and the report have it (enum: the rule's list,
	 * the report's string), to show as it is */
	VALUES_AS_WRITTEN,
	/* a field missing (required): expected the name of its kind
	 * ("date": kind_words()), actual "missing" */
	VALUES_MISSING,
};

/*
 * One finding (docs/result.md). Every string is owned by the finding and valid
 * UTF-8 (text that may not be, such as messages quoting a report's strings
 * or file names, is made so with U+FFFD), so that a judgement outlives the
 * rule set and the document it came from.
 */
struct finding {
	char *rule; /* "sum.total", "input.json", "report.duplicate", ... */
	enum severity severity;
	char *path; /* a JSON pointer, "" for the whole file */
	char *message;
	char *expected; /* NULL: none */
	char *actual;	/* NULL: none */
	/* what expected and actual are; VALUES_COMPUTED for a finding read
	 * back from a result document (judgement_from_json()) */
	enum finding_values values;
};

/*
 * The words of a kind as a VALUES_MISSING finding's expected value names
 * it: "a date" for "date", "a non-empty string" for "string" (an msgid,
 * for i18n_tr()); NULL for a name of no kind.
 */
const char *kind_words(const char *name);

/*
 * What the engine says about one file: the typed form of the result
 * document of docs/result.md, which judgement_to_json() builds for output.
 */
struct judgement {
	enum verdict verdict;
	int errors;   /* findings of severity error */
	int warnings; /* findings of severity warning */
	/* the document's fields, in its order */
	char *file;	 /* the base name given to judge_*() (valid UTF-8) */
	char *report_id; /* the document's "id" when a string, else NULL */
	bool has_sha256; /* false for a file not read or too large */
	char sha256[65]; /* hex, when has_sha256 */
	long long size;	 /* bytes, -1 unknown */
	time_t checked_at;
	char rules_sha256[65];	  /* of the rule set's text */
	struct finding *findings; /* in rule set order (owned) */
	size_t nfindings, capfindings;
	/* findings counted (in errors, warnings) but not listed: the ones
	 * after the first max_findings */
	size_t findings_left_out;
	size_t max_findings; /* the bound it was judged with; 0: none */
};

/*
 * Judge len bytes of the file called name (its base name, j->file).
 * Always produces a judgement (invalid input gets the input.* finding), to
 * release with judgement_release(); returns -1 only when memory runs out
 * (*out then holds nothing): anywhere, in the engine, in OpenSSL or in
 * Jansson's parser, so that a lack of memory is never a verdict.
 *
 * Memory: besides the parsed document, at most opts->max_findings findings
 * are ever stored, however many the rules make.
 * Jansson's parser does not always say when it runs out of memory: judging
 * counts its failed allocations (common/jsonmem.h, which wraps Jansson's
 * allocator).
 */
int judge_bytes(const struct ruleset *rs, const struct judge_opts *opts,
		const char *name, const void *data, size_t len,
		struct judgement *out);

/*
 * The report in len bytes of data parsed as judge_bytes() parses it (a
 * leading byte-order mark skipped, duplicate keys refused), for a caller
 * that needs it again after judging, or NULL: not JSON, or out of memory.
 * Judging's other checks (the nesting depth, an object at the top) are
 * not made again: for a report judge_bytes() did not find invalid. The
 * caller json_decref()s it.
 */
json_t *judge_parse(const void *data, size_t len);

/*
 * Judge a file that could not be read: verdict invalid with one finding of
 * rule (input.file, input.name, input.size) and message; size is the
 * file's size (-1 unknown). data may be NULL (then has_sha256 is false),
 * else it holds the size bytes, which are hashed.
 */
int judge_invalid(const struct ruleset *rs, const struct judge_opts *opts,
		  const char *name, const char *rule, const char *message,
		  const void *data, long long size, struct judgement *out);

/*
 * Append one finding (for the daemon's report.duplicate) and update the
 * counts and the verdict. path and message are copied (made valid UTF-8).
 * When j already lists max_findings findings (or left some out), the new
 * one, last in the order, is counted in findings_left_out instead.
 * 0, or -1 when memory runs out (j unchanged).
 */
int judgement_add_finding(struct judgement *j, const char *rule,
			  enum severity severity, const char *path,
			  const char *message);

/*
 * The result document of docs/result.md, keys in this order: file, sha256,
 * size, report_id, verdict, errors, warnings, findings (rule, severity, path,
 * message, then expected and actual when set), findings_left_out (only when
 * not 0), checked_at, rules, expensed. Every builder call is checked.
 * A new object (the caller owns it), or NULL when memory runs out.
 */
json_t *judgement_to_json(const struct judgement *j);

/*
 * The result document as text, json_dumps(judgement_to_json(j), flags): a
 * new string, or NULL when memory runs out, in Jansson's dumper too (which
 * drops bytes silently when its buffer cannot grow: common/jsonmem.h).
 */
char *judgement_dumps(const struct judgement *j, size_t flags);

/* One finding as its JSON object (as in "findings"), or NULL. */
json_t *finding_to_json(const struct finding *f);

/*
 * The judgement a result document written by judgement_to_json() says, for
 * a daemon that finds one left over from before a crash: what is missing or
 * of the wrong type reads as absent (verdict invalid, counts 0, no id, no
 * finding). checked_at and rules_sha256 are not read back; neither is
 * max_findings (0). 0, or -1 when
 * memory runs out (*out is then empty, to release as usual).
 */
int judgement_from_json(const json_t *doc, struct judgement *out);

/* Free what j owns; j is then empty (releasing it again is harmless). */
void judgement_release(struct judgement *j);

/* A JSON string of s, invalid UTF-8 bytes replaced by U+FFFD (file names
 * from a share, messages quoting them). NULL only when memory runs out. */
json_t *json_string_lossy(const char *s);

#endif
