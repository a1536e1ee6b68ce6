/*
 * ruleset.c - loading rule sets (docs/rules.md) from a file, a directory, text
 * or the built-in copy: INI read by common/ini.c into sections, compiled by
 * rule_parse.c, hashed. Every problem is reported as FILE:LINE: reason, and
 * nothing is half-loaded: a set with any error is refused as a whole.
 */
#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "ruleset.h"
#include "../common/ini.h"
#include "../common/sha256.h"
#include "rule_parse.h"

#define RULES_MAX_FILE (1024 * 1024)

extern const char expensed_builtin_rules[];

/* The sections of one file, as the lexer hands them over. */
struct parser {
	const char *file;
	int line; /* of the item being read */
	struct diag *diag;
	int errors;
	struct section *sec;
	size_t nsec;
	bool no_section; /* after a refused header: its keys are dropped */
};

/* Rules files take control characters as text and want "[id]" alone on
 * its line, as they always have (docs/ini.md); they are UTF-8, line by
 * line, so that a bad byte is reported at its line and the rest is read. */
static const struct ini_syntax rules_syntax = {
    INI_CONTROL_OK | INI_HEADER_ALONE | INI_UTF8,
    "rule.id",
};

const char *severity_name(enum severity s)
{
	switch (s) {
	case SEV_ERROR:
		return "error";
	case SEV_WARNING:
		return "warning";
	case SEV_INFO:
		return "info";
	}
	return "error";
}

const char *kind_name(enum kind k)
{
	static const char *names[] = {"string", "integer", "amount",  "date",
				      "array",	"object",  "boolean", "value"};
	return names[k];
}

static void perr(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct parser *p, int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	diag_at(p->diag, p->file, line, "%s", buf);
	p->errors++;
}

static int add_section(struct parser *p, const char *id)
{
	struct section *sec = realloc(p->sec, (p->nsec + 1) * sizeof(*sec));
	if (sec == NULL)
		return -1;
	p->sec = sec;
	sec = &p->sec[p->nsec];
	memset(sec, 0, sizeof(*sec));
	sec->id = strdup(id);
	sec->line = p->line;
	if (sec->id == NULL)
		return -1;
	p->nsec++;
	return 0;
}

static int on_section(struct parser *p, const char *id)
{
	if (*id == '\0') {
		perr(p, p->line, "empty rule id");
		return 0;
	}
	for (size_t i = 0; i < p->nsec; i++) {
		if (strcmp(p->sec[i].id, id) == 0) {
			perr(p, p->line,
			     "duplicate rule id '%s' (first at line %d)", id,
			     p->sec[i].line);
			/* keys that follow go to a throwaway section */
			break;
		}
	}
	return add_section(p, id);
}

static int add_entry(struct section *sec, const char *key, const char *value,
		     int line)
{
	struct entry *e = realloc(sec->e, (sec->n + 1) * sizeof(*e));

	if (e == NULL)
		return -1;
	sec->e = e;
	e = &sec->e[sec->n];
	e->key = strdup(key);
	e->value = value != NULL ? strdup(value) : NULL;
	e->line = line;
	if (e->key == NULL || (value != NULL && e->value == NULL)) {
		free(e->key);
		free(e->value);
		return -1;
	}
	sec->n++;
	return 0;
}

/*
 * libinih, which read these files before, ended a key at ':' as well as at
 * '=': "message: a = b" was message "a=b". Kept, so that no rules file
 * changes meaning. value is NULL for a line refused for its bytes.
 */
static int on_pair(struct parser *p, const char *key, const char *value)
{
	const char *colon = strchr(key, ':');
	char *name = NULL, *joined = NULL;
	struct section *sec;
	int rc;

	if (p->no_section)
		return 0; /* its header's error says it */
	if (p->nsec == 0) {
		if (value != NULL) /* else its line's error says it */
			perr(p, p->line,
			     "'key = value' before any [rule.id] section");
		return 0;
	}
	sec = &p->sec[p->nsec - 1];
	if (*key == '\0') {
		perr(p, p->line, "empty key");
		return 0;
	}
	if (colon == NULL)
		return add_entry(sec, key, value, p->line);
	name = strndup(key, (size_t)(colon - key));
	colon++;
	while (isspace((unsigned char)*colon))
		colon++;
	if (name == NULL ||
	    (value != NULL && asprintf(&joined, "%s=%s", colon, value) < 0)) {
		free(name);
		return -1;
	}
	for (size_t n = strlen(name);
	     n > 0 && isspace((unsigned char)name[n - 1]);)
		name[--n] = '\0';
	rc = add_entry(sec, name, joined, p->line);
	free(name);
	free(joined);
	return rc;
}

