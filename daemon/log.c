/*
 * log.c - the daemon's diagnostics: syslog with the configured facility and
 * level, plus a copy on stderr for a terminal or -v, and log_escape(), which
 * makes any string from a file or its name safe to put in a log line.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "../common/utf8.h"
#include "log.h"

static int log_level = LOG_INFO;
static bool log_stderr;
static bool log_forced;

const char *log_level_name(int priority)
{
	static const char *const names[] = {
	    "emerg",   "alert",	 "crit", "err",
	    "warning", "notice", "info", "debug",
	};

	return names[LOG_PRI(priority)];
}

/*
 * The tag "expensed[PID]" made once: the same bytes on the wire as
 * openlog("expensed", LOG_PID, ...), without the getpid() call that
 * LOG_PID costs glibc at every line. openlog() keeps the pointer.
 */
static char log_ident[32];
static long log_pid;

static void open_syslog(int facility)
{
	log_pid = (long)getpid();
	snprintf(log_ident, sizeof(log_ident), "expensed[%ld]", log_pid);
	openlog(log_ident, 0, facility);
}

void log_open(int facility, int level, int also_stderr)
{
	log_forced = also_stderr != 0;
	log_stderr = log_forced || isatty(STDERR_FILENO);
	log_level = level;
	open_syslog(facility);
	setlogmask(LOG_UPTO(level));
}

int log_to_stderr(void)
{
	return log_stderr;
}

int log_enabled(int priority)
{
	return LOG_PRI(priority) <= log_level;
}

int log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* "DEVICE:INODE" of the stream systemd connected (systemd.exec(5)) */
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_setup(int facility, int level)
{
	closelog();
	log_level = level;
	open_syslog(facility);
	setlogmask(LOG_UPTO(level));
}

void log_close(void)
{
	closelog();
}

void log_msg(int priority, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!log_enabled(priority))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	syslog(priority, "%s", msg);
	if (log_stderr)
		fprintf(stderr, "expensed[%ld]: %s: %s\n",
			log_pid ? log_pid : (long)getpid(),
			log_level_name(priority), msg);
}

/*
 * The code point of a UTF-8 character that a log line shows as \uXXXX: C1
 * controls (U+0080..U+009F: some terminals act on them as on ESC), the
 * Unicode bidirectional controls, which reorder what a reader sees (U+061C
 * ALM, U+200E LRM, U+200F RLM, U+202A..U+202E embeddings and overrides,
 * U+2066..U+2069 isolates), and the line and paragraph separators U+2028
 * and U+2029, which editors and log viewers show as line breaks (a name
 * could fake a line there). 0 for any other character (len bytes at s).
 */
static unsigned escaped_char(const unsigned char *s, size_t len)
{
	unsigned cp;

	if (len == 2 && s[0] == 0xc2 && s[1] < 0xa0)
		return s[1];
	cp = utf8_decode(s, len);
	return utf8_bidi_control(cp) || cp == 0x2028 || cp == 0x2029 ? cp : 0;
}

/*
 * The escaped form of the unit (one byte, or one UTF-8 character) at s into
 * out (at least 9 bytes); returns the input bytes consumed, *outlen the
 * output length. Controls are \n, \r, \t or \xNN, bytes that are not
 * UTF-8 \xNN, and the characters of escaped_char() \uXXXX (lower-case hex).
 */
static size_t escape_unit(const unsigned char *s, size_t n, char *out,
			  size_t *outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t len;
	unsigned cp;

	switch (s[0]) {
	case '\n':
		memcpy(out, "\\n", 2);
		*outlen = 2;
		return 1;
	case '\r':
		memcpy(out, "\\r", 2);
		*outlen = 2;
		return 1;
	case '\t':
		memcpy(out, "\\t", 2);
		*outlen = 2;
		return 1;
	case '\\':
		memcpy(out, "\\\\", 2);
		*outlen = 2;
		return 1;
	default:
		break;
	}
	if (s[0] >= 0x20 && s[0] < 0x7f) {
		out[0] = (char)s[0];
		*outlen = 1;
		return 1;
	}
	len = s[0] >= 0x80 ? utf8_seq_len(s, n) : 0;
	cp = len > 0 ? escaped_char(s, len) : 0;
	if (cp != 0) {
		out[0] = '\\';
		out[1] = 'u';
		for (int i = 0; i < 4; i++)
			out[2 + i] = hex[(cp >> (12 - 4 * i)) & 0xf];
		*outlen = 6;
		return len;
	}
	if (len > 0) {
		memcpy(out, s, len);
		*outlen = len;
		return len;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[s[0] >> 4];
	out[3] = hex[s[0] & 0xf];
	*outlen = 4;
	return 1;
}

char *log_escape(const char *s, char *buf, size_t size)
{
	const unsigned char *in = (const unsigned char *)(s ? s : "(null)");
	size_t n = strlen((const char *)in);
	size_t pos = 0, i = 0;
	size_t mark = 0; /* output length that still leaves room for "..." */
	bool fits = true;

	if (size == 0)
		return buf;
	while (i < n) {
		char unit[9];
		size_t ulen;
		size_t used = escape_unit(in + i, n - i, unit, &ulen);

		if (pos + ulen > size - 1) {
			fits = false;
			break;
		}
		memcpy(buf + pos, unit, ulen);
		pos += ulen;
		i += used;
		if (size >= 4 && pos <= size - 4)
			mark = pos;
	}
	if (fits) {
		buf[pos] = '\0';
		return buf;
	}
	pos = mark;
	for (int k = 0; k < 3 && pos < size - 1; k++)
		buf[pos++] = '.';
	buf[pos] = '\0';
	return buf;
}
