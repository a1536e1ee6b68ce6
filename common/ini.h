/*
 * ini.h - the one INI reader of the program, for the configuration file and
 * the rules files (syntax and reasons in docs/ini.md).
 *
 * It cuts text into lines, numbers them, drops a leading UTF-8 BOM, blank
 * lines and comments, and hands each section header and each "key = value"
 * to a callback with its line number. What a line cannot be (too long, no
 * '=', a bad header) is reported as "FILE:LINE: reason" in a struct diag and
 * reading goes on, so that every problem is reported, not only the first.
 */
#ifndef EXPENSED_INI_H
#define EXPENSED_INI_H

#include <stddef.h>

#include "diag.h"

/* Longest line accepted, in bytes, without its "\n" or "\r\n" (and
 * line 1 without a leading BOM). */
#define INI_MAX_LINE 4096

enum ini_kind {
	INI_SECTION,	 /* "[name]": name is the trimmed text inside */
	INI_BAD_SECTION, /* a header refused (reported already): name NULL */
	INI_PAIR,	 /* "key = value": both trimmed, either may be "" */
	INI_BAD_PAIR,	 /* "key = value" refused for a byte after its key,
			    or for its length
			    (reported already): name is the trimmed key, never
			    "", value NULL; so that a reader does not take
			    the key for missing as well */
};

struct ini_item {
	enum ini_kind kind;
	int line;	   /* from 1 */
	const char *name;  /* section name or key; valid during the call */
	const char *value; /* INI_PAIR only */
};

/*
 * Called once per item, in file order. Return 0 to go on, -1 to stop
 * reading (out of memory: the callback reports it).
 */
typedef int (*ini_handler)(void *user, const struct ini_item *item);

/*
 * The two files still differ in two ways, kept so that no existing file
 * changes meaning (docs/ini.md). The configuration uses flags 0.
 *
 * INI_CONTROL_OK: control characters other than tab are text (rules files);
 * without it a line holding one (a byte below 0x20 other than tab, or DEL)
 * is refused. A NUL byte is always refused.
 *
 * INI_UTF8: a line that is not valid UTF-8 is refused, "not valid UTF-8"
 * (rules files).
 *
 * A refused line is reported once, for its first refused byte, and is not
 * read, except that a "key = value" line whose key comes before that byte
 * is handed over as INI_BAD_PAIR. A line longer than INI_MAX_LINE is
 * refused the same way, its first INI_MAX_LINE bytes read for its key or
 * its header (INI_BAD_SECTION).
 *
 * INI_HEADER_ALONE: the header stands alone on its line, a comment after
 * white space at most ("[id]  # why"), or it is refused with
 * "expected '[HEADER_FORM]'". Without it, a header is '[' up to the first
 * ']', then a comment or nothing ("[spool]# why"), refused with
 * "missing ']' in section header" or "unexpected text after section header".
 */
#define INI_CONTROL_OK 0x1
#define INI_HEADER_ALONE 0x2
#define INI_UTF8 0x4

struct ini_syntax {
	unsigned flags;		 /* INI_* above */
	const char *header_form; /* for INI_HEADER_ALONE, e.g. "rule.id" */
};

/*
 * Read len bytes of text (name is the file name used in messages) with
 * syntax (NULL: the configuration's, flags 0), calling cb for each item.
 * Returns the number of lines reported in diag (0 when all lines were
 * well-formed), or -1 when cb stopped the reading.
 */
int ini_parse_text(const char *name, const char *text, size_t len,
		   const struct ini_syntax *syntax, ini_handler cb, void *user,
		   struct diag *diag);

#endif
