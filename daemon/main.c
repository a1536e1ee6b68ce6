/*
 * main.c - the expensed command: dispatch to the sub-commands. Wiring only;
 * each command lives in its own file (commands.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "cli.h"
#include "../common/i18n.h"
#include "commands.h"

#ifndef EXPENSED_VERSION
#define EXPENSED_VERSION "0.0.0"
#endif

static void usage(FILE *out)
{
	fputs("usage: expensed check [-r RULES] [--format text|json|html] "
	      "[--fail-on error|warning] [--max-findings N]\n"
	      "                      [--max-time DURATION] [--max-memory SIZE] "
	      "FILE... | -\n"
	      "       expensed run [-c FILE] [-v]\n"
	      "       expensed check-config [-c FILE]\n"
	      "       expensed send-test [-c FILE] WEBHOOK\n"
	      "       expensed status [-c FILE] [--json]\n"
	      "       expensed requeue [-c FILE] [--webhook NAME] all|ID...\n"
	      "       expensed --version | --help\n",
	      out);
}

#ifdef EXPENSED_TEST_HOOKS
/* Test hook: EXPENSED_HASH_KEY=K0,K1 (two hex numbers) fixes the hash key,
 * so that tests can show that no output depends on it. */
static void hook_hash_key(void)
{
	const char *s = getenv("EXPENSED_HASH_KEY");
	unsigned long long k0, k1;
	char *end;

	if (s == NULL)
		return;
	k0 = strtoull(s, &end, 16);
	if (*end != ',')
		return;
	k1 = strtoull(end + 1, &end, 16);
	if (*end == '\0')
		hash_set_key(k0, k1);
}
#endif

int main(int argc, char **argv)
{
	/* every table of report data is keyed: no key, no run */
	if (hash_init() == -1) {
		cli_error("cannot draw a random hash key: %s", strerror(errno));
		return 1;
	}
#ifdef EXPENSED_TEST_HOOKS
	hook_hash_key();
#endif
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
