/*
 * timefmt.h - clocks in milliseconds and the one UTC time format of the
 * program (RFC 3339, "2026-11-26T14:39:34Z"), used by result documents,
 * webhook bodies and delivery files.
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

/* CLOCK_MONOTONIC and CLOCK_REALTIME, in milliseconds. */
long long clock_mono_ms(void);
long long clock_real_ms(void);

#endif
