/*
 * timefmt.c - clocks and the UTC timestamp format of timefmt.h.
 */
#include <stdio.h>

#include "timefmt.h"

char *iso8601_utc(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "1970-01-01T00:00:00Z");
	return buf;
}

static long long clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

long long clock_real_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}
