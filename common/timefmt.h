/*
 * timefmt.h - clocks in milliseconds, the one UTC time format of the
 * program (RFC 3339, "2026-11-26T14:39:34Z"), used by result documents,
 * webhook bodies and delivery files, and the local time that pages show.
 */
#ifndef EXPENSED_TIMEFMT_H
#define EXPENSED_TIMEFMT_H

#include <stddef.h>
#include <time.h>

/* Room for "YYYY-MM-DDTHH:MM:SSZ" and its NUL. */
#define ISO8601_SIZE 21

/* t as "YYYY-MM-DDTHH:MM:SSZ" in buf (at least ISO8601_SIZE bytes);
 * "1970-01-01T00:00:00Z" for a time that cannot be shown. Returns buf. */
char *iso8601_utc(time_t t, char *buf, size_t size);

/* A time as pages show it to people, in the local time zone. */
struct local_time {
	char day[11];  /* "YYYY-MM-DD" */
	char hms[9];   /* "HH:MM:SS" */
	char zone[16]; /* "CET", "CEST", "UTC"; "UTC+03:00" for a zone that
			* has no name */
};

/*
 * t in the local time zone: $TZ, else /etc/localtime, else UTC (as glibc
 * reads them once, at the first call: a new system time zone is seen
 * after a restart). A time that cannot be shown there is shown in UTC.
 */
void local_time(time_t t, struct local_time *out);

/* CLOCK_MONOTONIC and CLOCK_REALTIME, in milliseconds. */
long long clock_mono_ms(void);
long long clock_real_ms(void);

#endif
