/*
 * log.h - the daemon's diagnostics: syslog (LOG_PID, configured facility and
 * level), and stderr too when it is a terminal or -v was given.
 *
 * Every string that comes from a file or its name must go through
 * log_escape() first: control characters become \n, \t, \xNN, \u202e, so
 * that a file name can never forge, colour or disguise a log line.
 */
#ifndef EXPENSED_LOG_H
#define EXPENSED_LOG_H

#include <stddef.h>
#include <syslog.h>

/* Open syslog with ident "expensed"; also_stderr forces the stderr copy
 * (made anyway when stderr is a terminal). */
void log_open(int facility, int level, int also_stderr);

/* Whether log lines are copied to stderr (log_open()). */
int log_to_stderr(void);

/* Whether a line of that priority is logged at all ([log] level). */
int log_enabled(int priority);

/* Whether stderr is systemd's journal ($JOURNAL_STREAM names it), where
 * the log lines go already. */
int log_stderr_is_journal(void);
/* Change facility/level after a reload. */
void log_setup(int facility, int level);
void log_close(void);

/* The syslog name of a priority's level: LOG_ERR -> "err", LOG_INFO ->
 * "info" (the facility bits are ignored). */
const char *log_level_name(int priority);

/* priority is LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG ... */
void log_msg(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Escape s into buf (always NUL-terminated, truncated with "..." if it does
 * not fit): bytes < 0x20, 0x7f, backslash and invalid UTF-8 are written as
 * \n \r \t \\ \xNN; C1 controls (U+0080..U+009F), the Unicode
 * bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069) and the line and paragraph separators (U+2028, U+2029)
 * as \u0085, \u202e (4 lower-case hex digits), so that a name can neither
 * forge a line nor reorder what a reader sees. Returns buf.
 */
char *log_escape(const char *s, char *buf, size_t size);

#endif
