/*
 * commands.h - the sub-commands of expensed, one function each.
 *
 * main.c dispatches on argv[1]; each command gets argv from its own name on
 * (argv[0] is "check", "run", ...), parses its own options, and returns the
 * process exit status.
 */
#ifndef EXPENSED_COMMANDS_H
#define EXPENSED_COMMANDS_H

int cmd_check(int argc, char **argv);	     /* check.c */
int cmd_run(int argc, char **argv);	     /* run.c */
int cmd_check_config(int argc, char **argv); /* checkconfig.c */
int cmd_send_test(int argc, char **argv);    /* sendtest.c */
int cmd_status(int argc, char **argv);	     /* status.c */
int cmd_requeue(int argc, char **argv);	     /* requeue.c */

#endif
