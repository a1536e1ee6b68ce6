/*
 * cli.h - how every command speaks to the person who ran it: diagnostics
 * on stderr, always "expensed: " first (git's and OpenBSD's one family of
 * calls), so that a message is never mistaken for output and always says
 * which program it comes from. The daemon's log lines go through log.h.
 *
 *   if (config_load(path, &cfg, &errors, &warnings) == -1) {
 *           cli_diag("", &errors);          expensed: FILE:LINE: reason
 *           cli_error("configuration has errors");
 *           return 2;
 *   }
 */
#ifndef EXPENSED_CLI_H
#define EXPENSED_CLI_H

#include "../common/diag.h"

/* "expensed: MESSAGE\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "expensed: warning: MESSAGE\n" on stderr. */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Each line of d as "expensed: PREFIXLINE" on stderr (prefix may be ""). */
void cli_diag(const char *prefix, const struct diag *d);

/*
 * Say what getopt_long refused, c being what it returned (':' for a
 * missing value, '?' for an unknown option). Every command parses its
 * options with getopt_long, opterr = 0 and an optstring that starts with
 * ':', so that this is the only way such an error is printed.
 */
void cli_bad_option(int c, char *const argv[]);

#endif