/* The ini_handler: a refused header is reported already, and its keys
 * are dropped (they belong to no rule: not the one before it). */
static int on_item(void *user, const struct ini_item *item)
{
	struct parser *p = user;

	p->line = item->line;
	switch (item->kind) {
	case INI_SECTION:
		p->no_section = false;
		return on_section(p, item->name);
	case INI_BAD_SECTION:
		p->no_section = true;
		return 0;
	case INI_PAIR:
		return on_pair(p, item->name, item->value);
	case INI_BAD_PAIR:
		/* the key is given, its value not read (rule_parse.h) */
		return on_pair(p, item->name, NULL);
	}
	return 0;
}

static void free_sections(struct parser *p)
{
	for (size_t i = 0; i < p->nsec; i++) {
		for (size_t j = 0; j < p->sec[i].n; j++) {
			free(p->sec[i].e[j].key);
			free(p->sec[i].e[j].value);
		}
		free(p->sec[i].e);
		free(p->sec[i].id);
	}
	free(p->sec);
	p->sec = NULL;
	p->nsec = 0;
}

void ruleset_free(struct ruleset *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_free(&rs->rules[i]);
	free(rs->rules);
	free(rs);
}

/* Compile the sections of p into new rules at the end of rs. */
static int compile_sections(struct ruleset *rs, struct parser *p)
{
	struct rule *rules =
	    realloc(rs->rules, (rs->n + p->nsec) * sizeof(*rules));

	if (rules == NULL && p->nsec > 0)
		return -1;
	if (rules != NULL)
		rs->rules = rules;
	for (size_t i = 0; i < p->nsec; i++) {
		const struct section *sec = &p->sec[i];
		/* ids are unique across the whole set */
		for (size_t j = 0; j < rs->n; j++) {
			const struct rule *r = &rs->rules[j];
			if (r->id != NULL && r->file != NULL &&
			    strcmp(r->id, sec->id) == 0 &&
			    strcmp(r->file, p->file) != 0) {
				perr(p, sec->line,
				     "duplicate rule id '%s' (first at %s:%d)",
				     sec->id, r->file, r->line);
				break;
			}
		}
		p->errors +=
		    rule_compile(p->file, sec, &rs->rules[rs->n], p->diag);
		rs->n++; /* kept so that it is freed with the set */
	}
	return 0;
}

/*
 * Parse one file's len bytes of text and append its rules to rs. Its
 * problems come out in line order: the lexer's as it reads, each rule's
 * once its section is whole.
 */
static int parse_text(struct ruleset *rs, const char *file, const char *text,
		      size_t len, struct diag *diag)
{
	struct parser p = {.file = file, .diag = diag};
	size_t from = diag != NULL ? diag->n : 0;
	int rc;

	rc = ini_parse_text(file, text, len, &rules_syntax, on_item, &p, diag);
	if (rc < 0) {
		/* what was read is incomplete: compiling it would only add
		 * errors that are not in the file */
		diag_at(diag, file, 0, "out of memory");
		free_sections(&p);
		diag_sort_lines(diag, from);
		return -1;
	}
	p.errors += rc;
	rc = compile_sections(rs, &p);
	free_sections(&p);
	diag_sort_lines(diag, from);
	return rc == -1 || p.errors ? -1 : 0;
}

static struct ruleset *ruleset_new(void)
{
	return calloc(1, sizeof(struct ruleset));
}

static int finish(struct ruleset *rs, struct sha256 *md, int errors,
		  struct ruleset **out, struct diag *diag, const char *name)
{
	unsigned char digest[32];

