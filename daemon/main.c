/*
 * main.c - the expensed command: dispatch to the sub-commands. Wiring only;
 * each command lives in its own file (commands.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "../common/i18n.h"
#include "commands.h"

#ifndef EXPENSED_VERSION
#define EXPENSED_VERSION "0.0.0"
#endif

static void usage(FILE *out)
{
	fputs("usage: expensed check [-r RULES] [--format text|json] "
	      "[--fail-on error|warning] [--max-findings N] FILE... | -\n"
	      "       expensed run [-c FILE] [-v]\n"
	      "       expensed check-config [-c FILE]\n"
	      "       expensed send-test [-c FILE] WEBHOOK\n"
	      "       expensed status [-c FILE] [--json]\n"
	      "       expensed requeue [-c FILE] [--webhook NAME] all|ID...\n"
	      "       expensed --version | --help\n",
	      out);
}

int main(int argc, char **argv)
{
	i18n_init();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("expensed %s\n", EXPENSED_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check_config(argc - 1, argv + 1);
	if (strcmp(cmd, "send-test") == 0)
		return cmd_send_test(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "requeue") == 0)
		return cmd_requeue(argc - 1, argv + 1);
	cli_error("unknown command '%s'", cmd);
	usage(stderr);
	return 2;
}
