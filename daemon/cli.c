/*
 * cli.c - the diagnostics of the commands (cli.h): one prefix, one stream.
 */
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "log.h"

static void vsay(const char *what, const char *fmt, va_list ap)
{
	fputs("expensed: ", stderr);
	fputs(what, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("warning: ", fmt, ap);
	va_end(ap);
}

void cli_diag(const char *prefix, const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "expensed: %s%s\n", prefix, d->lines[i]);
}

void cli_bad_option(int c, char *const argv[])
{
	char esc[256];
	char opt[3] = {'-', (char)optopt, '\0'};
	/* escaped: `expensed check *.json` takes a file named "-..." for an
	 * option, and its name must not drive the terminal */
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (c == ':')
		cli_error("option '%s' needs a value",
			  log_escape(arg, esc, sizeof(esc)));
	else if (optopt != 0)
		cli_error("unknown option '%s'",
			  log_escape(opt, esc, sizeof(esc)));
	else
		cli_error("unknown option '%s'",
			  log_escape(arg, esc, sizeof(esc)));
}
