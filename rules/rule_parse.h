/*
 * rule_parse.h - one rule section as read from a rules file, and its
 * compilation into a struct rule (rule_parse.c). Internal to rules/:
 * ruleset.c reads the sections, rule_parse.c gives them meaning.
 */
#ifndef EXPENSED_RULE_PARSE_H
#define EXPENSED_RULE_PARSE_H

#include <stddef.h>

#include "../common/diag.h"
#include "ruleset.h"

/* One "key = value" line of a section. */
struct entry {
	char *key;
	char *value; /* NULL: the line was refused for its bytes (reported
			already); the key counts as given, its value is not
			read */
	int line;
};

/* One [rule.id] section: its header line and its entries in file order. */
struct section {
	char *id;
	int line;
	struct entry *e;
	size_t n;
};

/*
 * Compile sec, read from file, into *r (which is always initialised: free
 * it with rule_free, even on error). Reports every problem in diag as
 * "FILE:LINE: reason"; returns how many (0: the rule is usable). A rule
 * whose type is missing or unknown is checked as far as it can be without
 * one (docs/rules.md).
 */
int rule_compile(const char *file, const struct section *sec, struct rule *r,
		 struct diag *diag);

/* Free what *r holds (not r itself). */
void rule_free(struct rule *r);

#endif