	if (errors == 0 && rs->n == 0) {
		diag_at(diag, name, 0, "no rules");
		errors++;
	}
	if (errors) {
		ruleset_free(rs);
		return -1;
	}
	sha256_final(md, digest);
	sha256_hex(digest, rs->sha256);
	*out = rs;
	return 0;
}

int ruleset_load_text(const char *name, const char *text, struct ruleset **out,
		      struct diag *diag)
{
	struct ruleset *rs = ruleset_new();
	struct sha256 md;
	int errors = 0;

	if (rs == NULL) {
		diag_add(diag, "out of memory");
		return -1;
	}
	sha256_init(&md);
	sha256_update(&md, text, strlen(text));
	if (parse_text(rs, name, text, strlen(text), diag) == -1)
		errors++;
	return finish(rs, &md, errors, out, diag, name);
}

int ruleset_load_builtin(struct ruleset **out, struct diag *diag)
{
	return ruleset_load_text("(built-in)/mission-report.rules",
				 expensed_builtin_rules, out, diag);
}

/* The bytes of the file at path, NUL-terminated, and their number in
 * *lenp (NUL bytes in them are the lexer's to report, at their line). */
static char *read_text(const char *path, size_t *lenp, struct diag *diag)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char *buf = NULL;
	size_t len = 0;

	if (fd == -1) {
		diag_at(diag, path, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		diag_at(diag, path, 0, "not a regular file");
		goto err;
	}
	if (st.st_size > RULES_MAX_FILE) {
		diag_at(diag, path, 0, "larger than %d bytes", RULES_MAX_FILE);
		goto err;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto err;
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			diag_at(diag, path, 0, "cannot read: %s",
				r == 0 ? "file shrank" : strerror(errno));
			goto err;
		}
		len += (size_t)r;
	}
	buf[len] = '\0';
	*lenp = len;
	close(fd);
	return buf;
err:
	free(buf);
	close(fd);
	return NULL;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ruleset_load_path(const char *path, struct ruleset **out, struct diag *diag)
{
	struct ruleset *rs = ruleset_new();
	struct sha256 md;
	char **names = NULL;
	size_t nnames = 0;
	int errors = 0;
	struct stat st;

	if (rs == NULL) {
		diag_add(diag, "out of memory");
		return -1;
	}
	sha256_init(&md);
	if (stat(path, &st) == -1) {
		diag_at(diag, path, 0, "cannot open: %s", strerror(errno));
		errors++;
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		struct dirent *de;
		if (dir == NULL) {
			diag_at(diag, path, 0, "cannot open: %s",
				strerror(errno));
			errors++;
			goto done;
		}
		while ((de = readdir(dir)) != NULL) {
			size_t n = strlen(de->d_name);
			if (de->d_name[0] == '.' || n < 7 ||
			    strcmp(de->d_name + n - 6, ".rules") != 0)
				continue;
			char **nn = realloc(names, (nnames + 1) * sizeof(*nn));
			if (nn != NULL)
				names = nn;
			if (nn == NULL || asprintf(&names[nnames], "%s/%s",
						   path, de->d_name) < 0) {
				/* never a set with a file left out */
				diag_at(diag, path, 0, "out of memory");
				errors++;
				break;
			}
			nnames++;
		}
		closedir(dir);
		if (nnames > 1)
			qsort(names, nnames, sizeof(*names), cmp_names);
		if (nnames == 0) {
			diag_at(diag, path, 0, "no .rules files in directory");
			errors++;
		}
	} else {
		names = malloc(sizeof(*names));
		if (names == NULL || (names[0] = strdup(path)) == NULL) {
			diag_at(diag, path, 0, "out of memory");
			errors++;
			goto done;
		}
		nnames = 1;
	}
	for (size_t i = 0; i < nnames; i++) {
		size_t len = 0;
		char *text = read_text(names[i], &len, diag);
		if (text == NULL) {
			errors++;
			continue;
		}
		sha256_update(&md, text, len);
		if (parse_text(rs, names[i], text, len, diag) == -1)
			errors++;
		free(text);
	}
done:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return finish(rs, &md, errors, out, diag, path);
}

size_t ruleset_count(const struct ruleset *rs)
{
	return rs->n;
}

const char *ruleset_sha256(const struct ruleset *rs)
{
	return rs->sha256;
}
